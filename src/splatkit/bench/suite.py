"""Run one named scene through the real pipeline with a named preset and record it (``splatkit bench``).

The stages run through :func:`splatkit.pipeline.runner.run` exactly as in ``splatkit run``; this
module only chooses the options (:data:`PRESETS`), measures what the pipeline does not (host
RSS, the wall time around it) and gathers one record (:mod:`splatkit.bench.schema`) from the
stage reports: nothing is computed twice. The held-out PSNR/SSIM and the curve are the training
report's; the ``.sog`` render PSNR is the SOG stage's (decoded vs encoded cloud, orbit views).
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splatkit.bench.schema import RECORD_FORMAT, RECORD_VERSION, STAGE_KINDS, check_record
from splatkit.bench.scenes import SCENES, BenchScene, prepare_photos
from splatkit.errors import InputError

__all__ = ["PRESETS", "BenchPreset", "RECORD_FILE", "RUN_DIR", "MARKER_FILE", "run_bench", "build_record",
           "peak_host_rss_bytes", "record_file_name"]

logger = logging.getLogger(__name__)

#: Inside the bench output folder: the pipeline's run folder, and the file that says bench made it.
RUN_DIR = "run"
MARKER_FILE = ".splatkit-bench"
RECORD_FILE = "bench.json"


@dataclass(frozen=True, kw_only=True)
class BenchPreset:
    """A named set of stage options (TOML-shaped: ``{"train": {"steps": 7000}}``).

    Attributes
    ----------
    name : str
    options : dict
        Stage kind -> option -> value; ``--set`` on the command line overrides them.
    description : str
    """

    name: str
    options: Mapping[str, Mapping[str, Any]]
    description: str


# 7k and 30k keep one training resolution and Gaussian cap ("standard": long side 2,400 px, 2 M
# Gaussians on gsplat) so rows from different GPUs differ only in the device and the step count,
# and a 30k run still fits a T4's 16 GB. eval_every gives the PSNR-vs-time curve compare.py plots.
PRESETS: dict[str, BenchPreset] = {p.name: p for p in (
    BenchPreset(name="cpu-smoke", description="about a minute on a 2-core CPU with the synthetic scene: 150 steps, "
                                              "SH degree 1, two render-check views",
                options={"train": {"steps": 150, "sh_degree": 1, "sh_degree_interval": 50, "refine_start": 30,
                                   "refine_every": 30, "refine_stop": 100, "eval_every": 50, "curve_every": 10,
                                   "checkpoint_every": 0},
                         "compress": {"quality_views": 2}}),
    BenchPreset(name="7k", description="7,000 steps at the standard preset's resolution and Gaussian cap",
                options={"train": {"steps": 7000, "quality": "standard", "eval_every": 1000}}),
    BenchPreset(name="30k", description="30,000 steps at the standard preset's resolution and Gaussian cap",
                options={"train": {"steps": 30000, "quality": "standard", "eval_every": 5000}}),
)}


def record_file_name(scene: str, preset: str, device: str) -> str:
    """``bench-<scene>-<preset>--<device slug>.json``: the name results are committed under."""
    slug = "".join(c if c.isalnum() else "-" for c in device.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return f"bench-{scene}-{preset}--{slug[:40]}.json"


def peak_host_rss_bytes() -> int:
    """Peak resident set of this process or of its largest waited-for child (bytes; Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(max(own, children)) * 1024


def _merged_options(preset: BenchPreset, overrides: Mapping[str, Mapping[str, Any]],
                    backends: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: dict(v) for k, v in preset.options.items()}
    for kind, values in overrides.items():
        merged.setdefault(kind, {}).update(values)
    for kind, name in backends.items():
        merged.setdefault(kind, {})["backend"] = name
    return merged


def _prepare_run_dir(out_dir: Path) -> Path:
    """``OUT/run``, fresh: a record times stages that ran, never ones the pipeline skipped as up to date."""
    run_dir = out_dir / RUN_DIR
    marker = out_dir / MARKER_FILE
    if run_dir.exists():
        if not marker.is_file():
            raise InputError(f"bench: {run_dir} exists and was not made by splatkit bench; pick another --out "
                             "or remove it")
        shutil.rmtree(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("splatkit bench output folder; its run/ is replaced by the next bench\n", encoding="utf-8")
    return run_dir


def run_bench(scene: str | BenchScene, preset: str | BenchPreset, out_dir: str | Path, *,
              datasets_root: str | Path | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None,
              backends: Mapping[str, str] | None = None, record_path: str | Path | None = None,
              progress: Any = None) -> dict[str, Any]:
    """Run ``scene`` with ``preset`` into ``out_dir`` and write the record.

    Parameters
    ----------
    scene, preset
        Names from :data:`splatkit.bench.scenes.SCENES` and :data:`PRESETS`, or the objects.
    out_dir
        Bench folder: ``run/`` (the pipeline's output, replaced on each bench), ``scene/`` (the
        synthetic photos) and the record.
    datasets_root
        Folder holding the real scenes' datasets.
    overrides
        Stage options over the preset's (what ``--set`` gives).
    backends
        Stage kind -> backend name (default: the registry's choice for this machine).
    record_path
        Where the record goes (default ``out_dir/bench.json``).
    progress
        Passed to the pipeline (:class:`~splatkit.stages.ProgressUpdate` callback).

    Returns
    -------
    dict
        The record (valid against :data:`~splatkit.bench.schema.RECORD_SCHEMA`).

    Raises
    ------
    InputError
        Unknown scene or preset, a missing dataset, an ``out_dir/run`` bench did not make.
    """
    from splatkit.bench.environment import capture_environment
    from splatkit.pipeline.runner import run

    scene_obj = scene if isinstance(scene, BenchScene) else _lookup(SCENES, scene, "scene")
    preset_obj = preset if isinstance(preset, BenchPreset) else _lookup(PRESETS, preset, "preset")
    out = Path(out_dir)
    root = Path(datasets_root) if datasets_root is not None else None
    # A missing dataset is refused before anything is written; the synthetic photos are made in OUT.
    photos = None if scene_obj.synthetic else prepare_photos(scene_obj, out, root)
    run_dir = _prepare_run_dir(out)
    options = _merged_options(preset_obj, overrides or {}, backends or {})
    started = time.perf_counter()
    if photos is None:
        photos = prepare_photos(scene_obj, out, root)
    photos_seconds = time.perf_counter() - started
    result = run(photos, run_dir, config=options, progress=progress)
    total = time.perf_counter() - started
    record = build_record(result, scene=scene_obj, preset=preset_obj, options=options,
                          photo_count=_count_photos(photos), environment=capture_environment(),
                          total_seconds=total, photos_seconds=photos_seconds)
    check_record(record, source="splatkit bench (internal)")
    from splatkit.io.atomic import atomic_write_text

    target = Path(record_path) if record_path is not None else out / RECORD_FILE
    atomic_write_text(target, json.dumps(record, indent=1) + "\n")
    logger.info("bench: record written to %s", target)
    return record


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in table:
        raise InputError(f"bench: unknown {what} {name!r}; choose one of {', '.join(table)}")
    return table[name]


def _count_photos(photos: Path) -> int:
    from splatkit.io.images import IMAGE_SUFFIXES

    return sum(1 for p in photos.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _peak_gpu_bytes(train_report: Mapping[str, Any]) -> int | None:
    # The training report's peak is torch.cuda.max_memory_allocated on CUDA, the RSS on a CPU.
    device = str(train_report.get("device") or "")
    peak = train_report.get("peak_memory_bytes")
    return None if device.startswith("cpu") or peak is None else int(peak)


def build_record(result: Any, *, scene: BenchScene, preset: BenchPreset, options: Mapping[str, Any],
                 photo_count: int, environment: Mapping[str, Any], total_seconds: float,
                 photos_seconds: float = 0.0) -> dict[str, Any]:
    """The record of a finished pipeline run (``result``: :class:`~splatkit.pipeline.runner.RunResult`)."""
    stages: dict[str, Any] = {}
    reports: dict[str, Mapping[str, Any]] = {}
    for kind in STAGE_KINDS:
        outcome = result.stage(kind)
        stages[kind] = {"backend": outcome.backend, "status": outcome.status, "seconds": round(outcome.seconds, 3)}
        reports[kind] = (outcome.manifest.report if outcome.manifest is not None else None) or {}
    train = reports["train"]
    heldout_mean = (train.get("heldout") or {}).get("mean") or {}
    compress = reports["compress"]
    render = compress.get("render_psnr") if isinstance(compress.get("render_psnr"), dict) else {}
    final = result.stage("compress").primary_file
    return {
        "format": RECORD_FORMAT, "version": RECORD_VERSION,
        "scene": {"name": scene.name, "description": scene.description, "photos": photo_count,
                  "prepare_seconds": round(photos_seconds, 3)},
        "preset": {"name": preset.name, "options": {k: dict(v) for k, v in options.items()}},
        "environment": dict(environment),
        "stages": stages,
        "total_seconds": round(total_seconds, 3),
        "training": {
            "backend": stages["train"]["backend"], "device": train.get("device"),
            "steps": int(train.get("steps") or 0), "seconds": train.get("seconds"),
            "steps_per_second": train.get("steps_per_second"), "num_gaussians": int(train.get("num_gaussians") or 0),
            "psnr": heldout_mean.get("psnr"), "ssim": heldout_mean.get("ssim"),
            "heldout_views": list(train.get("heldout_views") or ()),
            "resolution": list(train["resolution"]) if train.get("resolution") else None,
            "quality": train.get("quality"),
            "curve": [{k: p.get(k) for k in ("step", "seconds", "num_gaussians", "psnr", "ssim")}
                      for p in train.get("curve") or ()],
        },
        "compression": {
            "backend": stages["compress"]["backend"], "file": final.name if final is not None else None,
            "bytes": compress.get("bytes"), "count": compress.get("count"),
            "render_psnr": _finite(render.get("psnr")) if render else None,
            "render_foreground_psnr": _finite(render.get("foreground_psnr")) if render else None,
        },
        "memory": {"peak_gpu_bytes": _peak_gpu_bytes(train), "peak_host_rss_bytes": peak_host_rss_bytes()},
    }


def _finite(value: Any) -> float | None:
    # render_psnr is inf when decoded and encoded renders are identical; JSON has no inf.
    import math

    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
