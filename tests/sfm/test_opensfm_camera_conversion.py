"""OpenSfM camera -> COLMAP camera: checked against OpenSfM's own formulas and pycolmap's projection.

The OpenSfM side is re-implemented here from OpenSfM's sources (PROJECTION -> DISTORTION -> AFFINE
in normalized coordinates: ``camera_projections_functions.h``, ``camera_distortions_functions.h``,
``camera_instances.h``), independently of ``splatkit.sfm.camera_conversion``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.errors import InputError
from splatkit.sfm.camera_conversion import normalized_to_pixels, opensfm_camera_to_colmap
from splatkit.sfm.camera_models import img_from_cam
from splatkit.sfm.opensfm_backend import rotation_from_axis_angle

# --- OpenSfM's camera models, normalized coordinates ----------------------------------------


def _perspective(X):
    return X[:, :2] / X[:, 2:3]


def _fisheye(X):
    r = np.linalg.norm(X[:, :2], axis=1)
    theta = np.arctan2(r, X[:, 2])
    return X[:, :2] * (theta / r)[:, None]


def _radial_poly(r2, ks):
    out = np.zeros_like(r2)
    for k in reversed(ks):
        out = (out + k) * r2
    return 1.0 + out


def _tangential(p, r2, p1, p2):
    x, y = p[:, 0], p[:, 1]
    return np.stack([2 * p1 * x * y + p2 * (r2 + 2 * x * x), 2 * p2 * x * y + p1 * (r2 + 2 * y * y)], axis=1)


def opensfm_project(obj: dict, X: np.ndarray) -> np.ndarray:
    """Project camera-frame points with OpenSfM's model for ``obj``; returns normalized coordinates."""
    t = obj["projection_type"]
    g = lambda k: obj.get(k, 0.0)  # noqa: E731  (OpenSfM's camera_from_json defaults)
    if t == "dual":
        tr = obj["transition"]
        p = tr * _perspective(X) + (1 - tr) * _fisheye(X)
    elif t in ("fisheye", "fisheye_opencv", "fisheye62", "fisheye624"):
        p = _fisheye(X)
    else:
        p = _perspective(X)
    r2 = (p * p).sum(axis=1)
    if t in ("perspective", "fisheye", "dual", "radial"):
        d = p * _radial_poly(r2, [g("k1"), g("k2")])[:, None]
    elif t == "simple_radial":
        d = p * _radial_poly(r2, [g("k1")])[:, None]
    elif t == "brown":
        d = p * _radial_poly(r2, [g("k1"), g("k2"), g("k3")])[:, None] + _tangential(p, r2, g("p1"), g("p2"))
    elif t == "fisheye_opencv":
        d = p * _radial_poly(r2, [g("k1"), g("k2"), g("k3"), g("k4")])[:, None]
    else:  # fisheye62 / fisheye624
        ks = [g(f"k{i}") for i in range(1, 7)]
        d = p * _radial_poly(r2, ks)[:, None] + _tangential(p, r2, g("p1"), g("p2"))
        if t == "fisheye624":
            d = d + np.stack([g("s0") * r2 + g("s1") * r2 ** 2, g("s2") * r2 + g("s3") * r2 ** 2], axis=1)
    if t in ("perspective", "fisheye", "dual"):  # UniformScale
        return obj["focal"] * d
    # Affine: u = f x + c_x, v = f * aspect * y + c_y, aspect = focal_y / focal_x
    fx = obj["focal_x"]
    aspect = obj["focal_y"] / fx
    return np.stack([fx * d[:, 0] + g("c_x"), fx * aspect * d[:, 1] + g("c_y")], axis=1)


CASES = [
    ("RADIAL", {"projection_type": "perspective", "focal": 0.95, "k1": -0.08, "k2": 0.02}),
    ("SIMPLE_RADIAL", {"projection_type": "perspective", "focal": 0.85, "k1": 0.05, "k2": 0.0}),
    ("OPENCV", {"projection_type": "brown", "focal_x": 0.8, "focal_y": 0.81, "c_x": 0.012, "c_y": -0.021,
                "k1": -0.11, "k2": 0.03, "p1": 0.001, "p2": -0.0015, "k3": 0.0}),
    ("FULL_OPENCV", {"projection_type": "brown", "focal_x": 0.8, "focal_y": 0.79, "c_x": -0.01, "c_y": 0.02,
                     "k1": -0.11, "k2": 0.03, "p1": 0.001, "p2": -0.0015, "k3": -0.004}),
    ("RADIAL_FISHEYE", {"projection_type": "fisheye", "focal": 0.5, "k1": -0.03, "k2": 0.004}),
    ("SIMPLE_RADIAL_FISHEYE", {"projection_type": "fisheye", "focal": 0.5, "k1": -0.03}),
    ("OPENCV_FISHEYE", {"projection_type": "fisheye_opencv", "focal_x": 0.45, "focal_y": 0.46, "c_x": 0.01,
                        "c_y": -0.005, "k1": 0.02, "k2": -0.01, "k3": 0.003, "k4": -0.0005}),
    ("THIN_PRISM_FISHEYE", {"projection_type": "fisheye62", "focal_x": 0.45, "focal_y": 0.44, "c_x": 0.01,
                            "c_y": 0.003, "k1": 0.02, "k2": -0.01, "k3": 0.003, "k4": -0.0005, "k5": 0.0,
                            "k6": 0.0, "p1": 0.0007, "p2": -0.0004}),
    ("THIN_PRISM_FISHEYE", {"projection_type": "fisheye624", "focal_x": 0.45, "focal_y": 0.45, "c_x": -0.01,
                            "c_y": 0.003, "k1": 0.02, "k2": -0.01, "k3": 0.003, "k4": -0.0005, "p1": 0.0007,
                            "p2": -0.0004, "s0": 0.0012, "s1": 0.0, "s2": -0.0009, "s3": 0.0}),
    ("RADIAL", {"projection_type": "radial", "focal_x": 0.9, "focal_y": 0.9, "c_x": 0.02, "c_y": 0.01,
                "k1": -0.05, "k2": 0.01}),
    ("OPENCV", {"projection_type": "radial", "focal_x": 0.9, "focal_y": 0.92, "c_x": 0.02, "c_y": 0.01,
                "k1": -0.05, "k2": 0.01}),
    ("SIMPLE_RADIAL", {"projection_type": "simple_radial", "focal_x": 0.9, "focal_y": 0.9, "c_x": -0.02,
                       "c_y": 0.01, "k1": -0.05}),
    ("OPENCV", {"projection_type": "simple_radial", "focal_x": 0.9, "focal_y": 0.88, "c_x": -0.02,
                "c_y": 0.01, "k1": -0.05}),
    ("RADIAL", {"projection_type": "dual", "transition": 1.0, "focal": 0.9, "k1": -0.05, "k2": 0.01}),
    ("RADIAL_FISHEYE", {"projection_type": "dual", "transition": 0.0, "focal": 0.5, "k1": -0.05, "k2": 0.01}),
]


def _points(rng: np.random.Generator, n: int = 200) -> np.ndarray:
    z = rng.uniform(1.0, 20.0, n)
    xy = rng.uniform(-0.55, 0.55, (n, 2)) * z[:, None]
    return np.column_stack([xy, z])


@pytest.mark.parametrize("size", [(4000, 3000), (3000, 4000)], ids=["landscape", "portrait"])
@pytest.mark.parametrize(("model", "obj"), CASES, ids=[f"{o['projection_type']}->{m}" for m, o in CASES])
def test_conversion_matches_opensfm_projection(model, obj, size):
    pycolmap = pytest.importorskip("pycolmap")
    w, h = size
    obj = {**obj, "width": w, "height": h}
    cam = opensfm_camera_to_colmap(obj, camera_id=3, key="test cam")
    assert cam.model == model and (cam.width, cam.height, cam.camera_id) == (w, h, 3)
    X = _points(np.random.default_rng(7))
    expected = normalized_to_pixels(opensfm_project(obj, X), w, h)
    # The expected pixels are computed independently: OpenSfM normalized -> COLMAP pixel.
    np.testing.assert_allclose(expected, opensfm_project(obj, X) * max(w, h) + [w / 2, h / 2])
    colmap_cam = pycolmap.Camera(model=cam.model, width=w, height=h, params=cam.params)
    got_pycolmap = colmap_cam.img_from_cam(X)
    np.testing.assert_allclose(got_pycolmap, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(img_from_cam(cam, X), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("obj", "words"), [
    ({"projection_type": "spherical"}, ["spherical", "panorama"]),
    ({"projection_type": "equirectangular"}, ["equirectangular"]),
    ({"projection_type": "dual", "transition": 0.5, "focal": 0.9}, ["dual", "transition"]),
    ({"projection_type": "fisheye62", "focal_x": 0.5, "focal_y": 0.5, "k5": 0.01}, ["fisheye62", "k5"]),
    ({"projection_type": "fisheye624", "focal_x": 0.5, "focal_y": 0.5, "s1": 0.01}, ["fisheye624", "s1"]),
    ({"projection_type": "kannala_brandt_9000"}, ["kannala_brandt_9000", "unknown"]),
])
def test_unsupported_projection_is_a_clear_input_error(obj, words):
    with pytest.raises(InputError) as err:
        opensfm_camera_to_colmap({**obj, "width": 640, "height": 480}, key="cam A", path="x/reconstruction.json")
    msg = str(err.value)
    assert "cam A" in msg and "x/reconstruction.json" in msg and "camera_models_overrides.json" in msg
    for word in words:
        assert word in msg


def test_missing_size_or_focal_is_an_input_error():
    with pytest.raises(InputError, match="width and height"):
        opensfm_camera_to_colmap({"projection_type": "perspective", "focal": 0.9})
    with pytest.raises(InputError, match="lacks 'focal'"):
        opensfm_camera_to_colmap({"projection_type": "perspective", "width": 10, "height": 10})


def test_perspective_is_the_default_projection_and_units_are_max_side():
    cam = opensfm_camera_to_colmap({"width": 3000, "height": 4000, "focal": 0.5, "k1": 0.1})
    assert cam.model == "SIMPLE_RADIAL"
    np.testing.assert_allclose(cam.params, [2000.0, 1500.0, 2000.0, 0.1])


def test_normalized_origin_is_the_image_centre_in_colmap_pixels():
    # OpenSfM: xn = (px + 0.5 - w/2) / max(w, h) with px the pixel index; COLMAP: centre of pixel i at i + 0.5.
    w, h = 5, 3
    px = np.array([[0, 0], [4, 2], [2, 1]], float)
    xn = (px + 0.5 - [w / 2, h / 2]) / max(w, h)
    np.testing.assert_allclose(normalized_to_pixels(xn, w, h), px + 0.5)


@given(st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3))
def test_rotation_from_axis_angle_matches_scipy(vec):
    from scipy.spatial.transform import Rotation

    got = rotation_from_axis_angle(np.array([vec]))[0]
    np.testing.assert_allclose(got, Rotation.from_rotvec(vec).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(got @ got.T, np.eye(3), atol=1e-12)


def test_zero_rotation_is_identity():
    np.testing.assert_array_equal(rotation_from_axis_angle(np.zeros((1, 3)))[0], np.eye(3))
