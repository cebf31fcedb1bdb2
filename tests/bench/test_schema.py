"""The record schema and its validator."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from splatkit.bench.schema import RECORD_SCHEMA, check_record, read_record, validate
from splatkit.errors import InputError


@pytest.fixture()
def record(cpu_record_path: Path) -> dict:
    return json.loads(cpu_record_path.read_text(encoding="utf-8"))


def test_recorded_cpu_smoke_record_is_valid(record: dict) -> None:
    assert validate(record) == []


def test_schema_is_plain_json() -> None:
    # Readers with the jsonschema package can use the same dict.
    assert json.loads(json.dumps(RECORD_SCHEMA)) == RECORD_SCHEMA


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("format",), "other", "$.format: expected one of"),
    (("stages", "train", "seconds"), -1.0, "$.stages.train.seconds: expected >= 0"),
    (("training", "steps"), True, "$.training.steps: expected integer"),
    (("training", "psnr"), math.inf, "$.training.psnr: expected a finite number"),
    (("memory", "peak_gpu_bytes"), "1 GB", "$.memory.peak_gpu_bytes: expected integer or null"),
    (("environment", "compute_capability"), 8.6, "$.environment.compute_capability: expected string or null"),
    (("training", "curve"), [{"seconds": 1.0}], "$.training.curve[0]: missing 'step'"),
])
def test_each_kind_of_problem_is_named_with_its_path(record: dict, path: tuple, value: object, expected: str) -> None:
    broken = copy.deepcopy(record)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = validate(broken)
    assert any(p.startswith(expected) for p in problems), problems


def test_missing_stage_and_section(record: dict) -> None:
    del record["stages"]["compress"]
    del record["memory"]
    problems = validate(record)
    assert "$.stages: missing 'compress'" in problems
    assert "$: missing 'memory'" in problems


def test_check_record_raises_one_input_error(record: dict) -> None:
    record["version"] = "1"
    with pytest.raises(InputError, match=r"x.json: not a valid splatkit-bench record.*\$\.version"):
        check_record(record, source="x.json")


def test_read_record_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match="bad.json: cannot read"):
        read_record(bad)
