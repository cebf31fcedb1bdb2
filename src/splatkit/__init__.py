"""splatkit: drone photos -> Structure-from-Motion -> 3D Gaussian Splatting -> SOG compression.

Importing splatkit is light: it never imports torch, pycolmap, gsplat or boto3; backends import
their heavy packages inside ``run()``.
"""

import logging

from splatkit.contracts import (
    Camera,
    CameraHints,
    CompressedBundle,
    Frames,
    GaussianCloud,
    Georeference,
    GpsPosition,
    ImageRecord,
    ImageSet,
    Points,
    Reconstruction,
    Tracks,
)
from splatkit.errors import (
    BackendUnavailableError,
    ContractError,
    InputError,
    PluginError,
    SplatkitError,
    StageError,
)
from splatkit.plugins.spec import hookimpl
from splatkit.stages import ProgressUpdate, Stage, StageResult

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> object:
    # ``splatkit.run`` is the pipeline; imported on first use so ``import splatkit`` stays light.
    if name == "run":
        from splatkit.pipeline.runner import run

        return run
    raise AttributeError(f"module 'splatkit' has no attribute {name!r}")

__all__ = [
    "BackendUnavailableError",
    "Camera",
    "CameraHints",
    "CompressedBundle",
    "ContractError",
    "Frames",
    "GaussianCloud",
    "Georeference",
    "GpsPosition",
    "ImageRecord",
    "ImageSet",
    "InputError",
    "PluginError",
    "Points",
    "ProgressUpdate",
    "Reconstruction",
    "SplatkitError",
    "Stage",
    "StageError",
    "StageResult",
    "Tracks",
    "__version__",
    "hookimpl",
    "run",
]
