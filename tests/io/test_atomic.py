"""Atomic writes: nothing partial under the final name, and normal permissions on what is written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from splatkit.errors import InputError
from splatkit.io.atomic import (
    atomic_directory,
    atomic_path,
    atomic_temp_target,
    atomic_write_bytes,
    is_atomic_temp_name,
)


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


def test_a_folder_where_the_file_goes_is_named_not_the_temporary_path(tmp_path: Path) -> None:
    (tmp_path / "out.ply").mkdir()
    with pytest.raises(InputError, match="is a folder") as excinfo:
        with atomic_path(tmp_path / "out.ply"):
            pytest.fail("nothing is written")
    assert str(excinfo.value).startswith(f"{tmp_path / 'out.ply'}: ") and ".tmp." not in str(excinfo.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ply"]


def test_a_folder_made_where_the_file_goes_during_the_write_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot replace it") as excinfo:
        with atomic_path(tmp_path / "out.ply") as tmp:
            tmp.write_bytes(b"x")
            (tmp_path / "out.ply").mkdir()
            (tmp_path / "out.ply" / "keep").write_bytes(b"k")
    assert str(excinfo.value).startswith(f"{tmp_path / 'out.ply'}: ") and ".tmp." not in str(excinfo.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ply"]


def test_a_file_in_the_way_of_the_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(InputError, match="cannot create its folder") as excinfo:
        atomic_write_bytes(tmp_path / "file" / "a.bin", b"x")
    assert str(excinfo.value).startswith(f"{tmp_path / 'file' / 'a.bin'}: ")


def test_temporary_names_say_what_they_are_so_a_later_run_can_remove_them(tmp_path: Path) -> None:
    seen: list[str] = []
    with atomic_path(tmp_path / "report.json") as tmp:
        seen.append(tmp.name)
        tmp.write_text("{}")
    with atomic_directory(tmp_path / "sfm") as tmp:
        seen.append(tmp.name)
    with atomic_directory(tmp_path / "sfm"):  # replaces: the old one goes through .sfm.old.*
        pass
    assert all(is_atomic_temp_name(name) for name in seen)
    assert [atomic_temp_target(name) for name in seen] == ["report.json", "sfm"]
    assert atomic_temp_target(".sfm.old.ab12cd34") == "sfm"
    for name in ("report.json", ".git", ".report.json.backup", ".sfm.partial.pycolmap.ab12cd34", ".x.tmp.short"):
        assert not is_atomic_temp_name(name), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "sfm"]
