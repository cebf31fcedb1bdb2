"""Shared fixtures: real datasets (skipped when absent), CUDA marker handling."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI boxes are slow and shared: no per-example deadline, few examples by default.
settings.register_profile("splatkit", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "splatkit"))

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("SPLATKIT_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets``; tests that use it skip when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {DATASETS}")
    return DATASETS


def dataset(name: str) -> Path:
    """Path of one dataset folder, skipping the calling test when it is missing."""
    path = DATASETS / name
    if not path.exists():
        pytest.skip(f"dataset {name} not found at {path}")
    return path


def find_splat_transform() -> str | None:
    """PlayCanvas's splat-transform: ``$SPLATKIT_SPLAT_TRANSFORM``, PATH, or ``node_modules/.bin``."""
    import shutil

    env = os.environ.get("SPLATKIT_SPLAT_TRANSFORM")
    if env:
        return env if Path(env).is_file() else None
    found = shutil.which("splat-transform")
    if found:
        return found
    local = PROJECT_ROOT / "node_modules" / ".bin" / "splat-transform"
    return str(local) if local.is_file() and shutil.which("node") else None


@pytest.fixture(scope="module")
def splat_transform() -> str:
    """The splat-transform executable; the test skips when it (or node) is not installed."""
    import shutil

    exe = find_splat_transform()
    if exe is None or shutil.which("node") is None:
        pytest.skip("splat-transform not installed (set SPLATKIT_SPLAT_TRANSFORM or "
                    "`npm install --prefix <repo> @playcanvas/splat-transform@3.7.0`)")
    return exe


def run_splat_transform(exe: str, *args: str) -> None:
    """Run splat-transform on the CPU, failing the test with its output when it fails."""
    import subprocess

    # -g cpu: without it 3.7.0 crashes looking for a WebGPU adapter on machines without a GPU.
    proc = subprocess.run([exe, "-w", "-g", "cpu", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"splat-transform {args} failed:\n{proc.stdout}\n{proc.stderr}"


def _cuda_ready() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("cuda" in item.keywords for item in items) and not _cuda_ready():
        skip = pytest.mark.skip(reason="needs a CUDA device (none here)")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)
