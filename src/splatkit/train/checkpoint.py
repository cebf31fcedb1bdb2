"""Training checkpoints: periodic, atomic, versioned, loaded without pickle.

A checkpoint holds everything needed to continue bit-for-bit: parameters, optimizer state,
densification state, RNG state, the step to run next and the training curve so far. Files are
written to a temporary name and renamed; loading uses ``torch.load(weights_only=True)`` so a
tampered file cannot execute code.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from splatkit.errors import InputError
from splatkit.io.atomic import atomic_path

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "save_checkpoint", "load_checkpoint",
           "latest_checkpoint", "prune_checkpoints"]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "splatkit-train-checkpoint"
CHECKPOINT_VERSION = 1
_NAME = re.compile(r"^ckpt_(\d{8})\.pt$")


def checkpoint_path(folder: Path, step: int) -> Path:
    return Path(folder) / f"ckpt_{step:08d}.pt"


def save_checkpoint(folder: Path, step: int, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (tensors, numbers, strings, lists, dicts) as checkpoint ``step``."""
    import torch

    data = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "step": int(step), **payload}
    path = checkpoint_path(folder, step)
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    logger.info("checkpoint written: %s", path)
    return path


def load_checkpoint(path: Path, *, map_location: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely; :class:`InputError` when it is not one of ours or is corrupt."""
    import torch

    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for corrupt/unsafe files
        raise InputError(f"cannot load checkpoint ({type(e).__name__}: {e}); delete it to start over",
                         path=path) from e
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError("not a splatkit training checkpoint", path=path)
    if data.get("version") != CHECKPOINT_VERSION:
        raise InputError(f"checkpoint version {data.get('version')} is not supported "
                         f"(this splatkit reads version {CHECKPOINT_VERSION})", path=path)
    return data


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the highest step in ``folder``, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)))
    return found[-1][1] if found else None


def prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recent checkpoints."""
    found = sorted((int(m.group(1)), p) for p in Path(folder).iterdir() if (m := _NAME.match(p.name)))
    for _, path in found[:-keep] if keep > 0 else found:
        path.unlink(missing_ok=True)
