"""Open and extract an archive a user hands in, without trusting anything it says about itself.

Every ZIP that comes from outside (a photo ZIP, a bundled ``.sog``) goes through
:func:`open_archive`, the one safe path used by the input digest, ``splatkit info``, extraction and
decoding alike. Opening checks the whole central directory before any member is read:

* every member name is safe (no ``..``, no absolute paths, no drive letters, no symlink members)
  and decodes (a name flagged UTF-8 that is not UTF-8 is refused, naming its bytes);
* no name appears twice (exactly, or differing only in case) and no two entries share data
  (a central directory that repeats one member is a ZIP bomb);
* no member is encrypted;
* the entry count and the declared total size are within :class:`ZipLimits`.

Reading (:meth:`SafeArchive.chunks`, :meth:`SafeArchive.read`) counts the bytes actually
decompressed, not the header sizes, against the member's declared size, a per-read cap and the
archive's total, so an archive whose headers lie is stopped too; a corrupt deflate/LZMA/bzip2
stream, a bad CRC or an unsupported method is an :class:`~splatkit.errors.InputError` naming the
archive and the member. :func:`extract_zip` writes into a temporary folder renamed into place
only when complete (:func:`splatkit.io.atomic.atomic_directory`), so a rejected archive leaves
nothing behind.

Junk that archivers add (``__MACOSX/``, AppleDouble ``._*`` files, hidden files and folders,
``Thumbs.db``, ``desktop.ini``) is skipped silently.
"""

from __future__ import annotations

import lzma
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType

from splatkit.errors import InputError
from splatkit.io.atomic import atomic_directory

__all__ = [
    "ZipLimits",
    "ZipExtraction",
    "ArchiveMember",
    "SafeArchive",
    "open_archive",
    "member_path",
    "is_junk_member",
    "extract_zip",
    "EXTRACTED_MARKER",
]

#: Written into every folder :func:`extract_zip` creates, so a later call may replace that folder
#: (and only such a folder) without destroying something the user put there.
EXTRACTED_MARKER = ".splatkit-extracted"

_GIB = 1 << 30
_CHUNK_BYTES = 1 << 20
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_JUNK_BASENAMES = frozenset({"thumbs.db", "desktop.ini"})
# What zipfile and its decompressors raise on a damaged archive: a bad CRC or header
# (BadZipFile), a broken deflate / LZMA / bzip2 stream (zlib.error, LZMAError, OSError), a stream
# that ends early (EOFError), a method it lacks (NotImplementedError), a password it wants
# (RuntimeError), fields it cannot unpack (struct.error, ValueError, OverflowError).
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
            NotImplementedError, RuntimeError, struct.error, ValueError, OverflowError, IndexError, KeyError)


@dataclass(frozen=True, kw_only=True, slots=True)
class ZipLimits:
    """Bounds on what one archive may expand to.

    Attributes
    ----------
    max_total_bytes : int
        Most bytes all members may decompress to together (default 20 GiB, about 2000 photos of
        10 MB), counted on the decompressed stream; the declared sizes are checked against it
        when the archive is opened.
    max_members : int
        Most entries (files, folders, junk included) the archive may list (default 10000).
    max_member_bytes : int or None
        Most bytes one member may decompress to (None: only the total bounds it).
    """

    max_total_bytes: int = 20 * _GIB
    max_members: int = 10_000
    max_member_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.max_total_bytes <= 0 or self.max_members <= 0 or (
                self.max_member_bytes is not None and self.max_member_bytes <= 0):
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


@dataclass(frozen=True, kw_only=True, slots=True)
class ArchiveMember:
    """One file entry of a checked archive.

    Attributes
    ----------
    name : str
        The name as stored (what error messages quote).
    path : PurePosixPath
        The safe relative path (separators normalised, ``.`` parts dropped).
    declared_size : int
        Uncompressed size the central directory claims (reads stop past it).
    junk : bool
        Archiver junk (:func:`is_junk_member`): skipped by extraction and the digest.
    info : zipfile.ZipInfo
        zipfile's entry, for reading.
    """

    name: str
    path: PurePosixPath
    declared_size: int
    junk: bool
    info: zipfile.ZipInfo


def member_path(info: zipfile.ZipInfo, *, archive: str | Path = "") -> PurePosixPath | None:
    """Return the safe relative path of a member, or None for a folder entry.

    Raises
    ------
    InputError
        When the name escapes the extraction folder (``..``, an absolute path, a drive letter,
        a UNC path), holds a NUL byte, or the member is a symbolic link. The message names the member.
    """
    raw = info.filename
    # Windows archivers sometimes write backslashes; treat them as separators so `..\x` is caught.
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE_LETTER.match(name):
        raise InputError(f"unsafe ZIP member {raw!r}: absolute path; the archive must hold relative names",
                         path=archive)
    if "\0" in name:
        raise InputError(f"unsafe ZIP member {raw!r}: the name holds a NUL byte; the archive is corrupt",
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


class SafeArchive:
    """An archive whose central directory :func:`open_archive` has checked; read members through it.

    Attributes
    ----------
    path : Path
        The archive file.
    limits : ZipLimits
    members : tuple[ArchiveMember, ...]
        Every file entry (folders left out), junk included, in archive order.
    decoded_bytes : int
        Bytes decompressed so far, by every read together (bounded by ``limits.max_total_bytes``).
    """

    def __init__(self, zf: zipfile.ZipFile, path: Path, limits: ZipLimits, members: tuple[ArchiveMember, ...],
                 what: str) -> None:
        self._zf = zf
        self.path = path
        self.limits = limits
        self.members = members
        self.decoded_bytes = 0
        self._what = what
        self._by_name = {m.name: m for m in members}

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._zf.close()

    def kept(self) -> list[ArchiveMember]:
        """The members that are not junk, in archive order."""
        return [m for m in self.members if not m.junk]

    def member(self, name: str) -> ArchiveMember | None:
        """The member stored under exactly ``name``, or None."""
        return self._by_name.get(name)

    def chunks(self, member: ArchiveMember, *, max_bytes: int | None = None) -> Iterator[bytes]:
        """Decompress ``member`` in chunks of at most 1 MiB, stopping at the first bound crossed.

        Parameters
        ----------
        max_bytes
            Most bytes this read may yield (with ``limits.max_member_bytes`` and what is left of
            ``limits.max_total_bytes``); the chunk that crosses a bound is not yielded.

        Raises
        ------
        InputError
            The member is corrupt (bad CRC, broken compressed stream, truncated), uses a method
            this Python cannot read, decompresses to more than its header declares, or crosses a
            bound. The message names the archive and the member.
        """
        caps = [c for c in (max_bytes, self.limits.max_member_bytes) if c is not None]
        cap = min(caps) if caps else None
        read = 0
        try:
            with self._zf.open(member.info) as src:
                while True:
                    # one chunk in memory at a time; every bound is checked before it is handed on
                    chunk = src.read(_CHUNK_BYTES)
                    if not chunk:
                        return
                    read += len(chunk)
                    self.decoded_bytes += len(chunk)
                    if read > member.declared_size:
                        raise self._error(member, f"decompresses to more than the {member.declared_size} bytes its "
                                          "header declares; the archive is corrupt or malicious")
                    if cap is not None and read > cap:
                        raise self._error(member, f"decompresses to more than {cap} bytes, the limit for one "
                                          f"member of a {self._what}; is this a ZIP bomb?")
                    if self.decoded_bytes > self.limits.max_total_bytes:
                        raise self._error(member, f"takes the decompressed size past {self.limits.max_total_bytes} "
                                          "bytes (ZipLimits.max_total_bytes); is this a ZIP bomb?")
                    yield chunk
        except InputError:
            raise
        except NotImplementedError as e:
            raise self._error(member, f"uses a compression method this Python cannot read ({e}); re-create the "
                              "archive with deflate") from e
        except RuntimeError as e:
            raise self._error(member, f"cannot be read ({e}); re-create the archive without a password") from e
        except _DAMAGED as e:
            raise self._error(member, f"is corrupt ({type(e).__name__}: {e}); re-create or re-download the "
                              "archive") from e

    def read(self, member: ArchiveMember, *, max_bytes: int | None = None) -> bytes:
        """The whole of ``member``, decompressed under the same bounds as :meth:`chunks`."""
        return b"".join(self.chunks(member, max_bytes=max_bytes))

    def _error(self, member: ArchiveMember, message: str) -> InputError:
        return InputError(f"{self._what} member {member.name!r} {message}", path=self.path)


def open_archive(path: str | Path, *, limits: ZipLimits = ZipLimits(), what: str = "ZIP") -> SafeArchive:
    """Open a user's ZIP and check its whole central directory before any member is read.

    Parameters
    ----------
    path
        The archive (a photo ``.zip``, a ``.sog``).
    limits
        Entry-count and size bounds.
    what
        How messages call the archive (``"ZIP"``, ``"SOG"``).

    Returns
    -------
    SafeArchive
        Close it (or use it as a context manager).

    Raises
    ------
    InputError
        Missing or empty file, not a ZIP, a name that is not valid UTF-8 although flagged so, an
        unsafe name or symlink, an encrypted member, a name listed twice (or twice up to case),
        two entries sharing data, too many entries, or more declared bytes than the limit.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise InputError(f"the {what} file is empty (0 bytes); re-create the archive", path=path)
        zf = zipfile.ZipFile(path)
    except FileNotFoundError as e:
        raise InputError("file does not exist", path=path) from e
    except UnicodeDecodeError as e:
        raise InputError(f"a member name ({e.object[:60]!r}) is flagged as UTF-8 but is not valid UTF-8; the "
                         f"archive is corrupt, re-create it", path=path) from e
    except InputError:
        raise
    except _DAMAGED as e:
        raise InputError(f"not a readable {what} archive ({type(e).__name__}: {e}); pass a file made by a ZIP tool",
                         path=path) from e
    try:
        members = _check_directory(zf, path, limits, what)
    except BaseException:
        zf.close()
        raise
    return SafeArchive(zf, path, limits, members, what)


def _check_directory(zf: zipfile.ZipFile, path: Path, limits: ZipLimits, what: str) -> tuple[ArchiveMember, ...]:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise InputError(f"the {what} lists {len(infos)} entries, more than the limit of {limits.max_members} "
                         "(ZipLimits.max_members)", path=path)
    members: list[ArchiveMember] = []
    names: set[str] = set()
    folded: set[str] = set()
    offsets: set[int] = set()
    declared = 0
    for info in infos:
        rel = member_path(info, archive=path)
        if rel is None:
            continue
        if info.filename in names:
            raise InputError(f"{what} member {info.filename!r} is listed twice in the central directory; the "
                             "archive is corrupt or a ZIP bomb", path=path)
        names.add(info.filename)
        # Two entries pointing at one local header: the same bytes counted many times (a ZIP bomb).
        if info.header_offset in offsets:
            raise InputError(f"{what} member {info.filename!r} shares its data with another entry; the archive "
                             "is corrupt or a ZIP bomb", path=path)
        offsets.add(info.header_offset)
        junk = is_junk_member(rel)
        if not junk:
            if info.flag_bits & 0x1:
                raise InputError(f"{what} member {info.filename!r} is encrypted; re-create the archive without a "
                                 "password", path=path)
            # Two names that differ only in case would overwrite each other on macOS and Windows.
            key = str(rel).casefold()
            if key in folded:
                raise InputError(f"{what} member {info.filename!r} appears twice (names differing only in case "
                                 "count as one); names must be unique", path=path)
            folded.add(key)
            declared += max(0, info.file_size)
            if declared > limits.max_total_bytes:
                raise InputError(f"the {what} declares more than {limits.max_total_bytes} bytes uncompressed (at "
                                 f"member {info.filename!r}); the limit is ZipLimits.max_total_bytes", path=path)
        members.append(ArchiveMember(name=info.filename, path=rel, declared_size=max(0, info.file_size), junk=junk,
                                     info=info))
    return tuple(members)


def extract_zip(
    zip_path: str | Path,
    dest: str | Path,
    *,
    limits: ZipLimits = ZipLimits(),
    keep: Callable[[PurePosixPath], bool] = lambda _path: True,
) -> ZipExtraction:
    """Safely extract the members of ``zip_path`` that ``keep`` accepts into the folder ``dest``.

    The archive is opened with :func:`open_archive` (every member checked before any byte is
    written). ``dest`` appears only when the whole extraction succeeded; an existing ``dest`` is
    replaced only if it is empty or was made by this function (it holds :data:`EXTRACTED_MARKER`).

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
        As :func:`open_archive`; an empty archive; a corrupt member or one that crosses a bound
        while streaming; or a ``dest`` that holds someone else's files.
    """
    zip_path = Path(zip_path)
    dest = Path(dest)
    _check_dest_replaceable(dest)
    with open_archive(zip_path, limits=limits) as archive:
        if not archive.members:
            raise InputError("the ZIP archive is empty; add the photos to it", path=zip_path)
        plan: list[ArchiveMember] = []
        skipped: list[str] = []
        for member in archive.kept():
            if keep(member.path):
                plan.append(member)
            else:
                skipped.append(str(member.path))
        with atomic_directory(dest) as tmp:
            total = 0
            for member in plan:
                total += _extract_member(archive, member, tmp)
            (tmp / EXTRACTED_MARKER).write_text(f"{zip_path.resolve()}\n", encoding="utf-8")
    return ZipExtraction(root=dest, extracted=tuple(str(m.path) for m in plan), skipped=tuple(skipped),
                         total_bytes=total)


def _check_dest_replaceable(dest: Path) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise InputError("extraction target exists and is not a folder; choose a new folder", path=dest)
    if any(dest.iterdir()) and not (dest / EXTRACTED_MARKER).is_file():
        raise InputError("extraction target is a folder splatkit did not create and is not empty; "
                         "refusing to replace it, choose a new or empty folder", path=dest)


def _extract_member(archive: SafeArchive, member: ArchiveMember, root: Path) -> int:
    """Stream one member to ``root / member.path``; return the bytes written."""
    target = root.joinpath(*member.path.parts)
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as dst:
            for chunk in archive.chunks(member):
                dst.write(chunk)
                written += len(chunk)
    except OSError as e:
        raise InputError(f"cannot extract ZIP member {member.name!r}: {e}", path=archive.path) from e
    return written
