"""Undistortion of a model + images to PINHOLE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatkit.contracts import Camera
from splatkit.sfm.camera_models import cam_from_img, img_from_cam
from splatkit.sfm.quality import reprojection_errors
from splatkit.sfm.undistort import PinholeCrop, pinhole_camera_for, resample_map, undistort_image, undistort_to_pinhole
from tests.sfm.synthetic_scene import make_scene
from tests.sfm.test_camera_models import CAMERAS

def _camera(model: str) -> Camera:
    return Camera(model=model, width=160, height=120, params=np.array(CAMERAS[model]), camera_id=3)


def test_barrel_distortion_crops_to_valid_pixels() -> None:
    cam = _camera("SIMPLE_RADIAL")  # k < 0: barrel; the undistorted border bows outward at the corners
    crop = pinhole_camera_for(cam)
    pin = crop.pinhole
    assert pin.model == "PINHOLE"
    np.testing.assert_allclose(pin.params[:2], [150.0, 150.0])
    # Every output pixel maps inside the source image (no blank border).
    jj, ii = np.meshgrid(np.arange(pin.width) + 0.5, np.arange(pin.height) + 0.5)
    rays = np.column_stack([(jj.ravel() - pin.params[2]) / pin.params[0],
                            (ii.ravel() - pin.params[3]) / pin.params[1], np.ones(jj.size)])
    src = img_from_cam(cam, rays)
    assert src[:, 0].min() >= -0.5 and src[:, 0].max() <= cam.width + 0.5
    assert src[:, 1].min() >= -0.5 and src[:, 1].max() <= cam.height + 0.5
    assert crop.to_dict()["to"]["width"] == pin.width


def test_max_size_scales_the_pinhole_camera() -> None:
    cam = Camera(model="PINHOLE", width=400, height=300, params=np.array([300.0, 300.0, 200.0, 150.0]))
    crop = pinhole_camera_for(cam, max_size=100)
    assert (crop.pinhole.width, crop.pinhole.height) == (100, 75)
    np.testing.assert_allclose(crop.pinhole.params, [75.0, 75.0, 50.0, 37.5])
    assert crop.scale == pytest.approx(0.25)


def _render_gradient(cam: Camera) -> np.ndarray:
    """A distorted image whose intensity is linear in the *undistorted* normalised coordinates."""
    jj, ii = np.meshgrid(np.arange(cam.width) + 0.5, np.arange(cam.height) + 0.5)
    uv = cam_from_img(cam, np.column_stack([jj.ravel(), ii.ravel()]))
    red = 128 + 150 * uv[:, 0]
    green = 128 + 150 * uv[:, 1]
    img = np.stack([red, green, np.full_like(red, 50)], axis=1).reshape(cam.height, cam.width, 3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("model", ["SIMPLE_RADIAL", "OPENCV", "PINHOLE"])
def test_undistort_to_pinhole_moves_images_and_observations(tmp_path: Path, model: str) -> None:
    cam = _camera(model)
    rec = make_scene(camera=cam, num_frames=4)
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    for name in rec.frames.names:
        Image.fromarray(_render_gradient(cam)).save(src_dir / name)

    out = undistort_to_pinhole(rec, src_dir, tmp_path / "out")

    assert all(c.model == "PINHOLE" for c in out.cameras)
    assert [c.camera_id for c in out.cameras] == [3]
    np.testing.assert_array_equal(out.frames.rotation, rec.frames.rotation)
    np.testing.assert_array_equal(out.points.xyz, rec.points.xyz)
    pin = out.cameras[0]
    for name in rec.frames.names:
        with Image.open(tmp_path / "out" / name) as im:
            assert im.size == (pin.width, pin.height)
            pixels = np.asarray(im).astype(float)
    # The moved observations reproject exactly with the pinhole camera.
    assert reprojection_errors(out).max() < 1e-6
    # The resampled image is the same linear function of the pinhole's normalised coordinates.
    fx, fy, cx, cy = pin.params
    u = (np.arange(pin.width) + 0.5 - cx) / fx
    v = (np.arange(pin.height) + 0.5 - cy) / fy
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(pixels[..., 0][inner], (128 + 150 * u)[None, :].repeat(pin.height, 0)[inner], atol=2.0)
    np.testing.assert_allclose(pixels[..., 1][inner], (128 + 150 * v)[:, None].repeat(pin.width, 1)[inner], atol=2.0)
    out.validate()


def test_undistort_refuses_images_resized_after_sfm(tmp_path: Path) -> None:
    from splatkit.errors import InputError

    rec = make_scene(camera=_camera("SIMPLE_RADIAL"), num_frames=3)
    for name in rec.frames.names:
        Image.new("RGB", (80, 60)).save(tmp_path / name)
    with pytest.raises(InputError, match="resized after SfM"):
        undistort_to_pinhole(rec, tmp_path, tmp_path / "out")
    assert not (tmp_path / "out" / rec.frames.names[0]).exists()


def test_undistort_names_a_missing_image(tmp_path: Path) -> None:
    from splatkit.errors import InputError

    rec = make_scene(camera=_camera("SIMPLE_RADIAL"), num_frames=3)
    with pytest.raises(InputError, match="not found"):
        undistort_to_pinhole(rec, tmp_path, tmp_path / "out")


def _map_coordinates_reference(pixels: np.ndarray, crop: PinholeCrop) -> np.ndarray:
    """The resampling written directly with scipy's spline lookup (order 1, edges clamped)."""
    from scipy.ndimage import map_coordinates

    reduce = max(1, int(np.floor(1.0 / crop.scale + 1e-9))) if crop.scale < 1.0 else 1
    if reduce > 1:
        pixels = np.asarray(Image.fromarray(pixels).reduce(reduce))
    fx, fy, cx, cy = crop.pinhole.params
    jj, ii = np.meshgrid(np.arange(crop.pinhole.width) + 0.5, np.arange(crop.pinhole.height) + 0.5)
    rays = np.column_stack([(jj.ravel() - cx) / fx, (ii.ravel() - cy) / fy, np.ones(jj.size)])
    src = img_from_cam(crop.source, rays) / reduce - 0.5
    coords = [src[:, 1].reshape(jj.shape), src[:, 0].reshape(jj.shape)]
    planes = [map_coordinates(pixels[:, :, c].astype(np.float64), coords, order=1, mode="nearest")
              for c in range(pixels.shape[2])]
    return np.clip(np.rint(np.stack(planes, axis=-1)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("model", ["SIMPLE_RADIAL", "OPENCV", "FULL_OPENCV"])
@pytest.mark.parametrize("max_size", [0, 90, 50])
def test_the_shared_lookup_equals_a_direct_bilinear_resampling(model: str, max_size: int) -> None:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    crop = pinhole_camera_for(_camera(model), max_size=max_size)
    lookup = resample_map(crop, rows_per_chunk=7)  # chunk seams inside the image
    ours = undistort_image(pixels, crop, lookup=lookup, pixels_per_chunk=1000)
    reference = _map_coordinates_reference(pixels, crop)
    assert ours.shape == reference.shape == (crop.pinhole.height, crop.pinhole.width, 3)
    # float32 weights against float64 splines: a rounding tie may land one level apart.
    difference = np.abs(ours.astype(int) - reference)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3
    np.testing.assert_array_equal(undistort_image(pixels, crop), ours)  # the lookup made on the fly


@pytest.mark.parametrize("channels", [1, 4])
def test_one_and_four_channel_images_resample_per_channel(channels: int) -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(120, 160, channels), dtype=np.uint8)
    crop = pinhole_camera_for(_camera("SIMPLE_RADIAL"))
    rgb_of_first = undistort_image(np.repeat(pixels[:, :, :1], 3, axis=2), crop)[:, :, 0]
    out = undistort_image(pixels, crop)
    assert out.shape[2] == channels
    np.testing.assert_array_equal(out[:, :, 0], rgb_of_first)


def test_a_one_pixel_wide_source_repeats_its_edge() -> None:
    cam = Camera(model="SIMPLE_RADIAL", width=1, height=40, params=np.array([30.0, 0.5, 20.0, 0.1]))
    crop = pinhole_camera_for(cam)
    column = (100 + 3 * np.arange(40, dtype=np.uint8)).reshape(40, 1, 1).repeat(3, axis=2)
    out = undistort_image(column, crop)
    assert out.shape[:2] == (crop.pinhole.height, crop.pinhole.width)
    assert np.abs(out.astype(int) - _map_coordinates_reference(column, crop)).max() <= 1
