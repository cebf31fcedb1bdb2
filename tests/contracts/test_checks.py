"""The shared array check every contract constructor uses: ``as_readonly_array`` and ``check_finite``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from splatkit import ContractError
from splatkit.contracts._checks import as_readonly_array, check_finite

float_dtypes = st.sampled_from([np.float16, np.float32, np.float64])
int_dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])


@given(data=st.data(), source=float_dtypes, target=st.sampled_from([np.float32, np.float64]),
       n=st.integers(0, 6))
def test_float_arrays_become_read_only_copies_of_the_target_dtype(data: st.DataObject, source: type,
                                                                  target: type, n: int) -> None:
    value = data.draw(hnp.arrays(source, (n, 3), elements=st.floats(-1e4, 1e4, width=16)))
    original = value.copy()
    out = as_readonly_array(value, "T.field", dtype=target, shape=("N", 3))

    assert out.dtype == target and out.shape == (n, 3)
    assert not out.flags.writeable and out.flags.c_contiguous
    np.testing.assert_array_equal(out, original.astype(target))
    if n:
        value[0, 0] = 12345.0  # the caller keeps writing to its own array...
        assert out[0, 0] == original[0, 0].astype(target)  # ...the contract does not see it
        with pytest.raises(ValueError, match="read-only"):
            out[0, 0] = 1.0


def test_an_array_that_already_qualifies_is_not_copied() -> None:
    value = np.zeros((4, 3), np.float32)
    value.setflags(write=False)
    assert as_readonly_array(value, "T.f", dtype=np.float32, shape=("N", 3)) is value


@given(data=st.data(), source=int_dtypes, target=st.sampled_from([np.uint8, np.int32, np.int64]))
def test_integers_convert_when_they_fit_and_are_rejected_when_they_would_wrap(
        data: st.DataObject, source: type, target: type) -> None:
    value = data.draw(hnp.arrays(source, st.integers(1, 5)))
    info = np.iinfo(target)
    fits = bool(value.min() >= info.min and value.max() <= info.max)
    if fits:
        out = as_readonly_array(value, "T.index", dtype=target, shape=(None,))
        assert out.dtype == target and np.array_equal(out.astype(object), value.astype(object))
    else:
        with pytest.raises(ContractError, match=r"^T\.index: values span .* outside") as excinfo:
            as_readonly_array(value, "T.index", dtype=target, shape=(None,))
        assert type(excinfo.value) is ContractError and excinfo.value.field == "T.index"


@pytest.mark.parametrize(("value", "dtype"), [
    (np.zeros(3, np.float64), np.int64),  # float -> int would truncate
    (np.zeros(3, np.float32), np.uint8),
    (np.zeros(3, np.complex128), np.float64),  # complex -> float would drop the imaginary part
    (np.array(["a", "b", "c"]), np.float32),
    (np.array([1.0, None, 2.0], dtype=object), np.float64),
])
def test_a_dtype_of_another_kind_is_rejected_naming_field_and_dtypes(value: np.ndarray, dtype: type) -> None:
    with pytest.raises(ContractError) as excinfo:
        as_readonly_array(value, "Thing.values", dtype=dtype, shape=(None,))
    error = excinfo.value
    assert type(error) is ContractError and isinstance(error, ValueError)
    assert str(error).startswith(f"Thing.values: dtype {value.dtype} cannot be used as {np.dtype(dtype)}")
    assert (error.field, error.expected, error.actual) == ("Thing.values", str(np.dtype(dtype)), str(value.dtype))


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
def test_any_shape_but_n_by_3_is_rejected_naming_the_field(shape: tuple[int, ...]) -> None:
    assume(len(shape) != 2 or shape[1] != 3)
    with pytest.raises(ContractError) as excinfo:
        as_readonly_array(np.zeros(shape), "GaussianCloud.means", dtype=np.float32, shape=("N", 3))
    error = excinfo.value
    assert type(error) is ContractError
    assert error.field == "GaussianCloud.means" and str(error).startswith("GaussianCloud.means: ")
    assert error.actual == shape and error.expected == "[N, 3]"


def test_named_dimensions_must_agree_across_fields() -> None:
    sizes: dict[str, int] = {}
    as_readonly_array(np.zeros((5, 3)), "C.means", dtype=np.float32, shape=("N", 3), sizes=sizes)
    assert sizes == {"N": 5}
    with pytest.raises(ContractError, match=r"C\.opacity: axis 0 \(N\) has size 4, but N=5 elsewhere") as excinfo:
        as_readonly_array(np.zeros(4), "C.opacity", dtype=np.float32, shape=("N",), sizes=sizes)
    assert (excinfo.value.expected, excinfo.value.actual) == (5, 4)


def test_a_name_repeated_within_one_pattern_binds_once() -> None:
    with pytest.raises(ContractError, match="axis 1"):
        as_readonly_array(np.zeros((3, 4)), "M.square", dtype=np.float64, shape=("K", "K"))


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_check_finite_names_the_field_the_count_and_the_first_index(data: st.DataObject, shape: tuple[int, ...],
                                                                    bad: float) -> None:
    arr = np.zeros(shape)
    flat = data.draw(st.lists(st.integers(0, arr.size - 1), min_size=1, max_size=3, unique=True))
    arr.flat[flat] = bad
    first = np.unravel_index(min(flat), shape)  # C order: the first offender a reader would find

    with pytest.raises(ContractError) as excinfo:
        check_finite(arr, "Points.xyz", source="colmap/sparse/0")
    message = str(excinfo.value)
    assert message.startswith(f"Points.xyz: {len(flat)} non-finite value(s) (from colmap/sparse/0)")
    assert message.endswith(f"first at index {tuple(int(i) for i in first)}")
    assert excinfo.value.field == "Points.xyz"


@given(arr=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0),
                      elements=st.floats(allow_nan=False, allow_infinity=False)))
def test_check_finite_accepts_finite_and_empty_arrays(arr: np.ndarray) -> None:
    check_finite(arr, "X")
