"""Splat orderings for SOG textures: which splat goes to which pixel.

The SOG format does not care about the order; lossless WebP does: neighbouring pixels that hold
similar splats predict each other and compress better. ``morton`` (Z-order over the positions)
is what splat-transform writes and is cheap. ``plas`` (a 2-D self-organising sort, Morgenstern
et al., ECCV 2024; :mod:`.plas`) fills the whole ``W x H`` texture, padding it with transparent
copies. With lossless WebP, Morton gives the smaller files: PLAS smooths colours, scales and
rotations but costs more on positions than it saves (2-13 % larger on a trained llff-fern cloud;
docs/compression.md), and its sort takes longer. ``plas`` is there for SOGS-style layouts and
clouds that training made smooth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from splatkit.contracts import GaussianCloud
from splatkit.errors import ContractError

if TYPE_CHECKING:
    from splatkit.compress.plas import PlasSchedule

__all__ = ["ORDERINGS", "PixelOrder", "morton_codes", "morton_order", "order_splats"]

#: Ordering names accepted by :func:`order_splats`.
ORDERINGS = ("morton", "plas")
# Bits per axis: 3 x 21 = 63 bits fit an unsigned 64-bit code. splat-transform uses 10 bits and
# re-sorts buckets of > 256 equal codes over their own box; a finer global grid gives an
# equivalent locality without the recursion.
_BITS = 21


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Insert two zero bits between each of the low 21 bits of ``v`` (uint64)."""
    v = v.astype(np.uint64) & np.uint64(0x1FFFFF)
    v = (v | (v << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
    v = (v | (v << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
    v = (v | (v << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
    v = (v | (v << np.uint64(2))) & np.uint64(0x1249249249249249)
    return v


def morton_codes(means: np.ndarray) -> np.ndarray:
    """63-bit Morton codes of positions quantised to a 2^21 grid over their bounding box.

    Parameters
    ----------
    means : [N, 3] finite

    Returns
    -------
    uint64 [N]
        ``x`` in the lowest bit of each triple, then ``y``, then ``z`` (as splat-transform).
    """
    p = np.asarray(means, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ContractError(f"morton_codes: positions must be [N, 3], got {p.shape}", field="means")
    if p.shape[0] == 0:
        return np.zeros(0, np.uint64)
    lo, hi = p.min(axis=0), p.max(axis=0)
    span = hi - lo
    cells = float(1 << _BITS)
    # Divide first: (p - lo) / span is in [0, 1] even for a tiny span, where cells / span overflows.
    unit = np.divide(p - lo, span, out=np.zeros_like(p), where=span > 0)
    grid = np.minimum(unit * cells, cells - 1).astype(np.uint64)
    return _spread_bits(grid[:, 0]) | (_spread_bits(grid[:, 1]) << np.uint64(1)) | (
        _spread_bits(grid[:, 2]) << np.uint64(2))


def morton_order(means: np.ndarray) -> np.ndarray:
    """Permutation sorting splats along the Z-order curve (stable: ties keep input order).

    Returns
    -------
    int64 [N]
        ``order[i]`` is the splat placed at pixel ``i``.
    """
    return np.argsort(morton_codes(means), kind="stable").astype(np.int64)


@dataclass(frozen=True, kw_only=True, eq=False)
class PixelOrder:
    """Which splat goes to which texture pixel.

    Attributes
    ----------
    order : int64 [P]
        Row-major: the splat index at each pixel (``P = N`` for Morton, ``W * H`` for PLAS).
    padding : bool [P]
        True at padding pixels, which repeat the splat given in ``order`` and are written fully
        transparent (PLAS fills the whole grid; Morton never pads).
    stats : dict
        What the ordering reports (PLAS: seconds, radii, steps, device, distances).
    """

    order: np.ndarray
    padding: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def padding_count(self) -> int:
        return int(self.padding.sum())


def order_splats(means: np.ndarray, method: str, *, attributes: GaussianCloud | None = None,
                 texture: tuple[int, int] | None = None, seed: int = 0, device: str = "auto",
                 schedule: "PlasSchedule | None" = None) -> PixelOrder:
    """The pixel order for ``method`` in :data:`ORDERINGS`.

    Parameters
    ----------
    means : [N, 3]
        Positions as the file stores them (recentred).
    method : {"morton", "plas"}
    attributes : GaussianCloud, optional
        The cloud (same splats and order as ``means``); PLAS sorts by its colour, scales,
        opacity and rotation too (:func:`splatkit.compress.plas.plas_features`).
    texture : (width, height), optional
        PLAS grid size; default :func:`splatkit.io.sog.image_size` of ``N``.
    seed, device, schedule
        PLAS only: see :func:`splatkit.compress.plas.sort_grid`.

    Raises
    ------
    ContractError
        For an unknown name, or ``plas`` without ``attributes``.
    """
    if method == "morton":
        order = morton_order(means)
        return PixelOrder(order=order, padding=np.zeros(order.shape[0], bool))
    if method == "plas":
        from splatkit.compress.plas import plas_features, plas_order
        from splatkit.io.sog import image_size

        if attributes is None or len(attributes) != np.asarray(means).shape[0]:
            raise ContractError("PLAS ordering needs the cloud's attributes (one row per position)",
                                field="attributes")
        width, height = texture if texture is not None else image_size(len(attributes))
        features = plas_features(means, attributes.sh0, attributes.log_scales, attributes.opacity_logits,
                                 attributes.quats)
        result = plas_order(features, width, height, schedule=schedule, seed=seed, device=device)
        return PixelOrder(order=result.order, padding=result.padding, stats=result.stats)
    raise ContractError(f"unknown SOG ordering {method!r}; expected one of {ORDERINGS}", field="order",
                        expected=ORDERINGS, actual=method)
