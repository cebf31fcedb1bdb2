"""The ``splatkit`` command line.

Only argparse and splatkit's light modules are imported at start, so ``--help`` is fast; a
subcommand imports what it needs when it runs. User errors (any :class:`SplatkitError`) print one
line on stderr and exit with status 2; no traceback.

Backend options are flags generated from the chosen backend's ``Config`` dataclass, so a
plugin's options work like the built-ins': ``splatkit train SFM OUT --steps 2000`` and
``splatkit run PHOTOS OUT --train-steps 2000`` (or ``--set train.steps=2000``). The backend is
found first (``--backend``, ``--sfm``/``--train``/``--compress``, the ``--config`` file, or the
suffix of ``splatkit compress``'s OUT), then its flags are added; ``splatkit train --backend cpu
--help`` lists the cpu backend's options. Each flag's help and choices come from the field's own
documentation (:func:`config_field_help`; docs/cli.md).

``splatkit compress IN OUT.sog`` writes that file (the suffix picks the backend), ``OUT/`` the stage
folder; ``decompress`` follows the same rule (:func:`output_file_format`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from splatkit.errors import InputError, SplatkitError
from splatkit.stages import AUTO_BACKEND, STAGE_KINDS

__all__ = ["main", "describe_path", "build_parser", "FieldHelp", "config_field_help",
           "output_file_format", "read_splats"]

logger = logging.getLogger("splatkit.cli")

EXIT_USER_ERROR = 2
EXIT_OS_ERROR = 1
EXIT_INTERRUPTED = 130
_OPTION_DEST = "stage_option:"

def describe_path(path: Path) -> dict[str, Any]:
    """What a file or folder holds, as a JSON-able dict with a ``"type"`` key.

    The format is found by asking each registered format (``splatkit_register_formats``) in
    registration order, built-ins first.

    Raises
    ------
    InputError
        When the path is missing or no registered format recognises it.
    """
    from splatkit.plugins import get_plugin_manager

    if not path.exists():
        raise InputError("no such file or folder", path=path)
    formats = get_plugin_manager().formats
    found = formats.detect(path) or _claimed_by_suffix(formats, path)
    if found is None:
        raise InputError(f"not a format splatkit knows: expected {_format_list(formats)}", path=path)
    return found().describe(path)


def _claimed_by_suffix(formats: Any, path: Path, holds: str | None = None) -> Any:
    """The format whose suffix ``path`` has, when no detector accepted it: a damaged file of that
    format then gets the reader's own error (what is wrong) instead of "not a format we know"."""
    suffix = path.suffix.lower()
    for cls in formats:
        if suffix and suffix in cls.suffixes and path.is_file() and (holds is None or cls.holds == holds):
            return cls
    return None


def _format_list(formats: Any, holds: str | None = None) -> str:
    """``"ply (.ply), sog (.sog), colmap (folder), ..."``: the registered formats, for messages."""
    names = [f"{cls.name} ({', '.join(cls.suffixes) or 'folder'})" for cls in formats
             if holds is None or cls.holds == holds]
    return f"one of {', '.join(names)}; `splatkit plugins` describes them"


def _cmd_info(args: argparse.Namespace) -> int:
    info = describe_path(Path(args.path))
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=False))
    else:
        _print_mapping(info)
    return 0


def _print_mapping(data: dict[str, Any], indent: str = "") -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_mapping(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{indent}{key}:")
            for item in value:
                print(f"{indent}  - " + ", ".join(f"{k}={v}" for k, v in item.items()))
        else:
            print(f"{indent}{key}: {value}")


def _cmd_plugins(args: argparse.Namespace) -> int:
    from splatkit.plugins import get_plugin_manager

    manager = get_plugin_manager()
    rows = []
    for kind in STAGE_KINDS:
        for name in manager.stages.names(kind):
            cls = manager.stages.get(kind, name)
            reason = cls.unavailable_reason()
            rows.append({
                "kind": kind, "name": name, "available": reason is None,
                "why_not": reason or "", "from": manager.stages.origin(kind, name),
                "description": cls.description,
            })
    formats = []
    for name in manager.formats.names():
        fmt = manager.formats.get(name)
        reason = fmt.unavailable_reason()
        formats.append({
            "kind": "format", "name": name, "holds": fmt.holds, "suffixes": list(fmt.suffixes),
            "writes": fmt.can_write(), "available": reason is None, "why_not": reason or "",
            "from": manager.formats.origin(name), "description": fmt.description,
        })
    if args.json:
        print(json.dumps({"stages": rows, "formats": formats, "distributions": manager.distributions()}, indent=2))
        return 0
    rows += formats
    width = max((len(f"{r['kind']}/{r['name']}") for r in rows), default=10)
    for r in rows:
        status = "available" if r["available"] else f"unavailable: {r['why_not']}"
        print(f"{r['kind'] + '/' + r['name']:<{width}}  {status}  ({r['from']})")
        if r["description"]:
            print(f"{'':<{width}}  {r['description']}")
    return 0


# ------------------------------------------------------------------------------------------------
# Option help, read from the Config dataclasses' own documentation

#: Docstring sections that document a Config's fields (numpy style).
_FIELD_SECTIONS = frozenset({"attributes", "parameters", "other parameters"})
#: Trailing comments that are tool pragmas, not documentation.
_PRAGMAS = ("noqa", "type:", "pragma", "fmt:")


@dataclasses.dataclass(frozen=True)
class FieldHelp:
    """What the command line says about one Config field.

    Attributes
    ----------
    description : str
        One line from the field's documentation; ``""`` when the Config does not document it.
    choices : tuple[str, ...] or None
        The values the field accepts, from a ``Literal``/``Enum`` annotation or a numpy
        ``name : {"a", "b"}`` type; None when any value of its type goes.
    """

    description: str
    choices: tuple[str, ...] | None = None


def config_field_help(config_cls: type) -> dict[str, FieldHelp]:
    """One :class:`FieldHelp` per field of the dataclass ``config_cls``, in field order.

    The documentation is read where the Config's author wrote it, first found wins: the class
    docstring's numpy ``Attributes``/``Parameters`` section (``a, b : int`` documents both), a
    ``#:`` comment above the field, a comment after it on its line, or a string literal below it.
    Only the class and its source file are read; nothing is imported.
    """
    from_docstring = _numpy_field_docs(config_cls.__doc__ or "")
    from_source: dict[str, str] | None = None
    hints = _type_hints(config_cls)
    out: dict[str, FieldHelp] = {}
    for f in dataclasses.fields(config_cls):
        type_text, text = from_docstring.get(f.name, ("", ""))
        if not text:
            if from_source is None:
                from_source = _source_field_docs(config_cls)
            text = from_source.get(f.name, "")
        choices = _choices_from_hint(hints.get(f.name)) or _choices_from_type_text(type_text)
        if choices is not None and f.default is None and "none" not in choices:
            choices = (*choices, "none")  # an optional choice field takes "none" like other optional options
        out[f.name] = FieldHelp(description=_one_line(text), choices=choices)
    return out


def _numpy_field_docs(doc: str) -> dict[str, tuple[str, str]]:
    """Field name -> (type text, description) from the numpy field sections of ``doc``."""
    import inspect
    import re

    lines = inspect.cleandoc(doc).splitlines()
    out: dict[str, tuple[str, str]] = {}
    in_section = False
    names: list[str] = []
    type_text = ""
    body: list[str] = []

    def flush() -> None:
        for name in names:
            out.setdefault(name, (type_text, "\n".join(body).strip()))
        names.clear()
        body.clear()

    for i, line in enumerate(lines):
        below = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and len(below) >= 3 and set(below) == {"-"}:      # a section title
            flush()
            in_section = line.strip().lower() in _FIELD_SECTIONS
            continue
        if not in_section or (len(line.strip()) >= 3 and set(line.strip()) == {"-"}):
            continue
        header = re.fullmatch(r"([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::\s*(.*))?", line)
        if header and not line[:1].isspace():
            flush()
            names[:] = [n.strip() for n in header.group(1).split(",")]
            type_text = (header.group(2) or "").strip()
        elif names:
            body.append(line.strip())
    flush()
    return out


def _source_field_docs(config_cls: type) -> dict[str, str]:
    """Field name -> description from the class source: ``#:`` comments above a field, a
    comment after it, or a string literal below it. Empty when the source cannot be read."""
    import ast
    import inspect
    import io
    import textwrap
    import tokenize

    try:
        source = textwrap.dedent(inspect.getsource(config_cls))
        tree = ast.parse(source)
        comments = {tok.start[0]: (tok.start[1], tok.string) for tok in
                    tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    except (OSError, TypeError, SyntaxError, tokenize.TokenError):
        return {}
    if not tree.body or not isinstance(tree.body[0], ast.ClassDef):
        return {}
    lines = source.splitlines()
    body = tree.body[0].body
    out: dict[str, str] = {}
    for i, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        row = node.lineno - 1
        while row >= 1 and lines[row - 1].strip().startswith("#:"):
            above.insert(0, lines[row - 1].strip()[2:].strip())
            row -= 1
        col, trailing = comments.get(node.end_lineno or node.lineno, (-1, ""))
        trailing = trailing.lstrip("#").strip() if col > node.col_offset else ""
        after = body[i + 1] if i + 1 < len(body) else None
        literal = (after.value.value if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                   and isinstance(after.value.value, str) else "")
        if above:
            out[node.target.id] = " ".join(above)
        elif trailing and not trailing.startswith(_PRAGMAS):
            out[node.target.id] = trailing
        elif literal:
            out[node.target.id] = inspect.cleandoc(literal)
    return out


def _type_hints(config_cls: type) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(config_cls)
    except Exception:  # an annotation that does not resolve here (a TYPE_CHECKING import): no choices from it
        return {}


def _choices_from_hint(hint: Any) -> tuple[str, ...] | None:
    """The values of a ``Literal[...]`` or ``Enum`` annotation (also inside ``X | None``)."""
    import enum
    import typing

    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return tuple(str(member.value) for member in hint)
    if typing.get_origin(hint) is typing.Literal:
        return tuple(str(value) for value in typing.get_args(hint))
    for arg in typing.get_args(hint):  # Optional[Literal[...]], Literal[...] | None
        if arg is not type(None):
            found = _choices_from_hint(arg)
            if found:
                return found
    return None


def _choices_from_type_text(type_text: str) -> tuple[str, ...] | None:
    """``{"auto", "exhaustive"}`` (numpy's way of writing the accepted values) -> ``("auto", "exhaustive")``."""
    if not type_text.startswith("{") or "}" not in type_text:
        return None
    values = tuple(v.strip().strip("'\"") for v in type_text[1:type_text.index("}")].split(","))
    return values if all(values) else None


def _one_line(text: str) -> str:
    """The first sentence of the first paragraph of ``text``, without reStructuredText markup."""
    import re

    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    paragraph = re.sub(r":\w+:`~?([^`<]*?)\s*(?:<[^>]*>)?`", lambda m: m.group(1).rsplit(".", 1)[-1]
                       if m.group(0).count("~") else m.group(1), paragraph)
    paragraph = re.sub(r"`{1,2}([^`]*)`{1,2}", r"\1", paragraph)
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", paragraph, maxsplit=1)[0]
    return first.rstrip(".")


# ------------------------------------------------------------------------------------------------
# Backend option flags, generated from Config dataclasses


def _flag_name(prefix: str, field_name: str) -> str:
    return f"--{prefix}{field_name.replace('_', '-')}"


def _add_config_flags(parser: argparse.ArgumentParser, config_cls: type, *, kind: str, prefix: str,
                      title: str) -> None:
    """One flag per field of ``config_cls``, with its documentation as help and its choices.

    Values stay strings until the Config converts them (``--set`` and TOML take the same path);
    only the choices are checked here, so a bad choice gets argparse's usage message.
    """
    from splatkit.stages import option_range

    group = parser.add_argument_group(title)
    taken = set(parser._option_string_actions)  # fixed flags win; the option stays reachable by --set
    docs = config_field_help(config_cls)
    hints = _type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        flag = _flag_name(prefix, f.name)
        if flag in taken:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        dest = f"{_OPTION_DEST}{kind}:{f.name}"
        doc = docs[f.name]
        described = doc.description or f"not documented in {config_cls.__module__}.{config_cls.__qualname__}"
        # argparse %-formats help strings: a literal "%" in the documentation must not be read as one.
        shown = "none" if default is None else getattr(default, "value", default)  # an Enum's value, as typed
        allowed = option_range(f)
        bounds = f"{allowed.describe()}; " if allowed is not None else ""
        help_text = f"{described} ({bounds}default: {shown})".replace("%", "%%")
        if isinstance(default, bool):
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=help_text)
        elif doc.choices:
            group.add_argument(flag, dest=dest, choices=doc.choices, default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(flag, dest=dest, metavar=_metavar(hints.get(f.name), default),
                               default=argparse.SUPPRESS, help=help_text)


def _metavar(hint: Any, default: Any) -> str:
    """``INT`` for ``int`` and ``int | None`` fields (the annotation, else the default's type)."""
    import typing

    scalars = [a for a in (hint, *typing.get_args(hint)) if a in (int, float, str)]
    if scalars:
        return scalars[0].__name__.upper()
    return type(default).__name__.upper() if default is not None else "VALUE"


def _collect_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Stage kind -> {option: value} from the generated flags."""
    out: dict[str, dict[str, Any]] = {}
    for dest, value in vars(args).items():
        if dest.startswith(_OPTION_DEST):
            kind, name = dest[len(_OPTION_DEST):].split(":", 1)
            out.setdefault(kind, {})[name] = value
    return out


def _stage_class_or_none(kind: str, name: str | None) -> type | None:
    """The registered class ``kind/name`` for flag generation; None when unknown (run reports it).

    For ``auto`` it is the preferred default candidate (no device probe: ``--help`` stays fast);
    the backend that runs is chosen when the command runs.
    """
    from splatkit.plugins import get_plugin_manager

    registry = get_plugin_manager().stages
    if name in (None, "", AUTO_BACKEND):
        candidates = registry.default_candidates(kind)
        return candidates[0] if candidates else None
    try:
        return registry.get(kind, name)
    except SplatkitError:
        return None


def _prescan(argv: Sequence[str]) -> tuple[str | None, argparse.Namespace]:
    """The subcommand (``"sagemaker run"`` for a nested one) and the backend choices in ``argv``, before
    the full parser exists."""
    positionals = [a for a in argv if not a.startswith("-")]
    command = positionals[0] if positionals else None
    if command == "sagemaker" and len(positionals) > 1:
        command = f"sagemaker {positionals[1]}"
    pre = argparse.ArgumentParser(add_help=False)
    for flag in ("--backend", "--sfm", "--train", "--compress", "--config"):
        pre.add_argument(flag)
    if command in STAGE_KINDS:  # the output path: `compress IN OUT.spz` runs the spz backend
        for name in ("command", "input", "out"):
            pre.add_argument(name, nargs="?")
    known, _ = pre.parse_known_args(list(argv))
    return command, known


def _backends_for_flags(command: str | None, pre: argparse.Namespace) -> dict[str, str | None]:
    from splatkit.pipeline.config import DEFAULT_BACKENDS

    if command == "compress" and not pre.backend and pre.out:
        from splatkit.plugins import get_plugin_manager

        pm = get_plugin_manager()
        file_format = output_file_format(pre.out, pm.formats)
        if file_format is not None and file_format.name in pm.stages.names("compress"):
            return {command: file_format.name}
    if command in STAGE_KINDS:
        return {command: pre.backend or AUTO_BACKEND}
    if command in ("run", "demo", "sagemaker run", "sagemaker definition"):
        chosen: dict[str, str | None] = dict(DEFAULT_BACKENDS)
        if pre.config and Path(pre.config).is_file():
            try:
                from splatkit.pipeline.config import load_config_file

                chosen.update(load_config_file(pre.config).backends)
            except SplatkitError:
                pass  # reported properly when the command runs
        for kind in STAGE_KINDS:
            if getattr(pre, kind):
                chosen[kind] = getattr(pre, kind)
        return chosen
    return {}


# ------------------------------------------------------------------------------------------------
# run / demo / stage commands


def _pipeline_options(args: argparse.Namespace) -> Any:
    """Defaults < demo preset < --config file < --sfm/--train/--compress < generated flags < --set."""
    from splatkit.pipeline.config import PipelineOptions, load_config_file, parse_assignment

    options = PipelineOptions()
    if args.config:
        options = options.merged(load_config_file(args.config))
    backends = {k: getattr(args, k) for k in STAGE_KINDS if getattr(args, k)}
    flags = _collect_options(args)
    if getattr(args, "quality", None):  # the shorthand yields to --train-quality and --set train.quality
        flags.setdefault("train", {}).setdefault("quality", args.quality)
    for text in args.set or []:
        kind, name, value = parse_assignment(text)
        if name == "backend":
            backends[kind] = value
        else:
            flags.setdefault(kind, {})[name] = value
    options = options.merged(PipelineOptions(backends=backends, options=flags))
    if args.command == "demo":
        options = _with_demo_preset(options)
    return options


def _with_demo_preset(options: Any) -> Any:
    """Put the demo's stage options under the user's, for backends whose Config has those fields."""

    from splatkit.demo import DEMO_STAGE_OPTIONS
    from splatkit.pipeline.config import PipelineOptions

    preset: dict[str, dict[str, Any]] = {}
    for kind, values in DEMO_STAGE_OPTIONS.items():
        stage_cls = _stage_class_or_none(kind, options.backends.get(kind))
        if stage_cls is None:
            continue  # an unknown backend is reported when the pipeline resolves it
        config_cls = stage_cls.Config
        fields = {f.name for f in dataclasses.fields(config_cls)}
        preset[kind] = {k: v for k, v in values.items() if k in fields}
    return PipelineOptions(backends=dict(options.backends), options=preset).merged(options)


def _progress(args: argparse.Namespace) -> Any:
    from splatkit.pipeline.progress import ProgressDisplay

    return None if args.quiet else ProgressDisplay(sys.stderr)


def _print_run_result(result: Any) -> None:
    for outcome in result.stages:
        extra = f" ({outcome.reason})" if outcome.status == "skipped" else ""
        print(f"{outcome.kind}/{outcome.backend}: {outcome.status}{extra}")
    if result.report_html:
        print(f"report: {result.report_html}")
    print(f"final file: {result.final_file}")
    if result.report_html:
        print(f"see it in 3D: splatkit view {shlex.quote(str(Path(result.report_html).parent))}")


def _print_config(args: argparse.Namespace, *, runs_here: bool = True) -> int:
    """Print the effective stage options as TOML; ``runs_here=False`` resolves ``auto`` for a remote machine."""
    from splatkit.pipeline.config import to_toml
    from splatkit.pipeline.runner import resolve_stages
    from splatkit.plugins import get_plugin_manager

    resolved = resolve_stages(_pipeline_options(args), get_plugin_manager().stages, require_available=False,
                              runs_here=runs_here)
    print(to_toml({r.kind: (r.backend, r.config) for r in resolved}, notes={r.kind: r.note for r in resolved}),
          end="")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from splatkit.pipeline.runner import run

    if args.print_config:
        return _print_config(args)
    if not args.source or not args.out:
        raise InputError("splatkit run needs PHOTOS and OUT (or --print-config)")
    progress = _progress(args)
    result = run(Path(args.source), Path(args.out), config=_pipeline_options(args), progress=progress,
                 wait=args.wait)
    _print_run_result(result)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from splatkit.pipeline.runner import prepare_out_dir, run

    if args.print_config:
        return _print_config(args)
    try:
        from splatkit.demo import generate_demo_photos
    except ImportError as e:
        if e.name and not e.name.startswith("splatkit"):
            raise
        raise InputError("the demo generator (splatkit.demo.generate_demo_photos) is not part of this splatkit "
                         "build yet; run `splatkit run PHOTOS OUT` on your own photos") from e
    from splatkit.pipeline.lock import out_dir_lock

    out = prepare_out_dir(Path(args.out))
    progress = _progress(args)
    # One lock over the photo generation and the run: two demos on one OUT never both write OUT/photos.
    with out_dir_lock(out, wait=args.wait):
        # Writes OUT/photos (reused when up to date, so a re-run resumes) and OUT/demo_ground_truth.json.
        photos = Path(generate_demo_photos(out, progress=progress if progress is not None else _no_progress))
        if progress is not None:
            progress.close()
        print(f"demo photos: {photos}")
        result = run(photos, out, config=_pipeline_options(args), progress=progress, wait=args.wait)
    _print_run_result(result)
    return 0


def _cmd_sagemaker_run(args: argparse.Namespace) -> int:
    if args.print_config:
        return _print_config(args, runs_here=False)  # the stages run on SageMaker's machines
    from splatkit.sagemaker.cli import run_command

    result = run_command(args, _pipeline_options(args), _progress(args))
    _print_run_result(result)
    return 0


def _cmd_sagemaker_definition(args: argparse.Namespace) -> int:
    if args.print_config:
        return _print_config(args, runs_here=False)
    from splatkit.sagemaker.cli import definition_command

    return definition_command(args, _pipeline_options(args))


def _cmd_sagemaker_status(args: argparse.Namespace) -> int:
    from splatkit.sagemaker.cli import status_command

    return status_command(args)


def _cmd_sagemaker_logs(args: argparse.Namespace) -> int:
    from splatkit.sagemaker.cli import logs_command

    return logs_command(args)


def _cmd_sagemaker_stop(args: argparse.Namespace) -> int:
    from splatkit.sagemaker.cli import stop_command

    return stop_command(args)


def _stage_values(args: argparse.Namespace, kind: str) -> tuple[str | None, dict[str, Any]]:
    values = dict(_collect_options(args).get(kind, {}))
    backend = args.backend
    for text in args.set or []:
        if "." in text.partition("=")[0]:
            from splatkit.pipeline.config import parse_assignment

            stage_kind, name, value = parse_assignment(text)
            if stage_kind != kind:
                raise InputError(f"--set {text!r}: this command runs the {kind} stage")
        else:
            name, sep, value = (part.strip() for part in text.partition("="))
            if not sep or not name:
                raise InputError(f"--set {text!r}: expected OPTION=VALUE, e.g. --set steps=2000")
        if name == "backend":
            backend = value
        else:
            values[name] = value
    return backend, values


def _cmd_stage(args: argparse.Namespace) -> int:
    from splatkit.pipeline.runner import (
        check_photo_source,
        input_digest_of_path,
        prepare_out_dir,
        resolve_stage,
        run_stage,
    )
    from splatkit.plugins import get_plugin_manager

    kind = args.command
    backend, values = _stage_values(args, kind)
    source, out = Path(args.input), Path(args.out)
    if not source.exists():
        raise InputError("no such file or folder", path=source)
    if kind == "sfm":
        check_photo_source(source)
    pm = get_plugin_manager()
    if kind == "compress":
        file_format = output_file_format(args.out, pm.formats)
        if file_format is not None:
            return _compress_to_file(args, backend, values, source, out, file_format)
    resolved = resolve_stage(kind, backend or AUTO_BACKEND, values, pm.stages)
    stage_input: Any = read_splats(source) if kind == "compress" else source
    prepare_out_dir(out.parent)
    progress = _progress(args)
    outcome = run_stage(resolved, stage_input, out, input_digest=input_digest_of_path(source),
                        plugin_manager=pm, progress=progress if progress is not None else _no_progress)
    print(f"{outcome.kind}/{outcome.backend}: {outcome.status}"
          + (f" ({outcome.reason})" if outcome.status == "skipped" else ""))
    print(f"output: {outcome.primary_file or outcome.stage_dir}")
    return 0


def output_file_format(out: str, formats: Any) -> type | None:
    """The splat format that ``out`` names as one file (``OUT.sog``, ``OUT.spz``, ``OUT.ply``), or None
    when ``out`` is a folder: it ends with ``/``, is an existing folder, or has no splat suffix.

    Like splat-transform, a file output is chosen by its suffix; a folder keeps the stage layout
    (the stage's files and ``manifest.json``, resumable).
    """
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        return None
    suffix = path.suffix.lower()
    for cls in formats:
        if suffix and cls.holds == "splats" and suffix in cls.suffixes:
            return cls
    return None


def read_splats(source: Path) -> Any:
    """The GaussianCloud in a splat file of any registered format (detected, else by its suffix).

    Raises
    ------
    InputError
        A missing path, a file no splat format reads, or the reader's own error for a damaged file.
    """
    from splatkit.plugins import get_plugin_manager

    if not source.exists():
        raise InputError("no such file or folder", path=source)
    formats = get_plugin_manager().formats
    found = formats.detect(source, holds="splats") or _claimed_by_suffix(formats, source, "splats")
    if found is None:
        raise InputError(f"not a splat file splatkit can decode: expected {_format_list(formats, 'splats')}",
                         path=source)
    return found().decode(source)


def _compress_to_file(args: argparse.Namespace, backend: str | None, values: dict[str, Any], source: Path,
                      out: Path, file_format: type) -> int:
    """``splatkit compress IN OUT.sog``: run the stage in a scratch folder beside OUT, then rename its file
    to OUT (atomic: OUT is the old file or the whole new one, never a partial one)."""
    import tempfile

    from splatkit.io.atomic import TEMP_MARKER
    from splatkit.pipeline.runner import input_digest_of_path, prepare_out_dir, resolve_stage, run_stage
    from splatkit.plugins import get_plugin_manager

    pm = get_plugin_manager()
    suffix = out.suffix.lower()
    fix = f"name the backend with --backend, or pass a folder ({out.with_suffix('')}/) for the stage layout"
    if backend in (None, "", AUTO_BACKEND):
        if file_format.name not in pm.stages.names("compress"):
            raise InputError(f"no compress backend is named after the {file_format.name} format that writes "
                             f"{suffix} files; {fix}", path=out)
        backend = file_format.name
    elif backend in pm.formats.names("splats") and suffix not in pm.formats.get(backend).suffixes:
        raise InputError(f"--backend {backend} writes {', '.join(pm.formats.get(backend).suffixes)} files, not "
                         f"{suffix}; use --backend {file_format.name} or name the output "
                         f"{out.with_suffix(pm.formats.get(backend).suffixes[0]).name}", path=out)
    resolved = resolve_stage("compress", backend, values, pm.stages)
    cloud = read_splats(source)
    prepare_out_dir(out.parent)
    progress = _progress(args)
    # A hidden temporary sibling named like io.atomic's, so it is recognised as one if a kill leaves it.
    with tempfile.TemporaryDirectory(prefix=f".{out.name}{TEMP_MARKER}", dir=out.parent) as scratch:
        outcome = run_stage(resolved, cloud, Path(scratch) / "stage", input_digest=input_digest_of_path(source),
                            plugin_manager=pm, progress=progress if progress is not None else _no_progress)
        written = outcome.primary_file
        if written is None or not written.is_file() or written.suffix.lower() != suffix:
            what = "no file" if written is None else written.name + ("/ (a folder)" if written.is_dir() else "")
            raise InputError(f"compress/{backend} wrote {what}, not a {suffix} file; {fix}", path=out)
        os.replace(written, out)
    print(f"compress/{backend}: {outcome.status}")
    print(f"output: {out}")
    return 0


def _no_progress(update: Any) -> None:
    """Progress callback for --quiet."""


def _cmd_decompress(args: argparse.Namespace) -> int:
    """``OUT.ply`` (or any suffix of a format that writes): that file; ``OUT/``: ``OUT/<IN name>.ply``."""
    from splatkit.pipeline.runner import prepare_out_dir
    from splatkit.plugins import get_plugin_manager

    source, out = Path(args.input), Path(args.out)
    formats = get_plugin_manager().formats
    if not source.exists():
        raise InputError("no such file or folder", path=source)
    file_format = output_file_format(args.out, formats)
    if file_format is None:
        file_format, target = formats.get("ply"), prepare_out_dir(out) / f"{source.stem or source.name}.ply"
    elif not file_format.can_write():
        writable = [s for name in formats.names("splats") if formats.get(name).can_write()
                    for s in formats.get(name).suffixes]
        raise InputError(f"splatkit decompress writes {', '.join(writable)} files; a {out.suffix} file is written "
                         f"by `splatkit compress IN.ply OUT{out.suffix}`", path=out)
    else:
        target = out
    cloud = read_splats(source)
    try:
        written = file_format().write(cloud, target)
    except PermissionError as e:
        raise InputError(f"cannot write here ({e.strerror}); choose another output path", path=target) from e
    print(f"{written}: {len(cloud)} Gaussians, SH degree {cloud.sh_degree}")
    return 0


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``argv``, it also has the chosen backends' option flags."""
    from splatkit import __version__

    parser = argparse.ArgumentParser(
        prog="splatkit",
        description="Drone photos -> SfM -> 3D Gaussian Splatting -> SOG compression.",
    )
    parser.add_argument("--version", action="version", version=f"splatkit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                help="one of these (`splatkit COMMAND --help` describes its options):")

    p = sub.add_parser("info", help="what a PLY, SOG, COLMAP model, OpenSfM folder or photo set holds")
    p.add_argument("path", help="file or folder to describe")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("plugins", help="registered stage backends and whether they can run here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_plugins)

    command, pre = _prescan(argv) if argv is not None else (None, argparse.Namespace())
    flag_backends = _backends_for_flags(command, pre) if command else {}

    def pipeline_flags(p: argparse.ArgumentParser, *, remote: bool = False) -> None:
        p.add_argument("--sfm", metavar="NAME", help="SfM backend (default: pycolmap)")
        p.add_argument("--train", metavar="NAME", help="training backend (default: auto = gsplat, which the "
                                                       "training instance's GPU runs)" if remote else
                       "training backend (default: auto = gsplat with a working CUDA GPU, else cpu)")
        p.add_argument("--compress", metavar="NAME", help="compression backend (default: sog)")
        p.add_argument("--config", metavar="FILE.toml", help="stage options: [sfm], [train], [compress] tables")
        p.add_argument("--set", action="append", metavar="STAGE.OPTION=VALUE",
                       help="set one option, e.g. --set train.steps=2000 (repeatable; wins over flags)")
        p.add_argument("--print-config", action="store_true", help="print the effective options as TOML and exit")
        p.add_argument("--quality", metavar="{auto,preview,standard,high}",
                       help="training preset for the options left unset (steps or minutes, resolution, Gaussian "
                            "cap per backend; auto: preview on a CPU); shorthand for --train-quality")
        for kind in STAGE_KINDS:
            # p.prog is "splatkit run" or "splatkit sagemaker run": flags only for the command being parsed.
            cls = _stage_class_or_none(kind, flag_backends.get(kind)) if command == " ".join(p.prog.split()[1:]) \
                else None
            if cls is not None:
                _add_config_flags(p, cls.Config, kind=kind, prefix=f"{kind}-",
                                  title=f"{kind} options ({kind}/{cls.name}; also --set {kind}.OPTION=VALUE)")

    epilog = ("Backend options appear as --sfm-*, --train-*, --compress-* flags for the chosen backends "
              "(see `splatkit run --train cpu --help`).")
    p = sub.add_parser("run", help="photos -> SfM -> training -> compression, resumable, with a report",
                       epilog=epilog, allow_abbrev=False)
    p.add_argument("source", nargs="?", metavar="PHOTOS", help="folder or .zip of photos")
    p.add_argument("out", nargs="?", metavar="OUT", help="output folder (re-runs resume here)")
    pipeline_flags(p)
    p.add_argument("--wait", action="store_true", help="if another splatkit run holds OUT, wait for it to finish "
                                                       "instead of stopping (OUT/.splatkit.lock names its pid)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("demo", help="generate a synthetic drone flight and run the pipeline on it",
                       epilog=epilog, allow_abbrev=False)
    p.add_argument("out", metavar="OUT", help="output folder (the generated photos go to OUT/photos)")
    pipeline_flags(p)
    p.add_argument("--wait", action="store_true", help="if another splatkit run holds OUT, wait for it to finish "
                                                       "instead of stopping (OUT/.splatkit.lock names its pid)")
    p.set_defaults(func=_cmd_demo)

    stage_help = {
        "sfm": ("photos -> camera poses and sparse points (COLMAP layout)", "INPUT",
                "folder or .zip of photos (or an OpenSfM dataset folder for --backend opensfm)"),
        "train": ("SfM folder -> trained Gaussians (point_cloud.ply, metrics.json)", "SFM_DIR",
                  "SfM output folder (images/ + sparse/0)"),
        "compress": ("3DGS PLY -> compressed splats: OUT.sog, OUT.spz, OUT.ply, or a stage folder OUT/", "IN",
                     "trained 3DGS PLY (or any splat file splatkit reads)"),
    }
    out_help = {"compress": "OUT.sog, OUT.spz, OUT.ply: that file (written atomically; the suffix picks the backend); "
                            "OUT/ (a folder, or no splat suffix): the stage folder with manifest.json"}
    default = f"{AUTO_BACKEND}: the best registered backend that can run here"
    for kind, (text, metavar, in_help) in stage_help.items():
        p = sub.add_parser(kind, help=text, allow_abbrev=False,
                           epilog=f"Options of the chosen backend are flags (`splatkit {kind} --backend NAME --help`).")
        p.add_argument("input", metavar=metavar, help=in_help)
        p.add_argument("out", metavar="OUT", help=out_help.get(kind, "output folder (written atomically, with "
                                                                       "manifest.json)"))
        p.add_argument("--backend", metavar="NAME", help=f"backend (default: {default}" + (
            "; for a file OUT, its suffix's" if kind == "compress" else "") + "; `splatkit plugins` lists them)")
        p.add_argument("--set", action="append", metavar="OPTION=VALUE", help="set one option (repeatable)")
        cls = _stage_class_or_none(kind, flag_backends.get(kind)) if command == kind else None
        if cls is not None:
            _add_config_flags(p, cls.Config, kind=kind, prefix="", title=f"{kind}/{cls.name} options")
        p.set_defaults(func=_cmd_stage)

    _add_sagemaker_parser(sub, pipeline_flags, epilog, command)

    p = sub.add_parser("decompress", help="a splat file (.sog, .spz, a plugin's format) -> OUT.ply (or OUT.spz), "
                                          "or OUT/<IN name>.ply")
    p.add_argument("input", metavar="IN", help="splat file or folder (its format is detected)")
    p.add_argument("out", metavar="OUT", help="file to write, its format from the suffix (OUT.ply, OUT.spz); a "
                                              "folder (OUT/, or no splat suffix) gets OUT/<IN name>.ply")
    p.set_defaults(func=_cmd_decompress)

    from splatkit.view.cli import add_view_parser  # stdlib only: the page and its server

    add_view_parser(sub)
    from splatkit.bench.cli import add_bench_parser  # light: the suite's heavy imports run inside it
    add_bench_parser(sub)
    return parser


def _add_sagemaker_parser(sub: Any, pipeline_flags: Any, epilog: str, command: str | None) -> None:
    """``splatkit sagemaker run|status|logs|stop|definition``; the commands are in :mod:`splatkit.sagemaker.cli`."""
    p = sub.add_parser("sagemaker", help="run the pipeline as SageMaker jobs; status, logs, stop, definition",
                       description="Each stage runs as one SageMaker job, chained through S3 (docs/sagemaker.md). "
                                   "Needs `pip install 'splatkit[aws]'`, AWS credentials, an image in ECR and an "
                                   "execution role.")
    sm = p.add_subparsers(dest="sagemaker_command", metavar="SUBCOMMAND", required=True,
                          help="one of these (`splatkit sagemaker SUBCOMMAND --help` describes its options):")

    defaults: Mapping[str, str] = {}
    if command in ("sagemaker run", "sagemaker definition"):  # not for other commands: the import costs ~0.1 s
        from splatkit.sagemaker.instances import DEFAULT_INSTANCE_TYPES

        defaults = DEFAULT_INSTANCE_TYPES

    def launcher_flags(q: argparse.ArgumentParser, defaults: Mapping[str, str]) -> None:
        aws = q.add_argument_group("SageMaker (flags win over --launcher-config)")
        aws.add_argument("--role", metavar="ARN", help="execution role ARN the jobs run as")
        aws.add_argument("--image", metavar="URI", help="the splatkit image in ECR (docker/Dockerfile)")
        aws.add_argument("--run-id", metavar="ID", help="names the run's S3 folder and jobs; the same id re-attaches "
                                                         "(default: the one in OUT/sagemaker.json, else OUTNAME-TIME)")
        aws.add_argument("--attempt", type=int, metavar="N", help="attempt number of the jobs (default 1); a failed "
                                                                  "stage runs again with the next one")
        aws.add_argument("--region", help="AWS region (default: --launcher-config, the S3 URL's, the AWS profile's)")
        aws.add_argument("--spot", action=argparse.BooleanOptionalAction, default=None,
                         help="managed spot for the training job (MaxWait twice the run time; checkpoints resume)")
        for kind in STAGE_KINDS:
            aws.add_argument(f"--instance-type-{kind}", dest=f"instance_type_{kind}", metavar="TYPE",
                             help=f"instance of the {kind} job" + (f" (default {defaults[kind]})" if kind in defaults
                                                                   else ""))
        aws.add_argument("--kms-key", metavar="KEY", help="KMS key for the S3 outputs and the EBS volumes (NVMe "
                                                          "instance storage is encrypted by the hardware)")
        aws.add_argument("--subnet", action="append", metavar="ID", help="private subnet (repeatable; with "
                                                                         "--security-group)")
        aws.add_argument("--security-group", action="append", metavar="ID", help="security group (repeatable)")
        aws.add_argument("--tag", action="append", metavar="KEY=VALUE", help="tag on every job (repeatable)")
        aws.add_argument("--launcher-config", metavar="FILE.toml",
                         help="role_arn, image_uri, output, region, spot, [sfm]/[train]/[compress] machines, [vpc], "
                              "[tags]")

    r = sm.add_parser("run", help="photos -> SfM job -> training job -> compression job; OUT gets the results",
                      epilog=epilog, allow_abbrev=False)
    r.add_argument("source", nargs="?", metavar="PHOTOS", help="folder or .zip of photos (uploaded once)")
    r.add_argument("output", nargs="?", metavar="S3_PREFIX",
                   help="where runs live: s3://bucket/prefix (or an https S3 URL); a run uses S3_PREFIX/RUN_ID/")
    r.add_argument("out", nargs="?", metavar="OUT", help="local output folder (manifests, report, final file)")
    launcher_flags(r, defaults)
    pipeline_flags(r, remote=True)
    r.set_defaults(func=_cmd_sagemaker_run)

    d = sm.add_parser("definition", help="print a Step Functions definition of a run and the IAM policies (JSON)",
                      epilog=epilog, allow_abbrev=False,
                      description="Prints JSON: the state machine (.sync jobs, Retry/Catch), the IAM policies for "
                                  "the caller, the execution role and the state machine role, and where to put the "
                                  "photos. Creates nothing.")
    d.add_argument("output", nargs="?", metavar="S3_PREFIX", help="where runs live: s3://bucket/prefix")
    launcher_flags(d, defaults)
    d.add_argument("--state-machine-name", default="splatkit", metavar="NAME",
                   help="name the policies give the state machine (default: splatkit)")
    pipeline_flags(d, remote=True)
    d.set_defaults(func=_cmd_sagemaker_definition)

    def run_ref(q: argparse.ArgumentParser) -> None:
        q.add_argument("run", metavar="RUN", help="the run's OUT folder (its sagemaker.json) or the run id")
        q.add_argument("--region", help="AWS region (default: the one OUT/sagemaker.json recorded, the profile's)")
        q.add_argument("--job-prefix", metavar="PREFIX", help="first part of the job names (default: splatkit)")
        q.add_argument("--launcher-config", metavar="FILE.toml", help="read region and job_prefix from it")

    q = sm.add_parser("status", help="each job of a run: status, times, failure reason")
    run_ref(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=_cmd_sagemaker_status)

    q = sm.add_parser("logs", help="the CloudWatch log of a stage's job")
    run_ref(q)
    q.add_argument("stage", choices=STAGE_KINDS, metavar="STAGE", help=f"one of {', '.join(STAGE_KINDS)}")
    q.add_argument("--attempt", type=int, metavar="N", help="which attempt (default: the latest)")
    q.add_argument("-n", "--lines", type=int, default=100, metavar="N", help="print the last N lines (default 100)")
    q.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until the job ends")
    q.set_defaults(func=_cmd_sagemaker_logs)

    q = sm.add_parser("stop", help="stop the running jobs of a run (StopProcessingJob/StopTrainingJob)")
    run_ref(q)
    q.add_argument("--stage", choices=STAGE_KINDS, metavar="STAGE", help="only this stage's job")
    q.set_defaults(func=_cmd_sagemaker_stop)


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``splatkit`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
    except SplatkitError as e:  # a broken plugin while generating flags
        print(f"splatkit: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args))
    except SplatkitError as e:
        print(f"splatkit: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:  # disk full, permission denied mid-run: one line, not a traceback
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"splatkit: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_OS_ERROR
    except KeyboardInterrupt:
        print("splatkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
