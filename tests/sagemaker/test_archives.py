"""model.tar.gz is unpacked safely: files and folders only, inside the target, bounded, all or nothing."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from splatkit.errors import InputError
from splatkit.sagemaker.archives import TarLimits, extract_model_archive, is_model_archive


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_a_model_archive_unpacks_with_its_folders(tmp_path: Path) -> None:
    folder = tarfile.TarInfo("eval")
    folder.type = tarfile.DIRTYPE
    archive = _tar(tmp_path / "model.tar.gz", [_file("./point_cloud.ply", b"ply"), (folder, None),
                                               _file("eval/view.png", b"png")])
    dest = extract_model_archive(archive, tmp_path / "model")
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["eval", "eval/view.png",
                                                                              "point_cloud.ply"]
    assert (dest / "point_cloud.ply").read_bytes() == b"ply"
    assert is_model_archive(archive) and is_model_archive("x/MODEL.TGZ") and not is_model_archive("a.zip")


@pytest.mark.parametrize("member, words", [
    (_file("../escape.ply"), "outside"),
    (_file("/etc/passwd"), "absolute"),
    (_file("a\\b.ply"), "unsafe"),
    (_special("link", tarfile.SYMTYPE, "/etc"), "link"),
    (_special("hard", tarfile.LNKTYPE, "point_cloud.ply"), "link"),
    (_special("fifo", tarfile.FIFOTYPE), "special file"),
])
def test_unsafe_members_are_refused_and_nothing_is_left(tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None],
                                                        words: str) -> None:
    archive = _tar(tmp_path / "model.tar.gz", [_file("point_cloud.ply"), member])
    with pytest.raises(InputError, match=words):
        extract_model_archive(archive, tmp_path / "out" / "model")
    assert not (tmp_path / "out" / "model").exists()
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "escape.ply").exists()


def test_sizes_and_counts_are_bounded_before_anything_is_written(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "model.tar.gz", [_file("a", b"1" * 600), _file("b", b"2" * 600)])
    with pytest.raises(InputError, match="more than 1000 bytes"):
        extract_model_archive(archive, tmp_path / "m1", limits=TarLimits(max_total_bytes=1000))
    with pytest.raises(InputError, match="more than 1 members"):
        extract_model_archive(archive, tmp_path / "m2", limits=TarLimits(max_members=1))
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists()


def test_repeated_members_broken_archives_and_existing_targets_are_refused(tmp_path: Path) -> None:
    twice = _tar(tmp_path / "twice.tar.gz", [_file("a.ply"), _file("./a.ply")])
    with pytest.raises(InputError, match="twice"):
        extract_model_archive(twice, tmp_path / "m")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="not a readable .tar.gz"):
        extract_model_archive(broken, tmp_path / "m")
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="exists"):
        extract_model_archive(twice, tmp_path / "taken")
    assert not (tmp_path / "m").exists()
