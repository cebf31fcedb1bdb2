"""Benchmark the SOG encoder: time, size and decode error, ours vs splat-transform.

Usage::

    python benchmarks/compress.py                 # all rows, text table
    python benchmarks/compress.py --rows 100k-sh0 100k-sh3 --json out.json
    python benchmarks/compress.py --palette-check  # two-level vs flat k-means palette RMSE at 100K
    python benchmarks/compress.py --rows 100k-sh0-plas 1m-sh0-plas   # PLAS order (time, size)
    python benchmarks/compress.py --ply trained.ply --sh-degree 0    # morton vs plas on a real cloud

Rows run on synthetic structured clouds (``tests/compress/synthetic.py``). splat-transform rows
need its CLI (``$SPLATKIT_SPLAT_TRANSFORM``, PATH or ``node_modules/.bin``) and run with
``-g cpu``; its CPU k-means takes hours for SH3 at 100K+, so only SH0 rows run by default.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from splatkit.compress.palette import fit_sh_palette, kmeans_flat_numpy, palette_size  # noqa: E402
from splatkit.compress.sog_encoder import SogEncodeOptions, decode_errors, encode_sog, ply_size  # noqa: E402
from splatkit.io import sog  # noqa: E402
from tests.compress.synthetic import synthetic_cloud  # noqa: E402

ROWS = {"100k-sh0": (100_000, 0), "100k-sh3": (100_000, 3), "1m-sh0": (1_000_000, 0), "1m-sh3": (1_000_000, 3),
        "100k-sh0-plas": (100_000, 0), "1m-sh0-plas": (1_000_000, 0)}
# splat-transform -g cpu rows we run by default (SH3 k-means on CPU: hours).
REFERENCE_ROWS = ("100k-sh0",)


def _splat_transform() -> str | None:
    env = os.environ.get("SPLATKIT_SPLAT_TRANSFORM")
    if env and Path(env).is_file():
        return env
    return shutil.which("splat-transform") or (
        str(ROOT / "node_modules/.bin/splat-transform") if (ROOT / "node_modules/.bin/splat-transform").is_file()
        else None)


def bench_ours(n: int, degree: int, device: str, order: str = "morton") -> dict:
    cloud = synthetic_cloud(n, degree, seed=0)
    started = time.perf_counter()
    enc = encode_sog(cloud, SogEncodeOptions(device=device, order=order))
    total = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        size = sog.write_sog(enc.bundle, Path(tmp) / "a.sog").stat().st_size
    errors = decode_errors(enc.encoded, sog.decode_sog(enc.bundle))
    return {"tool": f"splatkit ({device}, {order})", "seconds": round(total, 2), "bytes": size,
            "bytes_per_splat": round(size / n, 2), "ratio_vs_ply": round(ply_size(n, degree) / size, 2),
            "padding": enc.padding, "order_stats": enc.order_stats,
            "members": {k: len(v) for k, v in enc.bundle.members.items()},
            "timings": enc.timings, "errors": {k: float(f"{v:.4g}") for k, v in errors.items()}}


def compare_orders(ply: Path, sh_degree: int | None, device: str) -> dict:
    """Morton vs PLAS on one cloud at the same quantization (same codebooks rule, same palette seed)."""
    from splatkit.io.ply import read_ply

    cloud = read_ply(ply)
    out: dict = {"ply": str(ply), "count": len(cloud), "sh_degree": cloud.sh_degree if sh_degree is None
                 else min(sh_degree, cloud.sh_degree)}
    for order in ("morton", "plas"):
        started = time.perf_counter()
        enc = encode_sog(cloud, SogEncodeOptions(order=order, sh_degree=sh_degree, device=device))
        total = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            size = sog.write_sog(enc.bundle, Path(tmp) / "a.sog").stat().st_size
        errors = decode_errors(enc.encoded, sog.decode_sog(enc.bundle))
        out[order] = {"seconds": round(total, 2), "order_seconds": enc.timings["order"], "bytes": size,
                      "bytes_per_splat": round(size / len(cloud), 3), "padding": enc.padding,
                      "members": {k: len(v) for k, v in enc.bundle.members.items()},
                      "errors": {k: float(f"{v:.4g}") for k, v in errors.items()}}
        print(f"{order:6s} {total:7.1f} s (order {enc.timings['order']:.1f} s) {size / 1e3:9.1f} KB "
              f"{size / len(cloud):6.2f} B/splat padding={enc.padding}", flush=True)
    out["plas_vs_morton"] = round(out["plas"]["bytes"] / out["morton"]["bytes"], 4)
    return out


def bench_reference(n: int, degree: int, exe: str) -> dict:
    from splatkit.io.ply import write_ply

    cloud = synthetic_cloud(n, degree, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        ply = write_ply(cloud, Path(tmp) / "in.ply")
        out = Path(tmp) / "out.sog"
        started = time.perf_counter()
        subprocess.run([exe, "-w", "-q", "-g", "cpu", str(ply), str(out)], check=True, capture_output=True,
                       timeout=3600)
        total = time.perf_counter() - started
        size = out.stat().st_size
    return {"tool": "splat-transform 3.7.0 -g cpu", "seconds": round(total, 2), "bytes": size,
            "bytes_per_splat": round(size / n, 2), "ratio_vs_ply": round(ply_size(n, degree) / size, 2)}


def palette_check(n: int, device: str) -> dict:
    """RMSE of our palette vs a full-batch 10-iteration flat k-means of the same size."""
    cloud = synthetic_cloud(n, 3, seed=0)
    x = cloud.shN.transpose(0, 2, 1).reshape(n, -1).astype(np.float32)
    k = palette_size(n)
    started = time.perf_counter()
    c, lab = fit_sh_palette(x, k, iterations=10, seed=0, device="cpu")
    ours_s = time.perf_counter() - started
    ours = float(np.sqrt(((x - c[lab]) ** 2).mean()))
    started = time.perf_counter()
    if device == "cuda":
        c2, lab2 = fit_sh_palette(x, k, iterations=10, seed=0, device="cuda")
    else:
        c2, lab2 = kmeans_flat_numpy(x, k, iterations=10, rng=np.random.default_rng(0))
    flat_s = time.perf_counter() - started
    flat = float(np.sqrt(((x - c2[lab2]) ** 2).mean()))
    return {"n": n, "k": k, "two_level_rmse": ours, "two_level_seconds": round(ours_s, 2),
            "flat_rmse": flat, "flat_seconds": round(flat_s, 2), "flat_device": device,
            "ratio": round(ours / flat, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--reference-rows", nargs="*", default=list(REFERENCE_ROWS), choices=list(ROWS))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--palette-check", action="store_true", help="only compare palette RMSE at 100K")
    parser.add_argument("--palette-n", type=int, default=100_000)
    parser.add_argument("--ply", type=Path, help="only compare morton vs plas file sizes on this cloud")
    parser.add_argument("--sh-degree", type=int, default=None, help="cap the SH degree (with --ply)")
    parser.add_argument("--json", type=Path, help="also write results here")
    args = parser.parse_args()

    import PIL

    result: dict = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                    "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "python": platform.python_version(), "numpy": np.__version__,
                                "pillow": PIL.__version__}, "rows": {}}
    if args.ply is not None:
        result["orders"] = compare_orders(args.ply, args.sh_degree, args.device)
    elif args.palette_check:
        result["palette_check"] = palette_check(args.palette_n, args.device)
        print(json.dumps(result["palette_check"], indent=1))
    else:
        exe = _splat_transform()
        for name in args.rows:
            n, degree = ROWS[name]
            row = {"ours": bench_ours(n, degree, args.device, "plas" if name.endswith("-plas") else "morton")}
            if name in args.reference_rows and exe:
                row["splat_transform"] = bench_reference(n, degree, exe)
            else:
                row["splat_transform"] = "not run" if exe else "not installed"
            result["rows"][name] = row
            o = row["ours"]
            print(f"{name:9s} ours: {o['seconds']:7.1f} s {o['bytes'] / 1e6:7.2f} MB "
                  f"{o['bytes_per_splat']:6.2f} B/splat "
                  f"{o['ratio_vs_ply']:5.1f}x  pos_max={o['errors']['position_max']:.2g} "
                  f"rot_max={o['errors']['rotation_max_deg']:.2f}deg shN_rms={o['errors'].get('shN_rms', 0):.3g}",
                  flush=True)
            if isinstance(row["splat_transform"], dict):
                r = row["splat_transform"]
                print(f"{'':9s} splat-transform: {r['seconds']:7.1f} s {r['bytes'] / 1e6:7.2f} MB "
                      f"{r['bytes_per_splat']:6.2f} B/splat {r['ratio_vs_ply']:5.1f}x", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
