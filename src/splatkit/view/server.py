"""The viewer's HTTP server: 127.0.0.1 only, a fixed table of URL paths, GET and HEAD only.

Every answer comes from :attr:`ViewServer.routes`, built once at start-up from the page's own
files (``static/``, shipped in the package) and the files of the :class:`~.sources.ViewSource`.
A path not in the table is a 404, whatever it contains (``..``, encoded slashes, absolute
paths): the server never joins a requested path onto a folder. Responses carry a
Content-Security-Policy that lets the page load only from this server.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

from splatkit.errors import InputError
from splatkit.view.sources import VIEWER_PLACEHOLDER, Route, ViewSource

__all__ = ["HOST", "STATIC_FILES", "ViewServer", "serve", "build_routes"]

logger = logging.getLogger(__name__)

#: The only interface served on.
HOST = "127.0.0.1"
#: The page's files in ``splatkit/view/static`` (package data), served under ``/viewer/``.
STATIC_FILES = ("index.html", "viewer.css", "viewer.js", "formats.js", "splats.js", "sort-worker.js")
_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}
# 'self' only: the page cannot fetch, load a script or open a connection anywhere else.
_CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; img-src 'self' blob: data:; "
        "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
        "form-action 'none'")
_VIEWER_FRAME = ('<iframe id="splatkit-viewer" src="/viewer/" title="3D view of the final file" '
                 'style="width:100%;height:70vh;min-height:420px;border:1px solid #ccc;border-radius:4px">'
                 '</iframe>')


def _static(name: str) -> bytes:
    return resources.files("splatkit.view").joinpath("static", name).read_bytes()


def build_routes(source: ViewSource) -> dict[str, Route]:
    """The whole URL table for ``source``: the page, ``/view.json``, the data and the report."""
    routes: dict[str, Route] = dict(source.routes)
    for name in STATIC_FILES:
        suffix = name[name.rfind("."):]
        routes[f"/viewer/{name}"] = Route(_STATIC_TYPES[suffix], data=_static(name))
    routes["/viewer/"] = routes["/viewer/index.html"]
    view = source.splat if source.splat is not None else {
        "error": "this run has no final splat file to show (see the report)"}
    routes["/view.json"] = Route("application/json", data=json.dumps(view).encode("utf-8"))
    if source.report:
        report = routes["/report.html"]
        assert report.path is not None
        page = report.path.read_text(encoding="utf-8")
        if source.splat is not None:
            page = page.replace(VIEWER_PLACEHOLDER, _VIEWER_FRAME, 1)
        routes["/"] = routes["/report.html"] = Route(report.content_type, data=page.encode("utf-8"))
    else:
        routes["/"] = routes["/viewer/index.html"]
    return routes


class _Handler(BaseHTTPRequestHandler):
    server: ViewServer
    server_version = "splatkit-view"
    sys_version = ""

    def _answer(self, body: bool) -> None:
        raw_path = urlsplit(self.path).path
        route = self.server.routes.get(unquote(raw_path)) if raw_path.startswith("/") else None
        if route is None:
            self.server.log_request_path(self.path, HTTPStatus.NOT_FOUND)
            self.send_error(HTTPStatus.NOT_FOUND, "not one of the files splatkit view was given")
            return
        try:
            size = len(route.data) if route.data is not None else route.path.stat().st_size  # type: ignore[union-attr]
        except OSError:
            self.server.log_request_path(self.path, HTTPStatus.NOT_FOUND)
            self.send_error(HTTPStatus.NOT_FOUND, "the file is gone")
            return
        self.server.log_request_path(self.path, HTTPStatus.OK)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not body:
            return
        try:
            if route.data is not None:
                self.wfile.write(route.data)
            else:
                with open(route.path, "rb") as f:  # type: ignore[arg-type]
                    shutil.copyfileobj(f, self.wfile, 1 << 20)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away mid-file (reload, closed tab)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        logger.debug("%s %s", self.address_string(), format % args)


class ViewServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 answering exactly the paths of ``routes``.

    Attributes
    ----------
    routes : dict[str, Route]
        URL path (decoded) -> what it serves.
    requests : list[tuple[str, int]]
        Every request path and its status, in order (what a test checks).
    """

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, routes: dict[str, Route], *, port: int = 0) -> None:
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as e:
            raise InputError(f"cannot serve on {HOST}:{port} ({e.strerror or e}); choose another --port, or "
                             "leave it out for a free one") from e
        self.routes = routes
        self.requests: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{HOST}:{self.server_address[1]}/"

    def log_request_path(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, int(status)))
        logger.info("%d %s", int(status), path)

    def start(self) -> threading.Thread:
        """Serve on a daemon thread (tests); :meth:`shutdown` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="splatkit-view", daemon=True)
        thread.start()
        return thread


def serve(source: ViewSource, *, port: int = 0) -> ViewServer:
    """A :class:`ViewServer` for ``source``, bound but not yet serving."""
    return ViewServer(build_routes(source), port=port)
