"""Quality presets: what ``TrainConfig.quality`` means on each training backend.

A preset sets the size of a run: its length (a step count, or a time budget in minutes whose
schedule is laid out over ``steps`` as a reference), the training image resolution (the longest
side in pixels) and the Gaussian cap. It also sets the densification schedule of *budgeted*
runs, as fractions of the run. The options a user sets win; the options left at ``None`` take
the preset's value (:func:`resolve_config`). Step-count runs keep the classic schedule
(:data:`CLASSIC_SCHEDULE`, gsplat's simple_trainer defaults), so ``steps = N`` runs train as
they always did.

``quality = "auto"`` is ``preview`` on the ``cpu`` backend and ``standard`` elsewhere: a CPU
without a GPU gets a preview it can finish in a bounded time.

Why these numbers (docs/training.md has the table and the measurements):

- ``cpu``: a 2-core CPU steps at about 0.45 s at 504x378 with 80,000 Gaussians
  (docs/benchmarks.md, llff-fern); preview keeps the long side at 640 px and the cap at 80,000 so
  a 15-minute budget runs about 2,000 steps. The budget schedule is the fern run's that reached
  24.5 dB in 14 minutes: grow early (refine from 2.5 % every 2.5 %, lower growth threshold),
  cap, no opacity reset (a reset costs a recovery a short run has no time for), SH bands every 15 %.
- ``gsplat``: full undistorted size up to 1,600 / 2,400 / 3,840 px (Inria and gsplat train at
  about 1.6K by default); 3,000 / 7,000 / 30,000 steps, caps of 1 M / 2 M / 4 M Gaussians (about
  2 KB each on the device with gradients, Adam moments and gsplat's buffers: 4 M and a 2000x1500
  image fit a T4's 16 GB). On CUDA the VRAM budget may lower the cap and raise the downscale
  (:mod:`splatkit.train.vram`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["QUALITY_NAMES", "AUTO_QUALITY", "BudgetSchedule", "QualityPreset", "PRESETS", "CLASSIC_SCHEDULE",
           "ResolvedOptions", "preset_for", "default_quality", "resolve_config", "describe_presets"]

AUTO_QUALITY = "auto"
#: The values ``TrainConfig.quality`` accepts.
QUALITY_NAMES: tuple[str, ...] = (AUTO_QUALITY, "preview", "standard", "high")


@dataclass(frozen=True, kw_only=True)
class BudgetSchedule:
    """A densification schedule as fractions of the run (0 < fraction <= 1).

    Attributes
    ----------
    refine_start, refine_stop : float
        Densification window (fractions of the run's steps).
    refine_every : float
        Fraction of the run between two densification passes.
    reset_every : float
        Fraction between opacity resets; 0: no reset.
    sh_degree_interval : float
        Fraction of the run per added SH band.
    grow_grad2d : float
        Screen-space gradient threshold for cloning / splitting (not a fraction).
    """

    refine_start: float
    refine_stop: float
    refine_every: float
    reset_every: float
    sh_degree_interval: float
    grow_grad2d: float

    def in_steps(self, steps: int) -> dict[str, Any]:
        """The schedule as ``TrainConfig`` step options for a run of ``steps`` steps."""
        def at(fraction: float) -> int:
            return max(1, round(fraction * steps)) if fraction > 0 else 0

        return {"refine_start": round(self.refine_start * steps), "refine_stop": at(self.refine_stop),
                "refine_every": at(self.refine_every), "reset_every": at(self.reset_every),
                "sh_degree_interval": at(self.sh_degree_interval), "grow_grad2d": self.grow_grad2d}


#: Step runs keep gsplat's simple_trainer schedule (absolute steps; refine_stop: half the run).
CLASSIC_SCHEDULE: dict[str, Any] = {"refine_start": 500, "refine_every": 100, "reset_every": 3000,
                                    "sh_degree_interval": 1000, "grow_grad2d": 2e-4}

# The llff-fern 2,000-step CPU schedule (docs/benchmarks.md: 24.49 dB in 14.1 min) as fractions.
_CPU_BUDGET = BudgetSchedule(refine_start=0.025, refine_stop=0.6, refine_every=0.025, reset_every=0.0,
                             sh_degree_interval=0.15, grow_grad2d=1e-4)
# The classic 7,000-step schedule as fractions: 500 / 3500 / 100 / 3000 / 1000 steps.
_GPU_BUDGET = BudgetSchedule(refine_start=500 / 7000, refine_stop=0.5, refine_every=100 / 7000,
                             reset_every=3000 / 7000, sh_degree_interval=1000 / 7000, grow_grad2d=2e-4)


@dataclass(frozen=True, kw_only=True)
class QualityPreset:
    """One quality level on one backend.

    Attributes
    ----------
    name : str
        ``preview``, ``standard`` or ``high``.
    steps : int
        The run's length; with ``minutes`` the reference the schedule's step options refer to.
    minutes : float
        Time budget (min); 0: a step-count run.
    max_image_size : int
        Longest side of the training images (px).
    max_gaussians : int
        Gaussian cap.
    budget_schedule : BudgetSchedule
        The schedule of a budgeted run with this preset.
    why : str
        One line: why this resolution and size suit the device.
    """

    name: str
    steps: int
    minutes: float
    max_image_size: int
    max_gaussians: int
    budget_schedule: BudgetSchedule
    why: str

    def summary(self) -> str:
        """``"15 min budget, long side <= 640 px, <= 80,000 Gaussians"``."""
        length = f"{self.minutes:g} min budget" if self.minutes else f"{self.steps:,} steps"
        return f"{length}, long side <= {self.max_image_size} px, <= {self.max_gaussians:,} Gaussians"


_CPU_WHY = "a long side that keeps a CPU step affordable"
_GPU_WHY = "full undistorted size up to a cap"

#: Backend name -> quality name -> preset. A backend not listed uses the ``gsplat`` table.
PRESETS: dict[str, dict[str, QualityPreset]] = {
    "cpu": {
        "preview": QualityPreset(name="preview", steps=2000, minutes=15, max_image_size=640, max_gaussians=80_000,
                                 budget_schedule=_CPU_BUDGET, why=_CPU_WHY),
        "standard": QualityPreset(name="standard", steps=4000, minutes=45, max_image_size=960,
                                  max_gaussians=200_000, budget_schedule=_CPU_BUDGET, why=_CPU_WHY),
        "high": QualityPreset(name="high", steps=8000, minutes=120, max_image_size=1280, max_gaussians=500_000,
                              budget_schedule=_CPU_BUDGET, why=_CPU_WHY),
    },
    "gsplat": {
        "preview": QualityPreset(name="preview", steps=3000, minutes=0, max_image_size=1600,
                                 max_gaussians=1_000_000, budget_schedule=_GPU_BUDGET, why=_GPU_WHY),
        "standard": QualityPreset(name="standard", steps=7000, minutes=0, max_image_size=2400,
                                  max_gaussians=2_000_000, budget_schedule=_GPU_BUDGET, why=_GPU_WHY),
        "high": QualityPreset(name="high", steps=30000, minutes=0, max_image_size=3840, max_gaussians=4_000_000,
                              budget_schedule=_GPU_BUDGET, why=_GPU_WHY),
    },
}


def default_quality(backend: str) -> tuple[str, str]:
    """What ``quality = "auto"`` is on ``backend``, and why."""
    if backend == "cpu":
        return "preview", "auto: training on the CPU (no usable CUDA GPU), a preview that finishes in bounded time"
    return "standard", f"auto: the {backend} backend trains on a GPU"


def preset_for(backend: str, quality: str) -> QualityPreset:
    """The preset of ``quality`` (``auto`` resolved) on ``backend``."""
    if quality == AUTO_QUALITY:
        quality = default_quality(backend)[0]
    return PRESETS.get(backend, PRESETS["gsplat"])[quality]


@dataclass(frozen=True, kw_only=True)
class ResolvedOptions:
    """A config with every preset-controlled option filled in, and why.

    Attributes
    ----------
    config : TrainConfig
        No option left at None except ``downscale`` (chosen from the images, see
        :mod:`splatkit.train.resolution`); ``quality`` is the preset's name.
    quality_reason : str
        ``"auto: ..."`` or ``"set"``.
    budget_seconds : float or None
        The time budget (s), None for a step-count run.
    from_preset : tuple[str, ...]
        The options that took the preset's value.
    """

    config: Any
    quality_reason: str
    budget_seconds: float | None
    from_preset: tuple[str, ...]


def resolve_config(config: Any, backend: str) -> ResolvedOptions:
    """Fill the options ``config`` leaves at None from its quality preset on ``backend``.

    - ``minutes``: set -> that (0: no budget); else 0 when ``steps`` is set (the user asked for a
      step count), else the preset's.
    - ``steps``: set -> that; else the preset's (with a budget: the schedule's reference length).
    - ``max_image_size``, ``max_gaussians``: set -> that, else the preset's.
    - schedule options (``refine_*``, ``reset_every``, ``sh_degree_interval``, ``grow_grad2d``):
      set -> that; else, with a budget, the preset's budget schedule over ``steps``; without,
      :data:`CLASSIC_SCHEDULE` (``refine_stop``: half the run).
    """
    quality = config.quality
    if quality == AUTO_QUALITY:
        quality, reason = default_quality(backend)
    else:
        reason = "set"
    preset = preset_for(backend, quality)
    values: dict[str, Any] = {"quality": quality}
    taken: list[str] = []

    def take(name: str, value: Any) -> None:
        if getattr(config, name) is None:
            values[name] = value
            taken.append(name)

    minutes = config.minutes if config.minutes is not None else (0.0 if config.steps is not None
                                                                 else float(preset.minutes))
    if config.minutes is None:
        values["minutes"] = minutes
        if config.steps is None:
            taken.append("minutes")
    take("steps", preset.steps)
    steps = values.get("steps", config.steps)
    take("max_image_size", preset.max_image_size)
    take("max_gaussians", preset.max_gaussians)
    schedule = preset.budget_schedule.in_steps(steps) if minutes > 0 else {**CLASSIC_SCHEDULE,
                                                                             "refine_stop": steps // 2}
    for name, value in schedule.items():
        take(name, value)
    if not values.get("refine_stop", config.refine_stop):  # 0 (older configs): half the run, as before
        values["refine_stop"] = steps // 2
    resolved = replace(config, **values)
    return ResolvedOptions(config=resolved, quality_reason=reason,
                           budget_seconds=60.0 * minutes if minutes > 0 else None, from_preset=tuple(taken))


def describe_presets(backend: str) -> list[str]:
    """One line per quality level on ``backend`` (for ``--print-config`` and the docs)."""
    table = PRESETS.get(backend, PRESETS["gsplat"])
    return [f"{name}: {preset.summary()}" for name, preset in table.items()]
