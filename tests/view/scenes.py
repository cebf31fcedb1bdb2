"""Small scenes for the viewer tests: a synthetic cloud, a camera looking at it, splatkit's CPU render."""

from __future__ import annotations

import math

import numpy as np

from splatkit.contracts import GaussianCloud

#: The test image: small, so SwiftShader and the CPU rasterizer are quick.
WIDTH, HEIGHT = 320, 240


def synthetic_cloud(count: int = 3000, *, sh_degree: int = 3, seed: int = 0) -> GaussianCloud:
    """A box of anisotropic, view-dependent splats around the origin (positions within +-1.2).

    Strongly anisotropic scales (a quaternion decoded in the wrong order turns them visibly) and
    large higher-order SH (ignoring the palette changes colours visibly).
    """
    rng = np.random.default_rng(seed)
    k = (sh_degree + 1) ** 2 - 1
    log_scales = np.log(rng.uniform(0.01, 0.05, (count, 3)))
    log_scales[np.arange(count), rng.integers(0, 3, count)] = np.log(rng.uniform(0.12, 0.3, count))
    quats = rng.normal(size=(count, 4))
    return GaussianCloud(
        means=rng.uniform(-1.2, 1.2, (count, 3)).astype(np.float32),
        log_scales=log_scales.astype(np.float32),
        quats=(quats / np.linalg.norm(quats, axis=1, keepdims=True)).astype(np.float32),
        opacity_logits=rng.uniform(-0.5, 3.0, count).astype(np.float32),
        sh0=rng.uniform(-1.2, 1.2, (count, 3)).astype(np.float32),
        shN=(rng.normal(size=(count, k, 3)) * 0.35).astype(np.float32),
    )


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``cam_from_world`` [4, 4] (OpenCV axes) of a camera at ``eye`` looking at ``target``."""
    f = target - eye
    f = f / np.linalg.norm(f)
    r = np.cross(f, up)
    r = r / np.linalg.norm(r)
    d = np.cross(f, r)
    viewmat = np.eye(4)
    viewmat[:3, :3] = np.stack([r, d, f])
    viewmat[:3, 3] = -viewmat[:3, :3] @ eye
    return viewmat


def scene_camera(distance: float = 3.6, *, width: int = WIDTH, height: int = HEIGHT,
                centre: np.ndarray | None = None, up: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An oblique camera looking at ``centre`` (default origin): ``(viewmat [4, 4], K [3, 3])``."""
    centre = np.zeros(3) if centre is None else np.asarray(centre, np.float64)
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, np.float64)
    direction = np.array([math.cos(0.7) * 0.8, -math.sin(0.7) * 0.8, 0.6])
    eye = centre + distance * direction / np.linalg.norm(direction)
    focal = 0.5 * height / math.tan(math.radians(25))
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    return look_at(eye, centre, up), K


def cpu_render(cloud: GaussianCloud, viewmat: np.ndarray, K: np.ndarray, width: int = WIDTH,
               height: int = HEIGHT, *, mode: str = "classic") -> tuple[np.ndarray, np.ndarray]:
    """splatkit's CPU render on black: ``(rgb float [H, W, 3] in [0, 1], alpha float [H, W])``."""
    import torch

    from splatkit.render import rasterize

    degree = cloud.sh_degree
    coeffs = np.concatenate([cloud.sh0[:, None, :], cloud.shN], axis=1)
    rgb, alpha, _ = rasterize(
        torch.from_numpy(np.asarray(cloud.means, np.float32)),
        torch.from_numpy(np.asarray(cloud.quats, np.float32)),
        torch.from_numpy(np.exp(np.asarray(cloud.log_scales, np.float32))),
        torch.sigmoid(torch.from_numpy(np.asarray(cloud.opacity_logits, np.float32))),
        torch.from_numpy(coeffs.astype(np.float32)),
        torch.from_numpy(viewmat.astype(np.float32)), torch.from_numpy(K.astype(np.float32)), width, height,
        sh_degree=degree, backend="cpu", rasterize_mode=mode)
    return np.clip(rgb.numpy(), 0.0, 1.0), alpha.numpy()[..., 0]


def psnr_over_covered(shot: np.ndarray, reference: np.ndarray, alpha: np.ndarray,
                      min_alpha: float = 0.05) -> float:
    """Mean PSNR (dB) of a uint8 screenshot [H, W, 3] against a float render where it covers > ``min_alpha``."""
    covered = alpha > min_alpha
    if not covered.any():
        raise AssertionError("the reference render covers no pixel: the test camera misses the scene")
    ref8 = np.round(reference * 255.0)
    mse = float(np.mean((shot[covered].astype(np.float64) - ref8[covered]) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)
