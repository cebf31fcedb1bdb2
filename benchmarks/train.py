"""Training benchmark: a full 3DGS run on llff-fern (504x378), steps/s, memory, Gaussians, held-out PSNR/SSIM.

Usage::

    python benchmarks/train.py --backend cpu --steps 3000 --json out.json
    python benchmarks/train.py --backend gsplat --steps 7000 --json out.json   # on a CUDA machine
    python benchmarks/train.py --preset equal-work --json out.json   # issue 13's CPU step-speed work

``--preset equal-work`` is the work OpenSplat 1.1.5's CPU build was timed on (issue 13): 300 steps,
the 1,850 SfM points as Gaussians and no densification (refinement would start at step 500, as
OpenSplat's default warm-up; no opacity reset), SH degree 3 unlocked every 1,000 steps (OpenSplat's
default, so degree 0 throughout), evaluation only at the end. Explicit options override the preset.
Per-step wall times (from the progress callback) go into the JSON's ``step_times``.

Held-out views are every 8th image by name (image000, image008, image016), as in the issue.
Prints a table of the training curve and writes JSON with device, versions, date and the curve.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_ENV = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")
FERN = ROOT.parent / "shared" / "datasets" / "llff-fern"


def run_metadata(device: str) -> dict[str, object]:
    """Device, library versions, date and git commit for a benchmark record."""
    import numpy as np

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "gsplat", "numba", "pycolmap"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=False).stdout.strip() or None
    except OSError:
        commit = None
    # Thread settings change CPU timings a lot on a shared machine (docs/benchmarks.md, issue 13).
    threads_env = {k: os.environ.get(k) for k in THREAD_ENV}
    return {"device": device, "cpus": os.cpu_count(), "platform": platform.platform(), "versions": versions,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "git_commit": commit,
            "thread_env": threads_env}


#: Named option sets; ``equal-work`` is issue 13's comparison with OpenSplat's CPU build.
PRESETS: dict[str, dict[str, object]] = {
    "equal-work": {"steps": 300, "refine_start": 500, "refine_stop": 300, "reset_every": 100_000,
                   "sh_interval": 1000, "eval_every": 0},
}


def step_time_summary(step_times: list[float]) -> dict[str, float] | None:
    """Mean, median, min and the best 50-step stretch of per-step wall times (s)."""
    if not step_times:
        return None
    ordered = sorted(step_times)
    window = min(50, len(step_times))
    best = min(sum(step_times[i:i + window]) for i in range(len(step_times) - window + 1)) / window
    return {"steps": len(step_times), "mean_s": sum(step_times) / len(step_times),
            "median_s": ordered[len(ordered) // 2], "min_s": ordered[0], "best_50_mean_s": best}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=tuple(PRESETS), default=None,
                        help="a named set of the options below (explicit options win)")
    parser.add_argument("--backend", choices=("cpu", "gsplat"), default="cpu")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--sh-degree", type=int, default=3)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--max-gaussians", type=int, default=2_000_000)
    parser.add_argument("--refine-start", type=int, default=None, help="default: min(500, steps // 10)")
    parser.add_argument("--refine-stop", type=int, default=None, help="default: 60%% of the steps")
    parser.add_argument("--reset-every", type=int, default=None,
                        help="opacity reset period; default: a quarter of the refine window (>= 300)")
    parser.add_argument("--refine-every", type=int, default=100, help="steps between densification passes")
    parser.add_argument("--grow-grad2d", type=float, default=2e-4, help="screen-gradient threshold to clone/split")
    parser.add_argument("--sh-interval", type=int, default=None, help="steps per SH degree; default steps // 10")
    parser.add_argument("--data", type=Path, default=FERN)
    parser.add_argument("--workdir", type=Path, default=None, help="keep outputs here (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    if argv is None:
        argv = sys.argv[1:]
    preset = parser.parse_known_args(argv)[0].preset
    if preset is not None:
        parser.set_defaults(**PRESETS[preset])
    args = parser.parse_args(argv)

    from splatkit.contracts import PosedImages
    from splatkit.io.colmap import read_colmap_model
    from splatkit.plugins import PluginManager
    from splatkit.stages import ProgressUpdate
    from splatkit.train.config import TrainConfig

    if not (args.data / "colmap_504x378" / "sparse" / "0").is_dir():
        print(f"dataset not found: {args.data}", file=sys.stderr)
        return 1
    posed = PosedImages(reconstruction=read_colmap_model(args.data / "colmap_504x378" / "sparse" / "0"),
                        image_dir=args.data / "images_8")
    # Densification windows scale with the run (gsplat's steps_scaler idea): refine until 60 %,
    # reset opacity every quarter of the refine window, no earlier than step 300.
    refine_stop = args.refine_stop if args.refine_stop is not None else int(args.steps * 0.6)
    config = TrainConfig(
        steps=args.steps, sh_degree=args.sh_degree, eval_every=args.eval_every,
        max_gaussians=args.max_gaussians,
        refine_start=args.refine_start if args.refine_start is not None else min(500, args.steps // 10),
        refine_stop=refine_stop, refine_every=args.refine_every, grow_grad2d=args.grow_grad2d,
        reset_every=args.reset_every if args.reset_every is not None else max(300, refine_stop // 4),
        sh_degree_interval=args.sh_interval if args.sh_interval is not None else max(1, args.steps // 10),
        checkpoint_every=0)
    stage_cls = PluginManager(load_entrypoints=False).stages.require_available("train", args.backend)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="splatkit-bench-train-"))
    step_times: list[float] = []
    last = [0.0]

    def show(update: ProgressUpdate) -> None:
        now = time.perf_counter()
        step_times.append(now - last[0])  # the first one includes loading the scene
        last[0] = now
        if update.step % 100 == 0:
            print(f"  step {update.step}/{update.total}: {time.perf_counter() - t0:7.1f} s, "
                  f"{int(update.metrics['num_gaussians'])} Gaussians, loss {update.metrics['loss']:.4f}", flush=True)

    t0 = time.perf_counter()
    last[0] = t0
    result = stage_cls().run(posed, config, workdir, progress=show)
    report = result.report

    print(f"{'step':>6} {'loss':>8} {'gaussians':>10} {'psnr':>7} {'ssim':>7}")
    for row in report["curve"]:
        if "psnr" in row or row["step"] % max(1, args.steps // 10) == 0:
            print(f"{row['step']:>6} {row['loss']:>8.4f} {row['num_gaussians']:>10} "
                  f"{row.get('psnr', float('nan')):>7.2f} {row.get('ssim', float('nan')):>7.4f}")
    mean = report["heldout"]["mean"]
    print(f"\n{args.backend} on {report['device']}: {report['steps']} steps in {report['seconds']:.1f} s "
          f"({report['steps_per_second']:.2f} steps/s), {report['num_gaussians']} Gaussians, "
          f"held-out PSNR {mean['psnr']:.2f} dB, SSIM {mean['ssim']:.4f}, "
          f"peak memory {report['peak_memory_bytes'] / 2**20:.0f} MiB")
    timing = step_time_summary(step_times[1:])
    if timing:
        print(f"per step (steps 2..{len(step_times)}): mean {timing['mean_s']:.3f} s, median "
              f"{timing['median_s']:.3f} s, best 50-step stretch {timing['best_50_mean_s']:.3f} s/step")
    if args.json:
        record = {"benchmark": "train", "dataset": "llff-fern 504x378", "preset": args.preset,
                  **run_metadata(report["device"]), "load_average": os.getloadavg(),
                  "result": {k: report[k] for k in ("backend", "steps", "seconds", "steps_per_second",
                                                    "num_gaussians", "heldout", "curve", "peak_memory_bytes",
                                                    "opacity_resets", "config")},
                  "step_time_summary": timing, "step_times": [round(t, 4) for t in step_times]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
