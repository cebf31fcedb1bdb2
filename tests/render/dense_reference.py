"""A brute-force per-pixel 3DGS renderer in plain numpy, written from the formulas.

Shares no code with ``splatkit.render``: no tiles, no numba, no torch. Every pixel walks every
surviving Gaussian in depth order. It is slow and only meant for tiny test scenes.

Sources of the formulas: EWA splatting (Zwicker et al. 2001) as used by 3DGS (Kerbl et al. 2023)
with gsplat 1.5.3's details: Jacobian x/y clamped to 1.3x the field of view, ``eps2d`` blur,
Mip-Splatting compensation, opacity-aware radius, pixel centres at +0.5, alpha clamped at 0.999,
skip below 1/255, exclusive stop at T <= 1e-4, SH colour + 0.5 clamped at 0. The SH basis is
written in the Inria form (constants ``SH_C0..SH_C3``), not gsplat's Sloan form.
"""

from __future__ import annotations

import math

import numpy as np

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
         0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
         -0.4570457994644658, 1.445305721320277, -0.5900435899266435)


def sh_color(degree: int, d: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """Inria's ``computeColorFromSH`` for one Gaussian: ``d`` unit [3], ``sh`` [K, 3]."""
    x, y, z = d
    c = SH_C0 * sh[0]
    if degree > 0:
        c = c - SH_C1 * y * sh[1] + SH_C1 * z * sh[2] - SH_C1 * x * sh[3]
    if degree > 1:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        c = (c + SH_C2[0] * xy * sh[4] + SH_C2[1] * yz * sh[5]
             + SH_C2[2] * (2 * zz - xx - yy) * sh[6] + SH_C2[3] * xz * sh[7]
             + SH_C2[4] * (xx - yy) * sh[8])
    if degree > 2:
        c = (c + SH_C3[0] * y * (3 * xx - yy) * sh[9] + SH_C3[1] * xy * z * sh[10]
             + SH_C3[2] * y * (4 * zz - xx - yy) * sh[11]
             + SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy) * sh[12]
             + SH_C3[4] * x * (4 * zz - xx - yy) * sh[13]
             + SH_C3[5] * z * (xx - yy) * sh[14] + SH_C3[6] * x * (xx - 3 * yy) * sh[15])
    return np.maximum(c + 0.5, 0.0)


def rotation(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def render_dense(means, quats, scales, opacities, colors, viewmat, K, width, height, *,
                 sh_degree=None, near=0.01, far=1e10, eps2d=0.3, antialiased=False,
                 background=None):
    """Render one camera; all inputs numpy float64. Returns rgb [H, W, 3], alpha [H, W]."""
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    campos = -R.T @ t
    splats = []
    for n in range(len(means)):
        pc = R @ means[n] + t
        if not near <= pc[2] <= far:
            continue
        M = rotation(quats[n]) @ np.diag(scales[n])
        cov_c = R @ (M @ M.T) @ R.T
        x, y, z = pc
        # Perspective Jacobian at the direction clamped to the FOV plus 30 % on each side.
        margin_x, margin_y = 0.3 * 0.5 * width / fx, 0.3 * 0.5 * height / fy
        txz = min(max(x / z, -cx / fx - margin_x), (width - cx) / fx + margin_x)
        tyz = min(max(y / z, -cy / fy - margin_y), (height - cy) / fy + margin_y)
        J = np.array([[fx / z, 0, -fx * txz / z], [0, fy / z, -fy * tyz / z]])
        cov2 = J @ cov_c @ J.T
        det0 = np.linalg.det(cov2)
        cov2 = cov2 + eps2d * np.eye(2)
        det = np.linalg.det(cov2)
        if det <= 0:
            continue
        op = opacities[n] * (math.sqrt(max(0.0, det0 / det)) if antialiased else 1.0)
        if op < 1 / 255:
            continue
        extend = min(3.33, math.sqrt(2 * math.log(op * 255)))
        rx, ry = math.ceil(extend * math.sqrt(cov2[0, 0])), math.ceil(extend * math.sqrt(cov2[1, 1]))
        mu = np.array([fx * x / z + cx, fy * y / z + cy])
        if mu[0] + rx <= 0 or mu[0] - rx >= width or mu[1] + ry <= 0 or mu[1] - ry >= height:
            continue
        if sh_degree is None:
            col = colors[n]
        else:
            d = means[n] - campos
            col = sh_color(sh_degree, d / np.linalg.norm(d), colors[n])
        splats.append((z, n, mu, np.linalg.inv(cov2), op, col))
    splats.sort(key=lambda s: (s[0], s[1]))
    rgb = np.zeros((height, width, 3))
    alpha = np.zeros((height, width))
    bg = np.zeros(3) if background is None else background
    for i in range(height):
        for j in range(width):
            T = 1.0
            c = np.zeros(3)
            for _, _, mu, conic, op, col in splats:
                d = mu - np.array([j + 0.5, i + 0.5])
                sigma = 0.5 * d @ conic @ d
                a = min(0.999, op * math.exp(-sigma))
                if sigma < 0 or a < 1 / 255:
                    continue
                if T * (1 - a) <= 1e-4:
                    break
                c += col * a * T
                T *= 1 - a
            rgb[i, j] = c + T * bg
            alpha[i, j] = 1 - T
    return rgb, alpha
