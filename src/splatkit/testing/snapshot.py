"""Fingerprints of a stage's input, to prove that ``run()`` left it as it was."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["fingerprint", "tree_fingerprint"]

#: Files up to this size are hashed; larger ones are compared by size and modification time only,
#: so fingerprinting a dataset folder stays fast.
HASHED_FILE_BYTES = 8 * 1024 * 1024
_MAX_DEPTH = 8


def tree_fingerprint(path: Path) -> tuple[Any, ...]:
    """``(relative path, size, mtime_ns, sha256 or None)`` of every file under ``path``, sorted.

    A file is one entry; a missing path is ``("missing",)``. Symbolic links are not followed.
    """
    path = Path(path)
    if not path.exists():
        return ("missing",)
    if path.is_file():
        return (_file_entry(path, "."),)
    entries = []
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(dirpath) / name
            entries.append(_file_entry(file, file.relative_to(path).as_posix()))
    return tuple(entries)


def _file_entry(file: Path, rel: str) -> tuple[Any, ...]:
    stat = file.lstat()
    digest = None
    if file.is_file() and not file.is_symlink() and stat.st_size <= HASHED_FILE_BYTES:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
    return (rel, stat.st_size, stat.st_mtime_ns, digest)


def fingerprint(value: Any, *, depth: int = 0) -> Any:
    """A comparable summary of ``value``: equal before and after ``run()`` when nothing changed.

    Dataclasses (the contracts) field by field, numpy arrays by shape, dtype and a hash of their
    bytes, mappings and sequences item by item, paths by the files under them
    (:func:`tree_fingerprint`); other values by ``repr``.
    """
    if depth > _MAX_DEPTH:
        return ("...",)
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return ("array", data.shape, data.dtype.str, hashlib.sha256(data.tobytes()).hexdigest())
    if isinstance(value, os.PathLike):
        return ("path", os.fspath(value), tree_fingerprint(Path(value)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__qualname__,
                tuple((f.name, fingerprint(getattr(value, f.name), depth=depth + 1)) for f in fields))
    if isinstance(value, Mapping):
        return ("mapping", tuple(sorted(((repr(k), fingerprint(v, depth=depth + 1)) for k, v in value.items()),
                                        key=lambda item: item[0])))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(fingerprint(v, depth=depth + 1) for v in value))
    if isinstance(value, (bytes, bytearray)):
        return ("bytes", hashlib.sha256(value).hexdigest())
    return ("value", repr(value))
