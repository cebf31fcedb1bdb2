"""Whether importing a module pulls in a heavy package, asked of a fresh interpreter."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

from splatkit.testing.contract_check_error import ContractCheckError

__all__ = ["HEAVY_PACKAGES", "check_import_is_light"]

#: Packages that ``import splatkit`` and building the registries never import (they take seconds
#: and gigabytes); a backend imports them inside ``run()``.
HEAVY_PACKAGES: tuple[str, ...] = ("torch", "pycolmap", "gsplat", "boto3", "numba")

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(set(sys.argv[2:]) & set(sys.modules))))
"""


def check_import_is_light(module: str, *, heavy: tuple[str, ...] = HEAVY_PACKAGES, timeout_s: float = 120.0) -> None:
    """Import ``module`` in a new interpreter and fail if any of ``heavy`` got imported with it.

    This process has usually imported them already (a test that trained something), so only a
    fresh interpreter can tell. It sees this process's ``sys.path``. Results are cached per
    ``(module, heavy)``.

    Raises
    ------
    ContractCheckError
        The module imports a heavy package (directly or through a module it imports), or it
        cannot be imported at all.
    """
    found, error = _heavy_imports(module, tuple(heavy), timeout_s)
    if error:
        raise ContractCheckError(f"importing {module} in a fresh interpreter failed: {error}")
    if found:
        raise ContractCheckError(
            f"importing {module} imports {', '.join(found)}: splatkit imports plugin modules when it builds its "
            "registry (for `splatkit --help` too), so import heavy packages inside run() and check for them "
            "with importlib.util.find_spec in unavailable_reason()")


@functools.lru_cache(maxsize=None)
def _heavy_imports(module: str, heavy: tuple[str, ...], timeout_s: float) -> tuple[list[str], str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, module, *heavy], capture_output=True, text=True,
                              env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return [], f"it took more than {timeout_s:.0f} s"
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return [], tail[0]
    return json.loads(done.stdout.strip().splitlines()[-1]), ""
