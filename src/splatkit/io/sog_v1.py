"""SOG v1: the legacy PLAS-sorted SOGS layout (``playcanvas/sogs``, splat-transform <= 0.6).

Read-only: :func:`splatkit.io.sog.read_sog` and :func:`~splatkit.io.sog.decode_sog` hand a
``meta.json`` without ``"version"`` to this module (the dispatch rule of splat-transform's
``read-sog.ts`` and of the PlayCanvas engine). New files are written as v2.

Differences from v2 (``playcanvas/sogs`` ``sogs_compression.py``; splat-transform
``src/lib/readers/read-sog-v1.ts``):

=============  ==========================================================================
``count``      not stored: ``means.shape[0]``; the SOGS writer used an exact square grid,
               dropping the lowest-opacity splats that did not fit.
``means``      as v2: 16-bit symlog positions split into ``means_l`` / ``means_u``.
``quats``      as v2: smallest-three, A = 252 + index of the largest of ``(w, x, y, z)``.
``scales``     per-channel linear 8-bit: ``mins[c] + (maxs[c] - mins[c]) * byte / 255``.
``sh0``        the same for R,G,B (``f_dc``) and for A, which holds the *logit* opacity lerped
               between ``mins[3]`` and ``maxs[3]`` (v2 stores ``sigmoid`` in A).
``shN``        palette of 64 entries per row, ``K`` texels per entry, as v2, but each byte is
               ``mins + (maxs - mins) * byte / 255`` with one scalar ``mins``/``maxs``; no
               ``bands`` or ``count`` key: bands come from the centroid texture width
               (192, 512, 960 -> 1, 2, 3), the palette size from its height (64 per row).
=============  ==========================================================================

Two dialects have no ``version``; :func:`v1_dialect` tells them apart:

* ``"sogs"``: the final layout above (``playcanvas/sogs`` after its "package quats" change,
  splat-transform <= 0.6; what the PlayCanvas engine and splat-transform 3.x read).
* ``"sogs-1.0"``: the first SOGS release (``pip install sogs==1.0.0``, Vincent Woo's
  ``SOGS``, a fork of gsplat's ``PngCompression``), recognised by its ``opacities`` entry.
  Opacity has an image of its own (grey, the logit lerped between ``opacities.mins``/``maxs``),
  ``quats`` holds ``(w, x, y)`` of the unit quaternion flipped to ``z >= 0`` as per-channel
  linear 8-bit lerps (``z = sqrt(1 - w^2 - x^2 - y^2)``), ``sh0`` is RGB only, and the SH labels
  are two grey images (``shN_labels_l``, ``shN_labels_u``: low and high byte). splat-transform
  3.7.0 misreads this layout (NaN opacities, no error); splatkit reads it.

Per-attribute decode error of a v1 file (rounding writers, as SOGS): position as v2;
log-scale, ``f_dc`` and logit opacity within half a step ``(maxs - mins) / 510`` of the
channel; ``f_rest`` within half a step of the scalar range plus the palette (k-means) error.
In ``"sogs-1.0"`` files each of ``w, x, y`` is within half a step ``(maxs - mins) / 510`` of
its channel; ``z`` is recomputed from them, so the rotation error grows as ``z`` nears 0 (about
1 degree for channel ranges of 2 away from that edge).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts import CompressedBundle, GaussianCloud
from splatkit.errors import InputError
from splatkit.io.sog import _file_list, _is_finite_number, _lookup_key, _number_list

__all__ = ["SOG_V1_VERSION", "V1_BANDS_FOR_CENTROID_WIDTH", "V1_DIALECTS", "is_v1_meta", "v1_dialect",
           "validate_meta_v1", "member_names_v1", "decode_sog_v1"]

logger = logging.getLogger(__name__)

#: The version splatkit records for legacy files (their ``meta.json`` has none).
SOG_V1_VERSION = 1
#: Centroid texture width -> SH bands (64 entries per row x 3 / 8 / 15 texels per entry).
V1_BANDS_FOR_CENTROID_WIDTH = {192: 1, 512: 2, 960: 3}
#: The two legacy layouts (see the module docstring).
V1_DIALECTS = ("sogs", "sogs-1.0")
_META = "meta.json"


def is_v1_meta(meta: Any) -> bool:
    """True for a JSON object without a ``version`` key (the v1 dispatch rule)."""
    return isinstance(meta, Mapping) and "version" not in meta


def v1_dialect(meta: Mapping[str, Any]) -> str:
    """``"sogs-1.0"`` for the first SOGS release's layout (an ``opacities`` entry), else ``"sogs"``."""
    return "sogs-1.0" if "opacities" in meta else "sogs"


def _error(source: str | Path, message: str) -> InputError:
    return InputError(f"{_META}: legacy SOG v1 (no 'version'): {message}", path=source)


def _need(meta: Mapping[str, Any], dotted: str, source: str | Path) -> Any:
    return _lookup_key(meta, dotted, lambda key: _error(source, f"missing key {key!r}"))


def _numbers(meta: Mapping[str, Any], dotted: str, length: int, source: str | Path) -> list[float]:
    return _number_list(_need(meta, dotted, source), dotted, length, lambda m: _error(source, m))


def _scalar(meta: Mapping[str, Any], dotted: str, source: str | Path) -> float:
    value = _need(meta, dotted, source)
    # SOGS writes a scalar; accept a one-element list as well (numpy .tolist() of a 0-d/1-d array).
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not _is_finite_number(value):
        raise _error(source, f"{dotted!r} must be a finite number")
    return float(value)


def _files(meta: Mapping[str, Any], dotted: str, length: int, source: str | Path) -> list[str]:
    return _file_list(_need(meta, dotted, source), dotted, length, lambda m: _error(source, m))


def validate_meta_v1(meta: Any, *, source: str | Path = _META) -> dict[str, Any]:
    """Check a parsed v1 ``meta.json`` and return it as a dict.

    Raises
    ------
    InputError
        Naming the missing or malformed key.
    """
    if not isinstance(meta, Mapping):
        raise InputError(f"{_META}: must be a JSON object", path=source)
    shape = _need(meta, "means.shape", source)
    if (not isinstance(shape, list) or len(shape) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                    for v in shape)
            or shape[0] < 0 or shape[1] != 3):
        raise _error(source, f"'means.shape' must be [count, 3], got {shape!r}")
    _numbers(meta, "means.mins", 3, source)
    _numbers(meta, "means.maxs", 3, source)
    _files(meta, "means.files", 2, source)
    _numbers(meta, "scales.mins", 3, source)
    _numbers(meta, "scales.maxs", 3, source)
    _files(meta, "scales.files", 1, source)
    _files(meta, "quats.files", 1, source)
    early = v1_dialect(meta) == "sogs-1.0"
    if early:
        _numbers(meta, "quats.mins", 3, source)
        _numbers(meta, "quats.maxs", 3, source)
        _scalar(meta, "opacities.mins", source)
        _scalar(meta, "opacities.maxs", source)
        _files(meta, "opacities.files", 1, source)
    _numbers(meta, "sh0.mins", 3 if early else 4, source)
    _numbers(meta, "sh0.maxs", 3 if early else 4, source)
    _files(meta, "sh0.files", 1, source)
    if "shN" in meta:
        _scalar(meta, "shN.mins", source)
        _scalar(meta, "shN.maxs", source)
        _files(meta, "shN.files", 3 if early else 2, source)
    return dict(meta)


def member_names_v1(meta: Mapping[str, Any]) -> list[str]:
    """Every image file a validated v1 ``meta`` refers to."""
    names = [*meta["means"]["files"], *meta["quats"]["files"], *meta["scales"]["files"], *meta["sh0"]["files"]]
    if "opacities" in meta:
        names += meta["opacities"]["files"]
    if "shN" in meta:
        names += meta["shN"]["files"]
    return names


def _lerp(pixels: np.ndarray, mins: Any, maxs: Any) -> np.ndarray:
    lo = np.asarray(mins, np.float64)
    return lo + (np.asarray(maxs, np.float64) - lo) * (pixels.astype(np.float64) / 255.0)


def decode_sog_v1(bundle: CompressedBundle, *, source: str | Path = "<SOG v1 bundle>") -> GaussianCloud:
    """Decode a legacy SOG v1 bundle to a Gaussian cloud (in file order).

    Raises
    ------
    InputError
        Bad ``meta.json``, a missing or undecodable member, textures of mismatched or too small
        size, an SH centroid texture of unknown width, or a label beyond the palette.
    """
    from splatkit.io.sog import decode_webp, unpack_means, unpack_quats

    meta = validate_meta_v1(bundle.meta, source=source)
    count = int(meta["means"]["shape"][0])
    logger.warning("%s is a legacy SOG v1 (SOGS) file; re-encode it to get SOG v2", source)

    def texture(name: str) -> np.ndarray:
        if name not in bundle.members:
            raise InputError(f"SOG member {name!r} named in {_META} is missing", path=source)
        return decode_webp(bundle.members[name], member=name, source=source)

    early = v1_dialect(meta) == "sogs-1.0"
    names = {"means_l": meta["means"]["files"][0], "means_u": meta["means"]["files"][1],
             "quats": meta["quats"]["files"][0], "scales": meta["scales"]["files"][0],
             "sh0": meta["sh0"]["files"][0]}
    if early:
        names["opacities"] = meta["opacities"]["files"][0]
    if "shN" in meta:
        names["shN_labels"] = meta["shN"]["files"][1]
        if early:
            names["shN_labels_u"] = meta["shN"]["files"][2]
    textures = {key: texture(name) for key, name in names.items()}
    h0, w0 = textures["means_l"].shape[:2]
    for key, name in names.items():
        h, w = textures[key].shape[:2]
        if (w, h) != (w0, h0):
            raise InputError(f"SOG member {name!r} is {w}x{h} but {names['means_l']!r} is {w0}x{h0}; all per-splat "
                             "images must have the same size", path=source)
        if w * h < count:
            raise InputError(f"SOG member {name!r} is {w}x{h} = {w * h} pixels, too small for means.shape[0]="
                             f"{count}", path=source)
    pix = {key: tex.reshape(-1, 4)[:count] for key, tex in textures.items()}

    means = unpack_means(pix["means_l"], pix["means_u"], meta["means"]["mins"], meta["means"]["maxs"])
    log_scales = _lerp(pix["scales"][:, :3], meta["scales"]["mins"], meta["scales"]["maxs"])
    sh0 = _lerp(pix["sh0"][:, :3], meta["sh0"]["mins"][:3], meta["sh0"]["maxs"][:3])
    if early:
        quats = _unpack_quats_wxy(_lerp(pix["quats"][:, :3], meta["quats"]["mins"], meta["quats"]["maxs"]))
        opacity = _lerp(pix["opacities"][:, 0], _scalar(meta, "opacities.mins", source),
                        _scalar(meta, "opacities.maxs", source))
    else:
        quats = unpack_quats(pix["quats"])
        opacity = _lerp(pix["sh0"][:, 3], meta["sh0"]["mins"][3], meta["sh0"]["maxs"][3])
    shN = np.zeros((count, 0, 3), np.float32)
    if "shN" in meta:
        labels = pix["shN_labels"][:, 0].astype(np.int64)
        # "sogs" packs the 16-bit label into R (low) and G (high); "sogs-1.0" uses two grey images.
        high = pix["shN_labels_u"][:, 0] if early else pix["shN_labels"][:, 1]
        labels |= high.astype(np.int64) << 8
        shN = _decode_shn_v1(texture(meta["shN"]["files"][0]), labels, meta, source)
    return GaussianCloud(means=means.astype(np.float32), log_scales=log_scales.astype(np.float32),
                         quats=quats.astype(np.float32), opacity_logits=opacity.astype(np.float32),
                         sh0=sh0.astype(np.float32), shN=shN)


def _unpack_quats_wxy(wxy: np.ndarray) -> np.ndarray:
    """``[N, 3]`` ``(w, x, y)`` of unit quaternions with ``z >= 0`` -> ``[N, 4]`` ``(w, x, y, z)``, unit."""
    z = np.sqrt(np.clip(1.0 - np.sum(wxy * wxy, axis=1), 0.0, None))
    q = np.concatenate([wxy, z[:, None]], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _decode_shn_v1(centroids: np.ndarray, labels: np.ndarray, meta: Mapping[str, Any],
                   source: str | Path) -> np.ndarray:
    cen_name, lab_name = meta["shN"]["files"][:2]
    rows, width = centroids.shape[:2]
    bands = V1_BANDS_FOR_CENTROID_WIDTH.get(width)
    if bands is None:
        raise InputError(f"SOG member {cen_name!r} is {width} pixels wide; a v1 SH palette is 192, 512 or 960 "
                         "wide (1, 2 or 3 bands)", path=source)
    coeffs = (0, 3, 8, 15)[bands]
    entries = rows * 64
    if labels.size and int(labels.max()) >= entries:
        raise InputError(f"SOG member {lab_name!r} refers to palette entry {int(labels.max())}, but {cen_name!r} "
                         f"holds only {entries}", path=source)
    # [rows, 64 K, 4] -> [rows 64, K, 3]: entry n, coefficient j, RGB.
    palette_bytes = centroids.reshape(entries, coeffs, 4)[:, :, :3]
    palette = _lerp(palette_bytes, _scalar(meta, "shN.mins", source), _scalar(meta, "shN.maxs", source))
    return palette.astype(np.float32)[labels]
