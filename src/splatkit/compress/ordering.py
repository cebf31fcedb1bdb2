"""Splat orderings for SOG textures: which splat goes to which pixel.

The SOG format does not care about the order; lossless WebP does: neighbouring pixels that hold
similar splats predict each other and compress better. ``morton`` (Z-order over the positions)
is what splat-transform writes and is cheap. ``plas`` (a 2-D self-organising sort, Morgenstern
et al., ECCV 2024) is planned: :func:`order_splats` is the single place it will plug in.
"""

from __future__ import annotations

import numpy as np

from splatkit.errors import BackendUnavailableError, ContractError

__all__ = ["ORDERINGS", "morton_codes", "morton_order", "order_splats"]

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


def order_splats(means: np.ndarray, method: str) -> np.ndarray:
    """The pixel order for ``method`` in :data:`ORDERINGS`.

    Raises
    ------
    BackendUnavailableError
        For ``plas``, until the PLAS sorter lands.
    ContractError
        For an unknown name.
    """
    if method == "morton":
        return morton_order(means)
    if method == "plas":
        # Hook for the PLAS sorter (a square/padded 2-D grid order; see briefs/sog.md section 3).
        raise BackendUnavailableError("SOG ordering 'plas' is not implemented yet; use order='morton'",
                                      kind="compress", name="sog", install_hint="")
    raise ContractError(f"unknown SOG ordering {method!r}; expected one of {ORDERINGS}", field="order",
                        expected=ORDERINGS, actual=method)
