"""The image set: the photos a pipeline starts from, with EXIF hints, pixels loaded lazily."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splatkit.errors import ContractError, InputError

__all__ = ["CameraHints", "GpsPosition", "ImageRecord", "ImageSet"]


@dataclass(frozen=True, kw_only=True, slots=True)
class CameraHints:
    """What EXIF says about the camera. Every field may be unknown (None).

    Attributes
    ----------
    make, model : str or None
        EXIF Make / Model, stripped.
    focal_length_mm : float or None
        EXIF FocalLength.
    focal_length_35mm : float or None
        EXIF FocalLengthIn35mmFilm (35 mm equivalent).
    sensor_width_mm : float or None
        From EXIF FocalPlaneXResolution or a known-sensor table, when found.
    """

    make: str | None = None
    model: str | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    sensor_width_mm: float | None = None

    def focal_px(self, width: int, height: int) -> float | None:
        """Focal length in pixels for an image of this size, or None when EXIF cannot tell."""
        long_side = max(width, height)
        if self.focal_length_35mm:
            return float(self.focal_length_35mm) / 36.0 * long_side
        if self.focal_length_mm and self.sensor_width_mm:
            return float(self.focal_length_mm) / float(self.sensor_width_mm) * long_side
        return None

    def device_key(self) -> tuple[str | None, str | None, float | None]:
        """Identity of the physical camera: (make, model, focal mm)."""
        return (self.make, self.model, self.focal_length_mm)


@dataclass(frozen=True, kw_only=True, slots=True)
class GpsPosition:
    """WGS84 position from EXIF GPS or DJI XMP. ``alt`` in metres, None when absent."""

    lat: float
    lon: float
    alt: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lat) and np.isfinite(self.lon)) or not (
            -90 <= self.lat <= 90 and -180 <= self.lon <= 180
        ):
            raise ContractError(f"GpsPosition out of range: {self.lat}, {self.lon}", field="GpsPosition")
        if self.alt is not None and not np.isfinite(self.alt):
            raise ContractError(f"GpsPosition.alt must be finite, got {self.alt}", field="GpsPosition.alt")


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageRecord:
    """One photo.

    Attributes
    ----------
    name : str
        Name relative to the image root, with ``/`` separators (unique within a set).
    path : Path
        File on disk.
    width, height : int
        Size after applying the EXIF orientation, in pixels.
    camera : CameraHints
        EXIF camera hints.
    gps : GpsPosition or None
        Where it was taken.
    capture_time : str or None
        EXIF DateTimeOriginal as written (``YYYY:MM:DD HH:MM:SS``).
    orientation : int
        EXIF orientation tag (1 = upright); pixels are always returned upright.
    """

    name: str
    path: Path
    width: int
    height: int
    camera: CameraHints = CameraHints()
    gps: GpsPosition | None = None
    capture_time: str | None = None
    orientation: int = 1

    def __post_init__(self) -> None:
        if not self.name or self.name.startswith("/") or ".." in self.name.split("/"):
            raise ContractError(f"ImageRecord.name must be a relative name, got {self.name!r}",
                                field="ImageRecord.name")
        if self.width <= 0 or self.height <= 0:
            raise ContractError(f"ImageRecord {self.name}: size must be positive, got {self.width}x{self.height}",
                                field="ImageRecord.width/height")

    def load(self, downscale: int = 1) -> np.ndarray:
        """Read the pixels upright, as uint8 [H // downscale, W // downscale, 3] RGB.

        Raises
        ------
        InputError
            When the file is missing, truncated or not an image.
        """
        from PIL import Image, ImageOps, UnidentifiedImageError

        if downscale < 1:
            raise ContractError(f"downscale must be >= 1, got {downscale}", field="downscale")
        try:
            with Image.open(self.path) as im:
                if downscale > 1 and hasattr(im, "draft"):
                    im.draft("RGB", (self.width // downscale, self.height // downscale))
                im = ImageOps.exif_transpose(im.convert("RGB")) if self.orientation != 1 else im.convert("RGB")
                size = (max(1, self.width // downscale), max(1, self.height // downscale))
                if im.size != size:
                    im = im.resize(size, Image.Resampling.LANCZOS if downscale > 1 else Image.Resampling.BICUBIC)
                return np.asarray(im, dtype=np.uint8).copy()
        except FileNotFoundError as e:
            raise InputError("image file is missing", path=self.path) from e
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise InputError(f"cannot decode image {self.name} (corrupt or truncated?): {e}", path=self.path) from e


@dataclass(frozen=True, kw_only=True, eq=False)
class ImageSet:
    """An ordered set of photos with unique names.

    Attributes
    ----------
    records : tuple[ImageRecord, ...]
        The photos, sorted by name by the readers.
    root : Path
        Folder the names are relative to.
    source : str
        Where they came from (a folder or a ZIP path), for messages.
    """

    records: tuple[ImageRecord, ...]
    root: Path
    source: str = ""

    def __post_init__(self) -> None:
        recs = tuple(self.records)
        if not all(isinstance(r, ImageRecord) for r in recs):
            raise ContractError("ImageSet.records must hold ImageRecord objects", field="ImageSet.records")
        names = [r.name for r in recs]
        if len(set(names)) != len(names):
            raise ContractError("ImageSet: image names must be unique", field="ImageSet.records")
        object.__setattr__(self, "records", recs)
        object.__setattr__(self, "root", Path(self.root))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[ImageRecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> ImageRecord:
        return self.records[index]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.records)

    def by_name(self, name: str) -> ImageRecord:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    def has_gps(self) -> bool:
        """True when every image has a GPS position."""
        return bool(self.records) and all(r.gps is not None for r in self.records)

    def validate(self, *, min_images: int = 3) -> "ImageSet":
        """Check there are enough images and the files exist; raise :class:`InputError` otherwise."""
        if len(self.records) < min_images:
            raise InputError(
                f"found {len(self.records)} usable image(s); at least {min_images} overlapping photos are "
                "needed to reconstruct a scene", path=self.source or self.root)
        missing = [r.name for r in self.records if not Path(r.path).is_file()]
        if missing:
            raise InputError(f"image file(s) missing: {missing[:5]}", path=self.root)
        return self
