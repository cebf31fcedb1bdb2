"""The Stage base class and StageResult: the defaults a plugin author inherits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from splatkit import ContractError, Stage, StageResult
from splatkit.plugins import PluginManager
from splatkit.stages import STAGE_KINDS, ProgressUpdate, config_to_dict, no_progress
from tests.plugins.conftest import make_stage


def test_availability_follows_unavailable_reason() -> None:
    assert make_stage(reason=None).is_available() is True
    assert make_stage(reason="needs a GPU").is_available() is False


def test_qualified_name_is_kind_slash_name() -> None:
    assert make_stage("train", "torch-cpu").qualified_name() == "train/torch-cpu"


def test_default_config_has_no_options_and_run_must_be_overridden(tmp_path: Path) -> None:
    class Bare(Stage):
        kind = "compress"
        name = "bare"

    assert config_to_dict(Bare.Config()) == {}
    with pytest.raises(NotImplementedError):
        Bare().run(None, Bare.Config(), tmp_path)


def test_stage_kinds_are_the_three_pipeline_steps() -> None:
    assert list(STAGE_KINDS) == ["sfm", "train", "compress"]


def test_stage_result_requires_a_json_able_report() -> None:
    with pytest.raises(ContractError, match="StageResult.report must be JSON-able") as excinfo:
        StageResult(output=None, report={"when": object()})
    assert excinfo.value.field == "StageResult.report"


def test_stage_result_files_become_paths_in_order(tmp_path: Path) -> None:
    result = StageResult(output=1, report={"n": 1}, files=[str(tmp_path / "a.ply"), tmp_path / "b.json"])
    assert result.files == (tmp_path / "a.ply", tmp_path / "b.json")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.output = 2  # type: ignore[misc]


def test_progress_updates_are_frozen_and_default_to_unknown_total() -> None:
    update = ProgressUpdate(stage="train/cpu", step=10, metrics={"loss": 0.1})
    assert update.total is None and update.message == ""
    assert no_progress(update) is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.step = 11  # type: ignore[misc]


def test_every_registered_stage_honours_the_protocol() -> None:
    # Built-ins (and any installed plugin) get these checks for free: parametrizing over the
    # registry would import plugins at collection time, so loop here instead.
    stages = list(PluginManager(load_entrypoints=False).stages)
    assert stages
    for stage in stages:
        assert stage.kind in STAGE_KINDS, stage
        assert stage.run is not Stage.run, f"{stage.qualified_name()} does not implement run()"
        config = stage.Config()  # every option needs a default
        as_dict = config_to_dict(config)
        assert all(v is None or isinstance(v, (str, int, float, bool)) for v in as_dict.values()), (
            f"{stage.qualified_name()}: Config must be flat scalars, got {as_dict}")
        reason = stage.unavailable_reason()
        assert reason is None or (isinstance(reason, str) and reason), stage
        assert stage.is_available() is (reason is None)
        assert stage.description, f"{stage.qualified_name()} needs a one-line description for `splatkit plugins`"
