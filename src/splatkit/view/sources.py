"""What ``splatkit view PATH`` shows, and the exact set of files it may serve for it.

PATH is one of:

* a ``.sog`` file (SOG v2 or legacy v1), or a SOG folder holding ``meta.json``;
* a 3DGS ``.ply``;
* a run folder (``report.json`` written by ``splatkit run``/``demo``): its report, with the
  viewer on the run's final file.

Each served file gets one URL path (:attr:`ViewSource.routes`); the server answers those paths
and nothing else, so nothing outside the files given can be reached (no path is ever joined onto
a folder at request time).
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from splatkit.errors import InputError, SplatkitError

__all__ = ["Route", "ViewSource", "resolve_source", "DATA_PREFIX", "RUN_REPORT_JSON", "RUN_REPORT_HTML",
           "RUN_REPORT_FILES", "VIEWER_PLACEHOLDER"]

#: URL prefix of the splat data.
DATA_PREFIX = "/data/"
# The run folder's report files (splatkit.pipeline.report defines them; the view layer may not
# import the pipeline, tests/view/test_sources.py checks the names agree).
RUN_REPORT_JSON = "report.json"
RUN_REPORT_HTML = "report.html"
RUN_REPORT_FILES = "report_files"
#: The element ``report.html`` holds where the viewer goes when ``splatkit view`` serves it
#: (splatkit.pipeline.report writes it; the server swaps it for the viewer's frame).
VIEWER_PLACEHOLDER = '<div id="splatkit-viewer"></div>'
_NOT_A_SPLAT = ("is not a splat file or run folder: `splatkit view` opens a .sog file, a SOG folder (with "
                "meta.json), a 3DGS .ply or a splatkit run folder (with report.json)")


@dataclass(frozen=True)
class Route:
    """One servable URL path: a file on disk, or bytes made at start-up."""

    content_type: str
    path: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True, kw_only=True)
class ViewSource:
    """A resolved PATH.

    Attributes
    ----------
    kind : {"sog", "ply", "run"}
    path : Path
        What was given.
    routes : dict[str, Route]
        URL path -> what it serves (the data files and, for a run, the report).
    splat : dict or None
        What the page needs to load the splat (``view.json``): ``url``, ``format`` ("sog" or
        "ply"), ``layout`` ("zip" or "folder" for SOG), ``name``, ``bytes``, ``count``,
        ``sh_degree``, ``georeference`` (dict or None). None for a run without a final file.
    report : bool
        The index page is the run's report (with the viewer embedded), not the viewer.
    """

    kind: str
    path: Path
    routes: dict[str, Route] = field(default_factory=dict)
    splat: dict[str, Any] | None = None
    report: bool = False


def _content_type(path: Path) -> str:
    known = {".sog": "application/zip", ".ply": "application/octet-stream", ".webp": "image/webp",
             ".json": "application/json", ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8"}
    return known.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _url_name(name: str) -> str:
    return quote(name, safe="")


def _sog_source(path: Path, prefix: str) -> tuple[dict[str, Route], dict[str, Any]]:
    from splatkit.io.sog import info, load_sog

    facts = info(path)              # parses and checks meta.json, reads the members it names
    folder = path if path.is_dir() else path.parent if path.name == "meta.json" else None
    routes: dict[str, Route] = {}
    if folder is None:
        url = f"{prefix}{_url_name(path.name)}"
        routes[url] = Route(_content_type(path), path=path)
        layout, name = "zip", path.name
    else:
        base = f"{prefix}{_url_name(folder.name)}/"
        url = f"{base}meta.json"
        routes[url] = Route("application/json", path=folder / "meta.json")
        for member in load_sog(folder).members:
            routes[f"{base}{_url_name(member)}"] = Route(_content_type(Path(member)), path=folder / member)
        layout, name = "folder", folder.name
    splat = {"url": url, "format": "sog", "layout": layout, "name": name, "bytes": facts["bytes"],
             "count": facts["count"] - facts.get("padding", 0), "sh_degree": facts["sh_degree"],
             "georeference": facts["georeference"]}
    return routes, splat


def _ply_source(path: Path, prefix: str) -> tuple[dict[str, Route], dict[str, Any]]:
    from splatkit.io.ply import encode_ply, info, read_ply

    facts = info(path)              # reads and checks the whole file: a 3DGS PLY or an InputError
    url = f"{prefix}{_url_name(path.name)}"
    if facts["encoding"] == "ascii":
        # The page reads binary PLY only; an ASCII one is served re-encoded (same values).
        route = Route("application/octet-stream", data=encode_ply(read_ply(path)))
    else:
        route = Route("application/octet-stream", path=path)
    splat = {"url": url, "format": "ply", "layout": "file", "name": path.name, "bytes": facts["file_size_bytes"],
             "count": facts["count"], "sh_degree": facts["sh_degree"], "georeference": facts["georeference"]}
    return {url: route}, splat


def _splat_source(path: Path, prefix: str = DATA_PREFIX) -> tuple[dict[str, Route], dict[str, Any]] | None:
    """Routes and ``view.json`` for a splat file or SOG folder; None when ``path`` is neither."""
    from splatkit.io.ply import is_ply_file
    from splatkit.io.sog import is_sog

    if is_sog(path):
        return _sog_source(path, prefix)
    if path.is_file() and path.suffix.lower() == ".ply":
        if not is_ply_file(path):
            raise InputError("is not a PLY file (its first line is not 'ply'); `splatkit view` opens 3DGS .ply, "
                             ".sog, SOG folders and run folders", path=path)
        return _ply_source(path, prefix)
    return None


def _run_final_file(folder: Path, report: dict[str, Any]) -> Path | None:
    """The run's final file, also when the run folder was moved since the report was written."""
    final = report.get("final_file")
    if not isinstance(final, str) or not final:
        return None
    candidate = Path(final)
    if candidate.exists():
        return candidate
    out_dir = report.get("out_dir")
    if isinstance(out_dir, str):
        try:
            moved = folder / candidate.relative_to(out_dir)
        except ValueError:
            moved = None
        if moved is not None and moved.exists():
            return moved
    return None


def _run_source(folder: Path) -> ViewSource:
    report_json = folder / RUN_REPORT_JSON
    try:
        report = json.loads(report_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"unreadable run report ({e}); rerun `splatkit run` to rewrite it", path=report_json) from e
    if not isinstance(report, dict):
        raise InputError("is not a splatkit run report (not a JSON object)", path=report_json)
    routes: dict[str, Route] = {"/report.json": Route("application/json", path=report_json)}
    html = folder / RUN_REPORT_HTML
    if html.is_file():
        routes["/report.html"] = Route(_content_type(html), path=html)
    files = folder / RUN_REPORT_FILES
    if files.is_dir():
        root = files.resolve()
        for item in sorted(files.rglob("*")):
            # Only regular files that really lie inside report_files/ (a symlink could point anywhere).
            if item.is_file() and root in item.resolve().parents:
                rel = item.relative_to(folder).as_posix()
                routes["/" + "/".join(_url_name(part) for part in rel.split("/"))] = Route(_content_type(item),
                                                                                           path=item)
    final = _run_final_file(folder, report)
    splat = None
    if final is not None:
        try:
            found = _splat_source(final)
        except SplatkitError:
            found = None            # the report still shows; the page says the file cannot be shown
        if found is not None:
            data_routes, splat = found
            routes.update(data_routes)
    return ViewSource(kind="run", path=folder, routes=routes, splat=splat, report=html.is_file())


def resolve_source(path: str | Path) -> ViewSource:
    """What ``splatkit view PATH`` serves.

    Raises
    ------
    InputError
        PATH does not exist, is not a splat file / SOG folder / run folder, or is one that does
        not read (the reader's message: a damaged .sog, a PLY that is not 3DGS, ...).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path=path)
    if path.is_dir() and (path / RUN_REPORT_JSON).is_file() and not (path / "meta.json").is_file():
        return _run_source(path)
    found = _splat_source(path)
    if found is None:
        raise InputError(_NOT_A_SPLAT, path=path)
    routes, splat = found
    return ViewSource(kind=splat["format"], path=path, routes=routes, splat=splat)
