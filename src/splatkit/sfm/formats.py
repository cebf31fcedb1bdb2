"""Registers the SfM inputs ``splatkit info`` describes: COLMAP models, OpenSfM folders, photo sets."""

from __future__ import annotations

from typing import Any

from splatkit.io.scene_formats import ColmapModelFormat, OpenSfmFormat, PhotoSetFormat
from splatkit.plugins.spec import hookimpl

__all__ = ["splatkit_register_formats"]


@hookimpl
def splatkit_register_formats(registry: Any) -> None:
    # Photos last: a folder holding a COLMAP model or an OpenSfM dataset also holds images.
    registry.add(ColmapModelFormat)
    registry.add(OpenSfmFormat)
    registry.add(PhotoSetFormat)
