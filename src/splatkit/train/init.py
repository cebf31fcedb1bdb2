"""Gaussian initialisation from SfM points."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

__all__ = ["InitialGaussians", "init_from_points", "RGB_TO_SH0"]

logger = logging.getLogger(__name__)

#: Degree-0 SH basis constant: colour = 0.5 + C0 * sh0.
RGB_TO_SH0 = 0.28209479177387814


@dataclass(frozen=True)
class InitialGaussians:
    """Initial parameters in the trainer's storage form (log-scales, logits), float32 numpy.

    means [N, 3], log_scales [N, 3], quats [N, 4], opacity_logits [N], sh0 [N, 3].
    """

    means: np.ndarray
    log_scales: np.ndarray
    quats: np.ndarray
    opacity_logits: np.ndarray
    sh0: np.ndarray


def init_from_points(
    xyz: np.ndarray,
    rgb: np.ndarray,
    *,
    init_opacity: float = 0.1,
    init_scale: float = 1.0,
    k_neighbors: int = 3,
) -> InitialGaussians:
    """One isotropic Gaussian per point; scale = ``init_scale`` x mean distance to its k nearest.

    Duplicate points (zero distance) would give ``log(0) = -inf``: distances are floored at a
    small fraction of the scene extent instead. ``k`` is clamped to ``P - 1``.

    Parameters
    ----------
    xyz : float [P, 3]
        Points (in the frame the trainer works in).
    rgb : uint8 [P, 3]
        Their colours.
    """
    from scipy.spatial import cKDTree

    xyz = np.asarray(xyz, dtype=np.float64)
    p = len(xyz)
    if p < 2:
        # Callers check trainability first; this guards direct use with a clear message.
        from splatkit.errors import ContractError

        raise ContractError(f"cannot initialise Gaussians from {p} point(s); need at least 2",
                            field="Points", expected=">= 2", actual=p)
    k = min(k_neighbors, p - 1)
    dist, _ = cKDTree(xyz).query(xyz, k=k + 1)  # first neighbour is the point itself
    mean_dist = np.asarray(dist)[:, 1:].mean(axis=1)
    extent = float(np.linalg.norm(xyz.max(0) - xyz.min(0))) or 1.0
    floor = 1e-7 * extent
    n_floored = int((mean_dist < floor).sum())
    if n_floored:
        logger.info("%d duplicate SfM points: their initial scale is floored at %.3g", n_floored, floor)
    mean_dist = np.maximum(mean_dist, floor)
    log_scales = np.repeat(np.log(init_scale * mean_dist)[:, None], 3, axis=1)
    quats = np.zeros((p, 4)); quats[:, 0] = 1.0
    logit = float(np.log(init_opacity / (1.0 - init_opacity)))
    sh0 = (np.asarray(rgb, dtype=np.float64) / 255.0 - 0.5) / RGB_TO_SH0
    f32 = np.float32
    return InitialGaussians(
        means=xyz.astype(f32), log_scales=log_scales.astype(f32), quats=quats.astype(f32),
        opacity_logits=np.full(p, logit, f32), sh0=sh0.astype(f32),
    )

