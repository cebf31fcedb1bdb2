"""GPS -> ENU conversion and the robust similarity alignment of SfM models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.contracts import Frames, Georeference, GpsPosition, ImageRecord, ImageSet, Reconstruction
from splatkit.sfm.georeference import (
    WGS84_A,
    WGS84_F,
    Similarity,
    align_to_gps,
    apply_similarity,
    fit_similarity_ransac,
    lla_to_ecef,
    lla_to_enu,
    umeyama,
)
from splatkit.sfm.quality import reprojection_errors
from tests.sfm.synthetic_scene import make_scene, rotation_about


def test_ecef_of_reference_points() -> None:
    ecef = lla_to_ecef(np.array([0.0, 90.0, 0.0]), np.array([0.0, 0.0, 90.0]), np.array([0.0, 0.0, 100.0]))
    b = WGS84_A * (1 - WGS84_F)
    np.testing.assert_allclose(ecef[0], [WGS84_A, 0, 0], atol=1e-6)
    np.testing.assert_allclose(ecef[1], [0, 0, b], atol=1e-6)
    np.testing.assert_allclose(ecef[2], [0, WGS84_A + 100.0, 0], atol=1e-6)


def test_enu_axes_point_east_north_up() -> None:
    ref = Georeference(lat=48.0, lon=11.0, alt=500.0)
    d = 1e-4  # degrees: ~11 m north, ~7.4 m east at 48 deg
    enu = lla_to_enu(np.array([48.0, 48.0 + d, 48.0, 48.0]), np.array([11.0, 11.0, 11.0 + d, 11.0]),
                     np.array([500.0, 500.0, 500.0, 510.0]), ref)
    np.testing.assert_allclose(enu[0], 0, atol=1e-6)
    assert enu[1, 1] == pytest.approx(11.12, abs=0.05) and abs(enu[1, 0]) < 1e-6
    assert enu[2, 0] == pytest.approx(7.45, abs=0.05) and abs(enu[2, 1]) < 0.01
    np.testing.assert_allclose(enu[3], [0, 0, 10.0], atol=1e-6)


def test_enu_matches_pycolmap_gps_transform() -> None:
    pycolmap = pytest.importorskip("pycolmap")
    rng = np.random.default_rng(3)
    lat = 30.17 + rng.uniform(-0.01, 0.01, 20)
    lon = -98.09 + rng.uniform(-0.01, 0.01, 20)
    alt = 300 + rng.uniform(-50, 50, 20)
    ref = Georeference(lat=30.17, lon=-98.09, alt=310.0)
    ours = lla_to_enu(lat, lon, alt, ref)
    gps = pycolmap.GPSTransform(pycolmap.GPSTransformEllipsoid.WGS84)
    theirs = np.array(gps.ellipsoid_to_enu(np.column_stack([lat, lon, alt]).tolist(), ref.lat, ref.lon, ref.alt))
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


@given(scale=st.floats(0.01, 100.0), angle=st.floats(0.0, 3.1), seed=st.integers(0, 1000))
def test_umeyama_recovers_a_similarity(scale: float, angle: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    src = rng.normal(size=(8, 3))
    rot = rotation_about(rng.normal(size=3), angle)
    t = rng.normal(size=3) * 10
    sim = umeyama(src, scale * src @ rot.T + t)
    assert sim.scale == pytest.approx(scale, rel=1e-6)
    np.testing.assert_allclose(sim.rotation, rot, atol=1e-6)
    np.testing.assert_allclose(sim.translation, t, atol=1e-5 * max(1.0, scale))


def test_ransac_rejects_gross_gps_outliers() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(-1, 1, size=(20, 3))
    true = Similarity(15.0, rotation_about(np.array([0.2, 0.1, 1.0]), 1.0), np.array([5.0, -3.0, 2.0]))
    dst = true.apply(src) + rng.normal(scale=1.0, size=(20, 3))
    dst[[3, 11]] += np.array([200.0, 0.0, 0.0])
    sim, inliers = fit_similarity_ransac(src, dst, max_error=5.0)
    assert not inliers[3] and not inliers[11] and inliers.sum() >= 16
    assert sim.scale == pytest.approx(15.0, rel=0.05)
    # Plain least squares is dragged by the outliers; the robust fit is not.
    assert abs(umeyama(src, dst).scale - 15.0) > abs(sim.scale - 15.0)


def _image_set_with_gps(names: tuple[str, ...], gps: list[GpsPosition | None]) -> ImageSet:
    records = tuple(ImageRecord(name=n, path=Path("/nonexistent") / n, width=160, height=120, gps=g)
                    for n, g in zip(names, gps))
    return ImageSet(records=records, root=Path("/nonexistent"), source="synthetic")


def _gps_for_centres(enu: np.ndarray, ref: Georeference) -> list[GpsPosition]:
    """Invert lla_to_enu numerically for small offsets (local linearisation, refined twice)."""
    out = []
    for e in enu:
        lat, lon, alt = ref.lat, ref.lon, ref.alt
        for _ in range(3):
            cur = lla_to_enu(np.array([lat]), np.array([lon]), np.array([alt]), ref)[0]
            d = e - cur
            lat += d[1] / 111_132.0
            lon += d[0] / (111_320.0 * np.cos(np.radians(lat)))
            alt += d[2]
        out.append(GpsPosition(lat=lat, lon=lon, alt=alt))
    return out


def test_align_to_gps_makes_the_model_metric_enu() -> None:
    rec = make_scene(num_frames=6)
    true = Similarity(20.0, rotation_about(np.array([0.3, -0.2, 1.0]), 0.7), np.array([12.0, -4.0, 30.0]))
    rng = np.random.default_rng(5)
    # A second row of cameras so the positions span a plane (a line leaves roll undetermined).
    centres = rec.frames.centers()
    centres_2d = centres + np.array([[0.0, 0.6 * (i % 2), 0.0] for i in range(len(centres))])
    rec = apply_similarity(rec, Similarity(1.0, np.eye(3), np.zeros(3)))  # fresh copy
    frames_t = rec.frames.translation - np.einsum("fij,fj->fi", rec.frames.rotation, centres_2d - centres)
    rec = Reconstruction(cameras=rec.cameras, frames=Frames(names=rec.frames.names,
                         camera_index=rec.frames.camera_index, rotation=rec.frames.rotation, translation=frames_t),
                         points=rec.points, tracks=rec.tracks, source="synthetic")
    ref0 = Georeference(lat=30.17, lon=-98.09, alt=300.0)
    enu_true = true.apply(rec.frames.centers())
    gps = _gps_for_centres(enu_true + rng.normal(scale=0.5, size=enu_true.shape), ref0)
    image_set = _image_set_with_gps(rec.frames.names, gps)

    aligned, report = align_to_gps(rec, image_set, max_error_m=3.0)

    assert report["applied"] and aligned.georeference is not None
    assert report["residual_m"]["median"] < 1.5 and report["residual_m"]["max"] < 3.0
    assert report["similarity"]["scale"] == pytest.approx(20.0, rel=0.05)
    # The model's camera centres are now the GPS positions in ENU around the recorded reference.
    ref = aligned.georeference
    lat = np.array([g.lat for g in gps])
    lon = np.array([g.lon for g in gps])
    alt = np.array([g.alt for g in gps])
    gps_enu = lla_to_enu(lat, lon, alt, ref)
    assert np.median(np.linalg.norm(aligned.frames.centers() - gps_enu, axis=1)) < 1.5
    assert ref.lat == pytest.approx(lat.mean()) and ref.lon == pytest.approx(lon.mean())
    # A similarity moves poses and points together: reprojections are unchanged.
    np.testing.assert_allclose(reprojection_errors(aligned), reprojection_errors(rec), atol=1e-6)
    aligned.validate()


def test_no_gps_keeps_the_sfm_frame_and_says_why() -> None:
    rec = make_scene()
    image_set = _image_set_with_gps(rec.frames.names, [None] * len(rec.frames))
    out, report = align_to_gps(rec, image_set)
    assert out is rec and out.georeference is None
    assert not report["applied"] and "0 registered image(s) have GPS" in report["reason"]


def test_gps_from_one_spot_is_not_used() -> None:
    rec = make_scene()
    same = GpsPosition(lat=10.0, lon=20.0, alt=5.0)
    out, report = align_to_gps(rec, _image_set_with_gps(rec.frames.names, [same] * len(rec.frames)))
    assert out.georeference is None and not report["applied"] and "spread" in report["reason"]


def test_two_gps_images_are_not_enough() -> None:
    rec = make_scene()
    gps: list[GpsPosition | None] = [None] * len(rec.frames)
    gps[0] = GpsPosition(lat=10.0, lon=20.0, alt=5.0)
    gps[1] = GpsPosition(lat=10.001, lon=20.0, alt=5.0)
    out, report = align_to_gps(rec, _image_set_with_gps(rec.frames.names, gps))
    assert out.georeference is None and report["images_with_gps"] == 2 and not report["applied"]
