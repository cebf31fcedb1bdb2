"""Safe ZIP extraction: hostile names, symlinks, ZIP bombs, lying headers, junk, limits, atomicity."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.errors import InputError
from splatkit.io.safe_zip import (
    EXTRACTED_MARKER,
    ZipLimits,
    open_archive,
    extract_zip,
    is_junk_member,
    member_path,
)
from tests.io._image_factory import write_lying_zip, write_symlink_zip, write_zip

MB = 1 << 20


def _leftovers(parent: Path) -> list[str]:
    """Temporary folders atomic_directory leaves behind on failure (there must be none)."""
    return sorted(p.name for p in parent.iterdir() if ".tmp." in p.name or ".old." in p.name)


@pytest.mark.parametrize(
    "evil",
    ["../evil.jpg", "photos/../../evil.jpg", "..\\evil.jpg", "__MACOSX/../../evil.jpg", "a/./../../evil.jpg"],
)
def test_path_traversal_member_is_rejected_by_name(tmp_path: Path, evil: str) -> None:
    archive = write_zip(tmp_path / "in.zip", {"ok.jpg": b"x", evil: b"payload"})
    (tmp_path / "work").mkdir()
    dest = tmp_path / "work" / "out"
    with pytest.raises(InputError) as info:
        extract_zip(archive, dest)
    assert repr(evil) in str(info.value)
    assert ".." in str(info.value)
    assert not dest.exists()
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "work" / "evil.jpg").exists()
    assert _leftovers(tmp_path / "work") == []


@pytest.mark.parametrize("evil", ["/tmp/evil.jpg", "//server/share/evil.jpg", "C:/evil.jpg", "c:evil.jpg",
                                  "C:\\Windows\\evil.jpg", "\\evil.jpg"])
def test_absolute_and_drive_letter_members_are_rejected(tmp_path: Path, evil: str) -> None:
    archive = write_zip(tmp_path / "in.zip", {evil: b"payload"})
    with pytest.raises(InputError, match="absolute path") as info:
        extract_zip(archive, tmp_path / "out")
    assert repr(evil) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_symlink_member_is_rejected(tmp_path: Path) -> None:
    archive = write_symlink_zip(tmp_path / "in.zip", "photos/link.jpg", "/etc/passwd", extra={"a.jpg": b"x"})
    with pytest.raises(InputError, match="symbolic link") as info:
        extract_zip(archive, tmp_path / "out")
    assert "photos/link.jpg" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_zip_bomb_is_stopped_by_the_total_size_limit(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "bomb.zip", {"a.jpg": b"x" * 1000, "bomb.jpg": bytes(50 * MB)})
    assert archive.stat().st_size < MB  # 50 MB of zeros deflate to ~50 KB: a real compression bomb
    # Caught by the cheap header pre-check, before a byte is written.
    with pytest.raises(InputError, match="declares more than .*max_total_bytes") as info:
        extract_zip(archive, tmp_path / "out", limits=ZipLimits(max_total_bytes=10 * MB))
    assert "bomb.jpg" in str(info.value)
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


def test_member_whose_header_understates_its_size_is_stopped(tmp_path: Path) -> None:
    # Headers say 1000 bytes, the stream inflates to 50 MB: the declared-size pre-check passes, so
    # only reading the actual bytes can stop it.
    archive = write_lying_zip(tmp_path / "liar.zip", "liar.jpg", real_bytes=50 * MB, declared_bytes=1000)
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("liar.jpg").file_size == 1000
    with pytest.raises(InputError) as info:
        extract_zip(archive, tmp_path / "out", limits=ZipLimits(max_total_bytes=2 * MB))
    assert "liar.jpg" in str(info.value)
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


def test_lying_header_with_consistent_crc_never_writes_past_the_declared_size(tmp_path: Path) -> None:
    archive = write_lying_zip(tmp_path / "liar.zip", "liar.jpg", real_bytes=50 * MB, declared_bytes=1000,
                              matching_crc=True)
    try:
        result = extract_zip(archive, tmp_path / "out")
    except InputError as e:  # a stricter reader may also call it corrupt; either way nothing big lands
        assert "liar.jpg" in str(e)
        assert not (tmp_path / "out").exists()
    else:
        assert result.total_bytes == 1000
        assert (tmp_path / "out" / "liar.jpg").stat().st_size == 1000


def test_reads_stop_at_the_declared_size(tmp_path: Path) -> None:
    archive = write_lying_zip(tmp_path / "liar.zip", "liar.jpg", 5 * MB, 1000)
    with open_archive(archive) as zf, pytest.raises(InputError, match="member .liar.jpg. (is corrupt|decompresses to more)"):
        zf.read(zf.members[0])


def test_reads_stop_at_the_member_cap_and_the_total_and_count_real_bytes(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "big.zip", {"a.jpg": bytes(3 * MB + 5), "b.jpg": bytes(3 * MB + 5)})
    with open_archive(archive, limits=ZipLimits(max_member_bytes=2 * MB)) as zf:
        with pytest.raises(InputError, match="'a.jpg' decompresses to more than"):
            zf.read(zf.members[0])
    with open_archive(archive) as zf:
        with pytest.raises(InputError, match="'a.jpg' decompresses to more than 1024"):
            zf.read(zf.members[0], max_bytes=1024)
        assert zf.read(zf.members[1]) == bytes(3 * MB + 5)
    with open_archive(archive, limits=ZipLimits(max_total_bytes=7 * MB)) as zf:
        zf.read(zf.members[0])
        zf.read(zf.members[1])
        with pytest.raises(InputError, match="max_total_bytes"):
            zf.read(zf.members[0])   # a second read counts again


def test_member_count_limit(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "many.zip", {f"{i}.jpg": b"x" for i in range(5)})
    with pytest.raises(InputError, match="max_members"):
        extract_zip(archive, tmp_path / "out", limits=ZipLimits(max_members=4))
    assert extract_zip(archive, tmp_path / "out", limits=ZipLimits(max_members=5)).extracted == tuple(
        f"{i}.jpg" for i in range(5))


def test_junk_is_skipped_silently_and_keep_filter_reports_skipped(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {
        "photos/a.jpg": b"a",
        "photos/sub/b.JPG": b"bb",
        "__MACOSX/photos/._a.jpg": b"junk",
        "photos/._b.jpg": b"junk",
        ".DS_Store": b"junk",
        "photos/.thumbs/c.jpg": b"junk",
        "Thumbs.db": b"junk",
        "photos/": b"",
        "notes.pdf": b"%PDF-1.4",
    })
    result = extract_zip(archive, tmp_path / "out", keep=lambda p: p.suffix.lower() == ".jpg")
    assert result.extracted == ("photos/a.jpg", "photos/sub/b.JPG")
    assert result.skipped == ("notes.pdf",)
    assert result.total_bytes == 3
    files = sorted(p.relative_to(result.root).as_posix() for p in result.root.rglob("*") if p.is_file())
    assert files == sorted([EXTRACTED_MARKER, "photos/a.jpg", "photos/sub/b.JPG"])
    assert (result.root / "photos/sub/b.JPG").read_bytes() == b"bb"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: write_zip(p, {}), "empty"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"%PDF-1.4 this is not a zip" * 10), "not a readable ZIP"),
        (lambda p: None, "does not exist"),
    ],
    ids=["empty-archive", "zero-bytes", "not-a-zip", "missing"],
)
def test_bad_archives_raise_one_line_input_errors(tmp_path: Path, setup, message: str) -> None:
    archive = tmp_path / "photos.zip"
    setup(archive)
    with pytest.raises(InputError, match=message) as info:
        extract_zip(archive, tmp_path / "out")
    assert "\n" not in str(info.value)
    assert str(archive) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_encrypted_member_is_rejected(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"a.jpg": b"x"})
    data = bytearray(archive.read_bytes())
    # Set the "encrypted" general-purpose flag in the local header (offset 6) and the central entry (offset 8).
    data[6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError, match="encrypted"):
        extract_zip(archive, tmp_path / "out")


def test_duplicate_member_names_are_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "dup.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.jpg", b"1")
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("a.jpg", b"2")
    with pytest.raises(InputError, match="twice"):
        extract_zip(archive, tmp_path / "out")


def test_corrupt_member_data_is_reported_by_name(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"good.jpg": b"g" * 100, "bad.jpg": bytes(range(256)) * 64})
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("bad.jpg")
    start = info.header_offset + 30 + len(info.filename)  # local header + name, no extra field
    data[start + 5: start + 25] = bytes(20)  # scribble over the deflate stream
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError, match="bad.jpg"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_destination_is_protected_unless_we_made_it(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"a.jpg": b"new"})
    user_folder = tmp_path / "mine"
    user_folder.mkdir()
    (user_folder / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(InputError, match="did not create"):
        extract_zip(archive, user_folder)
    assert (user_folder / "thesis.docx").read_bytes() == b"precious"

    ours = tmp_path / "ours"
    extract_zip(archive, ours)
    (ours / "a.jpg").write_bytes(b"stale")
    (ours / "stale.jpg").write_bytes(b"stale")
    extract_zip(archive, ours)  # a re-run replaces the previous extraction as a whole
    assert (ours / "a.jpg").read_bytes() == b"new"
    assert not (ours / "stale.jpg").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert extract_zip(archive, empty).extracted == ("a.jpg",)


def test_failure_after_good_members_leaves_no_partial_output(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "in.zip", {"a.jpg": b"a" * 1000, "b.jpg": b"b" * 1000, "c.jpg": bytes(4 * MB)})
    with pytest.raises(InputError, match="c.jpg"):
        extract_zip(archive, tmp_path / "out", limits=ZipLimits(max_total_bytes=3 * MB))
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == []


def test_zip_limits_defaults_and_validation() -> None:
    limits = ZipLimits()
    assert limits.max_total_bytes == 20 * (1 << 30) and limits.max_members == 10_000
    with pytest.raises(ValueError):
        ZipLimits(max_members=0)


@given(st.lists(st.sampled_from(["..", ".", "", "a", "b.jpg", "C:", "\\", "..\\x", "/", "~", "é"]),
                min_size=1, max_size=6).map("/".join)
       | st.text(min_size=1, max_size=30))
def test_member_path_never_escapes_the_root(name: str) -> None:
    """Whatever the name, a returned path stays strictly inside the extraction root."""
    root = Path("/extract/root")
    try:
        rel = member_path(zipfile.ZipInfo(name))
    except InputError:
        return
    if rel is None:
        return
    assert not rel.is_absolute()
    assert ".." not in rel.parts
    target = root.joinpath(*rel.parts)
    assert target.parent == root or root in target.parents
    assert "\\" not in str(rel)


def test_is_junk_member() -> None:
    junk = ["__MACOSX/a.jpg", "._a.jpg", "x/._a.jpg", ".DS_Store", ".git/config", "a/.hidden/b.jpg",
            "Thumbs.db", "x/desktop.ini"]
    keep = ["a.jpg", "x/y/z.jpg", "a.b.jpg", "MACOSX/a.jpg"]
    assert all(is_junk_member(PurePosixPath(p)) for p in junk)
    assert not any(is_junk_member(PurePosixPath(p)) for p in keep)
