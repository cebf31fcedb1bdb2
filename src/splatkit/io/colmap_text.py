"""COLMAP text sparse model files (``cameras.txt``, ``images.txt``, ``points3D.txt``).

Format from COLMAP ``src/colmap/scene/reconstruction_io_text.cc``: ``#`` lines are comments;
``cameras.txt`` has ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]``; ``images.txt`` has two lines per
image, ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` and then ``X Y POINT3D_ID`` triples (the
second line may be empty and is read unconditionally, as COLMAP does); ``points3D.txt`` has
``POINT3D_ID X Y Z R G B ERROR (IMAGE_ID POINT2D_IDX)...``.

Floats are written with Python's shortest round-trip ``repr``, so text models reproduce every
float64 exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from splatkit.contracts.reconstruction import CAMERA_MODELS
from splatkit.errors import InputError
from splatkit.io.colmap_records import CameraRecord, ImageRecord, PointRecords

__all__ = [
    "read_cameras_text",
    "read_images_text",
    "read_points3d_text",
    "encode_cameras_text",
    "encode_images_text",
    "encode_points3d_text",
]


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e}); is it a binary model file with a .txt name?", path=path) from e


def _data_lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) of non-empty, non-comment lines."""
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def _bad_line(path: Path, number: int, expected: str, line: str, cause: Exception | None = None) -> InputError:
    shown = line if len(line) <= 120 else line[:117] + "..."
    why = f" ({cause})" if cause else ""
    return InputError(f"line {number}: expected {expected}, got {shown!r}{why}", path=path)


_U32_MAX = 2**32 - 1
_I64_MAX = 2**63 - 1


def _int(token: str, high: int) -> int:
    """``int(token)`` in ``0..high`` (COLMAP ids and sizes are unsigned); ValueError otherwise.

    The bound keeps a 30-digit id from reaching an int64 array later (OverflowError).
    """
    value = int(token)
    if not 0 <= value <= high:
        raise ValueError(f"{token} is outside 0..{high}")
    return value


def read_cameras_text(path: Path) -> list[CameraRecord]:
    """Read ``cameras.txt`` into records, in file order."""
    cameras = []
    for number, line in _data_lines(_lines(path)):
        tokens = line.split()
        expected = "CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]"
        if len(tokens) < 4:
            raise _bad_line(path, number, expected, line)
        model = tokens[1]
        if model not in CAMERA_MODELS:
            raise InputError(
                f"line {number}: camera model {model!r} is not supported by splatkit (supported: "
                f"{', '.join(CAMERA_MODELS)}); undistort the model to PINHOLE first", path=path)
        n_params = len(CAMERA_MODELS[model][1])
        if len(tokens) != 4 + n_params:
            raise _bad_line(path, number, f"{expected} with {n_params} {model} parameters", line)
        try:
            cameras.append(CameraRecord(camera_id=_int(tokens[0], _U32_MAX), model=model,
                                        width=_int(tokens[2], _I64_MAX), height=_int(tokens[3], _I64_MAX),
                                        params=np.array([float(t) for t in tokens[4:]], dtype=np.float64)))
        except ValueError as e:
            raise _bad_line(path, number, expected, line, e) from e
    return cameras


def read_images_text(path: Path) -> list[ImageRecord]:
    """Read ``images.txt`` into records, in file order."""
    lines = _lines(path)
    images = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        number = i + 1
        i += 1
        if not line or line.startswith("#"):
            continue
        expected = "IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME"
        # The name is the rest of the line: COLMAP writes it unquoted.
        tokens = line.split(maxsplit=9)
        if len(tokens) != 10:
            raise _bad_line(path, number, expected, line)
        try:
            image_id = _int(tokens[0], _U32_MAX)
            pose = np.array([float(t) for t in tokens[1:8]], dtype=np.float64)
            camera_id = _int(tokens[8], _U32_MAX)
        except ValueError as e:
            raise _bad_line(path, number, expected, line, e) from e
        # The POINTS2D line always follows, even when empty (an image without 2D points).
        points_line = lines[i].strip() if i < len(lines) else ""
        i += 1
        items = points_line.split()
        if len(items) % 3:
            raise _bad_line(path, number + 1, f"X Y POINT3D_ID triples for image {image_id}", points_line)
        try:
            table = np.array(items, dtype=object).reshape(-1, 3)
            xy = table[:, :2].astype(np.float64)
            point3d_ids = table[:, 2].astype(np.int64)
        except (ValueError, OverflowError) as e:
            raise _bad_line(path, number + 1, f"X Y POINT3D_ID triples for image {image_id}",
                            points_line, e) from e
        images.append(ImageRecord(image_id=image_id, qvec=pose[:4], tvec=pose[4:], camera_id=camera_id,
                                  name=tokens[9].strip(), xy=xy.reshape(-1, 2),
                                  point3d_ids=np.where(point3d_ids < 0, -1, point3d_ids)))
    return images


def read_points3d_text(path: Path) -> PointRecords:
    """Read ``points3D.txt`` into flat arrays, in file order."""
    ids: list[int] = []
    values: list[list[float]] = []
    rgb: list[list[int]] = []
    lengths: list[int] = []
    track: list[str] = []
    expected = "POINT3D_ID X Y Z R G B ERROR (IMAGE_ID POINT2D_IDX)..."
    for number, line in _data_lines(_lines(path)):
        tokens = line.split()
        if len(tokens) < 8 or (len(tokens) - 8) % 2:
            raise _bad_line(path, number, expected, line)
        try:
            ids.append(_int(tokens[0], _I64_MAX))
            values.append([float(t) for t in (*tokens[1:4], tokens[7])])
            color = [int(t) for t in tokens[4:7]]
        except ValueError as e:
            raise _bad_line(path, number, expected, line, e) from e
        if not all(0 <= c <= 255 for c in color):
            raise _bad_line(path, number, "R G B in 0..255", line)
        rgb.append(color)
        lengths.append((len(tokens) - 8) // 2)
        track.extend(tokens[8:])
    try:
        elems = np.array(track, dtype=object).astype(np.int64).reshape(-1, 2)
    except (ValueError, OverflowError) as e:
        raise InputError(f"a track holds a non-integer IMAGE_ID or POINT2D_IDX ({e})", path=path) from e
    table = np.array(values, dtype=np.float64).reshape(-1, 4)
    return PointRecords(point_ids=np.array(ids, dtype=np.int64), xyz=table[:, :3].copy(),
                        rgb=np.array(rgb, dtype=np.uint8).reshape(-1, 3), error=table[:, 3].copy(),
                        track_lengths=np.array(lengths, dtype=np.int64),
                        track_image_ids=elems[:, 0].copy(), track_point2d_idx=elems[:, 1].copy())


def _floats(values: np.ndarray) -> str:
    # .tolist() gives Python floats, whose repr is the shortest string that round-trips exactly.
    return " ".join(map(repr, np.asarray(values, dtype=np.float64).tolist()))


def encode_cameras_text(cameras: list[CameraRecord]) -> str:
    """Text of ``cameras.txt`` (COLMAP's header comment, then one line per camera)."""
    out = ["# Camera list with one line of data per camera:",
           "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
           f"# Number of cameras: {len(cameras)}"]
    for cam in cameras:
        out.append(f"{cam.camera_id} {cam.model} {cam.width} {cam.height} {_floats(cam.params)}")
    return "\n".join(out) + "\n"


def encode_images_text(images: list[ImageRecord]) -> str:
    """Text of ``images.txt``; names must not contain whitespace (COLMAP splits on spaces)."""
    out = ["# Image list with two lines of data per image:",
           "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
           "#   POINTS2D[] as (X, Y, POINT3D_ID)",
           f"# Number of images: {len(images)}"]
    for img in images:
        out.append(f"{img.image_id} {_floats(img.qvec)} {_floats(img.tvec)} {img.camera_id} {img.name}")
        xy = img.xy.tolist()
        ids = img.point3d_ids.tolist()
        out.append(" ".join(f"{x!r} {y!r} {pid}" for (x, y), pid in zip(xy, ids)))
    return "\n".join(out) + "\n"


def encode_points3d_text(points: PointRecords) -> str:
    """Text of ``points3D.txt``."""
    out = ["# 3D point list with one line of data per point:",
           "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
           f"# Number of points: {len(points)}"]
    ends = np.cumsum(points.track_lengths).tolist()
    image_ids = points.track_image_ids.tolist()
    idx = points.track_point2d_idx.tolist()
    xyz, rgb, error = points.xyz.tolist(), points.rgb.tolist(), points.error.tolist()
    start = 0
    for i, pid in enumerate(points.point_ids.tolist()):
        end = ends[i]
        track = " ".join(f"{image_ids[j]} {idx[j]}" for j in range(start, end))
        x, y, z = xyz[i]
        r, g, b = rgb[i]
        out.append(f"{pid} {x!r} {y!r} {z!r} {r} {g} {b} {error[i]!r} {track}".rstrip())
        start = end
    return "\n".join(out) + "\n"
