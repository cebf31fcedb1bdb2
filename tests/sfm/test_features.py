"""Features for the pycolmap backend: cameras and their priors in the database, keypoints, matching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from splatkit.sfm.features import CameraGroup, extract_features, initial_params, match_features, sift_first_octave


def _texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Blobby grey texture ``[height, width]`` uint8 that SIFT finds features in."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1), dtype=np.uint8)
    big = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.uint8)


def _photos(folder: Path, count: int, size: tuple[int, int]) -> tuple[str, ...]:
    """``count`` overlapping crops of one texture (40 px apart), saved as grey PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    scene = _texture(size[0] + 40 * count, size[1], seed=7)
    names = []
    for i in range(count):
        name = f"img_{i}.png"
        Image.fromarray(np.ascontiguousarray(scene[:, 40 * i:40 * i + size[0]])).save(folder / name)
        names.append(name)
    return tuple(names)


def test_only_photos_shrunk_2x_skip_the_doubled_octave() -> None:
    assert sift_first_octave(4000 / 1600) == 0
    assert sift_first_octave(2.0) == 0
    assert sift_first_octave(1.5) == -1
    assert sift_first_octave(1024 / 1600) == -1


def _extract(pycolmap: Any, tmp_path: Path, groups: list[CameraGroup], *, max_image_size: int = 1600) -> Path:
    database = tmp_path / "database.db"
    extract_features(pycolmap, database, tmp_path / "images", groups, camera_model="SIMPLE_RADIAL",
                     max_image_size=max_image_size, max_num_features=2000, threads=1)
    return database


def test_one_camera_per_group_with_the_exif_focal_as_prior(tmp_path: Path) -> None:
    pycolmap = pytest.importorskip("pycolmap")
    names = _photos(tmp_path / "images", 4, (320, 240))
    exif = CameraGroup(names=names[:2], width=320, height=240, focal_px=300.0, focal_from_exif=True, label="exif")
    guessed = CameraGroup(names=names[2:], width=320, height=240, focal_px=384.0, focal_from_exif=False,
                          label="guessed")
    db = pycolmap.Database.open(_extract(pycolmap, tmp_path, [exif, guessed]))
    try:
        cameras = {c.camera_id: c for c in db.read_all_cameras()}
        images = {im.name: im for im in db.read_all_images()}
        assert len(cameras) == 2 and sorted(images) == sorted(names)
        first, second = cameras[images[names[0]].camera_id], cameras[images[names[2]].camera_id]
        assert images[names[1]].camera_id == first.camera_id and images[names[3]].camera_id == second.camera_id
        assert first.has_prior_focal_length and not second.has_prior_focal_length
        np.testing.assert_allclose(first.params, [float(v) for v in initial_params("SIMPLE_RADIAL", exif).split(",")])
        assert second.focal_length == pytest.approx(1.2 * 320)  # COLMAP's guess, the factor splatkit reports
        for im in images.values():
            keypoints = db.read_keypoints(im.image_id)
            assert len(keypoints) > 50 and db.read_descriptors(im.image_id).data.shape == (len(keypoints), 128)
    finally:
        db.close()


def test_keypoints_of_shrunk_photos_are_in_original_pixels(tmp_path: Path) -> None:
    pycolmap = pytest.importorskip("pycolmap")
    names = _photos(tmp_path / "images", 1, (640, 480))
    group = CameraGroup(names=names, width=640, height=480, focal_px=600.0, focal_from_exif=True, label="test")
    db = pycolmap.Database.open(_extract(pycolmap, tmp_path, [group], max_image_size=320))
    try:
        (camera,) = db.read_all_cameras()
        assert (camera.width, camera.height) == (640, 480)
        keypoints = db.read_keypoints(1)
        assert keypoints[:, 0].max() > 400 and keypoints[:, 1].max() > 300
        assert keypoints[:, 0].max() <= 640 and keypoints[:, 1].max() <= 480
    finally:
        db.close()


def test_spatial_matching_without_gps_falls_back_to_exhaustive(tmp_path: Path) -> None:
    pycolmap = pytest.importorskip("pycolmap")
    names = _photos(tmp_path / "images", 3, (320, 240))
    group = CameraGroup(names=names, width=320, height=240, focal_px=300.0, focal_from_exif=True, label="test")
    database = _extract(pycolmap, tmp_path, [group])
    notes: list[str] = []
    used, pairing = match_features(pycolmap, database, "spatial", len(names), threads=1, priors=None, notes=notes)
    assert (used, pairing) == ("exhaustive", {})
    assert len(notes) == 1 and "0/3 have it" in notes[0] and "exhaustive" in notes[0]
    db = pycolmap.Database.open(database)
    try:
        assert db.num_matched_image_pairs() == 3  # every pair of the 3 overlapping photos
        assert db.num_verified_image_pairs() >= 2
    finally:
        db.close()
