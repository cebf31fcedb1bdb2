"""Craft small photos and ZIP archives for the io tests: JPEGs with EXIF (GPS included) and DJI XMP,
hostile ZIP members, and a ZIP whose headers lie about sizes."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

Base = ExifTags.Base
GPS = ExifTags.GPS


def rational(value: float, denominator: int = 10_000) -> IFDRational:
    frac = Fraction(value).limit_denominator(denominator)
    return IFDRational(frac.numerator, frac.denominator)


def degrees_to_dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Decimal degrees (sign dropped) as EXIF degrees, minutes, seconds (seconds to 1e-4)."""
    value = abs(value)
    degrees = int(value)
    minutes_f = (value - degrees) * 60.0
    minutes = int(minutes_f)
    seconds = round((minutes_f - minutes) * 60.0, 4)
    if seconds >= 60.0:  # rounding carried over
        seconds, minutes = 0.0, minutes + 1
    if minutes >= 60:
        minutes, degrees = 0, degrees + 1
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(round(seconds * 10_000), 10_000)


def make_exif(
    *,
    make: str | None = None,
    model: str | None = None,
    orientation: int | None = None,
    focal_mm: float | None = None,
    focal_35mm: int | None = None,
    focal_plane_x_resolution: float | None = None,
    focal_plane_unit: int | None = None,
    exif_image_width: int | None = None,
    datetime_original: str | None = None,
    description: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    alt: float | None = None,
    gps_status: str | None = None,
) -> Image.Exif:
    """An EXIF block with the given fields; lat/lon as DMS with N/S/E/W refs, alt with AltitudeRef."""
    exif = Image.Exif()
    if make is not None:
        exif[Base.Make] = make
    if model is not None:
        exif[Base.Model] = model
    if orientation is not None:
        exif[Base.Orientation] = orientation
    if description is not None:
        exif[Base.ImageDescription] = description
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if focal_mm is not None:
        sub[Base.FocalLength] = rational(focal_mm)
    if focal_35mm is not None:
        sub[Base.FocalLengthIn35mmFilm] = focal_35mm
    if focal_plane_x_resolution is not None:
        sub[Base.FocalPlaneXResolution] = rational(focal_plane_x_resolution)
    if focal_plane_unit is not None:
        sub[Base.FocalPlaneResolutionUnit] = focal_plane_unit
    if exif_image_width is not None:
        sub[Base.ExifImageWidth] = exif_image_width
    if datetime_original is not None:
        sub[Base.DateTimeOriginal] = datetime_original
    if lat is not None or lon is not None or alt is not None or gps_status is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        if lat is not None:
            gps[GPS.GPSLatitudeRef] = "S" if lat < 0 else "N"
            gps[GPS.GPSLatitude] = degrees_to_dms(lat)
        if lon is not None:
            gps[GPS.GPSLongitudeRef] = "W" if lon < 0 else "E"
            gps[GPS.GPSLongitude] = degrees_to_dms(lon)
        if alt is not None:
            gps[GPS.GPSAltitudeRef] = b"\x01" if alt < 0 else b"\x00"
            gps[GPS.GPSAltitude] = rational(abs(alt), 100)
        if gps_status is not None:
            gps[GPS.GPSStatus] = gps_status
    return exif


def dji_xmp(fields: dict[str, str], *, element_form: bool = False) -> bytes:
    """An XMP packet with ``drone-dji:`` fields, as attributes (DJI's usual form) or elements."""
    ns = 'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"'
    if element_form:
        body = "".join(f"<drone-dji:{k}>{v}</drone-dji:{k}>" for k, v in fields.items())
        desc = f'<rdf:Description rdf:about="" {ns}>{body}</rdf:Description>'
    else:
        attrs = " ".join(f'drone-dji:{k}="{v}"' for k, v in fields.items())
        desc = f'<rdf:Description rdf:about="" {ns} {attrs}/>'
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'{desc}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode("utf-8")


def noise_pixels(width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 [height, width, 3] random pixels (they do not compress, so truncation is visible)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def jpeg_bytes(
    width: int = 96,
    height: int = 64,
    *,
    exif: Image.Exif | None = None,
    xmp: bytes | None = None,
    pixels: np.ndarray | None = None,
    seed: int = 0,
    quality: int = 90,
) -> bytes:
    """A JPEG of noise (or ``pixels``), with optional EXIF and XMP packets."""
    array = noise_pixels(width, height, seed) if pixels is None else pixels
    buffer = io.BytesIO()
    kwargs: dict[str, object] = {"quality": quality}
    if exif is not None:
        kwargs["exif"] = exif
    if xmp is not None:
        kwargs["xmp"] = xmp
    Image.fromarray(array).save(buffer, "JPEG", **kwargs)
    return buffer.getvalue()


def write_jpeg(path: Path, width: int = 96, height: int = 64, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(width, height, **kwargs))  # type: ignore[arg-type]
    return path


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A ZIP with the given member names, written verbatim (no name sanitising)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_symlink_zip(path: Path, link_name: str, target: str, extra: dict[str, bytes] | None = None) -> Path:
    """A ZIP whose member ``link_name`` is a Unix symbolic link to ``target``."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo(link_name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)
    return path


def write_lying_zip(path: Path, name: str, real_bytes: int, declared_bytes: int, *, matching_crc: bool = False) -> Path:
    """A one-member ZIP of ``real_bytes`` zeros whose local and central headers declare ``declared_bytes``.

    With ``matching_crc`` the CRC-32 is that of ``declared_bytes`` zeros, so a reader that stops at
    the declared size sees a consistent member.
    """
    write_zip(path, {name: bytes(real_bytes)})
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    assert local == 0 and central > 0, "expected a single plain member"
    # Uncompressed size: offset 22 in the local header, 24 in the central directory entry (APPNOTE 4.3.7, 4.3.12).
    struct.pack_into("<I", data, local + 22, declared_bytes)
    struct.pack_into("<I", data, central + 24, declared_bytes)
    if matching_crc:
        crc = zlib.crc32(bytes(declared_bytes))
        struct.pack_into("<I", data, local + 14, crc)
        struct.pack_into("<I", data, central + 16, crc)
    path.write_bytes(bytes(data))
    return path
