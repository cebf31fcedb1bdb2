"""Where a run's files live in S3, under the launcher's output prefix.

::

    OUTPUT/RUN/input/photos/            the photos (a folder's files, or one ZIP), uploaded once
    OUTPUT/RUN/spec/JOB/stage.json      each job's spec (see splatkit.sagemaker.container)
    OUTPUT/RUN/sfm/JOB/                 a SfM job's output folder
    OUTPUT/RUN/train/JOB/output/...     a training job's output (SageMaker adds JOB/output/)
    OUTPUT/RUN/checkpoints/train/       training checkpoints, shared by the run's attempts
    OUTPUT/RUN/compress/JOB/            a compression job's output (the .sog and its report)

Every stage output is per job (``JOB`` is the job name, which includes the attempt), so a failed
attempt's partial upload never mixes with the next attempt's files, and the next stage reads
exactly the job it follows. Checkpoints are per run: a new training attempt resumes from the
last one's checkpoint, which the trainer only accepts for the same options and input scene.
All prefixes end in ``/`` (see :meth:`splatkit.sagemaker.uris.S3Uri.as_prefix`).
"""

from __future__ import annotations

from dataclasses import dataclass

from splatkit.sagemaker.names import check_run_id
from splatkit.sagemaker.uris import S3Uri

__all__ = ["RunLayout"]


@dataclass(frozen=True)
class RunLayout:
    """The S3 prefixes of one run.

    Attributes
    ----------
    output : S3Uri
        The launcher's output prefix (``LauncherConfig.output``).
    run_id : str
        The run (see :func:`splatkit.sagemaker.names.check_run_id`).
    """

    output: S3Uri
    run_id: str

    def __post_init__(self) -> None:
        check_run_id(self.run_id)

    @property
    def run(self) -> S3Uri:
        """``OUTPUT/RUN/``."""
        return self.output.child(self.run_id).as_prefix()

    @property
    def photos(self) -> S3Uri:
        """``OUTPUT/RUN/input/photos/``: the SfM job's ``photos`` input."""
        return self.run.child("input", "photos").as_prefix()

    def spec(self, job_name: str) -> S3Uri:
        """``OUTPUT/RUN/spec/JOB/``: the folder of the job's spec file."""
        return self.run.child("spec", job_name).as_prefix()

    def stage_output(self, kind: str, job_name: str) -> S3Uri:
        """``OUTPUT/RUN/KIND/JOB/``: a processing job's output folder."""
        return self.run.child(kind, job_name).as_prefix()

    @property
    def training_output(self) -> S3Uri:
        """``OUTPUT/RUN/train/``: the training jobs' ``S3OutputPath`` (SageMaker adds ``JOB/output/``)."""
        return self.run.child("train").as_prefix()

    @property
    def checkpoints(self) -> S3Uri:
        """``OUTPUT/RUN/checkpoints/train/``: the training jobs' ``CheckpointConfig.S3Uri``."""
        return self.run.child("checkpoints", "train").as_prefix()
