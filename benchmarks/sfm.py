"""SfM benchmark at survey sizes: per mapper, against a plain pycolmap incremental script.

Datasets: real photo sets from ``../shared/datasets`` (skipped when absent) and synthetic nadir
grid surveys rendered by the demo's ray caster (``survey-100``, ``survey-300``: a grid flight with
noisy GPS, :func:`splatkit.demo.survey.survey_config`; rendered once into ``--work``). For each
dataset the ``sfm/pycolmap`` stage runs once per ``--mappers`` entry, and the baseline -- what a
user would write with pycolmap's defaults: ``extract_features`` (one camera, COLMAP's own EXIF
focal), ``match_exhaustive`` (``match_spatial`` with its defaults above 40 photos),
``incremental_mapping``, largest model -- runs in the same process with the same feature
settings.

Recorded per run: registered/total, points, reprojection median/p95 (px), focal ratio (refined /
EXIF prior, per camera), GPS residuals (m), camera-centre error against the ground truth
(synthetic surveys; the baseline after a least-squares similarity), and seconds per step. Times
are wall-clock; the stage runs without undistortion (not part of SfM; ``--undistort`` adds it).

Usage::

    flock /work/notes/heavy.lock python benchmarks/sfm.py --datasets odm-caliterra-30 survey-100 \\
        --mappers incremental global --threads 2 --max-image-size 1600 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DATASETS_ROOT = Path(os.environ.get("SPLATKIT_DATASETS", Path(__file__).resolve().parents[1].parent / "shared"
                                    / "datasets"))
#: real datasets: name -> (images folder inside the dataset, per-dataset options)
REAL: dict[str, tuple[str, dict[str, Any]]] = {
    "odm-caliterra-30": ("images", {}),
    "odm-caliterra-subset10": ("images", {}),
    "opensfm-lund": ("data/lund/images", {"max_image_size": 1024}),
    "llff-fern": ("images_8", {}),
}
#: synthetic surveys: name -> photo count
SURVEYS: dict[str, int] = {"survey-100": 100, "survey-300": 300}
STEPS = ("extract", "match", "map", "refine", "georeference")


def survey_photos(name: str, work: Path) -> tuple[Path, dict[str, Any]]:
    """Render (or reuse) a synthetic survey; its photos folder and ground truth."""
    from splatkit.demo import demo_ground_truth, generate_demo_photos
    from splatkit.demo.survey import survey_config

    out = work / name
    t0 = time.perf_counter()
    photos = generate_demo_photos(out, config=survey_config(SURVEYS[name]), max_workers=2)
    print(f"{name}: photos ready in {time.perf_counter() - t0:.0f} s ({photos})", file=sys.stderr)
    return photos, demo_ground_truth(out)


def centre_errors(names: list[str], centres: np.ndarray, truth: dict[str, Any], reference: Any | None) -> dict[str, float]:
    """Camera-centre error (m) against the survey's true centres.

    With a ``reference`` (the model is in ENU metres around it) the true centres are moved into
    that frame; without, the model is first fitted to them by a least-squares similarity.
    """
    from splatkit.demo.flight import enu_to_lla
    from splatkit.sfm.georeference import lla_to_enu, umeyama

    by_name = {f["name"]: np.array(f["centre_enu"]) for f in truth["frames"]}
    true = np.array([by_name[n] for n in names])
    origin = truth["origin"]
    if reference is not None:
        lla = enu_to_lla(true, origin["lat"], origin["lon"], origin["alt"])
        true = lla_to_enu(lla[:, 0], lla[:, 1], lla[:, 2], reference)
        moved = centres
        how = "in the model's ENU frame"
    else:
        moved = umeyama(centres, true).apply(centres)
        how = "after a similarity fit"
    err = np.linalg.norm(moved - true, axis=1)
    return {"median": float(np.median(err)), "p95": float(np.percentile(err, 95)), "max": float(err.max()),
            "how": how}


def run_stage(images: Path, options: dict[str, Any], truth: dict[str, Any] | None, undistort: bool) -> dict[str, Any]:
    from splatkit.sfm.pycolmap_backend import PycolmapConfig, PycolmapSfM

    config = PycolmapConfig(**options, undistort=undistort)
    with tempfile.TemporaryDirectory(prefix="splatkit-bench-sfm-") as tmp:
        start = time.perf_counter()
        result = PycolmapSfM().run(images, config, Path(tmp) / "out")
        total = time.perf_counter() - start
    report = result.report
    q = report["quality"]
    geo = report["georeference"]
    rec = result.output
    row: dict[str, Any] = {
        "registered": q["images_registered"],
        "images": q["images_given"],
        "points": q["points"],
        "reprojection_px": q["reprojection_error_px"],
        "focal": report.get("focal"),
        "focal_ratios": [c["ratio"] for c in (report.get("focal") or {}).get("cameras", [])],
        "warnings": report.get("warnings", []),
        "gps": {k: geo.get(k) for k in ("method", "residual_m", "residual_horizontal_m", "residual_vertical_m")}
        if geo.get("applied") else None,
        "matcher": report["matcher"],
        "mapper": report["mapper"],
        "mapping_attempts": report["mapping_attempts"],
        "timings_s": report["timings_s"],
        "sfm_s": sum(report["timings_s"].get(s, 0.0) for s in STEPS),
        "total_s": total,
    }
    if truth is not None:
        names, centres = list(rec.frames.names), rec.frames.centers()
        row["centre_error_m"] = centre_errors(names, centres, truth, rec.georeference)
        # The shape alone, as for the baseline: after a similarity fit to the truth.
        row["centre_error_after_similarity_m"] = centre_errors(names, centres, truth, None)
    return row


def run_baseline(images: Path, options: dict[str, Any], truth: dict[str, Any] | None) -> dict[str, Any]:
    """The plain pycolmap incremental script, same feature settings; no splatkit code in the loop."""
    import pycolmap

    from splatkit.io.colmap import from_pycolmap
    from splatkit.io.images import read_image_set
    from splatkit.sfm.quality import quality_report

    threads = options["num_threads"]
    image_set = read_image_set(images, min_images=1)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="splatkit-bench-sfm-base-") as tmp:
        database = Path(tmp) / "database.db"
        t0 = time.perf_counter()
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.num_threads = threads
        extraction.max_image_size = options["max_image_size"]
        extraction.sift.max_num_features = options["max_num_features"]
        pycolmap.extract_features(database, images, camera_mode=pycolmap.CameraMode.SINGLE,
                                  extraction_options=extraction, device=pycolmap.Device.cpu)
        timings["extract"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        matching = pycolmap.FeatureMatchingOptions()
        matching.num_threads = threads
        if len(image_set) > 40:
            pycolmap.match_spatial(database, matching_options=matching, device=pycolmap.Device.cpu)
            matcher = "spatial (COLMAP defaults)"
        else:
            pycolmap.match_exhaustive(database, matching_options=matching, device=pycolmap.Device.cpu)
            matcher = "exhaustive"
        timings["match"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        mapping = pycolmap.IncrementalPipelineOptions()
        mapping.num_threads = threads
        mapping.random_seed = 0
        models = pycolmap.incremental_mapping(database, images, Path(tmp) / "sparse", options=mapping)
        timings["map"] = time.perf_counter() - t0
        if not models:
            return {"registered": 0, "images": len(image_set), "timings_s": timings, "sfm_s": sum(timings.values()),
                    "matcher": matcher}
        best = max(models.values(), key=lambda m: (m.num_reg_images(), m.num_points3D()))
        focal_prior = None
        db = pycolmap.Database.open(str(database))
        try:
            focal_prior = {c.camera_id: float(c.mean_focal_length()) for c in db.read_all_cameras()}
        finally:
            db.close()
        rec = from_pycolmap(best)
    q = quality_report(rec, image_set.names)
    ratios = [float(best.cameras[cid].mean_focal_length()) / focal_prior[cid] for cid in best.cameras]
    row: dict[str, Any] = {
        "registered": q["images_registered"], "images": q["images_given"], "points": q["points"],
        "reprojection_px": q["reprojection_error_px"], "focal_ratios": ratios,
        "focal_note": "refined / COLMAP's own EXIF prior", "matcher": matcher, "mapper": "incremental (defaults)",
        "timings_s": timings, "sfm_s": sum(timings.values()),
    }
    if truth is not None:
        row["centre_error_m"] = centre_errors(list(rec.frames.names), rec.frames.centers(), truth, None)
    return row


def _environment() -> dict[str, Any]:
    """The shared benchmark record plus the load average (SfM timings move with it)."""
    import pycolmap

    from splatkit.bench.environment import capture_environment

    return {**capture_environment(cuda=False), "load_average": os.getloadavg(),
            "pycolmap_cuda": bool(getattr(pycolmap, "has_cuda", False))}


def _fmt(x: Any, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the results, one line per dataset and run."""
    head = ("| dataset | run | registered | points | reproj. median / p95 px | focal ratio | GPS residual median "
            "(h / v) m | centre error median / max m | extract s | match s | map s | refine s | SfM s |")
    lines = [head, "|" + "|".join("---" for _ in range(13)) + "|"]
    for r in rows:
        rp = r.get("reprojection_px") or {}
        gps = r.get("gps") or {}
        h = (gps.get("residual_horizontal_m") or {}).get("median")
        v = (gps.get("residual_vertical_m") or {}).get("median")
        g = (gps.get("residual_m") or {}).get("median")
        gps_s = "-" if not gps else (f"{_fmt(g)} ({_fmt(h)} / {_fmt(v)})" if h is not None else _fmt(g))
        ce = r.get("centre_error_m")
        t = r["timings_s"]
        lines.append(
            f"| {r['dataset']} | {r['run']} | {r['registered']}/{r['images']} | {r.get('points', '-')} | "
            f"{_fmt(rp.get('median'), '.3f')} / {_fmt(rp.get('p95'), '.3f')} | "
            f"{', '.join(f'{x:.3f}' for x in r.get('focal_ratios', [])) or '-'} | {gps_s} | "
            f"{(_fmt(ce['median'], '.3f') + ' / ' + _fmt(ce['max'], '.3f')) if ce else '-'} | "
            f"{t.get('extract', 0):.0f} | {t.get('match', 0):.0f} | {t.get('map', 0):.0f} | "
            f"{_fmt(t.get('refine'), '.0f')} | {r['sfm_s']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["odm-caliterra-30", "survey-100"],
                        choices=sorted({*REAL, *SURVEYS}))
    parser.add_argument("--mappers", nargs="+", default=["auto", "incremental", "global"],
                        choices=["auto", "incremental", "global", "hierarchical"])
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain pycolmap script")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-image-size", type=int, default=1600)
    parser.add_argument("--features", type=int, default=8192)
    parser.add_argument("--undistort", action="store_true", help="also undistort (not counted as SfM)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "splatkit-bench-surveys",
                        help="where synthetic surveys are rendered (reused when up to date)")
    parser.add_argument("--json", type=Path, help="write results with device, versions and date here")
    args = parser.parse_args(argv)
    base = {"num_threads": args.threads, "max_image_size": args.max_image_size, "max_num_features": args.features}
    rows: list[dict[str, Any]] = []
    for name in args.datasets:
        if name in SURVEYS:
            images, truth = survey_photos(name, args.work)
            extra: dict[str, Any] = {}
        else:
            sub, extra = REAL[name]
            images, truth = DATASETS_ROOT / name / sub, None
            if not images.is_dir():
                print(f"skipping {name}: {images} not found", file=sys.stderr)
                continue
        options = {**base, **extra}
        runs: list[tuple[str, Any]] = [(f"splatkit {m}", m) for m in args.mappers]
        if not args.no_baseline:
            runs.append(("plain pycolmap incremental", None))
        for label, mapper in runs:
            print(f"{name}: {label} ...", file=sys.stderr)
            if mapper is None:
                row = run_baseline(images, options, truth)
            else:
                row = run_stage(images, {**options, "mapper": mapper}, truth, args.undistort)
            row.update(dataset=name, run=label)
            rows.append(row)
            print(table([row]).splitlines()[-1], file=sys.stderr)
            if args.json:  # after every run: a long benchmark killed half-way keeps what it measured
                args.json.write_text(json.dumps({**_environment(), "options": base, "results": rows}, indent=2))
    print(table(rows))
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
