"""The local pipeline: photos -> SfM -> training -> compression, resumable, with events and a report.

``splatkit.run`` is :func:`splatkit.pipeline.runner.run`. Nothing here imports torch, pycolmap or
gsplat at import time; the stages import them when they run.
"""

from splatkit.pipeline.config import DEFAULT_BACKENDS, STAGE_ORDER, PipelineOptions, load_config_file
from splatkit.pipeline.runner import RunResult, StageOutcome, run, run_stage

__all__ = [
    "DEFAULT_BACKENDS",
    "STAGE_ORDER",
    "PipelineOptions",
    "RunResult",
    "StageOutcome",
    "load_config_file",
    "run",
    "run_stage",
]
