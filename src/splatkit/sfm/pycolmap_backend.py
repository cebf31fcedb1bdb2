"""The default SfM backend: COLMAP through pycolmap (CPU).

photos (:class:`~splatkit.contracts.ImageSet`) -> SIFT features (every core) -> GPS pose priors
(:mod:`splatkit.sfm.pose_priors`) -> matching (exhaustive, or GPS neighbours within a radius
sized by the survey's spacing) -> mapping (:mod:`splatkit.sfm.mappers`: incremental, global or
hierarchical, ``auto`` by image count and GPS) with the focal length held at its EXIF value ->
a last bundle adjustment with the GPS priors that releases the focal only when that is safe
(:mod:`splatkit.sfm.focal`) -> the largest model, in ENU metres, then the finishing step every
SfM backend shares (:func:`splatkit.sfm.finish.finish_reconstruction`: trainability gate,
quality report, PINHOLE undistortion, the SfM output folder of :mod:`splatkit.io.sfm_output`).

Settings that matter on real photos (see the SfM brief): COLMAP's default initial-pair thresholds
(``init_min_tri_angle`` 16 deg, ``init_min_num_inliers`` 100) registered 2 of 29 images of the
OpenSfM "lund" street sequence; 4 deg / 50 inliers with ``abs_pose_min_num_inliers`` 15
registered all 29. Disconnected partial models are never merged (each has its own frame): the
largest is kept and the others are listed in the report. A survey without GPS is mapped as
before (no priors, no georeference); the report's ``focal`` section compares every camera's
refined focal with its EXIF prior, and ``warnings`` holds the drift warnings.

pycolmap is imported inside :meth:`PycolmapSfM.run` only.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from splatkit.contracts import ImageSet, Reconstruction
from splatkit.device import available_cores
from splatkit.errors import ContractError, InputError, StageError
from splatkit.plugins.spec import hookimpl
from splatkit.sfm.features import (
    GUESSED_FOCAL_FACTOR,
    CameraGroup,
    extract_features,
    group_cameras,
    match_features,
)
from splatkit.sfm.finish import FinishOptions, finish_reconstruction, finish_steps
from splatkit.sfm.focal import DEFAULT_MAX_DRIFT, FOCAL_POLICIES, decide_release, focal_checks, focal_warnings
from splatkit.sfm.mappers import (
    INCREMENTAL_MAX_IMAGES,
    MAPPERS,
    MappingSettings,
    choose_mapper,
    refine_with_priors,
    run_mapper,
)
from splatkit.sfm.pose_priors import (
    GpsPriors,
    align_to_priors,
    gps_priors,
    prior_frame_georeference,
    write_pose_priors,
)
from splatkit.sfm.quality import reprojection_errors
from splatkit.sfm.quality import GENERIC_HINTS
from splatkit.sfm.steps import StageSteps
from splatkit.stages import (ProgressCallback, Stage, StageResult, check_config_ranges, config_to_dict,
                             no_progress, ranged)

__all__ = ["PycolmapSfM", "group_cameras", "choose_matcher", "splatkit_register_stages"]

logger = logging.getLogger(__name__)

_MATCHERS = ("auto", "exhaustive", "spatial", "sequential")
_CAMERA_MODES = ("per_device", "single", "per_image")
#: Progress steps before the finishing step: extract, match, map (with the final adjustment),
#: georeference.
MAPPING_STEPS = 4
#: What to try when the model is too thin to train on.
THIN_MODEL_HINTS: tuple[str, ...] = (*GENERIC_HINTS, "try matcher='exhaustive' and a larger max_image_size")


@dataclass(frozen=True, kw_only=True)
class PycolmapConfig:
    """Options of the pycolmap SfM backend (flat).

    Attributes
    ----------
    max_image_size : int
        Longer side (px) images are downscaled to for feature extraction; cameras and outputs
        keep the original resolution.
    max_num_features : int
        SIFT features per image.
    matcher : {"auto", "exhaustive", "spatial", "sequential"}
        ``auto``: exhaustive up to ``exhaustive_max_images`` images, spatial (GPS) above that when
        every image has GPS, else exhaustive.
    exhaustive_max_images : int
        Largest set matched exhaustively by ``auto``. Above it, with GPS on every photo, pairs are
        GPS neighbours within a radius sized by the survey's spacing (exhaustive matching grows
        with the square of the count). Not lower by default: one photo with a GPS glitch (lund
        has one 200 m off) gets only wrong neighbours and drops out.
    camera_mode : {"per_device", "single", "per_image"}
        One camera per EXIF make/model/focal and image size; one for all; one per photo.
    camera_model : str
        COLMAP model of the distorted cameras (``SIMPLE_RADIAL``, ``RADIAL``, ``OPENCV``).
    min_points, min_frames : int
        Trainability minimums; fewer -> :class:`~splatkit.errors.StageError`.
    init_min_tri_angle, init_min_num_inliers, abs_pose_min_num_inliers
        Mapper thresholds (relaxed from COLMAP's 16 / 100 / 30, see the module docstring).
    mapper : {"auto", "incremental", "global", "hierarchical"}
        COLMAP mapper (:mod:`splatkit.sfm.mappers`). ``auto``: incremental up to
        ``incremental_max_images`` photos (twice that without GPS), global (GLOMAP) above,
        hierarchical from 2000 photos.
    incremental_max_images : int
        Largest survey ``auto`` maps incrementally.
    hierarchical_leaf_images : int
        Hierarchical mapper: largest cluster mapped on its own.
    mapping_attempts : int
        When the best model leaves images out, map again (next seed; the last attempt with the
        focal length released when it was held, and from the third on a stricter initial
        triangulation angle) up to this many times and keep the largest model. A bad initial
        pair (e.g. a wrong EXIF focal) can strand half a sequence.
    gps_priors : bool
        Use the photos' GPS as camera-centre priors inside mapping and bundle adjustment
        (:mod:`splatkit.sfm.pose_priors`) when at least 3 photos have it; the model then comes
        out metric in the recorded ENU frame. False: map without, then fit a similarity.
    gps_std_horizontal_m, gps_std_vertical_m : float
        Stated GPS uncertainty (one standard deviation) of the priors. EXIF altitudes are often
        off by tens of metres, hence the loose vertical default.
    gps_max_altitude_slope : float
        When the plane through the GPS positions is steeper than this (height per metre), the
        altitudes are taken to be wrong and levelled to their mean before they orient the model
        (:func:`splatkit.sfm.pose_priors.gps_priors`).
    focal_refinement : {"auto", "fixed", "free"}
        ``auto``: with EXIF focal lengths, map with them fixed, then release them in a last
        bundle adjustment and keep the result only when the fit demands it
        (:mod:`splatkit.sfm.focal`). ``fixed``: never refine. ``free``: COLMAP refines from the
        start.
    focal_max_drift : float
        Relative change from the EXIF focal beyond which the report and log warn (0.15 = 15 %).
    focal_release_min_gain : float
        ``auto``: the released focal is kept only when it lowers the mean reprojection error by
        this fraction (against the same adjustment with the focal held).
    undistort : bool
        Write PINHOLE images + model for training (``images/``, ``sparse/0``).
    undistort_max_size : int
        When > 0, the undistorted images' longer side is at most this many pixels.
    georeference : bool
        Put the model in ENU metres from the GPS when at least 3 registered images have it
        (already there when mapped with ``gps_priors``; otherwise a robust similarity fit).
    gps_max_error_m : float
        RANSAC inlier threshold of the GPS alignment, and the largest median horizontal
        residual a prior-mapped model may have to count as in the GPS frame.
    num_threads : int
        Threads for extraction, matching and mapping (-1: every core this process may use).
    seed : int
        Random seed (pycolmap's RANSAC and mapper). Runs are repeatable with ``num_threads=1``.
    jpeg_quality : int
        Quality of undistorted JPEG images.
    """

    max_image_size: int = ranged(1600, ge=1)
    max_num_features: int = ranged(8192, ge=1)
    matcher: str = "auto"
    exhaustive_max_images: int = ranged(40, ge=1)
    camera_mode: str = "per_device"
    camera_model: str = "SIMPLE_RADIAL"
    min_points: int = ranged(100, ge=0)
    min_frames: int = ranged(3, ge=1)
    init_min_tri_angle: float = ranged(4.0, gt=0)
    init_min_num_inliers: int = ranged(50, ge=1)
    abs_pose_min_num_inliers: int = ranged(15, ge=1)
    mapper: str = "auto"
    incremental_max_images: int = ranged(INCREMENTAL_MAX_IMAGES, ge=1)
    hierarchical_leaf_images: int = ranged(500, ge=1)
    mapping_attempts: int = ranged(3, ge=1)
    gps_priors: bool = True
    gps_std_horizontal_m: float = ranged(5.0, gt=0)
    gps_std_vertical_m: float = ranged(50.0, gt=0)
    gps_max_altitude_slope: float = ranged(0.35, ge=0)
    focal_refinement: str = "auto"
    focal_max_drift: float = ranged(DEFAULT_MAX_DRIFT, gt=0)
    focal_release_min_gain: float = ranged(0.05, ge=0)
    undistort: bool = True
    undistort_max_size: int = ranged(0, ge=0)
    georeference: bool = True
    gps_max_error_m: float = ranged(10.0, gt=0)
    num_threads: int = ranged(-1, ge=-1)
    seed: int = ranged(0, ge=0)
    jpeg_quality: int = ranged(95, ge=1, le=100)

    def __post_init__(self) -> None:
        check_config_ranges(self)
        for name, allowed in (("matcher", _MATCHERS), ("camera_mode", _CAMERA_MODES), ("mapper", MAPPERS),
                              ("focal_refinement", FOCAL_POLICIES)):
            value = getattr(self, name)
            if value not in allowed:
                raise ContractError(f"sfm/pycolmap: {name} must be one of {allowed}, got {value!r}",
                                    field=name, expected=allowed, actual=value)
        if self.camera_model not in ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV",
                                     "FULL_OPENCV", "OPENCV_FISHEYE"):
            raise ContractError(f"sfm/pycolmap: unsupported camera_model {self.camera_model!r}",
                                field="camera_model", actual=self.camera_model)
        for name in ("max_image_size", "max_num_features", "min_frames", "init_min_num_inliers",
                     "mapping_attempts", "incremental_max_images", "hierarchical_leaf_images"):
            if getattr(self, name) < 1:
                raise ContractError(f"sfm/pycolmap: {name} must be >= 1, got {getattr(self, name)}", field=name)
        if self.min_points < 0 or self.gps_max_error_m <= 0 or self.undistort_max_size < 0:
            raise ContractError("sfm/pycolmap: min_points >= 0, gps_max_error_m > 0 and undistort_max_size >= 0 "
                                "are required", field="PycolmapConfig")


# ---------------------------------------------------------------------------------------------
# Decisions made from the data (pure functions, tested without pycolmap)


def choose_matcher(image_set: ImageSet, matcher: str, exhaustive_max_images: int) -> tuple[str, str]:
    """(matcher, why): resolve ``auto`` from the data; explicit choices are kept as asked."""
    n = len(image_set)
    if matcher != "auto":
        return matcher, "asked for"
    if n <= exhaustive_max_images:
        return "exhaustive", f"{n} images <= {exhaustive_max_images}: every pair is affordable"
    if image_set.has_gps():
        return "spatial", f"{n} images, all with GPS: pair neighbours by position"
    return "exhaustive", f"{n} images without GPS on every image: exhaustive (slow for large sets)"


# ---------------------------------------------------------------------------------------------
# The stage


class PycolmapSfM(Stage):
    """Structure from motion with pycolmap (COLMAP 4) on the CPU."""

    kind: ClassVar[str] = "sfm"
    name: ClassVar[str] = "pycolmap"
    default_rank: ClassVar[int] = 100
    Config: ClassVar[type] = PycolmapConfig
    description: ClassVar[str] = ("COLMAP SfM via pycolmap (CPU): GPS pose priors, focal safety, incremental/global/"
                                  "hierarchical mapping, PINHOLE output")
    install_hint: ClassVar[str] = "pip install 'splatkit[sfm]'"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("pycolmap") is None:
            return f"pycolmap is not installed ({cls.install_hint})"
        return None

    def run(
        self,
        input: ImageSet | str | os.PathLike[str],
        config: PycolmapConfig | None = None,
        workdir: Path | str = Path("sfm"),
        progress: ProgressCallback = no_progress,
    ) -> StageResult[Reconstruction]:
        """Map ``input`` with COLMAP, georeference it, then finish it like every SfM backend.

        ``workdir``, ``progress``, the returned result and the trainability and missing-photo
        failures are those of :func:`splatkit.sfm.finish.finish_reconstruction`.

        Parameters
        ----------
        input : ImageSet or path
            Photos, or a folder / ZIP of them (read with :func:`splatkit.io.images.read_image_set`).
        config : PycolmapConfig
        workdir : path
            The SfM output folder to write.
        progress : callable
            Receives a :class:`~splatkit.stages.ProgressUpdate` per step.

        Raises
        ------
        InputError
            Fewer than 2 usable photos (or fewer than ``min_frames``), unreadable input.
        StageError
            Nothing reconstructed, implausible intrinsics, or too few images/points (names the
            unregistered images).
        """
        config = config or PycolmapConfig()
        stage = self.qualified_name()
        image_set = _as_image_set(input, config)
        image_set.validate(min_images=max(2, config.min_frames))
        source = str(image_set.source or image_set.root)
        workdir = Path(workdir)
        steps = StageSteps(stage, MAPPING_STEPS + finish_steps(config.undistort), progress)
        timings: dict[str, float] = {}
        report: dict[str, Any] = {"backend": stage, "source": source, "config": config_to_dict(config),
                                  "notes": []}
        workdir.parent.mkdir(parents=True, exist_ok=True)
        # COLMAP's database and its view of the photos; the finishing step reads the photos from
        # the ImageSet, so this goes before undistortion.
        scratch = Path(tempfile.mkdtemp(prefix=f".{workdir.name}.pycolmap.", dir=workdir.parent))
        try:
            rec = self._run(image_set, config, scratch, steps, timings, report, stage, source)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        options = FinishOptions.from_config(config, thin_model_hints=THIN_MODEL_HINTS)
        result = finish_reconstruction(rec, image_set, workdir, options, image_names=image_set.names,
                                       report=report, timings=timings, steps=steps, source=source)
        steps.done()
        return result

    def _run(self, image_set: ImageSet, config: PycolmapConfig, scratch: Path, steps: StageSteps,
             timings: dict[str, float], report: dict[str, Any], stage: str, source: str) -> Reconstruction:
        import pycolmap

        pycolmap.set_random_seed(config.seed)
        # COLMAP logs through glog to stderr, hundreds of lines per run: keep its INFO lines only
        # when this module's logger is at DEBUG.
        # To stderr only: glog otherwise leaves *.log.WARNING.* files in the temp folder on every run.
        previous_level, previous_to_stderr = pycolmap.logging.minloglevel, pycolmap.logging.logtostderr
        pycolmap.logging.minloglevel = 0 if logger.isEnabledFor(logging.DEBUG) else 1
        pycolmap.logging.logtostderr = True
        try:
            return self._reconstruct(pycolmap, image_set, config, scratch, steps, timings, report, stage, source)
        finally:
            pycolmap.logging.minloglevel = previous_level
            pycolmap.logging.logtostderr = previous_to_stderr

    def _reconstruct(self, pycolmap: Any, image_set: ImageSet, config: PycolmapConfig, scratch: Path,
                     steps: StageSteps, timings: dict[str, float], report: dict[str, Any], stage: str,
                     source: str) -> Reconstruction:
        """Map the photos and georeference the largest model (the distorted model, not yet checked)."""
        from splatkit.io.colmap import from_pycolmap

        threads = config.num_threads if config.num_threads > 0 else available_cores()
        image_dir = _stage_images(image_set, scratch / "images")
        database = scratch / "database.db"

        steps.next("extracting features")
        t0 = time.perf_counter()
        groups = group_cameras(image_set, config.camera_mode)
        extract_features(pycolmap, database, image_dir, groups, camera_model=config.camera_model,
                         max_image_size=config.max_image_size, max_num_features=config.max_num_features,
                         threads=threads)
        priors = gps_priors(image_set, std_horizontal_m=config.gps_std_horizontal_m,
                            std_vertical_m=config.gps_std_vertical_m, max_altitude_slope=config.gps_max_altitude_slope)
        if priors is not None and priors.levelled:
            msg = (f"GPS altitudes tilt the survey (plane slope {priors.altitude_slope:.2f} > "
                   f"{config.gps_max_altitude_slope}): taken as wrong and replaced by their mean (a level flight), "
                   "so that they do not tilt the model; heights in the model are relative to that mean")
            logger.warning(msg)
            report["notes"].append(msg)
        use_priors = False
        if priors is not None and config.gps_priors:
            use_priors = write_pose_priors(pycolmap, database, priors) >= 3
        report["gps_priors"] = self._priors_report(priors, config, use_priors)
        timings["extract"] = time.perf_counter() - t0
        guessed = [g for g in groups if not g.focal_from_exif]
        report["camera_groups"] = [{"label": g.label, "images": len(g.names), "focal_prior_px": g.focal_px,
                                    "focal_from_exif": g.focal_from_exif} for g in groups]
        if guessed:
            msg = (f"{sum(len(g.names) for g in guessed)} image(s) have no EXIF focal length; focal guessed as "
                   f"{GUESSED_FOCAL_FACTOR} x the longer image side and refined by bundle adjustment")
            logger.warning(msg)
            report["notes"].append(msg)

        steps.next("matching")
        t0 = time.perf_counter()
        matcher, why = choose_matcher(image_set, config.matcher, config.exhaustive_max_images)
        matcher, pairing = match_features(pycolmap, database, matcher, len(image_set), threads=threads,
                                          priors=priors, notes=report["notes"])
        report["matcher"] = {"used": matcher, "why": why, **pairing}
        timings["match"] = time.perf_counter() - t0

        mapper, why = choose_mapper(len(image_set), priors is not None, config.mapper,
                                    incremental_max_images=config.incremental_max_images)
        steps.next(f"{mapper} mapping")
        t0 = time.perf_counter()
        best, focal_fixed = self._map_attempts(pycolmap, mapper, database, image_dir, scratch, groups, config,
                                               threads, use_priors, report, stage, source, list(image_set.names))
        report["mapper"] = {"used": mapper, "why": why}
        timings["map"] = time.perf_counter() - t0
        # The focal release of focal_refinement="auto" (every mapper has used the GPS priors by now:
        # the global mapper ends with a pose-prior adjustment of its own, mappers.run_global_with_priors).
        t0 = time.perf_counter()
        best = self._final_adjustment(pycolmap, best, priors if use_priors else None, database, groups, config,
                                      threads, focal_fixed, report, adjust=mapper == "hierarchical")
        timings["refine"] = time.perf_counter() - t0
        rec = from_pycolmap(best, source=f"{stage} on {source}")

        steps.next("georeferencing")
        t0 = time.perf_counter()
        rec, georef = self._georeference(rec, image_set, priors if use_priors else None, config)
        timings["georeference"] = time.perf_counter() - t0
        report["georeference"] = georef
        if not georef.get("applied"):
            report["notes"].append(f"not georeferenced: {georef.get('reason')}")
        return rec

    @staticmethod
    def _priors_report(priors: GpsPriors | None, config: PycolmapConfig, used: bool) -> dict[str, Any]:
        if priors is None:
            return {"used": False, "reason": "fewer than 3 photos have GPS"}
        if not config.gps_priors:
            return {"used": False, "reason": "gps_priors=False", "images_with_gps": len(priors.names)}
        return {"used": used, "images_with_gps": len(priors.names), "reference": priors.reference.to_dict(),
                "altitude_slope": priors.altitude_slope, "altitudes_levelled": priors.levelled,
                "std_horizontal_m": config.gps_std_horizontal_m, "std_vertical_m": config.gps_std_vertical_m,
                "coordinate_system": "CARTESIAN (ENU around reference)"}

    def _map_attempts(self, pycolmap: Any, mapper: str, database: Path, image_dir: Path, scratch: Path,
                      groups: list[CameraGroup], config: PycolmapConfig, threads: int, use_priors: bool,
                      report: dict[str, Any], stage: str, source: str, image_names: list[str]) -> tuple[Any, bool]:
        """Map up to ``mapping_attempts`` times; the best pycolmap model and whether its focal was fixed."""
        n_images = len(image_names)
        # Focal safety: with trustworthy EXIF focals, the attempts keep them fixed, but the last one
        # (of two or more) releases them, as a wrong EXIF value can be why photos were left out.
        # One failed held attempt is not enough to release: incremental mapping is not
        # deterministic across threads, and lund's held mapping registered 29/29 in three runs and
        # 11/29 in a fourth (the released retry then moved the focal to 0.74x).
        exif_focal = all(g.focal_from_exif for g in groups)
        held_attempts = max(1, config.mapping_attempts - 1)
        models: list[tuple[Any, bool]] = []
        attempts = []
        for attempt in range(config.mapping_attempts):
            if config.focal_refinement == "fixed":
                fixed = True
            elif config.focal_refinement == "free":
                fixed = False
            else:
                fixed = exif_focal and attempt < held_attempts
            tri_angle = config.init_min_tri_angle * (1 if attempt < 2 else 2)
            settings = MappingSettings(threads=threads, seed=config.seed + attempt, refine_focal=not fixed,
                                       use_priors=use_priors, init_min_tri_angle=tri_angle,
                                       init_min_num_inliers=config.init_min_num_inliers,
                                       abs_pose_min_num_inliers=config.abs_pose_min_num_inliers,
                                       leaf_max_num_images=config.hierarchical_leaf_images)
            found = run_mapper(pycolmap, mapper, database, image_dir, scratch / f"sparse{attempt}", settings)
            models.extend((m, fixed) for m in found.values())
            best_now = max((m.num_reg_images() for m in found.values()), default=0)
            attempts.append({"seed": settings.seed, "init_min_tri_angle": tri_angle, "focal": "fixed" if fixed
                             else "refined", "models": len(found), "best_registered": int(best_now)})
            if best_now == n_images:
                break
        report["mapping_attempts"] = attempts
        if not models:
            raise StageError(
                f"no model could be started: no pair of the {n_images} photos had enough verified "
                f"matches to initialise ({', '.join(image_names[:20])}). Check that the photos overlap (60-80% between neighbours) "
                "and show the same scene; try a larger max_image_size or matcher='exhaustive'",
                stage=stage, source=source)
        # A degenerate model (near-orthographic: focal 7x the image, k = 130) can reproject well
        # and still be useless; rank sane cameras first (COLMAP's own bogus-camera bounds).
        ranked = sorted(models, key=lambda mf: (not _has_bogus_camera(mf[0]), mf[0].num_reg_images(),
                                                mf[0].num_points3D()), reverse=True)
        best, best_fixed = ranked[0]
        if _has_bogus_camera(best):
            raise StageError(
                "every reconstructed model has implausible camera intrinsics (focal length outside 0.1-10x the "
                f"image size or distortion > 1): {[c.params.tolist() for c in best.cameras.values()]}. The photos "
                "may lack parallax (all from one spot) or the EXIF focal length may be wrong; try "
                "camera_model='SIMPLE_PINHOLE' or more photos with overlap from different positions",
                stage=stage, source=source)
        best_names = {best.image(i).name for i in best.reg_image_ids()}
        # Other models, of this attempt and others, where they hold images the best one lacks:
        # the disconnected parts a user should know about.
        others: list[dict[str, Any]] = []
        for m, _ in ranked[1:]:
            names_m = sorted(m.image(i).name for i in m.reg_image_ids())
            if set(names_m) - best_names and names_m not in [o["images"] for o in others]:
                others.append({"images": names_m, "points": int(m.num_points3D())})
        report["other_models"] = others
        if others:
            report["notes"].append(f"{len(others)} smaller disconnected model(s) were not merged; their "
                                   "images are listed in other_models")
        return best, best_fixed

    @staticmethod
    def _final_adjustment(pycolmap: Any, model: Any, priors: GpsPriors | None, database: Path,
                          groups: list[CameraGroup], config: PycolmapConfig, threads: int, focal_fixed: bool,
                          report: dict[str, Any], *, adjust: bool = False) -> Any:
        """The focal release and the focal report.

        Every mapper has used the GPS priors by now (the incremental and hierarchical ones inside,
        the global one in :func:`~splatkit.sfm.mappers.run_global_with_priors`). The release is
        judged against the same pose-prior adjustment with the focal held, so that the error
        difference is the focal's alone: one more adjustment of the mapped model, held, lowered
        the mean error of a 16-photo survey by ~7 % on its own (measured: the release then looked
        like a 9 % gain instead of 2 %). ``adjust``: run that held adjustment even without a
        release.
        """
        from splatkit.io.colmap import from_pycolmap

        prior_database = database if priors is not None else None

        def gps_residual(m: Any) -> float | None:
            if priors is None:
                return None
            at = priors.by_name()
            d = [np.linalg.norm(m.image(i).projection_center()[:2] - at[m.image(i).name][:2])
                 for i in m.reg_image_ids() if m.image(i).name in at]
            return float(np.median(d)) if len(d) >= 3 else None

        def mean_error(m: Any) -> float:
            errors = reprojection_errors(from_pycolmap(m))
            finite = errors[np.isfinite(errors)]
            return float(finite.mean()) if len(finite) else float("inf")

        release = focal_fixed and config.focal_refinement == "auto"
        adjusted = model
        if adjust or release:
            adjusted = refine_with_priors(pycolmap, model, prior_database, refine_focal=not focal_fixed,
                                          threads=threads, seed=config.seed)
        focal: dict[str, Any] = {"policy": config.focal_refinement, "mapped_with": "fixed" if focal_fixed
                                 else "refined", "max_drift": config.focal_max_drift}
        if release:
            released = refine_with_priors(pycolmap, adjusted, prior_database, refine_focal=True, threads=threads,
                                          seed=config.seed)
            ratios = [c.ratio for c in focal_checks(_camera_focals(released, groups))]
            error_fixed, error_released = mean_error(adjusted), mean_error(released)
            gps_fixed, gps_released = gps_residual(adjusted), gps_residual(released)
            decision = decide_release(ratios, error_fixed, error_released, max_drift=config.focal_max_drift,
                                      min_gain=config.focal_release_min_gain, gps_fixed_m=gps_fixed,
                                      gps_released_m=gps_released)
            focal["release"] = {"kept": decision.keep_released, "reason": decision.reason,
                                "gps_horizontal_median_fixed_m": gps_fixed,
                                "gps_horizontal_median_released_m": gps_released,
                                "released_ratios": ratios, "mean_error_fixed_px": error_fixed,
                                "mean_error_released_px": error_released}
            logger.info("focal release: %s", decision.reason)
            if decision.keep_released:
                adjusted = released
            else:
                report["notes"].append(decision.reason)
            if decision.warning:
                report.setdefault("warnings", []).append(decision.warning)
        checks = focal_checks(_camera_focals(adjusted, groups), max_drift=config.focal_max_drift)
        focal["cameras"] = [c.to_dict() for c in checks]
        warnings = focal_warnings(checks, max_drift=config.focal_max_drift)
        report["focal"] = focal
        report.setdefault("warnings", []).extend(warnings)
        return adjusted

    @staticmethod
    def _georeference(rec: Reconstruction, image_set: ImageSet, priors: GpsPriors | None,
                      config: PycolmapConfig) -> tuple[Reconstruction, dict[str, Any]]:
        from splatkit.sfm.georeference import align_to_gps

        if not config.georeference:
            return rec, {"applied": False, "reason": "georeference=False"}
        if priors is not None:
            found = prior_frame_georeference(rec, priors, max_error_m=config.gps_max_error_m)
            if found is None:
                logger.warning("the model did not end in the GPS priors' frame; fitting a similarity to them")
                found = align_to_priors(rec, priors, max_error_m=config.gps_max_error_m, seed=config.seed)
            if found is not None:
                return found
        return align_to_gps(rec, image_set, max_error_m=config.gps_max_error_m, seed=config.seed,
                            reference=priors.reference if priors is not None else None)

    # -- steps --------------------------------------------------------------------------------

def _camera_focals(model: Any, groups: list[CameraGroup]) -> list[tuple[str, float, bool, float]]:
    """(label, prior focal px, prior from EXIF, refined focal px) per camera of a pycolmap model."""
    group_of = {name: g for g in groups for name in g.names}
    out = []
    for camera_id, camera in sorted(model.cameras.items()):
        group = next((group_of[model.image(i).name] for i in model.reg_image_ids()
                      if model.image(i).camera_id == camera_id and model.image(i).name in group_of), None)
        if group is None:
            continue
        out.append((group.label, group.focal_px, group.focal_from_exif, float(camera.mean_focal_length())))
    return out


def _has_bogus_camera(model: Any) -> bool:
    """COLMAP's sanity bounds on refined intrinsics (``IncrementalPipelineOptions`` defaults)."""
    return any(cam.has_bogus_params(0.1, 10.0, 1.0) for cam in model.cameras.values())


def _as_image_set(input: Any, config: PycolmapConfig) -> ImageSet:
    if isinstance(input, ImageSet):
        return input
    if isinstance(input, (str, os.PathLike)):
        from splatkit.io.images import read_image_set

        return read_image_set(Path(input), min_images=1)
    raise InputError(f"sfm/pycolmap expects an ImageSet or a folder/ZIP path, got {type(input).__name__}")


def _stage_images(image_set: ImageSet, folder: Path) -> Path:
    """A folder COLMAP can read by name: links to upright originals, upright copies otherwise.

    COLMAP >= 4 applies EXIF orientation itself in some places and not in others, so photos that
    need rotating are written upright without the tag (the contract's pixels are upright).
    """
    from PIL import Image

    for record in image_set:
        target = folder / record.name
        target.parent.mkdir(parents=True, exist_ok=True)
        path = Path(record.path)
        if record.orientation == 1 and path.is_file():
            try:
                os.symlink(path.resolve(), target)
                continue
            except OSError:
                pass
        image = Image.fromarray(record.load())
        if target.suffix.lower() in (".jpg", ".jpeg"):
            image.save(target, quality=95)
        else:
            image.save(target)
    return folder


@hookimpl
def splatkit_register_stages(registry: Any) -> None:
    """Register the pycolmap SfM backend."""
    registry.add(PycolmapSfM)

