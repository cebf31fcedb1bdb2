"""Training options: one flat, frozen dataclass (what ``splatkit train --help`` lists)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from splatkit.contracts.reconstruction import DEFAULT_MIN_FRAMES, DEFAULT_MIN_POINTS
from splatkit.errors import ContractError
from splatkit.stages import config_to_dict

__all__ = ["TrainConfig", "STRATEGY_NAMES"]

#: Densification strategies ``TrainConfig.strategy`` accepts (each is a class in :mod:`splatkit.train.densify`).
STRATEGY_NAMES: tuple[str, ...] = ("default", "mcmc", "none")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training options (flat). Defaults follow gsplat's simple_trainer where it makes sense.

    Step-count options set to 0 are derived from ``steps`` (``refine_stop``: half the run).
    ``strategy`` is the densification strategy (see :mod:`splatkit.train.densify`): ``default``
    (gsplat's clone/split/prune with a cap), ``mcmc`` (3DGS-MCMC relocation) or ``none`` (a fixed
    set of Gaussians, only optimised).
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
        if self.strategy not in STRATEGY_NAMES:
            raise ContractError(f"strategy must be one of {list(STRATEGY_NAMES)}, got {self.strategy!r}",
                                field="TrainConfig.strategy", expected=STRATEGY_NAMES, actual=self.strategy)

    def digest(self) -> str:
        """Hash of the options that change results (not checkpointing or logging cadence)."""
        skip = {"checkpoint_every", "keep_checkpoints", "curve_every", "eval_every", "save_eval_images"}
        data = {k: v for k, v in config_to_dict(self).items() if k not in skip}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
