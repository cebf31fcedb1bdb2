"""Budgeted training end to end on the tiny synthetic scene, on a simulated clock.

The trainer's clock is replaced by one that advances a fixed amount per reading, so the run is
fast and its length does not depend on the machine's load (no timing asserts).
"""

from __future__ import annotations

import logging

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gsplat")
pytest.importorskip("numba")

from splatkit.reports import TrainingReport  # noqa: E402
from splatkit.stages import StopRequested  # noqa: E402
from splatkit.train import trainer as trainer_module  # noqa: E402
from splatkit.train.config import TrainConfig  # noqa: E402
from tests.train.test_training import _stage, scene  # noqa: E402, F401  (scene: module fixture)

#: Simulated seconds per clock reading: the loop reads the clock a few times per step.
TICK = 0.04
#: 2.4 s of simulated training: some 20 steps.
MINUTES = 0.04


class FakeClock:
    """Stands in for the ``time`` module inside the trainer: each reading advances by ``TICK``."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += TICK
        return self.now


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(trainer_module, "time", clock)
    return clock


def test_a_budgeted_run_stops_on_budget_with_densification_finished(scene, tmp_path, fake_clock, caplog) -> None:
    config = TrainConfig(minutes=MINUTES, sh_degree=1, test_every=5, checkpoint_every=0, max_gaussians=2000)
    updates = []
    with caplog.at_level(logging.INFO, logger="splatkit.train.trainer"):
        result = _stage().run(scene, config, tmp_path, updates.append)
    report = TrainingReport.from_dict(result.report)
    # Progress carries the training time and the budget (an ETA that does not move with re-plans).
    assert updates[-1].metrics["budget_seconds"] == report.budget_seconds
    assert [u.metrics["train_seconds"] for u in updates] == sorted(u.metrics["train_seconds"] for u in updates)
    assert updates[-1].step == updates[-1].total == report.steps  # the last update is 100 %
    assert report.stop_reason == "budget" and report.budget_seconds == pytest.approx(60 * MINUTES)
    assert report.quality == "preview" and report.quality_reason.startswith("auto: training on the CPU")
    assert report.resolution == (48, 40) and report.resolution_reason.startswith("48x40, full size")
    assert report.train_seconds > 0.5 * report.budget_seconds  # simulated seconds: a count of clock readings
    assert 10 < report.steps < 60 and report.planned_steps is not None
    # Densification ran in its window (60 % of the run) and ended before the run did.
    assert report.densify_stop_step is not None and 0.4 * report.steps < report.densify_stop_step < report.steps
    assert report.num_gaussians != report.initial_points
    assert report.curve[-1].step == report.steps - 1 and len(report.curve) > 10
    assert report.config["minutes"] == MINUTES and report.config["max_image_size"] == 640
    messages = [r.getMessage() for r in caplog.records]
    assert any("quality preview (auto: training on the CPU" in m and "budget" in m for m in messages), messages
    assert any("training images 48x40, full size" in m for m in messages)


def test_a_budgeted_run_resumes_with_the_time_it_has_left(scene, tmp_path, fake_clock) -> None:
    config = TrainConfig(minutes=MINUTES, sh_degree=1, test_every=5, checkpoint_every=1000, max_gaussians=2000)
    stop_at = 8

    def stop(update) -> None:
        if update.step == stop_at:
            raise StopRequested("reclaimed")

    with pytest.raises(StopRequested):
        _stage().run(scene, config, tmp_path, stop)
    saved = torch.load(tmp_path / "checkpoints" / f"ckpt_{stop_at:08d}.pt", weights_only=True)
    assert saved["budget_plan"]["planned_steps"] > stop_at and 0 < saved["train_seconds"] < 60 * MINUTES
    result = _stage().run(scene, config, tmp_path)
    report = TrainingReport.from_dict(result.report)
    assert report.resumed_from_step == stop_at and report.stop_reason == "budget"
    # The budget counts the training time of both processes: the resumed one spent what was left.
    assert report.train_seconds >= saved["train_seconds"]
    assert report.densify_stop_step is not None and report.densify_stop_step < report.steps


def test_a_step_run_reports_its_steps_and_the_preset_it_took_its_size_from(scene, tmp_path) -> None:
    config = TrainConfig(steps=12, sh_degree=1, sh_degree_interval=5, refine_start=4, refine_every=4,
                         reset_every=0, test_every=5, checkpoint_every=0, curve_every=5)
    report = TrainingReport.from_dict(_stage().run(scene, config, tmp_path).report)
    assert (report.steps, report.planned_steps, report.stop_reason, report.budget_seconds) == (12, 12, "steps", None)
    assert report.densify_stop_step == 6 and report.quality == "preview" and report.opacity_resets == 0
    assert report.config["max_gaussians"] == 80_000 and report.config["downscale"] == 1
