"""The SfM stage's output folder: its names, and the reader the training stage uses.

::

    OUT/
      images/                     undistorted images, named as the input photos
      sparse/0/                   COLMAP model of the undistorted PINHOLE cameras (what gsplat's
                                  and Inria's loaders open: OUT is a "COLMAP scene")
      distorted/sparse/0/         the model as the mapper made it (SIMPLE_RADIAL, OPENCV, ...)
      report.json                 quality, timings, notes, unregistered images
      georef.json                 ENU origin and the GPS similarity, or why there is none

This module is the one definition of those names. The writer is
:func:`splatkit.sfm.layout.write_sfm_output` (every SfM backend writes through it); the reader
lives here, in the io layer, because the training stage and the pipeline read this folder and
must not import the SfM stage. Model files carry no georeference: :func:`read_sfm_output`
re-attaches it from ``georef.json``. The contract is documented in ``docs/formats.md``
("SfM output folder").
"""

from __future__ import annotations

import json
from pathlib import Path

from splatkit.contracts import Georeference, PosedImages, Reconstruction
from splatkit.errors import ContractError, InputError

__all__ = [
    "LAYOUT_VERSION",
    "IMAGES_DIR",
    "SPARSE_DIR",
    "DISTORTED_SPARSE_DIR",
    "REPORT_FILE",
    "GEOREF_FILE",
    "RESERVED_NAMES",
    "read_georeference",
    "read_sfm_output",
    "read_sfm_posed_images",
]

#: Written to ``report.json`` and ``georef.json``; bump it when a name or a file's meaning changes.
LAYOUT_VERSION = 1
#: The undistorted images, by the input photos' names (and sub-folders).
IMAGES_DIR = "images"
#: The PINHOLE COLMAP model of ``IMAGES_DIR``: the training input.
SPARSE_DIR = "sparse/0"
#: The mapper's model (distorted cameras), for the original photos.
DISTORTED_SPARSE_DIR = "distorted/sparse/0"
REPORT_FILE = "report.json"
GEOREF_FILE = "georef.json"
#: Top-level entries of the layout: a backend's extra folders (e.g. ``opensfm``) may not use them.
RESERVED_NAMES = frozenset(name.split("/")[0] for name in (IMAGES_DIR, SPARSE_DIR, DISTORTED_SPARSE_DIR,
                                                            REPORT_FILE, GEOREF_FILE))


def read_georeference(folder: str | Path) -> Georeference | None:
    """The ENU origin recorded in ``folder/georef.json`` (None when absent or not georeferenced)."""
    path = Path(folder) / GEOREF_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"unreadable georef.json: {e}; rerun the SfM stage", path=path) from e
    ref = doc.get("reference") if isinstance(doc, dict) else None
    if ref is None:
        return None
    try:
        return Georeference.from_dict(ref)
    except ContractError as e:
        raise InputError(f"georef.json: bad reference {ref!r}: {e}", path=path) from e


def read_sfm_output(folder: str | Path, *, distorted: bool = False) -> tuple[Reconstruction, Path]:
    """Read an SfM output folder: the model and the folder of its images.

    Parameters
    ----------
    folder : path
        ``OUT`` as written by :func:`splatkit.sfm.layout.write_sfm_output` (or any COLMAP scene
        with ``images/`` and ``sparse/0``).
    distorted : bool
        Read ``distorted/sparse/0`` instead of the PINHOLE ``sparse/0`` (its images are the
        original photos, which are not in ``OUT``; the returned folder is then ``OUT/images``
        only if it exists).

    Returns
    -------
    (Reconstruction, Path)
        The validated model with its georeference from ``georef.json``, and ``OUT/images``.

    Raises
    ------
    InputError
        Missing folder or model (names what is missing and how to make it).
    """
    from splatkit.io.colmap import read_colmap_model

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("SfM output folder not found; run the SfM stage first", path=folder)
    sparse = folder / (DISTORTED_SPARSE_DIR if distorted else SPARSE_DIR)
    if not sparse.is_dir():
        hint = (f"it has only {DISTORTED_SPARSE_DIR}: rerun SfM with undistort=True"
                if (folder / DISTORTED_SPARSE_DIR).is_dir() and not distorted else
                f"expected the layout {IMAGES_DIR}/ + {SPARSE_DIR} (see docs/formats.md)")
        raise InputError(f"no COLMAP model at {sparse.relative_to(folder)}; {hint}", path=folder)
    rec = read_colmap_model(sparse)
    geo = read_georeference(folder)
    if geo is not None:
        rec = Reconstruction(cameras=rec.cameras, frames=rec.frames, points=rec.points, tracks=rec.tracks,
                             georeference=geo, source=rec.source)
    return rec, folder / IMAGES_DIR


def read_sfm_posed_images(folder: str | Path, *, check_sizes: bool = True) -> PosedImages:
    """:func:`read_sfm_output` as a validated :class:`~splatkit.contracts.PosedImages` (training input)."""
    rec, images = read_sfm_output(folder)
    return PosedImages(reconstruction=rec, image_dir=images).validate(check_sizes=check_sizes)
