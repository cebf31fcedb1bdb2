"""Flight plan: rotations, aiming, overlap, and the ENU -> WGS84 conversion the GPS tags come from."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.contracts import CameraHints, Georeference
from splatkit.demo import DemoConfig, demo_shots
from splatkit.demo.flight import Intrinsics, camera_rotation, enu_to_lla, orbit_shots
from splatkit.sfm.georeference import lla_to_enu


@given(heading=st.floats(-360, 360), pitch=st.floats(0, 90))
def test_camera_rotation_is_a_rotation_with_level_x_axis(heading: float, pitch: float) -> None:
    r = camera_rotation(heading, pitch)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    assert abs(r[0, 2]) < 1e-12  # no roll: the image x axis stays horizontal
    assert r[2, 2] == pytest.approx(-np.sin(np.radians(pitch)))  # forward points down by the pitch


def test_camera_rotation_axes_for_nadir_and_horizontal_views() -> None:
    nadir = camera_rotation(0.0, 90.0)
    np.testing.assert_allclose(nadir, [[1, 0, 0], [0, -1, 0], [0, 0, -1]], atol=1e-12)  # top of image = north
    east = camera_rotation(90.0, 0.0)
    np.testing.assert_allclose(east, [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=1e-12)  # right = south


def test_orbit_cameras_aim_at_the_target() -> None:
    target = np.array([0.0, 0.0, 2.0])
    k = Intrinsics.from_35mm(320, 240, 28.0)
    shots = orbit_shots(8, radius_m=50.0, height_m=50.0, target=target, rng=np.random.default_rng(0),
                        jitter_deg=0.0)
    for shot in shots:
        x = shot.rotation @ target + shot.translation
        assert x[2] > 0
        np.testing.assert_allclose([k.fx * x[0] / x[2] + k.cx, k.fy * x[1] / x[2] + k.cy], [k.cx, k.cy], atol=1e-9)
        assert np.linalg.norm(shot.centre[:2]) == pytest.approx(50.0)


def test_focal_matches_what_exif_readers_compute() -> None:
    config = DemoConfig()
    hints = CameraHints(focal_length_35mm=config.focal_35mm)
    assert config.intrinsics.fx == pytest.approx(hints.focal_px(config.width, config.height))
    assert (config.intrinsics.cx, config.intrinsics.cy) == (config.width / 2, config.height / 2)


def test_default_flight_has_orbit_then_grid_and_overlapping_nadir_footprints() -> None:
    config = DemoConfig()
    shots = demo_shots(config)
    kinds = [s.kind for s in shots]
    assert kinds == ["orbit"] * config.n_orbit + ["nadir"] * (config.grid_columns * config.grid_rows)
    # Held-out photos are every 8th by name: both kinds must be among them.
    assert {kinds[i] for i in range(0, len(shots), 8)} == {"orbit", "nadir"}
    # Forward overlap along a lane, from the ground footprint at the flying height.
    k = config.intrinsics
    footprint_along = config.nadir_height_m * k.width / k.fx
    footprint_across = config.nadir_height_m * k.height / k.fy
    nadir = np.array([s.centre for s in shots if s.kind == "nadir"])
    steps = np.linalg.norm(np.diff(nadir[: config.grid_columns, :2], axis=0), axis=1)
    assert 1.0 - steps.max() / footprint_along >= 0.65
    assert 1.0 - config.grid_spacing_y_m / footprint_across >= 0.6


@given(
    east=st.floats(-3000, 3000), north=st.floats(-3000, 3000), up=st.floats(-200, 2000),
    lat0=st.floats(-80, 80), lon0=st.floats(-179, 179), alt0=st.floats(-100, 3000),
)
def test_enu_to_lla_inverts_lla_to_enu(east: float, north: float, up: float, lat0: float, lon0: float,
                                       alt0: float) -> None:
    lla = enu_to_lla(np.array([[east, north, up]]), lat0, lon0, alt0)
    back = lla_to_enu(lla[:, 0], lla[:, 1], lla[:, 2], Georeference(lat=lat0, lon=lon0, alt=alt0))
    np.testing.assert_allclose(back[0], [east, north, up], atol=1e-6)


def test_enu_to_lla_directions() -> None:
    lla = enu_to_lla(np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 100.0]]),
                     46.0, 7.0, 500.0)
    np.testing.assert_allclose(lla[0], [46.0, 7.0, 500.0], atol=1e-9)
    assert lla[1, 1] > 7.0 and lla[1, 0] == pytest.approx(46.0, abs=1e-6)  # east: longitude grows
    assert lla[2, 0] > 46.0 and lla[2, 1] == pytest.approx(7.0, abs=1e-9)  # north: latitude grows
    assert lla[3, 2] == pytest.approx(600.0, abs=1e-6)
