"""A small exact SfM scene built in numpy, for tests of the backend-independent SfM modules."""

from __future__ import annotations

import numpy as np

from splatkit.contracts import Camera, Frames, Points, Reconstruction, Tracks
from splatkit.sfm.camera_models import img_from_cam


def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' formula: rotation by ``angle`` radians about ``axis``, float64 [3, 3]."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def make_scene(
    *,
    camera: Camera | None = None,
    num_frames: int = 5,
    num_points: int = 60,
    seed: int = 0,
    names: tuple[str, ...] | None = None,
) -> Reconstruction:
    """Cameras on a line along x looking down +z at points 4-8 units away; exact observations.

    Every point is observed in every frame where it projects inside the image.
    """
    rng = np.random.default_rng(seed)
    if camera is None:
        camera = Camera(model="SIMPLE_RADIAL", width=160, height=120, params=np.array([150.0, 80.0, 60.0, -0.08]))
    names = names or tuple(f"img_{i:03d}.png" for i in range(num_frames))
    rotations, translations = [], []
    for i in range(num_frames):
        r = rotation_about(rng.normal(size=3), rng.uniform(0.0, 0.05))
        centre = np.array([0.5 * i, rng.uniform(-0.1, 0.1), 0.0])
        rotations.append(r)
        translations.append(-r @ centre)
    rot = np.array(rotations)
    trans = np.array(translations)
    span = 0.5 * (num_frames - 1)
    xyz = np.column_stack([rng.uniform(-1.0, span + 1.0, num_points), rng.uniform(-1.5, 1.5, num_points),
                           rng.uniform(4.0, 8.0, num_points)])
    pidx, fidx, xy = [], [], []
    for f in range(num_frames):
        proj = img_from_cam(camera, xyz @ rot[f].T + trans[f])
        inside = (proj[:, 0] > 1) & (proj[:, 0] < camera.width - 1) & (proj[:, 1] > 1) & (proj[:, 1] < camera.height - 1)
        for p in np.flatnonzero(inside):
            pidx.append(p)
            fidx.append(f)
            xy.append(proj[p])
    pidx_a = np.array(pidx, dtype=np.int64)
    keep = np.bincount(pidx_a, minlength=num_points) >= 2
    remap = np.cumsum(keep) - 1
    sel = keep[pidx_a]
    tracks = Tracks(point_index=remap[pidx_a[sel]], frame_index=np.array(fidx)[sel], xy=np.array(xy)[sel])
    points = Points(xyz=xyz[keep], rgb=rng.integers(0, 255, size=(int(keep.sum()), 3), dtype=np.uint8),
                    error=np.zeros(int(keep.sum())))
    frames = Frames(names=names, camera_index=np.zeros(num_frames, np.int32), rotation=rot, translation=trans)
    return Reconstruction(cameras=(camera,), frames=frames, points=points, tracks=tracks,
                          source="synthetic").validate()
