"""COLMAP sparse-model records: the file content, before it becomes a :class:`Reconstruction`.

The binary (:mod:`splatkit.io.colmap_binary`) and text (:mod:`splatkit.io.colmap_text`) codecs
both read into and write from these records, so id bookkeeping and consistency checks live in one
place (:mod:`splatkit.io.colmap`).

Conventions follow COLMAP's ``doc/format.rst`` and ``src/colmap/scene/reconstruction_io_*.cc``:
``QW QX QY QZ TX TY TZ`` is the Hamilton quaternion and translation of ``cam_from_world``;
``POINT2D_IDX`` is a zero-based position in the image's 2D point list; a 2D point without a 3D
point has ``POINT3D_ID`` -1 (text) or 2**64-1 (binary), held here as -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MODEL_PARTS",
    "RIG_PARTS",
    "CameraRecord",
    "ImageRecord",
    "PointRecords",
    "ModelRecords",
    "qvec_to_rotation",
    "rotation_to_qvec",
]

#: The three files every sparse model holds, as ``<part>.bin`` or ``<part>.txt``.
MODEL_PARTS: tuple[str, ...] = ("cameras", "images", "points3D")
#: Files COLMAP >= 3.12 / 4.x adds for rigs; images.* still stores every image's composed
#: ``cam_from_world``, so splatkit reads without them.
RIG_PARTS: tuple[str, ...] = ("rigs", "frames")


@dataclass(frozen=True, slots=True)
class CameraRecord:
    """One ``cameras`` entry: ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]``."""

    camera_id: int
    model: str
    width: int
    height: int
    params: np.ndarray  # float64 [P]


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One ``images`` entry.

    Attributes
    ----------
    qvec : float64 [4]
        ``cam_from_world`` rotation as (w, x, y, z), as stored (not re-normalised).
    tvec : float64 [3]
        ``cam_from_world`` translation.
    xy : float64 [N, 2]
        The image's 2D points in pixels (pixel centres at +0.5).
    point3d_ids : int64 [N]
        ``POINT3D_ID`` of each 2D point, -1 where untriangulated.
    """

    image_id: int
    qvec: np.ndarray
    tvec: np.ndarray
    camera_id: int
    name: str
    xy: np.ndarray
    point3d_ids: np.ndarray


@dataclass(frozen=True, slots=True)
class PointRecords:
    """All ``points3D`` entries as flat arrays (P points, M track elements).

    Attributes
    ----------
    point_ids : int64 [P]
    xyz : float64 [P, 3]
    rgb : uint8 [P, 3]
    error : float64 [P]
    track_lengths : int64 [P]
        Track elements per point; point ``p``'s elements are the ``track_lengths[p]`` entries
        after ``track_lengths[:p].sum()``.
    track_image_ids : int64 [M]
    track_point2d_idx : int64 [M]
    """

    point_ids: np.ndarray
    xyz: np.ndarray
    rgb: np.ndarray
    error: np.ndarray
    track_lengths: np.ndarray
    track_image_ids: np.ndarray
    track_point2d_idx: np.ndarray

    def __len__(self) -> int:
        return int(self.point_ids.shape[0])


@dataclass(frozen=True, slots=True)
class ModelRecords:
    """A whole sparse model as read from (or about to be written to) its three files."""

    cameras: list[CameraRecord]
    images: list[ImageRecord]
    points: PointRecords


def qvec_to_rotation(qvec: np.ndarray) -> np.ndarray:
    """Rotation matrices from Hamilton quaternions (w, x, y, z).

    Parameters
    ----------
    qvec : float64 [N, 4]
        Unit quaternions, scalar first (COLMAP's file order).

    Returns
    -------
    float64 [N, 3, 3]
    """
    q = np.asarray(qvec, dtype=np.float64)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    r = np.empty((q.shape[0], 3, 3))
    r[:, 0, 0] = 1 - 2 * (y * y + z * z)
    r[:, 0, 1] = 2 * (x * y - w * z)
    r[:, 0, 2] = 2 * (x * z + w * y)
    r[:, 1, 0] = 2 * (x * y + w * z)
    r[:, 1, 1] = 1 - 2 * (x * x + z * z)
    r[:, 1, 2] = 2 * (y * z - w * x)
    r[:, 2, 0] = 2 * (x * z - w * y)
    r[:, 2, 1] = 2 * (y * z + w * x)
    r[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return r


def rotation_to_qvec(rotation: np.ndarray) -> np.ndarray:
    """Hamilton quaternions (w, x, y, z) with ``w >= 0`` from rotation matrices.

    Uses the branch on the largest of ``trace, R00, R11, R22`` (Shepperd's method), which stays
    accurate near 180-degree rotations where the trace-only formula divides by ~0.

    Parameters
    ----------
    rotation : float64 [N, 3, 3]

    Returns
    -------
    float64 [N, 4]
        Unit quaternions, scalar first.
    """
    r = np.asarray(rotation, dtype=np.float64)
    n = r.shape[0]
    q = np.empty((n, 4))
    trace = np.trace(r, axis1=1, axis2=2)
    diag = np.stack([trace, r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]], axis=1)
    branch = np.argmax(diag, axis=1)
    for b in range(4):
        m = branch == b
        if not m.any():
            continue
        rm = r[m]
        if b == 0:
            s = 2.0 * np.sqrt(1.0 + trace[m])
            q[m] = np.stack([0.25 * s, (rm[:, 2, 1] - rm[:, 1, 2]) / s,
                             (rm[:, 0, 2] - rm[:, 2, 0]) / s, (rm[:, 1, 0] - rm[:, 0, 1]) / s], axis=1)
        elif b == 1:
            s = 2.0 * np.sqrt(1.0 + rm[:, 0, 0] - rm[:, 1, 1] - rm[:, 2, 2])
            q[m] = np.stack([(rm[:, 2, 1] - rm[:, 1, 2]) / s, 0.25 * s,
                             (rm[:, 0, 1] + rm[:, 1, 0]) / s, (rm[:, 0, 2] + rm[:, 2, 0]) / s], axis=1)
        elif b == 2:
            s = 2.0 * np.sqrt(1.0 + rm[:, 1, 1] - rm[:, 0, 0] - rm[:, 2, 2])
            q[m] = np.stack([(rm[:, 0, 2] - rm[:, 2, 0]) / s, (rm[:, 0, 1] + rm[:, 1, 0]) / s,
                             0.25 * s, (rm[:, 1, 2] + rm[:, 2, 1]) / s], axis=1)
        else:
            s = 2.0 * np.sqrt(1.0 + rm[:, 2, 2] - rm[:, 0, 0] - rm[:, 1, 1])
            q[m] = np.stack([(rm[:, 1, 0] - rm[:, 0, 1]) / s, (rm[:, 0, 2] + rm[:, 2, 0]) / s,
                             (rm[:, 1, 2] + rm[:, 2, 1]) / s, 0.25 * s], axis=1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 0] < 0] *= -1.0
    return q
