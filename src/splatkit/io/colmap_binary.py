"""COLMAP binary sparse model files (``cameras.bin``, ``images.bin``, ``points3D.bin``).

Layouts from COLMAP ``src/colmap/scene/reconstruction_io_binary.cc`` (little endian, no padding):

- ``cameras.bin``: ``u64 n``; per camera ``u32 camera_id, i32 model_id, u64 width, u64 height,
  f64 params[N(model)]``.
- ``images.bin``: ``u64 n``; per image ``u32 image_id, f64 qw qx qy qz, f64 tx ty tz,
  u32 camera_id, name bytes + NUL, u64 n2d, n2d x (f64 x, f64 y, u64 point3D_id)``
  (2**64-1 = no 3D point).
- ``points3D.bin``: ``u64 n``; per point ``u64 point3D_id, f64 x y z, u8 r g b, f64 error,
  u64 track_len, track_len x (u32 image_id, u32 point2D_idx)``.

Readers raise :class:`InputError` naming the file on truncation or impossible values.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from splatkit.contracts.reconstruction import CAMERA_MODELS
from splatkit.errors import InputError
from splatkit.io.colmap_records import CameraRecord, ImageRecord, PointRecords

__all__ = [
    "read_cameras_binary",
    "read_images_binary",
    "read_points3d_binary",
    "encode_cameras_binary",
    "encode_images_binary",
    "encode_points3d_binary",
]

_INVALID_POINT3D_ID = np.uint64(2**64 - 1)
_MODEL_BY_ID = {model_id: (name, len(params)) for name, (model_id, params) in CAMERA_MODELS.items()}
# Models COLMAP 4.x knows beyond splatkit's contract (ids 11-17), named only for error messages.
_UNSUPPORTED_MODELS = {11: "RAD_TAN_THIN_PRISM_FISHEYE", 12: "SIMPLE_DIVISION", 13: "DIVISION",
                       14: "SIMPLE_FISHEYE", 15: "FISHEYE", 16: "EUCM", 17: "EQUIRECTANGULAR"}

_U64 = struct.Struct("<Q")
_CAMERA_HEAD = struct.Struct("<IiQQ")
_IMAGE_HEAD = struct.Struct("<I4d3dI")
_POINT_HEAD = struct.Struct("<Q3d3BdQ")
_POINT2D_DTYPE = np.dtype([("x", "<f8"), ("y", "<f8"), ("point3d_id", "<u8")])
_TRACK_DTYPE = np.dtype([("image_id", "<u4"), ("point2d_idx", "<u4")])
# _POINT_HEAD as a packed structured dtype (numpy adds no padding to a dtype built from a list).
_POINT_HEAD_DTYPE = np.dtype([("point3d_id", "<u8"), ("xyz", "<f8", (3,)), ("rgb", "u1", (3,)),
                              ("error", "<f8"), ("track_len", "<u8")])


class _Reader:
    """Bounds-checked cursor over a whole file's bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()
        self.pos = 0

    def _need(self, nbytes: int, what: str) -> None:
        if nbytes < 0 or self.pos + nbytes > len(self.data):
            raise InputError(
                f"truncated or corrupt: {what} needs {nbytes} bytes at offset {self.pos}, but the "
                f"file has {len(self.data)} bytes. Re-export the model (COLMAP model_converter or "
                "pycolmap Reconstruction.write)", path=self.path)

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        self._need(layout.size, what)
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def count(self, min_record_size: int, what: str) -> int:
        """Read a ``u64`` record count and check the file can hold that many records."""
        (n,) = self.unpack(_U64, f"the number of {what}")
        if n * min_record_size > len(self.data) - self.pos:
            raise InputError(
                f"truncated or corrupt: it declares {n} {what}, which need at least "
                f"{n * min_record_size} bytes, but only {len(self.data) - self.pos} follow. "
                "Re-export the model", path=self.path)
        return n

    def array(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        self._need(dtype.itemsize * count, what)
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos).copy()
        self.pos += dtype.itemsize * count
        return out

    def cstring(self, what: str) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            self._need(len(self.data) - self.pos + 1, what)
        raw = self.data[self.pos:end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{what} is not valid UTF-8 ({raw[:40]!r}); the file is corrupt",
                             path=self.path) from e

    def trailing(self) -> int:
        return len(self.data) - self.pos


def _model_name(model_id: int, path: Path, camera_id: int) -> tuple[str, int]:
    if model_id in _MODEL_BY_ID:
        return _MODEL_BY_ID[model_id]
    if model_id in _UNSUPPORTED_MODELS:
        raise InputError(
            f"camera {camera_id} uses the COLMAP model {_UNSUPPORTED_MODELS[model_id]} (id {model_id}), "
            f"which splatkit does not support; supported: {', '.join(CAMERA_MODELS)}. Undistort the "
            "model to PINHOLE first (colmap image_undistorter / pycolmap.undistort_images)", path=path)
    raise InputError(f"camera {camera_id} has unknown camera model id {model_id}; the file is corrupt "
                     "or from an unsupported COLMAP version", path=path)


def read_cameras_binary(path: Path) -> list[CameraRecord]:
    """Read ``cameras.bin`` into records, in file order."""
    r = _Reader(path)
    n = r.count(_CAMERA_HEAD.size + 8, "cameras")
    cameras = []
    for i in range(n):
        camera_id, model_id, width, height = r.unpack(_CAMERA_HEAD, f"camera #{i}")
        model, n_params = _model_name(model_id, path, camera_id)
        params = r.array(np.dtype("<f8"), n_params, f"the {model} parameters of camera {camera_id}")
        cameras.append(CameraRecord(camera_id=camera_id, model=model, width=width, height=height,
                                    params=params.astype(np.float64)))
    _check_trailing(r, "cameras")
    return cameras


def read_images_binary(path: Path) -> list[ImageRecord]:
    """Read ``images.bin`` into records, in file order."""
    r = _Reader(path)
    n = r.count(_IMAGE_HEAD.size + 1 + 8, "images")
    images = []
    for i in range(n):
        head = r.unpack(_IMAGE_HEAD, f"image #{i}")
        image_id, camera_id = head[0], head[8]
        name = r.cstring(f"the name of image {image_id}")
        (n2d,) = r.unpack(_U64, f"the 2D point count of image {image_id} ({name})")
        pts = r.array(_POINT2D_DTYPE, n2d, f"the {n2d} 2D points of image {image_id} ({name})")
        ids = pts["point3d_id"]
        point3d_ids = np.where(ids == _INVALID_POINT3D_ID, np.uint64(0), ids).astype(np.int64)
        point3d_ids[ids == _INVALID_POINT3D_ID] = -1
        images.append(ImageRecord(
            image_id=image_id, qvec=np.array(head[1:5], dtype=np.float64),
            tvec=np.array(head[5:8], dtype=np.float64), camera_id=camera_id, name=name,
            xy=np.stack([pts["x"], pts["y"]], axis=1).astype(np.float64), point3d_ids=point3d_ids))
    _check_trailing(r, "images")
    return images


def read_points3d_binary(path: Path) -> PointRecords:
    """Read ``points3D.bin`` into flat arrays, in file order."""
    r = _Reader(path)
    n = r.count(_POINT_HEAD.size, "points")
    data, size = r.data, len(r.data)
    head_size, len_at = _POINT_HEAD.size, _POINT_HEAD.size - 8
    # Records are variable-length: one pass finds where each starts (from the track lengths),
    # then headers and tracks are gathered in vectorised form.
    starts = np.empty(n, np.int64)
    lengths = np.empty(n, np.int64)
    pos = r.pos
    for i in range(n):
        if pos + head_size > size:
            r.pos = pos
            r._need(head_size, f"point #{i}")
        length = int.from_bytes(data[pos + len_at:pos + head_size], "little")
        # Check before storing: a length past 2**63 does not fit the int64 array (OverflowError).
        if pos + head_size + length * _TRACK_DTYPE.itemsize > size:
            r.pos = pos + head_size
            r._need(length * _TRACK_DTYPE.itemsize, f"the track of point #{i} ({length} elements)")
        starts[i], lengths[i] = pos, length
        pos += head_size + length * _TRACK_DTYPE.itemsize
    r.pos = pos
    _check_trailing(r, "points")
    raw = np.frombuffer(data, np.uint8)
    heads = raw[starts[:, None] + np.arange(head_size)].view(_POINT_HEAD_DTYPE).reshape(-1)
    offsets = np.repeat(starts + head_size, lengths)
    rank = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    offsets += rank * _TRACK_DTYPE.itemsize
    elems = raw[offsets[:, None] + np.arange(_TRACK_DTYPE.itemsize)].view(_TRACK_DTYPE).reshape(-1)
    ids = heads["point3d_id"]
    return PointRecords(point_ids=np.where(ids >= 2**63, -1, ids.astype(np.int64)),
                        xyz=heads["xyz"].astype(np.float64), rgb=heads["rgb"].astype(np.uint8),
                        error=heads["error"].astype(np.float64), track_lengths=lengths,
                        track_image_ids=elems["image_id"].astype(np.int64),
                        track_point2d_idx=elems["point2d_idx"].astype(np.int64))


def _check_trailing(r: _Reader, what: str) -> None:
    if r.trailing():
        raise InputError(
            f"corrupt: {r.trailing()} unexpected bytes after the last of the declared {what}; "
            "the count in the header does not match the content. Re-export the model", path=r.path)


def encode_cameras_binary(cameras: list[CameraRecord]) -> bytes:
    """Bytes of ``cameras.bin`` for ``cameras`` (written in the given order)."""
    parts = [_U64.pack(len(cameras))]
    for cam in cameras:
        model_id = CAMERA_MODELS[cam.model][0]
        parts.append(_CAMERA_HEAD.pack(cam.camera_id, model_id, cam.width, cam.height))
        parts.append(np.ascontiguousarray(cam.params, dtype="<f8").tobytes())
    return b"".join(parts)


def encode_images_binary(images: list[ImageRecord]) -> bytes:
    """Bytes of ``images.bin`` for ``images`` (written in the given order)."""
    parts = [_U64.pack(len(images))]
    for img in images:
        parts.append(_IMAGE_HEAD.pack(img.image_id, *map(float, img.qvec), *map(float, img.tvec),
                                      img.camera_id))
        parts.append(img.name.encode("utf-8") + b"\0")
        pts = np.empty(len(img.xy), _POINT2D_DTYPE)
        pts["x"] = img.xy[:, 0]
        pts["y"] = img.xy[:, 1]
        pts["point3d_id"] = np.where(img.point3d_ids < 0, _INVALID_POINT3D_ID,
                                     img.point3d_ids.astype(np.uint64))
        parts.append(_U64.pack(len(pts)))
        parts.append(pts.tobytes())
    return b"".join(parts)


def encode_points3d_binary(points: PointRecords) -> bytes:
    """Bytes of ``points3D.bin`` for ``points`` (written in the given order)."""
    n = len(points)
    heads = np.empty(n, _POINT_HEAD_DTYPE)
    heads["point3d_id"] = points.point_ids
    heads["xyz"] = points.xyz
    heads["rgb"] = points.rgb
    heads["error"] = points.error
    heads["track_len"] = points.track_lengths
    elems = np.empty(len(points.track_image_ids), _TRACK_DTYPE)
    elems["image_id"] = points.track_image_ids
    elems["point2d_idx"] = points.track_point2d_idx
    # Records are variable-length (header + track), so scatter both byte blocks into one buffer
    # at computed offsets instead of packing point by point.
    track_bytes = points.track_lengths * _TRACK_DTYPE.itemsize
    starts = _U64.size + np.arange(n) * _POINT_HEAD.size + (np.cumsum(track_bytes) - track_bytes)
    out = np.empty(_U64.size + n * _POINT_HEAD.size + int(track_bytes.sum()), np.uint8)
    out[:_U64.size] = np.frombuffer(_U64.pack(n), np.uint8)
    out[(starts[:, None] + np.arange(_POINT_HEAD.size)).reshape(-1)] = heads.view(np.uint8)
    elem_offsets = np.repeat(starts + _POINT_HEAD.size, points.track_lengths)
    rank = np.arange(len(elems)) - np.repeat(np.cumsum(points.track_lengths) - points.track_lengths,
                                              points.track_lengths)
    elem_offsets += rank * _TRACK_DTYPE.itemsize
    out[(elem_offsets[:, None] + np.arange(_TRACK_DTYPE.itemsize)).reshape(-1)] = elems.view(np.uint8)
    return out.tobytes()
