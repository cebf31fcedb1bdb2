"""Reconstruction and its parts: camera models, pose inversion, validate() and check_trainable()."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from splatkit import Camera, ContractError, Frames, Points, Reconstruction, Tracks
from splatkit.contracts import CAMERA_MODELS, DEFAULT_MIN_FRAMES, DEFAULT_MIN_POINTS
from tests.contracts.strategies import finite64, reconstructions, rotations


# -- Camera -------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(CAMERA_MODELS))
@given(params=hnp.arrays(np.float64, 12, elements=st.floats(1, 5000)))
def test_camera_intrinsics_follow_colmap_parameter_order(model: str, params: np.ndarray) -> None:
    model_id, names = CAMERA_MODELS[model]
    camera = Camera(model=model, width=640, height=480, params=params[: len(names)], camera_id=7)
    p = dict(zip(names, params[: len(names)]))

    fx, fy = (p["f"], p["f"]) if "f" in p else (p["fx"], p["fy"])  # SIMPLE_* models share one focal
    assert camera.focal_xy() == (fx, fy)
    assert camera.principal_point() == (p["cx"], p["cy"])
    np.testing.assert_array_equal(camera.K(), [[fx, 0, p["cx"]], [0, fy, p["cy"]], [0, 0, 1]])
    assert camera.model_id == model_id and camera.param_names == names
    assert not camera.params.flags.writeable and camera.params.dtype == np.float64


@pytest.mark.parametrize("model", sorted(CAMERA_MODELS))
def test_camera_with_the_wrong_parameter_count_is_rejected(model: str) -> None:
    n = len(CAMERA_MODELS[model][1])
    with pytest.raises(ContractError, match=rf"Camera\.params: axis 0 must have size {n}"):
        Camera(model=model, width=10, height=10, params=np.ones(n + 1))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"model": "PINHOLE_ISH"}, "Camera.model"),
    ({"width": 0}, "Camera.width/height"),
    ({"height": -5}, "Camera.width/height"),
    ({"width": 640.0}, "Camera.width"),
    ({"camera_id": True}, "Camera.camera_id"),
])
def test_camera_field_checks(kwargs: dict, field: str) -> None:
    args = {"model": "PINHOLE", "width": 640, "height": 480, "params": np.array([500.0, 500.0, 320.0, 240.0])}
    with pytest.raises(ContractError) as excinfo:
        Camera(**{**args, **kwargs})
    assert type(excinfo.value) is ContractError and excinfo.value.field == field


def test_camera_sizes_accept_numpy_integers() -> None:
    camera = Camera(model="SIMPLE_PINHOLE", width=np.int64(64), height=np.int32(48), params=[40.0, 32.0, 24.0])
    assert (camera.width, camera.height) == (64, 48) and type(camera.width) is int


# -- Frames: cam_from_world <-> world_from_cam ---------------------------------------------------

@st.composite
def frames(draw: st.DrawFn) -> Frames:
    f = draw(st.integers(1, 6))
    return Frames(names=tuple(f"f{i}.jpg" for i in range(f)), camera_index=np.zeros(f, np.int32),
                  rotation=draw(rotations(f)), translation=draw(hnp.arrays(np.float64, (f, 3), elements=finite64)))


@given(frames=frames(), x_world=hnp.arrays(np.float64, 3, elements=finite64))
def test_world_from_cam_inverts_cam_from_world(frames: Frames, x_world: np.ndarray) -> None:
    r_inv, t_inv = frames.world_from_cam()
    for r, t, ri, ti in zip(frames.rotation, frames.translation, r_inv, t_inv):
        x_cam = r @ x_world + t  # x_cam = R X + t (the contract's convention)
        np.testing.assert_allclose(ri @ x_cam + ti, x_world, atol=1e-9 * (1 + np.abs(x_world).max() + np.abs(t).max()))
        np.testing.assert_allclose(ri @ r, np.eye(3), atol=1e-12)


@given(frames=frames())
def test_centers_map_to_the_camera_origin(frames: Frames) -> None:
    centers = frames.centers()
    assert centers.shape == (len(frames), 3)
    scale = 1 + np.abs(frames.translation).max()
    for r, t, c in zip(frames.rotation, frames.translation, centers):
        np.testing.assert_allclose(r @ c + t, 0.0, atol=1e-9 * scale)
    np.testing.assert_array_equal(frames.world_from_cam()[1], centers)


def test_frame_names_must_be_unique_and_non_empty() -> None:
    args = {"camera_index": np.zeros(2, np.int32), "rotation": np.stack([np.eye(3)] * 2),
            "translation": np.zeros((2, 3))}
    with pytest.raises(ContractError, match=r"repeated: \['a.jpg'\]"):
        Frames(names=("a.jpg", "a.jpg"), **args)
    with pytest.raises(ContractError, match="non-empty strings"):
        Frames(names=("a.jpg", ""), **args)
    with pytest.raises(ContractError, match=r"Frames\.rotation: axis 0 \(F\) has size 2, but F=3"):
        Frames(names=("a", "b", "c"), **{**args, "camera_index": np.zeros(3, np.int32)})


# -- Reconstruction.validate ---------------------------------------------------------------------

@given(rec=reconstructions())
def test_a_consistent_model_validates(rec: Reconstruction) -> None:
    assert rec.validate() is rec
    assert (rec.tracks.lengths(len(rec.points)) >= 2).all()


def _with(rec: Reconstruction, part: str, **changes: np.ndarray) -> Reconstruction:
    return dataclasses.replace(rec, **{part: dataclasses.replace(getattr(rec, part), **changes)})


@given(rec=reconstructions(), data=st.data())
def test_dangling_indices_are_named_with_the_model_source(rec: Reconstruction, data: st.DataObject) -> None:
    options = [("frames", "camera_index", len(rec.cameras))]
    if len(rec.tracks):
        options += [("tracks", "point_index", len(rec.points)), ("tracks", "frame_index", len(rec.frames))]
    part, name, size = data.draw(st.sampled_from(options))
    values = np.array(getattr(getattr(rec, part), name))
    position = data.draw(st.integers(0, len(values) - 1))
    values[position] = data.draw(st.sampled_from([size, size + 3, -1]))
    broken = _with(rec, part, **{name: values})

    field = f"{part.capitalize()}.{name}"
    with pytest.raises(ContractError, match=rf"^{field}: index {values[position]} out of range \[0, {size}\) "
                                            r"in the model from synthetic/model") as excinfo:
        broken.validate()
    assert excinfo.value.field == field


@given(rec=reconstructions(), data=st.data())
def test_non_finite_values_are_rejected_naming_the_field(rec: Reconstruction, data: st.DataObject) -> None:
    options = [("frames", "translation"), ("frames", "rotation")]
    options += [("points", "xyz"), ("points", "error")] if len(rec.points) else []
    options += [("tracks", "xy")] if len(rec.tracks) else []
    part, name = data.draw(st.sampled_from(options))
    values = np.array(getattr(getattr(rec, part), name))
    values.flat[data.draw(st.integers(0, values.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf]))

    with pytest.raises(ContractError, match=rf"^{part.capitalize()}\.{name}: 1 non-finite value\(s\) "
                                            r"\(from synthetic/model\)"):
        _with(rec, part, **{name: values}).validate()


def test_non_finite_camera_parameters_are_rejected() -> None:
    rec = _small_model()
    camera = Camera(model="PINHOLE", width=64, height=48, params=[50.0, np.nan, 32.0, 24.0], camera_id=1)
    with pytest.raises(ContractError, match=r"^Camera\[1\]\.params: 1 non-finite"):
        dataclasses.replace(rec, cameras=(camera,)).validate()


@pytest.mark.parametrize(("label", "matrix"), [
    ("scaled", 1.01 * np.eye(3)),
    ("reflection", np.diag([1.0, 1.0, -1.0])),  # orthonormal, but det -1 flips handedness
    ("shear", np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])),
])
def test_a_matrix_that_is_not_a_rotation_is_rejected_naming_the_frame(label: str, matrix: np.ndarray) -> None:
    rec = _small_model()
    rotation = np.array(rec.frames.rotation)
    rotation[1] = matrix
    with pytest.raises(ContractError, match=r"^Frames\.rotation\[1\] \(b\.jpg\) is not a rotation in the model "
                                            r"from tiny/sparse") as excinfo:
        _with(rec, "frames", rotation=rotation).validate()
    assert excinfo.value.actual == "1 bad"


@given(rec=reconstructions().filter(lambda r: len(r.points) > 0), data=st.data())
def test_a_point_seen_once_is_rejected(rec: Reconstruction, data: st.DataObject) -> None:
    point = data.draw(st.integers(0, len(rec.points) - 1))
    first = int(np.flatnonzero(rec.tracks.point_index == point)[0])
    keep = (rec.tracks.point_index != point) | (np.arange(len(rec.tracks)) == first)
    tracks = Tracks(point_index=rec.tracks.point_index[keep], frame_index=rec.tracks.frame_index[keep],
                    xy=rec.tracks.xy[keep])

    with pytest.raises(ContractError, match=rf"1 point\(s\) have tracks shorter than 2 observations in the model "
                                            rf"from synthetic/model \(first: point {point} with 1\)") as excinfo:
        dataclasses.replace(rec, tracks=tracks).validate()
    assert excinfo.value.field == "Tracks" and excinfo.value.actual == 1


def test_a_point_with_no_observation_is_rejected() -> None:
    rec = _small_model()
    points = Points(xyz=np.zeros((3, 3)), rgb=np.zeros((3, 3), np.uint8), error=np.zeros(3))
    with pytest.raises(ContractError, match=r"first: point 2 with 0"):
        dataclasses.replace(rec, points=points).validate()


def test_reconstruction_rejects_duplicate_camera_ids_and_wrong_parts() -> None:
    rec = _small_model()
    with pytest.raises(ContractError, match="duplicate camera ids"):
        dataclasses.replace(rec, cameras=rec.cameras * 2)
    with pytest.raises(ContractError, match="Reconstruction.frames must be a Frames"):
        dataclasses.replace(rec, frames=rec.points)


# -- check_trainable -----------------------------------------------------------------------------

def test_check_trainable_names_the_source_and_the_counts() -> None:
    rec = _small_model()
    with pytest.raises(ContractError) as excinfo:
        rec.check_trainable()
    message = str(excinfo.value)
    assert message.startswith("the model from tiny/sparse has 2 points and 3 registered images")
    assert f"at least {DEFAULT_MIN_POINTS} points and {DEFAULT_MIN_FRAMES} images" in message
    assert (excinfo.value.expected, excinfo.value.actual) == ((DEFAULT_MIN_POINTS, DEFAULT_MIN_FRAMES), (2, 3))


@given(points=st.integers(0, 5), frames=st.integers(2, 5), min_points=st.integers(0, 6),
       min_frames=st.integers(0, 6))
def test_check_trainable_passes_exactly_when_both_minimums_are_met(points: int, frames: int, min_points: int,
                                                                   min_frames: int) -> None:
    rec = _small_model(n_points=points, n_frames=frames)
    if points >= min_points and frames >= min_frames:
        assert rec.check_trainable(min_points=min_points, min_frames=min_frames) is rec
    else:
        with pytest.raises(ContractError, match=f"has {points} points and {frames} registered images"):
            rec.check_trainable(min_points=min_points, min_frames=min_frames)


def _small_model(n_points: int = 2, n_frames: int = 3) -> Reconstruction:
    """``n_frames`` identity-posed frames, each point seen in frames 0 and 1."""
    camera = Camera(model="PINHOLE", width=64, height=48, params=[50.0, 50.0, 32.0, 24.0], camera_id=1)
    names = tuple("abcdefgh"[i] + ".jpg" for i in range(n_frames))
    frames = Frames(names=names, camera_index=np.zeros(n_frames, np.int32),
                    rotation=np.stack([np.eye(3)] * n_frames), translation=np.zeros((n_frames, 3)))
    points = Points(xyz=np.ones((n_points, 3)), rgb=np.zeros((n_points, 3), np.uint8), error=np.zeros(n_points))
    tracks = Tracks(point_index=np.repeat(np.arange(n_points), 2), frame_index=np.tile([0, 1], n_points),
                    xy=np.zeros((2 * n_points, 2)))
    return Reconstruction(cameras=(camera,), frames=frames, points=points, tracks=tracks, source="tiny/sparse")
