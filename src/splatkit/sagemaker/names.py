"""Deterministic SageMaker job names from a run id, a stage kind and an attempt number.

SageMaker job names must match ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` (so at most 63 characters)
and are unique per account and region for as long as the job exists; CreateTrainingJob and
CreateProcessingJob have no client token. A launcher therefore derives each name from what
identifies the job, so that a re-attached run finds its jobs again, and starts a new attempt under
a new name::

    job_name("flight-7", "train", 2)  ->  "splatkit-flight-7-train-a2"

Names are lower-case: SageMaker reports job ARNs in lower case (boto/boto3#4606,
aws/sagemaker-experiments#172), so two names differing only in case would meet there. A run id
that is not already a lower-case name, or is too long for the 63 characters, keeps a readable
(sanitised, truncated) part followed by the first 8 hex digits of its SHA-256, so distinct run ids
stay distinct::

    job_name("Flight_7 (retake)", "sfm")  ->  "splatkit-flight-7-retake-<8 hex>-sfm-a1"
"""

from __future__ import annotations

import hashlib
import re

from splatkit.errors import InputError
from splatkit.stages import STAGE_KINDS

__all__ = [
    "DEFAULT_JOB_PREFIX",
    "JOB_NAME_PATTERN",
    "MAX_ATTEMPT",
    "MAX_JOB_NAME_LENGTH",
    "MAX_RUN_ID_LENGTH",
    "check_job_prefix",
    "check_run_id",
    "job_name",
]

#: SageMaker's pattern for TrainingJobName and ProcessingJobName (botocore's model).
JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
MAX_JOB_NAME_LENGTH = 63
DEFAULT_JOB_PREFIX = "splatkit"
#: Run ids also name S3 folders and tag values: letters, digits, '.', '_' and '-'.
MAX_RUN_ID_LENGTH = 64
#: Attempts are bounded so that the name's fixed parts always leave room for the run id.
MAX_ATTEMPT = 999
MAX_PREFIX_LENGTH = 20

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PREFIX = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")
_HASH_LENGTH = 8


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it can name a run, else raise InputError.

    A run id is 1-64 characters of letters, digits, ``.``, ``_`` and ``-``, starting with a letter
    or digit: it becomes an S3 folder, a tag value and (sanitised) part of every job name.
    """
    if not isinstance(run_id, str) or not (1 <= len(run_id) <= MAX_RUN_ID_LENGTH and _RUN_ID.fullmatch(run_id)):
        raise InputError(f"run id {run_id!r} is not usable: use 1-{MAX_RUN_ID_LENGTH} letters, digits, '.', '_' "
                         "or '-', starting with a letter or digit (e.g. 'flight-2024-05-01')")
    return run_id


def check_job_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start job names: 1-20 lower-case letters/digits, single '-' between."""
    if not isinstance(prefix, str) or not (1 <= len(prefix) <= MAX_PREFIX_LENGTH and _PREFIX.fullmatch(prefix)):
        raise InputError(f"job name prefix {prefix!r} is not usable: use 1-{MAX_PREFIX_LENGTH} lower-case letters "
                         "and digits with single '-' between them (e.g. 'splatkit')")
    return prefix


def _check_kind(kind: str) -> str:
    if kind not in STAGE_KINDS:
        raise InputError(f"stage kind {kind!r} is unknown: use one of {', '.join(STAGE_KINDS)}")
    return kind


def _check_attempt(attempt: int) -> int:
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= MAX_ATTEMPT:
        raise InputError(f"attempt {attempt!r} is not usable: use a whole number from 1 to {MAX_ATTEMPT}")
    return attempt


def job_name(run_id: str, kind: str, attempt: int = 1, *, prefix: str = DEFAULT_JOB_PREFIX) -> str:
    """The SageMaker job name of one attempt of one stage of a run.

    Parameters
    ----------
    run_id : str
        See :func:`check_run_id`.
    kind : str
        A stage kind (``sfm``, ``train``, ``compress``).
    attempt : int
        1 for the first submission; a retry after a failure is a new job with a new name.
    prefix : str
        First part of every name (see :func:`check_job_prefix`); lets IAM policies scope
        ``sagemaker:Create*Job`` to ``.../training-job/PREFIX-*``.

    Returns
    -------
    str
        ``PREFIX-RUN-KIND-aATTEMPT``: at most 63 characters, matching :data:`JOB_NAME_PATTERN`,
        the same for the same arguments, different for different run ids, kinds or attempts.
    """
    check_run_id(run_id)
    check_job_prefix(prefix)
    _check_kind(kind)
    _check_attempt(attempt)
    tail = f"-{kind}-a{attempt}"
    budget = MAX_JOB_NAME_LENGTH - len(prefix) - 1 - len(tail)
    readable = _NOT_NAME_CHARS.sub("-", run_id.lower()).strip("-")
    if readable == run_id and len(readable) <= budget:
        run_part = readable
    else:
        digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
        cut = readable[: budget - _HASH_LENGTH - 1].rstrip("-")
        run_part = f"{cut}-{digest}" if cut else digest
    name = f"{prefix}-{run_part}{tail}"
    # Both facts follow from the checks above; asserted because SageMaker would refuse the job.
    assert len(name) <= MAX_JOB_NAME_LENGTH and JOB_NAME_PATTERN.fullmatch(name), name
    return name
