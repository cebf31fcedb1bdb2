"""Unpack a training job's ``model.tar.gz`` safely: regular files only, inside the target, bounded.

SageMaker packs ``/opt/ml/model`` into ``model.tar.gz`` when a training job's
``OutputDataConfig.CompressionType`` is ``GZIP``. The compression job (in the container) and the
client (downloading the training output) both unpack it, and neither trusts it: the archive sits
in a bucket other people may write to. Refused, each with an :class:`~splatkit.errors.InputError`
naming the archive and the member:

* members that are not regular files or folders (symbolic and hard links, devices, FIFOs): a link
  can point anywhere, so a later member written "through" it would land outside the target;
* names that are absolute, contain ``..``, backslashes or NUL, or repeat an earlier member;
* more than :attr:`TarLimits.max_members` members, or more than :attr:`TarLimits.max_total_bytes`
  of content in all (a gzip bomb is stopped by the declared sizes before anything is written,
  and each member's copy is capped at its declared size).

Extraction goes to a temporary folder beside the target, renamed into place when complete, so a
refused archive leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from splatkit.errors import InputError

__all__ = ["ARCHIVE_SUFFIXES", "TarLimits", "extract_model_archive", "is_model_archive"]

_CHUNK = 1 << 20
#: Suffixes of the archives SageMaker writes for a training job's model.
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@dataclass(frozen=True)
class TarLimits:
    """Bounds of one extraction.

    Attributes
    ----------
    max_members : int
        Files and folders in the archive.
    max_total_bytes : int
        Sum of the members' sizes (uncompressed). The default, 64 GiB, is well above a trained
        model (a few GB at most) and below the NVMe of the GPU instances.
    """

    max_members: int = 100_000
    max_total_bytes: int = 64 << 30


def is_model_archive(path: str | Path) -> bool:
    """Whether ``path`` is named like a training job's packed model (``*.tar.gz``, ``*.tgz``)."""
    return Path(path).name.lower().endswith(ARCHIVE_SUFFIXES)


def _member_path(archive: Path, member: tarfile.TarInfo) -> PurePosixPath | None:
    """The member's relative path, None for the archive's root entry; InputError when unsafe."""
    name = member.name
    if "\\" in name or "\0" in name or name.startswith("/"):
        raise InputError(f"archive member {name!r} has an absolute or unsafe name; the archive is not a "
                         "model SageMaker packed", path=archive)
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if any(p == ".." for p in parts):
        raise InputError(f"archive member {name!r} points outside the archive (..); refusing to unpack it",
                         path=archive)
    return PurePosixPath(*parts) if parts else None


def _plan(archive: Path, tar: tarfile.TarFile, limits: TarLimits) -> list[tuple[tarfile.TarInfo, PurePosixPath]]:
    plan: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
    seen: set[PurePosixPath] = set()
    total = 0
    for member in tar:
        if len(plan) >= limits.max_members:
            raise InputError(f"the archive has more than {limits.max_members} members; it is not a model "
                             "splatkit wrote", path=archive)
        if not (member.isfile() or member.isdir()):
            kind = "link" if member.issym() or member.islnk() else "special file"
            raise InputError(f"archive member {member.name!r} is a {kind}; only files and folders are "
                             "accepted", path=archive)
        rel = _member_path(archive, member)
        if rel is None:
            continue
        if rel in seen and member.isfile():
            raise InputError(f"archive member {member.name!r} appears twice; refusing an ambiguous archive",
                             path=archive)
        seen.add(rel)
        total += member.size if member.isfile() else 0
        if total > limits.max_total_bytes:
            raise InputError(f"the archive unpacks to more than {limits.max_total_bytes} bytes; refusing it "
                             "(raise TarLimits.max_total_bytes if the model really is that large)", path=archive)
        plan.append((member, rel))
    return plan


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - isfile() members always have data
        raise InputError(f"archive member {member.name!r} has no data", path=tar.name)
    budget = member.size
    with source, open(dest, "xb") as out:
        while budget > 0 and (chunk := source.read(min(_CHUNK, budget))):
            out.write(chunk)
            budget -= len(chunk)
    if budget:
        raise InputError(f"archive member {member.name!r} is truncated", path=tar.name)


def extract_model_archive(archive: str | Path, dest: str | Path, *, limits: TarLimits = TarLimits()) -> Path:
    """Unpack the gzip'd tar ``archive`` into the new folder ``dest``; return ``dest``.

    Raises
    ------
    InputError
        ``dest`` exists, the archive is not a readable ``.tar.gz``, or a member is refused (see the
        module docstring). Nothing is left at ``dest`` then.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise InputError("exists; the model archive is unpacked into a new folder", path=dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.unpack.", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, mode="r:gz") as tar:
                for member, rel in _plan(archive, tar, limits):
                    target = staging.joinpath(*rel.parts)
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.is_dir():
                        raise InputError(f"archive member {member.name!r} is both a folder and a file",
                                         path=archive)
                    _copy_member(tar, member, target)
        except (tarfile.TarError, EOFError, OSError) as e:
            if isinstance(e, FileExistsError):
                raise InputError(f"archive member {e.filename!r} appears twice", path=archive) from e
            raise InputError(f"not a readable .tar.gz ({e}); expected the model.tar.gz of a training job",
                             path=archive) from e
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest
