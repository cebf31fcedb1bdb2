"""Job builders: one CreateProcessingJob / CreateTrainingJob request per stage, as a plain dict.

A builder returns a :class:`JobPlan`: the request, the files that must be in S3 before it is
sent (the job spec), and where the stage's output will be. Builders only compute; they call no
AWS API. Every request is checked against botocore's SageMaker model
(:func:`splatkit.sagemaker.api_model.validate_request`) before it is returned.

Request shapes (field by field in ``docs/sagemaker.md``):

* **sfm**, **compress** (Processing): one ``ProcessingInput`` per input with an explicit
  ``S3Input`` of ``S3DataType="S3Prefix"``, ``S3InputMode="File"``,
  ``S3DataDistributionType="FullyReplicated"`` and its own ``LocalPath`` under
  ``/opt/ml/processing/input/`` (a missing input mode is the bug the original system shipped);
  one output under ``/opt/ml/processing/output/``, uploaded at the end of the job;
  ``AppSpecification.ContainerEntrypoint = python3 -m splatkit.sagemaker.entry KIND``.
* **train** (Training): ``TrainingInputMode="File"`` and channels ``sfm`` and ``spec``;
  ``OutputDataConfig`` with ``CompressionType`` from the config; ``CheckpointConfig`` at
  ``/opt/ml/checkpoints`` (spot interruptions and retries resume from it);
  ``StoppingCondition`` with ``MaxWaitTimeInSeconds`` and ``EnableManagedSpotTraining`` for spot.
  The image's ENTRYPOINT receives the argument ``train`` from SageMaker.

Every job carries the environment :data:`~splatkit.sagemaker.container.ENV_STAGE` & co. and the
tags ``splatkit:run``, ``splatkit:stage``, ``splatkit:attempt`` and ``splatkit:request-sha256``
(a digest of the request without its tags, to recognise a job already submitted for the same
request), followed by the user's tags.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from splatkit.errors import InputError
from splatkit.sagemaker import container
from splatkit.sagemaker.api_model import validate_request
from splatkit.sagemaker.config import LauncherConfig
from splatkit.sagemaker.instances import STAGE_JOB_TYPES
from splatkit.sagemaker.layout import RunLayout
from splatkit.sagemaker.names import job_name
from splatkit.sagemaker.uris import S3Uri
from splatkit.stages import AUTO_BACKEND

__all__ = [
    "OPERATIONS",
    "SPEC_SCHEMA",
    "JobPlan",
    "build_compress_job",
    "build_job",
    "build_sfm_job",
    "build_train_job",
    "check_processing_paths",
    "job_spec",
    "request_digest",
]

#: The API operation that starts each job type.
OPERATIONS: dict[str, str] = {"processing": "CreateProcessingJob", "training": "CreateTrainingJob"}
SPEC_SCHEMA = 1
_SCALARS = (str, int, float, bool, type(None))
_ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class JobPlan:
    """One job, ready to submit.

    Attributes
    ----------
    kind : str
        Stage kind.
    operation : str
        ``"CreateProcessingJob"`` or ``"CreateTrainingJob"``.
    job_name : str
        The job's name (also in ``request``).
    request : dict
        Keyword arguments of ``boto3.client("sagemaker").create_*_job``.
    uploads : dict
        ``{s3 URI: bytes}`` to put before submitting (the job spec).
    output : S3Uri
        Where the stage's output lands: a processing job's output prefix, or a training job's
        ``S3OutputPath/JOB/output/`` (SageMaker's ``ModelArtifacts.S3ModelArtifacts`` names the
        exact object or folder once the job has finished).
    """

    kind: str
    operation: str
    job_name: str
    request: dict[str, Any]
    uploads: dict[str, bytes]
    output: S3Uri


@functools.cache
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("splatkit")
    except PackageNotFoundError:
        return "unknown"


def _check_stage(kind: str, stage: tuple[str, Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    try:
        backend, values = stage
    except (TypeError, ValueError):
        raise InputError(f"{kind} stage {stage!r} is not a (backend, config dict) pair") from None
    if not isinstance(backend, str) or not backend or backend == AUTO_BACKEND or len(backend) > 128:
        raise InputError(f"{kind} stage backend {backend!r} is not resolved: name the backend that runs in the job "
                         f"(the pipeline resolves {AUTO_BACKEND!r} before building jobs)")
    if not isinstance(values, Mapping):
        raise InputError(f"{kind} stage config {values!r} is not a mapping of option names to values")
    for key, value in values.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise InputError(f"{kind}/{backend} option name {key!r} is not an identifier")
        if not isinstance(value, _SCALARS) or (isinstance(value, float) and not math.isfinite(value)):
            raise InputError(f"{kind}/{backend} option {key} = {value!r} cannot travel in the job spec: "
                             "options are strings, booleans, finite numbers or none")
    return backend, dict(values)


def job_spec(kind: str, backend: str, config: Mapping[str, Any], *, run_id: str, attempt: int) -> bytes:
    """The job spec file: what the container entry runs, as canonical UTF-8 JSON.

    ``{"schema": 1, "kind", "backend", "config": {option: value}, "run_id", "attempt",
    "splatkit_version"}`` with sorted keys, so equal specs are equal bytes.
    """
    doc = {"schema": SPEC_SCHEMA, "kind": kind, "backend": backend, "config": dict(config), "run_id": run_id,
           "attempt": attempt, "splatkit_version": _package_version()}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def request_digest(request: Mapping[str, Any]) -> str:
    """SHA-256 of the request without ``Tags``, as canonical JSON (hex)."""
    body = {k: v for k, v in request.items() if k != "Tags"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def _environment(kind: str, backend: str, run_id: str, attempt: int, spec: bytes) -> dict[str, str]:
    return {container.ENV_STAGE: kind, container.ENV_BACKEND: backend, container.ENV_RUN_ID: run_id,
            container.ENV_ATTEMPT: str(attempt), container.ENV_SPEC_SHA256: hashlib.sha256(spec).hexdigest()}


def _processing_input(name: str, uri: S3Uri) -> dict[str, Any]:
    return {"InputName": name,
            "S3Input": {"S3Uri": uri.uri, "LocalPath": container.processing_input_path(name),
                        "S3DataType": "S3Prefix", "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated"}}


def _training_channel(name: str, uri: S3Uri) -> dict[str, Any]:
    return {"ChannelName": name, "InputMode": "File",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri.uri,
                                            "S3DataDistributionType": "FullyReplicated"}}}


def check_processing_paths(request: Mapping[str, Any]) -> None:
    """Raise InputError unless every processing input/output has its own name and LocalPath under /opt/ml/processing/.

    SageMaker refuses two inputs with one destination with an opaque ValidationException
    (aws/sagemaker-python-sdk#4939), and paths outside ``/opt/ml/processing/``.
    """
    inputs = request.get("ProcessingInputs", [])
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    paths = [i["S3Input"]["LocalPath"] for i in inputs] + [o["S3Output"]["LocalPath"] for o in outputs]
    names = [i["InputName"] for i in inputs] + [o["OutputName"] for o in outputs]
    root = container.PROCESSING_ROOT + "/"
    outside = [p for p in paths if not p.startswith(root) or ".." in p.split("/") or len(p) > 256]
    repeated = sorted({p for p in paths if paths.count(p) > 1} | {n for n in names if names.count(n) > 1})
    if outside or repeated:
        raise InputError(f"processing job {request.get('ProcessingJobName')!r}: local paths outside {root} "
                         f"{outside} or repeated names/paths {repeated}; give every input and output its own "
                         f"name and folder under {root}")


def _data_location(uri: S3Uri) -> S3Uri:
    # A single archive (photos.zip, model.tar.gz) is addressed as the object; anything else is a
    # folder and gets its trailing '/' (see S3Uri.as_prefix).
    return uri if uri.key.endswith(_ARCHIVE_SUFFIXES) else uri.as_prefix()


def _tags(config: LauncherConfig, run_id: str, kind: str, attempt: int, digest: str) -> list[dict[str, str]]:
    own = [("splatkit:run", run_id), ("splatkit:stage", kind), ("splatkit:attempt", str(attempt)),
           ("splatkit:request-sha256", digest)]
    return [{"Key": k, "Value": v} for k, v in own + list(config.tags)]


def _base(config: LauncherConfig, kind: str, stage: tuple[str, Mapping[str, Any]], run_id: str,
          attempt: int) -> tuple[RunLayout, str, str, bytes]:
    backend, values = _check_stage(kind, stage)
    layout = RunLayout(config.output_uri, run_id)
    name = job_name(run_id, kind, attempt, prefix=config.job_prefix)
    spec = job_spec(kind, backend, values, run_id=run_id, attempt=attempt)
    return layout, name, backend, spec


def _finish(config: LauncherConfig, kind: str, operation: str, name: str, request: dict[str, Any],
            run_id: str, attempt: int, spec_folder: S3Uri, spec: bytes, output: S3Uri) -> JobPlan:
    request["Tags"] = _tags(config, run_id, kind, attempt, request_digest(request))
    validate_request(operation, request)
    return JobPlan(kind=kind, operation=operation, job_name=name, request=request,
                   uploads={spec_folder.child(container.SPEC_FILE).uri: spec}, output=output)


def _processing_job(config: LauncherConfig, kind: str, stage: tuple[str, Mapping[str, Any]], *,
                    run_id: str, attempt: int, data: S3Uri) -> JobPlan:
    layout, name, backend, spec = _base(config, kind, stage, run_id, attempt)
    res = config.resources(kind)
    (data_input,) = container.STAGE_INPUTS[kind]
    output_name = container.STAGE_OUTPUTS[kind]
    output = layout.stage_output(kind, name)
    cluster: dict[str, Any] = {"InstanceCount": 1, "InstanceType": res.instance_type,
                               "VolumeSizeInGB": res.volume_size_gb}
    if res.volume_kms_key_id is not None:
        cluster["VolumeKmsKeyId"] = res.volume_kms_key_id
    output_config: dict[str, Any] = {"Outputs": [{
        "OutputName": output_name,
        "S3Output": {"S3Uri": output.uri, "LocalPath": container.processing_output_path(output_name),
                     "S3UploadMode": "EndOfJob"}}]}
    if config.output_kms_key_id is not None:
        output_config["KmsKeyId"] = config.output_kms_key_id
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "RoleArn": config.role_arn,
        "AppSpecification": {"ImageUri": config.image_uri,
                             "ContainerEntrypoint": [*container.ENTRY_COMMAND, kind]},
        "ProcessingInputs": [_processing_input(data_input, _data_location(data)),
                             _processing_input(container.SPEC_INPUT, layout.spec(name))],
        "ProcessingOutputConfig": output_config,
        "ProcessingResources": {"ClusterConfig": cluster},
        "StoppingCondition": {"MaxRuntimeInSeconds": res.max_runtime_s},
        "Environment": _environment(kind, backend, run_id, attempt, spec),
    }
    network: dict[str, Any] = {}
    if config.vpc is not None:
        network["VpcConfig"] = {"SecurityGroupIds": list(config.vpc.security_group_ids),
                                "Subnets": list(config.vpc.subnets)}
    if config.network_isolation:
        network["EnableNetworkIsolation"] = True
    if network:
        request["NetworkConfig"] = network
    check_processing_paths(request)
    return _finish(config, kind, OPERATIONS["processing"], name, request, run_id, attempt,
                   layout.spec(name), spec, output)


def build_sfm_job(config: LauncherConfig, stage: tuple[str, Mapping[str, Any]], *, run_id: str,
                  attempt: int = 1, photos: S3Uri | None = None) -> JobPlan:
    """The SfM processing job of ``run_id``.

    Parameters
    ----------
    config : LauncherConfig
    stage : (str, dict)
        The resolved backend name and its options (a flat dict of scalars).
    run_id : str
    attempt : int
        1, 2, ... (each attempt is a new job).
    photos : S3Uri, optional
        The photos: a folder prefix (default: the run's ``input/photos/``) or one ``.zip`` object.
    """
    data = photos if photos is not None else RunLayout(config.output_uri, run_id).photos
    return _processing_job(config, "sfm", stage, run_id=run_id, attempt=attempt, data=data)


def build_compress_job(config: LauncherConfig, stage: tuple[str, Mapping[str, Any]], *, run_id: str,
                       model: S3Uri, attempt: int = 1) -> JobPlan:
    """The compression processing job of ``run_id``, reading the training job's output.

    ``model`` is the training job's ``ModelArtifacts.S3ModelArtifacts`` (a folder with
    ``CompressionType=NONE``, or a ``model.tar.gz`` object with ``GZIP``).
    """
    return _processing_job(config, "compress", stage, run_id=run_id, attempt=attempt, data=model)


def build_train_job(config: LauncherConfig, stage: tuple[str, Mapping[str, Any]], *, run_id: str,
                    sfm_output: S3Uri, attempt: int = 1) -> JobPlan:
    """The training job of ``run_id``, reading the SfM job's output folder ``sfm_output``."""
    kind = "train"
    layout, name, backend, spec = _base(config, kind, stage, run_id, attempt)
    res = config.resources(kind)
    resource_config: dict[str, Any] = {"InstanceType": res.instance_type, "InstanceCount": 1,
                                       "VolumeSizeInGB": res.volume_size_gb}
    if res.volume_kms_key_id is not None:
        resource_config["VolumeKmsKeyId"] = res.volume_kms_key_id
    output_config: dict[str, Any] = {"S3OutputPath": layout.training_output.uri,
                                     "CompressionType": config.model_compression}
    if config.output_kms_key_id is not None:
        output_config["KmsKeyId"] = config.output_kms_key_id
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": res.max_runtime_s}
    max_wait = config.spot_max_wait_s
    if max_wait is not None:
        stopping["MaxWaitTimeInSeconds"] = max_wait
    (data_channel,) = container.STAGE_INPUTS[kind]
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": config.role_arn,
        "AlgorithmSpecification": {"TrainingImage": config.image_uri, "TrainingInputMode": "File"},
        "InputDataConfig": [_training_channel(data_channel, sfm_output.as_prefix()),
                            _training_channel(container.SPEC_INPUT, layout.spec(name))],
        "OutputDataConfig": output_config,
        "ResourceConfig": resource_config,
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": config.spot,
        "CheckpointConfig": {"S3Uri": layout.checkpoints.uri, "LocalPath": container.CHECKPOINT_DIR},
        "Environment": _environment(kind, backend, run_id, attempt, spec),
    }
    if config.vpc is not None:
        request["VpcConfig"] = {"SecurityGroupIds": list(config.vpc.security_group_ids),
                                "Subnets": list(config.vpc.subnets)}
    if config.network_isolation:
        request["EnableNetworkIsolation"] = True
    if config.max_retry_attempts is not None:
        request["RetryStrategy"] = {"MaximumRetryAttempts": config.max_retry_attempts}
    output = layout.training_output.child(name, "output").as_prefix()
    return _finish(config, kind, OPERATIONS["training"], name, request, run_id, attempt,
                   layout.spec(name), spec, output)


def build_job(kind: str, config: LauncherConfig, stage: tuple[str, Mapping[str, Any]], *, run_id: str,
              input: S3Uri | None = None, attempt: int = 1) -> JobPlan:
    """The job of stage ``kind``; ``input`` is the previous stage's output (photos for ``sfm``)."""
    if kind not in STAGE_JOB_TYPES:
        raise InputError(f"stage kind {kind!r} is unknown: use one of {', '.join(STAGE_JOB_TYPES)}")
    if kind == "sfm":
        return build_sfm_job(config, stage, run_id=run_id, attempt=attempt, photos=input)
    if input is None:
        raise InputError(f"the {kind} job needs the previous stage's output location")
    if kind == "train":
        return build_train_job(config, stage, run_id=run_id, sfm_output=input, attempt=attempt)
    return build_compress_job(config, stage, run_id=run_id, model=input, attempt=attempt)
