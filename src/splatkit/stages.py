"""The stage protocol: what an SfM, training or compression backend looks like.

A stage is a class with ``kind``, ``name``, a flat ``Config`` dataclass, a cheap
``is_available()`` and ``run(input, config, workdir, progress) -> StageResult``. Subclass
:class:`Stage` to get the defaults; register the class through the
``splatkit_register_stages`` hook (see :mod:`splatkit.plugins`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from splatkit.errors import ContractError

__all__ = [
    "STAGE_KINDS",
    "AUTO_BACKEND",
    "NONE_WORDS",
    "StageKind",
    "ProgressUpdate",
    "ProgressCallback",
    "no_progress",
    "StageResult",
    "StopRequested",
    "Stage",
    "config_from_mapping",
    "config_to_dict",
    "OptionRange",
    "RANGE_METADATA_KEY",
    "ranged",
    "option_range",
    "check_config_ranges",
]

StageKind = Literal["sfm", "train", "compress"]
#: Stage kinds in pipeline order, with the contract each consumes and produces.
STAGE_KINDS: dict[str, tuple[str, str]] = {
    "sfm": ("ImageSet or a folder", "Reconstruction"),
    "train": ("Reconstruction + images", "GaussianCloud"),
    "compress": ("GaussianCloud", "CompressedBundle"),
}

#: Backend name meaning "the registry's default for this machine" (see ``Stage.default_rank``).
AUTO_BACKEND = "auto"
#: Option values meaning None, accepted (any case) for options whose default is None, from TOML,
#: ``--set`` and generated flags alike.
NONE_WORDS: frozenset[str] = frozenset({"none", "null"})

OutputT = TypeVar("OutputT")


@dataclass(frozen=True, kw_only=True)
class ProgressUpdate:
    """One progress report from a running stage.

    Attributes
    ----------
    stage : str
        ``"kind/name"`` of the reporting stage.
    step, total : int, int or None
        Work done and work expected (None when unknown).
    message : str
        Short human text ("extracting features", "densify").
    metrics : Mapping[str, float]
        Numbers worth plotting (loss, number of Gaussians, PSNR).
    """

    stage: str
    step: int
    total: int | None = None
    message: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[ProgressUpdate], None]


def no_progress(update: ProgressUpdate) -> None:
    """The default progress callback: ignore updates."""


class StopRequested(BaseException):
    """Raised by a progress callback to ask a running stage to stop (e.g. SageMaker's SIGTERM).

    A stage that can keep its progress saves it before letting this propagate: the training
    backends write a checkpoint at the step they stopped at, so the same run resumes there. A
    ``BaseException``, like ``KeyboardInterrupt``, so code that catches ``Exception`` to carry on
    cannot swallow it.
    """


@dataclass(frozen=True, kw_only=True)
class StageResult(Generic[OutputT]):
    """What ``Stage.run`` returns.

    Attributes
    ----------
    output
        The next contract (a Reconstruction, GaussianCloud or CompressedBundle).
    report : dict
        JSON-able numbers and facts about the run (counts, errors, timings).
    files : tuple[Path, ...]
        Files the stage wrote under its workdir, the primary artifact first.
    """

    output: OutputT
    report: dict[str, Any] = field(default_factory=dict)
    files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        try:
            json.dumps(self.report)
        except (TypeError, ValueError) as e:
            raise ContractError(f"StageResult.report must be JSON-able: {e}", field="StageResult.report") from e
        object.__setattr__(self, "files", tuple(Path(f) for f in self.files))


@dataclass(frozen=True, kw_only=True)
class _EmptyConfig:
    """A stage with no options."""


class Stage:
    """Base class for stage backends; subclasses set the class attributes and ``run``.

    Class attributes
    ----------------
    kind : {"sfm", "train", "compress"}
    name : str
        Short registry name, unique within its kind (``"pycolmap"``, ``"cpu"``).
    Config : type
        A frozen dataclass of flat options (str, int, float, bool, or None defaults).
    description : str
        One line for ``splatkit plugins``.
    install_hint : str
        What to install when unavailable, e.g. ``pip install 'splatkit[sfm]'``.
    default_rank : int
        Preference when the user names no backend for this kind: the usable backend with the
        highest rank runs (see :meth:`unusable_reason`); 0 (the default) means "only when named".
        Built-ins: sfm pycolmap 100; train gsplat 200, cpu 100; compress sog 100. A plugin that
        should win where it can run sets a higher rank.
    """

    kind: ClassVar[str]
    name: ClassVar[str]
    Config: ClassVar[type] = _EmptyConfig
    description: ClassVar[str] = ""
    install_hint: ClassVar[str] = ""
    default_rank: ClassVar[int] = 0

    @classmethod
    def is_available(cls) -> bool:
        """Cheap check that the backend can run here. Must not import heavy packages."""
        return cls.unavailable_reason() is None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why the backend cannot run here (with the fix), or None when it can."""
        return None

    @classmethod
    def unusable_reason(cls) -> str | None:
        """Why the backend should not be chosen by default here, or None when it should.

        A deeper check than :meth:`unavailable_reason`, asked only when choosing a default
        backend; it may import heavy packages (the gsplat trainer asks torch for a CUDA device).
        The default is :meth:`unavailable_reason`.
        """
        return cls.unavailable_reason()

    def run(
        self,
        input: Any,
        config: Any,
        workdir: Path,
        progress: ProgressCallback = no_progress,
    ) -> StageResult[Any]:
        """Run the stage on ``input``; write files under ``workdir``; never mutate ``input``."""
        raise NotImplementedError

    @classmethod
    def qualified_name(cls) -> str:
        return f"{cls.kind}/{cls.name}"


#: Key of a Config field's ``metadata`` holding its :class:`OptionRange` (set by :func:`ranged`).
RANGE_METADATA_KEY = "splatkit_range"


@dataclass(frozen=True, kw_only=True)
class OptionRange:
    """The allowed interval of a numeric option: any of ``ge`` (>=), ``gt`` (>), ``le`` (<=), ``lt`` (<).

    None values are not checked (an optional option's None means "not set"); NaN is never in range.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def describe(self) -> str:
        """``">= 1"``, ``"> 0 and <= 1"``."""
        parts = [f"{op} {bound:g}" if isinstance(bound, float) else f"{op} {bound}"
                 for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
                 if bound is not None]
        return " and ".join(parts) or "any number"

    def contains(self, value: Any) -> bool:
        """True when ``value`` is None, or a real number (not a bool) inside the interval."""
        if value is None:
            return True
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))


def ranged(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None) -> Any:
    """A Config field with ``default`` whose values must lie in a range, checked by :func:`config_from_mapping`.

    Example::

        @dataclass(frozen=True, kw_only=True)
        class Config:
            curve_every: int = ranged(50, ge=1)       # 0 would divide by zero
            prune_opa: float = ranged(0.005, ge=0, lt=1)
    """
    return field(default=default, metadata={RANGE_METADATA_KEY: OptionRange(ge=ge, gt=gt, le=le, lt=lt)})


def option_range(f: dataclasses.Field) -> OptionRange | None:
    """The :class:`OptionRange` a Config field declares, or None."""
    found = f.metadata.get(RANGE_METADATA_KEY)
    return found if isinstance(found, OptionRange) else None


def check_config_ranges(config: Any, *, where: str = "") -> None:
    """Check every ranged field of a config dataclass instance (call it from ``__post_init__`` too).

    Raises
    ------
    ContractError
        Naming ``Config.field``, the range and the value.
    """
    for f in dataclasses.fields(config):
        _check_range(type(config), f, getattr(config, f.name), where)


def _check_range(config_cls: type, f: dataclasses.Field, value: Any, where: str) -> None:
    allowed = option_range(f)
    if allowed is None or allowed.contains(value):
        return
    prefix = f"{where}: " if where else ""
    name = f"{config_cls.__qualname__}.{f.name}"
    raise ContractError(f"{prefix}option {f.name} must be {allowed.describe()}, got {value!r} ({name})",
                        field=name, expected=allowed.describe(), actual=value)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A flat config dataclass as a JSON-able dict."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def config_from_mapping(config_cls: type, values: Mapping[str, Any], *, where: str = "") -> Any:
    """Build ``config_cls`` from a mapping (TOML table, CLI flags), rejecting unknown keys.

    Values are converted to the field's scalar type (``"3"`` -> 3 for an ``int`` option, also for
    ``int | None``), taken from its annotation or, failing that, from its default. A bool is not
    accepted for an int or float option. For an option whose default is None, a string in
    :data:`NONE_WORDS` (``"none"``, ``"null"``, any case) means None. The pipeline, the CLI and
    plugins all build configs through this one function.

    Raises
    ------
    ContractError
        An unknown option (listing the known ones), a value of the wrong type, a value outside
        the range its field declares (:func:`ranged`), NaN for a float option, or a missing
        required option.
    """
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    prefix = f"{where}: " if where else ""
    if unknown:
        raise ContractError(
            f"{prefix}unknown option(s) {unknown} for {config_cls.__qualname__}; known: {sorted(fields)}",
            field=config_cls.__qualname__, expected=sorted(fields), actual=unknown)
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # an annotation that does not resolve here: fall back to the defaults' types
        hints = {}
    values = {k: (None if _means_none(v) and fields[k].default is None else v) for k, v in values.items()}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        kind = _scalar_kind(hints.get(key), fields[key])
        kwargs[key] = value if kind is None or value is None else _coerce(value, kind, f"{prefix}{key}")
        # before the constructor: a value out of range must not reach code that divides by it
        _check_range(config_cls, fields[key], kwargs[key], where)
    try:
        return config_cls(**kwargs)
    except TypeError as e:  # a required option was not given
        raise ContractError(f"{prefix}{config_cls.__qualname__}: {e}", field=config_cls.__qualname__) from e


_SCALARS = (bool, int, float, str)


def _means_none(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in NONE_WORDS


def _scalar_kind(hint: Any, f: dataclasses.Field) -> type | None:
    """``bool``/``int``/``float``/``str`` for a scalar (or optional scalar) option, else None."""
    if hint in _SCALARS:
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and args[0] in _SCALARS:  # ``int | None``, ``Optional[int]``
        return args[0]
    if hint is None and f.default is not dataclasses.MISSING and type(f.default) in _SCALARS:
        return type(f.default)
    return None


def _coerce(value: Any, kind: type, where: str) -> Any:
    if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)) and not (
            kind is float and math.isnan(value)):
        return value
    try:
        if isinstance(value, bool) and kind in (int, float):
            raise ValueError(value)  # int(True) == 1 would hide a misplaced flag
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return value.lower() in ("1", "true", "yes", "on")
            raise ValueError(value)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        converted = kind(value)
        if kind is float and math.isnan(converted):
            raise ValueError(value)   # NaN compares false with everything: no option means it
        return converted
    except (TypeError, ValueError) as e:
        raise ContractError(f"{where}: expected {kind.__name__}, got {value!r}", field=where,
                            expected=kind.__name__, actual=value) from e
