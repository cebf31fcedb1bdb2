"""Pipeline options: which backend runs each stage, and that backend's flat options.

Three layers, later ones win: the embedded defaults, a TOML file, then command-line flags.
The TOML file has one table per stage, each with an optional ``backend`` key and the backend's
options (the fields of its ``Config`` dataclass)::

    [sfm]
    backend = "pycolmap"
    max_image_size = 2000

    [train]
    backend = "cpu"        # "auto" (the default): the registry's best backend that can run here
    steps = 2000

    [compress]
    backend = "sog"
    order = "morton"

On the command line the same options are ``--train-steps 2000`` (generated from the backend's
``Config`` fields) or ``--set train.steps=2000``. ``splatkit run --print-config`` prints the
effective options in this format, so its output is a valid config file.

Training has a ``quality`` preset (``[train] quality = "preview"``, ``--train-quality preview``):
``auto`` (the default) is ``preview`` when training runs on the CPU (a 15-minute budget at a
reduced resolution, so ``splatkit run`` on a machine without a GPU finishes in bounded time) and
``standard`` on a GPU; see :mod:`splatkit.train.presets`. ``--print-config`` prints the values the
preset fills in for the chosen backend, with the preset table as comments; printed back in, they
give the same run.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splatkit.errors import ContractError, InputError
from splatkit.stages import AUTO_BACKEND, STAGE_KINDS, Stage, config_from_mapping, config_to_dict

__all__ = [
    "STAGE_ORDER",
    "DEFAULT_BACKENDS",
    "AUTO",
    "PipelineOptions",
    "ResolvedStage",
    "load_config_file",
    "read_toml",
    "parse_assignment",
    "options_from_mapping",
    "build_stage_config",
    "to_toml",
]

#: Stage kinds in the order the pipeline runs them (``splatkit.stages.STAGE_KINDS``).
STAGE_ORDER: tuple[str, ...] = tuple(STAGE_KINDS)
AUTO = AUTO_BACKEND
#: Embedded defaults: every stage's backend is chosen by the registry (the usable backend with the
#: highest ``default_rank``: pycolmap SfM, gsplat on a working CUDA GPU else cpu, SOG output).
DEFAULT_BACKENDS: dict[str, str] = {kind: AUTO for kind in STAGE_ORDER}


@dataclass(frozen=True)
class ResolvedStage:
    """A stage kind with its backend class and typed options."""

    kind: str
    backend: str
    stage_cls: type[Stage]
    config: Any
    note: str = ""


@dataclass(frozen=True)
class PipelineOptions:
    """Backends and raw (not yet type-checked) options per stage kind.

    Attributes
    ----------
    backends : dict[str, str]
        Stage kind -> backend name (``"auto"``: the registry chooses).
    options : dict[str, dict[str, Any]]
        Stage kind -> option name -> value (strings from flags are converted later, against the
        chosen backend's ``Config``).
    """

    backends: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BACKENDS))
    options: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: {} for k in STAGE_ORDER})

    def merged(self, other: PipelineOptions | Mapping[str, Any]) -> PipelineOptions:
        """These options overridden by ``other`` (a PipelineOptions or a TOML-shaped mapping)."""
        if not isinstance(other, PipelineOptions):
            other = options_from_mapping(other, defaults=False)
        backends = {**self.backends, **other.backends}
        options = {k: {**self.options.get(k, {}), **other.options.get(k, {})} for k in STAGE_ORDER}
        return PipelineOptions(backends=backends, options=options)


def options_from_mapping(data: Mapping[str, Any], *, where: str = "config", defaults: bool = True) -> PipelineOptions:
    """Options from a TOML-shaped mapping ``{"train": {"backend": "cpu", "steps": 10}, ...}``.

    Raises
    ------
    InputError
        An unknown stage table, a table that is not a table, or a backend that is not a string.
    """
    unknown = sorted(set(data) - set(STAGE_ORDER))
    if unknown:
        raise InputError(f"unknown section(s) {unknown}; expected tables {list(STAGE_ORDER)}", path=where)
    backends: dict[str, str] = dict(DEFAULT_BACKENDS) if defaults else {}
    options: dict[str, dict[str, Any]] = {k: {} for k in STAGE_ORDER}
    for kind, table in data.items():
        if not isinstance(table, Mapping):
            raise InputError(f"[{kind}] must be a table of options, got {table!r}", path=where)
        table = dict(table)
        if "backend" in table:
            name = table.pop("backend")
            if not isinstance(name, str) or not name:
                raise InputError(f"[{kind}] backend must be a backend name, got {name!r}", path=where)
            backends[kind] = name
        options[kind] = table
    return PipelineOptions(backends=backends, options=options)


def read_toml(path: str | Path, *, what: str = "config file") -> dict[str, Any]:
    """The TOML document at ``path`` as a dict.

    Raises
    ------
    InputError
        A missing file (``what`` names it) or invalid TOML (with the line).
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found", path=path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"not valid TOML: {e}", path=path) from e


def load_config_file(path: str | Path) -> PipelineOptions:
    """Read a pipeline TOML file (see the module docstring); only the keys it sets.

    Raises
    ------
    InputError
        A missing file or invalid TOML (with the line), or an unknown stage table.
    """
    return options_from_mapping(read_toml(path), where=str(path), defaults=False)


def parse_assignment(text: str) -> tuple[str, str, str]:
    """Split ``"train.steps=2000"`` into ``("train", "steps", "2000")``.

    Raises
    ------
    InputError
        Not of the form ``STAGE.OPTION=VALUE`` with a known stage (``backend`` is an option too).
    """
    key, sep, value = text.partition("=")
    kind, dot, name = key.strip().partition(".")
    if not sep or not dot or not name or kind not in STAGE_ORDER:
        raise InputError(f"--set {text!r}: expected STAGE.OPTION=VALUE with STAGE one of {list(STAGE_ORDER)}, "
                         "e.g. --set train.steps=2000")
    return kind, name.strip(), value.strip()


def build_stage_config(config_cls: type, values: Mapping[str, Any], *, where: str) -> Any:
    """``config_cls`` from raw values (see :func:`splatkit.stages.config_from_mapping`).

    Raises
    ------
    ContractError
        An unknown option (listing the known ones) or a value of the wrong type.
    """
    return config_from_mapping(config_cls, values, where=where)


# -----------------------------------------------------------------------------------------------
# TOML output (a tiny writer: the options are flat scalars)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else f"{text}.0"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    raise ContractError(f"cannot write {value!r} ({type(value).__name__}) as a TOML scalar", field="config")


def to_toml(stages: Mapping[str, tuple[str, Any]], *, notes: Mapping[str, str] | None = None) -> str:
    """The effective options as a TOML document that :func:`load_config_file` reads back.

    Parameters
    ----------
    stages
        Stage kind -> (backend name, Config instance).
    notes
        Stage kind -> a comment line (e.g. why ``auto`` chose ``cpu``).

    Options set to None are written as comments (TOML has no null): leaving them out keeps the
    default, which is None. A Config with a ``for_backend(backend)`` method (training's quality
    preset, :meth:`splatkit.train.config.TrainConfig.for_backend`) is written as that method
    fills it in for ``backend``, after the comment lines it returns.
    """
    lines: list[str] = []
    for kind, (backend, config) in stages.items():
        if lines:
            lines.append("")
        lines.append(f"[{kind}]")
        if notes and notes.get(kind):
            lines.append(f"# {notes[kind]}")
        for_backend = getattr(config, "for_backend", None)
        if callable(for_backend):
            config, explained = for_backend(backend)
            lines.extend(f"# {line}" for line in explained)
        lines.append(f"backend = {_toml_value(backend)}")
        for name, value in config_to_dict(config).items():
            if value is None:
                lines.append(f"# {name} = (none)")
            else:
                lines.append(f"{name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
