"""ImageSet and its records: unique relative names, minimum image count, GPS and EXIF hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit import CameraHints, ContractError, GpsPosition, ImageRecord, ImageSet, InputError

names = st.lists(st.from_regex(r"[a-z0-9_]{1,8}(/[a-z0-9_]{1,8})?\.jpg", fullmatch=True), min_size=0, max_size=8,
                 unique=True)


def record(name: str, root: Path = Path("/photos"), **kwargs: object) -> ImageRecord:
    return ImageRecord(name=name, path=root / name, width=kwargs.pop("width", 400), height=300, **kwargs)


@given(names=names)
def test_unique_names_keep_their_order_and_are_found_by_name(names: list[str]) -> None:
    images = ImageSet(records=[record(n) for n in names], root="/photos", source="/photos")
    assert images.names == tuple(names) and len(images) == len(names)
    assert [r.name for r in images] == names
    assert all(images.by_name(n) is images[i] for i, n in enumerate(names))
    assert isinstance(images.root, Path)


@given(names=names.filter(bool), data=st.data())
def test_a_repeated_name_is_a_contract_error(names: list[str], data: st.DataObject) -> None:
    repeated = data.draw(st.sampled_from(names))
    with pytest.raises(ContractError, match="image names must be unique") as excinfo:
        ImageSet(records=[record(n) for n in [*names, repeated]], root="/photos")
    assert type(excinfo.value) is ContractError and excinfo.value.field == "ImageSet.records"


def test_records_must_be_image_records() -> None:
    with pytest.raises(ContractError, match="must hold ImageRecord objects"):
        ImageSet(records=["a.jpg"], root="/photos")


def test_unknown_name_lookup_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        ImageSet(records=[record("a.jpg")], root="/photos").by_name("b.jpg")


@pytest.mark.parametrize("count", [0, 1, 2])
def test_too_few_images_is_an_input_error_naming_the_source(tmp_path: Path, count: int) -> None:
    for i in range(count):
        (tmp_path / f"{i}.jpg").write_bytes(b"")
    images = ImageSet(records=[record(f"{i}.jpg", tmp_path) for i in range(count)], root=tmp_path,
                      source="flight.zip")
    with pytest.raises(InputError, match=rf"^flight.zip: found {count} usable image\(s\); at least 3") as excinfo:
        images.validate()
    assert excinfo.value.path == "flight.zip"
    assert images.validate(min_images=count) is images


def test_missing_files_are_an_input_error_listing_them(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"")
    images = ImageSet(records=[record(n, tmp_path) for n in ("a.jpg", "b.jpg", "c.jpg")], root=tmp_path)
    with pytest.raises(InputError, match=r"image file\(s\) missing: \['b.jpg', 'c.jpg'\]"):
        images.validate()


@pytest.mark.parametrize("name", ["", "/abs/a.jpg", "../a.jpg", "x/../../a.jpg"])
def test_record_names_must_be_relative_and_stay_inside_the_root(name: str) -> None:
    with pytest.raises(ContractError, match="ImageRecord.name must be a relative name") as excinfo:
        record(name)
    assert excinfo.value.field == "ImageRecord.name"


@pytest.mark.parametrize("width", [0, -640])
def test_record_size_must_be_positive(width: int) -> None:
    with pytest.raises(ContractError, match="size must be positive"):
        record("a.jpg", width=width)


@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180), alt=st.none() | st.floats(-400, 9000))
def test_gps_positions_in_range_are_kept(lat: float, lon: float, alt: float | None) -> None:
    gps = GpsPosition(lat=lat, lon=lon, alt=alt)
    assert (gps.lat, gps.lon, gps.alt) == (lat, lon, alt)


@pytest.mark.parametrize(("lat", "lon", "alt"), [(91.0, 0.0, None), (0.0, -180.5, None), (float("nan"), 0.0, None),
                                                 (0.0, 0.0, float("inf"))])
def test_gps_positions_out_of_range_or_non_finite_are_rejected(lat: float, lon: float, alt: float | None) -> None:
    with pytest.raises(ContractError, match="GpsPosition"):
        GpsPosition(lat=lat, lon=lon, alt=alt)


def test_has_gps_needs_every_image() -> None:
    gps = GpsPosition(lat=46.0, lon=7.0)
    assert ImageSet(records=[record("a.jpg", gps=gps), record("b.jpg", gps=gps)], root="/").has_gps()
    assert not ImageSet(records=[record("a.jpg", gps=gps), record("b.jpg")], root="/").has_gps()
    assert not ImageSet(records=[], root="/").has_gps()


@pytest.mark.parametrize(("hints", "expected"), [
    (CameraHints(focal_length_35mm=24.0), 24.0 / 36.0 * 4000),  # 35 mm film is 36 mm wide
    (CameraHints(focal_length_mm=8.8, sensor_width_mm=13.2), 8.8 / 13.2 * 4000),
    (CameraHints(focal_length_35mm=24.0, focal_length_mm=8.8, sensor_width_mm=13.2), 24.0 / 36.0 * 4000),
    (CameraHints(focal_length_mm=8.8), None),  # no sensor size: EXIF cannot tell
    (CameraHints(), None),
])
def test_focal_length_in_pixels_uses_the_long_side(hints: CameraHints, expected: float | None) -> None:
    got = hints.focal_px(4000, 3000)
    assert (got is None) if expected is None else (got == pytest.approx(expected))
    assert hints.focal_px(3000, 4000) == hints.focal_px(4000, 3000)  # portrait: same long side
