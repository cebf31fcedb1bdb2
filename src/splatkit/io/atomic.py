"""Atomic file output: write to a temporary sibling, then rename into place.

A crash or an error never leaves a partial file or folder under the final name, so a later run
can trust whatever it finds there. A crash (SIGKILL, power loss) can leave the temporary sibling
behind; its name says what it is (:func:`is_atomic_temp_name`), so the pipeline removes such
leftovers from the folders it owns at its next run.

Files and folders get the permissions ``open()`` and ``mkdir()`` would give them under the
process umask, not ``mkstemp``'s private 0600 / 0700. Errors name the path the caller asked for,
never the temporary one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from splatkit.errors import InputError

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_path", "atomic_directory", "is_atomic_temp_name",
           "atomic_temp_target", "TEMP_MARKER", "OLD_MARKER"]

#: In every temporary sibling's name: ``.<name>.tmp.<random><suffix>``.
TEMP_MARKER = ".tmp."
#: In the name of the folder an old ``path`` is moved to before its removal: ``.<name>.old.<random>``.
OLD_MARKER = ".old."
# mkstemp/mkdtemp's random part is 8 characters of [a-z0-9_].
_TEMP_NAME = re.compile(r"^\.(?P<name>.+?)\.(?:tmp|old)\.[a-z0-9_]{8}(?:\.[^./]+)?$")


def _umask() -> int:
    """The process umask (read by setting it, then restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_temp_target(name: str) -> str | None:
    """The name a temporary sibling was made for (``.report.json.tmp.ab12cd34.json`` ->
    ``report.json``; ``.sfm.old.ab12cd34`` -> ``sfm``), None for any other name."""
    match = _TEMP_NAME.match(name)
    return match.group("name") if match is not None else None


def is_atomic_temp_name(name: str) -> bool:
    """True for the name of a temporary sibling this module makes (``.<name>.tmp.<random>[.ext]``,
    ``.<name>.old.<random>``): what a crash mid-write leaves behind."""
    return _TEMP_NAME.match(name) is not None


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create its folder ({e.strerror or e}); check the path and its permissions",
                         path=path) from e


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary name keeps ``path``'s suffix (or ``suffix``) so libraries that pick a format
    by extension still work. On error the temporary file is removed and ``path`` is untouched.

    Raises
    ------
    InputError
        ``path`` is a folder, or its folder cannot be created or written (names ``path``).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; pass the name of a file to write", path=path)
    _make_parent(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARKER}",
                                        suffix=suffix if suffix is not None else path.suffix, dir=path.parent)
    except OSError as e:
        raise InputError(f"cannot write here ({e.strerror or e}); choose a writable folder", path=path) from e
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets what open() would give
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except OSError as e:  # e.g. a folder made at path meanwhile: name the user's path, not ours
            raise InputError(f"cannot replace it ({e.strerror or e})", path=path) from e
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (fsync'd before the rename); returns ``Path(path)``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` as a whole.

    An existing ``path`` is removed only after the new content is complete.
    """
    path = Path(path)
    _make_parent(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{TEMP_MARKER}", dir=path.parent))
    except OSError as e:
        raise InputError(f"cannot write here ({e.strerror or e}); choose a writable folder", path=path) from e
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the final folder gets what mkdir() would give
    try:
        yield tmp
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}{OLD_MARKER}", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
