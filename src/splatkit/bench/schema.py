"""The benchmark record's schema (a JSON-Schema subset) and the small validator that checks it.

A record is what ``splatkit bench`` writes: one JSON object per run. The schema is a plain dict
in JSON-Schema's vocabulary (``type``, ``properties``, ``required``, ``items``, ``minimum``,
``enum``), so a reader with the ``jsonschema`` package can use it too; :func:`validate` checks
exactly that subset without the dependency. Bump :data:`RECORD_VERSION` when a field changes
meaning; adding an optional field does not need it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from splatkit.errors import InputError

__all__ = ["RECORD_FORMAT", "RECORD_VERSION", "RECORD_SCHEMA", "STAGE_KINDS", "validate", "check_record",
           "read_record"]

RECORD_FORMAT = "splatkit-bench"
RECORD_VERSION = 1
#: The stages a record times, in pipeline order.
STAGE_KINDS: tuple[str, ...] = ("sfm", "train", "compress")

_NUM = {"type": "number", "minimum": 0}
_OPT_NUM = {"type": ["number", "null"], "minimum": 0}
_OPT_INT = {"type": ["integer", "null"], "minimum": 0}
_OPT_STR = {"type": ["string", "null"]}
_STAGE = {"type": "object", "required": ["backend", "seconds", "status"],
          "properties": {"backend": {"type": "string"}, "seconds": _NUM,
                         "status": {"enum": ["ran", "skipped", "failed"]}}}

RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "version", "scene", "preset", "environment", "stages", "total_seconds", "training",
                 "compression", "memory"],
    "properties": {
        "format": {"enum": [RECORD_FORMAT]},
        "version": {"type": "integer", "minimum": 1},
        "scene": {"type": "object", "required": ["name", "photos"],
                  "properties": {"name": {"type": "string"}, "photos": {"type": "integer", "minimum": 0}}},
        "preset": {"type": "object", "required": ["name", "options"],
                   "properties": {"name": {"type": "string"}, "options": {"type": "object"}}},
        "environment": {
            "type": "object",
            "required": ["device", "gpu_name", "compute_capability", "vram_bytes", "driver_version", "cuda_version",
                         "cpus", "versions", "commit", "date"],
            "properties": {
                "device": {"type": "string"}, "gpu_name": _OPT_STR, "compute_capability": _OPT_STR,
                "vram_bytes": _OPT_INT, "driver_version": _OPT_STR, "cuda_version": _OPT_STR,
                "cpus": _OPT_INT, "commit": _OPT_STR, "date": {"type": "string"},
                "versions": {"type": "object", "required": ["python", "splatkit", "torch", "gsplat", "pycolmap"],
                             "properties": {k: _OPT_STR for k in ("python", "splatkit", "torch", "gsplat",
                                                                   "pycolmap")}},
            },
        },
        "stages": {"type": "object", "required": list(STAGE_KINDS),
                   "properties": {k: _STAGE for k in STAGE_KINDS}},
        "total_seconds": _NUM,
        "training": {
            "type": "object",
            "required": ["backend", "device", "steps", "seconds", "steps_per_second", "num_gaussians", "psnr", "ssim",
                         "resolution", "curve"],
            "properties": {
                "backend": {"type": "string"}, "device": _OPT_STR, "steps": {"type": "integer", "minimum": 0},
                "seconds": _OPT_NUM, "steps_per_second": _OPT_NUM,
                "num_gaussians": {"type": "integer", "minimum": 0},
                "psnr": {"type": ["number", "null"]}, "ssim": {"type": ["number", "null"]},
                "resolution": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 0}},
                "curve": {"type": "array", "items": {
                    "type": "object", "required": ["step"],
                    "properties": {"step": {"type": "integer", "minimum": 0}, "seconds": _OPT_NUM,
                                   "psnr": {"type": ["number", "null"]}, "ssim": {"type": ["number", "null"]}}}},
            },
        },
        "compression": {
            "type": "object", "required": ["backend", "file", "bytes", "render_psnr"],
            "properties": {"backend": {"type": "string"}, "file": _OPT_STR, "bytes": _OPT_INT,
                           "render_psnr": {"type": ["number", "null"]}},
        },
        "memory": {
            "type": "object", "required": ["peak_gpu_bytes", "peak_host_rss_bytes"],
            "properties": {"peak_gpu_bytes": _OPT_INT, "peak_host_rss_bytes": {"type": "integer", "minimum": 0}},
        },
    },
}

_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list, tuple), "string": (str,),
                                       "integer": (int,), "number": (int, float), "boolean": (bool,),
                                       "null": (type(None),)}


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False  # JSON has no bool-as-int
    return isinstance(value, _TYPES[name])


def validate(doc: Any, schema: dict[str, Any] = RECORD_SCHEMA, where: str = "$") -> list[str]:
    """Every way ``doc`` breaks ``schema``, one ``"<json path>: <problem>"`` line each ([] when valid)."""
    problems: list[str] = []
    if "enum" in schema and doc not in schema["enum"]:
        return [f"{where}: expected one of {schema['enum']}, got {doc!r}"]
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(doc, n) for n in names):
            return [f"{where}: expected {' or '.join(names)}, got {type(doc).__name__}"]
    if isinstance(doc, float) and not math.isfinite(doc):
        problems.append(f"{where}: expected a finite number, got {doc}")
    if "minimum" in schema and _is_type(doc, "number") and doc < schema["minimum"]:
        problems.append(f"{where}: expected >= {schema['minimum']}, got {doc}")
    if isinstance(doc, dict):
        problems += [f"{where}: missing {key!r}" for key in schema.get("required", ()) if key not in doc]
        for key, sub in schema.get("properties", {}).items():
            if key in doc:
                problems += validate(doc[key], sub, f"{where}.{key}")
    if isinstance(doc, (list, tuple)) and "items" in schema:
        for i, item in enumerate(doc):
            problems += validate(item, schema["items"], f"{where}[{i}]")
    return problems


def check_record(doc: Any, *, source: str = "record") -> dict[str, Any]:
    """Return ``doc`` when it is a valid record, else raise InputError listing the first problems."""
    problems = validate(doc)
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise InputError(f"{source}: not a valid {RECORD_FORMAT} record v{RECORD_VERSION}: {shown}")
    return doc


def read_record(path: str | Path) -> dict[str, Any]:
    """Read and check one record file.

    Raises
    ------
    InputError
        Unreadable, not JSON, or not a valid record (names the file and the field).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read a benchmark record ({e})") from e
    return check_record(doc, source=str(path))
