"""The lossless WebP images of a SOG: encoding, decoding, and reading a bundle's members as textures."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from splatkit.contracts.limits import check_image_pixels
from splatkit.errors import ContractError, InputError
from splatkit.io.sog.meta import META_NAME
from splatkit.io.sog.packing import from_texture

__all__ = ["WEBP_EFFORT_PRESETS", "DEFAULT_WEBP_EFFORT", "DECODE_RATIO", "DECODE_SLACK_BYTES", "MAX_SLACK_TEXELS",
           "encode_webp", "webp_size", "decode_webp", "check_decode_budget", "decode_member", "decode_per_splat"]

#: libwebp's lossless presets (``WebPConfigLosslessPreset``): effort level -> (method, quality).
#: In lossless mode both only trade encode time for size. splat-transform's ``--webp-effort``
#: uses the same levels; its default (the simple API) is method 4, quality 75 (level 6).
WEBP_EFFORT_PRESETS = ((0, 0), (1, 20), (2, 25), (3, 30), (3, 50), (4, 50), (4, 75), (4, 90), (5, 90), (6, 100))
DEFAULT_WEBP_EFFORT = 4
#: Decoded RGBA bytes a SOG's images may hold beyond :data:`DECODE_RATIO` times their compressed
#: size (32 MiB: 8 M texels, e.g. ~1.4 M splats of any content).
DECODE_SLACK_BYTES = 32 << 20
#: Most decoded bytes per compressed byte beyond the slack; real SOG textures are near 2-4.
DECODE_RATIO = 256
#: Texels a per-splat image may hold beyond four times the splat count: a power-of-two square
#: (a writer splatkit has not seen might use one) is under 4 N, every known layout under 2 N.
MAX_SLACK_TEXELS = 65536


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


def webp_size(data: bytes, *, member: str, source: str | Path) -> tuple[int, int]:
    """(width, height) from a WebP member's header, without decoding it, checked against the bounds.

    Raises
    ------
    InputError
        Naming ``member`` when the bytes are not a WebP image or declare more pixels than
        :data:`splatkit.contracts.limits.MAX_IMAGE_PIXELS`.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "WEBP":
                raise InputError(f"SOG member {member!r} is {image.format}, expected a lossless WebP image",
                                 path=source)
            size = image.size
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(f"SOG member {member!r} is too large to decode safely ({e})", path=source) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        raise InputError(f"SOG member {member!r} is not a decodable WebP image ({e}); the file is corrupt or "
                         "truncated, re-export it", path=source) from e
    check_image_pixels(size[0], size[1], what=f"SOG member {member!r}", path=source)
    return size


def decode_webp(data: bytes, *, member: str, source: str | Path) -> np.ndarray:
    """Decode WebP bytes to RGBA [H, W, 4] uint8; a missing alpha reads as 255.

    The header's size is checked (:func:`webp_size`) before any pixel is decoded.

    Raises
    ------
    InputError
        Naming ``member`` when the bytes are not a decodable image or declare too many pixels.
    """
    from PIL import Image, UnidentifiedImageError

    webp_size(data, member=member, source=source)
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGBA"), np.uint8)
    except Image.DecompressionBombError as e:
        raise InputError(f"SOG member {member!r} is too large to decode safely ({e})", path=source) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        raise InputError(f"SOG member {member!r} is not a decodable WebP image ({e}); the file is corrupt or "
                         "truncated, re-export it", path=source) from e


def check_decode_budget(members: Mapping[str, bytes], names: Iterable[str], *,
                        source: str | Path) -> dict[str, tuple[int, int]]:
    """Refuse, before decoding, images that would decode to far more than their files could hold.

    Lossless WebP of constant pixels shrinks ~100000:1, so a few KB can declare gigabytes of
    texels (six 13000 x 13000 images in a 9 KB ``.sog``). Real SOG textures hold splat data and
    compress a few times at most; the decoded RGBA bytes of ``names`` together may be at most
    :data:`DECODE_SLACK_BYTES` plus :data:`DECODE_RATIO` times their compressed bytes.

    Returns
    -------
    dict[str, tuple[int, int]]
        Each named member's (width, height).

    Raises
    ------
    InputError
        A member is missing or not a WebP, declares too many pixels, or the budget is exceeded.
    """
    names = list(dict.fromkeys(names))
    sizes: dict[str, tuple[int, int]] = {}
    for name in names:
        if name not in members:
            raise InputError(f"SOG member {name!r} named in {META_NAME} is missing", path=source)
        sizes[name] = webp_size(members[name], member=name, source=source)
    compressed = sum(len(members[name]) for name in names)
    decoded = sum(4 * w * h for w, h in sizes.values())
    allowed = DECODE_SLACK_BYTES + DECODE_RATIO * compressed
    if decoded > allowed:
        raise InputError(f"the SOG images ({compressed} bytes) declare {decoded} bytes of pixels, more than "
                         f"{DECODE_RATIO} times their size plus {DECODE_SLACK_BYTES} bytes; real SOG textures "
                         "compress far less, so the file is corrupt or a decompression bomb", path=source)
    return sizes


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
    sizes = check_decode_budget(members, names.values(), source=source)
    first_role, first_name = next(iter(names.items()))
    width, height = sizes[first_name]
    for role, name in names.items():
        w, h = sizes[name]
        if (w, h) != (width, height):
            raise InputError(f"SOG member {name!r} is {w}x{h} but {first_name!r} is {width}x{height}; all per-splat "
                             "images must have the same size", path=source)
        if w * h < count:
            raise InputError(f"SOG member {name!r} is {w}x{h} = {w * h} pixels, too small for {count_key}={count}",
                             path=source)
        # Every writer sizes the textures from the count (a near-square of 4-pixel steps, or the exact
        # square of SOGS v1); far larger images hold nothing but cost memory to decode.
        if w * h > 4 * count + MAX_SLACK_TEXELS:
            raise InputError(f"SOG member {name!r} is {w}x{h} = {w * h} pixels, far more than {count_key}={count} "
                             "splats need; the file is corrupt", path=source)
    textures = {role: decode_member(members, name, source=source) for role, name in names.items()}
    return {role: from_texture(texture, count) for role, texture in textures.items()}
