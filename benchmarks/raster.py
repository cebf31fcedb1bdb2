"""Rasterizer benchmark: forward+backward time vs Gaussian count and resolution, per backend.

The scene is a **trained model** when ``--ply`` names one: its Gaussians (in world units, as
``train/cpu`` or ``train/gsplat`` export them), grown to the requested count by copying random
Gaussians and jittering each copy by its own scale, or subsampled, seen from a training camera of
the COLMAP model (``--view``; default: the first image that is not held out, i.e. not every 8th
by name). ``benchmarks/train.py --workdir W`` leaves such a model in ``W/point_cloud.ply``.

Without ``--ply`` the scene is synthetic and "trained-like": the SfM points of
``llff-fern/colmap_504x378/sparse/0`` replicated and jittered to the requested count, with
kNN-based scales, random rotations, opacities spread over (0.05, 0.95) and SH degree 3, seen from
the model's first camera. Without the dataset a random cloud in front of an identity camera is
used. The synthetic scene is cheaper per tile intersection than a trained one (docs/benchmarks.md).

Intrinsics are rescaled to the requested resolution.

Usage::

    python benchmarks/raster.py [--ply W/point_cloud.ply] [--counts 10000 100000 1000000]
                                [--sizes 512x384 1024x768] [--backends cpu gsplat] [--repeats 10]
                                [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "llff-fern"
SPARSE = DATASET / "colmap_504x378" / "sparse" / "0"


def _read_points_bin(path: Path) -> np.ndarray:
    """xyz [P, 3] of a COLMAP ``points3D.bin`` (tiny local reader; tracks are skipped)."""
    data = path.read_bytes()
    (n,) = struct.unpack_from("<Q", data, 0)
    off, xyz = 8, np.empty((n, 3))
    for i in range(n):
        _, x, y, z = struct.unpack_from("<Qddd", data, off)
        off += 8 + 24 + 3 + 8  # id, xyz, rgb, error
        (track_len,) = struct.unpack_from("<Q", data, off)
        off += 8 + 8 * track_len
        xyz[i] = (x, y, z)
    return xyz


def _read_first_camera(sparse: Path) -> tuple[np.ndarray, np.ndarray, int, int]:
    """cam_from_world [4, 4], K [3, 3], width, height of the first image of a binary model."""
    data = (sparse / "cameras.bin").read_bytes()
    _, model_id, width, height = struct.unpack_from("<IiQQ", data, 8)
    n_params = {0: 3, 1: 4, 2: 4, 3: 5, 4: 8}[model_id]
    params = struct.unpack_from(f"<{n_params}d", data, 8 + 24)
    if model_id in (0, 2, 3):  # SIMPLE_PINHOLE / SIMPLE_RADIAL / RADIAL: f, cx, cy, ...
        fx = fy = params[0]
        cx, cy = params[1], params[2]
    else:
        fx, fy, cx, cy = params[:4]
    data = (sparse / "images.bin").read_bytes()
    _, qw, qx, qy, qz, tx, ty, tz = struct.unpack_from("<Iddddddd", data, 8)
    w, x, y, z = qw, qx, qy, qz
    R = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])
    viewmat = np.eye(4)
    viewmat[:3, :3], viewmat[:3, 3] = R, (tx, ty, tz)
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    return viewmat, K, int(width), int(height)


def trained_like_scene(n: int, seed: int = 0, sparse: Path = SPARSE) -> dict:
    """A synthetic cloud of ``n`` Gaussians shaped like a trained scene (numpy float32)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    if (sparse / "points3D.bin").exists():
        try:
            from splatkit.io.colmap import read_colmap_model  # the io layer's reader, if present
        except ImportError:
            points = _read_points_bin(sparse / "points3D.bin")
            viewmat, K, w0, h0 = _read_first_camera(sparse)
        else:
            rec = read_colmap_model(sparse)
            points = np.asarray(rec.points.xyz)
            viewmat, K, w0, h0 = _read_first_camera(sparse)  # intrinsics (single-camera model)
            viewmat[:3, :3] = rec.frames.rotation[0]
            viewmat[:3, 3] = rec.frames.translation[0]
        source = "llff-fern colmap_504x378 points, first camera"
    else:
        points = rng.normal(size=(5000, 3)) * [1.0, 0.7, 0.5] + [0, 0, 4]
        viewmat, K, w0, h0 = np.eye(4), np.array([[400.0, 0, 252], [0, 400, 189], [0, 0, 1]]), 504, 378
        source = "random cloud (llff-fern not found)"
    dist, _ = cKDTree(points).query(points, k=4)
    spacing = dist[:, 1:].mean(axis=1)
    pick = rng.integers(0, len(points), size=n)
    # Replicas spread over the local point spacing, so density grows like a densified model.
    means = points[pick] + rng.normal(size=(n, 3)) * spacing[pick, None]
    dens = cKDTree(means).query(means, k=4)[0][:, 1:].mean(axis=1)
    scales = dens[:, None] * np.exp(rng.normal(scale=0.3, size=(n, 3)))
    return {
        "means": means.astype(np.float32),
        "quats": rng.normal(size=(n, 4)).astype(np.float32),
        "scales": scales.astype(np.float32),
        "opacities": rng.uniform(0.05, 0.95, size=n).astype(np.float32),
        "sh": (rng.normal(size=(n, 16, 3)) * [[0.5]] + 0.0).astype(np.float32)
        * np.r_[1.0, np.full(15, 0.1)][None, :, None].astype(np.float32),
        "viewmat": viewmat.astype(np.float32),
        "K": K.astype(np.float32),
        "base_size": (w0, h0),
        "source": source,
    }


def trained_scene(ply: Path, n: int, sparse: Path = SPARSE, view: str | None = None, seed: int = 0) -> dict:
    """``n`` Gaussians of the trained model ``ply`` (grown or subsampled), seen from a training view."""
    from splatkit.io.colmap import read_colmap_model
    from splatkit.io.ply import read_ply

    cloud = read_ply(ply)
    rng = np.random.default_rng(seed)
    m = len(cloud)
    if n <= m:
        rows = np.sort(rng.choice(m, size=n, replace=False))
        jitter = np.zeros((n, 3))
    else:  # grow: copies of random Gaussians, each moved by its own (mean) scale
        extra = rng.integers(0, m, size=n - m)
        rows = np.concatenate([np.arange(m), extra])
        sigma = np.exp(cloud.log_scales[extra].astype(np.float64)).mean(axis=1, keepdims=True)
        jitter = np.concatenate([np.zeros((m, 3)), rng.normal(size=(n - m, 3)) * sigma])
    means = cloud.means[rows].astype(np.float64) + jitter
    k = cloud.shN.shape[1]
    sh = np.zeros((n, 16, 3), np.float32)
    sh[:, 0] = cloud.sh0[rows]
    sh[:, 1:1 + k] = cloud.shN[rows]
    rec = read_colmap_model(sparse)
    names = list(rec.frames.names)
    if view is None:
        held_out = set(sorted(names)[::8])
        view = next(name for name in sorted(names) if name not in held_out)
    i = names.index(view)
    cam = rec.cameras[rec.frames.camera_index[i]]
    viewmat = np.eye(4)
    viewmat[:3, :3], viewmat[:3, 3] = rec.frames.rotation[i], rec.frames.translation[i]
    if cam.model in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL"):
        fx = fy = cam.params[0]
        cx, cy = cam.params[1], cam.params[2]
    else:
        fx, fy, cx, cy = cam.params[:4]
    return {
        "means": means.astype(np.float32),
        "quats": cloud.quats[rows].astype(np.float32),
        "scales": np.exp(cloud.log_scales[rows]).astype(np.float32),
        "opacities": (1.0 / (1.0 + np.exp(-cloud.opacity_logits[rows].astype(np.float64)))).astype(np.float32),
        "sh": sh,
        "viewmat": viewmat.astype(np.float32),
        "K": np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], np.float32),
        "base_size": (int(cam.width), int(cam.height)),
        "source": f"trained model {ply.name} ({m} Gaussians, {'grown' if n > m else 'subsampled'} to {n}), "
                  f"view {view}",
    }


def time_backend(scene: dict, backend: str, width: int, height: int, repeats: int) -> dict:
    """Median forward and forward+backward seconds of ``rasterize`` on one camera."""
    import torch

    from splatkit import render

    device = "cuda" if backend == "gsplat" else "cpu"
    w0, h0 = scene["base_size"]
    K = scene["K"].copy()
    K[0] *= width / w0
    K[1] *= height / h0
    t = {k: torch.from_numpy(scene[k]).to(device) for k in ("means", "quats", "scales", "opacities", "sh")}
    params = {k: v.clone().requires_grad_(True) for k, v in t.items()}
    viewmat = torch.from_numpy(scene["viewmat"]).to(device)
    K_t = torch.from_numpy(K).to(device)
    weights = torch.rand(height, width, 3, device=device)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def step(backward: bool) -> tuple[float, dict]:
        for p in params.values():
            p.grad = None
        sync()
        start = time.perf_counter()
        rgb, alpha, info = render.rasterize(
            params["means"], params["quats"], params["scales"], params["opacities"], params["sh"],
            viewmat, K_t, width, height, sh_degree=3, backend=backend,
        )
        if backward:
            ((rgb * weights).sum() + alpha.sum()).backward()
        sync()
        return time.perf_counter() - start, info

    first, info = step(True)  # warm-up (JIT compile / numba cache load on first call)
    step(True)
    fwd = [step(False)[0] for _ in range(repeats)]
    fwd_bwd = [step(True)[0] for _ in range(repeats)]
    visible = int((info["radii"] > 0).all(-1).sum())
    n_isects = int(info["tiles_per_gauss"].sum())
    return {
        "backend": backend,
        "n_gaussians": int(scene["means"].shape[0]),
        "width": width,
        "height": height,
        "visible": visible,
        "n_isects": n_isects,
        "first_call_s": first,
        "forward_median_s": statistics.median(fwd),
        "forward_backward_median_s": statistics.median(fwd_bwd),
        "forward_backward_min_s": min(fwd_bwd),
        "repeats": repeats,
    }


def environment() -> dict:
    """The shared benchmark record (:func:`splatkit.bench.environment.capture_environment`) plus
    the thread counts and load average that CPU timings here depend on."""
    import torch

    from splatkit.bench.environment import capture_environment

    env = capture_environment(cuda=torch.cuda.is_available())
    env["torch_threads"] = torch.get_num_threads()
    env["load_average"] = os.getloadavg()
    try:
        import numba

        env["numba_threads"] = numba.get_num_threads()
    except ImportError:
        env["numba_threads"] = None
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--sizes", nargs="+", default=["512x384", "1024x768"])
    parser.add_argument("--backends", nargs="+", default=["cpu", "gsplat"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--sparse", type=Path, default=SPARSE,
                        help="COLMAP model: its points seed the synthetic scene; its cameras view --ply")
    parser.add_argument("--ply", type=Path, default=None,
                        help="a trained model (3DGS PLY in the --sparse model's world frame) to render")
    parser.add_argument("--view", default=None, help="image name of the camera (with --ply)")
    args = parser.parse_args(argv)

    import torch

    from splatkit import render

    env = environment()
    backends = [b for b in args.backends if b in render.available_backends()]
    skipped = sorted(set(args.backends) - set(backends))
    if skipped:
        print(f"skipping unavailable backends: {skipped}", file=sys.stderr)
    versions = env["versions"]
    print(f"# {env['date']}  {env['device']}  torch {versions['torch']}  numba {versions['numba']}"
          f"  gsplat {versions['gsplat']}  threads {env['torch_threads']}")
    header = (f"{'backend':8} {'N':>9} {'size':>9} {'visible':>9} {'isects':>10} "
              f"{'first s':>8} {'fwd ms':>9} {'fwd+bwd ms':>11}")
    print(header)
    rows = []
    for n in args.counts:
        scene = (trained_scene(args.ply, n, sparse=args.sparse, view=args.view) if args.ply is not None
                 else trained_like_scene(n, sparse=args.sparse))
        print(f"# scene: {scene['source']}", flush=True)
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            for backend in backends:
                r = time_backend(scene, backend, width, height, args.repeats)
                r["scene"] = scene["source"]
                rows.append(r)
                print(f"{backend:8} {n:>9} {size:>9} {r['visible']:>9} {r['n_isects']:>10} "
                      f"{r['first_call_s']:>8.2f} {1e3 * r['forward_median_s']:>9.1f} "
                      f"{1e3 * r['forward_backward_median_s']:>11.1f}", flush=True)
    del torch
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"environment": env, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
