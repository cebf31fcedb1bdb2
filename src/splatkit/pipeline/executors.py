"""Executors: where a resolved stage runs. ``local`` runs it in this process; others run it elsewhere.

The pipeline resolves stages, configs and manifests once (:mod:`splatkit.pipeline.runner`) and
hands each stage to an executor. Whatever the executor, the pipeline fires the same stage events,
writes the same manifest and promotes the same stage folder, so resume, reports and event plugins
work alike for a local run and, e.g., one SageMaker job per stage (:mod:`splatkit.sagemaker`).

An executor that runs stages out of process sets ``wants_paths``: it is then given each stage's
input as a path (the photo source, the previous stage's finished folder) instead of the
in-memory contract, and returns a :class:`~splatkit.stages.StageResult` whose files it has
placed in ``workdir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from splatkit.stages import ProgressCallback, StageResult, no_progress

if TYPE_CHECKING:
    from splatkit.pipeline.config import ResolvedStage

__all__ = ["Executor", "LocalExecutor"]


@runtime_checkable
class Executor(Protocol):
    """Runs one resolved stage into ``workdir`` and returns its result.

    Attributes
    ----------
    name : str
        Short name for logs and ``events.jsonl`` (``"local"``, ``"sagemaker"``).
    wants_paths : bool
        Give this executor stage inputs as paths (see the module docstring).
    """

    name: str
    wants_paths: bool

    def execute(self, resolved: ResolvedStage, input: Any, workdir: Path,
                progress: ProgressCallback = no_progress) -> StageResult[Any]:
        """Run ``resolved`` on ``input``, writing under ``workdir`` (the stage's partial folder)."""
        ...


class LocalExecutor:
    """Run the stage in this process: ``stage_cls().run(input, config, workdir, progress)``."""

    name = "local"
    wants_paths = False

    def execute(self, resolved: ResolvedStage, input: Any, workdir: Path,
                progress: ProgressCallback = no_progress) -> StageResult[Any]:
        return resolved.stage_cls().run(input, resolved.config, workdir, progress)
