"""``import splatkit`` and building the stage registry stay light: no torch, pycolmap, gsplat, boto3, numba.

Each check runs in a fresh interpreter, since this test process has long since imported them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

from splatkit.plugins import DISABLE_AUTOLOAD_ENV

HEAVY = ("torch", "pycolmap", "gsplat", "boto3", "numba")
ENTRY_MODULES = [m for m in ("splatkit", "splatkit.plugins", "splatkit.cli", "splatkit.io")
                 if importlib.util.find_spec(m) is not None]


def _run(code: str) -> dict:
    env_code = f"import os; os.environ.pop({DISABLE_AUTOLOAD_ENV!r}, None)\n"
    done = subprocess.run([sys.executable, "-c", env_code + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_heavy_packages_are_really_importable_names() -> None:
    # Guards the tests below: a typo in HEAVY would make them pass vacuously.
    assert any(importlib.util.find_spec(name) is not None for name in HEAVY)
    assert ENTRY_MODULES[:2] == ["splatkit", "splatkit.plugins"]


def test_importing_splatkit_entry_modules_and_building_the_registry_is_light() -> None:
    out = _run(f"""
        import importlib, json, sys
        heavy = {HEAVY!r}
        for name in {ENTRY_MODULES!r}:
            importlib.import_module(name)
        after_import = sorted(set(heavy) & set(sys.modules))
        from splatkit.plugins import PluginManager
        stages = PluginManager().stages
        print(json.dumps({{"after_import": after_import,
                           "after_registry": sorted(set(heavy) & set(sys.modules)),
                           "stages": [s.qualified_name() for s in stages],
                           "available": [s.qualified_name() for s in stages if s.is_available()]}}))
    """)
    assert out["after_import"] == [], f"importing {ENTRY_MODULES} pulled in {out['after_import']}"
    assert out["after_registry"] == [], f"building the registry pulled in {out['after_registry']}"
    assert out["stages"], "no stage registered at all"


def test_no_splatkit_module_imports_a_heavy_package_at_import_time() -> None:
    # Imports every module under src/splatkit in turn and blames the first one after which a
    # heavy package shows up in sys.modules. __main__ is skipped: importing it runs the CLI.
    out = _run(f"""
        import importlib, json, pkgutil, sys, traceback
        import splatkit
        heavy = set({HEAVY!r})
        blame, broken, seen = {{}}, {{}}, set()
        names = sorted(m.name for m in pkgutil.walk_packages(splatkit.__path__, "splatkit.")
                       if not m.name.endswith("__main__"))
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as e:
                broken[name] = f"{{type(e).__name__}}: {{e}}"
            new = (heavy & set(sys.modules)) - seen
            if new:
                blame[name] = sorted(new)
                seen |= new
        print(json.dumps({{"modules": names, "blame": blame, "broken": broken}}))
    """)
    assert len(out["modules"]) > 5
    assert out["broken"] == {}, f"modules that fail to import: {out['broken']}"
    assert out["blame"] == {}, (
        f"modules importing heavy packages at import time (themselves or through a module they import): {out['blame']}")
