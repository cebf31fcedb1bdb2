"""Scalar codebook quantiser: 256 levels for SOG scales, colours and SH palette values.

Same objective as splat-transform >= 1.7 (``quantize-1d-core.ts``, PR #163): pool the columns,
summarise the sorted values in a histogram of ``H <= 1024`` bins whose edges blend value space
and rank space (so a few outliers neither eat the budget nor get ignored), weight each bin by
``count**alpha`` (alpha = 0.5 gives sparse tails a say), and split the bins into ``k`` contiguous
ranges with an exact dynamic programme minimising the weighted squared error. Values are then
labelled with their nearest codebook entry.

Differences, on purpose: when a pool has at most ``k`` distinct values the codebook is those
values (lossless), and the DP runs as ``k`` vectorised ``[H, H]`` min-reductions in numpy
(~1 s for ``k = 256``, ``H = 1024``) instead of scalar loops. Inputs must be finite: the SOG
encoder drops non-finite splats before quantising, so no infinity sentinels are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splatkit.errors import ContractError

__all__ = ["CODEBOOK_SIZE", "ScalarCodebook", "fit_codebook", "quantize_1d"]

CODEBOOK_SIZE = 256
_MAX_BINS = 1024


@dataclass(frozen=True, kw_only=True)
class ScalarCodebook:
    """A sorted scalar codebook and the labels of the values it was fitted on.

    Attributes
    ----------
    values : float32 [k]
        Ascending (non-decreasing: padded with the last entry when fewer levels were needed).
    labels : uint8 [M]
        Index of the nearest entry for each input value, in input order.
    """

    values: np.ndarray
    labels: np.ndarray

    def decode(self) -> np.ndarray:
        """The quantised values, float32 [M]."""
        return self.values[self.labels]


def nearest_labels(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Index of the nearest entry of an ascending ``codebook`` for each value (uint8 [M]).

    Ties between two entries go to the upper one (splat-transform's midpoint binary search).
    """
    codebook = np.asarray(codebook, np.float64)
    mids = (codebook[:-1] + codebook[1:]) * 0.5
    return np.searchsorted(mids, np.asarray(values, np.float64), side="right").astype(np.uint8)


def _histogram(sorted_values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Blended value/rank histogram: (bin counts, bin means), empty bins dropped."""
    n = sorted_values.size
    vmin, vmax = sorted_values[0], sorted_values[-1]
    span = vmax - vmin
    iqr = sorted_values[int(n * 0.75)] - sorted_values[int(n * 0.25)]
    # Lean towards rank space when the inter-quartile range is tiny against the full range.
    beta = min(0.999, max(0.5, 1.0 - iqr / span))
    position = beta * (np.arange(n) / n) + (1.0 - beta) * ((sorted_values - vmin) / span)
    index = np.minimum(bins - 1, np.floor(bins * position).astype(np.int64))
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    sums = np.bincount(index, weights=sorted_values, minlength=bins)
    keep = counts > 0
    return counts[keep], sums[keep] / counts[keep]


def _dp_centroids(weights: np.ndarray, centers: np.ndarray, k: int) -> np.ndarray:
    """Optimal split of ``len(centers)`` weighted points into ``k`` contiguous ranges; their means."""
    h = centers.size
    pw = np.concatenate([[0.0], np.cumsum(weights)])
    pwx = np.concatenate([[0.0], np.cumsum(weights * centers)])
    pwxx = np.concatenate([[0.0], np.cumsum(weights * centers * centers)])
    # cost[s, j] = weighted SSE of bins s+1..j (one range), for s < j; row s = -1 is prepended
    # as row 0 so that "start from bin 0" is cost[0, j].
    a = np.arange(h + 1)[:, None]       # range starts at bin a (0..h)
    b = np.arange(h)[None, :]           # range ends at bin b (inclusive)
    w = pw[b + 1] - pw[np.minimum(a, h)]
    wx = pwx[b + 1] - pwx[np.minimum(a, h)]
    wxx = pwxx[b + 1] - pwxx[np.minimum(a, h)]
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.where(w > 0, wxx - wx * wx / np.where(w > 0, w, 1.0), 0.0)
    cost = np.maximum(cost, 0.0)
    cost[a > b] = np.inf
    # dp[j] = best cost of bins 0..j with m ranges; split[m][j] = start bin of the last range.
    dp = cost[0].copy()
    splits = np.zeros((k, h), np.int64)
    for m in range(1, k):
        # last range starts at bin s+1 (1..j): total = dp_prev[s] + cost[s+1, j]
        total = dp[:, None] + cost[1:, :]          # [s, j]
        splits[m] = np.argmin(total, axis=0) + 1
        dp = total[splits[m] - 1, np.arange(h)]
    starts = []
    j = h - 1
    for m in range(k - 1, -1, -1):
        s = splits[m][j] if m > 0 else 0
        starts.append((s, j))
        j = s - 1
    means = [(pwx[e + 1] - pwx[s]) / (pw[e + 1] - pw[s]) for s, e in reversed(starts)]
    return np.sort(np.asarray(means, np.float64))


def fit_codebook(values: np.ndarray, k: int = CODEBOOK_SIZE, *, alpha: float = 0.5) -> np.ndarray:
    """Fit an ascending ``k``-entry codebook (float32 [k]) to finite ``values`` (any shape)."""
    v = np.asarray(values, np.float64).ravel()
    if k < 1:
        raise ContractError(f"codebook size must be >= 1, got {k}", field="k")
    if v.size == 0:
        return np.zeros(k, np.float32)
    if not np.isfinite(v).all():
        raise ContractError("fit_codebook: values must be finite (drop NaN/Inf splats first)", field="values")
    distinct = np.unique(v)
    if distinct.size <= k:
        # Lossless: every distinct value gets its own entry (pad with the last one).
        out = np.full(k, distinct[-1])
        out[: distinct.size] = distinct
        return out.astype(np.float32)
    ordered = np.sort(v)
    counts, centers = _histogram(ordered, min(_MAX_BINS, ordered.size))
    if centers.size <= k:
        levels = centers
    else:
        levels = _dp_centroids(counts ** alpha, centers, k)
    out = np.full(k, levels[-1])
    out[: levels.size] = levels
    return np.sort(out).astype(np.float32)


def quantize_1d(values: np.ndarray, k: int = CODEBOOK_SIZE, *, alpha: float = 0.5) -> ScalarCodebook:
    """Fit a codebook to all of ``values`` pooled and label each value (row-major order).

    Parameters
    ----------
    values : any shape, finite
        E.g. ``log_scales.T`` to pool the three axes channel by channel.
    k
        Codebook size (SOG: 256, labels are uint8).
    alpha
        Histogram weight exponent: 1 = plain MSE, 0.5 = splat-transform's default.
    """
    if k > 256:
        raise ContractError(f"quantize_1d labels are uint8: k must be <= 256, got {k}", field="k")
    codebook = fit_codebook(values, k, alpha=alpha)
    labels = nearest_labels(np.asarray(values).ravel(), codebook)
    return ScalarCodebook(values=codebook, labels=labels)
