"""Writing the SfM stage's output folder, the one every SfM backend produces.

The folder's names, its version and the reader the training stage uses are defined once in
:mod:`splatkit.io.sfm_output` (the io layer, so that training never imports the SfM stage); this
module writes that layout. The whole folder is built beside ``OUT`` and renamed into place, so a
reader never sees half of it. See ``docs/formats.md`` ("SfM output folder").
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from splatkit.contracts import Reconstruction
from splatkit.errors import ContractError
from splatkit.io.atomic import atomic_directory
from splatkit.io.sfm_output import (
    DISTORTED_SPARSE_DIR,
    GEOREF_FILE,
    IMAGES_DIR,
    LAYOUT_VERSION,
    REPORT_FILE,
    RESERVED_NAMES,
    SPARSE_DIR,
)

__all__ = ["write_sfm_output"]


def _georef_document(rec: Reconstruction, report: dict[str, Any]) -> dict[str, Any]:
    """The ``georef.json`` document of ``rec`` from the ``georeference`` section of ``report``.

    Only the alignment's summary is kept (``per_image_residual_m`` and warnings stay in
    ``report.json``); ``reference`` and ``crs`` come from ``rec.georeference``.
    """
    geo = report.get("georeference") or {}
    doc: dict[str, Any] = {
        "layout_version": LAYOUT_VERSION,
        "crs": "WGS84-ENU" if rec.georeference is not None else None,
        "reference": rec.georeference.to_dict() if rec.georeference is not None else None,
        "applied": bool(geo.get("applied")),
    }
    # How the frame got to ENU: splatkit's GPS similarity, or the producer's own frame (OpenSfM).
    method = geo.get("method") or ("gps_similarity" if geo.get("applied") else None)
    if method is not None:
        doc["method"] = method
    for key in ("similarity", "residual_m", "inliers", "outliers", "reason", "max_error_m"):
        if key in geo:
            doc[key] = geo[key]
    return doc


def write_sfm_output(
    out_dir: str | Path,
    *,
    distorted: Reconstruction,
    undistorted: Reconstruction | None,
    undistorted_images: str | Path | None,
    report: dict[str, Any],
    extra_dirs: Mapping[str, str | Path] | None = None,
) -> tuple[Path, ...]:
    """Write the SfM output folder atomically (replacing ``out_dir`` as a whole).

    Parameters
    ----------
    out_dir : path
        The folder to create or replace.
    distorted : Reconstruction
        The mapper's model (written to ``distorted/sparse/0``).
    undistorted : Reconstruction or None
        The PINHOLE model (``sparse/0``); None when undistortion was turned off (then there is
        no ``images/`` nor ``sparse/0`` and the folder is not a training input).
    undistorted_images : path or None
        Folder of the undistorted images, moved into ``images/``.
    report : dict
        JSON-able; written to ``report.json``.
    extra_dirs : mapping of str to path, optional
        Backend byproducts moved into ``out_dir`` under the given names (e.g. ``opensfm``: the
        dataset OpenSfM built). Moved last, once everything else is written, so a failed write
        leaves them where they were.

    Returns
    -------
    tuple[Path, ...]
        Files written: ``sparse/0`` (or the distorted model), ``images``, ``report.json``,
        ``georef.json``.

    Raises
    ------
    ContractError
        A model is invalid, or an undistorted camera is not pinhole.
    """
    from splatkit.io.colmap import write_colmap_model

    out_dir = Path(out_dir)
    if undistorted is not None:
        bad = [c.camera_id for c in undistorted.cameras if c.model not in ("PINHOLE", "SIMPLE_PINHOLE")]
        if bad:
            raise ContractError(f"undistorted model has non-pinhole camera(s) {bad}", field="Camera.model")
    geo_source = undistorted if undistorted is not None else distorted
    georef_doc = _georef_document(geo_source, report)
    report = {**report, "layout_version": LAYOUT_VERSION}
    with atomic_directory(out_dir) as tmp:
        os.chmod(tmp, 0o755)
        write_colmap_model(distorted, tmp / DISTORTED_SPARSE_DIR)
        if undistorted is not None:
            write_colmap_model(undistorted, tmp / SPARSE_DIR)
            if undistorted_images is None:
                raise ContractError("write_sfm_output: undistorted model given without its images",
                                    field="undistorted_images")
            shutil.move(str(undistorted_images), str(tmp / IMAGES_DIR))
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
        (tmp / GEOREF_FILE).write_text(json.dumps(georef_doc, indent=2, sort_keys=True), encoding="utf-8")
        for name, folder in (extra_dirs or {}).items():
            if name in RESERVED_NAMES:
                raise ContractError(f"write_sfm_output: extra folder name {name!r} clashes with the layout",
                                    field="extra_dirs", actual=name)
            shutil.move(str(folder), str(tmp / name))
    main = out_dir / (SPARSE_DIR if undistorted is not None else DISTORTED_SPARSE_DIR)
    files = [main]
    if undistorted is not None:
        files.append(out_dir / IMAGES_DIR)
    files += [out_dir / REPORT_FILE, out_dir / GEOREF_FILE]
    return tuple(files)
