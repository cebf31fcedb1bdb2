"""Moving a run's files between this machine and S3: upload once, download safely.

Uploads are idempotent per run: each object carries the SHA-256 of its content in its metadata
(``x-amz-meta-splatkit-sha256``), and a file whose object already has that digest is not sent
again, so a re-attached run uploads nothing twice. A run's input prefix that already holds
*other* content (another photo set under the same run id, a file of the same name with other
bytes, a file the local source does not have) is refused with an
:class:`~splatkit.errors.InputError`: the jobs that read the prefix would see a mix.

Downloads refuse keys that would land outside the target folder (``..``, empty segments).
Every call takes the boto3 S3 client as an argument (tests pass a client of moto's server);
nothing here imports boto3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from splatkit.errors import InputError
from splatkit.io.safe_zip import is_junk_member
from splatkit.sagemaker.uris import S3Uri

__all__ = [
    "SHA256_METADATA",
    "UploadSummary",
    "aws_error_text",
    "download_object",
    "download_prefix",
    "file_sha256",
    "is_aws_error",
    "list_prefix",
    "local_files",
    "upload_files",
]

#: User metadata key holding an uploaded object's SHA-256 (hex).
SHA256_METADATA = "splatkit-sha256"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadSummary:
    """What :func:`upload_files` did: relative names sent and names already there."""

    uploaded: tuple[str, ...]
    skipped: tuple[str, ...]


def aws_error_text(error: BaseException) -> str:
    """``Code: message`` of a botocore ``ClientError`` (else ``str(error)``)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        info = response.get("Error", {})
        return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")
    return str(error)


def is_aws_error(error: BaseException) -> bool:
    """Whether ``error`` comes from botocore, boto3 or s3transfer (a service or transfer failure)."""
    module = type(error).__module__.split(".")[0]
    return hasattr(error, "response") or module in ("botocore", "boto3", "s3transfer")


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def local_files(folder: Path, *, exclude: Iterable[Path] = ()) -> list[tuple[str, Path]]:
    """Files under ``folder`` as ``(relative posix name, path)``, sorted.

    Hidden files and archiver junk are left out (the rule of :func:`splatkit.io.safe_zip.is_junk_member`,
    also used for the photo digest), and so is everything under ``exclude`` (an output folder
    inside the photo folder).
    """
    folder = Path(folder)
    skip = [Path(p).resolve() for p in exclude]
    found = []
    for path in folder.rglob("*"):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        if not path.is_file() or is_junk_member(rel):
            continue
        resolved = path.resolve()
        if any(resolved == s or s in resolved.parents for s in skip):
            continue
        found.append((rel.as_posix(), path))
    return sorted(found)


def list_prefix(s3: Any, prefix: S3Uri) -> dict[str, int]:
    """Objects under the folder ``prefix``: name relative to it -> size in bytes."""
    prefix = prefix.as_prefix()
    objects: dict[str, int] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key):
            for item in page.get("Contents", []):
                objects[item["Key"][len(prefix.key):]] = int(item["Size"])
    except Exception as e:
        if not is_aws_error(e):
            raise
        raise InputError(f"cannot list {prefix.uri} ({aws_error_text(e)}); check the bucket name and that "
                         "your credentials may list it") from e
    return objects


def _object_sha256(s3: Any, uri: S3Uri) -> str | None:
    head = s3.head_object(Bucket=uri.bucket, Key=uri.key)
    value = head.get("Metadata", {}).get(SHA256_METADATA)
    return value if isinstance(value, str) else None


def upload_files(s3: Any, files: Sequence[tuple[str, Path]], prefix: S3Uri, *, what: str) -> UploadSummary:
    """Put ``files`` (``(relative name, path)``) under the folder ``prefix``, skipping those already there.

    Parameters
    ----------
    s3
        A boto3 S3 client.
    files
        What to upload, e.g. from :func:`local_files`.
    prefix
        The destination folder (a trailing ``/`` is added).
    what
        Words for messages ("the photos").

    Raises
    ------
    InputError
        No files; the prefix holds objects the local files do not have, or an object of the same
        name with other content (use a new run id, or delete the prefix); an S3 error.
    """
    prefix = prefix.as_prefix()
    if not files:
        raise InputError(f"{what}: nothing to upload (no files, hidden files aside)")
    existing = list_prefix(s3, prefix)
    local = dict(files)
    extra = sorted(set(existing) - set(local))
    if extra:
        shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
        raise InputError(f"{prefix.uri} already holds files that are not in {what} ({shown}): this run id was "
                         "used with other data; choose a new run id, or delete that prefix")
    uploaded, skipped = [], []
    try:
        for rel, path in files:
            uri = prefix.child(rel)
            digest = file_sha256(path)
            if rel in existing:
                found = _object_sha256(s3, uri) if existing[rel] == path.stat().st_size else "size differs"
                if found == digest:
                    skipped.append(rel)
                    continue
                raise InputError(f"{uri.uri} already exists with other content than {path}: this run id was used "
                                 "with other data; choose a new run id, or delete that prefix")
            s3.upload_file(str(path), uri.bucket, uri.key, ExtraArgs={"Metadata": {SHA256_METADATA: digest}})
            uploaded.append(rel)
    except InputError:
        raise
    except Exception as e:
        if not is_aws_error(e):
            raise
        raise InputError(f"uploading {what} to {prefix.uri} failed ({aws_error_text(e)}); check that your "
                         "credentials may write there") from e
    return UploadSummary(uploaded=tuple(uploaded), skipped=tuple(skipped))


def _safe_relative(rel: str, where: str) -> PurePosixPath:
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") for p in parts) or "\\" in rel or "\0" in rel:
        raise InputError(f"{where}: object name {rel!r} cannot be saved as a file (empty, '.' or '..' segment); "
                         "it was not written by splatkit")
    return PurePosixPath(*parts)


def download_prefix(s3: Any, prefix: S3Uri, dest: Path) -> list[Path]:
    """Download every object under the folder ``prefix`` into ``dest`` (same relative names).

    Keys ending in ``/`` (folder markers some tools create) are skipped.

    Raises
    ------
    InputError
        A key that would be written outside ``dest``, or an S3 error.
    """
    prefix = prefix.as_prefix()
    dest = Path(dest)
    written = []
    for rel in sorted(list_prefix(s3, prefix)):
        if rel.endswith("/"):
            continue
        target = dest.joinpath(*_safe_relative(rel, prefix.uri).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        download_object(s3, prefix.child(rel), target)
        written.append(target)
    return written


def download_object(s3: Any, uri: S3Uri, target: Path) -> Path:
    """Download the object ``uri`` to the file ``target``."""
    try:
        s3.download_file(uri.bucket, uri.key, str(target))
    except Exception as e:
        if not is_aws_error(e):
            raise
        raise InputError(f"downloading {uri.uri} failed ({aws_error_text(e)}); check that it exists and your "
                         "credentials may read it") from e
    return target
