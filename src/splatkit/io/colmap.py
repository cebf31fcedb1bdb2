"""COLMAP sparse models (``cameras``, ``images``, ``points3D`` as ``.bin`` or ``.txt``) <-> Reconstruction.

Reading and writing are native (numpy + struct): the core install has no pycolmap. COLMAP >= 4
also writes ``rigs.*`` and ``frames.*``; ``images.*`` still stores every registered image's composed
``cam_from_world``, so they are accepted and ignored on read, and not written (COLMAP and
pycolmap 4 read a model without them as "one rig per camera, one frame per image").

Mapping (see :mod:`splatkit.contracts.reconstruction`): cameras keep their file order (COLMAP
writes them sorted by ``CAMERA_ID``), frames are the images sorted by ``IMAGE_ID``, points are
sorted by ``POINT3D_ID``; observation ``(IMAGE_ID, POINT2D_IDX)`` of a
point's track becomes a track entry whose ``xy`` is that image's 2D point ``POINT2D_IDX``. Writing
numbers images ``1..F`` in frame order and points ``1..P``, keeps ``Camera.camera_id``, and gives
each image exactly its observations as 2D points, in observation order.

:func:`to_pycolmap` / :func:`from_pycolmap` convert in memory for the SfM stage (pycolmap is
imported inside them).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splatkit.contracts.reconstruction import CAMERA_MODELS, Camera, Frames, Points, Reconstruction, Tracks
from splatkit.errors import ContractError, InputError
from splatkit.io.atomic import atomic_directory
from splatkit.io.colmap_binary import (
    encode_cameras_binary,
    encode_images_binary,
    encode_points3d_binary,
    read_cameras_binary,
    read_images_binary,
    read_points3d_binary,
)
from splatkit.io.colmap_records import (
    MODEL_PARTS,
    RIG_PARTS,
    CameraRecord,
    ImageRecord,
    ModelRecords,
    PointRecords,
    qvec_to_rotation,
    rotation_to_qvec,
)
from splatkit.io.colmap_text import (
    encode_cameras_text,
    encode_images_text,
    encode_points3d_text,
    read_cameras_text,
    read_images_text,
    read_points3d_text,
)

if TYPE_CHECKING:
    import pycolmap

__all__ = [
    "read_colmap_model",
    "write_colmap_model",
    "is_colmap_model",
    "looks_like_colmap_model",
    "info",
    "to_pycolmap",
    "from_pycolmap",
]

logger = logging.getLogger(__name__)

_COMPLETE = ("a COLMAP sparse model folder holds cameras, images and points3D, all as .bin or all "
             "as .txt (e.g. <project>/sparse/0)")
_READERS = {
    "bin": (read_cameras_binary, read_images_binary, read_points3d_binary),
    "txt": (read_cameras_text, read_images_text, read_points3d_text),
}
# Everything a COLMAP writer may leave in a model folder; write_colmap_model replaces only such
# folders (the whole folder is swapped atomically, so anything else in it would be lost).
_MODEL_FILE_NAMES = frozenset(f"{part}.{ext}" for part in MODEL_PARTS + RIG_PARTS for ext in ("bin", "txt"))
_MAX_ID32 = 2**32 - 1  # COLMAP's kInvalidImageId / kInvalidCameraId


# --------------------------------------------------------------------------------------------
# Finding the files


def _model_format(folder: Path) -> str | None:
    """``"bin"`` or ``"txt"`` when all three parts exist in that format (``.bin`` preferred)."""
    for ext in ("bin", "txt"):
        if all((folder / f"{part}.{ext}").is_file() for part in MODEL_PARTS):
            return ext
    return None


def looks_like_colmap_model(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds any of the COLMAP model files, complete or not.

    ``splatkit info`` uses it so a partial model (e.g. no ``images.bin``) is reported with what
    is missing rather than as an unknown format.
    """
    folder = Path(folder)
    return folder.is_dir() and any(
        (folder / f"{stem}{ext}").is_file() for stem in ("cameras", "images", "points3D") for ext in (".bin", ".txt"))


def is_colmap_model(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds ``cameras``, ``images`` and ``points3D`` (all ``.bin`` or all ``.txt``).

    Only checks that the files exist; :func:`read_colmap_model` checks their content.
    """
    folder = Path(folder)
    return folder.is_dir() and _model_format(folder) is not None


def _model_files(folder: Path) -> tuple[str, dict[str, Path]]:
    if not folder.exists():
        raise InputError(f"no such folder; {_COMPLETE}", path=folder)
    if not folder.is_dir():
        raise InputError(f"not a folder; {_COMPLETE}", path=folder)
    ext = _model_format(folder)
    if ext is not None:
        return ext, {part: folder / f"{part}.{ext}" for part in MODEL_PARTS}
    present = {ext: [p for p in MODEL_PARTS if (folder / f"{p}.{ext}").is_file()] for ext in ("bin", "txt")}
    # Report against the format the folder mostly uses (binary on a tie: COLMAP's default).
    ext = "bin" if len(present["bin"]) >= len(present["txt"]) else "txt"
    missing = [f"{p}.{ext}" for p in MODEL_PARTS if p not in present[ext]]
    found = sorted(f"{p}.{e}" for e in ("bin", "txt") for p in present[e])
    hint = ""
    models_below = sorted(str(sub.name) for sub in folder.iterdir() if sub.is_dir() and _model_format(sub))
    if models_below:
        hint = f"; complete models are in the subfolder(s) {models_below}: pass one of those"
    elif not found:
        hint = "; this folder holds no model files at all (a COLMAP run writes them to sparse/<n>/)"
    raise InputError(
        f"incomplete COLMAP model: missing {', '.join(missing)} (found: {', '.join(found) or 'none'}); "
        f"{_COMPLETE}{hint}", path=folder)


# --------------------------------------------------------------------------------------------
# Records -> Reconstruction


@dataclass(frozen=True)
class _Origin:
    """Where records came from, for error messages: a folder's files or a pycolmap object."""

    source: str
    files: dict[str, Path] | None = None

    def error(self, part: str, message: str) -> InputError:
        if self.files is not None:
            return InputError(message, path=self.files[part])
        return InputError(f"{self.source} ({part}): {message}")

    def name(self, part: str) -> str:
        return self.files[part].name if self.files is not None else part


@dataclass(frozen=True)
class _ReadReport:
    dropped_points: int
    dangling_2d_refs: int


def _sorted_unique(ids: np.ndarray, origin: _Origin, part: str, what: str) -> np.ndarray:
    """Permutation sorting ``ids``; raises when an id repeats or is invalid."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    if len(s) and s[0] < 0:
        raise origin.error(part, f"invalid {what} id (negative or >= 2**63)")
    dup = s[1:][s[1:] == s[:-1]]
    if len(dup):
        raise origin.error(part, f"{what} id {int(dup[0])} appears more than once; the model is corrupt")
    return order


def _build_cameras(records: list[CameraRecord], origin: _Origin) -> tuple[tuple[Camera, ...], dict[int, int]]:
    ids = np.array([c.camera_id for c in records], dtype=np.int64)
    _sorted_unique(ids, origin, "cameras", "camera")
    cameras = []
    # File order, not id order: frames refer to cameras by position, and keeping the writer's
    # order makes write -> read exact (COLMAP itself writes cameras sorted by id).
    for rec in records:
        try:
            cameras.append(Camera(model=rec.model, width=int(rec.width), height=int(rec.height),
                                  params=rec.params, camera_id=int(rec.camera_id)))
        except ContractError as e:
            raise origin.error("cameras", f"camera {rec.camera_id}: {e}") from e
    return tuple(cameras), {c.camera_id: i for i, c in enumerate(cameras)}


def _build_frames(images: list[ImageRecord], camera_pos: dict[int, int], origin: _Origin) -> Frames:
    names = [img.name for img in images]
    seen: dict[str, int] = {}
    for img in images:
        if img.name in seen:
            raise origin.error("images", f"image name {img.name!r} is used by images {seen[img.name]} and "
                                         f"{img.image_id}; names must be unique")
        seen[img.name] = img.image_id
        if img.camera_id not in camera_pos:
            raise origin.error("images", f"image {img.image_id} ({img.name}) uses camera {img.camera_id}, "
                                         f"which {origin.name('cameras')} does not hold "
                                         f"(cameras: {sorted(camera_pos)[:10]})")
    qvec = np.array([img.qvec for img in images], dtype=np.float64).reshape(-1, 4)
    norm = np.linalg.norm(qvec, axis=1)
    bad = np.flatnonzero(~np.isfinite(norm) | (norm < 1e-12))
    if len(bad):
        img = images[bad[0]]
        raise origin.error("images", f"image {img.image_id} ({img.name}) has an invalid rotation "
                                     f"quaternion {img.qvec.tolist()}")
    # COLMAP writes unit quaternions; normalising only removes the last-digit drift of text files.
    rotation = qvec_to_rotation(qvec / norm[:, None])
    translation = np.array([img.tvec for img in images], dtype=np.float64).reshape(-1, 3)
    try:
        return Frames(names=tuple(names), camera_index=np.array([camera_pos[i.camera_id] for i in images],
                                                                 dtype=np.int32),
                      rotation=rotation, translation=translation)
    except ContractError as e:
        raise origin.error("images", str(e)) from e


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each (s, n), int64 [sum(lengths)]."""
    total = int(lengths.sum())
    rank = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + rank


def _assemble(records: ModelRecords, origin: _Origin) -> tuple[Reconstruction, _ReadReport]:
    cameras, camera_pos = _build_cameras(records.cameras, origin)

    image_ids = np.array([img.image_id for img in records.images], dtype=np.int64)
    images = [records.images[i] for i in _sorted_unique(image_ids, origin, "images", "image")]
    image_ids = np.sort(image_ids)
    frames = _build_frames(images, camera_pos, origin)

    pts = records.points
    order = _sorted_unique(pts.point_ids, origin, "points3D", "point")
    elem_starts = np.cumsum(pts.track_lengths) - pts.track_lengths
    elems = _ranges(elem_starts[order], pts.track_lengths[order])
    point_ids = pts.point_ids[order]
    lengths = pts.track_lengths[order]
    elem_point = np.repeat(np.arange(len(order)), lengths)
    elem_image = pts.track_image_ids[elems]
    elem_idx = pts.track_point2d_idx[elems]

    # Image ids -> frame positions; every track element must name a registered image.
    frame = np.searchsorted(image_ids, elem_image).clip(0, max(len(image_ids) - 1, 0))
    known = (image_ids[frame] == elem_image) if len(image_ids) else np.zeros(len(elem_image), bool)
    if not known.all():
        m = int(np.flatnonzero(~known)[0])
        raise origin.error(
            "points3D",
            f"point {point_ids[elem_point[m]]} is observed in image id {elem_image[m]}, which "
            f"{origin.name('images')} does not hold ({int((~known).sum())} track element(s) name missing "
            "images). images.* lists only registered images; the files do not belong together or an image "
            "was removed without its observations: re-export the model")
    n2d = np.array([len(img.xy) for img in images], dtype=np.int64)
    in_range = (elem_idx >= 0) & (elem_idx < n2d[frame])
    if not in_range.all():
        m = int(np.flatnonzero(~in_range)[0])
        img = images[frame[m]]
        raise origin.error(
            "points3D",
            f"point {point_ids[elem_point[m]]} references 2D point {elem_idx[m]} of image {img.image_id} "
            f"({img.name}), which has only {n2d[frame[m]]} 2D points ({int((~in_range).sum())} such track "
            "element(s)). POINT2D_IDX must index the image's 2D point list; OpenSfM's export_colmap writes "
            "feature ids here instead: convert OpenSfM output with splatkit's OpenSfM reader")
    offsets = np.cumsum(n2d) - n2d
    flat_xy = np.concatenate([img.xy for img in images]) if images else np.zeros((0, 2))
    flat_ids = np.concatenate([img.point3d_ids for img in images]) if images else np.zeros(0, np.int64)
    g = offsets[frame] + elem_idx
    # COLMAP keeps both directions of each observation (track element <-> the 2D point's
    # POINT3D_ID); a 2D point claimed by another point means the files are inconsistent.
    claimed = flat_ids[g]
    wrong = (claimed != point_ids[elem_point]) & (claimed != -1)
    if wrong.any():
        m = int(np.flatnonzero(wrong)[0])
        img = images[frame[m]]
        raise origin.error(
            "points3D",
            f"point {point_ids[elem_point[m]]} claims 2D point {elem_idx[m]} of image {img.image_id} "
            f"({img.name}), but {origin.name('images')} assigns that 2D point to point {claimed[m]} "
            f"({int(wrong.sum())} such track element(s)); the model is inconsistent: re-export it")
    dangling = int(np.count_nonzero(~np.isin(flat_ids[flat_ids >= 0], point_ids)))
    if dangling:
        logger.debug("%s: %d 2D point(s) reference 3D points absent from %s; ignored",
                     origin.source, dangling, origin.name("points3D"))

    # The contract needs >= 2 observations per point (a point seen once is not triangulated);
    # COLMAP models can hold such points after manual edits or filtering, so drop and say so.
    keep = lengths >= 2
    dropped = int((~keep).sum())
    if dropped:
        logger.warning("%s: dropped %d of %d point(s) with fewer than 2 observations", origin.source,
                       dropped, len(keep))
    new_index = np.cumsum(keep) - 1
    elem_keep = keep[elem_point]
    try:
        points = Points(xyz=pts.xyz[order][keep], rgb=pts.rgb[order][keep], error=pts.error[order][keep])
        tracks = Tracks(point_index=new_index[elem_point[elem_keep]], frame_index=frame[elem_keep],
                        xy=flat_xy[g[elem_keep]])
    except ContractError as e:
        raise origin.error("points3D", str(e)) from e
    rec = Reconstruction(cameras=cameras, frames=frames, points=points, tracks=tracks, source=origin.source)
    try:
        rec.validate()
    except ContractError as e:
        raise InputError(f"invalid COLMAP model: {e}", path=origin.source) from e
    return rec, _ReadReport(dropped_points=dropped, dangling_2d_refs=dangling)


def _read(folder: str | os.PathLike[str]) -> tuple[Reconstruction, _ReadReport, str]:
    folder = Path(folder)
    ext, files = _model_files(folder)
    read_cameras, read_images, read_points = _READERS[ext]
    records = ModelRecords(cameras=read_cameras(files["cameras"]), images=read_images(files["images"]),
                           points=read_points(files["points3D"]))
    rec, report = _assemble(records, _Origin(source=str(folder), files=files))
    logger.info("read COLMAP %s model %s: %d camera(s), %d image(s), %d point(s), %d observation(s)",
                "binary" if ext == "bin" else "text", folder, len(rec.cameras), len(rec.frames),
                len(rec.points), len(rec.tracks))
    return rec, report, ext


def read_colmap_model(folder: str | os.PathLike[str]) -> Reconstruction:
    """Read a COLMAP sparse model folder (``.bin`` preferred over ``.txt`` when both exist).

    Parameters
    ----------
    folder
        A folder holding ``cameras``, ``images`` and ``points3D`` (e.g. ``<project>/sparse/0``);
        ``rigs`` and ``frames`` files, when present, are ignored.

    Returns
    -------
    Reconstruction
        Validated; ``source`` is ``str(folder)``, no georeference. Points with fewer than two
        observations are dropped (logged as a warning).

    Raises
    ------
    InputError
        Missing files (named), truncated or corrupt files, unsupported camera models, tracks that
        reference unknown images or 2D points, or values the contract rejects.
    """
    return _read(folder)[0]


# --------------------------------------------------------------------------------------------
# Reconstruction -> records -> files


def _records_from_reconstruction(rec: Reconstruction) -> ModelRecords:
    """Records with image ids ``1..F`` (frame order) and point ids ``1..P``."""
    for cam in rec.cameras:
        if not 0 <= cam.camera_id < _MAX_ID32:
            raise ContractError(f"Camera.camera_id {cam.camera_id} does not fit COLMAP's uint32 ids",
                                field="Camera.camera_id", expected=f"[0, {_MAX_ID32})", actual=cam.camera_id)
    if len(rec.frames) >= _MAX_ID32:
        raise ContractError("too many frames for COLMAP's uint32 image ids", field="Frames")
    cameras = [CameraRecord(camera_id=c.camera_id, model=c.model, width=c.width, height=c.height,
                            params=np.asarray(c.params)) for c in rec.cameras]

    tr = rec.tracks
    num_frames, num_points = len(rec.frames), len(rec.points)
    # Each observation becomes the next 2D point of its frame: rank within the frame, in
    # observation order (a stable sort keeps that order).
    by_frame = np.argsort(tr.frame_index, kind="stable")
    per_frame = np.bincount(tr.frame_index, minlength=num_frames)
    frame_start = np.cumsum(per_frame) - per_frame
    rank = np.empty(len(tr), np.int64)
    rank[by_frame] = np.arange(len(tr)) - frame_start[tr.frame_index[by_frame]]

    qvec = rotation_to_qvec(rec.frames.rotation) if num_frames else np.zeros((0, 4))
    images = []
    for f, name in enumerate(rec.frames.names):
        obs = by_frame[frame_start[f]:frame_start[f] + per_frame[f]]
        images.append(ImageRecord(
            image_id=f + 1, qvec=qvec[f], tvec=np.asarray(rec.frames.translation[f]),
            camera_id=rec.camera_of(f).camera_id, name=name, xy=np.asarray(tr.xy[obs]),
            point3d_ids=tr.point_index[obs] + 1))

    by_point = np.argsort(tr.point_index, kind="stable")
    points = PointRecords(
        point_ids=np.arange(1, num_points + 1, dtype=np.int64), xyz=np.asarray(rec.points.xyz),
        rgb=np.asarray(rec.points.rgb), error=np.asarray(rec.points.error),
        track_lengths=np.bincount(tr.point_index, minlength=num_points).astype(np.int64),
        track_image_ids=tr.frame_index[by_point] + 1, track_point2d_idx=rank[by_point])
    return ModelRecords(cameras=cameras, images=images, points=points)


def _check_names(rec: Reconstruction, binary: bool) -> None:
    for name in rec.frames.names:
        if binary and "\0" in name:
            raise ContractError(f"image name {name!r} contains a NUL byte, which images.bin cannot store",
                                field="Frames.names")
        if not binary and (name != name.strip() or any(ch.isspace() for ch in name)):
            raise ContractError(
                f"image name {name!r} contains whitespace, which COLMAP's images.txt reader splits on; "
                "write the binary format (binary=True)", field="Frames.names")


def write_colmap_model(rec: Reconstruction, folder: str | os.PathLike[str], *, binary: bool = True) -> Path:
    """Write ``rec`` as a COLMAP sparse model: ``cameras``, ``images``, ``points3D`` (.bin or .txt).

    The folder is built beside ``folder`` and swapped in whole, so readers never see a partial
    model and no stale ``rigs``/``frames`` file from an earlier model survives.

    Parameters
    ----------
    rec
        Validated before writing. Its georeference is not part of a COLMAP model and is not
        written (the SfM stage records it in ``georef.json``).
    folder
        Destination, e.g. ``<out>/sparse/0``. An existing folder is replaced only when it holds
        nothing but COLMAP model files.
    binary
        ``.bin`` files (default, what COLMAP and 3DGS loaders expect) or ``.txt``.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    ContractError
        ``rec`` is invalid or cannot be stored (ids beyond uint32, names the format cannot hold).
    InputError
        ``folder`` exists and holds files other than a COLMAP model's.
    """
    folder = Path(folder)
    rec.validate()
    _check_names(rec, binary)
    if folder.exists():
        if not folder.is_dir():
            raise InputError("exists and is not a folder; choose a folder path for the COLMAP model", path=folder)
        others = sorted(p.name for p in folder.iterdir() if p.name not in _MODEL_FILE_NAMES)
        if others:
            raise InputError(
                f"refusing to replace a folder that holds more than a COLMAP model ({', '.join(others[:5])}"
                f"{', ...' if len(others) > 5 else ''}); write the model to a new or empty folder", path=folder)
    records = _records_from_reconstruction(rec)
    if binary:
        contents = {"cameras.bin": encode_cameras_binary(records.cameras),
                    "images.bin": encode_images_binary(records.images),
                    "points3D.bin": encode_points3d_binary(records.points)}
    else:
        contents = {"cameras.txt": encode_cameras_text(records.cameras).encode("utf-8"),
                    "images.txt": encode_images_text(records.images).encode("utf-8"),
                    "points3D.txt": encode_points3d_text(records.points).encode("utf-8")}
    with atomic_directory(folder) as tmp:
        for name, data in contents.items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    logger.info("wrote COLMAP %s model %s: %d camera(s), %d image(s), %d point(s)",
                "binary" if binary else "text", folder, len(rec.cameras), len(rec.frames), len(rec.points))
    return folder


# --------------------------------------------------------------------------------------------
# Summary for `splatkit info`


def info(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Summary of a COLMAP model folder, JSON-able (for ``splatkit info``).

    Returns
    -------
    dict
        ``path``, ``format`` (``"binary"``/``"text"``), ``cameras`` (list of ``camera_id``,
        ``model``, ``width``, ``height``, ``params``), ``registered_images``, ``points``,
        ``observations``, ``mean_track_length``, ``mean_reprojection_error`` (px, mean of the
        points' ERROR field; None without points), ``bounds`` (``min``/``max`` of point xyz, and
        ``p1``/``p99`` per-axis percentiles, which ignore stray points; None without points),
        ``camera_center_bounds`` (``min``/``max``), ``dropped_points`` (observed < 2 times).

    Raises
    ------
    InputError
        As :func:`read_colmap_model`.
    """
    rec, report, ext = _read(folder)
    xyz = rec.points.xyz
    centers = rec.frames.centers()
    num_points = len(rec.points)
    return {
        "path": str(folder),
        "format": "binary" if ext == "bin" else "text",
        "cameras": [{"camera_id": c.camera_id, "model": c.model, "width": c.width, "height": c.height,
                     "params": c.params.tolist()} for c in rec.cameras],
        "registered_images": len(rec.frames),
        "points": num_points,
        "observations": len(rec.tracks),
        "mean_track_length": len(rec.tracks) / num_points if num_points else 0.0,
        "mean_reprojection_error": float(rec.points.error.mean()) if num_points else None,
        "bounds": None if not num_points else {
            "min": xyz.min(axis=0).tolist(), "max": xyz.max(axis=0).tolist(),
            "p1": np.percentile(xyz, 1, axis=0).tolist(), "p99": np.percentile(xyz, 99, axis=0).tolist()},
        "camera_center_bounds": None if not len(rec.frames) else {
            "min": centers.min(axis=0).tolist(), "max": centers.max(axis=0).tolist()},
        "dropped_points": report.dropped_points,
    }


# --------------------------------------------------------------------------------------------
# pycolmap conversions


def to_pycolmap(rec: Reconstruction) -> "pycolmap.Reconstruction":
    """A ``pycolmap.Reconstruction`` equal to what :func:`write_colmap_model` writes.

    Ids follow the same rules (cameras keep ``camera_id``, images ``1..F``, points ``1..P``);
    pycolmap gives each camera a trivial rig and each image a trivial frame. Goes through a
    temporary binary model, which is several times faster than building the model object by
    object through pycolmap's Python API. Needs pycolmap (tested with 4.2.1).
    """
    import pycolmap

    with tempfile.TemporaryDirectory(prefix="splatkit-colmap-") as tmp:
        folder = write_colmap_model(rec, Path(tmp) / "model")
        return pycolmap.Reconstruction(str(folder))


def from_pycolmap(reconstruction: "pycolmap.Reconstruction", *, source: str = "pycolmap") -> Reconstruction:
    """Convert a ``pycolmap.Reconstruction`` (e.g. mapper output) with the same rules as the reader.

    Only registered images become frames; points with fewer than two observations are dropped
    with a warning. Goes through a temporary binary model written by pycolmap (a
    large model converts in about a second instead of tens of seconds of per-object access).

    Parameters
    ----------
    reconstruction
        A pycolmap reconstruction.
    source
        Stored as :attr:`Reconstruction.source` and used in error messages.

    Raises
    ------
    InputError
        Unsupported camera models or inconsistent tracks (as :func:`read_colmap_model`).
    """
    for camera_id, cam in sorted(reconstruction.cameras.items()):
        model = getattr(cam.model, "name", None) or str(cam.model_name)
        if model not in CAMERA_MODELS:
            raise InputError(f"{source}: camera {camera_id} uses the COLMAP model {model}, which splatkit does "
                             f"not support (supported: {', '.join(CAMERA_MODELS)}); undistort to PINHOLE first")
    with tempfile.TemporaryDirectory(prefix="splatkit-colmap-") as tmp:
        reconstruction.write(tmp)  # binary, as COLMAP's Reconstruction::Write
        folder = Path(tmp)
        records = ModelRecords(cameras=read_cameras_binary(folder / "cameras.bin"),
                               images=read_images_binary(folder / "images.bin"),
                               points=read_points3d_binary(folder / "points3D.bin"))
    rec, _ = _assemble(records, _Origin(source=source))
    return rec
