"""SfM benchmark: time per step, registration rate, reprojection and GPS residuals per dataset.

Runs the ``sfm/pycolmap`` stage on real photo sets from ``../shared/datasets`` (skipping the ones
that are absent) and prints one row per dataset. Times are wall-clock seconds of each step as
the stage's report records them.

Usage::

    python benchmarks/sfm.py [--datasets opensfm-lund odm-caliterra-subset10] [--threads 2]
                             [--max-image-size 1600] [--features 8192] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DATASETS_ROOT = Path(os.environ.get("SPLATKIT_DATASETS", Path(__file__).resolve().parents[1].parent / "shared"
                                    / "datasets"))
#: name -> (images folder inside the dataset, per-dataset options)
DATASETS: dict[str, tuple[str, dict[str, Any]]] = {
    "opensfm-lund": ("data/lund/images", {"max_image_size": 1024}),
    "odm-caliterra-subset10": ("images", {"undistort_max_size": 1600}),
    "llff-fern": ("images_8", {}),
}
STEPS = ("extract", "match", "map", "georeference", "undistort", "write")


def run_one(name: str, options: dict[str, Any]) -> dict[str, Any] | None:
    from splatkit.sfm.pycolmap_backend import PycolmapConfig, PycolmapSfM

    sub, extra = DATASETS[name]
    images = DATASETS_ROOT / name / sub
    if not images.is_dir():
        print(f"skipping {name}: {images} not found", file=sys.stderr)
        return None
    config = PycolmapConfig(**{**options, **extra})
    with tempfile.TemporaryDirectory(prefix="splatkit-bench-sfm-") as tmp:
        start = time.perf_counter()
        result = PycolmapSfM().run(images, config, Path(tmp) / "out")
        total = time.perf_counter() - start
    report = result.report
    q = report["quality"]
    geo = report["georeference"]
    return {
        "dataset": name,
        "images": q["images_given"],
        "registered": q["images_registered"],
        "registration_rate": q["registration_rate"],
        "points": q["points"],
        "mean_track_length": q["mean_track_length"],
        "reprojection_px": q["reprojection_error_px"],
        "reprojection_undistorted_px": report.get("quality_undistorted", {}).get("reprojection_error_px"),
        "gps_residual_m": geo.get("residual_m") if geo.get("applied") else None,
        "matcher": report["matcher"]["used"],
        "mapping_attempts": len(report["mapping_attempts"]),
        "timings_s": report["timings_s"],
        "total_s": total,
        "config": report["config"],
    }


def _environment() -> dict[str, Any]:
    import numpy
    import pycolmap

    import splatkit

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {"splatkit": getattr(splatkit, "__version__", "?"), "pycolmap": pycolmap.__version__,
                     "numpy": numpy.__version__},
        "pycolmap_cuda": bool(getattr(pycolmap, "has_cuda", False)),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'dataset':24} {'reg':>7} {'points':>7} {'track':>5} {'reproj med/p95 px':>18} "
            f"{'undist med px':>13} {'GPS med/max m':>14} " + " ".join(f"{s[:8]:>8}" for s in STEPS)
            + f" {'total':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        rp = r["reprojection_px"]
        und = r["reprojection_undistorted_px"]
        gps = r["gps_residual_m"]
        t = r["timings_s"]
        lines.append(
            f"{r['dataset']:24} {r['registered']:>3}/{r['images']:<3} {r['points']:>7} {r['mean_track_length']:>5.2f} "
            f"{rp['median']:>8.3f}/{rp['p95']:<9.3f} {(und or {}).get('median', float('nan')):>13.3f} "
            + (f"{gps['median']:>6.2f}/{gps['max']:<7.2f}" if gps else f"{'-':>14}") + " "
            + " ".join(f"{t.get(s, 0.0):>8.1f}" for s in STEPS) + f" {r['total_s']:>7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["opensfm-lund", "odm-caliterra-subset10"],
                        choices=sorted(DATASETS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-image-size", type=int, default=1600)
    parser.add_argument("--features", type=int, default=8192)
    parser.add_argument("--json", type=Path, help="write results with device, versions and date here")
    args = parser.parse_args(argv)
    options = {"num_threads": args.threads, "max_image_size": args.max_image_size,
               "max_num_features": args.features}
    rows = [r for r in (run_one(name, options) for name in args.datasets) if r is not None]
    print(_table(rows))
    if args.json:
        doc = {**_environment(), "options": options, "results": rows}
        args.json.write_text(json.dumps(doc, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
