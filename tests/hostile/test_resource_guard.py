"""No hostile input under 64 KB makes a reader use more than 1 GB of address space or 10 s of CPU.

Each case of :mod:`tests.hostile.generators` is read in a forked child under ``RLIMIT_AS`` and
``RLIMIT_CPU`` (:mod:`tests.hostile.guard`): it must end with a read or a ``SplatkitError``, not a
``MemoryError``, a kill or another exception.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.generators import CASES

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="RLIMIT_AS and fork semantics are checked on Linux")

REPO = Path(__file__).resolve().parents[2]


def _guard(entries: list[list[str]], tmp_path: Path) -> dict[str, str]:
    listing = tmp_path / "cases.json"
    listing.write_text(json.dumps(entries))
    # One BLAS thread and two malloc arenas: idle thread stacks and arenas reserve address space
    # that RLIMIT_AS counts, and the limit is about what the reader allocates.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MALLOC_ARENA_MAX": "2", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "tests.hostile.guard", str(listing)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_hostile_input_stays_within_1gb_and_10s(tmp_path: Path) -> None:
    entries = []
    for case in CASES:
        folder = tmp_path / case.name
        folder.mkdir()
        made = case.make(folder)
        entries.append([case.name, case.reader, str(made), str(folder / "scratch")])
    results = _guard(entries, tmp_path)
    bad = {name: outcome for name, outcome in results.items() if outcome not in ("ok", "splatkit-error")}
    assert not bad, bad
    assert set(results) == {case.name for case in CASES}


def test_the_guard_catches_a_reader_that_allocates_too_much(tmp_path: Path) -> None:
    """The limit is real: a 2 GB allocation in a child fails (so a pass above means something)."""
    code = ("import resource, numpy; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));\n"
            "try:\n    numpy.ones(2 << 30, numpy.uint8)\nexcept MemoryError:\n    print('refused')")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip() == "refused", done.stderr
