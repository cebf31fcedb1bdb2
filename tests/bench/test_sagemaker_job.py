"""The bench's CreateTrainingJob request: shape, checks, and moto (botocore's model) accepting it."""

from __future__ import annotations

import pytest

from splatkit.bench.sagemaker_job import BENCH_ENTRYPOINT, bench_training_job_request
from splatkit.errors import InputError

ROLE = "arn:aws:iam::123456789012:role/SplatkitSageMaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/splatkit:0.1.0"


def _request(**kw: object) -> dict:
    args = dict(job_name="splatkit-bench-cal30-7k-g5", role_arn=ROLE, image_uri=IMAGE, scene="caliterra-30",
                preset="7k", output_s3="s3://bkt/bench", datasets_s3="s3://bkt/datasets")
    args.update(kw)
    return bench_training_job_request(**args)  # type: ignore[arg-type]


def test_request_runs_the_bench_with_the_datasets_channel() -> None:
    r = _request(extra_args=("--set", "train.max_image_size=1600"), instance_type="ml.g4dn.xlarge")
    assert r["AlgorithmSpecification"]["ContainerEntrypoint"] == [
        *BENCH_ENTRYPOINT, "caliterra-30", "--preset", "7k", "--set", "train.max_image_size=1600"]
    (channel,) = r["InputDataConfig"]
    assert channel["ChannelName"] == "datasets"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "s3://bkt/datasets/"
    assert r["OutputDataConfig"] == {"S3OutputPath": "s3://bkt/bench/", "CompressionType": "NONE"}
    assert r["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge" and "EnableManagedSpotTraining" not in r


def test_spot_and_synthetic() -> None:
    r = _request(scene="synthetic", preset="cpu-smoke", datasets_s3=None, spot=True, max_runtime_s=600)
    assert "InputDataConfig" not in r and r["EnableManagedSpotTraining"] is True
    assert r["StoppingCondition"] == {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1200}


@pytest.mark.parametrize(("kw", "match"), [
    ({"scene": "mip360"}, "unknown scene"), ({"preset": "1k"}, "unknown preset"),
    ({"datasets_s3": None}, "pass datasets_s3"), ({"output_s3": "/tmp/x"}, "output_s3 must be an s3://"),
    ({"max_runtime_s": 0}, "max_runtime_s"),
])
def test_bad_requests(kw: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        _request(**kw)


def test_moto_accepts_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(k, v)
    with moto.mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        sm.create_training_job(**_request(spot=True))
        d = sm.describe_training_job(TrainingJobName="splatkit-bench-cal30-7k-g5")
    assert d["AlgorithmSpecification"]["ContainerEntrypoint"][:4] == list(BENCH_ENTRYPOINT)
    assert d["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge" and d["EnableManagedSpotTraining"] is True
