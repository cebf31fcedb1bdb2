"""Training checkpoints: periodic, atomic, versioned, loaded without pickle.

A checkpoint holds everything needed to continue bit-for-bit: parameters, optimizer state,
densification state, RNG state, the step to run next and the training curve so far. Files are
written to a temporary name and renamed; loading uses ``torch.load(weights_only=True)`` so a
tampered file cannot execute code.

Each checkpoint also records its *identity* (:data:`IDENTITY_KEYS`): the digest of the options
that change results and a fingerprint of the input scene. A run resumes only from, and prunes
only, checkpoints of its own identity, so a workdir reused for another scene or other options
neither resumes the wrong run nor deletes the current run's checkpoints.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts import Reconstruction
from splatkit.errors import InputError
from splatkit.io.atomic import atomic_path

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "IDENTITY_KEYS", "save_checkpoint", "load_checkpoint",
           "checkpoint_identity", "input_fingerprint", "latest_checkpoint", "prune_checkpoints"]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "splatkit-train-checkpoint"
CHECKPOINT_VERSION = 1
#: Payload entries that must equal the current run's for a checkpoint to be resumed or pruned by it.
IDENTITY_KEYS = ("config_digest", "input_fingerprint")
_NAME = re.compile(r"^ckpt_(\d{8})\.pt$")
_IDENTITY_WHAT = {"config_digest": "other training options", "input_fingerprint": "other input data"}


def checkpoint_path(folder: Path, step: int) -> Path:
    return Path(folder) / f"ckpt_{step:08d}.pt"


def input_fingerprint(rec: Reconstruction) -> str:
    """A cheap, deterministic hash of what training reads from ``rec`` (not the pixels).

    Covers, per frame in sorted-name order, the name, its camera (model, size, params) and its
    pose, then the number of SfM points and their coordinates and colours (the initialisation).
    Arrays are hashed as little-endian float64 / uint8 so the value does not depend on dtype or
    byte order. Hashing the images themselves would cost a full read of the dataset per start.
    """
    h = hashlib.sha256()
    frames = rec.frames
    for i in sorted(range(len(frames.names)), key=lambda j: frames.names[j]):
        cam = rec.camera_of(i)
        h.update(f"{frames.names[i]}\0{cam.model}\0{cam.width}x{cam.height}\0".encode())
        for array in (cam.params, frames.rotation[i], frames.translation[i]):
            h.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
    h.update(f"points:{len(rec.points)}\0".encode())
    h.update(np.ascontiguousarray(rec.points.xyz, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(rec.points.rgb, dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(folder: Path, step: int, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (tensors, numbers, strings, lists, dicts) as checkpoint ``step``."""
    import torch

    data = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "step": int(step), **payload}
    path = checkpoint_path(folder, step)
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    logger.info("checkpoint written: %s", path)
    return path


def load_checkpoint(path: Path, *, map_location: str = "cpu", mmap: bool = False) -> dict[str, Any]:
    """Read a checkpoint safely; :class:`InputError` when it is not one of ours or is corrupt.

    ``mmap=True`` maps tensor storage instead of reading it, for a cheap look at the metadata.
    """
    import torch

    try:
        data = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # torch raises many types for corrupt/unsafe files
        raise InputError(f"cannot load checkpoint ({type(e).__name__}: {e}); delete it to start over",
                         path=path) from e
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError("not a splatkit training checkpoint", path=path)
    if data.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"checkpoint version {data.get('version')} is not supported "
                         f"(this splatkit reads version {CHECKPOINT_VERSION})", path=path)
    return data


def checkpoint_identity(path: Path) -> dict[str, Any]:
    """The :data:`IDENTITY_KEYS` entries stored in checkpoint ``path`` (None where absent).

    Tensors are memory-mapped, not read, so this costs little even for a large checkpoint.
    """
    data = load_checkpoint(path, mmap=True)
    return {key: data.get(key) for key in IDENTITY_KEYS}


def _by_step(folder: Path) -> list[tuple[int, Path]]:
    """Checkpoint files in ``folder``, oldest step first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))


def _mismatch(path: Path, identity: Mapping[str, str]) -> str | None:
    """Why checkpoint ``path`` is not of ``identity``, or None when it is."""
    try:
        found = checkpoint_identity(path)
    except InputError as e:
        return f"it cannot be read ({e})"
    differ = [_IDENTITY_WHAT[key] for key in IDENTITY_KEYS if found[key] != identity[key]]
    return f"it was made with {' and '.join(differ)}" if differ else None


def latest_checkpoint(folder: Path, identity: Mapping[str, str]) -> Path | None:
    """The checkpoint of ``identity`` with the highest step in ``folder``, or None.

    ``identity`` maps every :data:`IDENTITY_KEYS` entry to the current run's value. Newer
    checkpoints of another identity (another scene or other options) are skipped with a warning.
    """
    for step, path in reversed(_by_step(folder)):
        why = _mismatch(path, identity)
        if why is None:
            return path
        logger.warning("ignoring checkpoint %s (step %d): %s", path, step, why)
    return None


def prune_checkpoints(folder: Path, keep: int, identity: Mapping[str, str]) -> None:
    """Delete the checkpoints of ``identity`` but its ``keep`` newest (at least 1).

    Checkpoints of other identities are left alone: they may belong to another run sharing the
    folder, and :func:`latest_checkpoint` ignores them. The newest one is always kept, since it
    is the one the current run has just written and would resume from.
    """
    mine = [path for _, path in _by_step(folder) if _mismatch(path, identity) is None]
    for path in mine[:-max(keep, 1)]:
        path.unlink(missing_ok=True)
