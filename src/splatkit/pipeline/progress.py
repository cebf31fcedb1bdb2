"""Drawing stage progress for the command line: a bar on a terminal, log lines otherwise.

The library never draws anything: stages report :class:`~splatkit.stages.ProgressUpdate` objects
through a callback, and the CLI passes an instance of :class:`ProgressDisplay` as that callback.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from splatkit.stages import ProgressUpdate

__all__ = ["ProgressDisplay", "format_update"]

logger = logging.getLogger(__name__)

_BAR_WIDTH = 28
#: Terminal redraws at most this often (seconds): a training step can take a millisecond.
_REDRAW_S = 0.1
#: Without a terminal, a line at each tenth of the work or at least this often (seconds).
_LOG_EVERY_S = 30.0


def _metrics_text(update: ProgressUpdate) -> str:
    parts = []
    for key, value in list(update.metrics.items())[:3]:
        parts.append(f"{key}={int(value)}" if float(value).is_integer() else f"{key}={value:.4g}")
    return " ".join(parts)


def format_update(update: ProgressUpdate, *, bar: bool) -> str:
    """One line describing ``update``: ``train/cpu [#####.....] 512/2000 26% train loss=0.08``."""
    pieces = [update.stage]
    if update.total:
        fraction = min(max(update.step / update.total, 0.0), 1.0)
        if bar:
            filled = int(round(fraction * _BAR_WIDTH))
            pieces.append("[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]")
        pieces.append(f"{update.step}/{update.total} {fraction:4.0%}")
    else:
        pieces.append(f"step {update.step}")
    if update.message:
        pieces.append(update.message)
    metrics = _metrics_text(update)
    if metrics:
        pieces.append(metrics)
    return " ".join(pieces)


class ProgressDisplay:
    """A progress callback that draws a bar per stage on a terminal, or logs plain lines.

    Parameters
    ----------
    stream
        Where the bar goes (default ``sys.stderr``).
    bar
        Force the bar on or off; default: on when ``stream`` is a terminal.
    """

    def __init__(self, stream: TextIO | None = None, *, bar: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bar = bool(self.stream.isatty()) if bar is None else bar
        self._stage = ""
        self._last_draw = 0.0
        self._last_decile = -1
        self._last_message = ""
        self._width = 0

    def __call__(self, update: ProgressUpdate) -> None:
        if update.stage != self._stage:
            self.close()
            self._stage = update.stage
            self._last_decile = -1
            self._last_message = ""
        now = time.monotonic()
        done = bool(update.total) and update.step >= (update.total or 0)
        if self.bar:
            if done or now - self._last_draw >= _REDRAW_S:
                line = format_update(update, bar=True)
                pad = max(self._width - len(line), 0)
                self.stream.write("\r" + line + " " * pad)
                self.stream.flush()
                self._width = len(line)
                self._last_draw = now
            return
        decile = int(10 * update.step / update.total) if update.total else -1
        if (decile != self._last_decile or update.message != self._last_message or done
                or now - self._last_draw >= _LOG_EVERY_S):
            logger.info("%s", format_update(update, bar=False))
            self._last_decile, self._last_message, self._last_draw = decile, update.message, now

    def close(self) -> None:
        """End the current bar's line (call when a stage ends)."""
        if self.bar and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0
        self._stage = ""
