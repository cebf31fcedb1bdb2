"""The stage registry: what ``splatkit_register_stages`` may add, and how lookups fail."""

from __future__ import annotations

import dataclasses
import types

import pytest

from splatkit import BackendUnavailableError, PluginError, Stage, hookimpl
from splatkit.plugins import PluginManager, StageRegistry
from tests.plugins.conftest import StagePlugin, make_stage


def test_registered_stage_is_found_with_its_origin(manager: PluginManager) -> None:
    stage = make_stage("sfm", "toy")
    manager.register(StagePlugin(stage), "toy-plugin")

    assert manager.stages.get("sfm", "toy") is stage
    assert manager.stages.origin("sfm", "toy") == "toy-plugin"
    assert manager.stages.names("sfm") == ["toy"]
    assert list(manager.stages) == [stage] and len(manager.stages) == 1


def test_a_module_with_a_splatkit_register_stages_function_is_a_plugin(manager: PluginManager) -> None:
    # What an entry point or a BUILTIN_PLUGINS name resolves to: a module with hook functions.
    module = types.ModuleType("my_backends")
    stage = make_stage("train", "module-stage")

    @hookimpl
    def splatkit_register_stages(registry: StageRegistry) -> None:
        registry.add(stage)

    module.splatkit_register_stages = splatkit_register_stages
    manager.register(module, "my_backends")
    assert manager.stages.get("train", "module-stage") is stage
    assert manager.stages.origin("train", "module-stage") == "my_backends"


def test_registration_order_is_kept_per_kind(manager: PluginManager) -> None:
    stages = [make_stage("train", n) for n in ("b", "a", "c")] + [make_stage("compress", "z")]
    manager.register(StagePlugin(*stages), "p")
    assert manager.stages.names("train") == ["b", "a", "c"]
    assert manager.stages.names("compress") == ["z"]


def test_registering_a_plugin_later_resets_the_cached_registry(manager: PluginManager) -> None:
    assert len(manager.stages) == 0
    manager.register(StagePlugin(make_stage("sfm", "late")), "late")
    assert manager.stages.names("sfm") == ["late"]
    manager.unregister("late")
    assert manager.stages.names("sfm") == []


def test_duplicate_name_is_rejected_naming_both_plugins(manager: PluginManager) -> None:
    manager.register(StagePlugin(make_stage("compress", "sog")), "first-plugin")
    manager.register(StagePlugin(make_stage("compress", "sog")), "second-plugin")

    with pytest.raises(PluginError) as excinfo:
        manager.stages
    message = str(excinfo.value)
    assert "compress/sog" in message
    assert "first-plugin" in message and "second-plugin" in message


def test_same_name_in_different_kinds_is_allowed(manager: PluginManager) -> None:
    manager.register(StagePlugin(make_stage("compress", "cpu"), make_stage("train", "cpu")), "p")
    assert manager.stages.get("compress", "cpu") is not manager.stages.get("train", "cpu")


@pytest.mark.parametrize("missing", ["kind", "name", "Config"])
def test_class_missing_a_stage_attribute_is_rejected(missing: str) -> None:
    attributes = {"kind": "sfm", "name": "bare", "Config": make_stage().Config,
                  "is_available": classmethod(lambda cls: True), "run": lambda self, *a: None}
    del attributes[missing]
    not_a_stage = type("NotAStage", (), attributes)
    registry = StageRegistry(origin_of=lambda: "broken-plugin")

    with pytest.raises(PluginError, match=rf"lacks \['{missing}'\].*subclass splatkit.Stage") as excinfo:
        registry.add(not_a_stage)
    assert "broken-plugin" in str(excinfo.value)
    assert len(registry) == 0


def test_stage_subclass_that_forgets_kind_and_name_is_rejected() -> None:
    class Forgetful(Stage):
        pass

    with pytest.raises(PluginError, match=r"lacks \['kind', 'name'\]"):
        StageRegistry().add(Forgetful)


def test_unknown_kind_is_rejected_listing_the_kinds() -> None:
    with pytest.raises(PluginError, match=r"kind 'render'.*\['compress', 'sfm', 'train'\]"):
        StageRegistry().add(make_stage("render", "x"))


@pytest.mark.parametrize("name", ["", "has space", "a/b", "dot.ted"])
def test_name_must_be_a_short_identifier(name: str) -> None:
    with pytest.raises(PluginError, match="must be a short identifier"):
        StageRegistry().add(make_stage("sfm", name))


@pytest.mark.parametrize("name", ["pycolmap", "torch-cpu", "npz_half", "x2"])
def test_identifier_names_are_accepted(name: str) -> None:
    registry = StageRegistry()
    registry.add(make_stage("sfm", name))
    assert registry.names("sfm") == [name]


def test_config_must_be_a_dataclass() -> None:
    class PlainConfig:
        steps = 3

    with pytest.raises(PluginError, match="Config must be a dataclass"):
        StageRegistry().add(make_stage("train", "plain", config=PlainConfig))


def test_add_returns_the_class_so_it_works_as_a_decorator() -> None:
    registry = StageRegistry()

    @registry.add
    class Decorated(Stage):
        kind = "compress"
        name = "decorated"

    assert registry.get("compress", "decorated") is Decorated
    assert dataclasses.is_dataclass(Decorated.Config)  # Stage's default: no options


def test_unknown_backend_lists_the_registered_names(manager: PluginManager) -> None:
    manager.register(StagePlugin(make_stage("train", "gsplat"), make_stage("train", "cpu")), "p")

    with pytest.raises(PluginError, match=r"unknown train backend 'cuda'; registered: gsplat, cpu"):
        manager.stages.get("train", "cuda")
    with pytest.raises(PluginError, match=r"unknown sfm backend 'pycolmap'; registered: none"):
        manager.stages.get("sfm", "pycolmap")


def test_require_available_raises_with_the_reason_and_install_hint(manager: PluginManager) -> None:
    stage = make_stage("sfm", "needs-gpu", reason="no CUDA device found",
                       install_hint="pip install 'splatkit[train]' on a CUDA machine")
    manager.register(StagePlugin(stage), "p")

    assert stage.is_available() is False
    with pytest.raises(BackendUnavailableError) as excinfo:
        manager.stages.require_available("sfm", "needs-gpu")
    error = excinfo.value
    assert (error.kind, error.name) == ("sfm", "needs-gpu")
    assert error.install_hint == "pip install 'splatkit[train]' on a CUDA machine"
    assert "no CUDA device found" in str(error) and error.install_hint in str(error)
    assert isinstance(error, RuntimeError)  # callers catching RuntimeError still work


def test_require_available_returns_an_available_stage(manager: PluginManager) -> None:
    stage = make_stage("sfm", "ready")
    manager.register(StagePlugin(stage), "p")
    assert stage.is_available() is True
    assert manager.stages.require_available("sfm", "ready") is stage


def test_require_available_of_unknown_name_is_a_plugin_error(manager: PluginManager) -> None:
    with pytest.raises(PluginError, match="unknown compress backend"):
        manager.stages.require_available("compress", "nope")


def _ranked(name: str, rank: int, unusable: str | None = None) -> type[Stage]:
    stage = make_stage("train", name)
    stage.default_rank = rank
    stage.unusable_reason = classmethod(lambda cls: unusable)
    return stage


def test_the_default_is_the_usable_backend_with_the_highest_rank(manager: PluginManager) -> None:
    manager.register(StagePlugin(_ranked("never", 0), _ranked("cpu", 100), _ranked("gpu", 200, "no CUDA device"),
                                 _ranked("best", 300, "missing fastlib")), "p")
    assert [c.name for c in manager.stages.default_candidates("train")] == ["best", "gpu", "cpu"]
    name, why = manager.stages.choose_default("train")
    assert name == "cpu"
    assert why == "auto: cpu, because train/best: missing fastlib; train/gpu: no CUDA device"


def test_no_usable_default_says_why_for_each_candidate(manager: PluginManager) -> None:
    manager.register(StagePlugin(_ranked("gpu", 200, "no CUDA device"), _ranked("manual", 0)), "p")
    with pytest.raises(BackendUnavailableError, match="train/gpu: no CUDA device"):
        manager.stages.choose_default("train")
    with pytest.raises(BackendUnavailableError, match=r"no sfm backend is registered as a default"):
        manager.stages.choose_default("sfm")


def test_builtin_train_default_follows_the_device_check() -> None:
    manager = PluginManager(load_entrypoints=False)
    name, why = manager.stages.choose_default("train")
    gsplat_problem = manager.stages.get("train", "gsplat").unusable_reason()
    assert name == ("gsplat" if gsplat_problem is None else "cpu")
    if gsplat_problem is not None:
        assert why == f"auto: cpu, because train/gsplat: {gsplat_problem}"
