"""Contract checks for stage classes: the class itself, and one run of it.

A plugin author calls these from their own tests; splatkit's test suite runs every registered
built-in backend through the same functions (``tests/plugins/test_backend_contracts.py``).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import numbers
import os
import typing
from pathlib import Path
from typing import Any

from splatkit.contracts import CompressedBundle, GaussianCloud, Reconstruction
from splatkit.errors import ContractError, InputError, PluginError
from splatkit.formats import Format
from splatkit.plugins.registry import FormatRegistry, StageRegistry
from splatkit.stages import (
    NONE_WORDS,
    STAGE_KINDS,
    ProgressUpdate,
    Stage,
    StageResult,
    config_from_mapping,
    config_to_dict,
    no_progress,
)
from splatkit.testing.contract_check_error import ContractCheckError
from splatkit.testing.import_check import check_import_is_light
from splatkit.testing.snapshot import fingerprint

__all__ = ["OUTPUT_TYPES", "check_config_class", "check_stage_class", "check_stage_run"]

#: The contract each stage kind returns as ``StageResult.output``.
OUTPUT_TYPES: dict[str, type] = {"sfm": Reconstruction, "train": GaussianCloud, "compress": CompressedBundle}
#: Keys every SfM backend writes to ``report.json`` (docs/formats.md, "report.json").
SFM_REPORT_KEYS: tuple[str, ...] = ("backend", "source", "config", "layout_version", "quality")
_SCALARS = (bool, int, float, str)


def _raise(what: str, problems: list[str]) -> None:
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ContractCheckError(f"{what} breaks the plugin contract:\n{lines}")


def _one_line_text(value: Any, attribute: str, *, required: bool) -> list[str]:
    if not isinstance(value, str):
        return [f"{attribute} must be a str, got {type(value).__name__}"]
    if required and not value.strip():
        return [f"{attribute} is empty: write one line for `splatkit plugins`"]
    if "\n" in value:
        return [f"{attribute} spans lines: keep it to one line"]
    return []


def _reason_problems(method: str, call: Any) -> tuple[list[str], str | None]:
    try:
        reason = call()
    except Exception as e:  # the check itself: it must answer, not raise
        return [f"{method}() raised {type(e).__name__}: {e}; return a reason string instead"], "raised"
    if reason is not None and not (isinstance(reason, str) and reason.strip()):
        return [f"{method}() must return None or a non-empty str, got {reason!r}"], None
    return [], reason


def _scalar_kind(hint: Any) -> tuple[type | None, bool]:
    """``(scalar type, optional)`` of an annotation: ``int`` -> (int, False), ``str | None`` -> (str, True)."""
    if hint in _SCALARS:
        return hint, False
    args = typing.get_args(hint)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in _SCALARS:
            return rest[0], True
    return None, False


def _as_text(value: Any) -> str:
    """How a value arrives from ``--set key=value`` or a generated flag."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def check_config_class(config_cls: type, *, where: str = "Config") -> None:
    """Check a stage's options class: a frozen dataclass of flat scalar options, each with a default.

    Every option's annotation is ``bool``, ``int``, ``float``, ``str`` or one of them ``| None``
    (an option whose default is None must say which type it takes otherwise), the defaults build
    a config, and the config survives ``config_to_dict`` -> JSON -> ``config_from_mapping``, also
    when every value arrives as text (``"true"``, ``"3"``, ``"none"``), as from TOML or ``--set``.

    Raises
    ------
    ContractCheckError
        Listing every rule broken.
    """
    if not (isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls)):
        raise ContractCheckError(f"{where} must be a dataclass, got {config_cls!r}")
    problems: list[str] = []
    if not config_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        problems.append(f"{where} must be frozen: @dataclass(frozen=True, kw_only=True)")
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception as e:
        hints = {}
        problems.append(f"{where}'s annotations do not resolve ({type(e).__name__}: {e}); config_from_mapping "
                        "needs them to convert text to the option's type")
    for f in dataclasses.fields(config_cls):
        if f.default is dataclasses.MISSING:
            what = "a default_factory" if f.default_factory is not dataclasses.MISSING else "no default"
            problems.append(f"{where}.{f.name} has {what}; every option needs a scalar default")
            continue
        if f.default is not None and type(f.default) not in _SCALARS:
            problems.append(f"{where}.{f.name} defaults to {f.default!r} ({type(f.default).__name__}); options are "
                            "flat: str, int, float, bool or None")
            continue
        if f.name not in hints:
            continue
        kind, optional = _scalar_kind(hints[f.name])
        if kind is None:
            problems.append(f"{where}.{f.name} is annotated {hints[f.name]!r}; use bool, int, float, str or "
                            "one of them | None")
        elif f.default is None and not optional:
            problems.append(f"{where}.{f.name} defaults to None but is annotated {kind.__name__}; annotate it "
                            f"{kind.__name__} | None")
        elif f.default is not None and not (type(f.default) is kind or (kind is float and type(f.default) is int)):
            problems.append(f"{where}.{f.name} is annotated {kind.__name__} but defaults to {f.default!r}")
    _raise(where, problems)

    try:
        default = config_cls()
    except Exception as e:
        raise ContractCheckError(f"{where}() with the defaults raised {type(e).__name__}: {e}") from e
    values = config_to_dict(default)
    try:
        values = json.loads(json.dumps(values, allow_nan=False))
    except ValueError as e:
        raise ContractCheckError(f"{where}'s defaults are not JSON-able: {e}") from e
    as_text = {k: _as_text(v) for k, v in values.items()}
    readings = [("its JSON", values), ("text", as_text)]
    # Every spelling of None, in any case, means None for an option whose default is None.
    for word in sorted(NONE_WORDS):
        spelled = {k: (word.upper() if values[k] is None else text) for k, text in as_text.items()}
        readings.append((f"text with {word.upper()!r}", spelled))
    for label, mapping in readings:
        try:
            rebuilt = config_to_dict(config_from_mapping(config_cls, mapping, where=where))
        except ContractError as e:
            raise ContractCheckError(f"{where}'s defaults do not come back from {label} through "
                                     f"splatkit.stages.config_from_mapping: {e}") from e
        if rebuilt != config_to_dict(default):
            changed = sorted(k for k in rebuilt if rebuilt[k] != config_to_dict(default)[k])
            raise ContractCheckError(f"{where}'s defaults change when read back from {label}: options {changed}")


def check_stage_class(stage_cls: type, *, check_import: bool = True, probe_device: bool = True) -> None:
    """Check a stage class without running it: what splatkit asks of it when it loads and lists plugins.

    * The :class:`~splatkit.plugins.StageRegistry` accepts it (a :class:`splatkit.Stage`
      subclass with a known ``kind``, a short ``name`` and a ``Config`` dataclass).
    * ``Config`` passes :func:`check_config_class`.
    * ``description`` is one non-empty line, ``install_hint`` one line, ``default_rank`` an
      ``int >= 0``.
    * ``stage_cls()`` builds with no arguments, and ``run`` takes ``(input, config, workdir,
      progress)`` positionally, as the pipeline calls it.
    * ``unavailable_reason()`` returns None or a reason; ``is_available()`` agrees with it.
    * With ``probe_device``: ``unusable_reason()`` returns None or a reason, and a reason
      whenever ``unavailable_reason()`` has one (a backend that cannot run must never be
      chosen as the default). This may import heavy packages (the gsplat trainer asks torch).
    * With ``check_import``: importing the class's module in a fresh interpreter imports none
      of :data:`~splatkit.testing.HEAVY_PACKAGES`.

    Raises
    ------
    ContractCheckError
        Listing every rule broken.
    """
    if not (isinstance(stage_cls, type) and issubclass(stage_cls, Stage)):
        raise ContractCheckError(f"{stage_cls!r} is not a subclass of splatkit.Stage")
    label = f"stage {getattr(stage_cls, 'kind', '?')}/{getattr(stage_cls, 'name', '?')} ({stage_cls.__qualname__})"
    problems: list[str] = []
    try:
        StageRegistry().add(stage_cls)
    except PluginError as e:
        problems.append(f"the stage registry refuses it: {e}")
    if getattr(stage_cls, "kind", None) not in STAGE_KINDS:
        _raise(label, problems or [f"kind must be one of {sorted(STAGE_KINDS)}"])
    problems += _one_line_text(stage_cls.description, "description", required=True)
    problems += _one_line_text(stage_cls.install_hint, "install_hint", required=False)
    rank = stage_cls.default_rank
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
        problems.append(f"default_rank must be an int >= 0 (0: only when named), got {rank!r}")
    try:
        check_config_class(stage_cls.Config, where=f"{stage_cls.__qualname__}.Config")
    except ContractCheckError as e:
        problems.append(str(e))
    try:
        stage = stage_cls()
    except Exception as e:
        problems.append(f"{stage_cls.__qualname__}() raised {type(e).__name__}: {e}; the pipeline builds stages "
                        "with no arguments")
    else:
        try:
            inspect.signature(stage.run).bind(object(), object(), Path("."), no_progress)
        except TypeError as e:
            problems.append(f"run() cannot be called as run(input, config, workdir, progress): {e}")
    found, unavailable = _reason_problems("unavailable_reason", stage_cls.unavailable_reason)
    problems += found
    if not found and stage_cls.is_available() != (unavailable is None):
        problems.append("is_available() disagrees with unavailable_reason(); do not override is_available()")
    if probe_device:
        found, unusable = _reason_problems("unusable_reason", stage_cls.unusable_reason)
        problems += found
        if not found and unavailable is not None and unusable is None:
            problems.append(f"unusable_reason() is None although unavailable_reason() says {unavailable!r}: the "
                            "registry would choose a backend that cannot run; start from the base class's "
                            "unusable_reason() (which returns unavailable_reason())")
    if check_import and stage_cls.__module__ != "__main__":
        try:
            check_import_is_light(stage_cls.__module__)
        except ContractCheckError as e:
            problems.append(str(e))
    _raise(label, problems)


def _progress_problems(updates: list[Any], qualified: str) -> list[str]:
    problems: list[str] = []
    for update in updates:
        if not isinstance(update, ProgressUpdate):
            problems.append(f"progress received {type(update).__name__}, not a splatkit.ProgressUpdate")
        elif update.stage != qualified:
            problems.append(f"ProgressUpdate.stage is {update.stage!r}; use the stage's qualified_name() "
                            f"({qualified!r})")
        elif not isinstance(update.step, int) or update.step < 0:
            problems.append(f"ProgressUpdate.step must be an int >= 0, got {update.step!r}")
        elif update.total is not None and (not isinstance(update.total, int) or update.total < 0):
            problems.append(f"ProgressUpdate.total must be None or an int >= 0, got {update.total!r}")
        else:
            bad = {k: v for k, v in dict(update.metrics).items()
                   if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, numbers.Real)}
            if bad:
                problems.append(f"ProgressUpdate.metrics maps names to numbers; got {bad!r}")
        if problems:
            break  # one bad update says enough
    return problems


def _leftovers(workdir: Path, parent_before: set[str]) -> list[str]:
    """Temporary files of :mod:`splatkit.io.atomic` (``.name.XXXX``) left behind, or files beside ``workdir``."""
    problems = []
    if workdir.parent.is_dir():
        extra = sorted(set(os.listdir(workdir.parent)) - parent_before - {workdir.name})
        if extra:
            problems.append(f"run() left {extra} beside its workdir; write only under workdir and remove "
                            "scratch folders")
    hidden = []
    for dirpath, dirnames, filenames in os.walk(workdir):
        hidden += [str(Path(dirpath, n).relative_to(workdir)) for n in dirnames + filenames if n.startswith(".")]
    if hidden:
        problems.append(f"run() left hidden files under workdir, temporary files by their names: {sorted(hidden)[:5]}; "
                        "write through splatkit.io.atomic and clean up on every path")
    return problems


def _sfm_layout_problems(workdir: Path, rec: Reconstruction) -> list[str]:
    """The SfM output folder every SfM backend writes (docs/formats.md) holds ``rec`` and reads back."""
    from splatkit.io import sfm_output as layout

    problems = []
    report = workdir / layout.REPORT_FILE
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        doc = None
        problems.append(f"{report} is missing or not JSON ({e}); write the folder with "
                        "splatkit.sfm.layout.write_sfm_output")
    if doc is not None:
        missing = [k for k in SFM_REPORT_KEYS if not isinstance(doc, dict) or k not in doc]
        if missing:
            problems.append(f"{report} lacks the keys {missing} every SfM backend writes (docs/formats.md)")
        elif doc["layout_version"] != layout.LAYOUT_VERSION:
            problems.append(f"{report}: layout_version {doc['layout_version']!r}, expected {layout.LAYOUT_VERSION}")
    if not (workdir / layout.GEOREF_FILE).is_file():
        problems.append(f"{layout.GEOREF_FILE} is missing from the SfM output folder")
    try:
        if (workdir / layout.SPARSE_DIR).is_dir():
            written = layout.read_sfm_posed_images(workdir).reconstruction  # what training reads
        else:
            written, _ = layout.read_sfm_output(workdir, distorted=True)
    except (InputError, ContractError) as e:
        return problems + [f"the SfM output folder does not read back as a training scene: {e}"]
    if written.frames.names != rec.frames.names or len(written.points) != len(rec.points):
        problems.append(f"the model in the SfM output folder ({len(written.frames)} frames, {len(written.points)} "
                        f"points) is not the returned one ({len(rec.frames)} frames, {len(rec.points)} points)")
    return problems


def _train_problems(result: StageResult[Any]) -> list[str]:
    from splatkit.io.ply import read_ply

    problems = []
    try:
        saved = read_ply(result.files[0])
    except InputError as e:
        return [f"a training stage's primary file (files[0]) must be the trained cloud as a 3DGS PLY: {e}"]
    if not saved.equals(result.output):
        problems.append(f"{result.files[0]} does not hold the returned GaussianCloud (the pipeline resumes from it)")
    from splatkit.reports import TrainingReport

    try:
        TrainingReport.from_dict(result.report)
    except ContractError as e:
        problems.append(f"the report is not a splatkit.reports.TrainingReport: {e}")
    return problems


def _compress_problems(result: StageResult[Any], input: Any, formats: FormatRegistry | None) -> list[str]:
    bundle: CompressedBundle = result.output
    problems = []
    if isinstance(input, GaussianCloud) and bundle.source_count != len(input):
        problems.append(f"CompressedBundle.source_count is {bundle.source_count}, the input has {len(input)}")
    if formats is None:
        return problems
    primary = result.files[0]
    found: type[Format] | None = formats.detect(primary, holds="splats")
    if found is None:
        return problems + [f"no registered format reads {primary.name}; register a splatkit.formats.Format "
                           "(splatkit_register_formats) so `splatkit info` and `splatkit decompress` can"]
    try:
        decoded = found().decode(primary)
        decoded.validate(source=str(primary))
    except (InputError, ContractError) as e:
        return problems + [f"format {found.name} cannot read back what the stage wrote: {e}"]
    if len(decoded) != bundle.source_count:
        problems.append(f"format {found.name} decodes {len(decoded)} Gaussians from {primary.name}; the bundle "
                        f"says {bundle.source_count}")
    return problems


def check_stage_run(
    stage_cls: type[Stage],
    input: Any,
    workdir: str | Path,
    config: Any = None,
    *,
    formats: FormatRegistry | None = None,
) -> StageResult[Any]:
    """Run ``stage_cls`` once on ``input`` and check what every stage run must do.

    * ``run`` returns a :class:`~splatkit.StageResult` whose ``output`` is the contract of the
      stage's kind (sfm: :class:`~splatkit.Reconstruction`, train:
      :class:`~splatkit.GaussianCloud`, compress: :class:`~splatkit.CompressedBundle`) and
      passes its ``validate()``.
    * ``report`` is a dict that strict JSON can hold (no NaN, no infinity).
    * ``files`` is not empty (the primary artifact first), and every file exists under
      ``workdir``; no temporary file is left under ``workdir`` and nothing new beside it.
    * ``input`` is unchanged: the same arrays, fields and files (:func:`fingerprint`).
    * Every progress report is a :class:`~splatkit.ProgressUpdate` naming the stage
      (``qualified_name()``), with ``step``/``total`` counts and numeric ``metrics``.
    * sfm: ``workdir`` is the SfM output folder of ``docs/formats.md`` (``report.json`` with
      its keys, ``georef.json``, and ``sparse/0`` + ``images/`` that read back as the returned
      model, validated as a training input; or only ``distorted/sparse/0`` when undistortion
      was off).
    * train: ``files[0]`` is a 3DGS PLY holding exactly the returned cloud, and the report
      parses as a :class:`splatkit.reports.TrainingReport`.
    * compress: ``source_count`` is the input's length; with ``formats``, a registered splat
      format reads ``files[0]`` back to that many Gaussians.

    Parameters
    ----------
    stage_cls
        The stage class (it is instantiated with no arguments).
    input
        What the stage consumes (see ``splatkit.stages.STAGE_KINDS``).
    workdir
        Where it writes; must not exist yet or be empty.
    config
        Its options; default ``stage_cls.Config()``.
    formats
        The format registry (``PluginManager().formats``) to read compressed output back with.

    Returns
    -------
    StageResult
        For further checks of your own.

    Raises
    ------
    ContractCheckError
        Listing every rule broken. Errors ``run`` raises itself propagate unchanged.
    """
    workdir = Path(workdir)
    if workdir.exists() and any(workdir.iterdir()):
        raise ContractCheckError(f"check_stage_run needs a new or empty workdir; {workdir} holds files")
    config = stage_cls.Config() if config is None else config
    qualified = stage_cls.qualified_name()
    before = fingerprint(input)
    parent_before = set(os.listdir(workdir.parent)) if workdir.parent.is_dir() else set()
    updates: list[Any] = []
    result = stage_cls().run(input, config, workdir, updates.append)

    label = f"stage {qualified}"
    if not isinstance(result, StageResult):
        raise ContractCheckError(f"{label}: run() returned {type(result).__name__}, not a splatkit.StageResult")
    expected = OUTPUT_TYPES[stage_cls.kind]
    if not isinstance(result.output, expected):
        raise ContractCheckError(f"{label}: a {stage_cls.kind} stage returns a {expected.__name__}, got "
                                 f"{type(result.output).__name__}")
    problems: list[str] = []
    try:
        result.output.validate()
    except ContractError as e:
        problems.append(f"the returned {expected.__name__} does not validate: {e}")
    if not isinstance(result.report, dict):
        problems.append(f"report must be a dict, got {type(result.report).__name__}")
    else:
        try:
            json.dumps(result.report, allow_nan=False)
        except (TypeError, ValueError) as e:
            problems.append(f"report is not strict JSON ({e}); use None for unknown numbers")
    root = workdir.resolve()
    if not result.files:
        problems.append("files is empty; list the files written, the primary artifact first")
    for file in result.files:
        if not file.exists():
            problems.append(f"listed file {file} does not exist")
        elif not file.resolve().is_relative_to(root):
            problems.append(f"listed file {file} is outside the workdir {workdir}")
    problems += _leftovers(workdir, parent_before)
    if fingerprint(input) != before:
        problems.append("run() changed its input; build new arrays and write only under workdir")
    problems += _progress_problems(updates, qualified)
    if not problems:  # the kind's own checks assume the generic ones hold
        if stage_cls.kind == "sfm":
            problems += _sfm_layout_problems(workdir, result.output)
        elif stage_cls.kind == "train":
            problems += _train_problems(result)
        elif stage_cls.kind == "compress":
            problems += _compress_problems(result, input, formats)
    _raise(label, problems)
    return result
