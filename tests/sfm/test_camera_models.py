"""COLMAP's camera models in numpy (sfm/camera_models.py), checked against pycolmap for every model."""

from __future__ import annotations

import numpy as np
import pytest

from splatkit.contracts import CAMERA_MODELS, Camera
from splatkit.sfm.camera_models import SUPPORTED_MODELS, cam_from_img, img_from_cam

#: One camera per COLMAP model, with distortion strong enough to matter at the image border.
CAMERAS = {
    "SIMPLE_PINHOLE": [150.0, 80.0, 60.0],
    "PINHOLE": [150.0, 155.0, 81.0, 59.0],
    "SIMPLE_RADIAL": [150.0, 80.0, 60.0, -0.1],
    "RADIAL": [150.0, 80.0, 60.0, -0.1, 0.03],
    "OPENCV": [150.0, 152.0, 81.0, 61.0, -0.12, 0.04, 0.002, -0.001],
    "FULL_OPENCV": [150.0, 152.0, 81.0, 61.0, -0.12, 0.04, 0.002, -0.001, 0.01, 0.02, -0.01, 0.005],
    "OPENCV_FISHEYE": [150.0, 152.0, 81.0, 61.0, 0.05, -0.02, 0.01, -0.002],
    "SIMPLE_RADIAL_FISHEYE": [150.0, 80.0, 60.0, 0.05],
    "RADIAL_FISHEYE": [150.0, 80.0, 60.0, 0.05, -0.01],
    "THIN_PRISM_FISHEYE": [150.0, 152.0, 81.0, 61.0, 0.05, -0.02, 0.001, -0.002, 0.01, -0.002, 0.001, -0.0015],
    "FOV": [150.0, 152.0, 81.0, 61.0, 0.8],
}


def _camera(model: str) -> Camera:
    return Camera(model=model, width=160, height=120, params=np.array(CAMERAS[model]), camera_id=3)


def _rays(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-0.5, 0.5, n), rng.uniform(-0.4, 0.4, n), rng.uniform(1.0, 5.0, n)])


def test_every_contract_model_is_implemented_and_tested() -> None:
    assert SUPPORTED_MODELS == frozenset(CAMERA_MODELS) == frozenset(CAMERAS)


@pytest.mark.parametrize("model", sorted(CAMERAS))
def test_numpy_models_match_pycolmap(model: str) -> None:
    pycolmap = pytest.importorskip("pycolmap")
    cam = _camera(model)
    ref = pycolmap.Camera(model=model, width=160, height=120, params=CAMERAS[model])
    xyz = _rays()
    np.testing.assert_allclose(img_from_cam(cam, xyz), ref.img_from_cam(xyz), atol=1e-9)
    px = ref.img_from_cam(xyz)
    np.testing.assert_allclose(cam_from_img(cam, px), ref.cam_from_img(px), atol=1e-7)


@pytest.mark.parametrize("model", sorted(CAMERAS))
def test_unproject_inverts_project(model: str) -> None:
    cam = _camera(model)
    xyz = _rays(seed=1)
    uv = cam_from_img(cam, img_from_cam(cam, xyz))
    np.testing.assert_allclose(uv, xyz[:, :2] / xyz[:, 2:], atol=1e-9)


@pytest.mark.parametrize("model", sorted(CAMERAS))
def test_the_optical_axis_maps_to_the_principal_point(model: str) -> None:
    """r = 0 takes every model's limit branch (fisheye atan(r)/r, FOV's 2 tan(w/2)/w)."""
    cam = _camera(model)
    np.testing.assert_allclose(img_from_cam(cam, np.array([[0.0, 0.0, 2.0]]))[0], cam.principal_point(), atol=1e-12)
    np.testing.assert_allclose(cam_from_img(cam, np.array([cam.principal_point()]))[0], [0.0, 0.0], atol=1e-12)


def test_points_behind_the_camera_do_not_project() -> None:
    out = img_from_cam(_camera("SIMPLE_RADIAL"), np.array([[0.1, 0.1, -1.0], [0.1, 0.1, 1.0]]))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
