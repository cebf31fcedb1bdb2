"""The second half of every SfM backend: check, report, undistort and write the SfM output folder.

A backend makes a distorted :class:`~splatkit.contracts.Reconstruction` its own way (``sfm/pycolmap``
maps photos, ``sfm/opensfm`` converts OpenSfM's files) and hands it to
:func:`finish_reconstruction`, which does the rest the same way for all of them:

1. the trainability gate (:func:`splatkit.sfm.quality.check_sfm_output`: the model validates and
   has enough points and registered images, else a :class:`~splatkit.errors.StageError` naming the
   photos that did not register);
2. the quality report of the distorted model (plus the GPS residuals of the georeference section);
3. with ``undistort``: a check that every registered photo is there (before anything is written),
   undistortion to PINHOLE (:func:`splatkit.sfm.undistort.undistort_to_pinhole`) and the
   undistorted model's reprojection errors; without it, a note that the folder is model-only;
4. the SfM output folder (:func:`splatkit.sfm.layout.write_sfm_output`), with the timings.

So the report keys, the folder and the failure modes cannot drift apart between backends.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from splatkit.contracts import DEFAULT_MIN_FRAMES, DEFAULT_MIN_POINTS, ImageSet, Reconstruction
from splatkit.errors import StageError
from splatkit.io.sfm_output import DISTORTED_SPARSE_DIR, GEOREF_FILE, IMAGES_DIR, REPORT_FILE, SPARSE_DIR
from splatkit.sfm.layout import write_sfm_output
from splatkit.sfm.quality import MAX_LISTED, check_sfm_output, quality_report
from splatkit.sfm.steps import StageSteps
from splatkit.sfm.undistort import undistort_to_pinhole, undistortion_crops
from splatkit.stages import StageResult

__all__ = [
    "FinishingConfig",
    "FinishOptions",
    "MODEL_ONLY_NOTE",
    "check_registered_images",
    "finish_steps",
    "finish_reconstruction",
]

logger = logging.getLogger(__name__)

#: The note a model-only run (``undistort=False``) leaves in ``report.json``.
MODEL_ONLY_NOTE = (f"undistort=False: model only ({DISTORTED_SPARSE_DIR}, no {IMAGES_DIR}/ nor {SPARSE_DIR}); "
                   "not a training input")


class FinishingConfig(Protocol):
    """The options every SfM backend's ``Config`` has for the finishing step."""

    min_points: int
    min_frames: int
    undistort: bool
    undistort_max_size: int
    jpeg_quality: int


@dataclass(frozen=True, kw_only=True)
class FinishOptions:
    """How :func:`finish_reconstruction` checks, undistorts and writes.

    Attributes
    ----------
    min_points, min_frames : int
        Trainability minimums; below them the stage fails.
    undistort : bool
        Write the PINHOLE training scene (``images/``, ``sparse/0``); False writes a model-only
        folder and needs no photos.
    undistort_max_size : int
        When > 0, the undistorted images' longer side is at most this many pixels.
    jpeg_quality : int
        Quality of undistorted JPEG images.
    exif_orientation : bool
        Turn photos read from a folder upright by their EXIF Orientation first (False: the
        backend's coordinates live in the stored pixel grid, as OpenSfM's do).
    thin_model_hints : tuple of str
        What to try when the model is too thin (empty: generic advice).
    missing_images_fix : str
        How to point the backend at its photos when some are missing (the error adds
        "or set undistort=false").
    """

    min_points: int = DEFAULT_MIN_POINTS
    min_frames: int = DEFAULT_MIN_FRAMES
    undistort: bool = True
    undistort_max_size: int = 0
    jpeg_quality: int = 95
    exif_orientation: bool = True
    thin_model_hints: tuple[str, ...] = ()
    missing_images_fix: str = ""

    @classmethod
    def from_config(cls, config: FinishingConfig, **more: Any) -> FinishOptions:
        """The options a backend's ``Config`` sets, plus ``more`` (the other attributes)."""
        return cls(min_points=config.min_points, min_frames=config.min_frames, undistort=config.undistort,
                   undistort_max_size=config.undistort_max_size, jpeg_quality=config.jpeg_quality, **more)


def finish_steps(undistort: bool) -> int:
    """Progress steps :func:`finish_reconstruction` announces: undistorting (when asked) and writing."""
    return 2 if undistort else 1


def check_registered_images(rec: Reconstruction, images: ImageSet | str | Path, *, stage: str, source: str,
                            fix: str = "") -> None:
    """Refuse, before anything is written, to undistort when registered photos are missing.

    Parameters
    ----------
    rec : Reconstruction
        The model; every name in ``rec.frames.names`` must be found.
    images : ImageSet or folder
        Where the photos are looked up by name.
    stage, source : str
        For the error.
    fix : str
        The backend's way to point at the photos (e.g. "Set images_dir to ...").

    Raises
    ------
    StageError
        Naming where it looked, the missing photos and the ways out (``fix``, ``undistort=false``).
    """
    if isinstance(images, ImageSet):
        given = set(images.names)
        missing = [n for n in rec.frames.names if n not in given]
        where = "the given photos lack them"
    else:
        folder = Path(images)
        missing = list(rec.frames.names) if not folder.is_dir() else [
            n for n in rec.frames.names if not (folder / n).is_file()]
        where = f"{folder} does not exist" if not folder.is_dir() else f"{folder} lacks them"
    if not missing:
        return
    shown = ", ".join(missing[:MAX_LISTED]) + (f" and {len(missing) - MAX_LISTED} more"
                                               if len(missing) > MAX_LISTED else "")
    model_only = (f"set undistort=false for a model-only output ({DISTORTED_SPARSE_DIR}, {REPORT_FILE}, "
                  f"{GEOREF_FILE}; not a training input)")
    ways_out = f"{fix}, or {model_only}" if fix else model_only[0].upper() + model_only[1:]
    raise StageError(
        f"undistortion needs the photos the model was made from, but {len(missing)} of the {len(rec.frames)} "
        f"registered images are missing ({shown}): {where}. {ways_out}", stage=stage, source=source)


def finish_reconstruction(
    rec: Reconstruction,
    images: ImageSet | str | Path,
    workdir: str | Path,
    options: FinishOptions,
    *,
    image_names: Sequence[str],
    report: dict[str, Any],
    timings: dict[str, float],
    steps: StageSteps,
    source: str,
    extra_dirs: Mapping[str, str | Path] | None = None,
) -> StageResult[Reconstruction]:
    """Check ``rec``, undistort it and write the SfM output folder at ``workdir``.

    Parameters
    ----------
    rec : Reconstruction
        The backend's distorted model, in its final (georeferenced) frame; not modified.
    images : ImageSet or folder
        The photos of ``rec``'s frames, by name (only read with ``options.undistort``).
    workdir : path
        The output folder, replaced atomically as a whole (:func:`splatkit.sfm.layout.write_sfm_output`).
    options : FinishOptions
    image_names : sequence of str
        Every photo given to the backend (registered or not): the denominator of the quality report
        and the list unregistered images are named from.
    report : dict
        The backend's report so far, with its ``georeference`` section and ``notes`` list. This
        function adds ``quality``, ``undistortion``, ``quality_undistorted`` and ``timings_s`` and
        may append to ``notes``.
    timings : dict of str to float
        Seconds per step so far; ``undistort`` and ``write`` are added.
    steps : StageSteps
        The run's progress; :func:`finish_steps` of its steps are announced here. The caller
        announces ``done``.
    source : str
        What the backend ran on, for errors and the log.
    extra_dirs : mapping of str to path, optional
        Backend byproducts moved into ``workdir`` (see :func:`~splatkit.sfm.layout.write_sfm_output`).

    Returns
    -------
    StageResult[Reconstruction]
        The undistorted PINHOLE model (``rec`` itself with ``undistort=False``), ``report`` and the
        files written.

    Raises
    ------
    ContractError
        ``rec`` does not validate.
    StageError
        The model is too thin to train on, or registered photos are missing for undistortion;
        nothing is written then.
    InputError
        A photo's size differs from its camera's.
    """
    stage = steps.stage
    workdir = Path(workdir)
    check_sfm_output(rec, image_names, min_points=options.min_points, min_frames=options.min_frames, stage=stage,
                     source=source, hints=options.thin_model_hints)
    quality = quality_report(rec, image_names)
    residual = (report.get("georeference") or {}).get("residual_m")
    if residual is not None:
        quality["gps_residual_m"] = residual
    report["quality"] = quality
    if options.undistort:
        check_registered_images(rec, images, stage=stage, source=source, fix=options.missing_images_fix)
    else:
        report.setdefault("notes", []).append(MODEL_ONLY_NOTE)

    workdir.parent.mkdir(parents=True, exist_ok=True)
    # Beside workdir, so that moving the images into the output folder is a rename.
    scratch = Path(tempfile.mkdtemp(prefix=f".{workdir.name}.undistort.", dir=workdir.parent))
    try:
        undistorted: Reconstruction | None = None
        staged_images = scratch / IMAGES_DIR
        if options.undistort:
            steps.next("undistorting images to PINHOLE")
            t0 = time.perf_counter()
            undistorted = undistort_to_pinhole(rec, images, staged_images, max_size=options.undistort_max_size,
                                               jpeg_quality=options.jpeg_quality,
                                               exif_orientation=options.exif_orientation)
            timings["undistort"] = time.perf_counter() - t0
            report["undistortion"] = [c.to_dict() for c in
                                      undistortion_crops(rec, max_size=options.undistort_max_size).values()]
            report["quality_undistorted"] = {
                "reprojection_error_px": quality_report(undistorted, image_names)["reprojection_error_px"]}
        steps.next("writing the SfM output folder")
        t0 = time.perf_counter()
        # report.json is written with the timings so far; the returned report adds the write's.
        report["timings_s"] = dict(timings)
        files = write_sfm_output(workdir, distorted=rec, undistorted=undistorted,
                                 undistorted_images=staged_images if undistorted is not None else None,
                                 report=report, extra_dirs=extra_dirs)
        timings["write"] = time.perf_counter() - t0
        report["timings_s"] = dict(timings)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("%s on %s: %d/%d images, %d points, median reprojection %.3f px", stage, source,
                len(rec.frames), len(image_names), len(rec.points),
                quality["reprojection_error_px"]["median"] or float("nan"))
    return StageResult(output=undistorted if undistorted is not None else rec, report=report, files=files)
