"""One shared array check for every contract constructor.

Constructors call :func:`as_readonly_array` on each array field: it checks the shape against a
pattern, checks the dtype can be cast without changing kind (float64 -> float32 is fine,
float -> int is not; integers of any width convert when their values fit), and returns a
read-only array that the contract owns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from splatkit.errors import ContractError

__all__ = ["as_readonly_array", "check_finite"]

# A shape pattern entry: a fixed size, None (any size), or a name that must match the same
# name elsewhere in the pattern (and in the ``sizes`` mapping shared across one contract).
Dim = int | str | None


def as_readonly_array(
    value: ArrayLike,
    field: str,
    *,
    dtype: DTypeLike,
    shape: Sequence[Dim],
    sizes: dict[str, int] | None = None,
) -> np.ndarray:
    """Check ``value`` against a shape pattern and dtype; return a read-only array of ``dtype``.

    Parameters
    ----------
    value
        Anything numpy can turn into an array.
    field
        Name used in errors, e.g. ``"GaussianCloud.means"``.
    dtype
        The contract's dtype. The input must be castable to it with ``same_kind`` casting, or be
        integers (or bools) whose values fit an integer ``dtype``.
    shape
        Pattern such as ``("N", 3)``; named dims are bound in ``sizes`` on first use.
    sizes
        Named dims already bound by other fields of the same contract; updated in place.

    Returns
    -------
    numpy.ndarray
        A C-contiguous, read-only array. It is ``value`` itself when that already qualifies.
    """
    target = np.dtype(dtype)
    arr = np.asarray(value)
    # Integers convert between widths and signedness (int64 colours -> uint8) when every value
    # fits; a plain cast would wrap silently (300 -> 44, index 2**32 -> 0).
    int_to_int = target.kind in "iu" and arr.dtype.kind in "biu"
    if arr.dtype == object or not (int_to_int or np.can_cast(arr.dtype, target, casting="same_kind")):
        raise ContractError(
            f"{field}: dtype {arr.dtype} cannot be used as {target}",
            field=field,
            expected=str(target),
            actual=str(arr.dtype),
        )
    if int_to_int and arr.size and not np.can_cast(arr.dtype, target, casting="safe"):
        info = np.iinfo(target)
        low, high = int(arr.min()), int(arr.max())
        if low < info.min or high > info.max:
            raise ContractError(
                f"{field}: values span [{low}, {high}], outside {target}'s range [{info.min}, {info.max}]",
                field=field,
                expected=f"{target} values in [{info.min}, {info.max}]",
                actual=(low, high),
            )
    if arr.ndim != len(shape):
        raise ContractError(
            f"{field}: expected {len(shape)} dimensions {_fmt(shape)}, got shape {arr.shape}",
            field=field,
            expected=_fmt(shape),
            actual=arr.shape,
        )
    bound = sizes if sizes is not None else {}
    for axis, (want, got) in enumerate(zip(shape, arr.shape)):
        if isinstance(want, int) and want != got:
            raise ContractError(
                f"{field}: axis {axis} must have size {want}, got shape {arr.shape}",
                field=field,
                expected=_fmt(shape),
                actual=arr.shape,
            )
        if isinstance(want, str):
            if want in bound and bound[want] != got:
                raise ContractError(
                    f"{field}: axis {axis} ({want}) has size {got}, "
                    f"but {want}={bound[want]} elsewhere in the contract",
                    field=field,
                    expected=bound[want],
                    actual=got,
                )
            bound[want] = got
    if arr.dtype == target and arr.flags.c_contiguous and not arr.flags.writeable:
        return arr
    out = np.array(arr, dtype=target, order="C", copy=True)
    out.setflags(write=False)
    return out


def check_finite(arr: np.ndarray, field: str, *, source: str = "") -> None:
    """Raise :class:`ContractError` naming the first non-finite entry of ``arr``."""
    if arr.size == 0 or np.isfinite(arr).all():
        return
    bad = np.argwhere(~np.isfinite(arr))
    where = f" (from {source})" if source else ""
    raise ContractError(
        f"{field}: {len(bad)} non-finite value(s){where}, first at index {tuple(int(i) for i in bad[0])}",
        field=field,
        expected="finite values",
        actual=f"{len(bad)} NaN/Inf",
    )


def _fmt(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join("*" if d is None else str(d) for d in shape) + "]"
