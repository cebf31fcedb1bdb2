"""The demo photo set: names, EXIF read back by splatkit's own reader, ground truth, determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatkit.contracts import Georeference
from splatkit.demo import GROUND_TRUTH_FILE, PHOTOS_DIR, DemoConfig, demo_ground_truth, generate_demo_photos
from splatkit.demo.raycast import cast_rays
from splatkit.demo.scene import DemoScene, build_scene
from splatkit.errors import ContractError, InputError
from splatkit.io.images import read_image_set
from splatkit.sfm.georeference import lla_to_enu

SMALL = DemoConfig(width=96, height=72, n_orbit=3, grid_columns=2, grid_rows=2, supersample=1)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_photos_are_named_in_flight_order_and_match_the_ground_truth(demo_dir: Path) -> None:
    config = DemoConfig()
    photos = demo_dir / PHOTOS_DIR
    names = sorted(p.name for p in photos.iterdir())
    n = config.n_orbit + config.grid_columns * config.grid_rows
    assert names == [f"DJI_{i:04d}.JPG" for i in range(1, n + 1)]
    truth = demo_ground_truth(demo_dir)
    assert [f["name"] for f in truth["frames"]] == names
    assert {f["name"]: f["sha256"] for f in truth["frames"]} == _digests(photos)
    for name in names[:: max(1, n // 4)]:
        with Image.open(photos / name) as im:
            assert im.format == "JPEG" and im.size == (config.width, config.height) and im.mode == "RGB"


def test_exif_reads_back_with_gps_and_focal_consistent_with_the_poses(demo_dir: Path) -> None:
    truth = demo_ground_truth(demo_dir)
    image_set = read_image_set(demo_dir / PHOTOS_DIR)
    assert image_set.has_gps() and len(image_set) == len(truth["frames"])
    fx = truth["camera"]["params"][0]
    origin = Georeference(**truth["origin"])
    for record, frame in zip(image_set.records, truth["frames"]):
        assert record.name == frame["name"]
        assert (record.camera.make, record.camera.model) == ("splatkit", "demo-cam")
        assert record.camera.focal_px(record.width, record.height) == pytest.approx(fx)
        assert record.capture_time == frame["capture_time"]
        # GPS back to the local ENU frame: the camera centre the photo was rendered from.
        enu = lla_to_enu(np.array([record.gps.lat]), np.array([record.gps.lon]), np.array([record.gps.alt]), origin)
        np.testing.assert_allclose(enu[0], frame["centre_enu"], atol=0.005)
    times = [r.capture_time for r in image_set.records]
    assert times == sorted(times) and len(set(times)) == len(times)
    # Plausible flight: about 50 m above the origin, within 60 m of it horizontally.
    centres = np.array([f["centre_enu"] for f in truth["frames"]])
    assert np.all(np.abs(centres[:, 2] - 50.0) < 2.0) and np.all(np.hypot(centres[:, 0], centres[:, 1]) < 60.0)


def test_ground_truth_poses_are_rigid_and_consistent(demo_dir: Path) -> None:
    truth = demo_ground_truth(demo_dir)
    assert truth["camera"]["model"] == "PINHOLE"
    for frame in truth["frames"]:
        r = np.array(frame["cam_from_world"]["rotation"])
        t = np.array(frame["cam_from_world"]["translation"])
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(-r.T @ t, frame["centre_enu"], atol=1e-9)
        # Every camera looks down at the scene: the optical axis points below the horizon.
        assert r[2, 2] < -0.5


def _marker_mask(image: np.ndarray) -> np.ndarray:
    rgb = image.astype(np.int32)
    return (rgb[..., 0] - rgb[..., 1] > 80) & (rgb[..., 2] - rgb[..., 1] > 80)


def _disc_visible(scene: DemoScene, centre: np.ndarray, marker: np.ndarray) -> bool:
    """The marker disc (1 m radius) and its centre are seen unoccluded from ``centre``."""
    angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    rim = marker + np.column_stack([np.cos(angles), np.sin(angles), np.zeros(16)])
    rim[:, 2] = scene.hills.height(rim[:, 0], rim[:, 1])[0]
    points = np.vstack([marker, rim])
    dirs = points - centre
    dist = np.linalg.norm(dirs, axis=1)
    hits = cast_rays(scene, centre, dirs / dist[:, None])
    return bool(np.all(np.abs(hits.t - dist) < 0.05))


def test_markers_appear_where_the_ground_truth_projects_them(demo_dir: Path, demo_scene: DemoScene) -> None:
    """Pose, intrinsics and renderer agree: each visible magenta marker disc is centred (to a
    fraction of a pixel) on the projection of its ENU centre through the ground-truth camera."""
    truth = demo_ground_truth(demo_dir)
    fx, fy, cx, cy = truth["camera"]["params"]
    width, height = truth["camera"]["width"], truth["camera"]["height"]
    markers = np.array(truth["markers_enu"])
    np.testing.assert_allclose(markers, demo_scene.markers)
    errors = []
    for frame in truth["frames"]:
        r = np.array(frame["cam_from_world"]["rotation"])
        t = np.array(frame["cam_from_world"]["translation"])
        cam = markers @ r.T + t
        uv = np.column_stack([fx * cam[:, 0] / cam[:, 2] + cx, fy * cam[:, 1] / cam[:, 2] + cy])
        image = np.asarray(Image.open(demo_dir / PHOTOS_DIR / frame["name"]).convert("RGB"))
        mask = _marker_mask(image)
        for m, (u, v) in enumerate(uv):
            if not (12 <= u <= width - 12 and 12 <= v <= height - 12) or cam[m, 2] <= 0:
                continue
            if not _disc_visible(demo_scene, np.array(frame["centre_enu"]), markers[m]):
                continue
            rows, cols = np.mgrid[0:height, 0:width]
            near = mask & ((cols + 0.5 - u) ** 2 + (rows + 0.5 - v) ** 2 < 10.0 ** 2)
            assert near.sum() >= 8, f"{frame['name']}: marker {m} not found near ({u:.1f}, {v:.1f})"
            # Pixel (col, row) has its centre at (col + 0.5, row + 0.5): COLMAP's convention.
            found = np.array([cols[near].mean() + 0.5, rows[near].mean() + 0.5])
            errors.append(np.linalg.norm(found - [u, v]))
    assert len(errors) >= 40  # most frames see several markers
    assert np.median(errors) < 0.25 and max(errors) < 0.6  # measured: 0.13 and 0.27 px


def test_scene_is_a_function_of_its_seed() -> None:
    a, b, c = build_scene(5, texture_size=256), build_scene(5, texture_size=256), build_scene(6, texture_size=256)
    for level_a, level_b in zip(a.texture.levels, b.texture.levels):
        np.testing.assert_array_equal(level_a, level_b)
    np.testing.assert_array_equal(a.markers, b.markers)
    np.testing.assert_array_equal(a.hills.centres, b.hills.centres)
    assert [box.centre.tolist() for box in a.boxes] == [box.centre.tolist() for box in b.boxes]
    assert not np.array_equal(a.texture.levels[0], c.texture.levels[0])


def test_generation_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a = _digests(generate_demo_photos(tmp_path / "a", config=SMALL, max_workers=2))
    b = _digests(generate_demo_photos(tmp_path / "b", config=SMALL, max_workers=1))
    assert a == b
    other = dataclasses.replace(SMALL, seed=SMALL.seed + 1)
    c = _digests(generate_demo_photos(tmp_path / "c", config=other))
    assert set(c) == set(a) and all(c[name] != a[name] for name in a)
    assert demo_ground_truth(tmp_path / "a") == demo_ground_truth(tmp_path / "b")


def test_second_call_reuses_photos_and_repairs_tampered_ones(tmp_path: Path) -> None:
    photos = generate_demo_photos(tmp_path, config=SMALL)
    before = _digests(photos)
    stamp = {p.name: p.stat().st_mtime_ns for p in photos.iterdir()}
    assert generate_demo_photos(tmp_path, config=SMALL) == photos
    assert {p.name: p.stat().st_mtime_ns for p in photos.iterdir()} == stamp  # nothing rewritten
    (photos / "DJI_0002.JPG").write_bytes(b"not a jpeg")
    generate_demo_photos(tmp_path, config=SMALL)
    assert _digests(photos) == before
    # A changed configuration renders again.
    bigger = dataclasses.replace(SMALL, width=128)
    generate_demo_photos(tmp_path, config=bigger)
    assert demo_ground_truth(tmp_path)["camera"]["width"] == 128
    with Image.open(photos / "DJI_0001.JPG") as im:
        assert im.size == (128, 72)


def test_refuses_to_replace_a_photos_folder_it_did_not_make(tmp_path: Path) -> None:
    mine = tmp_path / PHOTOS_DIR
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(InputError, match="not made by"):
        generate_demo_photos(tmp_path, config=SMALL)
    assert (mine / "holiday.jpg").read_bytes() == b"precious"
    assert not (tmp_path / GROUND_TRUTH_FILE).exists()


def test_ground_truth_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="generate_demo_photos"):
        demo_ground_truth(tmp_path)
    (tmp_path / GROUND_TRUTH_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(InputError, match=GROUND_TRUTH_FILE):
        demo_ground_truth(tmp_path)


@pytest.mark.parametrize("change", [{"width": 0}, {"n_orbit": 0, "grid_columns": 1, "grid_rows": 1},
                                    {"nadir_height_m": 10.0}, {"jpeg_quality": 101}, {"start_time": "today"}])
def test_config_rejects_bad_values(change: dict[str, object]) -> None:
    with pytest.raises(ContractError):
        DemoConfig(**change)
