"""SOG v1: the legacy PLAS-sorted SOGS layouts (``playcanvas/sogs``, splat-transform <= 0.6), read-only.

:func:`splatkit.io.sog.read_sog` and :func:`~splatkit.io.sog.decode_sog` hand a ``meta.json``
without ``"version"`` here (the dispatch rule of splat-transform's ``read-sog.ts`` and of the
PlayCanvas engine); its keys are checked by :class:`splatkit.io.sog.meta.SogMetaV1`. New files
are written as v2.

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

Two dialects have no ``version``; :func:`~splatkit.io.sog.meta.v1_dialect` tells them apart:

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

import numpy as np

from splatkit.contracts import CompressedBundle, GaussianCloud
from splatkit.errors import InputError
from splatkit.io.sog.meta import SogMetaV1, V1Group
from splatkit.io.sog.packing import unpack_means, unpack_quats
from splatkit.io.sog.v2 import PALETTE_ENTRIES_PER_ROW, SH_REST_COEFFS
from splatkit.io.sog.webp import check_decode_budget, decode_member, decode_per_splat

__all__ = ["V1_BANDS_FOR_CENTROID_WIDTH", "decode_v1", "decode_sog_v1"]

logger = logging.getLogger(__name__)

#: Centroid texture width -> SH bands (64 entries per row x 3 / 8 / 15 texels per entry).
V1_BANDS_FOR_CENTROID_WIDTH = {PALETTE_ENTRIES_PER_ROW * k: bands for bands, k in enumerate(SH_REST_COEFFS) if k}


def _lerp(pixels: np.ndarray, mins: tuple[float, ...], maxs: tuple[float, ...]) -> np.ndarray:
    lo = np.asarray(mins, np.float64)
    return lo + (np.asarray(maxs, np.float64) - lo) * (pixels.astype(np.float64) / 255.0)


def decode_v1(meta: SogMetaV1, members: Mapping[str, bytes], *,
              source: str | Path = "<SOG v1 bundle>") -> GaussianCloud:
    """Decode the images of a legacy v1 SOG to a Gaussian cloud (file order).

    Raises
    ------
    InputError
        A missing or undecodable member, textures of mismatched or too small size, an SH
        centroid texture of unknown width, or a label beyond the palette.
    """
    count = meta.count
    logger.warning("%s is a legacy SOG v1 (SOGS) file; re-encode it to get SOG v2", source)
    early = meta.dialect == "sogs-1.0"
    names = {"means_l": meta.means.files[0], "means_u": meta.means.files[1], "quats": meta.quats.files[0],
             "scales": meta.scales.files[0], "sh0": meta.sh0.files[0]}
    if meta.opacities is not None:
        names["opacities"] = meta.opacities.files[0]
    if meta.shn is not None:
        names["shN_labels"] = meta.shn.files[1]
        if early:
            names["shN_labels_u"] = meta.shn.files[2]
    check_decode_budget(members, meta.member_names(), source=source)   # every image, before any decode
    pix = decode_per_splat(members, names, count, count_key="means.shape[0]", source=source)

    means = unpack_means(pix["means_l"], pix["means_u"], meta.means.mins, meta.means.maxs)
    log_scales = _lerp(pix["scales"][:, :3], meta.scales.mins, meta.scales.maxs)
    sh0 = _lerp(pix["sh0"][:, :3], meta.sh0.mins[:3], meta.sh0.maxs[:3])
    if meta.opacities is not None:
        quats = _unpack_quats_wxy(_lerp(pix["quats"][:, :3], meta.quats.mins, meta.quats.maxs))
        opacity = _lerp(pix["opacities"][:, 0], meta.opacities.mins, meta.opacities.maxs)
    else:
        quats = unpack_quats(pix["quats"])
        opacity = _lerp(pix["sh0"][:, 3], meta.sh0.mins[3:], meta.sh0.maxs[3:])
    shN = np.zeros((count, 0, 3), np.float32)
    if meta.shn is not None:
        labels = pix["shN_labels"][:, 0].astype(np.int64)
        # "sogs" packs the 16-bit label into R (low) and G (high); "sogs-1.0" uses two grey images.
        high = pix["shN_labels_u"][:, 0] if early else pix["shN_labels"][:, 1]
        labels |= high.astype(np.int64) << 8
        shN = _decode_shn_v1(decode_member(members, meta.shn.files[0], source=source), labels, meta.shn, source)
    return GaussianCloud(means=means.astype(np.float32), log_scales=log_scales.astype(np.float32),
                         quats=quats.astype(np.float32), opacity_logits=opacity.reshape(-1).astype(np.float32),
                         sh0=sh0.astype(np.float32), shN=shN)


def decode_sog_v1(bundle: CompressedBundle, *, source: str | Path = "<SOG v1 bundle>") -> GaussianCloud:
    """Decode a legacy SOG v1 bundle to a Gaussian cloud (in file order).

    Raises
    ------
    InputError
        Bad ``meta.json``, or as :func:`decode_v1`.
    """
    return decode_v1(SogMetaV1.from_json(bundle.meta, source=source), bundle.members, source=source)


def _unpack_quats_wxy(wxy: np.ndarray) -> np.ndarray:
    """``[N, 3]`` ``(w, x, y)`` of unit quaternions with ``z >= 0`` -> ``[N, 4]`` ``(w, x, y, z)``, unit."""
    z = np.sqrt(np.clip(1.0 - np.sum(wxy * wxy, axis=1), 0.0, None))
    q = np.concatenate([wxy, z[:, None]], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _decode_shn_v1(centroids: np.ndarray, labels: np.ndarray, shn: V1Group, source: str | Path) -> np.ndarray:
    cen_name, lab_name = shn.files[:2]
    rows, width = centroids.shape[:2]
    bands = V1_BANDS_FOR_CENTROID_WIDTH.get(width)
    if bands is None:
        raise InputError(f"SOG member {cen_name!r} is {width} pixels wide; a v1 SH palette is 192, 512 or 960 "
                         "wide (1, 2 or 3 bands)", path=source)
    coeffs = SH_REST_COEFFS[bands]
    entries = rows * PALETTE_ENTRIES_PER_ROW
    if labels.size and int(labels.max()) >= entries:
        raise InputError(f"SOG member {lab_name!r} refers to palette entry {int(labels.max())}, but {cen_name!r} "
                         f"holds only {entries}", path=source)
    # [rows, 64 K, 4] -> [rows 64, K, 3]: entry n, coefficient j, RGB.
    palette_bytes = centroids.reshape(entries, coeffs, 4)[:, :, :3]
    palette = _lerp(palette_bytes, shn.mins, shn.maxs)
    return palette.astype(np.float32)[labels]
