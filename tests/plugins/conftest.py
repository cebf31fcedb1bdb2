"""Fixtures for plugin tests: a manager without entry points, inline stages, fake distributions."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from splatkit import Stage, hookimpl
from splatkit.plugins import DISABLE_AUTOLOAD_ENV, PluginManager, StageRegistry

_counter = itertools.count()


@dataclass(frozen=True, kw_only=True)
class EchoConfig:
    """Options of the inline test stage (flat scalars, one of each type)."""

    steps: int = 3
    scale: float = 1.0
    label: str = "x"
    verbose: bool = False
    seed: int | None = None


def make_stage(kind: str = "compress", name: str = "echo", *, reason: str | None = None,
               install_hint: str = "", config: type = EchoConfig) -> type[Stage]:
    """A new Stage subclass; ``reason`` makes ``unavailable_reason()`` return it."""

    def unavailable_reason(cls: type[Stage]) -> str | None:
        return reason

    attributes = {"kind": kind, "name": name, "Config": config, "install_hint": install_hint,
                  "unavailable_reason": classmethod(unavailable_reason)}
    return type(f"InlineStage_{kind}_{name.replace('-', '_')}", (Stage,), attributes)


class StagePlugin:
    """A plugin object whose ``splatkit_register_stages`` adds ``stages``."""

    def __init__(self, *stages: type[Stage]) -> None:
        self.stages = stages

    @hookimpl
    def splatkit_register_stages(self, registry: StageRegistry) -> None:
        for stage in self.stages:
            registry.add(stage)


@pytest.fixture
def manager() -> PluginManager:
    """A manager with no built-ins and no entry points: only what the test registers."""
    return PluginManager(load_entrypoints=False, builtins=())


@pytest.fixture
def autoload_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure the developer's shell does not switch entry-point loading off."""
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)


@dataclass(frozen=True)
class FakeDistribution:
    name: str
    module: str
    site: Path


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                      ) -> Iterator[Callable[[str], FakeDistribution]]:
    """Factory: write a module plus a ``*.dist-info`` declaring it in the ``splatkit`` group.

    This is what ``pip install`` leaves on disk, minus the wheel: ``importlib.metadata`` (and so
    pluggy's ``load_setuptools_entrypoints``) finds it on ``sys.path``. Module names are unique
    per call and removed from ``sys.modules`` afterwards.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    made: list[str] = []

    def make(source: str, *, entry_point: str = "fake") -> FakeDistribution:
        n = next(_counter)
        module = f"splatkit_fake_plugin_{n}"
        dist = f"splatkit-fake-plugin-{n}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-0.{n}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.{n}\n")
        (info / "entry_points.txt").write_text(f"[splatkit]\n{entry_point} = {module}\n")
        made.append(module)
        return FakeDistribution(name=dist, module=module, site=site)

    yield make
    for module in made:
        sys.modules.pop(module, None)
