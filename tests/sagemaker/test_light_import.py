"""Importing the launcher imports neither boto3 nor botocore (they load when a request is checked)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_every_sagemaker_module_is_light() -> None:
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import splatkit.sagemaker as package\n"
        "for m in pkgutil.iter_modules(package.__path__, 'splatkit.sagemaker.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('boto3', 'botocore', 'moto'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
