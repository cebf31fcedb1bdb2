"""The ``splatkit view PATH`` sub-command (``python -m splatkit.view PATH`` runs it alone)."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from splatkit.view.server import serve
from splatkit.view.sources import resolve_source

__all__ = ["add_view_parser", "cmd_view", "HELP"]

HELP = "look at a .sog, SOG folder, 3DGS .ply or run folder in the browser (served on 127.0.0.1)"


def add_view_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``view`` to a ``splatkit`` sub-command table; the parser runs :func:`cmd_view`."""
    p = subparsers.add_parser("view", help=HELP, description=HELP, allow_abbrev=False,
                              epilog="The page is served from this machine only and loads nothing from the "
                                     "network. Ctrl-C stops the server.")
    add_view_arguments(p)
    p.set_defaults(func=cmd_view)
    return p


def add_view_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help=".sog file, SOG folder (meta.json), 3DGS .ply, or a run folder "
                                                "(report.json: the report with the viewer on the final file)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the URL; do not open a browser")


def cmd_view(args: argparse.Namespace) -> int:
    """Serve ``args.path`` until interrupted; prints the URL first. Returns the exit status.

    Raises
    ------
    InputError
        PATH is not something the viewer shows (one line, printed by the CLI), or the port is taken.
    """
    source = resolve_source(args.path)
    server = serve(source, port=args.port)
    what = "run report and viewer" if source.kind == "run" else f"viewer ({source.kind})"
    print(f"splatkit view: {what} for {source.path} at {server.url}", flush=True)
    print("press Ctrl-C to stop", file=sys.stderr, flush=True)
    if not args.no_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
