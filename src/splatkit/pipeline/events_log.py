"""Built-in event plugin: a JSON-lines log of a pipeline run's events (``OUT/events.jsonl``).

Registered from :data:`splatkit.plugins.BUILTIN_PLUGINS`. It writes only while a run has opened
a log with :func:`recording` (the pipeline does, for ``OUT/events.jsonl``); outside a run its
hooks do nothing. Each line is one JSON object with ``time`` (UTC ISO 8601), ``event``
(``run_started``, ``started``, ``skipped``, ``finished``, ``failed``, ``run_finished``,
``run_failed``) and the event's fields; stage events carry ``stage`` (``"kind/name"``).

Lines are appended with one ``write`` each and flushed, so a killed run leaves a readable log.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from splatkit.plugins.spec import hookimpl

__all__ = ["EVENTS_FILE", "recording", "record", "read_events"]

#: File name of the log inside the pipeline's output folder.
EVENTS_FILE = "events.jsonl"

_current: contextvars.ContextVar[Path | None] = contextvars.ContextVar("splatkit_events_file", default=None)


@contextlib.contextmanager
def recording(path: str | Path) -> Iterator[Path]:
    """Send events to ``path`` (appending) for the duration of the block."""
    path = Path(path)
    token = _current.set(path)
    try:
        yield path
    finally:
        _current.reset(token)


def record(event: str, **fields: Any) -> None:
    """Append one event to the open log; does nothing outside :func:`recording`."""
    path = _current.get()
    if path is None:
        return
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}
    text = json.dumps(line, default=str, sort_keys=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """The events in a log, oldest first (a torn last line from a killed run is skipped)."""
    events = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _brief_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report's scalar entries: curves and per-view lists stay in report.json, not in the log."""
    return {k: v for k, v in report.items() if isinstance(v, (str, int, float, bool)) or v is None}


@hookimpl
def splatkit_stage_started(stage: str, config: dict[str, Any], workdir: str) -> None:
    record("started", stage=stage, config=config, workdir=workdir)


@hookimpl
def splatkit_stage_finished(stage: str, report: dict[str, Any], seconds: float, files: list[str]) -> None:
    record("finished", stage=stage, seconds=round(seconds, 3), files=files, report=_brief_report(report))


@hookimpl
def splatkit_stage_failed(stage: str, error: BaseException, seconds: float) -> None:
    record("failed", stage=stage, seconds=round(seconds, 3), error=str(error), error_type=type(error).__name__)
