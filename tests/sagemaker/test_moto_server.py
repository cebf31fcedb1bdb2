"""The emitted requests against moto's HTTP server on loopback: S3 round trips, jobs created and described.

moto accepts what botocore serialises and echoes most fields back on Describe*, which checks the
requests survive the wire. What moto does *not* do, so these tests cannot show: run containers,
refuse invalid names or enum values (that is test_api_model's job), return ``ProcessingResources``
or ``Environment`` from DescribeProcessingJob, or ``Environment``/``RetryStrategy`` from
DescribeTrainingJob (moto 5.2.5); those fields are compared with the request where moto has them.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from splatkit.errors import InputError
from splatkit.sagemaker import container
from splatkit.sagemaker.config import LauncherConfig, StageResources, VpcSettings
from splatkit.sagemaker.jobs import JobPlan, build_compress_job, build_sfm_job, build_train_job
from splatkit.sagemaker.layout import RunLayout
from splatkit.sagemaker.uris import parse_s3_uri
from tests.sagemaker.conftest import config_kwargs

pytest.importorskip("moto")
pytest.importorskip("boto3")

_buckets = itertools.count()
SFM = ("pycolmap", {"max_image_size": 1600})
TRAIN = ("cpu", {"steps": 30})
COMPRESS = ("sog", {"iterations": 2})


@pytest.fixture
def bucket(aws_clients: dict[str, Any]) -> str:
    """A new, empty bucket on the moto server."""
    name = f"splatkit-moto-{next(_buckets)}"
    aws_clients["s3"].create_bucket(Bucket=name)
    return name


def submit(clients: dict[str, Any], plan: JobPlan) -> dict[str, Any]:
    """What a runner does: put the plan's files, create the job, describe it."""
    s3, sagemaker = clients["s3"], clients["sagemaker"]
    for uri, body in plan.uploads.items():
        location = parse_s3_uri(uri)
        s3.put_object(Bucket=location.bucket, Key=location.key, Body=body)
    if plan.operation == "CreateProcessingJob":
        sagemaker.create_processing_job(**plan.request)
        return sagemaker.describe_processing_job(ProcessingJobName=plan.job_name)
    sagemaker.create_training_job(**plan.request)
    return sagemaker.describe_training_job(TrainingJobName=plan.job_name)


def job_names(clients: dict[str, Any], run_id: str) -> list[str]:
    sagemaker = clients["sagemaker"]
    processing = sagemaker.list_processing_jobs(NameContains=run_id)["ProcessingJobSummaries"]
    training = sagemaker.list_training_jobs(NameContains=run_id)["TrainingJobSummaries"]
    return sorted([j["ProcessingJobName"] for j in processing] + [j["TrainingJobName"] for j in training])


def test_s3_round_trip(aws_clients: dict[str, Any], bucket: str) -> None:
    s3 = aws_clients["s3"]
    layout = RunLayout(parse_s3_uri(f"https://{bucket}.s3.us-east-1.amazonaws.com/runs"), "r1")
    photos = layout.photos
    for i in range(3):
        s3.put_object(Bucket=photos.bucket, Key=photos.child(f"IMG_{i:04d}.JPG").key, Body=bytes([i]) * 100)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=photos.key)["Contents"]
    assert [o["Key"] for o in listed] == [f"runs/r1/input/photos/IMG_{i:04d}.JPG" for i in range(3)]
    assert s3.get_object(Bucket=bucket, Key=listed[1]["Key"])["Body"].read() == b"\x01" * 100
    # A prefix without its '/' would also match a sibling folder: the reason for as_prefix().
    s3.put_object(Bucket=bucket, Key="runs/r1/input/photos-old/x.jpg", Body=b"x")
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix=photos.key)["Contents"]) == 3
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix=photos.key.rstrip("/"))["Contents"]) == 4


def test_a_chained_run_is_accepted_and_described_back(aws_clients: dict[str, Any], bucket: str) -> None:
    vpc = VpcSettings(subnets=("subnet-12345678",), security_group_ids=("sg-12345678",))
    config = LauncherConfig(**config_kwargs(
        output=f"s3://{bucket}/runs", spot=True, max_wait_s=8 * 3600, vpc=vpc, output_kms_key_id="alias/splatkit",
        train=StageResources(instance_type="ml.g4dn.xlarge", max_runtime_s=4 * 3600),
        sfm=StageResources(instance_type="ml.c6i.2xlarge", volume_kms_key_id="alias/splatkit-volume"),
        tags={"team": "geo"}))
    run_id = "moto-chain"
    sfm = build_sfm_job(config, SFM, run_id=run_id)
    described = submit(aws_clients, sfm)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ProcessingInputs"] == sfm.request["ProcessingInputs"]
    photos = described["ProcessingInputs"][0]["S3Input"]
    assert (photos["S3InputMode"], photos["LocalPath"]) == ("File", "/opt/ml/processing/input/photos")
    assert described["ProcessingOutputConfig"] == sfm.request["ProcessingOutputConfig"]
    assert described["AppSpecification"] == sfm.request["AppSpecification"]
    assert described["NetworkConfig"] == sfm.request["NetworkConfig"]
    assert described["StoppingCondition"] == sfm.request["StoppingCondition"]
    assert described["RoleArn"] == config.role_arn

    train = build_train_job(config, TRAIN, run_id=run_id, sfm_output=sfm.output)
    described = submit(aws_clients, train)
    assert described["TrainingJobStatus"] == "Completed"
    assert described["ResourceConfig"] == train.request["ResourceConfig"]
    assert described["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert "VolumeKmsKeyId" not in described["ResourceConfig"]
    assert described["EnableManagedSpotTraining"] is True
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 4 * 3600, "MaxWaitTimeInSeconds": 8 * 3600}
    assert described["CheckpointConfig"] == train.request["CheckpointConfig"]
    assert described["InputDataConfig"] == train.request["InputDataConfig"]
    assert described["OutputDataConfig"] == train.request["OutputDataConfig"]
    assert described["VpcConfig"] == train.request["VpcConfig"]
    assert described["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    tags = aws_clients["sagemaker"].list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
    assert tags == train.request["Tags"]

    # moto reports the GZIP location whatever CompressionType says; the runner reads it from here.
    artifacts = parse_s3_uri(described["ModelArtifacts"]["S3ModelArtifacts"])
    assert artifacts.uri.startswith(train.output.uri)
    compress = build_compress_job(config, COMPRESS, run_id=run_id, model=artifacts)
    described = submit(aws_clients, compress)
    assert described["ProcessingInputs"][0]["S3Input"]["S3Uri"] == artifacts.uri
    assert described["ProcessingInputs"] == compress.request["ProcessingInputs"]

    assert job_names(aws_clients, run_id) == sorted(p.job_name for p in (sfm, train, compress))
    for plan in (sfm, train, compress):
        (uri, body), = plan.uploads.items()
        location = parse_s3_uri(uri)
        stored = aws_clients["s3"].get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        assert stored == body
        assert json.loads(stored)["kind"] == plan.kind
        assert uri.endswith("/" + container.SPEC_FILE)


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"output": "s3://bad_bucket/runs"}, "invalid bucket name"),
    ({"output": "https://splatkit-x.s3.amazonaws.com.evil.com/runs"}, "not an Amazon S3 endpoint"),
    ({"role_arn": "arn:aws:iam::123456789012:user/bob"}, "not a role ARN"),
    ({"train": StageResources(instance_type="ml.g5.huge")}, "not a SageMaker training instance type"),
    ({"train": StageResources(instance_type="ml.g5.xlarge", volume_kms_key_id="alias/k")}, "local NVMe"),
], ids=["bad bucket", "look-alike host", "user ARN", "unknown instance type", "KMS volume key on g5"])
def test_bad_input_submits_nothing(aws_clients: dict[str, Any], overrides: dict[str, Any], fragment: str) -> None:
    run_id = "refused-run"

    def attempt() -> None:
        config = LauncherConfig(**config_kwargs(**overrides))
        for plan in (build_sfm_job(config, SFM, run_id=run_id),):
            submit(aws_clients, plan)

    with pytest.raises(InputError, match=fragment):
        attempt()
    assert job_names(aws_clients, run_id) == []
