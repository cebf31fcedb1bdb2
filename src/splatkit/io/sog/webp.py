"""The lossless WebP images of a SOG: encoding, decoding, and reading a bundle's members as textures."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from splatkit.errors import ContractError, InputError
from splatkit.io.sog.meta import META_NAME
from splatkit.io.sog.packing import from_texture

__all__ = ["WEBP_EFFORT_PRESETS", "DEFAULT_WEBP_EFFORT", "encode_webp", "decode_webp", "decode_member",
           "decode_per_splat"]

#: libwebp's lossless presets (``WebPConfigLosslessPreset``): effort level -> (method, quality).
#: In lossless mode both only trade encode time for size. splat-transform's ``--webp-effort``
#: uses the same levels; its default (the simple API) is method 4, quality 75 (level 6).
WEBP_EFFORT_PRESETS = ((0, 0), (1, 20), (2, 25), (3, 30), (3, 50), (4, 50), (4, 75), (4, 90), (5, 90), (6, 100))
DEFAULT_WEBP_EFFORT = 4


def encode_webp(texture: np.ndarray, *, effort: int = DEFAULT_WEBP_EFFORT) -> bytes:
    """Encode an RGBA texture [H, W, 4] uint8 as lossless WebP.

    ``exact=True`` keeps the RGB of fully transparent pixels (libwebp's default drops it, which
    loses the colour of alpha-0 splats in ``sh0``). ``effort`` 0..9 picks a libwebp lossless
    preset (:data:`WEBP_EFFORT_PRESETS`); on SOG textures levels 3..5 give nearly the size of 9
    at a fraction of the time.
    """
    from PIL import Image

    if not 0 <= effort < len(WEBP_EFFORT_PRESETS):
        raise ContractError(f"WebP effort must be 0..{len(WEBP_EFFORT_PRESETS) - 1}, got {effort}",
                            field="webp_effort")
    method, quality = WEBP_EFFORT_PRESETS[effort]
    image = Image.fromarray(np.ascontiguousarray(texture, np.uint8), "RGBA")
    buf = io.BytesIO()
    image.save(buf, format="WEBP", lossless=True, exact=True, quality=quality, method=method)
    return buf.getvalue()


def decode_webp(data: bytes, *, member: str, source: str | Path) -> np.ndarray:
    """Decode WebP bytes to RGBA [H, W, 4] uint8; a missing alpha reads as 255.

    Raises
    ------
    InputError
        Naming ``member`` when the bytes are not a decodable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "WEBP":
                raise InputError(f"SOG member {member!r} is {image.format}, expected a lossless WebP image",
                                 path=source)
            return np.asarray(image.convert("RGBA"), np.uint8)
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(f"SOG member {member!r} is too large to decode safely ({e})", path=source) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InputError(f"SOG member {member!r} is not a decodable WebP image ({e}); the file is corrupt or "
                         "truncated, re-export it", path=source) from e


def decode_member(members: Mapping[str, bytes], name: str, *, source: str | Path) -> np.ndarray:
    """The image member ``name`` as RGBA [H, W, 4] uint8.

    Raises
    ------
    InputError
        The member is missing or not a decodable WebP image.
    """
    if name not in members:
        raise InputError(f"SOG member {name!r} named in {META_NAME} is missing", path=source)
    return decode_webp(members[name], member=name, source=source)


def decode_per_splat(members: Mapping[str, bytes], names: Mapping[str, str], count: int, *, count_key: str,
                     source: str | Path) -> dict[str, np.ndarray]:
    """Decode the per-splat images ``names`` (role -> member) to [count, 4] uint8 rows each.

    Parameters
    ----------
    count_key
        How ``meta.json`` calls the count, for the message of a too small image.

    Raises
    ------
    InputError
        A member is missing or undecodable, the images differ in size, or they hold fewer than
        ``count`` pixels.
    """
    textures = {role: decode_member(members, name, source=source) for role, name in names.items()}
    first_role, first_name = next(iter(names.items()))
    height, width = textures[first_role].shape[:2]
    for role, name in names.items():
        h, w = textures[role].shape[:2]
        if (w, h) != (width, height):
            raise InputError(f"SOG member {name!r} is {w}x{h} but {first_name!r} is {width}x{height}; all per-splat "
                             "images must have the same size", path=source)
        if w * h < count:
            raise InputError(f"SOG member {name!r} is {w}x{h} = {w * h} pixels, too small for {count_key}={count}",
                             path=source)
    return {role: from_texture(texture, count) for role, texture in textures.items()}
