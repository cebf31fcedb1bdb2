"""Bounds on decoded sizes, decided once and asked by every reader before it allocates.

A file of a few kilobytes can declare an image of 100000 x 100000 pixels or a splat count of
hundreds of millions; readers check what a header declares against these bounds before decoding,
so hostile input costs an error message, not gigabytes.
"""

from __future__ import annotations

from pathlib import Path

from splatkit.errors import InputError

__all__ = ["MAX_IMAGE_PIXELS", "MAX_IMAGE_SIDE", "check_image_pixels"]

#: Most pixels one decoded image may hold: Pillow's own DecompressionBombError threshold
#: (2 x ``PIL.Image.MAX_IMAGE_PIXELS`` = 2 x 89,478,485), so both agree; 179 MP is beyond any camera
#: sensor splatkit is used with (the largest medium-format backs are 150 MP).
MAX_IMAGE_PIXELS = 178_956_970
#: Longest image side in pixels (JPEG and WebP stop at 65535 and 16383).
MAX_IMAGE_SIDE = 65_535


def check_image_pixels(width: int, height: int, *, what: str, path: str | Path | None = None) -> None:
    """Refuse an image whose declared size is not positive or passes the bounds, before decoding it.

    Parameters
    ----------
    width, height
        The size a header or a camera declares, in pixels.
    what
        How the message names the image (``"image a.jpg"``, ``"SOG member 'quats.webp'"``).
    path
        The file, prefixed to the message.

    Raises
    ------
    InputError
        Naming ``what``, the size and the bound.
    """
    if width <= 0 or height <= 0:
        raise InputError(f"{what} declares a size of {width}x{height} pixels; sizes must be positive", path=path)
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"{what} declares {width}x{height} pixels, more than splatkit decodes "
                         f"({MAX_IMAGE_PIXELS} pixels, {MAX_IMAGE_SIDE} per side); downscale it, or the file is "
                         "corrupt or a decompression bomb", path=path)
