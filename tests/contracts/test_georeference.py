"""Georeference: WGS84 range checks, numeric types, dict round trip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit import ContractError, Georeference
from splatkit.contracts.georeference import lla_to_enu

lats = st.floats(-90, 90)
lons = st.floats(-180, 180)
alts = st.floats(-500, 9000)


@given(lat=lats, lon=lons, alt=alts)
def test_in_range_values_round_trip_through_a_dict(lat: float, lon: float, alt: float) -> None:
    ref = Georeference(lat=lat, lon=lon, alt=alt)
    assert Georeference.from_dict(ref.to_dict()) == ref
    assert ref.to_dict() == {"lat": lat, "lon": lon, "alt": alt}


@given(lat=st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: abs(v) > 90), lon=lons)
def test_latitude_beyond_the_poles_is_rejected(lat: float, lon: float) -> None:
    with pytest.raises(ContractError, match="lat/lon out of range") as excinfo:
        Georeference(lat=lat, lon=lon, alt=0.0)
    assert excinfo.value.actual == (lat, lon) and excinfo.value.field == "Georeference"


@given(lat=lats, lon=st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: abs(v) > 180))
def test_longitude_beyond_the_antimeridian_is_rejected(lat: float, lon: float) -> None:
    with pytest.raises(ContractError, match="lat/lon out of range"):
        Georeference(lat=lat, lon=lon, alt=0.0)


@pytest.mark.parametrize("name", ["lat", "lon", "alt"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, "46.5", None, True])
def test_non_finite_or_non_numeric_values_are_rejected_naming_the_field(name: str, value: object) -> None:
    args = {"lat": 46.5, "lon": 6.6, "alt": 400.0, name: value}
    with pytest.raises(ContractError, match=rf"^Georeference\.{name} must be a finite number") as excinfo:
        Georeference(**args)
    assert type(excinfo.value) is ContractError and excinfo.value.field == f"Georeference.{name}"


def test_numpy_scalars_are_accepted_and_stored_as_float() -> None:
    # Means of EXIF GPS arrays are numpy scalars; np.float32 is not a float subclass.
    ref = Georeference(lat=np.float32(46.5), lon=np.int64(6), alt=np.float64(400.0))
    assert ref == Georeference(lat=46.5, lon=6.0, alt=400.0)
    assert all(type(v) is float for v in (ref.lat, ref.lon, ref.alt))


def test_georeference_is_frozen_and_hashable() -> None:
    ref = Georeference(lat=1.0, lon=2.0, alt=3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.lat = 5.0  # type: ignore[misc]
    assert {ref: 1}[Georeference(lat=1.0, lon=2.0, alt=3.0)] == 1


@pytest.mark.parametrize("data", [{"lat": 1.0, "lon": 2.0}, {"lat": "north", "lon": 2.0, "alt": 0.0}, {}])
def test_from_dict_needs_three_numbers(data: dict) -> None:
    with pytest.raises(ContractError, match="need numeric lat, lon, alt"):
        Georeference.from_dict(data)


def test_to_enu_is_the_module_conversion_and_the_origin_maps_to_zero() -> None:
    ref = Georeference(lat=45.0, lon=7.0, alt=300.0)
    lat, lon, alt = np.array([45.0, 45.001]), np.array([7.0, 7.0]), np.array([300.0, 310.0])
    enu = ref.to_enu(lat, lon, alt)
    np.testing.assert_allclose(enu, lla_to_enu(lat, lon, alt, ref))
    np.testing.assert_allclose(enu[0], 0.0, atol=1e-6)
    # 0.001 degree of latitude is about 111 m north at 45 degrees; 10 m up.
    assert 110.0 < enu[1, 1] < 112.0 and abs(enu[1, 0]) < 1e-6 and abs(enu[1, 2] - 10.0) < 0.01
