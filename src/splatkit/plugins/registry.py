"""The registries plugins fill: stage classes per kind, and file formats; duplicates rejected.

A registry does not know which plugin is calling ``add``: the plugin manager passes an
``origin_of`` callable that asks pluggy which hook implementation is running (see
:class:`splatkit.plugins.PluginManager`), so errors and ``splatkit plugins`` name the plugin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from splatkit.errors import BackendUnavailableError, PluginError
from splatkit.formats import FORMAT_HOLDS, Format
from splatkit.stages import STAGE_KINDS, Stage

__all__ = ["StageRegistry", "FormatRegistry", "is_short_identifier"]

EntryT = TypeVar("EntryT")


def is_short_identifier(name: object) -> bool:
    """Whether ``name`` is a registry name: letters, digits, ``-`` and ``_``, not empty."""
    return isinstance(name, str) and bool(name) and name.replace("-", "").replace("_", "").isalnum()


def _no_origin() -> str:
    return ""


class _Registry(Generic[EntryT]):
    """Entries keyed by a tuple, each remembering the plugin that added it, in adding order."""

    what = "entry"

    def __init__(self, origin_of: Callable[[], str] = _no_origin) -> None:
        self._entries: dict[tuple[str, ...], EntryT] = {}
        self._origin: dict[tuple[str, ...], str] = {}
        self._origin_of = origin_of

    def _where(self) -> str:
        plugin = self._origin_of()
        return f" (from plugin {plugin})" if plugin else ""

    def _insert(self, key: tuple[str, ...], label: str, entry: EntryT, module: str) -> None:
        if key in self._entries:
            raise PluginError(
                f"{self.what} {label}{self._where()} is already registered by {self._origin[key]}; "
                f"{self.what} names must be unique: rename one or uninstall the other plugin")
        self._entries[key] = entry
        self._origin[key] = self._origin_of() or module

    def reorder(self, plugin_order: list[str]) -> None:
        """Sort entries by their plugin's position in ``plugin_order`` (stable within a plugin).

        pluggy calls implementations last-registered first; the manager calls this afterwards so
        that built-ins come first in listings, as they were registered first.
        """
        rank = {name: i for i, name in enumerate(plugin_order)}
        keys = sorted(self._entries, key=lambda k: rank.get(self._origin[k], len(rank)))
        self._entries = {k: self._entries[k] for k in keys}

    def __len__(self) -> int:
        return len(self._entries)


class StageRegistry(_Registry[type[Stage]]):
    """Stage classes registered by plugins, keyed by ``(kind, name)``."""

    what = "stage"

    def add(self, stage_cls: type) -> type:
        """Register ``stage_cls``; returns it, so it also works as a class decorator.

        Raises
        ------
        PluginError
            When the class lacks ``kind``/``name``/``Config``/``is_available``/``run``, its kind is
            unknown, its ``Config`` is not a dataclass, or the name is already taken.
        """
        where = self._where()
        missing = [a for a in ("kind", "name", "Config", "is_available", "run") if not hasattr(stage_cls, a)]
        if missing:
            raise PluginError(f"stage class {stage_cls!r}{where} lacks {missing}; subclass splatkit.Stage")
        kind, name = stage_cls.kind, stage_cls.name
        if kind not in STAGE_KINDS:
            raise PluginError(f"stage {stage_cls.__qualname__}{where} has kind {kind!r}; "
                              f"expected one of {sorted(STAGE_KINDS)}")
        if not is_short_identifier(name):
            raise PluginError(f"stage {stage_cls.__qualname__}{where}: name {name!r} must be a short "
                              "identifier (letters, digits, '-', '_')")
        if not dataclasses.is_dataclass(stage_cls.Config):
            raise PluginError(f"stage {kind}/{name}{where}: Config must be a dataclass")
        self._insert((kind, name), f"{kind}/{name}", stage_cls, stage_cls.__module__)
        return stage_cls

    def get(self, kind: str, name: str) -> type[Stage]:
        """The stage class ``kind/name``; :class:`PluginError` listing the known names if absent."""
        try:
            return self._entries[(kind, name)]
        except KeyError:
            known = self.names(kind)
            raise PluginError(f"unknown {kind} backend {name!r}; registered: {', '.join(known) or 'none'}") from None

    def require_available(self, kind: str, name: str) -> type[Stage]:
        """Like :meth:`get`, but raise :class:`BackendUnavailableError` if it cannot run here."""
        cls = self.get(kind, name)
        reason = cls.unavailable_reason()
        if reason is not None:
            raise BackendUnavailableError(f"{kind} backend {name!r} is unavailable: {reason}",
                                          kind=kind, name=name, install_hint=cls.install_hint)
        return cls

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, in registration order."""
        return [n for (k, n) in self._entries if k == kind]

    def default_candidates(self, kind: str) -> list[type[Stage]]:
        """Stage classes of ``kind`` that may be chosen by default, most preferred first.

        Those with ``default_rank > 0``, by rank (highest first), then registration order. Cheap:
        nothing is imported; used for ``--help`` and to pick which options to show.
        """
        ranked = [c for (k, _), c in self._entries.items() if k == kind and c.default_rank > 0]
        return sorted(ranked, key=lambda c: -c.default_rank)

    def choose_default(self, kind: str) -> tuple[str, str]:
        """The backend that runs ``kind`` when the user names none, and why, e.g.
        ``("cpu", "auto: cpu, because train/gsplat: torch sees no CUDA device")``.

        Candidates are tried in :meth:`default_candidates` order; the first whose
        ``unusable_reason()`` is None wins (that check may import heavy packages, e.g. torch for
        the CUDA probe).

        Raises
        ------
        BackendUnavailableError
            No candidate can run here (the message gives each one's reason).
        """
        skipped: list[str] = []
        for cls in self.default_candidates(kind):
            reason = cls.unusable_reason()
            if reason is None:
                because = f", because {'; '.join(skipped)}" if skipped else ""
                return cls.name, f"auto: {cls.name}{because}"
            skipped.append(f"{kind}/{cls.name}: {reason}")
        if not skipped:
            raise BackendUnavailableError(
                f"no {kind} backend is registered as a default; name one ({', '.join(self.names(kind)) or 'none'})",
                kind=kind, name="auto")
        raise BackendUnavailableError(f"no default {kind} backend can run here: {'; '.join(skipped)}",
                                      kind=kind, name="auto", install_hint="pip install 'splatkit[all]'")

    def origin(self, kind: str, name: str) -> str:
        """Plugin (module or entry point) that registered ``kind/name``."""
        return self._origin[(kind, name)]

    def __iter__(self) -> Iterator[type[Stage]]:
        return iter(self._entries.values())


class FormatRegistry(_Registry[type[Format]]):
    """File formats registered by plugins, keyed by name; ``detect`` finds a path's format."""

    what = "format"

    def add(self, format_cls: type) -> type:
        """Register ``format_cls`` (a :class:`splatkit.formats.Format` subclass); returns it.

        Raises
        ------
        PluginError
            Not a Format subclass, a bad name or ``holds``, or the name is already taken.
        """
        where = self._where()
        if not (isinstance(format_cls, type) and issubclass(format_cls, Format)):
            raise PluginError(f"format {format_cls!r}{where} is not a subclass of splatkit.formats.Format")
        name = getattr(format_cls, "name", None)
        if not is_short_identifier(name):
            raise PluginError(f"format {format_cls.__qualname__}{where}: name {name!r} must be a short "
                              "identifier (letters, digits, '-', '_')")
        if format_cls.holds not in FORMAT_HOLDS:
            raise PluginError(f"format {name}{where}: holds {format_cls.holds!r}; expected one of {list(FORMAT_HOLDS)}")
        bad_suffix = [s for s in format_cls.suffixes if not (s.startswith(".") and s == s.lower())]
        if bad_suffix:
            raise PluginError(f"format {name}{where}: suffixes {bad_suffix} must be lower case and start with '.'")
        self._insert((name,), name, format_cls, format_cls.__module__)
        return format_cls

    def get(self, name: str) -> type[Format]:
        """The format ``name``; :class:`PluginError` listing the known names if absent."""
        try:
            return self._entries[(name,)]
        except KeyError:
            raise PluginError(f"unknown format {name!r}; registered: {', '.join(self.names()) or 'none'}") from None

    def names(self, holds: str | None = None) -> list[str]:
        """Registered format names (only those holding ``holds`` when given), in order."""
        return [k[0] for k, c in self._entries.items() if holds is None or c.holds == holds]

    def detect(self, path: str | Path, *, holds: str | None = None) -> type[Format] | None:
        """The first available format (of ``holds``, when given) whose ``detect`` accepts ``path``."""
        for cls in self._entries.values():
            if (holds is None or cls.holds == holds) and cls.is_available() and cls().detect(Path(path)):
                return cls
        return None

    def origin(self, name: str) -> str:
        """Plugin (module or entry point) that registered format ``name``."""
        return self._origin[(name,)]

    def __iter__(self) -> Iterator[type[Format]]:
        return iter(self._entries.values())
