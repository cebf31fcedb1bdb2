"""The stage registry: name -> stage class, per kind, duplicates rejected."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from splatkit.errors import BackendUnavailableError, PluginError
from splatkit.stages import STAGE_KINDS, Stage

__all__ = ["StageRegistry"]


class StageRegistry:
    """Stage classes registered by plugins, keyed by ``(kind, name)``."""

    def __init__(self) -> None:
        self._stages: dict[tuple[str, str], type[Stage]] = {}
        self._origin: dict[tuple[str, str], str] = {}
        self.current_plugin = ""

    def add(self, stage_cls: type) -> type:
        """Register ``stage_cls``; returns it, so it also works as a class decorator.

        Raises
        ------
        PluginError
            When the class lacks ``kind``/``name``/``Config``/``is_available``/``run``, its kind is
            unknown, its ``Config`` is not a dataclass, or the name is already taken.
        """
        where = f" (from plugin {self.current_plugin})" if self.current_plugin else ""
        missing = [a for a in ("kind", "name", "Config", "is_available", "run") if not hasattr(stage_cls, a)]
        if missing:
            raise PluginError(f"stage class {stage_cls!r}{where} lacks {missing}; subclass splatkit.Stage")
        kind, name = stage_cls.kind, stage_cls.name
        if kind not in STAGE_KINDS:
            raise PluginError(f"stage {stage_cls.__qualname__}{where} has kind {kind!r}; "
                              f"expected one of {sorted(STAGE_KINDS)}")
        if not isinstance(name, str) or not name or not name.replace("-", "").replace("_", "").isalnum():
            raise PluginError(f"stage {stage_cls.__qualname__}{where}: name {name!r} must be a short "
                              "identifier (letters, digits, '-', '_')")
        if not dataclasses.is_dataclass(stage_cls.Config):
            raise PluginError(f"stage {kind}/{name}{where}: Config must be a dataclass")
        key = (kind, name)
        if key in self._stages:
            raise PluginError(
                f"stage {kind}/{name}{where} is already registered by {self._origin[key]}; "
                "stage names must be unique per kind: rename one or uninstall the other plugin")
        self._stages[key] = stage_cls
        self._origin[key] = self.current_plugin or stage_cls.__module__
        return stage_cls

    def get(self, kind: str, name: str) -> type[Stage]:
        """The stage class ``kind/name``; :class:`PluginError` listing the known names if absent."""
        try:
            return self._stages[(kind, name)]
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
        return [n for (k, n) in self._stages if k == kind]

    def origin(self, kind: str, name: str) -> str:
        """Plugin (module or entry point) that registered ``kind/name``."""
        return self._origin[(kind, name)]

    def __iter__(self) -> Iterator[type[Stage]]:
        return iter(self._stages.values())

    def __len__(self) -> int:
        return len(self._stages)
