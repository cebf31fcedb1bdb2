"""The ``splatkit`` command line.

Only argparse and splatkit's light modules are imported at start, so ``--help`` is fast; a
subcommand imports what it needs when it runs. User errors (any :class:`SplatkitError`) print one
line on stderr and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from splatkit.errors import InputError, SplatkitError

__all__ = ["main", "describe_path"]

logger = logging.getLogger("splatkit.cli")

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

# What `splatkit info` understands, tried in order: (module, detector, describer). Detectors are
# cheap path checks; modules are imported only when needed and skipped when not installed.
INFO_READERS: tuple[tuple[str, str, str], ...] = (
    ("splatkit.io.ply", "is_ply_file", "info"),
    ("splatkit.io.sog", "is_sog", "info"),
    ("splatkit.io.colmap", "is_colmap_model", "info"),
    ("splatkit.io.opensfm", "is_opensfm_folder", "info"),
    ("splatkit.io.images", "is_image_source", "info"),
)


def describe_path(path: Path) -> dict[str, Any]:
    """What a file or folder holds, as a JSON-able dict with a ``"type"`` key.

    Raises
    ------
    InputError
        When the path is missing or no reader recognises it.
    """
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    for module_name, detector, describer in INFO_READERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("splatkit"):
                continue
            raise
        detect: Callable[[Path], bool] | None = getattr(module, detector, None)
        if detect is not None and detect(path):
            return getattr(module, describer)(path)
    raise InputError(
        "not a format splatkit knows: expected a 3DGS .ply, a .sog file or SOG folder, a COLMAP "
        "sparse model folder, an OpenSfM dataset folder, or a folder/ZIP of photos", path=path)


def _cmd_info(args: argparse.Namespace) -> int:
    info = describe_path(Path(args.path))
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=False))
    else:
        _print_mapping(info)
    return 0


def _print_mapping(data: dict[str, Any], indent: str = "") -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_mapping(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{indent}{key}:")
            for item in value:
                print(f"{indent}  - " + ", ".join(f"{k}={v}" for k, v in item.items()))
        else:
            print(f"{indent}{key}: {value}")


def _cmd_plugins(args: argparse.Namespace) -> int:
    from splatkit.plugins import get_plugin_manager
    from splatkit.stages import STAGE_KINDS

    manager = get_plugin_manager()
    rows = []
    for kind in STAGE_KINDS:
        for name in manager.stages.names(kind):
            cls = manager.stages.get(kind, name)
            reason = cls.unavailable_reason()
            rows.append({
                "kind": kind, "name": name, "available": reason is None,
                "why_not": reason or "", "from": manager.stages.origin(kind, name),
                "description": cls.description,
            })
    if args.json:
        print(json.dumps({"stages": rows, "distributions": manager.distributions()}, indent=2))
        return 0
    width = max((len(f"{r['kind']}/{r['name']}") for r in rows), default=10)
    for r in rows:
        status = "available" if r["available"] else f"unavailable: {r['why_not']}"
        print(f"{r['kind'] + '/' + r['name']:<{width}}  {status}  ({r['from']})")
        if r["description"]:
            print(f"{'':<{width}}  {r['description']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from splatkit import __version__

    parser = argparse.ArgumentParser(
        prog="splatkit",
        description="Drone photos -> SfM -> 3D Gaussian Splatting -> SOG compression.",
    )
    parser.add_argument("--version", action="version", version=f"splatkit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="what a PLY, SOG, COLMAP model, OpenSfM folder or photo set holds")
    p.add_argument("path", help="file or folder to describe")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("plugins", help="registered stage backends and whether they can run here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_plugins)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``splatkit`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args))
    except SplatkitError as e:
        print(f"splatkit: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("splatkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
