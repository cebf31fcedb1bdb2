"""The import graph of ``src/splatkit``: layers point down, no cycles, no private names across modules.

Every ``import`` counts, including those inside functions and under ``TYPE_CHECKING``: a lazy
import keeps ``import splatkit`` light but is still a dependency of the module that makes it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import splatkit

SRC = Path(splatkit.__file__).resolve().parent
STAGE_PACKAGES = {"sfm", "train", "compress"}
CORE = {"errors", "contracts", "stages", "formats", "device", "reports"}
# Layer -> splatkit layers it may import. The top package re-exports contracts, errors, stages
# and hookimpl, so importing ``splatkit`` itself is allowed from the stage packages up.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "contracts": {"errors"},
    "stages": {"errors", "contracts"},
    "formats": {"errors", "contracts"},
    "device": {"errors"},
    "reports": {"errors"},
    "io": {"errors", "contracts", "formats"},
    "render": {"errors", "contracts", "device", "io"},
    **{pkg: CORE | {"io", "render", "plugins.spec", "plugins", "splatkit"} for pkg in STAGE_PACKAGES},
    "plugins": {"errors", "stages", "formats", "plugins.spec"},
    "plugins.spec": {"plugins"},  # the registries, for type hints only
    # Orchestration: may use the plugin registry and everything below it, but names no backend.
    "pipeline": CORE | {"io", "plugins", "plugins.spec", "splatkit"},
    "sagemaker": CORE | {"io", "plugins", "plugins.spec", "pipeline", "splatkit"},
    "view": CORE | {"io", "plugins", "plugins.spec", "splatkit"},
    "bench": CORE | {"io", "pipeline", "demo", "sagemaker", "splatkit"},
    # The synthetic flight generator draws on the SfM package's geodesy, never on the pipeline.
    "demo": CORE | {"io", "render", "sfm", "splatkit"},
    "cli": CORE | {"io", "plugins", "plugins.spec", "pipeline", "demo", "sagemaker", "view", "bench", "splatkit"},
    "__main__": {"cli"},
    "splatkit": {"errors", "contracts", "stages", "plugins.spec", "plugins", "pipeline"},
    "testing": CORE | {"io", "plugins", "plugins.spec", "splatkit"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "splatkit"
    if parts[1] == "plugins" and len(parts) > 2 and parts[2] == "spec":
        return "plugins.spec"
    return parts[1]


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


MODULES = {_module_name(p): p for p in _modules()}


@cache
def _imports(path: Path) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """``(line, module, imported names)`` of every splatkit import in ``path``."""
    is_package = path.name == "__init__.py"
    package = _module_name(path).split(".")
    if not is_package:
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name, tuple(a.name for a in node.names)))
    return tuple((line, name, names) for line, name, names in found
                 if name == "splatkit" or name.startswith("splatkit."))


def _edges(module: str) -> Iterator[tuple[int, str]]:
    """Modules of splatkit that ``module`` imports: ``from pkg import submodule`` counts as the submodule."""
    for line, name, names in _imports(MODULES[module]):
        submodules = [f"{name}.{n}" for n in names if f"{name}.{n}" in MODULES]
        for target in submodules or [name]:
            if target in MODULES and target != module:
                yield line, target


def test_the_package_has_modules_in_every_checked_layer() -> None:
    layers = {_layer(m) for m in MODULES}
    assert {"contracts", "plugins", "stages", "errors", "io", "formats", "device", "pipeline", "cli"} <= layers
    unknown = layers - set(ALLOWED)
    assert unknown == set(), f"layers without rules (add them to ALLOWED and docs/architecture.md): {unknown}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    own = _layer(_module_name(path))
    allowed = ALLOWED[own] | {own}
    bad = [f"line {line}: {name}" for line, name, _ in _imports(path) if _layer(name) not in allowed]
    assert bad == [], f"{path.relative_to(SRC)} ({own}) imports from layers above it: {bad}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_name_is_imported_from_another_module(path: Path) -> None:
    """A ``_name`` is private to its module; a ``_module`` is private to its package."""
    own = _module_name(path)
    own_package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    bad = []
    for line, name, names in _imports(path):
        if name == own:
            continue
        bad += [f"line {line}: {name}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
        for target in [name] + [f"{name}.{n}" for n in names if f"{name}.{n}" in MODULES]:
            parts = target.split(".")
            private = [i for i, part in enumerate(parts) if part.startswith("_") and not part.startswith("__")]
            if private and not own_package.startswith(".".join(parts[:private[0]])):
                bad.append(f"line {line}: {target} (a private module of another package)")
    assert bad == [], f"{path.relative_to(SRC)} imports private names: {bad}"


def test_there_are_no_import_cycles() -> None:
    graph = {m: sorted({t for _, t in _edges(m)}) for m in MODULES}
    # A module importing its own package's __init__ (or the reverse) is how packages re-export;
    # cycles through a package's own __init__ are left out, every other cycle fails.
    for m, targets in graph.items():
        graph[m] = [t for t in targets if not (m.startswith(t + ".") or t.startswith(m + "."))]
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_graph_test_sees_lazy_imports() -> None:
    # Guards the tests above against parsing nothing: cli imports the pipeline inside functions.
    assert any(t == "splatkit.pipeline.runner" for _, t in _edges("splatkit.cli"))
