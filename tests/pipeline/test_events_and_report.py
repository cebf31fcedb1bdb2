"""events.jsonl records every stage event; report.json and report.html hold the required sections."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from splatkit import hookimpl
from splatkit.pipeline import run
from splatkit.pipeline.events_log import read_events
from splatkit.pipeline.report import training_curve_svg

CONFIG = {"sfm": {"backend": "fake"}, "train": {"backend": "fake", "steps": 6}, "compress": {"backend": "ply"}}


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.srcs: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for key in ("src", "href"):
            value = attrs.get(key)
            if value and not value.startswith("data:"):  # data: URIs (the empty favicon) load nothing
                (self.external if "://" in value or value.startswith("//") else self.srcs).append(value)


def test_events_log_records_started_and_finished_per_stage(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run(photos, out, config=CONFIG, plugin_manager=manager)
    events = read_events(out / "events.jsonl")
    assert [(e["event"], e.get("stage")) for e in events] == [
        ("run_started", None),
        ("started", "sfm/fake"), ("finished", "sfm/fake"),
        ("started", "train/fake"), ("finished", "train/fake"),
        ("started", "compress/ply"), ("finished", "compress/ply"),
        ("run_finished", None)]
    started = events[3]
    assert started["config"]["steps"] == 6 and started["workdir"].endswith("train.partial")
    finished = events[4]
    assert finished["files"] == [str(out / "train" / "point_cloud.ply")]
    assert finished["report"]["steps"] == 6 and "curve" not in finished["report"]  # scalars only
    assert events[-1]["final_file"] == str(out / "compress" / "splats.ply")


def test_other_plugins_receive_the_same_events(photos, tmp_path, manager) -> None:
    seen = []

    class Notifier:
        @hookimpl
        def splatkit_stage_finished(self, stage: str, seconds: float) -> None:
            seen.append(stage)

    manager.register(Notifier(), "notifier")
    run(photos, tmp_path / "out", config=CONFIG, plugin_manager=manager)
    assert seen == ["sfm/fake", "train/fake", "compress/ply"]


def test_report_json_and_html_have_every_section(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    result = run(photos, out, config=CONFIG, plugin_manager=manager)
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "ok" and report["error"] is None
    assert [(s["kind"], s["backend"], s["status"]) for s in report["stages"]] == [
        ("sfm", "fake", "ran"), ("train", "fake", "ran"), ("compress", "ply", "ran")]
    assert all(s["seconds"] >= 0 and s["seconds_when_run"] is not None for s in report["stages"])
    assert report["sfm"]["images_registered"] == 6
    assert [p["step"] for p in report["training"]["curve"]] == list(range(6))
    comp = report["compression"]
    ply = out / "train" / "point_cloud.ply"
    final = out / "compress" / "splats.ply"
    assert comp["bytes"] == final.stat().st_size and comp["input_bytes"] == ply.stat().st_size
    assert comp["ratio"] == round(ply.stat().st_size / final.stat().st_size, 3)
    assert report["final_file"] == str(final) == str(result.final_file)

    page = (out / "report.html").read_text()
    parsed = Collector()
    parsed.feed(page)
    assert {"summary", "stages", "sfm", "training", "compression"} <= set(parsed.ids)
    assert parsed.external == []  # no network: every asset is a file beside the page
    assert parsed.srcs and all((out / src).is_file() for src in parsed.srcs)
    assert str(final) in page


def test_skipped_stages_report_the_time_they_took_when_they_ran(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run(photos, out, config=CONFIG, plugin_manager=manager)
    first = json.loads((out / "report.json").read_text())
    run(photos, out, config=CONFIG, plugin_manager=manager)
    second = json.loads((out / "report.json").read_text())
    assert [s["status"] for s in second["stages"]] == ["skipped"] * 3
    assert [s["seconds_when_run"] for s in second["stages"]] == [s["seconds_when_run"] for s in first["stages"]]
    assert second["training"]["curve"] == first["training"]["curve"]


def test_training_curve_svg_is_valid_xml_with_one_point_per_step() -> None:
    # Ranges that do not end on a round number (steps to 499, 1697 Gaussians) must still fit.
    curve = [{"step": s, "loss": 0.26 / (s + 1), "num_gaussians": 1200 + s} for s in [*range(0, 450, 50), 499]]
    root = ET.fromstring(training_curve_svg(curve))
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2
    assert [len(line.get("points").split()) for line in lines] == [10, 10]
    # SVG y grows downwards, so a falling loss is drawn with rising y.
    ys = [float(p.split(",")[1]) for p in lines[0].get("points").split()]
    assert ys == sorted(ys)
    # Every point lies inside the plot frame (the first <rect> after the background).
    frame = root.findall("{http://www.w3.org/2000/svg}rect")[1]
    x0, y0 = float(frame.get("x")), float(frame.get("y"))
    x1, y1 = x0 + float(frame.get("width")), y0 + float(frame.get("height"))
    for line in lines:
        for point in line.get("points").split():
            x, y = map(float, point.split(","))
            assert x0 - 1e-6 <= x <= x1 + 1e-6 and y0 - 1e-6 <= y <= y1 + 1e-6, (point, frame.attrib)


def test_training_curve_svg_without_points_says_so() -> None:
    assert "no training curve" in training_curve_svg([])
