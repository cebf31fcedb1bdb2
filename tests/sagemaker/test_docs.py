"""docs/sagemaker.md stays true: the names it gives exist, its example runs."""

from __future__ import annotations

import importlib
import re

import pytest

import splatkit.sagemaker.api_model as api_model
import splatkit.sagemaker.jobs as jobs
import splatkit.sagemaker.names as names_module
import splatkit.sagemaker.uris as uris
from tests.conftest import PROJECT_ROOT

TEXT = (PROJECT_ROOT / "docs" / "sagemaker.md").read_text()


def test_docs_name_only_existing_objects() -> None:
    names = sorted(set(re.findall(r"`(splatkit\.sagemaker(?:\.\w+)*)`", TEXT)))
    assert "splatkit.sagemaker.jobs" in names
    for name in names:
        module, _, attr = name.rpartition(".")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), attr), name
    functions = set(re.findall(r"`(build_\w+|check_\w+|parse_s3_uri|job_name|validate_request)`", TEXT))
    available = set(jobs.__all__) | set(uris.__all__) | set(names_module.__all__) | set(api_model.__all__)
    assert functions and functions <= available, functions - available


def test_the_python_example_runs() -> None:
    pytest.importorskip("botocore")
    (code,) = re.findall(r"```python\n(.*?)\n```", TEXT, re.S)
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/sagemaker.md", "exec"), namespace)
    train = namespace["train"]
    assert train.request["EnableManagedSpotTraining"] is True  # type: ignore[attr-defined]
    assert train.request["StoppingCondition"] == {"MaxRuntimeInSeconds": 6 * 3600,  # type: ignore[attr-defined]
                                                  "MaxWaitTimeInSeconds": 12 * 3600}
