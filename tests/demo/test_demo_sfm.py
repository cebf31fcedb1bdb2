"""The demo's reason to exist: pycolmap SfM registers every photo, and agrees with the ground truth."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from splatkit.demo import PHOTOS_DIR, demo_ground_truth
from splatkit.sfm.georeference import lla_to_enu

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("pycolmap") is None, reason="pycolmap is not installed"),
]


def test_pycolmap_registers_every_demo_photo_at_the_true_poses(demo_dir: Path, tmp_path: Path) -> None:
    from splatkit.sfm.pycolmap_backend import PycolmapConfig, PycolmapSfM

    truth = demo_ground_truth(demo_dir)
    result = PycolmapSfM().run(demo_dir / PHOTOS_DIR, PycolmapConfig(undistort=False), tmp_path / "sfm")
    quality = result.report["quality"]
    assert quality["images_registered"] == len(truth["frames"]), quality["unregistered"]
    assert quality["reprojection_error_px"]["median"] < 1.0
    assert quality["points"] >= 500

    rec = result.output
    assert result.report["georeference"]["applied"]
    # Ground-truth centres moved into the model's ENU frame (its own origin, from the GPS).
    by_name = {f["name"]: f for f in truth["frames"]}
    gps = np.array([[by_name[n]["gps"][k] for k in ("lat", "lon", "alt")] for n in rec.frames.names])
    expected = lla_to_enu(gps[:, 0], gps[:, 1], gps[:, 2], rec.georeference)
    centre_error = np.linalg.norm(rec.frames.centers() - expected, axis=1)
    assert np.median(centre_error) < 0.3 and centre_error.max() < 1.0  # metres; measured 0.06 / 0.28
    # Rotations: both frames are ENU at origins 30 m apart, so they agree to ~1e-5 rad.
    angles = []
    for i, name in enumerate(rec.frames.names):
        r_true = np.array(by_name[name]["cam_from_world"]["rotation"])
        cos = (np.trace(r_true.T @ rec.frames.rotation[i]) - 1.0) / 2.0
        angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    assert np.median(angles) < 0.3 and max(angles) < 1.0  # degrees; measured 0.07 / 0.35
    # The focal length refined by bundle adjustment is the one the photos were rendered with.
    assert rec.cameras[0].params[0] == pytest.approx(truth["camera"]["params"][0], rel=0.01)
