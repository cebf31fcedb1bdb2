"""decode(encode(cloud)) within the per-attribute bounds documented in splatkit.io.sog."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from splatkit.compress.quantize import nearest_labels
from splatkit.compress.sog_backend import SogCompressor, SogConfig
from splatkit.compress.sog_encoder import SogEncodeOptions, clean_cloud, decode_errors, encode_sog, ply_size
from splatkit.contracts import SH_COEFFS_FOR_DEGREE, GaussianCloud, Georeference
from splatkit.errors import ContractError
from splatkit.io import sog
from tests.compress.synthetic import synthetic_cloud


@st.composite
def clouds(draw: st.DrawFn) -> GaussianCloud:
    n = draw(st.integers(1, 200))
    degree = draw(st.integers(0, 3))
    k = SH_COEFFS_FOR_DEGREE[degree]

    def arr(shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
        return draw(arrays(np.float32, shape, elements=st.floats(lo, hi, allow_nan=False, width=32)))

    quats = arr((n, 4), -1, 1)
    quats[np.linalg.norm(quats, axis=1) < 1e-3] = (1, 0, 0, 0)
    centre = draw(st.sampled_from([0.0, 250.0, -1e4]))
    return GaussianCloud(means=arr((n, 3), -50, 50) + np.float32(centre), log_scales=arr((n, 3), -12, 3),
                         quats=quats, opacity_logits=arr((n,), -20, 20), sh0=arr((n, 3), -3, 3),
                         shN=arr((n, k, 3), -1, 1))


def _nearest(values: np.ndarray, codebook: list[float]) -> np.ndarray:
    cb = np.asarray(codebook, np.float32)
    return cb[nearest_labels(values.ravel(), cb)].reshape(values.shape)


@settings(max_examples=25)
@given(clouds())
def test_decode_encode_within_documented_bounds(cloud: GaussianCloud) -> None:
    enc = encode_sog(cloud, SogEncodeOptions(palette_size=65536, webp_effort=0, device="cpu"))
    meta = enc.bundle.meta
    dec = sog.decode_sog(enc.bundle)
    ref = enc.encoded
    assert len(dec) == len(ref) == len(cloud)
    assert np.array_equal(np.sort(enc.source_index), np.arange(len(cloud)))
    assert np.array_equal(ref.means, cloud.means[enc.source_index])
    # position: half a symlog step around the recentred position, plus float32 of the result
    offset = np.asarray(meta["splatkit"]["offset"])
    local = ref.means.astype(np.float64) - offset
    step = (np.asarray(meta["means"]["maxs"]) - np.asarray(meta["means"]["mins"])) / 65535.0
    bound = (np.abs(local) + 1) * np.expm1(step / 2) + 1e-6 * (np.abs(local) + 1) + 2e-7 * np.abs(ref.means)
    assert (np.abs(dec.means.astype(np.float64) - ref.means) <= bound).all()
    # rotation
    errors = decode_errors(ref, dec)
    assert errors["rotation_max_deg"] <= np.degrees(sog.QUAT_MAX_ANGLE_RAD)
    # scales and colours: exactly the nearest codebook entry
    assert np.array_equal(dec.log_scales, _nearest(ref.log_scales, meta["scales"]["codebook"]))
    assert np.array_equal(dec.sh0, _nearest(ref.sh0, meta["sh0"]["codebook"]))
    # opacity, in sigmoid space
    assert errors["opacity_max"] <= 0.5 / 255 + 1e-5
    # SH: every splat is its own palette entry here, so only the shN codebook error remains
    assert dec.shN.shape == ref.shN.shape
    if ref.sh_degree:
        assert np.array_equal(dec.shN, _nearest(ref.shN, meta["shN"]["codebook"]))


def test_drops_invalid_splats_and_reports_them() -> None:
    cloud = synthetic_cloud(200, 1, seed=2)
    means = cloud.means.copy()
    means[3] = np.nan
    quats = cloud.quats.copy()
    quats[7] = 0
    sh = cloud.shN.copy()
    sh[11, 0, 0] = np.inf
    dirty = GaussianCloud(means=means, log_scales=cloud.log_scales, quats=quats,
                          opacity_logits=cloud.opacity_logits, sh0=cloud.sh0, shN=sh)
    enc = encode_sog(dirty, SogEncodeOptions(device="cpu"))
    assert enc.dropped_invalid == 3
    assert enc.bundle.meta["count"] == 197
    assert enc.bundle.meta["splatkit"]["dropped_invalid"] == 3
    assert not set(enc.source_index) & {3, 7, 11}


def test_all_invalid_is_refused() -> None:
    cloud = synthetic_cloud(5, 0)
    bad = GaussianCloud(means=np.full((5, 3), np.nan), log_scales=cloud.log_scales, quats=cloud.quats,
                        opacity_logits=cloud.opacity_logits, sh0=cloud.sh0)
    with pytest.raises(ContractError, match="nothing to compress"):
        encode_sog(bad)


def test_sh_degree_cap_and_palette_error() -> None:
    cloud = synthetic_cloud(3000, 3, seed=4)
    capped, kept = clean_cloud(cloud, 1)
    assert capped.sh_degree == 1 and len(kept) == 3000
    enc = encode_sog(cloud, SogEncodeOptions(sh_degree=1, device="cpu"))
    assert enc.bundle.meta["shN"]["bands"] == 1
    assert "shN_centroids.webp" in enc.bundle.members
    dec = sog.decode_sog(enc.bundle)
    assert dec.sh_degree == 1
    errors = decode_errors(enc.encoded, dec)
    # palette of 2048 entries for 3000 splats: error well below the SH spread
    assert errors["shN_rms"] < 0.25 * float(np.std(enc.encoded.shN))
    enc0 = encode_sog(cloud, SogEncodeOptions(sh_degree=0))
    assert "shN" not in enc0.bundle.meta and sog.decode_sog(enc0.bundle).sh_degree == 0


def test_palette_numbering_keeps_the_smaller_shn_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    # SH varies by spatial patch, so in Morton order nearby pixels use nearby palette entries
    cloud = synthetic_cloud(3000, 1, seed=4)
    enc = encode_sog(cloud, SogEncodeOptions(device="cpu"))
    shn = ("shN_centroids.webp", "shN_labels.webp")
    assert enc.bundle.meta["splatkit"]["palette_numbering"] == "file-position"
    from splatkit.compress import sog_encoder

    monkeypatch.setattr(sog_encoder, "order_palette_by_position", lambda idx, labels: (idx, labels))
    plain = encode_sog(cloud, SogEncodeOptions(device="cpu"))
    assert plain.bundle.meta["splatkit"]["palette_numbering"] == "k-means"
    size = lambda e, names: sum(len(e.bundle.members[n]) for n in names)  # noqa: E731
    assert size(enc, shn[1:]) < size(plain, shn[1:])          # the label image shrinks
    assert size(enc, shn) <= size(plain, shn)                   # and the pair kept is the smaller
    # same decoded values either way
    a, b = sog.decode_sog(enc.bundle), sog.decode_sog(plain.bundle)
    np.testing.assert_array_equal(a.shN, b.shN)
    assert size(enc, [n for n in enc.bundle.members if n not in shn]) == size(
        plain, [n for n in plain.bundle.members if n not in shn])


def test_recentring_keeps_offset_and_georeference() -> None:
    geo = Georeference(lat=52.52, lon=13.40, alt=34.0)
    cloud = synthetic_cloud(500, 0, centre=(4000.0, -2500.0, 120.0), georeference=geo)
    enc = encode_sog(cloud)
    extra = enc.bundle.meta["splatkit"]
    assert extra["georeference"] == geo.to_dict()
    assert np.allclose(extra["offset"], (cloud.means.min(0).astype(np.float64) + cloud.means.max(0)) / 2)
    # the file itself holds the recentred cloud: symlog range straddles 0
    assert all(lo < 0 < hi for lo, hi in zip(enc.bundle.meta["means"]["mins"], enc.bundle.meta["means"]["maxs"]))
    dec = sog.decode_sog(enc.bundle)
    assert dec.georeference == geo
    err = np.abs(dec.means.astype(np.float64) - enc.encoded.means).max()
    assert err < 0.01                       # ~20 m extent around the centre, not 4 km from the origin
    raw = sog.decode_sog(enc.bundle, apply_offset=False)
    assert abs(float(raw.means[:, 0].mean()) - 4000.0) > 3000 and raw.georeference is None



def test_recentring_helps_an_off_centre_scene_straddling_the_origin() -> None:
    # A drone scene with its origin near one corner: x, y, z in about [-100, 1000] m. The symlog
    # step is constant in log space, so the error grows with |p|: recentring halves the reach.
    cloud = synthetic_cloud(3000, 0, extent=500.0, centre=(450.0, 450.0, 450.0))

    def worst(options: SogEncodeOptions) -> float:
        enc = encode_sog(cloud, options)
        return float(np.abs(sog.decode_sog(enc.bundle).means.astype(np.float64) - enc.encoded.means).max())

    assert worst(SogEncodeOptions()) < 0.8 * worst(SogEncodeOptions(recentre=False))


def test_transparent_splats_keep_their_colour() -> None:
    cloud = synthetic_cloud(64, 0, seed=9)
    clear = GaussianCloud(means=cloud.means, log_scales=cloud.log_scales, quats=cloud.quats,
                          opacity_logits=np.full(64, -30.0), sh0=cloud.sh0)
    enc = encode_sog(clear)
    dec = sog.decode_sog(enc.bundle)
    assert np.array_equal(dec.sh0, _nearest(enc.encoded.sh0, enc.bundle.meta["sh0"]["codebook"]))


def test_ply_size_matches_the_ply_writer(tmp_path: Path) -> None:
    from splatkit.io.ply import write_ply

    for degree, geo in ((0, None), (3, Georeference(lat=1.0, lon=2.0, alt=3.0))):
        cloud = synthetic_cloud(123, degree, georeference=geo)
        path = write_ply(cloud, tmp_path / f"c{degree}.ply")
        assert path.stat().st_size == ply_size(123, degree, georeference=geo is not None)


def test_stage_writes_scene_sog_with_report(tmp_path: Path) -> None:
    cloud = synthetic_cloud(2000, 2, seed=1)
    updates = []
    result = SogCompressor().run(cloud, SogConfig(seed=3), tmp_path, updates.append)
    target = tmp_path / "scene.sog"
    assert result.files == (target,) and target.is_file()
    report = result.report
    json.dumps(report)
    assert report["count"] == 2000 and report["bytes"] == target.stat().st_size
    assert report["ratio_vs_ply"] == pytest.approx(ply_size(2000, 2) / target.stat().st_size, rel=1e-3)
    assert report["ratio_vs_ply"] > 1.5
    assert set(report["timings"]) >= {"order", "scales", "sh0", "shN", "webp", "write", "verify"}
    assert report["errors"]["rotation_max_deg"] <= 1.2
    assert updates and updates[-1].message == "done"
    assert [u.step for u in updates] == sorted(u.step for u in updates)
    back = sog.decode_sog(sog.read_sog(target))
    assert len(back) == 2000 and back.sh_degree == 2
    # unbundled
    folder = SogCompressor().run(cloud, SogConfig(bundle=False, verify=False), tmp_path / "f").files[0]
    assert (folder / "meta.json").is_file() and sog.info(folder)["count"] == 2000


def test_stage_rejects_non_cloud(tmp_path: Path) -> None:
    with pytest.raises(ContractError):
        SogCompressor().run("cloud.ply", SogConfig(), tmp_path)
    assert not (tmp_path / "scene.sog").exists()


def test_stage_is_registered_by_its_hook() -> None:
    from splatkit.plugins import PluginManager

    pm = PluginManager(load_entrypoints=False, builtins=("splatkit.compress.sog_backend",))
    assert pm.stages.get("compress", "sog") is SogCompressor
