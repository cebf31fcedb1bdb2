"""The container side of a splatkit job: entry command, local paths, environment, job spec file.

The job builders (:mod:`splatkit.sagemaker.jobs`) and the container entry
(``python3 -m splatkit.sagemaker.entry {sfm,train,compress}``) both read these names from here,
so a renamed folder cannot drift between the request and the code that runs in the job.

Where SageMaker puts things (brief ``sagemaker.md`` section 1; AWS developer guide):

========================  =====================================================================
Processing input ``X``    ``/opt/ml/processing/input/X`` (each input its own ``LocalPath``)
Processing output ``X``   ``/opt/ml/processing/output/X``, uploaded to the output's S3 URI
Training channel ``X``    ``/opt/ml/input/data/X``
Training model output     ``/opt/ml/model``, uploaded under ``S3OutputPath/JOB/output/``
Training checkpoints      ``/opt/ml/checkpoints``, synced with ``CheckpointConfig.S3Uri``
========================  =====================================================================

Each stage's inputs: ``sfm`` reads ``photos`` (a folder or one ZIP), ``train`` reads ``sfm`` (the
SfM stage's output folder: ``images/``, ``sparse/0``, ``georef.json``), ``compress`` reads
``model`` (the training output, as files or as ``model.tar.gz``). Every job also gets the input
``spec``: a folder holding :data:`SPEC_FILE`, the JSON job spec (stage kind, backend, the
backend's config, run id, attempt, splatkit version; see :func:`splatkit.sagemaker.jobs.job_spec`).
The spec travels as a file because a processing job's environment values are limited to 256
characters and stage configs are longer.

What the platform gives the container besides the data (AWS developer guide: "How Amazon
SageMaker Runs Your Training Image", "Build Your Own Processing Container"):

=================================  ==========================================================
Training hyperparameters           ``/opt/ml/input/config/hyperparameters.json``
Training channels                  ``/opt/ml/input/config/inputdataconfig.json``
Training hosts                     ``/opt/ml/input/config/resourceconfig.json``
Processing job (the whole request) ``/opt/ml/config/processingjobconfig.json``
Training failure reason            ``/opt/ml/output/failure`` (first 1024 characters become
                                   ``FailureReason``)
Processing exit message            ``/opt/ml/output/message`` (first 1 KB, UTF-8, becomes
                                   ``ExitMessage``)
=================================  ==========================================================

Every path here is absolute in the container; :func:`local_path` maps it under another root
(the environment variable :data:`ENV_ROOT`), which is how tests run the entry outside a container.
Next to its output every job writes :data:`RESULT_FILE`: the stage's report and files, so the
client rebuilds the same :class:`~splatkit.stages.StageResult` a local run returns.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CHECKPOINT_DIR",
    "ENV_ROOT",
    "FAILURE_FILE",
    "HYPERPARAMETERS_FILE",
    "INPUT_CONFIG_DIR",
    "INPUT_DATA_CONFIG_FILE",
    "MESSAGE_FILE",
    "MESSAGE_LIMIT_BYTES",
    "PROCESSING_CONFIG_FILE",
    "PROCESSING_RESOURCE_CONFIG_FILE",
    "RESULT_FILE",
    "STOP_GRACE_S",
    "TRAINING_RESOURCE_CONFIG_FILE",
    "local_path",
    "ENTRY_COMMAND",
    "ENTRY_MODULE",
    "ENV_ATTEMPT",
    "ENV_BACKEND",
    "ENV_RUN_ID",
    "ENV_SPEC_SHA256",
    "ENV_STAGE",
    "MODEL_DIR",
    "OPT_ML",
    "PROCESSING_INPUT_ROOT",
    "PROCESSING_OUTPUT_ROOT",
    "PROCESSING_ROOT",
    "SPEC_FILE",
    "SPEC_INPUT",
    "STAGE_INPUTS",
    "STAGE_OUTPUTS",
    "TRAINING_CHANNEL_ROOT",
    "processing_input_path",
    "processing_output_path",
    "training_channel_path",
]

OPT_ML = "/opt/ml"
PROCESSING_ROOT = "/opt/ml/processing"
PROCESSING_INPUT_ROOT = "/opt/ml/processing/input"
PROCESSING_OUTPUT_ROOT = "/opt/ml/processing/output"
TRAINING_CHANNEL_ROOT = "/opt/ml/input/data"
MODEL_DIR = "/opt/ml/model"
CHECKPOINT_DIR = "/opt/ml/checkpoints"
INPUT_CONFIG_DIR = "/opt/ml/input/config"
HYPERPARAMETERS_FILE = "/opt/ml/input/config/hyperparameters.json"
INPUT_DATA_CONFIG_FILE = "/opt/ml/input/config/inputdataconfig.json"
TRAINING_RESOURCE_CONFIG_FILE = "/opt/ml/input/config/resourceconfig.json"
PROCESSING_CONFIG_FILE = "/opt/ml/config/processingjobconfig.json"
PROCESSING_RESOURCE_CONFIG_FILE = "/opt/ml/config/resourceconfig.json"
FAILURE_FILE = "/opt/ml/output/failure"
MESSAGE_FILE = "/opt/ml/output/message"
#: SageMaker keeps the first 1024 characters of the failure file and the first 1 KB of the message.
MESSAGE_LIMIT_BYTES = 1024
#: Seconds between SIGTERM and SIGKILL when SageMaker stops a job (``docker stop -t 120``).
STOP_GRACE_S = 120

#: Environment variable naming the folder that stands for ``/opt/ml`` (tests; unset in a job).
ENV_ROOT = "SPLATKIT_SAGEMAKER_ROOT"
#: Written next to every job's output by the entry, read (and removed) by the client.
RESULT_FILE = "splatkit-stage-result.json"

ENTRY_MODULE = "splatkit.sagemaker.entry"
#: The processing jobs' ContainerEntrypoint, before the stage kind. ``python3``: CUDA and Debian
#: base images have no ``python`` command. Training jobs use the image's ENTRYPOINT, to which
#: SageMaker appends ``train``.
ENTRY_COMMAND: tuple[str, ...] = ("python3", "-m", ENTRY_MODULE)

#: Name of the input (processing) or channel (training) holding the job spec, and its file name.
SPEC_INPUT = "spec"
SPEC_FILE = "stage.json"
#: The data input(s) of each stage kind, besides :data:`SPEC_INPUT`.
STAGE_INPUTS: dict[str, tuple[str, ...]] = {"sfm": ("photos",), "train": ("sfm",), "compress": ("model",)}
#: The output of each processing stage (training writes to :data:`MODEL_DIR`).
STAGE_OUTPUTS: dict[str, str] = {"sfm": "sfm", "compress": "compress"}

# Environment of every job: identity only (the config is in the spec file).
ENV_STAGE = "SPLATKIT_STAGE"
ENV_BACKEND = "SPLATKIT_BACKEND"
ENV_RUN_ID = "SPLATKIT_RUN_ID"
ENV_ATTEMPT = "SPLATKIT_ATTEMPT"
ENV_SPEC_SHA256 = "SPLATKIT_SPEC_SHA256"


def processing_input_path(name: str) -> str:
    """LocalPath of the processing input ``name``."""
    return f"{PROCESSING_INPUT_ROOT}/{name}"


def processing_output_path(name: str) -> str:
    """LocalPath of the processing output ``name``."""
    return f"{PROCESSING_OUTPUT_ROOT}/{name}"


def training_channel_path(name: str) -> str:
    """Where SageMaker puts training channel ``name`` (File mode)."""
    return f"{TRAINING_CHANNEL_ROOT}/{name}"


def local_path(path: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Where the container path ``path`` (under ``/opt/ml``) is on this machine.

    ``root`` (default: the environment variable :data:`ENV_ROOT`, else ``/opt/ml``) stands for
    ``/opt/ml``. A path outside ``/opt/ml`` is a ValueError: every path SageMaker gives a job is
    under it.
    """
    if path != OPT_ML and not path.startswith(OPT_ML + "/"):
        raise ValueError(f"{path!r} is not under {OPT_ML}")
    base = Path(root if root is not None else (os.environ.get(ENV_ROOT) or OPT_ML))
    rest = path[len(OPT_ML):].lstrip("/")
    return base / rest if rest else base
