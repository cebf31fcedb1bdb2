"""Hypothesis strategies for contract tests: rotations, Gaussian clouds, consistent reconstructions."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from splatkit import Camera, Frames, GaussianCloud, Points, Reconstruction, Tracks
from splatkit.contracts import SH_COEFFS_FOR_DEGREE

finite32 = st.floats(-1e3, 1e3, allow_nan=False, width=32)
finite64 = st.floats(-1e3, 1e3, allow_nan=False)


def quat_to_rotation(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [N, 3, 3] from quaternions ``(w, x, y, z)`` [N, 4] (normalised here)."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=1)


@st.composite
def rotations(draw: st.DrawFn, n: int) -> np.ndarray:
    """``n`` proper rotations, float64 [n, 3, 3]."""
    q = draw(hnp.arrays(np.float64, (n, 4), elements=st.floats(-1, 1)).filter(
        lambda a: bool((np.linalg.norm(a, axis=1) > 0.1).all())))
    return quat_to_rotation(q)


@st.composite
def gaussian_clouds(draw: st.DrawFn, *, max_n: int = 12) -> GaussianCloud:
    n = draw(st.integers(0, max_n))
    k = draw(st.sampled_from(sorted(SH_COEFFS_FOR_DEGREE.values())))

    def arr(*shape: int) -> np.ndarray:
        return draw(hnp.arrays(np.float32, shape, elements=finite32))

    return GaussianCloud(means=arr(n, 3), log_scales=arr(n, 3), quats=arr(n, 4), opacity_logits=arr(n),
                         sh0=arr(n, 3), shN=arr(n, k, 3))


@st.composite
def reconstructions(draw: st.DrawFn, *, max_frames: int = 5, max_points: int = 8) -> Reconstruction:
    """A valid model: every point observed in >= 2 distinct frames, indices in range."""
    n_cameras = draw(st.integers(1, 2))
    cameras = tuple(Camera(model="PINHOLE", width=64, height=48, params=np.array([50.0, 50.0, 32.0, 24.0]),
                           camera_id=i + 1) for i in range(n_cameras))
    f = draw(st.integers(2, max_frames))
    frames = Frames(names=tuple(f"img_{i:03d}.jpg" for i in range(f)),
                    camera_index=np.array(draw(st.lists(st.integers(0, n_cameras - 1), min_size=f, max_size=f))),
                    rotation=draw(rotations(f)),
                    translation=draw(hnp.arrays(np.float64, (f, 3), elements=finite64)))
    p = draw(st.integers(0, max_points))
    point_index, frame_index = [], []
    for point in range(p):
        seen = draw(st.lists(st.integers(0, f - 1), min_size=2, max_size=f, unique=True))
        point_index += [point] * len(seen)
        frame_index += seen
    m = len(point_index)
    tracks = Tracks(point_index=np.array(point_index, np.int64), frame_index=np.array(frame_index, np.int64),
                    xy=draw(hnp.arrays(np.float64, (m, 2), elements=st.floats(0, 64))))
    points = Points(xyz=draw(hnp.arrays(np.float64, (p, 3), elements=finite64)),
                    rgb=draw(hnp.arrays(np.uint8, (p, 3))), error=np.zeros(p))
    return Reconstruction(cameras=cameras, frames=frames, points=points, tracks=tracks, source="synthetic/model")
