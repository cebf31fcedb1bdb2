"""Numbered progress updates of one SfM backend run (steps 0, 1, ... then ``done`` at ``total``)."""

from __future__ import annotations

from splatkit.stages import ProgressCallback, ProgressUpdate, no_progress

__all__ = ["StageSteps"]


class StageSteps:
    """Announces the steps of a run in order, so every SfM backend numbers them the same way.

    Parameters
    ----------
    stage : str
        ``"sfm/<backend>"``, the :attr:`ProgressUpdate.stage` of every update.
    total : int
        Steps the run announces before ``done`` (the backend's own plus
        :func:`splatkit.sfm.finish.finish_steps`).
    progress : callable
        Receives one :class:`~splatkit.stages.ProgressUpdate` per step.
    """

    def __init__(self, stage: str, total: int, progress: ProgressCallback = no_progress) -> None:
        self.stage = stage
        self.total = total
        self._progress = progress
        self._step = 0

    def next(self, message: str) -> None:
        """Announce the next step (``step`` counts the steps already finished)."""
        self._progress(ProgressUpdate(stage=self.stage, step=min(self._step, self.total), total=self.total,
                                      message=message))
        self._step += 1

    def done(self) -> None:
        """Announce the end of the run: ``step == total``."""
        self._progress(ProgressUpdate(stage=self.stage, step=self.total, total=self.total, message="done"))
