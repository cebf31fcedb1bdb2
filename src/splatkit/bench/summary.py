"""One row per benchmark file: what compare.py and the cost model read, from either record format.

Two formats are read: the ``splatkit bench`` record (:mod:`splatkit.bench.schema`) and the older
``benchmarks/train.py --json`` output (training only, e.g. ``train-gsplat-fern-7k--h100.json``).
Both become a :class:`RunSummary`; a stage a file did not time is None, never 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splatkit.bench.schema import RECORD_FORMAT, STAGE_KINDS, check_record
from splatkit.errors import InputError

__all__ = ["CurveSample", "RunSummary", "load_summary", "summary_from_record", "summary_from_train_benchmark"]


@dataclass(frozen=True, kw_only=True)
class CurveSample:
    """One held-out evaluation: the step, the training time to reach it (s) and its PSNR (dB)."""

    step: int
    seconds: float
    psnr: float


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """What a table row and a cost line need from one run.

    Attributes
    ----------
    label : str
        The row's name (file stem unless given).
    device : str
        GPU name, or ``"cpu: <model>"``.
    scene, preset : str
    stage_seconds : dict[str, float | None]
        ``sfm``, ``train``, ``compress`` wall times; None when the file did not time that stage.
    steps, steps_per_second, num_gaussians, psnr, ssim, peak_gpu_bytes, peak_host_rss_bytes,
    sog_bytes, sog_render_psnr
        As in the record; None when unknown.
    curve : tuple[CurveSample, ...]
        Held-out PSNR against training time.
    curve_seconds_estimated : bool
        True when the file had no time per point and ``step / steps_per_second`` stands in.
    projected : bool
        True for a row made by :func:`splatkit.bench.costs.project_summary`, never measured.
    source : str
        Where the numbers come from (the file, or the projection and its input).
    """

    label: str
    device: str
    scene: str
    preset: str
    stage_seconds: dict[str, float | None]
    steps: int | None = None
    steps_per_second: float | None = None
    num_gaussians: int | None = None
    psnr: float | None = None
    ssim: float | None = None
    peak_gpu_bytes: int | None = None
    peak_host_rss_bytes: int | None = None
    sog_bytes: int | None = None
    sog_render_psnr: float | None = None
    curve: tuple[CurveSample, ...] = ()
    curve_seconds_estimated: bool = False
    projected: bool = False
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def summary_from_record(doc: dict[str, Any], *, label: str, source: str = "") -> RunSummary:
    """A :class:`RunSummary` of a ``splatkit bench`` record (checked against the schema first)."""
    check_record(doc, source=source or label)
    t = doc["training"]
    curve = tuple(CurveSample(step=int(p["step"]), seconds=float(p["seconds"]), psnr=float(p["psnr"]))
                  for p in t["curve"] if p.get("psnr") is not None and p.get("seconds") is not None)
    # The final held-out score is evaluated after the last curve point: add it at the run's time.
    if t["psnr"] is not None and t["seconds"] is not None and (not curve or curve[-1].step < t["steps"]):
        curve += (CurveSample(step=int(t["steps"]), seconds=float(t["seconds"]), psnr=float(t["psnr"])),)
    return RunSummary(
        label=label, device=doc["environment"]["device"], scene=doc["scene"]["name"], preset=doc["preset"]["name"],
        stage_seconds={k: float(doc["stages"][k]["seconds"]) for k in STAGE_KINDS}, steps=t["steps"],
        steps_per_second=t["steps_per_second"], num_gaussians=t["num_gaussians"], psnr=t["psnr"], ssim=t["ssim"],
        peak_gpu_bytes=doc["memory"]["peak_gpu_bytes"], peak_host_rss_bytes=doc["memory"]["peak_host_rss_bytes"],
        sog_bytes=doc["compression"]["bytes"], sog_render_psnr=doc["compression"]["render_psnr"], curve=curve,
        source=source or label)


def summary_from_train_benchmark(doc: dict[str, Any], *, label: str, source: str = "") -> RunSummary:
    """A :class:`RunSummary` of a ``benchmarks/train.py --json`` file (training only).

    Its curve has no time per point: ``step / steps_per_second`` stands in (steps only, the
    evaluations excluded), and ``curve_seconds_estimated`` says so.
    """
    where = source or label
    try:
        r = doc["result"]
        rate = float(r["steps_per_second"])
        mean = (r.get("heldout") or {}).get("mean") or {}
        curve = tuple(CurveSample(step=int(p["step"]), seconds=int(p["step"]) / rate, psnr=float(p["psnr"]))
                      for p in r.get("curve") or () if p.get("psnr") is not None)
        # The final held-out score is not in the curve: add it at the run's time.
        if mean.get("psnr") is not None:
            curve += (CurveSample(step=int(r["steps"]), seconds=float(r["seconds"]), psnr=float(mean["psnr"])),)
        cuda = str(r.get("backend")) == "gsplat"
        return RunSummary(
            label=label, device=str(doc["device"]), scene=str(doc.get("dataset", "?")), preset=f"{r['steps']} steps",
            stage_seconds={"sfm": None, "train": float(r["seconds"]), "compress": None}, steps=int(r["steps"]),
            steps_per_second=rate, num_gaussians=int(r["num_gaussians"]), psnr=mean.get("psnr"), ssim=mean.get("ssim"),
            peak_gpu_bytes=int(r["peak_memory_bytes"]) if cuda and r.get("peak_memory_bytes") is not None else None,
            peak_host_rss_bytes=None if cuda else r.get("peak_memory_bytes"), curve=curve,
            curve_seconds_estimated=True, source=where)
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{where}: not a benchmarks/train.py result ({type(e).__name__}: {e})") from e


def load_summary(path: str | Path, *, label: str | None = None) -> RunSummary:
    """Read either format from ``path``.

    Raises
    ------
    InputError
        Unreadable, not JSON, or neither format (names the file).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read a benchmark result ({e})") from e
    name = label or path.stem
    if isinstance(doc, dict) and doc.get("format") == RECORD_FORMAT:
        return summary_from_record(doc, label=name, source=str(path))
    if isinstance(doc, dict) and doc.get("benchmark") == "train":
        return summary_from_train_benchmark(doc, label=name, source=str(path))
    raise InputError(f"{path}: neither a splatkit bench record (format {RECORD_FORMAT!r}) nor a "
                     "benchmarks/train.py result (benchmark 'train')")
