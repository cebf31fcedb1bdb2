"""A stand-in for SageMaker's job runner, on top of moto's server: the real container entry, run locally.

moto records CreateProcessingJob / CreateTrainingJob and answers Describe*, but runs nothing and
reports every job ``Completed`` the moment it is created. :class:`SageMakerHarness` plays the
rest of SageMaker's part for the jobs created through one boto3 client:

* it watches the client's Create* calls (botocore events: the request as sent, and the answer),
  and sets each new job ``InProgress`` in moto's backend (the server runs in this process);
* when the launcher waits (the harness's :meth:`~SageMakerHarness.sleep` is the executor's
  ``sleep``), it runs every pending job the way the platform does: it checks the request's
  seams (every processing input ``S3InputMode=File`` with its type, distribution and a unique
  ``LocalPath`` under ``/opt/ml/processing/``; training channels in File mode), downloads the
  inputs from moto's S3 into an emulated ``/opt/ml`` tree under the test's tmp folder, writes
  the platform's config files (``processingjobconfig.json``; ``inputdataconfig.json``,
  ``hyperparameters.json``, ``resourceconfig.json``), restores checkpoints, runs the *real*
  entry (``python -m splatkit.sagemaker.entry KIND``, the request's ContainerEntrypoint for
  processing, the image ENTRYPOINT plus ``train`` for training) in a subprocess with
  ``SPLATKIT_SAGEMAKER_ROOT`` pointing at the tree, uploads the outputs where the request says
  (processing outputs to their S3Uri; the model to ``S3OutputPath/JOB/output/model/`` for
  ``CompressionType=NONE`` or ``.../output/model.tar.gz`` for ``GZIP``; checkpoints back to
  ``CheckpointConfig.S3Uri``), and sets the job ``Completed`` or ``Failed`` with
  ``FailureReason`` (training: from ``/opt/ml/output/failure``) and ``ExitMessage`` (processing:
  from ``/opt/ml/output/message``) in moto's backend, where Describe* reads them over HTTP.

Assumptions where AWS's documentation is silent: an ``S3Prefix`` input lands under its LocalPath
named relative to the prefix's last ``/`` (a single object keeps its base name); the uncompressed
model goes under ``output/model/``. The executor does not rely on the latter: it reads
``ModelArtifacts.S3ModelArtifacts``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splatkit.sagemaker import container
from splatkit.sagemaker.uris import parse_s3_uri

REGION = "us-east-1"
ENTRY_TIMEOUT_S = 900


@dataclass
class JobRun:
    """One job the harness ran: its emulated /opt/ml, exit status and output."""

    name: str
    kind: str
    root: Path
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    status: str = ""


def _moto_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]


def download_input(s3: Any, uri_text: str, dest: Path) -> list[Path]:
    """What SageMaker does for an ``S3Prefix`` input: every object whose key starts with the URI's key.

    Files are named relative to the key's last ``/`` (so a single object keeps its base name).
    """
    uri = parse_s3_uri(uri_text)
    base = uri.key[: uri.key.rfind("/") + 1]
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=uri.bucket, Prefix=uri.key):
        for item in page.get("Contents", []):
            rel = item["Key"][len(base):]
            if not rel or rel.endswith("/"):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(uri.bucket, item["Key"], str(target))
            written.append(target)
    return written


def upload_folder(s3: Any, folder: Path, uri_text: str) -> list[str]:
    """Upload every regular file under ``folder`` (symlinks are not followed, as SageMaker's upload)."""
    uri = parse_s3_uri(uri_text).as_prefix()
    keys = []
    if not folder.is_dir():
        return keys
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        key = uri.key + path.relative_to(folder).as_posix()
        s3.upload_file(str(path), uri.bucket, key)
        keys.append(key)
    return keys


def entry_environment(root: Path, extra: dict[str, str]) -> dict[str, str]:
    """The entry's environment: this one, the job's ``Environment``, the emulated root, a private TMPDIR."""
    tmp = root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **extra, container.ENV_ROOT: str(root), "TMPDIR": str(tmp)}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def run_entry(argv: list[str], root: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the entry command ``argv`` (``python3`` is this interpreter, as in the image) to completion."""
    command = [sys.executable if i == 0 and a in ("python3", "python") else a for i, a in enumerate(argv)]
    return subprocess.run(command, env=entry_environment(root, environment), cwd=root, capture_output=True,
                          text=True, timeout=ENTRY_TIMEOUT_S)


def write_training_config(root: Path, request: dict[str, Any]) -> None:
    """The files SageMaker puts under /opt/ml/input/config for a training job."""
    config = container.local_path(container.INPUT_CONFIG_DIR, root)
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters") or {}))
    channels = {c["ChannelName"]: {"TrainingInputMode": c.get("InputMode") or
                                   request["AlgorithmSpecification"]["TrainingInputMode"],
                                   "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
                for c in request.get("InputDataConfig", [])}
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"],
                                                            "network_interface_name": "eth0"}))


def write_processing_config(root: Path, request: dict[str, Any], arn: str) -> None:
    """The files SageMaker puts under /opt/ml/config for a processing job (the request itself, the hosts)."""
    config = container.local_path(container.PROCESSING_CONFIG_FILE, root)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({**request, "ProcessingJobArn": arn}))
    container.local_path(container.PROCESSING_RESOURCE_CONFIG_FILE, root).write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))


def processing_seam_problems(request: dict[str, Any]) -> list[str]:
    """What an older SageMaker API refused (and what the original system got wrong) in a processing request."""
    problems = []
    paths = []
    for item in request.get("ProcessingInputs", []):
        s3_input = item.get("S3Input", {})
        for key, allowed in (("S3InputMode", {"File"}), ("S3DataType", {"S3Prefix"}),
                             ("S3DataDistributionType", {"FullyReplicated"})):
            if s3_input.get(key) not in allowed:
                problems.append(f"input {item.get('InputName')}: {key}={s3_input.get(key)!r}")
        paths.append(s3_input.get("LocalPath"))
    paths += [o["S3Output"].get("LocalPath") for o in request.get("ProcessingOutputConfig", {}).get("Outputs", [])]
    for path in paths:
        if not isinstance(path, str) or not path.startswith(container.PROCESSING_ROOT + "/"):
            problems.append(f"LocalPath {path!r} is not under {container.PROCESSING_ROOT}/")
    if len(set(paths)) != len(paths):
        problems.append(f"LocalPaths repeat: {paths}")
    return problems


@dataclass
class SageMakerHarness:
    """Runs the jobs created through ``clients["sagemaker"]`` (see the module docstring).

    Attributes
    ----------
    behaviour : dict
        Stage kind -> ``"run"`` (default), ``"stop"`` (the job ends ``Stopped`` /
        ``MaxWaitTimeExceeded`` without running, like a spot job that never got capacity) or
        ``"canned"`` (the container's output is a copy of ``canned[kind]``, the entry does not run).
    canned : dict
        Stage kind -> a folder standing for what the entry would have written.
    created : list
        Job names in the order the client created them.
    runs : list[JobRun]
        The jobs the harness ran.
    """

    clients: dict[str, Any]
    jobs_root: Path
    behaviour: dict[str, str] = field(default_factory=dict)
    canned: dict[str, Path] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    runs: list[JobRun] = field(default_factory=list)
    requests: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    sleeps: int = 0

    def __post_init__(self) -> None:
        self._handlers: list[tuple[str, Callable[..., Any]]] = []
        for operation in ("CreateProcessingJob", "CreateTrainingJob"):
            self._on(f"provide-client-params.sagemaker.{operation}", self._capture)
            self._on(f"after-call.sagemaker.{operation}", self._created)

    def _on(self, event: str, handler: Callable[..., Any]) -> None:
        self.clients["sagemaker"].meta.events.register(event, handler)
        self._handlers.append((event, handler))

    def close(self) -> None:
        """Stop watching the client (it is shared by the test session)."""
        for event, handler in self._handlers:
            self.clients["sagemaker"].meta.events.unregister(event, handler)
        self._handlers.clear()

    def __enter__(self) -> SageMakerHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- watching the client -----------------------------------------------------------------------

    def _capture(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        name = params.get("ProcessingJobName") or params.get("TrainingJobName")
        self.requests[name] = (model.name, json.loads(json.dumps(params)))

    def _created(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if http_response.status_code != 200:
            return
        arn = parsed.get("ProcessingJobArn") or parsed.get("TrainingJobArn")
        name = arn.rsplit("/", 1)[1]
        self.created.append(name)
        self.pending.append(name)
        self._set(name, "InProgress", secondary="Starting")

    # -- moto's view of the job ------------------------------------------------------------------

    def _job(self, name: str) -> Any:
        backend = _moto_backend()
        operation, _ = self.requests[name]
        return (backend.processing_jobs if operation == "CreateProcessingJob" else backend.training_jobs)[name]

    def _set(self, name: str, status: str, *, secondary: str | None = None, failure_reason: str | None = None,
             exit_message: str | None = None, model_artifacts: str | None = None) -> None:
        job = self._job(name)
        if hasattr(job, "processing_job_status"):
            job.processing_job_status = status
        else:
            job.training_job_status = status
            job.secondary_status = secondary or status
        if failure_reason is not None:
            job.failure_reason = failure_reason
        if exit_message is not None:
            job.exit_message = exit_message
        if model_artifacts is not None:
            job.model_artifacts = {"S3ModelArtifacts": model_artifacts}

    # -- running jobs ----------------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """The executor's wait: run every job created since the last one."""
        self.sleeps += 1
        while self.pending:
            self.run_job(self.pending.pop(0))

    def run_job(self, name: str) -> JobRun:
        operation, request = self.requests[name]
        kind = dict((t["Key"], t["Value"]) for t in request.get("Tags", []))["splatkit:stage"]
        root = self.jobs_root / name
        root.mkdir(parents=True, exist_ok=True)
        if self.behaviour.get(kind) == "stop":
            self._set(name, "Stopped", secondary="MaxWaitTimeExceeded")
            run = JobRun(name=name, kind=kind, root=root, returncode=None, status="Stopped")
        elif operation == "CreateProcessingJob":
            run = self._run_processing(name, kind, root, request)
        else:
            run = self._run_training(name, kind, root, request)
        self.runs.append(run)
        return run

    def _container(self, argv: list[str], kind: str, root: Path, environment: dict[str, str],
                   output: Path) -> subprocess.CompletedProcess[str]:
        if self.behaviour.get(kind) == "canned":
            shutil.copytree(self.canned[kind], output, dirs_exist_ok=True)
            return subprocess.CompletedProcess(argv, 0, "", "")
        return run_entry(argv, root, environment)

    def _run_processing(self, name: str, kind: str, root: Path, request: dict[str, Any]) -> JobRun:
        s3 = self.clients["s3"]
        problems = processing_seam_problems(request)
        if problems:
            reason = f"ValidationException: {'; '.join(problems)}"
            self._set(name, "Failed", failure_reason=reason)
            return JobRun(name=name, kind=kind, root=root, returncode=None, status="Failed", stderr=reason)
        for item in request["ProcessingInputs"]:
            download_input(s3, item["S3Input"]["S3Uri"], container.local_path(item["S3Input"]["LocalPath"], root))
        outputs = request["ProcessingOutputConfig"]["Outputs"]
        for item in outputs:
            container.local_path(item["S3Output"]["LocalPath"], root).mkdir(parents=True, exist_ok=True)
        write_processing_config(root, request, self._job(name).arn)
        app = request["AppSpecification"]
        done = self._container([*app["ContainerEntrypoint"], *app.get("ContainerArguments", [])], kind, root,
                               request.get("Environment") or {},
                               container.local_path(outputs[0]["S3Output"]["LocalPath"], root))
        message_file = container.local_path(container.MESSAGE_FILE, root)
        message = message_file.read_text(encoding="utf-8") if message_file.is_file() else None
        if done.returncode == 0:
            for item in outputs:
                upload_folder(s3, container.local_path(item["S3Output"]["LocalPath"], root), item["S3Output"]["S3Uri"])
            self._set(name, "Completed", exit_message=message)
            status = "Completed"
        else:
            self._set(name, "Failed", failure_reason="AlgorithmError: See job logs for more information",
                      exit_message=message)
            status = "Failed"
        return JobRun(name=name, kind=kind, root=root, returncode=done.returncode, stdout=done.stdout,
                      stderr=done.stderr, status=status)

    def _run_training(self, name: str, kind: str, root: Path, request: dict[str, Any]) -> JobRun:
        s3 = self.clients["s3"]
        problems = [f"channel {c['ChannelName']}: InputMode={c.get('InputMode')!r}"
                    for c in request.get("InputDataConfig", []) if c.get("InputMode", "File") != "File"]
        if problems:
            self._set(name, "Failed", failure_reason=f"ValidationException: {'; '.join(problems)}")
            return JobRun(name=name, kind=kind, root=root, returncode=None, status="Failed")
        for channel in request.get("InputDataConfig", []):
            download_input(s3, channel["DataSource"]["S3DataSource"]["S3Uri"],
                           container.local_path(container.training_channel_path(channel["ChannelName"]), root))
        write_training_config(root, request)
        checkpoint = request.get("CheckpointConfig")
        checkpoints = container.local_path(checkpoint.get("LocalPath") or container.CHECKPOINT_DIR, root) \
            if checkpoint else None
        if checkpoint:
            download_input(s3, parse_s3_uri(checkpoint["S3Uri"]).as_prefix().uri, checkpoints)
        model_dir = container.local_path(container.MODEL_DIR, root)
        model_dir.mkdir(parents=True, exist_ok=True)
        environment = {**(request.get("Environment") or {}), "TRAINING_JOB_NAME": name,
                       "TRAINING_JOB_ARN": self._job(name).arn}
        done = self._container([*container.ENTRY_COMMAND, "train"], kind, root, environment, model_dir)
        if checkpoint:
            upload_folder(s3, checkpoints, checkpoint["S3Uri"])
        failure_file = container.local_path(container.FAILURE_FILE, root)
        if done.returncode == 0:
            output = parse_s3_uri(request["OutputDataConfig"]["S3OutputPath"]).child(name, "output")
            if request["OutputDataConfig"].get("CompressionType", "GZIP") == "NONE":
                artifacts = output.child("model").as_prefix()
                upload_folder(s3, model_dir, artifacts.uri)
            else:
                artifacts = output.child("model.tar.gz")
                buffer = io.BytesIO()
                with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                    for path in sorted(model_dir.rglob("*")):
                        if path.is_file():
                            tar.add(path, arcname=path.relative_to(model_dir).as_posix())
                s3.put_object(Bucket=artifacts.bucket, Key=artifacts.key, Body=buffer.getvalue())
            self._set(name, "Completed", model_artifacts=artifacts.uri)
            status = "Completed"
        else:
            text = failure_file.read_text(encoding="utf-8")[:1024] if failure_file.is_file() else ""
            self._set(name, "Failed", failure_reason=f"AlgorithmError: {text}, exit code: {done.returncode}")
            status = "Failed"
        return JobRun(name=name, kind=kind, root=root, returncode=done.returncode, stdout=done.stdout,
                      stderr=done.stderr, status=status)
