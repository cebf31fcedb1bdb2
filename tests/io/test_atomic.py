"""Atomic writes: nothing partial under the final name, and normal permissions on what is written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from splatkit.io.atomic import atomic_directory, atomic_path, atomic_write_bytes


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_files_and_folders_get_the_umask_permissions_not_mkstemps(tmp_path: Path, umask_022) -> None:
    path = atomic_write_bytes(tmp_path / "a.bin", b"x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    with atomic_path(tmp_path / "b.ply") as tmp:
        with open(tmp, "wb") as f:  # what writers do: open the temporary path again
            f.write(b"y")
    assert stat.S_IMODE((tmp_path / "b.ply").stat().st_mode) == 0o644
    with atomic_directory(tmp_path / "folder") as tmp:
        (tmp / "m").write_bytes(b"z")
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "c.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
