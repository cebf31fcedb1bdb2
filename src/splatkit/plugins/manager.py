"""The plugin manager facade: built-ins from an explicit tuple, third parties from entry points."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import time
from types import FrameType
from typing import Any

import pluggy

from splatkit.errors import PluginError
from splatkit.plugins import spec
from splatkit.plugins.registry import FormatRegistry, StageRegistry

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "DISABLE_AUTOLOAD_ENV", "PluginManager", "get_plugin_manager"]

logger = logging.getLogger(__name__)

#: Modules registered on every manager. Each must be import-light (no torch/pycolmap at import).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "splatkit.sfm.pycolmap_backend",
    "splatkit.sfm.opensfm_backend",
    "splatkit.train.backends",
    "splatkit.compress.sog_backend",
    "splatkit.compress.ply_backend",
    "splatkit.compress.spz_backend",
    "splatkit.compress.formats",
    "splatkit.sfm.formats",
    "splatkit.pipeline.events_log",
)
ENTRY_POINT_GROUP = "splatkit"
DISABLE_AUTOLOAD_ENV = "SPLATKIT_DISABLE_PLUGIN_AUTOLOAD"


class PluginManager:
    """Typed facade over pluggy: core code asks it, never ``pm.hook``; it calls hooks through ``pm.hook``.

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
        self._stages: StageRegistry | None = None
        self._formats: FormatRegistry | None = None

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
        self._stages = self._formats = None

    def unregister(self, name: str) -> None:
        self._pm.unregister(name=name)
        self._stages = self._formats = None

    def plugin_names(self) -> list[str]:
        """Names of registered plugins (modules and entry points)."""
        return [n for n, _ in self._pm.list_name_plugin()]

    def distributions(self) -> list[tuple[str, str]]:
        """(distribution name, version) of each entry-point plugin."""
        return [(d.project_name, d.version) for _, d in self._pm.list_plugin_distinfo()]

    @property
    def stages(self) -> StageRegistry:
        """All registered stage classes (built once through ``splatkit_register_stages``, then cached)."""
        if self._stages is None:
            registry = StageRegistry(origin_of=lambda: self._running_plugin("splatkit_register_stages"))
            self._pm.hook.splatkit_register_stages(registry=registry)
            registry.reorder(self.plugin_names())
            self._stages = registry
        return self._stages

    @property
    def formats(self) -> FormatRegistry:
        """All registered file formats (built once through ``splatkit_register_formats``, then cached)."""
        if self._formats is None:
            registry = FormatRegistry(origin_of=lambda: self._running_plugin("splatkit_register_formats"))
            self._pm.hook.splatkit_register_formats(registry=registry)
            registry.reorder(self.plugin_names())
            self._formats = registry
        return self._formats

    def _running_plugin(self, hook_name: str) -> str:
        """Name of the plugin whose ``hook_name`` implementation is on the call stack, or "".

        pluggy runs the implementations; their identity is in its hookimpl records, so we look
        for one of their frames (and, for methods, the same ``self``) above this call.
        """
        impls = getattr(self._pm.hook, hook_name).get_hookimpls()
        frame = inspect.currentframe()
        while frame is not None:
            impl = _impl_running_in(frame, impls)
            if impl is not None:
                return impl.plugin_name
            frame = frame.f_back
        return ""

    # Stage events: never let a failing notifier break a run.
    def stage_started(self, stage: str, config: dict[str, Any], workdir: str) -> None:
        self._notify("splatkit_stage_started", stage=stage, config=config, workdir=workdir)

    def stage_finished(self, stage: str, report: dict[str, Any], seconds: float, files: list[str]) -> None:
        self._notify("splatkit_stage_finished", stage=stage, report=report, seconds=seconds, files=files)

    def stage_failed(self, stage: str, error: BaseException, seconds: float) -> None:
        self._notify("splatkit_stage_failed", stage=stage, error=error, seconds=seconds)

    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call ``hook_name`` through pluggy; a listener that raises is logged and skipped.

        The first call goes through ``pm.hook`` (wrappers, ordering and tracing as pluggy does
        them). pluggy stops at the first exception, so after one we log it naming the plugin and
        call the listeners pluggy had not reached yet, again through pluggy, without the failed one.
        """
        caller = getattr(self._pm.hook, hook_name)
        # pluggy calls non-wrapper implementations in reverse order of get_hookimpls().
        pending = [impl.plugin for impl in reversed(caller.get_hookimpls()) if not _is_wrapper(impl)]
        while True:
            start = time.perf_counter()
            try:
                caller(**kwargs)
                logger.debug("%s took %.3f s", hook_name, time.perf_counter() - start)
                return
            except Exception as e:
                failed = self._failed_plugin(hook_name, e)
                name = self._pm.get_name(failed) if failed is not None else "an unknown plugin"
                logger.exception("plugin %s failed in %s; continuing", name, hook_name)
                if failed is None or failed not in pending:
                    return
                pending = pending[pending.index(failed) + 1:]
                if not pending:
                    return
                others = [p for p in self._pm.get_plugins() if p not in pending]
                caller = self._pm.subset_hook_caller(hook_name, remove_plugins=others)

    def _failed_plugin(self, hook_name: str, error: BaseException) -> object | None:
        """The plugin whose ``hook_name`` implementation raised ``error`` (from its traceback)."""
        impls = getattr(self._pm.hook, hook_name).get_hookimpls()
        found = None
        tb = error.__traceback__
        while tb is not None:  # the deepest matching frame is the implementation that raised
            impl = _impl_running_in(tb.tb_frame, impls)
            if impl is not None:
                found = impl.plugin
            tb = tb.tb_next
        return found


def _impl_running_in(frame: FrameType, impls: list[Any]) -> Any:
    """The hook implementation ``frame`` is executing (same code and, for a method, same ``self``)."""
    for impl in impls:
        function = impl.function
        code = getattr(getattr(function, "__func__", function), "__code__", None)
        if frame.f_code is not code:
            continue
        owner = getattr(function, "__self__", None)
        if owner is None or (code.co_varnames and frame.f_locals.get(code.co_varnames[0]) is owner):
            return impl
    return None


def _is_wrapper(impl: Any) -> bool:
    return bool(getattr(impl, "wrapper", False) or getattr(impl, "hookwrapper", False))


_default: PluginManager | None = None


def get_plugin_manager(*, reload: bool = False) -> PluginManager:
    """The process-wide manager, built on first use (not at import)."""
    global _default
    if _default is None or reload:
        _default = PluginManager()
    return _default
