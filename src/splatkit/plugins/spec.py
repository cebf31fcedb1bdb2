"""Hook specifications. Every hook is prefixed ``splatkit_`` and called with keyword arguments.

Per-step work (progress, densification) uses callbacks and strategy objects, not hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from splatkit.plugins.registry import FormatRegistry, StageRegistry

PROJECT_NAME = "splatkit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def splatkit_register_stages(registry: StageRegistry) -> None:
    """Add stage classes with ``registry.add(StageClass)``.

    Built-in backends use this same hook. ``registry.add`` rejects duplicate names and classes
    that lack the stage attributes, so a broken plugin fails when it loads, not mid-run.
    """


@hookspec
def splatkit_register_formats(registry: FormatRegistry) -> None:
    """Add file formats with ``registry.add(FormatClass)`` (a :class:`splatkit.formats.Format`).

    ``splatkit info``, ``decompress`` and ``view`` find a path's format by asking each registered
    format's ``detect`` in registration order (built-ins first). Built-in formats (SOG, 3DGS PLY,
    SPZ, COLMAP models, OpenSfM folders, photo folders and ZIPs) use this same hook.
    """


@hookspec
def splatkit_stage_started(stage: str, config: dict[str, Any], workdir: str) -> None:
    """A stage began: ``stage`` is ``"kind/name"``, ``config`` its options as a dict."""


@hookspec
def splatkit_stage_finished(stage: str, report: dict[str, Any], seconds: float, files: list[str]) -> None:
    """A stage finished; ``report`` is its JSON-able report, ``files`` what it wrote."""


@hookspec
def splatkit_stage_failed(stage: str, error: BaseException, seconds: float) -> None:
    """A stage raised ``error``. Called before the error propagates; must not raise."""
