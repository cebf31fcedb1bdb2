"""The run report: ``OUT/report.json``, a static ``OUT/report.html`` and its ``OUT/report_files/``.

The HTML page needs no server and loads nothing from the network: styles are inline, and the
training-curve plot (an SVG drawn here, no plotting library) and the held-out views are files in
``report_files/`` referenced by relative paths. Held-out views show the undistorted photo
(``OUT/sfm/images/<name>``) beside the render the trainer saved (``OUT/train/eval/<stem>.png``),
both downscaled to at most :data:`THUMBNAIL_SIZE` pixels.

The page leads with a summary read in ten seconds (:func:`run_summary`: photos given and
registered, the final file, held-out PSNR/SSIM, the time per stage and what to look at when
something is off), then the SfM section in words with a top-down camera map
(:func:`camera_map_svg`: camera centres, their GPS fixes and residuals, the sparse points, a scale
bar), per-image details folded away. ``splatkit view OUT`` serves the page with the 3D viewer on
the final file in place of :data:`VIEWER_PLACEHOLDER`.

The training stage's report is read through :class:`splatkit.reports.TrainingReport` (the schema
of ``metrics.json``), so a key a backend left out or mistyped is named in the log, not guessed at;
keys a newer schema adds (quality preset, resolution, budget) are shown when present.
"""

from __future__ import annotations

import html
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from splatkit.contracts import Georeference
from splatkit.errors import ContractError, SplatkitError
from splatkit.io.atomic import atomic_write_text
from splatkit.io.sfm_output import DISTORTED_SPARSE_DIR, IMAGES_DIR, SPARSE_DIR, read_georeference
from splatkit.reports import TrainingReport, ViewQuality
from splatkit.stages import config_to_dict

__all__ = ["REPORT_JSON", "REPORT_HTML", "REPORT_FILES", "REPORT_VERSION", "VIEWER_PLACEHOLDER", "LOW_PSNR_DB",
           "GPS_RESIDUAL_WARN_M", "REPROJECTION_WARN_PX", "build_report", "write_report", "render_html",
           "training_curve_svg", "camera_map_svg", "run_summary", "RunLike", "StageOutcomeLike",
           "ResolvedStageLike"]

logger = logging.getLogger(__name__)

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_FILES = "report_files"
REPORT_VERSION = 1
#: Longer side of the report's images (px): enough to judge a render, small enough to open fast.
THUMBNAIL_SIZE = 640
#: Held-out views shown in the page (all are listed in report.json).
MAX_VIEWS_SHOWN = 12
#: Where ``splatkit view OUT`` puts the 3D viewer (splatkit.view.sources.VIEWER_PLACEHOLDER is
#: the same string: the view layer may not import the pipeline; tests/view checks they agree).
VIEWER_PLACEHOLDER = '<div id="splatkit-viewer"></div>'
#: Below this held-out PSNR (dB) the summary asks to look at the renders.
LOW_PSNR_DB = 20.0
#: Above this median GPS residual (m) the summary calls the GPS fit poor.
GPS_RESIDUAL_WARN_M = 2.0
#: Above this mean reprojection error (px) the summary calls the SfM poses doubtful.
REPROJECTION_WARN_PX = 1.5
#: Most sparse points drawn on the camera map (a random subset beyond it; all are in the model).
MAP_MAX_POINTS = 3000


# -----------------------------------------------------------------------------------------------
# What the report reads from a run (splatkit.pipeline.runner's RunResult, StageOutcome and
# ResolvedStage have these attributes; protocols keep this module from importing the runner,
# which imports it).


class StageOutcomeLike(Protocol):
    """One stage's outcome: :class:`splatkit.pipeline.runner.StageOutcome`."""

    @property
    def kind(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def stage_dir(self) -> Path: ...
    @property
    def seconds(self) -> float: ...
    @property
    def reason(self) -> str: ...
    @property
    def manifest(self) -> Any: ...
    @property
    def error(self) -> str: ...
    @property
    def resumed(self) -> bool: ...
    @property
    def primary_file(self) -> Path | None: ...


class RunLike(Protocol):
    """A run's outcome: :class:`splatkit.pipeline.runner.RunResult`."""

    @property
    def out_dir(self) -> Path: ...
    @property
    def stages(self) -> Sequence[StageOutcomeLike]: ...
    @property
    def final_file(self) -> Path | None: ...
    @property
    def seconds(self) -> float: ...


class ResolvedStageLike(Protocol):
    """A stage kind with its backend and options: :class:`splatkit.pipeline.runner.ResolvedStage`."""

    @property
    def kind(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def config(self) -> Any: ...
    @property
    def note(self) -> str: ...


# -----------------------------------------------------------------------------------------------
# The SVG plot


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2, 5 x 10^k apart), the first <= lo and the last >= hi."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10000 or abs(value) < 0.001:
        return f"{value:.1e}"
    return f"{value:g}"


def training_curve_svg(curve: Sequence[dict[str, Any]], *, width: int = 640, height: int = 320) -> str:
    """An SVG line plot of the training loss (left axis) and Gaussian count (right axis) per step.

    Parameters
    ----------
    curve
        Points ``{"step", "loss", "num_gaussians"}`` as in the trainer's report.
    """
    pts = [(float(p["step"]), float(p["loss"]), float(p.get("num_gaussians", float("nan"))))
           for p in curve if "step" in p and "loss" in p and math.isfinite(float(p["loss"]))]
    left, right, top, bottom = 64, 72, 28, 44
    pw, ph = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="16" font-size="13">Training loss and Gaussian count</text>']
    if not pts:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no training curve</text></svg>')
        return "\n".join(out) + "\n"
    steps = [p[0] for p in pts]
    losses = [p[1] for p in pts]
    counts = [p[2] for p in pts if math.isfinite(p[2])]
    x_ticks = _nice_ticks(min(steps), max(steps))
    y_ticks = _nice_ticks(min(min(losses), 0.0), max(losses))
    x0, x1 = x_ticks[0], x_ticks[-1] if x_ticks[-1] > x_ticks[0] else x_ticks[0] + 1
    y0, y1 = y_ticks[0], y_ticks[-1] if y_ticks[-1] > y_ticks[0] else y_ticks[0] + 1

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * pw

    def sy(v: float, lo: float, hi: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in x_ticks:
        out.append(f'<line x1="{sx(t):.1f}" y1="{top + ph}" x2="{sx(t):.1f}" y2="{top + ph + 4}" stroke="#333"/>'
                   f'<text x="{sx(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
    for t in y_ticks:
        y = sy(t, y0, y1)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#1f5fa8">{_fmt(t)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">step</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" text-anchor="middle" fill="#1f5fa8" '
               f'transform="rotate(-90 14 {top + ph / 2})">loss</text>')
    line = " ".join(f"{sx(s):.1f},{sy(v, y0, y1):.1f}" for s, v in zip(steps, losses))
    out.append(f'<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>')
    if counts:
        c_ticks = _nice_ticks(0.0, max(counts))
        c0, c1 = c_ticks[0], c_ticks[-1] if c_ticks[-1] > c_ticks[0] else c_ticks[0] + 1
        for t in c_ticks:
            out.append(f'<text x="{left + pw + 6}" y="{sy(t, c0, c1) + 4:.1f}" fill="#c0561b">{_fmt(t)}</text>')
        cline = " ".join(f"{sx(p[0]):.1f},{sy(p[2], c0, c1):.1f}" for p in pts if math.isfinite(p[2]))
        out.append(f'<polyline points="{cline}" fill="none" stroke="#c0561b" stroke-width="1.2" '
                   'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{width - 12}" y="{top + ph / 2}" text-anchor="middle" fill="#c0561b" '
                   f'transform="rotate(90 {width - 12} {top + ph / 2})">Gaussians</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -----------------------------------------------------------------------------------------------
# The camera map (top-down: camera centres, GPS fixes and residuals, sparse points)


def _gps_fixes(source: Path, names: Sequence[str], ref: Georeference) -> dict[str, np.ndarray]:
    """Name -> ENU position of the photo's GPS fix, for the photos of a source folder that have one."""
    from PIL import Image

    from splatkit.io.exif import read_metadata

    fixes: dict[str, tuple[float, float, float]] = {}
    if not source.is_dir():
        return {}           # a .zip source: the fixes are left off the map
    for name in names:
        try:
            with Image.open(source / name) as image:
                gps = read_metadata(image, name=name).gps
        except (OSError, ValueError, SplatkitError):
            continue
        if gps is not None:
            fixes[name] = (gps.lat, gps.lon, ref.alt if gps.alt is None else gps.alt)
    if not fixes:
        return {}
    lla = np.array(list(fixes.values()), np.float64)
    enu = ref.to_enu(lla[:, 0], lla[:, 1], lla[:, 2])
    return dict(zip(fixes, enu))


def _camera_map(sfm_dir: Path, sfm_report: dict[str, Any] | None, source: Path) -> dict[str, Any] | None:
    """The top-down map's data (JSON-able), or None without a readable SfM model."""
    from splatkit.io.colmap import read_colmap_model

    sparse = next((sfm_dir / d for d in (SPARSE_DIR, DISTORTED_SPARSE_DIR) if (sfm_dir / d).is_dir()), None)
    if sparse is None:
        return None
    try:
        rec = read_colmap_model(sparse)
        ref = read_georeference(sfm_dir)
    except (SplatkitError, OSError) as e:
        logger.warning("report: no camera map, the SfM model does not read (%s)", e)
        return None
    centres = rec.frames.centers()
    points = np.asarray(rec.points.xyz, np.float64)
    if ref is not None:
        axes = np.eye(3)[:2]          # East, North: the world frame is ENU metres
    elif len(centres) >= 3:
        # No georeference: look along the camera centres' least-spread direction (a survey's normal).
        _, _, vt = np.linalg.svd(centres - centres.mean(axis=0))
        axes = vt[:2]
    else:
        axes = np.eye(3)[:2]
    residuals: dict[str, Any] = {}
    if sfm_report and isinstance(sfm_report.get("georeference"), dict):
        per_image = sfm_report["georeference"].get("per_image_residual_m")
        residuals = per_image if isinstance(per_image, dict) else {}
    fixes = _gps_fixes(source, rec.frames.names, ref) if ref is not None else {}
    if len(points) > MAP_MAX_POINTS:
        points = points[np.random.default_rng(0).choice(len(points), MAP_MAX_POINTS, replace=False)]
    return {
        "units": "m" if ref is not None else "model units", "georeferenced": ref is not None,
        "cameras": [{"name": n, "x": round(float(c @ axes[0]), 3), "y": round(float(c @ axes[1]), 3)}
                    for n, c in zip(rec.frames.names, centres)],
        "gps": [{"name": n, "x": round(float(fixes[n][0]), 3), "y": round(float(fixes[n][1]), 3),
                 "residual_m": residuals.get(n)} for n in rec.frames.names if n in fixes],
        "points": [[round(float(p @ axes[0]), 2), round(float(p @ axes[1]), 2)] for p in points],
        "points_total": int(len(rec.points.xyz)),
    }


def _nice_length(target: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above ``target`` (> 0)."""
    power = 10 ** math.floor(math.log10(target))
    return max(m * power for m in (1, 2, 5) if m * power <= target)


def camera_map_svg(data: dict[str, Any], *, width: int = 640, height: int = 480) -> str:
    """A top-down SVG map: one ``circle.camera`` per registered camera, ``circle.gps-fix`` and
    ``line.gps-residual`` per GPS fix, the sparse points as one path, a scale bar in ``units``.

    Parameters
    ----------
    data
        As ``report["camera_map"]``: ``units``, ``georeferenced``, ``cameras`` / ``gps``
        (``{"name", "x", "y"}``), ``points`` (``[x, y]`` pairs).
    """
    left, right, top, bottom = 16, 16, 28, 46
    pw, ph = width - left - right, height - top - bottom
    cams, gps, pts = data.get("cameras", []), data.get("gps", []), data.get("points", [])
    xs = [c["x"] for c in cams] + [g["x"] for g in gps] + [p[0] for p in pts]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="camera-map" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img" '
           f'aria-label="top-down map of the camera positions">',
           f'<rect width="{width}" height="{height}" fill="white" stroke="#ccc"/>',
           f'<text x="{left}" y="17" font-size="13">Camera positions seen from above</text>']
    if not xs:
        out.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no cameras</text></svg>')
        return "\n".join(out) + "\n"
    # Cameras and GPS fixes set the frame; points far outside it are clipped, not zoomed out for.
    fx = [c["x"] for c in cams] + [g["x"] for g in gps]
    fy = [c["y"] for c in cams] + [g["y"] for g in gps]
    x0, x1, y0, y1 = min(fx), max(fx), min(fy), max(fy)
    pad = 0.08 * max(x1 - x0, y1 - y0, 1e-6)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    scale = min(pw / (x1 - x0), ph / (y1 - y0))
    ox = left + (pw - (x1 - x0) * scale) / 2
    oy = top + (ph - (y1 - y0) * scale) / 2

    def sx(x: float) -> float:
        return ox + (x - x0) * scale

    def sy(y: float) -> float:
        return oy + (y1 - y) * scale      # north (y) up

    out.append(f'<clipPath id="map-frame"><rect x="{left}" y="{top}" width="{pw}" height="{ph}"/></clipPath>')
    if pts:
        path = "".join(f"M{sx(x):.1f} {sy(y):.1f}h0" for x, y in pts)
        out.append(f'<path class="sparse-points" d="{path}" stroke="#9aa3ad" stroke-width="2" '
                   'stroke-linecap="round" clip-path="url(#map-frame)"/>')
    by_name = {c["name"]: c for c in cams}
    # Residuals are often centimetres on a survey of tens of metres: exaggerate them to be seen.
    lengths = [math.hypot(g["x"] - by_name[g["name"]]["x"], g["y"] - by_name[g["name"]]["y"]) * scale
               for g in gps if g["name"] in by_name]
    typical = sorted(lengths)[len(lengths) // 2] if lengths else 0.0
    boost = _nice_length(12.0 / typical) if 0 < typical < 6 else 1.0
    for g in gps:
        c = by_name.get(g["name"])
        gx, gy = sx(g["x"]), sy(g["y"])
        if c is not None:
            cx, cy = sx(c["x"]), sy(c["y"])
            gx, gy = cx + (gx - cx) * boost, cy + (gy - cy) * boost
            out.append(f'<line class="gps-residual" x1="{cx:.1f}" y1="{cy:.1f}" x2="{gx:.1f}" y2="{gy:.1f}" '
                       'stroke="#d9480f" stroke-width="1.2"/>')
        res = g.get("residual_m")
        tip = f"{g['name']}: GPS fix" + (f", {res:.2f} m from the camera" if isinstance(res, (int, float)) else "")
        out.append(f'<circle class="gps-fix" cx="{gx:.1f}" cy="{gy:.1f}" r="3.5" fill="none" stroke="#d9480f" '
                   f'stroke-width="1.2"><title>{html.escape(tip)}</title></circle>')
    for c in cams:
        out.append(f'<circle class="camera" cx="{sx(c["x"]):.1f}" cy="{sy(c["y"]):.1f}" r="4" fill="#1f5fa8" '
                   f'fill-opacity="0.85"><title>{html.escape(c["name"])}</title></circle>')
    # Scale bar: a round length near a fifth of the plot width.
    units = data.get("units", "m")
    bar = _nice_length((pw / 5) / scale)
    bx, by = left + 8, height - 18
    label = f"{_fmt(bar)} {units}"
    out.append(f'<g class="scale-bar"><line x1="{bx}" y1="{by}" x2="{bx + bar * scale:.1f}" y2="{by}" '
               f'stroke="#222" stroke-width="3"/><line x1="{bx}" y1="{by - 5}" x2="{bx}" y2="{by + 5}" stroke="#222"/>'
               f'<line x1="{bx + bar * scale:.1f}" y1="{by - 5}" x2="{bx + bar * scale:.1f}" y2="{by + 5}" '
               f'stroke="#222"/><text x="{bx + bar * scale / 2:.1f}" y="{by - 7}" text-anchor="middle">'
               f'{html.escape(label)}</text></g>')
    legend = [("#1f5fa8", "camera")]
    if gps:
        legend.append(("#d9480f", "GPS fix" + (f" (residual drawn x{_fmt(boost)})" if boost > 1 else "")))
    if pts:
        legend.append(("#9aa3ad", "sparse points"))
    lx = width - right - 8
    for i, (colour, text) in enumerate(reversed(legend)):
        out.append(f'<text x="{lx}" y="{height - 8 - 14 * i}" text-anchor="end" fill="{colour}">{html.escape(text)}'
                   '</text>')
    if data.get("georeferenced"):
        out.append(f'<g class="north"><line x1="{width - 26}" y1="{top + 34}" x2="{width - 26}" y2="{top + 8}" '
                   f'stroke="#222" stroke-width="1.5"/><path d="M{width - 30} {top + 14}L{width - 26} {top + 6}'
                   f'L{width - 22} {top + 14}Z" fill="#222"/><text x="{width - 26}" y="{top + 46}" '
                   'text-anchor="middle">N</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -----------------------------------------------------------------------------------------------
# Images


def _thumbnail(src: Path, dst: Path) -> bool:
    """Write ``src`` downscaled to at most THUMBNAIL_SIZE as PNG ``dst``; False when unreadable."""
    from PIL import Image, ImageOps

    try:
        with Image.open(src) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            dst.parent.mkdir(parents=True, exist_ok=True)
            im.save(dst, format="PNG")
        return True
    except (OSError, ValueError) as e:
        logger.warning("report: cannot read %s (%s); left out of the page", src, e)
        return False


def _heldout_views(train_dir: Path, sfm_dir: Path, views: Sequence[ViewQuality],
                   files_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for i, view in enumerate(views):
        name = view.name
        row: dict[str, Any] = {"name": name, "psnr": view.psnr, "ssim": view.ssim, "render": None, "photo": None}
        if i < MAX_VIEWS_SHOWN and name:
            stem = Path(name).stem
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).with_suffix("").as_posix())
            render = train_dir / "eval" / f"{stem}.png"
            photo = sfm_dir / IMAGES_DIR / name
            if render.is_file() and _thumbnail(render, files_dir / "heldout" / f"{safe}_render.png"):
                row["render"] = f"{REPORT_FILES}/heldout/{safe}_render.png"
            if photo.is_file() and _thumbnail(photo, files_dir / "heldout" / f"{safe}_photo.png"):
                row["photo"] = f"{REPORT_FILES}/heldout/{safe}_photo.png"
        rows.append(row)
    return rows


# -----------------------------------------------------------------------------------------------
# The report


def build_report(result: RunLike, *, source: Path, resolved: Sequence[ResolvedStageLike],
                 error: BaseException | None = None) -> dict[str, Any]:
    """The report as a JSON-able dict; copies images and writes the plot into ``report_files/``."""
    out_dir = result.out_dir
    files_dir = out_dir / REPORT_FILES
    if files_dir.exists():
        shutil.rmtree(files_dir)
    files_dir.mkdir(parents=True)
    by_kind = {o.kind: o for o in result.stages}
    notes = {r.kind: r.note for r in resolved}
    stages = []
    for r in resolved:
        o = by_kind.get(r.kind)
        m = o.manifest if o is not None else None
        stages.append({
            "kind": r.kind, "backend": r.backend, "status": o.status if o is not None else "not run",
            "seconds": round(o.seconds, 3) if o is not None else 0.0,
            "seconds_when_run": m.seconds if m is not None else None,
            "reason": o.reason if o is not None else "", "resumed": bool(o and o.resumed),
            "error": o.error if o is not None else "", "note": notes.get(r.kind, ""),
            "config": config_to_dict(r.config), "folder": str(o.stage_dir) if o is not None else None,
        })

    def stage_report(kind: str) -> dict[str, Any] | None:
        o = by_kind.get(kind)
        return o.manifest.report if o is not None and o.manifest is not None else None

    report: dict[str, Any] = {
        "format": "splatkit-run-report", "version": REPORT_VERSION,
        "status": "failed" if error is not None else "ok",
        "error": None if error is None else str(error),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": str(source), "out_dir": str(out_dir), "total_seconds": round(result.seconds, 3),
        "stages": stages, "sfm": stage_report("sfm"), "training": None, "compression": None,
        "final_file": str(result.final_file) if result.final_file else None,
    }

    train, problem = _read_training_report(stage_report("train"))
    if problem:
        report["training_report_problem"] = problem
    if train is not None:
        curve = [point.to_dict() for point in train.curve]
        (files_dir / "training_curve.svg").write_text(training_curve_svg(curve), encoding="utf-8")
        report["training"] = {
            "backend": train.backend, "device": train.device, "steps": train.steps,
            "resumed_from_step": train.resumed_from_step, "num_gaussians": train.num_gaussians,
            "final_loss": train.final_loss, "steps_per_second": train.steps_per_second, "seconds": train.seconds,
            "curve_plot": f"{REPORT_FILES}/training_curve.svg", "curve": curve,
            "heldout": {"mean": train.heldout.to_dict()["mean"],
                        "views": _heldout_views(by_kind["train"].stage_dir, out_dir / "sfm", train.heldout.views,
                                                files_dir)},
        }
        # Keys of newer schemas (the quality preset, the image size and why, a time budget):
        # read from the written dict so an older TrainingReport without them still works.
        written = train.to_dict()
        for key in _TRAINING_SETTINGS:
            if written.get(key) is not None:
                report["training"][key] = written[key]

    comp = by_kind.get("compress")
    if comp is not None and comp.manifest is not None:
        final = comp.primary_file
        size = _size(final)
        train_ply = by_kind["train"].primary_file if "train" in by_kind else None
        input_size = _size(train_ply)
        report["compression"] = {
            "backend": comp.backend, "file": str(final) if final else None, "bytes": size,
            "input_file": str(train_ply) if train_ply else None, "input_bytes": input_size,
            "ratio": round(input_size / size, 3) if size and input_size else None,
            "report": comp.manifest.report,
        }
    sfm_outcome = by_kind.get("sfm")
    report["camera_map"] = (_camera_map(sfm_outcome.stage_dir, report["sfm"], source)
                            if sfm_outcome is not None and sfm_outcome.stage_dir.is_dir() else None)
    report["final_bytes"] = _size(result.final_file)
    report["summary"] = run_summary(report)
    return report


#: Training settings shown in words when the training report has them (newer schema keys).
_TRAINING_SETTINGS = ("quality", "quality_reason", "resolution", "resolution_reason", "budget_seconds",
                      "train_seconds", "planned_steps", "stop_reason", "vram")


def _stage_seconds(stage: dict[str, Any]) -> float:
    """What a stage cost: this run's time, or the time it took when it ran (skipped, resumed)."""
    when_run = stage.get("seconds_when_run")
    if stage.get("status") == "skipped" and isinstance(when_run, (int, float)):
        return float(when_run)
    return float(stage.get("seconds") or 0.0)


def run_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The ten-second summary of a report dict: the headline numbers and what to look at.

    Returns
    -------
    dict
        ``photos_given``, ``photos_registered`` (None when unknown), ``final_file``,
        ``final_bytes``, ``heldout_psnr`` (dB), ``heldout_ssim``, ``heldout_views``,
        ``total_seconds``, ``stage_seconds`` (kind -> s) and ``look_at``: a list of
        ``{"text", "section"}``, one per thing that is off (empty when nothing is).
    """
    sfm = report.get("sfm") if isinstance(report.get("sfm"), dict) else {}
    quality = sfm.get("quality") if isinstance(sfm.get("quality"), dict) else {}
    geo = sfm.get("georeference") if isinstance(sfm.get("georeference"), dict) else {}
    train = report.get("training") or {}
    mean = (train.get("heldout") or {}).get("mean") or {}
    given = quality.get("images_given", sfm.get("images_given"))
    registered = quality.get("images_registered", sfm.get("images_registered"))
    look: list[dict[str, str]] = []
    if report.get("status") == "failed":
        look.append({"text": f"The run failed: {report.get('error')}", "section": "stages"})
    for stage in report.get("stages", []):
        if stage.get("status") == "failed" and stage.get("error"):
            look.append({"text": f"Stage {stage['kind']} failed: {stage['error']}", "section": "stages"})
    if isinstance(given, int) and isinstance(registered, int) and registered < given:
        missing = quality.get("unregistered") or []
        names = ", ".join(str(n) for n in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        look.append({"text": f"{given - registered} of {given} photos did not register"
                             + (f" ({names})" if names else "") + ": they add nothing to the model.",
                     "section": "sfm"})
    if geo:
        residual = (geo.get("residual_m") or {}).get("median")
        outliers = geo.get("outliers") or []
        if geo.get("applied") is False:
            why = geo.get("reason") or geo.get("why") or "see the SfM section"
            look.append({"text": f"The model is not georeferenced ({why}).", "section": "sfm"})
        elif isinstance(residual, (int, float)) and residual > GPS_RESIDUAL_WARN_M:
            look.append({"text": f"Poor GPS fit: the cameras sit {residual:.1f} m (median) from their GPS fixes "
                                 f"(above {GPS_RESIDUAL_WARN_M:g} m).", "section": "sfm"})
        if outliers:
            look.append({"text": f"{len(outliers)} photo(s) have a GPS fix that disagrees with the model: "
                                 + ", ".join(str(o) for o in outliers[:5]), "section": "sfm"})
    look.extend({"text": str(w), "section": "sfm"} for w in _sfm_warnings(sfm))
    reproj = (quality.get("reprojection_error_px") or {}).get("mean")
    if isinstance(reproj, (int, float)) and reproj > REPROJECTION_WARN_PX:
        look.append({"text": f"High reprojection error: {reproj:.2f} px on average (above "
                             f"{REPROJECTION_WARN_PX:g} px); the camera poses may be off.", "section": "sfm"})
    psnr = mean.get("psnr")
    if isinstance(psnr, (int, float)) and psnr < LOW_PSNR_DB:
        look.append({"text": f"Low held-out PSNR: {psnr:.1f} dB (below {LOW_PSNR_DB:g} dB); compare the renders "
                             "with the photos.", "section": "heldout"})
    if report.get("training_report_problem"):
        look.append({"text": "The training report could not be read: " + str(report["training_report_problem"]),
                     "section": "training"})
    return {
        "photos_given": given, "photos_registered": registered, "final_file": report.get("final_file"),
        "final_bytes": report.get("final_bytes"), "heldout_psnr": psnr, "heldout_ssim": mean.get("ssim"),
        "heldout_views": len((train.get("heldout") or {}).get("views") or []),
        "total_seconds": report.get("total_seconds"),
        "stage_seconds": {s["kind"]: round(_stage_seconds(s), 3) for s in report.get("stages", [])},
        "look_at": look,
    }


def _read_training_report(raw: dict[str, Any] | None) -> tuple[TrainingReport | None, str]:
    """The training stage's report in its schema, or None and what is wrong with it ("" if absent)."""
    if raw is None:
        return None, ""
    try:
        return TrainingReport.from_dict(raw), ""
    except ContractError as e:
        logger.warning("report: the training section is left out: %s (see docs/pipeline.md, "
                       "'Training report (metrics.json)')", e)
        return None, str(e)


def _size(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def write_report(result: RunLike, *, source: Path, resolved: Sequence[ResolvedStageLike],
                 error: BaseException | None = None) -> tuple[Path, Path]:
    """Write ``report.json``, ``report.html`` and ``report_files/`` into ``result.out_dir``."""
    report = build_report(result, source=source, resolved=resolved, error=error)
    json_path = atomic_write_text(result.out_dir / REPORT_JSON, json.dumps(report, indent=2, default=str))
    html_path = atomic_write_text(result.out_dir / REPORT_HTML, render_html(report))
    return json_path, html_path


# -----------------------------------------------------------------------------------------------
# HTML

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.warning{background:#fff3cd;border-left:4px solid #d39e00;padding:.4em .7em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;
vertical-align:top}th{background:#f4f4f4}.ok{color:#17692c}.failed{color:#b00020}.views{display:grid;
grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:1em}.pair{display:flex;gap:4px}
.pair figure{margin:0;flex:1}.pair img{width:100%;image-rendering:auto}figcaption{font-size:.85em;color:#555}
code{background:#f4f4f4;padding:0 .2em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:.6em;margin:.5em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.5em .8em;background:#fafafa}.card dt{font-size:.8em;color:#555;
text-transform:uppercase;letter-spacing:.04em}.card dd{margin:.2em 0 0;font-size:1.05em}
.look{border-left:4px solid #d9480f;background:#fff4ec;padding:.4em .8em;margin:.8em 0}.look ul{margin:.3em 0}
.fine{border-left:4px solid #17692c;background:#eef8f0;padding:.4em .8em}.facts li{margin:.2em 0}
figure.map{margin:1em 0}figure.map svg{max-width:100%;height:auto}details{margin:.6em 0}
summary{cursor:pointer;color:#1f5fa8}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _flatten(data: dict[str, Any], prefix: str = "", depth: int = 3) -> dict[str, Any]:
    """Nested dicts as ``a.b.c`` keys; big dicts and lists are summarised (all is in report.json)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth > 1 and len(value) <= 12:
            flat.update(_flatten(value, f"{name}.", depth - 1))
        elif isinstance(value, dict):
            flat[name] = f"({len(value)} entries in {REPORT_JSON})"
        elif isinstance(value, list) and (len(value) > 8 or any(isinstance(v, (dict, list)) for v in value)):
            flat[name] = f"({len(value)} items in {REPORT_JSON})"
        else:
            flat[name] = value
    return flat


def _kv_table(data: dict[str, Any]) -> str:
    rows = []
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            text = json.dumps(value, default=str)
            if len(text) > 300:
                text = text[:300] + " ..."
        elif isinstance(value, float):
            text = f"{value:.4g}"  # full precision is in report.json
        else:
            text = value
        rows.append(f"<tr><th>{_e(key)}</th><td>{_e(text)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _duration(seconds: Any) -> str:
    """``72.4`` -> ``"1 min 12 s"``; ``-`` when unknown."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _summary_html(report: dict[str, Any]) -> list[str]:
    summary = report.get("summary") or run_summary(report)
    given, registered = summary.get("photos_given"), summary.get("photos_registered")
    if isinstance(given, int) and isinstance(registered, int) and given:
        photos = f"{registered} of {given} registered ({100 * registered / given:.0f} %)"
    elif isinstance(registered, int):
        photos = f"{registered} registered"
    else:
        photos = "-"
    final = summary.get("final_file")
    final_text = f"{Path(final).name}, {_bytes(summary.get('final_bytes'))}" if final else "none"
    comp = report.get("compression") or {}
    if isinstance(comp.get("ratio"), (int, float)) and comp["ratio"] >= 1.05:
        final_text += f" ({comp['ratio']:.1f}x smaller than the trained PLY)"
    psnr, ssim = summary.get("heldout_psnr"), summary.get("heldout_ssim")
    quality = (f"PSNR {psnr:.2f} dB, SSIM {ssim:.3f} on {summary.get('heldout_views')} held-out photo(s)"
               if isinstance(psnr, (int, float)) and isinstance(ssim, (int, float)) else "not measured")
    stages = " · ".join(f"{_e(kind)} {_duration(sec)}" for kind, sec in summary.get("stage_seconds", {}).items())
    cards = [("Photos", _e(photos)), ("Final file", _e(final_text)), ("Held-out quality", _e(quality)),
             ("Time", f"{_duration(summary.get('total_seconds'))} <small>({stages})</small>" if stages
              else _duration(summary.get("total_seconds")))]
    out = ["<section id='summary'><h2>Summary</h2><dl class='cards'>"]
    out += [f"<div class='card'><dt>{label}</dt><dd>{value}</dd></div>" for label, value in cards]
    out.append("</dl>")
    look = summary.get("look_at") or []
    if look:
        items = "".join(f"<li><a href='#{_e(item.get('section', ''))}'>{_e(item.get('text'))}</a></li>"
                        for item in look)
        out.append(f"<div class='look'><b>What to look at:</b><ul>{items}</ul></div>")
    else:
        out.append("<p class='fine'>Nothing stands out (photos registered, GPS fit, reprojection error, "
                   "held-out quality).</p>")
    if final:
        out.append(f"<p class='view3d'>See it in 3D: <code>splatkit view {_e(report.get('out_dir'))}</code> "
                   "(opens this page with the viewer below).</p>")
        out.append(VIEWER_PLACEHOLDER)
    out.append("</section>")
    return out


def _num(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "-"


def _sfm_warnings(sfm: dict[str, Any]) -> list[str]:
    """The SfM backend's loud warnings (focal drift, ambiguity...): a list of strings, or empty."""
    warnings = sfm.get("warnings")
    return [str(w) for w in warnings] if isinstance(warnings, list) else []


def _sfm_method_lines(sfm: dict[str, Any]) -> list[str]:
    """How the SfM backend matched and mapped, and each camera's refined vs EXIF focal, in words."""
    lines = []
    for key, what in (("matcher", "Matched"), ("mapper", "Mapped")):
        step = sfm.get(key)
        if isinstance(step, dict) and step.get("used"):
            lines.append(f"{what} with {step['used']}" + (f" ({step['why']})" if step.get("why") else "") + ".")
    focal = sfm.get("focal") if isinstance(sfm.get("focal"), dict) else {}
    for cam in focal.get("cameras") or []:
        if not isinstance(cam, dict) or not isinstance(cam.get("refined_focal_px"), (int, float)):
            continue
        exif = cam.get("exif_focal_px")
        versus = (f" against {exif:.0f} px from EXIF (ratio {cam.get('ratio', 0):.3f})"
                  if isinstance(exif, (int, float)) else " (no EXIF focal)")
        lines.append(f"Focal length of {cam.get('camera', 'a camera')}: {cam['refined_focal_px']:.0f} px"
                     + versus + (": DRIFTED, see the warning above" if cam.get("drifted") else "") + ".")
    release = focal.get("release") if isinstance(focal.get("release"), dict) else {}
    if release.get("reason"):
        lines.append(f"Focal release: {release['reason']}.")
    return lines


def _sfm_html(report: dict[str, Any]) -> list[str]:
    sfm = report.get("sfm")
    if not isinstance(sfm, dict) or not sfm:
        return ["<p>Not available.</p>"]
    quality = sfm.get("quality") if isinstance(sfm.get("quality"), dict) else {}
    geo = sfm.get("georeference") if isinstance(sfm.get("georeference"), dict) else {}
    lines = []
    given, registered = quality.get("images_given"), quality.get("images_registered")
    if isinstance(given, int) and isinstance(registered, int):
        lines.append(f"{registered} of {given} photos registered"
                     + (f"; not registered: {', '.join(map(str, quality.get('unregistered') or []))}"
                        if registered < given else "") + ".")
    if isinstance(quality.get("points"), int):
        track = quality.get("mean_track_length")
        lines.append(f"{quality['points']:,} sparse points"
                     + (f", each seen in {track:.1f} photos on average" if isinstance(track, (int, float)) else "")
                     + ".")
    reproj = quality.get("reprojection_error_px") if isinstance(quality.get("reprojection_error_px"), dict) else {}
    if reproj:
        lines.append(f"Reprojection error (how far each point lands from where it was seen): median "
                     f"{_num(reproj.get('median'))} px, mean {_num(reproj.get('mean'))} px, 95 % below "
                     f"{_num(reproj.get('p95'))} px, worst {_num(reproj.get('max'))} px.")
    if geo:
        if geo.get("applied"):
            residual = geo.get("residual_m") if isinstance(geo.get("residual_m"), dict) else {}
            ref = geo.get("reference") if isinstance(geo.get("reference"), dict) else {}
            lines.append(f"Georeferenced from {geo.get('inliers', '-')} of {geo.get('images_with_gps', '-')} GPS "
                         f"fixes: the cameras sit {_num(residual.get('median'))} m (median) and at most "
                         f"{_num(residual.get('max'))} m from their GPS positions"
                         + (f"; scale {_num((geo.get('similarity') or {}).get('scale'), 3)} GPS metres per model unit"
                            if isinstance(geo.get("similarity"), dict) else "") + ".")
            if ref:
                lines.append(f"Model origin: {_num(ref.get('lat'), 6)}°, {_num(ref.get('lon'), 6)}°, "
                             f"{_num(ref.get('alt'), 1)} m; the model is in East-North-Up metres around it.")
        else:
            lines.append("Not georeferenced" + (f": {geo.get('reason') or geo.get('why')}"
                                                if geo.get("reason") or geo.get("why") else "") + ".")
    lines += _sfm_method_lines(sfm)
    timings = sfm.get("timings_s") if isinstance(sfm.get("timings_s"), dict) else {}
    if timings:
        lines.append("Time: " + ", ".join(f"{_e(k)} {_duration(v)}" for k, v in timings.items()) + ".")
    out = [f"<p class='warning'><strong>Warning:</strong> {_e(w)}</p>" for w in _sfm_warnings(sfm)]
    out.append("<ul class='facts'>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>")
    cmap = report.get("camera_map")
    if cmap:
        out.append(f"<figure class='map'>{camera_map_svg(cmap)}<figcaption>Seen from above"
                   + (" (north up)" if cmap.get("georeferenced") else " (along the least-spread axis of the cameras)")
                   + f": {len(cmap.get('cameras', []))} cameras, {len(cmap.get('gps', []))} GPS fixes, "
                   f"{min(cmap.get('points_total', 0), MAP_MAX_POINTS):,} of {cmap.get('points_total', 0):,} sparse "
                   "points.</figcaption></figure>")
    out.append(_per_image_html(sfm, cmap))
    ordered = {**({"quality": sfm["quality"]} if isinstance(sfm.get("quality"), dict) else {}),
               **{k: v for k, v in sfm.items() if k not in ("quality", "config")}}
    out.append(f"<details><summary>All SfM figures (also in {REPORT_JSON})</summary>"
               + _kv_table(_flatten(ordered)) + "</details>")
    return out


def _per_image_html(sfm: dict[str, Any], cmap: dict[str, Any] | None) -> str:
    quality = sfm.get("quality") if isinstance(sfm.get("quality"), dict) else {}
    geo = sfm.get("georeference") if isinstance(sfm.get("georeference"), dict) else {}
    residuals = geo.get("per_image_residual_m") if isinstance(geo.get("per_image_residual_m"), dict) else {}
    outliers = set(map(str, geo.get("outliers") or []))
    registered = [c["name"] for c in (cmap or {}).get("cameras", [])] or sorted(residuals)
    unregistered = [str(n) for n in quality.get("unregistered") or []]
    if not registered and not unregistered:
        return ""
    rows = [f"<tr><td>{_e(n)}</td><td class='ok'>registered</td><td>{_num(residuals.get(n))}</td>"
            f"<td>{'outlier' if n in outliers else ''}</td></tr>" for n in registered]
    rows += [f"<tr><td>{_e(n)}</td><td class='failed'>not registered</td><td>-</td><td></td></tr>"
             for n in unregistered]
    return (f"<details id='per-image'><summary>Per-image details ({len(registered) + len(unregistered)} photos)"
            "</summary><table><tr><th>photo</th><th>status</th><th>GPS residual (m)</th><th>GPS</th></tr>"
            + "".join(rows) + "</table></details>")


def _training_settings(train: dict[str, Any]) -> list[str]:
    """The newer training keys in words (only those present)."""
    lines = []
    if train.get("quality"):
        lines.append(f"Quality preset: {train['quality']}"
                     + (f" ({train['quality_reason']})" if train.get("quality_reason") else "") + ".")
    size = train.get("resolution")
    if isinstance(size, (list, tuple)) and len(size) == 2:
        lines.append(f"Training images: {size[0]} x {size[1]} px"
                     + (f" ({train['resolution_reason']})" if train.get("resolution_reason") else "") + ".")
    elif train.get("resolution_reason"):
        lines.append(f"Training image size: {train['resolution_reason']}.")
    budget = train.get("budget_seconds")
    if isinstance(budget, (int, float)):
        used = train.get("train_seconds")
        lines.append(f"Time budget: {_duration(budget)}"
                     + (f", {_duration(used)} used" if isinstance(used, (int, float)) else "")
                     + (f"; stopped by {train['stop_reason']}" if train.get("stop_reason") else "") + ".")
    elif train.get("stop_reason"):
        lines.append(f"Stopped by: {train['stop_reason']}.")
    if isinstance(train.get("planned_steps"), int):
        lines.append(f"Planned steps: {train['planned_steps']:,}.")
    vram = train.get("vram")
    if isinstance(vram, dict) and vram.get("reason"):
        lines.append(f"GPU memory: {vram['reason']}.")
    return lines


def render_html(report: dict[str, Any]) -> str:
    """One static page from the report dict (every value escaped)."""
    status = report["status"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>splatkit report</title>"
             f"<link rel='icon' href='data:,'><style>{_STYLE}</style></head><body>",
             "<h1>splatkit run report</h1>",
             f"<p>Status: <b class='{_e(status)}'>{_e(status)}</b>"
             + (f" &mdash; {_e(report['error'])}" if report.get("error") else "")
             + f" · source <code>{_e(report['source'])}</code> · output <code>{_e(report['out_dir'])}</code></p>"]
    parts += _summary_html(report)
    comp = report.get("compression")

    parts.append("<h2 id='stages'>Stages</h2><table><tr><th>stage</th><th>status</th><th>time this run (s)</th>"
                 "<th>time when run (s)</th><th>why</th></tr>")
    for s in report["stages"]:
        why = s["error"] or s["reason"] + (" (resumed)" if s.get("resumed") else "")
        if s.get("note"):
            why = f"{why}; {s['note']}" if why else s["note"]
        parts.append(f"<tr><td>{_e(s['kind'])}/{_e(s['backend'])}</td><td class='{_e(s['status'])}'>"
                     f"{_e(s['status'])}</td><td>{_e(s['seconds'])}</td><td>{_e(s['seconds_when_run'])}</td>"
                     f"<td>{_e(why)}</td></tr>")
    parts.append("</table>")

    parts.append("<h2 id='sfm'>Structure from Motion</h2>")
    parts += _sfm_html(report)

    parts.append("<h2 id='training'>Training</h2>")
    train = report.get("training")
    if train:
        settings = _training_settings(train)
        if settings:
            parts.append("<ul class='facts'>" + "".join(f"<li>{_e(line)}</li>" for line in settings) + "</ul>")
        if train.get("curve_plot"):
            parts.append(f"<p><img src='{_e(train['curve_plot'])}' alt='training curve' width='640' "
                         "height='320'></p>")
        parts.append(_kv_table({k: v for k, v in train.items()
                                if k not in ("curve", "heldout", "curve_plot", *_TRAINING_SETTINGS)}))
        heldout = train.get("heldout") or {"mean": {}, "views": []}
        parts.append("<h2 id='heldout'>Held-out views</h2>")
        if heldout.get("mean"):
            parts.append(f"<p>Mean PSNR {_e(heldout['mean'].get('psnr'))} dB, "
                         f"SSIM {_e(heldout['mean'].get('ssim'))}</p>")
        views = [v for v in heldout.get("views", []) if v.get("render") or v.get("photo")]
        if views:
            parts.append("<div class='views'>")
            for v in views:
                caption = f"{v['name']}: PSNR {v.get('psnr')} dB, SSIM {v.get('ssim')}"
                figs = "".join(f"<figure><img src='{_e(v[key])}' alt='{_e(label)} {_e(v['name'])}'>"
                               f"<figcaption>{_e(label)}</figcaption></figure>"
                               for key, label in (("photo", "photo"), ("render", "render")) if v.get(key))
                parts.append(f"<div><div class='pair'>{figs}</div><p>{_e(caption)}</p></div>")
            parts.append("</div>")
        else:
            parts.append("<p>No held-out views.</p>")
    elif report.get("training_report_problem"):
        parts.append(f"<p>Not available: {_e(report['training_report_problem'])}</p>")
    else:
        parts.append("<p>Not available.</p>")

    parts.append("<h2 id='compression'>Compression</h2>")
    if comp:
        parts.append(_kv_table({"backend": comp["backend"], "file": comp["file"], "size": _bytes(comp["bytes"]),
                                "trained PLY": comp["input_file"], "PLY size": _bytes(comp["input_bytes"]),
                                "ratio": comp["ratio"]}))
    else:
        parts.append("<p>Not available.</p>")
    parts.append(f"<p><small>Written {_e(report['created'])}; data in <code>{REPORT_JSON}</code>.</small></p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
