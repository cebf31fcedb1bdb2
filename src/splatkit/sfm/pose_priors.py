"""GPS as pose priors inside the reconstruction, and GPS-neighbour pairing sized by the survey.

COLMAP reads EXIF GPS into its database as WGS84 priors without covariance, and with
``use_prior_position`` converts them to ENU around *the first prior in database order* (an
origin it does not store; ``DatabaseCache::ConvertPosePriorsToENU``). Instead, splatkit writes its
own priors: each photo's GPS (EXIF, or DJI XMP through :mod:`splatkit.io.exif`) in a local ENU
frame around a reference it chooses and records (the mean position, as
:func:`splatkit.sfm.georeference.align_to_gps` does), as ``CARTESIAN`` priors with a diagonal
covariance ``diag(s_h^2, s_h^2, s_v^2)``: consumer GPS is good to a few metres horizontally while
EXIF altitudes are often off by tens of metres (the caliterra survey's climb 95 m over 30
photos). COLMAP's pose-prior bundle adjustment
(``PosePriorBundleAdjuster``) weights each position residual by that covariance, so the model
comes out metric, in the recorded ENU frame, with no similarity fit afterwards.

The spatial matcher pairs each photo with its GPS neighbours; the radius is derived from the
survey's own photo spacing (:func:`spatial_pairing`) rather than a fixed 300 m.

Everything except :func:`write_pose_priors` is numpy and works without pycolmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts import Georeference, ImageSet, Reconstruction
from splatkit.sfm.georeference import Similarity, lla_to_enu, umeyama

__all__ = [
    "GpsPriors",
    "SpatialPairing",
    "gps_priors",
    "survey_spacing_m",
    "spatial_pairing",
    "write_pose_priors",
    "prior_frame_georeference",
    "align_to_priors",
    "altitude_slope",
    "points_plane_tilt_deg",
    "MAX_ALTITUDE_SLOPE",
    "NO_ALTITUDE_STD_M",
]

#: Vertical standard deviation given to photos whose GPS has no altitude: the prior then says
#: nothing about height (altitude 0 would otherwise pull the model down to sea level).
NO_ALTITUDE_STD_M = 1.0e4


@dataclass(frozen=True)
class GpsPriors:
    """Camera-centre priors in a local ENU frame.

    Attributes
    ----------
    reference : Georeference
        WGS84 origin of the ENU frame (the mean GPS position), recorded in ``georef.json``.
    names : tuple[str, ...]
        Photos with GPS, in the order of ``enu``.
    enu : float64 [N, 3]
        GPS positions, east/north/up metres around ``reference``.
    std_m : float64 [N, 3]
        Standard deviation per axis (east, north, up), metres.
    altitude_slope : float
        Slope of the plane fitted to the GPS positions (height change per metre across the
        survey) before any levelling.
    levelled : bool
        The GPS altitudes were replaced by their mean (see :func:`gps_priors`).
    """

    reference: Georeference
    names: tuple[str, ...]
    enu: np.ndarray
    std_m: np.ndarray
    altitude_slope: float = 0.0
    levelled: bool = False

    def covariances(self) -> np.ndarray:
        """Diagonal position covariances, float64 [N, 3, 3] (metres squared)."""
        cov = np.zeros((len(self.names), 3, 3))
        idx = np.arange(3)
        cov[:, idx, idx] = self.std_m ** 2
        return cov

    def by_name(self) -> dict[str, np.ndarray]:
        """Name -> ENU position [3]."""
        return {n: p for n, p in zip(self.names, self.enu)}


#: Steepest plane through the GPS positions taken at face value (height per horizontal metre,
#: ~19 degrees): survey flights hold their altitude, or follow terrain gentler than this.
MAX_ALTITUDE_SLOPE = 0.35


def altitude_slope(enu: np.ndarray) -> float:
    """Slope of the least-squares plane ``z = a x + b y + c`` through positions ``[N, 3]``: ``|(a, b)|``."""
    enu = np.asarray(enu, dtype=np.float64)
    if len(enu) < 3 or np.linalg.matrix_rank(enu[:, :2] - enu[:, :2].mean(axis=0)) < 2:
        return 0.0
    design = np.column_stack([enu[:, :2], np.ones(len(enu))])
    coef = np.linalg.lstsq(design, enu[:, 2], rcond=None)[0]
    return float(np.hypot(coef[0], coef[1]))


def gps_priors(image_set: ImageSet, *, std_horizontal_m: float, std_vertical_m: float,
               min_images: int = 3, max_altitude_slope: float = MAX_ALTITUDE_SLOPE) -> GpsPriors | None:
    """The photos' GPS as ENU camera-centre priors, or None when fewer than ``min_images`` have GPS.

    Parameters
    ----------
    image_set : ImageSet
        Photos; their ``gps`` fields are used.
    std_horizontal_m, std_vertical_m : float
        Stated GPS uncertainty (one standard deviation) horizontally and vertically.
    min_images : int
        Fewest photos with GPS that make priors worth having (COLMAP needs 3 to align).
    max_altitude_slope : float
        When the plane through the GPS positions is steeper than this, the altitudes are taken
        to be wrong and replaced by their mean (a level flight). Why: image geometry says
        nothing about which way is up, so the priors alone orient the model, and altitudes that
        drift with position tilt it -- the caliterra survey's EXIF altitudes climb 97 m across
        64 m (slope 0.82), and mapping with them tilted its ground 43 degrees.

    Returns
    -------
    GpsPriors or None
        Photos whose GPS lacks altitude get the mean altitude with a vertical std of
        :data:`NO_ALTITUDE_STD_M` (no height information).
    """
    records = [r for r in image_set if r.gps is not None]
    if len(records) < max(3, min_images):
        return None
    lat = np.array([r.gps.lat for r in records])
    lon = np.array([r.gps.lon for r in records])
    has_alt = np.array([r.gps.alt is not None for r in records])
    alt = np.array([r.gps.alt if r.gps.alt is not None else 0.0 for r in records])
    ref_alt = float(alt[has_alt].mean()) if has_alt.any() else 0.0
    alt = np.where(has_alt, alt, ref_alt)
    reference = Georeference(lat=float(lat.mean()), lon=float(lon.mean()), alt=ref_alt)
    enu = lla_to_enu(lat, lon, alt, reference)
    slope = altitude_slope(enu[has_alt]) if has_alt.sum() >= 3 else 0.0
    levelled = slope > max_altitude_slope
    if levelled:
        enu[:, 2] = 0.0  # the reference altitude: the mean
    std = np.tile(np.array([std_horizontal_m, std_horizontal_m, std_vertical_m], dtype=np.float64),
                  (len(records), 1))
    std[~has_alt, 2] = NO_ALTITUDE_STD_M
    return GpsPriors(reference=reference, names=tuple(r.name for r in records), enu=enu, std_m=std,
                     altitude_slope=slope, levelled=levelled)


def survey_spacing_m(enu: np.ndarray) -> float:
    """Median horizontal distance from each photo to its nearest neighbour (metres).

    On a grid flight that is the spacing along the flight lines; photos taken from one spot
    (distance 0) are ignored so that a hovering pause does not shrink it.

    Parameters
    ----------
    enu : float64 [N, 3]
        Camera positions (only east and north are used), N >= 2.
    """
    xy = np.asarray(enu, dtype=np.float64)[:, :2]
    d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)
    d[d < 1e-3] = np.inf  # itself and duplicates
    nearest = d.min(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    return float(np.median(nearest)) if len(nearest) else 0.0


@dataclass(frozen=True)
class SpatialPairing:
    """How far, and how many, GPS neighbours each photo is matched with.

    Attributes
    ----------
    max_distance_m : float
        Horizontal radius (COLMAP ``SpatialPairingOptions.max_distance``, altitude ignored).
    max_num_neighbors : int
        Most neighbours per photo within that radius.
    spacing_m : float
        The survey's photo spacing the radius came from.
    why : str
        For the report.
    """

    max_distance_m: float
    max_num_neighbors: int
    spacing_m: float
    why: str


#: Radius in photo spacings. A nadir grid with 70-80 % forward and 60-70 % side overlap has its
#: overlapping neighbours within ~3 spacings along the line and 1-2 lines across; 6 spacings
#: reach 2-3 lines either side, leaving room for lines flown twice as far apart as the shots.
SPACINGS_PER_RADIUS = 6.0
#: Neighbour count bounds: below 8 a grid loses its cross-line pairs; above 40 matching costs
#: grow with no gain for registration.
MIN_NEIGHBOURS, MAX_NEIGHBOURS = 8, 40


def spatial_pairing(enu: np.ndarray, *, spacings_per_radius: float = SPACINGS_PER_RADIUS) -> SpatialPairing:
    """Radius and neighbour count for GPS-neighbour matching, from the survey's photo spacing.

    Parameters
    ----------
    enu : float64 [N, 3]
        Camera positions (ENU metres).
    spacings_per_radius : float
        Radius in multiples of :func:`survey_spacing_m`.

    Returns
    -------
    SpatialPairing
        The neighbour count is the median number of photos within the radius (bounded to
        ``[MIN_NEIGHBOURS, MAX_NEIGHBOURS]`` and ``N - 1``), so a denser survey gets more pairs.
    """
    enu = np.asarray(enu, dtype=np.float64)
    n = len(enu)
    spacing = survey_spacing_m(enu) if n >= 2 else 0.0
    if spacing <= 0.0:
        return SpatialPairing(max_distance_m=100.0, max_num_neighbors=max(1, min(n - 1, MAX_NEIGHBOURS)),
                              spacing_m=spacing, why="no spread in GPS positions: COLMAP's default 100 m radius")
    radius = spacings_per_radius * spacing
    d = np.linalg.norm(enu[:, None, :2] - enu[None, :, :2], axis=-1)
    within = (d <= radius).sum(axis=1) - 1
    count = int(np.clip(np.median(within), MIN_NEIGHBOURS, MAX_NEIGHBOURS))
    count = max(1, min(count, n - 1))
    why = (f"photo spacing {spacing:.1f} m (median nearest GPS neighbour): radius {spacings_per_radius:g} "
           f"spacings = {radius:.1f} m, {count} neighbours")
    return SpatialPairing(max_distance_m=float(radius), max_num_neighbors=count, spacing_m=spacing, why=why)


def write_pose_priors(pycolmap: Any, database: Path, priors: GpsPriors) -> int:
    """Replace the database's pose priors with ``priors`` (CARTESIAN, ENU, with covariance).

    COLMAP insists that all priors share one coordinate system, so its own WGS84 priors from
    EXIF are removed first; photos without GPS get no prior.

    Returns
    -------
    int
        Priors written (photos of ``priors`` found in the database).
    """
    positions = priors.by_name()
    covariances = dict(zip(priors.names, priors.covariances()))
    db = pycolmap.Database.open(str(database))
    written = 0
    try:
        db.clear_pose_priors()
        for image in db.read_all_images():
            if image.name not in positions:
                continue
            prior = pycolmap.PosePrior()
            prior.corr_data_id = image.data_id
            prior.coordinate_system = pycolmap.PosePriorCoordinateSystem.CARTESIAN
            prior.position = positions[image.name]
            prior.position_covariance = covariances[image.name]
            db.write_pose_prior(prior)
            written += 1
    finally:
        db.close()
    return written


def prior_frame_georeference(rec: Reconstruction, priors: GpsPriors, *, max_error_m: float,
                             check_frame: bool = True) -> tuple[Reconstruction, dict[str, Any]] | None:
    """The model mapped with ``priors``, georeferenced as it stands, when it is in their frame.

    A pose-prior bundle adjustment leaves the model metric in the priors' ENU frame, so no
    similarity is fitted afterwards; this checks that it is there and reports the residuals.
    Either test is enough:

    - the median horizontal distance between camera centres and their GPS is at most
      ``max(max_error_m, 3 s_h)``. One wild GPS fix cannot move a median (lund's phone GPS puts
      one photo 120-170 m off; the least-squares similarity it drags then looked like a 15 degree
      rotation, and the robust refit that followed landed 4-17 m off, varying from run to run);
    - the least-squares similarity from camera centres to GPS is close to the identity (scale
      within 10 %, rotation under 10 degrees, shift under that limit or twice the GPS scatter
      left by that similarity). The GPS itself may be off by more than its stated std (the
      caliterra survey's positions alternate ~15 m along the flight lines, a time lag, and its
      median distance is ~30 m); that is reported, not a reason to refit.

    Parameters
    ----------
    rec : Reconstruction
        The mapped model (not modified).
    priors : GpsPriors
        The priors it was mapped with.
    max_error_m : float
        The stage's GPS inlier threshold (``gps_max_error_m``).
    check_frame : bool
        False: skip the frame check (the caller has just aligned the model).

    Returns
    -------
    (Reconstruction, dict) or None
        The model with ``georeference`` set to the priors' reference, and the report section
        (``method`` "gps_pose_priors", ``residual_m`` 3D and per-axis-group residuals). None when
        fewer than 3 registered photos have priors or the model is not in their frame (the
        caller then fits a similarity).
    """
    by_name = priors.by_name()
    idx = [i for i, n in enumerate(rec.frames.names) if n in by_name]
    if len(idx) < 3:
        return None
    names = [rec.frames.names[i] for i in idx]
    gps = np.array([by_name[n] for n in names])
    centres = rec.frames.centers()[idx]
    delta = centres - gps
    horizontal = np.linalg.norm(delta[:, :2], axis=1)
    vertical = np.abs(delta[:, 2])
    full = np.linalg.norm(delta, axis=1)
    std_h = float(np.median(priors.std_m[:, 0]))
    limit = max(max_error_m, 3.0 * std_h)
    if check_frame and not _in_priors_frame(centres, gps, horizontal, limit=limit):
        return None
    inliers = horizontal <= max(limit, 3.0 * float(np.median(horizontal)))

    def stats(x: np.ndarray) -> dict[str, float]:
        return {"median": float(np.median(x)), "mean": float(x.mean()), "max": float(x.max())}

    report: dict[str, Any] = {
        "applied": True,
        "method": "gps_pose_priors",
        "frame": "ENU",
        "reference": priors.reference.to_dict(),
        "images_with_gps": len(idx),
        "registered_images": len(rec.frames),
        "std_m": {"horizontal": std_h, "vertical": float(np.median(priors.std_m[:, 2]))},
        "altitudes_levelled": priors.levelled,
        "max_error_m": float(limit),
        "inliers": int(inliers.sum()),
        "outliers": [n for n, ok in zip(names, inliers) if not ok],
        "residual_m": {**stats(full), "median_inliers": float(np.median(full[inliers])) if inliers.any() else None},
        "residual_horizontal_m": stats(horizontal),
        "residual_vertical_m": stats(vertical),
        "per_image_residual_m": {n: float(r) for n, r in zip(names, full)},
        "points_plane_tilt_deg": points_plane_tilt_deg(rec.points.xyz),
    }
    georeferenced = Reconstruction(cameras=rec.cameras, frames=rec.frames, points=rec.points, tracks=rec.tracks,
                                   georeference=priors.reference, source=rec.source)
    return georeferenced, report


def _in_priors_frame(centres: np.ndarray, gps: np.ndarray, horizontal: np.ndarray, *, limit: float) -> bool:
    """The two tests of :func:`prior_frame_georeference`; the similarity is fitted only when needed.

    ``centres``, ``gps`` ``[N, 3]`` ENU metres, ``horizontal`` ``[N]`` their horizontal distances.
    """
    if np.median(horizontal) <= limit:
        return True
    sim = umeyama(centres, gps)
    # The GPS's own scatter: what remains after the best similarity.
    scatter = float(np.median(np.linalg.norm(sim.apply(centres) - gps, axis=1)))
    return _near_identity(sim, centres, max_shift_m=max(limit, 2.0 * scatter))


def _near_identity(sim: Similarity, centres: np.ndarray, *, max_shift_m: float) -> bool:
    """True when ``sim`` moves ``centres`` [N, 3] by little: the model is already in the target frame."""
    angle = np.degrees(np.arccos(np.clip((np.trace(sim.rotation) - 1.0) / 2.0, -1.0, 1.0)))
    shift = np.linalg.norm(sim.apply(centres) - centres, axis=1)
    return bool(abs(np.log(sim.scale)) < 0.1 and angle < 10.0 and np.median(shift) < max_shift_m)


def points_plane_tilt_deg(xyz: np.ndarray) -> float | None:
    """Angle (degrees) between the up axis and the normal of the plane best fitting points ``[N, 3]``.

    On a nadir survey of gentle terrain this is a few degrees; tens of degrees mean the model is
    tilted (wrong altitudes orienting it). None with fewer than 3 points.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    if len(xyz) < 3:
        return None
    normal = np.linalg.svd(xyz - xyz.mean(axis=0), full_matrices=False)[2][2]
    return float(np.degrees(np.arccos(min(1.0, abs(normal[2])))))


def align_to_priors(rec: Reconstruction, priors: GpsPriors, *, max_error_m: float,
                    seed: int = 0) -> tuple[Reconstruction, dict[str, Any]] | None:
    """Fit a robust similarity from the model's camera centres to the priors, then report as above.

    The fallback when a prior-mapped model did not end in the priors' frame (measured on the
    caliterra survey: 31 m median horizontal residual after COLMAP's pose-prior adjustment, whose
    GPS scatters ~15 m along the flight lines). Unlike
    :func:`splatkit.sfm.georeference.align_to_gps` it fits the priors as written -- levelled
    altitudes included -- so wrong altitudes cannot tilt the model here either.

    Returns
    -------
    (Reconstruction, dict) or None
        As :func:`prior_frame_georeference`, with ``method`` "gps_similarity_to_priors" and the
        ``similarity``; None with fewer than 3 registered photos with priors.
    """
    from splatkit.sfm.georeference import apply_similarity, fit_similarity_ransac

    by_name = priors.by_name()
    idx = [i for i, n in enumerate(rec.frames.names) if n in by_name]
    if len(idx) < 3:
        return None
    gps = np.array([by_name[rec.frames.names[i]] for i in idx])
    std_h = float(np.median(priors.std_m[:, 0]))
    sim, _ = fit_similarity_ransac(rec.frames.centers()[idx], gps, max_error=max(max_error_m, 3.0 * std_h),
                                   seed=seed)
    # No frame check: the least-squares similarity behind it is pulled by GPS outliers (caliterra's
    # 70 m ones) that the RANSAC fit has just set aside.
    found = prior_frame_georeference(apply_similarity(rec, sim), priors, max_error_m=max_error_m, check_frame=False)
    if found is None:
        return None
    aligned, report = found
    report["method"] = "gps_similarity_to_priors"
    report["similarity"] = sim.to_dict()
    return aligned, report
