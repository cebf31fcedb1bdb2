"""The trainer's report: a :class:`splatkit.reports.TrainingReport` and the machine facts it records."""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass

from splatkit.reports import CurvePoint, HeldoutScores, Normalization, TrainingReport
from splatkit.stages import config_to_dict
from splatkit.train.config import TrainConfig
from splatkit.train.normalize import SceneNormalization
from splatkit.train.state import TrainState
from splatkit.train.vram import VramChoice

__all__ = ["RunTiming", "RunChoices", "build_training_report", "device_name", "peak_memory_bytes"]


@dataclass(frozen=True, kw_only=True)
class RunTiming:
    """Where this invocation's time went.

    Attributes
    ----------
    seconds : float
        Wall time of the whole call (s).
    steps_run : int
        Steps run by this call (not those a resumed checkpoint had done).
    step_seconds : float
        Time spent inside those steps (s): evaluations and checkpoints excluded.
    """

    seconds: float
    steps_run: int
    step_seconds: float


@dataclass(frozen=True, kw_only=True)
class RunChoices:
    """What the run chose and why, and how it ended (the report's fields of the same names).

    Attributes
    ----------
    quality, quality_reason : str
        The preset and why (``"auto: ..."`` or ``"set"``).
    resolution : (int, int)
        Width and height of the largest training image (px).
    resolution_reason : str
        Why that size.
    budget_seconds : float or None
        The time budget (s), None for a step-count run.
    planned_steps : int
        Step runs: the step count; budgeted runs: the first plan made from a measured rate.
    stop_reason : str
        ``"steps"`` or ``"budget"``.
    densify_stop_step : int or None
        The step densification ended at (None: no densification, or it did not finish).
    vram : VramChoice or None
        What the VRAM budget chose and why (CUDA runs); the report's ``vram`` key.
    """

    quality: str
    quality_reason: str
    resolution: tuple[int, int]
    resolution_reason: str
    budget_seconds: float | None
    planned_steps: int | None
    stop_reason: str
    densify_stop_step: int | None
    vram: VramChoice | None = None


def build_training_report(*, state: TrainState, config: TrainConfig, backend: str, device: str,
                          resumed_from_step: int, timing: RunTiming, final_loss: float, num_gaussians: int,
                          initial_points: int, train_views: int, heldout_views: tuple[str, ...],
                          heldout: HeldoutScores, norm: SceneNormalization,
                          choices: RunChoices | None = None) -> TrainingReport:
    """The report of a finished run (see :mod:`splatkit.reports` for every field).

    ``steps`` is the number of steps the run did in all (``state.step``): for a step-count run
    its ``steps`` option, for a budgeted run what fitted in the budget.
    """
    chosen: dict[str, object] = {}
    extra: dict[str, object] = {}
    if choices is not None and choices.vram is not None:
        extra["vram"] = choices.vram.to_dict()
    if choices is not None:
        chosen = dict(quality=choices.quality, quality_reason=choices.quality_reason,
                      resolution=choices.resolution, resolution_reason=choices.resolution_reason,
                      budget_seconds=choices.budget_seconds, train_seconds=round(state.train_seconds, 3),
                      planned_steps=choices.planned_steps, stop_reason=choices.stop_reason,
                      densify_stop_step=choices.densify_stop_step)
    return TrainingReport(
        backend=backend, device=device_name(device), steps=state.step, resumed_from_step=resumed_from_step,
        seconds=round(timing.seconds, 3),
        steps_per_second=round(timing.steps_run / timing.step_seconds, 3) if timing.steps_run else None,
        num_gaussians=num_gaussians, initial_points=initial_points, final_loss=final_loss,
        train_views=train_views, heldout_views=heldout_views, heldout=heldout,
        curve=tuple(CurvePoint.from_dict(p, f"curve[{i}]") for i, p in enumerate(state.curve)),
        opacity_resets=int(state.strategy_state.get("opacity_resets", 0)),
        peak_memory_bytes=peak_memory_bytes(device),
        normalization=Normalization(center=(float(norm.center[0]), float(norm.center[1]), float(norm.center[2])),
                                    scale=float(norm.scale)),
        config=config_to_dict(config), extra=extra, **chosen,  # type: ignore[arg-type]
    )


def device_name(device: str) -> str:
    """The device in words: the GPU's name, or ``"cpu: <model> (<n> threads)"``."""
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


def peak_memory_bytes(device: str) -> int:
    """CUDA: torch's peak allocation on ``device``; CPU: this process's peak resident set (bytes)."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated(torch.device(device)))
    # ru_maxrss is in KiB on Linux.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
