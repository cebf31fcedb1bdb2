"""Imports point down the layers of docs/architecture.md; a stage package never imports another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import splatkit

SRC = Path(splatkit.__file__).resolve().parent
STAGE_PACKAGES = {"sfm", "train", "compress"}
# Layer -> splatkit layers it may import (the top package re-exports contracts, errors, stages
# and hookimpl, so importing ``splatkit`` itself is allowed from the stage packages up).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "contracts": {"errors"},
    "stages": {"errors", "contracts"},
    "io": {"errors", "contracts"},
    "render": {"errors", "contracts", "io"},
    "plugins": {"errors", "stages", "plugins.spec"},
    "plugins.spec": {"plugins"},  # the registry, for type hints only
    **{pkg: {"errors", "contracts", "stages", "io", "render", "plugins.spec", "plugins", "splatkit"}
       for pkg in STAGE_PACKAGES},
}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "splatkit"
    if parts[1] == "plugins" and len(parts) > 2 and parts[2] == "spec":
        return "plugins.spec"
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    package = list(path.relative_to(SRC.parent).parts[:-1])  # relative imports resolve against it
    found = []
    for node in ast.walk(ast.parse(path.read_text())):  # ast.walk: imports inside functions count too
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name == "splatkit" or name.startswith("splatkit.")]


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_package_has_modules_in_every_checked_layer() -> None:
    layers = {_layer(".".join(p.relative_to(SRC.parent).with_suffix("").parts)) for p in _modules()}
    assert {"contracts", "plugins", "stages", "errors", "io"} <= layers


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    own = _layer(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
    if own not in ALLOWED:  # cli, __main__, the top package, orchestration: may import anything
        return
    allowed = ALLOWED[own] | {own}
    bad = [f"line {line}: {name}" for line, name in _imports(path) if _layer(name) not in allowed]
    assert bad == [], f"{path.relative_to(SRC)} ({own}) imports from layers above it: {bad}"
