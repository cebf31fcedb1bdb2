"""docs/plugins.md and docs/architecture.md stay true: code blocks match the example, names resolve."""

from __future__ import annotations

import ast
import importlib
import re

import pytest

from tests.conftest import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
MARKER = re.compile(r"<!-- from: (?P<path>[^ ]+) -->\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.S)
# A block that is not from the example (a hook wrapper, a GPU backend) is marked as a sketch: it
# must still compile, and every splatkit name it imports must exist.
SKETCH = re.compile(r"<!-- sketch -->\n```python\n(?P<code>.*?)\n```", re.S)
FENCE = re.compile(r"^```(\w+)$", re.M)
CHECKED_LANGUAGES = {"python", "toml"}


def _blocks() -> list[tuple[str, str]]:
    return [(m["path"], m["code"]) for m in MARKER.finditer((DOCS / "plugins.md").read_text())]


def test_plugins_guide_has_example_blocks() -> None:
    paths = {path for path, _ in _blocks()}
    assert paths == {"examples/plugin_example/pyproject.toml",
                     "examples/plugin_example/splatkit_example_plugin.py",
                     "examples/plugin_example/tests/test_splatkit_example_plugin.py"}


@pytest.mark.parametrize(("path", "code"), _blocks(), ids=lambda v: v.splitlines()[0][:40] if "\n" in v else v)
def test_each_code_block_is_copied_verbatim_from_the_example(path: str, code: str) -> None:
    source = (PROJECT_ROOT / path).read_text()
    assert code + "\n" in source, f"this block of docs/plugins.md no longer matches {path}:\n{code[:300]}"


def _sketches() -> list[str]:
    return [m["code"] for m in SKETCH.finditer((DOCS / "plugins.md").read_text())]


def test_every_python_and_toml_block_comes_from_the_example_or_is_a_sketch() -> None:
    text = (DOCS / "plugins.md").read_text()
    checked = sum(1 for lang in FENCE.findall(text) if lang in CHECKED_LANGUAGES)
    assert checked == len(_blocks()) + len(_sketches()), (
        "a ```python or ```toml block in docs/plugins.md lacks its <!-- from: --> (or <!-- sketch -->) marker")


@pytest.mark.parametrize("code", _sketches(), ids=lambda code: code.splitlines()[0][:40])
def test_each_sketch_compiles_and_its_splatkit_imports_exist(code: str) -> None:
    tree = ast.parse(code)  # a SyntaxError fails the test
    names = [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and (node.module or "").startswith("splatkit") for alias in node.names]
    names += [name for name in re.findall(r"\b(splatkit(?:\.\w+)+)", code) if not name.endswith(tuple("()"))]
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert names and missing == [], f"a sketch in plugins.md names what does not exist: {missing}"


def test_the_whole_example_module_is_shown() -> None:
    # Every top-level definition of the plugin module appears in the guide.
    source = (PROJECT_ROOT / "examples/plugin_example/splatkit_example_plugin.py").read_text()
    shown = "\n".join(code for path, code in _blocks() if path.endswith("splatkit_example_plugin.py"))
    definitions = re.findall(r"^(?:def|class) (\w+)", source, re.M)
    assert definitions and all(re.search(rf"^(?:def|class) {name}\b", shown, re.M) for name in definitions), (
        [n for n in definitions if not re.search(rf"^(?:def|class) {n}\b", shown, re.M)])


def _dotted_names(doc: str) -> list[str]:
    text = (DOCS / doc).read_text()
    return sorted(set(re.findall(r"`(splatkit(?:\.\w+)+)(?:\(\))?`", text)))


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("doc", ["plugins.md", "architecture.md"])
def test_every_splatkit_name_in_the_docs_exists(doc: str) -> None:
    names = _dotted_names(doc)
    assert names, f"{doc} names no splatkit module or object"
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert missing == [], f"{doc} refers to names that do not exist: {missing}"
