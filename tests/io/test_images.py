"""read_image_set / describe_image_set on crafted folders and ZIPs, and on the real photo datasets."""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatkit.contracts import ImageSet
from splatkit.errors import InputError
from splatkit.io.images import (
    describe_image_set,
    extracting_under,
    info,
    is_image_source,
    probe_image,
    read_image_set,
)
from splatkit.io.safe_zip import EXTRACTED_MARKER, ZipLimits
from tests.conftest import dataset
from tests.io._image_factory import dji_xmp, jpeg_bytes, make_exif, write_jpeg, write_zip

MB = 1 << 20


def _three_photos(folder: Path) -> list[Path]:
    return [write_jpeg(folder / f"{i}.jpg", seed=i, exif=make_exif(lat=10.0 + i * 1e-4, lon=20.0, alt=100.0 + i))
            for i in range(3)]


def _truncated(path: Path) -> Path:
    data = jpeg_bytes(160, 120, seed=99)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _block_pixels(width: int, height: int) -> np.ndarray:
    """Left half red, right half blue, in stored (un-rotated) orientation: [height, width, 3]."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2, 0] = 255
    pixels[:, width // 2:, 2] = 255
    return pixels


# --- folders -------------------------------------------------------------------------------------------

def test_folder_is_read_recursively_with_posix_names_sorted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "photos"
    write_jpeg(root / "b.jpg", seed=1)
    write_jpeg(root / "flight2" / "a.JPG", seed=2)
    write_jpeg(root / "flight1" / "deep" / "c.jpeg", seed=3)
    Image.fromarray(_block_pixels(40, 30)).save(root / "d.png")
    write_jpeg(root / ".thumbnails" / "x.jpg")
    write_jpeg(root / "__MACOSX" / "._b.jpg")
    (root / "._b.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (root / ".DS_Store").write_bytes(b"junk")
    (root / "flight1" / "report.pdf").write_bytes(b"%PDF-1.4")
    with caplog.at_level(logging.WARNING, logger="splatkit.io.images"):
        image_set = read_image_set(root)
    assert isinstance(image_set, ImageSet)
    assert image_set.names == ("b.jpg", "d.png", "flight1/deep/c.jpeg", "flight2/a.JPG")
    assert image_set.root == root and image_set.source == str(root)
    assert image_set.by_name("flight1/deep/c.jpeg").path == root / "flight1" / "deep" / "c.jpeg"
    assert image_set.by_name("d.png").width == 40 and image_set.by_name("d.png").height == 30
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "flight1/report.pdf" in text
    assert "DS_Store" not in text and "MACOSX" not in text and "thumbnails" not in text


def test_records_carry_size_camera_gps_and_time(tmp_path: Path) -> None:
    exif = make_exif(make="DJI", model="FC6310", focal_mm=8.8, focal_35mm=24, datetime_original="2023:04:05 06:07:08",
                     lat=-33.5, lon=151.25, alt=40.0)
    xmp = dji_xmp({"AbsoluteAltitude": "+123.40", "RelativeAltitude": "+60.00"})
    for i in range(3):
        write_jpeg(tmp_path / f"DJI_{i:04d}.JPG", 120, 90, seed=i, exif=exif, xmp=xmp)
    image_set = read_image_set(tmp_path)
    record = image_set[0]
    assert (record.width, record.height, record.orientation) == (120, 90, 1)
    assert (record.camera.make, record.camera.model) == ("DJI", "FC6310")
    assert record.camera.focal_length_mm == pytest.approx(8.8)
    assert record.camera.focal_px(record.width, record.height) == pytest.approx(24 / 36 * 120)
    assert record.gps is not None
    assert (record.gps.lat, record.gps.lon, record.gps.alt) == (pytest.approx(-33.5), pytest.approx(151.25), 123.4)
    assert record.capture_time == "2023:04:05 06:07:08"
    assert image_set.has_gps()


@pytest.mark.parametrize(("orientation", "k"), [(6, -1), (8, 1), (3, 2)])
def test_orientation_swaps_size_and_load_returns_upright_pixels(tmp_path: Path, orientation: int, k: int) -> None:
    stored = _block_pixels(96, 64)
    for i in range(3):
        write_jpeg(tmp_path / f"{i}.jpg", pixels=stored, exif=make_exif(orientation=orientation), quality=95)
    record = read_image_set(tmp_path)[0]
    upright_size = (64, 96) if orientation in (6, 8) else (96, 64)
    assert (record.width, record.height) == upright_size
    assert record.orientation == orientation
    with Image.open(record.path) as im:
        raw = np.asarray(im.convert("RGB"))  # decoded as stored, no orientation applied
    expected = np.rot90(raw, k=k)  # EXIF 6 = rotate 90 deg clockwise to view, 8 = counter-clockwise, 3 = 180
    pixels = record.load()
    assert pixels.dtype == np.uint8 and pixels.shape == (record.height, record.width, 3)
    np.testing.assert_array_equal(pixels, expected)
    half = record.load(downscale=2)
    assert half.shape == (record.height // 2, record.width // 2, 3)
    # Downscaled colour layout matches the upright full-size image block for block.
    coarse = expected.reshape(record.height // 2, 2, record.width // 2, 2, 3).mean(axis=(1, 3))
    assert np.abs(half.astype(float) - coarse).mean() < 12.0


def test_truncated_jpeg_is_skipped_with_a_warning_naming_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _three_photos(tmp_path)
    _truncated(tmp_path / "sub" / "cut.jpg")
    with caplog.at_level(logging.WARNING, logger="splatkit.io.images"):
        image_set = read_image_set(tmp_path)
    assert image_set.names == ("0.jpg", "1.jpg", "2.jpg")
    warned = [r.getMessage() for r in caplog.records if "sub/cut.jpg" in r.getMessage()]
    assert warned and any("truncated" in m for m in warned)


def test_too_few_usable_images_lists_rejected_files_and_reasons(tmp_path: Path) -> None:
    write_jpeg(tmp_path / "a.jpg", seed=1)
    write_jpeg(tmp_path / "b.jpg", seed=2)
    _truncated(tmp_path / "cut.jpg")
    (tmp_path / "fake.jpg").write_text("this is a text file with a .jpg suffix")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError) as info:
        read_image_set(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "found 2 usable image(s)" in message
    assert "cut.jpg: cannot decode" in message and "truncated" in message
    assert "fake.jpg: not a recognised image format" in message
    assert "empty.jpg" in message
    assert info.value.path == str(tmp_path)
    assert len(read_image_set(tmp_path, min_images=2)) == 2


def test_probe_image_reports_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing"):
        probe_image(tmp_path / "nope.jpg", name="nope.jpg")
    cut = _truncated(tmp_path / "cut.jpg")
    with pytest.raises(InputError, match="truncated") as info:
        probe_image(cut, name="cut.jpg")
    assert info.value.path == str(cut)
    whole = write_jpeg(tmp_path / "whole.jpg", 160, 120, seed=99)
    assert probe_image(whole, name="whole.jpg").width == 160


# --- ZIPs ----------------------------------------------------------------------------------------------

def test_zip_with_nested_folders_junk_and_a_pdf(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    members = {
        "survey/flight1/a.jpg": jpeg_bytes(seed=1, exif=make_exif(lat=30.17, lon=-98.09, alt=318.9)),
        "survey/flight1/b.jpg": jpeg_bytes(seed=2),
        "survey/flight2/c.JPG": jpeg_bytes(seed=3),
        "__MACOSX/survey/flight1/._a.jpg": b"\x00\x05\x16\x07",
        "survey/._b.jpg": b"\x00\x05\x16\x07",
        "survey/.DS_Store": b"junk",
        "survey/brief.pdf": b"%PDF-1.4\n%%EOF",
    }
    archive = write_zip(tmp_path / "Survey.ZIP", members)
    out = tmp_path / "work" / "images"
    with caplog.at_level(logging.WARNING, logger="splatkit"):
        image_set = read_image_set(archive, extract_to=out)
    assert image_set.names == ("survey/flight1/a.jpg", "survey/flight1/b.jpg", "survey/flight2/c.JPG")
    assert image_set.root == out and image_set.source == str(archive)
    assert (out / EXTRACTED_MARKER).is_file()
    assert not (out / "survey" / "brief.pdf").exists()  # non-photos are not even extracted
    record = image_set.by_name("survey/flight1/a.jpg")
    assert record.path == out / "survey" / "flight1" / "a.jpg"
    assert record.gps is not None and record.gps.lon == pytest.approx(-98.09)
    assert record.load().shape == (64, 96, 3)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "survey/brief.pdf" in text and "MACOSX" not in text and "DS_Store" not in text


def test_zip_without_extract_to_uses_a_fresh_folder_and_cleans_it_on_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    good = write_zip(tmp_path / "good.zip", {f"{i}.jpg": jpeg_bytes(seed=i) for i in range(3)})
    image_set = read_image_set(good)
    assert image_set.root.parent == scratch and len(image_set) == 3
    assert all(r.path.is_file() for r in image_set)

    two = write_zip(tmp_path / "two.zip", {"a.jpg": jpeg_bytes(seed=1), "b.jpg": jpeg_bytes(seed=2)})
    with pytest.raises(InputError, match="found 2 usable image"):
        read_image_set(two)
    assert sorted(scratch.iterdir()) == [image_set.root]  # the failed extraction left nothing

    from splatkit.io import images

    images._remove_tempdir_extractions()  # what runs at interpreter exit
    assert list(scratch.iterdir()) == []


def test_zip_extractions_go_where_extracting_under_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    systemp, stage_scratch = tmp_path / "systemp", tmp_path / "stage_scratch"
    systemp.mkdir()
    stage_scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systemp))
    good = write_zip(tmp_path / "good.zip", {f"{i}.jpg": jpeg_bytes(seed=i) for i in range(3)})
    with extracting_under(stage_scratch):
        image_set = read_image_set(good)
    assert image_set.root.parent == stage_scratch and all(r.path.is_file() for r in image_set)
    assert list(systemp.iterdir()) == []
    assert read_image_set(good).root.parent == systemp  # the block is over


def test_a_zip_read_in_a_process_leaves_nothing_in_the_temporary_folder(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    systemp = tmp_path / "systemp"
    systemp.mkdir()
    good = write_zip(tmp_path / "good.zip", {f"{i}.jpg": jpeg_bytes(seed=i) for i in range(3)})
    code = ("import sys\nfrom splatkit.io.images import read_image_set\n"
            "print(read_image_set(sys.argv[1]).root)\n")
    done = subprocess.run([sys.executable, "-c", code, str(good)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(systemp)}, check=True)
    assert done.stdout.strip().startswith(str(systemp))
    assert list(systemp.iterdir()) == []


@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda d: write_zip(d / "empty.zip", {}), "ZIP archive is empty"),
        (lambda d: _write(d / "zero.zip", b""), "0 bytes"),
        (lambda d: _write(d / "fake.zip", jpeg_bytes()), "not a readable ZIP"),
        (lambda d: d / "missing", "does not exist"),
        (lambda d: d / "missing.zip", "does not exist"),
        (lambda d: _write(d / "one.jpg", jpeg_bytes()), "not a .zip"),
        (lambda d: write_zip(d / "docs.zip", {"a.pdf": b"%PDF", "b.txt": b"x"}), "found 0 usable"),
    ],
    ids=["empty-zip", "zero-byte-zip", "jpeg-named-zip", "missing-folder", "missing-zip", "single-file", "no-photos"],
)
def test_bad_sources_raise_one_clear_input_error(tmp_path: Path, make_source, message: str) -> None:
    source = make_source(tmp_path)
    with pytest.raises(InputError, match=message) as info:
        read_image_set(source, extract_to=tmp_path / "out")
    assert "\n" not in str(info.value)
    assert str(source) in str(info.value)


def test_zip_with_two_images_is_an_input_error(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "two.zip", {"a.jpg": jpeg_bytes(seed=1), "b.jpg": jpeg_bytes(seed=2)})
    with pytest.raises(InputError, match="at least 3"):
        read_image_set(archive, extract_to=tmp_path / "out")


def test_hostile_zips_are_rejected_through_read_image_set(tmp_path: Path) -> None:
    photos = {f"{i}.jpg": jpeg_bytes(seed=i) for i in range(3)}
    evil = write_zip(tmp_path / "evil.zip", {**photos, "../evil.jpg": jpeg_bytes()})
    with pytest.raises(InputError, match="'../evil.jpg'"):
        read_image_set(evil, extract_to=tmp_path / "out")
    absolute = write_zip(tmp_path / "abs.zip", {**photos, "/etc/evil.jpg": jpeg_bytes()})
    with pytest.raises(InputError, match="'/etc/evil.jpg'"):
        read_image_set(absolute, extract_to=tmp_path / "out")
    bomb = write_zip(tmp_path / "bomb.zip", {**photos, "bomb.jpg": bytes(50 * MB)})
    with pytest.raises(InputError, match="bomb.jpg"):
        read_image_set(bomb, extract_to=tmp_path / "out", limits=ZipLimits(max_total_bytes=5 * MB))
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.jpg").exists()


def test_truncated_photo_inside_a_zip_is_reported_by_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cut = jpeg_bytes(160, 120, seed=9)
    archive = write_zip(tmp_path / "in.zip", {"a.jpg": jpeg_bytes(seed=1), "b.jpg": jpeg_bytes(seed=2),
                                              "dir/cut.jpg": cut[: len(cut) // 2]})
    with pytest.raises(InputError) as info:
        read_image_set(archive, extract_to=tmp_path / "out")
    assert "dir/cut.jpg: cannot decode" in str(info.value)


# --- describe ------------------------------------------------------------------------------------------

def test_describe_image_set_summarises_sizes_cameras_and_gps(tmp_path: Path) -> None:
    cam_a = dict(make="DJI", model="FC6310", focal_mm=8.8, focal_35mm=24)
    for i in range(3):
        write_jpeg(tmp_path / f"a{i}.jpg", 120, 90, seed=i,
                   exif=make_exif(**cam_a, lat=30.0 + i / 1000, lon=-98.0, alt=300.0 + i,
                                  datetime_original=f"2024:01:01 10:00:0{i}"))
    write_jpeg(tmp_path / "b.jpg", 90, 60, seed=7, exif=make_exif(make="Canon", model="X", focal_mm=4.5,
                                                                  orientation=6))
    summary = describe_image_set(read_image_set(tmp_path))
    json.dumps(summary)  # JSON-able, for `splatkit info --json`
    assert summary["count"] == 4
    assert summary["sizes"] == {"120x90": 3, "60x90": 1}
    assert summary["rotated"] == 1
    assert [(c["make"], c["count"]) for c in summary["cameras"]] == [("DJI", 3), ("Canon", 1)]
    assert summary["cameras"][0]["focal_px"] == pytest.approx(24 / 36 * 120)
    assert summary["cameras"][1]["focal_px"] is None
    assert summary["has_gps"] is False
    assert summary["gps"]["count"] == 3
    assert summary["gps"]["lat"] == [pytest.approx(30.0), pytest.approx(30.002)]
    assert summary["gps"]["alt"] == [pytest.approx(300.0), pytest.approx(302.0)]
    assert summary["capture_time"] == {"first": "2024:01:01 10:00:00", "last": "2024:01:01 10:00:02"}


def test_is_image_source_and_info_for_the_cli(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_jpeg(folder / "deep" / "a.jpg", exif=make_exif(lat=1.0, lon=2.0))
    write_jpeg(folder / "deep" / "b.jpg", seed=2)
    (tmp_path / "junk_only" / "__MACOSX").mkdir(parents=True)
    write_jpeg(tmp_path / "junk_only" / "__MACOSX" / "x.jpg")
    (tmp_path / "notes.txt").write_text("x")
    archive = write_zip(tmp_path / "p.zip", {"x/a.jpg": jpeg_bytes(seed=1), "x/b.jpg": jpeg_bytes(seed=2),
                                             "x/c.jpg": jpeg_bytes(seed=3)})
    assert is_image_source(folder) and is_image_source(archive)
    assert not is_image_source(tmp_path / "junk_only")
    assert not is_image_source(tmp_path / "notes.txt") and not is_image_source(tmp_path / "missing")

    folder_info = info(folder)
    assert folder_info["type"] == "images" and folder_info["container"] == "folder"
    assert folder_info["count"] == 2 and folder_info["enough_for_reconstruction"] is False
    assert folder_info["gps"]["count"] == 1
    before = set(Path(tempfile.gettempdir()).glob("splatkit-info-*"))
    zip_info = info(archive)
    assert zip_info["container"] == "zip" and zip_info["root"] is None
    assert zip_info["count"] == 3 and zip_info["enough_for_reconstruction"] is True
    assert set(Path(tempfile.gettempdir()).glob("splatkit-info-*")) == before  # temporary extraction removed
    json.dumps(zip_info)
    with pytest.raises(InputError, match="found 0 usable"):
        info(tmp_path / "junk_only")


# --- real photos ---------------------------------------------------------------------------------------

def test_real_lund_folder() -> None:
    image_set = read_image_set(dataset("opensfm-lund") / "data" / "lund" / "images")
    assert len(image_set) == 29
    assert image_set.names[0] == "01.jpg" and image_set.names[-1] == "29.jpg"
    assert all((r.width, r.height) == (1024, 768) for r in image_set)
    assert image_set.has_gps()
    summary = describe_image_set(image_set)
    assert 55.69 < summary["gps"]["lat"][0] <= summary["gps"]["lat"][1] < 55.71
    assert 13.18 < summary["gps"]["lon"][0] <= summary["gps"]["lon"][1] < 13.21
    assert summary["cameras"][0]["focal_px"] == pytest.approx(35 / 36 * 1024)
    pixels = image_set[0].load()
    assert pixels.shape == (768, 1024, 3) and pixels.std() > 10  # a real photo, not a flat fill


def test_real_lund_as_zip_matches_the_folder(tmp_path: Path) -> None:
    folder = dataset("opensfm-lund") / "data" / "lund" / "images"
    archive = tmp_path / "lund.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # stored, not deflated: JPEGs do not compress
        for path in sorted(folder.glob("*.jpg")):
            zf.write(path, f"lund/{path.name}")
        zf.writestr("__MACOSX/lund/._01.jpg", b"\x00\x05\x16\x07")
    from_zip = read_image_set(archive, extract_to=tmp_path / "x")
    from_folder = read_image_set(folder)
    assert from_zip.names == tuple(f"lund/{n}" for n in from_folder.names)
    for a, b in zip(from_zip, from_folder):
        assert (a.width, a.height, a.camera, a.gps, a.capture_time) == (b.width, b.height, b.camera, b.gps,
                                                                        b.capture_time)


def test_real_caliterra_drone_photos_and_downscaled_load() -> None:
    image_set = read_image_set(dataset("odm-caliterra-subset10") / "images")
    assert len(image_set) == 10
    assert all((r.width, r.height) == (4000, 3000) for r in image_set)
    for record in image_set:
        assert record.gps is not None and 30.1 < record.gps.lat < 30.3 and -98.2 < record.gps.lon < -98.0
        assert record.camera.focal_length_mm == pytest.approx(4.5)
        assert record.camera.sensor_width_mm == pytest.approx(6.2, abs=0.05)
    focal_px = image_set[0].camera.focal_px(4000, 3000)
    assert focal_px == pytest.approx(4.5 / 6.1976 * 4000, rel=1e-3)
    small = image_set[0].load(downscale=4)
    assert small.shape == (750, 1000, 3) and small.dtype == np.uint8
    # The 1/4 image is the full image averaged down: compare on a coarse grid.
    full = image_set[0].load().astype(np.float32)
    coarse_full = full.reshape(75, 40, 100, 40, 3).mean(axis=(1, 3))
    coarse_small = small.astype(np.float32).reshape(75, 10, 100, 10, 3).mean(axis=(1, 3))
    assert np.abs(coarse_full - coarse_small).mean() < 3.0


def test_real_berlin_phone_photos() -> None:
    image_set = read_image_set(dataset("opensfm-berlin") / "data" / "berlin" / "images")
    assert image_set.names == ("01.jpg", "02.jpg", "03.jpg")
    assert all((r.width, r.height) == (3264, 2448) for r in image_set)
    assert image_set.has_gps()
    assert all(52.51 < r.gps.lat < 52.53 for r in image_set if r.gps)
    assert image_set[0].camera.focal_length_35mm == 35.0
    assert image_set[0].load(downscale=8).shape == (306, 408, 3)
