"""validate_request: botocore's own validator plus the model's enums, limits and patterns it leaves out."""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest

from splatkit.errors import BackendUnavailableError, InputError

botocore = pytest.importorskip("botocore")

from botocore.validate import validate_parameters  # noqa: E402

from splatkit.sagemaker import api_model  # noqa: E402
from splatkit.sagemaker.api_model import enum_values, operation_input_shape, validate_request  # noqa: E402

GOOD: dict[str, Any] = {
    "ProcessingJobName": "splatkit-r1-sfm-a1",
    "RoleArn": "arn:aws:iam::123456789012:role/R",
    "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/splatkit:1"},
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.c6i.2xlarge",
                                              "VolumeSizeInGB": 30}},
    "ProcessingInputs": [{"InputName": "photos", "S3Input": {
        "S3Uri": "s3://b-1/r1/photos/", "LocalPath": "/opt/ml/processing/input/photos", "S3DataType": "S3Prefix",
        "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}],
    "Environment": {"SPLATKIT_STAGE": "sfm"},
    "Tags": [{"Key": "splatkit:run", "Value": "r1"}],
}


def _set(request: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(request)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def test_the_good_request_passes() -> None:
    validate_request("CreateProcessingJob", GOOD)


# Each of these passes botocore's validate_parameters (and moto) but would be refused by SageMaker.
MODEL_ONLY = [
    ("underscore name", ("ProcessingJobName",), "bad_name", "does not match SageMaker's pattern"),
    ("64-char name", ("ProcessingJobName",), "a" * 64, "at most 63"),
    ("leading hyphen", ("ProcessingJobName",), "-job", "pattern"),
    ("unknown instance type", ("ProcessingResources", "ClusterConfig", "InstanceType"), "ml.nope.xlarge",
     "not one of SageMaker's ProcessingInstanceType values"),
    ("FastFile for processing", ("ProcessingInputs", 0, "S3Input", "S3InputMode"), "FastFile",
     "ProcessingS3InputMode"),
    ("gs uri", ("ProcessingInputs", 0, "S3Input", "S3Uri"), "gs://b/x", "pattern"),
    ("role pattern", ("RoleArn",), "arn:aws:iam::123:role/R-0123456789", "pattern"),
    ("env key", ("Environment",), {"1BAD": "x"}, "pattern"),
    ("env value length", ("Environment",), {"K": "v" * 257}, "at most 256"),
    ("too many instances", ("ProcessingResources", "ClusterConfig", "InstanceCount"), 101, "range [1, 100]"),
    ("volume too big", ("ProcessingResources", "ClusterConfig", "VolumeSizeInGB"), 16385, "range [1, 16384]"),
    ("local path length", ("ProcessingInputs", 0, "S3Input", "LocalPath"), "/opt/ml/processing/" + "x" * 250,
     "at most 256"),
]


@pytest.mark.parametrize(("path", "value", "fragment"), [m[1:] for m in MODEL_ONLY], ids=[m[0] for m in MODEL_ONLY])
def test_what_botocore_lets_through_is_caught(path: tuple[Any, ...], value: Any, fragment: str) -> None:
    bad = _set(GOOD, path, value)
    validate_parameters(bad, operation_input_shape("CreateProcessingJob"))  # botocore alone: no complaint
    with pytest.raises(InputError, match="breaks SageMaker's API model") as info:
        validate_request("CreateProcessingJob", bad)
    assert fragment in str(info.value)


def test_all_problems_are_listed_at_once() -> None:
    bad = _set(_set(GOOD, ("ProcessingJobName",), "bad_name"), ("Environment",), {"1BAD": "x"})
    with pytest.raises(InputError) as info:
        validate_request("CreateProcessingJob", bad)
    assert "ProcessingJobName" in str(info.value) and "Environment key '1BAD'" in str(info.value)


def test_botocores_own_refusals_become_input_errors() -> None:
    missing = copy.deepcopy(GOOD)
    del missing["ProcessingInputs"][0]["S3Input"]["S3DataType"]
    with pytest.raises(InputError, match="refused by botocore's model.*S3DataType"):
        validate_request("CreateProcessingJob", missing)
    with pytest.raises(InputError, match="Unknown parameter"):
        validate_request("CreateProcessingJob", {**GOOD, "Spot": True})


def test_enums_come_from_the_model() -> None:
    assert {"ml.g5.xlarge", "ml.g4dn.xlarge", "ml.c6i.2xlarge"} <= enum_values("TrainingInstanceType")
    assert enum_values("ProcessingS3InputMode") == {"File", "Pipe"}
    with pytest.raises(ValueError, match="no enum shape"):
        enum_values("RoleArn")


def test_without_botocore_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    api_model.service_model.cache_clear()
    monkeypatch.setitem(sys.modules, "botocore.session", None)
    try:
        with pytest.raises(BackendUnavailableError, match=r"splatkit\[aws\]"):
            api_model.service_model()
    finally:
        api_model.service_model.cache_clear()
