"""The issue's done-when test for time budgets: the pipeline on 10 real drone photos with a 2-minute
training budget stops training within 10 % of the budget, densification finished.

Slow (SfM at 1000 px, then two minutes of CPU training); CI runs it. It is the one test here that
compares a time with the budget, because that is what it checks: the planner re-plans from the
measured step rate, so the comparison holds on a loaded machine too (the budget counts training
time; the step that crosses it is the only overrun).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import dataset

pytest.importorskip("pycolmap")
pytest.importorskip("torch")
pytest.importorskip("numba")

BUDGET_MINUTES = 2


@pytest.mark.slow
def test_two_minute_budget_on_real_drone_photos_stops_on_time_with_densification_finished(tmp_path: Path) -> None:
    photos = dataset("odm-caliterra-subset10") / "images"
    out = tmp_path / "caliterra"
    # SfM kept cheap (1000 px features, undistorted images at most 1200 px); training on the cpu
    # backend with the default quality (preview) and the budget: the resolution is chosen for it.
    proc = subprocess.run([sys.executable, "-m", "splatkit", "run", str(photos), str(out), "--sfm-max-image-size",
                           "1000", "--sfm-undistort-max-size", "1200", "--train", "cpu",
                           "--train-minutes", str(BUDGET_MINUTES)], capture_output=True, text=True, timeout=1800,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "train" / "metrics.json").read_text())
    budget = 60.0 * BUDGET_MINUTES
    assert metrics["budget_seconds"] == budget and metrics["stop_reason"] == "budget"
    assert abs(metrics["train_seconds"] - budget) <= 0.1 * budget, metrics["train_seconds"]
    assert metrics["densify_stop_step"] is not None and metrics["densify_stop_step"] < metrics["steps"]
    assert metrics["quality"] == "preview" and max(metrics["resolution"]) <= 640
    assert "quality preview" in proc.stderr and "training images" in proc.stderr  # the log says what it chose
