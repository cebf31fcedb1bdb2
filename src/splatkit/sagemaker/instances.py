"""Instance types: which SageMaker job type runs each stage, which types exist, which have local NVMe.

* Each stage kind runs as one job type (:data:`STAGE_JOB_TYPES`): SfM and compression as
  Processing jobs, training as a Training job (the only one with managed spot and checkpoints).
* The valid instance types of each job type are the enum of botocore's model
  (``ProcessingInstanceType``, ``TrainingInstanceType``), read at run time.
* Instance families with local NVMe instance storage (:data:`LOCAL_STORAGE_FAMILIES`) get no
  ``VolumeKmsKeyId``: SageMaker refuses one there ("You can't request a VolumeKmsKeyId when using
  an instance type with local storage", botocore's doc of ``ResourceConfig.VolumeKmsKeyId`` and
  ``ProcessingClusterConfig.VolumeKmsKeyId``); the NVMe disks are encrypted by the hardware.
  Every family of botocore's enums is classified below, and a test fails when botocore adds one.
"""

from __future__ import annotations

import difflib
from typing import Literal

from splatkit.errors import InputError

__all__ = [
    "DEFAULT_INSTANCE_TYPES",
    "EBS_ONLY_FAMILIES",
    "INSTANCE_TYPE_SHAPES",
    "LOCAL_STORAGE_FAMILIES",
    "STAGE_JOB_TYPES",
    "JobType",
    "check_instance_type",
    "has_local_storage",
    "instance_family",
    "instance_types",
]

JobType = Literal["processing", "training"]

#: The SageMaker job type that runs each stage kind.
STAGE_JOB_TYPES: dict[str, JobType] = {"sfm": "processing", "train": "training", "compress": "processing"}
#: botocore enum shape of the instance types of each job type.
INSTANCE_TYPE_SHAPES: dict[JobType, str] = {"processing": "ProcessingInstanceType",
                                            "training": "TrainingInstanceType"}
#: Defaults: SfM is CPU work (8 vCPU), training wants one A10G (24 GB), compression's k-means and
#: PLAS sort run on 16 vCPU.
DEFAULT_INSTANCE_TYPES: dict[str, str] = {"sfm": "ml.c6i.2xlarge", "train": "ml.g5.xlarge",
                                          "compress": "ml.c6i.4xlarge"}

# Sources: the EC2 instance store tables (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/
# instance-store-volumes.html) and botocore's VolumeSizeInGB doc, which names ml.p4d, ml.g4dn
# and ml.g5 as NVMe families. A 'd' in the attribute letters (r5d, p4d, g4dn, p3dn) means
# instance storage; the newer GPU and Trainium families have it without the letter. g7 and g7e
# are listed from their launch announcements, not from the EC2 table: refusing a volume key on
# them at worst asks for a different type, allowing one wrongly fails the job at submission.
LOCAL_STORAGE_FAMILIES: frozenset[str] = frozenset({
    "g4dn", "g5", "g6", "g6e", "g7", "g7e",
    "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200",
    "r5d", "trn1", "trn1n", "trn2",
})
EBS_ONLY_FAMILIES: frozenset[str] = frozenset({
    "c4", "c5", "c5n", "c6i", "c7i", "c7i-flex", "c8i", "c8i-flex",
    "m4", "m5", "m6i", "m7i", "m7i-flex", "m8i", "m8i-flex",
    "p2", "p3", "r5", "r6i", "r7i", "r8i", "r8i-flex", "t3",
})


def instance_types(job_type: JobType) -> frozenset[str]:
    """The instance types SageMaker accepts for ``job_type``, from botocore's model."""
    from splatkit.sagemaker.api_model import enum_values

    return enum_values(INSTANCE_TYPE_SHAPES[job_type])


def instance_family(instance_type: str) -> str:
    """``"ml.g5.xlarge"`` -> ``"g5"``, ``"ml.p6-b200.48xlarge"`` -> ``"p6-b200"``."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml" or not parts[1] or not parts[2]:
        raise InputError(f"instance type {instance_type!r} is not of the form ml.FAMILY.SIZE (e.g. ml.g5.xlarge)")
    return parts[1]


def has_local_storage(instance_type: str) -> bool | None:
    """True for NVMe instance-storage families, False for EBS-only ones, None when unclassified."""
    family = instance_family(instance_type)
    if family in LOCAL_STORAGE_FAMILIES:
        return True
    if family in EBS_ONLY_FAMILIES:
        return False
    return None


def check_instance_type(instance_type: str, job_type: JobType, *, where: str) -> str:
    """Return ``instance_type`` if SageMaker runs ``job_type`` jobs on it, else raise InputError.

    ``where`` names the setting in the message (e.g. ``"train.instance_type"``).
    """
    valid = instance_types(job_type)
    if isinstance(instance_type, str) and instance_type in valid:
        return instance_type
    other: JobType = "training" if job_type == "processing" else "processing"
    if isinstance(instance_type, str) and instance_type in instance_types(other):
        hint = f"it runs {other} jobs only; pick one of the {job_type} types"
    else:
        close = difflib.get_close_matches(str(instance_type), sorted(valid), n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else f"pick one of the {len(valid)} {job_type} types"
    raise InputError(f"sagemaker config: {where} = {instance_type!r} is not a SageMaker {job_type} instance type; "
                     f"{hint}")

