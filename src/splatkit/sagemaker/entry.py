"""The container entry: ``python3 -m splatkit.sagemaker.entry {sfm,train,compress}``.

One module runs every stage inside a SageMaker job. It reads only what the platform provides
(see :mod:`splatkit.sagemaker.container` for every path):

* **processing** (``sfm``, ``compress``): ``/opt/ml/config/processingjobconfig.json``, the job's
  own request; its inputs and outputs are found by name there (``photos`` or ``model``, ``spec``;
  output ``sfm`` or ``compress``) and used at the ``LocalPath`` the request gave them;
* **training** (``train``, also as the bare ``train`` SageMaker appends to the image's
  ENTRYPOINT): ``/opt/ml/input/config/inputdataconfig.json`` (channels ``sfm`` and ``spec``, File
  mode) and ``resourceconfig.json``; the model goes to ``/opt/ml/model``.

The stage itself comes from the job spec (``spec/stage.json``: kind, backend, options; checked
against ``SPLATKIT_SPEC_SHA256`` when the job sets it) and runs through the plugin registry and the
normal stage API, ``Stage.run(input, config, workdir, progress)``, exactly as in a local run:

=========  ===========================================  ==============================================
stage      input                                        output folder (the workdir)
=========  ===========================================  ==============================================
sfm        the ``photos`` folder, or the one ZIP in it  the processing output: the SfM layout
train      the ``sfm`` channel (an SfM output folder)   a scratch folder whose ``checkpoints`` is
                                                        ``/opt/ml/checkpoints``; moved to
                                                        ``/opt/ml/model`` when training succeeds
compress   the training output in ``model``, as files   the processing output: the ``.sog``
           or as ``model.tar.gz`` (unpacked safely,
           :mod:`splatkit.sagemaker.archives`)
=========  ===========================================  ==============================================

Next to the output the entry writes :data:`~splatkit.sagemaker.container.RESULT_FILE` (the
stage's report and files) for the client. On failure it writes the splatkit error, one line,
to ``/opt/ml/output/failure`` (training: becomes ``FailureReason``) or ``/opt/ml/output/message``
(processing: becomes ``ExitMessage``) and exits with :data:`EXIT_FAILED`.

Stopping: SageMaker stops a job (StopTrainingJob, MaxRuntime, a reclaimed spot instance) with
SIGTERM and kills it 120 s later. Training then stops at the next step boundary (the progress
callback raises :class:`StopRequested`), sfm and compress stop at once; either way the reason is
written as above and the process exits with :data:`EXIT_STOPPED` well within the grace period (a
watchdog exits hard after :data:`STOP_DEADLINE_S`). Checkpoints are written by the trainer into
``/opt/ml/checkpoints``, which SageMaker syncs to ``CheckpointConfig.S3Uri`` while the job runs
and restores when a spot job restarts; the trainer resumes from the newest one of the same
options and scene.

The root ``/opt/ml`` can be moved with the environment variable
:data:`~splatkit.sagemaker.container.ENV_ROOT` (the tests run this entry in a subprocess on an
emulated tree).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from splatkit.errors import InputError, SplatkitError
from splatkit.sagemaker import container
from splatkit.sagemaker.archives import extract_model_archive, is_model_archive
from splatkit.sagemaker.instances import STAGE_JOB_TYPES
from splatkit.sagemaker.jobs import SPEC_SCHEMA
from splatkit.stages import ProgressUpdate, StageResult, StopRequested

__all__ = [
    "EXIT_FAILED",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "RESULT_SCHEMA",
    "STOP_DEADLINE_S",
    "JobContext",
    "StageSpec",
    "StopRequested",
    "StopSignal",
    "find_training_output",
    "main",
    "parse_kind",
    "photo_source",
    "processing_context",
    "read_spec",
    "run_job",
    "training_context",
    "write_job_message",
]

# Named explicitly: run as ``python -m``, __name__ would be "__main__".
logger = logging.getLogger(container.ENTRY_MODULE)

EXIT_FAILED = 1
EXIT_USAGE = 2
#: 128 + SIGTERM, the shell's convention for "terminated".
EXIT_STOPPED = 143
#: Seconds after SIGTERM before the watchdog exits hard; leaves 20 s of SageMaker's 120.
STOP_DEADLINE_S = container.STOP_GRACE_S - 20
RESULT_SCHEMA = 1
_PROGRESS_LOG_EVERY_S = 30.0
_USAGE = (f"usage: python3 -m {container.ENTRY_MODULE} {{{','.join(STAGE_JOB_TYPES)}}}  "
          "(runs inside a SageMaker job; see docs/sagemaker.md)")


@dataclass(frozen=True)
class JobContext:
    """Where one job's inputs and output are, from the platform's own files.

    Attributes
    ----------
    kind : str
        Stage kind.
    job_type : {"processing", "training"}
    job_name : str
        From the processing job config or ``TRAINING_JOB_NAME`` ("" when not given).
    root : Path
        The folder standing for ``/opt/ml``.
    inputs : Mapping[str, Path]
        Input (processing) or channel (training) name -> local folder.
    output : Path
        The folder SageMaker uploads: the processing output, or ``/opt/ml/model``.
    """

    kind: str
    job_type: str
    job_name: str
    root: Path
    inputs: Mapping[str, Path]
    output: Path


@dataclass(frozen=True)
class StageSpec:
    """The job spec (``spec/stage.json``, written by :func:`splatkit.sagemaker.jobs.job_spec`)."""

    kind: str
    backend: str
    config: Mapping[str, Any]
    run_id: str
    attempt: int


def parse_kind(argv: Sequence[str]) -> str:
    """The stage kind from the command line: ``KIND``, or ``train train`` (an image whose ENTRYPOINT
    already names ``train``, to which SageMaker appends another ``train``).

    Raises
    ------
    InputError
        Anything else, or a kind other than the job's ``SPLATKIT_STAGE``.
    """
    args = list(argv)
    if args == ["train", "train"]:
        args = ["train"]
    if len(args) != 1 or args[0] not in STAGE_JOB_TYPES:
        raise InputError(f"cannot run {' '.join(args) or '(no arguments)'!r}; {_USAGE}")
    kind = args[0]
    declared = os.environ.get(container.ENV_STAGE)
    if declared and declared != kind:
        raise InputError(f"the job's {container.ENV_STAGE} is {declared!r} but the entry was started for {kind!r}; "
                         "the job's entry point and its request disagree (rebuild the job with the launcher)")
    return kind


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise InputError(f"{what} not found: this entry runs inside a SageMaker job (or set "
                         f"{container.ENV_ROOT} to an emulated /opt/ml)", path=path) from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{what} is not readable JSON ({e})", path=path) from e


def _mapped(path: Any, root: Path, where: str) -> Path:
    if not isinstance(path, str):
        raise InputError(f"{where} has no local path (got {path!r})")
    try:
        return container.local_path(path, root)
    except ValueError as e:
        raise InputError(f"{where}: {e}; SageMaker puts every job path under {container.OPT_ML}") from e


def _require(found: Mapping[str, Path], names: Sequence[str], what: str, source: Path) -> None:
    missing = [n for n in names if n not in found]
    if missing:
        raise InputError(f"the job has no {what} {missing} (it has {sorted(found)}); it was not built by this "
                         "splatkit's launcher (splatkit.sagemaker.jobs)", path=source)


def processing_context(kind: str, root: Path) -> JobContext:
    """Inputs and output of a processing job, from ``/opt/ml/config/processingjobconfig.json``."""
    path = container.local_path(container.PROCESSING_CONFIG_FILE, root)
    doc = _read_json(path, "the processing job config")
    if not isinstance(doc, dict):
        raise InputError("the processing job config is not a JSON object", path=path)
    inputs: dict[str, Path] = {}
    for item in doc.get("ProcessingInputs") or []:
        name = item.get("InputName") if isinstance(item, dict) else None
        s3_input = item.get("S3Input") if isinstance(item, dict) else None
        if isinstance(name, str) and isinstance(s3_input, dict):
            inputs[name] = _mapped(s3_input.get("LocalPath"), root, f"processing input {name!r}")
    outputs: dict[str, Path] = {}
    for item in (doc.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        name = item.get("OutputName") if isinstance(item, dict) else None
        s3_output = item.get("S3Output") if isinstance(item, dict) else None
        if isinstance(name, str) and isinstance(s3_output, dict):
            outputs[name] = _mapped(s3_output.get("LocalPath"), root, f"processing output {name!r}")
    _require(inputs, (*container.STAGE_INPUTS[kind], container.SPEC_INPUT), "inputs", path)
    output_name = container.STAGE_OUTPUTS[kind]
    _require(outputs, (output_name,), "output", path)
    return JobContext(kind=kind, job_type="processing", job_name=str(doc.get("ProcessingJobName", "")), root=root,
                      inputs=inputs, output=outputs[output_name])


def training_context(root: Path) -> JobContext:
    """Channels and model folder of a training job, from ``/opt/ml/input/config/``."""
    path = container.local_path(container.INPUT_DATA_CONFIG_FILE, root)
    doc = _read_json(path, "the training input data config")
    if not isinstance(doc, dict):
        raise InputError("the training input data config is not a JSON object", path=path)
    inputs: dict[str, Path] = {}
    for name, channel in doc.items():
        mode = channel.get("TrainingInputMode", "File") if isinstance(channel, dict) else None
        if mode != "File":
            raise InputError(f"channel {name!r} uses input mode {mode!r}; splatkit reads files: build the job with "
                             "TrainingInputMode File (splatkit.sagemaker.jobs does)", path=path)
        inputs[name] = container.local_path(container.training_channel_path(name), root)
    _require(inputs, (*container.STAGE_INPUTS["train"], container.SPEC_INPUT), "channels", path)
    resources = container.local_path(container.TRAINING_RESOURCE_CONFIG_FILE, root)
    if resources.is_file():
        hosts = _read_json(resources, "the training resource config")
        if isinstance(hosts, dict) and len(hosts.get("hosts") or []) > 1:
            raise InputError(f"the job runs on {len(hosts['hosts'])} instances; splatkit trains on one "
                             "(InstanceCount 1)", path=resources)
    return JobContext(kind="train", job_type="training", job_name=os.environ.get("TRAINING_JOB_NAME", ""), root=root,
                      inputs=inputs, output=container.local_path(container.MODEL_DIR, root))


def read_spec(folder: Path, kind: str) -> StageSpec:
    """The job spec in ``folder``; checked against the job's ``SPLATKIT_SPEC_SHA256`` when set.

    Raises
    ------
    InputError
        Missing or malformed spec, another schema or kind, or a digest that does not match.
    """
    path = Path(folder) / container.SPEC_FILE
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"the job spec is missing ({e.strerror or e}); the launcher uploads it before "
                         "submitting the job", path=path) from e
    expected = os.environ.get(container.ENV_SPEC_SHA256)
    if expected and hashlib.sha256(raw).hexdigest() != expected:
        raise InputError(f"the job spec does not match the job's {container.ENV_SPEC_SHA256}: it was replaced "
                         "after the job was built; submit the job again", path=path)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"the job spec is not JSON ({e})", path=path) from e
    if not isinstance(doc, dict) or doc.get("schema") != SPEC_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else doc
        raise InputError(f"the job spec has schema {got!r}, this splatkit reads {SPEC_SCHEMA}; use the same "
                         "splatkit version in the image and on the client", path=path)
    if doc.get("kind") != kind:
        raise InputError(f"the job spec is for stage {doc.get('kind')!r}, not {kind!r}", path=path)
    backend, config = doc.get("backend"), doc.get("config")
    run_id, attempt = doc.get("run_id"), doc.get("attempt")
    if not (isinstance(backend, str) and backend and isinstance(config, dict) and isinstance(run_id, str)
            and isinstance(attempt, int)):
        raise InputError("the job spec lacks backend, config, run_id or attempt", path=path)
    return StageSpec(kind=kind, backend=backend, config=config, run_id=run_id, attempt=attempt)


def photo_source(folder: Path) -> Path:
    """The SfM input in the ``photos`` folder: the folder, or the single ZIP it holds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("the photos input is missing; the job's photos prefix was empty", path=folder)
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if not entries:
        raise InputError("the photos input is empty: upload the photos (a folder's files or one .zip)",
                         path=folder)
    if len(entries) == 1 and entries[0].is_file() and entries[0].suffix.lower() == ".zip":
        return entries[0]
    return folder


def find_training_output(folder: Path) -> Path:
    """The trained PLY in a training output folder (already unpacked).

    Looked up, in order, through the job's :data:`~splatkit.sagemaker.container.RESULT_FILE` (its
    first file), a local pipeline's ``manifest.json`` (its primary file), or the only ``.ply`` at
    the top of the folder.

    Raises
    ------
    InputError
        None of these names an existing PLY.
    """
    from splatkit.pipeline.manifest import read_manifest

    folder = Path(folder)
    named: str | None = None
    result = folder / container.RESULT_FILE
    if result.is_file():
        doc = _read_json(result, "the training job's result file")
        files = doc.get("files") if isinstance(doc, dict) else None
        if not (isinstance(files, list) and files and isinstance(files[0], str)):
            raise InputError(f"{container.RESULT_FILE} lists no files; it was not written by splatkit's entry",
                             path=result)
        named = files[0]
    else:
        manifest = read_manifest(folder)
        named = manifest.primary if manifest is not None and manifest.primary else None
    if named is not None:
        path = folder / named
        if ".." in Path(named).parts or Path(named).is_absolute() or not path.is_file():
            raise InputError(f"the training output names {named!r} as its model, which is not a file in it",
                             path=folder)
        return path
    plys = sorted(p for p in folder.glob("*.ply") if p.is_file())
    if len(plys) != 1:
        shown = sorted(p.name for p in folder.iterdir())[:8] if folder.is_dir() else []
        raise InputError(f"cannot tell which file is the trained model: expected {container.RESULT_FILE}, a "
                         f"manifest.json or exactly one .ply (found {shown})", path=folder)
    return plys[0]


class StopSignal:
    """SIGTERM handling for one job (a context manager).

    The first SIGTERM sets :attr:`requested`, starts a watchdog that calls ``on_deadline`` and
    exits the process after ``deadline_s``, and, with ``raise_now``, raises
    :class:`StopRequested` at once; otherwise the job raises it at its next :meth:`check` (the
    training loop's progress callback). Later signals are ignored. Outside the ``with`` block
    the previous handler is back.
    """

    def __init__(self, *, raise_now: bool, deadline_s: float = STOP_DEADLINE_S,
                 on_deadline: Callable[[], None] = lambda: None) -> None:
        self.raise_now = raise_now
        self.deadline_s = deadline_s
        self.on_deadline = on_deadline
        self.requested = False
        self.finished = False
        self._previous: Any = None

    def __enter__(self) -> StopSignal:
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested or self.finished:
            return
        self.requested = True
        logger.warning("SIGTERM: SageMaker is stopping the job; stopping within %.0f s", self.deadline_s)
        threading.Thread(target=self._watchdog, name="splatkit-stop-watchdog", daemon=True).start()
        if self.raise_now:
            raise StopRequested("stopped by SIGTERM")

    def _watchdog(self) -> None:
        time.sleep(self.deadline_s)
        if self.finished:
            return
        logger.error("still running %.0f s after SIGTERM; exiting before SageMaker kills the job", self.deadline_s)
        try:
            self.on_deadline()
        finally:
            os._exit(EXIT_STOPPED)

    def check(self) -> None:
        """Raise :class:`StopRequested` if SIGTERM has arrived."""
        if self.requested and not self.finished:
            raise StopRequested("stopped by SIGTERM")


class _ProgressLog:
    """The stages' progress callback in a job: checks for a stop, logs at most every 30 s (CloudWatch)."""

    def __init__(self, stop: StopSignal) -> None:
        self.stop = stop
        self.last: ProgressUpdate | None = None
        self._logged_at = 0.0

    def __call__(self, update: ProgressUpdate) -> None:
        self.last = update
        now = time.monotonic()
        if now - self._logged_at >= _PROGRESS_LOG_EVERY_S or (update.total and update.step >= update.total):
            self._logged_at = now
            total = f"/{update.total}" if update.total else ""
            metrics = " ".join(f"{k}={v:.4g}" for k, v in update.metrics.items())
            logger.info("%s %d%s %s %s", update.stage, update.step, total, update.message, metrics)
        self.stop.check()


def write_job_message(context_kind: str, root: Path, message: str) -> Path | None:
    """Write ``message`` where SageMaker reads a job's reason; return the file.

    Training: ``/opt/ml/output/failure`` (read only when the job fails: ``FailureReason``);
    processing: ``/opt/ml/output/message`` (``ExitMessage``, failed or not). Cut to
    :data:`~splatkit.sagemaker.container.MESSAGE_LIMIT_BYTES` bytes of UTF-8 (SageMaker fails a
    processing job whose message is not UTF-8). Nothing is written, and None returned, when
    ``root`` does not exist (the entry was started outside a job).
    """
    training = STAGE_JOB_TYPES.get(context_kind) == "training"
    path = container.local_path(container.FAILURE_FILE if training else container.MESSAGE_FILE, root)
    if not Path(root).is_dir():
        # Not in a job (a mistyped command on a workstation): never create /opt/ml there.
        return None
    text = message.encode("utf-8")[:container.MESSAGE_LIMIT_BYTES].decode("utf-8", "ignore")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _relative_files(result: StageResult[Any], workdir: Path) -> list[str]:
    files = []
    for f in result.files:
        try:
            files.append(Path(f).resolve().relative_to(workdir.resolve()).as_posix())
        except ValueError:
            logger.warning("%s is outside the job's output folder; the client will not receive it", f)
    return files


def _write_result(ctx: JobContext, spec: StageSpec, result: StageResult[Any], workdir: Path,
                  seconds: float) -> Path:
    from splatkit.io.atomic import atomic_write_text

    doc = {"schema": RESULT_SCHEMA, "kind": spec.kind, "backend": spec.backend, "run_id": spec.run_id,
           "attempt": spec.attempt, "job_name": ctx.job_name, "files": _relative_files(result, workdir),
           "report": result.report, "seconds": round(seconds, 3)}
    return atomic_write_text(workdir / container.RESULT_FILE, json.dumps(doc, indent=2, sort_keys=True))


def _scratch(prefix: str) -> Path:
    # /tmp, not /opt/ml: AWS reserves /opt/ml for the platform's own folders.
    return Path(tempfile.mkdtemp(prefix=prefix))


def _run_sfm(ctx: JobContext, resolved: Any, progress: _ProgressLog) -> tuple[StageResult[Any], Path]:
    from splatkit.pipeline.runner import check_photo_source

    source = photo_source(ctx.inputs["photos"])
    check_photo_source(source)
    ctx.output.mkdir(parents=True, exist_ok=True)
    return resolved.stage_cls().run(source, resolved.config, ctx.output, progress), ctx.output


def _run_train(ctx: JobContext, resolved: Any, progress: _ProgressLog) -> tuple[StageResult[Any], Path]:
    checkpoints = container.local_path(container.CHECKPOINT_DIR, ctx.root)
    checkpoints.mkdir(parents=True, exist_ok=True)
    scratch = _scratch("splatkit-train-")
    # The trainer keeps and resumes checkpoints in WORKDIR/checkpoints; pointing that at the folder
    # SageMaker syncs with S3 is what makes a restarted spot job resume.
    link = scratch / "checkpoints"
    link.symlink_to(checkpoints, target_is_directory=True)
    try:
        result = resolved.stage_cls().run(ctx.inputs["sfm"], resolved.config, scratch, progress)
        link.unlink()
        ctx.output.mkdir(parents=True, exist_ok=True)
        for entry in sorted(scratch.iterdir()):
            shutil.move(str(entry), str(ctx.output / entry.name))
        moved = tuple(ctx.output / Path(f).resolve().relative_to(scratch.resolve()) for f in result.files
                      if Path(f).resolve().is_relative_to(scratch.resolve()))
        return StageResult(output=result.output, report=result.report, files=moved), ctx.output
    finally:
        if link.is_symlink():
            link.unlink()
        shutil.rmtree(scratch, ignore_errors=True)


def _run_compress(ctx: JobContext, resolved: Any, progress: _ProgressLog) -> tuple[StageResult[Any], Path]:
    from splatkit.io.ply import read_ply

    folder = ctx.inputs["model"]
    archives = sorted(p for p in folder.iterdir() if p.is_file() and is_model_archive(p)) if folder.is_dir() else []
    scratch = None
    try:
        if len(archives) == 1:
            scratch = _scratch("splatkit-model-")
            folder = extract_model_archive(archives[0], scratch / "model")
        elif len(archives) > 1:
            raise InputError(f"the model input holds {len(archives)} archives; expected one model.tar.gz or the "
                             "model's files", path=folder)
        cloud = read_ply(find_training_output(folder))
        ctx.output.mkdir(parents=True, exist_ok=True)
        return resolved.stage_cls().run(cloud, resolved.config, ctx.output, progress), ctx.output
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


_RUNNERS: dict[str, Callable[[JobContext, Any, _ProgressLog], tuple[StageResult[Any], Path]]] = {
    "sfm": _run_sfm, "train": _run_train, "compress": _run_compress}


def _stop_message(kind: str, root: Path, progress: _ProgressLog | None) -> str:
    at = ""
    if progress is not None and progress.last is not None:
        last = progress.last
        at = f" at {last.stage} step {last.step}" + (f"/{last.total}" if last.total else "")
    text = f"stopped by SIGTERM{at} (SageMaker stops a job, or reclaims a spot instance, with SIGTERM)"
    if kind == "train":
        folder = container.local_path(container.CHECKPOINT_DIR, root)
        saved = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        text += (f"; checkpoints kept for a restart: {', '.join(saved[-2:])}" if saved
                 else "; no checkpoint was written yet")
    return text


def run_job(kind: str, root: Path, stop: StopSignal) -> int:
    """Run the stage job ``kind`` under ``root``; return the exit status (failures are written, not raised)."""
    from splatkit.pipeline.runner import resolve_stage
    from splatkit.plugins import get_plugin_manager

    progress: _ProgressLog | None = None
    try:
        started = time.perf_counter()
        ctx = training_context(root) if STAGE_JOB_TYPES[kind] == "training" else processing_context(kind, root)
        spec = read_spec(ctx.inputs[container.SPEC_INPUT], kind)
        logger.info("job %s: %s/%s for run %s (attempt %d)", ctx.job_name or "(unnamed)", kind, spec.backend,
                    spec.run_id, spec.attempt)
        resolved = resolve_stage(kind, spec.backend, spec.config, get_plugin_manager().stages)
        progress = _ProgressLog(stop)
        result, workdir = _RUNNERS[kind](ctx, resolved, progress)
        seconds = time.perf_counter() - started
        stop.finished = True
        _write_result(ctx, spec, result, workdir, seconds)
        summary = f"{kind}/{spec.backend} finished in {seconds:.0f} s"
        logger.info(summary)
        if ctx.job_type == "processing":
            write_job_message(kind, root, summary)  # the message file of a processing job is its ExitMessage
        return 0
    except (StopRequested, KeyboardInterrupt):
        message = _stop_message(kind, root, progress)
        logger.warning(message)
        write_job_message(kind, root, message)
        return EXIT_STOPPED
    except SplatkitError as e:
        logger.error("%s", e)
        write_job_message(kind, root, str(e))
        return EXIT_FAILED
    except Exception as e:
        logger.exception("internal error")
        write_job_message(kind, root, f"internal error in splatkit ({type(e).__name__}: {e}); the job's log has the "
                                  "traceback, please report it")
        return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job named on the command line; return the process exit status."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = Path(os.environ.get(container.ENV_ROOT) or container.OPT_ML)
    try:
        kind = parse_kind(sys.argv[1:] if argv is None else argv)
    except InputError as e:
        print(f"splatkit: {e}", file=sys.stderr)
        return EXIT_USAGE
    stop = StopSignal(raise_now=kind != "train",
                      on_deadline=lambda: write_job_message(kind, root, _stop_message(kind, root, None)))
    with stop:
        return run_job(kind, root, stop)


if __name__ == "__main__":
    sys.exit(main())
