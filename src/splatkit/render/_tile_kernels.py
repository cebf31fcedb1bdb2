"""Numba kernels of the CPU rasterizer: tile binning, front-to-back compositing and its backward.

The math is gsplat 1.5.3's (``cuda/csrc/IntersectTile.cu``, ``RasterizeToPixels3DGSFwd.cu`` and
``RasterizeToPixels3DGSBwd.cu``), re-organised for a CPU: one tile of 16x16 pixels is one unit of
parallel work (threads take the next tile from a shared counter, longest first), and inside a
tile the loop runs over the tile's depth-sorted Gaussians and, for each, only over the pixels
inside its (integer, opacity-aware) bounding box. Outside that box a pixel's alpha is below
1/255 by construction of the radius (``extend = sqrt(2 ln(255 op)) <= 3.33`` for ``op <= 1``),
so gsplat skips those pixels too and the result is the same; the box is widened by one pixel so
that float rounding at the border cannot make a difference.

Cost (issue 13: ``exp`` was half of the forward time on the 2-core machine). Along a row of the
box, ``sigma`` is a quadratic in the column, so ``exp(-sigma)`` is carried by a recurrence: with
``A = conic_a / 2`` and ``dx = mean_x - (j + 0.5)``, ``e(j + 1) = e(j) r(j)``,
``r(j) = exp(-(A (1 - 2 dx) - conic_b dy))`` and ``r(j + 1) = r(j) exp(-2 A)``. The run starts at
the row's first pixel inside the ellipse ``sigma <= ln(255 op) + SIGMA_MARGIN`` (outside it alpha
is below 1/255 for sure; the margin keeps the threshold test of the pixels inside exact) and
stops where the row leaves it, so ``e`` stays within ``[1/255, 1]``. Rows are entered by
:func:`_row_entry`, which both kernels share: from the entry of the row above it steps down and
walks a pixel or two to this row's entry, carrying ``e`` and the ratios by products
(:func:`_step_factors`) instead of scanning from the box's left edge and calling ``exp`` twice
per row; ``exp`` is called a few times per (tile, Gaussian). Tiles of a box that the ellipse
misses are not binned at all (:func:`_tile_hits`). The forward records where each row's run
starts (column, ``e``, ratio) and ends, and the backward runs the same pixels from the same
values (without a record it enters the rows again exactly as the forward), so it sees the
forward pass's alpha bit for bit. Arithmetic stays in the input dtype
(:func:`kernel_constants`). A tile's per-pixel state is one ``[256, channels]`` array, not
one array per channel: a single base pointer instead of four or five leaves the hot loops more
registers (fewer spills; kernels 0.96x on the 100K-Gaussian view). Per-pixel
indices are cast to ``np.uint64``: numba wraps negative signed indices (a compare and select on
every access), which it cannot prove away for ``row + j``; unsigned indices skip it (measured on
the 100K-Gaussian scene: forward and backward each ~11 % faster, results bit for bit the same).

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


def fetch_add_first(counter):  # pragma: no cover
    """``counter[0]++``; :func:`compiled_kernels` rebinds it to an atomic numba intrinsic."""
    old = counter[0]
    counter[0] += 1
    return old

# gsplat 1.5.3 constants (cuda/include/Common.h and the rasterize kernels).
ALPHA_THRESHOLD = 1.0 / 255.0
MAX_ALPHA = 0.999
MIN_TRANSMITTANCE = 1e-4
# Pixels with sigma > ln(255 op) + SIGMA_MARGIN have alpha < 1/255 whatever the rounding of the
# log: the kernels skip their exp. The margin keeps the threshold test of the others exact.
SIGMA_MARGIN = 1e-3
# Tiles where sigma > ln(255 op) + TILE_SLACK everywhere (exact, float64) are not binned. The slack
# covers the float32 rounding of the kernels' sigma (conic entries are at most 1 / eps2d).
TILE_SLACK = 1e-2
# Rows are entered by stepping exp(-sigma) down from the row above only while every half conic
# entry is at most this (the step factors exp(-/+ entry) stay far inside float32's range);
# beyond it (tiny eps2d) each row's entry gets its own exp, as every row did before.
RECURRENCE_LIMIT = 20.0

# Per-intersection gradient layout written by the backward kernel.
GRAD_MEAN2D = 0  # 2 values: d/d mean2d (x, y)
GRAD_CONIC = 2  # 3 values: d/d conic (a, b, c)
GRAD_COLOR = 5  # 3 values: d/d color (r, g, b)
GRAD_OPACITY = 8  # 1 value
GRAD_ABS_MEAN2D = 9  # 2 values: sum over pixels of |d/d mean2d| (AbsGS)
GRAD_WIDTH = 11


def _tile_box(mx, my, rx, ry, tile_size, tile_width, tile_height):  # pragma: no cover
    """Tile range ``[x0, x1) x [y0, y1)`` of the box ``mean +/- radii``, clipped to the image
    (gsplat's ``isect_tiles``); shared by :func:`_box_tiles` and :func:`_tile_hits`."""
    return (
        min(max(0, math.floor((mx - rx) / tile_size)), tile_width),
        min(max(0, math.floor((my - ry) / tile_size)), tile_height),
        min(max(0, math.ceil((mx + rx) / tile_size)), tile_width),
        min(max(0, math.ceil((my + ry) / tile_size)), tile_height),
    )


def _tile_hits(
    means2d, conics, opacities, radii, image_ids, tile_size, tile_width, tile_height, slack,
    hit_start, counts, hit_tiles,
):  # pragma: no cover
    """The tiles each Gaussian's ``alpha >= 1/255`` ellipse touches, inside its box.

    gsplat's ``isect_tiles`` takes every tile of the box; here a tile of the box is kept only if
    the ellipse ``sigma <= ln(255 op) + slack`` meets the rectangle of the tile's pixel centres
    (float64, exact): per row of tiles, the ellipse's x-extent within the row's band of pixel
    centres is found in closed form (the extreme of the boundary over the band is at the clamp
    of its global extreme) and the tiles it spans are kept. On every pixel of a dropped tile
    ``alpha < exp(-slack) / 255``, which the compositing kernels skip anyway: the images and
    gradients are those of the full box (100K-Gaussian fern view: a quarter of the box's tiles
    are dropped, see docs/benchmarks.md).

    With ``sigma = (a u^2 + 2 b u v + c v^2) / 2`` in ``u = mean_x - x``, ``v = mean_y - y`` and
    ``det = ac - b^2``: on a line of constant ``v`` the ellipse spans
    ``u = (-b v +/- sqrt(2 a cut - det v^2)) / a`` for ``|v| <= sqrt(2 a cut / det)``; the upper
    end is largest at ``v = -b sqrt(2 cut / (c det))`` and the lower end smallest at minus that.

    Gaussian ``m`` writes its ``counts[m]`` flat ``image * tiles + tile`` ids, in row-major tile
    order, to ``hit_tiles[hit_start[m]:]``; ``hit_start`` leaves room for the whole box
    (:func:`_box_tiles`), the rest of which stays as the caller filled it.
    """
    n_tiles = tile_width * tile_height
    for m in prange(means2d.shape[0]):
        counts[m] = 0
        rx = radii[m, 0]
        ry = radii[m, 1]
        op = opacities[m]
        if rx <= 0 or ry <= 0 or not op > 0:
            continue
        mx = means2d[m, 0] * 1.0
        my = means2d[m, 1] * 1.0
        a = conics[m, 0] * 1.0
        b = conics[m, 1] * 1.0
        c = conics[m, 2] * 1.0
        x0, y0, x1, y1 = _tile_box(mx, my, rx, ry, tile_size, tile_width, tile_height)
        det = a * c - b * b
        # Not positive definite, or a one-tile box (nothing to gain): the whole box, as gsplat.
        definite = a > 0.0 and c > 0.0 and det > 0.0 and (x1 - x0) * (y1 - y0) > 1
        cut = math.log(op * 255.0) + slack
        if definite and not cut > 0.0:
            continue
        v_reach = math.sqrt(2.0 * a * cut / det) if definite else 0.0
        v_turn = -b * math.sqrt(2.0 * cut / (c * det)) if definite else 0.0
        base = image_ids[m] * n_tiles
        n = 0
        for ty in range(y0, y1):
            tx0 = x0
            tx1 = x1
            if definite:
                # The band of this tile row's pixel centres, within the ellipse's reach.
                w0 = max(my - (ty * tile_size + tile_size - 0.5), -v_reach)
                w1 = min(my - (ty * tile_size + 0.5), v_reach)
                if w0 > w1:
                    continue
                v = min(max(v_turn, w0), w1)
                u_hi = (-b * v + math.sqrt(max(2.0 * a * cut - det * v * v, 0.0))) / a
                v = min(max(-v_turn, w0), w1)
                u_lo = (-b * v - math.sqrt(max(2.0 * a * cut - det * v * v, 0.0))) / a
                # Pixel centres x in [mx - u_hi, mx - u_lo]; tile tx holds x in
                # [tx * size + 0.5, tx * size + size - 0.5].
                tx0 = max(x0, math.ceil((mx - u_hi - tile_size + 0.5) / tile_size))
                tx1 = min(x1, math.floor((mx - u_lo - 0.5) / tile_size) + 1)
            for tx in range(tx0, tx1):
                hit_tiles[hit_start[m] + n] = base + ty * tile_width + tx
                n += 1
        counts[m] = n


def _box_tiles(means2d, radii, tile_size, tile_width, tile_height, box_counts):  # pragma: no cover
    """Tiles of each Gaussian's box (gsplat's first ``isect_tiles`` pass): room for its hits."""
    for m in prange(means2d.shape[0]):
        rx = radii[m, 0]
        ry = radii[m, 1]
        if rx <= 0 or ry <= 0:
            box_counts[m] = 0
            continue
        mx = means2d[m, 0] * 1.0
        my = means2d[m, 1] * 1.0
        x0, y0, x1, y1 = _tile_box(mx, my, rx, ry, tile_size, tile_width, tile_height)
        box_counts[m] = (x1 - x0) * (y1 - y0)


def _fill_tiles(
    depth_order, hit_start, counts, hit_tiles, tile_offsets, local_ids, local_order,
):  # pragma: no cover
    """Write each tile's Gaussian list in depth order (``depth_order`` is a stable depth argsort).

    Filling the buckets in global depth order is a counting sort by tile, so every tile's list is
    front to back with ties broken by index: the order of gsplat's stable radix sort of
    ``image | tile | depth`` keys.

    The compositing kernels read the Gaussians of a tile's list at random; gathered in
    *locality order* (by first binned tile in row-major order, then index: another counting
    sort, over the Gaussians in index order so that its reads are sequential) the Gaussians of
    one tile lie close together in memory. ``local_order [V]`` is the flat index of each of the
    ``V`` binned Gaussians in that order and ``local_ids [n_isects]`` the tile lists, written as
    positions in it (the flat indices are ``local_order[local_ids]``).
    """
    n = hit_start.shape[0]
    start = np.zeros(tile_offsets.shape[0], dtype=np.int64)
    for m in range(n):
        if counts[m] > 0:
            start[hit_tiles[hit_start[m]] + 1] += 1
    for b in range(1, start.shape[0]):
        start[b] += start[b - 1]
    rank = np.empty(n, dtype=np.int64)
    for m in range(n):
        if counts[m] > 0:
            b = hit_tiles[hit_start[m]]
            rank[m] = start[b]
            local_order[start[b]] = m
            start[b] += 1
    fill = tile_offsets[:-1].copy()
    for r in range(depth_order.shape[0]):
        m = depth_order[r]
        local = rank[m]
        for h in range(hit_start[m], hit_start[m] + counts[m]):
            b = hit_tiles[h]
            local_ids[fill[b]] = local
            fill[b] += 1


def _gather_rows(order, means2d, conics, colors, opacities, radii, out_means2d, out_conics,
                 out_colors, out_opacities, out_radii):  # pragma: no cover
    """``out_x[v] = x[order[v]]`` for the five compositing inputs (numpy's fancy indexing of
    ``[M, 2]`` and ``[M, 3]`` rows took ~12 ms for 100K Gaussians here)."""
    for v in prange(order.shape[0]):
        m = order[v]
        out_means2d[v, 0] = means2d[m, 0]
        out_means2d[v, 1] = means2d[m, 1]
        for c in range(3):
            out_conics[v, c] = conics[m, c]
            out_colors[v, c] = colors[m, c]
        out_opacities[v] = opacities[m]
        out_radii[v, 0] = radii[m, 0]
        out_radii[v, 1] = radii[m, 1]


def kernel_constants(dtype: np.dtype, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The compositing kernels' constants and pixel centres, in the kernels' float ``dtype``.

    Python float literals are float64 in numba and would promote float32 arithmetic to float64
    (slower, and with a float64 ``exp``); reading the constants from arrays of the input's dtype
    keeps a float32 render in float32, as gsplat's kernels are.

    Returns
    -------
    consts, centres
        ``[ALPHA_THRESHOLD, MAX_ALPHA, MIN_TRANSMITTANCE, 0.5, 1.0, ln(255), SIGMA_MARGIN,
        RECURRENCE_LIMIT]`` and
        ``[size]`` pixel centres ``j + 0.5``.
    """
    consts = np.array([ALPHA_THRESHOLD, MAX_ALPHA, MIN_TRANSMITTANCE, 0.5, 1.0, math.log(255.0),
                       SIGMA_MARGIN, RECURRENCE_LIMIT], dtype=dtype)
    return consts, (np.arange(size, dtype=np.float64) + 0.5).astype(dtype)


def _step_factors(ca_h, cb, cc_h, one, limit):  # pragma: no cover
    """Per-intersection factors of the ``exp(-sigma)`` recurrences, for :func:`_row_entry`.

    With ``sigma = A dx^2 + B dx dy + C dy^2`` (``A = ca_h``, ``B = cb``, ``C = cc_h``; ``dx``
    and ``dy`` fall by one per pixel to the right and per row down) the ratio to the right
    ``r = e(j + 1) / e(j)`` and the ratio down ``s = e(i + 1) / e(i)`` change by constant
    factors: ``r`` by ``q = exp(-2A)`` to the right and ``w = exp(-B)`` down, ``s`` by ``w`` to
    the right and ``qy = exp(-2C)`` down.

    Returns
    -------
    tuple
        ``(q, 1 / q, w, 1 / w, qy, recur)``; ``recur`` is False (and ``w = qy = 1``) when an entry
        exceeds ``limit``: rows are then entered with their own ``exp``.
    """
    q = math.exp(-(ca_h + ca_h))
    if abs(ca_h) <= limit and abs(cb) <= limit and abs(cc_h) <= limit:
        w = math.exp(-cb)
        return q, one / q, w, one / w, math.exp(-(cc_h + cc_h)), True
    return q, one / q, one, one, one, False


def _row_entry(
    jx0, jx1, mx, dy, cy, sy, ca_h, cb, cc_h, sigma_cut, centres, one, steps, cursor,
):  # pragma: no cover
    """The first pixel of a row inside ``sigma <= sigma_cut`` and ``exp(-sigma)`` there.

    The forward enters every row through this function, and so does the backward when it has no
    row record from the forward (:func:`_rasterize_fwd`): both see the same ``e`` bit for bit.
    ``cursor = (have, j, e, r, s)`` is the entry of the row above (``have`` false for a
    Gaussian's first row or after an empty row). From it the entry is found by
    stepping down and walking left while inside (upper half of the ellipse) or right until inside
    (lower half): a few pixels instead of a scan from the box's left edge, and ``e``, ``r`` (ratio
    to the right) and ``s`` (ratio down) follow by products with the :func:`_step_factors`
    instead of three ``exp`` per row. A row is scanned from ``jx0`` with fresh ``exp`` when there
    is no cursor, when the row's inside run lies left of the cursor, or when ``recur`` is off.
    The products drift by a few float32 ulps per step over at most a few dozen steps (1e-6
    relative), far below the 1e-4 of the gsplat parity tests; the inside test itself always uses
    the exact ``sigma``.

    Returns
    -------
    tuple
        ``(j, dx, sigma, e, r, cursor)``: ``j = jx1`` when the row has no pixel inside.
    """
    q, iq, w, iw, qy, recur = steps
    have, j, e, r, s = cursor
    found = False
    fresh = not have
    dx = one
    sigma = one
    if have:
        e *= s
        r *= w
        s *= qy
        dx = mx - centres[np.uint64(j)]
        sigma = (ca_h * dx + cy) * dx + sy
        if not (sigma > sigma_cut or sigma < 0):
            found = True
            while j > jx0:
                dx_left = mx - centres[np.uint64(j - 1)]
                sigma_left = (ca_h * dx_left + cy) * dx_left + sy
                if sigma_left > sigma_cut or sigma_left < 0:
                    break
                j -= 1
                dx = dx_left
                sigma = sigma_left
                r *= iq
                e /= r
                s *= iw
        elif ca_h * (dx + dx) + cy > 0:  # sigma falls to the right: the run is right of j
            while True:
                j += 1
                e *= r
                s *= w
                r *= q
                if j >= jx1:
                    break
                dx = mx - centres[np.uint64(j)]
                sigma = (ca_h * dx + cy) * dx + sy
                if not (sigma > sigma_cut or sigma < 0):
                    found = True
                    break
        else:
            fresh = True
    if fresh:
        j = jx0
        while j < jx1:
            dx = mx - centres[np.uint64(j)]
            sigma = (ca_h * dx + cy) * dx + sy
            if not (sigma > sigma_cut or sigma < 0):
                found = True
                break
            j += 1
    if not found:
        return jx1, dx, sigma, e, r, (False, j, e, r, s)
    if fresh or not recur:
        e = math.exp(-sigma)
        r = math.exp(-(ca_h * (one - dx - dx) - cy))
        s = math.exp(-(cc_h * (one - dy - dy) - cb * dx)) if recur else one
    return j, dx, sigma, e, r, (True, j, e, r, s)


def _rasterize_fwd(
    means2d, conics, colors, opacities, radii, background, tile_offsets, flatten_ids, tile_order,
    n_workers, width, height, tile_size, tile_width, tile_height, consts, centres, out_color,
    out_transmittance, out_last, row_j, row_e, row_r, row_end,
):  # pragma: no cover
    """Front-to-back compositing; ``n_workers`` threads take tiles in ``tile_order``.

    Writes ``out_color [I, H, W, 3]`` (background already blended with the final transmittance),
    ``out_transmittance [I, H, W]`` (the final T) and ``out_last [I, H, W]`` (index into
    ``flatten_ids`` of the last Gaussian that contributed to the pixel, -1 if none).

    Row record (``row_j``, ``row_e``, ``row_r``, ``row_end``: ``[n_isects * tile_size]`` or
    empty): when given, slot ``k * tile_size + row in tile`` of each row the pass enters records
    the run's first column (from the tile's left edge, -1 when the row has no pixel inside),
    ``exp(-sigma)`` there, the ratio to the right and the column after the run's last pixel, so
    that the backward pass runs the same pixels from the same values without entering the row
    again or testing where the run ends (:func:`_rasterize_bwd`).

    A pixel that has stopped keeps ``-T`` as its transmittance: one load tells both.
    """
    alpha_min = consts[0]
    alpha_max = consts[1]
    t_min = consts[2]
    half = consts[3]
    one = consts[4]
    ln255 = consts[5]
    margin = consts[6]
    limit = consts[7]
    n_tiles = tile_width * tile_height
    n_pix = tile_size * tile_size
    record = row_j.shape[0] > 0
    next_tile = np.zeros(1, dtype=np.int64)  # shared: each thread takes the next tile
    for _worker in prange(n_workers):
        while True:
            w = fetch_add_first(next_tile)
            if w >= tile_order.shape[0]:
                break
            t = tile_order[w]
            image = t // n_tiles
            tile = t % n_tiles
            px0 = (tile % tile_width) * tile_size
            py0 = (tile // tile_width) * tile_size
            px1 = min(px0 + tile_size, width)
            py1 = min(py0 + tile_size, height)
            px = np.zeros((n_pix, 4), dtype=means2d.dtype)  # T (< 0: stopped, -T final), rgb
            px[:, 0] = one
            last = np.full(n_pix, -1, dtype=np.int64)
            n_active = (px1 - px0) * (py1 - py0)
            for k in range(tile_offsets[t], tile_offsets[t + 1]):
                if n_active == 0:
                    break  # every pixel of the tile reached T <= 1e-4 (gsplat's early exit)
                g = flatten_ids[k]
                mx = means2d[g, 0]
                my = means2d[g, 1]
                ca_h = conics[g, 0] * half
                cb = conics[g, 1]
                cc_h = conics[g, 2] * half
                op = opacities[g]
                cr = colors[g, 0]
                cg = colors[g, 1]
                cbl = colors[g, 2]
                # exp(-sigma) * op < 1/255 for sure beyond this sigma.
                sigma_cut = math.log(op) + ln255 + margin if op > 0 else -one
                jx0 = max(px0, int(math.floor(mx - radii[g, 0])) - 1)
                jx1 = min(px1, int(math.ceil(mx + radii[g, 0])) + 1)
                iy0 = max(py0, int(math.floor(my - radii[g, 1])) - 1)
                iy1 = min(py1, int(math.ceil(my + radii[g, 1])) + 1)
                steps = _step_factors(ca_h, cb, cc_h, one, limit)
                q = steps[0]
                cursor = (False, jx0, one, one, one)
                for i in range(iy0, iy1):
                    dy = my - centres[np.uint64(i)]
                    sy = cc_h * dy * dy
                    cy = cb * dy
                    row = (i - py0) * tile_size - px0
                    j, dx, sigma, e, r, cursor = _row_entry(
                        jx0, jx1, mx, dy, cy, sy, ca_h, cb, cc_h, sigma_cut, centres, one, steps,
                        cursor,
                    )
                    slot = np.uint64(k * tile_size + (i - py0))
                    if j >= jx1:
                        if record:
                            row_j[slot] = -1
                        continue
                    if record:
                        row_j[slot] = j - px0
                        row_e[slot] = e
                        row_r[slot] = r
                    while True:
                        p = np.uint64(row + j)
                        tp = px[p, 0]
                        if not (tp < 0 or sigma < 0):
                            alpha = min(alpha_max, op * e)
                            if alpha >= alpha_min:
                                next_t = tp * (one - alpha)
                                if next_t <= t_min:  # exclusive stop, as gsplat
                                    px[p, 0] = -tp
                                    n_active -= 1
                                else:
                                    vis = alpha * tp
                                    px[p, 1] += cr * vis
                                    px[p, 2] += cg * vis
                                    px[p, 3] += cbl * vis
                                    last[p] = k
                                    px[p, 0] = next_t
                        j += 1
                        if j >= jx1:
                            break
                        dx = mx - centres[np.uint64(j)]
                        sigma = (ca_h * dx + cy) * dx + sy
                        if sigma > sigma_cut:
                            break  # past the ellipse: sigma only grows from here
                        e *= r
                        r *= q
                    if record:
                        row_end[slot] = j - px0
            for i in range(py0, py1):
                for j in range(px0, px1):
                    p = (i - py0) * tile_size + (j - px0)
                    tp = abs(px[p, 0])
                    out_color[image, i, j, 0] = px[p, 1] + tp * background[image, 0]
                    out_color[image, i, j, 1] = px[p, 2] + tp * background[image, 1]
                    out_color[image, i, j, 2] = px[p, 3] + tp * background[image, 2]
                    out_transmittance[image, i, j] = tp
                    out_last[image, i, j] = last[p]


def _rasterize_bwd(
    means2d, conics, colors, opacities, radii, background, tile_offsets, flatten_ids, tile_order,
    n_workers, width, height, tile_size, tile_width, tile_height, consts, centres, transmittance,
    last_ids, row_j, row_e, row_r, row_end, v_color, v_alpha, absgrad, isect_grads,
):  # pragma: no cover
    """Back-to-front gradient of :func:`_rasterize_fwd` (RGB), tiles taken as in the forward.

    With the forward's row record (``row_j``, ``row_e``, ``row_r``, ``row_end`` not empty) each
    run starts from the recorded column, ``exp(-sigma)`` and ratio, the very values the forward
    started from, and stops at the recorded end; without it rows are entered again by
    :func:`_row_entry` and runs end where ``sigma`` passes the cut, step for step as in the
    forward. Either way the pass sees the forward's alpha bit for bit (the record skips the
    entry search and the end test: 100K-Gaussian view, backward kernel ~0.8x).

    Follows ``RasterizeToPixels3DGSBwd.cu``: the transmittance in front of each Gaussian is
    recovered by dividing by ``1 - alpha``, ``behind`` sums what lies behind it (see below), and
    the clamped branch (``op * exp(-sigma) > 0.999``) passes no gradient to sigma or opacity. Each
    (tile, Gaussian) intersection gets its own row of ``isect_grads [n_isects, GRAD_WIDTH]``, so
    tiles never write the same memory; rows are summed per Gaussian afterwards. The alpha of a
    pixel is computed exactly as in the forward pass (same dtype, same skips). The conic and mean
    gradients are accumulated per row from three sums; the AbsGS sums ``|dL/dmean2d|`` (columns 9
    and 10) need every pixel's term and are only computed with ``absgrad``.
    """
    alpha_min = consts[0]
    alpha_max = consts[1]
    half = consts[3]
    one = consts[4]
    ln255 = consts[5]
    margin = consts[6]
    limit = consts[7]
    zero = one - one
    n_tiles = tile_width * tile_height
    n_pix = tile_size * tile_size
    recorded = row_j.shape[0] > 0
    no_cut = one / zero  # inf: recorded runs end at their recorded column
    next_tile = np.zeros(1, dtype=np.int64)  # shared: each thread takes the next tile
    for _worker in prange(n_workers):
        while True:
            w = fetch_add_first(next_tile)
            if w >= tile_order.shape[0]:
                break
            t = tile_order[w]
            image = t // n_tiles
            tile = t % n_tiles
            px0 = (tile % tile_width) * tile_size
            py0 = (tile // tile_width) * tile_size
            px1 = min(px0 + tile_size, width)
            py1 = min(py0 + tile_size, height)
            # T, behind, v_color (r, g, b) per pixel; those past the image edge are never read.
            px = np.empty((n_pix, 5), dtype=means2d.dtype)
            # dL/d alpha of a Gaussian at a pixel is (c . v_color) T - behind / (1 - alpha), with
            # T the transmittance in front of it and behind = (colour composited behind it) .
            # v_color - T_final (v_alpha - background . v_color): one running sum per pixel
            # instead of three colour buffers (backward ~17 % faster on the 100K-Gaussian view).
            last = np.full(n_pix, -1, dtype=np.int64)
            tile_last = -1
            row_last = np.full(tile_size, -1, dtype=np.int64)
            for i in range(py0, py1):
                for j in range(px0, px1):
                    p = (i - py0) * tile_size + (j - px0)
                    tf = transmittance[image, i, j]
                    px[p, 0] = tf
                    last[p] = last_ids[image, i, j]
                    tile_last = max(tile_last, last[p])
                    row_last[i - py0] = max(row_last[i - py0], last[p])
                    vr = v_color[image, i, j, 0]
                    vg = v_color[image, i, j, 1]
                    vb = v_color[image, i, j, 2]
                    px[p, 2] = vr
                    px[p, 3] = vg
                    px[p, 4] = vb
                    bg_dot = (background[image, 0] * vr + background[image, 1] * vg
                              + background[image, 2] * vb)
                    px[p, 1] = -(tf * (v_alpha[image, i, j] - bg_dot))
            # Rows behind every pixel's last contributor get no gradient (the caller's array is
            # not zeroed: every row is written here).
            for k in range(max(tile_last + 1, tile_offsets[t]), tile_offsets[t + 1]):
                for c in range(isect_grads.shape[1]):
                    isect_grads[k, c] = zero
            for k in range(tile_last, tile_offsets[t] - 1, -1):
                g = flatten_ids[k]
                mx = means2d[g, 0]
                my = means2d[g, 1]
                ca = conics[g, 0]
                cb = conics[g, 1]
                cc = conics[g, 2]
                ca_h = ca * half
                cc_h = cc * half
                op = opacities[g]
                cr = colors[g, 0]
                cg = colors[g, 1]
                cbl = colors[g, 2]
                if recorded:
                    sigma_cut = no_cut
                else:
                    sigma_cut = math.log(op) + ln255 + margin if op > 0 else -one
                jx0 = max(px0, int(math.floor(mx - radii[g, 0])) - 1)
                jx1 = min(px1, int(math.ceil(mx + radii[g, 0])) + 1)
                iy0 = max(py0, int(math.floor(my - radii[g, 1])) - 1)
                iy1 = min(py1, int(math.ceil(my + radii[g, 1])) + 1)
                g_mx = zero
                g_my = zero
                g_ca = zero
                g_cb = zero
                g_cc = zero
                g_op = zero
                g_ax = zero
                g_ay = zero
                g_r = zero
                g_g = zero
                g_b = zero
                if recorded:  # only the ratio's factor along the run is needed
                    q = math.exp(-(ca_h + ca_h))  # as in _step_factors: the same bits
                    steps = (q, one, one, one, one, False)
                else:
                    steps = _step_factors(ca_h, cb, cc_h, one, limit)
                    q = steps[0]
                cursor = (False, jx0, one, one, one)
                for i in range(iy0, iy1):
                    dy = my - centres[np.uint64(i)]
                    sy = cc_h * dy * dy
                    cy = cb * dy
                    row = (i - py0) * tile_size - px0
                    # The forward pass's entry and recurrence, step for step: the same alpha.
                    if recorded:
                        slot = np.uint64(k * tile_size + (i - py0))
                        if row_j[slot] < 0 or k > row_last[i - py0]:
                            continue  # no run, or behind the last contributor of every pixel
                        j = px0 + row_j[slot]
                        j_end = px0 + row_end[slot]
                        e = row_e[slot]
                        r = row_r[slot]
                        dx = mx - centres[np.uint64(j)]
                        sigma = (ca_h * dx + cy) * dx + sy
                    else:
                        j, dx, sigma, e, r, cursor = _row_entry(
                            jx0, jx1, mx, dy, cy, sy, ca_h, cb, cc_h, sigma_cut, centres, one,
                            steps, cursor,
                        )
                        j_end = jx1
                        if j >= jx1:
                            continue
                    # dL/dsigma summed over the row, times 1, dx and dx^2: the conic and mean
                    # gradients are linear in them (dy is fixed along a row).
                    s0 = zero
                    s1 = zero
                    s2 = zero
                    while True:
                        p = np.uint64(row + j)
                        if not (k > last[p] or sigma < 0):
                            vis = e
                            raw = op * vis
                            alpha = min(alpha_max, raw)
                            if alpha >= alpha_min:
                                ra = one / (one - alpha)
                                tp = px[p, 0] * ra
                                px[p, 0] = tp
                                fac = alpha * tp
                                gr = px[p, 2]
                                gg = px[p, 3]
                                gb = px[p, 4]
                                c_dot = cr * gr + cg * gg + cbl * gb
                                v_a = c_dot * tp - px[p, 1] * ra
                                g_r += fac * gr
                                g_g += fac * gg
                                g_b += fac * gb
                                if raw <= alpha_max:
                                    v_sigma = -raw * v_a
                                    s0 += v_sigma
                                    s1 += v_sigma * dx
                                    s2 += v_sigma * dx * dx
                                    if absgrad:
                                        g_ax += abs(v_sigma * (ca * dx + cb * dy))
                                        g_ay += abs(v_sigma * (cb * dx + cc * dy))
                                    g_op += vis * v_a
                                px[p, 1] += c_dot * fac
                        j += 1
                        if j >= j_end:
                            break
                        dx = mx - centres[np.uint64(j)]
                        sigma = (ca_h * dx + cy) * dx + sy
                        if sigma > sigma_cut:
                            break
                        e *= r
                        r *= q
                    g_ca += s2
                    g_cb += s1 * dy
                    g_cc += s0 * dy * dy
                    g_mx += ca * s1 + cb * dy * s0
                    g_my += cb * s1 + cc * dy * s0
                isect_grads[k, 0] = g_mx
                isect_grads[k, 1] = g_my
                isect_grads[k, 2] = g_ca * half
                isect_grads[k, 3] = g_cb
                isect_grads[k, 4] = g_cc * half
                isect_grads[k, 5] = g_r
                isect_grads[k, 6] = g_g
                isect_grads[k, 7] = g_b
                isect_grads[k, 8] = g_op
                isect_grads[k, 9] = g_ax
                isect_grads[k, 10] = g_ay


def _sum_isect_grads(local_ids, isect_grads, local_order, out, n_parts):  # pragma: no cover
    """``out[local_order[v]] += isect_grads[k]`` for every intersection ``k`` with
    ``local_ids[k] = v`` (see :func:`_fill_tiles`).

    ``n_parts`` threads each own a contiguous range of ``v`` and walk every intersection, so
    each Gaussian's row is summed by one thread in increasing ``k``: the same sums, bit for bit,
    for any thread count (100K-Gaussian view, 343K intersections: 13.3 -> 7.7 ms on 2 threads).
    """
    n = local_order.shape[0]
    for part in prange(n_parts):
        lo = part * n // n_parts
        hi = (part + 1) * n // n_parts
        for k in range(local_ids.shape[0]):
            v = local_ids[k]
            if v < lo or v >= hi:
                continue
            g = local_order[v]
            for c in range(isect_grads.shape[1]):
                out[g, c] += isect_grads[k, c]


@functools.lru_cache(maxsize=1)
def compiled_kernels() -> SimpleNamespace:
    """Compile (or load from numba's on-disk cache) the kernels of this module.

    Returns
    -------
    SimpleNamespace
        ``box_tiles``, ``tile_hits``, ``fill_tiles``, ``gather_rows``, ``rasterize_fwd``,
        ``rasterize_bwd``, ``sum_isect_grads``: numba dispatchers, specialised lazily per dtype
        on first call.
    """
    import numba

    from splatkit.render._atomics import fetch_add_first_intrinsic

    globals()["prange"] = numba.prange
    globals()["fetch_add_first"] = fetch_add_first_intrinsic()
    # Helpers called by the kernels: inlined into them at numba IR level.
    inline = functools.partial(numba.njit, inline="always", cache=True, error_model="numpy",
                               fastmath={"contract"})
    globals()["_step_factors"] = inline()(_step_factors)
    globals()["_row_entry"] = inline()(_row_entry)
    globals()["_tile_box"] = inline()(_tile_box)
    # error_model="numpy": no zero-division check (and branch) on the per-pixel 1 / (1 - alpha),
    # which cannot be 0 (alpha <= 0.999); results are the same. fastmath "contract" (and only
    # that: NaN, inf and signed zeros keep their meaning) lets LLVM fuse a * b + c into one FMA:
    # the backward's per-pixel sums are mostly such (kernel A/B on the 100K-Gaussian view:
    # backward 125 -> 113 ms). Both kernels compute sigma and the recurrences with the same
    # expressions, so they fuse alike and the backward still sees the forward's alpha.
    parallel = functools.partial(numba.njit, parallel=True, cache=True, nogil=True,
                                 error_model="numpy", fastmath={"contract"})
    serial = functools.partial(numba.njit, cache=True, nogil=True, error_model="numpy")
    return SimpleNamespace(
        box_tiles=parallel()(_box_tiles),
        tile_hits=parallel()(_tile_hits),
        fill_tiles=serial()(_fill_tiles),
        gather_rows=parallel()(_gather_rows),
        rasterize_fwd=parallel()(_rasterize_fwd),
        rasterize_bwd=parallel()(_rasterize_bwd),
        sum_isect_grads=parallel()(_sum_isect_grads),
    )
