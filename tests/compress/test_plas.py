"""PLAS ordering: a real 2-D sort, a permutation, padding that splatkit drops and others ignore."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from splatkit.compress.ordering import order_splats
from splatkit.compress.plas import (
    CPU_SCHEDULE,
    DEFAULT_SCHEDULE,
    PlasSchedule,
    _box_blur,
    plas_features,
    plas_order,
    sort_grid,
)
from splatkit.compress.sog_backend import SogCompressor, SogConfig
from splatkit.compress.sog_encoder import SogEncodeOptions, decode_errors, encode_sog
from splatkit.contracts import GaussianCloud
from splatkit.errors import ContractError, InputError
from splatkit.io import sog
from splatkit.io.ply import read_ply
from tests.compress.synthetic import synthetic_cloud
from tests.conftest import find_splat_transform as _splat_transform


def _neighbour_cost(features: np.ndarray, grid: np.ndarray, height: int, width: int) -> float:
    """Mean squared difference of horizontally and vertically adjacent pixels."""
    g = features[grid].reshape(height, width, -1).astype(np.float64)
    return float((((g[:, 1:] - g[:, :-1]) ** 2).sum(-1).mean() + ((g[1:] - g[:-1]) ** 2).sum(-1).mean()) / 2)


def _smooth_field(height: int, width: int, seed: int) -> np.ndarray:
    """Features that have a perfectly smooth 2-D arrangement (an RGB gradient), shuffled."""
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    f = np.stack([xx, yy, (xx + yy) / 2], axis=-1).reshape(-1, 3)
    return f[np.random.default_rng(seed).permutation(f.shape[0])].astype(np.float32)


@pytest.mark.parametrize("height, width, gain", [(24, 24, 0.25), (20, 32, 0.25), (8, 4, 0.5)])
def test_sort_grid_is_a_permutation_and_organises_the_grid(height: int, width: int, gain: float) -> None:
    f = _smooth_field(height, width, seed=1)
    grid, stats = sort_grid(f, height, width, seed=0, device="cpu")
    assert np.array_equal(np.sort(grid), np.arange(height * width))
    random = _neighbour_cost(f, np.random.default_rng(0).permutation(height * width), height, width)
    ideal = _neighbour_cost(f, np.argsort(np.lexsort((f[:, 0], f[:, 1]))).argsort(), height, width)
    sorted_cost = _neighbour_cost(f, grid, height, width)
    assert sorted_cost < gain * random, (sorted_cost, random, ideal)
    assert stats["steps"] > 0 and stats["device"] == "cpu"


def test_sort_grid_is_deterministic_per_seed() -> None:
    f = _smooth_field(16, 16, seed=2)
    a, _ = sort_grid(f, 16, 16, seed=5, device="cpu")
    b, _ = sort_grid(f, 16, 16, seed=5, device="cpu")
    c, _ = sort_grid(f, 16, 16, seed=6, device="cpu")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_reference_schedule_beats_the_cpu_schedule_or_ties() -> None:
    f = _smooth_field(32, 32, seed=3)
    fast, _ = sort_grid(f, 32, 32, schedule=CPU_SCHEDULE, seed=0, device="cpu")
    full, _ = sort_grid(f, 32, 32, schedule=DEFAULT_SCHEDULE, seed=0, device="cpu")
    assert _neighbour_cost(f, full, 32, 32) <= 1.1 * _neighbour_cost(f, fast, 32, 32)


def test_box_blur_matches_a_brute_force_window() -> None:
    import torch

    rng = np.random.default_rng(0)
    h, w, rx, ry = 7, 9, 3, 2
    x = rng.normal(size=(h, w, 2)).astype(np.float32)
    got = _box_blur(torch.from_numpy(x), rx, ry).numpy()
    want = np.zeros_like(x, dtype=np.float64)
    for y in range(h):
        for xi in range(w):
            rows = [abs(v) if v < h else 2 * (h - 1) - v for v in range(y - ry, y + ry + 1)]  # mirrored in y
            cols = [(v % w) for v in range(xi - rx, xi + rx + 1)]                             # circular in x
            want[y, xi] = x[np.ix_(rows, cols)].mean(axis=(0, 1))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_schedule_and_input_validation() -> None:
    with pytest.raises(ContractError, match="radius_decay"):
        PlasSchedule(radius_decay=1.0)
    with pytest.raises(ContractError, match="min_configs"):
        PlasSchedule(min_configs=5, max_configs=2)
    with pytest.raises(ContractError, match=r"\[H\*W, C\]"):
        sort_grid(np.zeros((10, 3), np.float32), 4, 4, device="cpu")
    with pytest.raises(ContractError, match="NaN"):
        sort_grid(np.full((16, 3), np.nan, np.float32), 4, 4, device="cpu")
    with pytest.raises(ContractError, match="do not fit"):
        plas_order(np.zeros((20, 3), np.float32), 4, 4, device="cpu")
    with pytest.raises(ContractError, match="attributes"):
        order_splats(np.zeros((4, 3)), "plas")
    with pytest.raises(ContractError, match="unknown SOG ordering"):
        order_splats(np.zeros((4, 3)), "hilbert")


def test_plas_order_pads_with_copies() -> None:
    cloud = synthetic_cloud(90, 0, seed=4)
    f = plas_features(cloud.means, cloud.sh0, cloud.log_scales, cloud.opacity_logits, cloud.quats)
    result = plas_order(f, 12, 8, seed=0, device="cpu")
    assert result.order.shape == (96,) and result.padding.sum() == 6 == result.stats["padding"]
    assert np.array_equal(np.sort(result.order[~result.padding]), np.arange(90))
    assert result.order[result.padding].max() < 90


def test_plas_features_are_z_scored_and_weighted() -> None:
    cloud = synthetic_cloud(500, 0, seed=5)
    f = plas_features(cloud.means, cloud.sh0, cloud.log_scales, cloud.opacity_logits, cloud.quats,
                      weights={"means": 2.0, "sh0": 1.0})
    assert f.shape == (500, 6) and f.dtype == np.float32
    np.testing.assert_allclose(f.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(f.std(axis=0), [2, 2, 2, 1, 1, 1], rtol=1e-4)
    with pytest.raises(ContractError, match="unknown PLAS feature"):
        plas_features(cloud.means, cloud.sh0, cloud.log_scales, cloud.opacity_logits, cloud.quats,
                      weights={"normals": 1.0})


@st.composite
def small_clouds(draw: st.DrawFn) -> GaussianCloud:
    n = draw(st.integers(1, 150))
    degree = draw(st.sampled_from([0, 1]))
    k = (0, 3)[degree]

    def arr(shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
        return draw(arrays(np.float32, shape, elements=st.floats(lo, hi, allow_nan=False, width=32)))

    quats = arr((n, 4), -1, 1)
    quats[np.linalg.norm(quats, axis=1) < 1e-3] = (1, 0, 0, 0)
    return GaussianCloud(means=arr((n, 3), -30, 30), log_scales=arr((n, 3), -10, 2), quats=quats,
                         opacity_logits=arr((n,), -15, 15), sh0=arr((n, 3), -2, 2), shN=arr((n, k, 3), -1, 1))


@settings(max_examples=20)
@given(small_clouds(), st.integers(0, 3))
def test_plas_round_trip_gives_back_the_same_splats_and_no_padding(cloud: GaussianCloud, seed: int) -> None:
    enc = encode_sog(cloud, SogEncodeOptions(order="plas", palette_size=65536, webp_effort=0, device="cpu",
                                             seed=seed))
    width, height = sog.image_size(len(cloud))
    assert enc.bundle.meta["count"] == width * height == len(cloud) + enc.padding
    assert enc.bundle.meta["splatkit"]["padding"] == enc.padding
    # the file holds every input splat exactly once (a multiset, via source_index), padding aside
    assert np.array_equal(np.sort(enc.source_index), np.arange(len(cloud)))
    dec = sog.decode_sog(enc.bundle)
    assert len(dec) == len(cloud)
    errors = decode_errors(cloud.subset(enc.source_index), dec)
    assert errors["rotation_max_deg"] <= np.degrees(sog.QUAT_MAX_ANGLE_RAD)
    assert errors["opacity_max"] <= 0.5 / 255 + 1e-5
    p = cloud.means[enc.source_index].astype(np.float64)
    local = p - np.asarray(enc.bundle.meta["splatkit"]["offset"])
    step = (np.asarray(enc.bundle.meta["means"]["maxs"]) - np.asarray(enc.bundle.meta["means"]["mins"])) / 65535
    bound = (np.abs(local) + 1) * np.expm1(step / 2) + 1e-6 * (np.abs(local) + 1) + 2e-7 * np.abs(p)
    assert (np.abs(dec.means - p) <= bound).all()
    cb = np.asarray(enc.bundle.meta["sh0"]["codebook"], np.float32)
    nearest = cb[np.abs(cloud.sh0[enc.source_index][..., None] - cb).argmin(-1)]
    assert np.array_equal(dec.sh0, nearest)
    # what other readers see: the padding too, fully transparent
    raw = sog.decode_sog(enc.bundle, drop_padding=False)
    assert len(raw) == width * height
    alpha = 1 / (1 + np.exp(-raw.opacity_logits.astype(np.float64)))
    assert (alpha <= 1e-5).sum() >= enc.padding


def test_plas_file_round_trips_through_disk_and_reports(tmp_path: Path) -> None:
    cloud = synthetic_cloud(700, 1, seed=6, centre=(40.0, 0.0, 0.0))
    result = SogCompressor().run(cloud, SogConfig(order="plas", device="cpu", webp_effort=0), tmp_path)
    report = result.report
    width, height = sog.image_size(700)
    assert (report["count"], report["file_count"], report["padding"]) == (700, width * height, width * height - 700)
    assert report["order_stats"]["steps"] > 0 and report["errors"]["position_max"] < 1e-2
    assert report["bytes_per_splat"] == round(report["bytes"] / 700, 3)
    back = sog.decode_sog(sog.read_sog(tmp_path / "scene.sog"))
    assert len(back) == 700
    assert sog.info(tmp_path / "scene.sog")["padding"] == width * height - 700


def test_padding_mismatch_is_refused() -> None:
    cloud = synthetic_cloud(50, 0, seed=7)
    enc = encode_sog(cloud, SogEncodeOptions(order="plas", device="cpu", webp_effort=0))
    meta = dict(enc.bundle.meta)
    meta["splatkit"] = dict(meta["splatkit"], padding=enc.padding + 1)
    bad = type(enc.bundle)(format="sog", version=2, meta=meta, members=enc.bundle.members, source_count=50)
    with pytest.raises(InputError, match="padding"):
        sog.decode_sog(bad)
    assert len(sog.decode_sog(bad, drop_padding=False)) == 50 + enc.padding


def test_plas_makes_textures_smoother_than_morton() -> None:
    """On a structured cloud, PLAS neighbours differ less than Morton neighbours (what WebP sees)."""
    cloud = synthetic_cloud(4000, 0, seed=8)
    width, height = sog.image_size(len(cloud))
    means = cloud.means.astype(np.float64)
    f = plas_features(means, cloud.sh0, cloud.log_scales, cloud.opacity_logits, cloud.quats)
    plas = order_splats(means, "plas", attributes=cloud, device="cpu")
    morton = order_splats(means, "morton")
    morton_grid = np.concatenate([morton.order, morton.order[: width * height - len(cloud)]])
    assert _neighbour_cost(f, plas.order, height, width) < _neighbour_cost(f, morton_grid, height, width)


def test_splat_transform_reads_our_plas_file(tmp_path: Path) -> None:
    exe = _splat_transform()
    if exe is None or shutil.which("node") is None:
        pytest.skip("splat-transform not installed (see tests/compress/test_sog_interop.py)")
    cloud = synthetic_cloud(300, 1, seed=9)
    enc = encode_sog(cloud, SogEncodeOptions(order="plas", device="cpu"))
    assert enc.padding > 0
    target = sog.write_sog(enc.bundle, tmp_path / "plas.sog")
    proc = subprocess.run([exe, "-w", "-g", "cpu", str(target), str(tmp_path / "theirs.ply")], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = read_ply(tmp_path / "theirs.ply")
    ours = sog.decode_sog(enc.bundle, apply_offset=False, drop_padding=False)
    assert len(theirs) == len(ours) == len(cloud) + enc.padding
    np.testing.assert_allclose(theirs.means, ours.means, atol=1e-5)
    alpha = 1 / (1 + np.exp(-theirs.opacity_logits.astype(np.float64)))
    marked = sog.decode_webp(enc.bundle.members["scales.webp"], member="scales.webp",
                             source="x").reshape(-1, 4)[: len(ours), 3] == sog.PADDING_ALPHA
    assert marked.sum() == enc.padding and (alpha[marked] < 1e-5).all()


@pytest.mark.cuda
def test_plas_on_cuda_matches_cpu_quality() -> None:
    f = _smooth_field(64, 64, seed=10)
    gpu, stats = sort_grid(f, 64, 64, schedule=CPU_SCHEDULE, seed=0, device="cuda")
    cpu, _ = sort_grid(f, 64, 64, schedule=CPU_SCHEDULE, seed=0, device="cpu")
    assert stats["device"] == "cuda"
    assert np.array_equal(np.sort(gpu), np.arange(64 * 64))
    assert _neighbour_cost(f, gpu, 64, 64) <= 1.2 * _neighbour_cost(f, cpu, 64, 64)


@pytest.mark.cuda
def test_plas_encoder_on_cuda_round_trips() -> None:
    cloud = synthetic_cloud(5000, 1, seed=11)
    enc = encode_sog(cloud, SogEncodeOptions(order="plas", device="cuda"))
    assert enc.order_stats["device"] == "cuda"
    assert len(sog.decode_sog(enc.bundle)) == 5000
