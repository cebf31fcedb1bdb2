"""The training image resolution: an integer downscale chosen from the options and the images.

One decision, in one place: ``downscale`` when set; otherwise the smallest integer factor that
brings the longest image side within ``max_image_size`` (set by the user or by the quality
preset of the backend, see :mod:`splatkit.train.presets`). Integer factors keep the intrinsics
exact (``K`` scales by ``W // d / W``) and let JPEG decoding shrink cheaply (PIL's draft mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ResolutionChoice", "choose_resolution"]


@dataclass(frozen=True, kw_only=True)
class ResolutionChoice:
    """The training resolution and why.

    Attributes
    ----------
    downscale : int
        Integer factor every image is shrunk by.
    width, height : int
        Size of the largest training image after downscaling (px).
    reason : str
        One line for the log and the report.
    """

    downscale: int
    width: int
    height: int
    reason: str


def choose_resolution(sizes: Sequence[tuple[int, int]], *, downscale: int | None, max_image_size: int,
                      source: str) -> ResolutionChoice:
    """The downscale for images of ``sizes`` [(width, height), ...] (the cameras' sizes).

    Parameters
    ----------
    downscale
        The user's factor, or None to choose one from ``max_image_size``.
    max_image_size
        Longest side allowed (px); 0: full size.
    source
        Where ``max_image_size`` came from, in words (``"cpu preview: a long side that keeps a CPU
        step affordable"``, ``"set"``).
    """
    width, height = max(sizes, key=lambda s: s[0] * s[1])
    long_side = max(max(w, h) for w, h in sizes)
    if downscale is not None:
        factor, reason = downscale, f"downscale {downscale} (set)"
    elif not max_image_size or long_side <= max_image_size:
        factor = 1
        reason = (f"full size: the long side {long_side} px is within {max_image_size} px ({source})"
                  if max_image_size else "full size (max_image_size 0)")
    else:
        factor = math.ceil(long_side / max_image_size)
        reason = (f"downscale {factor}: the long side {long_side} px exceeds {max_image_size} px "
                  f"({source})")
    w, h = max(1, width // factor), max(1, height // factor)
    return ResolutionChoice(downscale=factor, width=w, height=h, reason=f"{w}x{h}, {reason}")
