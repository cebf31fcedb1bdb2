"""``splatkit.run`` is the pipeline, reached without making ``import splatkit`` heavy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import splatkit
from splatkit.pipeline import run

HEAVY = ("torch", "pycolmap", "gsplat", "boto3", "numba")


def test_splatkit_run_is_the_pipeline() -> None:
    assert splatkit.run is run
    assert "run" in splatkit.__all__


def test_reaching_splatkit_run_imports_no_heavy_package() -> None:
    code = ("import json, sys, splatkit\n"
            "splatkit.run\n"
            "import splatkit.pipeline.report, splatkit.pipeline.progress, splatkit.pipeline.events_log\n"
            f"print(json.dumps(sorted(set({HEAVY!r}) & set(sys.modules))))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == []


def test_unknown_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        splatkit.no_such_thing  # noqa: B018
