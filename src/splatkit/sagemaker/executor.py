"""The SageMaker executor: the pipeline runs each stage as one SageMaker job, chained through S3.

:class:`SageMakerExecutor` implements the pipeline's
:class:`~splatkit.pipeline.executors.Executor` seam, so ``splatkit.pipeline.run(...,
executor=SageMakerExecutor(...))`` resolves stages, fires the stage events, writes manifests,
promotes folders and writes the report exactly as a local run does; only where each stage
runs changes. For one stage the executor:

1. finds the stage's input in S3: the photos (a folder's files or one ZIP) are uploaded once to
   ``OUTPUT/RUN/input/photos/``; a later stage reads the S3 output of the job that produced its
   local input folder (remembered in ``OUT/sagemaker.json`` by that folder's output digest), or,
   for a folder made elsewhere, an upload of it to ``OUTPUT/RUN/input/KIND/``;
2. builds the job (:mod:`splatkit.sagemaker.jobs`) and submits it, unless a job of that name
   exists: one with the same request (its ``splatkit:request-sha256`` tag) is *adopted*, so a
   re-attached run submits nothing twice; one with another request is an InputError;
3. polls ``Describe*`` with backoff (:class:`PollPolicy`, the ``sleep`` is injectable) until the
   job is ``Completed``, ``Failed`` or ``Stopped``. ``Stopped`` is a failure (botocore's waiters
   call it success; a spot job whose MaxWait ran out ends ``Stopped``); a failure is a
   :class:`~splatkit.errors.StageError` with SageMaker's ``FailureReason`` and the container's
   ``ExitMessage`` (the splatkit error written by :mod:`splatkit.sagemaker.entry`);
4. downloads the job's output into the stage's work folder (a training job's
   ``ModelArtifacts.S3ModelArtifacts``, files or ``model.tar.gz``), reads back the stage's report
   and files from the job's :data:`~splatkit.sagemaker.container.RESULT_FILE` and loads the
   output contract (a Reconstruction, a GaussianCloud; for compression no contract is loaded,
   and a file no registered format recognises is logged).

The boto3 clients are injected (tests pass clients of moto's server), or made from the default
session on first use; nothing imports boto3 at module level.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splatkit.errors import InputError, SplatkitError, StageError
from splatkit.sagemaker import container
from splatkit.sagemaker.archives import extract_model_archive, is_model_archive
from splatkit.sagemaker.config import LauncherConfig
from splatkit.sagemaker.instances import STAGE_JOB_TYPES
from splatkit.sagemaker.jobs import JobPlan, build_job
from splatkit.sagemaker.layout import RunLayout
from splatkit.sagemaker.names import check_run_id
from splatkit.sagemaker.transfer import (
    aws_error_text,
    download_object,
    download_prefix,
    is_aws_error,
    local_files,
    upload_files,
)
from splatkit.sagemaker.uris import S3Uri, parse_s3_uri
from splatkit.stages import (
    STAGE_KINDS,
    ProgressCallback,
    ProgressUpdate,
    StageResult,
    config_to_dict,
    no_progress,
)

__all__ = [
    "LOG_GROUPS",
    "STATE_FILE",
    "TERMINAL_STATUSES",
    "PollPolicy",
    "SageMakerExecutor",
    "describe_job",
    "read_state",
]

logger = logging.getLogger(__name__)

#: The executor's record of the jobs behind a run's local stage folders, in the pipeline's output folder.
STATE_FILE = "sagemaker.json"
STATE_SCHEMA = 1
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
_STATUS_KEY = {"processing": "ProcessingJobStatus", "training": "TrainingJobStatus"}
_NAME_KEY = {"processing": "ProcessingJobName", "training": "TrainingJobName"}
_ARN_KEY = {"processing": "ProcessingJobArn", "training": "TrainingJobArn"}
#: CloudWatch Logs group of each job type; a job's streams are named ``JOB/HOST-EPOCH`` (processing)
#: and ``JOB/algo-N-EPOCH`` (training) (SageMaker developer guide, "Log Amazon SageMaker events
#: with Amazon CloudWatch").
LOG_GROUPS: dict[str, str] = {"processing": "/aws/sagemaker/ProcessingJobs",
                               "training": "/aws/sagemaker/TrainingJobs"}
_THROTTLING = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})
_DIGEST_TAG = "splatkit:request-sha256"


@dataclass(frozen=True)
class PollPolicy:
    """How often ``Describe*`` is called while a job runs: ``first_s``, then times ``factor`` up to ``max_s``.

    SageMaker jobs take minutes to start; the default asks every 15 s at first and every 2 min at
    most, well inside the Describe* rate limits.
    """

    first_s: float = 15.0
    factor: float = 1.5
    max_s: float = 120.0

    def delays(self) -> Iterator[float]:
        """The seconds to wait before each next poll."""
        delay = self.first_s
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_s)


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _is_not_found(error: BaseException) -> bool:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    message = str(response.get("Error", {}).get("Message", "")).lower()
    return _error_code(error) in ("ValidationException", "ResourceNotFound") and (
        "not find" in message or "not found" in message or "does not exist" in message)


def describe_job(sagemaker: Any, job_type: str, name: str) -> dict[str, Any] | None:
    """``Describe{Processing,Training}Job`` of ``name``, or None when no such job exists."""
    try:
        if job_type == "processing":
            response: dict[str, Any] = sagemaker.describe_processing_job(ProcessingJobName=name)
        else:
            response = sagemaker.describe_training_job(TrainingJobName=name)
    except Exception as e:
        if _is_not_found(e):
            return None
        raise
    return response


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The executor's record :data:`STATE_FILE` in ``state_dir`` (a run's output folder), or None.

    ``{"schema": 1, "run_id", "output": "s3://.../RUN/", "job_prefix", "region",
    "jobs": {kind: {"job_name", "job_type", "attempt"}}, "stages": {kind: {"job_name", "job_arn",
    "job_type", "output", "output_digest"}}}``: ``jobs`` is written when a job is submitted or
    adopted, ``stages`` when its output has been downloaded.
    """
    try:
        doc = json.loads((Path(state_dir) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != STATE_SCHEMA or not isinstance(doc.get("run_id"), str):
        return None
    return doc


def _job_tags(sagemaker: Any, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": arn}
    while True:
        page = sagemaker.list_tags(**kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


def _previous_kind(kind: str) -> str:
    kinds = list(STAGE_KINDS)  # pipeline order
    return kinds[kinds.index(kind) - 1]


class SageMakerExecutor:
    """Run pipeline stages as SageMaker jobs (see the module docstring).

    Parameters
    ----------
    config : LauncherConfig
        Role, output prefix, image, machines.
    run_id : str
        Names the run's S3 folder and its jobs; the same id re-attaches to the same jobs.
    sagemaker, s3 : boto3 clients, optional
        Default: ``boto3.client("sagemaker")`` and ``boto3.client("s3")`` of the default session.
    attempt : int
        The jobs' attempt number (1, 2, ...). A job name is taken for good once used, so running a
        failed stage again needs the next attempt.
    poll : PollPolicy
    sleep : callable
        Waits between polls (``time.sleep``; tests pass their own).
    state_dir : Path, optional
        Where :data:`STATE_FILE` is kept; default the pipeline's output folder (the parent of the
        stage work folder).
    """

    name = "sagemaker"
    wants_paths = True

    def __init__(self, config: LauncherConfig, run_id: str, *, sagemaker: Any = None, s3: Any = None,
                 attempt: int = 1, poll: PollPolicy = PollPolicy(), sleep: Callable[[float], None] = time.sleep,
                 state_dir: Path | None = None) -> None:
        if not isinstance(config, LauncherConfig):
            raise InputError(f"the SageMaker executor needs a LauncherConfig, got {type(config).__name__}")
        self.config = config
        self.run_id = check_run_id(run_id)
        self.layout = RunLayout(config.output_uri, run_id)
        self.attempt = attempt
        self.poll = poll
        self.sleep = sleep
        self.state_dir = None if state_dir is None else Path(state_dir)
        self._sagemaker = sagemaker
        self._s3 = s3
        #: Names of the jobs this executor created, and of those it found already submitted.
        self.submitted: list[str] = []
        self.adopted: list[str] = []

    # -- clients ---------------------------------------------------------------------------------

    @property
    def sagemaker(self) -> Any:
        if self._sagemaker is None:
            self._sagemaker = self._client("sagemaker")
        return self._sagemaker

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._client("s3")
        return self._s3

    @staticmethod
    def _client(service: str) -> Any:
        try:
            import boto3
        except ImportError as e:
            from splatkit.errors import BackendUnavailableError
            from splatkit.sagemaker.api_model import AWS_INSTALL_HINT

            raise BackendUnavailableError("the SageMaker launcher needs boto3", kind="launcher", name="sagemaker",
                                          install_hint=AWS_INSTALL_HINT) from e
        return boto3.client(service)

    # -- the Executor protocol -------------------------------------------------------------------

    def execute(self, resolved: Any, input: Any, workdir: Path,
                progress: ProgressCallback = no_progress) -> StageResult[Any]:
        """Run ``resolved`` as a SageMaker job on ``input`` (a path) and download its output into ``workdir``."""
        kind = resolved.kind
        qualified = f"{kind}/{resolved.backend}"
        workdir = Path(workdir)
        state_dir = self.state_dir if self.state_dir is not None else workdir.parent
        try:
            data = self._stage_input(kind, Path(input), state_dir)
            plan = build_job(kind, self.config, (resolved.backend, config_to_dict(resolved.config)),
                             run_id=self.run_id, input=data, attempt=self.attempt)
            job = self._submit_or_adopt(plan)
            self._note_job(state_dir, plan)
            job = self._wait(plan, job, qualified, data, progress)
            output = self._output_location(plan, job, qualified)
            self._download(output, workdir, qualified)
            result = self._read_result(kind, qualified, workdir)
        except KeyboardInterrupt:
            logger.warning("%s: stopped waiting; the SageMaker job keeps running: run again with run id %r to "
                           "re-attach to it", qualified, self.run_id)
            raise
        except SplatkitError:
            raise
        except Exception as e:
            if not is_aws_error(e):
                raise
            raise StageError(f"AWS refused a request ({aws_error_text(e)}); check the credentials, the region and "
                             "the caller's IAM policy (docs/sagemaker.md)", stage=qualified) from e
        self._remember(state_dir, kind, plan, job, output, workdir, result)
        return result

    # -- inputs ----------------------------------------------------------------------------------

    def _stage_input(self, kind: str, path: Path, state_dir: Path) -> S3Uri:
        if kind == "sfm":
            return self._upload_photos(path, state_dir)
        from splatkit.pipeline.runner import input_digest_of_path

        previous = _previous_kind(kind)
        record = self._state(state_dir).get("stages", {}).get(previous)
        if isinstance(record, dict) and record.get("output_digest") == input_digest_of_path(path):
            logger.info("%s: reading %s's output from job %s (%s)", kind, previous, record.get("job_name"),
                        record.get("output"))
            return parse_s3_uri(record["output"])
        # A folder this executor did not download (a local run, another machine): upload it.
        prefix = self.layout.run.child("input", previous).as_prefix()
        summary = upload_files(self.s3, local_files(path), prefix, what=f"the {previous} output {path}")
        logger.info("%s: uploaded %d file(s) of %s to %s (%d already there)", kind, len(summary.uploaded), path,
                    prefix.uri, len(summary.skipped))
        return prefix

    def _upload_photos(self, source: Path, state_dir: Path) -> S3Uri:
        photos = self.layout.photos
        if source.is_file():
            if source.suffix.lower() != ".zip":
                raise InputError("is a file but not a .zip; pass a folder of photos or a .zip of them", path=source)
            summary = upload_files(self.s3, [(source.name, source)], photos, what=f"the photos {source}")
            target = photos.child(source.name)
        else:
            files = local_files(source, exclude=[state_dir])
            summary = upload_files(self.s3, files, photos, what=f"the photos in {source}")
            target = photos
        logger.info("photos: %d file(s) uploaded to %s, %d already there", len(summary.uploaded), photos.uri,
                    len(summary.skipped))
        return target

    # -- submitting and waiting --------------------------------------------------------------------

    def _job_type(self, plan: JobPlan) -> str:
        return STAGE_JOB_TYPES[plan.kind]

    def _submit_or_adopt(self, plan: JobPlan) -> dict[str, Any]:
        job_type = self._job_type(plan)
        existing = describe_job(self.sagemaker, job_type, plan.job_name)
        if existing is None:
            for uri, body in plan.uploads.items():
                location = parse_s3_uri(uri)
                self.s3.put_object(Bucket=location.bucket, Key=location.key, Body=body)
            try:
                if job_type == "processing":
                    self.sagemaker.create_processing_job(**plan.request)
                else:
                    self.sagemaker.create_training_job(**plan.request)
            except Exception as e:
                if _error_code(e) != "ResourceInUse":
                    raise
                # Another client submitted the same name between our describe and create.
                existing = describe_job(self.sagemaker, job_type, plan.job_name)
            else:
                self.submitted.append(plan.job_name)
                logger.info("submitted %s job %s", job_type, plan.job_name)
                created = describe_job(self.sagemaker, job_type, plan.job_name)
                if created is None:
                    raise StageError(f"SageMaker does not know the job {plan.job_name} it just accepted",
                                     stage=plan.kind)
                return created
        if existing is None:
            raise StageError(f"job {plan.job_name} was reported to exist but cannot be described", stage=plan.kind)
        self._check_same_request(plan, existing)
        self.adopted.append(plan.job_name)
        logger.info("re-attached to %s job %s (%s): same request", job_type, plan.job_name,
                    existing.get(_STATUS_KEY[job_type]))
        return existing

    def _check_same_request(self, plan: JobPlan, existing: dict[str, Any]) -> None:
        wanted = {t["Key"]: t["Value"] for t in plan.request["Tags"]}[_DIGEST_TAG]
        found = _job_tags(self.sagemaker, existing[_ARN_KEY[self._job_type(plan)]]).get(_DIGEST_TAG)
        if found != wanted:
            raise InputError(
                f"SageMaker job {plan.job_name} already exists for another request ({_DIGEST_TAG} {found or 'absent'}, "
                f"this run's is {wanted}): run {self.run_id!r} attempt {self.attempt} was started with other "
                f"options or inputs; use a new run id, or attempt={self.attempt + 1} to run this stage again")

    def _wait(self, plan: JobPlan, job: dict[str, Any], qualified: str, data: S3Uri,
              progress: ProgressCallback) -> dict[str, Any]:
        job_type = self._job_type(plan)
        delays = self.poll.delays()
        seen: tuple[str, str] | None = None
        polls = 0
        while True:
            status = str(job.get(_STATUS_KEY[job_type], ""))
            secondary = str(job.get("SecondaryStatus", ""))
            if (status, secondary) != seen:
                seen = (status, secondary)
                text = f"{plan.job_name}: {status}" + (f" ({secondary})" if secondary and secondary != status else "")
                logger.info("%s", text)
                progress(ProgressUpdate(stage=qualified, step=polls, message=text))
            if status in TERMINAL_STATUSES:
                break
            self.sleep(next(delays))
            polls += 1
            try:
                described = describe_job(self.sagemaker, job_type, plan.job_name)
            except Exception as e:
                if _error_code(e) in _THROTTLING:
                    continue
                raise
            if described is None:
                raise StageError(f"SageMaker job {plan.job_name} disappeared while it ran (deleted?)",
                                 stage=qualified, source=data.uri)
            job = described
        if status != "Completed":
            raise StageError(self._failure_text(plan, job, status), stage=qualified, source=data.uri)
        return job

    def _failure_text(self, plan: JobPlan, job: dict[str, Any], status: str) -> str:
        job_type = self._job_type(plan)
        secondary = job.get("SecondaryStatus")
        text = f"SageMaker {job_type} job {plan.job_name} {status.lower()}"
        if status == "Stopped" and secondary and secondary != "Stopped":
            text += f" ({secondary})"
        reason, message = job.get("FailureReason"), job.get("ExitMessage")
        if reason:
            text += f": {reason}"
        if message and message not in (reason or ""):
            text += f"; the container said: {message}"
        retry = (f"run again with attempt={self.attempt + 1} (the CLI's --attempt {self.attempt + 1}; this job's "
                 "name stays taken)")
        if status == "Stopped":
            return (f"{text}. A stopped job is a failure: a spot job whose MaxWaitTimeInSeconds ran out (raise "
                    "max_wait_s, or turn spot off), MaxRuntimeInSeconds reached (raise max_runtime_s), or "
                    f"someone stopped it; its checkpoints stay in {self.layout.checkpoints.uri}, {retry} to resume")
        return (f"{text}. The log is in CloudWatch, group {LOG_GROUPS[job_type]}, streams {plan.job_name}/...; "
                f"fix the cause and {retry}")

    # -- outputs ---------------------------------------------------------------------------------

    def _output_location(self, plan: JobPlan, job: dict[str, Any], qualified: str) -> S3Uri:
        if self._job_type(plan) == "processing":
            return plan.output
        artifacts = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        if not artifacts:
            raise StageError(f"training job {plan.job_name} completed without ModelArtifacts", stage=qualified)
        return parse_s3_uri(artifacts)

    def _download(self, uri: S3Uri, workdir: Path, qualified: str) -> None:
        from splatkit.pipeline.manifest import BOOKKEEPING_FILES

        workdir.mkdir(parents=True, exist_ok=True)
        # A resumed work folder may hold an earlier download: the job's output replaces it.
        for entry in workdir.iterdir():
            if entry.name not in BOOKKEEPING_FILES:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        if not is_model_archive(uri.key):
            if not download_prefix(self.s3, uri, workdir):
                raise StageError(f"the job finished but wrote nothing to {uri.as_prefix().uri}: the container wrote "
                                 "its output elsewhere (an image of another splatkit version?)", stage=qualified)
            return
        scratch = Path(tempfile.mkdtemp(prefix=f".{workdir.name}.download.", dir=workdir.parent))
        try:
            archive = download_object(self.s3, uri, scratch / "model.tar.gz")
            unpacked = extract_model_archive(archive, scratch / "model")
            for entry in sorted(unpacked.iterdir()):
                os.replace(entry, workdir / entry.name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _read_result(self, kind: str, qualified: str, workdir: Path) -> StageResult[Any]:
        path = workdir / container.RESULT_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise StageError(f"the job's output has no readable {container.RESULT_FILE} ({e}); the image runs "
                             "another splatkit version, or the stage wrote its output elsewhere",
                             stage=qualified) from e
        rels = doc.get("files") if isinstance(doc, dict) else None
        report = doc.get("report") if isinstance(doc, dict) else None
        if not isinstance(rels, list) or not isinstance(report, dict):
            raise StageError(f"{container.RESULT_FILE} of the job lacks its files or report", stage=qualified)
        files = []
        for rel in rels:
            file = workdir / str(rel)
            if not isinstance(rel, str) or ".." in Path(rel).parts or Path(rel).is_absolute() or not file.exists():
                raise StageError(f"the job's result names {rel!r}, which is not among the files it uploaded",
                                 stage=qualified)
            files.append(file)
        path.unlink()
        return StageResult(output=self._load_output(kind, qualified, workdir, files), report=report,
                           files=tuple(files))

    def _load_output(self, kind: str, qualified: str, workdir: Path, files: list[Path]) -> Any:
        try:
            if kind == "sfm":
                from splatkit.io.sfm_output import read_sfm_output

                return read_sfm_output(workdir)[0]
            if not files:
                raise InputError("the job's result lists no files", path=workdir)
            if kind == "train":
                from splatkit.io.ply import read_ply

                return read_ply(files[0])
            from splatkit.plugins import get_plugin_manager

            if get_plugin_manager().formats.detect(files[0], holds="splats") is None:
                # A plugin's compressor may write a format nobody registered a reader for.
                logger.warning("%s: no registered splat format recognises %s", qualified, files[0])
            return None
        except InputError as e:
            raise StageError(f"the job's output is not what the next stage reads: {e}", stage=qualified) from e

    # -- the run's record ------------------------------------------------------------------------

    def _state(self, state_dir: Path) -> dict[str, Any]:
        doc = read_state(state_dir)
        if doc is None or doc.get("run_id") != self.run_id or doc.get("output") != self.layout.run.uri:
            return {}
        return doc

    def _fresh_state(self, state_dir: Path) -> dict[str, Any]:
        state = self._state(state_dir) or {"schema": STATE_SCHEMA, "run_id": self.run_id,
                                           "output": self.layout.run.uri, "stages": {}}
        # What `splatkit sagemaker status/logs/stop OUT` need to find the run's jobs again.
        state["job_prefix"] = self.config.job_prefix
        region = getattr(getattr(self._sagemaker, "meta", None), "region_name", None)
        if isinstance(region, str):
            state["region"] = region
        state.setdefault("stages", {})
        state.setdefault("jobs", {})
        return state

    def _write_state(self, state_dir: Path, state: dict[str, Any]) -> None:
        from splatkit.io.atomic import atomic_write_text

        atomic_write_text(state_dir / STATE_FILE, json.dumps(state, indent=2, sort_keys=True))

    def _note_job(self, state_dir: Path, plan: JobPlan) -> None:
        state = self._fresh_state(state_dir)
        state["jobs"][plan.kind] = {"job_name": plan.job_name, "job_type": self._job_type(plan),
                                    "attempt": self.attempt}
        self._write_state(state_dir, state)

    def _remember(self, state_dir: Path, kind: str, plan: JobPlan, job: dict[str, Any], output: S3Uri,
                  workdir: Path, result: StageResult[Any]) -> None:
        from splatkit.pipeline import manifest as mf

        state = self._fresh_state(state_dir)
        job_type = self._job_type(plan)
        state["stages"][kind] = {
            "job_name": plan.job_name, "job_arn": job.get(_ARN_KEY[job_type]), "job_type": job_type,
            "output": output.uri,
            # The digest the pipeline records for this folder (manifest.output_digest), so the next
            # stage knows its local input came from this job.
            "output_digest": mf.digest_paths(mf.output_paths(kind, workdir, list(result.files)), workdir)}
        self._write_state(state_dir, state)
