"""Encode a rendered photo as a JPEG carrying the EXIF a drone camera writes: GPS, focal, time.

Tags (EXIF 2.32, CIPA DC-008): IFD0 Make, Model, Software, DateTime; Exif IFD DateTimeOriginal,
FocalLength, FocalLengthIn35mmFilm, FocalPlaneX/YResolution with FocalPlaneResolutionUnit 3 (cm),
PixelX/YDimension; GPS IFD GPSVersionID 2.3, GPSLatitude/Ref, GPSLongitude/Ref (degrees, minutes,
seconds as rationals; seconds to 1e-6 arcsec, about 30 micrometres), GPSAltitude/Ref (millimetres),
GPSMapDatum WGS-84. :mod:`splatkit.io.exif` reads every one of them back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

__all__ = ["PhotoExif", "encode_jpeg"]

_SECONDS_DENOMINATOR = 1_000_000
_ALTITUDE_DENOMINATOR = 1000


@dataclass(frozen=True, kw_only=True)
class PhotoExif:
    """What goes into one photo's EXIF.

    Attributes
    ----------
    lat, lon : float or None
        WGS84 degrees (negative: south / west); None writes no GPS at all.
    alt : float or None
        Metres (negative: below sea level).
    make, model : str
    focal_length_mm, focal_length_35mm : float
    sensor_width_mm : float
        Physical sensor width, written as FocalPlaneXResolution so that a reader without the
        35 mm tag gets the same focal length in pixels.
    capture_time : str
        ``YYYY:MM:DD HH:MM:SS``.
    """

    lat: float | None
    lon: float | None
    alt: float | None
    make: str
    model: str
    focal_length_mm: float
    focal_length_35mm: float
    sensor_width_mm: float
    capture_time: str


def encode_jpeg(pixels: np.ndarray, meta: PhotoExif, *, quality: int = 92) -> bytes:
    """JPEG bytes of ``pixels`` with ``meta`` in EXIF; the same input always gives the same bytes.

    Parameters
    ----------
    pixels : uint8 [H, W, 3]
        RGB.
    meta
        EXIF content.
    quality
        JPEG quality; chroma is not subsampled (4:4:4) so that small coloured marks stay sharp.
    """
    height, width = pixels.shape[:2]
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = meta.make
    exif[ExifTags.Base.Model] = meta.model
    exif[ExifTags.Base.Software] = "splatkit demo"
    exif[ExifTags.Base.DateTime] = meta.capture_time

    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = meta.capture_time
    ifd[ExifTags.Base.FocalLength] = _rational(meta.focal_length_mm, 1000)
    ifd[ExifTags.Base.FocalLengthIn35mmFilm] = int(round(meta.focal_length_35mm))
    ifd[ExifTags.Base.FocalPlaneResolutionUnit] = 3  # centimetres
    pixels_per_cm = width / (meta.sensor_width_mm / 10.0)
    ifd[ExifTags.Base.FocalPlaneXResolution] = _rational(pixels_per_cm, 1000)
    ifd[ExifTags.Base.FocalPlaneYResolution] = _rational(pixels_per_cm, 1000)
    ifd[ExifTags.Base.ExifImageWidth] = width
    ifd[ExifTags.Base.ExifImageHeight] = height

    if meta.lat is not None and meta.lon is not None and meta.alt is not None:
        _write_gps(exif, meta.lat, meta.lon, meta.alt)

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(
        buffer, format="JPEG", quality=quality, subsampling=0, optimize=False, exif=exif.tobytes())
    return buffer.getvalue()


def _write_gps(exif: Image.Exif, lat: float, lon: float, alt: float) -> None:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = _dms(abs(lat))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = _dms(abs(lon))
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00" if alt >= 0 else b"\x01"
    gps[ExifTags.GPS.GPSAltitude] = _rational(abs(alt), _ALTITUDE_DENOMINATOR)
    gps[ExifTags.GPS.GPSMapDatum] = "WGS-84"


def _dms(degrees: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Unsigned decimal degrees as (degrees, minutes, seconds) rationals, carrying rounding up."""
    total = int(round(degrees * 3600 * _SECONDS_DENOMINATOR))  # in micro-arcseconds
    per_degree = 3600 * _SECONDS_DENOMINATOR
    per_minute = 60 * _SECONDS_DENOMINATOR
    d, rest = divmod(total, per_degree)
    m, s = divmod(rest, per_minute)
    return IFDRational(d, 1), IFDRational(m, 1), IFDRational(s, _SECONDS_DENOMINATOR)


def _rational(value: float, denominator: int) -> IFDRational:
    return IFDRational(int(round(value * denominator)), denominator)
