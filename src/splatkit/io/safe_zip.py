"""Extract a user's ZIP of photos without trusting anything the archive says about itself.

A ZIP comes from the outside world, so every member name is checked before anything is written
(no ``..``, no absolute paths, no drive letters, no symlink members), the member count and the
total size are bounded by :class:`ZipLimits`, and sizes are counted on the bytes actually
decompressed, not taken from the headers, so an archive whose headers lie is stopped too.
Extraction writes into a temporary folder that is renamed into place only when complete
(:func:`splatkit.io.atomic.atomic_directory`), so a rejected archive leaves nothing behind.

Junk that archivers add (``__MACOSX/``, AppleDouble ``._*`` files, hidden files and folders,
``Thumbs.db``, ``desktop.ini``) is skipped silently.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from splatkit.errors import InputError
from splatkit.io.atomic import atomic_directory

__all__ = ["ZipLimits", "ZipExtraction", "member_path", "is_junk_member", "extract_zip", "EXTRACTED_MARKER"]

#: Written into every folder :func:`extract_zip` creates, so a later call may replace that folder
#: (and only such a folder) without destroying something the user put there.
EXTRACTED_MARKER = ".splatkit-extracted"

_GIB = 1 << 30
_CHUNK_BYTES = 1 << 20
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_JUNK_BASENAMES = frozenset({"thumbs.db", "desktop.ini"})


@dataclass(frozen=True, kw_only=True, slots=True)
class ZipLimits:
    """Bounds on what one ZIP may expand to.

    Attributes
    ----------
    max_total_bytes : int
        Most bytes all extracted members may decompress to together (default 20 GiB, about
        2000 photos of 10 MB). Counted on the decompressed stream, never on header sizes alone.
    max_members : int
        Most entries (files, folders, junk included) the archive may list (default 10000).
    """

    max_total_bytes: int = 20 * _GIB
    max_members: int = 10_000

    def __post_init__(self) -> None:
        if self.max_total_bytes <= 0 or self.max_members <= 0:
            raise ValueError(f"ZipLimits must be positive, got {self}")


@dataclass(frozen=True, kw_only=True, slots=True)
class ZipExtraction:
    """What :func:`extract_zip` did.

    Attributes
    ----------
    root : Path
        The folder the kept members were written to.
    extracted : tuple[str, ...]
        Names (relative posix paths) of the members written, in archive order.
    skipped : tuple[str, ...]
        Names of regular members that ``keep`` refused (e.g. not photos); junk is not listed.
    total_bytes : int
        Bytes written.
    """

    root: Path
    extracted: tuple[str, ...]
    skipped: tuple[str, ...]
    total_bytes: int


def member_path(info: zipfile.ZipInfo, *, archive: str | Path = "") -> PurePosixPath | None:
    """Return the safe relative path of a member, or None for a folder entry.

    Raises
    ------
    InputError
        When the name escapes the extraction folder (``..``, an absolute path, a drive letter,
        a UNC path), or the member is a symbolic link. The message names the member.
    """
    raw = info.filename
    # Windows archivers sometimes write backslashes; treat them as separators so `..\x` is caught.
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE_LETTER.match(name):
        raise InputError(f"unsafe ZIP member {raw!r}: absolute path; the archive must hold relative names",
                         path=archive)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"unsafe ZIP member {raw!r}: '..' would write outside the extraction folder",
                         path=archive)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"unsafe ZIP member {raw!r}: symbolic links are not accepted; zip the files themselves",
                         path=archive)
    if not parts or info.is_dir():
        return None
    return PurePosixPath(*parts)


def is_junk_member(path: PurePosixPath) -> bool:
    """True for archiver junk: ``__MACOSX/``, ``._*``, hidden files or folders, Thumbs.db, desktop.ini."""
    if path.parts[0] == "__MACOSX":
        return True
    if any(part.startswith(".") for part in path.parts):
        return True
    return path.name.lower() in _JUNK_BASENAMES


def extract_zip(
    zip_path: str | Path,
    dest: str | Path,
    *,
    limits: ZipLimits = ZipLimits(),
    keep: Callable[[PurePosixPath], bool] = lambda _path: True,
) -> ZipExtraction:
    """Safely extract the members of ``zip_path`` that ``keep`` accepts into the folder ``dest``.

    Every member name is checked before any byte is written. ``dest`` appears only when the whole
    extraction succeeded; an existing ``dest`` is replaced only if it is empty or was made by this
    function (it holds :data:`EXTRACTED_MARKER`).

    Parameters
    ----------
    zip_path
        The archive.
    dest
        Folder to create with the extracted members, keeping their relative paths.
    limits
        Member-count and total-size bounds.
    keep
        Called with each non-junk member's relative path; False skips it (listed in ``skipped``).

    Returns
    -------
    ZipExtraction

    Raises
    ------
    InputError
        Missing file, not a ZIP, empty ZIP, unsafe member name, symlink, encrypted or corrupt
        member, too many members, too many bytes, duplicate names, or a ``dest`` that holds
        someone else's files.
    """
    zip_path = Path(zip_path)
    dest = Path(dest)
    _check_dest_replaceable(dest)
    try:
        if zip_path.stat().st_size == 0:
            raise InputError("the ZIP file is empty (0 bytes); re-create the archive", path=zip_path)
        zf = zipfile.ZipFile(zip_path)
    except FileNotFoundError as e:
        raise InputError("file does not exist", path=zip_path) from e
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as e:
        raise InputError(f"not a readable ZIP archive ({e}); pass a .zip made by a ZIP tool or a folder",
                         path=zip_path) from e
    with zf:
        plan, skipped = _plan_extraction(zf, zip_path, limits, keep)
        with atomic_directory(dest) as tmp:
            total = 0
            for info, rel in plan:
                total += _extract_member(zf, info, rel, tmp, zip_path, limits, total)
            (tmp / EXTRACTED_MARKER).write_text(f"{zip_path.resolve()}\n", encoding="utf-8")
    return ZipExtraction(root=dest, extracted=tuple(str(rel) for _, rel in plan), skipped=tuple(skipped),
                         total_bytes=total)


def _check_dest_replaceable(dest: Path) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise InputError("extraction target exists and is not a folder; choose a new folder", path=dest)
    if any(dest.iterdir()) and not (dest / EXTRACTED_MARKER).is_file():
        raise InputError("extraction target is a folder splatkit did not create and is not empty; "
                         "refusing to replace it, choose a new or empty folder", path=dest)


def _plan_extraction(
    zf: zipfile.ZipFile,
    zip_path: Path,
    limits: ZipLimits,
    keep: Callable[[PurePosixPath], bool],
) -> tuple[list[tuple[zipfile.ZipInfo, PurePosixPath]], list[str]]:
    """Check every member before writing anything; return (members to extract, skipped names)."""
    infos = zf.infolist()
    if not infos:
        raise InputError("the ZIP archive is empty; add the photos to it", path=zip_path)
    if len(infos) > limits.max_members:
        raise InputError(f"the ZIP lists {len(infos)} entries, more than the limit of {limits.max_members} "
                         "(ZipLimits.max_members)", path=zip_path)
    plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    skipped: list[str] = []
    seen: set[str] = set()
    declared = 0
    for info in infos:
        rel = member_path(info, archive=zip_path)
        if rel is None or is_junk_member(rel):
            continue
        if not keep(rel):
            skipped.append(str(rel))
            continue
        if info.flag_bits & 0x1:
            raise InputError(f"ZIP member {info.filename!r} is encrypted; re-create the archive without a password",
                             path=zip_path)
        # Two names that differ only in case would overwrite each other on macOS and Windows.
        key = str(rel).casefold()
        if key in seen:
            raise InputError(f"ZIP member {info.filename!r} appears twice; names must be unique", path=zip_path)
        seen.add(key)
        # Header sizes are only an early, cheap rejection: the real bound is counted while streaming.
        declared += max(0, info.file_size)
        if declared > limits.max_total_bytes:
            raise InputError(f"the ZIP declares more than {limits.max_total_bytes} bytes uncompressed (at member "
                             f"{info.filename!r}); the limit is ZipLimits.max_total_bytes", path=zip_path)
        plan.append((info, rel))
    return plan, skipped


def _extract_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    rel: PurePosixPath,
    root: Path,
    zip_path: Path,
    limits: ZipLimits,
    total_so_far: int,
) -> int:
    """Stream one member to ``root / rel``; return the bytes written."""
    target = root.joinpath(*rel.parts)
    budget = limits.max_total_bytes - total_so_far
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(target, "xb") as dst:
            written = _copy_bounded(src, dst, budget=budget, declared=info.file_size)
    except _BudgetExceeded as e:
        if e.reason == "declared":
            raise InputError(f"ZIP member {info.filename!r} decompresses to more than the {info.file_size} bytes "
                             "its header declares; the archive is corrupt or malicious", path=zip_path) from None
        raise InputError(f"ZIP member {info.filename!r} takes the extracted size past {limits.max_total_bytes} "
                         "bytes (ZipLimits.max_total_bytes); is this a ZIP bomb?", path=zip_path) from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise InputError(f"ZIP member {info.filename!r} is corrupt ({e}); re-create the archive",
                         path=zip_path) from e
    except NotImplementedError as e:
        raise InputError(f"ZIP member {info.filename!r} uses an unsupported compression method ({e}); "
                         "re-create the archive with deflate", path=zip_path) from e
    except OSError as e:
        raise InputError(f"cannot extract ZIP member {info.filename!r}: {e}", path=zip_path) from e
    return written


class _BudgetExceeded(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _copy_bounded(src: BinaryIO, dst: BinaryIO, *, budget: int, declared: int | None = None) -> int:
    """Copy ``src`` to ``dst`` in chunks, stopping as soon as the bytes read pass a bound.

    Parameters
    ----------
    budget
        Most bytes this copy may write (what is left of the total limit).
    declared
        The size the ZIP header claims; reading more than that is an error too.

    Returns
    -------
    int
        Bytes copied.

    Raises
    ------
    _BudgetExceeded
        With ``reason`` ``"budget"`` or ``"declared"``; the chunk that crossed the bound is not
        written.
    """
    written = 0
    while True:
        # One chunk in memory at a time; the check runs before the chunk is written.
        chunk = src.read(_CHUNK_BYTES)
        if not chunk:
            return written
        written += len(chunk)
        if declared is not None and written > declared:
            raise _BudgetExceeded("declared")
        if written > budget:
            raise _BudgetExceeded("budget")
        dst.write(chunk)
