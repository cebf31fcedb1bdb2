"""COLMAP sparse model reader/writer: round trips, pycolmap agreement, real models, bad input."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splatkit.contracts.reconstruction import CAMERA_MODELS, Camera, Frames, Points, Reconstruction, Tracks
from splatkit.errors import ContractError, InputError
from splatkit.io.colmap import (
    from_pycolmap,
    info,
    is_colmap_model,
    read_colmap_model,
    to_pycolmap,
    write_colmap_model,
)
from splatkit.io.colmap_records import qvec_to_rotation, rotation_to_qvec
from tests.conftest import dataset

FERN_MODEL = "llff-fern/colmap_504x378/sparse/0"

# ----------------------------------------------------------------------------------------------
# Builders


def _random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    return qvec_to_rotation(q / np.linalg.norm(q, axis=1, keepdims=True))


def _project(cam: Camera, x_cam: np.ndarray) -> np.ndarray:
    """Own projection for SIMPLE_PINHOLE / PINHOLE / SIMPLE_RADIAL (COLMAP camera_models.h)."""
    u, v = x_cam[:, 0] / x_cam[:, 2], x_cam[:, 1] / x_cam[:, 2]
    if cam.model == "SIMPLE_RADIAL":
        k = cam.params[3]
        d = 1.0 + k * (u * u + v * v)
        u, v = u * d, v * d
    elif cam.model not in ("SIMPLE_PINHOLE", "PINHOLE"):
        raise NotImplementedError(cam.model)
    fx, fy = cam.focal_xy()
    cx, cy = cam.principal_point()
    return np.stack([fx * u + cx, fy * v + cy], axis=1)


def _reprojection_errors(rec: Reconstruction) -> np.ndarray:
    """Pixel distance between each observation and its point projected by its frame, [M]."""
    tr = rec.tracks
    x_cam = np.einsum("mij,mj->mi", rec.frames.rotation[tr.frame_index], rec.points.xyz[tr.point_index])
    x_cam += rec.frames.translation[tr.frame_index]
    uv = np.empty((len(tr), 2))
    for f in range(len(rec.frames)):
        m = tr.frame_index == f
        uv[m] = _project(rec.camera_of(f), x_cam[m])
    return np.linalg.norm(uv - tr.xy, axis=1)


def _consistent_scene(seed: int, models: tuple[str, ...] = ("PINHOLE", "SIMPLE_RADIAL"),
                      num_frames: int = 4, num_points: int = 30) -> Reconstruction:
    """Cameras around the origin looking at a point cloud; track xy are exact projections."""
    rng = np.random.default_rng(seed)
    cameras = []
    for i, model in enumerate(models):
        params = {"SIMPLE_PINHOLE": [500.0, 320.0, 240.0], "PINHOLE": [510.0, 495.0, 321.5, 238.25],
                  "SIMPLE_RADIAL": [480.0, 319.0, 241.0, -0.05]}[model]
        cameras.append(Camera(model=model, width=640, height=480, params=np.array(params), camera_id=3 + 2 * i))
    xyz = rng.uniform(-1.0, 1.0, size=(num_points, 3))
    rotation = _random_rotations(rng, num_frames)
    # Put each camera 6 units from the origin along its optical axis: t = (0, 0, 6) keeps every
    # point in front of it (z in [6 - sqrt(3), 6 + sqrt(3)]).
    translation = np.tile([0.0, 0.0, 6.0], (num_frames, 1)) + rng.normal(scale=0.1, size=(num_frames, 3))
    frames = Frames(names=tuple(f"frame_{i:03d}.jpg" for i in range(num_frames)),
                    camera_index=np.arange(num_frames) % len(cameras), rotation=rotation, translation=translation)
    point_index, frame_index = [], []
    for p in range(num_points):
        seen = rng.choice(num_frames, size=int(rng.integers(2, num_frames + 1)), replace=False)
        point_index += [p] * len(seen)
        frame_index += seen.tolist()
    pi, fi = np.array(point_index), np.array(frame_index)
    rec = Reconstruction(
        cameras=tuple(cameras), frames=frames,
        points=Points(xyz=xyz, rgb=rng.integers(0, 256, size=(num_points, 3)), error=np.zeros(num_points)),
        tracks=Tracks(point_index=pi, frame_index=fi, xy=np.zeros((len(pi), 2))), source="synthetic")
    x_cam = np.einsum("mij,mj->mi", rotation[fi], xyz[pi]) + translation[fi]
    xy = np.empty((len(pi), 2))
    for f in range(num_frames):
        m = fi == f
        xy[m] = _project(rec.camera_of(f), x_cam[m])
    return Reconstruction(cameras=rec.cameras, frames=frames, points=rec.points,
                          tracks=Tracks(point_index=pi, frame_index=fi, xy=xy), source="synthetic").validate()


def _assert_same(a: Reconstruction, b: Reconstruction, *, rot_tol: float = 1e-12) -> None:
    """Equal up to quaternion round-off in rotations; tracks compared grouped by point."""
    assert len(a.cameras) == len(b.cameras)
    for ca, cb in zip(a.cameras, b.cameras):
        assert ca.equals(cb), (ca, cb)
    assert a.frames.names == b.frames.names
    np.testing.assert_array_equal(a.frames.camera_index, b.frames.camera_index)
    np.testing.assert_allclose(a.frames.rotation, b.frames.rotation, rtol=0, atol=rot_tol)
    np.testing.assert_array_equal(a.frames.translation, b.frames.translation)
    np.testing.assert_array_equal(a.points.xyz, b.points.xyz)
    np.testing.assert_array_equal(a.points.rgb, b.points.rgb)
    np.testing.assert_array_equal(a.points.error, b.points.error)
    # Files group observations by point (each point's track); the order within a track is kept.
    order = np.argsort(a.tracks.point_index, kind="stable")
    np.testing.assert_array_equal(a.tracks.point_index[order], b.tracks.point_index)
    np.testing.assert_array_equal(a.tracks.frame_index[order], b.tracks.frame_index)
    np.testing.assert_array_equal(a.tracks.xy[order], b.tracks.xy)


_finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)
_focal = st.floats(min_value=1e-3, max_value=1e6, width=64)   # the contract wants positive focal lengths


@st.composite
def reconstructions(draw: st.DrawFn) -> Reconstruction:
    """Small random reconstructions: several camera models, random rotations, tracks of >= 2."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    models = draw(st.lists(st.sampled_from(sorted(CAMERA_MODELS)), min_size=1, max_size=3))
    camera_ids = draw(st.lists(st.integers(1, 10_000), min_size=len(models), max_size=len(models), unique=True))
    cameras = tuple(
        Camera(model=m, width=draw(st.integers(1, 8000)), height=draw(st.integers(1, 8000)),
               params=np.array([draw(_focal if name in ("f", "fx", "fy") else _finite) for name in CAMERA_MODELS[m][1]]),
               camera_id=cid)
        for m, cid in zip(models, camera_ids))
    num_frames = draw(st.integers(1, 5))
    num_points = draw(st.integers(0, 8))
    frames = Frames(names=tuple(f"dir/img_{i}_{seed % 97}.jpg" for i in range(num_frames)),
                    camera_index=rng.integers(0, len(cameras), num_frames),
                    rotation=_random_rotations(rng, num_frames),
                    translation=rng.normal(scale=draw(st.sampled_from([1e-3, 1.0, 1e4])), size=(num_frames, 3)))
    lengths = rng.integers(2, 5, num_points)
    point_index = np.repeat(np.arange(num_points), lengths)
    # Observations in arbitrary order (a frame may see a point twice, as COLMAP allows).
    shuffle = rng.permutation(len(point_index))
    point_index = point_index[shuffle]
    frame_index = rng.integers(0, num_frames, len(point_index))
    return Reconstruction(
        cameras=cameras, frames=frames,
        points=Points(xyz=rng.normal(scale=50.0, size=(num_points, 3)),
                      rgb=rng.integers(0, 256, (num_points, 3)), error=rng.exponential(size=num_points)),
        tracks=Tracks(point_index=point_index, frame_index=frame_index,
                      xy=rng.uniform(-10.0, 5000.0, (len(point_index), 2))),
        source="hypothesis").validate()


# ----------------------------------------------------------------------------------------------
# Round trips


@settings(max_examples=25)
@given(rec=reconstructions(), binary=st.booleans())
def test_write_read_round_trip(rec: Reconstruction, binary: bool, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("model") / "sparse" / "0"
    write_colmap_model(rec, folder, binary=binary)
    ext = "bin" if binary else "txt"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.{ext}" for n in ("cameras", "images", "points3D"))
    back = read_colmap_model(folder)
    assert back.source == str(folder)
    _assert_same(rec, back)


@settings(max_examples=60)
@given(q=st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=4, max_size=4).filter(
    lambda v: np.linalg.norm(v) > 1e-3))
def test_quaternion_rotation_round_trip(q: list[float]) -> None:
    q = np.array([q]) / np.linalg.norm(q)
    r = qvec_to_rotation(q)
    np.testing.assert_allclose(r[0] @ r[0].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r[0]) == pytest.approx(1.0, abs=1e-12)
    back = rotation_to_qvec(r)[0]
    assert back[0] >= 0
    # q and -q are the same rotation; the canonical one has w >= 0.
    assert min(np.abs(back - q[0]).max(), np.abs(back + q[0]).max()) < 1e-12


def test_quaternion_convention_is_scalar_first_cam_from_world() -> None:
    # 90 degrees about z: (w, x, y, z) = (cos 45, 0, 0, sin 45) maps x -> y.
    r = qvec_to_rotation(np.array([[np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)]]))[0]
    np.testing.assert_allclose(r @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-15)
    # 180 degrees about x: the trace is -1, the branch the naive formula gets wrong.
    np.testing.assert_allclose(rotation_to_qvec(np.diag([1.0, -1.0, -1.0])[None]), [[0, 1, 0, 0]], atol=1e-15)


def test_overwrite_replaces_whole_model_folder(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    write_colmap_model(_consistent_scene(0), folder, binary=False)
    (folder / "rigs.bin").write_bytes(b"stale")  # left by an earlier pycolmap write
    rec = _consistent_scene(1)
    write_colmap_model(rec, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["cameras.bin", "images.bin", "points3D.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp folders left behind
    _assert_same(rec, read_colmap_model(folder))


def test_write_refuses_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt"):
        write_colmap_model(_consistent_scene(0), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_text_refuses_names_with_spaces(tmp_path: Path) -> None:
    rec = _consistent_scene(0)
    frames = Frames(names=("a b.jpg",) + rec.frames.names[1:], camera_index=rec.frames.camera_index,
                    rotation=rec.frames.rotation, translation=rec.frames.translation)
    spaced = Reconstruction(cameras=rec.cameras, frames=frames, points=rec.points, tracks=rec.tracks)
    with pytest.raises(ContractError, match="whitespace"):
        write_colmap_model(spaced, tmp_path / "txt", binary=False)
    assert not (tmp_path / "txt").exists()
    write_colmap_model(spaced, tmp_path / "bin")
    assert read_colmap_model(tmp_path / "bin").frames.names[0] == "a b.jpg"


def test_is_colmap_model(tmp_path: Path) -> None:
    assert not is_colmap_model(tmp_path / "missing")
    assert not is_colmap_model(tmp_path)
    write_colmap_model(_consistent_scene(0), tmp_path / "m", binary=False)
    assert is_colmap_model(tmp_path / "m")
    (tmp_path / "m" / "points3D.txt").unlink()
    assert not is_colmap_model(tmp_path / "m")


def test_info_summarises_model(tmp_path: Path) -> None:
    rec = _consistent_scene(2)
    write_colmap_model(rec, tmp_path / "m")
    summary = info(tmp_path / "m")
    assert summary["format"] == "binary"
    assert summary["registered_images"] == len(rec.frames)
    assert summary["points"] == len(rec.points)
    assert summary["observations"] == len(rec.tracks)
    assert summary["mean_track_length"] == pytest.approx(len(rec.tracks) / len(rec.points))
    assert summary["cameras"][0] == {"camera_id": 3, "model": "PINHOLE", "width": 640, "height": 480,
                                     "params": rec.cameras[0].params.tolist()}
    assert summary["bounds"]["min"] == rec.points.xyz.min(axis=0).tolist()
    assert summary["bounds"]["max"] == rec.points.xyz.max(axis=0).tolist()
    assert summary["mean_reprojection_error"] == 0.0
    assert summary["dropped_points"] == 0


# ----------------------------------------------------------------------------------------------
# Hand-written text model: checks the format semantics independently of the writer


_CAMERAS_TXT = """# Camera list with one line of data per camera:
#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]
# Number of cameras: 1
7 SIMPLE_RADIAL 640 480 500 320 240 0.01
"""
_IMAGES_TXT = """# Image list with two lines of data per image:
#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME
#   POINTS2D[] as (X, Y, POINT3D_ID)
# Number of images: 3

12 0.7071067811865476 0 0 0.7071067811865476 1 2 3 7 b.jpg
10.5 20.5 -1 30.5 40.5 5 50.5 60.5 9
4 1 0 0 0 0 0 0 7 a.jpg
1.5 2.5 9 3.5 4.5 5
20 1 0 0 0 0 0 0 7 c.jpg

"""
_POINTS_TXT = """# 3D point list with one line of data per point:
#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)
9 1 2 3 255 0 10 0.5 12 2 4 0
5 -1 -2 10 1 2 3 0.25 4 1 12 1
6 0 0 1 0 0 0 0 12 0
"""


def _write_text_model(folder: Path, cameras: str = _CAMERAS_TXT, images: str = _IMAGES_TXT,
                      points: str = _POINTS_TXT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cameras.txt").write_text(cameras)
    (folder / "images.txt").write_text(images)
    (folder / "points3D.txt").write_text(points)
    return folder


def test_hand_written_text_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="splatkit.io.colmap"):
        rec = read_colmap_model(_write_text_model(tmp_path))
    assert rec.cameras[0].camera_id == 7 and rec.cameras[0].model == "SIMPLE_RADIAL"
    np.testing.assert_array_equal(rec.cameras[0].params, [500, 320, 240, 0.01])
    assert rec.frames.names == ("a.jpg", "b.jpg", "c.jpg")  # sorted by IMAGE_ID 4, 12, 20
    np.testing.assert_allclose(rec.frames.rotation[1], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-15)
    np.testing.assert_array_equal(rec.frames.translation[1], [1, 2, 3])
    # Point 6 is seen once: dropped (and reported); points sorted by id -> [5, 9].
    assert "dropped 1 of 3" in caplog.text
    np.testing.assert_array_equal(rec.points.xyz, [[-1, -2, 10], [1, 2, 3]])
    np.testing.assert_array_equal(rec.points.rgb, [[1, 2, 3], [255, 0, 10]])
    np.testing.assert_array_equal(rec.points.error, [0.25, 0.5])
    np.testing.assert_array_equal(rec.tracks.point_index, [0, 0, 1, 1])
    np.testing.assert_array_equal(rec.tracks.frame_index, [0, 1, 1, 0])
    np.testing.assert_array_equal(rec.tracks.xy, [[3.5, 4.5], [30.5, 40.5], [50.5, 60.5], [1.5, 2.5]])


def test_hand_written_text_model_with_windows_line_endings(tmp_path: Path) -> None:
    folder = _write_text_model(tmp_path, images=_IMAGES_TXT.replace("\n", "\r\n"))
    assert read_colmap_model(folder).frames.names == ("a.jpg", "b.jpg", "c.jpg")


@pytest.mark.parametrize(("points", "match"), [
    ("9 1 2 3 255 0 10 0.5 12 2 99 0\n", "image id 99"),
    ("9 1 2 3 255 0 10 0.5 12 2 4 7\n", "has only 2 2D points"),
    ("9 1 2 3 255 0 10 0.5 12 1 4 0\n", "assigns that 2D point to point 5"),
    ("9 1 2 3 255 0 10 0.5 12\n", "line 1"),
    ("9 1 2 3 300 0 10 0.5 12 2 4 0\n", "0..255"),
])
def test_inconsistent_tracks_are_refused(tmp_path: Path, points: str, match: str) -> None:
    folder = _write_text_model(tmp_path, points=points)
    with pytest.raises(InputError, match=match) as info_:
        read_colmap_model(folder)
    assert "points3D.txt" in str(info_.value)


def test_untriangulated_back_reference_is_accepted(tmp_path: Path) -> None:
    # COLMAP trusts the track when the 2D point says -1 (pycolmap 4.2.1 loads such a model).
    folder = _write_text_model(tmp_path, points="9 1 2 3 255 0 10 0.5 12 0 4 0\n")
    rec = read_colmap_model(folder)
    np.testing.assert_array_equal(rec.tracks.xy, [[10.5, 20.5], [1.5, 2.5]])


def test_unsupported_camera_model_is_refused(tmp_path: Path) -> None:
    folder = _write_text_model(tmp_path, cameras="7 EQUIRECTANGULAR 640 480 1 2 3\n")
    with pytest.raises(InputError, match="EQUIRECTANGULAR.*PINHOLE"):
        read_colmap_model(folder)


def test_image_with_unknown_camera_is_refused(tmp_path: Path) -> None:
    folder = _write_text_model(tmp_path, images=_IMAGES_TXT.replace("0 0 7 c.jpg", "0 0 8 c.jpg"))
    with pytest.raises(InputError, match="camera 8"):
        read_colmap_model(folder)


# ----------------------------------------------------------------------------------------------
# Missing and corrupt files


def test_missing_files_are_named(tmp_path: Path) -> None:
    folder = _write_text_model(tmp_path / "m")
    (folder / "images.txt").unlink()
    with pytest.raises(InputError, match=r"missing images\.txt.*cameras, images and points3D"):
        read_colmap_model(folder)
    with pytest.raises(InputError, match=r"subfolder\(s\) \['n'\]"):
        read_colmap_model(_write_text_model(tmp_path / "n") / "..")
    with pytest.raises(InputError, match="no such folder"):
        read_colmap_model(tmp_path / "absent")


@pytest.mark.parametrize("part", ["cameras", "images", "points3D"])
@pytest.mark.parametrize("keep", [0, 5, 0.5, -1])
def test_truncated_binary_is_refused(tmp_path: Path, part: str, keep: float) -> None:
    folder = write_colmap_model(_consistent_scene(3), tmp_path / "m")
    path = folder / f"{part}.bin"
    data = path.read_bytes()
    cut = int(keep * len(data)) if isinstance(keep, float) else (keep % len(data) if keep < 0 else keep)
    path.write_bytes(data[:cut])
    with pytest.raises(InputError, match=rf"{part}\.bin.*(truncated|corrupt)"):
        read_colmap_model(folder)


def test_trailing_bytes_are_refused(tmp_path: Path) -> None:
    folder = write_colmap_model(_consistent_scene(3), tmp_path / "m")
    with open(folder / "images.bin", "ab") as f:
        f.write(b"\0" * 3)
    with pytest.raises(InputError, match=r"images\.bin.*3 unexpected bytes"):
        read_colmap_model(folder)


# ----------------------------------------------------------------------------------------------
# pycolmap agreement


def test_pycolmap_reads_what_we_write(tmp_path: Path) -> None:
    pycolmap = pytest.importorskip("pycolmap")
    rec = _consistent_scene(4, models=("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL"), num_frames=5)
    for binary in (True, False):
        folder = write_colmap_model(rec, tmp_path / str(binary), binary=binary)
        model = pycolmap.Reconstruction(str(folder))
        assert model.is_valid()
        assert (model.num_cameras(), model.num_reg_images(), model.num_points3D()) == (3, 5, len(rec.points))
        assert model.compute_num_observations() == len(rec.tracks)
        # pycolmap's projection of point 1 into each image that sees it equals our track xy.
        for m in np.flatnonzero(rec.tracks.point_index == 0):
            image = model.find_image_with_name(rec.frames.names[rec.tracks.frame_index[m]])
            np.testing.assert_allclose(image.project_point(rec.points.xyz[0]), rec.tracks.xy[m], atol=1e-9)
        _assert_same(rec, from_pycolmap(model))
        model.update_point_3d_errors()
        assert model.compute_mean_reprojection_error() < 1e-9


def test_to_pycolmap_and_back(tmp_path: Path) -> None:
    pycolmap = pytest.importorskip("pycolmap")
    rec = _consistent_scene(5)
    model = to_pycolmap(rec)
    assert isinstance(model, pycolmap.Reconstruction) and model.is_valid()
    assert model.num_rigs() == len(rec.cameras) and model.num_frames() == len(rec.frames)
    _assert_same(rec, from_pycolmap(model, source="mapper"))
    assert from_pycolmap(model, source="mapper").source == "mapper"
    # pycolmap 4 writes rigs.bin and frames.bin too; the reader accepts (and ignores) them.
    model.write(str(tmp_path))
    assert (tmp_path / "rigs.bin").is_file() and (tmp_path / "frames.bin").is_file()
    _assert_same(rec, read_colmap_model(tmp_path))


def test_importing_reader_does_not_import_pycolmap() -> None:
    code = "import sys, splatkit.io.colmap; sys.exit('pycolmap' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ----------------------------------------------------------------------------------------------
# Real data


def test_fern_model_reads_and_reprojects() -> None:
    rec = read_colmap_model(dataset(FERN_MODEL))
    assert (len(rec.frames), len(rec.points)) == (20, 1850)
    assert rec.frames.names[0] == "image000.png"
    assert rec.cameras[0].model == "SIMPLE_PINHOLE" and (rec.cameras[0].width, rec.cameras[0].height) == (504, 378)
    errors = _reprojection_errors(rec)
    assert np.median(errors) < 1.0 and errors.max() < 4.5  # the mapper filters at 4 px
    # COLMAP's ERROR is each point's mean reprojection error over its track: recompute it.
    per_point = np.bincount(rec.tracks.point_index, errors) / rec.tracks.lengths(len(rec.points))
    np.testing.assert_allclose(per_point, rec.points.error, atol=1e-9)
    summary = info(dataset(FERN_MODEL))
    assert summary["registered_images"] == 20 and summary["points"] == 1850
    assert summary["mean_reprojection_error"] == pytest.approx(0.706, abs=1e-3)


def test_fern_model_matches_pycolmap() -> None:
    pycolmap = pytest.importorskip("pycolmap")
    folder = dataset(FERN_MODEL)
    _assert_same(read_colmap_model(folder), from_pycolmap(pycolmap.Reconstruction(str(folder))), rot_tol=0.0)


def test_fern_round_trip_is_byte_stable(tmp_path: Path) -> None:
    rec = read_colmap_model(dataset(FERN_MODEL))
    first = write_colmap_model(rec, tmp_path / "a")
    second = write_colmap_model(read_colmap_model(first), tmp_path / "b")
    # images.bin stores quaternions, which go through rotation matrices in between, so only its
    # size is stable; the other two files are identical.
    for part in ("cameras", "points3D"):
        assert (first / f"{part}.bin").read_bytes() == (second / f"{part}.bin").read_bytes()
    assert (first / "images.bin").stat().st_size == (second / "images.bin").stat().st_size
    _assert_same(rec, read_colmap_model(second))


def test_partial_fern_model_is_refused_naming_images_bin() -> None:
    with pytest.raises(InputError, match=r"missing images\.bin") as e:
        read_colmap_model(dataset("llff-fern/sparse/0"))
    assert "cameras.bin, points3D.bin" in str(e.value)


def test_opensfm_export_colmap_output_is_refused() -> None:
    with pytest.raises(InputError, match="export_colmap"):
        read_colmap_model(dataset("opensfm-outputs/berlin/colmap_export"))
