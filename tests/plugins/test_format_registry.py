"""The format registry: what ``splatkit_register_formats`` may add, and how a path finds its format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from splatkit import PluginError, hookimpl
from splatkit.formats import Format
from splatkit.plugins import FormatRegistry, PluginManager


def make_format(name: str = "toy", *, holds: str = "splats", suffixes: tuple[str, ...] = (".toy",),
                magic: bytes = b"TOY!") -> type[Format]:
    """A format whose files start with ``magic``."""

    def detect(self: Format, path: Path) -> bool:
        try:
            with open(path, "rb") as f:
                return f.read(len(magic)) == magic
        except OSError:
            return False

    def describe(self: Format, path: Path) -> dict[str, Any]:
        return {"type": name, "bytes": path.stat().st_size}

    return type(f"Format_{name}", (Format,), {"name": name, "holds": holds, "suffixes": suffixes,
                                               "detect": detect, "describe": describe})


class FormatPlugin:
    def __init__(self, *formats: type[Format]) -> None:
        self.formats = formats

    @hookimpl
    def splatkit_register_formats(self, registry: FormatRegistry) -> None:
        for f in self.formats:
            registry.add(f)


def test_a_registered_format_is_found_by_name_and_by_detection(manager: PluginManager, tmp_path: Path) -> None:
    toy, other = make_format("toy"), make_format("other", magic=b"OTHR", holds="reconstruction")
    manager.register(FormatPlugin(toy, other), "toy-formats")
    (tmp_path / "a.toy").write_bytes(b"TOY!rest")
    (tmp_path / "b.bin").write_bytes(b"OTHR")
    (tmp_path / "c.txt").write_text("neither")

    assert manager.formats.get("toy") is toy and manager.formats.origin("toy") == "toy-formats"
    assert manager.formats.names() == ["toy", "other"] and manager.formats.names("splats") == ["toy"]
    assert manager.formats.detect(tmp_path / "a.toy") is toy
    assert manager.formats.detect(tmp_path / "b.bin") is other
    assert manager.formats.detect(tmp_path / "b.bin", holds="splats") is None
    assert manager.formats.detect(tmp_path / "c.txt") is None


def test_duplicate_format_names_name_both_plugins(manager: PluginManager) -> None:
    manager.register(FormatPlugin(make_format("sog")), "first-plugin")
    manager.register(FormatPlugin(make_format("sog")), "second-plugin")
    with pytest.raises(PluginError) as excinfo:
        manager.formats
    assert "format sog" in str(excinfo.value)
    assert "first-plugin" in str(excinfo.value) and "second-plugin" in str(excinfo.value)


@pytest.mark.parametrize(("bad", "match"), [
    (type("NotAFormat", (), {"name": "x"}), "not a subclass"),
    (make_format("has space"), "short identifier"),
    (make_format("x", holds="pixels"), "holds 'pixels'"),
    (make_format("x", suffixes=("PLY",)), "lower case and start with"),
])
def test_malformed_formats_are_rejected_naming_the_plugin(bad: type, match: str) -> None:
    registry = FormatRegistry(origin_of=lambda: "broken-plugin")
    with pytest.raises(PluginError, match=match) as excinfo:
        registry.add(bad)
    assert "broken-plugin" in str(excinfo.value) and len(registry) == 0


def test_unknown_format_lists_the_registered_ones(manager: PluginManager) -> None:
    manager.register(FormatPlugin(make_format("a"), make_format("b")), "p")
    with pytest.raises(PluginError, match=r"unknown format 'c'; registered: a, b"):
        manager.formats.get("c")


def test_builtin_formats_come_first_and_later_plugins_after(tmp_path: Path) -> None:
    manager = PluginManager(load_entrypoints=False)
    builtin = manager.formats.names()
    assert {"sog", "ply", "spz"} <= set(builtin)
    manager.register(FormatPlugin(make_format("late")), "late-plugin")
    assert manager.formats.names() == [*builtin, "late"]
    assert manager.formats.origin("sog").startswith("splatkit.")
