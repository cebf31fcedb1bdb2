"""The CLI's progress display: a redrawn bar on a terminal, sparse log lines otherwise."""

from __future__ import annotations

import io
import logging

from splatkit.pipeline.progress import ProgressDisplay, format_duration, format_update
from splatkit.stages import ProgressUpdate


def updates(stage: str, total: int) -> list[ProgressUpdate]:
    return [ProgressUpdate(stage=stage, step=i, total=total, message="train", metrics={"loss": 1.0 / i})
            for i in range(1, total + 1)]


def test_format_update_shows_fraction_message_and_metrics() -> None:
    line = format_update(ProgressUpdate(stage="train/cpu", step=50, total=200, message="train",
                                        metrics={"loss": 0.125, "num_gaussians": 3000.0}), bar=True)
    assert line.startswith("train/cpu [#######.....................] 50/200  25% train")
    assert line.endswith("loss=0.125 num_gaussians=3000")
    assert format_update(ProgressUpdate(stage="sfm/x", step=3), bar=False) == "sfm/x step 3"


def test_terminal_bar_redraws_in_place_and_ends_the_line_per_stage() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, bar=True)
    for u in updates("sfm/fake", 3) + updates("train/fake", 4):
        display(u)
    display.close()
    text = stream.getvalue()
    lines = text.split("\n")
    assert len(lines) == 3 and lines[2] == ""  # one finished line per stage
    assert lines[0].startswith("\rsfm/fake") and "3/3 100%" in lines[0].split("\r")[-1]
    assert "4/4 100%" in lines[1].split("\r")[-1]


def test_without_a_terminal_it_logs_about_ten_lines_per_stage(caplog) -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, bar=False)
    with caplog.at_level(logging.INFO, logger="splatkit.pipeline.progress"):
        for u in updates("train/fake", 1000):
            display(u)
    assert stream.getvalue() == ""
    assert 10 <= len(caplog.records) <= 12
    assert caplog.records[-1].getMessage().startswith("train/fake 1000/1000 100%")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drawn(stream: io.StringIO) -> list[str]:
    """The bar's successive states (each redraw starts with a carriage return)."""
    return [part.rstrip() for part in stream.getvalue().replace("\n", "").split("\r") if part]


def train_stream(display: ProgressDisplay, clock: FakeClock, seconds_per_step: list[float], total: int,
                 **metrics: float) -> None:
    for i, seconds in enumerate(seconds_per_step, start=1):
        clock.now += seconds
        display(ProgressUpdate(stage="train/cpu", step=i, total=total, message="train",
                               metrics={"loss": 0.1, **metrics}))


def test_format_duration_reads_like_a_person_would_write_it() -> None:
    assert [format_duration(s) for s in (0, 44.6, 60, 185, 3600, 7620)] == ["0s", "45s", "1m00s", "3m05s",
                                                                           "1h00m", "2h07m"]


def test_training_shows_the_time_left_at_a_steady_rate() -> None:
    clock, stream = FakeClock(), io.StringIO()
    display = ProgressDisplay(stream, bar=True, clock=clock)
    train_stream(display, clock, [0.5] * 100, total=2000)
    assert "100/2000   5% ETA 15m50s train loss=0.1" in drawn(stream)[-1]   # 1,900 steps x 0.5 s


def test_the_eta_follows_the_recent_rate_when_steps_slow_down() -> None:
    # Densification makes later steps slower: 300 fast steps, then 200 at 1 s each.
    clock, stream = FakeClock(), io.StringIO()
    display = ProgressDisplay(stream, bar=True, clock=clock)
    train_stream(display, clock, [0.1] * 300 + [1.0] * 200, total=1000)
    assert "500/1000  50% ETA 8m20s" in drawn(stream)[-1]                    # 500 steps x 1 s, not x 0.46 s


def test_no_eta_before_the_rate_is_known_nor_for_a_few_unlike_phases() -> None:
    clock, stream = FakeClock(), io.StringIO()
    display = ProgressDisplay(stream, bar=True, clock=clock)
    train_stream(display, clock, [0.5], total=2000)                          # one step: no rate yet
    assert "ETA" not in drawn(stream)[-1]
    display.close()
    for step, message in enumerate(["extract", "match", "map", "undistort"]):
        clock.now += 30.0
        display(ProgressUpdate(stage="sfm/pycolmap", step=step, total=5, message=message))
    assert "ETA" not in stream.getvalue()


def test_a_stage_that_knows_its_time_left_is_believed() -> None:
    # A time-budgeted run re-plans its steps; its own seconds_left wins and is not shown as a metric.
    clock, stream = FakeClock(), io.StringIO()
    display = ProgressDisplay(stream, bar=True, clock=clock)
    train_stream(display, clock, [0.5] * 10, total=2000, seconds_left=125.0)
    last = drawn(stream)[-1]
    assert "10/2000   0% ETA 2m05s train loss=0.1" in last and "seconds_left" not in last


def test_a_finished_stage_says_how_long_it_took_and_log_lines_carry_the_eta(caplog) -> None:
    clock = FakeClock()
    display = ProgressDisplay(io.StringIO(), bar=False, clock=clock)
    with caplog.at_level(logging.INFO, logger="splatkit.pipeline.progress"):
        train_stream(display, clock, [0.25] * 400, total=400)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("train/cpu 200/400  50% ETA 50s train") for m in messages), messages
    assert messages[-1].startswith("train/cpu 400/400 100% in 1m40s train")  # from the first update: 399 x 0.25 s
