"""The training state: everything a checkpoint saves and restores to continue bit-for-bit.

Parameters are stored as in the 3DGS PLY (log-scales, opacity logits, wxyz quats, SH) in the
normalised scene frame (see :mod:`splatkit.train.normalize`); :meth:`TrainState.to_cloud` exports
them back to world units. torch is imported inside functions only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from splatkit.contracts import GaussianCloud, Georeference
from splatkit.errors import StageError
from splatkit.train.config import TrainConfig
from splatkit.train.init import InitialGaussians
from splatkit.train.normalize import SceneNormalization

if TYPE_CHECKING:
    import torch

__all__ = ["PARAM_NAMES", "TrainState", "learning_rates", "make_optimizers"]

#: The trained tensors, in the order they are stored, optimised and checked:
#: means [N, 3], scales [N, 3] (log), quats [N, 4] (wxyz), opacities [N] (logits), sh0 [N, 1, 3],
#: shN [N, K - 1, 3] with K = (sh_degree + 1)^2.
PARAM_NAMES = ("means", "scales", "quats", "opacities", "sh0", "shN")


def learning_rates(config: TrainConfig, scene_scale: float) -> dict[str, float]:
    """The initial Adam learning rate of each parameter; the position LR scales with the scene (gsplat)."""
    return {"means": config.lr_means * scene_scale, "scales": config.lr_scales, "quats": config.lr_quats,
            "opacities": config.lr_opacities, "sh0": config.lr_sh0, "shN": config.lr_shN}


def make_optimizers(params: torch.nn.ParameterDict, lrs: dict[str, float]) -> dict[str, torch.optim.Adam]:
    """One Adam per parameter (gsplat's layout: densification strategies edit them by name).

    On CPU, Adam steps in numba (:func:`splatkit.train.adam.make_adam`).
    """
    from splatkit.train.adam import make_adam

    return {name: make_adam([{"params": params[name], "lr": lrs[name], "name": name}], eps=1e-15)
            for name in PARAM_NAMES}


@dataclass(kw_only=True)
class TrainState:
    """Parameters, optimisers, densification state, the next step and the curve so far.

    Attributes
    ----------
    params : torch.nn.ParameterDict
        The :data:`PARAM_NAMES` tensors (shapes there), on ``device``.
    optimizers : dict[str, torch.optim.Adam]
        One per parameter, keyed by its name.
    strategy_state : dict[str, Any]
        The densification strategy's running state (gradient statistics, counters).
    step : int
        The next step to run (the number of steps done).
    curve : list[dict]
        Logged points ``{"step", "loss", "num_gaussians", "seconds"[, "psnr", "ssim"]}``.
    device : str
        ``"cpu"`` or ``"cuda"``; decides whether the CUDA RNG is saved.
    train_seconds : float
        Training time spent so far (s), over every resumed process: the wall time of the
        training loops up to ``step`` (what a time budget counts, see :mod:`splatkit.train.budget`).
    plan : dict or None
        A budgeted run's plan state (:meth:`splatkit.train.budget.BudgetPlan.to_dict`).

    The torch RNG is global; :meth:`checkpoint_payload` captures it and :meth:`restore` sets it.
    """

    params: Any
    optimizers: dict[str, Any]
    strategy_state: dict[str, Any]
    step: int = 0
    curve: list[dict[str, Any]] = field(default_factory=list)
    device: str = "cpu"
    train_seconds: float = 0.0
    plan: dict[str, Any] | None = None

    @classmethod
    def from_initial(cls, init: InitialGaussians, *, sh_degree: int, lrs: dict[str, float],
                     strategy_state: dict[str, Any], device: str) -> TrainState:
        """A fresh state from initial Gaussians; shN starts at zero for ``sh_degree``."""
        import torch

        k_rest = (sh_degree + 1) ** 2 - 1
        tensors = {
            "means": init.means, "scales": init.log_scales, "quats": init.quats,
            "opacities": init.opacity_logits, "sh0": init.sh0[:, None, :],
            "shN": np.zeros((len(init.means), k_rest, 3), np.float32),
        }
        params = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(v)).to(device)) for k, v in tensors.items()})
        return cls(params=params, optimizers=make_optimizers(params, lrs), strategy_state=strategy_state,
                   device=device)

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any], *, lrs: dict[str, float], strategy_state: dict[str, Any],
                        device: str) -> TrainState:
        """The state a checkpoint saved (see :meth:`checkpoint_payload`); also restores the RNG.

        ``strategy_state`` is the strategy's fresh state; the saved entries are written over it.
        """
        import torch

        params = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(payload["params"][k].to(device)) for k in PARAM_NAMES})
        state = cls(params=params, optimizers=make_optimizers(params, lrs), strategy_state=strategy_state,
                    device=device)
        state.restore(payload)
        return state

    def restore(self, payload: dict[str, Any]) -> None:
        """Load optimiser moments, strategy state, RNG, step and curve from a checkpoint payload."""
        import torch

        for name, opt in self.optimizers.items():
            opt.load_state_dict(payload["optimizers"][name])
        self.strategy_state.update({k: (v.to(self.device) if torch.is_tensor(v) else v)
                                    for k, v in payload["strategy_state"].items()})
        torch.set_rng_state(payload["rng_cpu"].cpu())
        if self.device.startswith("cuda") and payload.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(payload["rng_cuda"].cpu())
        self.step = int(payload["step"])
        self.curve = list(payload.get("curve", []))
        self.train_seconds = float(payload.get("train_seconds", 0.0))
        self.plan = payload.get("budget_plan")

    def checkpoint_payload(self) -> dict[str, Any]:
        """What :func:`splatkit.train.checkpoint.save_checkpoint` writes (tensors on the CPU).

        The step is not included: ``save_checkpoint`` stores it beside the payload.
        """
        import torch

        return {
            "params": {k: self.params[k].detach().cpu() for k in PARAM_NAMES},
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "strategy_state": {k: (v.detach().cpu() if torch.is_tensor(v) else v)
                               for k, v in self.strategy_state.items()},
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state() if self.device.startswith("cuda") else None,
            "curve": self.curve,
            "train_seconds": float(self.train_seconds),
            "budget_plan": self.plan,
        }

    @property
    def num_gaussians(self) -> int:
        return int(self.params["means"].shape[0])

    def check_finite(self, *, after_step: int, stage: str, source: str | None) -> None:
        """Raise :class:`StageError` naming the first parameter with a non-finite value.

        One host sync per parameter: the loop calls this every few steps, not every step.
        """
        import torch

        for name in PARAM_NAMES:
            p = self.params[name]
            if not torch.isfinite(p).all():
                bad = int((~torch.isfinite(p)).reshape(len(p), -1).any(dim=1).sum())
                raise StageError(f"{bad} Gaussian(s) have non-finite {name} after step {after_step}; training "
                                 "diverged. Lower the learning rates (lr_*) or the image resolution and retry",
                                 stage=stage, source=source or None)

    def to_cloud(self, norm: SceneNormalization, georeference: Georeference | None) -> GaussianCloud:
        """The parameters as a :class:`GaussianCloud` in world units."""
        p = {k: self.params[k].detach().cpu().numpy() for k in PARAM_NAMES}
        return GaussianCloud(
            means=norm.points_to_world(p["means"]).astype(np.float32),
            log_scales=(p["scales"] - math.log(norm.scale)).astype(np.float32),
            quats=p["quats"], opacity_logits=p["opacities"], sh0=p["sh0"][:, 0, :], shN=p["shN"],
            georeference=georeference,
        ).validate(source="training")
