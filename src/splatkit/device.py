"""Compute devices, decided once: can CUDA run here, and if not, why.

Every stage that can use a GPU (training, the gsplat rasterizer, PLAS sorting, the SH palette
k-means, compression's render check) asks this module instead of probing torch itself, so the
threshold, the probe and the wording of "why not" exist once.

Two levels of check:

- :func:`nvidia_driver_present` is cheap (a file test, no imports): what ``is_available()`` of a
  CUDA backend may use.
- :func:`cuda_problem` imports torch (never gsplat) and asks it for a device and its compute
  capability.

torch is imported only inside functions: ``import splatkit.device`` stays light.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from splatkit.errors import BackendUnavailableError, ContractError

__all__ = [
    "MIN_COMPUTE_CAPABILITY",
    "DEVICE_CHOICES",
    "nvidia_driver_present",
    "cuda_problem",
    "cuda_available",
    "resolve_device",
    "require_cuda",
    "available_cores",
]

#: gsplat >= 1.0 uses ``cooperative_groups::labeled_partition``, which needs sm_70 or newer
#: (T4 is 7.5, A10G 8.6). splatkit's CUDA paths share gsplat's floor.
MIN_COMPUTE_CAPABILITY: tuple[int, int] = (7, 0)
#: What a ``device`` option accepts: ``auto`` means CUDA when :func:`cuda_problem` is None.
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda")
#: The NVIDIA kernel driver exposes this file; its absence means no NVIDIA GPU at all.
_NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")


def nvidia_driver_present() -> bool:
    """Whether an NVIDIA kernel driver is loaded (a file test: no imports, microseconds)."""
    return _NVIDIA_DRIVER_FILE.exists()


def cuda_problem(min_capability: tuple[int, int] = MIN_COMPUTE_CAPABILITY) -> str | None:
    """Why CUDA cannot run splatkit's kernels here, or None when it can.

    Imports torch (not gsplat); torch caches its own device query, so asking again is cheap.

    Parameters
    ----------
    min_capability
        The lowest compute capability accepted, ``(major, minor)``.
    """
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (pip install 'splatkit[train]')"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device"
    capability = tuple(torch.cuda.get_device_capability())
    if capability < min_capability:
        return (f"{torch.cuda.get_device_name()} has compute capability {capability[0]}.{capability[1]}; "
                f"splatkit's CUDA paths (gsplat >= 1.0) need >= {min_capability[0]}.{min_capability[1]} "
                "(T4 is 7.5, A10G 8.6)")
    return None


def cuda_available() -> bool:
    """Whether :func:`cuda_problem` found nothing wrong."""
    return cuda_problem() is None


def resolve_device(device: str, *, what: str) -> str:
    """``"cpu"`` or ``"cuda"`` for a ``device`` option of ``auto``/``cpu``/``cuda``.

    Parameters
    ----------
    device
        The option as given.
    what
        What asks, for messages (``"PLAS sorting"``, ``"SH palette k-means"``).

    Raises
    ------
    ContractError
        ``device`` is not one of :data:`DEVICE_CHOICES`.
    BackendUnavailableError
        ``"cuda"`` was asked for and :func:`cuda_problem` says why it cannot run.
    """
    if device not in DEVICE_CHOICES:
        raise ContractError(f"{what}: device must be one of {list(DEVICE_CHOICES)}, got {device!r}",
                            field="device", expected=list(DEVICE_CHOICES), actual=device)
    if device == "cpu":
        return "cpu"
    problem = cuda_problem()
    if problem is None:
        return "cuda"
    if device == "auto":
        return "cpu"
    raise BackendUnavailableError(f"{what} on 'cuda' was asked for, but {problem}",
                                  kind="device", name="cuda", install_hint="use device='cpu' or 'auto'")


def require_cuda(*, kind: str, name: str, install_hint: str = "") -> None:
    """Raise :class:`BackendUnavailableError` for backend ``kind/name`` unless CUDA can run."""
    problem = cuda_problem()
    if problem is not None:
        raise BackendUnavailableError(f"{kind} backend {name!r} needs CUDA, but {problem}",
                                      kind=kind, name=name,
                                      install_hint=install_hint or f"use the cpu {kind} backend")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
