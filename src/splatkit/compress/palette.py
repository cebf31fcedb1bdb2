"""SH palette: k-means of the higher-order SH coefficients into at most 64K entries.

SOG stores one palette index per splat (``shN_labels``) and the palette itself
(``shN_centroids``). splat-transform fits it with 10 Lloyd iterations of flat k-means: seconds on
a GPU, hours on a CPU (every iteration costs ``N K D`` multiply-adds: 3 x 10^12 for 1M splats,
a 64K palette and SH degree 3).

Here:

* **CUDA** (torch present and a device available): the same flat Lloyd k-means, with assignment
  as chunked matmuls (``|c|^2 - 2 x.c``) and ``index_add_`` updates.
* **CPU**: two-level k-means. A coarse k-means (``sqrt(K)`` cells, fitted on a sample) splits
  the points; each cell gets a share of the ``K`` entries proportional to its size and runs its
  own Lloyd iterations on its points only, so an iteration costs about ``N K D / sqrt(K)``
  (256x less for a 64K palette). Empty clusters are re-seeded with the point farthest from its
  centroid. Each splat is labelled with the nearest entry of its own cell (not searched across
  cells). Measured on a 100K-splat SH3 cloud with a 64K palette: RMSE within 0.2% of a flat
  10-iteration k-means (``benchmarks/compress.py --palette-check``); for 1M splats SH3 the
  palette step takes 10-35 s on two cores (``benchmarks/results/compress*--cpu2.json``).

Both use a seeded ``numpy.random.Generator`` for sampling and initialisation.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from splatkit.device import resolve_device
from splatkit.errors import ContractError

__all__ = ["MAX_PALETTE_SIZE", "palette_size", "fit_sh_palette", "kmeans_flat_numpy", "order_palette_by_position"]

logger = logging.getLogger(__name__)

MAX_PALETTE_SIZE = 65536
# Distance-matrix chunk budget (elements) for the CPU assignment, ~32 MB of float32.
_CHUNK_ELEMENTS = 1 << 23


def palette_size(count: int) -> int:
    """splat-transform's palette size: ``min(64, 2**floor(log2(N / 1024))) * 1024``.

    N = 100K -> 65536, 50K -> 32768, 20K -> 16384, 1K -> 512; capped at 65536; at least 1.
    """
    if count <= 0:
        return 0
    return int(max(1, min(64.0, 2.0 ** math.floor(math.log2(count / 1024))) * 1024))


def _assign(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each row: (labels int64 [n], squared distances float32 [n])."""
    n = x.shape[0]
    k = centroids.shape[0]
    labels = np.empty(n, np.int64)
    dist = np.empty(n, np.float32)
    c_sq = (centroids * centroids).sum(axis=1)
    step = max(1, _CHUNK_ELEMENTS // max(k, 1))
    for start in range(0, n, step):
        xs = x[start:start + step]
        d = c_sq[None, :] - 2.0 * (xs @ centroids.T)          # |x|^2 omitted: same argmin
        lab = d.argmin(axis=1)
        labels[start:start + step] = lab
        dist[start:start + step] = np.maximum(0.0, d[np.arange(lab.size), lab] + (xs * xs).sum(axis=1))
    return labels, dist


def _update(x: np.ndarray, labels: np.ndarray, dist: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Lloyd update: cluster means; empty clusters take the points farthest from their centroid."""
    k = centroids.shape[0]
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    present, starts, counts = np.unique(sorted_labels, return_index=True, return_counts=True)
    out = centroids.copy()
    sums = np.add.reduceat(x[order].astype(np.float64), starts, axis=0)
    out[present] = (sums / counts[:, None]).astype(np.float32)
    empty = np.setdiff1d(np.arange(k), present, assume_unique=True)
    if empty.size:
        far = np.argsort(dist)[::-1][: empty.size]
        out[empty[: far.size]] = x[far]
    return out


def kmeans_flat_numpy(x: np.ndarray, k: int, *, iterations: int = 10,
                      rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Plain Lloyd k-means on the CPU (random distinct points as seeds).

    Parameters
    ----------
    x : float32 [n, D]
    k : int, ``1 <= k <= n``

    Returns
    -------
    centroids : float32 [k, D]
    labels : int64 [n]
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    n = x.shape[0]
    if k >= n:
        return x.copy(), np.arange(n, dtype=np.int64)
    centroids = x[rng.choice(n, size=k, replace=False)].copy()
    labels, dist = _assign(x, centroids)
    for _ in range(iterations):
        centroids = _update(x, labels, dist, centroids)
        labels, dist = _assign(x, centroids)
    return centroids, labels


def _allocate(cell_counts: np.ndarray, k: int) -> np.ndarray:
    """Split ``k`` palette entries over cells proportionally to their sizes.

    Every non-empty cell gets at least 1 and at most its point count; the total is exactly ``k``
    (requires ``k <= cell_counts.sum()``).
    """
    n = cell_counts.sum()
    share = cell_counts * (k / n)
    alloc = np.minimum(cell_counts, np.maximum(np.floor(share), (cell_counts > 0).astype(np.float64))).astype(np.int64)
    diff = int(k - alloc.sum())
    while diff != 0:
        if diff > 0:
            room = alloc < cell_counts
            gain = np.where(room, share - alloc, -np.inf)
            take = np.argsort(gain)[::-1][: min(diff, int(room.sum()))]
            alloc[take] += 1
            diff -= take.size
        else:
            room = alloc > 1
            excess = np.where(room, alloc - share, -np.inf)
            take = np.argsort(excess)[::-1][: min(-diff, int(room.sum()))]
            alloc[take] -= 1
            diff += take.size
    return alloc


def _kmeans_two_level(x: np.ndarray, k: int, iterations: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coarse k-means into ~sqrt(k) cells, then a proportional share of ``k`` per cell."""
    n = x.shape[0]
    coarse_k = int(min(n, max(1, round(math.sqrt(k)))))
    sample = x[rng.choice(n, size=min(n, coarse_k * 256), replace=False)]
    coarse, _ = kmeans_flat_numpy(sample, coarse_k, iterations=iterations, rng=rng)
    cell, _ = _assign(x, coarse)
    counts = np.bincount(cell, minlength=coarse_k)
    alloc = _allocate(counts, k)
    order = np.argsort(cell, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    centroids = np.empty((k, x.shape[1]), np.float32)
    labels = np.empty(n, np.int64)
    offset = 0
    for c in range(coarse_k):
        if counts[c] == 0:
            continue
        members = order[bounds[c]:bounds[c + 1]]
        cen, lab = kmeans_flat_numpy(x[members], int(alloc[c]), iterations=iterations, rng=rng)
        centroids[offset:offset + cen.shape[0]] = cen
        labels[members] = lab + offset
        offset += cen.shape[0]
    return centroids[:offset], labels


def _kmeans_torch(x: np.ndarray, k: int, iterations: int, rng: np.random.Generator,
                  device: str) -> tuple[np.ndarray, np.ndarray]:
    import torch

    xt = torch.from_numpy(np.ascontiguousarray(x)).to(device)
    n, d = xt.shape
    cen = xt[torch.from_numpy(rng.choice(n, size=k, replace=False)).to(device)].clone()
    chunk = max(1, (1 << 28) // k)

    def assign(cen: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
        labels = torch.empty(n, dtype=torch.int64, device=device)
        dist = torch.empty(n, dtype=torch.float32, device=device)
        c_sq = (cen * cen).sum(1)
        for s in range(0, n, chunk):
            xs = xt[s:s + chunk]
            dd = c_sq[None, :] - 2.0 * (xs @ cen.T)
            val, lab = dd.min(1)
            labels[s:s + chunk] = lab
            dist[s:s + chunk] = (val + (xs * xs).sum(1)).clamp_min(0)
        return labels, dist

    # Full fp32 matmuls: TF32 would blur near-ties, and the palette is the quality bottleneck.
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        labels, dist = assign(cen)
        for _ in range(iterations):
            sums = torch.zeros((k, d), dtype=torch.float64, device=device).index_add_(0, labels, xt.double())
            counts = torch.bincount(labels, minlength=k)
            filled = counts > 0
            cen[filled] = (sums[filled] / counts[filled, None]).float()
            empty = torch.nonzero(~filled).flatten()
            if empty.numel():
                far = torch.argsort(dist, descending=True)[: empty.numel()]
                cen[empty] = xt[far]
            labels, dist = assign(cen)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    return cen.cpu().numpy(), labels.cpu().numpy()


def fit_sh_palette(x: np.ndarray, k: int, *, iterations: int = 10, seed: int = 0,
                   device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Fit a palette of at most ``k`` entries to SH rows.

    Parameters
    ----------
    x : float32 [N, D]
        Higher-order SH per splat, PLY channel-major (``D = 3 K``).
    k : int
        Palette size, ``1..65536``.
    iterations : int
        Lloyd iterations (splat-transform: 10).
    seed : int
        Seeds sampling and initialisation.
    device : {"auto", "cpu", "cuda"}
        ``auto`` uses CUDA through torch when available, else the two-level CPU k-means.

    Returns
    -------
    centroids : float32 [P, D]
        ``P = min(k, N)`` entries (every splat is its own entry when ``N <= k``).
    labels : int64 [N]
        Palette index of each splat.
    """
    x = np.ascontiguousarray(x, np.float32)
    if x.ndim != 2:
        raise ContractError(f"fit_sh_palette: x must be [N, D], got {x.shape}", field="x")
    if not 1 <= k <= MAX_PALETTE_SIZE:
        raise ContractError(f"palette size must be in 1..{MAX_PALETTE_SIZE}, got {k}", field="palette_size",
                            expected=f"1..{MAX_PALETTE_SIZE}", actual=k)
    resolved = resolve_device(device, what="SH palette k-means")
    n = x.shape[0]
    if n <= k:
        return x.copy(), np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if resolved == "cuda":
        logger.debug("SH palette: flat k-means on cuda, N=%d K=%d D=%d", n, k, x.shape[1])
        return _kmeans_torch(x, k, iterations, rng, "cuda")
    logger.debug("SH palette: two-level k-means on CPU, N=%d K=%d D=%d", n, k, x.shape[1])
    return _kmeans_two_level(x, k, iterations, rng)


def order_palette_by_position(centroids: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber palette entries by where their splats sit in the file (a lossless relabelling).

    k-means numbers its entries arbitrarily, so the 16-bit label image is noise to lossless WebP
    even when neighbouring pixels hold similar splats. Numbering each entry by the mean file
    position (pixel index) of the splats that use it makes neighbouring pixels carry nearby
    labels: on a trained llff-fern cloud (80K splats, SH degree 1, Morton order) the label image
    shrinks by 39 % and the whole file by 3.6 % (docs/compression.md). k-means' own numbering keeps
    similar entries together, which suits the centroid atlas, so the SOG encoder writes both and
    keeps the smaller pair. The decoded values do not change: ``new_centroids[new_labels] ==
    centroids[labels]``.

    Parameters
    ----------
    centroids : [P, ...]
        Palette rows (any per-entry array: values or codebook indices).
    labels : int [N]
        Entry of each splat, in file order.

    Returns
    -------
    centroids : [P, ...]
        The same rows, renumbered; entries no splat uses go last.
    labels : int64 [N]
    """
    labels = np.asarray(labels, np.int64)
    entries = centroids.shape[0]
    counts = np.bincount(labels, minlength=entries)
    position_sum = np.bincount(labels, weights=np.arange(labels.shape[0], dtype=np.float64), minlength=entries)
    key = np.where(counts > 0, position_sum / np.maximum(counts, 1), np.inf)
    order = np.argsort(key, kind="stable")
    renumber = np.empty(entries, np.int64)
    renumber[order] = np.arange(entries)
    return centroids[order], renumber[labels]
