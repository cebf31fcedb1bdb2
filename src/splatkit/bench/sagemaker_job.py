"""The CreateTrainingJob request that runs ``splatkit bench`` on a SageMaker GPU instance.

The splatkit image's entry runs one stage per job (:mod:`splatkit.sagemaker.entry`); a bench job
instead names the bench command as the container entrypoint, so the whole pipeline (SfM,
training, compression) runs in the one training job on the GPU instance, and the record lands in
``/opt/ml/model/bench.json`` (:func:`splatkit.bench.cli.default_out_dir`). The datasets arrive as
the ``datasets`` channel (:data:`splatkit.bench.scenes.SAGEMAKER_DATASETS_CHANNEL`). boto3 is
not imported here: the caller sends the dict with its own client.
"""

from __future__ import annotations

from typing import Any

from splatkit.bench.scenes import SAGEMAKER_DATASETS_CHANNEL, SCENES
from splatkit.bench.suite import PRESETS
from splatkit.errors import InputError

__all__ = ["BENCH_ENTRYPOINT", "bench_training_job_request"]

#: The container command before the bench's own arguments (the image installs splatkit).
BENCH_ENTRYPOINT: tuple[str, ...] = ("python3", "-m", "splatkit", "bench")


def _s3_prefix(uri: str, what: str) -> str:
    if not isinstance(uri, str) or not uri.startswith("s3://") or len(uri) <= len("s3://"):
        raise InputError(f"bench job: {what} must be an s3://BUCKET/PREFIX URI, got {uri!r}")
    return uri if uri.endswith("/") else uri + "/"


def bench_training_job_request(*, job_name: str, role_arn: str, image_uri: str, scene: str, preset: str,
                               output_s3: str, datasets_s3: str | None = None,
                               instance_type: str = "ml.g5.xlarge", max_runtime_s: int = 4 * 3600,
                               volume_gb: int = 50, spot: bool = False,
                               extra_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Keyword arguments of ``sagemaker.create_training_job`` for one bench run.

    Parameters
    ----------
    job_name, role_arn, image_uri
        The job's name, its execution role, the splatkit image in ECR.
    scene, preset
        What ``splatkit bench`` runs (:data:`~splatkit.bench.scenes.SCENES`, :data:`~splatkit.bench.suite.PRESETS`).
    output_s3
        ``S3OutputPath``: the record is at ``OUTPUT/JOB/output/model/bench.json`` (uncompressed).
    datasets_s3
        Prefix holding the real scenes' folders (e.g. ``odm-caliterra-30/images/``); not needed
        for the synthetic scene.
    instance_type
        ``ml.g5.xlarge`` (A10G) or ``ml.g4dn.xlarge`` (T4), or any training type.
    spot
        Managed spot; ``MaxWaitTimeInSeconds`` is then twice the runtime. The bench does not
        checkpoint through ``/opt/ml/checkpoints``: an interrupted spot bench starts over.
    extra_args
        More ``splatkit bench`` arguments (``--set train.max_image_size=1600``).

    Raises
    ------
    InputError
        Unknown scene or preset, a real scene without ``datasets_s3``, a bad S3 URI or runtime.
    """
    if scene not in SCENES:
        raise InputError(f"bench job: unknown scene {scene!r}; choose one of {', '.join(SCENES)}")
    if preset not in PRESETS:
        raise InputError(f"bench job: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if not SCENES[scene].synthetic and datasets_s3 is None:
        raise InputError(f"bench job: scene {scene!r} reads {SCENES[scene].photos} from the datasets channel; "
                         "pass datasets_s3")
    if not 1 <= max_runtime_s <= 28 * 24 * 3600:
        raise InputError(f"bench job: max_runtime_s must be 1..{28 * 24 * 3600}, got {max_runtime_s}")
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": [*BENCH_ENTRYPOINT, scene, "--preset", preset,
                                                           *extra_args]},
        # Uncompressed: bench.json is readable in S3 without unpacking model.tar.gz.
        "OutputDataConfig": {"S3OutputPath": _s3_prefix(output_s3, "output_s3"), "CompressionType": "NONE"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
        "Tags": [{"Key": "splatkit:bench", "Value": f"{scene}/{preset}"}],
    }
    if datasets_s3 is not None:
        request["InputDataConfig"] = [{
            "ChannelName": SAGEMAKER_DATASETS_CHANNEL,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": _s3_prefix(datasets_s3, "datasets_s3"),
                                            "S3DataDistributionType": "FullyReplicated"}},
            "InputMode": "File"}]
    if spot:
        request["EnableManagedSpotTraining"] = True
        request["StoppingCondition"]["MaxWaitTimeInSeconds"] = 2 * max_runtime_s
    return request
