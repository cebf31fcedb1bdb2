"""Stage options out of range are ContractErrors before any stage code runs (``--set curve_every=0``)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from splatkit.errors import ContractError
from splatkit.stages import OptionRange, check_config_ranges, config_from_mapping, option_range, ranged


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Config:
    every: int = ranged(50, ge=1)
    fraction: float = ranged(0.1, gt=0, lt=1)
    optional: int | None = ranged(None, ge=0, le=3)
    free: float = 1.0

    def __post_init__(self) -> None:
        # the division a 0 would have reached; the range check runs first
        object.__setattr__(self, "_rate", 1 / self.every)


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"every": "0"}, "_Config.every", "option every must be >= 1, got 0"),
    ({"every": -5}, "_Config.every", "option every must be >= 1, got -5"),
    ({"fraction": "1"}, "_Config.fraction", "option fraction must be > 0 and < 1, got 1.0"),
    ({"fraction": 0.0}, "_Config.fraction", "must be > 0 and < 1"),
    ({"optional": "4"}, "_Config.optional", "option optional must be >= 0 and <= 3, got 4"),
])
def test_out_of_range_is_a_contract_error_naming_the_option(values: dict, field: str, message: str) -> None:
    with pytest.raises(ContractError) as info:
        config_from_mapping(_Config, values, where="train/cpu")
    assert info.value.field == field
    assert message in str(info.value) and str(info.value).startswith("train/cpu: ")


@pytest.mark.parametrize("value", ["nan", float("nan"), "NaN"])
def test_nan_is_refused_for_any_float_option(value: object) -> None:
    with pytest.raises(ContractError, match="expected float"):
        config_from_mapping(_Config, {"free": value})


def test_in_range_none_and_defaults_pass() -> None:
    config = config_from_mapping(_Config, {"every": "1", "fraction": "0.5", "optional": "none", "free": "inf"})
    assert (config.every, config.fraction, config.optional, math.isinf(config.free)) == (1, 0.5, None, True)
    check_config_ranges(config)
    check_config_ranges(_Config())


def test_range_metadata_is_readable_and_described() -> None:
    fields = {f.name: f for f in dataclasses.fields(_Config)}
    assert option_range(fields["every"]) == OptionRange(ge=1)
    assert option_range(fields["free"]) is None
    assert OptionRange(gt=0, le=1).describe() == "> 0 and <= 1"
    assert not OptionRange(ge=0).contains(True) and OptionRange(ge=0).contains(None)


def test_check_config_ranges_catches_a_directly_built_config() -> None:
    bad = dataclasses.replace(_Config(), fraction=2.0)
    with pytest.raises(ContractError, match="fraction"):
        check_config_ranges(bad)


@pytest.mark.parametrize(("module", "cls", "values"), [
    ("splatkit.compress.sog_backend", "SogConfig", {"quality_views": "-1"}),
    ("splatkit.compress.sog_backend", "SogConfig", {"webp_effort": "12"}),
    ("splatkit.compress.sog_backend", "SogConfig", {"palette_size": "0"}),
    ("splatkit.compress.spz_backend", "SpzConfig", {"fractional_bits": "24"}),
    ("splatkit.compress.spz_backend", "SpzConfig", {"sh1_bits": "0"}),
    ("splatkit.compress.ply_backend", "PlyConfig", {"sh_degree": "7"}),
])
def test_compress_options_declare_their_ranges(module: str, cls: str, values: dict) -> None:
    import importlib

    config_cls = getattr(importlib.import_module(module), cls)
    with pytest.raises(ContractError):
        config_from_mapping(config_cls, values, where="compress")


@pytest.mark.parametrize(("option", "value"), [("curve_every", "0"), ("checkpoint_every", "-1"),
                                               ("sh_degree", "4"), ("prune_opa", "1"), ("init_scale", "0"),
                                               ("ssim_lambda", "1.5"), ("lr_means", "-1e-4")])
def test_training_options_out_of_range_are_refused_by_the_cli(option: str, value: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's ``--set curve_every=0`` (a ZeroDivisionError deep in training) and its relatives."""
    from splatkit.cli import main

    status = main(["run", "--print-config", "--set", f"train.{option}={value}"])
    err = capsys.readouterr().err
    assert status != 0 and f"option {option} must be" in err and "Traceback" not in err


@pytest.mark.parametrize("assignment", ["sfm.jpeg_quality=0", "sfm.max_image_size=0", "sfm.gps_std_vertical_m=0",
                                        "sfm.num_threads=-2", "compress.palette_size=-1"])
def test_sfm_and_compress_options_out_of_range_are_refused_by_the_cli(
        assignment: str, capsys: pytest.CaptureFixture[str]) -> None:
    from splatkit.cli import main

    option = assignment.split(".", 1)[1].split("=")[0]
    status = main(["run", "--print-config", "--set", assignment])
    err = capsys.readouterr().err
    assert status != 0 and f"option {option} must be" in err and "Traceback" not in err
