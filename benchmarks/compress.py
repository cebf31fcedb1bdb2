"""Benchmark the SOG encoder: time, size and quality, ours (Morton and PLAS) vs splat-transform.

Usage::

    python benchmarks/compress.py --json out.json          # every default row, markdown table
    python benchmarks/compress.py --clouds 100k-sh0 --tools morton splat-transform
    python benchmarks/compress.py --palette-check          # two-level vs flat k-means palette RMSE at 100K
    python benchmarks/compress.py --ply trained.ply --sh-degree 0    # morton vs plas on a real cloud

Clouds are synthetic and structured (``tests/compress/synthetic.py``, seed 0). Each row encodes
one cloud with one tool, then decodes the file with splatkit's reader and measures it against the
source cloud: per-attribute errors and the render PSNR (``splatkit.compress.quality.render_psnr``:
4 orbit views at 256x192 on the cpu rasterizer, every splat rendered unless ``--render-max-splats``
caps it, the same seeded subset for every row of a cloud). splat-transform's splats come back in
its own order and are matched to the source by nearest position (:func:`match_by_position`).

splat-transform rows need its CLI (``--splat-transform``, ``$SPLATKIT_SPLAT_TRANSFORM``, PATH or
``node_modules/.bin``) and run with ``-g cpu`` on a PLY of the same cloud; its CPU SH k-means takes
hours at 100K+ splats with SH3, so by default it runs only on ``100k-sh0``, ``1m-sh0`` and
``20k-sh3``. "seconds" is wall time: ours = encode + write the ``.sog``; theirs = the CLI run (read
the PLY, encode, write).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from splatkit.compress.palette import fit_sh_palette, kmeans_flat_numpy, palette_size  # noqa: E402
from splatkit.compress.quality import render_psnr  # noqa: E402
from splatkit.compress.sog_encoder import SogEncodeOptions, decode_errors, encode_sog, ply_size  # noqa: E402
from splatkit.contracts import GaussianCloud  # noqa: E402
from splatkit.io import sog  # noqa: E402
from tests.compress.synthetic import synthetic_cloud  # noqa: E402

#: name -> (splats, SH degree)
CLOUDS = {"100k-sh0": (100_000, 0), "100k-sh3": (100_000, 3), "1m-sh0": (1_000_000, 0),
          "1m-sh3": (1_000_000, 3), "20k-sh3": (20_000, 3)}
DEFAULT_CLOUDS = ("20k-sh3", "100k-sh0", "100k-sh3", "1m-sh0", "1m-sh3")
TOOLS = ("morton", "plas", "splat-transform")
# splat-transform -g cpu runs only here by default (its SH3 k-means on CPU takes hours at 100K+).
REFERENCE_CLOUDS = ("100k-sh0", "1m-sh0", "20k-sh3")
NOT_RUN = "not run (CPU k-means takes hours)"


def _splat_transform(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("SPLATKIT_SPLAT_TRANSFORM")):
        if candidate and Path(candidate).is_file():
            return candidate
    local = ROOT / "node_modules/.bin/splat-transform"
    return shutil.which("splat-transform") or (str(local) if local.is_file() else None)


def _child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: ``--render-max-splats`` (None: render every splat; the stage report caps at 250K).
RENDER_MAX_SPLATS: int | None = None


def _quality(source: GaussianCloud, decoded: GaussianCloud, match: np.ndarray, device: str) -> dict[str, Any]:
    """Errors and render PSNR of ``decoded`` vs ``source``; ``decoded[i]`` is ``source[match[i]]``."""
    errors = decode_errors(source.subset(match), decoded)
    order = np.argsort(match)            # decoded rows in source order: every row renders the same subset
    backend = "gsplat" if device == "cuda" else "cpu"
    psnr = render_psnr(source.subset(match[order]), decoded.subset(order), backend=backend,
                       max_splats=RENDER_MAX_SPLATS)
    return {"errors": {k: float(f"{v:.4g}") for k, v in errors.items()},
            "render_psnr": {k: psnr[k] for k in ("psnr", "foreground_psnr", "splats", "subsampled", "width",
                                                 "height", "backend", "seconds")}
            | {"views": [v["psnr"] for v in psnr["views"]]}}


def bench_ours(cloud: GaussianCloud, order: str, device: str) -> dict[str, Any]:
    n = len(cloud)
    cpu0, started = time.process_time(), time.perf_counter()
    enc = encode_sog(cloud, SogEncodeOptions(device=device, order=order))
    with tempfile.TemporaryDirectory() as tmp:
        size = sog.write_sog(enc.bundle, Path(tmp) / "a.sog").stat().st_size
    total, cpu = time.perf_counter() - started, time.process_time() - cpu0
    decoded = sog.decode_sog(enc.bundle)
    return {"tool": f"splatkit {order} ({device})", "seconds": round(total, 2), "cpu_seconds": round(cpu, 2),
            "bytes": size, "bytes_per_splat": round(size / n, 3),
            "ratio_vs_ply": round(ply_size(n, cloud.sh_degree) / size, 2), "padding": enc.padding,
            "members": {k: len(v) for k, v in enc.bundle.members.items()}, "timings": enc.timings,
            **_quality(cloud, decoded, enc.source_index, device)}


def bench_reference(cloud: GaussianCloud, exe: str, timeout: float, device: str) -> dict[str, Any] | str:
    from splatkit.io.ply import write_ply

    n = len(cloud)
    with tempfile.TemporaryDirectory() as tmp:
        ply = write_ply(cloud, Path(tmp) / "in.ply")
        out = Path(tmp) / "out.sog"
        cpu0, started = _child_cpu_seconds(), time.perf_counter()
        try:
            subprocess.run([exe, "-w", "-q", "-g", "cpu", str(ply), str(out)], check=True, capture_output=True,
                           timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s"
        total, cpu = time.perf_counter() - started, _child_cpu_seconds() - cpu0
        size = out.stat().st_size
        bundle = sog.read_sog(out)
    decoded = sog.decode_sog(bundle)
    match, distance, conflicts = match_by_position(cloud, decoded)
    row: dict[str, Any] = {"tool": "splat-transform 3.7.0 -g cpu", "seconds": round(total, 2),
                           "cpu_seconds": round(cpu, 2), "bytes": size, "bytes_per_splat": round(size / n, 3),
                           "ratio_vs_ply": round(ply_size(n, cloud.sh_degree) / size, 2),
                           "decoded_count": len(decoded), "match_max_distance": float(f"{distance.max():.3g}"),
                           "match_conflicts": conflicts,
                           "members": {k: len(v) for k, v in bundle.members.items()}}
    matched = int(np.unique(match[match >= 0]).size)
    if len(decoded) != n or matched != n:
        row["quality"] = f"not measured: {len(decoded)} decoded splats matched {matched} of {n}"
        return row
    return row | _quality(cloud, decoded, match, device)


def match_by_position(source: GaussianCloud, decoded: GaussianCloud, *,
                      k: int = 8) -> tuple[np.ndarray, np.ndarray, int]:
    """Which source splat each decoded splat is: nearest position, one-to-one.

    splat-transform writes its own Morton order. Nearest neighbours are unique except where two
    source splats lie closer together than the quantisation error (a handful at 1M); those
    decoded splats are assigned jointly (Hungarian) among their ``k`` nearest unclaimed sources,
    by position distance plus log-scale and opacity differences, which tell near-twins apart.

    Returns
    -------
    match : int64 [M]
        Source index of each decoded splat (-1: none left within ``k``).
    distance : float64 [M]
        Distance to the matched source.
    conflicts : int
        Decoded splats whose nearest source was also another's nearest.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial import cKDTree

    src, dec = source.means.astype(np.float64), decoded.means.astype(np.float64)

    def attributes(c: GaussianCloud) -> np.ndarray:
        return np.c_[c.log_scales, 1.0 / (1.0 + np.exp(-c.opacity_logits.astype(np.float64)))]

    tree = cKDTree(src)
    _, nearest = tree.query(dec)
    unique = np.bincount(nearest, minlength=src.shape[0])[nearest] == 1
    match = np.where(unique, nearest, -1)
    taken = np.zeros(src.shape[0], bool)
    taken[nearest[unique]] = True
    rest = np.flatnonzero(~unique)
    if rest.size:
        candidates = np.atleast_2d(tree.query(dec[rest], k=min(k, src.shape[0]))[1])
        pool = np.unique(candidates)
        pool = pool[~taken[pool]]
        step = float(np.linalg.norm(dec[unique] - src[nearest[unique]], axis=1).max(initial=1e-9))
        cost = (np.linalg.norm(dec[rest, None, :] - src[None, pool, :], axis=2) / step
                + np.abs(attributes(decoded.subset(rest))[:, None, :]
                         - attributes(source.subset(pool))[None, :, :]).sum(axis=2) / 0.05)
        rows, cols = linear_sum_assignment(cost)
        match[rest[rows]] = pool[cols]
    ok = match >= 0
    distance = np.full(dec.shape[0], np.inf)
    distance[ok] = np.linalg.norm(dec[ok] - src[match[ok]], axis=1)
    return match.astype(np.int64), distance, int(rest.size)


def compare_orders(ply: Path, sh_degree: int | None, device: str) -> dict[str, Any]:
    """Morton vs PLAS on one cloud at the same quantization (same codebooks rule, same palette seed)."""
    from splatkit.io.ply import read_ply

    cloud = read_ply(ply)
    if sh_degree is not None and sh_degree < cloud.sh_degree:
        from splatkit.compress.sog_encoder import clean_cloud

        cloud, _ = clean_cloud(cloud, sh_degree)
    out: dict[str, Any] = {"ply": str(ply), "count": len(cloud), "sh_degree": cloud.sh_degree}
    for order in ("morton", "plas"):
        out[order] = row = bench_ours(cloud, order, device)
        print(f"{order:6s} {row['seconds']:7.1f} s (order {row['timings']['order']:.1f} s) "
              f"{row['bytes'] / 1e3:9.1f} KB {row['bytes_per_splat']:6.2f} B/splat padding={row['padding']} "
              f"PSNR {row['render_psnr']['psnr']} dB", flush=True)
    out["plas_vs_morton"] = round(out["plas"]["bytes"] / out["morton"]["bytes"], 4)
    return out


def palette_check(n: int, device: str) -> dict[str, Any]:
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


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as the table in docs/benchmarks.md."""
    head = ("| cloud | tool | seconds (CPU s) | size | bytes/splat | vs PLY | render PSNR / fg PSNR dB "
            "| pos max | rot max deg | log-scale rms | sh0 rms | opacity max | shN rms |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        res = r["result"]
        if isinstance(res, str):
            lines.append(f"| {r['cloud']} | {r['tool']} | {res} |" + " |" * 10)
            continue
        q = res.get("render_psnr")
        psnr = f"{q['psnr']:.2f} / {q['foreground_psnr']:.2f}" if isinstance(q, dict) else res.get("quality", "-")
        if isinstance(q, dict) and q["subsampled"]:
            psnr += f" ({q['splats'] // 1000}K rendered)"
        e = res.get("errors", {})

        def g(key: str, fmt: str = ".3g") -> str:
            return format(e[key], fmt) if key in e else "-"

        lines.append(f"| {r['cloud']} | {res['tool']} | {res['seconds']:.1f} ({res['cpu_seconds']:.0f}) "
                     f"| {res['bytes'] / 1e6:.2f} MB | {res['bytes_per_splat']:.2f} | {res['ratio_vs_ply']:.1f}x "
                     f"| {psnr} | {g('position_max')} | {g('rotation_max_deg', '.2f')} | {g('log_scale_rms')} "
                     f"| {g('sh0_rms')} | {g('opacity_max')} | {g('shN_rms')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clouds", nargs="*", default=list(DEFAULT_CLOUDS), choices=list(CLOUDS))
    parser.add_argument("--tools", nargs="*", default=list(TOOLS), choices=list(TOOLS))
    parser.add_argument("--reference-clouds", nargs="*", default=list(REFERENCE_CLOUDS), choices=list(CLOUDS),
                        help="clouds splat-transform runs on (the others are reported as not run)")
    parser.add_argument("--reference-timeout", type=float, default=1800.0, help="seconds per splat-transform run")
    parser.add_argument("--splat-transform", help="path of the splat-transform CLI")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--palette-check", action="store_true", help="only compare palette RMSE at 100K")
    parser.add_argument("--palette-n", type=int, default=100_000)
    parser.add_argument("--ply", type=Path, help="only compare morton vs plas (size, quality) on this cloud")
    parser.add_argument("--sh-degree", type=int, default=None, help="cap the SH degree (with --ply)")
    parser.add_argument("--render-max-splats", type=int, default=None,
                        help="render at most this many splats for the PSNR (default: all)")
    parser.add_argument("--json", type=Path, help="also write results here (rewritten after every row)")
    args = parser.parse_args()
    global RENDER_MAX_SPLATS
    RENDER_MAX_SPLATS = args.render_max_splats

    import PIL

    exe = _splat_transform(args.splat_transform)
    version = None
    if exe:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
        version = (done.stdout + done.stderr).strip()     # 3.7.0 prints it on stderr
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "pillow": PIL.__version__, "splat_transform": version},
        "rows": []}

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))

    if args.ply is not None:
        result["orders"] = compare_orders(args.ply, args.sh_degree, args.device)
    elif args.palette_check:
        result["palette_check"] = palette_check(args.palette_n, args.device)
        print(json.dumps(result["palette_check"], indent=1))
    else:
        for name in args.clouds:
            n, degree = CLOUDS[name]
            cloud = synthetic_cloud(n, degree, seed=0)
            for tool in args.tools:
                if tool != "splat-transform":
                    res: dict[str, Any] | str = bench_ours(cloud, tool, args.device)
                elif not exe:
                    res = "not installed"
                elif name not in args.reference_clouds:
                    res = NOT_RUN
                else:
                    res = bench_reference(cloud, exe, args.reference_timeout, args.device)
                result["rows"].append({"cloud": name, "count": n, "sh_degree": degree, "tool": tool, "result": res})
                save()
                print(markdown_table(result["rows"][-1:]).splitlines()[-1], flush=True)
        print(markdown_table(result["rows"]))
    save()


if __name__ == "__main__":
    main()
