"""The ``splatkit bench SCENE`` sub-command (also runnable as a SageMaker training job's command)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from splatkit.bench.scenes import ENV_DATASETS, SCENES, default_datasets_root
from splatkit.bench.suite import PRESETS, RECORD_FILE
from splatkit.errors import SplatkitError

__all__ = ["HELP", "add_bench_parser", "cmd_bench", "default_out_dir"]

HELP = "benchmark a named scene through SfM, training and compression; writes one JSON record"

_EPILOG = ("scenes: " + "; ".join(f"{s.name}: {s.description}" for s in SCENES.values())
           + ".  presets: " + "; ".join(f"{p.name}: {p.description}" for p in PRESETS.values())
           + ".  Inside a SageMaker training job OUT defaults to /opt/ml/model and --datasets to the "
             "'datasets' channel (docs/benchmarks.md).")


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bench`` to a ``splatkit`` sub-command table; the parser runs :func:`cmd_bench`."""
    p = subparsers.add_parser("bench", help=HELP, description=HELP, epilog=_EPILOG, allow_abbrev=False)
    p.add_argument("scene", metavar="SCENE", choices=tuple(SCENES), help=f"one of {', '.join(SCENES)}")
    p.add_argument("--preset", choices=tuple(PRESETS), default="cpu-smoke",
                   help="step count and options (default: cpu-smoke)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="bench folder (default: /opt/ml/model in a SageMaker training job, else bench-out/SCENE-PRESET)")
    p.add_argument("--datasets", metavar="DIR", default=None,
                   help=f"folder holding the real scenes (default: ${ENV_DATASETS}; the synthetic scene needs none)")
    p.add_argument("--json", metavar="FILE", default=None, help=f"where the record goes (default: OUT/{RECORD_FILE})")
    for kind in ("sfm", "train", "compress"):
        p.add_argument(f"--{kind}", metavar="BACKEND", default=None, help=f"{kind} backend (default: auto)")
    p.add_argument("--set", metavar="STAGE.OPTION=VALUE", action="append", default=[],
                   help="a stage option over the preset's, e.g. --set train.steps=500 (repeatable)")
    p.set_defaults(func=cmd_bench)
    return p


def default_out_dir(scene: str, preset: str) -> Path:
    """``/opt/ml/model`` (moved by ``SPLATKIT_SAGEMAKER_ROOT``) in a training job, else ``bench-out/SCENE-PRESET``."""
    if os.environ.get("TRAINING_JOB_NAME"):
        from splatkit.sagemaker import container

        return container.local_path(container.MODEL_DIR)
    return Path("bench-out") / f"{scene}-{preset}"


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the bench; print the record's path and a one-line summary. Returns the exit status."""
    from splatkit.bench.suite import run_bench
    from splatkit.pipeline.config import parse_assignment

    overrides: dict[str, dict[str, str]] = {}
    backends = {k: getattr(args, k) for k in ("sfm", "train", "compress") if getattr(args, k)}
    try:
        for text in args.set:
            kind, name, value = parse_assignment(text)
            if name == "backend":
                backends[kind] = value
            else:
                overrides.setdefault(kind, {})[name] = value
        out = Path(args.out) if args.out else default_out_dir(args.scene, args.preset)
        datasets = Path(args.datasets) if args.datasets else default_datasets_root()
        record = run_bench(args.scene, args.preset, out, datasets_root=datasets, overrides=overrides,
                           backends=backends, record_path=args.json)
    except SplatkitError as e:
        _tell_sagemaker(str(e))
        raise
    target = Path(args.json) if args.json else out / RECORD_FILE
    t = record["training"]
    stage_times = ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in record["stages"].items())
    print(f"splatkit bench: {args.scene} / {args.preset} on {record['environment']['device']}: {stage_times}; "
          f"{t['steps']} steps, {t['num_gaussians']} Gaussians, held-out PSNR {t['psnr']} dB; record: {target}")
    return 0


def _tell_sagemaker(message: str) -> None:
    # In a training job the failure file becomes DescribeTrainingJob's FailureReason.
    if os.environ.get("TRAINING_JOB_NAME"):
        from splatkit.sagemaker import container
        from splatkit.sagemaker.entry import write_job_message

        write_job_message("train", container.local_path(container.OPT_ML), message)
