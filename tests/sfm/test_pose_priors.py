"""GPS pose priors: ENU positions with stated uncertainty, pairing radius from the survey spacing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splatkit.contracts import GpsPosition, ImageRecord, ImageSet
from splatkit.demo.flight import enu_to_lla
from splatkit.sfm.georeference import lla_to_enu
from splatkit.sfm.pose_priors import (
    align_to_priors,
    MAX_NEIGHBOURS,
    MIN_NEIGHBOURS,
    NO_ALTITUDE_STD_M,
    gps_priors,
    prior_frame_georeference,
    spatial_pairing,
    survey_spacing_m,
)
from tests.sfm.synthetic_scene import make_scene

ORIGIN = (46.77, 7.11, 600.0)


def grid(columns: int, rows: int, dx: float, dy: float, height: float = 40.0) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(columns) * dx, np.arange(rows) * dy)
    return np.column_stack([xs.ravel(), ys.ravel(), np.full(xs.size, height)])


def image_set(enu: np.ndarray, *, altitude: bool = True, without_gps: int = 0) -> ImageSet:
    lla = enu_to_lla(enu, *ORIGIN)
    records = []
    for i, (lat, lon, alt) in enumerate(lla):
        gps = None if i < without_gps else GpsPosition(lat=lat, lon=lon, alt=alt if altitude else None)
        records.append(ImageRecord(name=f"img_{i:03d}.jpg", path=Path(f"img_{i:03d}.jpg"), width=320, height=240,
                                   gps=gps))
    return ImageSet(records=tuple(records), root=Path("."))


def test_priors_are_enu_around_the_mean_with_separate_horizontal_and_vertical_std() -> None:
    enu = grid(4, 3, 10.0, 8.0) + np.array([0.0, 0.0, 0.2]) * np.arange(12)[:, None]
    priors = gps_priors(image_set(enu), std_horizontal_m=2.0, std_vertical_m=30.0)
    assert priors is not None
    assert priors.names[0] == "img_000.jpg" and len(priors.names) == 12
    # The frame is the mean position: positions average to ~0 and keep their relative layout.
    assert np.allclose(priors.enu.mean(axis=0), 0.0, atol=0.05)
    assert np.allclose(priors.enu - priors.enu[0], enu - enu[0], atol=0.05)
    back = lla_to_enu(*enu_to_lla(priors.enu, priors.reference.lat, priors.reference.lon, priors.reference.alt).T,
                      priors.reference)
    assert np.allclose(back, priors.enu, atol=1e-6)
    cov = priors.covariances()
    assert cov.shape == (12, 3, 3)
    assert np.allclose(np.diagonal(cov, axis1=1, axis2=2), [4.0, 4.0, 900.0])
    assert np.allclose(cov - np.diag([4.0, 4.0, 900.0]), 0.0)


def test_too_few_gps_positions_give_no_priors() -> None:
    assert gps_priors(image_set(grid(2, 2, 10, 10), without_gps=2), std_horizontal_m=5, std_vertical_m=50) is None
    assert gps_priors(image_set(grid(2, 2, 10, 10), without_gps=1), std_horizontal_m=5, std_vertical_m=50) is not None


def test_missing_altitude_leaves_height_unconstrained() -> None:
    priors = gps_priors(image_set(grid(3, 2, 10, 10), altitude=False), std_horizontal_m=5, std_vertical_m=50)
    assert priors is not None
    assert np.all(priors.std_m[:, 2] == NO_ALTITUDE_STD_M)


def test_altitudes_that_tilt_the_survey_are_levelled() -> None:
    flat = grid(5, 4, 10.0, 10.0)
    climbing = flat + np.column_stack([np.zeros((20, 2)), 0.8 * flat[:, 0]])  # like caliterra: slope 0.8
    gentle = flat + np.column_stack([np.zeros((20, 2)), 0.1 * flat[:, 1]])    # terrain following
    kept = gps_priors(image_set(gentle), std_horizontal_m=5, std_vertical_m=50)
    assert kept is not None and not kept.levelled and kept.altitude_slope == pytest.approx(0.1, abs=1e-3)
    assert np.ptp(kept.enu[:, 2]) == pytest.approx(3.0, abs=0.01)
    levelled = gps_priors(image_set(climbing), std_horizontal_m=5, std_vertical_m=50)
    assert levelled is not None and levelled.levelled and levelled.altitude_slope == pytest.approx(0.8, abs=1e-3)
    assert np.all(levelled.enu[:, 2] == 0.0)
    assert np.allclose(levelled.enu[:, :2] - levelled.enu[0, :2], climbing[:, :2] - climbing[0, :2], atol=0.05)


def test_spacing_and_pairing_radius_follow_the_survey() -> None:
    dense = grid(10, 6, 5.0, 8.0)
    sparse = grid(10, 6, 20.0, 32.0)
    assert survey_spacing_m(dense) == pytest.approx(5.0, rel=1e-3)
    a, b = spatial_pairing(dense), spatial_pairing(sparse)
    assert a.max_distance_m == pytest.approx(30.0, rel=1e-3)
    assert b.max_distance_m == pytest.approx(4 * a.max_distance_m, rel=1e-3)
    assert a.max_num_neighbors == b.max_num_neighbors  # same layout, scaled: same neighbours
    assert MIN_NEIGHBOURS <= a.max_num_neighbors <= MAX_NEIGHBOURS
    assert "5.0 m" in a.why


def test_pairing_ignores_duplicate_positions_and_small_surveys() -> None:
    enu = np.vstack([grid(3, 1, 10.0, 1.0), grid(3, 1, 10.0, 1.0)])  # every spot twice (hovering)
    assert survey_spacing_m(enu) == pytest.approx(10.0)
    assert spatial_pairing(grid(2, 2, 10, 10)).max_num_neighbors == 3
    still = spatial_pairing(np.zeros((4, 3)))
    assert still.max_distance_m == 100.0 and "no spread" in still.why


def test_one_wild_gps_fix_does_not_refit_a_model_in_the_priors_frame() -> None:
    """lund's case: a street sequence mapped with phone-GPS priors, one fix 150 m off.

    The least-squares similarity to the GPS is dragged by that fix (scale, roll about the street);
    the model is still in the priors' frame by the median distance and must stay as it is.
    """
    from splatkit.sfm.georeference import Similarity, apply_similarity

    rec = make_scene(num_frames=20, num_points=200)
    rng = np.random.default_rng(3)
    street = apply_similarity(rec, Similarity(20.0, np.eye(3), np.zeros(3)))  # 190 m long, 4 m wide
    centres = street.frames.centers()
    noise = np.column_stack([rng.normal(0.0, 3.0, (20, 2)), rng.normal(0.0, 2.0, 20)])
    gps = centres + noise
    gps[2] += np.array([0.0, 150.0, 10.0])  # the wild fix
    # Place the street in the priors' ENU frame: the priors are built from these ENU positions.
    lla = enu_to_lla(gps, *ORIGIN)
    records = [ImageRecord(name=n, path=Path(n), width=160, height=120, gps=GpsPosition(lat=a, lon=b, alt=c))
               for n, (a, b, c) in zip(street.frames.names, lla)]
    priors = gps_priors(ImageSet(records=tuple(records), root=Path(".")), std_horizontal_m=5, std_vertical_m=50)
    assert priors is not None
    in_frame = apply_similarity(street, Similarity(1.0, np.eye(3), priors.enu[0] - gps[0]))
    found = prior_frame_georeference(in_frame, priors, max_error_m=10.0)
    assert found is not None, "a model sitting on its GPS was refitted because of one wild fix"
    georeferenced, report = found
    assert np.allclose(georeferenced.frames.centers(), in_frame.frames.centers())
    assert report["method"] == "gps_pose_priors"
    assert report["outliers"] == [street.frames.names[2]]
    assert report["residual_horizontal_m"]["median"] < 6.0

def test_a_model_in_the_priors_frame_is_georeferenced_as_is() -> None:
    rec = make_scene(num_frames=5, num_points=60)
    names = rec.frames.names
    centres = rec.frames.centers()
    lla = enu_to_lla(centres + np.array([0.3, -0.2, 4.0]), *ORIGIN)  # GPS: 0.36 m off, 4 m high
    records = [ImageRecord(name=n, path=Path(n), width=160, height=120, gps=GpsPosition(lat=a, lon=b, alt=c))
               for n, (a, b, c) in zip(names, lla)]
    priors = gps_priors(ImageSet(records=tuple(records), root=Path(".")), std_horizontal_m=5, std_vertical_m=50)
    assert priors is not None
    # Put the model in the priors' frame (as a pose-prior BA would) by translating it.
    shift = priors.enu.mean(axis=0) - centres.mean(axis=0) - np.array([0.3, -0.2, 4.0])
    from splatkit.sfm.georeference import Similarity, apply_similarity

    moved = apply_similarity(rec, Similarity(1.0, np.eye(3), shift))
    found = prior_frame_georeference(moved, priors, max_error_m=10.0)
    assert found is not None
    georeferenced, report = found
    assert georeferenced.georeference == priors.reference
    assert np.allclose(georeferenced.frames.centers(), moved.frames.centers())
    assert report["method"] == "gps_pose_priors" and report["inliers"] == 5
    assert report["residual_horizontal_m"]["median"] == pytest.approx(np.hypot(0.3, 0.2), abs=0.01)
    assert report["residual_vertical_m"]["median"] == pytest.approx(4.0, abs=0.01)
    # The unmoved model is in its own arbitrary frame: not georeferenced here.
    far = apply_similarity(rec, Similarity(1.0, np.eye(3), shift + np.array([500.0, 0.0, 0.0])))
    assert prior_frame_georeference(far, priors, max_error_m=10.0) is None
    # ... and a similarity to the priors brings it there.
    aligned = align_to_priors(far, priors, max_error_m=10.0)
    assert aligned is not None and aligned[1]["method"] == "gps_similarity_to_priors"
    assert aligned[1]["residual_horizontal_m"]["median"] < 0.5
