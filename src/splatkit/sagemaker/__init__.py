"""Optional SageMaker launcher: each pipeline stage as one SageMaker job, chained through S3.

SfM and compression run as Processing jobs, training as a Training job (managed spot and
checkpoints). What exists so far is the request side, typed and validated before anything is
sent to AWS:

* :mod:`~splatkit.sagemaker.uris`: S3 URIs in every form a user pastes, normalised to ``s3://``;
* :mod:`~splatkit.sagemaker.names`: deterministic job names (run id, stage, attempt);
* :mod:`~splatkit.sagemaker.instances`: job type per stage, instance types from botocore's
  model, which families have local NVMe storage;
* :mod:`~splatkit.sagemaker.config`: :class:`LauncherConfig` (role, output prefix, image,
  machines per stage, spot, KMS, VPC, tags);
* :mod:`~splatkit.sagemaker.container`: the paths, entry command and environment shared by the
  requests and the code that runs in the container;
* :mod:`~splatkit.sagemaker.layout`: where a run's files live in S3;
* :mod:`~splatkit.sagemaker.jobs`: the CreateProcessingJob/CreateTrainingJob builders;
* :mod:`~splatkit.sagemaker.api_model`: botocore's SageMaker model, used to validate every request.

boto3/botocore are imported inside functions only, so importing this package stays light
(install them with ``pip install 'splatkit[aws]'``). See ``docs/sagemaker.md``.
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
