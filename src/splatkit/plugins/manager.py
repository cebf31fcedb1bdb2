"""The plugin manager facade: built-ins from an explicit tuple, third parties from entry points."""

from __future__ import annotations

import importlib
import logging
import os
import time
from typing import Any

import pluggy

from splatkit.errors import PluginError
from splatkit.plugins import spec
from splatkit.plugins.registry import StageRegistry

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "DISABLE_AUTOLOAD_ENV", "PluginManager", "get_plugin_manager"]

logger = logging.getLogger(__name__)

#: Modules registered on every manager. Each must be import-light (no torch/pycolmap at import).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "splatkit.sfm.pycolmap_backend",
    "splatkit.sfm.opensfm_backend",
    "splatkit.train.backends",
    "splatkit.compress.sog_backend",
    "splatkit.compress.ply_backend",
    "splatkit.pipeline.events_log",
)
ENTRY_POINT_GROUP = "splatkit"
DISABLE_AUTOLOAD_ENV = "SPLATKIT_DISABLE_PLUGIN_AUTOLOAD"


class PluginManager:
    """Typed facade over pluggy; core code never calls ``pm.hook`` directly.

    Parameters
    ----------
    load_entrypoints
        Load third-party plugins from the ``splatkit`` entry-point group. Default: yes, unless
        the environment variable ``SPLATKIT_DISABLE_PLUGIN_AUTOLOAD`` is set to a non-empty value.
    builtins
        Module names to register first (default :data:`BUILTIN_PLUGINS`).
    """

    def __init__(self, *, load_entrypoints: bool | None = None,
                 builtins: tuple[str, ...] = BUILTIN_PLUGINS) -> None:
        self._pm = pluggy.PluginManager(spec.PROJECT_NAME)
        self._pm.add_hookspecs(spec)
        for modname in builtins:
            self._pm.register(importlib.import_module(modname), modname)
        if load_entrypoints is None:
            load_entrypoints = not os.environ.get(DISABLE_AUTOLOAD_ENV)
        if load_entrypoints:
            try:
                self._pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            except Exception as e:  # a broken third-party plugin: say which, do not hide it
                raise PluginError(f"failed to load a plugin from the {ENTRY_POINT_GROUP!r} entry-point group: "
                                  f"{type(e).__name__}: {e}; set {DISABLE_AUTOLOAD_ENV}=1 to skip plugins") from e
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as e:
            raise PluginError(f"a plugin implements an unknown hook: {e}") from e
        self._registry: StageRegistry | None = None

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object (module or instance) after construction; resets the stage cache.

        Raises
        ------
        PluginError
            When a hook implementation takes an argument its spec lacks, or the name is taken.
        """
        try:
            self._pm.register(plugin, name)
        except pluggy.PluginValidationError as e:
            detail = str(e).replace("\n", "; ")  # pluggy's message spans lines; errors are one line
            raise PluginError(f"plugin {name or plugin!r} does not match splatkit's hook specifications: "
                              f"{detail}") from e
        except ValueError as e:  # pluggy: plugin or name already registered
            raise PluginError(f"plugin {name or plugin!r} cannot be registered: {e}") from e
        self._registry = None

    def unregister(self, name: str) -> None:
        self._pm.unregister(name=name)
        self._registry = None

    def plugin_names(self) -> list[str]:
        """Names of registered plugins (modules and entry points)."""
        return [n for n, _ in self._pm.list_name_plugin()]

    def distributions(self) -> list[tuple[str, str]]:
        """(distribution name, version) of each entry-point plugin."""
        return [(d.project_name, d.version) for _, d in self._pm.list_plugin_distinfo()]

    @property
    def stages(self) -> StageRegistry:
        """All registered stage classes (built once, then cached)."""
        if self._registry is None:
            registry = StageRegistry()
            # Call each plugin's implementation separately, in registration order (built-ins
            # first), so a duplicate name blames the later plugin.
            for impl in self._pm.hook.splatkit_register_stages.get_hookimpls():
                registry.current_plugin = impl.plugin_name
                impl.function(registry=registry)
            registry.current_plugin = ""
            self._registry = registry
        return self._registry

    # Stage events: never let a failing notifier break a run.
    def stage_started(self, stage: str, config: dict[str, Any], workdir: str) -> None:
        self._notify("splatkit_stage_started", stage=stage, config=config, workdir=workdir)

    def stage_finished(self, stage: str, report: dict[str, Any], seconds: float, files: list[str]) -> None:
        self._notify("splatkit_stage_finished", stage=stage, report=report, seconds=seconds, files=files)

    def stage_failed(self, stage: str, error: BaseException, seconds: float) -> None:
        self._notify("splatkit_stage_failed", stage=stage, error=error, seconds=seconds)

    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        hook = getattr(self._pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            start = time.perf_counter()
            try:
                impl.function(**args)
            except Exception:
                logger.exception("plugin %s failed in %s; continuing", impl.plugin_name, hook_name)
            logger.debug("%s.%s took %.3f s", impl.plugin_name, hook_name, time.perf_counter() - start)


_default: PluginManager | None = None


def get_plugin_manager(*, reload: bool = False) -> PluginManager:
    """The process-wide manager, built on first use (not at import)."""
    global _default
    if _default is None or reload:
        _default = PluginManager()
    return _default
