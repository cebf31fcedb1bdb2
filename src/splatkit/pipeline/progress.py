"""Drawing stage progress for the command line: a bar on a terminal, log lines otherwise.

The library never draws anything: stages report :class:`~splatkit.stages.ProgressUpdate` objects
through a callback, and the CLI passes an instance of :class:`ProgressDisplay` as that callback.

A stage that reports many steps of one kind (training steps, rendered photos) gets an ETA from
its recent step rate; a stage that knows its own remaining time (a time-budgeted training run)
reports it as the ``seconds_left`` metric and the display shows that instead.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

from splatkit.stages import ProgressUpdate

__all__ = ["ProgressDisplay", "StepRate", "format_update", "format_duration", "SECONDS_LEFT_METRIC"]

logger = logging.getLogger(__name__)

_BAR_WIDTH = 28
#: Terminal redraws at most this often (seconds): a training step can take a millisecond.
_REDRAW_S = 0.1
#: Without a terminal, a line at each tenth of the work or at least this often (seconds).
_LOG_EVERY_S = 30.0
#: A stage's own estimate of its remaining time, in seconds (wins over the display's estimate).
SECONDS_LEFT_METRIC = "seconds_left"
#: ETAs only for stages of at least this many steps: fewer are phases of unlike length (SfM's
#: extraction, matching, mapping), whose rate says nothing about the rest.
_ETA_MIN_TOTAL = 20
#: The rate is measured over about this many recent seconds: training steps slow down as
#: densification adds Gaussians, so the rate of the whole run so far would promise too early an end.
_RATE_WINDOW_S = 60.0
#: No ETA before this much time and this many steps have been seen (the first steps include compiling).
_ETA_MIN_SECONDS = 2.0
_ETA_MIN_STEPS = 3
_SAMPLE_EVERY_S = 0.5


def _metrics_text(update: ProgressUpdate) -> str:
    parts = []
    shown = [(k, v) for k, v in update.metrics.items() if k != SECONDS_LEFT_METRIC]
    for key, value in shown[:3]:
        parts.append(f"{key}={int(value)}" if float(value).is_integer() else f"{key}={value:.4g}")
    return " ".join(parts)


def format_duration(seconds: float) -> str:
    """``"45s"``, ``"3m05s"``, ``"2h07m"``: a duration as a person reads it."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_update(update: ProgressUpdate, *, bar: bool, eta_s: float | None = None,
                  elapsed_s: float | None = None) -> str:
    """One line describing ``update``: ``train/cpu [#####.....] 512/2000 26% ETA 3m10s train loss=0.08``.

    ``eta_s`` (seconds left) is shown while the stage runs; ``elapsed_s`` once it is done.
    """
    pieces = [update.stage]
    if update.total:
        fraction = min(max(update.step / update.total, 0.0), 1.0)
        if bar:
            filled = int(round(fraction * _BAR_WIDTH))
            pieces.append("[" + "#" * filled + "." * (_BAR_WIDTH - filled) + "]")
        pieces.append(f"{update.step}/{update.total} {fraction:4.0%}")
        if update.step >= update.total and elapsed_s is not None:
            pieces.append(f"in {format_duration(elapsed_s)}")
        elif eta_s is not None:
            pieces.append(f"ETA {format_duration(eta_s)}")
    else:
        pieces.append(f"step {update.step}")
    if update.message:
        pieces.append(update.message)
    metrics = _metrics_text(update)
    if metrics:
        pieces.append(metrics)
    return " ".join(pieces)


class StepRate:
    """Steps per second of one stage over its recent updates, and the time its remaining steps need.

    Parameters
    ----------
    window_s
        How far back the rate looks (seconds).
    """

    def __init__(self, window_s: float = _RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()
        self._first: tuple[float, int] | None = None

    def add(self, now: float, step: int) -> None:
        """Record that ``step`` steps were done at time ``now`` (seconds, monotonic)."""
        if self._samples and step < self._samples[-1][1]:
            self._samples.clear()  # the count went back (a resumed stage restarted its numbering)
            self._first = None
        if self._first is None:
            self._first = (now, step)
        if len(self._samples) >= 2 and now - self._samples[-2][0] < _SAMPLE_EVERY_S:
            self._samples[-1] = (now, step)  # a step can take a millisecond: keep few samples, the newest last
        else:
            self._samples.append((now, step))
        # Keep one sample older than the window, so the rate always spans at least the window.
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()

    def seconds_left(self, total: int) -> float | None:
        """Seconds until ``total`` steps at the recent rate; None until enough has been seen."""
        if self._first is None or len(self._samples) < 2:
            return None
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        if t1 - self._first[0] < _ETA_MIN_SECONDS or s1 - self._first[1] < _ETA_MIN_STEPS or s1 <= s0 or t1 <= t0:
            return None
        return max(total - s1, 0) * (t1 - t0) / (s1 - s0)

    @property
    def elapsed(self) -> float | None:
        """Seconds from the first update to the last."""
        if self._first is None or not self._samples:
            return None
        return self._samples[-1][0] - self._first[0]


class ProgressDisplay:
    """A progress callback that draws a bar per stage on a terminal, or logs plain lines.

    Parameters
    ----------
    stream
        Where the bar goes (default ``sys.stderr``).
    bar
        Force the bar on or off; default: on when ``stream`` is a terminal.
    """

    def __init__(self, stream: TextIO | None = None, *, bar: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bar = bool(self.stream.isatty()) if bar is None else bar
        self._clock = clock
        self._stage = ""
        self._last_draw = 0.0
        self._last_decile = -1
        self._last_message = ""
        self._width = 0
        self._rate = StepRate()

    def __call__(self, update: ProgressUpdate) -> None:
        if update.stage != self._stage:
            self.close()
            self._stage = update.stage
            self._last_decile = -1
            self._last_message = ""
            self._rate = StepRate()
        now = self._clock()
        self._rate.add(now, update.step)
        done = bool(update.total) and update.step >= (update.total or 0)
        if self.bar:
            if done or now - self._last_draw >= _REDRAW_S:
                line = self._line(update, bar=True)
                pad = max(self._width - len(line), 0)
                self.stream.write("\r" + line + " " * pad)
                self.stream.flush()
                self._width = len(line)
                self._last_draw = now
            return
        decile = int(10 * update.step / update.total) if update.total else -1
        if (decile != self._last_decile or update.message != self._last_message or done
                or now - self._last_draw >= _LOG_EVERY_S):
            logger.info("%s", self._line(update, bar=False))
            self._last_decile, self._last_message, self._last_draw = decile, update.message, now

    def _line(self, update: ProgressUpdate, *, bar: bool) -> str:
        eta = None
        if SECONDS_LEFT_METRIC in update.metrics:
            eta = float(update.metrics[SECONDS_LEFT_METRIC])
        elif update.total and update.total >= _ETA_MIN_TOTAL:
            eta = self._rate.seconds_left(update.total)
        timed = eta is not None or bool(update.total and update.total >= _ETA_MIN_TOTAL)
        return format_update(update, bar=bar, eta_s=eta, elapsed_s=self._rate.elapsed if timed else None)

    def close(self) -> None:
        """End the current bar's line (call when a stage ends)."""
        if self.bar and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0
        self._stage = ""
