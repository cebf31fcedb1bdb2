"""The launcher examples in docs/sagemaker.md that need AWS (```py blocks) compile and import what exists.

They cannot run offline (they submit jobs); the runnable ```python example is test_docs.py's.
"""

from __future__ import annotations

import ast
import importlib
import re

from tests.conftest import PROJECT_ROOT

TEXT = (PROJECT_ROOT / "docs" / "sagemaker.md").read_text()
BLOCKS = re.findall(r"```py\n(.*?)\n```", TEXT, re.S)


def test_the_aws_examples_compile_and_their_imports_exist() -> None:
    assert BLOCKS, "docs/sagemaker.md lost its executor example"
    for code in BLOCKS:
        tree = ast.parse(compile(code, "docs/sagemaker.md", "exec", flags=ast.PyCF_ONLY_AST))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = importlib.import_module(node.module)
                missing = [a.name for a in node.names if not hasattr(module, a.name)]
                assert missing == [], f"{node.module} has no {missing}"


def test_the_documented_defaults_are_the_code_s() -> None:
    from splatkit.sagemaker import container
    from splatkit.sagemaker.entry import EXIT_STOPPED, STOP_DEADLINE_S
    from splatkit.sagemaker.executor import STATE_FILE, PollPolicy

    assert f"`OUT/{STATE_FILE}`" in TEXT and f"`{container.RESULT_FILE}`" in TEXT
    assert (PollPolicy().first_s, PollPolicy().factor, PollPolicy().max_s) == (15.0, 1.5, 120.0)
    assert "15 s, growing by 1.5 to 2 min" in TEXT
    assert f"exits {EXIT_STOPPED}" in TEXT and f"exits hard {STOP_DEADLINE_S} s after the signal" in TEXT
    assert f"`{container.ENV_ROOT}`" in TEXT
