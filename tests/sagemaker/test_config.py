"""LauncherConfig: good settings are normalised, each bad one is a single-line InputError naming it and the fix."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from splatkit.errors import InputError
from splatkit.sagemaker.config import (
    MAX_USER_TAGS,
    LauncherConfig,
    StageResources,
    VpcSettings,
    check_kms_key_id,
)
from tests.sagemaker.conftest import config_kwargs

pytest.importorskip("botocore")

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC = VpcSettings(subnets=("subnet-0123456789abcdef0",), security_group_ids=("sg-12345678",))


def test_defaults(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config()
    assert (config.sfm.instance_type, config.train.instance_type, config.compress.instance_type) == (
        "ml.c6i.2xlarge", "ml.g5.xlarge", "ml.c6i.4xlarge")
    assert config.output == "s3://splatkit-test-bucket/runs/"
    assert config.output_uri.bucket == "splatkit-test-bucket"
    assert config.spot is False and config.spot_max_wait_s is None
    assert config.resources("train") is config.train
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.spot = True  # type: ignore[misc]


def test_https_output_is_normalised(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config(output="https://splatkit-test-bucket.s3.eu-west-1.amazonaws.com/a%20b/runs")
    assert config.output == "s3://splatkit-test-bucket/a b/runs/"


def test_spot_wait_defaults_to_twice_the_run_time(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config(spot=True, train=StageResources(instance_type="ml.g5.xlarge", max_runtime_s=3600))
    assert config.spot_max_wait_s == 7200
    assert make_config(spot=True, max_wait_s=3600 * 24).spot_max_wait_s == 3600 * 24


def test_tags_mapping_becomes_pairs(make_config: Callable[..., LauncherConfig]) -> None:
    assert make_config(tags={"team": "geo", "cost centre": "42"}).tags == (("team", "geo"), ("cost centre", "42"))
    assert make_config(tags=[("project", "Zürich drone")]).tags == (("project", "Zürich drone"),)


def test_volume_key_is_accepted_on_ebs_only_types(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config(sfm=StageResources(instance_type="ml.c6i.2xlarge", volume_kms_key_id="alias/splatkit"),
                         train=StageResources(instance_type="ml.p3.2xlarge", volume_kms_key_id=KEY_ARN))
    assert config.train.volume_kms_key_id == KEY_ARN


@pytest.mark.parametrize("key", ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/splatkit", KEY_ARN,
                                 "arn:aws:kms:us-east-1:123456789012:alias/splatkit",
                                 "mrk-1234abcd12ab34cd56ef1234567890ab"])
def test_kms_key_forms(key: str) -> None:
    assert check_kms_key_id(key, where="k") == key


BAD: list[tuple[str, dict[str, Any], str]] = [
    # (id, overrides, expected fragment)
    ("role name only", {"role_arn": "SplatkitSageMaker"}, "role_arn = 'SplatkitSageMaker' is not an ARN"),
    ("user arn", {"role_arn": "arn:aws:iam::123456789012:user/bob"}, "IAM user ARN, not a role ARN"),
    ("short account", {"role_arn": "arn:aws:iam::1234:role/R"}, "account '1234'"),
    ("s3 arn", {"role_arn": "arn:aws:s3:::bucket"}, "not a valid IAM role ARN"),
    ("role with space", {"role_arn": "arn:aws:iam::123456789012:role/my role"}, "not a valid IAM role ARN"),
    ("http output", {"output": "http://splatkit-test-bucket.s3.amazonaws.com/runs"}, "uses http://"),
    ("look-alike output", {"output": "https://b-1.s3.amazonaws.com.evil.com/x"}, "not an Amazon S3 endpoint"),
    ("bad bucket", {"output": "s3://Bad_Bucket/runs"}, "invalid bucket name"),
    ("presigned output", {"output": "https://b-1.s3.amazonaws.com/x?X-Amz-Signature=1"}, "query string"),
    ("output not str", {"output": 3}, "output = 3 is not a string"),
    ("docker hub image", {"image_uri": "splatkit:latest"}, "not an Amazon ECR image URI"),
    ("upper-case repo", {"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/Splatkit:1"}, "ECR image URI"),
    ("bad digest", {"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/splatkit@sha256:xyz"}, "ECR image"),
    ("long image", {"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/" + "r/" * 110 + "x:1"},
     "at most 255"),
    ("training-only type for sfm", {"sfm": StageResources(instance_type="ml.p4d.24xlarge")},
     "sfm.instance_type = 'ml.p4d.24xlarge' is not a SageMaker processing instance type"),
    ("unknown train type", {"train": StageResources(instance_type="ml.g5.xlarg")}, "did you mean"),
    ("no ml. prefix", {"compress": StageResources(instance_type="c6i.4xlarge")}, "compress.instance_type"),
    ("volume 0", {"sfm": StageResources(instance_type="ml.c6i.2xlarge", volume_size_gb=0)}, "sfm.volume_size_gb"),
    ("volume huge", {"sfm": StageResources(instance_type="ml.c6i.2xlarge", volume_size_gb=16385)}, "out of range"),
    ("volume text", {"sfm": StageResources(instance_type="ml.c6i.2xlarge", volume_size_gb="50")},  # type: ignore[arg-type]
     "not a whole number"),
    ("volume bool", {"sfm": StageResources(instance_type="ml.c6i.2xlarge", volume_size_gb=True)}, "whole number"),
    ("runtime 0", {"train": StageResources(instance_type="ml.g5.xlarge", max_runtime_s=0)}, "train.max_runtime_s"),
    ("processing over 9 days", {"sfm": StageResources(instance_type="ml.c6i.2xlarge", max_runtime_s=777_601)},
     "from 1 to 777600"),
    ("training over 28 days", {"train": StageResources(instance_type="ml.g5.xlarge", max_runtime_s=2_419_201)},
     "from 1 to 2419200"),
    ("kms volume on g5", {"train": StageResources(instance_type="ml.g5.xlarge", volume_kms_key_id="alias/k")},
     "ml.g5.xlarge has local NVMe storage"),
    ("kms volume on g4dn", {"train": StageResources(instance_type="ml.g4dn.xlarge", volume_kms_key_id=KEY_ARN)},
     "train.volume_kms_key_id"),
    ("kms volume on g5 processing", {"compress": StageResources(instance_type="ml.g5.xlarge", volume_kms_key_id="alias/k")},
     "remove compress.volume_kms_key_id"),
    ("bad volume key", {"sfm": StageResources(instance_type="ml.c6i.2xlarge", volume_kms_key_id="my key")},
     "is not a KMS key"),
    ("bad output key", {"output_kms_key_id": "arn:aws:kms:us-east-1:1:key/x"}, "output_kms_key_id"),
    ("max wait without spot", {"max_wait_s": 7200}, "set without spot"),
    ("max wait too short", {"spot": True, "max_wait_s": 60}, "shorter than train.max_runtime_s"),
    ("max wait text", {"spot": True, "max_wait_s": "7200"}, "max_wait_s = '7200' is not a whole number"),
    ("spot text", {"spot": "yes"}, "spot = 'yes' is not true or false"),
    ("vpc dict", {"vpc": {"subnets": ["subnet-12345678"]}}, "is not a VpcSettings"),
    ("aws tag", {"tags": {"aws:createdBy": "me"}}, "reserved prefix"),
    ("splatkit tag", {"tags": {"splatkit:run": "x"}}, "reserved prefix"),
    ("tag key punctuation", {"tags": {"team!": "geo"}}, "not a valid tag key"),
    ("tag value long", {"tags": {"team": "x" * 257}}, "not a valid tag value"),
    ("too many tags", {"tags": {f"t{i}": "v" for i in range(MAX_USER_TAGS + 1)}}, "too many"),
    ("repeated tag", {"tags": [("team", "a"), ("team", "b")]}, "given twice"),
    ("tag not a pair", {"tags": ["team"]}, "not a (key, value) pair"),
    ("prefix", {"job_prefix": "Splat_kit"}, "job name prefix"),
    ("retries 0", {"max_retry_attempts": 0}, "max_retry_attempts"),
    ("retries 31", {"max_retry_attempts": 31}, "from 1 to 30"),
    ("compression", {"model_compression": "ZIP"}, "model_compression = 'ZIP'"),
    ("stage not resources", {"train": "ml.g5.xlarge"}, "train = 'ml.g5.xlarge' is not a StageResources"),
]


@pytest.mark.parametrize(("overrides", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_bad_setting_is_one_clear_input_error(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InputError) as info:
        LauncherConfig(**config_kwargs(**overrides))
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert len(message) < 400, "one readable line"


VPC_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("bad subnet", {"subnets": ("subnet-1",)}, "vpc.subnets = 'subnet-1' is not a valid id"),
    ("bad group", {"security_group_ids": ("sg-xyz",)}, "vpc.security_group_ids = 'sg-xyz' is not a valid id"),
    ("no security groups", {"security_group_ids": ()}, "give 1 to 5"),
    ("too many subnets", {"subnets": tuple(f"subnet-{i:08x}" for i in range(17))}, "give 1 to 16"),
    ("subnet string", {"subnets": "subnet-12345678"}, "not a list of ids"),
    ("repeated group", {"security_group_ids": ("sg-12345678", "sg-12345678")}, "repeats an id"),
]


@pytest.mark.parametrize(("overrides", "fragment"), [b[1:] for b in VPC_BAD], ids=[b[0] for b in VPC_BAD])
def test_each_bad_vpc_setting_is_one_clear_input_error(overrides: dict[str, Any], fragment: str) -> None:
    values = {"subnets": ("subnet-12345678",), "security_group_ids": ("sg-12345678",), **overrides}
    with pytest.raises(InputError) as info:
        VpcSettings(**values)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_vpc_lists_become_tuples(make_config: Callable[..., LauncherConfig]) -> None:
    vpc = VpcSettings(subnets=["subnet-12345678"], security_group_ids=["sg-12345678"])  # type: ignore[arg-type]
    assert vpc.subnets == ("subnet-12345678",)
    assert make_config(vpc=vpc).vpc == vpc
    assert make_config(vpc=VPC).vpc is VPC
