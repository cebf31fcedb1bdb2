"""The run report: ``OUT/report.json``, a static ``OUT/report.html`` and its ``OUT/report_files/``.

The HTML page needs no server and loads nothing from the network: styles are inline, and the
training-curve plot (an SVG drawn here, no plotting library) and the held-out views are files in
``report_files/`` referenced by relative paths. Held-out views show the undistorted photo
(``OUT/sfm/images/<name>``) beside the render the trainer saved (``OUT/train/eval/<stem>.png``),
both downscaled to at most :data:`THUMBNAIL_SIZE` pixels.

The training stage's report is read through :class:`splatkit.reports.TrainingReport` (the schema
of ``metrics.json``), so a key a backend left out or mistyped is named in the log, not guessed at.
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

from splatkit.errors import ContractError
from splatkit.io.atomic import atomic_write_text
from splatkit.io.sfm_output import IMAGES_DIR
from splatkit.reports import TrainingReport, ViewQuality
from splatkit.stages import config_to_dict

__all__ = ["REPORT_JSON", "REPORT_HTML", "REPORT_FILES", "REPORT_VERSION", "build_report", "write_report",
           "training_curve_svg", "RunLike", "StageOutcomeLike", "ResolvedStageLike"]

logger = logging.getLogger(__name__)

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_FILES = "report_files"
REPORT_VERSION = 1
#: Longer side of the report's images (px): enough to judge a render, small enough to open fast.
THUMBNAIL_SIZE = 640
#: Held-out views shown in the page (all are listed in report.json).
MAX_VIEWS_SHOWN = 12


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
    return report


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
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;
vertical-align:top}th{background:#f4f4f4}.ok{color:#17692c}.failed{color:#b00020}.views{display:grid;
grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:1em}.pair{display:flex;gap:4px}
.pair figure{margin:0;flex:1}.pair img{width:100%;image-rendering:auto}figcaption{font-size:.85em;color:#555}
code{background:#f4f4f4;padding:0 .2em}
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


def render_html(report: dict[str, Any]) -> str:
    """One static page from the report dict (every value escaped)."""
    status = report["status"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>splatkit report</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>splatkit run report</h1>",
             f"<p>Status: <b class='{_e(status)}'>{_e(status)}</b>"
             + (f" &mdash; {_e(report['error'])}" if report.get("error") else "") + "</p>"]
    summary = {"source": report["source"], "output folder": report["out_dir"],
               "final file": report.get("final_file") or "-", "total time (s)": report["total_seconds"]}
    comp = report.get("compression")
    if comp:
        summary["compressed size"] = _bytes(comp.get("bytes"))
        summary["ratio vs trained PLY"] = f"{comp['ratio']}x" if comp.get("ratio") else "-"
    parts.append(_kv_table(summary))

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
    sfm = report.get("sfm")
    if sfm:
        # The quality numbers first (images registered, reprojection error, GPS residual).
        ordered = {**({"quality": sfm["quality"]} if isinstance(sfm.get("quality"), dict) else {}),
                   **{k: v for k, v in sfm.items() if k not in ("quality", "config")}}
        parts.append(_kv_table(_flatten(ordered)))
    else:
        parts.append("<p>Not available.</p>")

    parts.append("<h2 id='training'>Training</h2>")
    train = report.get("training")
    if train:
        parts.append(f"<p><img src='{_e(train['curve_plot'])}' alt='training curve' width='640' height='320'></p>")
        parts.append(_kv_table({k: v for k, v in train.items() if k not in ("curve", "heldout", "curve_plot")}))
        heldout = train["heldout"]
        parts.append("<h2 id='heldout'>Held-out views</h2>")
        if heldout.get("mean"):
            parts.append(f"<p>Mean PSNR {_e(heldout['mean'].get('psnr'))} dB, "
                         f"SSIM {_e(heldout['mean'].get('ssim'))}</p>")
        views = [v for v in heldout["views"] if v.get("render") or v.get("photo")]
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
