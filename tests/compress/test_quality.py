"""Render-space PSNR of decoded clouds (splatkit.compress.quality) and its place in the SOG report."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from splatkit.compress import quality
from splatkit.compress.ply_backend import PlyCompressor, PlyConfig, decode_bundle
from splatkit.compress.quality import orbit_cameras, render_psnr
from splatkit.compress.sog_backend import SogCompressor, SogConfig
from splatkit.compress.sog_encoder import SogEncodeOptions, encode_sog
from splatkit.contracts import GaussianCloud
from splatkit.errors import ContractError
from splatkit.io import sog
from tests.compress.synthetic import synthetic_cloud

needs_rasterizer = pytest.mark.skipif(quality.render_unavailable_reason("cpu") is not None,
                                      reason="the cpu rasterizer needs torch and numba")


def _visible_cloud(n: int = 3000, sh_degree: int = 1) -> GaussianCloud:
    # The synthetic clouds' splats are ~1/1000 of the scene; larger ones cover enough pixels for
    # a render difference to mean something.
    cloud = synthetic_cloud(n, sh_degree, seed=1)
    return replace(cloud, log_scales=cloud.log_scales + 1.5)


@pytest.fixture(scope="module")
def sog_pair() -> tuple[GaussianCloud, GaussianCloud]:
    cloud = _visible_cloud()
    encoding = encode_sog(cloud, SogEncodeOptions(device="cpu", webp_effort=0))
    return encoding.encoded, sog.decode_sog(encoding.bundle)


def test_orbit_cameras_look_at_the_centre_from_outside_the_cloud() -> None:
    rng = np.random.default_rng(0)
    means = rng.normal(size=(2000, 3)) * np.array([10.0, 4.0, 1.0]) + np.array([100.0, -50.0, 7.0])
    viewmats, Ks = orbit_cameras(means, views=5, width=200, height=100)
    assert viewmats.shape == (5, 4, 4) and Ks.shape == (5, 3, 3)
    low, high = np.percentile(means, quality.BOUNDS_PERCENTILES, axis=0)
    centre, radius = (low + high) / 2, np.linalg.norm(high - low) / 2
    eyes = []
    for vm, K in zip(viewmats, Ks):
        R, t = vm[:3, :3], vm[:3, 3]
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
        cam = R @ centre + t
        pixel = (K @ cam)[:2] / cam[2]
        np.testing.assert_allclose(pixel, [100.0, 50.0], atol=1e-9)   # centre projects to the image centre
        eye = -R.T @ t
        assert np.linalg.norm(eye - centre) > radius
        eyes.append(eye)
    # Different viewpoints, on both sides of the flat (z) axis.
    assert len({tuple(np.round(e, 6)) for e in eyes}) == 5
    assert (np.array(eyes)[:, 2] > centre[2]).any() and (np.array(eyes)[:, 2] < centre[2]).any()


def test_orbit_cameras_reject_bad_input() -> None:
    with pytest.raises(ContractError, match="views"):
        orbit_cameras(np.zeros((3, 3)), views=0)
    with pytest.raises(ContractError, match="means"):
        orbit_cameras(np.zeros((0, 3)))


@needs_rasterizer
def test_ply_backend_round_trip_renders_identically(tmp_path) -> None:
    cloud = _visible_cloud(1500, 2)
    result = PlyCompressor().run(cloud, PlyConfig(), tmp_path)
    out = render_psnr(cloud, decode_bundle(result.output), views=3, width=96, height=64)
    assert out["psnr"] == math.inf and out["foreground_psnr"] == math.inf
    assert [v["mse"] for v in out["views"]] == [0.0, 0.0, 0.0]
    assert out["splats"] == len(cloud) and not out["subsampled"] and out["cameras"] == "orbit"
    assert all(v["coverage"] > 0.05 for v in out["views"])   # something was drawn


@needs_rasterizer
def test_sog_decode_is_close_and_corruption_is_caught(sog_pair: tuple[GaussianCloud, GaussianCloud]) -> None:
    encoded, decoded = sog_pair
    good = render_psnr(encoded, decoded, views=4, width=128, height=96)
    assert 30.0 < good["psnr"] < math.inf
    assert 30.0 < good["foreground_psnr"] < math.inf
    assert good["foreground_psnr"] <= good["psnr"] + 1e-9   # background pixels only add zeros to the MSE
    assert len(good["views"]) == 4

    # Shift the colour of every other splat by ~0.2 in RGB: the same cloud, visibly wrong.
    sh0 = decoded.sh0.copy()
    sh0[::2] += 0.7
    recoloured = render_psnr(encoded, replace(decoded, sh0=sh0), views=4, width=128, height=96)
    assert recoloured["psnr"] < good["psnr"] - 10.0
    # Move the splats by 2 % of the scene.
    moved = render_psnr(encoded, replace(decoded, means=decoded.means + np.float32(0.8)), views=4, width=128,
                        height=96)
    assert moved["psnr"] < good["psnr"] - 10.0


@needs_rasterizer
def test_large_clouds_are_subsampled_with_the_same_splats(sog_pair: tuple[GaussianCloud, GaussianCloud]) -> None:
    encoded, decoded = sog_pair
    first = render_psnr(encoded, decoded, views=2, width=64, height=48, max_splats=1000)
    again = render_psnr(encoded, decoded, views=2, width=64, height=48, max_splats=1000)
    assert first["subsampled"] and first["splats"] == 1000
    assert first["views"] == again["views"]   # seeded: the same subset every time
    identical = render_psnr(encoded, encoded, views=2, width=64, height=48, max_splats=1000)
    assert identical["psnr"] == math.inf       # same indices on both sides, not two random subsets


@needs_rasterizer
def test_given_cameras_match_the_orbit_cameras(sog_pair: tuple[GaussianCloud, GaussianCloud]) -> None:
    encoded, decoded = sog_pair
    viewmats, Ks = orbit_cameras(encoded.means, views=2, width=64, height=48)
    given = render_psnr(encoded, decoded, width=64, height=48, viewmats=viewmats, Ks=Ks[0])
    orbit = render_psnr(encoded, decoded, views=2, width=64, height=48)
    assert given["cameras"] == "given" and given["views"] == orbit["views"]
    with pytest.raises(ContractError, match="Ks"):
        render_psnr(encoded, decoded, viewmats=viewmats)
    with pytest.raises(ContractError, match="viewmats"):
        render_psnr(encoded, decoded, viewmats=viewmats[:, :3], Ks=Ks)


def test_render_psnr_needs_the_same_splats() -> None:
    cloud = synthetic_cloud(50, 0)
    with pytest.raises(ContractError, match="same splats"):
        render_psnr(cloud, cloud.subset(np.arange(49)))


@needs_rasterizer
@pytest.mark.parametrize("order", ["morton", "plas"])
def test_sog_stage_reports_render_psnr(tmp_path, order: str) -> None:
    cloud = _visible_cloud(2000, 1)
    report = SogCompressor().run(cloud, SogConfig(device="cpu", webp_effort=0, order=order), tmp_path).report
    q = report["render_psnr"]
    assert set(q) >= {"psnr", "foreground_psnr", "views", "backend", "splats", "subsampled"}
    assert q["backend"] == "cpu" and len(q["views"]) == 4
    # PLAS pads the texture with transparent copies; the comparison leaves them out.
    assert (report["padding"] > 0) == (order == "plas")
    assert q["splats"] == report["count"] == 2000
    assert 30.0 < q["psnr"] < math.inf
    assert "render_psnr" in report["timings"] and report["errors"]   # per-attribute errors stay
    json.dumps(report)


def test_sog_stage_says_why_render_psnr_was_skipped(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = synthetic_cloud(300, 0)
    off = SogCompressor().run(cloud, SogConfig(device="cpu", quality_views=0), tmp_path / "a").report
    assert off["render_psnr"] == {"skipped": "quality_views=0"}
    unverified = SogCompressor().run(cloud, SogConfig(device="cpu", verify=False), tmp_path / "b").report
    assert "verify=False" in unverified["render_psnr"]["skipped"]

    monkeypatch.setattr(quality, "render_unavailable_reason", lambda backend="cpu": "the 'numba' package is "
                        "not installed (pip install 'splatkit[train]')")
    missing = SogCompressor().run(cloud, SogConfig(device="cpu"), tmp_path / "c").report
    assert "numba" in missing["render_psnr"]["skipped"]
    assert missing["errors"]["position_max"] >= 0.0   # per-attribute errors still reported


def test_sog_config_rejects_negative_views() -> None:
    with pytest.raises(ContractError, match="quality_views"):
        SogConfig(quality_views=-1)
