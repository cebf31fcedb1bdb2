"""Training options: one flat, frozen dataclass (what ``splatkit train --help`` lists)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from splatkit.contracts.reconstruction import DEFAULT_MIN_FRAMES, DEFAULT_MIN_POINTS
from splatkit.errors import ContractError
from splatkit.stages import config_to_dict
from splatkit.train.presets import QUALITY_NAMES, describe_presets, resolve_config

__all__ = ["TrainConfig", "STRATEGY_NAMES", "QUALITY_NAMES"]

#: Densification strategies ``TrainConfig.strategy`` accepts (each is a class in :mod:`splatkit.train.densify`).
STRATEGY_NAMES: tuple[str, ...] = ("default", "mcmc", "none")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training options (flat). Defaults follow gsplat's simple_trainer where it makes sense.

    Options left at None come from the ``quality`` preset of the backend that trains
    (:mod:`splatkit.train.presets`): the run's length (``steps`` or ``minutes``), the image
    resolution (``max_image_size``), the Gaussian cap and, for a time-budgeted run, the
    densification schedule. A run given ``steps`` and no ``minutes`` is a step-count run with the
    classic schedule (refine from step 500 every 100 until half the run, opacity reset every
    3000, one SH band per 1000 steps). With ``minutes`` the step options are read as fractions of
    ``steps`` and laid over the steps that fit in the budget (:mod:`splatkit.train.budget`).

    Attributes
    ----------
    quality : {"auto", "preview", "standard", "high"}
        Preset for the options left unset; auto: preview on the cpu backend, standard on a GPU.
    strategy : {"default", "mcmc", "none"}
        Densification: gsplat's clone/split/prune with a cap, 3DGS-MCMC relocation, or none.
    """

    quality: str = "auto"
    #: Optimisation steps (with minutes: the length the step options are fractions of); unset: from quality.
    steps: int | None = None
    #: Training time budget in minutes (0: none, run steps); unset: from quality, or 0 when steps is set.
    minutes: float | None = None
    #: Highest SH degree trained (0-3).
    sh_degree: int = 3
    #: Steps per added SH band; unset: from quality.
    sh_degree_interval: int | None = None
    #: Longest side of the training images in pixels (images are shrunk by an integer factor); unset: from quality.
    max_image_size: int | None = None
    #: Integer image downscale factor (wins over max_image_size); unset: chosen from max_image_size.
    downscale: int | None = None
    #: Hold out every n-th image (by name) for evaluation; 0: none.
    test_every: int = 8
    #: Random seed (initialisation, view order, densification).
    seed: int = 0
    strategy: str = "default"
    #: Cap on the number of Gaussians; unset: from quality.
    max_gaussians: int | None = None
    #: First step that densifies; unset: from quality.
    refine_start: int | None = None
    #: Step densification stops at (0: half the run); unset: from quality.
    refine_stop: int | None = None
    #: Steps between densification passes; unset: from quality.
    refine_every: int | None = None
    #: Steps between opacity resets (0: never); unset: from quality.
    reset_every: int | None = None
    #: Screen-space gradient threshold to clone or split a Gaussian; unset: from quality.
    grow_grad2d: float | None = None
    #: Opacity below which Gaussians are pruned.
    prune_opa: float = 0.005
    #: Use absolute 2D-mean gradients for densification (AbsGS; gsplat backend).
    absgrad: bool = False
    #: Antialiased rasterization (Mip-Splatting opacity compensation).
    antialiased: bool = False
    #: gsplat's packed mode (less memory for large scenes).
    packed: bool = False
    #: Weight of the (1 - SSIM) term in the loss (the rest is L1).
    ssim_lambda: float = 0.2
    #: Initial position learning rate (times the scene scale; decays to 1 % over the run).
    lr_means: float = 1.6e-4
    #: Learning rate of the log-scales.
    lr_scales: float = 5e-3
    #: Learning rate of the rotations.
    lr_quats: float = 1e-3
    #: Learning rate of the opacity logits.
    lr_opacities: float = 5e-2
    #: Learning rate of the base colour (SH band 0).
    lr_sh0: float = 2.5e-3
    #: Learning rate of the higher SH bands.
    lr_shN: float = 2.5e-3 / 20
    #: Opacity of the initial Gaussians.
    init_opacity: float = 0.1
    #: Initial scale, times the mean distance to the 3 nearest SfM points.
    init_scale: float = 1.0
    #: Fewest SfM points training accepts.
    min_points: int = DEFAULT_MIN_POINTS
    #: Fewest registered images training accepts.
    min_frames: int = DEFAULT_MIN_FRAMES
    #: Steps between checkpoints (0: none); with minutes, a fraction of steps.
    checkpoint_every: int = 1000
    #: Checkpoints kept (the newest ones).
    keep_checkpoints: int = 2
    #: Steps between training-curve points; with minutes, a fraction of steps.
    curve_every: int = 50
    #: Steps between held-out evaluations during training (0: only at the end); with minutes, a fraction of steps.
    eval_every: int = 0
    #: Save the held-out renders as PNG.
    save_eval_images: bool = True

    def __post_init__(self) -> None:
        if ((self.steps is not None and self.steps < 1) or (self.downscale is not None and self.downscale < 1)
                or not 0 <= self.sh_degree <= 3):
            raise ContractError(f"bad training config: steps={self.steps}, downscale={self.downscale}, "
                                f"sh_degree={self.sh_degree}", field="TrainConfig")
        if self.strategy not in STRATEGY_NAMES:
            raise ContractError(f"strategy must be one of {list(STRATEGY_NAMES)}, got {self.strategy!r}",
                                field="TrainConfig.strategy", expected=STRATEGY_NAMES, actual=self.strategy)
        if self.quality not in QUALITY_NAMES:
            raise ContractError(f"quality must be one of {list(QUALITY_NAMES)}, got {self.quality!r}",
                                field="TrainConfig.quality", expected=QUALITY_NAMES, actual=self.quality)
        for name in ("minutes", "max_image_size", "max_gaussians", "refine_start", "refine_stop", "reset_every"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ContractError(f"{name} must be >= 0, got {value}", field=f"TrainConfig.{name}",
                                    expected=">= 0", actual=value)
        for name in ("sh_degree_interval", "refine_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ContractError(f"{name} must be >= 1, got {value}", field=f"TrainConfig.{name}",
                                    expected=">= 1", actual=value)

    def digest(self) -> str:
        """Hash of the options that change results (not checkpointing or logging cadence)."""
        skip = {"checkpoint_every", "keep_checkpoints", "curve_every", "eval_every", "save_eval_images"}
        data = {k: v for k, v in config_to_dict(self).items() if k not in skip}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def for_backend(self, backend: str) -> tuple[TrainConfig, list[str]]:
        """This config with the quality preset of ``backend`` filled in, and lines that say so.

        What ``--print-config`` shows: the options a run on ``backend`` will use (``downscale``
        stays unset: it is chosen from the images) and the preset table.
        """
        resolved = resolve_config(self, backend)
        config = resolved.config
        length = (f"a {config.minutes:g}-minute training budget" if resolved.budget_seconds
                  else f"{config.steps:,} steps")
        lines = [f"quality {config.quality} ({resolved.quality_reason}): {length}, images up to "
                 f"{config.max_image_size} px on the long side, up to {config.max_gaussians:,} Gaussians",
                 f"quality presets on {backend}: " + "; ".join(describe_presets(backend))]
        return config, lines
