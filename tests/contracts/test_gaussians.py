"""GaussianCloud: shapes, dtypes, read-only arrays, validate() and subset()."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from splatkit import ContractError, GaussianCloud, Georeference
from tests.contracts.strategies import gaussian_clouds

ARRAYS = ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN")


def cloud_arrays(n: int = 4, k: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"means": rng.normal(size=(n, 3)), "log_scales": rng.normal(size=(n, 3)), "quats": rng.normal(size=(n, 4)),
            "opacity_logits": rng.normal(size=n), "sh0": rng.normal(size=(n, 3)), "shN": rng.normal(size=(n, k, 3))}


@given(cloud=gaussian_clouds())
def test_arrays_are_read_only_float32_with_one_n(cloud: GaussianCloud) -> None:
    n = len(cloud)
    for name in ARRAYS:
        arr = getattr(cloud, name)
        assert arr.dtype == np.float32 and not arr.flags.writeable, name
        assert arr.shape[0] == n
    assert cloud.shN.shape[1:] in {(0, 3), (3, 3), (8, 3), (15, 3)}
    assert cloud.sh_degree == {0: 0, 3: 1, 8: 2, 15: 3}[cloud.shN.shape[1]]


def test_the_cloud_is_frozen() -> None:
    cloud = GaussianCloud(**cloud_arrays())
    with pytest.raises(dataclasses.FrozenInstanceError):
        cloud.means = np.zeros((4, 3))  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        cloud.means[0, 0] = 1.0


def test_float64_input_is_stored_as_float32_without_touching_the_input() -> None:
    arrays = cloud_arrays()
    cloud = GaussianCloud(**arrays)
    np.testing.assert_array_equal(cloud.quats, arrays["quats"].astype(np.float32))
    assert arrays["quats"].dtype == np.float64 and arrays["quats"].flags.writeable


def test_shn_defaults_to_degree_zero() -> None:
    arrays = cloud_arrays(n=5)
    del arrays["shN"]
    cloud = GaussianCloud(**arrays)
    assert cloud.shN.shape == (5, 0, 3) and cloud.sh_degree == 0


WRONG_SHAPES = [("means", (4, 2)), ("means", (4,)), ("log_scales", (3, 3)), ("quats", (4, 3)),
                ("opacity_logits", (4, 1)), ("opacity_logits", (5,)), ("sh0", (4, 3, 1)), ("shN", (4, 3)),
                ("shN", (4, 3, 1)), ("shN", (2, 3, 3))]


@pytest.mark.parametrize(("name", "shape"), WRONG_SHAPES)
def test_a_wrong_shape_is_a_contract_error_naming_the_field(name: str, shape: tuple[int, ...]) -> None:
    arrays = cloud_arrays(n=4)
    arrays[name] = np.zeros(shape)
    with pytest.raises(ContractError) as excinfo:
        GaussianCloud(**arrays)
    assert type(excinfo.value) is ContractError
    assert excinfo.value.field == f"GaussianCloud.{name}" and f"GaussianCloud.{name}" in str(excinfo.value)


@pytest.mark.parametrize("name", ARRAYS)
def test_complex_values_are_rejected(name: str) -> None:
    arrays = cloud_arrays(n=4)
    arrays[name] = arrays[name].astype(np.complex64)
    with pytest.raises(ContractError, match=rf"GaussianCloud\.{name}: dtype complex64"):
        GaussianCloud(**arrays)


@pytest.mark.parametrize("k", [1, 2, 4, 9, 16])
def test_sh_coefficient_count_must_match_a_degree(k: int) -> None:
    with pytest.raises(ContractError, match=f"shN has {k} coefficients per channel; expected one of 0, 3, 8, 15"):
        GaussianCloud(**cloud_arrays(k=k))


def test_georeference_must_be_a_georeference() -> None:
    with pytest.raises(ContractError, match="GaussianCloud.georeference"):
        GaussianCloud(**cloud_arrays(), georeference={"lat": 1.0, "lon": 2.0, "alt": 3.0})


@given(data=st.data(), cloud=gaussian_clouds(max_n=8).filter(len),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_validate_names_the_field_and_the_first_bad_index(data: st.DataObject, cloud: GaussianCloud,
                                                          bad: float) -> None:
    name = data.draw(st.sampled_from([n for n in ARRAYS if getattr(cloud, n).size]))
    arr = np.array(getattr(cloud, name))
    flat = data.draw(st.integers(0, arr.size - 1))
    arr.flat[flat] = bad
    broken = dataclasses.replace(cloud, **{name: arr})
    index = tuple(int(i) for i in np.unravel_index(flat, arr.shape))

    with pytest.raises(ContractError) as excinfo:
        broken.validate(source="train/cpu output")
    message = str(excinfo.value)
    assert message.startswith(f"GaussianCloud.{name}: 1 non-finite value(s) (from train/cpu output)")
    assert message.endswith(f"first at index {index}")
    assert cloud.validate() is cloud  # the finite original passes and chains


@given(cloud=gaussian_clouds(), data=st.data())
def test_subset_by_mask_or_indices_selects_the_same_gaussians(cloud: GaussianCloud, data: st.DataObject) -> None:
    n = len(cloud)
    mask = data.draw(hnp.arrays(np.bool_, n))
    by_mask = cloud.subset(mask)
    by_index = cloud.subset(np.flatnonzero(mask))

    assert len(by_mask) == int(mask.sum()) and by_mask.equals(by_index)
    assert by_mask.sh_degree == cloud.sh_degree and by_mask.georeference == cloud.georeference
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(by_mask, name), getattr(cloud, name)[mask])
        assert not getattr(by_mask, name).flags.writeable
    assert cloud.subset(np.arange(n)).equals(cloud)


def test_subset_keeps_the_georeference_and_accepts_repeats() -> None:
    cloud = GaussianCloud(**cloud_arrays(n=3), georeference=Georeference(lat=46.0, lon=7.0, alt=500.0))
    picked = cloud.subset([2, 2, 0])
    assert len(picked) == 3 and picked.georeference == cloud.georeference
    np.testing.assert_array_equal(picked.means, cloud.means[[2, 2, 0]])


def test_equals_compares_every_array_and_the_georeference() -> None:
    cloud = GaussianCloud(**cloud_arrays())
    assert cloud.equals(GaussianCloud(**cloud_arrays()))
    opacity = np.array(cloud.opacity_logits)
    opacity[1] += 1.0
    assert not cloud.equals(dataclasses.replace(cloud, opacity_logits=opacity))
    assert not cloud.equals(dataclasses.replace(cloud, georeference=Georeference(lat=0.0, lon=0.0, alt=0.0)))
