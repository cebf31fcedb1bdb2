"""Every registered stage backend and file format passes the plugin contract of ``splatkit.testing``.

The parameters come from the live registry (built-ins only, no entry points), so a backend or a
format registered later is checked without editing this file. Static checks run for all of them;
each backend also runs once on a small input this suite makes (or finds in the shared datasets,
skipping cleanly without them); each format reads files it wrote or samples made here. A backend
or a format this file has no input for fails with a message saying where to add one.
"""

from __future__ import annotations

import importlib.util
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from splatkit.formats import Format
from splatkit.plugins import PluginManager
from splatkit.stages import Stage, config_from_mapping
from splatkit.testing import (
    check_format,
    check_format_class,
    check_stage_class,
    check_stage_run,
    synthetic_cloud,
)
from tests.conftest import DATASETS, dataset

MANAGER = PluginManager(load_entrypoints=False)
STAGES: list[type[Stage]] = list(MANAGER.stages)
FORMATS: list[type[Format]] = list(MANAGER.formats)

#: Stages that need a GPU: their run check carries the ``cuda`` marker (skipped without CUDA).
CUDA_STAGES = {"train/gsplat"}

#: Options that keep each run small; a stage not listed runs with its defaults.
FAST_TRAIN = {"steps": 30, "sh_degree": 1, "sh_degree_interval": 10, "refine_start": 10, "refine_every": 10,
              "refine_stop": 25, "reset_every": 1000, "checkpoint_every": 0, "test_every": 3, "curve_every": 10}
RUN_OPTIONS: dict[str, dict[str, Any]] = {
    "compress/sog": {"palette_size": 64, "iterations": 2},  # the SH palette k-means dominates otherwise
    "sfm/pycolmap": {"num_threads": 1, "max_num_features": 2000, "min_points": 50},
    "sfm/opensfm": {"undistort_max_size": 200},  # berlin's photos are 3264x2448
    "train/cpu": FAST_TRAIN,
    "train/gsplat": FAST_TRAIN,
}


def _ids(cls: type) -> str:
    return cls.qualified_name().removeprefix("format/")


def _run_params() -> list[Any]:
    return [pytest.param(cls, id=_ids(cls), marks=[pytest.mark.cuda] if _ids(cls) in CUDA_STAGES else [])
            for cls in STAGES]


def test_the_registry_has_every_kind_of_backend_and_format() -> None:
    # Guards the parametrized tests below against an empty registry (they would pass vacuously).
    assert {cls.kind for cls in STAGES} == {"sfm", "train", "compress"}
    assert {cls.holds for cls in FORMATS} == {"splats", "reconstruction", "photos"}


@pytest.mark.parametrize("stage_cls", STAGES, ids=_ids)
def test_stage_class_keeps_the_contract(stage_cls: type[Stage]) -> None:
    check_stage_class(stage_cls)


@pytest.mark.parametrize("format_cls", FORMATS, ids=_ids)
def test_format_class_keeps_the_contract(format_cls: type[Format]) -> None:
    check_format_class(format_cls)


# ---------------------------------------------------------------------------------------------
# Inputs for the run checks


@pytest.fixture(scope="module")
def demo_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six geotagged 240x180 JPEGs of the demo flight (a 3 x 2 nadir grid): seconds for pycolmap."""
    from splatkit.demo import DemoConfig, generate_demo_photos

    config = DemoConfig(n_orbit=0, grid_columns=3, grid_rows=2, width=240, height=180, supersample=1)
    return generate_demo_photos(tmp_path_factory.mktemp("demo"), config=config, max_workers=1)


@pytest.fixture(scope="module")
def posed_scene(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Six 32x24 views of a synthetic Gaussian cloud with their exact poses (training input)."""
    pytest.importorskip("torch")
    pytest.importorskip("numba")
    from tests.train.synthetic import make_scene

    return make_scene(tmp_path_factory.mktemp("scene"), n_views=6, width=32, height=24, n_gauss=200)


def _sfm_input(name: str, request: pytest.FixtureRequest) -> tuple[Any, dict[str, Any]]:
    """The input of each SfM backend, and options naming where else to look."""
    if name == "pycolmap":
        return request.getfixturevalue("demo_photos"), {}
    if name == "opensfm":
        photos = dataset("opensfm-berlin/data/berlin/images")
        return dataset("opensfm-outputs/berlin"), {"images_dir": str(photos)}
    pytest.fail(f"no input for sfm/{name}: add one to _sfm_input in {Path(__file__).name}")


def _stage_input(stage_cls: type[Stage], request: pytest.FixtureRequest) -> tuple[Any, dict[str, Any]]:
    if stage_cls.kind == "compress":
        return synthetic_cloud(300, sh_degree=2, seed=0), {}
    if stage_cls.kind == "train":
        return request.getfixturevalue("posed_scene"), {}
    return _sfm_input(stage_cls.name, request)


@pytest.mark.parametrize("stage_cls", _run_params())
def test_stage_run_keeps_the_contract(stage_cls: type[Stage], request: pytest.FixtureRequest,
                                      tmp_path: Path) -> None:
    reason = stage_cls.unavailable_reason()
    if reason is not None:
        pytest.skip(f"{stage_cls.qualified_name()} cannot run here: {reason}")
    stage_input, options = _stage_input(stage_cls, request)
    options = {**RUN_OPTIONS.get(stage_cls.qualified_name(), {}), **options}
    config = config_from_mapping(stage_cls.Config, options, where=stage_cls.qualified_name())
    check_stage_run(stage_cls, stage_input, tmp_path / "work", config, formats=MANAGER.formats)


# ---------------------------------------------------------------------------------------------
# Samples for the format checks (formats that write are checked on the files they write)


def _colmap_models(tmp_path: Path) -> list[Path]:
    from splatkit.io.colmap import write_colmap_model
    from tests.sfm.synthetic_scene import make_scene

    scene = make_scene(num_frames=4, num_points=40)
    samples = [write_colmap_model(scene, tmp_path / "binary" / "sparse" / "0"),
               write_colmap_model(scene, tmp_path / "text" / "sparse" / "0", binary=False)]
    fern = DATASETS / "llff-fern" / "colmap_504x378" / "sparse" / "0"  # COLMAP 4, with rigs.bin and frames.bin
    return samples + ([fern] if fern.is_dir() else [])


def _opensfm_folders(tmp_path: Path) -> list[Path]:
    # The top-level files of a real OpenSfM 0.5.2 output: what the reader opens, without the
    # undistorted/ and colmap_export/ byproducts (the damage checks copy and damage each file).
    source = dataset("opensfm-outputs/berlin")
    folder = tmp_path / "berlin"
    folder.mkdir(parents=True)
    for name in ("reconstruction.json", "tracks.csv", "reference_lla.json", "camera_models.json"):
        shutil.copy2(source / name, folder / name)
    return [folder]


def _photo_sets(tmp_path: Path, request: pytest.FixtureRequest) -> list[Path]:
    photos = request.getfixturevalue("demo_photos")
    folder = tmp_path / "photos"
    shutil.copytree(photos, folder)
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for photo in sorted(folder.iterdir()):
            zf.write(photo, photo.name)
    return [folder, archive]


SAMPLES: dict[str, Callable[[Path, pytest.FixtureRequest], list[Path]]] = {
    "colmap": lambda tmp, _: _colmap_models(tmp),
    "opensfm": lambda tmp, _: _opensfm_folders(tmp),
    "photos": _photo_sets,
    "sog": lambda tmp, _: _sog_samples(tmp),
}


def _sog_samples(tmp_path: Path) -> list[Path]:
    # SogFormat reads but does not write (the encoder lives in compress/): v2 bundled and folder,
    # and the legacy v1 fixture.
    from tests.io.sog.samples import sog_samples

    return sog_samples(tmp_path)


@pytest.mark.parametrize("format_cls", FORMATS, ids=_ids)
def test_format_reads_what_it_writes_or_samples_and_survives_damage(
        format_cls: type[Format], request: pytest.FixtureRequest, tmp_path: Path) -> None:
    reason = format_cls.unavailable_reason()
    if reason is not None:
        pytest.skip(f"format {format_cls.name} cannot be read here: {reason}")
    samples: list[Path] = []
    if format_cls.name in SAMPLES:
        samples = SAMPLES[format_cls.name](tmp_path / "samples", request)
    elif not (format_cls.can_write() and format_cls.holds == "splats"):
        pytest.fail(f"format {format_cls.name} does not write: add samples to SAMPLES in {Path(__file__).name}")
    check_format(format_cls, tmp_path / "checks", samples or None, formats=MANAGER.formats)


@pytest.mark.skipif(importlib.util.find_spec("pycolmap") is None, reason="pycolmap is not installed")
def test_the_sfm_output_of_one_backend_is_a_colmap_sample_too(demo_photos: Path, tmp_path: Path) -> None:
    # The SfM output layout's models are COLMAP models: the colmap format reads them as such.
    stage_cls = MANAGER.stages.get("sfm", "pycolmap")
    config = config_from_mapping(stage_cls.Config, RUN_OPTIONS["sfm/pycolmap"])
    result = check_stage_run(stage_cls, demo_photos, tmp_path / "sfm", config)
    check_format(MANAGER.formats.get("colmap"), tmp_path / "checks", result.files[0], formats=MANAGER.formats)
