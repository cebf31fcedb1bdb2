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


def _sfm_report(*, given: int = 4, registered: int = 4, residual: float = 0.05, psnr: float = 26.0) -> dict:
    names = [f"IMG_{i}.JPG" for i in range(given)]
    return {
        "status": "ok", "error": None, "final_file": "/out/compress/scene.sog", "final_bytes": 2_500_000,
        "total_seconds": 95.0, "out_dir": "/out", "source": "/photos", "created": "now", "compression": None,
        "stages": [{"kind": "sfm", "backend": "pycolmap", "status": "ran", "seconds": 20.0, "seconds_when_run": 20.0,
                    "error": "", "reason": "", "note": ""},
                   {"kind": "train", "backend": "cpu", "status": "skipped", "seconds": 0.0, "seconds_when_run": 70.0,
                    "error": "", "reason": "", "note": ""}],
        "sfm": {"quality": {"images_given": given, "images_registered": registered,
                            "unregistered": names[registered:], "points": 1680, "mean_track_length": 5.1,
                            "reprojection_error_px": {"mean": 0.22, "median": 0.13, "p95": 0.7, "max": 3.9}},
                "georeference": {"applied": True, "inliers": registered, "images_with_gps": given,
                                 "residual_m": {"median": residual, "max": 2 * residual}, "outliers": [],
                                 "per_image_residual_m": {n: residual for n in names[:registered]}}},
        "training": {"heldout": {"mean": {"psnr": psnr, "ssim": 0.8}, "views": [{"name": names[0]}]}},
    }


def test_the_summary_leads_and_says_what_to_look_at() -> None:
    from splatkit.pipeline.report import render_html, run_summary

    fine = run_summary(_sfm_report())
    assert fine["look_at"] == []
    assert (fine["photos_given"], fine["photos_registered"], fine["heldout_psnr"]) == (4, 4, 26.0)
    assert fine["stage_seconds"] == {"sfm": 20.0, "train": 70.0}   # a skipped stage: the time it took when it ran
    page = render_html({**_sfm_report(), "summary": fine})
    assert page.index("id='summary'") < page.index("id='stages'") < page.index("id='sfm'")
    assert "4 of 4 registered (100 %)" in page and "scene.sog, 2.4 MiB" in page
    assert "PSNR 26.00 dB, SSIM 0.800" in page and "1 min 35 s" in page and "Nothing stands out" in page
    assert '<div id="splatkit-viewer"></div>' in page and "splatkit view /out" in page

    off = run_summary(_sfm_report(given=5, registered=3, residual=4.0, psnr=17.5))
    texts = " | ".join(item["text"] for item in off["look_at"])
    assert "2 of 5 photos did not register (IMG_3.JPG, IMG_4.JPG)" in texts
    assert "Poor GPS fit: the cameras sit 4.0 m (median)" in texts
    assert "Low held-out PSNR: 17.5 dB" in texts
    assert {item["section"] for item in off["look_at"]} == {"sfm", "heldout"}
    assert "What to look at" in render_html({**_sfm_report(), "summary": off})


def test_the_camera_map_has_one_marker_per_camera_and_a_scale_bar_in_metres() -> None:
    from splatkit.pipeline.report import camera_map_svg

    cams = [{"name": f"c{i}", "x": 10.0 * i, "y": 5.0 * (i % 2)} for i in range(7)]
    gps = [{"name": f"c{i}", "x": 10.0 * i + 0.05, "y": 5.0 * (i % 2), "residual_m": 0.05} for i in range(5)]
    data = {"units": "m", "georeferenced": True, "cameras": cams, "gps": gps,
            "points": [[float(x), float(y)] for x in range(0, 60, 7) for y in range(-3, 8, 3)], "points_total": 40}
    root = ET.fromstring(camera_map_svg(data))
    ns = "{http://www.w3.org/2000/svg}"
    circles = root.findall(f".//{ns}circle")
    assert sum(c.get("class") == "camera" for c in circles) == 7
    assert sum(c.get("class") == "gps-fix" for c in circles) == 5
    assert len([e for e in root.iter(f"{ns}line") if e.get("class") == "gps-residual"]) == 5
    bar = next(g for g in root.iter(f"{ns}g") if g.get("class") == "scale-bar")
    label = bar.find(f"{ns}text").text
    assert label.endswith(" m") and float(label.split()[0]) in (1, 2, 5, 10, 20, 50)
    assert any(g.get("class") == "north" for g in root.iter(f"{ns}g"))
    # Centimetre residuals on a 60 m survey are drawn exaggerated, and the legend says by how much.
    assert any("residual drawn x" in (t.text or "") for t in root.iter(f"{ns}text"))


def test_the_demo_scene_report_has_a_camera_map_from_the_sfm_model(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run(photos, out, config=CONFIG, plugin_manager=manager)
    report = json.loads((out / "report.json").read_text())
    cmap = report["camera_map"]
    assert len(cmap["cameras"]) == report["sfm"]["images_registered"] == 6
    assert cmap["units"] == "model units" and not cmap["georeferenced"]
    assert len(cmap["points"]) == cmap["points_total"] > 0
    page = (out / "report.html").read_text()
    assert page.count("class=\"camera\"") == 6


def test_sfm_warnings_lead_the_summary_and_the_focal_comparison_is_in_words() -> None:
    from splatkit.pipeline.report import render_html, run_summary

    report = _sfm_report()
    warning = "FOCAL LENGTH DRIFT: camera X refined to 0.51x its EXIF focal; try focal_refinement='fixed'"
    report["sfm"]["warnings"] = [warning]
    report["sfm"]["mapper"] = {"used": "global", "why": "300 images > 100"}
    report["sfm"]["focal"] = {"cameras": [{"camera": "DJI FC6310 8.8 mm 2400x1800", "exif_focal_px": 1333.0,
                                           "refined_focal_px": 677.0, "ratio": 0.508, "drifted": True}],
                              "release": {"kept": True, "reason": "the fit demands it"}}
    summary = run_summary(report)
    assert {"text": warning, "section": "sfm"} in summary["look_at"]
    page = render_html({**report, "summary": summary})
    sfm_part = page[page.index("id='sfm'"):]
    assert sfm_part.index("<strong>Warning:</strong> FOCAL LENGTH DRIFT") < sfm_part.index("class='facts'")
    assert "Mapped with global (300 images &gt; 100)." in sfm_part
    assert "Focal length of DJI FC6310 8.8 mm 2400x1800: 677 px against 1333 px from EXIF (ratio 0.508): DRIFTED" \
        in sfm_part
    assert "Warning:" not in render_html({**_sfm_report(), "summary": run_summary(_sfm_report())})
