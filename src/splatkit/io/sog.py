"""SOG v2 ("Spatially Ordered Gaussians"): the PlayCanvas web format, container and decoder.

A SOG is a ``meta.json`` plus lossless WebP images, either bundled as one ``.sog`` ZIP (entries
STORED, no archive comment, files at the root) or unbundled as a folder holding ``meta.json``.
Formats follow ``@playcanvas/splat-transform`` 3.7.0 (``src/lib/writers/write-sog.ts``,
``src/lib/readers/read-sog.ts``) and the PlayCanvas engine, which reads the ZIP's end record at
``length - 22`` (hence: no comment).

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
* rotation: at most :data:`QUAT_MAX_ANGLE_RAD` (1.2 deg): each stored component is within
  ``1 / (255 sqrt2)`` and the rebuilt largest one (>= 1/2) moves by at most ``sqrt3`` times that;
* log-scale and ``f_dc``: the distance to the nearest codebook entry, i.e. at most half the widest
  gap between neighbouring entries, or the distance from the data extremes to the end entries
  (exact when a channel pool has <= 256 distinct values);
* opacity: ``|sigmoid(o') - sigmoid(o)| <= 0.5/255 + 1e-6`` (the decoder clamps alpha to
  ``[1e-6, 1 - 1e-6]`` as splat-transform does, so logits come back within +-13.8);
* ``f_rest``: palette (k-means) error plus the shN codebook error; no fixed bound, the encoder
  reports the measured RMSE.

This module is the format: validating ``meta.json``, packing/unpacking pixels, WebP, the ZIP and
folder containers, and the decoder back to a :class:`~splatkit.contracts.GaussianCloud`. Legacy
v1 files (a ``meta.json`` without ``version``) are read too: :func:`read_sog` and
:func:`decode_sog` hand them to :mod:`splatkit.io.sog_v1`. A PLAS-ordered splatkit file pads the
texture with transparent splats (``meta.splatkit.padding``, ``scales`` alpha
:data:`PADDING_ALPHA`) that :func:`decode_sog` drops. Fitting
codebooks and palettes (the lossy choices) lives in :mod:`splatkit.compress`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts import CompressedBundle, GaussianCloud, Georeference
from splatkit.errors import ContractError, InputError
from splatkit.io.atomic import atomic_directory, atomic_path

__all__ = [
    "SOG_FORMAT",
    "SOG_VERSION",
    "META_NAME",
    "MAX_TEXTURE_SIZE",
    "MAX_META_BYTES",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "QUAT_MAX_ANGLE_RAD",
    "SH_REST_COEFFS",
    "PALETTE_ENTRIES_PER_ROW",
    "PADDING_ALPHA",
    "image_size",
    "to_texture",
    "check_count_fits",
    "symlog",
    "symlog_inverse",
    "pack_means",
    "unpack_means",
    "pack_quats",
    "unpack_quats",
    "opacity_to_alpha",
    "alpha_to_opacity",
    "WEBP_EFFORT_PRESETS",
    "DEFAULT_WEBP_EFFORT",
    "encode_webp",
    "decode_webp",
    "validate_meta",
    "decode_sog",
    "read_sog",
    "write_sog",
    "info",
]

logger = logging.getLogger(__name__)

SOG_FORMAT = "sog"
SOG_VERSION = 2
META_NAME = "meta.json"
#: WebP's largest image side; SOG v2 refuses clouds whose texture would exceed it.
MAX_TEXTURE_SIZE = 16383
#: Most bytes ``meta.json`` may hold (a v2 meta is a few KB: two 256-entry codebooks and bounds).
MAX_META_BYTES = 16 << 20
#: Most bytes one image member may hold, bundled (decompressed) or in a folder: a
#: 16383 x 16383 RGBA texture uncompressed, far above any lossless WebP of it.
MAX_MEMBER_BYTES = 1 << 30
#: Most bytes all members of one SOG may hold together.
MAX_TOTAL_BYTES = 4 << 30
#: Largest rotation error of the smallest-three packing with rounding (see module docstring).
QUAT_MAX_ANGLE_RAD = math.radians(1.2)
#: Higher-order SH coefficients per colour channel for SH bands 0..3.
SH_REST_COEFFS = (0, 3, 8, 15)
#: Palette entries per row of ``shN_centroids`` (splat-transform and the engine use 64).
PALETTE_ENTRIES_PER_ROW = 64
#: Alpha of a padding splat's ``scales`` texel (real splats: 255). Readers ignore that alpha; the
#: padding splat itself is invisible (``sh0`` alpha 0).
PADDING_ALPHA = 0
#: Splat-transform's reader clamps decoded alpha to this before the logit.
_ALPHA_EPS = 1e-6
# Which components are stored for each largest-component index m (order w, x, y, z).
_QUAT_KEPT = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
_QUAT_TAG_BASE = 252


# --------------------------------------------------------------------------------------------
# Geometry of the textures


def image_size(count: int) -> tuple[int, int]:
    """Width and height of the per-splat textures for ``count`` splats (SOG v2 sizing).

    ``W = ceil(sqrt(N) / 4) * 4`` and ``H = ceil(N / W / 4) * 4``: multiples of 4, not
    necessarily square (``write-sog.ts``).
    """
    if count <= 0:
        raise ContractError(f"a SOG needs at least one splat, got {count}", field="count",
                            expected=">= 1", actual=count)
    width = math.ceil(math.sqrt(count) / 4) * 4
    height = math.ceil(count / width / 4) * 4
    return width, height


def check_count_fits(count: int) -> tuple[int, int]:
    """:func:`image_size`, raising :class:`ContractError` beyond WebP's 16383-pixel limit."""
    width, height = image_size(count)
    if width > MAX_TEXTURE_SIZE or height > MAX_TEXTURE_SIZE:
        raise ContractError(
            f"{count} splats need {width}x{height} textures, beyond WebP's {MAX_TEXTURE_SIZE} pixel limit "
            "(~268M splats); split the scene into chunks (streamed SOG) or prune it first",
            field="count", expected=f"<= {MAX_TEXTURE_SIZE}x{MAX_TEXTURE_SIZE} texels", actual=(width, height))
    return width, height


def to_texture(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """[N, 4] uint8 per splat -> [H, W, 4] uint8 texture, zero-padded after splat N-1."""
    out = np.zeros((width * height, 4), np.uint8)
    out[: rows.shape[0]] = rows
    return out.reshape(height, width, 4)


def _from_texture(texture: np.ndarray, count: int) -> np.ndarray:
    """[H, W, 4] uint8 -> [count, 4] uint8 in splat order."""
    return texture.reshape(-1, 4)[:count]


# --------------------------------------------------------------------------------------------
# Per-attribute packing (pure numpy, shared by the encoder and the decoder)


def symlog(v: np.ndarray) -> np.ndarray:
    """``sign(v) ln(|v| + 1)``, float64 (SOG's position transform)."""
    v = np.asarray(v, np.float64)
    return np.sign(v) * np.log1p(np.abs(v))


def symlog_inverse(s: np.ndarray) -> np.ndarray:
    """Inverse of :func:`symlog`: ``sign(s) (exp(|s|) - 1)``."""
    s = np.asarray(s, np.float64)
    return np.sign(s) * np.expm1(np.abs(s))


def pack_means(means: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float], list[float]]:
    """Quantise positions to 16 bits per axis in the symlog domain.

    Parameters
    ----------
    means : [N, 3]
        Positions in the frame the file stores (already recentred by the encoder).

    Returns
    -------
    lower, upper : uint8 [N, 4]
        ``means_l`` / ``means_u`` pixels (alpha 255).
    mins, maxs : list of 3 floats
        Per-axis symlog range, written to ``meta.means``.
    """
    s = symlog(means)
    mins, maxs = s.min(axis=0), s.max(axis=0)
    span = maxs - mins
    # A flat axis (all equal) stores q = 0; readers use span 1 there (read-sog.ts: `|| 1`).
    scale = np.where(span > 0, 65535.0 / np.where(span > 0, span, 1.0), 0.0)
    # Round to nearest: splat-transform truncates, which doubles the worst-case error.
    q = np.clip(np.rint((s - mins) * scale), 0, 65535).astype(np.uint16)
    n = q.shape[0]
    lower = np.empty((n, 4), np.uint8)
    upper = np.empty((n, 4), np.uint8)
    lower[:, :3] = (q & 0xFF).astype(np.uint8)
    upper[:, :3] = (q >> 8).astype(np.uint8)
    lower[:, 3] = upper[:, 3] = 255
    return lower, upper, [float(x) for x in mins], [float(x) for x in maxs]


def unpack_means(lower: np.ndarray, upper: np.ndarray, mins: Any, maxs: Any) -> np.ndarray:
    """Inverse of :func:`pack_means`: [N, 4] uint8 x 2 -> float64 [N, 3]."""
    q = lower[:, :3].astype(np.float64) + 256.0 * upper[:, :3].astype(np.float64)
    lo = np.asarray(mins, np.float64)
    span = np.asarray(maxs, np.float64) - lo
    span = np.where(span != 0, span, 1.0)
    return symlog_inverse(lo + span * (q / 65535.0))


def pack_quats(quats: np.ndarray) -> np.ndarray:
    """Smallest-three packing of ``(w, x, y, z)`` quaternions (any non-zero norm).

    Parameters
    ----------
    quats : [N, 4]

    Returns
    -------
    uint8 [N, 4]
        R,G,B = the three smaller components of the unit quaternion with its largest component
        made positive, scaled by sqrt2 into [-1, 1] then to 0..255 (rounded); A = 252 + index of
        the largest component (ties -> lowest index, as splat-transform).
    """
    q = np.asarray(quats, np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    rows = np.arange(q.shape[0])
    largest = np.abs(q).argmax(axis=1)
    sign = np.where(q[rows, largest] < 0, -1.0, 1.0)
    kept = np.take_along_axis(q, _QUAT_KEPT[largest], axis=1) * (sign * math.sqrt(2.0))[:, None]
    out = np.empty((q.shape[0], 4), np.uint8)
    out[:, :3] = np.clip(np.rint(255.0 * (kept * 0.5 + 0.5)), 0, 255).astype(np.uint8)
    out[:, 3] = (_QUAT_TAG_BASE + largest).astype(np.uint8)
    return out


def unpack_quats(pixels: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_quats`: uint8 [N, 4] -> unit ``(w, x, y, z)`` float64 [N, 4].

    A tag outside 252..255 decodes to the identity, as splat-transform's reader does.
    """
    n = pixels.shape[0]
    tag = pixels[:, 3].astype(np.int64)
    valid = (tag >= _QUAT_TAG_BASE) & (tag <= _QUAT_TAG_BASE + 3)
    largest = np.where(valid, tag - _QUAT_TAG_BASE, 0)
    abc = (pixels[:, :3].astype(np.float64) / 255.0 * 2.0 - 1.0) / math.sqrt(2.0)
    out = np.zeros((n, 4), np.float64)
    np.put_along_axis(out, _QUAT_KEPT[largest], abc, axis=1)
    out[np.arange(n), largest] = np.sqrt(np.maximum(0.0, 1.0 - (abc * abc).sum(axis=1)))
    if not valid.all():
        logger.warning("SOG quats: %d splat(s) carry an invalid tag; decoded as identity", int((~valid).sum()))
        out[~valid] = (1.0, 0.0, 0.0, 0.0)
    return out


def opacity_to_alpha(opacity_logits: np.ndarray) -> np.ndarray:
    """``round(255 sigmoid(o))`` as uint8 [N] (splat-transform truncates instead)."""
    o = np.asarray(opacity_logits, np.float64)
    return np.clip(np.rint(255.0 / (1.0 + np.exp(-o))), 0, 255).astype(np.uint8)


def alpha_to_opacity(alpha: np.ndarray) -> np.ndarray:
    """uint8 alpha [N] -> opacity logits, alpha clamped to ``[1e-6, 1 - 1e-6]`` first."""
    a = np.clip(np.asarray(alpha, np.float64) / 255.0, _ALPHA_EPS, 1.0 - _ALPHA_EPS)
    return np.log(a / (1.0 - a))


# --------------------------------------------------------------------------------------------
# WebP


#: libwebp's lossless presets (``WebPConfigLosslessPreset``): effort level -> (method, quality).
#: In lossless mode both only trade encode time for size. splat-transform's ``--webp-effort``
#: uses the same levels; its default (the simple API) is method 4, quality 75 (level 6).
WEBP_EFFORT_PRESETS = ((0, 0), (1, 20), (2, 25), (3, 30), (3, 50), (4, 50), (4, 75), (4, 90), (5, 90), (6, 100))
DEFAULT_WEBP_EFFORT = 4


def encode_webp(texture: np.ndarray, *, effort: int = DEFAULT_WEBP_EFFORT) -> bytes:
    """Encode an RGBA texture [H, W, 4] uint8 as lossless WebP.

    ``exact=True`` keeps the RGB of fully transparent pixels (libwebp's default drops it, which
    loses the colour of alpha-0 splats in ``sh0``). ``effort`` 0..9 picks a libwebp lossless
    preset (:data:`WEBP_EFFORT_PRESETS`); on SOG textures levels 3..5 give nearly the size of 9
    at a fraction of the time.
    """
    from PIL import Image

    if not 0 <= effort < len(WEBP_EFFORT_PRESETS):
        raise ContractError(f"WebP effort must be 0..{len(WEBP_EFFORT_PRESETS) - 1}, got {effort}",
                            field="webp_effort")
    method, quality = WEBP_EFFORT_PRESETS[effort]
    image = Image.fromarray(np.ascontiguousarray(texture, np.uint8), "RGBA")
    buf = io.BytesIO()
    image.save(buf, format="WEBP", lossless=True, exact=True, quality=quality, method=method)
    return buf.getvalue()


def decode_webp(data: bytes, *, member: str, source: str | Path) -> np.ndarray:
    """Decode WebP bytes to RGBA [H, W, 4] uint8; a missing alpha reads as 255.

    Raises
    ------
    InputError
        Naming ``member`` when the bytes are not a decodable image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "WEBP":
                raise InputError(f"SOG member {member!r} is {image.format}, expected a lossless WebP image",
                                 path=source)
            return np.asarray(image.convert("RGBA"), np.uint8)
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(f"SOG member {member!r} is too large to decode safely ({e})", path=source) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InputError(f"SOG member {member!r} is not a decodable WebP image ({e}); the file is corrupt or "
                         "truncated, re-export it", path=source) from e


# --------------------------------------------------------------------------------------------
# meta.json


def _meta_error(source: str | Path, message: str) -> InputError:
    return InputError(f"{META_NAME}: {message}", path=source)


def _lookup_key(meta: Mapping[str, Any], dotted: str, missing: Callable[[str], Exception]) -> Any:
    """``meta["a"]["b"]`` for ``dotted="a.b"``; raises ``missing(dotted)`` when a level is absent."""
    node: Any = meta
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise missing(dotted)
        node = node[part]
    return node


def _need(meta: Mapping[str, Any], dotted: str, source: str | Path) -> Any:
    return _lookup_key(meta, dotted, lambda key: _meta_error(source, f"missing key {key!r} (not a SOG v2 meta.json?)"))


def _number_list(value: Any, dotted: str, length: int, error: Callable[[str], Exception]) -> list[float]:
    """``value`` as ``length`` finite floats, else ``error(message)`` (shared with :mod:`.sog_v1`)."""
    if not isinstance(value, list) or len(value) != length or not all(_is_finite_number(v) for v in value):
        raise error(f"{dotted!r} must be a list of {length} finite numbers")
    return [float(v) for v in value]


def _file_list(value: Any, dotted: str, length: int, error: Callable[[str], Exception]) -> list[str]:
    """``value`` as ``length`` non-empty file names, else ``error(message)`` (shared with :mod:`.sog_v1`)."""
    if not isinstance(value, list) or len(value) != length or not all(isinstance(v, str) and v for v in value):
        raise error(f"{dotted!r} must list {length} file name(s)")
    return list(value)


def _need_numbers(meta: Mapping[str, Any], dotted: str, length: int, source: str | Path) -> list[float]:
    return _number_list(_need(meta, dotted, source), dotted, length, lambda m: _meta_error(source, m))


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _need_codebook(meta: Mapping[str, Any], key: str, source: str | Path) -> list[float] | None:
    """Check ``meta[key]["codebook"]``: 256 finite numbers, except a ``null`` first entry.

    Returns
    -------
    list of 256 floats, or None
        The codebook with a ``null`` ``codebook[0]`` patched, or None when there was nothing to
        patch. Older splat-transform versions wrote ``null`` there when a value was ``-Infinity``
        (JSON has no infinities); the PlayCanvas engine patches it as
        ``codebook[0] = codebook[1] + (codebook[1] - codebook[255]) / 255``
        (``src/scene/gsplat/gsplat-sog-data.js``, ``_patchCodebooks``), and so do we.
    """
    dotted = f"{key}.codebook"
    value = _need(meta, dotted, source)
    if not isinstance(value, list) or len(value) != 256:
        raise _meta_error(source, f"{dotted!r} must be a list of 256 finite numbers")
    bad = next((i for i, v in enumerate(value) if not (_is_finite_number(v) or (i == 0 and v is None))), None)
    if bad is not None:
        raise _meta_error(source, f"{dotted!r} must be a list of 256 finite numbers, but entry {bad} is "
                                  f"{value[bad]!r} (only entry 0 may be null, as older splat-transform wrote it); "
                                  "re-export the file")
    if value[0] is not None:
        return None
    patched = [float(v) for v in value[1:]]
    first = patched[0] + (patched[0] - patched[-1]) / 255.0
    logger.warning("%s: %r has a null entry 0 (written by an older splat-transform); patched to %g as the "
                   "PlayCanvas engine does", source, dotted, first)
    return [first, *patched]


def _need_files(meta: Mapping[str, Any], dotted: str, length: int, source: str | Path) -> list[str]:
    return _file_list(_need(meta, dotted, source), dotted, length, lambda m: _meta_error(source, m))


def validate_meta(meta: Any, *, source: str | Path = META_NAME) -> dict[str, Any]:
    """Check a parsed ``meta.json`` is SOG v2 and return it (as a dict).

    A ``null`` first entry of the ``scales``, ``sh0`` or ``shN`` codebook (older splat-transform
    versions wrote one for ``-Infinity``) is patched as the PlayCanvas engine does, with a
    warning, in the returned copy; ``meta`` itself is never modified.

    Raises
    ------
    InputError
        Naming the missing/bad key; a legacy v1 file (no ``version``) or an unknown version is
        refused with what to do.
    """
    if not isinstance(meta, Mapping):
        raise _meta_error(source, "must be a JSON object")
    version = meta.get("version")
    if version is None:
        # read_sog/decode_sog dispatch these to splatkit.io.sog_v1 before getting here.
        raise _meta_error(source, "has no 'version': this is a legacy SOG v1 (SOGS) file; read it with read_sog() "
                                  "or validate it with splatkit.io.sog_v1.validate_meta_v1()")
    if version != SOG_VERSION:
        raise _meta_error(source, f"unsupported SOG version {version!r}; expected {SOG_VERSION}")
    count = _need(meta, "count", source)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise _meta_error(source, f"'count' must be a non-negative integer, got {count!r}")
    _need_numbers(meta, "means.mins", 3, source)
    _need_numbers(meta, "means.maxs", 3, source)
    _need_files(meta, "means.files", 2, source)
    patched = {"scales": _need_codebook(meta, "scales", source)}
    _need_files(meta, "scales.files", 1, source)
    _need_files(meta, "quats.files", 1, source)
    patched["sh0"] = _need_codebook(meta, "sh0", source)
    _need_files(meta, "sh0.files", 1, source)
    if "shN" in meta:
        bands = _need(meta, "shN.bands", source)
        if bands not in (1, 2, 3):
            raise _meta_error(source, f"'shN.bands' must be 1, 2 or 3, got {bands!r}")
        palette = _need(meta, "shN.count", source)
        if not isinstance(palette, int) or isinstance(palette, bool) or not 1 <= palette <= 65536:
            raise _meta_error(source, f"'shN.count' must be an integer in 1..65536, got {palette!r}")
        patched["shN"] = _need_codebook(meta, "shN", source)
        _need_files(meta, "shN.files", 2, source)
    extra = meta.get("splatkit")
    if extra is not None and not isinstance(extra, Mapping):
        raise _meta_error(source, "'splatkit' must be an object")
    result = dict(meta)
    for key, codebook in patched.items():
        if codebook is not None:
            result[key] = {**meta[key], "codebook": codebook}   # a copy: the caller's meta stays as it was
    return result


def member_names(meta: Mapping[str, Any]) -> list[str]:
    """Every image file a validated v2 ``meta`` refers to, in meta order."""
    names = [*meta["means"]["files"], *meta["quats"]["files"], *meta["scales"]["files"], *meta["sh0"]["files"]]
    if "shN" in meta:
        names += meta["shN"]["files"]
    return names


# --------------------------------------------------------------------------------------------
# Decoder


def _texture(bundle: CompressedBundle, name: str, source: str | Path) -> np.ndarray:
    if name not in bundle.members:
        raise InputError(f"SOG member {name!r} named in {META_NAME} is missing", path=source)
    return decode_webp(bundle.members[name], member=name, source=source)


def decode_sog(bundle: CompressedBundle, *, apply_offset: bool = True, drop_padding: bool = True,
               source: str | Path = "<SOG bundle>") -> GaussianCloud:
    """Decode a SOG bundle back to a Gaussian cloud (v2; legacy v1 goes to :mod:`.sog_v1`).

    Parameters
    ----------
    bundle
        Members and ``meta`` as read by :func:`read_sog` or made by the encoder.
    apply_offset
        Add back the recentring offset stored under ``meta["splatkit"]["offset"]`` (other tools
        ignore it and see the recentred cloud). ``False`` gives what splat-transform decodes.
    drop_padding
        Drop the transparent padding splats of a PLAS-ordered splatkit file: ``meta["splatkit"]
        ["padding"]`` counts them and their ``scales`` texel has alpha 0 (every other writer,
        and every real splat, has 255 there). ``False`` keeps them, as other readers do.
    source
        Used in error messages.

    Returns
    -------
    GaussianCloud
        ``count`` Gaussians (less the padding) in file order, with the georeference from
        ``meta["splatkit"]``.

    Raises
    ------
    InputError
        Bad ``meta.json``, a missing or undecodable member, or a texture of the wrong size
        (the message names the member).
    """
    from splatkit.io import sog_v1

    if sog_v1.is_v1_meta(bundle.meta):
        return sog_v1.decode_sog_v1(bundle, source=source)
    meta = validate_meta(bundle.meta, source=source)
    count = int(meta["count"])
    l_name, u_name = meta["means"]["files"]
    per_splat = {"means_l": l_name, "means_u": u_name, "quats": meta["quats"]["files"][0],
                 "scales": meta["scales"]["files"][0], "sh0": meta["sh0"]["files"][0]}
    if "shN" in meta:
        per_splat["shN_labels"] = meta["shN"]["files"][1]
    textures = {key: _texture(bundle, name, source) for key, name in per_splat.items()}
    width, height = textures["means_l"].shape[1], textures["means_l"].shape[0]
    for key, name in per_splat.items():
        h, w = textures[key].shape[:2]
        if (w, h) != (width, height):
            raise InputError(f"SOG member {name!r} is {w}x{h} but {l_name!r} is {width}x{height}; all per-splat "
                             "images must have the same size", path=source)
        if w * h < count:
            raise InputError(f"SOG member {name!r} is {w}x{h} = {w * h} pixels, too small for count={count}",
                             path=source)
    pix = {key: _from_texture(tex, count) for key, tex in textures.items()}
    extra = meta.get("splatkit") or {}
    padding = extra.get("padding", 0)
    if drop_padding and padding:
        if not isinstance(padding, int) or isinstance(padding, bool) or not 0 <= padding <= count:
            raise _meta_error(source, f"'splatkit.padding' must be an integer in 0..count, got {padding!r}")
        marked = pix["scales"][:, 3] == PADDING_ALPHA
        if int(marked.sum()) != padding:
            raise InputError(f"SOG member {per_splat['scales']!r} marks {int(marked.sum())} padding splat(s) "
                             f"(alpha {PADDING_ALPHA}) but meta.json says splatkit.padding={padding}; the file was "
                             "edited by another tool, read it with drop_padding=False", path=source)
        pix = {key: rows[~marked] for key, rows in pix.items()}

    means = unpack_means(pix["means_l"], pix["means_u"], meta["means"]["mins"], meta["means"]["maxs"])
    quats = unpack_quats(pix["quats"])
    scale_cb = np.asarray(meta["scales"]["codebook"], np.float64)
    color_cb = np.asarray(meta["sh0"]["codebook"], np.float64)
    log_scales = scale_cb[pix["scales"][:, :3]]
    sh0 = color_cb[pix["sh0"][:, :3]]
    opacity = alpha_to_opacity(pix["sh0"][:, 3])
    shN = np.zeros((pix["sh0"].shape[0], 0, 3), np.float32)
    if "shN" in meta:
        shN = _decode_shn(bundle, meta, pix["shN_labels"], source)

    georeference = None
    if apply_offset:
        offset = extra.get("offset")
        if offset is not None:
            if not isinstance(offset, list) or len(offset) != 3 or not all(_is_finite_number(v) for v in offset):
                raise _meta_error(source, f"'splatkit.offset' must be a list of 3 finite numbers, got {offset!r}; "
                                          "fix or remove it (decode with apply_offset=False to ignore it)")
            means = means + np.asarray(offset, np.float64)
        if extra.get("georeference") is not None:
            try:
                georeference = Georeference.from_dict(extra["georeference"])
            except ContractError as e:
                raise _meta_error(source, f"'splatkit.georeference' is invalid: {e}") from e
    return GaussianCloud(means=means.astype(np.float32), log_scales=log_scales.astype(np.float32),
                         quats=quats.astype(np.float32), opacity_logits=opacity.astype(np.float32),
                         sh0=sh0.astype(np.float32), shN=shN, georeference=georeference)


def _decode_shn(bundle: CompressedBundle, meta: Mapping[str, Any], labels_pix: np.ndarray,
                source: str | Path) -> np.ndarray:
    bands = int(meta["shN"]["bands"])
    coeffs = SH_REST_COEFFS[bands]
    cen_name, lab_name = meta["shN"]["files"]
    centroids = _texture(bundle, cen_name, source)
    rows, width = centroids.shape[:2]
    if width != PALETTE_ENTRIES_PER_ROW * coeffs:
        raise InputError(f"SOG member {cen_name!r} is {width} pixels wide; {bands} SH band(s) need "
                         f"{PALETTE_ENTRIES_PER_ROW * coeffs}", path=source)
    entries = min(int(meta["shN"]["count"]), rows * PALETTE_ENTRIES_PER_ROW)
    labels = labels_pix[:, 0].astype(np.int64) | (labels_pix[:, 1].astype(np.int64) << 8)
    if labels.size and int(labels.max()) >= entries:
        raise InputError(f"SOG member {lab_name!r} refers to palette entry {int(labels.max())}, but {cen_name!r} "
                         f"and shN.count hold only {entries}", path=source)
    # [rows, 64*K, 4] -> [rows*64, K, 4]: entry n, coefficient j.
    palette_idx = centroids.reshape(rows * PALETTE_ENTRIES_PER_ROW, coeffs, 4)[:, :, :3]
    codebook = np.asarray(meta["shN"]["codebook"], np.float64)
    palette = codebook[palette_idx].astype(np.float32)   # [P, K, 3] coefficient-major, RGB last
    return palette[labels]


# --------------------------------------------------------------------------------------------
# Containers


def write_sog(bundle: CompressedBundle, path: str | Path, *, bundled: bool | None = None) -> Path:
    """Write a SOG bundle atomically: a ``.sog`` ZIP, or a folder with ``meta.json``.

    Parameters
    ----------
    bundle
        Members (``*.webp``) and ``meta``.
    path
        Target ``.sog`` file, or a folder (or its ``meta.json``) for the unbundled layout.
    bundled
        Force the layout; default: ZIP when ``path`` ends in ``.sog``, folder otherwise.

    Returns
    -------
    Path
        The file or folder written.

    Raises
    ------
    InputError
        The unbundled target exists and holds anything other than ``meta.json`` and ``*.webp``
        files (the folder is replaced as a whole, which would delete them), or is not a folder.

    Notes
    -----
    ZIP entries are STORED (WebP is already compressed) with no archive comment (the engine reads
    the end record at ``length - 22``); image members first, ``meta.json`` last, as splat-transform.
    An existing SOG folder is replaced as a whole, so stale images of a previous SOG go too.
    """
    path = Path(path)
    if path.name == META_NAME:
        path = path.parent
        bundled = False if bundled is None else bundled
    if bundled is None:
        bundled = path.suffix.lower() == ".sog"
    meta_bytes = json.dumps(dict(bundle.meta), separators=(",", ":")).encode("utf-8")
    names = [n for n in bundle.members if n != META_NAME]
    if bundled:
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=False) as zf:
                for name in names:
                    zf.writestr(_zip_info(name), bundle.members[name])
                zf.writestr(_zip_info(META_NAME), meta_bytes)
        return path
    _check_folder_is_replaceable(path)
    with atomic_directory(path) as tmp:
        for name in names:
            (tmp / name).write_bytes(bundle.members[name])
        (tmp / META_NAME).write_bytes(meta_bytes)
    return path


def _check_folder_is_replaceable(folder: Path, *, shown: int = 5) -> None:
    """Refuse to replace an existing ``folder`` that holds anything but a previous SOG.

    :func:`~splatkit.io.atomic.atomic_directory` swaps the whole folder, so any other file in it
    would be deleted; ``meta.json`` and ``*.webp`` files (a previous SOG) may go.
    """
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir():
        raise InputError("exists and is not a folder; an unbundled SOG is written as a folder holding meta.json "
                         "and .webp files: write to a new or empty folder, or to a .sog file", path=folder)
    foreign = sorted(entry.name for entry in folder.iterdir()
                     if not (entry.is_file() and (entry.name == META_NAME or entry.name.lower().endswith(".webp"))))
    if foreign:
        listed = ", ".join(repr(name) for name in foreign[:shown])
        more = f" and {len(foreign) - shown} more" if len(foreign) > shown else ""
        raise InputError(f"the folder holds files other than a SOG ({listed}{more}); writing an unbundled SOG "
                         "replaces the whole folder and would delete them: write to a new or empty folder",
                         path=folder)


def _zip_info(name: str) -> zipfile.ZipInfo:
    # Fixed timestamp: identical input gives byte-identical archives.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _load_members(path: Path) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """Read meta.json and the members it names from a .sog ZIP or a SOG folder."""
    if path.is_dir() or path.name == META_NAME:
        folder = path if path.is_dir() else path.parent
        meta_path = folder / META_NAME
        if not meta_path.is_file():
            raise InputError(f"no {META_NAME} in this folder; a SOG folder holds meta.json and its .webp files",
                             path=folder)
        _check_member_size(META_NAME, meta_path.stat().st_size, 0, folder)
        meta = _validate_any(_parse_json(meta_path.read_bytes(), meta_path), source=meta_path)
        members: dict[str, bytes] = {}
        total = 0
        for name in _member_names_any(meta):
            member = folder / name
            if "/" in name or "\\" in name or not member.is_file():
                raise InputError(f"SOG member {name!r} named in {META_NAME} is missing", path=folder)
            total = _check_member_size(name, member.stat().st_size, total, folder)
            members[name] = member.read_bytes()
        return meta, members, str(folder)
    if not path.is_file():
        raise InputError("no such SOG file or folder", path=path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if META_NAME not in names:
                raise InputError(f"the ZIP has no {META_NAME} at its root; not a bundled SOG", path=path)
            # zipfile stops at each member's declared size and checks its CRC, so bounding the
            # declared sizes bounds what decompression can allocate (no ZIP bombs).
            _check_member_size(META_NAME, zf.getinfo(META_NAME).file_size, 0, path)
            meta = _validate_any(_parse_json(_read_zip_member(zf, META_NAME, path), path), source=path)
            members = {}
            total = 0
            for name in _member_names_any(meta):
                if name not in names:
                    raise InputError(f"SOG member {name!r} named in {META_NAME} is missing from the ZIP", path=path)
                total = _check_member_size(name, zf.getinfo(name).file_size, total, path)
                members[name] = _read_zip_member(zf, name, path)
            return meta, members, str(path)
    except zipfile.BadZipFile as e:
        raise InputError(f"not a valid .sog ZIP ({e}); the file is truncated or not a SOG", path=path) from e
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"cannot read the .sog ZIP ({e}); the file is damaged", path=path) from e


def _read_zip_member(zf: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """``zf.read(name)``, with a corrupt compressed member reported as :class:`InputError`."""
    try:
        return zf.read(name)
    except zlib.error as e:
        # zipfile checks CRCs (BadZipFile) but lets the decompressor's own errors through.
        raise InputError(f"SOG member {name!r} is corrupt: its compressed data cannot be decompressed ({e}); "
                         "the file is damaged, re-export or re-download it", path=path) from e
    except zipfile.BadZipFile as e:
        raise InputError(f"SOG member {name!r} is corrupt ({e}); the file is damaged, re-export or "
                         "re-download it", path=path) from e


def _check_member_size(name: str, size: int, total: int, source: str | Path) -> int:
    """Refuse a member larger than the limits before reading it; returns the new running total."""
    limit = MAX_META_BYTES if name == META_NAME else MAX_MEMBER_BYTES
    if size > limit:
        raise InputError(f"SOG member {name!r} holds {size} bytes (limit {limit}); this is not a SOG file, or a "
                         "ZIP bomb", path=source)
    total += size
    if total > MAX_TOTAL_BYTES:
        raise InputError(f"SOG members add up to more than {MAX_TOTAL_BYTES} bytes (at {name!r}); this is not a "
                         "SOG file, or a ZIP bomb", path=source)
    return total


def _validate_any(meta: Any, *, source: str | Path) -> dict[str, Any]:
    """Validate a v2 ``meta.json``, or a legacy v1 one (no ``version``) with :mod:`.sog_v1`."""
    from splatkit.io import sog_v1

    if sog_v1.is_v1_meta(meta):
        return sog_v1.validate_meta_v1(meta, source=source)
    return validate_meta(meta, source=source)


def _member_names_any(meta: Mapping[str, Any]) -> list[str]:
    from splatkit.io import sog_v1

    return sog_v1.member_names_v1(meta) if sog_v1.is_v1_meta(meta) else member_names(meta)


def _count_and_version(meta: Mapping[str, Any]) -> tuple[int, int]:
    from splatkit.io import sog_v1

    if sog_v1.is_v1_meta(meta):
        return int(meta["means"]["shape"][0]), sog_v1.SOG_V1_VERSION
    return int(meta["count"]), SOG_VERSION


def _parse_json(data: bytes, source: str | Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{META_NAME} is not valid JSON: {e}", path=source) from e
    except RecursionError as e:
        # json.loads recurses once per nesting level; a real meta.json is a few levels deep.
        raise InputError(f"{META_NAME} is not valid JSON: nested too deeply to be a SOG meta.json; the file is "
                         "corrupt or not a SOG", path=source) from e


def read_sog(path: str | Path) -> CompressedBundle:
    """Read a bundled ``.sog`` or a SOG folder (or its ``meta.json``) into a bundle.

    Only ``meta.json`` and the members it names are loaded; images are decoded later by
    :func:`decode_sog`. Legacy v1 (SOGS) files are accepted: the bundle's ``version`` is 1 and
    :func:`decode_sog` hands them to :mod:`splatkit.io.sog_v1`.

    Raises
    ------
    InputError
        Not a ZIP, truncated, no/invalid ``meta.json``, a named member missing.
    """
    meta, members, _ = _load_members(Path(path))
    count, version = _count_and_version(meta)
    source_count = (meta.get("splatkit") or {}).get("source_count", count)
    if not isinstance(source_count, int) or isinstance(source_count, bool) or source_count < 0:
        source_count = count          # informational only; other writers never set it
    return CompressedBundle(format=SOG_FORMAT, version=version, meta=meta, members=members,
                            source_count=source_count)


def is_sog(path: str | Path) -> bool:
    """Cheap detection: a ``.sog`` file, a ``meta.json`` path, or a folder holding ``meta.json``."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".sog" or path.name == META_NAME
    return path.is_dir() and (path / META_NAME).is_file()


def _v1_dialect(meta: Mapping[str, Any]) -> str:
    from splatkit.io import sog_v1

    return sog_v1.v1_dialect(meta)


def info(path: str | Path) -> dict[str, Any]:
    """Facts about a ``.sog`` file or SOG folder for ``splatkit info`` (no image decoding).

    Returns
    -------
    dict
        ``format``, ``version``, ``count``, ``sh_degree``, ``palette_size``, ``bytes`` (total),
        ``bytes_per_splat`` (per real splat: PLAS padding excluded), ``members`` (name -> bytes),
        ``generator``, plus ``offset``, ``georeference`` and ``padding`` (transparent splats
        included in ``count``) when the file was written by splatkit. Legacy v1 files report
        version 1 and their ``dialect`` (:func:`splatkit.io.sog_v1.v1_dialect`; None for v2);
        their SH degree and palette size need the centroid image and read as None.
    """
    path = Path(path)
    meta, members, _ = _load_members(path)
    count, version = _count_and_version(meta)
    bundled = path.is_file() and path.name != META_NAME
    folder = path if path.is_dir() else path.parent
    total = path.stat().st_size if bundled else (
        sum(len(v) for v in members.values()) + (folder / META_NAME).stat().st_size)
    extra = meta.get("splatkit") or {}
    padding = extra.get("padding", 0)
    if not isinstance(padding, int) or isinstance(padding, bool) or not 0 <= padding <= count:
        raise _meta_error(path, f"'splatkit.padding' must be an integer in 0..count, got {padding!r}")
    splat_count = count - padding     # PLAS padding splats are in ``count`` but carry no data
    return {
        "format": SOG_FORMAT,
        "version": version,
        "dialect": _v1_dialect(meta) if version != SOG_VERSION else None,
        "bundled": bundled,
        "count": count,
        "sh_degree": (int(meta["shN"]["bands"]) if version == SOG_VERSION else None) if "shN" in meta else 0,
        "palette_size": (int(meta["shN"]["count"]) if version == SOG_VERSION else None) if "shN" in meta else 0,
        "bytes": int(total),
        "bytes_per_splat": (total / splat_count) if splat_count else None,
        "members": {name: len(data) for name, data in members.items()},
        "generator": (meta.get("asset") or {}).get("generator"),
        "offset": extra.get("offset"),
        "georeference": extra.get("georeference"),
        "padding": padding,
    }
