"""The formats ``splatkit info`` describes that hold no splats: SfM models and photo sets.

Thin :class:`~splatkit.formats.Format` classes over the readers in :mod:`splatkit.io.colmap`,
:mod:`splatkit.io.opensfm` and :mod:`splatkit.io.images`; registered by
:mod:`splatkit.sfm.formats` (the SfM stage is what reads them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splatkit.formats import Format
from splatkit.io import colmap, images, opensfm

__all__ = ["ColmapModelFormat", "OpenSfmFormat", "PhotoSetFormat"]


class ColmapModelFormat(Format):
    """A COLMAP sparse model folder (``cameras``/``images``/``points3D``, ``.bin`` or ``.txt``)."""

    name = "colmap"
    holds = "reconstruction"
    description = "COLMAP sparse model folder (binary or text); a partial one is described with what is missing"

    def detect(self, path: Path) -> bool:
        return colmap.looks_like_colmap_model(path)

    def describe(self, path: Path) -> dict[str, Any]:
        return {"type": "colmap-model", **colmap.info(path)}


class OpenSfmFormat(Format):
    """An OpenSfM dataset folder (``reconstruction.json``, ``tracks.csv``, ``reference_lla.json``)."""

    name = "opensfm"
    holds = "reconstruction"
    description = "OpenSfM dataset folder (reconstruction.json + tracks.csv)"

    def detect(self, path: Path) -> bool:
        return opensfm.is_opensfm_folder(path)

    def describe(self, path: Path) -> dict[str, Any]:
        return {"type": "opensfm", **opensfm.info(path)}


class PhotoSetFormat(Format):
    """A folder or ZIP of photos (JPEG, PNG, TIFF, WebP), EXIF GPS read when present."""

    name = "photos"
    holds = "photos"
    suffixes = (".zip",)
    description = "a folder or ZIP of photos, the pipeline's input"

    def detect(self, path: Path) -> bool:
        return images.is_image_source(path)

    def describe(self, path: Path) -> dict[str, Any]:
        return images.info(path)
