"""Camera hints, GPS position and capture time from a photo's EXIF and DJI XMP metadata.

Sources and conventions
-----------------------
- EXIF 2.32 (CIPA DC-008): GPS latitude/longitude are three rationals (degrees, minutes,
  seconds) with a separate ``N``/``S`` / ``E``/``W`` reference; ``GPSAltitudeRef`` 1 means below
  sea level; ``FocalPlaneResolutionUnit`` 2 = inch (the default when absent), 3 = cm. Units 4 (mm)
  and 5 (um) are not in the standard but are written by some cameras (OpenSfM reads them too).
- DJI drones also write ``drone-dji:GpsLatitude``, ``GpsLongitude`` (some firmware spells it
  ``GpsLongtitude``), ``AbsoluteAltitude`` and ``RelativeAltitude`` into the XMP packet, either as
  attributes or as elements.

Precedence (documented choice): latitude/longitude come from EXIF GPS when it holds a usable fix,
else from DJI XMP. The altitude is DJI ``AbsoluteAltitude`` when present (the EXIF GPS altitude of
many DJI models is barometric or offset), else the EXIF GPS altitude. ``RelativeAltitude`` is
height above the take-off point, not a WGS84 altitude, so it never becomes ``GpsPosition.alt``; it
is returned separately. A fix of exactly (0, 0) or a ``GPSStatus`` of ``V`` (void) means "no fix".

Privacy: photos carry the uploader's text in ``ImageDescription``, ``UserComment`` and the like.
This module never logs an EXIF text field, nor an exception message that might quote one.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image

from splatkit.contracts.images import CameraHints, GpsPosition
from splatkit.errors import ContractError

__all__ = [
    "ImageMetadata",
    "read_metadata",
    "rational_to_float",
    "dms_to_degrees",
    "gps_from_exif",
    "parse_dji_xmp",
    "gps_from_dji_xmp",
    "camera_hints_from_exif",
    "xmp_packet",
    "MAX_XMP_BYTES",
]

logger = logging.getLogger(__name__)

_Base = ExifTags.Base
_GPS = ExifTags.GPS

#: Millimetres per FocalPlaneResolutionUnit value (EXIF: 2 inch, 3 cm; 4 mm and 5 um seen in the wild).
_MM_PER_FOCAL_PLANE_UNIT = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
#: Plausible physical sensor widths; outside this the EXIF numbers are garbage (seen: 0, 1e6).
_SENSOR_WIDTH_RANGE_MM = (0.5, 100.0)
_MAX_FOCAL_MM = 5000.0
_MAX_TEXT = 64
_DATETIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})")
# The DJI field names; the value after each is read by hand within a few bytes (see parse_dji_xmp).
_DJI_NAME = re.compile(r"drone-dji:(GpsLatitude|GpsLongitude|GpsLongtitude|AbsoluteAltitude|RelativeAltitude)")
#: Most bytes of XMP read from one photo: a DJI packet is 2-10 KB; PNG iTXt can inflate to 1 MB+.
MAX_XMP_BYTES = 256 << 10
# Longest gap between a field name and its value, and longest value text: DJI writes `="+30.1"`.
_DJI_GAP = 16
_DJI_VALUE = 64


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageMetadata:
    """What a photo's metadata says, every part optional.

    Attributes
    ----------
    camera : CameraHints
        Make, model, focal lengths, sensor width.
    gps : GpsPosition or None
        WGS84 latitude/longitude in degrees, altitude in metres (see the module docstring for
        which source wins).
    capture_time : str or None
        EXIF DateTimeOriginal, ``YYYY:MM:DD HH:MM:SS``.
    orientation : int
        EXIF orientation 1..8 (1 when absent or invalid).
    relative_altitude : float or None
        DJI ``RelativeAltitude``: metres above the take-off point.
    """

    camera: CameraHints = CameraHints()
    gps: GpsPosition | None = None
    capture_time: str | None = None
    orientation: int = 1
    relative_altitude: float | None = None


def read_metadata(image: Image.Image, *, name: str = "") -> ImageMetadata:
    """Read camera hints, GPS, capture time and orientation from an opened image.

    Never raises for bad metadata: a malformed EXIF block is logged (by file name and error
    type only) and treated as absent, because the pixels are still usable.

    Parameters
    ----------
    image
        An image opened with Pillow (pixels need not be loaded).
    name
        The image's name, for log messages.
    """
    try:
        exif = image.getexif()
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception as e:  # noqa: BLE001 - Pillow raises many types on malformed EXIF; metadata is optional
        logger.warning("%s: unreadable EXIF block (%s); using no camera or GPS hints", name, type(e).__name__)
        exif, exif_ifd, gps_ifd = Image.Exif(), {}, {}

    try:
        return _metadata(image, exif, exif_ifd, gps_ifd)
    except Exception as e:  # noqa: BLE001 - a tag of an unexpected type must not cost the photo its pixels
        logger.warning("%s: malformed EXIF/XMP values (%s); using no camera or GPS hints", name, type(e).__name__)
        return ImageMetadata()


def _metadata(image: Image.Image, exif: Mapping[int, Any], exif_ifd: Mapping[int, Any],
              gps_ifd: Mapping[int, Any]) -> ImageMetadata:
    orientation = _as_int(exif.get(_Base.Orientation))
    if orientation is None or not 1 <= orientation <= 8:
        orientation = 1
    raw_width = image.size[0]
    camera = camera_hints_from_exif(exif, exif_ifd, pixel_width=raw_width)
    capture_time = _exif_datetime(exif_ifd.get(_Base.DateTimeOriginal))

    exif_gps = gps_from_exif(gps_ifd)
    dji = parse_dji_xmp(xmp_packet(image) or b"")
    xmp_gps = gps_from_dji_xmp(dji)
    gps = _combine_gps(exif_gps, xmp_gps, dji.get("AbsoluteAltitude"))
    return ImageMetadata(camera=camera, gps=gps, capture_time=capture_time, orientation=orientation,
                         relative_altitude=dji.get("RelativeAltitude"))


def rational_to_float(value: Any) -> float | None:
    """An EXIF number (IFDRational, ``(num, den)`` pair, int, float) as a finite float, or None.

    A zero denominator (EXIF's way of writing "unknown") and non-numbers give None.
    """
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        num, den = value
        if den == 0:
            return None
        value = num / den
    denominator = getattr(value, "denominator", None)
    if denominator == 0:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return out if math.isfinite(out) else None


def dms_to_degrees(dms: Any, ref: Any, *, limit: float) -> float | None:
    """Degrees from EXIF degrees/minutes/seconds and an ``N``/``S``/``E``/``W`` reference.

    Parameters
    ----------
    dms
        One to three EXIF numbers (degrees[, minutes[, seconds]]), each an IFDRational, a
        ``(numerator, denominator)`` pair or a plain number; or a single number.
    ref
        ``"N"``/``"E"`` (or empty: positive), ``"S"``/``"W"`` (negative); str or bytes.
    limit
        90 for latitude, 180 for longitude.

    Returns
    -------
    float or None
        Signed decimal degrees, None when the value is missing, malformed or out of range.
    """
    parts = dms if isinstance(dms, (tuple, list)) else (dms,)
    if not 1 <= len(parts) <= 3:
        return None
    values = [rational_to_float(p) for p in parts]
    if any(v is None for v in values):
        return None
    degrees, minutes, seconds = (values + [0.0, 0.0])[:3]
    if not (0.0 <= minutes < 60.0 and 0.0 <= seconds < 60.0):
        return None
    sign = -1.0 if degrees < 0 else 1.0  # some writers sign the degrees instead of using the ref
    magnitude = abs(degrees) + minutes / 60.0 + seconds / 3600.0
    ref_text = _text(ref, limit=4).upper()
    if ref_text in ("S", "W"):
        sign = -1.0
    elif ref_text not in ("", "N", "E"):
        return None
    if magnitude > limit:
        return None
    return sign * magnitude


def gps_from_exif(gps_ifd: Mapping[int, Any]) -> GpsPosition | None:
    """WGS84 position from an EXIF GPS IFD, or None when it holds no usable fix."""
    if not gps_ifd:
        return None
    if _text(gps_ifd.get(_GPS.GPSStatus), limit=4).upper() == "V":
        return None
    lat = dms_to_degrees(gps_ifd.get(_GPS.GPSLatitude), gps_ifd.get(_GPS.GPSLatitudeRef), limit=90.0)
    lon = dms_to_degrees(gps_ifd.get(_GPS.GPSLongitude), gps_ifd.get(_GPS.GPSLongitudeRef), limit=180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None
    alt = rational_to_float(gps_ifd.get(_GPS.GPSAltitude))
    if alt is not None and _altitude_ref(gps_ifd.get(_GPS.GPSAltitudeRef)) == 1:
        alt = -abs(alt)
    return _position(lat, lon, alt)


def parse_dji_xmp(xmp: bytes | str) -> dict[str, float]:
    """The numeric DJI fields of an XMP packet: GpsLatitude, GpsLongitude, AbsoluteAltitude,
    RelativeAltitude (only those present and finite). ``GpsLongtitude`` is read as GpsLongitude.

    A regular expression rather than an XML parser: it needs no XML library, cannot be made to
    expand entities, and reads both the attribute and the element form DJI firmware writes.
    """
    text = xmp[:MAX_XMP_BYTES].decode("utf-8", errors="replace") if isinstance(xmp, bytes) else xmp[:MAX_XMP_BYTES]
    out: dict[str, float] = {}
    # Linear time: the name regex has no backtracking, and each value is looked for within a fixed
    # window after its name (the former single regex backtracked over `\s*...[^<]*` and took
    # seconds on a 1 MB packet of unterminated fields).
    for match in _DJI_NAME.finditer(text):
        raw = _dji_value(text, match.end())
        if raw is None:
            continue
        key = "GpsLongitude" if match.group(1) == "GpsLongtitude" else match.group(1)
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value):
            out.setdefault(key, value)
    return out


def _dji_value(text: str, pos: int) -> str | None:
    """The value text after a field name at ``pos``: ``="v"``, ``='v'`` or ``>v<``, else None."""
    window = text[pos:pos + _DJI_GAP + _DJI_VALUE + 2]
    stripped = window.lstrip()
    gap = len(window) - len(stripped)
    if gap > _DJI_GAP or not stripped:
        return None
    if stripped[0] == ">":
        end = stripped.find("<", 1)
        return stripped[1:end].strip() if end > 0 else None
    if stripped[0] != "=":
        return None
    rest = stripped[1:].lstrip()
    if not rest or rest[0] not in "\"'":
        return None
    end = rest.find(rest[0], 1)
    return rest[1:end].strip() if end > 0 else None


def gps_from_dji_xmp(fields: Mapping[str, float]) -> GpsPosition | None:
    """Position from :func:`parse_dji_xmp` fields (altitude = AbsoluteAltitude), or None."""
    lat, lon = fields.get("GpsLatitude"), fields.get("GpsLongitude")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return _position(lat, lon, fields.get("AbsoluteAltitude"))


def camera_hints_from_exif(exif: Mapping[int, Any], exif_ifd: Mapping[int, Any], *, pixel_width: int) -> CameraHints:
    """Camera hints from IFD0 and the Exif IFD.

    Make/Model fall back to LensMake/LensModel (phones often write only those, e.g. the OpenSfM
    Berlin photos; OpenSfM does the same). The sensor width is
    ``PixelXDimension / FocalPlaneXResolution * mm_per_unit`` (``pixel_width``, the stored width
    before orientation, when PixelXDimension is absent), kept only when plausible.
    """
    make = _text(exif.get(_Base.Make)) or _text(exif_ifd.get(_Base.LensMake)) or None
    model = _text(exif.get(_Base.Model)) or _text(exif_ifd.get(_Base.LensModel)) or None
    focal = rational_to_float(exif_ifd.get(_Base.FocalLength))
    if focal is not None and not 0 < focal < _MAX_FOCAL_MM:
        focal = None
    focal_35 = rational_to_float(exif_ifd.get(_Base.FocalLengthIn35mmFilm))
    if focal_35 is not None and not 0 < focal_35 < _MAX_FOCAL_MM:
        focal_35 = None  # 0 is EXIF's "unknown"
    return CameraHints(make=make, model=model, focal_length_mm=focal, focal_length_35mm=focal_35,
                       sensor_width_mm=_sensor_width_mm(exif_ifd, pixel_width))


def xmp_packet(image: Image.Image) -> bytes | None:
    """The raw XMP packet of a JPEG, WebP, PNG or TIFF opened with Pillow, or None.

    Only text or bytes count: a TIFF XMP tag (700) of another type (RATIONAL, LONG) is not a
    packet, and ``bytes(4294967295)`` would allocate 4 GB. At most :data:`MAX_XMP_BYTES` are kept.
    """
    for key in ("xmp", "XML:com.adobe.xmp"):
        packet = _xmp_bytes(image.info.get(key))
        if packet:
            return packet
    tags = getattr(image, "tag_v2", None)
    if tags is not None:
        try:
            value = tags.get(700)  # TIFF tag XMP
        except Exception:  # noqa: BLE001 - Pillow decodes TIFF tag values lazily and raises many types
            return None
        return _xmp_bytes(value) or None
    return None


def _xmp_bytes(value: Any) -> bytes | None:
    if isinstance(value, str):
        return value[:MAX_XMP_BYTES].encode("utf-8", errors="replace")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:MAX_XMP_BYTES])
    if isinstance(value, tuple) and value and all(isinstance(v, (bytes, bytearray)) for v in value):
        return b"".join(bytes(v) for v in value)[:MAX_XMP_BYTES]
    return None


def _combine_gps(exif_gps: GpsPosition | None, xmp_gps: GpsPosition | None,
                 absolute_altitude: float | None) -> GpsPosition | None:
    base = exif_gps or xmp_gps
    if base is None:
        return None
    alt = absolute_altitude if absolute_altitude is not None else base.alt
    return _position(base.lat, base.lon, alt)


def _position(lat: float, lon: float, alt: float | None) -> GpsPosition | None:
    try:
        return GpsPosition(lat=float(lat), lon=float(lon), alt=None if alt is None else float(alt))
    except ContractError:
        return None


def _sensor_width_mm(exif_ifd: Mapping[int, Any], pixel_width: int) -> float | None:
    resolution = rational_to_float(exif_ifd.get(_Base.FocalPlaneXResolution))
    if resolution is None or resolution <= 0:
        return None
    unit = _as_int(exif_ifd.get(_Base.FocalPlaneResolutionUnit))
    mm_per_unit = _MM_PER_FOCAL_PLANE_UNIT.get(2 if unit is None else unit)
    if mm_per_unit is None:
        return None
    width_px = _as_int(exif_ifd.get(_Base.ExifImageWidth)) or pixel_width
    if width_px <= 0:
        return None
    width_mm = width_px / resolution * mm_per_unit
    lo, hi = _SENSOR_WIDTH_RANGE_MM
    return width_mm if lo <= width_mm <= hi else None


def _altitude_ref(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return value[0] if value else 0
    return _as_int(value) or 0


def _as_int(value: Any) -> int | None:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = rational_to_float(value)
    return int(number) if number is not None and number.is_integer() else None


def _text(value: Any, *, limit: int = _MAX_TEXT) -> str:
    """A short printable string from an EXIF ASCII field ('' when absent); never logged."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return ""
    cleaned = "".join(ch for ch in value.replace("\x00", " ") if ch.isprintable())
    return " ".join(cleaned.split())[:limit]


def _exif_datetime(value: Any) -> str | None:
    match = _DATETIME.match(_text(value, limit=32))
    if match is None or match.group(1) == "0000":
        return None
    return match.group(0)
