"""How good is an SfM model: registration, points, track lengths, reprojection error.

Works on any :class:`~splatkit.contracts.Reconstruction` (any backend), so the numbers in every
SfM report mean the same thing. :func:`check_sfm_output` is the stage-side trainability gate: it
fails in SfM, naming the photos that did not register, instead of letting training crash on a
handful of points (the historical ``n_samples=1`` kNN error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from splatkit.contracts import Reconstruction
from splatkit.errors import ContractError, StageError
from splatkit.sfm.camera_models import img_from_cam

__all__ = ["GENERIC_HINTS", "MAX_LISTED", "reprojection_errors", "quality_report", "check_sfm_output"]

#: Most photo names an error message lists before "and N more".
MAX_LISTED = 20
#: What to try when a model is too thin and the backend has nothing more specific to say.
GENERIC_HINTS: tuple[str, ...] = (
    "add photos that overlap their neighbours by 60-80%",
    "remove photos of other scenes",
)


def reprojection_errors(rec: Reconstruction) -> np.ndarray:
    """Distance in pixels between each observation and its point projected with the camera model.

    Parameters
    ----------
    rec : Reconstruction
        Any model; distortion is applied with the camera's own model.

    Returns
    -------
    float64 [M]
        One error per observation in ``rec.tracks``; ``inf`` where the point is behind the camera.
    """
    tracks = rec.tracks
    errors = np.empty(len(tracks), dtype=np.float64)
    if not len(tracks):
        return errors
    f = tracks.frame_index
    xyz_cam = (np.einsum("mij,mj->mi", rec.frames.rotation[f], rec.points.xyz[tracks.point_index])
               + rec.frames.translation[f])
    cam_of_obs = rec.frames.camera_index[f]
    for ci, cam in enumerate(rec.cameras):
        sel = np.flatnonzero(cam_of_obs == ci)
        if not len(sel):
            continue
        proj = img_from_cam(cam, xyz_cam[sel])
        errors[sel] = np.linalg.norm(proj - tracks.xy[sel], axis=1)
    errors[~np.isfinite(errors)] = np.inf
    return errors


def quality_report(
    rec: Reconstruction,
    image_names: Sequence[str],
    *,
    errors: np.ndarray | None = None,
) -> dict[str, Any]:
    """JSON-able quality numbers of ``rec`` against the photos it was made from.

    Parameters
    ----------
    rec : Reconstruction
        The model.
    image_names : sequence of str
        Every input photo's name (registered or not).
    errors : float64 [M], optional
        Precomputed :func:`reprojection_errors`.

    Returns
    -------
    dict
        ``images_given``, ``images_registered``, ``registration_rate``, ``unregistered`` (names),
        ``points``, ``observations``, ``mean_track_length``, ``cameras`` (model and size per
        camera), ``reprojection_error_px`` (median, p95, mean, max over observations).
    """
    if errors is None:
        errors = reprojection_errors(rec)
    registered = set(rec.frames.names)
    names = list(image_names)
    lengths = rec.tracks.lengths(len(rec.points)) if len(rec.points) else np.zeros(0)
    finite = errors[np.isfinite(errors)]
    report: dict[str, Any] = {
        "images_given": len(names),
        "images_registered": len(rec.frames),
        "registration_rate": (len(rec.frames) / len(names)) if names else 0.0,
        "unregistered": [n for n in names if n not in registered],
        "points": len(rec.points),
        "observations": len(rec.tracks),
        "mean_track_length": float(lengths.mean()) if len(lengths) else 0.0,
        "cameras": [{"camera_id": c.camera_id, "model": c.model, "width": c.width, "height": c.height,
                     "params": [float(v) for v in c.params]} for c in rec.cameras],
        "reprojection_error_px": {
            "median": float(np.median(finite)) if len(finite) else None,
            "p95": float(np.percentile(finite, 95)) if len(finite) else None,
            "mean": float(finite.mean()) if len(finite) else None,
            "max": float(finite.max()) if len(finite) else None,
            "behind_camera": int(len(errors) - len(finite)),
        },
    }
    return report


def check_sfm_output(
    rec: Reconstruction,
    image_names: Sequence[str],
    *,
    min_points: int,
    min_frames: int,
    stage: str,
    source: str | None = None,
    hints: Sequence[str] = (),
) -> Reconstruction:
    """Validate ``rec`` and refuse a model too thin to train on: the SfM stage's trainability gate.

    The minimums are those of :meth:`Reconstruction.check_trainable` (the rule training applies
    too); this adds what only SfM knows: which photos did not register, and what to try.

    Parameters
    ----------
    rec : Reconstruction
        The model a backend made.
    image_names : sequence of str
        Every input photo's name (registered or not).
    min_points, min_frames : int
        The backend's trainability minimums.
    stage, source : str
        For the error: ``"sfm/<backend>"`` and what it ran on.
    hints : sequence of str
        What to try, backend-specific (e.g. another matcher, another partial reconstruction);
        empty: generic advice about overlap.

    Returns
    -------
    Reconstruction
        ``rec`` itself.

    Raises
    ------
    ContractError
        When ``rec.validate()`` fails (dangling index, non-finite value, short track).
    StageError
        When it has fewer than ``min_points`` points or ``min_frames`` registered images; the
        message names the images that failed to register and what to try.
    """
    rec.validate()
    try:
        return rec.check_trainable(min_points=min_points, min_frames=min_frames)
    except ContractError as e:
        registered = set(rec.frames.names)
        missing = [n for n in image_names if n not in registered]
        shown = ", ".join(missing[:MAX_LISTED]) + (f" and {len(missing) - MAX_LISTED} more"
                                                   if len(missing) > MAX_LISTED else "")
        tries = list(hints) or list(GENERIC_HINTS)
        raise StageError(
            f"the reconstruction is too thin to train on: {len(rec.frames)}/{len(image_names)} images registered "
            f"(need {min_frames} images), {len(rec.points)} points (need {min_points} points). "
            f"Images that failed to register: {shown or 'none'}. Try: " + "; ".join(tries),
            stage=stage, source=source) from e
