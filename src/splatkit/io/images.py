"""Build an :class:`~splatkit.contracts.ImageSet` from a folder or a ZIP of photos.

Policy (documented choices)
---------------------------
- A folder is read recursively; image names are paths relative to it with ``/`` separators,
  sorted. A ``.zip`` is first extracted safely (:mod:`splatkit.io.safe_zip`) to ``extract_to``
  or to a new temporary folder, and read from there. The temporary folder lives as long as the
  records that point into it may be used: until the end of the :func:`extracting_under` block
  that chose where it goes (the pipeline puts it in the output folder's scratch, so even a
  killed run leaves nothing in the system's temporary folder), else until the process exits.
- Archiver junk and hidden files (``__MACOSX/``, ``._*``, ``.*``, Thumbs.db, desktop.ini) are
  skipped silently. Other files that are not photos (by suffix: .jpg .jpeg .png .tif .tiff .webp)
  are skipped with one logged warning that names them.
- Every photo is checked by decoding it cheaply (JPEG at 1/8 scale through DCT scaling, which still
  reads the whole compressed stream, so truncation is caught). A photo that fails is skipped with
  a warning naming it and why; when fewer than ``min_images`` (default 3) usable photos remain,
  :class:`~splatkit.errors.InputError` lists the rejected files and the reasons. One corrupt photo
  in a survey of hundreds should not stop a run, but it must not pass unnoticed either.
- Width and height are those after the EXIF orientation (90/270 degree rotations swap them).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import logging
import os
import shutil
import struct
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, UnidentifiedImageError

from splatkit.contracts.images import CameraHints, ImageRecord, ImageSet
from splatkit.errors import InputError
from splatkit.io.exif import read_metadata
from splatkit.io.safe_zip import ZipLimits, extract_zip, is_junk_member

__all__ = [
    "IMAGE_SUFFIXES",
    "MIN_IMAGES",
    "read_image_set",
    "probe_image",
    "describe_image_set",
    "is_image_source",
    "info",
    "extracting_under",
]

logger = logging.getLogger(__name__)

#: File suffixes read as photos (lower case). Everything else is skipped with a warning.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"})
#: Fewest photos a reconstruction can start from.
MIN_IMAGES = 3
#: EXIF orientations that rotate by 90 or 270 degrees (with or without a mirror): width and height swap.
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
#: JPEG DCT scaling can decode at 1/8 size for about 1/8 of the IDCT cost.
_JPEG_PROBE_SCALE = 8
_LISTED_IN_MESSAGES = 10
# Decoder failures Pillow raises on bad files (SyntaxError and struct.error are real cases in its
# plugins); anything else is a bug and propagates.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error,
                  Image.DecompressionBombError)


# Where read_image_set puts a ZIP's extraction when no extract_to is given (None: the temp dir).
_extraction_parent: contextvars.ContextVar[Path | None] = contextvars.ContextVar("splatkit_extraction_parent",
                                                                                 default=None)
# Extractions made in the system's temporary folder, removed when the interpreter exits.
_made_in_tempdir: list[Path] = []


@contextlib.contextmanager
def extracting_under(folder: str | Path) -> Iterator[Path]:
    """Put the ZIP extractions :func:`read_image_set` makes in this block in ``folder``.

    ``folder`` must exist; whoever made it removes it (and the extractions with it) when the
    block ends. The pipeline passes a scratch folder it removes after the stage, and again at the
    next run when a kill prevented that.
    """
    folder = Path(folder)
    token = _extraction_parent.set(folder)
    try:
        yield folder
    finally:
        _extraction_parent.reset(token)


def _new_extraction_root() -> Path:
    parent = _extraction_parent.get()
    root = Path(tempfile.mkdtemp(prefix="splatkit-images-", dir=parent))
    if parent is None:
        if not _made_in_tempdir:
            atexit.register(_remove_tempdir_extractions)
        _made_in_tempdir.append(root)
    return root


def _remove_tempdir_extractions() -> None:
    while _made_in_tempdir:
        shutil.rmtree(_made_in_tempdir.pop(), ignore_errors=True)


@dataclass(frozen=True, slots=True)
class _Rejected:
    """A photo that could not be used, and why (one line, no EXIF text)."""

    name: str
    reason: str


def read_image_set(
    source: str | Path,
    *,
    extract_to: Path | None = None,
    limits: ZipLimits = ZipLimits(),
    min_images: int = MIN_IMAGES,
) -> ImageSet:
    """Read a folder (recursively) or a ``.zip`` of photos into an :class:`ImageSet`.

    Parameters
    ----------
    source
        A folder of photos (nested folders allowed) or a ``.zip`` archive of them.
    extract_to
        For a ZIP: the folder to extract into. It is created atomically; an existing one is
        replaced only if a previous extraction made it. None extracts into a new temporary
        folder, which is left in place for the returned records to point at: under the folder of
        the enclosing :func:`extracting_under` block, else in the system's temporary folder,
        removed when the process exits.
    limits
        Bounds on the ZIP's member count and uncompressed size.
    min_images
        Fewest usable photos accepted.

    Returns
    -------
    ImageSet
        Records sorted by name; ``root`` is the folder (or the extraction folder), ``source`` the
        argument as given.

    Raises
    ------
    InputError
        A missing path, a file that is not a ``.zip``, an unsafe or malformed ZIP, or fewer than
        ``min_images`` usable photos (the message lists rejected files and why).
    """
    source_path = Path(source)
    if not source_path.exists():
        raise InputError("does not exist; pass a folder of photos or a .zip of them", path=source_path)
    if source_path.is_dir():
        return _read_folder(source_path, source_path, min_images)
    if source_path.suffix.lower() != ".zip":
        raise InputError("is a file but not a .zip archive; pass the folder that holds the photos or a .zip "
                         "of them", path=source_path)
    if extract_to is not None:
        return _read_zip(source_path, Path(extract_to), limits, min_images)
    # The records point into the folder, so it outlives this call; on failure it is ours to remove now.
    root = _new_extraction_root()
    try:
        return _read_zip(source_path, root, limits, min_images)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _read_zip(source_path: Path, root: Path, limits: ZipLimits, min_images: int) -> ImageSet:
    extraction = extract_zip(source_path, root, limits=limits, keep=lambda rel: rel.suffix.lower() in IMAGE_SUFFIXES)
    logger.info("extracted %d file(s), %d bytes, from %s to %s", len(extraction.extracted),
                extraction.total_bytes, source_path, root)
    return _build_image_set(source_path, root, list(extraction.extracted), list(extraction.skipped), min_images)


def _read_folder(root: Path, source_path: Path, min_images: int) -> ImageSet:
    candidates, skipped = _list_folder(root)
    return _build_image_set(source_path, root, candidates, skipped, min_images)


def _build_image_set(source_path: Path, root: Path, candidates: list[str], skipped: list[str],
                     min_images: int) -> ImageSet:
    if skipped:
        logger.warning("%s: skipped %d file(s) that are not photos (%s): %s", source_path, len(skipped),
                       "/".join(sorted(IMAGE_SUFFIXES)), _list_names(skipped))

    records: list[ImageRecord] = []
    rejected: list[_Rejected] = []
    for name in sorted(candidates):
        path = root.joinpath(*PurePosixPath(name).parts)
        try:
            records.append(probe_image(path, name=name))
        except InputError as e:
            reason = _reason(e)
            rejected.append(_Rejected(name, reason))
            logger.warning("%s: skipping unusable image %s: %s", source_path, name, reason)

    if len(records) < min_images:
        raise InputError(_too_few_message(len(records), min_images, rejected, skipped), path=source_path)
    if rejected:
        logger.warning("%s: using %d image(s); rejected %d: %s", source_path, len(records), len(rejected),
                       _list_names([r.name for r in rejected]))
    return ImageSet(records=tuple(records), root=root, source=str(source_path)).validate(min_images=min_images)


def probe_image(path: Path, *, name: str) -> ImageRecord:
    """Open one photo, check that it decodes, and read its size and metadata.

    The check decodes a JPEG at 1/8 scale (the whole entropy-coded stream is still read, so a
    truncated file fails) and other formats fully.

    Parameters
    ----------
    path
        The file.
    name
        Its name in the set (relative posix path).

    Raises
    ------
    InputError
        The file is missing, not an image, truncated or corrupt; the message names it.
    """
    try:
        with Image.open(path) as im:
            raw_width, raw_height = im.size
            metadata = read_metadata(im, name=name)
            if im.format in ("JPEG", "MPO"):
                im.draft("RGB", (max(1, raw_width // _JPEG_PROBE_SCALE), max(1, raw_height // _JPEG_PROBE_SCALE)))
            im.load()
    except FileNotFoundError as e:
        raise InputError("image file is missing", path=path) from e
    except UnidentifiedImageError as e:
        raise InputError("not a recognised image format", path=path) from e
    except Image.DecompressionBombError as e:
        raise InputError("more pixels than Pillow's safety limit "
                         f"({Image.MAX_IMAGE_PIXELS}); downscale it", path=path) from e
    except _DECODE_ERRORS as e:
        raise InputError(f"cannot decode (corrupt or truncated?): {type(e).__name__}: {e}", path=path) from e

    width, height = raw_width, raw_height
    if metadata.orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return ImageRecord(name=name, path=path, width=width, height=height, camera=metadata.camera,
                       gps=metadata.gps, capture_time=metadata.capture_time, orientation=metadata.orientation)


def describe_image_set(image_set: ImageSet) -> dict[str, Any]:
    """A JSON-able summary of an image set, for ``splatkit info``.

    Returns
    -------
    dict
        ``source``, ``root``, ``count``; ``sizes`` (``"WxH"`` -> count); ``cameras`` (one entry per
        distinct :class:`CameraHints`, most frequent first, with ``count`` and ``focal_px`` for the
        most common size); ``gps`` (``count``, ``all``, ``lat``/``lon``/``alt`` as ``[min, max]``
        or None); ``has_gps``; ``capture_time`` (``first``, ``last``) or None; ``rotated`` (images
        whose EXIF orientation is not 1).
    """
    records = image_set.records
    sizes = Counter(f"{r.width}x{r.height}" for r in records)
    cameras = Counter(r.camera for r in records)
    with_gps = [r.gps for r in records if r.gps is not None]
    alts = [g.alt for g in with_gps if g.alt is not None]
    times = sorted(r.capture_time for r in records if r.capture_time)
    return {
        "source": image_set.source,
        "root": str(image_set.root),
        "count": len(records),
        "sizes": dict(sizes.most_common()),
        "cameras": [_describe_camera(hints, count, records) for hints, count in cameras.most_common()],
        "has_gps": image_set.has_gps(),
        "gps": {
            "count": len(with_gps),
            "all": image_set.has_gps(),
            "lat": _span([g.lat for g in with_gps]),
            "lon": _span([g.lon for g in with_gps]),
            "alt": _span(alts),
        },
        "capture_time": {"first": times[0], "last": times[-1]} if times else None,
        "rotated": sum(1 for r in records if r.orientation != 1),
    }


def is_image_source(path: str | Path) -> bool:
    """Cheap check for ``splatkit info``: a ``.zip`` file, or a folder holding at least one photo."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".zip"
    if not path.is_dir():
        return False
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        rel_dir = PurePosixPath(Path(dirpath).relative_to(path).as_posix())
        dirnames[:] = [d for d in dirnames if not is_junk_member(rel_dir / d)]
        if any(PurePosixPath(f).suffix.lower() in IMAGE_SUFFIXES and not is_junk_member(rel_dir / f)
               for f in filenames):
            return True
    return False


def info(path: str | Path, *, limits: ZipLimits = ZipLimits()) -> dict[str, Any]:
    """JSON-able summary of a photo folder or ZIP, for ``splatkit info``.

    A ZIP is extracted (safely) to a temporary folder that is removed afterwards. Fewer than
    :data:`MIN_IMAGES` photos is not an error here; ``enough_for_reconstruction`` says so.

    Returns
    -------
    dict
        ``type`` ("images"), ``path``, ``container`` ("folder" or "zip"), the keys of
        :func:`describe_image_set` (``root`` is None for a ZIP) and ``enough_for_reconstruction``.

    Raises
    ------
    InputError
        As :func:`read_image_set`, or when no usable photo is found.
    """
    path = Path(path)
    if path.is_dir():
        summary = describe_image_set(read_image_set(path, min_images=1))
        container = "folder"
    else:
        with tempfile.TemporaryDirectory(prefix="splatkit-info-") as tmp:
            summary = describe_image_set(read_image_set(path, extract_to=Path(tmp) / "images", limits=limits,
                                                        min_images=1))
        summary["root"] = None
        container = "zip"
    return {"type": "images", "path": str(path), "container": container, **summary,
            "enough_for_reconstruction": summary["count"] >= MIN_IMAGES}


def _describe_camera(hints: CameraHints, count: int, records: tuple[ImageRecord, ...]) -> dict[str, Any]:
    mine = [r for r in records if r.camera == hints]
    width, height = Counter((r.width, r.height) for r in mine).most_common(1)[0][0]
    return {
        "make": hints.make,
        "model": hints.model,
        "focal_length_mm": hints.focal_length_mm,
        "focal_length_35mm": hints.focal_length_35mm,
        "sensor_width_mm": hints.sensor_width_mm,
        "focal_px": hints.focal_px(width, height),
        "count": count,
    }


def _span(values: list[float]) -> list[float] | None:
    return [min(values), max(values)] if values else None


def _list_folder(root: Path) -> tuple[list[str], list[str]]:
    """Photo names and non-photo names under ``root`` (relative posix paths), junk left out."""
    photos: list[str] = []
    others: list[str] = []
    # followlinks=False: a symlinked folder cannot make the walk loop or leave the tree.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        dirnames[:] = sorted(d for d in dirnames if not is_junk_member(rel_dir / d))
        for filename in sorted(filenames):
            rel = rel_dir / filename
            if is_junk_member(rel):
                continue
            (photos if rel.suffix.lower() in IMAGE_SUFFIXES else others).append(str(rel))
    return photos, others


def _reason(error: InputError) -> str:
    text = str(error)
    if error.path and text.startswith(f"{error.path}: "):
        text = text[len(error.path) + 2:]
    return text[:200]


def _list_names(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED_IN_MESSAGES])
    more = len(names) - _LISTED_IN_MESSAGES
    return f"{shown} (+{more} more)" if more > 0 else shown


def _too_few_message(found: int, min_images: int, rejected: list[_Rejected], skipped: list[str]) -> str:
    parts = [f"found {found} usable image(s); at least {min_images} overlapping photos are needed "
             f"({'/'.join(sorted(IMAGE_SUFFIXES))})"]
    if rejected:
        shown = "; ".join(f"{r.name}: {r.reason}" for r in rejected[:_LISTED_IN_MESSAGES])
        more = len(rejected) - _LISTED_IN_MESSAGES
        parts.append(f"rejected {len(rejected)}: {shown}" + (f" (+{more} more)" if more > 0 else ""))
    if skipped:
        parts.append(f"skipped {len(skipped)} non-image file(s): {_list_names(skipped)}")
    return "; ".join(parts)
