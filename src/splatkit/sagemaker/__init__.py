"""Optional SageMaker launcher: each pipeline stage as one SageMaker job, chained through S3.

SfM and compression run as Processing jobs, training as a Training job (managed spot and
checkpoints). ``splatkit sagemaker run|status|logs|stop|definition`` is the command line
(:mod:`~splatkit.sagemaker.cli`); ``docs/sagemaker.md`` walks from nothing to a finished run
(image, IAM roles, cost, spot). The modules, from the request side to the running job:

* :mod:`~splatkit.sagemaker.uris`: S3 URIs in every form a user pastes, normalised to ``s3://``;
* :mod:`~splatkit.sagemaker.names`: deterministic job names (run id, stage, attempt);
* :mod:`~splatkit.sagemaker.instances`: job type per stage, instance types from botocore's
  model, which families have local NVMe storage;
* :mod:`~splatkit.sagemaker.config`: :class:`LauncherConfig` (role, output prefix, image,
  machines per stage, spot, KMS, VPC, tags), from keyword arguments or a TOML-shaped mapping;
* :mod:`~splatkit.sagemaker.container`: the paths, entry command and environment shared by the
  requests, the container entry and ``docker/Dockerfile``;
* :mod:`~splatkit.sagemaker.layout`: where a run's files live in S3;
* :mod:`~splatkit.sagemaker.jobs`: the CreateProcessingJob/CreateTrainingJob builders;
* :mod:`~splatkit.sagemaker.api_model`: botocore's SageMaker model, used to validate every request;
* :mod:`~splatkit.sagemaker.entry`: ``python3 -m splatkit.sagemaker.entry KIND``, what runs in a job;
* :mod:`~splatkit.sagemaker.executor`: :class:`~splatkit.sagemaker.executor.SageMakerExecutor`,
  the pipeline's executor that uploads, submits (or re-attaches), waits and downloads;
* :mod:`~splatkit.sagemaker.transfer`, :mod:`~splatkit.sagemaker.archives`: S3 transfers and
  safe ``model.tar.gz`` unpacking;
* :mod:`~splatkit.sagemaker.definition`: a Step Functions definition of a run and the IAM
  policies, for users who deploy the chain instead of running it from a client;
* :mod:`~splatkit.sagemaker.cli`: the ``splatkit sagemaker`` commands.

boto3/botocore are imported inside functions only, so importing this package stays light
(install them with ``pip install 'splatkit[aws]'``).
"""

from __future__ import annotations

from splatkit.sagemaker.config import LauncherConfig, StageResources, VpcSettings
from splatkit.sagemaker.jobs import JobPlan, build_compress_job, build_job, build_sfm_job, build_train_job
from splatkit.sagemaker.layout import RunLayout
from splatkit.sagemaker.names import job_name
from splatkit.sagemaker.uris import S3Uri, parse_s3_uri

__all__ = [
    "JobPlan",
    "LauncherConfig",
    "RunLayout",
    "S3Uri",
    "StageResources",
    "VpcSettings",
    "build_compress_job",
    "build_job",
    "build_sfm_job",
    "build_train_job",
    "job_name",
    "parse_s3_uri",
]
