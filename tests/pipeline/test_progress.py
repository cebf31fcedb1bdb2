"""The CLI's progress display: a redrawn bar on a terminal, sparse log lines otherwise."""

from __future__ import annotations

import io
import logging

from splatkit.pipeline.progress import ProgressDisplay, format_update
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
