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

__all__ = ["RunTiming", "build_training_report", "device_name", "peak_memory_bytes"]


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


def build_training_report(*, state: TrainState, config: TrainConfig, backend: str, device: str,
                          resumed_from_step: int, timing: RunTiming, final_loss: float, num_gaussians: int,
                          initial_points: int, train_views: int, heldout_views: tuple[str, ...],
                          heldout: HeldoutScores, norm: SceneNormalization) -> TrainingReport:
    """The report of a finished run (see :mod:`splatkit.reports` for every field)."""
    return TrainingReport(
        backend=backend, device=device_name(device), steps=config.steps, resumed_from_step=resumed_from_step,
        seconds=round(timing.seconds, 3),
        steps_per_second=round(timing.steps_run / timing.step_seconds, 3) if timing.steps_run else None,
        num_gaussians=num_gaussians, initial_points=initial_points, final_loss=final_loss,
        train_views=train_views, heldout_views=heldout_views, heldout=heldout,
        curve=tuple(CurvePoint.from_dict(p, f"curve[{i}]") for i, p in enumerate(state.curve)),
        opacity_resets=int(state.strategy_state.get("opacity_resets", 0)),
        peak_memory_bytes=peak_memory_bytes(device),
        normalization=Normalization(center=(float(norm.center[0]), float(norm.center[1]), float(norm.center[2])),
                                    scale=float(norm.scale)),
        config=config_to_dict(config),
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
