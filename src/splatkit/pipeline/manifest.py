"""Stage manifests and content digests: what makes a finished stage folder trustworthy.

A stage folder ``OUT/<stage>/`` is trusted only when its ``manifest.json`` parses, has this
module's format and version, and records the same input digest and config digest as the run at
hand, and every file it lists is still there with its recorded size. Anything else is re-run.

Digests are SHA-256 over names and bytes, so renaming a photo or changing one pixel changes the
digest, while copying the folder elsewhere does not.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from splatkit.errors import InputError
from splatkit.io.atomic import atomic_write_text
from splatkit.io.safe_zip import open_archive
from splatkit.stages import config_to_dict

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "StageManifest",
    "digest_source",
    "digest_paths",
    "config_digest",
    "output_paths",
    "read_manifest",
    "write_manifest",
    "trusted_manifest",
    "software_versions",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "splatkit-stage-manifest"
#: Bump when the meaning of a digest or of a stage folder's layout changes: older folders re-run.
MANIFEST_VERSION = 1
#: Files the pipeline itself keeps in a stage folder; never part of an output digest.
BOOKKEEPING_FILES = frozenset({MANIFEST_NAME, "attempt.json"})
_CHUNK = 1 << 20
# Archiver and OS junk that does not change what a photo set is (same rule as splatkit.io.safe_zip).
_JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx"})


@dataclass(frozen=True, kw_only=True)
class StageManifest:
    """What a finished stage folder holds and what it was made from.

    Attributes
    ----------
    kind, backend : str
        ``"train"``, ``"cpu"``.
    input_digest : str
        Digest of the stage's input (photos' content, or the previous stage's output digest).
    config : dict
        The backend's options as given.
    config_digest : str
        Digest of the options that change results (see :func:`config_digest`).
    output_digest : str
        Digest of what the next stage reads (see :func:`output_paths`).
    files : dict[str, int]
        Every file in the folder (relative POSIX path -> bytes) at the time it was finished.
    primary : str
        Relative path of the primary artifact (``point_cloud.ply``, ``scene.sog``).
    report : dict
        The stage's JSON report.
    seconds : float
        Wall time of the run that made the folder.
    versions : dict[str, str]
        splatkit, Python and the relevant packages, for the record (not part of the check).
    """

    kind: str
    backend: str
    input_digest: str
    config: dict[str, Any]
    config_digest: str
    output_digest: str
    files: dict[str, int]
    primary: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    format: str = MANIFEST_FORMAT
    version: int = MANIFEST_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageManifest:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


# -----------------------------------------------------------------------------------------------
# Digests


def _is_junk(rel: PurePosixPath) -> bool:
    return any(part.startswith(".") or part.lower() in _JUNK_NAMES for part in rel.parts)


def _hash_file(h: Any, path: Path) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)


def _walk(root: Path, *, exclude: Iterable[Path] = ()) -> list[tuple[str, Path]]:
    """Regular, non-hidden files under ``root`` as sorted (relative POSIX name, path) pairs."""
    excluded = [p.resolve() for p in exclude]
    found = []
    for path in root.rglob("*"):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if _is_junk(rel) or not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved == e or e in resolved.parents for e in excluded):
            continue
        found.append((str(rel), path))
    return sorted(found)


def digest_source(source: str | Path, *, exclude: Iterable[Path] = ()) -> str:
    """Content digest of a photo source: a folder (recursively), a ZIP (its members) or a file.

    Names and bytes count; hidden files and archiver junk (``__MACOSX``, ``Thumbs.db``) do not,
    and neither do paths under ``exclude`` (an output folder inside the source folder).

    Raises
    ------
    InputError
        The path is missing, or the ZIP is refused by :func:`splatkit.io.safe_zip.open_archive`
        (unsafe, encrypted, corrupt, duplicate or oversized members), naming the file and member.
    """
    path = Path(source)
    if not path.exists():
        raise InputError("does not exist; pass a folder of photos or a .zip of them", path=path)
    h = hashlib.sha256()
    if path.is_dir():
        for rel, file in _walk(path, exclude=exclude):
            h.update(f"\0{rel}\0".encode())
            _hash_file(h, file)
        return h.hexdigest()
    if path.suffix.lower() == ".zip":
        # The one safe path for user archives: names, duplicates, encryption and sizes are checked
        # before a byte is hashed, and every read is bounded (a repeated central-directory entry
        # must not make the digest inflate gigabytes the extractor would refuse).
        with open_archive(path) as archive:
            for member in sorted(archive.kept(), key=lambda m: m.name):
                h.update(f"\0{member.name}\0".encode())
                for chunk in archive.chunks(member):
                    h.update(chunk)
        return h.hexdigest()
    h.update(f"\0{path.name}\0".encode())
    _hash_file(h, path)
    return h.hexdigest()


def digest_paths(paths: Iterable[Path], root: Path) -> str:
    """Digest of files and folders (recursively), named relative to ``root``."""
    h = hashlib.sha256()
    entries: list[tuple[str, Path]] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            entries += [(f"{p.relative_to(root).as_posix()}/{rel}", f) for rel, f in _walk(p)]
        elif p.is_file():
            entries.append((p.relative_to(root).as_posix(), p))
    for rel, file in sorted(entries):
        h.update(f"\0{rel}\0".encode())
        _hash_file(h, file)
    return h.hexdigest()


def config_digest(backend: str, config: Any) -> str:
    """Digest of a backend's options.

    A config class may define ``digest()`` to leave out options that do not change results
    (the trainer's checkpoint and logging cadence); then changing those never re-runs a stage.
    """
    own = getattr(config, "digest", None)
    body = own() if callable(own) else json.dumps(config_to_dict(config), sort_keys=True, default=str)
    return hashlib.sha256(f"{backend}\0{body}".encode()).hexdigest()


def output_paths(kind: str, stage_dir: Path, files: Iterable[Path]) -> list[Path]:
    """What the next stage reads from a finished stage folder, i.e. what its output digest covers.

    SfM: the whole folder but its reports (the model, the images and the georeference all shape
    the training). Training and compression: the primary artifact, ``files[0]`` (the PLY, the
    ``.sog``); reports, evaluation images and checkpoints are not outputs.
    """
    stage_dir = Path(stage_dir)
    if kind == "sfm":
        return [p for p in sorted(stage_dir.iterdir())
                if p.name not in BOOKKEEPING_FILES and p.name != "report.json"]
    files = [Path(f) for f in files]
    if not files:
        return [p for p in sorted(stage_dir.iterdir()) if p.name not in BOOKKEEPING_FILES]
    return [files[0]]


def list_files(stage_dir: Path) -> dict[str, int]:
    """Every file under ``stage_dir`` but the bookkeeping ones: relative path -> size in bytes."""
    return {rel: p.stat().st_size for rel, p in _walk_all(stage_dir) if rel not in BOOKKEEPING_FILES}


def _walk_all(root: Path) -> list[tuple[str, Path]]:
    return sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())


# -----------------------------------------------------------------------------------------------
# Reading and writing


def software_versions(packages: Iterable[str] = ("numpy", "pycolmap", "torch", "gsplat", "pillow")) -> dict[str, str]:
    """Installed versions, read from package metadata (nothing is imported)."""
    from splatkit import __version__

    versions = {"splatkit": __version__, "python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_manifest(stage_dir: Path, manifest: StageManifest) -> Path:
    """Write ``stage_dir/manifest.json`` atomically (the last file of a finished stage)."""
    if not manifest.created:
        manifest = StageManifest.from_dict({**asdict(manifest),
                                            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return atomic_write_text(Path(stage_dir) / MANIFEST_NAME, manifest.to_json())


def read_manifest(stage_dir: Path) -> StageManifest | None:
    """The manifest of ``stage_dir``, or None when it is missing, unreadable or not ours."""
    path = Path(stage_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            logger.warning("%s is not a splatkit stage manifest; the stage will run again", path)
            return None
        return StageManifest.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError) as e:
        logger.warning("unreadable manifest %s (%s); the stage will run again", path, e)
        return None


def trusted_manifest(stage_dir: Path, *, kind: str, backend: str, input_digest: str,
                     config_digest: str) -> tuple[StageManifest | None, str]:
    """The manifest of ``stage_dir`` if it may be trusted for this run, and why (not).

    Returns
    -------
    (StageManifest or None, str)
        The manifest and ``"up to date"``, or None and the reason the stage must run.
    """
    manifest = read_manifest(stage_dir)
    if manifest is None:
        return None, "no finished result" if not Path(stage_dir).exists() else "no valid manifest"
    checks = (
        (manifest.version == MANIFEST_VERSION, f"manifest version {manifest.version} != {MANIFEST_VERSION}"),
        ((manifest.kind, manifest.backend) == (kind, backend), f"made by {manifest.kind}/{manifest.backend}"),
        (manifest.input_digest == input_digest, "its input changed"),
        (manifest.config_digest == config_digest, "its options changed"),
    )
    for ok, reason in checks:
        if not ok:
            return None, reason
    for rel, size in manifest.files.items():
        path = Path(stage_dir) / rel
        if not path.is_file() or path.stat().st_size != size:
            return None, f"file {rel} is missing or changed"
    return manifest, "up to date"
