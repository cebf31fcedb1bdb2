"""The run report reads the training stage's report through splatkit.reports.TrainingReport."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splatkit.pipeline.report import build_report, render_html


@dataclass(frozen=True)
class Manifest:
    report: dict[str, Any]
    seconds: float = 1.0
    primary: str = ""


@dataclass(frozen=True)
class Outcome:
    kind: str
    stage_dir: Path
    manifest: Manifest
    backend: str = "fake"
    status: str = "ran"
    seconds: float = 1.0
    reason: str = "first run"
    error: str = ""
    resumed: bool = False
    primary_file: Path | None = None


@dataclass(frozen=True)
class Run:
    out_dir: Path
    stages: tuple[Outcome, ...]
    final_file: Path | None = None
    seconds: float = 2.0


@dataclass(frozen=True)
class Resolved:
    kind: str
    backend: str = "fake"
    config: Any = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class NoOptions:
    pass


def _build(tmp_path: Path, train_report: dict[str, Any]) -> dict[str, Any]:
    run = Run(out_dir=tmp_path, stages=(Outcome(kind="train", stage_dir=tmp_path / "train",
                                                manifest=Manifest(report=train_report)),))
    return build_report(run, source=tmp_path / "photos", resolved=(Resolved(kind="train", config=NoOptions()),))


def test_training_section_comes_from_the_schema(tmp_path) -> None:
    train = {"backend": "cpu", "device": "cpu: x", "steps": 3, "num_gaussians": 9, "final_loss": 0.25,
             "seconds": 4.5, "heldout": {"mean": {"psnr": 20.0, "ssim": 0.7},
                                         "views": [{"name": "a.png", "psnr": 20.0, "ssim": 0.7}]},
             "curve": [{"step": 0, "loss": 0.5, "num_gaussians": 9}, {"step": 2, "loss": 0.25, "num_gaussians": 9}]}
    report = _build(tmp_path, train)
    section = report["training"]
    assert {k: section[k] for k in ("backend", "steps", "num_gaussians", "final_loss", "seconds")} == {
        "backend": "cpu", "steps": 3, "num_gaussians": 9, "final_loss": 0.25, "seconds": 4.5}
    assert section["resumed_from_step"] == 0 and section["steps_per_second"] is None  # schema defaults
    assert section["curve"] == train["curve"]
    assert section["heldout"]["mean"] == {"psnr": 20.0, "ssim": 0.7}
    assert [(v["name"], v["psnr"], v["render"]) for v in section["heldout"]["views"]] == [("a.png", 20.0, None)]
    assert (tmp_path / "report_files" / "training_curve.svg").is_file()
    assert "training_report_problem" not in report
    json.dumps(report)


def test_a_report_outside_the_schema_is_named_and_left_out(tmp_path, caplog) -> None:
    bad = {"steps": 3, "num_gaussians": 9, "final_loss": 0.25, "heldout": {"mean": {}, "views": []},
           "curve": [{"step": 0, "loss": "low", "num_gaussians": 9}]}
    with caplog.at_level(logging.WARNING, logger="splatkit.pipeline.report"):
        report = _build(tmp_path, bad)
    assert report["training"] is None
    assert "curve[0].loss must be a number" in report["training_report_problem"]
    assert any("curve[0].loss" in r.getMessage() for r in caplog.records)
    assert "Not available: training report: curve[0].loss must be a number" in render_html(report)


def test_newer_training_keys_are_shown_in_words_when_present(tmp_path) -> None:
    train = {"steps": 3, "num_gaussians": 9, "final_loss": 0.25, "heldout": {"mean": {}, "views": []},
             "curve": [{"step": 0, "loss": 0.5, "num_gaussians": 9}], "quality": "standard",
             "quality_reason": "auto: 48 photos", "resolution": [590, 443],
             "resolution_reason": "downscale 4: the long side above 1600 px", "budget_seconds": 600.0,
             "train_seconds": 598.5, "stop_reason": "budget", "planned_steps": 7000,
             "vram": {"budget_gb": 16.0, "reason": "4,000,000 Gaussians at 2000x1500 fit 16 GiB (est. 10.6 GiB)"}}
    report = _build(tmp_path, train)
    section = report["training"]
    assert (section["quality"], section["resolution"], section["budget_seconds"]) == ("standard", [590, 443], 600.0)
    page = render_html(report)
    assert "Quality preset: standard (auto: 48 photos)." in page
    assert "Training images: 590 x 443 px (downscale 4: the long side above 1600 px)." in page
    assert "Time budget: 10 min 0 s, 9 min 58 s used; stopped by budget." in page
    assert "Planned steps: 7,000." in page
    assert "GPU memory: 4,000,000 Gaussians at 2000x1500 fit 16 GiB (est. 10.6 GiB)." in page


def test_a_report_without_the_newer_keys_shows_none_of_them(tmp_path) -> None:
    train = {"steps": 3, "num_gaussians": 9, "final_loss": 0.25, "heldout": {"mean": {}, "views": []},
             "curve": [{"step": 0, "loss": 0.5, "num_gaussians": 9}]}
    page = render_html(_build(tmp_path, train))
    assert "Quality preset" not in page and "Time budget" not in page and "Training images" not in page
