"""SfM backend ``sfm/opensfm``: OpenSfM output folders -> the SfM output folder every backend writes.

OpenSfM writes ``reconstruction.json`` (a list of partial reconstructions, each in its own frame),
``tracks.csv`` (every observation of every track, normalized image coordinates) and
``reference_lla.json`` (the WGS84 origin of its topocentric ENU world frame). This backend converts
one partial reconstruction natively: poses map 1:1 (OpenSfM and COLMAP both store
``cam_from_world`` with x right, y down, z forward; OpenSfM as an axis-angle vector), cameras
through :mod:`splatkit.sfm.camera_conversion`, observations from normalized coordinates to
COLMAP pixels. It never reads ``colmap_export/``: OpenSfM's ``export_colmap`` output is not a
consistent COLMAP model (see :func:`splatkit.io.opensfm.refuse_colmap_export`).

``tracks.csv`` keeps observations that bundle adjustment rejected as outliers (OpenSfM stores no
inlier flags), so observations reprojecting further than ``max_reprojection_error`` pixels are
dropped, then points left with fewer than two observations.

The converted model then goes through the finishing step every SfM backend shares
(:func:`splatkit.sfm.finish.finish_reconstruction`): the trainability gate, the quality report,
undistortion of the photos OpenSfM reconstructed (``<dataset>/images`` or ``images_dir``) to
PINHOLE cameras with the observations moved along, and the SfM output folder
(:mod:`splatkit.io.sfm_output`) written atomically. OpenSfM's world frame is already local ENU
metres around ``reference_lla`` when it had GPS, so it is kept as is and recorded in
``georef.json``. Without the photos the stage fails before writing anything, unless
``undistort=False`` asks for a model-only folder.

When the ``opensfm`` command is on PATH and ``run_opensfm`` is set, the backend can also run
OpenSfM on photos first (``extract_metadata`` ... ``reconstruct``) and convert the result.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts.georeference import Georeference
from splatkit.contracts.images import ImageSet
from splatkit.contracts.reconstruction import (
    DEFAULT_MIN_FRAMES,
    DEFAULT_MIN_POINTS,
    Frames,
    Points,
    Reconstruction,
    Tracks,
)
from splatkit.errors import BackendUnavailableError, ContractError, InputError, StageError
from splatkit.io import opensfm as osfm_io
from splatkit.io.images import IMAGE_SUFFIXES
from splatkit.plugins.spec import hookimpl
from splatkit.sfm.camera_conversion import normalized_to_pixels, opensfm_camera_to_colmap
from splatkit.sfm.finish import FinishOptions, finish_reconstruction, finish_steps
from splatkit.sfm.quality import reprojection_errors
from splatkit.sfm.steps import StageSteps
from splatkit.stages import (ProgressCallback, ProgressUpdate, Stage, StageResult, check_config_ranges,
                             config_to_dict, no_progress, ranged)

__all__ = [
    "OpenSfMConfig",
    "OpenSfMImporter",
    "OPENSFM_STEPS",
    "find_opensfm_command",
    "choose_partial",
    "convert_partial",
    "rotation_from_axis_angle",
    "splatkit_register_stages",
]

logger = logging.getLogger(__name__)

STAGE = "sfm/opensfm"
#: Where ``run_opensfm`` builds its OpenSfM dataset: ``OUT/opensfm`` (kept in the output folder).
OPENSFM_DATASET_DIR = "opensfm"
#: OpenSfM commands run on photos, in order (``opensfm <command> <dataset>``).
OPENSFM_STEPS: tuple[str, ...] = ("extract_metadata", "detect_features", "match_features", "create_tracks",
                                  "reconstruct")
#: Progress steps before the finishing step: read reconstruction.json, read tracks.csv, convert.
CONVERSION_STEPS = 3


@dataclass(frozen=True, kw_only=True)
class OpenSfMConfig:
    """Options of ``sfm/opensfm``.

    Attributes
    ----------
    reconstruction_index : int or None
        Which partial reconstruction of ``reconstruction.json`` to convert; None takes the
        largest (most shots, then most points). The others are listed in the report.
    reconstruction_file, tracks_file : str
        File names in the dataset folder (or absolute paths), e.g. ``reconstruction_example.json``.
    max_reprojection_error : float
        Observations reprojecting further than this many pixels are dropped (tracks.csv keeps
        bundle-adjustment outliers); 0 keeps every observation.
    min_points, min_frames : int
        Trainability minimums checked on the converted model; below them the stage fails.
    run_opensfm : bool
        Run the ``opensfm`` command on photos (an ImageSet or an image folder) first.
    opensfm_command : str
        Name or path of the OpenSfM command-line tool.
    opensfm_timeout_s : float
        Time limit for each OpenSfM command.
    images_dir : str
        Folder of the photos OpenSfM reconstructed (absolute, or relative to the dataset folder);
        empty: the given photos (ImageSet input), else ``<dataset>/images`` (where OpenSfM reads
        them). Only needed for undistortion.
    undistort : bool
        Write the PINHOLE training scene (``images/``, ``sparse/0``). False writes a model-only
        folder (``distorted/sparse/0``, ``report.json``, ``georef.json``) and needs no photos; it
        is not a training input.
    undistort_max_size : int
        When > 0, the undistorted images' longer side is at most this many pixels.
    jpeg_quality : int
        Quality of undistorted JPEG images.
    """

    reconstruction_index: int | None = ranged(None, ge=0)
    reconstruction_file: str = osfm_io.RECONSTRUCTION_FILE
    tracks_file: str = osfm_io.TRACKS_FILE
    max_reprojection_error: float = ranged(4.0, ge=0)
    min_points: int = ranged(DEFAULT_MIN_POINTS, ge=0)
    min_frames: int = ranged(DEFAULT_MIN_FRAMES, ge=1)
    run_opensfm: bool = False
    opensfm_command: str = "opensfm"
    opensfm_timeout_s: float = ranged(3600.0, gt=0)
    images_dir: str = ""
    undistort: bool = True
    undistort_max_size: int = ranged(0, ge=0)
    jpeg_quality: int = ranged(95, ge=1, le=100)

    def __post_init__(self) -> None:
        check_config_ranges(self)


def find_opensfm_command(command: str = "opensfm") -> str | None:
    """Full path of the OpenSfM command-line tool, or None when it is not installed."""
    return shutil.which(command)


def rotation_from_axis_angle(vectors: np.ndarray) -> np.ndarray:
    """Rotation matrices from axis-angle (Rodrigues) vectors.

    Parameters
    ----------
    vectors : float64 [F, 3]
        Axis times angle in radians (OpenSfM's shot ``rotation``).

    Returns
    -------
    float64 [F, 3, 3]
        ``R = I + sin(a) K + (1 - cos(a)) K^2`` with K the cross-product matrix of the unit axis;
        exactly the identity for a zero vector (``export_colmap`` produces NaN there).
    """
    v = np.asarray(vectors, np.float64).reshape(-1, 3)
    angle = np.linalg.norm(v, axis=1)
    safe = np.where(angle > 0, angle, 1.0)
    k = v / safe[:, None]
    kx = np.zeros((len(v), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2] = -k[:, 2], k[:, 1]
    kx[:, 1, 0], kx[:, 1, 2] = k[:, 2], -k[:, 0]
    kx[:, 2, 0], kx[:, 2, 1] = -k[:, 1], k[:, 0]
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)


def choose_partial(partials: list[osfm_io.OpenSfMPartial], index: int | None,
                   *, path: str | Path | None = None) -> osfm_io.OpenSfMPartial:
    """The partial reconstruction to convert: ``index`` or the largest (shots, then points).

    Raises
    ------
    InputError
        When the file holds no reconstruction or ``index`` is out of range.
    """
    if not partials:
        raise InputError("reconstruction.json holds no reconstruction (empty list): OpenSfM could not register "
                         "any image pair; check overlap and EXIF focal lengths and rerun `opensfm reconstruct`",
                         path=path)
    if index is None:
        return max(partials, key=lambda p: (p.num_shots, p.num_points, -p.index))
    if not 0 <= index < len(partials):
        sizes = ", ".join(f"[{p.index}] {p.num_shots} shots/{p.num_points} points" for p in partials)
        raise InputError(f"reconstruction_index={index} is out of range: the file holds {len(partials)} "
                         f"reconstruction(s): {sizes}", path=path)
    return partials[index]


def convert_partial(
    partial: osfm_io.OpenSfMPartial,
    tracks: osfm_io.OpenSfMTracks,
    *,
    georeference: Georeference | None = None,
    max_reprojection_error: float = 4.0,
    source: str = "",
    path: str | Path | None = None,
) -> tuple[Reconstruction, dict[str, Any]]:
    """Convert one OpenSfM partial reconstruction and its observations to a :class:`Reconstruction`.

    Keeps observations in the partial's shots of the partial's points, drops those reprojecting
    further than ``max_reprojection_error`` px (0 keeps all), then points with < 2 observations
    and points with non-finite coordinates.

    Returns
    -------
    (Reconstruction, dict)
        The model (not yet validated) and JSON-able conversion statistics.
    """
    names = sorted(partial.shots)
    used_cams = sorted({partial.shots[n].camera for n in names})
    cameras = tuple(opensfm_camera_to_colmap(partial.cameras[key], camera_id=i + 1, key=key, path=path)
                    for i, key in enumerate(used_cams))
    cam_pos = {key: i for i, key in enumerate(used_cams)}
    frames = Frames(
        names=tuple(names),
        camera_index=np.array([cam_pos[partial.shots[n].camera] for n in names], np.int32),
        rotation=rotation_from_axis_angle(np.array([partial.shots[n].rotation for n in names]).reshape(-1, 3)),
        translation=np.array([partial.shots[n].translation for n in names], np.float64).reshape(-1, 3),
    )

    # Observations -> (point, frame) indices; keep only those inside this partial.
    frame_pos = {n: i for i, n in enumerate(names)}
    frame_of_image = np.array([frame_pos.get(im, -1) for im in tracks.images], np.int64)
    point_pos = {pid: i for i, pid in enumerate(partial.point_ids)}
    obs_frame = frame_of_image[tracks.image_index] if len(tracks) else np.zeros(0, np.int64)
    obs_point = np.fromiter((point_pos.get(t, -1) for t in tracks.track_ids), np.int64, count=len(tracks))
    inside = (obs_frame >= 0) & (obs_point >= 0)
    obs_frame, obs_point = obs_frame[inside], obs_point[inside]
    xy = np.empty((len(obs_frame), 2))
    obs_cam = frames.camera_index[obs_frame]
    for ci, cam in enumerate(cameras):
        sel = obs_cam == ci
        xy[sel] = normalized_to_pixels(tracks.xy[inside][sel], cam.width, cam.height)

    finite_point = np.isfinite(partial.point_xyz).all(axis=1)
    rgb = np.clip(np.rint(np.nan_to_num(partial.point_rgb)), 0, 255).astype(np.uint8)
    draft = Reconstruction(
        cameras=cameras, frames=frames,
        points=Points(xyz=np.where(finite_point[:, None], partial.point_xyz, 0.0), rgb=rgb,
                      error=np.zeros(partial.num_points)),
        tracks=Tracks(point_index=obs_point, frame_index=obs_frame, xy=xy),
    )
    errors_all = reprojection_errors(draft)
    keep = finite_point[obs_point]
    if max_reprojection_error > 0:
        keep &= errors_all <= max_reprojection_error
    n_outliers = int((~keep & finite_point[obs_point]).sum())

    counts = np.bincount(obs_point[keep], minlength=partial.num_points)
    keep_point = (counts >= 2) & finite_point
    keep &= keep_point[obs_point]
    new_index = np.cumsum(keep_point) - 1
    obs_point_k = new_index[obs_point[keep]]
    err_k = errors_all[keep]
    sums = np.bincount(obs_point_k, weights=err_k, minlength=int(keep_point.sum()))
    nobs = np.bincount(obs_point_k, minlength=int(keep_point.sum()))
    rec = Reconstruction(
        cameras=cameras,
        frames=frames,
        points=Points(xyz=partial.point_xyz[keep_point], rgb=rgb[keep_point],
                      error=np.divide(sums, nobs, out=np.zeros_like(sums), where=nobs > 0)),
        tracks=Tracks(point_index=obs_point_k, frame_index=obs_frame[keep], xy=xy[keep]),
        georeference=georeference,
        source=source,
    )
    finite_all = errors_all[np.isfinite(errors_all)]
    stats: dict[str, Any] = {
        "observations_in_tracks_file": len(tracks),
        "observations_outside_model": int((~inside).sum()),
        "observations_over_max_error": n_outliers,
        "observations": len(rec.tracks),
        "points_in_file": partial.num_points,
        "points_nonfinite": int((~finite_point).sum()),
        "points_dropped_short_tracks": int((finite_point & (counts < 2)).sum()),
        "reprojection_error_before_filter_px": _summary(finite_all),
        "cameras": [
            {"opensfm_id": key, "projection_type": str(partial.cameras[key].get("projection_type", "perspective")),
             "colmap_model": cam.model, "width": cam.width, "height": cam.height,
             "params": [float(x) for x in cam.params]}
            for key, cam in zip(used_cams, cameras)
        ],
    }
    return rec, stats


def _summary(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {"median": None, "p95": None, "max": None}
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
            "max": float(values.max())}


class OpenSfMImporter(Stage):
    """``sfm/opensfm``: an OpenSfM dataset folder (or OpenSfM run on photos) -> the SfM output folder.

    Input: an OpenSfM dataset folder (with ``reconstruction.json`` and ``tracks.csv``), the path of
    a reconstruction JSON file, or photos (:class:`ImageSet` or an image folder) when
    ``run_opensfm`` is set and ``opensfm`` is installed. Output: the same folder as every SfM
    backend writes (:mod:`splatkit.io.sfm_output`, ``docs/formats.md``).
    """

    kind = "sfm"
    name = "opensfm"
    Config = OpenSfMConfig
    description = "OpenSfM reconstruction.json + tracks.csv -> PINHOLE training scene (runs the opensfm CLI when asked)"
    install_hint = ("converting OpenSfM output needs nothing extra; to run OpenSfM on photos install "
                    "mapillary/OpenSfM so that the `opensfm` command is on PATH")

    def run(
        self,
        input: Any,
        config: OpenSfMConfig,
        workdir: Path,
        progress: ProgressCallback = no_progress,
    ) -> StageResult[Reconstruction]:
        """Convert one partial reconstruction (after running OpenSfM when asked), then finish it.

        The finishing step (:func:`splatkit.sfm.finish.finish_reconstruction`) checks, undistorts
        and writes ``workdir``; the result is its result (the converted distorted model with
        ``undistort=False``).

        Parameters
        ----------
        input : path or ImageSet
            See the class docstring.
        config : OpenSfMConfig
        workdir : path
            The SfM output folder to write (``OUT/opensfm`` keeps the dataset ``run_opensfm`` made).
        progress : callable
            Called with each step's :class:`~splatkit.stages.ProgressUpdate`.

        Raises
        ------
        InputError
            Missing/malformed OpenSfM files, ``colmap_export/`` given as input, unsupported cameras,
            photos whose size differs from their camera's.
        BackendUnavailableError
            ``run_opensfm`` on photos without the ``opensfm`` command.
        StageError
            OpenSfM failed; the model is too thin to train on (names the missing shots); or
            ``undistort`` is on and registered photos are not in the images folder.
        """
        workdir = Path(workdir)
        given_names: list[str] | None = None
        photos_root: Path | None = None
        opensfm_run_dir: Path | None = None
        if isinstance(input, ImageSet):
            given_names = list(input.names)
            photos_root = Path(input.root)
            folder = self._dataset_for_images(input.root, config, workdir, progress, images=input)
        else:
            path = Path(input)
            osfm_io.refuse_colmap_export(path)
            if path.is_file():
                folder = path.parent
                config = _with_file(config, reconstruction_file=str(path))
            elif path.is_dir() and not _resolve(path, config.reconstruction_file).is_file() and config.run_opensfm:
                folder = self._dataset_for_images(path, config, workdir, progress, images=None)
            else:
                folder = path
        if config.run_opensfm and folder == workdir / OPENSFM_DATASET_DIR:
            opensfm_run_dir = folder
        recon_path = _resolve(folder, config.reconstruction_file)
        tracks_path = _resolve(folder, config.tracks_file)
        if not recon_path.is_file():
            raise InputError(
                f"no {recon_path.name} here: pass an OpenSfM dataset folder (holding {osfm_io.RECONSTRUCTION_FILE} "
                f"and {osfm_io.TRACKS_FILE}), a reconstruction JSON file, or photos with run_opensfm=true "
                "(needs the `opensfm` command)", path=recon_path)
        if not tracks_path.is_file():
            raise InputError(f"{tracks_path.name} is missing next to {recon_path.name}: the 2D observations are "
                             "needed to build tracks; rerun `opensfm create_tracks` or set tracks_file",
                             path=tracks_path)
        warnings: list[str] = []
        if folder.name == "undistorted" and (folder / "undistorted_shot_ids.json").exists():
            # opensfm/undistort.py::add_subshot_tracks copies the distorted observations unchanged.
            msg = (f"{folder} is OpenSfM's `undistort` output: its tracks.csv keeps the distorted observations "
                   "while its cameras have no distortion, so reprojection errors are inflated; prefer the dataset "
                   "folder above it")
            logger.warning(msg)
            warnings.append(msg)

        steps = StageSteps(STAGE, CONVERSION_STEPS + finish_steps(config.undistort), progress)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        steps.next(f"reading {recon_path.name}")
        partials = osfm_io.read_reconstruction_json(recon_path)
        chosen = choose_partial(partials, config.reconstruction_index, path=recon_path)
        steps.next(f"reading {tracks_path.name}")
        tracks = osfm_io.read_tracks_csv(tracks_path)
        georef, georef_warnings = _georeference(folder, chosen)
        warnings += georef_warnings
        timings["read"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        steps.next(f"converting reconstruction {chosen.index}")
        rec, stats = convert_partial(chosen, tracks, georeference=georef,
                                     max_reprojection_error=config.max_reprojection_error,
                                     source=f"{recon_path} [reconstruction {chosen.index}]", path=recon_path)
        timings["convert"] = time.perf_counter() - t0

        image_dir = _images_dir(folder, config, photos_root)
        if given_names is None:
            given_names = _given_images(image_dir, partials, tracks)
        others = [
            {"index": p.index, "shots": p.num_shots, "points": p.num_points, "images": sorted(p.shots)}
            for p in partials if p.index != chosen.index
        ]
        notes: list[str] = []
        if others:
            notes.append(f"{len(others)} other partial reconstruction(s) in {recon_path.name} were not merged (each "
                         "has its own frame); their images are listed in other_reconstructions")
        report: dict[str, Any] = {
            "backend": STAGE,
            "source": str(recon_path),
            "config": config_to_dict(config),
            "tracks_file": str(tracks_path),
            "tracks_version": tracks.version,
            "reconstruction_index": chosen.index,
            "reconstructions_in_file": len(partials),
            "other_reconstructions": others,
            "max_reprojection_error_px": config.max_reprojection_error,
            "frame": "ENU" if georef is not None else "arbitrary",
            **stats,
            "georeference": _georeference_report(rec, chosen, georef),
            "warnings": warnings,
            "notes": notes,
        }
        if config.undistort:
            report["images_dir"] = str(image_dir)
        options = FinishOptions.from_config(
            config,
            # OpenSfM's coordinates are in the stored pixel grid, never EXIF-rotated.
            exif_orientation=False,
            thin_model_hints=_thin_model_hints(config, others, stats),
            missing_images_fix=("Set images_dir to the folder holding the photos OpenSfM ran on (OpenSfM reads "
                                "<dataset>/images)"))
        extra = {OPENSFM_DATASET_DIR: opensfm_run_dir} if opensfm_run_dir is not None else {}
        result = finish_reconstruction(rec, image_dir, workdir, options, image_names=given_names, report=report,
                                       timings=timings, steps=steps, source=str(recon_path), extra_dirs=extra)
        steps.done()
        return result

    # ----------------------------------------------------------------------------------------

    def _dataset_for_images(self, image_root: Path, config: OpenSfMConfig, workdir: Path,
                            progress: ProgressCallback, *, images: ImageSet | None) -> Path:
        """An OpenSfM dataset folder for photos: an existing one around them, or one made by OpenSfM.

        OpenSfM runs in ``workdir/opensfm``, which the output folder keeps (``OUT/opensfm``).
        """
        image_root = Path(image_root)
        for candidate in (image_root, image_root.parent):
            if _resolve(candidate, config.reconstruction_file).is_file() and not config.run_opensfm:
                logger.info("using the OpenSfM reconstruction already in %s", candidate)
                return candidate
        if not config.run_opensfm:
            raise StageError(
                "sfm/opensfm converts OpenSfM output, and no reconstruction.json was found with these photos. "
                "Pass the OpenSfM dataset folder (with reconstruction.json and tracks.csv), set run_opensfm=true "
                "with OpenSfM installed, or use the pycolmap backend on photos", stage=STAGE, source=str(image_root))
        command = find_opensfm_command(config.opensfm_command)
        if command is None:
            raise BackendUnavailableError(
                f"run_opensfm=true but the {config.opensfm_command!r} command is not on PATH",
                kind="sfm", name="opensfm", install_hint=self.install_hint)
        return run_opensfm(command, image_root, Path(workdir) / OPENSFM_DATASET_DIR, images=images,
                           timeout_s=config.opensfm_timeout_s, progress=progress)


def run_opensfm(command: str, image_root: Path, dataset: Path, *, images: ImageSet | None = None,
                timeout_s: float = 3600.0, progress: ProgressCallback = no_progress) -> Path:
    """Run OpenSfM's reconstruction commands on photos in a fresh dataset folder.

    The photos are linked (or copied where links are impossible) into ``dataset/images``.

    Raises
    ------
    StageError
        When an OpenSfM command fails or times out (with the tail of its output).
    """
    dataset.mkdir(parents=True, exist_ok=True)
    image_dir = dataset / "images"
    image_dir.mkdir(exist_ok=True)
    sources = ([Path(r.path) for r in images] if images is not None
               else sorted(p for p in Path(image_root).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
    if not sources:
        raise InputError("no photos to run OpenSfM on", path=image_root)
    for src in sources:
        dst = image_dir / src.name
        if not dst.exists():
            try:
                os.symlink(src.resolve(), dst)
            except OSError:
                shutil.copy2(src, dst)
    for i, cmd in enumerate(OPENSFM_STEPS):
        progress(ProgressUpdate(stage=STAGE, step=i, total=len(OPENSFM_STEPS), message=f"opensfm {cmd}"))
        try:
            done = subprocess.run([command, cmd, str(dataset)], capture_output=True, text=True,
                                  timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as e:
            raise StageError(f"`opensfm {cmd}` ran longer than {timeout_s:.0f} s", stage=STAGE,
                             source=str(dataset)) from e
        if done.returncode != 0:
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
            raise StageError(f"`opensfm {cmd}` exited with {done.returncode}: {' | '.join(tail)}", stage=STAGE,
                             source=str(dataset))
    return dataset


def _resolve(folder: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else Path(folder) / p


def _with_file(config: OpenSfMConfig, **changes: Any) -> OpenSfMConfig:
    return replace(config, **changes)


def _georeference(folder: Path, partial: osfm_io.OpenSfMPartial) -> tuple[Georeference | None, list[str]]:
    """The ENU origin: the reconstruction's own ``reference_lla``, else ``reference_lla.json``."""
    warnings: list[str] = []
    ref_path = folder / osfm_io.REFERENCE_LLA_FILE
    from_file = osfm_io.read_reference_lla(ref_path) if ref_path.is_file() else None
    if partial.reference is not None:
        if from_file is not None and not osfm_io.reference_matches(partial.reference, from_file):
            msg = (f"{ref_path} ({from_file.to_dict()}) differs from the reconstruction's own reference_lla "
                   f"({partial.reference.to_dict()}); using the reconstruction's, the frame its coordinates are in")
            logger.warning(msg)
            warnings.append(msg)
        return partial.reference, warnings
    return from_file, warnings


def _images_dir(folder: Path, config: OpenSfMConfig, photos_root: Path | None) -> Path:
    """Where the photos OpenSfM reconstructed are: ``images_dir``, the given photos, or ``<dataset>/images``."""
    if config.images_dir:
        return _resolve(folder, config.images_dir)
    if photos_root is not None:
        return photos_root
    return Path(folder) / "images"


def _given_images(image_dir: Path, partials: list[osfm_io.OpenSfMPartial], tracks: osfm_io.OpenSfMTracks) -> list[str]:
    """Names of the images the dataset was made from: the images folder, else every image OpenSfM mentions."""
    if image_dir.is_dir():
        names = sorted(p.name for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if names:
            return names
    names_set = set(tracks.images)
    for p in partials:
        names_set.update(p.shots)
    return sorted(names_set)


def _georeference_report(rec: Reconstruction, partial: osfm_io.OpenSfMPartial,
                         georef: Georeference | None) -> dict[str, Any]:
    """The georeference section of the report: OpenSfM's frame as it is, and GPS residuals in it.

    OpenSfM's world frame, when it had GPS, is topocentric East-North-Up metres around
    ``reference_lla`` (``doc/source/geometry.rst`` "World Coordinates"; ``opensfm/geo.py``
    ``ecef_from_topocentric_transform``) and each shot's ``gps_position`` is its GPS fix in that
    frame. So nothing is transformed (``applied`` False: splatkit fitted no similarity); the
    residuals are the distances between camera centres and those GPS positions.
    """
    if georef is None:
        return {"applied": False, "method": None,
                "reason": "no reference_lla (in reconstruction.json or reference_lla.json): OpenSfM had no GPS, "
                          "the model is in an arbitrary frame (no metric scale, no north)"}
    report: dict[str, Any] = {"applied": False, "method": "opensfm_topocentric", "frame": "ENU",
                              "reference": georef.to_dict()}
    names = [n for n in rec.frames.names if partial.shots[n].gps_position is not None]
    report["images_with_gps"] = len(names)
    if names:
        index = {n: i for i, n in enumerate(rec.frames.names)}
        centres = rec.frames.centers()[[index[n] for n in names]]
        gps = np.array([partial.shots[n].gps_position for n in names])
        residuals = np.linalg.norm(centres - gps, axis=1)
        report["residual_m"] = {"median": float(np.median(residuals)), "mean": float(residuals.mean()),
                                "max": float(residuals.max())}
        report["per_image_residual_m"] = {n: float(r) for n, r in zip(names, residuals)}
    return report


def _thin_model_hints(config: OpenSfMConfig, others: list[dict[str, Any]], stats: dict[str, Any]) -> tuple[str, ...]:
    """What to try when the converted model is too thin: other partials, the outlier filter, OpenSfM itself."""
    hints = []
    if others:
        sizes = ", ".join(f"[{o['index']}] {o['shots']} shots/{o['points']} points" for o in others)
        hints.append(f"choose another partial reconstruction of the file with reconstruction_index ({sizes})")
    if stats.get("observations_over_max_error"):
        hints.append(f"raise max_reprojection_error={config.max_reprojection_error} px (0 keeps all): "
                     f"{stats['observations_over_max_error']} observations were over it")
    hints += ["add overlapping photos of the missing areas", "check EXIF focal lengths",
              "rerun OpenSfM (e.g. more features: feature_min_frames)", "lower min_points/min_frames knowingly"]
    return tuple(hints)


@hookimpl
def splatkit_register_stages(registry: Any) -> None:
    """Register ``sfm/opensfm``."""
    registry.add(OpenSfMImporter)
