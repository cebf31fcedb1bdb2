"""Registers the splat formats the compression stage writes: 3DGS PLY, SOG and SPZ.

The compression backends own the lossy fitting; what a file looks like, and how it is read back,
lives in ``splatkit.io`` (one room per format). Readers are registered here so that ``info``,
``decompress`` and ``view`` find them through the plugin registry like a plugin's format.
"""

from __future__ import annotations

from typing import Any

from splatkit.io.ply import PlyFormat
from splatkit.io.sog import SogFormat
from splatkit.io.spz import SpzFormat
from splatkit.plugins.spec import hookimpl

__all__ = ["splatkit_register_formats"]


@hookimpl
def splatkit_register_formats(registry: Any) -> None:
    registry.add(PlyFormat)
    registry.add(SogFormat)
    registry.add(SpzFormat)
