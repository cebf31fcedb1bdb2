"""Plugins: pluggy hookspecs, the stage registry and the manager facade."""

from splatkit.plugins.manager import (
    BUILTIN_PLUGINS,
    DISABLE_AUTOLOAD_ENV,
    ENTRY_POINT_GROUP,
    PluginManager,
    get_plugin_manager,
)
from splatkit.plugins.registry import FormatRegistry, StageRegistry
from splatkit.plugins.spec import hookimpl, hookspec

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "FormatRegistry",
    "PluginManager",
    "StageRegistry",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
]
