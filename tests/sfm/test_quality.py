"""Reprojection errors, the quality report and the trainability gate."""

from __future__ import annotations

import numpy as np
import pytest

from splatkit.contracts import Camera, Frames, Reconstruction, Tracks
from splatkit.errors import ContractError, StageError
from splatkit.sfm.quality import check_sfm_output, quality_report, reprojection_errors
from tests.sfm.synthetic_scene import make_scene


def _with_xy(rec: Reconstruction, xy: np.ndarray) -> Reconstruction:
    tracks = Tracks(point_index=rec.tracks.point_index, frame_index=rec.tracks.frame_index, xy=xy)
    return Reconstruction(cameras=rec.cameras, frames=rec.frames, points=rec.points, tracks=tracks,
                          source=rec.source)


@pytest.mark.parametrize("model,params", [
    ("SIMPLE_RADIAL", [150.0, 80.0, 60.0, -0.08]),
    ("OPENCV", [150.0, 152.0, 81.0, 61.0, -0.12, 0.04, 0.002, -0.001]),
])
def test_exact_observations_have_zero_error_and_shifts_are_measured(model: str, params: list[float]) -> None:
    rec = make_scene(camera=Camera(model=model, width=160, height=120, params=np.array(params)))
    assert reprojection_errors(rec).max() < 1e-9
    shifted = _with_xy(rec, rec.tracks.xy + np.array([3.0, 4.0]))
    np.testing.assert_allclose(reprojection_errors(shifted), 5.0, atol=1e-9)


def test_point_behind_a_camera_is_infinite_error() -> None:
    rec = make_scene(num_frames=3)
    rot = np.array(rec.frames.rotation)
    rot[0] = np.diag([1.0, -1.0, -1.0]) @ rot[0]  # turn camera 0 around
    frames = Frames(names=rec.frames.names, camera_index=rec.frames.camera_index, rotation=rot,
                    translation=rec.frames.translation)
    flipped = Reconstruction(cameras=rec.cameras, frames=frames, points=rec.points, tracks=rec.tracks)
    errors = reprojection_errors(flipped)
    in_frame0 = rec.tracks.frame_index == 0
    assert np.isinf(errors[in_frame0]).all() and np.isfinite(errors[~in_frame0]).all()
    report = quality_report(flipped, flipped.frames.names, errors=errors)
    assert report["reprojection_error_px"]["behind_camera"] == int(in_frame0.sum())


def test_quality_report_counts() -> None:
    rec = make_scene(num_frames=4)
    given = (*rec.frames.names, "lost_a.jpg", "lost_b.jpg")
    report = quality_report(_with_xy(rec, rec.tracks.xy + np.array([0.0, 2.0])), given)
    assert report["images_given"] == 6 and report["images_registered"] == 4
    assert report["unregistered"] == ["lost_a.jpg", "lost_b.jpg"]
    assert report["registration_rate"] == pytest.approx(4 / 6)
    assert report["points"] == len(rec.points) and report["observations"] == len(rec.tracks)
    assert report["mean_track_length"] == pytest.approx(len(rec.tracks) / len(rec.points))
    assert report["reprojection_error_px"]["median"] == pytest.approx(2.0)
    assert report["reprojection_error_px"]["p95"] == pytest.approx(2.0)
    assert report["cameras"][0]["model"] == "SIMPLE_RADIAL"


def test_thin_model_fails_naming_unregistered_images() -> None:
    rec = make_scene(num_frames=3, num_points=30)
    given = (*rec.frames.names, "DJI_0042.JPG", "DJI_0043.JPG")
    with pytest.raises(StageError) as info:
        check_sfm_output(rec, given, min_points=1000, min_frames=3, stage="sfm/test", source="photos/")
    message = str(info.value)
    assert "DJI_0042.JPG" in message and "DJI_0043.JPG" in message
    assert "need 1000" in message and "sfm/test failed on photos/" in message
    assert info.value.stage == "sfm/test"
    with pytest.raises(StageError, match="need 5"):
        check_sfm_output(rec, given, min_points=1, min_frames=5, stage="sfm/test")
    assert check_sfm_output(rec, given, min_points=len(rec.points), min_frames=3, stage="sfm/test") is rec


def test_gate_runs_contract_validation() -> None:
    rec = make_scene(num_frames=3)
    # A dangling point index: validate() must catch it before the counts are trusted.
    bad = Tracks(point_index=np.r_[rec.tracks.point_index[:-1], len(rec.points) + 5],
                 frame_index=rec.tracks.frame_index, xy=rec.tracks.xy)
    broken = Reconstruction(cameras=rec.cameras, frames=rec.frames, points=rec.points, tracks=bad)
    with pytest.raises(ContractError, match="out of range"):
        check_sfm_output(broken, broken.frames.names, min_points=1, min_frames=1, stage="sfm/test")
