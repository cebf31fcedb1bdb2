"""Hostile inputs, made on the fly (no committed binaries): each generator writes one file or folder.

Every case is a :class:`Case`: a name, the issue #14 class it stands for, the reader it attacks
and a function that writes the input under a folder. :data:`CASES` lists them all; the tests run
each through its reader in-process (the error must be a ``SplatkitError``) and, in
``test_resource_guard``, in a forked child under ``RLIMIT_AS`` / ``RLIMIT_CPU``.

All inputs are under 64 KB (a test checks it): the point is what a tiny file can make a reader do.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Readers a case may target (see tests/hostile/readers.py).
READERS = ("zip", "sog", "ply", "spz", "opensfm", "colmap", "photo", "posed", "compress")


@dataclass(frozen=True)
class Case:
    """One hostile input.

    Attributes
    ----------
    name : str
        Unique, used as the test id.
    klass : str
        What it attacks: ``"archive"``, ``"decode-size"``, ``"metadata"``, ``"model"``, ``"camera"``,
        ``"names"``, ``"empty"``.
    reader : str
        One of :data:`READERS`.
    make : Callable[[Path], Path]
        Writes the input into the given (existing, empty) folder and returns its path.
    """

    name: str
    klass: str
    reader: str
    make: Callable[[Path], Path]


# ---------------------------------------------------------------------------------------------
# ZIP surgery

_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_END = b"PK\x05\x06"


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytearray:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return bytearray(buf.getvalue())


def _central_entries(data: bytes) -> list[int]:
    out, pos = [], data.find(_CENTRAL)
    while pos >= 0:
        out.append(pos)
        pos = data.find(_CENTRAL, pos + 4)
    return out


def set_flag(data: bytearray, flag: int, *, member: int = 0) -> bytearray:
    """OR ``flag`` into general-purpose bits of member ``member`` (local header and central entry)."""
    central = _central_entries(data)[member]
    local = struct.unpack_from("<I", data, central + 42)[0]
    for at in (local + 6, central + 8):
        struct.pack_into("<H", data, at, struct.unpack_from("<H", data, at)[0] | flag)
    return data


def corrupt_payload(data: bytearray, *, member: int = 0, fill: int = 0xFF, length: int = 12) -> bytearray:
    """Overwrite the start of member ``member``'s compressed data (the CRC is left as it was)."""
    central = _central_entries(data)[member]
    local = struct.unpack_from("<I", data, central + 42)[0]
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    start = local + 30 + name_len + extra_len
    data[start:start + length] = bytes([fill]) * length
    return data


def rename_raw(data: bytearray, new: bytes, *, member: int = 0) -> bytearray:
    """Replace member ``member``'s name bytes (same length) in both headers."""
    central = _central_entries(data)[member]
    local = struct.unpack_from("<I", data, central + 42)[0]
    name_len = struct.unpack_from("<H", data, central + 28)[0]
    assert len(new) == name_len
    data[central + 46:central + 46 + name_len] = new
    data[local + 30:local + 30 + name_len] = new
    return data


def repeat_central_entry(data: bytearray, times: int, *, rename: bool = False) -> bytearray:
    """A central directory listing member 0 ``times`` times (the 'one member, 200 entries' bomb).

    With ``rename`` each copy gets a different name of the same length (overlapping entries).
    """
    central = _central_entries(data)[0]
    end = data.find(_END)
    name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, central + 28)
    entry = bytes(data[central:central + 46 + name_len + extra_len + comment_len])
    copies = []
    for i in range(times):
        copy = bytearray(entry)
        if rename and i:
            tag = f"{i:0{name_len}d}".encode()[-name_len:]
            copy[46:46 + name_len] = tag
        copies.append(bytes(copy))
    cd = b"".join(copies)
    head = bytes(data[:central])
    eocd = bytearray(data[end:end + 22])
    struct.pack_into("<HHII", eocd, 8, times, times, len(cd), len(head))
    return bytearray(head + cd + bytes(eocd))


def _photo_zip(folder: Path, data: bytes | bytearray, name: str = "photos.zip") -> Path:
    path = folder / name
    path.write_bytes(bytes(data))
    return path


def _jpeg(width: int = 32, height: int = 24, seed: int = 0) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def zip_encrypted(folder: Path) -> Path:
    return _photo_zip(folder, set_flag(zip_bytes({"a.jpg": _jpeg(), "b.jpg": _jpeg(seed=1)}), 0x1))


def zip_deflate_corrupt(folder: Path) -> Path:
    return _photo_zip(folder, corrupt_payload(zip_bytes({"a.jpg": bytes(20000), "b.jpg": _jpeg()})))


def zip_lzma_corrupt(folder: Path) -> Path:
    return _photo_zip(folder, corrupt_payload(zip_bytes({"a.jpg": bytes(20000)}, compression=zipfile.ZIP_LZMA),
                                              fill=0x00, length=20))


def zip_bzip2_corrupt(folder: Path) -> Path:
    return _photo_zip(folder, corrupt_payload(zip_bytes({"a.jpg": bytes(20000)}, compression=zipfile.ZIP_BZIP2),
                                              fill=0x41, length=16))


def zip_bad_utf8_name(folder: Path) -> Path:
    data = zip_bytes({"abcd.jpg": _jpeg()})
    return _photo_zip(folder, set_flag(rename_raw(data, b"\xff\xfe\xc3(.jpg"), 0x800))


def zip_repeated_entry(folder: Path) -> Path:
    # ~20 KB of deflate holding 20 MiB, listed 200 times: 4 GiB if every entry were inflated.
    return _photo_zip(folder, repeat_central_entry(zip_bytes({"a.jpg": bytes(20 << 20)}), 200))


def zip_overlapping_entries(folder: Path) -> Path:
    return _photo_zip(folder, repeat_central_entry(zip_bytes({"a.jpg": bytes(20 << 20)}), 200, rename=True))


def zip_declared_too_big(folder: Path) -> Path:
    data = zip_bytes({f"{i}.jpg": b"x" for i in range(30)}, compression=zipfile.ZIP_STORED)
    for central in _central_entries(data):
        struct.pack_into("<I", data, central + 24, 0xFFFFFFFE)   # each claims 4 GiB uncompressed
    return _photo_zip(folder, data)


def zip_truncated(folder: Path) -> Path:
    data = zip_bytes({"a.jpg": _jpeg(), "b.jpg": _jpeg(seed=2)})
    return _photo_zip(folder, data[: len(data) - 30])


# ---------------------------------------------------------------------------------------------
# SOG


def sog_bytes() -> bytearray:
    """A valid small ``.sog`` (100 splats, SH degree 1)."""
    return bytearray(_sog_bytes())


@functools.lru_cache(maxsize=1)
def _sog_bytes() -> bytes:
    from splatkit.compress.sog_encoder import encode_sog
    from splatkit.io import sog
    from tests.compress.synthetic import synthetic_cloud

    bundle = encode_sog(synthetic_cloud(100, 1, seed=3)).bundle
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in bundle.members.items():
            zf.writestr(name, data)
        zf.writestr(sog.META_NAME, json.dumps(dict(bundle.meta)))
    return buf.getvalue()


def _sog_members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bytes(sog_bytes()))) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_sog(folder: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> Path:
    path = folder / "scene.sog"
    path.write_bytes(bytes(zip_bytes(members, compression=compression)))
    return path


def _with_meta(members: dict[str, bytes], edit: Callable[[dict], None]) -> dict[str, bytes]:
    meta = json.loads(members["meta.json"])
    edit(meta)
    return {**members, "meta.json": json.dumps(meta).encode()}


def _meta_member_index(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        return [i.filename for i in zf.infolist()].index("meta.json")


def sog_encrypted(folder: Path) -> Path:
    data = sog_bytes()
    path = folder / "scene.sog"
    path.write_bytes(bytes(set_flag(data, 0x1, member=_meta_member_index(data))))
    return path


def sog_deflate_corrupt(folder: Path) -> Path:
    members = _sog_members()
    data = zip_bytes(members, compression=zipfile.ZIP_DEFLATED)
    path = folder / "scene.sog"
    path.write_bytes(bytes(corrupt_payload(data, member=_meta_member_index(data))))
    return path


def sog_lzma_corrupt(folder: Path) -> Path:
    data = zip_bytes(_sog_members(), compression=zipfile.ZIP_LZMA)
    path = folder / "scene.sog"
    path.write_bytes(bytes(corrupt_payload(data, member=_meta_member_index(data), fill=0, length=24)))
    return path


def sog_bad_utf8_name(folder: Path) -> Path:
    members = _sog_members()
    members["junk.bin"] = b"x"
    data = zip_bytes(members, compression=zipfile.ZIP_STORED)
    index = [n for n in members].index("junk.bin")
    path = folder / "scene.sog"
    path.write_bytes(bytes(set_flag(rename_raw(data, b"\xff\xfeuk.bin", member=index), 0x800, member=index)))
    return path


def sog_duplicate_meta(folder: Path) -> Path:
    data = sog_bytes()
    index = _meta_member_index(data)
    # list meta.json twice: append a copy of its central entry
    central = _central_entries(data)[index]
    end = data.find(_END)
    entry = bytes(data[central:end])
    cd_start = _central_entries(data)[0]
    cd = bytes(data[cd_start:end]) + entry
    eocd = bytearray(data[end:end + 22])
    count = struct.unpack_from("<H", eocd, 8)[0] + 1
    struct.pack_into("<HHII", eocd, 8, count, count, len(cd), cd_start)
    path = folder / "scene.sog"
    path.write_bytes(bytes(data[:cd_start]) + cd + bytes(eocd))
    return path


def _meta_case(edit: Callable[[dict], None]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return _write_sog(folder, _with_meta(_sog_members(), edit))
    return make


def webp_with_size(width: int, height: int) -> bytes:
    """A tiny lossless WebP whose VP8L header declares ``width`` x ``height`` (the pixels are not there)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(buf, format="WEBP", lossless=True, exact=True)
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"VP8L"
    bits = int.from_bytes(data[21:25], "little")
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[21:25] = bits.to_bytes(4, "little")
    return bytes(data)


def zero_webp(width: int, height: int) -> bytes:
    """A real all-zero lossless WebP (compresses to a few hundred bytes at any size)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((height, width, 4), np.uint8), "RGBA").save(buf, format="WEBP", lossless=True,
                                                                         exact=True, method=0, quality=0)
    return buf.getvalue()


def _sog_with_images(folder: Path, count: int, image: bytes) -> Path:
    members = _sog_members()
    meta = json.loads(members["meta.json"])
    meta["count"] = count
    meta.pop("shN", None)
    meta.pop("splatkit", None)
    out = {name: image for name in ("means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp")}
    out["meta.json"] = json.dumps(meta).encode()
    return _write_sog(folder, out)


def sog_bomb_header(folder: Path) -> Path:
    # the case: 13000 x 13000 images and count 169,000,000, in a few KB
    return _sog_with_images(folder, 169_000_000, webp_with_size(13000, 13000))


def sog_bomb_real_pixels(folder: Path) -> Path:
    # real all-zero 2048 x 2048 images (16 MiB of RGBA each) for 4 M splats, in a few KB
    return _sog_with_images(folder, 4_000_000, zero_webp(2048, 2048))


def sog_image_too_large_for_count(folder: Path) -> Path:
    return _sog_with_images(folder, 1, webp_with_size(4000, 4000))


def sog_image_far_larger_than_count(folder: Path) -> Path:
    # within the decode budget, but 512 x 512 texels for 10 splats
    return _sog_with_images(folder, 10, zero_webp(512, 512))


def sog_image_past_pixel_limit(folder: Path) -> Path:
    return _sog_with_images(folder, 200_000_000, webp_with_size(16383, 16383))


# ---------------------------------------------------------------------------------------------
# PLY

_SPLAT_PROPS = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
                "rot_0", "rot_1", "rot_2", "rot_3"]


def _ply(header_elements: str, body: bytes, fmt: str = "binary_little_endian") -> bytes:
    return f"ply\nformat {fmt} 1.0\n{header_elements}end_header\n".encode() + body


def _vertex_element(count: int) -> str:
    return f"element vertex {count}\n" + "".join(f"property float {p}\n" for p in _SPLAT_PROPS)


def _one_vertex(byte_order: str = "<") -> bytes:
    return np.array([[0, 0, 0, 0.5, 0.5, 0.5, 0, -3, -3, -3, 1, 0, 0, 0]], f"{byte_order}f4").tobytes()


def ply_huge_element_before_vertex(folder: Path) -> Path:
    path = folder / "huge.ply"
    path.write_bytes(_ply("element face 9223372036854775809\nproperty float a\n" + _vertex_element(1),
                          _one_vertex()))
    return path


def ply_huge_element_big_endian(folder: Path) -> Path:
    path = folder / "huge_be.ply"
    path.write_bytes(_ply("element junk 18446744073709551615\nproperty double a\nproperty uchar b\n"
                          + _vertex_element(1), _one_vertex(">"), fmt="binary_big_endian"))
    return path


def ply_huge_list_element(folder: Path) -> Path:
    path = folder / "huge_list.ply"
    # one face whose list claims 2**32-1 uint entries, then a vertex
    body = struct.pack("<I", 0xFFFFFFFF) + _one_vertex()
    path.write_bytes(_ply("element face 1\nproperty list uint uint vertex_indices\n" + _vertex_element(1), body))
    return path


def ply_huge_vertex_count(folder: Path) -> Path:
    path = folder / "huge_vertex.ply"
    path.write_bytes(_ply(_vertex_element(2**63 + 5), _one_vertex()))
    return path


def ply_zero_vertices(folder: Path) -> Path:
    path = folder / "empty.ply"
    path.write_bytes(_ply(_vertex_element(0), b""))
    return path


def ply_zero_vertices_sh3(folder: Path) -> Path:
    path = folder / "empty_sh3.ply"
    rest = "".join(f"property float f_rest_{i}\n" for i in range(45))
    path.write_bytes(_ply(_vertex_element(0) + rest, b"", fmt="binary_big_endian"))
    return path


def ply_zero_vertices_ascii(folder: Path) -> Path:
    path = folder / "empty_ascii.ply"
    path.write_bytes(_ply("comment nothing here\n" + _vertex_element(0), b"\n", fmt="ascii"))
    return path


# ---------------------------------------------------------------------------------------------
# SPZ


def _spz_zeros(count: int, sh_degree: int, *, version: int = 3, body_splats: int | None = None
               ) -> Callable[[Path], Path]:
    """A gzip SPZ whose body is all zeros: deflate's best ratio, so the most splats per input byte.

    ``body_splats`` (default ``count``) splats are stored: fewer makes the header's count a lie.
    """
    def make(folder: Path) -> Path:
        from splatkit.io.spz import bytes_per_splat

        header = struct.pack("<IIIBBBB", 0x5053474E, version, count, sh_degree, 12, 0, 0)
        body = bytes((count if body_splats is None else body_splats) * bytes_per_splat(version, sh_degree))
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
        path = folder / "zeros.spz"
        path.write_bytes(compressor.compress(header + body) + compressor.flush())
        return path
    return make


# ---------------------------------------------------------------------------------------------
# COLMAP


def colmap_model(folder: Path, *, params: list[float] | None = None, names: list[str] | None = None,
                 width: int = 64, height: int = 48) -> Path:
    """A valid 3-image binary model under ``folder/sparse``, then patched with ``params`` / ``names``."""
    from splatkit.io.colmap_binary import encode_cameras_binary, encode_images_binary, encode_points3d_binary
    from splatkit.io.colmap_records import CameraRecord, ImageRecord, PointRecords

    model = folder / "sparse"
    model.mkdir(parents=True)
    cam = CameraRecord(camera_id=1, model="PINHOLE", width=width, height=height,
                       params=np.array(params if params is not None else [50.0, 50.0, 32.0, 24.0]))
    names = names or ["a.jpg", "b.jpg", "c.jpg"]
    images = [ImageRecord(image_id=i + 1, qvec=np.array([1.0, 0, 0, 0]), tvec=np.array([float(i), 0, 0]),
                          camera_id=1, name=name, xy=np.array([[10.0, 10.0], [20.0, 20.0]]),
                          point3d_ids=np.array([1, 2])) for i, name in enumerate(names)]
    points = PointRecords(point_ids=np.array([1, 2]), xyz=np.array([[0.0, 0, 5], [1.0, 1, 5]]),
                          rgb=np.zeros((2, 3), np.uint8), error=np.zeros(2),
                          track_lengths=np.array([3, 3]),
                          track_image_ids=np.array([1, 2, 3, 1, 2, 3]), track_point2d_idx=np.array([0, 0, 0, 1, 1, 1]))
    (model / "cameras.bin").write_bytes(encode_cameras_binary([cam]))
    (model / "images.bin").write_bytes(encode_images_binary(images))
    (model / "points3D.bin").write_bytes(encode_points3d_binary(points))
    return model


def _points_with_track(length: int) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        model = colmap_model(folder)
        head = struct.pack("<Q3d3BdQ", 1, 0.0, 0.0, 5.0, 1, 2, 3, 0.0, length)
        (model / "points3D.bin").write_bytes(struct.pack("<Q", 1) + head + struct.pack("<II", 1, 0) * 4)
        return model
    return make


def _images_with_n2d(folder: Path) -> Path:
    model = colmap_model(folder)
    head = struct.pack("<I4d3dI", 1, 1.0, 0, 0, 0, 0, 0, 0, 1) + b"a.jpg\0" + struct.pack("<Q", 2**62)
    (model / "images.bin").write_bytes(struct.pack("<Q", 1) + head + bytes(48))
    return model


def _cameras_count(folder: Path) -> Path:
    model = colmap_model(folder)
    (model / "cameras.bin").write_bytes(struct.pack("<Q", 2**64 - 1) + bytes(64))
    return model


def _text_model(edit: Callable[[dict[str, str]], None]) -> Callable[[Path], Path]:
    """The valid model as COLMAP text files, then ``edit`` changes their text (name -> content)."""
    def make(folder: Path) -> Path:
        from splatkit.io.colmap_binary import read_cameras_binary, read_images_binary, read_points3d_binary
        from splatkit.io.colmap_text import encode_cameras_text, encode_images_text, encode_points3d_text

        binary = colmap_model(folder / "binary")
        texts = {"cameras.txt": encode_cameras_text(read_cameras_binary(binary / "cameras.bin")),
                 "images.txt": encode_images_text(read_images_binary(binary / "images.bin")),
                 "points3D.txt": encode_points3d_text(read_points3d_binary(binary / "points3D.bin"))}
        edit(texts)
        model = folder / "text"
        model.mkdir()
        for name, text in texts.items():
            (model / name).write_text(text)
        return model
    return make


def _replace_first_data_token(name: str, token: str) -> Callable[[dict[str, str]], None]:
    def edit(texts: dict[str, str]) -> None:
        lines = texts[name].splitlines()
        row = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
        lines[row] = " ".join([token, *lines[row].split()[1:]])
        texts[name] = "\n".join(lines) + "\n"
    return edit


def _camera_case(params: list[float], width: int = 64, height: int = 48) -> Callable[[Path], Path]:
    return lambda folder: colmap_model(folder, params=params, width=width, height=height)


def _names_case(names: list[str]) -> Callable[[Path], Path]:
    return lambda folder: colmap_model(folder, names=names)


# ---------------------------------------------------------------------------------------------
# OpenSfM


def _opensfm_json(text: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "reconstruction.json"
        path.write_text(text)
        return path
    return make


_SHOT = '"s.jpg": {"camera": "c", "rotation": [0, 0, 0], "translation": [0, 0, 0]}'


# ---------------------------------------------------------------------------------------------
# Photos: metadata and header sizes


def png_header(width: int, height: int) -> bytes:
    """A PNG with a valid IHDR declaring ``width`` x ``height`` and one tiny IDAT (no real pixels)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def png_with_xmp(text: str) -> bytes:
    """A small PNG whose compressed iTXt carries ``text`` as XMP (1 MB of text in a few KB)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", text, zip=True)
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def tiff_with_xmp_tag(tag_type: int, value: object) -> bytes:
    """A small TIFF whose XMP tag (700) has TIFF type ``tag_type`` (5 RATIONAL, 4 LONG, 3 SHORT...)."""
    from PIL import Image, TiffImagePlugin

    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd.tagtype[700] = tag_type
    ifd[700] = value
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(buf, format="TIFF", tiffinfo=ifd)
    return buf.getvalue()


def _photo(name: str, data: Callable[[], bytes]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data())
        return path
    return make


def _posed_case(image: Callable[[], bytes], name: str = "b.png") -> Callable[[Path], Path]:
    """An SfM output folder (sparse + images) whose image ``name`` is replaced by ``image()``."""
    def make(folder: Path) -> Path:
        from PIL import Image

        colmap_model(folder, names=["a.png", "b.png", "c.png"])
        images = folder / "images"
        images.mkdir()
        for n in ("a.png", "b.png", "c.png"):
            Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(images / n)
        (images / name).write_bytes(image())
        return folder
    return make


_UNTERMINATED_ELEMENT = "<x:xmpmeta>" + "drone-dji:GpsLatitude>" + " " * 900_000
_UNTERMINATED_ATTRIBUTE = 'drone-dji:AbsoluteAltitude="' + "1" * 900_000
_MANY_NAMES = "drone-dji:GpsLongtitude" * 40_000
_SPACES_THEN_NOTHING = "drone-dji:RelativeAltitude" + " \t" * 450_000


# ---------------------------------------------------------------------------------------------
# The catalogue


def _cases() -> list[Case]:
    c = [
        # class 1/2: archives (photo ZIP)
        Case("zip-encrypted", "archive", "zip", zip_encrypted),
        Case("zip-deflate-corrupt", "archive", "zip", zip_deflate_corrupt),
        Case("zip-lzma-corrupt", "archive", "zip", zip_lzma_corrupt),
        Case("zip-bzip2-corrupt", "archive", "zip", zip_bzip2_corrupt),
        Case("zip-bad-utf8-name", "archive", "zip", zip_bad_utf8_name),
        Case("zip-repeated-entry", "archive", "zip", zip_repeated_entry),
        Case("zip-overlapping-entries", "archive", "zip", zip_overlapping_entries),
        Case("zip-declared-too-big", "archive", "zip", zip_declared_too_big),
        Case("zip-truncated", "archive", "zip", zip_truncated),
        # class 1/2: archives (.sog)
        Case("sog-encrypted", "archive", "sog", sog_encrypted),
        Case("sog-deflate-corrupt", "archive", "sog", sog_deflate_corrupt),
        Case("sog-lzma-corrupt", "archive", "sog", sog_lzma_corrupt),
        Case("sog-bad-utf8-name", "archive", "sog", sog_bad_utf8_name),
        Case("sog-duplicate-meta", "archive", "sog", sog_duplicate_meta),
        # class 1: meta.json types
        Case("sog-meta-asset-string", "meta", "sog", _meta_case(lambda m: m.update(asset="x"))),
        Case("sog-meta-asset-list", "meta", "sog", _meta_case(lambda m: m.update(asset=[1, {"generator": 2}]))),
        Case("sog-meta-count-string", "meta", "sog", _meta_case(lambda m: m.update(count="100"))),
        Case("sog-meta-count-float", "meta", "sog", _meta_case(lambda m: m.update(count=1e300))),
        Case("sog-meta-means-string", "meta", "sog", _meta_case(lambda m: m.update(means="x"))),
        Case("sog-meta-shn-string", "meta", "sog", _meta_case(lambda m: m.update(shN="x"))),
        Case("sog-meta-splatkit-list", "meta", "sog", _meta_case(lambda m: m.update(splatkit=[1, 2]))),
        Case("sog-meta-splatkit-bad-values", "meta", "sog",
             _meta_case(lambda m: m.update(splatkit={"padding": "x", "offset": "y", "georeference": 5}))),
        Case("sog-meta-not-object", "meta", "sog", _meta_case(lambda m: (m.clear(), m.update({"version": [2]})))),
        Case("sog-meta-v1-wrong-types", "meta", "sog",
             _meta_case(lambda m: (m.clear(), m.update({"means": {"shape": "x"}, "asset": 3})))),
        Case("sog-meta-files-not-strings", "meta", "sog",
             _meta_case(lambda m: m["means"].update(files=[1, None]))),
        # class 2: decoded sizes
        Case("sog-bomb-header-13000", "decode-size", "sog", sog_bomb_header),
        Case("sog-bomb-real-zero-pixels", "decode-size", "sog", sog_bomb_real_pixels),
        Case("sog-image-too-large-for-count", "decode-size", "sog", sog_image_too_large_for_count),
        Case("sog-image-past-pixel-limit", "decode-size", "sog", sog_image_past_pixel_limit),
        Case("sog-image-far-larger-than-count", "decode-size", "sog", sog_image_far_larger_than_count),
        Case("posed-png-100000", "decode-size", "posed", _posed_case(lambda: png_header(100_000, 100_000))),
        Case("posed-png-20000", "decode-size", "posed", _posed_case(lambda: png_header(20_000, 20_000))),
        Case("posed-png-70000-wide", "decode-size", "posed", _posed_case(lambda: png_header(70_000, 10))),
        Case("posed-not-an-image", "decode-size", "posed", _posed_case(lambda: b"not an image at all")),
        Case("photo-png-100000", "decode-size", "photo", _photo("big.png", lambda: png_header(100_000, 100_000))),
        # class 1/2: photo metadata
        Case("xmp-unterminated-element", "metadata", "photo", _photo("a.png", lambda: png_with_xmp(_UNTERMINATED_ELEMENT))),
        Case("xmp-unterminated-attribute", "metadata", "photo",
             _photo("b.png", lambda: png_with_xmp(_UNTERMINATED_ATTRIBUTE))),
        Case("xmp-many-names", "metadata", "photo", _photo("c.png", lambda: png_with_xmp(_MANY_NAMES))),
        Case("xmp-whitespace-runs", "metadata", "photo", _photo("d.png", lambda: png_with_xmp(_SPACES_THEN_NOTHING))),
        Case("tiff-xmp-rational", "metadata", "photo", _photo("r.tif", lambda: tiff_with_xmp_tag(5, (1, 3)))),
        Case("tiff-xmp-long-huge", "metadata", "photo", _photo("l.tif", lambda: tiff_with_xmp_tag(4, 0xFFFFFFFF))),
        Case("tiff-xmp-short", "metadata", "photo", _photo("s.tif", lambda: tiff_with_xmp_tag(3, 7))),
        Case("tiff-xmp-double", "metadata", "photo", _photo("d.tif", lambda: tiff_with_xmp_tag(12, 1e308))),
        # class 1: PLY
        Case("ply-huge-element-before-vertex", "model", "ply", ply_huge_element_before_vertex),
        Case("ply-huge-element-big-endian", "model", "ply", ply_huge_element_big_endian),
        Case("ply-huge-list", "model", "ply", ply_huge_list_element),
        Case("ply-huge-vertex-count", "model", "ply", ply_huge_vertex_count),
        Case("ply-zero-vertices-compressed", "empty", "compress", ply_zero_vertices),
        Case("ply-zero-vertices-sh3-compressed", "empty", "compress", ply_zero_vertices_sh3),
        Case("ply-zero-vertices-ascii-compressed", "empty", "compress", ply_zero_vertices_ascii),
        # class 2: the most splats a small SPZ can hold (deflate's 1032:1), decoded under the guard
        Case("spz-zeros-sh0", "decode-size", "spz", _spz_zeros(2_900_000, 0)),
        Case("spz-zeros-sh3", "decode-size", "spz", _spz_zeros(500_000, 3)),
        Case("spz-zeros-v2-count-lies", "decode-size", "spz", _spz_zeros(60_000_000, 0, version=2, body_splats=1000)),
        # class 1: COLMAP binary
        Case("points3d-track-2^64-1", "model", "colmap", _points_with_track(2**64 - 1)),
        Case("points3d-track-2^63", "model", "colmap", _points_with_track(2**63)),
        Case("points3d-track-2^40", "model", "colmap", _points_with_track(2**40)),
        Case("images-n2d-2^62", "model", "colmap", _images_with_n2d),
        Case("cameras-count-2^64-1", "model", "colmap", _cameras_count),
        # class 1: OpenSfM reconstruction.json
        Case("opensfm-deep-nesting", "model", "opensfm", _opensfm_json("[" * 20_000 + "]" * 20_000)),
        Case("opensfm-huge-integer", "model", "opensfm", _opensfm_json(
            '[{"cameras": {"c": {}}, "shots": {' + _SHOT + '}, "points": {"1": {"coordinates": [1' + "0" * 400
            + ', 0, 0]}}}]')),
        Case("opensfm-reference-string", "model", "opensfm", _opensfm_json(
            '[{"cameras": {}, "shots": {}, "points": {}, "reference_lla": "x"}]')),
        Case("opensfm-shots-list", "model", "opensfm", _opensfm_json('[{"cameras": {}, "shots": [1, 2]}]')),
        Case("opensfm-rotation-huge", "model", "opensfm", _opensfm_json(
            '[{"cameras": {"c": {}}, "shots": {"s.jpg": {"camera": "c", "rotation": [1e999, 0, 0]}}}]')),
        # class 1: COLMAP text
        Case("colmap-text-huge-camera-id", "model", "colmap",
             _text_model(_replace_first_data_token("cameras.txt", "9" * 30))),
        Case("colmap-text-huge-image-id", "model", "colmap",
             _text_model(_replace_first_data_token("images.txt", "9" * 30))),
        Case("colmap-text-huge-point-id", "model", "colmap",
             _text_model(_replace_first_data_token("points3D.txt", "9" * 30))),
        Case("colmap-text-negative-camera-id", "model", "colmap",
             _text_model(_replace_first_data_token("cameras.txt", "-1"))),
        # class 3: cameras
        Case("camera-focal-zero", "camera", "colmap", _camera_case([0.0, 0.0, 32.0, 24.0])),
        Case("camera-focal-negative", "camera", "colmap", _camera_case([-50.0, 50.0, 32.0, 24.0])),
        Case("camera-focal-nan", "camera", "colmap", _camera_case([50.0, float("nan"), 32.0, 24.0])),
        Case("camera-focal-inf", "camera", "colmap", _camera_case([float("inf"), 50.0, 32.0, 24.0])),
        Case("camera-principal-nan", "camera", "colmap", _camera_case([50.0, 50.0, float("nan"), 24.0])),
        Case("camera-size-zero", "camera", "colmap", _camera_case([50.0, 50.0, 32.0, 24.0], width=0)),
        Case("camera-size-huge", "camera", "colmap", _camera_case([50.0, 50.0, 32.0, 24.0], 100_000, 100_000)),
        # class 6: names leaving the image folder
        Case("names-dotdot", "names", "colmap", _names_case(["../a.jpg", "b.jpg", "c.jpg"])),
        Case("names-nested-dotdot", "names", "colmap", _names_case(["x/../../a.jpg", "b.jpg", "c.jpg"])),
        Case("names-absolute", "names", "colmap", _names_case(["/etc/passwd", "b.jpg", "c.jpg"])),
        Case("names-backslash", "names", "colmap", _names_case(["..\\a.jpg", "b.jpg", "c.jpg"])),
        Case("names-drive", "names", "colmap", _names_case(["C:/a.jpg", "b.jpg", "c.jpg"])),
    ]
    assert len({case.name for case in c}) == len(c)
    return c


CASES: list[Case] = _cases()
