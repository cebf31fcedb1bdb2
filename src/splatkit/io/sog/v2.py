"""SOG v2 ("Spatially Ordered Gaussians"), the current PlayCanvas layout: packing and decoding.

Formats follow ``@playcanvas/splat-transform`` 3.7.0 (``src/lib/writers/write-sog.ts``,
``src/lib/readers/read-sog.ts``) and the PlayCanvas engine. The ``meta.json`` keys are in
:mod:`splatkit.io.sog.meta`, the ZIP/folder container in :mod:`splatkit.io.sog.container`.

Layout (splat ``i`` lives at pixel ``(i % W, i // W)``; ``W = ceil(sqrt(N)/4)*4``,
``H = ceil(N/W/4)*4``, both <= 16383; trailing pixels are ignored):

========================  =======================================================================
``means_l`` / ``means_u``  low / high byte of ``q = 65535 (s - mins) / (maxs - mins)``, per axis in
                           R,G,B, where ``s = sign(p) ln(|p| + 1)`` ("symlog") and
                           ``mins/maxs`` are the per-axis symlog extremes.
``quats``                  smallest-three: R,G,B = ``255 (q_k sqrt2 / 2 + 1/2)`` for the three
                           components other than the largest ``m`` (after flipping it positive),
                           A = ``252 + m`` with ``(w, x, y, z)`` indexed 0..3.
``scales``                 R,G,B = indices into a 256-entry log-scale codebook.
``sh0``                    R,G,B = indices into a 256-entry ``f_dc`` codebook; A = ``255 sigmoid(o)``.
``shN_centroids``          palette of ``P`` SH entries, 64 per row, ``K`` texels per entry
                           (width ``64 K``); texel ``(n % 64 * K + j, n // 64)`` holds codebook
                           indices of coefficient ``j`` for R,G,B (PLY ``f_rest`` channel-major).
``shN_labels``             palette index per splat: R = low byte, G = high byte.
========================  =======================================================================

Per-attribute decode error bounds of a file written by :mod:`splatkit.compress.sog_encoder`
(which rounds to nearest where splat-transform truncates, halving its error):

* position, per axis: ``|p' - p| <= (|p| + 1) (exp(d / 2) - 1) + 1e-6 (|p| + 1)`` with
  ``d = (maxs - mins) / 65535`` the symlog step of that axis (metric error grows with the distance
  from the origin; the encoder recentres the cloud first and keeps the offset in ``meta.splatkit``);
* rotation: at most :data:`~splatkit.io.sog.packing.QUAT_MAX_ANGLE_RAD` (1.2 deg): each stored
  component is within ``1 / (255 sqrt2)`` and the rebuilt largest one (>= 1/2) moves by at most
  ``sqrt3`` times that;
* log-scale and ``f_dc``: the distance to the nearest codebook entry, i.e. at most half the widest
  gap between neighbouring entries, or the distance from the data extremes to the end entries
  (exact when a channel pool has <= 256 distinct values);
* opacity: ``|sigmoid(o') - sigmoid(o)| <= 0.5/255 + 1e-6`` (the decoder clamps alpha to
  ``[1e-6, 1 - 1e-6]`` as splat-transform does, so logits come back within +-13.8);
* ``f_rest``: palette (k-means) error plus the shN codebook error; no fixed bound, the encoder
  reports the measured RMSE.

A PLAS-ordered splatkit file pads the texture with transparent splats
(``meta.splatkit.padding``, ``scales`` alpha :data:`PADDING_ALPHA`) that :func:`decode_v2` drops.
Fitting codebooks and palettes (the lossy choices) lives in :mod:`splatkit.compress`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from splatkit.contracts import GaussianCloud
from splatkit.errors import InputError
from splatkit.io.sog.meta import ShNMeta, SogMeta
from splatkit.io.sog.packing import alpha_to_opacity, unpack_means, unpack_quats
from splatkit.io.sog.webp import check_decode_budget, decode_member, decode_per_splat

__all__ = [
    "SH_REST_COEFFS",
    "PALETTE_ENTRIES_PER_ROW",
    "PADDING_ALPHA",
    "pack_indices",
    "pack_shn_centroids",
    "pack_shn_labels",
    "decode_v2",
]

#: Higher-order SH coefficients per colour channel for SH bands 0..3.
SH_REST_COEFFS = (0, 3, 8, 15)
#: Palette entries per row of ``shN_centroids`` (splat-transform and the engine use 64).
PALETTE_ENTRIES_PER_ROW = 64
#: Alpha of a padding splat's ``scales`` texel (real splats: 255). Readers ignore that alpha; the
#: padding splat itself is invisible (``sh0`` alpha 0).
PADDING_ALPHA = 0


def pack_indices(indices: np.ndarray, alpha: np.ndarray | int = 255) -> np.ndarray:
    """``scales`` / ``sh0`` pixels: codebook indices uint8 [N, 3] in R,G,B, ``alpha`` [N] (or one value) in A."""
    rows = np.empty((indices.shape[0], 4), np.uint8)
    rows[:, :3] = indices
    rows[:, 3] = alpha
    return rows


def pack_shn_centroids(indices: np.ndarray) -> np.ndarray:
    """The SH palette atlas: codebook indices uint8 [P, K, 3] -> [ceil(P / 64), 64 K, 4] uint8.

    Entry ``n`` fills texels ``n % 64 * K .. + K`` of row ``n // 64`` (alpha 255); the rest of the
    last row stays 0.
    """
    entries, coeffs = indices.shape[:2]
    rows = math.ceil(entries / PALETTE_ENTRIES_PER_ROW)
    atlas = np.zeros((rows * PALETTE_ENTRIES_PER_ROW, coeffs, 4), np.uint8)
    atlas[:entries, :, :3] = indices
    atlas[:entries, :, 3] = 255
    return atlas.reshape(rows, PALETTE_ENTRIES_PER_ROW * coeffs, 4)


def pack_shn_labels(labels: np.ndarray) -> np.ndarray:
    """``shN_labels`` pixels: palette index [N] (< 65536) -> R = low byte, G = high byte, A = 255."""
    labels = np.asarray(labels, np.int64)
    rows = np.zeros((labels.shape[0], 4), np.uint8)
    rows[:, 0] = labels & 0xFF
    rows[:, 1] = labels >> 8
    rows[:, 3] = 255
    return rows


def decode_v2(meta: SogMeta, members: Mapping[str, bytes], *, apply_offset: bool = True, drop_padding: bool = True,
              source: str | Path = "<SOG bundle>") -> GaussianCloud:
    """Decode the images of a v2 SOG to a Gaussian cloud (file order).

    Parameters
    ----------
    meta
        The parsed ``meta.json``.
    members
        Member name -> WebP bytes.
    apply_offset
        Add back ``meta.splatkit.offset`` and keep ``meta.splatkit.georeference`` (other tools
        ignore both and see the recentred cloud; ``False`` gives what splat-transform decodes).
    drop_padding
        Drop the transparent padding splats of a PLAS-ordered splatkit file (counted by
        ``meta.splatkit.padding``, ``scales`` alpha :data:`PADDING_ALPHA`).
    source
        Used in error messages.

    Raises
    ------
    InputError
        A missing or undecodable member, a texture of the wrong size, a label beyond the palette,
        or a ``splatkit`` value this decode needs that is malformed (the message names it).
    """
    count = meta.count
    files = meta.files
    per_splat = {"means_l": files.means_l, "means_u": files.means_u, "quats": files.quats, "scales": files.scales,
                 "sh0": files.sh0}
    if meta.shn is not None:
        per_splat["shN_labels"] = files.shn_labels
    check_decode_budget(members, meta.member_names(), source=source)   # every image, before any decode
    pix = decode_per_splat(members, per_splat, count, count_key="count", source=source)
    extension = meta.splatkit
    padding = extension.used("padding", source) if drop_padding and extension is not None else 0
    if padding:
        marked = pix["scales"][:, 3] == PADDING_ALPHA
        if int(marked.sum()) != padding:
            raise InputError(f"SOG member {files.scales!r} marks {int(marked.sum())} padding splat(s) "
                             f"(alpha {PADDING_ALPHA}) but meta.json says splatkit.padding={padding}; the file was "
                             "edited by another tool, read it with drop_padding=False", path=source)
        pix = {key: rows[~marked] for key, rows in pix.items()}

    means = unpack_means(pix["means_l"], pix["means_u"], meta.means_mins, meta.means_maxs)
    quats = unpack_quats(pix["quats"])
    log_scales = np.asarray(meta.scales_codebook, np.float64)[pix["scales"][:, :3]]
    sh0 = np.asarray(meta.sh0_codebook, np.float64)[pix["sh0"][:, :3]]
    opacity = alpha_to_opacity(pix["sh0"][:, 3])
    shN = np.zeros((pix["sh0"].shape[0], 0, 3), np.float32)
    if meta.shn is not None:
        shN = _decode_shn(meta.shn, decode_member(members, files.shn_centroids, source=source), pix["shN_labels"],
                          centroids_name=files.shn_centroids, labels_name=files.shn_labels, source=source)

    georeference = None
    if apply_offset and extension is not None:
        offset = extension.used("offset", source)
        if offset is not None:
            means = means + np.asarray(offset, np.float64)
        georeference = extension.used("georeference", source)
    return GaussianCloud(means=means.astype(np.float32), log_scales=log_scales.astype(np.float32),
                         quats=quats.astype(np.float32), opacity_logits=opacity.astype(np.float32),
                         sh0=sh0.astype(np.float32), shN=shN, georeference=georeference)


def _decode_shn(shn: ShNMeta, centroids: np.ndarray, labels_pix: np.ndarray, *, centroids_name: str,
                labels_name: str, source: str | Path) -> np.ndarray:
    """Per-splat SH rest coefficients [N, K, 3] from the palette atlas and the label pixels."""
    coeffs = SH_REST_COEFFS[shn.bands]
    rows, width = centroids.shape[:2]
    if width != PALETTE_ENTRIES_PER_ROW * coeffs:
        raise InputError(f"SOG member {centroids_name!r} is {width} pixels wide; {shn.bands} SH band(s) need "
                         f"{PALETTE_ENTRIES_PER_ROW * coeffs}", path=source)
    entries = min(shn.count, rows * PALETTE_ENTRIES_PER_ROW)
    labels = labels_pix[:, 0].astype(np.int64) | (labels_pix[:, 1].astype(np.int64) << 8)
    if labels.size and int(labels.max()) >= entries:
        raise InputError(f"SOG member {labels_name!r} refers to palette entry {int(labels.max())}, but "
                         f"{centroids_name!r} and shN.count hold only {entries}", path=source)
    # [rows, 64*K, 4] -> [rows*64, K, 4]: entry n, coefficient j.
    palette_idx = centroids.reshape(rows * PALETTE_ENTRIES_PER_ROW, coeffs, 4)[:, :, :3]
    palette = np.asarray(shn.codebook, np.float64)[palette_idx].astype(np.float32)   # [P, K, 3], RGB last
    return palette[labels]
