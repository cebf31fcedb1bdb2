"""Run readers on inputs under a memory and CPU limit: ``python -m tests.hostile.guard CASES.json``.

The JSON file lists ``[name, reader, path, scratch]`` entries. After importing every reader once,
this process forks one child per entry; the child sets ``RLIMIT_AS`` (address space) and
``RLIMIT_CPU`` (seconds) and runs :func:`tests.hostile.readers.read_case`. A reader that allocates
past the limit gets ``MemoryError`` (or dies), one that spins past the CPU limit is killed by
SIGXCPU/SIGKILL. Prints one JSON object: name -> ``"ok"``, ``"splatkit-error"`` or what went wrong.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
import warnings
from pathlib import Path

#: Limits every reader must stay within on a hostile input under 64 KB.
MEMORY_LIMIT_BYTES = 1 << 30
CPU_LIMIT_SECONDS = 10

_OK, _SPLATKIT_ERROR, _OTHER_ERROR, _MEMORY_ERROR = 0, 10, 11, 12


def _child(reader: str, path: Path, scratch: Path, report: Path) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_SECONDS, CPU_LIMIT_SECONDS + 1))
    from splatkit.errors import SplatkitError
    from tests.hostile.readers import read_case

    try:
        read_case(reader, path, scratch)
        return _OK
    except SplatkitError:
        return _SPLATKIT_ERROR
    except MemoryError:
        return _MEMORY_ERROR
    except BaseException:   # noqa: BLE001 - reported to the parent, which fails the test
        report.write_text(traceback.format_exc()[-2000:])
        return _OTHER_ERROR


def _warm_up() -> None:
    """Import what the readers import, so the children only pay for the reading."""
    import numpy  # noqa: F401
    from PIL import Image, PngImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401

    import splatkit.cli  # noqa: F401
    import splatkit.compress.ply_backend  # noqa: F401
    import splatkit.compress.sog_backend  # noqa: F401
    import splatkit.compress.sog_encoder  # noqa: F401
    import splatkit.compress.spz_backend  # noqa: F401
    import splatkit.contracts  # noqa: F401
    import splatkit.io.colmap  # noqa: F401
    import splatkit.io.images  # noqa: F401
    import splatkit.io.ply  # noqa: F401
    import splatkit.io.sog  # noqa: F401
    import splatkit.pipeline.manifest  # noqa: F401
    import tests.hostile.readers  # noqa: F401

    Image.init()
    from splatkit.plugins import get_plugin_manager

    get_plugin_manager().formats  # noqa: B018 - registers the formats before forking


def main(argv: list[str]) -> int:
    warnings.simplefilter("ignore")
    entries = json.loads(Path(argv[0]).read_text())
    _warm_up()
    results: dict[str, str] = {}
    for name, reader, path, scratch in entries:
        report = Path(scratch).with_suffix(".traceback")
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                code = _child(reader, Path(path), Path(scratch), report)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            results[name] = f"killed by signal {os.WTERMSIG(status)} (CPU or memory limit)"
            continue
        code = os.WEXITSTATUS(status)
        results[name] = {_OK: "ok", _SPLATKIT_ERROR: "splatkit-error",
                         _MEMORY_ERROR: f"MemoryError past {MEMORY_LIMIT_BYTES} bytes"}.get(code, "")
        if not results[name]:
            results[name] = f"exit {code}: " + (report.read_text() if report.exists() else "")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
