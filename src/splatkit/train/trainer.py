"""The 3DGS training loop, shared by the ``cpu`` and ``gsplat`` training backends.

Per step (the order of gsplat's simple_trainer): render one training view -> strategy
pre-backward -> loss ``(1 - l) L1 + l (1 - SSIM)`` -> backward -> Adam steps -> strategy
post-backward (densify / prune / reset) -> finiteness check -> maybe checkpoint.
Parameters are stored as in the 3DGS PLY (log-scales, opacity logits, wxyz quats, SH) in a
normalised scene frame (see :mod:`splatkit.train.normalize`) and exported back to world units.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts import GaussianCloud, PosedImages
from splatkit.contracts.reconstruction import DEFAULT_MIN_FRAMES, DEFAULT_MIN_POINTS
from splatkit.errors import ContractError, StageError
from splatkit.stages import ProgressCallback, ProgressUpdate, config_to_dict, no_progress
from splatkit.train import checkpoint as ckpt
from splatkit.train.data import View, load_views, split_holdout
from splatkit.train.init import init_from_points
from splatkit.train.normalize import SceneNormalization, normalization_from_cameras

__all__ = ["TrainConfig", "TrainOutcome", "train_gaussians", "PARAM_NAMES"]

logger = logging.getLogger(__name__)

PARAM_NAMES = ("means", "scales", "quats", "opacities", "sh0", "shN")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training options (flat). Defaults follow gsplat's simple_trainer where it makes sense.

    Step-count options set to 0 are derived from ``steps`` (``refine_stop``: half the run).
    """

    steps: int = 7000
    sh_degree: int = 3
    sh_degree_interval: int = 1000
    downscale: int = 1
    test_every: int = 8
    seed: int = 0
    strategy: str = "default"
    max_gaussians: int = 2_000_000
    refine_start: int = 500
    refine_stop: int = 0
    refine_every: int = 100
    reset_every: int = 3000
    grow_grad2d: float = 2e-4
    prune_opa: float = 0.005
    absgrad: bool = False
    antialiased: bool = False
    packed: bool = False
    ssim_lambda: float = 0.2
    lr_means: float = 1.6e-4
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacities: float = 5e-2
    lr_sh0: float = 2.5e-3
    lr_shN: float = 2.5e-3 / 20
    init_opacity: float = 0.1
    init_scale: float = 1.0
    min_points: int = DEFAULT_MIN_POINTS
    min_frames: int = DEFAULT_MIN_FRAMES
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    curve_every: int = 50
    eval_every: int = 0
    save_eval_images: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.downscale < 1 or not 0 <= self.sh_degree <= 3:
            raise ContractError(f"bad training config: steps={self.steps}, downscale={self.downscale}, "
                                f"sh_degree={self.sh_degree}", field="TrainConfig")
        if self.strategy not in ("default", "mcmc"):
            raise ContractError(f"strategy must be 'default' or 'mcmc', got {self.strategy!r}",
                                field="TrainConfig.strategy", expected=("default", "mcmc"), actual=self.strategy)

    def digest(self) -> str:
        """Hash of the options that change results (not checkpointing or logging cadence)."""
        skip = {"checkpoint_every", "keep_checkpoints", "curve_every", "eval_every", "save_eval_images"}
        data = {k: v for k, v in config_to_dict(self).items() if k not in skip}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainOutcome:
    """What :func:`train_gaussians` returns: the cloud in world units and a JSON-able report."""

    cloud: GaussianCloud
    report: dict[str, Any]
    files: tuple[Path, ...]


def _lr_for(config: TrainConfig, name: str, scene_scale: float) -> float:
    base = {"means": config.lr_means * scene_scale, "scales": config.lr_scales, "quats": config.lr_quats,
            "opacities": config.lr_opacities, "sh0": config.lr_sh0, "shN": config.lr_shN}
    return base[name]


def _camera_for_step(step: int, train_ids: list[int], seed: int) -> int:
    """A fresh permutation of the training views every epoch, derived from (seed, epoch) alone,
    so a resumed run picks the same views without carrying sampler state."""
    import torch

    n = len(train_ids)
    epoch, pos = divmod(step, n)
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return train_ids[int(torch.randperm(n, generator=gen)[pos])]


def train_gaussians(
    posed: PosedImages,
    config: TrainConfig,
    workdir: Path,
    *,
    backend: str,
    device: str,
    stage: str,
    progress: ProgressCallback = no_progress,
) -> TrainOutcome:
    """Train a Gaussian cloud on ``posed``; resume from ``workdir/checkpoints`` when possible.

    Parameters
    ----------
    posed
        Undistorted pinhole cameras and their images.
    backend
        Rasterizer backend name for :func:`splatkit.render.rasterize` (``"cpu"`` or ``"gsplat"``).
    device
        torch device for parameters and images (``"cpu"`` or ``"cuda"``).
    stage
        ``"train/<name>"`` for progress and errors.
    """
    import torch

    from splatkit.render import rasterize
    from splatkit.train.ssim import psnr, ssim
    from splatkit.train.strategy import make_default_strategy, make_mcmc_strategy

    rec = posed.reconstruction
    posed.validate()
    rec.check_trainable(min_points=config.min_points, min_frames=config.min_frames)
    workdir = Path(workdir)
    ckpt_dir = workdir / "checkpoints"
    t_start = time.perf_counter()

    norm = normalization_from_cameras(rec.frames.centers(), rec.points.xyz)
    views = load_views(posed, norm, downscale=config.downscale, device=device)
    train_ids, test_ids = split_holdout(rec.frames.names, config.test_every)
    if not train_ids:
        raise ContractError("no training views left after holding out every "
                            f"{config.test_every}th image", field="TrainConfig.test_every")
    # gsplat: scene_scale = 1.1 x the farthest camera from the centroid (1 after normalisation).
    scene_scale = 1.1 * float(np.linalg.norm(norm.points_to_norm(rec.frames.centers()), axis=1).max() or 1.0)
    refine_stop = config.refine_stop or config.steps // 2

    torch.manual_seed(config.seed)
    # What a checkpoint must match to be resumed: the options and the scene (see checkpoint.py).
    identity = {"config_digest": config.digest(), "input_fingerprint": ckpt.input_fingerprint(rec)}
    resume = ckpt.latest_checkpoint(ckpt_dir, identity)
    state_in: dict[str, Any] | None = None
    if resume is not None:
        state_in = ckpt.load_checkpoint(resume, map_location=device)

    k_rest = (config.sh_degree + 1) ** 2 - 1
    if state_in is None:
        init = init_from_points(norm.points_to_norm(rec.points.xyz), rec.points.rgb,
                                init_opacity=config.init_opacity, init_scale=config.init_scale)
        tensors = {
            "means": init.means, "scales": init.log_scales, "quats": init.quats,
            "opacities": init.opacity_logits, "sh0": init.sh0[:, None, :],
            "shN": np.zeros((len(init.means), k_rest, 3), np.float32),
        }
        params = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(v)).to(device)) for k, v in tensors.items()})
    else:
        params = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(state_in["params"][k].to(device)) for k in PARAM_NAMES})

    optimizers = {
        name: torch.optim.Adam([{"params": params[name], "lr": _lr_for(config, name, scene_scale), "name": name}],
                               eps=1e-15)
        for name in PARAM_NAMES
    }
    if config.strategy == "default":
        strategy = make_default_strategy(
            max_gaussians=config.max_gaussians, reset_every=config.reset_every, refine_start=config.refine_start,
            refine_stop=refine_stop, refine_every=config.refine_every, grow_grad2d=config.grow_grad2d,
            prune_opa=config.prune_opa, absgrad=config.absgrad)
        strategy_state = strategy.initialize_state(scene_scale=scene_scale)
    else:
        strategy = make_mcmc_strategy(max_gaussians=config.max_gaussians, refine_start=config.refine_start,
                                      refine_stop=refine_stop, refine_every=config.refine_every)
        strategy_state = strategy.initialize_state()
    strategy.check_sanity(params, optimizers)

    start_step = 0
    curve: list[dict[str, float]] = []
    if state_in is not None:
        for name, opt in optimizers.items():
            opt.load_state_dict(state_in["optimizers"][name])
        strategy_state.update({k: (v.to(device) if torch.is_tensor(v) else v)
                               for k, v in state_in["strategy_state"].items()})
        torch.set_rng_state(state_in["rng_cpu"].cpu())
        if device.startswith("cuda") and state_in.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(state_in["rng_cuda"].cpu())
        start_step = int(state_in["step"])
        curve = list(state_in.get("curve", []))
        logger.info("resuming training from %s (step %d)", resume, start_step)

    def render(view: View, sh_degree: int) -> tuple[Any, Any, dict[str, Any]]:
        colors = torch.cat([params["sh0"], params["shN"]], dim=1)
        rgb, alpha, info = rasterize(
            params["means"], params["quats"], torch.exp(params["scales"]), torch.sigmoid(params["opacities"]),
            colors, view.viewmat, view.K, view.width, view.height, sh_degree=sh_degree, backend=backend,
            packed=config.packed, absgrad=config.absgrad,
            rasterize_mode="antialiased" if config.antialiased else "classic")
        return rgb.reshape(view.height, view.width, 3), alpha, info

    means_lr0 = _lr_for(config, "means", scene_scale)
    stage_name = stage
    last_loss = float("nan")
    step_times: list[float] = []
    for step in range(start_step, config.steps):
        t0 = time.perf_counter()
        # Position LR decays exponentially to 1% over the run (3DGS / gsplat).
        optimizers["means"].param_groups[0]["lr"] = means_lr0 * 0.01 ** (step / config.steps)
        view = views[_camera_for_step(step, train_ids, config.seed)]
        sh_degree = min(step // max(config.sh_degree_interval, 1), config.sh_degree)
        rgb, _, info = render(view, sh_degree)
        strategy.step_pre_backward(params, optimizers, strategy_state, step, info)
        l1 = torch.abs(rgb - view.image).mean()
        loss = (1.0 - config.ssim_lambda) * l1 + config.ssim_lambda * (1.0 - ssim(rgb, view.image))
        if not torch.isfinite(loss):
            raise StageError(f"loss became {loss.item()} at step {step} (view {view.name}); lower the learning "
                             "rates or check the input model", stage=stage_name, source=rec.source or None)
        loss.backward()
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        if config.strategy == "default":
            strategy.step_post_backward(params, optimizers, strategy_state, step, info, packed=config.packed)
        else:
            strategy.step_post_backward(params, optimizers, strategy_state, step, info,
                                        lr=optimizers["means"].param_groups[0]["lr"])
        _check_finite(params, step, stage_name, rec.source)
        last_loss = float(loss.item())
        step_times.append(time.perf_counter() - t0)
        n_gauss = int(params["means"].shape[0])
        if step % config.curve_every == 0 or step == config.steps - 1:
            curve.append({"step": step, "loss": last_loss, "num_gaussians": n_gauss,
                          "seconds": round(time.perf_counter() - t_start, 2)})
        if config.eval_every and step > 0 and step % config.eval_every == 0 and test_ids:
            curve[-1] = {**curve[-1], **_evaluate(views, test_ids, render, config.sh_degree, psnr, ssim)["mean"]}
        progress(ProgressUpdate(stage=stage_name, step=step + 1, total=config.steps, message="train",
                                metrics={"loss": last_loss, "num_gaussians": float(n_gauss)}))
        done = step + 1
        if config.checkpoint_every and done % config.checkpoint_every == 0 and done < config.steps:
            _save(ckpt_dir, done, params, optimizers, strategy_state, curve, identity, device)
            ckpt.prune_checkpoints(ckpt_dir, config.keep_checkpoints, identity)

    evaluation = _evaluate(views, test_ids, render, config.sh_degree, psnr, ssim,
                           save_dir=workdir / "eval" if config.save_eval_images else None)
    cloud = _export(params, norm, rec.georeference)
    seconds = time.perf_counter() - t_start
    ran = config.steps - start_step
    report = {
        "backend": backend, "device": _device_name(device), "steps": config.steps, "resumed_from_step": start_step,
        "seconds": round(seconds, 3),
        "steps_per_second": round(ran / sum(step_times), 3) if step_times else None,
        "num_gaussians": len(cloud), "initial_points": len(rec.points), "final_loss": last_loss,
        "train_views": len(train_ids), "heldout_views": [rec.frames.names[i] for i in test_ids],
        "heldout": evaluation, "curve": curve, "opacity_resets": int(strategy_state.get("opacity_resets", 0)),
        "peak_memory_bytes": _peak_memory(device), "normalization": norm.to_dict(),
        "config": config_to_dict(config),
    }
    files = tuple(sorted((workdir / "eval").glob("*.png"))) if (workdir / "eval").is_dir() else ()
    return TrainOutcome(cloud=cloud, report=report, files=files)


def _check_finite(params: Any, step: int, stage: str, source: str) -> None:
    import torch

    for name in PARAM_NAMES:
        p = params[name]
        if not torch.isfinite(p).all():
            bad = int((~torch.isfinite(p)).reshape(len(p), -1).any(dim=1).sum())
            raise StageError(f"{bad} Gaussian(s) have non-finite {name} after step {step}; training diverged. "
                             "Lower the learning rates (lr_*) or the image resolution and retry",
                             stage=stage, source=source or None)


def _save(folder: Path, step: int, params: Any, optimizers: dict[str, Any], strategy_state: dict[str, Any],
          curve: list[dict[str, float]], identity: dict[str, str], device: str) -> None:
    import torch

    payload = {
        "params": {k: params[k].detach().cpu() for k in PARAM_NAMES},
        "optimizers": {k: opt.state_dict() for k, opt in optimizers.items()},
        "strategy_state": {k: (v.detach().cpu() if torch.is_tensor(v) else v) for k, v in strategy_state.items()},
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state() if device.startswith("cuda") else None,
        "curve": curve,
        **identity,
    }
    ckpt.save_checkpoint(folder, step, payload)


def _evaluate(views: list[View], ids: list[int], render: Any, sh_degree: int, psnr: Any, ssim: Any,
              save_dir: Path | None = None) -> dict[str, Any]:
    import torch

    per_view = []
    with torch.no_grad():
        for i in ids:
            view = views[i]
            rgb, _, _ = render(view, sh_degree)
            rgb = rgb.clamp(0, 1)
            per_view.append({"name": view.name, "psnr": round(psnr(rgb, view.image), 4),
                             "ssim": round(float(ssim(rgb, view.image)), 5)})
            if save_dir is not None:
                _save_png(save_dir / (Path(view.name).stem + ".png"), rgb)
    mean = ({"psnr": round(float(np.mean([v["psnr"] for v in per_view])), 4),
             "ssim": round(float(np.mean([v["ssim"] for v in per_view])), 5)} if per_view else {})
    return {"mean": mean, "views": per_view}


def _save_png(path: Path, rgb: Any) -> None:
    from PIL import Image

    from splatkit.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray((rgb.cpu().numpy() * 255.0 + 0.5).astype(np.uint8)).save(tmp, format="PNG")


def _export(params: Any, norm: SceneNormalization, georeference: Any) -> GaussianCloud:
    p = {k: params[k].detach().cpu().numpy() for k in PARAM_NAMES}
    return GaussianCloud(
        means=norm.points_to_world(p["means"]).astype(np.float32),
        log_scales=(p["scales"] - math.log(norm.scale)).astype(np.float32),
        quats=p["quats"], opacity_logits=p["opacities"], sh0=p["sh0"][:, 0, :], shN=p["shN"],
        georeference=georeference,
    ).validate(source="training")


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    import platform

    import torch

    model = ""
    try:
        # platform.processor() is only the architecture ("x86_64") on Linux; cpuinfo has the model.
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name") and ":" in line), "")
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown"
    threads = f"{torch.get_num_threads()} threads"
    numba = sys.modules.get("numba")  # the CPU rasterizer's threads, when it ran; can differ from torch's
    if numba is not None and numba.get_num_threads() != torch.get_num_threads():
        threads = f"torch {torch.get_num_threads()} / numba {numba.get_num_threads()} threads"
    return f"cpu: {model} ({threads})"


def _peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated(torch.device(device)))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
