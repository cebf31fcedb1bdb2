"""JPEG + EXIF encoding: what splatkit's EXIF reader gets back, in every hemisphere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from splatkit.demo.jpeg_exif import PhotoExif, encode_jpeg
from splatkit.io.images import probe_image


def _meta(lat: float, lon: float, alt: float) -> PhotoExif:
    return PhotoExif(lat=lat, lon=lon, alt=alt, make="splatkit", model="demo-cam", focal_length_mm=4.8,
                     focal_length_35mm=28.0, sensor_width_mm=6.17, capture_time="2024:06:01 10:00:02")


@pytest.mark.parametrize(("lat", "lon", "alt"), [
    (46.7712345678, 7.1136, 690.25),
    (-33.8688197, -70.0000001, 12.5),      # south / west
    (0.0000005, -0.9999999, -27.125),       # near the equator and meridian, below sea level
    (10.99999999999, 179.99999999, 0.0),   # seconds that round up to a whole degree; the antimeridian
])
def test_gps_focal_and_time_read_back(tmp_path: Path, lat: float, lon: float, alt: float) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    path = tmp_path / "DJI_0001.JPG"
    path.write_bytes(encode_jpeg(pixels, _meta(lat, lon, alt)))
    record = probe_image(path, name=path.name)
    assert (record.width, record.height) == (64, 48)
    assert record.gps is not None
    # 1e-6 arcsec rationals: better than 1e-9 degrees; altitude to the millimetre.
    assert record.gps.lat == pytest.approx(lat, abs=1e-9)
    assert record.gps.lon == pytest.approx(lon, abs=1e-9)
    assert record.gps.alt == pytest.approx(alt, abs=1e-3)
    assert record.camera.make == "splatkit" and record.camera.model == "demo-cam"
    assert record.camera.focal_length_35mm == 28.0
    # The physical focal and sensor width give the same pixels as the 35 mm equivalent.
    assert record.camera.focal_length_mm / record.camera.sensor_width_mm * 64 == pytest.approx(28.0 / 36.0 * 64,
                                                                                              rel=1e-3)
    assert record.capture_time == "2024:06:01 10:00:02"


def test_encoding_is_byte_for_byte_repeatable() -> None:
    pixels = np.random.default_rng(1).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    assert encode_jpeg(pixels, _meta(1.0, 2.0, 3.0)) == encode_jpeg(pixels.copy(), _meta(1.0, 2.0, 3.0))


def test_importing_the_demo_package_stays_light() -> None:
    code = ("import sys, splatkit.demo; "
            "print(sorted(m for m in ('torch', 'pycolmap', 'gsplat', 'numba', 'boto3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
