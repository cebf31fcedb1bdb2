"""OpenSfM dataset folders: ``reconstruction.json``, ``tracks.csv``, ``reference_lla.json``.

Readers only: they parse and check OpenSfM's files and return plain numpy-backed records in
OpenSfM's own conventions (normalized image coordinates, axis-angle poses). Converting them to a
:class:`~splatkit.contracts.Reconstruction` (COLMAP cameras in pixels) is the job of the SfM stage
``sfm/opensfm`` (:mod:`splatkit.sfm.opensfm_backend`).

Formats (OpenSfM 0.5.x, ``opensfm/io.py``, ``opensfm/src/map/src/tracks_manager.cc``):

- ``reconstruction.json``: a JSON list of partial reconstructions, each with its own frame:
  ``{"cameras": {id: {...}}, "shots": {image: {"rotation": [3], "translation": [3], "camera": id,
  ...}}, "points": {track_id: {"coordinates": [3], "color": [3]}}, "reference_lla": {...}}``.
  Shot poses are ``cam_from_world`` (``x_cam = R(rotation) X + translation``, OpenCV axes).
- ``tracks.csv``: tab-separated observations, one per line, normalized image coordinates (origin
  at the image centre, larger image side = 1). First line ``OPENSFM_TRACKS_VERSION_v<N>``; v0 files
  have no header. Columns: v0 ``image track feature x y r g b``; v1 adds ``scale`` after ``y``;
  v2 adds ``segmentation instance`` at the end.
- ``reference_lla.json``: ``{"latitude", "longitude", "altitude"}``, the origin of the
  topocentric (East-North-Up, metres) world frame of every reconstruction in the folder.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from splatkit.contracts.georeference import Georeference
from splatkit.errors import ContractError, InputError

__all__ = [
    "RECONSTRUCTION_FILE",
    "TRACKS_FILE",
    "REFERENCE_LLA_FILE",
    "COLMAP_EXPORT_DIR",
    "TRACKS_HEADER",
    "OpenSfMShot",
    "OpenSfMPartial",
    "OpenSfMTracks",
    "read_reconstruction_json",
    "read_tracks_csv",
    "read_reference_lla",
    "is_opensfm_folder",
    "refuse_colmap_export",
    "info",
    "reference_matches",
]

logger = logging.getLogger(__name__)

RECONSTRUCTION_FILE = "reconstruction.json"
TRACKS_FILE = "tracks.csv"
REFERENCE_LLA_FILE = "reference_lla.json"
#: Where ``opensfm export_colmap`` writes (``opensfm/actions/export_colmap.py``).
COLMAP_EXPORT_DIR = "colmap_export"
TRACKS_HEADER = "OPENSFM_TRACKS_VERSION"
#: Columns per tracks.csv version (``tracks_manager.cc::InstanciateFromStreamV*``).
_TRACKS_COLUMNS = {0: 8, 1: 9, 2: 11}


@dataclass(frozen=True, kw_only=True)
class OpenSfMShot:
    """One registered image of a partial reconstruction, in OpenSfM's conventions.

    Attributes
    ----------
    name : str
        Image file name (the shot id).
    camera : str
        Key into :attr:`OpenSfMPartial.cameras`.
    rotation : float64 [3]
        Axis-angle (Rodrigues) vector of the ``cam_from_world`` rotation.
    translation : float64 [3]
        ``cam_from_world`` translation.
    gps_position : float64 [3] or None
        GPS position in the topocentric world frame, when OpenSfM had one.
    """

    name: str
    camera: str
    rotation: np.ndarray
    translation: np.ndarray
    gps_position: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class OpenSfMPartial:
    """One entry of ``reconstruction.json`` (a partial reconstruction with its own frame).

    Attributes
    ----------
    index : int
        Position in the file's list.
    cameras : Mapping[str, Mapping[str, Any]]
        OpenSfM camera JSON objects by camera id (normalized focal/principal point).
    shots : Mapping[str, OpenSfMShot]
        Registered images by name.
    point_ids : tuple[str, ...] [P]
        Track ids of the 3D points (the keys of ``points``; they match ``tracks.csv``).
    point_xyz : float64 [P, 3]
        World coordinates.
    point_rgb : float64 [P, 3]
        Colours, 0..255 floats as OpenSfM writes them.
    reference : Georeference or None
        The reconstruction's own ``reference_lla``, when written.
    """

    index: int
    cameras: Mapping[str, Mapping[str, Any]]
    shots: Mapping[str, OpenSfMShot]
    point_ids: tuple[str, ...]
    point_xyz: np.ndarray
    point_rgb: np.ndarray
    reference: Georeference | None = None

    @property
    def num_shots(self) -> int:
        return len(self.shots)

    @property
    def num_points(self) -> int:
        return len(self.point_ids)


@dataclass(frozen=True, kw_only=True, eq=False)
class OpenSfMTracks:
    """All observations of ``tracks.csv`` as flat arrays (M observations).

    Attributes
    ----------
    version : int
        File version (0, 1 or 2).
    images : tuple[str, ...]
        Distinct image names, in order of first appearance.
    image_index : int64 [M]
        Index into :attr:`images`.
    track_ids : tuple[str, ...] [M]
        Track id of each observation (the point keys of ``reconstruction.json``).
    feature_id : int64 [M]
        Row in the image's feature file.
    xy : float64 [M, 2]
        Normalized image coordinates (origin at the image centre, larger side = 1).
    scale : float64 [M]
        Normalized feature scale (0 for v0 files).
    rgb : uint8 [M, 3]
        Colour of the feature.
    """

    version: int
    images: tuple[str, ...]
    image_index: np.ndarray
    track_ids: tuple[str, ...]
    feature_id: np.ndarray
    xy: np.ndarray
    scale: np.ndarray
    rgb: np.ndarray

    def __len__(self) -> int:
        return len(self.track_ids)


# --------------------------------------------------------------------------------------------
# reconstruction.json


def read_reconstruction_json(path: str | Path) -> list[OpenSfMPartial]:
    """Read every partial reconstruction of an OpenSfM ``reconstruction.json``.

    Parameters
    ----------
    path
        The JSON file (``reconstruction.json`` or e.g. ``reconstruction_example.json``).

    Returns
    -------
    list[OpenSfMPartial]
        In file order (OpenSfM writes the largest first, but do not rely on it).

    Raises
    ------
    InputError
        When the file is missing, not JSON, or a member is malformed (the message names it).
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, dict) and "shots" in data:
        data = [data]  # a single reconstruction object, as some tools write it
    if not isinstance(data, list):
        raise InputError("expected a JSON list of reconstructions (OpenSfM reconstruction.json), "
                         f"got a {type(data).__name__}", path=path)
    return [_partial_from_json(i, obj, path) for i, obj in enumerate(data)]


def _partial_from_json(index: int, obj: Any, path: Path) -> OpenSfMPartial:
    where = f"reconstructions[{index}]"
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be a JSON object, got {type(obj).__name__}", path=path)
    cameras = obj.get("cameras", {})
    shots_obj = obj.get("shots", {})
    points_obj = obj.get("points", {})
    for name, value in (("cameras", cameras), ("shots", shots_obj), ("points", points_obj)):
        if not isinstance(value, dict):
            raise InputError(f"{where}.{name} must be a JSON object keyed by id", path=path)
    for cam_id, cam in cameras.items():
        if not isinstance(cam, dict):
            raise InputError(f"{where}.cameras[{cam_id!r}] must be a JSON object", path=path)
    shots: dict[str, OpenSfMShot] = {}
    for name, shot in shots_obj.items():
        swhere = f"{where}.shots[{name!r}]"
        if not isinstance(shot, dict):
            raise InputError(f"{swhere} must be a JSON object", path=path)
        cam = shot.get("camera")
        if not isinstance(cam, str) or cam not in cameras:   # a list or an object is no camera id (unhashable)
            raise InputError(f"{swhere}.camera {cam!r} is not one of the reconstruction's cameras "
                             f"{sorted(cameras)}", path=path)
        gps = shot.get("gps_position")
        shots[name] = OpenSfMShot(
            name=name,
            camera=cam,
            rotation=_vector(shot.get("rotation"), f"{swhere}.rotation", path),
            # OpenSfM's pose_from_json treats a missing translation as zero.
            translation=_vector(shot.get("translation", [0.0, 0.0, 0.0]), f"{swhere}.translation", path),
            gps_position=None if gps is None else _vector(gps, f"{swhere}.gps_position", path),
        )
    point_ids = tuple(str(k) for k in points_obj)
    xyz = np.zeros((len(point_ids), 3))
    rgb = np.zeros((len(point_ids), 3))
    for i, (pid, point) in enumerate(points_obj.items()):
        pwhere = f"{where}.points[{pid!r}]"
        if not isinstance(point, dict):
            raise InputError(f"{pwhere} must be a JSON object", path=path)
        xyz[i] = _vector(point.get("coordinates"), f"{pwhere}.coordinates", path, finite=False)
        rgb[i] = _vector(point.get("color", [0, 0, 0]), f"{pwhere}.color", path)
    reference = None
    if "reference_lla" in obj:
        reference = _georeference(obj["reference_lla"], f"{where}.reference_lla", path)
    return OpenSfMPartial(
        index=index,
        cameras=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in cameras.items()}),
        shots=MappingProxyType(shots),
        point_ids=point_ids,
        point_xyz=xyz,
        point_rgb=rgb,
        reference=reference,
    )


def _vector(value: Any, where: str, path: Path, *, finite: bool = True) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):   # OverflowError: an integer beyond float64 (1e400)
        arr = np.zeros(0)
    if arr.shape != (3,):
        raise InputError(f"{where} must be a list of 3 numbers, got {value!r}", path=path)
    if finite and not np.isfinite(arr).all():
        raise InputError(f"{where} has non-finite values {value!r}", path=path)
    return arr


def _georeference(obj: Any, where: str, path: Path) -> Georeference:
    try:
        return Georeference(lat=float(obj["latitude"]), lon=float(obj["longitude"]),
                            alt=float(obj.get("altitude", 0.0)))
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError, ContractError) as e:
        raise InputError(f"{where} must be {{\"latitude\", \"longitude\", \"altitude\"}} numbers in range, "
                         f"got {obj!r}", path=path) from e


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as e:
        raise InputError("file not found", path=path) from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not valid JSON ({e}); is the file truncated?", path=path) from e
    except RecursionError as e:
        # json recurses once per nesting level; OpenSfM files are a few levels deep
        raise InputError("not an OpenSfM file: its JSON is nested too deeply", path=path) from e
    except OSError as e:
        raise InputError(f"cannot read the file ({e.strerror or e})", path=path) from e


def read_reference_lla(path: str | Path) -> Georeference:
    """Read ``reference_lla.json``: the WGS84 origin of OpenSfM's topocentric (ENU) world frame.

    Raises
    ------
    InputError
        When the file is missing or lacks numeric latitude/longitude.
    """
    path = Path(path)
    return _georeference(_load_json(path), "reference_lla", path)


# --------------------------------------------------------------------------------------------
# tracks.csv


def read_tracks_csv(path: str | Path) -> OpenSfMTracks:
    """Read an OpenSfM ``tracks.csv`` (text versions 0, 1 and 2).

    Duplicate ``(image, track)`` observations keep the last line, like OpenSfM's
    ``TracksManager::AddObservation``.

    Raises
    ------
    InputError
        On a binary file (OpenDroneMap's fork writes one), an unknown version, or a line whose
        column count or numbers do not fit the version (the message gives the line number).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise InputError("file not found", path=path) from e
    except OSError as e:
        raise InputError(f"cannot read tracks file: {e}", path=path) from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise InputError(
            "tracks file is binary, not OpenSfM's tab-separated text (OpenDroneMap's OpenSfM fork writes a "
            "binary tracks.csv). Re-export it as text with mapillary OpenSfM, e.g. load the tracks manager and "
            "write it back with TracksManager.write_to_file from upstream OpenSfM", path=path)
    lines = text.splitlines()
    version, start = 0, 0
    if lines and lines[0].startswith(TRACKS_HEADER):
        start = 1
        suffix = lines[0][len(TRACKS_HEADER):].strip()
        if not suffix.startswith("_v") or not suffix[2:].isdigit() or int(suffix[2:]) not in _TRACKS_COLUMNS:
            raise InputError(f"unknown tracks file version {lines[0]!r}; splatkit reads "
                             f"{', '.join(f'{TRACKS_HEADER}_v{v}' for v in sorted(_TRACKS_COLUMNS))}", path=path)
        version = int(suffix[2:])
    ncol = _TRACKS_COLUMNS[version]

    latest: dict[tuple[str, str], tuple[int, str, str, str, str, str, str, str]] = {}
    for lineno, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != ncol:
            raise InputError(
                f"line {lineno} has {len(cols)} tab-separated values; a version {version} tracks file needs "
                f"exactly {ncol} ({_columns_doc(version)}){_version_hint(len(cols), version)}", path=path)
        if version == 0:
            image, track, feature, x, y, r, g, b = cols
            scale = "0"
        else:
            image, track, feature, x, y, scale, r, g, b = cols[:9]
        latest[(image, track)] = (lineno, feature, x, y, scale, r, g, b)
    m = len(latest)
    images: dict[str, int] = {}
    image_index = np.empty(m, np.int64)
    feature_id = np.empty(m, np.int64)
    xy = np.empty((m, 2))
    scale_arr = np.empty(m)
    rgb = np.empty((m, 3), np.int64)
    track_ids: list[str] = []
    for i, ((image, track), (lineno, feature, x, y, scale, r, g, b)) in enumerate(latest.items()):
        try:
            feature_id[i] = int(feature)
            xy[i] = float(x), float(y)
            scale_arr[i] = float(scale)
            rgb[i] = int(r), int(g), int(b)
        except ValueError as e:
            raise InputError(f"line {lineno}: cannot parse numbers ({e}); columns are {_columns_doc(version)}",
                             path=path) from e
        image_index[i] = images.setdefault(image, len(images))
        track_ids.append(track)
    if not np.isfinite(xy).all():
        bad = int(np.flatnonzero(~np.isfinite(xy).all(axis=1))[0])
        raise InputError(f"observation {bad} ({track_ids[bad]!r}) has non-finite coordinates", path=path)
    if (rgb < 0).any() or (rgb > 255).any():
        raise InputError("colours must be integers in 0..255", path=path)
    return OpenSfMTracks(version=version, images=tuple(images), image_index=image_index,
                         track_ids=tuple(track_ids), feature_id=feature_id, xy=xy, scale=scale_arr,
                         rgb=rgb.astype(np.uint8))


def _columns_doc(version: int) -> str:
    cols = ["image", "track_id", "feature_id", "x", "y"] + ([] if version == 0 else ["scale"]) + ["r", "g", "b"]
    if version == 2:
        cols += ["segmentation_id", "instance_id"]
    return " ".join(cols)


def _version_hint(found: int, version: int) -> str:
    for v, n in _TRACKS_COLUMNS.items():
        if n == found and v != version:
            header = "no header line" if v == 0 else f"the header line {TRACKS_HEADER}_v{v}"
            return f"; the line looks like version {v}, which has {header}"
    return ""


# --------------------------------------------------------------------------------------------
# folders


def _looks_like_colmap_export(folder: Path) -> bool:
    """True for the output folder of ``opensfm export_colmap`` (see :func:`refuse_colmap_export`)."""
    if not folder.is_dir():
        return False
    if folder.name == COLMAP_EXPORT_DIR:
        return True
    names = {p.name for p in folder.iterdir()}
    has_model = any(f"{stem}.{ext}" in names for stem in ("cameras", "images", "points3D") for ext in ("bin", "txt"))
    return has_model and ("colmap_database.db" in names or "project.ini" in names) and RECONSTRUCTION_FILE not in names


def refuse_colmap_export(path: str | Path) -> None:
    """Raise :class:`InputError` when ``path`` is (or only holds) OpenSfM's ``colmap_export`` output.

    ``opensfm export_colmap`` writes ``images.*`` with only the keypoints that have a 3D point
    (compacted), while ``points3D.*`` tracks index the *full* OpenSfM feature list: the two files
    disagree and COLMAP/pycolmap readers fail or, worse, a tolerant reader yields an empty model
    (OpenSfM/OpenSfM#31). It also merges partial reconstructions that live in different frames.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    export = None
    if _looks_like_colmap_export(folder):
        export = folder
    elif folder.is_dir() and not (folder / RECONSTRUCTION_FILE).exists() and (folder / COLMAP_EXPORT_DIR).is_dir():
        export = folder / COLMAP_EXPORT_DIR
    if export is None:
        return
    dataset = export.parent
    wanted = [dataset / RECONSTRUCTION_FILE, dataset / TRACKS_FILE]
    present = ", ".join(f"{p} ({'found' if p.exists() else 'missing'})" for p in wanted)
    raise InputError(
        f"{export} is the output of `opensfm export_colmap`, which is not a valid COLMAP model: its images "
        "list only the keypoints that have a 3D point, while its points3D tracks index OpenSfM's full "
        "feature list, so the two files disagree (pycolmap fails with an IndexError, tolerant readers give an "
        "empty point cloud); it also merges partial reconstructions that live in different frames. Pass the "
        f"OpenSfM dataset folder {dataset} instead, which must hold {present}; splatkit converts those "
        "natively (rerun `opensfm reconstruct` there if they are missing)", path=path)


def is_opensfm_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds an OpenSfM ``reconstruction.json`` (the file the converter needs)."""
    folder = Path(folder)
    return folder.is_dir() and (folder / RECONSTRUCTION_FILE).is_file()


def info(folder: str | Path) -> dict[str, Any]:
    """A JSON-able summary of an OpenSfM dataset folder for ``splatkit info``.

    Reads ``reconstruction.json`` (partials, shots, points, camera projection types),
    ``tracks.csv`` (version, observation count) and ``reference_lla.json`` when present.

    Raises
    ------
    InputError
        When ``folder`` is not an OpenSfM dataset folder or its files are malformed.
    """
    folder = Path(folder)
    refuse_colmap_export(folder)
    if not is_opensfm_folder(folder):
        raise InputError(f"not an OpenSfM dataset folder: no {RECONSTRUCTION_FILE}", path=folder)
    partials = read_reconstruction_json(folder / RECONSTRUCTION_FILE)
    out: dict[str, Any] = {
        "format": "opensfm",
        "path": str(folder),
        "reconstructions": [
            {
                "index": p.index,
                "shots": p.num_shots,
                "points": p.num_points,
                "cameras": {k: str(v.get("projection_type", "perspective")) for k, v in p.cameras.items()},
            }
            for p in partials
        ],
    }
    tracks_path = folder / TRACKS_FILE
    if tracks_path.is_file():
        tracks = read_tracks_csv(tracks_path)
        out["tracks"] = {"version": tracks.version, "observations": len(tracks), "images": len(tracks.images),
                         "tracks": len(set(tracks.track_ids))}
    ref_path = folder / REFERENCE_LLA_FILE
    if ref_path.is_file():
        out["reference_lla"] = read_reference_lla(ref_path).to_dict()
    images_dir = folder / "images"
    if images_dir.is_dir():
        out["images"] = sum(1 for p in images_dir.iterdir() if p.is_file())
    out["has_undistorted"] = (folder / "undistorted" / RECONSTRUCTION_FILE).is_file()
    out["has_colmap_export"] = (folder / COLMAP_EXPORT_DIR).is_dir()
    return out


def reference_matches(a: Georeference, b: Georeference) -> bool:
    """True when two references name the same origin (to ~1 mm)."""
    return (math.isclose(a.lat, b.lat, abs_tol=1e-8) and math.isclose(a.lon, b.lon, abs_tol=1e-8)
            and math.isclose(a.alt, b.alt, abs_tol=1e-3))
