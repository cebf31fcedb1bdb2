"""Scene normalisation: a translation and a uniform scale, no rotation.

gsplat's trainer also rotates the scene (mean camera "up", then PCA). On nadir drone grids the
mean up-vector cancels out (alternating flight headings), and any rotation would have to be
undone on the SH coefficients when exporting. Rasterization does not care where "up" is, so
splatkit only centres and scales: cameras' centroid at the origin, the farthest camera at
distance 1. Undoing it on export is exact for means and scales and leaves rotations and SH as
they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SceneNormalization", "normalization_from_cameras"]


@dataclass(frozen=True)
class SceneNormalization:
    """``x_norm = scale * (x_world - center)``.

    Attributes
    ----------
    center : float64 [3]
    scale : float
    """

    center: np.ndarray
    scale: float

    def points_to_norm(self, xyz: np.ndarray) -> np.ndarray:
        return (np.asarray(xyz, np.float64) - self.center) * self.scale

    def points_to_world(self, xyz: np.ndarray) -> np.ndarray:
        return np.asarray(xyz, np.float64) / self.scale + self.center

    def pose_to_norm(self, rotation: np.ndarray, translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cam_from_world (R, t) -> cam_from_norm: ``x_cam*s = R x_norm + s (t + R c)``.

        Camera space is scaled with the world so depths stay consistent with normalised means.
        """
        t_new = self.scale * (np.asarray(translation) + np.einsum("...ij,j->...i", rotation, self.center))
        return np.asarray(rotation), t_new

    def to_dict(self) -> dict[str, object]:
        return {"center": [float(v) for v in self.center], "scale": float(self.scale)}


def normalization_from_cameras(centers: np.ndarray, points: np.ndarray | None = None) -> SceneNormalization:
    """Centre on the camera centroid; scale so the farthest camera is at distance 1.

    With a single camera position (or all cameras at one spot) the points' extent sets the scale.
    """
    centers = np.asarray(centers, np.float64)
    center = centers.mean(axis=0)
    radius = float(np.linalg.norm(centers - center, axis=1).max()) if len(centers) else 0.0
    if radius <= 1e-12 and points is not None and len(points):
        radius = float(np.linalg.norm(np.asarray(points) - center, axis=1).max())
    return SceneNormalization(center=center, scale=1.0 / radius if radius > 1e-12 else 1.0)
