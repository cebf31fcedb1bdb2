"""Hypothesis fuzzing of the PLY, SOG, COLMAP, EXIF/XMP and ZIP readers: every failure is a SplatkitError.

Each test starts from a valid file, mutates bytes (or builds one from a grammar with hostile
counts and types) and reads it; anything but a read or a ``SplatkitError`` is a bug. Examples
are bounded so the module runs in CI in well under a minute.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splatkit.errors import SplatkitError
from tests.hostile import generators as gen
from tests.hostile.readers import read_colmap, read_sog, read_zip

# SPLATKIT_FUZZ_EXAMPLES=2000 runs a longer, randomised search locally; CI runs the bounded,
# reproducible default.
_EXAMPLES = int(os.environ.get("SPLATKIT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=_EXAMPLES, deadline=None, derandomize="SPLATKIT_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _mutations(size: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(st.tuples(st.integers(0, max(size - 1, 0)), st.integers(0, 255)), min_size=1, max_size=6)


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for at, value in edits:
        out[at] = value
    return bytes(out[:cut] if cut is not None else out)


def _reads_or_splatkit_error(read: Callable[[], object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            read()
        except SplatkitError:
            pass


# ---------------------------------------------------------------------------------------------
# ZIP

_ZIP = bytes(gen.zip_bytes({"a.jpg": bytes(3000), "sub/b.jpg": b"abc" * 500}))
_ZIP_LZMA = bytes(gen.zip_bytes({"a.jpg": bytes(3000), "c.jpg": b"xyz" * 300}, compression=zipfile.ZIP_LZMA))


@FUZZ
@given(base=st.sampled_from([_ZIP, _ZIP_LZMA]), edits=st.data())
def test_fuzz_zip(tmp_path: Path, base: bytes, edits: st.DataObject) -> None:
    changes = edits.draw(_mutations(len(base)))
    cut = edits.draw(st.none() | st.integers(0, len(base)))
    path = tmp_path / "in.zip"
    path.write_bytes(_mutate(base, changes, cut))
    shutil.rmtree(tmp_path / "scratch", ignore_errors=True)
    _reads_or_splatkit_error(lambda: read_zip(path, tmp_path / "scratch"))


# ---------------------------------------------------------------------------------------------
# SOG

_json = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                  max_size=4), max_leaves=12)


@FUZZ
@given(edits=st.data())
def test_fuzz_sog_bytes(tmp_path: Path, edits: st.DataObject) -> None:
    base = bytes(gen.sog_bytes())
    path = tmp_path / "scene.sog"
    path.write_bytes(_mutate(base, edits.draw(_mutations(len(base))), edits.draw(st.none() | st.integers(0, len(base)))))
    _reads_or_splatkit_error(lambda: read_sog(path, tmp_path))


@FUZZ
@given(key=st.sampled_from(["version", "count", "asset", "means", "scales", "quats", "sh0", "shN", "splatkit",
                            "means.mins", "means.files", "scales.codebook", "shN.count", "shN.bands",
                            "splatkit.padding", "splatkit.offset", "splatkit.georeference"]), value=_json)
def test_fuzz_sog_meta_types(tmp_path: Path, key: str, value: object) -> None:
    members = gen._sog_members()
    meta = json.loads(members["meta.json"])
    node = meta
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {}) if isinstance(node.get(part), dict) else node
    node[last] = value
    members["meta.json"] = json.dumps(meta).encode()
    path = tmp_path / "scene.sog"
    path.write_bytes(bytes(gen.zip_bytes(members, compression=zipfile.ZIP_STORED)))
    _reads_or_splatkit_error(lambda: read_sog(path, tmp_path))


# ---------------------------------------------------------------------------------------------
# PLY

_COUNTS = st.one_of(st.integers(0, 4), st.sampled_from([2**31, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1, 10**30]))
_TYPES = st.sampled_from(["float", "double", "uchar", "int", "uint", "short", "char", "int8", "float64", "bogus"])


@st.composite
def _ply_headers(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(["binary_little_endian", "binary_big_endian", "ascii"]))
    lines = ["ply", f"format {fmt} 1.0"]
    for _ in range(draw(st.integers(0, 2))):
        lines.append(f"element {draw(st.sampled_from(['face', 'edge', 'junk']))} {draw(_COUNTS)}")
        if draw(st.booleans()):
            lines.append(f"property list {draw(_TYPES)} {draw(_TYPES)} idx")
        lines.append(f"property {draw(_TYPES)} a")
    lines.append(f"element vertex {draw(_COUNTS)}")
    props = list(gen._SPLAT_PROPS) + [f"f_rest_{i}" for i in range(draw(st.sampled_from([0, 9, 24, 45, 7])))]
    for prop in props:
        lines.append(f"property {draw(st.sampled_from(['float', 'float', 'double', 'uchar']))} {prop}")
    lines.append("end_header")
    body = draw(st.binary(max_size=600))
    return ("\n".join(lines) + "\n").encode() + body


@FUZZ
@given(data=_ply_headers())
def test_fuzz_ply_grammar(data: bytes) -> None:
    from splatkit.io.ply import decode_ply

    _reads_or_splatkit_error(lambda: decode_ply(data))


@FUZZ
@given(edits=st.data())
def test_fuzz_ply_bytes(tmp_path: Path, edits: st.DataObject) -> None:
    from splatkit.io.ply import encode_ply, read_ply
    from tests.compress.synthetic import synthetic_cloud

    base = encode_ply(synthetic_cloud(5, 1, seed=1))
    path = tmp_path / "a.ply"
    path.write_bytes(_mutate(base, edits.draw(_mutations(len(base))), edits.draw(st.none() | st.integers(0, len(base)))))
    _reads_or_splatkit_error(lambda: read_ply(path))


# ---------------------------------------------------------------------------------------------
# COLMAP


@pytest.fixture(scope="module")
def colmap_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from splatkit.io.colmap_text import encode_cameras_text, encode_images_text, encode_points3d_text

    model = gen.colmap_model(tmp_path_factory.mktemp("colmap"))
    files = {p.name: p.read_bytes() for p in model.iterdir()}
    from splatkit.io.colmap_binary import read_cameras_binary, read_images_binary, read_points3d_binary

    files["cameras.txt"] = encode_cameras_text(read_cameras_binary(model / "cameras.bin")).encode()
    files["images.txt"] = encode_images_text(read_images_binary(model / "images.bin")).encode()
    files["points3D.txt"] = encode_points3d_text(read_points3d_binary(model / "points3D.bin")).encode()
    return files


@FUZZ
@given(part=st.sampled_from(["cameras", "images", "points3D"]), binary=st.booleans(), edits=st.data())
def test_fuzz_colmap(tmp_path: Path, colmap_files: dict[str, bytes], part: str, binary: bool,
                     edits: st.DataObject) -> None:
    suffix = ".bin" if binary else ".txt"
    model = tmp_path / "sparse"
    shutil.rmtree(model, ignore_errors=True)
    model.mkdir()
    for name in ("cameras", "images", "points3D"):
        data = colmap_files[name + suffix]
        if name == part:
            data = _mutate(data, edits.draw(_mutations(len(data))), edits.draw(st.none() | st.integers(0, len(data))))
        (model / (name + suffix)).write_bytes(data)
    _reads_or_splatkit_error(lambda: read_colmap(model, tmp_path))


# ---------------------------------------------------------------------------------------------
# EXIF / XMP

_XMP_PIECES = st.sampled_from(["drone-dji:GpsLatitude", "drone-dji:GpsLongtitude", "drone-dji:AbsoluteAltitude",
                               "drone-dji:RelativeAltitude", "=", '"', "'", ">", "<", " ", "\t", "\n", "+30.5",
                               "-1e309", "nan", "inf", "1" * 50, "</x>", "\x00", "\ufeff"])


@FUZZ
@given(pieces=st.lists(_XMP_PIECES, max_size=60), repeat=st.integers(1, 2000))
def test_fuzz_dji_xmp_text(pieces: list[str], repeat: int) -> None:
    from splatkit.io.exif import gps_from_dji_xmp, parse_dji_xmp

    fields = parse_dji_xmp(("".join(pieces) * repeat).encode())
    assert all(np.isfinite(v) for v in fields.values())
    gps_from_dji_xmp(fields)


class _TaggedImage:
    """What xmp_packet reads from a Pillow image: ``info`` and ``tag_v2``."""

    def __init__(self, info: dict, tags: dict) -> None:
        self.info = info
        self.tag_v2 = tags


_TAG_VALUES = st.one_of(st.none(), st.integers(-2**40, 2**40), st.sampled_from([0xFFFFFFFF, 2**63]), st.floats(),
                        st.binary(max_size=40), st.text(max_size=40),
                        st.tuples(st.integers(0, 2**32), st.integers(0, 2**32)),
                        st.lists(st.integers(0, 255), max_size=8).map(tuple))


@FUZZ
@given(info_value=_TAG_VALUES, tag_value=_TAG_VALUES)
def test_fuzz_xmp_tag_types(info_value: object, tag_value: object) -> None:
    from splatkit.io.exif import MAX_XMP_BYTES, xmp_packet

    packet = xmp_packet(_TaggedImage({"xmp": info_value}, {700: tag_value}))  # type: ignore[arg-type]
    assert packet is None or (isinstance(packet, bytes) and len(packet) <= 4 * MAX_XMP_BYTES)


@pytest.fixture(scope="module")
def exif_jpeg() -> bytes:
    from PIL import Image

    from tests.io._image_factory import make_exif

    exif = make_exif(make="DJI", model="FC", focal_mm=4.5, focal_35mm=24, focal_plane_x_resolution=1000.0,
                     focal_plane_unit=3, datetime_original="2024:01:02 03:04:05", lat=47.5, lon=-122.3, alt=-12.0)
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 24, 3), 80, np.uint8)).save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


@FUZZ
@given(edits=st.data())
def test_fuzz_exif_block(tmp_path: Path, exif_jpeg: bytes, edits: st.DataObject) -> None:
    from splatkit.io.images import probe_image

    start = exif_jpeg.find(b"Exif\x00\x00")
    end = start + 400
    changes = edits.draw(st.lists(st.tuples(st.integers(start + 6, end), st.integers(0, 255)), min_size=1, max_size=8))
    path = tmp_path / "a.jpg"
    path.write_bytes(_mutate(exif_jpeg, changes, None))
    _reads_or_splatkit_error(lambda: probe_image(path, name="a.jpg"))


@pytest.fixture(scope="module")
def xmp_tiff() -> bytes:
    from tests.io._image_factory import dji_xmp

    return gen.tiff_with_xmp_tag(1, dji_xmp({"GpsLatitude": "+30.5", "GpsLongitude": "120.25"}))


@FUZZ
@given(edits=st.data())
def test_fuzz_tiff_metadata(tmp_path: Path, xmp_tiff: bytes, edits: st.DataObject) -> None:
    """A TIFF's IFD (where the XMP tag lives) mutated: metadata never costs more than the hints."""
    from PIL import Image

    from splatkit.io.exif import read_metadata

    changes = edits.draw(st.lists(st.tuples(st.integers(0, len(xmp_tiff) - 1), st.integers(0, 255)),
                                  min_size=1, max_size=8))
    path = tmp_path / "a.tif"
    path.write_bytes(_mutate(xmp_tiff, changes, None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = Image.open(path)
        except Exception:  # noqa: BLE001 - Pillow refusing the file is probe_image's business, not metadata's
            return
        with image:
            read_metadata(image, name="a.tif")


@FUZZ
@given(key=st.sampled_from(["cameras", "shots", "points", "reference_lla", "shots.s.jpg", "shots.s.jpg.rotation",
                            "shots.s.jpg.camera", "shots.s.jpg.gps_position", "points.1", "points.1.coordinates",
                            "points.1.color", "reference_lla.latitude"]), value=_json)
def test_fuzz_opensfm_json(tmp_path: Path, key: str, value: object) -> None:
    from splatkit.io.opensfm import read_reconstruction_json

    rec: dict = {"cameras": {"c": {"projection_type": "perspective", "focal": 0.8}},
                 "shots": {"s.jpg": {"camera": "c", "rotation": [0, 0, 0], "translation": [0, 0, 0],
                                     "gps_position": [0, 0, 0]}},
                 "points": {"1": {"coordinates": [0, 0, 1], "color": [1, 2, 3]}},
                 "reference_lla": {"latitude": 1, "longitude": 2, "altitude": 3}}
    parts = key.split(".") if not key.startswith("shots.s.jpg") else ["shots", "s.jpg", *key.split(".")[3:]]
    node = rec
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    path = tmp_path / "reconstruction.json"
    path.write_text(json.dumps([rec]))
    _reads_or_splatkit_error(lambda: read_reconstruction_json(path))
