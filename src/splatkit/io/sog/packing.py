"""Per-attribute packing shared by SOG v1 and v2: texture geometry, symlog positions, quaternions, alpha.

Pure numpy, used by the encoder (:mod:`splatkit.compress.sog_encoder`) and by both decoders
(:mod:`splatkit.io.sog.v2`, :mod:`splatkit.io.sog.v1`). The error bounds are in
:mod:`splatkit.io.sog.v2`'s docstring.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from splatkit.errors import ContractError

__all__ = [
    "MAX_TEXTURE_SIZE",
    "QUAT_MAX_ANGLE_RAD",
    "ALPHA_EPS",
    "image_size",
    "check_count_fits",
    "to_texture",
    "from_texture",
    "symlog",
    "symlog_inverse",
    "pack_means",
    "unpack_means",
    "pack_quats",
    "unpack_quats",
    "opacity_to_alpha",
    "alpha_to_opacity",
]

logger = logging.getLogger(__name__)

#: WebP's largest image side; SOG v2 refuses clouds whose texture would exceed it.
MAX_TEXTURE_SIZE = 16383
#: Largest rotation error of the smallest-three packing with rounding (see :mod:`.v2`).
QUAT_MAX_ANGLE_RAD = math.radians(1.2)
#: Splat-transform's reader clamps decoded alpha to this before the logit.
ALPHA_EPS = 1e-6
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


def from_texture(texture: np.ndarray, count: int) -> np.ndarray:
    """[H, W, 4] uint8 -> [count, 4] uint8 in splat order (inverse of :func:`to_texture`)."""
    return texture.reshape(-1, 4)[:count]


# --------------------------------------------------------------------------------------------
# Positions


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


# --------------------------------------------------------------------------------------------
# Rotations and opacity


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
    a = np.clip(np.asarray(alpha, np.float64) / 255.0, ALPHA_EPS, 1.0 - ALPHA_EPS)
    return np.log(a / (1.0 - a))
