"""Recorded benchmark files the bench tests read (small copies; see data/)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture()
def cpu_record_path() -> Path:
    """A ``splatkit bench synthetic --preset cpu-smoke`` record from the project's 2-core CPU."""
    return DATA / "bench-synthetic-cpu-smoke--cpu2.json"


@pytest.fixture()
def h100_paths() -> list[Path]:
    """``benchmarks/train.py`` results of llff-fern on an H100 (7k and 30k steps; curves trimmed to the PSNR points)."""
    return [DATA / "train-gsplat-fern-7k--h100.json", DATA / "train-gsplat-fern-30k--h100.json"]
