"""SPZ interop with PlayCanvas splat-transform 3.7.0 (skipped when it is not installed).

splat-transform is independent on both sides that matter here: it *reads* .spz with its own
JavaScript decoder, and it *writes* .spz through Niantic's own C++ library compiled to WebAssembly
(``saveSpzToBuffer`` with ``from: UNSPECIFIED``). So:

* our writer is checked byte for byte against Niantic's library (same cloud, via our PLY);
* our reader is checked against splat-transform's decoder on the same files (v2, v3, v4);
* axes: splat-transform reads SPZ values as stored and PLY values as stored, so the positions it
  reads from our .spz must be the ones in our .ply of the same cloud (within a fixed-point step).

Found like the SOG interop tests: ``$SPLATKIT_SPLAT_TRANSFORM``, ``splat-transform`` on PATH, or
``<repo>/node_modules/.bin/splat-transform``. Version-4 files also need ``zstandard``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splatkit.contracts import GaussianCloud
from splatkit.io import spz
from splatkit.io.ply import read_ply, write_ply
from tests.compress.synthetic import synthetic_cloud
from tests.conftest import run_splat_transform
from tests.io.test_spz import POSITION_STEP, check_within_quantisation, cloud_in_range

HAS_ZSTD = spz.zstd_unavailable_reason() is None
needs_zstd = pytest.mark.skipif(not HAS_ZSTD, reason="SPZ version 4 needs zstandard (pip install zstandard)")


def _run(exe: str, *args: str) -> None:
    run_splat_transform(exe, *args)


def wide_cloud(n: int, *, seed: int = 0) -> GaussianCloud:
    """Values across and beyond every byte range (clamping, rounding ties, both quaternion signs)."""
    rng = np.random.default_rng(seed)
    return GaussianCloud(means=rng.uniform(-2000, 2000, (n, 3)), log_scales=rng.uniform(-15, 10, (n, 3)),
                         quats=rng.normal(size=(n, 4)), opacity_logits=rng.uniform(-20, 20, n),
                         sh0=rng.uniform(-5, 5, (n, 3)), shN=rng.uniform(-2, 2, (n, 15, 3)))


@pytest.mark.parametrize("version", [3, pytest.param(4, marks=needs_zstd)])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_our_file_is_byte_identical_to_niantics_writer(splat_transform: str, tmp_path: Path, version: int,
                                                       degree: int) -> None:
    cloud = synthetic_cloud(5000, degree, seed=degree + 5, centre=(100.0, -30.0, 5.0))
    write_ply(cloud, tmp_path / "in.ply")
    _run(splat_transform, "--spz-version", str(version), str(tmp_path / "in.ply"), str(tmp_path / "theirs.spz"))
    assert spz.encode_spz(cloud, version=version) == (tmp_path / "theirs.spz").read_bytes()


def test_byte_identical_across_the_byte_ranges(splat_transform: str, tmp_path: Path) -> None:
    cloud = wide_cloud(20_000, seed=3)
    write_ply(cloud, tmp_path / "wide.ply")
    _run(splat_transform, "--spz-version", "3", str(tmp_path / "wide.ply"), str(tmp_path / "theirs.spz"))
    assert spz.encode_spz(cloud, version=3) == (tmp_path / "theirs.spz").read_bytes()


@pytest.mark.parametrize("version", [2, 3, pytest.param(4, marks=needs_zstd)])
def test_splat_transform_decodes_our_file_like_we_do(splat_transform: str, tmp_path: Path, version: int) -> None:
    cloud = cloud_in_range(4000, 3, seed=version)
    write_ply(cloud, tmp_path / "ours.ply")
    target = spz.write_spz(cloud, tmp_path / "ours.spz", version=version)
    _run(splat_transform, str(target), str(tmp_path / "theirs.ply"))
    theirs = read_ply(tmp_path / "theirs.ply")
    ours = spz.read_spz(target)
    assert len(theirs) == len(ours) == len(cloud) and theirs.sh_degree == ours.sh_degree == 3
    assert np.array_equal(theirs.means, ours.means)
    assert np.array_equal(theirs.log_scales, ours.log_scales)
    assert np.array_equal(theirs.shN, ours.shN)
    assert np.allclose(theirs.sh0, ours.sh0, atol=1e-6)                  # they compute in float64
    assert np.allclose(theirs.opacity_logits, ours.opacity_logits, atol=1e-5)
    assert np.allclose(theirs.quats, ours.quats, atol=1e-5 if version == 2 else 1e-6)
    # the axes: what they read from our .spz is what our .ply of the same cloud holds
    ply = read_ply(tmp_path / "ours.ply")
    assert np.abs(theirs.means - ply.means).max() <= POSITION_STEP / 2 * 1.0001


@pytest.mark.parametrize("version", [3, pytest.param(4, marks=needs_zstd)])
def test_we_read_niantics_file_of_our_ply(splat_transform: str, tmp_path: Path, version: int) -> None:
    cloud = cloud_in_range(3000, 2, seed=10 + version)
    write_ply(cloud, tmp_path / "in.ply")
    _run(splat_transform, "--spz-version", str(version), str(tmp_path / "in.ply"), str(tmp_path / "theirs.spz"))
    path = tmp_path / "theirs.spz"
    assert spz.is_spz(path)
    facts = spz.info(path)
    assert (facts["version"], facts["count"], facts["sh_degree"], facts["fractional_bits"]) == (version, 3000, 2, 12)
    check_within_quantisation(cloud, spz.read_spz(path), version)
