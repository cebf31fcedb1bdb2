"""Make the demo photo set: render the synthetic flight and write geotagged JPEGs.

Layout written under ``out_dir``::

    photos/DJI_0001.JPG ... DJI_00NN.JPG   orbit views first, then the nadir grid in flight order
    demo_ground_truth.json                 the poses, intrinsics and GPS used (for tests and reports)

The photos folder is written atomically as a whole, then the ground-truth file. A second call
with the same configuration finds both, checks the photos' SHA-256 against the ground truth and
returns at once; a different configuration re-renders. A ``photos`` folder that splatkit did not
make is never replaced.

Everything is drawn from ``DemoConfig.seed``: the same configuration gives the same bytes on
every machine with the same numpy, Pillow and libjpeg.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.demo.flight import Intrinsics, Shot, enu_to_lla, nadir_grid_shots, orbit_shots
from splatkit.demo.jpeg_exif import PhotoExif, encode_jpeg
from splatkit.demo.raycast import render_view
from splatkit.demo.scene import DemoScene, build_scene
from splatkit.errors import ContractError, InputError
from splatkit.io.atomic import atomic_directory, atomic_write_text
from splatkit.stages import ProgressCallback, ProgressUpdate, no_progress

__all__ = ["DemoConfig", "generate_demo_photos", "demo_ground_truth", "demo_shots", "PHOTOS_DIR",
           "GROUND_TRUTH_FILE"]

logger = logging.getLogger(__name__)

#: Folder (under ``out_dir``) that holds the JPEGs.
PHOTOS_DIR = "photos"
#: Ground-truth file (under ``out_dir``, outside the photos folder so photo readers never see it).
GROUND_TRUTH_FILE = "demo_ground_truth.json"
_FORMAT = "splatkit-demo-ground-truth"
#: Bump whenever the scene, the renderer or the flight changes what is written: a photo set made
#: by another version is then rendered again instead of being reused.
_VERSION = 1
_PROGRESS_STAGE = "demo/photos"
#: A 1/2.3" sensor's width: what a small drone camera has; sets EXIF FocalLength (mm).
_SENSOR_WIDTH_MM = 6.17


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """What the demo flight looks like (flat options; the defaults are the shipped demo).

    Attributes
    ----------
    seed : int
        Seeds the scene and the flight's small pose jitter.
    width, height : int
        Photo size in pixels.
    focal_35mm : float
        35 mm-equivalent focal length (EXIF FocalLengthIn35mmFilm); ``f_px = f_35 / 36 * width``.
    supersample : int
        Anti-aliasing: sub-pixels per pixel along each axis.
    n_orbit : int
        Oblique views on the orbit.
    orbit_radius_m, orbit_height_m : float
        Orbit circle radius and altitude (ENU metres); the cameras aim at the scene centre.
    grid_columns, grid_rows : int
        Nadir lawnmower grid: shots per lane, lanes.
    grid_spacing_x_m, grid_spacing_y_m : float
        Distance between shots along a lane (east) and between lanes (north). With the defaults
        and 50 m altitude: ~72% forward and ~67% side overlap.
    nadir_height_m : float
        Altitude of the grid.
    origin_lat, origin_lon, origin_alt : float
        WGS84 position of the ENU origin (degrees, metres): farmland near Fribourg, Switzerland.
    start_time : str
        DateTimeOriginal of the first photo, ``YYYY:MM:DD HH:MM:SS``; then every ``interval_s``.
    interval_s : int
        Seconds between photos.
    jpeg_quality : int
        JPEG quality (chroma not subsampled).
    gps : bool
        Write GPS into EXIF (False: a survey without GPS).
    gps_noise_m, gps_noise_vertical_m : float
        Standard deviation of the Gaussian error added to the written GPS, horizontally and
        vertically (metres); the ground truth keeps the true centres.
    exif_focal_scale : float
        EXIF focal length (mm and 35 mm equivalent) written as this multiple of the focal the
        photos are rendered with: 1 is an honest EXIF, anything else a wrong one.
    """

    seed: int = 3
    width: int = 320
    height: int = 240
    focal_35mm: float = 28.0
    supersample: int = 2
    n_orbit: int = 12
    orbit_radius_m: float = 50.0
    orbit_height_m: float = 50.0
    grid_columns: int = 5
    grid_rows: int = 4
    grid_spacing_x_m: float = 18.0
    grid_spacing_y_m: float = 16.0
    nadir_height_m: float = 50.0
    origin_lat: float = 46.7712
    origin_lon: float = 7.1136
    origin_alt: float = 640.0
    start_time: str = "2024:06:01 10:00:00"
    interval_s: int = 2
    jpeg_quality: int = 92
    gps: bool = True
    gps_noise_m: float = 0.0
    gps_noise_vertical_m: float = 0.0
    exif_focal_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("width", "height", "supersample", "grid_columns", "grid_rows", "interval_s"):
            if getattr(self, name) < 1:
                raise ContractError(f"DemoConfig.{name} must be >= 1, got {getattr(self, name)}",
                                    field=f"DemoConfig.{name}")
        if self.n_orbit < 0 or self.n_orbit + self.grid_columns * self.grid_rows < 3:
            raise ContractError("DemoConfig: the flight needs at least 3 photos (n_orbit + grid_columns * "
                                f"grid_rows), got {self.n_orbit + self.grid_columns * self.grid_rows}",
                                field="DemoConfig.n_orbit")
        if min(self.orbit_height_m, self.nadir_height_m) < 20.0:
            raise ContractError("DemoConfig: fly at least 20 m high; the buildings are up to 12 m tall",
                                field="DemoConfig.orbit_height_m/nadir_height_m")
        if min(self.gps_noise_m, self.gps_noise_vertical_m) < 0 or not self.exif_focal_scale > 0:
            raise ContractError("DemoConfig: gps_noise_m and gps_noise_vertical_m must be >= 0 and "
                                f"exif_focal_scale > 0, got {self.gps_noise_m}, {self.gps_noise_vertical_m}, "
                                f"{self.exif_focal_scale}", field="DemoConfig.gps_noise_m")
        if not 1 <= self.jpeg_quality <= 100:
            raise ContractError(f"DemoConfig.jpeg_quality must be in 1..100, got {self.jpeg_quality}",
                                field="DemoConfig.jpeg_quality")
        try:
            dt.datetime.strptime(self.start_time, "%Y:%m:%d %H:%M:%S")
        except ValueError as e:
            raise ContractError(f"DemoConfig.start_time must be 'YYYY:MM:DD HH:MM:SS', got {self.start_time!r}",
                                field="DemoConfig.start_time") from e

    @property
    def intrinsics(self) -> Intrinsics:
        """The pinhole camera every photo is rendered with."""
        return Intrinsics.from_35mm(self.width, self.height, self.focal_35mm)


def demo_shots(config: DemoConfig) -> list[Shot]:
    """The flight in photo order: the orbit (clockwise from north), then the nadir grid."""
    rng = np.random.default_rng([config.seed, 1])  # a stream of its own: the scene does not shift with it
    orbit = orbit_shots(config.n_orbit, radius_m=config.orbit_radius_m, height_m=config.orbit_height_m,
                        target=np.array([0.0, 0.0, 2.0]), rng=rng)
    grid = nadir_grid_shots(config.grid_columns, config.grid_rows, spacing_x_m=config.grid_spacing_x_m,
                            spacing_y_m=config.grid_spacing_y_m, height_m=config.nadir_height_m, rng=rng)
    return orbit + grid


def photo_names(count: int) -> list[str]:
    """``DJI_0001.JPG`` ...: sortable names in flight order, as a DJI drone writes them."""
    return [f"DJI_{i + 1:04d}.JPG" for i in range(count)]


def generate_demo_photos(
    out_dir: str | os.PathLike[str],
    *,
    config: DemoConfig | None = None,
    max_workers: int | None = None,
    progress: ProgressCallback = no_progress,
) -> Path:
    """Render the demo flight into ``out_dir/photos`` (geotagged JPEGs) and write its ground truth.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed). Only ``photos/`` and
        ``demo_ground_truth.json`` are touched.
    config
        The flight; default :class:`DemoConfig` () is the shipped demo (32 photos, 320x240).
    max_workers
        Threads rendering photos in parallel (numpy releases the GIL); default: the CPU count,
        at most 4. The output does not depend on it.
    progress
        Called with a :class:`~splatkit.stages.ProgressUpdate` after each photo.

    Returns
    -------
    Path
        The photos folder.

    Raises
    ------
    InputError
        ``out_dir/photos`` exists and was not made by this function (it is never overwritten).
    """
    config = config or DemoConfig()
    out_dir = Path(out_dir)
    photos_dir = out_dir / PHOTOS_DIR
    truth_path = out_dir / GROUND_TRUTH_FILE
    if _up_to_date(photos_dir, truth_path, config):
        logger.info("demo photos in %s are up to date (same configuration and checksums)", photos_dir)
        return photos_dir
    if photos_dir.exists() and not truth_path.exists():
        raise InputError(f"exists and was not made by 'splatkit demo' (no {GROUND_TRUTH_FILE} beside it); "
                         "choose an empty output folder", path=photos_dir)

    t0 = time.perf_counter()
    scene = _scene_for(config.seed)
    t_scene = time.perf_counter() - t0
    shots = demo_shots(config)
    names = photo_names(len(shots))
    lla = enu_to_lla(_gps_enu(config, shots), config.origin_lat, config.origin_lon, config.origin_alt)
    start = dt.datetime.strptime(config.start_time, "%Y:%m:%d %H:%M:%S")
    times = [(start + dt.timedelta(seconds=config.interval_s * i)).strftime("%Y:%m:%d %H:%M:%S")
             for i in range(len(shots))]

    def make_photo(i: int) -> bytes:
        pixels = render_photo(scene, shots[i], config)
        exif_focal_35mm = config.focal_35mm * config.exif_focal_scale
        meta = PhotoExif(lat=float(lla[i, 0]) if config.gps else None, lon=float(lla[i, 1]) if config.gps else None,
                         alt=float(lla[i, 2]) if config.gps else None, make="splatkit",
                         model="demo-cam", focal_length_mm=exif_focal_35mm * _SENSOR_WIDTH_MM / 36.0,
                         focal_length_35mm=exif_focal_35mm, sensor_width_mm=_SENSOR_WIDTH_MM,
                         capture_time=times[i])
        return encode_jpeg(pixels, meta, quality=config.jpeg_quality)

    workers = max_workers if max_workers is not None else min(4, os.cpu_count() or 1)
    digests: list[str] = []
    with atomic_directory(photos_dir) as staging:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for i, data in enumerate(pool.map(make_photo, range(len(shots)))):
                (staging / names[i]).write_bytes(data)
                digests.append(hashlib.sha256(data).hexdigest())
                progress(ProgressUpdate(stage=_PROGRESS_STAGE, step=i + 1, total=len(shots),
                                        message=f"rendered {names[i]}"))
    truth = _ground_truth(config, scene, shots, names, lla, times, digests)
    atomic_write_text(truth_path, json.dumps(truth, indent=1) + "\n")
    logger.info("demo: %d photos %dx%d in %s (scene %.1f s, total %.1f s)", len(shots), config.width,
                config.height, photos_dir, t_scene, time.perf_counter() - t0)
    return photos_dir


def _gps_enu(config: DemoConfig, shots: list[Shot]) -> np.ndarray:
    """Where the GPS says each photo was taken (ENU metres, float64 [N, 3]): the true centres plus
    the configured noise, drawn from a stream of its own so the flight does not change with it."""
    centres = np.array([s.centre for s in shots])
    if config.gps_noise_m == 0 and config.gps_noise_vertical_m == 0:
        return centres
    rng = np.random.default_rng([config.seed, 2])
    noise = rng.normal(size=centres.shape) * np.array([config.gps_noise_m, config.gps_noise_m,
                                                       config.gps_noise_vertical_m])
    return centres + noise


@functools.lru_cache(maxsize=2)
def _scene_for(seed: int) -> DemoScene:
    """:func:`build_scene`, remembered: painting the texture is a third of a small run's time and a
    scene is immutable (frozen dataclasses over arrays nobody writes to)."""
    scene = build_scene(seed)
    for level in scene.texture.levels:
        level.setflags(write=False)
    return scene


def render_photo(scene: DemoScene, shot: Shot, config: DemoConfig) -> np.ndarray:
    """One photo's pixels, uint8 ``[height, width, 3]``."""
    k = config.intrinsics
    return render_view(scene, shot.rotation, shot.translation, fx=k.fx, fy=k.fy, cx=k.cx, cy=k.cy,
                       width=k.width, height=k.height, supersample=config.supersample)


def demo_ground_truth(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the ground truth :func:`generate_demo_photos` wrote in ``out_dir``.

    Returns
    -------
    dict
        JSON as written: ``format``, ``version``, ``config`` (the :class:`DemoConfig` fields),
        ``origin`` (``lat``, ``lon``, ``alt`` of the ENU frame), ``camera`` (``model`` "PINHOLE",
        ``width``, ``height``, ``params`` [fx, fy, cx, cy]), ``frames`` (one per photo in name order:
        ``name``, ``kind`` "orbit"/"nadir", ``centre_enu`` [3], ``cam_from_world`` with ``rotation``
        [3][3] and ``translation`` [3] (``x_cam = R X + t``, OpenCV axes), ``gps`` (``lat``,
        ``lon``, ``alt`` as written to EXIF, None without GPS), ``capture_time``, ``sha256``), ``markers_enu``
        ([M][3] ground-control marker centres) and ``scene`` (object counts, terrain height range).

    Raises
    ------
    InputError
        The file is missing or is not a demo ground truth.
    """
    path = Path(out_dir) / GROUND_TRUTH_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise InputError("not found; run generate_demo_photos (or 'splatkit demo') on this folder first",
                         path=path) from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"unreadable demo ground truth ({type(e).__name__}); delete it and generate again",
                         path=path) from e
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise InputError(f"not a demo ground truth (format is not {_FORMAT!r})", path=path)
    return data


def _ground_truth(config: DemoConfig, scene: DemoScene, shots: list[Shot], names: list[str], lla: np.ndarray,
                  times: list[str], digests: list[str]) -> dict[str, Any]:
    k = config.intrinsics
    axis = np.linspace(-60.0, 60.0, 121)
    heights = scene.hills.height(*np.meshgrid(axis, axis))[0]
    return {
        "format": _FORMAT,
        "version": _VERSION,
        "config": dataclasses.asdict(config),
        "origin": {"lat": config.origin_lat, "lon": config.origin_lon, "alt": config.origin_alt},
        "camera": {"model": "PINHOLE", "width": k.width, "height": k.height, "params": [k.fx, k.fy, k.cx, k.cy]},
        "frames": [
            {
                "name": name,
                "kind": shot.kind,
                "centre_enu": shot.centre.tolist(),
                "cam_from_world": {"rotation": shot.rotation.tolist(), "translation": shot.translation.tolist()},
                "gps": {"lat": float(pos[0]), "lon": float(pos[1]), "alt": float(pos[2])} if config.gps else None,
                "capture_time": when,
                "sha256": digest,
            }
            for name, shot, pos, when, digest in zip(names, shots, lla, times, digests)
        ],
        "markers_enu": scene.markers.tolist(),
        "scene": {"buildings": len(scene.boxes), "trees": len(scene.spheres),
                  "terrain_height_m": [float(heights.min()), float(heights.max())]},
    }


def _up_to_date(photos_dir: Path, truth_path: Path, config: DemoConfig) -> bool:
    """True when the ground truth matches ``config`` and every photo it lists is there, unchanged."""
    if not (photos_dir.is_dir() and truth_path.is_file()):
        return False
    try:
        truth = demo_ground_truth(truth_path.parent)
    except InputError:
        return False
    if truth.get("version") != _VERSION or truth.get("config") != dataclasses.asdict(config):
        return False
    frames = truth.get("frames") or []
    present = sorted(p.name for p in photos_dir.iterdir())
    if present != sorted(f.get("name", "") for f in frames):
        return False
    for frame in frames:
        data = (photos_dir / frame["name"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != frame.get("sha256"):
            return False
    return True
