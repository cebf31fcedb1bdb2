"""Every hostile input of :mod:`tests.hostile.generators`, through every reader that meets it (issue #14).

An input either reads (photo metadata: a bad tag costs the hints, never the photo) or fails with a
``SplatkitError`` whose message names the file and, where there is one, the member or field.
"""

from __future__ import annotations

import collections
import re
import warnings
from pathlib import Path

import pytest

from splatkit.errors import SplatkitError
from tests.hostile.generators import CASES, Case
from tests.hostile.readers import read_case

MAX_INPUT_BYTES = 64 << 10

#: What the message must say beyond the file name (a regular expression).
EXPECT = {
    "zip-encrypted": r"'a\.jpg' is encrypted",
    "zip-deflate-corrupt": r"'a\.jpg' is corrupt",
    "zip-lzma-corrupt": r"'a\.jpg' is corrupt",
    "zip-bzip2-corrupt": r"'a\.jpg' is corrupt",
    "zip-bad-utf8-name": r"not valid UTF-8",
    "zip-repeated-entry": r"'a\.jpg' is listed twice",
    "zip-overlapping-entries": r"shares its data",
    "zip-declared-too-big": r"max_total_bytes",
    "sog-encrypted": r"'meta\.json' is encrypted",
    "sog-deflate-corrupt": r"'meta\.json' is corrupt",
    "sog-lzma-corrupt": r"'meta\.json' is corrupt",
    "sog-bad-utf8-name": r"not valid UTF-8",
    "sog-duplicate-meta": r"'meta\.json' is listed twice",
    "sog-meta-count-string": r"'count'",
    "sog-meta-means-string": r"means",
    "sog-meta-shn-string": r"shN",
    "sog-meta-splatkit-list": r"'splatkit'",
    "sog-meta-splatkit-bad-values": r"splatkit\.",
    "sog-meta-files-not-strings": r"'means\.files'",
    "sog-bomb-header-13000": r"decompression bomb",
    "sog-bomb-real-zero-pixels": r"decompression bomb",
    "sog-image-too-large-for-count": r"decompression bomb|far more than",
    "sog-image-past-pixel-limit": r"'means_l\.webp'",
    "sog-image-far-larger-than-count": r"far more than count=10 splats need",
    "posed-png-100000": r"image b\.png",
    "posed-png-20000": r"image b\.png",
    "posed-png-70000-wide": r"image b\.png declares 70000x10",
    "photo-png-100000": r"big\.png",
    "ply-huge-element-before-vertex": r"element 'face'",
    "ply-huge-element-big-endian": r"element 'junk'",
    "ply-huge-list": r"element 'face'",
    "ply-huge-vertex-count": r"vertex element",
    "points3d-track-2^64-1": r"points3D\.bin.*track of point #0",
    "points3d-track-2^63": r"points3D\.bin.*track of point #0",
    "points3d-track-2^40": r"points3D\.bin.*track of point #0",
    "images-n2d-2^62": r"images\.bin",
    "cameras-count-2^64-1": r"cameras\.bin",
    "camera-focal-zero": r"Camera\[1\]\.fx is 0\.0",
    "camera-focal-negative": r"Camera\[1\]\.fx is -50\.0",
    "camera-focal-nan": r"Camera\[1\]\.params",
    "camera-focal-inf": r"Camera\[1\]\.params",
    "camera-principal-nan": r"Camera\[1\]\.params",
    "camera-size-zero": r"cameras\.bin: camera 1",
    "camera-size-huge": r"Camera\[1\] is 100000x100000",
    "names-dotdot": r"images\.bin: Frames\.names: '\.\./a\.jpg'",
    "names-nested-dotdot": r"'x/\.\./\.\./a\.jpg'",
    "names-absolute": r"'/etc/passwd'",
    "names-backslash": r"is not a relative path",
    "names-drive": r"'C:/a\.jpg'",
    "ply-zero-vertices-compressed": r"empty cloud|no splats",
    "spz-zeros-v2-count-lies": r"claims 60000000 splats",
    "opensfm-deep-nesting": r"nested too deeply",
    "colmap-text-huge-camera-id": r"cameras\.txt: line \d+",
    "colmap-text-huge-image-id": r"images\.txt: line \d+",
    "colmap-text-huge-point-id": r"points3D\.txt: line \d+",
    "colmap-text-negative-camera-id": r"cameras\.txt: line \d+",
    "opensfm-huge-integer": r"coordinates must be a list of 3 numbers",
    "opensfm-reference-string": r"reference_lla",
    "opensfm-shots-list": r"shots must be a JSON object",
    "opensfm-rotation-huge": r"rotation has non-finite",
    "ply-zero-vertices-sh3-compressed": r"empty cloud|no splats",
    "ply-zero-vertices-ascii-compressed": r"empty cloud|no splats",
}
#: Inputs that must read: a malformed metadata tag costs the photo its hints, never its pixels.
MUST_READ = {"xmp-unterminated-element", "xmp-unterminated-attribute", "xmp-many-names", "xmp-whitespace-runs",
             "tiff-xmp-rational", "tiff-xmp-long-huge", "tiff-xmp-short", "tiff-xmp-double",
             "sog-meta-asset-string", "sog-meta-asset-list",
             # valid files at deflate's best ratio: they must read, and within the guard's limits
             "spz-zeros-sh0", "spz-zeros-sh3"}


def _size(path: Path) -> int:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_a_splatkit_error_or_reads(case: Case, tmp_path: Path) -> None:
    made = case.make(tmp_path)
    assert _size(made) < MAX_INPUT_BYTES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Pillow's DecompressionBombWarning for the bomb cases
        if case.name in MUST_READ:
            read_case(case.reader, made, tmp_path / "scratch")
            return
        with pytest.raises(SplatkitError) as info:
            read_case(case.reader, made, tmp_path / "scratch")
    message = str(info.value)
    assert "\n" not in message
    if case.reader != "compress":   # the encoder gets a cloud, not a file
        assert made.name in message or str(tmp_path) in message, message
    assert re.search(EXPECT.get(case.name, "."), message), message


def test_every_class_has_at_least_three_variants() -> None:
    counts = collections.Counter(case.klass for case in CASES)
    assert min(counts.values()) >= 3, counts
    assert set(EXPECT) | MUST_READ <= {c.name for c in CASES}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("case", [c for c in CASES if c.reader == "sog"], ids=lambda c: c.name)
def test_splatkit_info_prints_one_line_not_a_traceback(case: Case, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from splatkit.cli import EXIT_USER_ERROR, main

    made = case.make(tmp_path)
    status = main(["info", str(made)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    # info reads meta.json and the members, not the pixels: the decode-size cases describe fine
    assert status in (0, EXIT_USER_ERROR)
    if case.name in MUST_READ:
        assert status == 0


def test_one_bad_tag_does_not_cost_the_set_its_photos(tmp_path: Path) -> None:
    """Policy: a photo whose metadata is malformed keeps its pixels; the set still reads."""
    from splatkit.io.images import read_image_set
    from tests.hostile.generators import png_with_xmp, tiff_with_xmp_tag

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.tif").write_bytes(tiff_with_xmp_tag(5, (1, 3)))
    (folder / "b.tif").write_bytes(tiff_with_xmp_tag(4, 0xFFFFFFFF))
    (folder / "c.png").write_bytes(png_with_xmp("drone-dji:GpsLatitude>" + " " * 100_000))
    images = read_image_set(folder)
    assert len(images) == 3
