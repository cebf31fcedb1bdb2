"""EXIF and DJI XMP metadata: rationals, DMS, GPS refs, altitude sources, camera hints, privacy."""

from __future__ import annotations

import io
import logging
import math
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from splatkit.contracts import GpsPosition
from splatkit.io.exif import (
    dms_to_degrees,
    gps_from_dji_xmp,
    gps_from_exif,
    parse_dji_xmp,
    rational_to_float,
    read_metadata,
)
from splatkit.io.images import read_image_set
from tests.conftest import dataset
from tests.io._image_factory import GPS, degrees_to_dms, dji_xmp, jpeg_bytes, make_exif, write_jpeg


_GOOD_JPEG = jpeg_bytes(32, 24)


def _metadata(data: bytes):
    with Image.open(io.BytesIO(data)) as im:
        return read_metadata(im, name="test.jpg")


# --- rationals and DMS -----------------------------------------------------------------------------

def test_rational_to_float_handles_every_exif_spelling() -> None:
    assert rational_to_float(IFDRational(1614, 100)) == pytest.approx(16.14)
    assert rational_to_float((1614, 100)) == pytest.approx(16.14)
    assert rational_to_float(7) == 7.0
    assert rational_to_float(2.5) == 2.5
    assert rational_to_float(IFDRational(5, 0)) is None  # EXIF's "unknown"
    assert rational_to_float((5, 0)) is None
    assert rational_to_float(float("nan")) is None
    assert rational_to_float("abc") is None
    assert rational_to_float(None) is None


@given(
    degrees=st.integers(0, 89),
    minutes=st.integers(0, 59),
    seconds_e4=st.integers(0, 599_999),
    ref=st.sampled_from(["N", "S", b"N", b"S\x00", "s", ""]),
)
def test_dms_rationals_convert_to_signed_degrees(degrees: int, minutes: int, seconds_e4: int, ref: object) -> None:
    dms = (IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds_e4, 10_000))
    expected = degrees + minutes / 60 + seconds_e4 / 10_000 / 3600
    ref_text = ref.decode().strip("\x00") if isinstance(ref, bytes) else ref
    sign = -1 if ref_text.upper() == "S" else 1
    got = dms_to_degrees(dms, ref, limit=90.0)
    assert got is not None
    assert got == pytest.approx(sign * expected, abs=1e-12)
    # Old Pillow spelling: ((num, den), ...) pairs give the same value.
    pairs = ((degrees, 1), (minutes, 1), (seconds_e4, 10_000))
    assert dms_to_degrees(pairs, ref, limit=90.0) == got


@given(st.floats(-180.0, 180.0, allow_nan=False))
def test_decimal_to_dms_and_back_round_trips(value: float) -> None:
    ref = "W" if value < 0 else "E"
    got = dms_to_degrees(degrees_to_dms(value), ref, limit=180.0)
    assert got is not None
    # Seconds are stored to 1e-4 s = 2.8e-8 degrees.
    assert got == pytest.approx(value, abs=1e-7)
    assert math.copysign(1.0, got) == math.copysign(1.0, value) or got == 0.0


@pytest.mark.parametrize(
    ("dms", "ref", "limit"),
    [
        ((IFDRational(91, 1), IFDRational(0, 1), IFDRational(0, 1)), "N", 90.0),   # out of range
        ((IFDRational(10, 1), IFDRational(75, 1), IFDRational(0, 1)), "N", 90.0),  # minutes >= 60
        ((IFDRational(10, 1), IFDRational(0, 0), IFDRational(0, 1)), "N", 90.0),   # unknown minutes
        ((IFDRational(10, 1), IFDRational(0, 1), IFDRational(0, 1)), "X", 90.0),   # bad ref
        ((), "N", 90.0),
        (None, "N", 90.0),
        ((1, 2, 3, 4), "E", 180.0),
    ],
)
def test_malformed_dms_gives_none(dms: object, ref: str, limit: float) -> None:
    assert dms_to_degrees(dms, ref, limit=limit) is None


def test_signed_degrees_without_ref_keep_their_sign() -> None:
    assert dms_to_degrees((IFDRational(-98, 1), IFDRational(30, 1), IFDRational(0, 1)), "", limit=180) == -98.5
    assert dms_to_degrees((IFDRational(-98, 1), IFDRational(30, 1), IFDRational(0, 1)), "W", limit=180) == -98.5


def test_decimal_degrees_in_one_rational() -> None:
    assert dms_to_degrees((IFDRational(555, 10),), "S", limit=90) == -55.5


# --- GPS from EXIF ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("lat", "lon", "alt"), [(55.698, 13.195, 37.0), (-33.8568, 151.2153, 12.5),
                                                 (30.171, -98.0899, 318.9), (-12.5, -77.0, -20.25)])
def test_gps_round_trips_through_a_real_jpeg(lat: float, lon: float, alt: float) -> None:
    meta = _metadata(jpeg_bytes(exif=make_exif(lat=lat, lon=lon, alt=alt)))
    assert meta.gps is not None
    assert meta.gps.lat == pytest.approx(lat, abs=1e-7)
    assert meta.gps.lon == pytest.approx(lon, abs=1e-7)
    assert meta.gps.alt == pytest.approx(alt, abs=0.01)  # below sea level via GPSAltitudeRef = 1


def test_gps_without_altitude_and_no_fix_cases() -> None:
    assert _metadata(jpeg_bytes(exif=make_exif(lat=10.0, lon=20.0))).gps == GpsPosition(lat=10.0, lon=20.0)
    assert _metadata(jpeg_bytes(exif=make_exif(lat=0.0, lon=0.0, alt=5.0))).gps is None  # null island = no fix
    assert _metadata(jpeg_bytes(exif=make_exif(lat=10.0, lon=20.0, gps_status="V"))).gps is None
    assert _metadata(jpeg_bytes(exif=make_exif(lat=10.0))).gps is None  # no longitude
    assert _metadata(jpeg_bytes()).gps is None


def test_gps_from_exif_reads_integer_altitude_ref() -> None:
    ifd = {GPS.GPSLatitude: (IFDRational(1, 1),), GPS.GPSLatitudeRef: "N", GPS.GPSLongitude: (IFDRational(2, 1),),
           GPS.GPSLongitudeRef: "E", GPS.GPSAltitude: IFDRational(15, 1), GPS.GPSAltitudeRef: 1}
    assert gps_from_exif(ifd) == GpsPosition(lat=1.0, lon=2.0, alt=-15.0)


# --- DJI XMP -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("element_form", [False, True])
@pytest.mark.parametrize("lon_key", ["GpsLongitude", "GpsLongtitude"])
def test_dji_xmp_fields_in_both_forms_and_the_typo(element_form: bool, lon_key: str) -> None:
    xmp = dji_xmp({"GpsLatitude": "+22.5430", lon_key: "-113.9547", "AbsoluteAltitude": "+95.12",
                   "RelativeAltitude": "+50.30", "GimbalPitchDegree": "-90.0"}, element_form=element_form)
    fields = parse_dji_xmp(xmp)
    assert fields == {"GpsLatitude": 22.543, "GpsLongitude": -113.9547, "AbsoluteAltitude": 95.12,
                      "RelativeAltitude": 50.3}
    meta = _metadata(jpeg_bytes(xmp=xmp))
    assert meta.gps == GpsPosition(lat=22.543, lon=-113.9547, alt=95.12)
    assert meta.relative_altitude == 50.3


def test_absolute_altitude_wins_over_exif_altitude_and_exif_wins_for_position() -> None:
    xmp = dji_xmp({"GpsLatitude": "22.0", "GpsLongitude": "113.0", "AbsoluteAltitude": "95.5",
                   "RelativeAltitude": "50.0"})
    meta = _metadata(jpeg_bytes(exif=make_exif(lat=22.5, lon=113.5, alt=12.0), xmp=xmp))
    assert meta.gps is not None
    assert (meta.gps.lat, meta.gps.lon) == (pytest.approx(22.5), pytest.approx(113.5))
    assert meta.gps.alt == 95.5
    # RelativeAltitude alone is height above take-off: never a WGS84 altitude.
    xmp_rel = dji_xmp({"RelativeAltitude": "50.0"})
    meta = _metadata(jpeg_bytes(exif=make_exif(lat=22.5, lon=113.5, alt=12.0), xmp=xmp_rel))
    assert meta.gps is not None and meta.gps.alt == pytest.approx(12.0)
    assert meta.relative_altitude == 50.0


def test_malformed_dji_values_are_ignored() -> None:
    xmp = dji_xmp({"GpsLatitude": "north", "GpsLongitude": "nan", "AbsoluteAltitude": "inf"})
    assert parse_dji_xmp(xmp) == {}
    assert gps_from_dji_xmp({"GpsLatitude": 95.0, "GpsLongitude": 10.0}) is None
    assert gps_from_dji_xmp({"GpsLatitude": 0.0, "GpsLongitude": 0.0}) is None
    assert gps_from_dji_xmp({"GpsLatitude": 10.0}) is None


# --- camera hints, time, orientation ------------------------------------------------------------------

def test_camera_hints_from_exif() -> None:
    # Caliterra's Canon: 16393.44 px/inch on the focal plane at 4000 px -> 6.1976 mm sensor.
    exif = make_exif(make=" Canon\x00", model="Canon PowerShot SX260 HS", focal_mm=4.5, focal_35mm=0,
                     focal_plane_x_resolution=16393.44262295082, focal_plane_unit=2, exif_image_width=4000)
    cam = _metadata(jpeg_bytes(exif=exif)).camera
    assert (cam.make, cam.model) == ("Canon", "Canon PowerShot SX260 HS")
    assert cam.focal_length_mm == pytest.approx(4.5)
    assert cam.focal_length_35mm is None  # 0 means unknown in EXIF
    assert cam.sensor_width_mm == pytest.approx(4000 / 16393.44262295082 * 25.4, rel=1e-6)


@pytest.mark.parametrize(("unit", "resolution", "expected_mm"),
                         [(3, 1000.0, 96 / 1000 * 10), (None, 300.0, 96 / 300 * 25.4), (4, 20.0, 96 / 20),
                          (1, 300.0, None), (2, 1e-6, None)])
def test_sensor_width_units_and_plausibility(unit: int | None, resolution: float, expected_mm: float | None) -> None:
    # No ExifImageWidth: the stored pixel width (96) is used.
    exif = make_exif(focal_plane_x_resolution=resolution, focal_plane_unit=unit)
    got = _metadata(jpeg_bytes(96, 64, exif=exif)).camera.sensor_width_mm
    assert got == (pytest.approx(expected_mm) if expected_mm is not None else None)


def test_lens_make_and_model_are_fallbacks() -> None:
    exif = Image.Exif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.LensMake] = "Apple"
    sub[ExifTags.Base.LensModel] = "iPhone 4S back camera 4.28mm f/2.4"
    cam = _metadata(jpeg_bytes(exif=exif)).camera
    assert (cam.make, cam.model) == ("Apple", "iPhone 4S back camera 4.28mm f/2.4")


def test_capture_time_and_orientation() -> None:
    meta = _metadata(jpeg_bytes(exif=make_exif(datetime_original="2024:05:06 07:08:09\x00", orientation=6)))
    assert meta.capture_time == "2024:05:06 07:08:09"
    assert meta.orientation == 6
    meta = _metadata(jpeg_bytes(exif=make_exif(datetime_original="    :  :     :  :  ", orientation=42)))
    assert meta.capture_time is None
    assert meta.orientation == 1  # invalid orientation treated as upright
    assert _metadata(jpeg_bytes(exif=make_exif(datetime_original="0000:00:00 00:00:00"))).capture_time is None


def _exif_segment(tiff: bytes) -> bytes:
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _tiff_ifd0(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """Little-endian TIFF header + IFD0 with (tag, type, count, 4-byte value) entries."""
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack("<HHI", tag, kind, count) + value
    return b"II*\x00" + struct.pack("<I", 8) + body + struct.pack("<I", 0)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data", "ignore:Tag data larger than file")
@pytest.mark.parametrize("tiff", [
    b"II*\x00" + b"\xff\xff\xff\x7f" + b"\x13" * 40,                          # IFD0 offset past the end
    b"XX*\x00" + bytes(20),                                                   # unknown byte order
    _tiff_ifd0([(0x8769, 4, 1, struct.pack("<I", 0x7FFFFFFF))]),               # Exif IFD offset past the end
    _tiff_ifd0([(0x8825, 4, 1, struct.pack("<I", 8))]),                        # GPS IFD pointing at IFD0 (a loop)
    _tiff_ifd0([(0x010F, 2, 0x7FFFFFFF, struct.pack("<I", 8))]),               # Make with a huge count
    _tiff_ifd0([(0x0112, 2, 4, b"abc\x00")]),                                  # Orientation as text
], ids=["ifd0-offset", "byte-order", "exif-offset", "gps-loop", "huge-count", "orientation-text"])
def test_malformed_exif_blocks_give_default_metadata(tiff: bytes) -> None:
    good = jpeg_bytes()
    meta = _metadata(good[:2] + _exif_segment(tiff) + good[2:])
    assert meta.gps is None and meta.camera.make is None and meta.orientation == 1 and meta.capture_time is None


@pytest.mark.filterwarnings("ignore::UserWarning")
@given(st.binary(max_size=300), st.sampled_from([b"II*\x00\x08\x00\x00\x00", b"MM\x00*\x00\x00\x00\x08"]))
def test_read_metadata_never_raises_on_garbage_exif(garbage: bytes, header: bytes) -> None:
    good = _GOOD_JPEG
    meta = _metadata(good[:2] + _exif_segment(header + garbage) + good[2:])
    assert 1 <= meta.orientation <= 8
    assert meta.gps is None or (-90 <= meta.gps.lat <= 90 and -180 <= meta.gps.lon <= 180)


def test_exif_parser_exception_is_logged_by_type_only(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    secret = "uploader-secret@example.com"

    def broken_getexif(self: Image.Image) -> Image.Exif:
        raise SyntaxError(f"not a TIFF file near {secret}")

    monkeypatch.setattr(Image.Image, "getexif", broken_getexif)
    data = jpeg_bytes(exif=make_exif(lat=10.0, lon=20.0, orientation=6))
    with caplog.at_level(logging.WARNING, logger="splatkit.io.exif"):
        meta = _metadata(data)
    assert meta.gps is None and meta.orientation == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("test.jpg" in m and "SyntaxError" in m for m in messages)
    assert all(secret not in m for m in messages)


def test_exif_text_fields_are_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "uploader-secret@example.com"
    exif = make_exif(description=secret, make=secret, model=secret, lat=10.0, lon=20.0)
    for i in range(3):
        write_jpeg(tmp_path / f"{i}.jpg", exif=exif, seed=i)
    (tmp_path / "broken.jpg").write_bytes(jpeg_bytes(exif=exif)[:400])
    (tmp_path / "notes.txt").write_text(secret)
    with caplog.at_level(logging.DEBUG, logger="splatkit"):
        image_set = read_image_set(tmp_path)
    assert len(image_set) == 3
    assert caplog.records, "expected warnings about broken.jpg and notes.txt"
    assert all(secret not in record.getMessage() for record in caplog.records)


# --- real photos ---------------------------------------------------------------------------------------

def _read_real(folder: Path):
    paths = sorted(folder.glob("*.jpg"))
    assert paths
    out = []
    for path in paths:
        with Image.open(path) as im:
            out.append(read_metadata(im, name=path.name))
    return out


def test_real_lund_gps_is_in_lund_sweden() -> None:
    metas = _read_real(dataset("opensfm-lund") / "data" / "lund" / "images")
    assert len(metas) == 29
    for meta in metas:
        assert meta.gps is not None and meta.gps.alt is not None
        assert 55.69 < meta.gps.lat < 55.71 and 13.18 < meta.gps.lon < 13.21
        assert 0 < meta.gps.alt < 100
        assert meta.camera.focal_length_mm == pytest.approx(4.3)
        assert meta.camera.focal_length_35mm == 35.0


def test_real_caliterra_gps_is_in_texas_and_sensor_width_found() -> None:
    metas = _read_real(dataset("odm-caliterra-subset10") / "images")
    assert len(metas) == 10
    for meta in metas:
        assert meta.gps is not None and meta.gps.alt is not None
        assert 30.1 < meta.gps.lat < 30.3 and -98.2 < meta.gps.lon < -98.0
        assert meta.camera.make == "Canon" and meta.camera.model == "Canon PowerShot SX260 HS"
        assert meta.camera.focal_length_mm == pytest.approx(4.5)
        assert meta.camera.sensor_width_mm == pytest.approx(6.2, abs=0.05)  # 1/2.3" sensor
        assert meta.capture_time is not None and meta.capture_time.startswith("2014:10:19")


def test_real_berlin_gps_and_lens_fallback() -> None:
    metas = _read_real(dataset("opensfm-berlin") / "data" / "berlin" / "images")
    assert len(metas) == 3
    for meta in metas:
        assert meta.gps is not None
        assert 52.51 < meta.gps.lat < 52.53 and 13.39 < meta.gps.lon < 13.41
        assert meta.camera.make == "Apple" and meta.camera.focal_length_35mm == 35.0


@pytest.mark.parametrize(("text", "expected"), [
    ('drone-dji:GpsLatitude = "+30.5"', {"GpsLatitude": 30.5}),
    ("drone-dji:GpsLatitude='-1.25'", {"GpsLatitude": -1.25}),
    ("<drone-dji:AbsoluteAltitude>\n  12.5\n</drone-dji:AbsoluteAltitude>", {"AbsoluteAltitude": 12.5}),
    ('drone-dji:GpsLatitude="1" drone-dji:GpsLatitude="2"', {"GpsLatitude": 1.0}),   # the first one wins
    ('drone-dji:GpsLatitude="' + "1" * 100 + '"', {}),           # a value longer than any real one
    ("drone-dji:GpsLatitude" + " " * 40 + '="3"', {}),            # too far from its name
    ('drone-dji:GpsLatitude="3', {}),                              # unterminated
    ("drone-dji:GpsLatitude>" + " " * 100_000, {}),                # the packet that took the old regex minutes
])
def test_dji_values_are_read_within_a_fixed_window(text: str, expected: dict[str, float]) -> None:
    assert parse_dji_xmp(text) == expected


def test_xmp_beyond_the_cap_is_not_read() -> None:
    from splatkit.io.exif import MAX_XMP_BYTES

    packet = b" " * MAX_XMP_BYTES + b'drone-dji:GpsLatitude="30.0"'
    assert parse_dji_xmp(packet) == {}
    assert parse_dji_xmp(packet[-40:]) == {"GpsLatitude": 30.0}


class _Tagged:
    def __init__(self, value: object) -> None:
        self.info: dict[str, object] = {}
        self.tag_v2 = {700: value}


@pytest.mark.parametrize("value", [0xFFFFFFFF, (1, 3), 2.5, None, (b"a", 3)])
def test_an_xmp_tag_that_is_not_text_is_no_packet(value: object) -> None:
    from splatkit.io.exif import xmp_packet

    assert xmp_packet(_Tagged(value)) is None  # type: ignore[arg-type]


def test_an_xmp_tag_of_bytes_or_text_is_a_packet() -> None:
    from splatkit.io.exif import xmp_packet

    assert xmp_packet(_Tagged(b"<x/>")) == b"<x/>"  # type: ignore[arg-type]
    assert xmp_packet(_Tagged("<x/>")) == b"<x/>"  # type: ignore[arg-type]
