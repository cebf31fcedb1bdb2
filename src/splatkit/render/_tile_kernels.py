"""Numba kernels of the CPU rasterizer: tile binning, front-to-back compositing and its backward.

The math is gsplat 1.5.3's (``cuda/csrc/IntersectTile.cu``, ``RasterizeToPixels3DGSFwd.cu`` and
``RasterizeToPixels3DGSBwd.cu``), re-organised for a CPU: one tile of 16x16 pixels is one unit of
parallel work, and inside a tile the loop runs over the tile's depth-sorted Gaussians and, for each,
only over the pixels inside its (integer, opacity-aware) bounding box. Outside that box a pixel's
alpha is below 1/255 by construction of the radius (``extend = sqrt(2 ln(255 op)) <= 3.33`` for
``op <= 1``), so gsplat skips those pixels too and the result is the same; the box is widened by
one pixel so that float rounding at the border cannot make a difference.

The functions here are plain Python until :func:`compiled_kernels` compiles them: importing this
module does not import numba (importing splatkit must stay light). ``prange`` is the builtin
``range`` until then and :func:`compiled_kernels` rebinds it to ``numba.prange`` before compiling,
which is what makes the tile loops parallel. Every kernel is self-contained (no calls to other
Python helpers) so that it compiles on its own. Kernels are specialised per dtype: float32 for
speed, float64 for the gradient checks.
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

prange = range  # rebound to numba.prange by compiled_kernels()

# gsplat 1.5.3 constants (cuda/include/Common.h and the rasterize kernels).
ALPHA_THRESHOLD = 1.0 / 255.0
MAX_ALPHA = 0.999
MIN_TRANSMITTANCE = 1e-4

# Per-intersection gradient layout written by the backward kernel.
GRAD_MEAN2D = 0  # 2 values: d/d mean2d (x, y)
GRAD_CONIC = 2  # 3 values: d/d conic (a, b, c)
GRAD_COLOR = 5  # 3 values: d/d color (r, g, b)
GRAD_OPACITY = 8  # 1 value
GRAD_ABS_MEAN2D = 9  # 2 values: sum over pixels of |d/d mean2d| (AbsGS)
GRAD_WIDTH = 11


def _count_tiles(means2d, radii, tile_size, tile_width, tile_height, counts):  # pragma: no cover
    """Tiles overlapped by each Gaussian's box, as gsplat's first ``isect_tiles`` pass."""
    for m in prange(means2d.shape[0]):
        rx = radii[m, 0]
        ry = radii[m, 1]
        if rx <= 0 or ry <= 0:
            counts[m] = 0
            continue
        tx = means2d[m, 0] / tile_size
        ty = means2d[m, 1] / tile_size
        trx = rx / tile_size
        try_ = ry / tile_size
        x0 = min(max(0, math.floor(tx - trx)), tile_width)
        y0 = min(max(0, math.floor(ty - try_)), tile_height)
        x1 = min(max(0, math.ceil(tx + trx)), tile_width)
        y1 = min(max(0, math.ceil(ty + try_)), tile_height)
        counts[m] = (x1 - x0) * (y1 - y0)


def _count_per_tile(
    means2d, radii, image_ids, visible, tile_size, tile_width, tile_height, tile_counts,
):  # pragma: no cover
    """``tile_counts[b]``: number of Gaussians whose box overlaps tile ``b`` (flat image|tile)."""
    n_tiles = tile_width * tile_height
    for r in range(visible.shape[0]):
        m = visible[r]
        tx = means2d[m, 0] / tile_size
        ty = means2d[m, 1] / tile_size
        trx = radii[m, 0] / tile_size
        try_ = radii[m, 1] / tile_size
        x0 = min(max(0, math.floor(tx - trx)), tile_width)
        y0 = min(max(0, math.floor(ty - try_)), tile_height)
        x1 = min(max(0, math.ceil(tx + trx)), tile_width)
        y1 = min(max(0, math.ceil(ty + try_)), tile_height)
        base = image_ids[m] * n_tiles
        for i in range(y0, y1):
            for j in range(x0, x1):
                tile_counts[base + i * tile_width + j] += 1


def _fill_tiles(
    means2d, radii, image_ids, depth_order, tile_size, tile_width, tile_height, tile_offsets,
    flatten_ids,
):  # pragma: no cover
    """Write each tile's Gaussian list in depth order (``depth_order`` is a stable depth argsort).

    Filling the buckets in global depth order is a counting sort by tile, so every tile's list is
    front to back with ties broken by index: the order of gsplat's stable radix sort of
    ``image | tile | depth`` keys.
    """
    n_tiles = tile_width * tile_height
    fill = tile_offsets[:-1].copy()
    for r in range(depth_order.shape[0]):
        m = depth_order[r]
        rx = radii[m, 0]
        ry = radii[m, 1]
        if rx <= 0 or ry <= 0:
            continue
        tx = means2d[m, 0] / tile_size
        ty = means2d[m, 1] / tile_size
        trx = rx / tile_size
        try_ = ry / tile_size
        x0 = min(max(0, math.floor(tx - trx)), tile_width)
        y0 = min(max(0, math.floor(ty - try_)), tile_height)
        x1 = min(max(0, math.ceil(tx + trx)), tile_width)
        y1 = min(max(0, math.ceil(ty + try_)), tile_height)
        base = image_ids[m] * n_tiles
        for i in range(y0, y1):
            for j in range(x0, x1):
                b = base + i * tile_width + j
                flatten_ids[fill[b]] = m
                fill[b] += 1


def _rasterize_fwd(
    means2d, conics, colors, opacities, radii, background, tile_offsets, flatten_ids, tile_order,
    width, height, tile_size, tile_width, tile_height, out_color, out_transmittance, out_last,
):  # pragma: no cover
    """Front-to-back compositing, one tile per parallel iteration.

    Writes ``out_color [I, H, W, D]`` (background already blended with the final transmittance),
    ``out_transmittance [I, H, W]`` (the final T) and ``out_last [I, H, W]`` (index into
    ``flatten_ids`` of the last Gaussian that contributed to the pixel, -1 if none).
    """
    n_tiles = tile_width * tile_height
    n_pix = tile_size * tile_size
    channels = colors.shape[1]
    for w in prange(tile_order.shape[0]):
        t = tile_order[w]
        image = t // n_tiles
        tile = t % n_tiles
        px0 = (tile % tile_width) * tile_size
        py0 = (tile // tile_width) * tile_size
        px1 = min(px0 + tile_size, width)
        py1 = min(py0 + tile_size, height)
        trans = np.ones(n_pix, dtype=means2d.dtype)
        acc = np.zeros((n_pix, channels), dtype=means2d.dtype)
        last = np.full(n_pix, -1, dtype=np.int64)
        done = np.zeros(n_pix, dtype=np.bool_)
        n_active = (px1 - px0) * (py1 - py0)
        for k in range(tile_offsets[t], tile_offsets[t + 1]):
            if n_active == 0:
                break  # every pixel of the tile reached T <= 1e-4 (gsplat's early exit)
            g = flatten_ids[k]
            mx = means2d[g, 0]
            my = means2d[g, 1]
            ca = conics[g, 0]
            cb = conics[g, 1]
            cc = conics[g, 2]
            op = opacities[g]
            jx0 = max(px0, int(math.floor(mx - radii[g, 0])) - 1)
            jx1 = min(px1, int(math.ceil(mx + radii[g, 0])) + 1)
            iy0 = max(py0, int(math.floor(my - radii[g, 1])) - 1)
            iy1 = min(py1, int(math.ceil(my + radii[g, 1])) + 1)
            for i in range(iy0, iy1):
                dy = my - (i + 0.5)
                for j in range(jx0, jx1):
                    p = (i - py0) * tile_size + (j - px0)
                    if done[p]:
                        continue
                    dx = mx - (j + 0.5)
                    sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                    if sigma < 0.0:
                        continue
                    alpha = min(MAX_ALPHA, op * math.exp(-sigma))
                    if alpha < ALPHA_THRESHOLD:
                        continue
                    next_t = trans[p] * (1.0 - alpha)
                    if next_t <= MIN_TRANSMITTANCE:  # exclusive stop, as gsplat
                        done[p] = True
                        n_active -= 1
                        continue
                    vis = alpha * trans[p]
                    for ch in range(channels):
                        acc[p, ch] += colors[g, ch] * vis
                    last[p] = k
                    trans[p] = next_t
        for i in range(py0, py1):
            for j in range(px0, px1):
                p = (i - py0) * tile_size + (j - px0)
                for ch in range(channels):
                    out_color[image, i, j, ch] = acc[p, ch] + trans[p] * background[image, ch]
                out_transmittance[image, i, j] = trans[p]
                out_last[image, i, j] = last[p]


def _rasterize_bwd(
    means2d, conics, colors, opacities, radii, background, tile_offsets, flatten_ids, tile_order,
    width, height, tile_size, tile_width, tile_height, transmittance, last_ids, v_color, v_alpha,
    isect_grads,
):  # pragma: no cover
    """Back-to-front gradient of :func:`_rasterize_fwd` (RGB), one tile per parallel iteration.

    Follows ``RasterizeToPixels3DGSBwd.cu``: the transmittance in front of each Gaussian is
    recovered by dividing by ``1 - alpha``, ``buffer`` holds the colour composited behind it, and
    the clamped branch (``op * exp(-sigma) > 0.999``) passes no gradient to sigma or opacity. Each
    (tile, Gaussian) intersection gets its own row of ``isect_grads [n_isects, GRAD_WIDTH]``, so
    tiles never write the same memory; rows are summed per Gaussian afterwards.
    """
    n_tiles = tile_width * tile_height
    n_pix = tile_size * tile_size
    channels = colors.shape[1]
    for w in prange(tile_order.shape[0]):
        t = tile_order[w]
        image = t // n_tiles
        tile = t % n_tiles
        px0 = (tile % tile_width) * tile_size
        py0 = (tile // tile_width) * tile_size
        px1 = min(px0 + tile_size, width)
        py1 = min(py0 + tile_size, height)
        trans = np.ones(n_pix, dtype=means2d.dtype)
        t_final = np.ones(n_pix, dtype=means2d.dtype)
        buffer = np.zeros((n_pix, channels), dtype=means2d.dtype)
        last = np.full(n_pix, -1, dtype=np.int64)
        grad_c = np.zeros((n_pix, channels), dtype=means2d.dtype)
        grad_a = np.zeros(n_pix, dtype=means2d.dtype)
        bg_dot = np.zeros(n_pix, dtype=means2d.dtype)
        tile_last = -1
        for i in range(py0, py1):
            for j in range(px0, px1):
                p = (i - py0) * tile_size + (j - px0)
                trans[p] = transmittance[image, i, j]
                t_final[p] = transmittance[image, i, j]
                last[p] = last_ids[image, i, j]
                tile_last = max(tile_last, last[p])
                grad_a[p] = v_alpha[image, i, j]
                s = 0.0
                for ch in range(channels):
                    grad_c[p, ch] = v_color[image, i, j, ch]
                    s += background[image, ch] * v_color[image, i, j, ch]
                bg_dot[p] = s
        for k in range(tile_last, tile_offsets[t] - 1, -1):
            g = flatten_ids[k]
            mx = means2d[g, 0]
            my = means2d[g, 1]
            ca = conics[g, 0]
            cb = conics[g, 1]
            cc = conics[g, 2]
            op = opacities[g]
            jx0 = max(px0, int(math.floor(mx - radii[g, 0])) - 1)
            jx1 = min(px1, int(math.ceil(mx + radii[g, 0])) + 1)
            iy0 = max(py0, int(math.floor(my - radii[g, 1])) - 1)
            iy1 = min(py1, int(math.ceil(my + radii[g, 1])) + 1)
            g_mx = 0.0
            g_my = 0.0
            g_ca = 0.0
            g_cb = 0.0
            g_cc = 0.0
            g_op = 0.0
            g_ax = 0.0
            g_ay = 0.0
            g_r = 0.0
            g_g = 0.0
            g_b = 0.0
            for i in range(iy0, iy1):
                dy = my - (i + 0.5)
                for j in range(jx0, jx1):
                    p = (i - py0) * tile_size + (j - px0)
                    if k > last[p]:
                        continue
                    dx = mx - (j + 0.5)
                    sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                    if sigma < 0.0:
                        continue
                    vis = math.exp(-sigma)
                    alpha = min(MAX_ALPHA, op * vis)
                    if alpha < ALPHA_THRESHOLD:
                        continue
                    ra = 1.0 / (1.0 - alpha)
                    trans[p] *= ra
                    fac = alpha * trans[p]
                    v_a = 0.0
                    for ch in range(channels):
                        v_a += (colors[g, ch] * trans[p] - buffer[p, ch] * ra) * grad_c[p, ch]
                    g_r += fac * grad_c[p, 0]
                    g_g += fac * grad_c[p, 1]
                    g_b += fac * grad_c[p, 2]
                    v_a += t_final[p] * ra * grad_a[p]
                    v_a -= t_final[p] * ra * bg_dot[p]
                    if op * vis <= MAX_ALPHA:
                        v_sigma = -op * vis * v_a
                        g_ca += 0.5 * v_sigma * dx * dx
                        g_cb += v_sigma * dx * dy
                        g_cc += 0.5 * v_sigma * dy * dy
                        gx = v_sigma * (ca * dx + cb * dy)
                        gy = v_sigma * (cb * dx + cc * dy)
                        g_mx += gx
                        g_my += gy
                        g_ax += abs(gx)
                        g_ay += abs(gy)
                        g_op += vis * v_a
                    for ch in range(channels):
                        buffer[p, ch] += colors[g, ch] * fac
            isect_grads[k, 0] = g_mx
            isect_grads[k, 1] = g_my
            isect_grads[k, 2] = g_ca
            isect_grads[k, 3] = g_cb
            isect_grads[k, 4] = g_cc
            isect_grads[k, 5] = g_r
            isect_grads[k, 6] = g_g
            isect_grads[k, 7] = g_b
            isect_grads[k, 8] = g_op
            isect_grads[k, 9] = g_ax
            isect_grads[k, 10] = g_ay


def _sum_isect_grads(flatten_ids, isect_grads, out):  # pragma: no cover
    """``out[g] += isect_grads[k]`` for every intersection ``k`` of Gaussian ``g``."""
    for k in range(flatten_ids.shape[0]):
        g = flatten_ids[k]
        for c in range(isect_grads.shape[1]):
            out[g, c] += isect_grads[k, c]


@functools.lru_cache(maxsize=1)
def compiled_kernels() -> SimpleNamespace:
    """Compile (or load from numba's on-disk cache) the kernels of this module.

    Returns
    -------
    SimpleNamespace
        ``count_tiles``, ``count_per_tile``, ``fill_tiles``, ``rasterize_fwd``, ``rasterize_bwd``,
        ``sum_isect_grads``: numba dispatchers, specialised lazily per dtype on first call.
    """
    import numba

    globals()["prange"] = numba.prange
    parallel = functools.partial(numba.njit, parallel=True, cache=True, nogil=True)
    serial = functools.partial(numba.njit, cache=True, nogil=True)
    return SimpleNamespace(
        count_tiles=parallel()(_count_tiles),
        count_per_tile=serial()(_count_per_tile),
        fill_tiles=serial()(_fill_tiles),
        rasterize_fwd=parallel()(_rasterize_fwd),
        rasterize_bwd=parallel()(_rasterize_bwd),
        sum_isect_grads=serial()(_sum_isect_grads),
    )
