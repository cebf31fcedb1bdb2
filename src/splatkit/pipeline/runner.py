"""The local pipeline: photos -> SfM -> training -> compression, resumable, with events and a report.

Each stage runs in ``OUT/<stage>.partial/`` (a stable name, so a killed training finds its
checkpoints there and resumes), then gets ``manifest.json`` written last and is renamed to
``OUT/<stage>/``. A stage is skipped when ``OUT/<stage>/manifest.json`` records the same input
digest, config digest and manifest version as this run (see :mod:`splatkit.pipeline.manifest`).
The input digest of SfM is the photos' content; that of training is the SfM output digest; that of
compression is the training output digest. So a changed compression option re-runs compression
only, a changed training option re-runs training and compression, and new photos re-run all.

A partial folder is reused only by an attempt with the same input and options (recorded in its
``attempt.json``); otherwise it is wiped first, so stale checkpoints never leak into a new run.

One run per output folder: a run holds ``OUT/.splatkit.lock`` (:mod:`splatkit.pipeline.lock`)
from start to end, so no run ever wipes or promotes another live run's folders. Holding it, a
run first removes the scratch a killed run left in ``OUT`` (``.<stage>.partial.<what>.*``
folders, half-written temporary files; see :func:`remove_stale_scratch`). A stage's scratch,
including a photo ZIP's extraction, lives in ``OUT/.<stage>.partial.scratch.*`` and is removed
when the stage ends, whether it succeeded or failed. The output folder and the photo source may
not overlap (:func:`check_out_dir_apart`): splatkit would read its own images as photos, or
miss that photos were deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from splatkit.errors import BackendUnavailableError, InputError
from splatkit.io.atomic import atomic_temp_target, is_atomic_temp_name
from splatkit.pipeline import events_log
from splatkit.pipeline import manifest as mf
from splatkit.pipeline.lock import out_dir_lock
from splatkit.pipeline.executors import Executor, LocalExecutor
from splatkit.pipeline.config import (
    AUTO,
    STAGE_ORDER,
    PipelineOptions,
    ResolvedStage,
    build_stage_config,
    load_config_file,
    options_from_mapping,
)
from splatkit.stages import ProgressCallback, config_to_dict, no_progress

__all__ = [
    "StageOutcome",
    "RunResult",
    "ResolvedStage",
    "run",
    "run_stage",
    "resolve_stage",
    "resolve_stages",
    "prepare_out_dir",
    "check_out_dir_apart",
    "remove_stale_scratch",
    "check_photo_source",
    "input_digest_of_path",
]

logger = logging.getLogger(__name__)

ATTEMPT_FILE = "attempt.json"
PARTIAL_SUFFIX = ".partial"
#: Folders a stage needs only while it runs; removed before the folder is finalised. Training
#: checkpoints hold the parameters and both Adam moments: several times the final PLY.
SCRATCH_AFTER_SUCCESS: dict[str, tuple[str, ...]] = {"train": ("checkpoints",)}
#: A stage's scratch beside its partial folder: ``.<stage>.partial.<what>.<random>``, made by the
#: pipeline (``scratch``) and by backends (``pycolmap``, ``undistort``: ``mkdtemp`` beside their
#: workdir). Only a run holding the folder's lock removes them.
_STAGE_SCRATCH = re.compile(r"^\.(?P<stage>[^/]+)\.partial\.[A-Za-z0-9_-]+\.[a-z0-9_]{8}$")
#: Top-level entries of OUT that the pipeline writes (or deletes); a source inside one is refused.
_RUN_ENTRIES = ("events.jsonl", "report.json", "report.html", "report_files")


@dataclass(frozen=True)
class StageOutcome:
    """What happened to one stage in a run.

    Attributes
    ----------
    status : {"ran", "skipped", "failed"}
    seconds : float
        This run's time for the stage (0 when skipped); ``manifest.seconds`` is the time it took
        when it ran.
    reason : str
        Why it ran ("its options changed") or ``"up to date"``.
    output
        The in-memory contract when the stage ran in this process, else None.
    """

    kind: str
    backend: str
    status: str
    stage_dir: Path
    seconds: float = 0.0
    reason: str = ""
    manifest: mf.StageManifest | None = None
    output: Any = None
    error: str = ""
    resumed: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.kind}/{self.backend}"

    @property
    def primary_file(self) -> Path | None:
        if self.manifest is None or not self.manifest.primary:
            return None
        return self.stage_dir / self.manifest.primary


@dataclass(frozen=True)
class RunResult:
    """The pipeline's outcome: per-stage outcomes, the final file and the report files."""

    out_dir: Path
    stages: tuple[StageOutcome, ...]
    final_file: Path | None
    report_json: Path | None = None
    report_html: Path | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def stage(self, kind: str) -> StageOutcome:
        for outcome in self.stages:
            if outcome.kind == kind:
                return outcome
        raise KeyError(kind)


# -----------------------------------------------------------------------------------------------
# Choosing backends and options


def _as_options(config: PipelineOptions | Mapping[str, Any] | str | Path | None) -> PipelineOptions:
    if config is None:
        return PipelineOptions()
    if isinstance(config, PipelineOptions):
        return config
    if isinstance(config, (str, Path)):
        return PipelineOptions().merged(load_config_file(config))
    return options_from_mapping(config)


def resolve_stage(kind: str, name: str, values: Mapping[str, Any], registry: Any, *,
                  require_available: bool = True, runs_here: bool = True) -> ResolvedStage:
    """One stage's backend class and typed config; ``name`` ``"auto"`` (or empty) asks the registry.

    ``runs_here=False`` is for stages an executor runs on another machine (a SageMaker GPU
    instance): ``auto`` is then the registry's most preferred default candidate, without probing
    this machine's device, and availability here is not required.

    Raises
    ------
    PluginError
        An unknown backend name (the message lists the registered ones).
    BackendUnavailableError
        A backend that cannot run here (with the install hint), when ``require_available``.
    ContractError
        An unknown option or a value of the wrong type (names the stage and the option).
    """
    note = ""
    if not runs_here:
        require_available = False
    if (not name or name == AUTO) and not runs_here:
        candidates = registry.default_candidates(kind)
        if not candidates:
            raise BackendUnavailableError(f"no {kind} backend is registered as a default; name one",
                                          kind=kind, name=AUTO)
        name, note = candidates[0].name, f"auto: {candidates[0].name} (preferred where the stage runs)"
        logger.info("%s backend %s", kind, note)
    elif not name or name == AUTO:
        try:
            name, note = registry.choose_default(kind)
        except BackendUnavailableError:
            candidates = registry.default_candidates(kind)
            if require_available or not candidates:
                raise
            # Printing a config on a machine that cannot run it: show the preferred backend.
            name, note = candidates[0].name, f"auto: {candidates[0].name} (cannot run on this machine)"
        logger.info("%s backend %s", kind, note)
    cls = registry.require_available(kind, name) if require_available else registry.get(kind, name)
    config = build_stage_config(cls.Config, values, where=f"{kind}/{name}")
    return ResolvedStage(kind=kind, backend=name, stage_cls=cls, config=config, note=note)


def resolve_stages(options: PipelineOptions, registry: Any, *, require_available: bool = True,
                   runs_here: bool = True) -> list[ResolvedStage]:
    """:func:`resolve_stage` for every stage kind, in pipeline order."""
    return [resolve_stage(kind, options.backends.get(kind) or AUTO, options.options.get(kind, {}), registry,
                          require_available=require_available, runs_here=runs_here) for kind in STAGE_ORDER]


# -----------------------------------------------------------------------------------------------
# Input and output checks


def prepare_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` and prove it writable; :class:`InputError` with the fix otherwise."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink() and not out_dir.exists():
        raise InputError(f"is a symbolic link to {os.readlink(out_dir)}, which does not exist; create that "
                         "folder or pass another output folder", path=out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("the output path exists and is not a folder; pass a folder", path=out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".splatkit-write-test.tmp.", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(f"the output folder is not writable ({e.strerror or e}); choose another folder or "
                         "fix its permissions", path=out_dir) from e
    return out_dir


def check_out_dir_apart(source: str | Path, out_dir: str | Path, *, what: str = "output folder",
                        owned: tuple[str, ...] | None = None) -> None:
    """Refuse an output folder that overlaps the photo source (symbolic links resolved).

    An output folder inside the photo folder makes the next run read splatkit's own images
    (undistorted photos, evaluation renders) as photos; one equal to it keeps every stage "up to
    date" after photos are deleted. A source inside the output folder is refused where the run
    writes or deletes: in a stage folder, its partial folder, the report files or a dot-entry.
    Elsewhere in ``OUT`` it is allowed (``splatkit demo`` keeps its photos in ``OUT/photos``).

    Parameters
    ----------
    source
        The photo folder or ZIP (or a stage's input path).
    out_dir
        The output folder (need not exist yet).
    what
        How the message names ``out_dir``.
    owned
        Top-level names in ``out_dir`` the run writes or deletes; None: the pipeline's; ``()``:
        all of it (a stage folder is replaced as a whole).

    Raises
    ------
    InputError
        One line naming both paths and the fix.
    """
    src = Path(source).resolve()
    out = Path(out_dir).resolve()
    a_what = f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"
    if owned is None:
        owned = tuple(STAGE_ORDER) + tuple(k + PARTIAL_SUFFIX for k in STAGE_ORDER) + _RUN_ENTRIES
    if out == src:
        raise InputError(f"the {what} is the photo source {src}: splatkit would read its own outputs as photos "
                         f"and miss deleted ones; pass {a_what} outside {src}", path=out_dir)
    if src.is_dir() and out.is_relative_to(src):
        raise InputError(f"the {what} is inside the photo folder {src}: a later run would read splatkit's own "
                         f"images as photos; pass {a_what} outside {src}", path=out_dir)
    if src.is_relative_to(out):
        top = src.relative_to(out).parts[0]
        if not owned or top in owned or top.startswith("."):
            raise InputError(f"the photo source is inside the {what} {out}, in {top}, which splatkit writes "
                             f"and deletes; move the photos out of {out} or pass another {what}", path=source)


def remove_stale_scratch(folder: str | Path, *, names: tuple[str, ...] | None = None) -> list[Path]:
    """Remove the scratch a killed run left directly in ``folder``; only call it holding its lock.

    Removed: stage scratch folders (``.<stage>.partial.<what>.<random>``) and the temporary
    siblings of atomic writes and folder swaps (:func:`splatkit.io.atomic.is_atomic_temp_name`).
    Anything else, a user's file included, is left alone.

    Parameters
    ----------
    folder
        The output folder (or a stage folder's parent).
    names
        Only scratch of these entries (``"train"`` covers ``.train.partial.*`` and
        ``.train.tmp.*``); None: every entry's.

    Returns
    -------
    list of Path
        What was removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _STAGE_SCRATCH.match(entry.name)
        owner = match.group("stage") if match is not None else atomic_temp_target(entry.name)
        if owner is None:
            continue
        if names is not None and owner not in names and owner.removesuffix(PARTIAL_SUFFIX) not in names:
            continue
        _remove(entry)
        removed.append(entry)
    if removed:
        logger.info("removed %d leftover(s) of an interrupted run in %s: %s", len(removed), folder,
                    ", ".join(p.name for p in removed))
    return removed


def _remove_atomic_temps(folder: Path) -> None:
    """Remove half-written temporary files anywhere under a partial folder that is resumed."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*filenames, *dirnames]:
            if is_atomic_temp_name(name):
                _remove(Path(dirpath) / name)
        dirnames[:] = [d for d in dirnames if not is_atomic_temp_name(d)]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def check_photo_source(source: Path) -> None:
    """Cheap early checks of a photo source, before anything is written.

    A ZIP must open and hold at least one photo (by suffix); a missing path is refused. Folders
    are checked by the SfM stage itself (an OpenSfM dataset folder is a valid source too).

    Raises
    ------
    InputError
        Missing path, unreadable or empty ZIP, or a ZIP without photos (naming what it holds).
    """
    from splatkit.io.images import IMAGE_SUFFIXES
    from splatkit.io.safe_zip import open_archive

    source = Path(source)
    if not source.exists():
        raise InputError("does not exist; pass a folder of photos or a .zip of them", path=source)
    if source.is_dir() or source.suffix.lower() != ".zip":
        return
    with open_archive(source) as archive:  # the one checked path: bad names, encryption, duplicates refused
        names = [m.name for m in archive.kept() if not m.name.endswith("/")]
    if not names:
        raise InputError("the ZIP is empty; it must hold the photos (.jpg, .png, .tif, .webp)", path=source)
    photos = [n for n in names if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise InputError(f"the ZIP holds no photos ({shown}); expected "
                         f"{'/'.join(sorted(IMAGE_SUFFIXES))} files", path=source)


def input_digest_of_path(path: Path) -> str:
    """Digest of a stage input given as a path: a finished stage folder's output digest, or content."""
    path = Path(path)
    manifest = mf.read_manifest(path) if path.is_dir() else None
    if manifest is not None and manifest.version == mf.MANIFEST_VERSION:
        return manifest.output_digest
    return mf.digest_source(path)


# -----------------------------------------------------------------------------------------------
# One stage


def _partial_dir(stage_dir: Path) -> Path:
    return stage_dir.with_name(stage_dir.name + PARTIAL_SUFFIX)


def _promote(partial: Path, stage_dir: Path) -> None:
    """Swap ``partial`` into ``stage_dir`` (an old ``stage_dir`` is moved aside, then removed)."""
    old = None
    if stage_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{stage_dir.name}.old.", dir=stage_dir.parent))
        os.replace(stage_dir, old / "x")
    os.replace(partial, stage_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _prepare_partial(partial: Path, attempt: dict[str, Any]) -> bool:
    """Make ``partial`` ready for this attempt; True when an earlier identical attempt is resumed."""
    attempt_path = partial / ATTEMPT_FILE
    if partial.exists():
        try:
            previous = json.loads(attempt_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous == attempt:
            _remove_atomic_temps(partial)
            return True
        logger.info("removing %s: left by an attempt with other inputs or options", partial)
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    attempt_path.write_text(json.dumps(attempt, sort_keys=True), encoding="utf-8")
    return False


def run_stage(
    resolved: ResolvedStage,
    input: Any,
    stage_dir: Path,
    *,
    input_digest: str,
    plugin_manager: Any,
    progress: ProgressCallback = no_progress,
    executor: Executor | None = None,
    wait: bool = False,
) -> StageOutcome:
    """Run one stage into ``stage_dir`` atomically, or skip it when its manifest is up to date.

    ``executor`` runs the stage (default: :class:`~splatkit.pipeline.executors.LocalExecutor`);
    events, the manifest and the folder swap are the pipeline's whatever runs it.

    The stage works in ``<stage_dir>.partial/``; on success the pipeline removes its scratch
    folders, writes ``manifest.json`` last and renames the folder to ``stage_dir``. On failure
    the partial folder stays for a later identical attempt to resume, ``stage_dir`` is absent,
    the ``splatkit_stage_failed`` event fires and the error propagates. Either way the stage's
    scratch folder (``.<stage>.partial.scratch.*`` beside it, where a photo ZIP is extracted) is
    removed.

    The lock of ``stage_dir``'s parent folder is held throughout (:mod:`splatkit.pipeline.lock`;
    :func:`run` already holds it); ``wait`` queues behind another holder instead of raising
    :class:`~splatkit.pipeline.lock.OutputFolderBusyError`. A path ``input`` may not overlap
    ``stage_dir`` (:func:`check_out_dir_apart`).
    """
    stage_dir = Path(stage_dir)
    if isinstance(input, (str, os.PathLike)):
        check_out_dir_apart(input, stage_dir, what="stage folder", owned=())
        check_out_dir_apart(input, _partial_dir(stage_dir), what="stage folder", owned=())
    stage_dir.parent.mkdir(parents=True, exist_ok=True)
    with out_dir_lock(stage_dir.parent, wait=wait):
        # Leftovers of a killed attempt at this stage; a no-op inside run(), which cleaned OUT.
        remove_stale_scratch(stage_dir.parent, names=(stage_dir.name,))
        return _run_stage_locked(resolved, input, stage_dir, input_digest=input_digest,
                                 plugin_manager=plugin_manager, progress=progress, executor=executor)


def _run_stage_locked(resolved: ResolvedStage, input: Any, stage_dir: Path, *, input_digest: str,
                      plugin_manager: Any, progress: ProgressCallback, executor: Executor | None) -> StageOutcome:
    kind, backend = resolved.kind, resolved.backend
    qualified = f"{kind}/{backend}"
    cfg_digest = mf.config_digest(backend, resolved.config)
    manifest, reason = mf.trusted_manifest(stage_dir, kind=kind, backend=backend, input_digest=input_digest,
                                           config_digest=cfg_digest)
    partial = _partial_dir(stage_dir)
    if manifest is None and partial.exists():
        # A crash after the manifest was written but before the rename: the work is complete.
        done, _ = mf.trusted_manifest(partial, kind=kind, backend=backend, input_digest=input_digest,
                                      config_digest=cfg_digest)
        if done is not None:
            _promote(partial, stage_dir)
            manifest, reason = done, "up to date (finished by an earlier run)"
    if manifest is not None:
        logger.info("%s: skipped, %s (%s)", qualified, reason, stage_dir)
        events_log.record("skipped", stage=qualified, reason=reason, workdir=str(stage_dir))
        return StageOutcome(kind=kind, backend=backend, status="skipped", stage_dir=stage_dir, reason=reason,
                            manifest=manifest)

    if stage_dir.exists():
        if not (stage_dir / mf.MANIFEST_NAME).is_file() and (not stage_dir.is_dir() or any(stage_dir.iterdir())):
            # Not made by splatkit (or its manifest was deleted by hand): never delete a user's files.
            raise InputError("exists and is not a finished splatkit stage folder (no manifest.json); pass a new "
                             "output folder or delete this one", path=stage_dir)
        # Stale (other inputs or options): never trusted, so never left for anyone to mistake.
        logger.info("%s: %s; removing the old %s", qualified, reason, stage_dir)
        shutil.rmtree(stage_dir)
    attempt = {"kind": kind, "backend": backend, "input_digest": input_digest, "config_digest": cfg_digest,
               "manifest_version": mf.MANIFEST_VERSION}
    resumed = _prepare_partial(partial, attempt)
    executor = executor if executor is not None else LocalExecutor()
    logger.info("%s: running (%s)%s in %s on %s", qualified, reason, ", resuming" if resumed else "", partial,
                executor.name)
    config_dict = config_to_dict(resolved.config)
    plugin_manager.stage_started(stage=qualified, config=config_dict, workdir=str(partial))
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f".{partial.name}.scratch.", dir=stage_dir.parent))
    try:
        from splatkit.io.images import extracting_under

        with extracting_under(scratch):
            result = executor.execute(resolved, input, partial, progress)
    except BaseException as e:
        plugin_manager.stage_failed(stage=qualified, error=e, seconds=time.perf_counter() - start)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        close = getattr(progress, "close", None)
        if callable(close):
            close()
    seconds = time.perf_counter() - start

    for name in SCRATCH_AFTER_SUCCESS.get(kind, ()):
        shutil.rmtree(partial / name, ignore_errors=True)
    (partial / ATTEMPT_FILE).unlink(missing_ok=True)
    files = [Path(f) for f in result.files]
    rel_files = [_relative(f, partial) for f in files]
    primary = rel_files[0] if rel_files and rel_files[0] else ""
    out_digest = mf.digest_paths(mf.output_paths(kind, partial, files), partial)
    manifest = mf.StageManifest(
        kind=kind, backend=backend, input_digest=input_digest, config=config_dict, config_digest=cfg_digest,
        output_digest=out_digest, files=mf.list_files(partial), primary=primary, report=result.report,
        seconds=round(seconds, 3), versions=mf.software_versions())
    mf.write_manifest(partial, manifest)
    _promote(partial, stage_dir)
    manifest = mf.read_manifest(stage_dir) or manifest
    final_files = [str(stage_dir / r) if r else str(f) for r, f in zip(rel_files, files)]
    plugin_manager.stage_finished(stage=qualified, report=result.report, seconds=seconds, files=final_files)
    logger.info("%s: finished in %.1f s -> %s", qualified, seconds, stage_dir)
    return StageOutcome(kind=kind, backend=backend, status="ran", stage_dir=stage_dir, seconds=seconds,
                        reason=reason, manifest=manifest, output=result.output, resumed=resumed)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return ""


# -----------------------------------------------------------------------------------------------
# The pipeline


def _ensure_events_plugin(plugin_manager: Any) -> None:
    """The JSON-lines log is part of the pipeline's output: register its plugin if a manager lacks it."""
    if events_log.__name__ not in plugin_manager.plugin_names():
        plugin_manager.register(events_log, events_log.__name__)


def _next_input(outcome: StageOutcome, *, as_path: bool = False) -> Any:
    """What the stage after ``outcome`` consumes: the SfM folder, or the trained GaussianCloud
    (its finished folder when ``as_path``, for executors that run stages out of process)."""
    if outcome.kind == "sfm" or as_path:
        return outcome.stage_dir
    if outcome.output is not None:
        return outcome.output
    from splatkit.io.ply import read_ply

    primary = outcome.primary_file
    if primary is None:
        raise InputError("the finished training folder names no primary PLY; delete it to re-run training",
                         path=outcome.stage_dir)
    return read_ply(primary)


def run(
    source: str | Path,
    out_dir: str | Path,
    *,
    sfm: str | None = None,
    train: str | None = None,
    compress: str | None = None,
    config: PipelineOptions | Mapping[str, Any] | str | Path | None = None,
    progress: ProgressCallback | None = None,
    plugin_manager: Any = None,
    report: bool = True,
    executor: Executor | None = None,
    wait: bool = False,
) -> RunResult:
    """Photos -> SfM -> training -> compression, resuming what is already done in ``out_dir``.

    Parameters
    ----------
    source
        A folder or ``.zip`` of photos (or whatever the chosen SfM backend reads).
    out_dir
        Output folder: ``sfm/``, ``train/``, ``compress/``, ``events.jsonl``, ``report.json``,
        ``report.html`` and ``report_files/``.
    sfm, train, compress
        Backend names; override ``config``. Default ``auto``: the registry's choice for this
        machine (pycolmap; gsplat with a working CUDA GPU, else cpu; sog).
    config
        A :class:`~splatkit.pipeline.config.PipelineOptions`, a TOML-shaped mapping
        ``{"train": {"steps": 2000}}`` or the path of a TOML file.
    progress
        Callback for :class:`~splatkit.stages.ProgressUpdate`; one with a ``close()`` method is
        closed after each stage.
    plugin_manager
        Default: :func:`splatkit.plugins.get_plugin_manager`.
    report
        Write ``report.json`` and ``report.html`` (also after a failure).
    executor
        Where each stage runs (default: in this process, :class:`~splatkit.pipeline.executors.LocalExecutor`).
    wait
        When another run holds ``out_dir``, wait for it to end (then resume or skip what it did)
        instead of raising :class:`~splatkit.pipeline.lock.OutputFolderBusyError`.

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        Missing source, an empty ZIP or one without photos, an unwritable ``out_dir``, an
        ``out_dir`` that overlaps the source.
    OutputFolderBusyError
        Another process runs on ``out_dir`` (an :class:`InputError` naming its pid), unless ``wait``.
    PluginError, BackendUnavailableError, ContractError
        Unknown or unavailable backend, bad option.
    StageError and others
        What a stage raised (after the ``splatkit_stage_failed`` event and a failure report).
    """
    from splatkit.plugins import get_plugin_manager

    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    source = Path(source)
    out_dir = Path(out_dir)
    options = _as_options(config)
    chosen = {k: v for k, v in (("sfm", sfm), ("train", train), ("compress", compress)) if v}
    if chosen:
        options = options.merged(PipelineOptions(backends=chosen, options={}))
    check_photo_source(source)
    check_out_dir_apart(source, out_dir)
    executor = executor if executor is not None else LocalExecutor()
    # An executor that takes paths runs stages elsewhere: choose for that machine, not this one.
    resolved = resolve_stages(options, pm.stages, runs_here=not executor.wants_paths)
    prepare_out_dir(out_dir)
    _ensure_events_plugin(pm)
    with out_dir_lock(out_dir, wait=wait):
        remove_stale_scratch(out_dir)
        return _run_locked(source, out_dir, resolved, pm, progress=progress, report=report, executor=executor)


def _run_locked(source: Path, out_dir: Path, resolved: list[ResolvedStage], pm: Any, *,
                progress: ProgressCallback | None, report: bool, executor: Executor) -> RunResult:
    """:func:`run` once the output folder's lock is held."""
    started = time.perf_counter()
    outcomes: list[StageOutcome] = []
    progress_cb = progress or no_progress
    failure: BaseException | None = None
    failed_stage: ResolvedStage | None = None
    with events_log.recording(out_dir / events_log.EVENTS_FILE):
        events_log.record("run_started", source=str(source), out_dir=str(out_dir),
                          backends={r.kind: r.backend for r in resolved}, executor=executor.name)
        try:
            input_digest = mf.digest_source(source, exclude=[out_dir])
            stage_input: Any = source
            for stage in resolved:
                failed_stage = stage
                outcome = run_stage(stage, stage_input, out_dir / stage.kind, input_digest=input_digest,
                                    plugin_manager=pm, progress=progress_cb, executor=executor)
                failed_stage = None
                outcomes.append(outcome)
                assert outcome.manifest is not None
                input_digest = outcome.manifest.output_digest
                if stage is not resolved[-1]:
                    stage_input = _next_input(outcome, as_path=executor.wants_paths)
        except BaseException as e:
            failure = e
            events_log.record("run_failed", error=str(e), error_type=type(e).__name__,
                              stage=f"{failed_stage.kind}/{failed_stage.backend}" if failed_stage else None)
            if failed_stage is not None:
                outcomes.append(StageOutcome(kind=failed_stage.kind, backend=failed_stage.backend, status="failed",
                                             stage_dir=out_dir / failed_stage.kind, error=str(e),
                                             seconds=0.0))
        seconds = time.perf_counter() - started
        final = outcomes[-1].primary_file if failure is None and outcomes else None
        result = RunResult(out_dir=out_dir, stages=tuple(outcomes), final_file=final, seconds=seconds)
        if report and (failure is None or isinstance(failure, Exception)):  # not on Ctrl-C
            try:
                from splatkit.pipeline.report import write_report

                json_path, html_path = write_report(result, source=source, resolved=resolved, error=failure)
                result = RunResult(out_dir=out_dir, stages=tuple(outcomes), final_file=final, seconds=seconds,
                                   report_json=json_path, report_html=html_path)
            except Exception:
                if failure is None:
                    raise
                logger.exception("could not write the failure report")
        if failure is None:
            events_log.record("run_finished", seconds=round(seconds, 3),
                              final_file=str(final) if final else None,
                              stages={o.kind: o.status for o in outcomes})
    if failure is not None:
        raise failure
    logger.info("pipeline finished in %.1f s: %s", seconds, final)
    return result
