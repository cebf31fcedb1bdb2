"""Hook specifications and entry-point discovery (in process, with fake installed distributions)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from splatkit import PluginError, hookimpl
from splatkit.plugins import DISABLE_AUTOLOAD_ENV, ENTRY_POINT_GROUP, PluginManager, spec
from tests.plugins.conftest import FakeDistribution

HOOKSPECS = sorted(name for name, obj in vars(spec).items()
                   if callable(obj) and hasattr(obj, f"{spec.PROJECT_NAME}_spec"))
THIS_FILE = Path(__file__).resolve()

REGISTERING_PLUGIN = """
    from dataclasses import dataclass
    import splatkit

    class ToySfm(splatkit.Stage):
        kind = "sfm"
        name = "toy-sfm"

    @splatkit.hookimpl
    def splatkit_register_stages(registry):
        registry.add(ToySfm)
"""


def test_hookspecs_are_found() -> None:
    # Guards the meta-test below against silently parametrizing over nothing.
    assert "splatkit_register_stages" in HOOKSPECS and len(HOOKSPECS) >= 4


@pytest.mark.parametrize("hook", HOOKSPECS)
def test_every_hookspec_is_exercised_by_a_plugin_test(hook: str) -> None:
    """datasette's meta-test: a new hook without a test fails here (this file does not count)."""
    others = [p for p in THIS_FILE.parent.glob("test_*.py") if p.resolve() != THIS_FILE]
    assert any(re.search(rf"\b{hook}\b", p.read_text()) for p in others), (
        f"no test in {THIS_FILE.parent} mentions hook {hook}; add one")


@pytest.mark.parametrize("hook", HOOKSPECS)
def test_every_hookspec_is_prefixed_and_documented(hook: str) -> None:
    function = getattr(spec, hook)
    assert hook.startswith("splatkit_")
    assert inspect.getdoc(function), f"{hook} needs a docstring: it is the plugin author's reference"


def test_entry_point_plugin_is_discovered(
        fake_distribution: Callable[..., FakeDistribution], autoload_enabled: None) -> None:
    dist = fake_distribution(REGISTERING_PLUGIN, entry_point="toy")
    manager = PluginManager(builtins=())

    stage = manager.stages.get("sfm", "toy-sfm")
    assert stage.__module__ == dist.module
    assert manager.stages.origin("sfm", "toy-sfm") == "toy"  # the entry-point name
    assert "toy" in manager.plugin_names()
    assert (dist.name, "0." + dist.name.rsplit("-", 1)[1]) in manager.distributions()


@pytest.mark.parametrize("switch", ["explicit", "environment"])
def test_autoload_can_be_turned_off(fake_distribution: Callable[..., FakeDistribution],
                                    monkeypatch: pytest.MonkeyPatch, switch: str) -> None:
    fake_distribution(REGISTERING_PLUGIN)
    if switch == "environment":
        monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
        manager = PluginManager(builtins=())
    else:
        monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
        manager = PluginManager(builtins=(), load_entrypoints=False)
    assert manager.stages.names("sfm") == []
    with pytest.raises(PluginError, match="unknown sfm backend 'toy-sfm'"):
        manager.stages.get("sfm", "toy-sfm")


def test_entry_point_duplicating_another_plugins_name_is_rejected(
        fake_distribution: Callable[..., FakeDistribution], autoload_enabled: None) -> None:
    fake_distribution(REGISTERING_PLUGIN, entry_point="first")
    fake_distribution(REGISTERING_PLUGIN, entry_point="second")
    manager = PluginManager(builtins=())
    with pytest.raises(PluginError, match=r"sfm/toy-sfm \(from plugin (first|second)\) is already registered by "
                                          r"(first|second)"):
        manager.stages


def test_plugin_that_fails_to_import_is_a_plugin_error_with_the_escape_hatch(
        fake_distribution: Callable[..., FakeDistribution], autoload_enabled: None) -> None:
    fake_distribution("import a_module_that_does_not_exist_anywhere\n")
    with pytest.raises(PluginError, match=rf"{ENTRY_POINT_GROUP!r} entry-point group: ModuleNotFoundError.*"
                                          rf"{DISABLE_AUTOLOAD_ENV}=1"):
        PluginManager(builtins=())


def test_plugin_implementing_an_unknown_hook_is_rejected(
        fake_distribution: Callable[..., FakeDistribution], autoload_enabled: None) -> None:
    fake_distribution("""
        import splatkit

        @splatkit.hookimpl
        def splatkit_register_stage(registry):  # typo: the spec is splatkit_register_stages
            pass
    """)
    with pytest.raises(PluginError, match="unknown hook.*splatkit_register_stage"):
        PluginManager(builtins=())


def test_hook_implementation_with_an_argument_the_spec_lacks_is_rejected(manager: PluginManager) -> None:
    class WrongArguments:
        @hookimpl
        def splatkit_stage_finished(self, stage, duration):  # the spec calls it ``seconds``
            pass

    with pytest.raises(PluginError, match="wrong-arguments.*duration"):
        manager.register(WrongArguments(), "wrong-arguments")
    assert "wrong-arguments" not in manager.plugin_names()


def test_builtin_module_list_is_explicit_and_each_module_registers_something() -> None:
    from splatkit.plugins import BUILTIN_PLUGINS

    manager = PluginManager(load_entrypoints=False)
    assert set(BUILTIN_PLUGINS) <= set(manager.plugin_names())
    origins = {manager.stages.origin(stage.kind, stage.name) for stage in manager.stages}
    origins |= {manager.formats.origin(name) for name in manager.formats.names()}
    event_only = {"splatkit.pipeline.events_log"}  # the built-in JSON-lines event log registers no stage
    assert set(BUILTIN_PLUGINS) - event_only <= origins, (
        f"built-in modules registering no stage or format: {set(BUILTIN_PLUGINS) - event_only - origins}")
