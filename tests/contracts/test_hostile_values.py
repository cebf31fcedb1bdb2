"""Values a hostile or careless file can put into a contract: focal lengths, sizes, names (issue #14)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from splatkit.contracts import Camera, Frames, PosedImages, Reconstruction
from splatkit.contracts.limits import MAX_IMAGE_PIXELS, check_image_pixels
from splatkit.contracts.reconstruction import is_safe_relative_name
from splatkit.errors import ContractError, InputError


@pytest.mark.parametrize(("model", "params", "field"), [
    ("PINHOLE", [0.0, 50.0, 32.0, 24.0], "Camera[4].fx"),
    ("PINHOLE", [50.0, -1.0, 32.0, 24.0], "Camera[4].fy"),
    ("SIMPLE_PINHOLE", [0.0, 32.0, 24.0], "Camera[4].f"),
    ("OPENCV", [50.0, 0.0, 32.0, 24.0, 0, 0, 0, 0], "Camera[4].fy"),
])
def test_a_focal_length_must_be_positive(model: str, params: list[float], field: str) -> None:
    camera = Camera(model=model, width=64, height=48, params=params, camera_id=4)
    with pytest.raises(ContractError) as info:
        camera.validate(source="cameras.bin")
    assert info.value.field == field and "cameras.bin" in str(info.value)


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (70_000, 10), (20_000, 20_000)])
def test_a_camera_larger_than_any_decodable_image_is_refused(width: int, height: int) -> None:
    camera = Camera(model="PINHOLE", width=width, height=height, params=[50.0, 50.0, 32.0, 24.0])
    with pytest.raises(ContractError, match="more than splatkit decodes"):
        camera.validate()


@pytest.mark.parametrize("name", ["../a.jpg", "a/../../b.jpg", "/abs.jpg", "..\\a.jpg", "C:/x.jpg", "a\0.jpg"])
def test_frame_names_must_stay_inside_the_image_folder(name: str) -> None:
    assert not is_safe_relative_name(name)
    with pytest.raises(ContractError, match="not a relative path inside the image folder"):
        Frames(names=(name,), camera_index=np.zeros(1, np.int32), rotation=np.eye(3)[None],
               translation=np.zeros((1, 3)))


@pytest.mark.parametrize("name", ["a.jpg", "sub/dir/a.jpg", "a..b.jpg", "..a.jpg", "x/.../y.jpg"])
def test_ordinary_names_are_safe(name: str) -> None:
    assert is_safe_relative_name(name)


@pytest.mark.parametrize(("width", "height"), [(0, 5), (5, -1), (65_536, 1), (20_000, 20_000)])
def test_check_image_pixels(width: int, height: int) -> None:
    with pytest.raises(InputError, match="img"):
        check_image_pixels(width, height, what="img", path="x.png")
    check_image_pixels(13_000, 13_000, what="img")
    assert 13_000 * 13_000 < MAX_IMAGE_PIXELS


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize(("data", "match"), [
    (_png_header(100_000, 100_000), "declares more pixels"),
    (_png_header(70_000, 10), "declares 70000x10"),
    (b"\x89PNG\r\n\x1a\ntruncated", "image a.png"),
])
def test_posed_images_reads_headers_without_tracebacks(tmp_path: Path, data: bytes, match: str) -> None:
    camera = Camera(model="PINHOLE", width=64, height=48, params=[50.0, 50.0, 32.0, 24.0])
    frames = Frames(names=("a.png",), camera_index=np.zeros(1, np.int32), rotation=np.eye(3)[None],
                    translation=np.zeros((1, 3)))
    from splatkit.contracts import Points, Tracks

    rec = Reconstruction(cameras=(camera,), frames=frames,
                         points=Points(xyz=np.zeros((0, 3)), rgb=np.zeros((0, 3), np.uint8), error=np.zeros(0)),
                         tracks=Tracks(point_index=np.zeros(0, np.int64), frame_index=np.zeros(0, np.int64),
                                       xy=np.zeros((0, 2))))
    (tmp_path / "a.png").write_bytes(data)
    with pytest.raises(InputError, match=match):
        PosedImages(reconstruction=rec, image_dir=tmp_path).validate()
