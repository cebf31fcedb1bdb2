"""Training options: one flat, frozen dataclass (what ``splatkit train --help`` lists)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from splatkit.contracts.reconstruction import DEFAULT_MIN_FRAMES, DEFAULT_MIN_POINTS
from splatkit.errors import ContractError
from splatkit.stages import check_config_ranges, config_to_dict, ranged
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
    steps: int | None = ranged(None, ge=1)
    #: Training time budget in minutes (0: none, run steps); unset: from quality, or 0 when steps is set.
    minutes: float | None = ranged(None, ge=0)
    #: Highest SH degree trained (0-3).
    sh_degree: int = ranged(3, ge=0, le=3)
    #: Steps per added SH band; unset: from quality.
    sh_degree_interval: int | None = ranged(None, ge=1)
    #: Longest side of the training images in pixels (images are shrunk by an integer factor); unset: from quality.
    max_image_size: int | None = ranged(None, ge=0)
    #: Integer image downscale factor (wins over max_image_size); unset: chosen from max_image_size.
    downscale: int | None = ranged(None, ge=1)
    #: Hold out every n-th image (by name) for evaluation; 0: none.
    test_every: int = ranged(8, ge=0)
    #: Random seed (initialisation, view order, densification).
    seed: int = ranged(0, ge=0)
    strategy: str = "default"
    #: Cap on the number of Gaussians; unset: from quality.
    max_gaussians: int | None = ranged(None, ge=0)
    #: GPU memory budget in GiB for the Gaussian cap and image size (docs/gpu.md); unset: the GPU's total; CPU: unused.
    max_vram_gb: float | None = ranged(None, gt=0)
    #: First step that densifies; unset: from quality.
    refine_start: int | None = ranged(None, ge=0)
    #: Step densification stops at (0: half the run); unset: from quality.
    refine_stop: int | None = ranged(None, ge=0)
    #: Steps between densification passes; unset: from quality.
    refine_every: int | None = ranged(None, ge=1)
    #: Steps between opacity resets (0: never); unset: from quality.
    reset_every: int | None = ranged(None, ge=0)
    #: Screen-space gradient threshold to clone or split a Gaussian; unset: from quality.
    grow_grad2d: float | None = ranged(None, gt=0)
    #: Opacity below which Gaussians are pruned.
    prune_opa: float = ranged(0.005, ge=0, lt=1)
    #: Use absolute 2D-mean gradients for densification (AbsGS; gsplat backend).
    absgrad: bool = False
    #: Antialiased rasterization (Mip-Splatting opacity compensation).
    antialiased: bool = False
    #: gsplat's packed mode (less memory for large scenes).
    packed: bool = False
    #: Weight of the (1 - SSIM) term in the loss (the rest is L1).
    ssim_lambda: float = ranged(0.2, ge=0, le=1)
    #: Initial position learning rate (times the scene scale; decays to 1 % over the run).
    lr_means: float = ranged(1.6e-4, ge=0)
    #: Learning rate of the log-scales.
    lr_scales: float = ranged(5e-3, ge=0)
    #: Learning rate of the rotations.
    lr_quats: float = ranged(1e-3, ge=0)
    #: Learning rate of the opacity logits.
    lr_opacities: float = ranged(5e-2, ge=0)
    #: Learning rate of the base colour (SH band 0).
    lr_sh0: float = ranged(2.5e-3, ge=0)
    #: Learning rate of the higher SH bands.
    lr_shN: float = ranged(2.5e-3 / 20, ge=0)
    #: Opacity of the initial Gaussians.
    init_opacity: float = ranged(0.1, gt=0, lt=1)
    #: Initial scale, times the mean distance to the 3 nearest SfM points.
    init_scale: float = ranged(1.0, gt=0)
    #: Fewest SfM points training accepts.
    min_points: int = ranged(DEFAULT_MIN_POINTS, ge=0)
    #: Fewest registered images training accepts.
    min_frames: int = ranged(DEFAULT_MIN_FRAMES, ge=1)
    #: Steps between checkpoints (0: none); with minutes, a fraction of steps.
    checkpoint_every: int = ranged(1000, ge=0)
    #: Checkpoints kept (the newest ones).
    keep_checkpoints: int = ranged(2, ge=0)
    #: Steps between training-curve points; with minutes, a fraction of steps.
    curve_every: int = ranged(50, ge=1)
    #: Steps between held-out evaluations during training (0: only at the end); with minutes, a fraction of steps.
    eval_every: int = ranged(0, ge=0)
    #: Save the held-out renders as PNG.
    save_eval_images: bool = True

    def __post_init__(self) -> None:
        check_config_ranges(self)
        if self.strategy not in STRATEGY_NAMES:
            raise ContractError(f"strategy must be one of {list(STRATEGY_NAMES)}, got {self.strategy!r}",
                                field="TrainConfig.strategy", expected=STRATEGY_NAMES, actual=self.strategy)
        if self.quality not in QUALITY_NAMES:
            raise ContractError(f"quality must be one of {list(QUALITY_NAMES)}, got {self.quality!r}",
                                field="TrainConfig.quality", expected=QUALITY_NAMES, actual=self.quality)

    def digest(self) -> str:
        """Hash of the options that change results (not checkpointing or logging cadence)."""
        # max_vram_gb acts through the cap and downscale it fills in (both digested); leaving it out
        # keeps the digests, and so the checkpoints, of configs written before it existed.
        skip = {"checkpoint_every", "keep_checkpoints", "curve_every", "eval_every", "save_eval_images",
                "max_vram_gb"}
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
