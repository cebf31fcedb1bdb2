"""Put an SfM model on Earth: EXIF GPS -> local ENU metres -> a robust similarity fit.

SfM recovers a model up to a similarity (scale, rotation, translation). Where the photos carry
GPS, the camera centres give that similarity: convert each image's WGS84 position to a local
East-North-Up frame around a reference we choose and record (the mean position), fit
``X_enu = s R X_sfm + t`` to the camera centres with Umeyama's method inside a RANSAC loop (drone
and phone GPS are off by metres, and now and then by tens of metres), and apply it to poses and
points. The model is then metric, z up, and its :class:`~splatkit.contracts.Georeference` says
where the origin is.

Everything here is numpy; it works on any :class:`~splatkit.contracts.Reconstruction`, whichever
backend made it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from splatkit.contracts import Frames, Georeference, ImageSet, Points, Reconstruction
# The geodesy lives with the Georeference contract; re-exported here for SfM code and older imports.
from splatkit.contracts.georeference import WGS84_A, WGS84_F, ecef_to_enu, lla_to_ecef, lla_to_enu

__all__ = [
    "WGS84_A",
    "WGS84_F",
    "lla_to_ecef",
    "ecef_to_enu",
    "lla_to_enu",
    "Similarity",
    "umeyama",
    "fit_similarity_ransac",
    "apply_similarity",
    "align_to_gps",
]

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Similarity:
    """``y = scale * rotation @ x + translation``.

    Attributes
    ----------
    scale : float
    rotation : float64 [3, 3]
    translation : float64 [3]
    """

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Transform points ``[N, 3]``."""
        return self.scale * np.asarray(x, dtype=np.float64) @ self.rotation.T + self.translation

    def to_dict(self) -> dict[str, Any]:
        return {"scale": float(self.scale), "rotation": self.rotation.tolist(),
                "translation": self.translation.tolist()}


def umeyama(src: np.ndarray, dst: np.ndarray) -> Similarity:
    """Least-squares similarity mapping ``src`` onto ``dst`` (Umeyama 1991, eqs. 34-43).

    Parameters
    ----------
    src, dst : float64 [N, 3]
        Corresponding points, N >= 3 and not collinear.

    Returns
    -------
    Similarity
        Minimises ``sum ||dst - (s R src + t)||^2`` with ``det R = +1``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = float((xs**2).sum() / len(src))
    cov = xd.T @ xs / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # reflection: flip the weakest axis
        sign[2, 2] = -1.0
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(d) @ sign) / var_s) if var_s > 0 else 1.0
    translation = mu_d - scale * rotation @ mu_s
    return Similarity(scale, rotation, translation)


def fit_similarity_ransac(
    src: np.ndarray,
    dst: np.ndarray,
    *,
    max_error: float,
    iterations: int = 500,
    seed: int = 0,
) -> tuple[Similarity, np.ndarray]:
    """Robust similarity ``dst ~ s R src + t``: RANSAC over 3-point samples, then refit on inliers.

    Parameters
    ----------
    src, dst : float64 [N, 3]
        Corresponding points (SfM camera centres, GPS positions in ENU metres).
    max_error : float
        Inlier threshold in ``dst`` units (metres): about 2-3x the GPS noise.
    iterations : int
        RANSAC samples (all triples are tried when there are fewer).
    seed : int
        Seed of the sampler, for reproducible fits.

    Returns
    -------
    (Similarity, bool [N])
        The fit and its inlier mask.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n = len(src)
    rng = np.random.default_rng(seed)
    if n <= 12:
        from itertools import combinations
        samples = [np.array(c) for c in combinations(range(n), 3)]
    else:
        samples = [rng.choice(n, size=3, replace=False) for _ in range(iterations)]
    best_inliers = np.ones(n, dtype=bool)
    best_key: tuple[int, int, float] = (-1, -1, -np.inf)
    for sample in samples:
        if _nearly_collinear(src[sample]) or _nearly_collinear(dst[sample]):
            continue
        sim = umeyama(src[sample], dst[sample])
        err = np.linalg.norm(sim.apply(src) - dst, axis=1)
        inliers = err < max_error
        # A consensus set on a line (one flight strip) leaves the roll about it free: prefer
        # sets that span a plane, then more inliers, then smaller truncated cost.
        key = (int(_spans_plane(dst[inliers])), int(inliers.sum()), -float(np.sum(np.minimum(err, max_error) ** 2)))
        if key > best_key:
            best_key, best_inliers = key, inliers
    if best_inliers.sum() < 3:
        best_inliers = np.ones(n, dtype=bool)
    # Refit on the consensus set and re-collect inliers until it settles (a few rounds at most).
    for _ in range(10):
        sim = umeyama(src[best_inliers], dst[best_inliers])
        err = np.linalg.norm(sim.apply(src) - dst, axis=1)
        inliers = err < max_error
        if inliers.sum() < 3 or np.array_equal(inliers, best_inliers):
            break
        best_inliers = inliers
    return sim, best_inliers


def _spans_plane(p: np.ndarray, ratio: float = 0.1) -> bool:
    """True when points ``[K, 3]`` (K >= 3) are not close to one line."""
    if len(p) < 3:
        return False
    s = np.linalg.svd(p - p.mean(axis=0), compute_uv=False)
    return bool(s[0] > 0 and s[1] / s[0] >= ratio)


def _nearly_collinear(p: np.ndarray, tol: float = 1e-3) -> bool:
    """True when the points ``[K, 3]`` span (almost) no plane: 2nd singular value tiny vs the 1st."""
    s = np.linalg.svd(p - p.mean(axis=0), compute_uv=False)
    return bool(s[0] <= 0 or s[1] / s[0] < tol)


def apply_similarity(rec: Reconstruction, sim: Similarity, *, georeference: Georeference | None = None) -> Reconstruction:
    """A new model in the frame ``X' = s R X + t`` (poses, points); projections are unchanged.

    With ``x_cam = Rc X + tc`` and ``X = R^T (X' - t) / s``, scaling camera coordinates by ``s``
    (which leaves every projection as it was) gives ``Rc' = Rc R^T`` and ``tc' = s tc - Rc' t``.
    """
    rot_c = np.einsum("fij,kj->fik", rec.frames.rotation, sim.rotation)
    trans_c = sim.scale * rec.frames.translation - np.einsum("fij,j->fi", rot_c, sim.translation)
    frames = Frames(names=rec.frames.names, camera_index=rec.frames.camera_index, rotation=rot_c,
                    translation=trans_c)
    points = Points(xyz=sim.apply(rec.points.xyz), rgb=rec.points.rgb, error=rec.points.error)
    return Reconstruction(cameras=rec.cameras, frames=frames, points=points, tracks=rec.tracks,
                          georeference=georeference, source=rec.source)


def align_to_gps(
    rec: Reconstruction,
    image_set: ImageSet,
    *,
    max_error_m: float = 10.0,
    min_images: int = 3,
    min_spread_m: float = 2.0,
    seed: int = 0,
    reference: Georeference | None = None,
) -> tuple[Reconstruction, dict[str, Any]]:
    """Move a model into local ENU metres using the images' GPS, when there is enough of it.

    Parameters
    ----------
    rec : Reconstruction
        Any SfM model; not modified.
    image_set : ImageSet
        The photos, matched to frames by name; their ``gps`` fields are used.
    max_error_m : float
        RANSAC inlier threshold (metres). 10 m suits consumer GPS; use ~0.1 m for RTK.
    min_images : int
        Registered images with GPS needed to try (at least 3).
    min_spread_m : float
        GPS positions must spread at least this far (RMS distance from their mean), or the
        similarity is meaningless (photos taken from one spot).
    seed : int
        RANSAC seed.
    reference : Georeference, optional
        ENU origin to use (e.g. the one the GPS pose priors were written in); default: the
        mean GPS position of the registered images.

    Returns
    -------
    (Reconstruction, dict)
        The aligned model (with ``georeference`` set) and a JSON-able report: reference, scale,
        inliers, residuals in metres (median, max) and warnings. When GPS is missing or unusable,
        the input model unchanged (``georeference`` None) and a report saying why.
    """
    min_images = max(3, min_images)
    by_name = {r.name: r for r in image_set}
    idx = [i for i, n in enumerate(rec.frames.names) if n in by_name and by_name[n].gps is not None]
    report: dict[str, Any] = {"applied": False, "images_with_gps": len(idx),
                              "registered_images": len(rec.frames)}
    if len(idx) < min_images:
        report["reason"] = (f"{len(idx)} registered image(s) have GPS; georeferencing needs {min_images}: "
                            "the model stays in the arbitrary SfM frame (no scale, no north)")
        logger.info("not georeferencing: %s", report["reason"])
        return _without_georeference(rec), report

    gps = [by_name[rec.frames.names[i]].gps for i in idx]
    lat = np.array([g.lat for g in gps])
    lon = np.array([g.lon for g in gps])
    has_alt = np.array([g.alt is not None for g in gps])
    alt = np.array([g.alt if g.alt is not None else 0.0 for g in gps])
    if not has_alt.all():
        # Mixing real altitudes with zeros would tilt the fit: drop altitude altogether.
        report["warning_altitude"] = (f"{int((~has_alt).sum())} image(s) lack GPS altitude; altitudes "
                                      "ignored (set to 0): heights in the model are not trustworthy")
        alt = np.zeros_like(alt)
    # Reference: the mean position (OpenSfM does the same with lat/lon), recorded in georef.json.
    ref = reference or Georeference(lat=float(lat.mean()), lon=float(lon.mean()), alt=float(alt.mean()))
    enu = lla_to_enu(lat, lon, alt, ref)
    centres = rec.frames.centers()[idx]
    report["reference"] = ref.to_dict()

    spread = _spread(enu)
    report["gps_spread_m"] = [float(s) for s in spread]
    if spread[0] < min_spread_m:
        report["reason"] = (f"GPS positions spread only {spread[0]:.2f} m (need {min_spread_m} m): photos "
                            "from one spot cannot fix scale or rotation; model kept in the SfM frame")
        logger.warning("not georeferencing: %s", report["reason"])
        return _without_georeference(rec), report
    if _spread(centres)[0] <= 1e-9:
        report["reason"] = "the camera centres of the model coincide; cannot fit a similarity"
        return _without_georeference(rec), report

    sim, inliers = fit_similarity_ransac(centres, enu, max_error=max_error_m, seed=seed)
    residuals = np.linalg.norm(sim.apply(centres) - enu, axis=1)
    names = [rec.frames.names[i] for i in idx]
    report.update({
        "applied": True,
        "frame": "ENU",
        "similarity": sim.to_dict(),
        "inliers": int(inliers.sum()),
        "outliers": [n for n, ok in zip(names, inliers) if not ok],
        "max_error_m": float(max_error_m),
        "residual_m": {
            "median": float(np.median(residuals)),
            "mean": float(residuals.mean()),
            "max": float(residuals.max()),
            "median_inliers": float(np.median(residuals[inliers])),
        },
        "per_image_residual_m": {n: float(r) for n, r in zip(names, residuals)},
    })
    if spread[1] < 0.05 * spread[0]:
        # A straight flight line or street: the roll about that line is not seen by centres alone.
        report["warning_collinear"] = ("GPS positions lie almost on a line: rotation about the line is "
                                       "poorly determined; check the model's up direction")
        logger.warning(report["warning_collinear"])
    if inliers.sum() < max(3, 0.5 * len(idx)):
        report["warning_inliers"] = (f"only {int(inliers.sum())}/{len(idx)} images agree with the fit within "
                                     f"{max_error_m} m: GPS may be poor; raise gps_max_error_m or check EXIF")
        logger.warning(report["warning_inliers"])
    logger.info("georeferenced %d images: scale %.4g, median residual %.2f m, max %.2f m",
                len(idx), sim.scale, report["residual_m"]["median"], report["residual_m"]["max"])
    return apply_similarity(rec, sim, georeference=ref), report


def _spread(points: np.ndarray) -> np.ndarray:
    """RMS extent along principal axes, float64 [3] (descending)."""
    centred = points - points.mean(axis=0)
    return np.linalg.svd(centred, compute_uv=False) / np.sqrt(max(len(points), 1))


def _without_georeference(rec: Reconstruction) -> Reconstruction:
    if rec.georeference is None:
        return rec
    return Reconstruction(cameras=rec.cameras, frames=rec.frames, points=rec.points, tracks=rec.tracks,
                          georeference=None, source=rec.source)
