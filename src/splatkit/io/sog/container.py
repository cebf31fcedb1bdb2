"""The SOG container: a stored ``.sog`` ZIP or a folder holding ``meta.json``, read and written safely.

A bundled SOG is one ZIP with its entries STORED (WebP is already compressed), no archive
comment (the PlayCanvas engine reads the end record at ``length - 22``) and every file at the
root, image members first and ``meta.json`` last, as splat-transform writes it. An unbundled SOG is
a folder holding ``meta.json`` and the images it names. Either is read through this module only:
``meta.json`` is parsed once by :mod:`splatkit.io.sog.meta`, and only the members it names are
loaded, each refused before reading when its declared size passes :data:`MAX_MEMBER_BYTES` (a
ZIP bomb), all of them together past :data:`MAX_TOTAL_BYTES`.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splatkit.contracts import CompressedBundle
from splatkit.errors import InputError
from splatkit.io.atomic import atomic_directory, atomic_path
from splatkit.io.safe_zip import ZipLimits, open_archive
from splatkit.io.sog.meta import META_NAME, SOG_FORMAT, SogMeta, SogMetaV1, load_meta

__all__ = ["SOG_SUFFIX", "MAX_META_BYTES", "MAX_MEMBER_BYTES", "MAX_TOTAL_BYTES", "LoadedSog", "is_sog",
           "load_sog", "read_sog", "write_sog"]

SOG_SUFFIX = ".sog"
#: Most bytes ``meta.json`` may hold (a v2 meta is a few KB: two 256-entry codebooks and bounds).
MAX_META_BYTES = 16 << 20
#: Most bytes one image member may hold, bundled (decompressed) or in a folder: a
#: 16383 x 16383 RGBA texture uncompressed, far above any lossless WebP of it.
MAX_MEMBER_BYTES = 1 << 30
#: Most bytes all members of one SOG may hold together.
MAX_TOTAL_BYTES = 4 << 30
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# A SOG holds meta.json and up to ~8 images; the same bounds as the checks below, applied while
# streaming (a header may lie about its size).
_SOG_ZIP_LIMITS = ZipLimits(max_total_bytes=MAX_TOTAL_BYTES + MAX_META_BYTES, max_members=1000,
                            max_member_bytes=MAX_MEMBER_BYTES)


@dataclass(frozen=True, kw_only=True, eq=False)
class LoadedSog:
    """What :func:`load_sog` read.

    Attributes
    ----------
    meta : SogMeta or SogMetaV1
        The parsed ``meta.json``.
    meta_json : dict
        ``meta.json`` as stored, with null codebook entries patched (what a bundle carries).
    members : dict[str, bytes]
        The images ``meta.json`` names.
    bundled : bool
        A ``.sog`` ZIP (True) or a folder.
    size : int
        Bytes on disk: the ZIP's size, or the images plus ``meta.json`` of a folder.
    """

    meta: SogMeta | SogMetaV1
    meta_json: dict[str, Any]
    members: dict[str, bytes]
    bundled: bool
    size: int


def is_sog(path: str | Path) -> bool:
    """Cheap detection: a ``.sog`` file, a ``meta.json`` path, or a folder holding ``meta.json``."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == SOG_SUFFIX or path.name == META_NAME
    return path.is_dir() and (path / META_NAME).is_file()


def write_sog(bundle: CompressedBundle, path: str | Path, *, bundled: bool | None = None) -> Path:
    """Write a SOG bundle atomically: a ``.sog`` ZIP, or a folder with ``meta.json``.

    Parameters
    ----------
    bundle
        Members (``*.webp``) and ``meta``.
    path
        Target ``.sog`` file, or a folder (or its ``meta.json``) for the unbundled layout.
    bundled
        Force the layout; default: ZIP when ``path`` ends in ``.sog``, folder otherwise.

    Returns
    -------
    Path
        The file or folder written.

    Raises
    ------
    InputError
        The unbundled target exists and holds anything other than ``meta.json`` and ``*.webp``
        files (the folder is replaced as a whole, which would delete them), or is not a folder.

    Notes
    -----
    ZIP entries are STORED with no archive comment, image members first, ``meta.json`` last. An
    existing SOG folder is replaced as a whole, so stale images of a previous SOG go too.
    """
    path = Path(path)
    if path.name == META_NAME:
        path = path.parent
        bundled = False if bundled is None else bundled
    if bundled is None:
        bundled = path.suffix.lower() == SOG_SUFFIX
    meta_bytes = json.dumps(dict(bundle.meta), separators=(",", ":")).encode("utf-8")
    names = [n for n in bundle.members if n != META_NAME]
    if bundled:
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=False) as zf:
                for name in names:
                    zf.writestr(_zip_info(name), bundle.members[name])
                zf.writestr(_zip_info(META_NAME), meta_bytes)
        return path
    _check_folder_is_replaceable(path)
    with atomic_directory(path) as tmp:
        for name in names:
            (tmp / name).write_bytes(bundle.members[name])
        (tmp / META_NAME).write_bytes(meta_bytes)
    return path


def _check_folder_is_replaceable(folder: Path, *, shown: int = 5) -> None:
    """Refuse to replace an existing ``folder`` that holds anything but a previous SOG.

    :func:`~splatkit.io.atomic.atomic_directory` swaps the whole folder, so any other file in it
    would be deleted; ``meta.json`` and ``*.webp`` files (a previous SOG) may go.
    """
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir():
        raise InputError("exists and is not a folder; an unbundled SOG is written as a folder holding meta.json "
                         "and .webp files: write to a new or empty folder, or to a .sog file", path=folder)
    foreign = sorted(entry.name for entry in folder.iterdir()
                     if not (entry.is_file() and (entry.name == META_NAME or entry.name.lower().endswith(".webp"))))
    if foreign:
        listed = ", ".join(repr(name) for name in foreign[:shown])
        more = f" and {len(foreign) - shown} more" if len(foreign) > shown else ""
        raise InputError(f"the folder holds files other than a SOG ({listed}{more}); writing an unbundled SOG "
                         "replaces the whole folder and would delete them: write to a new or empty folder",
                         path=folder)


def _zip_info(name: str) -> zipfile.ZipInfo:
    # Fixed timestamp: identical input gives byte-identical archives.
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def load_sog(path: str | Path) -> LoadedSog:
    """Read ``meta.json`` and the members it names from a ``.sog`` ZIP or a SOG folder (or its ``meta.json``).

    Raises
    ------
    InputError
        Not a ZIP, truncated or corrupt, no or invalid ``meta.json``, a named member missing, or
        a member over the size limits.
    """
    path = Path(path)
    if path.is_dir() or path.name == META_NAME:
        return _load_folder(path if path.is_dir() else path.parent)
    if not path.is_file():
        raise InputError("no such SOG file or folder", path=path)
    # The one safe path for user archives (splatkit.io.safe_zip): names, duplicates, encryption and
    # declared sizes are checked before anything is read, and every read counts the bytes really
    # decompressed against the member and total limits.
    with open_archive(path, limits=_SOG_ZIP_LIMITS, what="SOG") as archive:
        entry = archive.member(META_NAME)
        if entry is None:
            raise InputError(f"the ZIP has no {META_NAME} at its root; not a bundled SOG", path=path)
        _check_member_size(META_NAME, entry.declared_size, 0, path)
        raw_meta = archive.read(entry, max_bytes=MAX_META_BYTES)
        meta, meta_json = load_meta(_parse_json(raw_meta, path), source=path)
        members: dict[str, bytes] = {}
        total = 0
        for name in meta.member_names():
            member = archive.member(name)
            if member is None:
                raise InputError(f"SOG member {name!r} named in {META_NAME} is missing from the ZIP", path=path)
            total = _check_member_size(name, member.declared_size, total, path)
            members[name] = archive.read(member, max_bytes=MAX_MEMBER_BYTES)
    return LoadedSog(meta=meta, meta_json=meta_json, members=members, bundled=True, size=path.stat().st_size)


def _load_folder(folder: Path) -> LoadedSog:
    meta_path = folder / META_NAME
    if not meta_path.is_file():
        raise InputError(f"no {META_NAME} in this folder; a SOG folder holds meta.json and its .webp files",
                         path=folder)
    meta_size = meta_path.stat().st_size
    _check_member_size(META_NAME, meta_size, 0, folder)
    meta, meta_json = load_meta(_parse_json(meta_path.read_bytes(), meta_path), source=meta_path)
    members: dict[str, bytes] = {}
    total = 0
    for name in meta.member_names():
        member = folder / name
        if "/" in name or "\\" in name or not member.is_file():
            raise InputError(f"SOG member {name!r} named in {META_NAME} is missing", path=folder)
        total = _check_member_size(name, member.stat().st_size, total, folder)
        members[name] = member.read_bytes()
    size = sum(len(data) for data in members.values()) + meta_size
    return LoadedSog(meta=meta, meta_json=meta_json, members=members, bundled=False, size=size)


def _check_member_size(name: str, size: int, total: int, source: str | Path) -> int:
    """Refuse a member larger than the limits before reading it; returns the new running total."""
    limit = MAX_META_BYTES if name == META_NAME else MAX_MEMBER_BYTES
    if size > limit:
        raise InputError(f"SOG member {name!r} holds {size} bytes (limit {limit}); this is not a SOG file, or a "
                         "ZIP bomb", path=source)
    total += size
    if total > MAX_TOTAL_BYTES:
        raise InputError(f"SOG members add up to more than {MAX_TOTAL_BYTES} bytes (at {name!r}); this is not a "
                         "SOG file, or a ZIP bomb", path=source)
    return total


def _parse_json(data: bytes, source: str | Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{META_NAME} is not valid JSON: {e}", path=source) from e
    except RecursionError as e:
        # json.loads recurses once per nesting level; a real meta.json is a few levels deep.
        raise InputError(f"{META_NAME} is not valid JSON: nested too deeply to be a SOG meta.json; the file is "
                         "corrupt or not a SOG", path=source) from e


def read_sog(path: str | Path) -> CompressedBundle:
    """Read a bundled ``.sog`` or a SOG folder (or its ``meta.json``) into a bundle.

    Only ``meta.json`` and the members it names are loaded; images are decoded later by
    :func:`splatkit.io.sog.decode_sog`. Legacy v1 (SOGS) files are accepted: the bundle's
    ``version`` is 1.

    Raises
    ------
    InputError
        As :func:`load_sog`.
    """
    loaded = load_sog(path)
    meta = loaded.meta
    extension = meta.splatkit
    # informational only; other writers never set it
    source_count = meta.count if extension is None or extension.source_count is None else extension.source_count
    return CompressedBundle(format=SOG_FORMAT, version=meta.version, meta=loaded.meta_json, members=loaded.members,
                            source_count=source_count)
