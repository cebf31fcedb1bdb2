"""Interop with PlayCanvas splat-transform 3.7.0 (skipped when it is not installed).

Found through, in order: ``$SPLATKIT_SPLAT_TRANSFORM`` (path to the executable),
``splat-transform`` on PATH, ``<repo>/node_modules/.bin/splat-transform``
(``npm install --prefix <repo> @playcanvas/splat-transform@3.7.0``). Needs ``node`` >= 20.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splatkit.compress.quantize import nearest_labels
from splatkit.compress.sog_encoder import SogEncodeOptions, decode_errors, encode_sog
from splatkit.io import sog
from splatkit.io.ply import read_ply, write_ply
from tests.compress.synthetic import synthetic_cloud
from tests.conftest import run_splat_transform



def _run(exe: str, *args: str) -> None:
    run_splat_transform(exe, *args)


@pytest.mark.parametrize("degree, bundled", [(3, True), (0, False)])
def test_splat_transform_decodes_our_sog_like_we_do(splat_transform: str, tmp_path: Path, degree: int,
                                                    bundled: bool) -> None:
    cloud = synthetic_cloud(1500, degree, seed=degree, centre=(100.0, -30.0, 5.0))
    enc = encode_sog(cloud, SogEncodeOptions(device="cpu"))
    target = sog.write_sog(enc.bundle, tmp_path / ("ours.sog" if bundled else "ours"))
    _run(splat_transform, str(target if bundled else target / "meta.json"), str(tmp_path / "theirs.ply"))
    theirs = read_ply(tmp_path / "theirs.ply")
    ours = sog.decode_sog(enc.bundle, apply_offset=False)         # they ignore meta.splatkit
    assert len(theirs) == len(ours) and theirs.sh_degree == ours.sh_degree == degree
    assert np.allclose(theirs.means, ours.means, rtol=1e-6, atol=1e-6)
    assert np.allclose(theirs.quats, ours.quats, atol=1e-6)
    assert np.array_equal(theirs.log_scales, ours.log_scales)
    assert np.array_equal(theirs.sh0, ours.sh0)
    assert np.allclose(theirs.opacity_logits, ours.opacity_logits, atol=1e-4)
    assert np.array_equal(theirs.shN, ours.shN)
    # and the round trip through them is still within our error budget
    errors = decode_errors(enc.encoded, sog.decode_sog(enc.bundle))
    assert errors["rotation_max_deg"] <= 1.2


def test_we_read_a_sog_written_by_splat_transform(splat_transform: str, tmp_path: Path) -> None:
    from scipy.spatial import cKDTree

    cloud = synthetic_cloud(3000, 1, seed=11)
    write_ply(cloud, tmp_path / "in.ply")
    _run(splat_transform, str(tmp_path / "in.ply"), str(tmp_path / "theirs.sog"))
    bundle = sog.read_sog(tmp_path / "theirs.sog")
    meta = bundle.meta
    assert meta["count"] == 3000 and meta["shN"]["bands"] == 1
    assert "splat-transform" in meta["asset"]["generator"]
    dec = sog.decode_sog(bundle)
    # splat-transform reorders (Morton): match splats by position
    dist, idx = cKDTree(cloud.means.astype(np.float64)).query(dec.means.astype(np.float64))
    assert np.array_equal(np.sort(idx), np.arange(3000))
    ref = cloud.subset(idx)
    # positions: splat-transform truncates, so up to one full symlog step
    step = (np.asarray(meta["means"]["maxs"]) - np.asarray(meta["means"]["mins"])) / 65535.0
    p = ref.means.astype(np.float64)
    assert (np.abs(dec.means - p) <= (np.abs(p) + 1) * np.expm1(step) + 1e-5).all()
    errors = decode_errors(ref, dec)
    assert errors["rotation_max_deg"] <= 2.2              # truncation: about twice our rounding bound
    assert errors["opacity_max"] <= 1.0 / 255 + 1e-5
    # splat-transform's default WebP encode (exact=0) may drop the RGB of alpha-0 pixels, so the
    # colour of fully transparent splats is not preserved in its files (ours keep it).
    visible = sog.decode_webp(bundle.members[meta["sh0"]["files"][0]], member="sh0", source="")
    visible = visible.reshape(-1, 4)[:3000, 3] > 0
    for field, key, rows in (("log_scales", "scales", slice(None)), ("sh0", "sh0", visible)):
        cb = np.asarray(meta[key]["codebook"], np.float32)
        values = getattr(ref, field)[rows]
        assert np.array_equal(getattr(dec, field)[rows],
                              cb[nearest_labels(values.ravel(), cb)].reshape(values.shape))
    assert errors["shN_rms"] < 0.5 * float(np.std(ref.shN))
