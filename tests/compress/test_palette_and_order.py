"""SH palette k-means and Morton ordering."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from splatkit.compress.ordering import morton_codes, morton_order, order_splats
from splatkit.compress.palette import (_allocate, fit_sh_palette, kmeans_flat_numpy, order_palette_by_position,
                                      palette_size)
from splatkit.errors import ContractError


def test_palette_size_rule_matches_splat_transform() -> None:
    assert palette_size(100_000) == 65536
    assert palette_size(65_536) == 65536
    assert palette_size(50_000) == 32768
    assert palette_size(20_000) == 16384
    assert palette_size(1_000) == 512
    assert palette_size(5_000_000) == 65536
    assert palette_size(1) == 1


@given(arrays(np.int64, st.integers(1, 30), elements=st.integers(0, 500)), st.data())
def test_allocation_is_exact_and_feasible(counts: np.ndarray, data: st.DataObject) -> None:
    total = int(counts.sum())
    nonempty = int((counts > 0).sum())
    if total == 0:
        return
    k = data.draw(st.integers(nonempty, total))
    alloc = _allocate(counts, k)
    assert alloc.sum() == k
    assert (alloc <= counts).all()
    assert ((alloc >= 1) | (counts == 0)).all()


def _clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 5))
    return (latent @ rng.normal(size=(5, d)) * 0.1 + rng.normal(scale=0.02, size=(n, d))).astype(np.float32)


def test_two_level_palette_is_close_to_flat_kmeans() -> None:
    x = _clustered(12_000, 24)
    k = 1024
    cen, lab = fit_sh_palette(x, k, iterations=8, seed=1, device="cpu")
    assert cen.shape == (k, 24) and lab.shape == (12_000,)
    assert lab.min() >= 0 and lab.max() < k
    rms = np.sqrt(((x - cen[lab]) ** 2).mean())
    flat_c, flat_l = kmeans_flat_numpy(x, k, iterations=8, rng=np.random.default_rng(1))
    flat = np.sqrt(((x - flat_c[flat_l]) ** 2).mean())
    assert rms <= 1.10 * flat
    # and far better than a single mean
    assert rms < 0.5 * np.sqrt(((x - x.mean(axis=0)) ** 2).mean())


def test_palette_with_fewer_points_than_entries_is_lossless() -> None:
    x = _clustered(100, 9)
    cen, lab = fit_sh_palette(x, 512)
    assert np.array_equal(cen[lab], x)


def test_palette_is_deterministic_for_a_seed() -> None:
    x = _clustered(3000, 9)
    a = fit_sh_palette(x, 256, seed=5, device="cpu")
    b = fit_sh_palette(x, 256, seed=5, device="cpu")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_palette_bad_arguments() -> None:
    with pytest.raises(ContractError):
        fit_sh_palette(np.zeros((10, 3), np.float32), 0)
    with pytest.raises(ContractError):
        fit_sh_palette(np.zeros((10, 3), np.float32), 4, device="tpu")


def _interleave_naive(ix: int, iy: int, iz: int) -> int:
    code = 0
    for b in range(21):
        code |= ((ix >> b) & 1) << (3 * b) | ((iy >> b) & 1) << (3 * b + 1) | ((iz >> b) & 1) << (3 * b + 2)
    return code


@given(st.integers(1, 40), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_palette_renumbering_keeps_every_decoded_value(entries: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    centroids = rng.normal(size=(entries, 9)).astype(np.float32)
    labels = rng.integers(0, entries, n)
    new_centroids, new_labels = order_palette_by_position(centroids, labels)
    np.testing.assert_array_equal(new_centroids[new_labels], centroids[labels])
    assert sorted(map(tuple, new_centroids)) == sorted(map(tuple, centroids))      # a permutation
    used = np.unique(new_labels)
    np.testing.assert_array_equal(used, np.arange(used.size))                     # unused entries last
    # entries numbered by the mean position of their splats
    mean_pos = [np.flatnonzero(new_labels == e).mean() for e in used]
    assert all(a <= b for a, b in zip(mean_pos, mean_pos[1:]))


def test_palette_renumbering_makes_labels_follow_the_file() -> None:
    # splats in file order drift through SH space; k-means numbers entries arbitrarily
    n = 4000
    t = np.linspace(0, 1, n)
    rest = np.stack([np.sin(6 * t + j) for j in range(9)], axis=1).astype(np.float32)
    rest += np.random.default_rng(0).normal(scale=0.02, size=rest.shape).astype(np.float32)
    centroids, labels = fit_sh_palette(rest, 256, seed=0, device="cpu")
    _, new_labels = order_palette_by_position(centroids, labels)
    jumps = lambda lab: np.abs(np.diff(lab)).mean()  # noqa: E731
    assert jumps(new_labels) < 0.2 * jumps(labels)


def test_morton_codes_interleave_bits() -> None:
    # corners of the box map to the grid extremes
    pts = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0],
                    [0.25, 0.5, 0.75]])
    codes = morton_codes(pts)
    top = (1 << 21) - 1
    cells = [(0, 0, 0), (top, top, top), (top, 0, 0), (0, top, 0), (0, 0, top),
             (1 << 19, 1 << 20, 3 << 19)]
    assert [int(c) for c in codes] == [_interleave_naive(*c) for c in cells]


@given(arrays(np.float64, st.tuples(st.integers(1, 200), st.just(3)), elements=st.floats(-1e3, 1e3)))
def test_morton_order_is_a_permutation_sorted_by_code(p: np.ndarray) -> None:
    order = morton_order(p)
    assert np.array_equal(np.sort(order), np.arange(len(p)))
    codes = morton_codes(p)[order]
    assert (np.diff(codes.astype(np.float64)) >= 0).all()


def test_morton_order_keeps_neighbours_close() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(20_000, 3))
    order = morton_order(p)
    step = np.linalg.norm(np.diff(p[order], axis=0), axis=1).mean()
    random_step = np.linalg.norm(np.diff(p, axis=0), axis=1).mean()
    assert step < random_step / 10


def test_unknown_ordering_is_refused() -> None:
    with pytest.raises(ContractError, match="hilbert"):
        order_splats(np.zeros((4, 3)), "hilbert")


@pytest.mark.cuda
def test_cuda_flat_palette_matches_cpu_quality() -> None:
    x = _clustered(20_000, 45)
    cen, lab = fit_sh_palette(x, 4096, seed=2, device="cuda")
    assert cen.shape == (4096, 45) and lab.min() >= 0 and lab.max() < 4096
    # labels are the nearest entries
    d = ((x[:500, None, :] - cen[None, :, :]) ** 2).sum(axis=2)
    assert np.allclose(d[np.arange(500), lab[:500]], d.min(axis=1), rtol=1e-4, atol=1e-6)
    cpu_c, cpu_l = fit_sh_palette(x, 4096, seed=2, device="cpu")
    cuda_rms = np.sqrt(((x - cen[lab]) ** 2).mean())
    assert cuda_rms <= 1.05 * np.sqrt(((x - cpu_c[cpu_l]) ** 2).mean())
