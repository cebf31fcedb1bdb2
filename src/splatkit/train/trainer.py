"""The 3DGS training run, shared by the ``cpu`` and ``gsplat`` training backends.

:func:`train_gaussians` puts the parts together:

1. the scene (:func:`splatkit.train.data.load_training_scene`): normalised views, hold-out split;
2. the state (:class:`splatkit.train.state.TrainState`), fresh from the SfM points or resumed from
   the newest checkpoint of this run's identity (:mod:`splatkit.train.checkpoint`);
3. the densification strategy, chosen once (:func:`splatkit.train.densify.make_densifier`);
4. the loop (:func:`run_steps`) over :func:`splatkit.train.step.train_step`, which logs the curve,
   evaluates every ``eval_every`` steps, reports progress and writes checkpoints;
5. the final held-out evaluation (:mod:`splatkit.train.evaluation`), the export to world units
   and the report (:mod:`splatkit.train.report`, schema in :mod:`splatkit.reports`).

Parameters are checked for non-finite values every :data:`FINITE_CHECK_EVERY` steps, before every
checkpoint and after the last step: on CUDA each check is a host sync per parameter, too many to
make every step. The loss is checked every step (its value is read for progress anyway).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splatkit.contracts import GaussianCloud, PosedImages, Reconstruction
from splatkit.reports import TrainingReport
from splatkit.stages import ProgressCallback, ProgressUpdate, StopRequested, no_progress
from splatkit.train import checkpoint as ckpt
from splatkit.train.config import TrainConfig
from splatkit.train.data import TrainingScene, load_training_scene, train_view_for_step
from splatkit.train.densify import Densifier, make_densifier
from splatkit.train.evaluation import evaluate_views
from splatkit.train.init import init_from_points
from splatkit.train.report import RunTiming, build_training_report
from splatkit.train.state import PARAM_NAMES, TrainState, learning_rates
from splatkit.train.step import Renderer, StepContext, train_step

__all__ = ["TrainConfig", "TrainOutcome", "train_gaussians", "run_steps", "start_state", "write_checkpoint",
           "PARAM_NAMES", "FINITE_CHECK_EVERY"]

logger = logging.getLogger(__name__)

#: Steps between checks of the parameters for NaN / inf (also checked at checkpoints and the end).
FINITE_CHECK_EVERY = 100


@dataclass(frozen=True)
class TrainOutcome:
    """What :func:`train_gaussians` returns: the cloud in world units, the report, the eval renders."""

    cloud: GaussianCloud
    report: TrainingReport
    files: tuple[Path, ...]


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

    rec = posed.reconstruction
    posed.validate()
    rec.check_trainable(min_points=config.min_points, min_frames=config.min_frames)
    workdir = Path(workdir)
    t_start = time.perf_counter()
    scene = load_training_scene(posed, downscale=config.downscale, test_every=config.test_every, device=device)

    torch.manual_seed(config.seed)
    densifier = make_densifier(config, scene_scale=scene.scene_scale,
                               refine_stop=config.refine_stop or config.steps // 2)
    # What a checkpoint must match to be resumed: the options and the scene (see checkpoint.py).
    identity = {"config_digest": config.digest(), "input_fingerprint": ckpt.input_fingerprint(rec)}
    state = start_state(rec, config, scene, densifier, checkpoints=workdir / "checkpoints", identity=identity,
                        device=device)
    resumed_from = state.step
    ctx = StepContext(config=config, renderer=Renderer.for_run(config, backend), densifier=densifier,
                      means_lr0=learning_rates(config, scene.scene_scale)["means"], stage=stage,
                      source=rec.source or None)
    final_loss, step_seconds = run_steps(state, scene, ctx, checkpoints=workdir / "checkpoints", identity=identity,
                                         progress=progress, t_start=t_start)

    heldout = evaluate_views(scene.views, scene.test_ids, ctx.renderer, state.params, config.sh_degree,
                             save_dir=workdir / "eval" if config.save_eval_images else None)
    cloud = state.to_cloud(scene.norm, rec.georeference)
    report = build_training_report(
        state=state, config=config, backend=backend, device=device, resumed_from_step=resumed_from,
        timing=RunTiming(seconds=time.perf_counter() - t_start, steps_run=config.steps - resumed_from,
                         step_seconds=step_seconds),
        final_loss=final_loss, num_gaussians=len(cloud), initial_points=len(rec.points),
        train_views=len(scene.train_ids), heldout_views=tuple(rec.frames.names[i] for i in scene.test_ids),
        heldout=heldout, norm=scene.norm)
    files = tuple(sorted((workdir / "eval").glob("*.png"))) if (workdir / "eval").is_dir() else ()
    return TrainOutcome(cloud=cloud, report=report, files=files)


def start_state(rec: Reconstruction, config: TrainConfig, scene: TrainingScene, densifier: Densifier, *,
                checkpoints: Path, identity: dict[str, str], device: str) -> TrainState:
    """The newest checkpoint of ``identity`` in ``checkpoints`` (RNG included), or a fresh state.

    A fresh state starts from one Gaussian per SfM point (:func:`splatkit.train.init.init_from_points`).
    """
    lrs = learning_rates(config, scene.scene_scale)
    resume = ckpt.latest_checkpoint(checkpoints, identity)
    if resume is None:
        init = init_from_points(scene.norm.points_to_norm(rec.points.xyz), rec.points.rgb,
                                init_opacity=config.init_opacity, init_scale=config.init_scale)
        state = TrainState.from_initial(init, sh_degree=config.sh_degree, lrs=lrs,
                                        strategy_state=densifier.initialize_state(), device=device)
    else:
        state = TrainState.from_checkpoint(ckpt.load_checkpoint(resume, map_location=device), lrs=lrs,
                                           strategy_state=densifier.initialize_state(), device=device)
        logger.info("resuming training from %s (step %d)", resume, state.step)
    densifier.check_sanity(state.params, state.optimizers)
    return state


def run_steps(state: TrainState, scene: TrainingScene, ctx: StepContext, *, checkpoints: Path,
              identity: dict[str, Any], progress: ProgressCallback, t_start: float) -> tuple[float, float]:
    """Run steps ``state.step`` .. ``steps - 1``; return the last loss and the seconds spent in steps.

    After each step: the finiteness check when due, the curve point (every ``curve_every`` steps
    and the last), a held-out evaluation (every ``eval_every`` steps, merged into the last curve
    point), the progress update, then a checkpoint (every ``checkpoint_every`` steps, not after
    the last one; see :func:`write_checkpoint`).

    Raises
    ------
    StageError
        A non-finite loss or parameter.
    StopRequested
        From ``progress``; a checkpoint of the step just done is written first (when checkpoints
        are on), so the resumed run is bitwise the uninterrupted one.
    """
    config = ctx.config
    last_loss = float("nan")
    step_seconds = 0.0
    for step in range(state.step, config.steps):
        t0 = time.perf_counter()
        last_loss = train_step(state, scene.views[train_view_for_step(step, scene.train_ids, config.seed)], step,
                               ctx)
        step_seconds += time.perf_counter() - t0
        done = step + 1
        if done % FINITE_CHECK_EVERY == 0 or done == config.steps:
            state.check_finite(after_step=step, stage=ctx.stage, source=ctx.source)
        n_gauss = state.num_gaussians
        if step % config.curve_every == 0 or step == config.steps - 1:
            state.curve.append({"step": step, "loss": last_loss, "num_gaussians": n_gauss,
                                "seconds": round(time.perf_counter() - t_start, 2)})
        if config.eval_every and step > 0 and step % config.eval_every == 0 and scene.test_ids:
            scores = evaluate_views(scene.views, scene.test_ids, ctx.renderer, state.params, config.sh_degree)
            if scores.mean is not None:
                state.curve[-1] = {**state.curve[-1], **scores.mean.to_dict()}
        try:
            progress(ProgressUpdate(stage=ctx.stage, step=done, total=config.steps, message="train",
                                    metrics={"loss": last_loss, "num_gaussians": float(n_gauss)}))
        except StopRequested:
            # Asked to stop (a spot instance reclaimed): keep this step's work for the resume.
            if done < config.steps and config.checkpoint_every:
                write_checkpoint(state, ctx, checkpoints=checkpoints, identity=identity)
                logger.warning("%s: stop requested; checkpoint written at step %d", ctx.stage, done)
            raise
        if config.checkpoint_every and done % config.checkpoint_every == 0 and done < config.steps:
            write_checkpoint(state, ctx, checkpoints=checkpoints, identity=identity)
    return last_loss, step_seconds


def write_checkpoint(state: TrainState, ctx: StepContext, *, checkpoints: Path, identity: dict[str, Any]) -> None:
    """Check the parameters, then save ``state`` as checkpoint ``state.step`` and prune older ones.

    A checkpoint never holds a non-finite state: a resume would only diverge again.
    """
    state.check_finite(after_step=state.step - 1, stage=ctx.stage, source=ctx.source)
    ckpt.save_checkpoint(checkpoints, state.step, {**state.checkpoint_payload(), **identity})
    ckpt.prune_checkpoints(checkpoints, ctx.config.keep_checkpoints, identity)
