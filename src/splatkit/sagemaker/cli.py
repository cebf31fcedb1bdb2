"""``splatkit sagemaker run|status|logs|stop|definition``: the launcher's commands, given parsed arguments.

:mod:`splatkit.cli` builds the parser (``run`` shares ``splatkit run``'s stage options: backends,
generated ``--train-steps`` style flags, ``--set``, ``--config``) and calls the functions here with
the parsed :class:`argparse.Namespace` and, for ``run``, the pipeline options it merged. Every
setting is checked before anything talks to AWS: a malformed S3 URI, a role that is not a role
ARN, an unknown instance type or a KMS volume key on an NVMe instance is one
:class:`~splatkit.errors.InputError` line, and nothing is uploaded or submitted.

* ``run`` builds a :class:`~splatkit.sagemaker.config.LauncherConfig` from the
  ``--launcher-config`` TOML file overridden by the flags, and runs
  :func:`splatkit.pipeline.runner.run` with a
  :class:`~splatkit.sagemaker.executor.SageMakerExecutor`, so the local ``OUT`` gets the
  manifests, ``events.jsonl`` and report of a local run. The run id defaults to the one recorded
  in ``OUT/sagemaker.json`` (the same command re-attaches), else ``OUTNAME-YYYYMMDD-HHMMSS``.
* ``status``, ``logs`` and ``stop`` take ``RUN``: the output folder of a run (its
  ``sagemaker.json`` names the run id, job prefix and region) or a run id. A run's jobs are
  found by their deterministic names (:func:`splatkit.sagemaker.names.job_name`), every attempt.

boto3 is imported inside functions only (``splatkit --help`` stays light). Clients come from
:func:`make_client`: the default boto3 session, in the chosen region, at the endpoint named by
the environment variable :data:`ENDPOINT_ENV` when it is set (tests point it at moto's server;
only the launcher reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from splatkit.errors import InputError, SplatkitError
from splatkit.sagemaker.config import LauncherConfig, launcher_config_from_mapping
from splatkit.sagemaker.executor import (
    LOG_GROUPS,
    STATE_FILE,
    TERMINAL_STATUSES,
    PollPolicy,
    SageMakerExecutor,
    describe_job,
    read_state,
)
from splatkit.sagemaker.instances import DEFAULT_INSTANCE_TYPES, STAGE_JOB_TYPES, has_local_storage
from splatkit.sagemaker.names import DEFAULT_JOB_PREFIX, MAX_ATTEMPT, check_job_prefix, check_run_id, job_name
from splatkit.sagemaker.transfer import aws_error_text, is_aws_error
from splatkit.sagemaker.uris import parse_s3_uri
from splatkit.stages import STAGE_KINDS

__all__ = [
    "DEFAULT_LOG_LINES",
    "ENDPOINT_ENV",
    "FOLLOW_POLL_S",
    "JobStatus",
    "RunRef",
    "default_run_id",
    "definition_command",
    "find_run_jobs",
    "kms_notes",
    "launcher_config_from_args",
    "logs_command",
    "make_client",
    "read_launcher_file",
    "resolve_run",
    "run_command",
    "status_command",
    "stop_command",
    "wait",
]

#: Environment variable with an endpoint URL for every AWS client the launcher makes (tests: moto).
ENDPOINT_ENV = "SPLATKIT_AWS_ENDPOINT_URL"
DEFAULT_LOG_LINES = 100
#: Seconds between CloudWatch Logs reads with ``logs --follow``.
FOLLOW_POLL_S = 10.0
#: Keys of the launcher file that are the command's, not the jobs' (see read_launcher_file).
_CLIENT_KEYS = ("region",)
_TAG_ARG = re.compile(r"(?P<key>[^=]+)=(?P<value>.*)", re.S)
_RUN_ID_JUNK = re.compile(r"[^A-Za-z0-9._-]+")
_ATTEMPT_SUFFIX = re.compile(r"-a(\d+)$")


# -- AWS access ---------------------------------------------------------------------------------


def make_client(service: str, region: str | None) -> Any:
    """A boto3 client of the default session for ``service`` in ``region`` (None: the session's).

    The endpoint is :data:`ENDPOINT_ENV` when set. Retries use botocore's ``standard`` mode
    (throttling and transient errors back off and retry).

    Raises
    ------
    BackendUnavailableError
        boto3 is not installed.
    InputError
        No region is configured anywhere.
    """
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import NoRegionError
    except ImportError as e:
        from splatkit.errors import BackendUnavailableError
        from splatkit.sagemaker.api_model import AWS_INSTALL_HINT

        raise BackendUnavailableError("the SageMaker launcher needs boto3", kind="launcher", name="sagemaker",
                                      install_hint=AWS_INSTALL_HINT) from e
    from splatkit import __version__

    config = Config(retries={"mode": "standard"}, user_agent_extra=f"splatkit/{__version__}")
    try:
        return boto3.session.Session(region_name=region).client(
            service, endpoint_url=os.environ.get(ENDPOINT_ENV) or None, config=config)
    except NoRegionError as e:
        raise InputError("no AWS region is configured: pass --region, set region in the launcher config, or set "
                         "AWS_REGION") from e


def wait(seconds: float) -> None:
    """Sleep between polls (one place, so that tests can stand in for SageMaker while the CLI waits)."""
    time.sleep(seconds)


def _sleep(seconds: float) -> None:
    # Looked up at call time, so a replaced `wait` is used by executors made before the change.
    wait(seconds)


def _aws(what: str, error: BaseException) -> InputError:
    return InputError(f"AWS refused {what} ({aws_error_text(error)}); check the credentials, the region and the "
                      "caller's IAM policy (docs/sagemaker.md)")


# -- the launcher configuration ------------------------------------------------------------------


def read_launcher_file(path: str | Path) -> dict[str, Any]:
    """The ``--launcher-config`` TOML file as a mapping (LauncherConfig keys and ``region``).

    Raises
    ------
    InputError
        A missing file or invalid TOML (with the line).
    """
    from splatkit.pipeline.config import read_toml

    data = read_toml(path, what="launcher config file")
    region = data.get("region")
    if region is not None and not isinstance(region, str):
        raise InputError(f"region = {region!r} is not a region name (e.g. \"us-east-1\")", path=path)
    return data


def _parse_tags(texts: Iterable[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for text in texts:
        m = _TAG_ARG.fullmatch(text)
        if m is None or not m["key"].strip():
            raise InputError(f"--tag {text!r}: expected KEY=VALUE, e.g. --tag project=site-42")
        tags[m["key"].strip()] = m["value"]
    return tags


def launcher_config_from_args(args: argparse.Namespace) -> tuple[LauncherConfig, str | None]:
    """The run's :class:`LauncherConfig` and the AWS region, from the launcher file and the flags.

    Flags win over the file. ``--kms-key`` encrypts the S3 outputs and the storage volume of every
    EBS-only stage; instance types with local NVMe storage (ml.g4dn, ml.g5, ...) are encrypted by
    their hardware and SageMaker accepts no volume key there. A volume key given for such a stage in
    the file is refused by LauncherConfig. The region is ``--region``, else the file's, else the one
    in the output URI (``https://bucket.s3.REGION.amazonaws.com/...``), else the session's.
    """
    where = "command line"
    data: dict[str, Any] = {}
    if getattr(args, "launcher_config", None):
        where = str(args.launcher_config)
        data = read_launcher_file(args.launcher_config)
    region = getattr(args, "region", None) or data.get("region")
    data = {k: v for k, v in data.items() if k not in _CLIENT_KEYS}
    for key, value in (("output", args.output), ("role_arn", args.role), ("image_uri", args.image)):
        if value is not None:
            data[key] = value
    if args.spot is not None:
        data["spot"] = args.spot
    for kind in STAGE_JOB_TYPES:
        chosen = getattr(args, f"instance_type_{kind}", None)
        if chosen is not None:
            table = data.get(kind)
            data[kind] = {**(table if isinstance(table, Mapping) else {}), "instance_type": chosen}
    if args.subnet or args.security_group:
        if not (args.subnet and args.security_group):
            raise InputError("--subnet and --security-group go together: give the private subnets and the security "
                             "groups of the jobs (repeat each flag for several)")
        data["vpc"] = {"subnets": list(args.subnet), "security_group_ids": list(args.security_group)}
    if args.tag:
        file_tags = data.get("tags")
        data["tags"] = {**(file_tags if isinstance(file_tags, Mapping) else {}), **_parse_tags(args.tag)}
    if args.kms_key:
        data["output_kms_key_id"] = args.kms_key
        for kind in STAGE_JOB_TYPES:
            table = data.get(kind)
            table = dict(table) if isinstance(table, Mapping) else {}
            instance_type = table.get("instance_type")
            if not isinstance(instance_type, str):
                instance_type = DEFAULT_INSTANCE_TYPES[kind]
            if "volume_kms_key_id" not in table and _ebs_only(instance_type):
                table["volume_kms_key_id"] = args.kms_key
                data[kind] = table
    config = launcher_config_from_mapping(data, where=where)
    if region is None:
        # LauncherConfig keeps the normal s3:// form, which has no region: ask the text as given.
        region = parse_s3_uri(data["output"]).region
    return config, region


def _ebs_only(instance_type: str) -> bool:
    try:
        return has_local_storage(instance_type) is False
    except InputError:
        return False  # a malformed type is reported by LauncherConfig, with its setting's name


def default_run_id(out: Path, now: datetime | None = None) -> str:
    """``OUTNAME-YYYYMMDD-HHMMSS`` (UTC): a new run id named after the local output folder."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    base = _RUN_ID_JUNK.sub("-", Path(out).resolve().name).strip("-._")[:40].rstrip("-._") or "run"
    return check_run_id(f"{base}-{stamp}")


def _run_id_for(args: argparse.Namespace, out: Path, config: LauncherConfig) -> tuple[str, str]:
    if args.run_id:
        return check_run_id(args.run_id), "given"
    state = read_state(out)
    if state is not None:
        expected = config.output_uri.child(state["run_id"]).as_prefix().uri
        if state.get("output") == expected:
            return check_run_id(state["run_id"]), f"recorded in {out / STATE_FILE}"
    return default_run_id(out), "new"


# -- run -----------------------------------------------------------------------------------------


def run_command(args: argparse.Namespace, options: Any, progress: Any) -> Any:
    """``splatkit sagemaker run``: the pipeline with every stage as a SageMaker job; returns the RunResult.

    ``options`` are the merged pipeline options (:class:`~splatkit.pipeline.config.PipelineOptions`)
    and ``progress`` the progress callback (or None), as ``splatkit run`` makes them.
    """
    from splatkit.pipeline.runner import run

    if not (args.source and args.output and args.out):
        raise InputError("splatkit sagemaker run needs PHOTOS, the S3 prefix and OUT, e.g. `splatkit sagemaker run "
                         "photos/ s3://my-bucket/splatkit out/ --role ARN --image URI` (or --print-config)")
    source, out = Path(args.source), Path(args.out)
    if not source.exists():
        raise InputError("no such file or folder", path=source)
    config, region = launcher_config_from_args(args)
    run_id, origin = _run_id_for(args, out, config)
    attempt = args.attempt if args.attempt is not None else 1
    for kind in STAGE_JOB_TYPES:  # checks the attempt, and shows the names the jobs will have
        job_name(run_id, kind, attempt, prefix=config.job_prefix)
    notes = kms_notes(config, args.kms_key)
    print(f"run id: {run_id} ({origin}); S3: {config.output_uri.child(run_id).as_prefix().uri}; "
          f"re-run the same command (or pass --run-id {run_id}) to re-attach", flush=True)
    for note in notes:
        print(note, flush=True)
    executor = SageMakerExecutor(config, run_id, sagemaker=make_client("sagemaker", region),
                                 s3=make_client("s3", region), attempt=attempt, poll=PollPolicy(), sleep=_sleep)
    return run(source, out, config=options, progress=progress, executor=executor)


def kms_notes(config: LauncherConfig, kms_key: str | None) -> list[str]:
    """One line per stage that ``--kms-key`` cannot encrypt the volume of (local NVMe instance storage)."""
    if not kms_key:
        return []
    return [f"note: {kind} runs on {config.resources(kind).instance_type}, whose local NVMe storage the hardware "
            f"encrypts; SageMaker takes no volume KMS key there (--kms-key still encrypts the job's S3 output)"
            for kind in STAGE_JOB_TYPES if config.resources(kind).volume_kms_key_id is None]


# -- definition ----------------------------------------------------------------------------------


def definition_command(args: argparse.Namespace, options: Any) -> int:
    """``splatkit sagemaker definition``: print the run's Step Functions definition and IAM policies as JSON.

    Nothing is created or uploaded; see :mod:`splatkit.sagemaker.definition`.
    """
    from splatkit.pipeline.runner import resolve_stages
    from splatkit.plugins import get_plugin_manager
    from splatkit.sagemaker.definition import definition_document, to_json
    from splatkit.stages import config_to_dict

    if not args.output:
        raise InputError("splatkit sagemaker definition needs the S3 prefix, e.g. `splatkit sagemaker definition "
                         "s3://my-bucket/splatkit --run-id flight-7 --role ARN --image URI`")
    if not args.run_id:
        raise InputError("splatkit sagemaker definition needs --run-id: the run's job names and S3 folder are "
                         "written into the definition")
    config, region = launcher_config_from_args(args)
    run_id = check_run_id(args.run_id)
    resolved = resolve_stages(options, get_plugin_manager().stages, runs_here=False)
    stages = {r.kind: (r.backend, config_to_dict(r.config)) for r in resolved}
    document = definition_document(config, stages, run_id=run_id, attempt=args.attempt or 1, region=region,
                                   state_machine_name=args.state_machine_name)
    print(to_json(document))
    return 0


# -- finding a run's jobs ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRef:
    """Where a run's jobs are: the run id, the job name prefix, the region (None: the session's)."""

    run_id: str
    job_prefix: str = DEFAULT_JOB_PREFIX
    region: str | None = None
    source: str = "run id"


def resolve_run(text: str, *, region: str | None = None, job_prefix: str | None = None,
                launcher_file: str | None = None) -> RunRef:
    """``RUN`` of status/logs/stop: a run's output folder (with ``sagemaker.json``) or a run id.

    Explicit ``region``/``job_prefix`` win over the folder's record, which wins over the launcher
    file's.
    """
    data = read_launcher_file(launcher_file) if launcher_file else {}
    file_prefix = data.get("job_prefix")
    file_region = data.get("region")
    path = Path(text)
    state = read_state(path) if path.is_dir() else None
    if state is not None:
        run_id = check_run_id(state["run_id"])
        prefix = job_prefix or state.get("job_prefix") or file_prefix or DEFAULT_JOB_PREFIX
        region = region or state.get("region") or file_region
        source = str(path / STATE_FILE)
    else:
        if path.is_dir() or "/" in text or os.sep in text:
            raise InputError(f"has no {STATE_FILE}: not the OUT folder of `splatkit sagemaker run`, or no job was "
                             "submitted from it yet; give the run id instead", path=path)
        run_id = check_run_id(text)
        prefix = job_prefix or file_prefix or DEFAULT_JOB_PREFIX
        region = region or file_region
        source = "run id"
    return RunRef(run_id=run_id, job_prefix=check_job_prefix(prefix), region=region, source=source)


@dataclass(frozen=True)
class JobStatus:
    """One job of a run, as ``DescribeProcessingJob``/``DescribeTrainingJob`` reports it."""

    kind: str
    attempt: int
    job_name: str
    job_type: str
    status: str
    secondary_status: str | None = None
    instance_type: str | None = None
    created: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    failure_reason: str | None = None
    exit_message: str | None = None
    training_seconds: int | None = None
    billable_seconds: int | None = None
    spot: bool = False
    described: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def running(self) -> bool:
        """Not yet Completed, Failed or Stopped (``Stopping`` counts as running)."""
        return self.status not in TERMINAL_STATUSES

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (times in ISO 8601)."""
        out: dict[str, Any] = {}
        for name in ("kind", "attempt", "job_name", "job_type", "status", "secondary_status", "instance_type",
                     "created", "started", "ended", "failure_reason", "exit_message", "training_seconds",
                     "billable_seconds", "spot"):
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _job_status(kind: str, attempt: int, job_type: str, d: Mapping[str, Any]) -> JobStatus:
    if job_type == "processing":
        cluster = (d.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        return JobStatus(kind=kind, attempt=attempt, job_name=d["ProcessingJobName"], job_type=job_type,
                         status=str(d.get("ProcessingJobStatus", "")), instance_type=cluster.get("InstanceType"),
                         created=d.get("CreationTime"), started=d.get("ProcessingStartTime"),
                         ended=d.get("ProcessingEndTime"), failure_reason=d.get("FailureReason"),
                         exit_message=d.get("ExitMessage"), described=dict(d))
    resources = d.get("ResourceConfig") or {}
    return JobStatus(kind=kind, attempt=attempt, job_name=d["TrainingJobName"], job_type=job_type,
                     status=str(d.get("TrainingJobStatus", "")), secondary_status=d.get("SecondaryStatus"),
                     instance_type=resources.get("InstanceType"), created=d.get("CreationTime"),
                     started=d.get("TrainingStartTime"), ended=d.get("TrainingEndTime"),
                     failure_reason=d.get("FailureReason"), training_seconds=d.get("TrainingTimeInSeconds"),
                     billable_seconds=d.get("BillableTimeInSeconds"),
                     spot=bool(d.get("EnableManagedSpotTraining")), described=dict(d))


def _list_job_names(sagemaker: Any, job_type: str, contains: str) -> list[str]:
    if job_type == "processing":
        call, key, name_key = sagemaker.list_processing_jobs, "ProcessingJobSummaries", "ProcessingJobName"
    else:
        call, key, name_key = sagemaker.list_training_jobs, "TrainingJobSummaries", "TrainingJobName"
    names: list[str] = []
    kwargs: dict[str, Any] = {"NameContains": contains, "MaxResults": 100}
    while True:
        page = call(**kwargs)
        names += [s[name_key] for s in page.get(key, [])]
        if not page.get("NextToken"):
            return names
        kwargs["NextToken"] = page["NextToken"]


def _name_stem(run: RunRef, kind: str) -> str:
    # The common start of every attempt's name: a long run id is cut shorter for a longer attempt
    # number (names.job_name), so compare the names of 1-, 2- and 3-digit attempts.
    stems = [job_name(run.run_id, kind, a, prefix=run.job_prefix)[:-len(str(a))] for a in (1, 10, 100)]
    return os.path.commonprefix(stems)


def find_run_jobs(sagemaker: Any, run: RunRef, kinds: Iterable[str] = STAGE_KINDS) -> list[JobStatus]:
    """Every job of ``run`` (all attempts of each stage kind), described, in pipeline and attempt order.

    A job belongs to the run when its name is exactly ``job_name(run_id, kind, attempt, prefix)``.
    """
    found: list[JobStatus] = []
    for kind in kinds:
        job_type = STAGE_JOB_TYPES[kind]
        attempts: list[tuple[int, str]] = []
        for name in set(_list_job_names(sagemaker, job_type, _name_stem(run, kind))):
            m = _ATTEMPT_SUFFIX.search(name)
            if m is None or not 1 <= int(m[1]) <= MAX_ATTEMPT:
                continue
            if job_name(run.run_id, kind, int(m[1]), prefix=run.job_prefix) == name:
                attempts.append((int(m[1]), name))
        for attempt, name in sorted(attempts):
            described = describe_job(sagemaker, job_type, name)
            if described is not None:
                found.append(_job_status(kind, attempt, job_type, described))
    return found


def _jobs_or_error(sagemaker: Any, run: RunRef, kinds: Iterable[str] = STAGE_KINDS) -> list[JobStatus]:
    try:
        jobs = find_run_jobs(sagemaker, run, kinds)
    except SplatkitError:
        raise
    except Exception as e:
        if not is_aws_error(e):
            raise
        raise _aws("listing the run's jobs", e) from e
    if not jobs:
        region = run.region or getattr(getattr(sagemaker, "meta", None), "region_name", None) or "the default region"
        raise InputError(f"no SageMaker job of run {run.run_id!r} in {region} (job names "
                         f"{job_name(run.run_id, 'sfm', prefix=run.job_prefix)}, ...); check the run id, --region "
                         "and --job-prefix")
    return jobs


# -- status --------------------------------------------------------------------------------------


def _clock(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{secs:02d}s" if minutes else f"{secs}s")


def _status_lines(job: JobStatus) -> list[str]:
    status = job.status
    if job.secondary_status and job.secondary_status != job.status:
        status += f" ({job.secondary_status})"
    times = f"{_clock(job.started or job.created)} -> {_clock(job.ended)}"
    if job.started and job.ended:
        times += f" ({_duration((job.ended - job.started).total_seconds())})"
    lines = [f"{job.kind:<9} {job.job_name:<40} {status:<28} {times}"
             + (f"  {job.instance_type}" if job.instance_type else "")]
    if job.spot and job.training_seconds and job.billable_seconds is not None:
        saved = 100.0 * (1.0 - job.billable_seconds / job.training_seconds)
        lines.append(f"{'':<9} spot: billed {job.billable_seconds} s of {job.training_seconds} s ({saved:.0f}% saved)")
    if job.failure_reason:
        lines.append(f"{'':<9} reason: {job.failure_reason}")
    if job.exit_message and job.exit_message != job.failure_reason:
        lines.append(f"{'':<9} message: {job.exit_message}")
    return lines


def status_command(args: argparse.Namespace) -> int:
    """``splatkit sagemaker status RUN``: each job of the run, its status, times and failure reason."""
    run = resolve_run(args.run, region=args.region, job_prefix=args.job_prefix, launcher_file=args.launcher_config)
    jobs = _jobs_or_error(make_client("sagemaker", run.region), run)
    if args.json:
        print(json.dumps({"run_id": run.run_id, "job_prefix": run.job_prefix, "region": run.region,
                          "jobs": [j.to_json() for j in jobs]}, indent=2))
        return 0
    print(f"run {run.run_id} (from {run.source})")
    for job in jobs:
        for line in _status_lines(job):
            print(line)
    return 0


# -- logs ----------------------------------------------------------------------------------------


def _pick_job(jobs: list[JobStatus], kind: str, attempt: int | None, run: RunRef) -> JobStatus:
    mine = [j for j in jobs if j.kind == kind and (attempt is None or j.attempt == attempt)]
    if not mine:
        which = f"attempt {attempt} of the {kind} stage" if attempt is not None else f"{kind} job"
        raise InputError(f"run {run.run_id!r} has no {which} (it has: "
                         f"{', '.join(j.job_name for j in jobs)}); `splatkit sagemaker status` lists them")
    return mine[-1]


def _log_streams(logs: Any, group: str, job: str) -> list[str]:
    names: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamNamePrefix": job + "/"}
    while True:
        try:
            page = logs.describe_log_streams(**kwargs)
        except Exception as e:
            if getattr(e, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # the account's first job creates the group
            raise
        names += [s["logStreamName"] for s in page.get("logStreams", [])]
        if not page.get("nextToken"):
            return sorted(names)
        kwargs["nextToken"] = page["nextToken"]


@dataclass
class _LogReader:
    """Reads a job's streams; remembers where each stream was read up to (``nextForwardToken``)."""

    logs: Any
    group: str
    job: str
    tokens: dict[str, str] = field(default_factory=dict)

    def last(self, lines: int) -> list[tuple[int, str, str]]:
        events: list[tuple[int, str, str]] = []
        for stream in _log_streams(self.logs, self.group, self.job):
            page = self.logs.get_log_events(logGroupName=self.group, logStreamName=stream, limit=max(lines, 1),
                                            startFromHead=False)
            events += [(e["timestamp"], stream, e["message"]) for e in page.get("events", [])]
            self.tokens[stream] = page["nextForwardToken"]
        return sorted(events)[-lines:] if lines > 0 else []

    def new(self) -> list[tuple[int, str, str]]:
        events: list[tuple[int, str, str]] = []
        for stream in _log_streams(self.logs, self.group, self.job):
            while True:
                kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": stream, "startFromHead": True}
                if stream in self.tokens:
                    kwargs["nextToken"] = self.tokens[stream]
                page = self.logs.get_log_events(**kwargs)
                events += [(e["timestamp"], stream, e["message"]) for e in page.get("events", [])]
                token = page["nextForwardToken"]
                if token == self.tokens.get(stream) or not page.get("events"):
                    self.tokens[stream] = token
                    break
                self.tokens[stream] = token
        return sorted(events)


def _print_events(events: list[tuple[int, str, str]], several_streams: bool) -> None:
    for timestamp, stream, message in events:
        clock = datetime.fromtimestamp(timestamp / 1000.0, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        host = f" [{stream.split('/', 1)[-1]}]" if several_streams else ""
        print(f"{clock}{host} {message.rstrip()}", flush=True)


def logs_command(args: argparse.Namespace) -> int:
    """``splatkit sagemaker logs RUN STAGE``: the last lines of the stage's job log (``--follow``: until it ends)."""
    run = resolve_run(args.run, region=args.region, job_prefix=args.job_prefix, launcher_file=args.launcher_config)
    if args.lines < 0:
        raise InputError(f"--lines {args.lines}: give a count of 0 or more")
    sagemaker = make_client("sagemaker", run.region)
    job = _pick_job(_jobs_or_error(sagemaker, run), args.stage, args.attempt, run)
    group = LOG_GROUPS[job.job_type]
    reader = _LogReader(make_client("logs", run.region), group, job.job_name)
    try:
        events = reader.last(args.lines)
        _print_events(events, len(reader.tokens) > 1)
        if not reader.tokens:
            print(f"no log stream {job.job_name}/... in {group} yet (a job writes its first lines once its instance "
                  f"has started; the job is {job.status})", file=sys.stderr, flush=True)
        running = job.running
        while args.follow and running:
            wait(FOLLOW_POLL_S)
            described = describe_job(sagemaker, job.job_type, job.job_name)
            running = described is not None and _job_status(job.kind, job.attempt, job.job_type, described).running
            _print_events(reader.new(), len(reader.tokens) > 1)
    except SplatkitError:
        raise
    except Exception as e:
        if not is_aws_error(e):
            raise
        raise _aws(f"reading the log of {job.job_name}", e) from e
    if args.follow:
        print(f"{job.job_name} is {_final_status(sagemaker, job)}", file=sys.stderr, flush=True)
    return 0


def _final_status(sagemaker: Any, job: JobStatus) -> str:
    described = describe_job(sagemaker, job.job_type, job.job_name)
    return job.status if described is None else _job_status(job.kind, job.attempt, job.job_type, described).status


# -- stop ----------------------------------------------------------------------------------------


def stop_command(args: argparse.Namespace) -> int:
    """``splatkit sagemaker stop RUN``: StopProcessingJob/StopTrainingJob for every running job of the run."""
    run = resolve_run(args.run, region=args.region, job_prefix=args.job_prefix, launcher_file=args.launcher_config)
    sagemaker = make_client("sagemaker", run.region)
    kinds = [args.stage] if getattr(args, "stage", None) else list(STAGE_KINDS)
    jobs = _jobs_or_error(sagemaker, run, kinds)
    running = [j for j in jobs if j.running and j.status != "Stopping"]
    if not running:
        print(f"no running job in run {run.run_id}: " + ", ".join(f"{j.job_name} {j.status}" for j in jobs))
        return 0
    for job in running:
        try:
            if job.job_type == "processing":
                sagemaker.stop_processing_job(ProcessingJobName=job.job_name)
            else:
                sagemaker.stop_training_job(TrainingJobName=job.job_name)
        except Exception as e:
            if not is_aws_error(e):
                raise
            raise _aws(f"stopping {job.job_name}", e) from e
        print(f"stopping {job.kind} job {job.job_name} (SageMaker sends SIGTERM; the entry saves what it can "
              "within 120 s)")
    return 0
