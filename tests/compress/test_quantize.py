"""The 256-level scalar codebook quantiser."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from splatkit.compress.quantize import _dp_centroids, fit_codebook, nearest_labels, quantize_1d
from splatkit.errors import ContractError

values = arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1e3, 1e3, allow_nan=False))


@given(values, st.sampled_from([2, 16, 256]))
def test_labels_pick_the_nearest_entry(v: np.ndarray, k: int) -> None:
    q = quantize_1d(v, k)
    assert q.values.shape == (k,) and q.values.dtype == np.float32
    assert (np.diff(q.values) >= 0).all()
    err = np.abs(v - q.decode())
    nearest = np.abs(v[:, None] - q.values[None, :].astype(np.float64)).min(axis=1)
    assert np.allclose(err, nearest, atol=1e-9)


@given(arrays(np.float32, st.integers(1, 2000), elements=st.sampled_from([-3.5, 0.0, 1.25, 7.0, 1e-3])))
def test_at_most_k_distinct_values_is_lossless(v: np.ndarray) -> None:
    q = quantize_1d(v)
    assert np.array_equal(q.decode(), v)


def test_error_is_small_on_a_smooth_distribution() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(-4.0, 1.0, 30_000)
    q = quantize_1d(v)
    rms = np.sqrt(np.mean((v - q.decode()) ** 2))
    # a uniform 256-level quantiser over +-4 sigma has rms 8/256/sqrt(12) ~ 0.009
    assert rms < 0.01
    # codebook covers the data: extreme values are not clipped far away
    assert q.values[0] <= np.quantile(v, 0.001) and q.values[-1] >= np.quantile(v, 0.999)


def test_dp_is_optimal_on_small_problems() -> None:
    rng = np.random.default_rng(3)
    for _ in range(10):
        centers = np.sort(rng.normal(size=7))
        weights = rng.random(7) + 0.1
        got = _dp_centroids(weights, centers, 3)
        cost = (weights * ((centers[:, None] - got[None, :]) ** 2).min(axis=1)).sum()
        best = np.inf
        for a in range(1, 6):
            for b in range(a + 1, 7):
                total = 0.0
                for s, e in ((0, a), (a, b), (b, 7)):
                    m = (weights[s:e] * centers[s:e]).sum() / weights[s:e].sum()
                    total += (weights[s:e] * (centers[s:e] - m) ** 2).sum()
                best = min(best, total)
        assert cost <= best + 1e-12


def test_nearest_labels_ties_go_up() -> None:
    assert list(nearest_labels(np.array([0.5, 0.49, 0.51]), np.array([0.0, 1.0]))) == [1, 0, 1]


def test_non_finite_and_bad_sizes_are_refused() -> None:
    with pytest.raises(ContractError, match="finite"):
        fit_codebook(np.array([1.0, np.nan]))
    with pytest.raises(ContractError):
        quantize_1d(np.zeros(3), 257)
    assert np.array_equal(fit_codebook(np.zeros(0), 4), np.zeros(4))
