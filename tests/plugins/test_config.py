"""Stage options from TOML tables and CLI flags: ``config_from_mapping`` / ``config_to_dict``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit import ContractError
from splatkit.stages import config_from_mapping, config_to_dict
from tests.plugins.conftest import EchoConfig


@pytest.mark.parametrize(("values", "expected"), [
    ({"steps": "7"}, {"steps": 7}),
    ({"steps": 7.0}, {"steps": 7}),
    ({"scale": "0.25"}, {"scale": 0.25}),
    ({"scale": 2}, {"scale": 2.0}),
    ({"verbose": "yes"}, {"verbose": True}),
    ({"verbose": "Off"}, {"verbose": False}),
    ({"verbose": True}, {"verbose": True}),
    ({"label": "sog"}, {"label": "sog"}),
    ({"seed": "42"}, {"seed": 42}),  # ``int | None``: coerced by its annotation, not its None default
    ({"seed": None}, {"seed": None}),
    ({"seed": "none"}, {"seed": None}),  # one rule for TOML, --set and flags: "none" is None ...
    ({"seed": " NULL "}, {"seed": None}),
    ({"label": "none"}, {"label": "none"}),  # ... only where the default is None
])
def test_values_are_coerced_to_the_option_type(values: dict, expected: dict) -> None:
    config = config_from_mapping(EchoConfig, values)
    assert isinstance(config, EchoConfig)
    for key, value in expected.items():
        got = getattr(config, key)
        assert got == value and type(got) is type(value), (key, got)
    untouched = {k: v for k, v in config_to_dict(EchoConfig()).items() if k not in values}
    assert {k: getattr(config, k) for k in untouched} == untouched


@pytest.mark.parametrize(("values", "option"), [
    ({"steps": "3.5"}, "steps"),
    ({"steps": 3.5}, "steps"),
    ({"steps": True}, "steps"),  # int(True) == 1 would hide a misplaced flag
    ({"scale": "fast"}, "scale"),
    ({"scale": False}, "scale"),
    ({"verbose": "maybe"}, "verbose"),
    ({"verbose": 1}, "verbose"),
    ({"seed": "nothing"}, "seed"),
    ({"steps": "none"}, "steps"),  # steps defaults to 3, so "none" is not a value for it
])
def test_uncoercible_values_are_a_contract_error_naming_the_option(values: dict, option: str) -> None:
    with pytest.raises(ContractError, match=rf"^train/cpu: {option}: expected \w+, got") as excinfo:
        config_from_mapping(EchoConfig, values, where="train/cpu")
    assert excinfo.value.field == f"train/cpu: {option}"


def test_unknown_keys_are_rejected_listing_the_known_ones() -> None:
    with pytest.raises(ContractError) as excinfo:
        config_from_mapping(EchoConfig, {"step": 3, "colour": "red", "scale": 1.0}, where="[train] in run.toml")
    message = str(excinfo.value)
    assert message.startswith("[train] in run.toml: unknown option(s) ['colour', 'step'] for EchoConfig")
    assert "known: ['label', 'scale', 'seed', 'steps', 'verbose']" in message
    assert excinfo.value.actual == ["colour", "step"]


def test_a_missing_required_option_is_a_contract_error() -> None:
    @dataclass(frozen=True)
    class Required:
        bucket: str
        retries: int = 3

    with pytest.raises(ContractError, match="bucket"):
        config_from_mapping(Required, {"retries": "2"}, where="sagemaker")
    assert config_from_mapping(Required, {"bucket": "b", "retries": "2"}) == Required(bucket="b", retries=2)


def test_non_scalar_options_are_passed_through() -> None:
    @dataclass(frozen=True)
    class WithTuple:
        sizes: tuple[int, ...] = (1, 2)
        extra: dict = field(default_factory=dict)
        threshold: Optional[float] = None  # noqa: UP007 (the spelling older code uses)

    config = config_from_mapping(WithTuple, {"sizes": (4,), "extra": {"a": 1}, "threshold": "0.5"})
    assert config == WithTuple(sizes=(4,), extra={"a": 1}, threshold=0.5)


@given(steps=st.integers(-10**6, 10**6), scale=st.floats(allow_nan=False, allow_infinity=False),
       label=st.text(max_size=20), verbose=st.booleans(), seed=st.none() | st.integers(0, 2**31))
def test_to_dict_then_from_mapping_round_trips(steps: int, scale: float, label: str, verbose: bool,
                                               seed: int | None) -> None:
    config = EchoConfig(steps=steps, scale=scale, label=label, verbose=verbose, seed=seed)
    as_dict = config_to_dict(config)
    assert json.loads(json.dumps(as_dict)) == as_dict  # what a manifest stores
    assert config_from_mapping(EchoConfig, as_dict) == config


@given(steps=st.integers(-10**6, 10**6), verbose=st.booleans())
def test_cli_strings_round_trip(steps: int, verbose: bool) -> None:
    # argparse hands every flag over as a string.
    config = config_from_mapping(EchoConfig, {"steps": str(steps), "verbose": str(verbose)})
    assert (config.steps, config.verbose) == (steps, verbose)
