"""Undistortion of a whole model and its images to PINHOLE cameras for training.

3DGS trainers want pinhole images (graphdeco's loader refuses anything else). Undistorting a
model means three things, and COLMAP's and OpenSfM's undistorters only do the first two:

1. choose a PINHOLE camera per distorted camera (same focal, cropped to the valid area so the
   new image has no blank border; the crop is recorded),
2. resample every image through the distortion model,
3. move every 2D observation into the new image (undistort the point with the old model, project
   it with the new pinhole) -- otherwise reprojection checks on the undistorted model fail by
   the size of the distortion.

The camera equations (every COLMAP model) are in :mod:`splatkit.sfm.camera_models`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts import Camera, Frames, ImageSet, Reconstruction, Tracks
from splatkit.device import available_cores
from splatkit.errors import ContractError, InputError
from splatkit.sfm.camera_models import PINHOLE_MODELS, cam_from_img, img_from_cam

__all__ = [
    "PinholeCrop",
    "pinhole_camera_for",
    "ResampleMap",
    "resample_map",
    "undistort_image",
    "undistortion_crops",
    "undistort_to_pinhole",
]

logger = logging.getLogger(__name__)

#: Images undistorted at once (each holds a decoded photo, its output and the blend temporaries).
UNDISTORT_MAX_WORKERS = 4

@dataclass(frozen=True)
class PinholeCrop:
    """How a distorted camera became a PINHOLE one.

    Attributes
    ----------
    source : Camera
        The distorted camera.
    pinhole : Camera
        The PINHOLE camera of the undistorted images (same focal; new size and principal point).
    crop_xywh : tuple[float, float, float, float]
        The kept region ``(x0, y0, width, height)`` in undistorted pixels at the source focal,
        placed so the source principal point is at the source ``(cx, cy)``.
    scale : float
        Output pixels per undistorted source pixel (1 unless a maximum size was asked for).
    """

    source: Camera
    pinhole: Camera
    crop_xywh: tuple[float, float, float, float]
    scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "camera_id": self.source.camera_id,
            "from": {"model": self.source.model, "width": self.source.width, "height": self.source.height,
                     "params": self.source.params.tolist()},
            "to": {"model": self.pinhole.model, "width": self.pinhole.width, "height": self.pinhole.height,
                   "params": self.pinhole.params.tolist()},
            "crop_xywh": list(self.crop_xywh),
            "scale": self.scale,
        }


def pinhole_camera_for(
    camera: Camera, *, max_size: int = 0, samples_per_edge: int = 200, min_scale: float = 0.2
) -> PinholeCrop:
    """The PINHOLE camera for the undistorted images of ``camera``, cropped so no pixel is blank.

    Keeps the focal lengths (undistorted pixels are as large as the source's near the centre)
    and crops to the largest axis-aligned rectangle inside the undistorted image border, like
    COLMAP's ``UndistortCamera`` with ``blank_pixels = 0``. The size never shrinks below
    ``min_scale`` of the source (then a little border may be blank). With ``max_size > 0`` the
    result is then scaled down so its longer side is at most ``max_size`` pixels.
    """
    fx, fy = camera.focal_xy()
    cx, cy = camera.principal_point()
    if camera.model in PINHOLE_MODELS:
        box = (0.0, 0.0, float(camera.width), float(camera.height))
        return _scaled(camera, box, fx, fy, cx, cy, max_size)
    w, h = camera.width, camera.height
    t = np.linspace(0.0, 1.0, samples_per_edge)
    # Border of the source image (outer pixel edges), undistorted to normalised coordinates.
    left = cam_from_img(camera, np.stack([np.zeros_like(t), t * h], axis=1))
    right = cam_from_img(camera, np.stack([np.full_like(t, w), t * h], axis=1))
    top = cam_from_img(camera, np.stack([t * w, np.zeros_like(t)], axis=1))
    bottom = cam_from_img(camera, np.stack([t * w, np.full_like(t, h)], axis=1))
    edges = np.concatenate([left, right, top, bottom])
    if not np.isfinite(edges).all():
        raise ContractError(f"camera {camera.camera_id} ({camera.model}) cannot be undistorted: its "
                            "distortion does not invert at the image border", field="Camera.params")
    # Inner rectangle in undistorted pixels with the source focal.
    x0, x1 = left[:, 0].max() * fx, right[:, 0].min() * fx
    y0, y1 = top[:, 1].max() * fy, bottom[:, 1].min() * fy
    new_w = max(int(np.floor(x1 - x0)), int(np.ceil(min_scale * w)), 1)
    new_h = max(int(np.floor(y1 - y0)), int(np.ceil(min_scale * h)), 1)
    # Centre the kept size on the inner rectangle.
    x0 = (x0 + x1 - new_w) / 2.0
    y0 = (y0 + y1 - new_h) / 2.0
    box = (float(x0 + cx), float(y0 + cy), float(new_w), float(new_h))
    return _scaled(camera, box, fx, fy, -x0, -y0, max_size)


def _scaled(camera: Camera, box: tuple[float, float, float, float], fx: float, fy: float, cx: float, cy: float,
            max_size: int) -> PinholeCrop:
    """PinholeCrop for ``box`` with pinhole ``fx, fy, cx, cy`` at full size, shrunk to ``max_size``."""
    w, h = int(box[2]), int(box[3])
    scale = 1.0
    if max_size and max(w, h) > max_size:
        scale = max_size / max(w, h)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        # Exact per-axis factors so the image edges map onto each other.
        sx, sy = new_w / w, new_h / h
        fx, fy, cx, cy, w, h = fx * sx, fy * sy, cx * sx, cy * sy, new_w, new_h
    pin = Camera(model="PINHOLE", width=w, height=h, params=np.array([fx, fy, cx, cy]), camera_id=camera.camera_id)
    return PinholeCrop(camera, pin, box, scale)


@dataclass(frozen=True)
class ResampleMap:
    """Where every output pixel of one :class:`PinholeCrop` reads its source (bilinear).

    The same for every image of a camera, so it is computed once per camera
    (:func:`resample_map`) and applied to each image (:func:`undistort_image`).

    Attributes
    ----------
    index : intp [H * W]
        Flat index ``y0 * w + x0`` of each output pixel's top-left source neighbour, in the
        source reduced by ``reduce`` (``h, w`` = ``reduced_shape``), row-major output order.
    wx, wy : float32 [H * W]
        Weights of the right and lower neighbours, in [0, 1].
    reduce : int
        Integer box reduction of the source before the lookup (1: none).
    reduced_shape : tuple[int, int]
        ``(h, w)`` of the reduced source the indices point into (at least 2 x 2).
    """

    index: np.ndarray
    wx: np.ndarray
    wy: np.ndarray
    reduce: int
    reduced_shape: tuple[int, int]


def resample_map(crop: PinholeCrop, *, rows_per_chunk: int = 256) -> ResampleMap:
    """The bilinear lookup of ``crop`` (pixel centres at +0.5, edges clamped like ``mode="nearest"``).

    When the output is much smaller than the source, the source is first box-reduced by an
    integer factor so the bilinear lookup does not alias. The rays are computed in row chunks to
    bound memory on 12-megapixel drone photos; the map itself is 16 bytes per output pixel
    (``intp`` indices: numpy gathers with them about 10x faster than with int32).
    """
    pin, source = crop.pinhole, crop.source
    reduce = max(1, int(np.floor(1.0 / crop.scale + 1e-9))) if crop.scale < 1.0 else 1
    h, w = max(2, -(-source.height // reduce)), max(2, -(-source.width // reduce))
    fx, fy, cx, cy = pin.params
    n = pin.width * pin.height
    index, wx, wy = np.empty(n, np.intp), np.empty(n, np.float32), np.empty(n, np.float32)
    cols_out = np.arange(pin.width) + 0.5  # pixel centres at +0.5 (the contract's convention)
    for r0 in range(0, pin.height, rows_per_chunk):
        rows_out = np.arange(r0, min(pin.height, r0 + rows_per_chunk)) + 0.5
        jj, ii = np.meshgrid(cols_out, rows_out)
        rays = np.stack([(jj.ravel() - cx) / fx, (ii.ravel() - cy) / fy, np.ones(jj.size)], axis=1)
        src = img_from_cam(source, rays) / reduce - 0.5
        src[~np.isfinite(src)] = -1.0          # clamped to the edge below
        x = np.clip(src[:, 0], 0.0, w - 1.0)
        y = np.clip(src[:, 1], 0.0, h - 1.0)
        x0 = np.minimum(np.floor(x), w - 2.0)
        y0 = np.minimum(np.floor(y), h - 2.0)
        sl = slice(r0 * pin.width, r0 * pin.width + jj.size)
        index[sl] = (y0 * w + x0).astype(np.intp)
        wx[sl] = x - x0
        wy[sl] = y - y0
    return ResampleMap(index=index, wx=wx, wy=wy, reduce=reduce, reduced_shape=(h, w))


def undistort_image(pixels: np.ndarray, crop: PinholeCrop, *, lookup: ResampleMap | None = None,
                    pixels_per_chunk: int = 1 << 20) -> np.ndarray:
    """Resample one image ``uint8 [H, W, C]`` of ``crop.source`` into ``crop.pinhole`` (bilinear).

    Parameters
    ----------
    pixels : uint8 [H, W, C]
        The source image, ``crop.source``'s size.
    crop : PinholeCrop
    lookup : ResampleMap, optional
        ``resample_map(crop)``, passed in when several images share the camera.
    pixels_per_chunk : int
        Output pixels blended at a time (bounds the float temporaries).

    Returns
    -------
    uint8 [crop.pinhole.height, crop.pinhole.width, C]
    """
    pin = crop.pinhole
    if crop.source.model in PINHOLE_MODELS and crop.scale == 1.0:
        return pixels
    lookup = lookup if lookup is not None else resample_map(crop)
    if lookup.reduce > 1:
        from PIL import Image

        pixels = np.asarray(Image.fromarray(pixels).reduce(lookup.reduce), dtype=np.uint8)
    h, w = lookup.reduced_shape
    channels = pixels.shape[2]
    if channels > 4:
        raise InputError(f"undistortion takes 1-4 channels, got {channels}")
    # One 4-byte word per pixel: numpy gathers words much faster than 3-byte rows.
    packed = np.zeros((h, w, 4), dtype=np.uint8)
    packed[:pixels.shape[0], :pixels.shape[1], :channels] = pixels
    if pixels.shape[:2] != (h, w):  # a 1-pixel-wide or -high source: repeat its edge
        packed[pixels.shape[0]:] = packed[pixels.shape[0] - 1]
        packed[:, pixels.shape[1]:] = packed[:, pixels.shape[1] - 1:pixels.shape[1]]
    words = packed.view(np.uint32).reshape(-1)

    def gather(i: np.ndarray) -> np.ndarray:
        return words[i].view(np.uint8).reshape(-1, 4)[:, :channels].astype(np.float32)

    out = np.empty((pin.height * pin.width, channels), dtype=np.uint8)
    for s0 in range(0, out.shape[0], pixels_per_chunk):
        sl = slice(s0, s0 + pixels_per_chunk)
        i = lookup.index[sl]
        wx, wy = lookup.wx[sl, None], lookup.wy[sl, None]
        top, right = gather(i), gather(i + 1)
        top += (right - top) * wx
        bottom, right = gather(i + w), gather(i + w + 1)
        bottom += (right - bottom) * wx
        top += (bottom - top) * wy
        np.rint(top, out=top)
        out[sl] = np.clip(top, 0, 255)
    return out.reshape(pin.height, pin.width, channels)


def _image_loader(images: ImageSet | str | Path, names: tuple[str, ...], *,
                  exif_orientation: bool = True) -> dict[str, Any]:
    """name -> callable returning uint8 [H, W, 3] pixels (upright unless ``exif_orientation`` is False)."""
    if isinstance(images, ImageSet):
        by_name = {r.name: r for r in images}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise InputError(f"undistortion: the image set lacks {len(missing)} registered image(s), e.g. "
                             f"{missing[:3]}", path=images.source or images.root)
        return {n: by_name[n].load for n in names}
    root = Path(images)

    def loader(name: str) -> Any:
        def load() -> np.ndarray:
            from PIL import Image, ImageOps

            path = root / name
            try:
                with Image.open(path) as im:
                    upright = ImageOps.exif_transpose(im) if exif_orientation else im
                    return np.asarray(upright.convert("RGB"), dtype=np.uint8).copy()
            except FileNotFoundError as e:
                raise InputError("registered image not found for undistortion", path=path) from e
        return load

    return {n: loader(n) for n in names}


def _save_image(pixels: np.ndarray, path: Path, jpeg_quality: int) -> None:
    from PIL import Image

    from splatkit.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        im = Image.fromarray(pixels)
        if suffix in (".jpg", ".jpeg"):
            im.save(tmp, format="JPEG", quality=jpeg_quality, subsampling=0)
        elif suffix == ".png":
            im.save(tmp, format="PNG")
        else:
            im.save(tmp, format="PNG" if suffix not in (".tif", ".tiff", ".webp", ".bmp") else None)


def undistort_to_pinhole(
    rec: Reconstruction,
    images: ImageSet | str | Path,
    out_dir: str | Path,
    *,
    max_size: int = 0,
    jpeg_quality: int = 95,
    exif_orientation: bool = True,
) -> Reconstruction:
    """Undistort a model and its registered images to PINHOLE cameras.

    Parameters
    ----------
    rec : Reconstruction
        The distorted model (any COLMAP model); not modified.
    images : ImageSet or folder
        Where the registered images are, by name.
    out_dir : path
        Folder for the undistorted images, written under their original names (and formats).
    max_size : int
        When > 0, the undistorted images' longer side is at most this (cameras scaled to match).
    jpeg_quality : int
        Quality of JPEG outputs.
    exif_orientation : bool
        Images read from a folder are turned upright by their EXIF Orientation tag first (the
        contract's pixels are upright). False keeps the stored pixel grid: OpenSfM's coordinates
        live there (``geometry.rst``, "Upright Coordinates"). Written images carry no tag either way.

    Returns
    -------
    Reconstruction
        Same frames (poses), points and camera ids; every camera PINHOLE with the size of its
        written images; every observation moved into the undistorted image.
        ``undistortion_crops(rec)`` gives the per-camera crop record.
    """
    out_dir = Path(out_dir)
    crops = undistortion_crops(rec, max_size=max_size)
    new_cameras = tuple(crops[c.camera_id].pinhole for c in rec.cameras)
    # Observations: undistort with the old camera, project with the new pinhole.
    xy = np.array(rec.tracks.xy, dtype=np.float64)
    cam_of_obs = rec.frames.camera_index[rec.tracks.frame_index]
    for ci, cam in enumerate(rec.cameras):
        sel = cam_of_obs == ci
        if not sel.any():
            continue
        uv = cam_from_img(cam, xy[sel])
        fx, fy, cx, cy = new_cameras[ci].params
        xy[sel] = np.stack([fx * uv[:, 0] + cx, fy * uv[:, 1] + cy], axis=1)
    tracks = Tracks(point_index=rec.tracks.point_index, frame_index=rec.tracks.frame_index, xy=xy)

    loaders = _image_loader(images, rec.frames.names, exif_orientation=exif_orientation)

    def undistort_one(name: str, crop: PinholeCrop, lookup: ResampleMap | None) -> None:
        pixels = loaders[name]()
        if pixels.shape[:2] != (crop.source.height, crop.source.width):
            raise InputError(f"image {name} is {pixels.shape[1]}x{pixels.shape[0]} but its camera "
                             f"{crop.source.camera_id} is {crop.source.width}x{crop.source.height}: the image was "
                             "resized after SfM; rerun SfM on the same files", path=name)
        _save_image(undistort_image(pixels, crop, lookup=lookup), out_dir / name, jpeg_quality)
        logger.debug("undistorted %s", name)

    # One camera at a time: its lookup is computed once (12 MP: about 2 s and 190 MB) and shared
    # by its images, which decode, resample and encode in parallel (Pillow and numpy's large
    # array operations release the GIL).
    workers = min(UNDISTORT_MAX_WORKERS, available_cores())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for ci, cam in enumerate(rec.cameras):
            names = [n for f, n in enumerate(rec.frames.names) if rec.frames.camera_index[f] == ci]
            if not names:
                continue
            crop = crops[cam.camera_id]
            identity = crop.source.model in PINHOLE_MODELS and crop.scale == 1.0
            lookup = None if identity else resample_map(crop)
            list(pool.map(undistort_one, names, repeat(crop), repeat(lookup)))  # list(): raises the first error
    frames = Frames(names=rec.frames.names, camera_index=rec.frames.camera_index, rotation=rec.frames.rotation,
                    translation=rec.frames.translation)
    return Reconstruction(cameras=new_cameras, frames=frames, points=rec.points, tracks=tracks,
                          georeference=rec.georeference, source=rec.source)


def undistortion_crops(rec: Reconstruction, *, max_size: int = 0) -> dict[int, PinholeCrop]:
    """camera id -> :class:`PinholeCrop` for every camera of ``rec``."""
    return {c.camera_id: pinhole_camera_for(c, max_size=max_size) for c in rec.cameras}
