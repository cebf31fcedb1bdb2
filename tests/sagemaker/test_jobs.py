"""Job builders: every option combination gives requests botocore's real model accepts, with every seam checked.

The seams are the places the original system broke: a processing input without ``S3InputMode``,
two inputs sharing a LocalPath, an output read from the wrong folder, a volume KMS key on an
NVMe instance type, job names SageMaker refuses.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from splatkit.errors import InputError
from splatkit.sagemaker import container
from splatkit.sagemaker.config import LauncherConfig, StageResources, VpcSettings
from splatkit.sagemaker.instances import has_local_storage
from splatkit.sagemaker.jobs import (
    JobPlan,
    build_compress_job,
    build_job,
    build_sfm_job,
    build_train_job,
    check_processing_paths,
    request_digest,
)
from splatkit.sagemaker.names import JOB_NAME_PATTERN
from splatkit.sagemaker.uris import S3Uri, parse_s3_uri
from tests.sagemaker.conftest import config_kwargs

botocore = pytest.importorskip("botocore")

from botocore.validate import validate_parameters  # noqa: E402

SFM = ("pycolmap", {"max_image_size": 2000, "matcher": "exhaustive", "gpu": False, "min_track": 2.5})
TRAIN = ("gsplat", {"steps": 7000, "sh_degree": 3, "strategy": "default", "lr_means": 0.00016, "seed": None})
COMPRESS = ("sog", {"order": "morton", "iterations": 10, "sh_bands": None})
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC = VpcSettings(subnets=("subnet-0123456789abcdef0", "subnet-12345678"), security_group_ids=("sg-12345678",))


def chain(config: LauncherConfig, run_id: str = "flight-7", attempt: int = 1) -> list[JobPlan]:
    """The three plans of a run, each reading the previous one's output."""
    sfm = build_sfm_job(config, SFM, run_id=run_id, attempt=attempt)
    train = build_train_job(config, TRAIN, run_id=run_id, sfm_output=sfm.output, attempt=attempt)
    model = train.output.child("model") if config.model_compression == "NONE" else train.output.child("model.tar.gz")
    compress = build_compress_job(config, COMPRESS, run_id=run_id, model=model, attempt=attempt)
    return [sfm, train, compress]


def option_combinations() -> Iterator[dict[str, Any]]:
    """Every combination of the launcher's options (576 configs)."""
    train_types = [("ml.g5.xlarge", None), ("ml.g4dn.xlarge", None), ("ml.p3.2xlarge", KEY)]
    for spot, (train_type, train_key), kms, vpc, isolation, retries, compression, tags in itertools.product(
            (False, True), train_types, (None, "output", "output+volume"), (None, VPC), (False, True), (None, 3),
            ("NONE", "GZIP"), ((), (("team", "geo"), ("cost centre", "42")))):
        volume_key = KEY if kms == "output+volume" else None
        yield {"spot": spot,
               "sfm": StageResources(instance_type="ml.c6i.2xlarge", volume_kms_key_id=volume_key),
               "train": StageResources(instance_type=train_type, volume_size_gb=100, max_runtime_s=6 * 3600,
                                       volume_kms_key_id=train_key),
               "compress": StageResources(instance_type="ml.c6i.4xlarge", volume_kms_key_id=volume_key),
               "output_kms_key_id": "alias/splatkit-out" if kms else None, "vpc": vpc,
               "network_isolation": isolation, "max_retry_attempts": retries, "model_compression": compression,
               "tags": tags}


def check_seams(config: LauncherConfig, plan: JobPlan) -> None:
    """Everything a request must get right, whatever the options."""
    request = plan.request
    name = plan.job_name
    assert JOB_NAME_PATTERN.fullmatch(name) and len(name) <= 63
    for uri in _s3_uris(request):
        assert uri.startswith("s3://") and parse_s3_uri(uri).uri == uri, uri
    env = request["Environment"]
    assert env[container.ENV_STAGE] == plan.kind
    (spec_uri, spec), = plan.uploads.items()
    assert env[container.ENV_SPEC_SHA256] == hashlib.sha256(spec).hexdigest()
    doc = json.loads(spec)
    assert (doc["kind"], doc["run_id"], doc["schema"]) == (plan.kind, env[container.ENV_RUN_ID], 1)
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["splatkit:stage"] == plan.kind and tags["splatkit:run"] == env[container.ENV_RUN_ID]
    assert tags["splatkit:request-sha256"] == request_digest(request)
    assert set(config.tags) <= set(tags.items())
    if plan.operation == "CreateProcessingJob":
        _check_processing(config, plan, spec_uri)
    else:
        _check_training(config, plan, spec_uri)


def _s3_uris(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("S3Uri", "S3OutputPath") and isinstance(v, str):
                yield v
            else:
                yield from _s3_uris(v)
    elif isinstance(value, list):
        for v in value:
            yield from _s3_uris(v)


def _check_processing(config: LauncherConfig, plan: JobPlan, spec_uri: str) -> None:
    request = plan.request
    inputs = request["ProcessingInputs"]
    paths = [i["S3Input"]["LocalPath"] for i in inputs]
    assert len(set(paths)) == len(paths)
    for item in inputs:
        s3 = item["S3Input"]
        # The seed bug: S3InputMode (and the rest) always explicit.
        assert s3["S3InputMode"] == "File"
        assert s3["S3DataType"] == "S3Prefix"
        assert s3["S3DataDistributionType"] == "FullyReplicated"
        assert s3["LocalPath"] == f"/opt/ml/processing/input/{item['InputName']}"
    assert [i["InputName"] for i in inputs] == [*container.STAGE_INPUTS[plan.kind], container.SPEC_INPUT]
    spec_input = inputs[-1]["S3Input"]["S3Uri"]
    assert spec_uri == spec_input + container.SPEC_FILE
    (out,) = request["ProcessingOutputConfig"]["Outputs"]
    assert out["S3Output"]["LocalPath"] == f"/opt/ml/processing/output/{plan.kind}"
    assert out["S3Output"]["S3Uri"] == plan.output.uri and plan.output.uri.endswith(f"/{plan.kind}/{plan.job_name}/")
    assert out["S3Output"]["S3UploadMode"] == "EndOfJob"
    assert request["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "splatkit.sagemaker.entry",
                                                                 plan.kind]
    cluster = request["ProcessingResources"]["ClusterConfig"]
    res = config.resources(plan.kind)
    assert (cluster["InstanceType"], cluster["InstanceCount"], cluster["VolumeSizeInGB"]) == (
        res.instance_type, 1, res.volume_size_gb)
    assert ("VolumeKmsKeyId" in cluster) == (res.volume_kms_key_id is not None)
    if has_local_storage(res.instance_type):
        assert "VolumeKmsKeyId" not in cluster
    assert request["ProcessingOutputConfig"].get("KmsKeyId") == config.output_kms_key_id
    network = request.get("NetworkConfig", {})
    assert ("VpcConfig" in network) == (config.vpc is not None)
    assert network.get("EnableNetworkIsolation", False) == config.network_isolation
    # Processing jobs have no spot, retry or checkpoint fields at all.
    assert not {"EnableManagedSpotTraining", "RetryStrategy", "CheckpointConfig"} & set(request)
    assert len(request["Environment"]) <= 100 and all(len(v) <= 256 for v in request["Environment"].values())


def _check_training(config: LauncherConfig, plan: JobPlan, spec_uri: str) -> None:
    request = plan.request
    algorithm = request["AlgorithmSpecification"]
    assert algorithm == {"TrainingImage": config.image_uri, "TrainingInputMode": "File"}
    channels = {c["ChannelName"]: c for c in request["InputDataConfig"]}
    assert list(channels) == ["sfm", "spec"]
    for channel in channels.values():
        source = channel["DataSource"]["S3DataSource"]
        assert channel["InputMode"] == "File"
        assert (source["S3DataType"], source["S3DataDistributionType"]) == ("S3Prefix", "FullyReplicated")
        assert source["S3Uri"].endswith("/")
    assert spec_uri == channels["spec"]["DataSource"]["S3DataSource"]["S3Uri"] + container.SPEC_FILE
    output = request["OutputDataConfig"]
    assert output["CompressionType"] == config.model_compression
    assert output.get("KmsKeyId") == config.output_kms_key_id
    assert plan.output.uri == f"{output['S3OutputPath']}{plan.job_name}/output/"
    resources = request["ResourceConfig"]
    assert (resources["InstanceType"], resources["InstanceCount"]) == (config.train.instance_type, 1)
    if has_local_storage(config.train.instance_type):
        assert "VolumeKmsKeyId" not in resources
    assert resources.get("VolumeKmsKeyId") == config.train.volume_kms_key_id
    stopping = request["StoppingCondition"]
    assert stopping["MaxRuntimeInSeconds"] == config.train.max_runtime_s
    assert request["EnableManagedSpotTraining"] is config.spot
    if config.spot:
        assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]
    else:
        assert "MaxWaitTimeInSeconds" not in stopping
    assert request["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert request["CheckpointConfig"]["S3Uri"].endswith("/checkpoints/train/")
    assert ("VpcConfig" in request) == (config.vpc is not None)
    assert request.get("EnableNetworkIsolation", False) == config.network_isolation
    assert request.get("RetryStrategy") == (None if config.max_retry_attempts is None
                                            else {"MaximumRetryAttempts": config.max_retry_attempts})
    assert "ContainerEntrypoint" not in algorithm  # the image's ENTRYPOINT gets 'train' from SageMaker


def test_every_option_combination_is_accepted_by_botocores_model() -> None:
    from splatkit.sagemaker.api_model import operation_input_shape

    shapes = {op: operation_input_shape(op) for op in ("CreateProcessingJob", "CreateTrainingJob")}
    count = 0
    for options in option_combinations():
        config = LauncherConfig(**config_kwargs(**options))
        plans = chain(config)
        for plan in plans:
            validate_parameters(plan.request, shapes[plan.operation])  # raises on any problem
            check_seams(config, plan)
        sfm, train, compress = plans
        # Each stage reads exactly the previous job's output.
        assert train.request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == sfm.output.uri
        assert compress.request["ProcessingInputs"][0]["S3Input"]["S3Uri"].startswith(train.output.uri)
        count += 1
    assert count == 576


def test_the_default_requests_in_full(make_config: Callable[..., LauncherConfig]) -> None:
    sfm, train, compress = chain(make_config())
    assert sfm.request["ProcessingInputs"][0] == {"InputName": "photos", "S3Input": {
        "S3Uri": "s3://splatkit-test-bucket/runs/flight-7/input/photos/",
        "LocalPath": "/opt/ml/processing/input/photos", "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated"}}
    assert sfm.output.uri == "s3://splatkit-test-bucket/runs/flight-7/sfm/splatkit-flight-7-sfm-a1/"
    assert train.request["TrainingJobName"] == "splatkit-flight-7-train-a1"
    assert train.request["OutputDataConfig"] == {"S3OutputPath": "s3://splatkit-test-bucket/runs/flight-7/train/",
                                                 "CompressionType": "NONE"}
    assert train.request["ResourceConfig"] == {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1,
                                               "VolumeSizeInGB": 50}
    assert train.request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert train.request["EnableManagedSpotTraining"] is False
    assert train.request["CheckpointConfig"] == {"S3Uri": "s3://splatkit-test-bucket/runs/flight-7/checkpoints/train/",
                                                 "LocalPath": "/opt/ml/checkpoints"}
    assert compress.request["ProcessingResources"] == {"ClusterConfig": {
        "InstanceCount": 1, "InstanceType": "ml.c6i.4xlarge", "VolumeSizeInGB": 50}}
    assert compress.request["ProcessingInputs"][0]["S3Input"]["S3Uri"] == (
        "s3://splatkit-test-bucket/runs/flight-7/train/splatkit-flight-7-train-a1/output/model/")
    spec = json.loads(train.uploads["s3://splatkit-test-bucket/runs/flight-7/spec/splatkit-flight-7-train-a1/stage.json"])
    assert (spec["backend"], spec["config"]) == TRAIN


def test_builds_are_deterministic_and_attempts_are_new_jobs(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config(spot=True)
    first, again, second = chain(config), chain(config), chain(config, attempt=2)
    assert [p.request for p in first] == [p.request for p in again]
    assert [p.uploads for p in first] == [p.uploads for p in again]
    for one, two in zip(first, second):
        assert one.job_name != two.job_name and one.output != two.output
        assert request_digest(one.request) != request_digest(two.request)
    # Checkpoints are shared by the run's training attempts (resume), outputs are not.
    assert first[1].request["CheckpointConfig"] == second[1].request["CheckpointConfig"]


def test_a_different_stage_config_changes_the_digest(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config()
    one = build_sfm_job(config, SFM, run_id="r1")
    two = build_sfm_job(config, (SFM[0], {**SFM[1], "max_image_size": 1000}), run_id="r1")
    assert one.job_name == two.job_name
    assert one.request["Environment"] != two.request["Environment"]
    assert request_digest(one.request) != request_digest(two.request)


def test_zip_photos_and_gzip_models_are_addressed_as_objects(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config()
    photos = S3Uri("splatkit-test-bucket", "uploads/flight.zip")
    sfm = build_sfm_job(config, SFM, run_id="r1", photos=photos)
    assert sfm.request["ProcessingInputs"][0]["S3Input"]["S3Uri"] == "s3://splatkit-test-bucket/uploads/flight.zip"
    model = S3Uri("splatkit-test-bucket", "runs/r1/train/j/output/model.tar.gz")
    compress = build_compress_job(config, COMPRESS, run_id="r1", model=model)
    assert compress.request["ProcessingInputs"][0]["S3Input"]["S3Uri"] == model.uri
    folder = build_compress_job(config, COMPRESS, run_id="r1", model=S3Uri("splatkit-test-bucket", "m/model"))
    assert folder.request["ProcessingInputs"][0]["S3Input"]["S3Uri"] == "s3://splatkit-test-bucket/m/model/"


def test_build_job_dispatches_by_kind(make_config: Callable[..., LauncherConfig]) -> None:
    config = make_config()
    sfm = build_job("sfm", config, SFM, run_id="r1")
    assert sfm.request == build_sfm_job(config, SFM, run_id="r1").request
    train = build_job("train", config, TRAIN, run_id="r1", input=sfm.output)
    assert train.operation == "CreateTrainingJob"
    assert build_job("compress", config, COMPRESS, run_id="r1", input=train.output).operation == "CreateProcessingJob"
    with pytest.raises(InputError, match="previous stage's output"):
        build_job("train", config, TRAIN, run_id="r1")
    with pytest.raises(InputError, match="stage kind 'render'"):
        build_job("render", config, TRAIN, run_id="r1")


@pytest.mark.parametrize(("stage", "fragment"), [
    (("auto", {}), "is not resolved"),
    (("", {}), "is not resolved"),
    (("gsplat", {"steps": [1, 2]}), "cannot travel in the job spec"),
    (("gsplat", {"lr": float("nan")}), "cannot travel"),
    (("gsplat", {"lr": float("inf")}), "cannot travel"),
    (("gsplat", {"not an id": 1}), "not an identifier"),
    (("gsplat", ["steps"]), "not a mapping"),
    ("gsplat", "not a (backend, config dict) pair"),
])
def test_bad_stage_configs_are_refused(make_config: Callable[..., LauncherConfig], stage: Any, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        build_train_job(make_config(), stage, run_id="r1", sfm_output=S3Uri("splatkit-test-bucket", "x/"))


def test_bad_run_id_is_refused_before_anything_is_built(make_config: Callable[..., LauncherConfig]) -> None:
    with pytest.raises(InputError, match="run id 'a/b'"):
        build_sfm_job(make_config(), SFM, run_id="a/b")


def test_processing_path_check(make_config: Callable[..., LauncherConfig]) -> None:
    request = build_sfm_job(make_config(), SFM, run_id="r1").request
    check_processing_paths(request)
    same = copy.deepcopy(request)
    same["ProcessingInputs"][1]["S3Input"]["LocalPath"] = same["ProcessingInputs"][0]["S3Input"]["LocalPath"]
    with pytest.raises(InputError, match="repeated names/paths"):
        check_processing_paths(same)
    outside = copy.deepcopy(request)
    outside["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] = "/opt/ml/model"
    with pytest.raises(InputError, match="outside /opt/ml/processing/"):
        check_processing_paths(outside)
    climbing = copy.deepcopy(request)
    climbing["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/opt/ml/processing/../input"
    with pytest.raises(InputError, match="outside"):
        check_processing_paths(climbing)


def test_a_request_missing_its_input_mode_fails_the_seam_check(make_config: Callable[..., LauncherConfig]) -> None:
    # Guards check_seams itself: botocore accepts a processing input without S3InputMode, the
    # seam check must not.
    config = make_config()
    plan = build_sfm_job(config, SFM, run_id="r1")
    broken = copy.deepcopy(plan.request)
    del broken["ProcessingInputs"][0]["S3Input"]["S3InputMode"]
    from splatkit.sagemaker.api_model import operation_input_shape

    validate_parameters(broken, operation_input_shape("CreateProcessingJob"))
    with pytest.raises((AssertionError, KeyError)):
        check_seams(config, JobPlan(plan.kind, plan.operation, plan.job_name, broken, plan.uploads, plan.output))

