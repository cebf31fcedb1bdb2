"""The pycolmap SfM stage: configuration, data-driven decisions, registration (no SfM run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatkit.contracts import CameraHints, GpsPosition, ImageRecord, ImageSet
from splatkit.errors import ContractError, InputError
from splatkit.plugins import PluginManager
from splatkit.sfm.features import GUESSED_FOCAL_FACTOR, group_cameras, initial_params
from splatkit.sfm.pycolmap_backend import PycolmapConfig, PycolmapSfM, choose_matcher
from splatkit.stages import config_from_mapping


def _record(name: str, *, size: tuple[int, int] = (400, 300), hints: CameraHints = CameraHints(),
            gps: GpsPosition | None = None) -> ImageRecord:
    return ImageRecord(name=name, path=Path("/nonexistent") / name, width=size[0], height=size[1], camera=hints,
                       gps=gps)


def _set(*records: ImageRecord) -> ImageSet:
    return ImageSet(records=records, root=Path("/nonexistent"), source="test")


DRONE = CameraHints(make="DJI", model="FC6310", focal_length_mm=8.8, focal_length_35mm=24.0)
PHONE = CameraHints(make="Apple", model="iPhone", focal_length_mm=4.3, focal_length_35mm=35.0)


def test_registered_through_the_plugin_hook() -> None:
    pm = PluginManager(load_entrypoints=False, builtins=("splatkit.sfm.pycolmap_backend",))
    cls = pm.stages.get("sfm", "pycolmap")
    assert cls is PycolmapSfM and cls.Config is PycolmapConfig


def test_availability_follows_the_installed_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pycolmap" else real(name, *a))
    assert not PycolmapSfM.is_available()
    assert "pip install 'splatkit[sfm]'" in PycolmapSfM.unavailable_reason()


def test_config_rejects_unknown_choices_and_coerces_strings() -> None:
    with pytest.raises(ContractError, match="matcher"):
        PycolmapConfig(matcher="vocab")
    with pytest.raises(ContractError, match="camera_mode"):
        PycolmapConfig(camera_mode="per_folder")
    config = config_from_mapping(PycolmapConfig, {"max_image_size": "1000", "undistort": "false"})
    assert config.max_image_size == 1000 and config.undistort is False


def test_per_device_groups_by_camera_and_size() -> None:
    image_set = _set(_record("a.jpg", hints=DRONE), _record("b.jpg", hints=DRONE), _record("c.jpg", hints=PHONE),
                     _record("d.jpg", hints=DRONE, size=(300, 400)))
    groups = group_cameras(image_set, "per_device")
    assert sorted(g.names for g in groups) == [("a.jpg", "b.jpg"), ("c.jpg",), ("d.jpg",)]
    drone = next(g for g in groups if g.names == ("a.jpg", "b.jpg"))
    assert drone.focal_from_exif and drone.focal_px == pytest.approx(24.0 / 36.0 * 400)
    assert "DJI FC6310" in drone.label
    assert len(group_cameras(image_set, "per_image")) == 4


def test_no_exif_focal_is_guessed_from_the_image_size() -> None:
    groups = group_cameras(_set(_record("a.png"), _record("b.png")), "per_device")
    assert len(groups) == 1 and not groups[0].focal_from_exif
    assert groups[0].focal_px == pytest.approx(GUESSED_FOCAL_FACTOR * 400)


def test_single_camera_needs_one_image_size() -> None:
    with pytest.raises(InputError, match="one size"):
        group_cameras(_set(_record("a.jpg"), _record("b.jpg", size=(200, 100))), "single")


def test_matcher_is_chosen_from_the_data() -> None:
    gps = GpsPosition(lat=1.0, lon=2.0, alt=3.0)
    small = _set(*(_record(f"{i}.jpg", gps=gps) for i in range(5)))
    large_gps = _set(*(_record(f"{i}.jpg", gps=gps) for i in range(50)))
    large = _set(*(_record(f"{i}.jpg") for i in range(50)))
    assert choose_matcher(small, "auto", 40)[0] == "exhaustive"
    assert choose_matcher(large_gps, "auto", 40)[0] == "spatial"
    assert choose_matcher(large, "auto", 40)[0] == "exhaustive"
    assert choose_matcher(small, "sequential", 40) == ("sequential", "asked for")


def test_initial_params_follow_the_model_order() -> None:
    groups = group_cameras(_set(_record("a.jpg", hints=DRONE)), "per_device")
    values = [float(v) for v in initial_params("OPENCV", groups[0]).split(",")]
    f = 24.0 / 36.0 * 400
    assert values == pytest.approx([f, f, 200.0, 150.0, 0, 0, 0, 0])
    assert len(initial_params("SIMPLE_RADIAL", groups[0]).split(",")) == 4


def test_a_single_image_is_an_input_error(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "only.jpg")
    image_set = _set(ImageRecord(name="only.jpg", path=tmp_path / "only.jpg", width=40, height=30))
    with pytest.raises(InputError, match="at least"):
        PycolmapSfM().run(image_set, PycolmapConfig(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_degenerate_intrinsics_are_recognised() -> None:
    pycolmap = pytest.importorskip("pycolmap")
    from splatkit.sfm.pycolmap_backend import _has_bogus_camera

    def model_with(params: list[float]) -> object:
        rec = pycolmap.Reconstruction()
        rec.add_camera_with_trivial_rig(pycolmap.Camera(model="SIMPLE_RADIAL", width=1024, height=768,
                                                        params=params, camera_id=1))
        return rec

    # The lund failure mode seen once: a near-orthographic model with k = 130.
    assert _has_bogus_camera(model_with([7602.2, 512.0, 384.0, 130.5]))
    assert not _has_bogus_camera(model_with([760.2, 512.0, 384.0, 0.05]))
