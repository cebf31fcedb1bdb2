"""Which COLMAP mapper to run, and how: incremental, global (GLOMAP) or hierarchical.

- ``incremental`` adds one photo at a time with a bundle adjustment every few photos: the most
  robust, and the one that uses GPS pose priors inside its bundle adjustments
  (``use_prior_position``), but its cost grows much faster than linearly (763 s of mapping for
  47 photos on 2 cores in the issue that asked for this module).
- ``global`` (GLOMAP, inside COLMAP 4) estimates all rotations, then all positions, then one
  bundle adjustment: far faster on large surveys. It does not use position priors itself
  (colmap/colmap#4613), so with GPS a pose-prior bundle adjustment runs after it
  (:func:`refine_with_priors`). Its time goes to global positioning and to the bundle
  adjustments (on the 300-photo synthetic survey: 22 s positioning, 9 s bundle adjustment, 13 s
  retriangulation with more adjustment, of 48 s): it positions the cameras from at most
  :data:`GLOBAL_TRACKS_PER_VIEW` tracks per photo, and with GPS it stops after one bundle
  adjustment, leaves the poses to the pose-prior adjustment and triangulates every point once
  from the adjusted poses (:func:`run_global_with_priors`).
- ``hierarchical`` partitions the matching graph into clusters of at most
  ``leaf_max_num_images`` photos, maps each incrementally (with priors) and merges them: for
  surveys of thousands of photos.

``auto`` (:func:`choose_mapper`) picks by image count and GPS. pycolmap is passed in, never
imported here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MAPPERS",
    "INCREMENTAL_MAX_IMAGES",
    "GLOBAL_TRACKS_PER_VIEW",
    "HIERARCHICAL_MIN_IMAGES",
    "choose_mapper",
    "MappingSettings",
    "run_mapper",
    "bundle_options",
    "refine_with_priors",
    "run_global_with_priors",
]

logger = logging.getLogger(__name__)

MAPPERS = ("auto", "incremental", "global", "hierarchical")
#: ``auto`` maps up to this many photos incrementally (robust, GPS inside every global BA).
INCREMENTAL_MAX_IMAGES = 100
#: ``auto`` maps at least this many photos hierarchically (one cluster is ~500 photos).
HIERARCHICAL_MIN_IMAGES = 2000
#: Global mapper: tracks kept per photo for positioning and its bundle adjustment (COLMAP's
#: ``track_required_tracks_per_view``; unlimited by default). 50 well-spread tracks fix a pose;
#: on the 300-photo survey positioning took 6 s instead of 22 s with the same centres. The
#: points of the model come from the triangulation afterwards, not from these tracks.
GLOBAL_TRACKS_PER_VIEW = 50


def choose_mapper(n_images: int, has_gps: bool, mapper: str, *,
                  incremental_max_images: int = INCREMENTAL_MAX_IMAGES,
                  hierarchical_min_images: int = HIERARCHICAL_MIN_IMAGES) -> tuple[str, str]:
    """(mapper, why): resolve ``auto`` from the survey; explicit choices are kept.

    Without GPS, incremental mapping is kept up to twice as many photos: the global mapper's
    scale and orientation then come from nothing but the images, and no pose-prior adjustment
    follows to correct a drift.
    """
    if mapper != "auto":
        return mapper, "asked for"
    limit = incremental_max_images if has_gps else 2 * incremental_max_images
    if n_images <= limit:
        return "incremental", f"{n_images} images <= {limit}: incremental mapping is affordable and the most robust"
    if n_images >= hierarchical_min_images:
        return "hierarchical", f"{n_images} images >= {hierarchical_min_images}: clusters mapped separately and merged"
    gps = "GPS pose priors in a bundle adjustment afterwards" if has_gps else "no GPS"
    return "global", f"{n_images} images > {limit}: global mapping (GLOMAP), {gps}"


@dataclass(frozen=True, kw_only=True)
class MappingSettings:
    """What one mapping attempt needs, whichever mapper runs it.

    Attributes
    ----------
    threads, seed : int
    refine_focal : bool
        Refine focal lengths in bundle adjustment (False: keep the EXIF focal).
    use_priors : bool
        Pose priors (GPS) are in the database and should be used.
    init_min_tri_angle, init_min_num_inliers, abs_pose_min_num_inliers
        Incremental mapper thresholds.
    leaf_max_num_images : int
        Hierarchical: largest cluster.
    """

    threads: int
    seed: int
    refine_focal: bool
    use_priors: bool
    init_min_tri_angle: float
    init_min_num_inliers: int
    abs_pose_min_num_inliers: int
    leaf_max_num_images: int = 500


def _incremental_options(pycolmap: Any, s: MappingSettings) -> Any:
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = s.threads
    options.random_seed = s.seed
    options.multiple_models = True
    options.mapper.init_min_tri_angle = s.init_min_tri_angle
    options.mapper.init_min_num_inliers = s.init_min_num_inliers
    options.mapper.abs_pose_min_num_inliers = s.abs_pose_min_num_inliers
    options.ba_refine_focal_length = s.refine_focal
    options.ba_refine_principal_point = False
    # Priors are CARTESIAN in splatkit's recorded ENU frame (pose_priors.write_pose_priors), so
    # COLMAP's model comes out in that frame. Cauchy loss: a GPS glitch of tens of metres must not
    # bend the model.
    options.use_prior_position = s.use_priors
    options.use_robust_loss_on_prior_position = True
    return options


def run_mapper(pycolmap: Any, mapper: str, database: Path, image_dir: Path, out: Path,
               s: MappingSettings) -> dict[int, Any]:
    """Run one mapper; the models it found by index (possibly none).

    Parameters
    ----------
    mapper : {"incremental", "global", "hierarchical"}
    database, image_dir, out : Path
        COLMAP database with matches, the photos, a folder for COLMAP's own output.
    """
    out.mkdir(parents=True, exist_ok=True)
    if mapper == "incremental":
        return dict(pycolmap.incremental_mapping(database, image_dir, out, options=_incremental_options(pycolmap, s)))
    if mapper == "hierarchical":
        options = pycolmap.HierarchicalPipelineOptions()
        options.num_threads = s.threads
        options.num_workers = max(1, s.threads)
        options.clustering_options.leaf_max_num_images = s.leaf_max_num_images
        options.incremental_options = _incremental_options(pycolmap, s)
        return dict(pycolmap.hierarchical_mapping(database, image_dir, out, options=options))
    if mapper == "global":
        if s.use_priors:
            return run_global_with_priors(pycolmap, database, image_dir, out, s)
        return dict(pycolmap.global_mapping(database, image_dir, out, options=_global_options(pycolmap, s)))
    raise ValueError(f"unknown mapper {mapper!r}")


def _global_options(pycolmap: Any, s: MappingSettings, *, light: bool = False) -> Any:
    """GLOMAP's options; ``light``: one bundle adjustment and no retriangulation (a pose-prior
    adjustment and a triangulation follow)."""
    options = pycolmap.GlobalPipelineOptions()
    options.num_threads = s.threads
    options.random_seed = s.seed
    options.mapper.global_positioning.use_gpu = False
    options.mapper.bundle_adjustment.ceres.use_gpu = False
    options.mapper.bundle_adjustment.refine_focal_length = s.refine_focal
    options.mapper.bundle_adjustment.refine_principal_point = False
    options.mapper.track_required_tracks_per_view = GLOBAL_TRACKS_PER_VIEW
    if light:
        options.mapper.ba_num_iterations = 1
        options.mapper.skip_retriangulation = True
    return options


def run_global_with_priors(pycolmap: Any, database: Path, image_dir: Path, out: Path,
                           s: MappingSettings) -> dict[int, Any]:
    """Global mapping for a survey with GPS pose priors: GLOMAP's poses, the priors, all points.

    GLOMAP's own retriangulation re-adjusts every pose with more bundle adjustments (13 s of 48 s
    on the 300-photo survey) that the pose-prior adjustment would redo anyway. Here GLOMAP stops
    after one bundle adjustment on its sparse tracks, :func:`refine_with_priors` puts the model
    in the priors' frame (with the focal as ``s.refine_focal`` says), and COLMAP's point
    triangulator (poses and intrinsics held) builds the points from every verified match.
    """
    models = dict(pycolmap.global_mapping(database, image_dir, out, options=_global_options(pycolmap, s, light=True)))
    triangulation = pycolmap.IncrementalPipelineOptions()
    triangulation.num_threads = s.threads
    triangulation.random_seed = s.seed
    # The poses are held, so the refinements only re-merge tracks and adjust points: two passes
    # to Ceres' default tolerance instead of COLMAP's five to a zero tolerance.
    triangulation.ba_global_max_refinements = 2
    triangulation.ba_global_function_tolerance = 1e-6
    done: dict[int, Any] = {}
    for index, model in models.items():
        adjusted = refine_with_priors(pycolmap, model, database, refine_focal=s.refine_focal, threads=s.threads,
                                      seed=s.seed)
        folder = out / f"triangulated{index}"
        folder.mkdir(parents=True, exist_ok=True)
        done[index] = pycolmap.triangulate_points(adjusted, database, image_dir, folder, clear_points=True,
                                                  options=triangulation, refine_intrinsics=False)
    return done


def bundle_options(pycolmap: Any, *, refine_focal: bool, threads: int) -> Any:
    """Bundle adjustment options of splatkit's own passes (principal point never refined)."""
    options = pycolmap.BundleAdjustmentOptions()
    options.refine_focal_length = refine_focal
    options.refine_principal_point = False
    options.refine_extra_params = True
    options.print_summary = False
    options.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    options.ceres.solver_options.num_threads = threads
    # These passes start from a converged model: stop when the cost stops moving (Ceres' own
    # default tolerance) instead of BundleAdjustmentOptions' 0, which ran all 100 iterations.
    options.ceres.solver_options.function_tolerance = 1e-6
    options.ceres.solver_options.max_num_iterations = 50
    return options


def refine_with_priors(pycolmap: Any, model: Any, database: Path | None, *, refine_focal: bool,
                       threads: int, seed: int) -> Any:
    """A copy of ``model`` after one global bundle adjustment, with the database's pose priors.

    With priors (``database`` given and holding at least 3 for registered images), COLMAP's
    pose-prior adjuster aligns the model to them and weights each camera-centre residual by its
    covariance: the model ends in the priors' (ENU) frame. Without, a plain bundle adjustment.
    """
    refined = pycolmap.Reconstruction(model)
    options = bundle_options(pycolmap, refine_focal=refine_focal, threads=threads)
    priors = []
    if database is not None:
        db = pycolmap.Database.open(str(database))
        try:
            priors = list(db.read_all_pose_priors())
        finally:
            db.close()
    registered = set(refined.reg_image_ids())
    priors = [p for p in priors if p.corr_data_id.id in registered]
    if len(priors) < 3:
        pycolmap.bundle_adjustment(refined, options)
        return refined
    config = pycolmap.BundleAdjustmentConfig()
    for image_id in registered:
        config.add_image(image_id)
    prior_options = pycolmap.PosePriorBundleAdjustmentOptions()
    prior_options.alignment_ransac.random_seed = seed
    prior_options.ceres.prior_position_loss_function_type = pycolmap.LossFunctionType.CAUCHY
    adjuster = pycolmap.create_pose_prior_bundle_adjuster(options, prior_options, config, priors, refined)
    adjuster.solve()
    return refined
