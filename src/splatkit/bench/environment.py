"""The machine a benchmark ran on: device, compute capability, VRAM, driver and library versions, commit.

One place for what every benchmark record says about its machine (``benchmarks/*.py`` and
``splatkit bench``). torch is imported only when :func:`capture_environment` runs.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["LIBRARIES", "THREAD_ENV", "capture_environment", "library_versions", "git_commit", "cuda_facts"]

#: Libraries whose version changes a benchmark's numbers (None when not installed).
LIBRARIES: tuple[str, ...] = ("numpy", "torch", "gsplat", "pycolmap", "numba")
#: Thread settings change CPU timings a lot on a shared machine (docs/benchmarks.md, issue 13).
THREAD_ENV: tuple[str, ...] = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")
_NVIDIA_VERSION_FILE = Path("/proc/driver/nvidia/version")


def library_versions() -> dict[str, str | None]:
    """``{"python": ..., "splatkit": ..., "numpy": ..., "torch": ..., ...}``; None for a missing library."""
    from splatkit import __version__

    versions: dict[str, str | None] = {"python": platform.python_version(), "splatkit": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = str(importlib.import_module(name).__version__)
        except Exception:  # noqa: BLE001 - a broken optional install is recorded as absent, not fatal
            versions[name] = None
    return versions


def git_commit(where: Path | None = None) -> str | None:
    """The checkout's commit (``"<sha>"``, ``"<sha>-dirty"`` with uncommitted tracked changes), None outside one.

    ``where`` defaults to this package's folder, so an installed wheel (no ``.git``) gives None
    and the record falls back to the package version.
    """
    folder = where if where is not None else Path(__file__).resolve().parent
    if shutil.which("git") is None:
        return None
    try:
        sha = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=False, timeout=10).stdout.strip()
        if not sha:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=False, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def _driver_version() -> str | None:
    # nvidia-smi is the documented source; the kernel module's file is there without the tools.
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, check=False, timeout=20).stdout.strip()
            if out:
                return out.splitlines()[0].strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        text = _NVIDIA_VERSION_FILE.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for word in text.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            return word
    return None


def cuda_facts(device: str = "cuda:0") -> dict[str, Any]:
    """GPU name, compute capability, VRAM (bytes), driver and CUDA runtime versions; Nones without CUDA."""
    facts: dict[str, Any] = {"gpu_name": None, "compute_capability": None, "vram_bytes": None,
                             "driver_version": _driver_version(), "cuda_version": None}
    try:
        import torch
    except ImportError:
        return facts
    facts["cuda_version"] = torch.version.cuda
    if not torch.cuda.is_available():
        return facts
    props = torch.cuda.get_device_properties(torch.device(device))
    facts.update(gpu_name=props.name, compute_capability=f"{props.major}.{props.minor}",
                 vram_bytes=int(props.total_memory))
    return facts


def _cpu_model() -> str:
    try:
        # platform.processor() is only the architecture on Linux; cpuinfo has the model name.
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def capture_environment(*, cuda: bool | None = None) -> dict[str, Any]:
    """Everything a benchmark record says about its machine.

    Parameters
    ----------
    cuda
        Query the GPU (imports torch). None: only when an NVIDIA driver is loaded.

    Returns
    -------
    dict
        ``device`` (the GPU's name, else ``"cpu: <model>"``), ``gpu_name``, ``compute_capability``
        (``"8.6"``), ``vram_bytes``, ``driver_version``, ``cuda_version`` (torch's CUDA runtime),
        ``cpu_model``, ``cpus``, ``platform``, ``versions`` (:func:`library_versions`), ``commit``
        (:func:`git_commit`), ``date`` (UTC ISO 8601), ``thread_env`` and ``sagemaker_job``
        (``TRAINING_JOB_NAME`` inside a SageMaker training job, else None).
    """
    from splatkit.device import nvidia_driver_present

    if cuda is None:
        cuda = nvidia_driver_present()
    facts = cuda_facts() if cuda else {"gpu_name": None, "compute_capability": None, "vram_bytes": None,
                                       "driver_version": None, "cuda_version": None}
    cpu_model = _cpu_model()
    return {
        "device": facts["gpu_name"] or f"cpu: {cpu_model}",
        **facts,
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "versions": library_versions(),
        "commit": git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV},
        "sagemaker_job": os.environ.get("TRAINING_JOB_NAME") or None,
    }
