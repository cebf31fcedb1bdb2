"""The scenes ``splatkit bench`` knows by name, and where their photos come from.

Real scenes are folders under a datasets root (the project's ``../shared/datasets``, a
SageMaker channel, ``$SPLATKIT_DATASETS``); the synthetic scene is rendered on the spot by
:mod:`splatkit.demo`, so it needs no dataset at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from splatkit.errors import InputError

__all__ = ["SCENES", "SYNTHETIC", "ENV_DATASETS", "SAGEMAKER_DATASETS_CHANNEL", "BenchScene", "default_datasets_root",
           "prepare_photos"]

#: Environment variable naming the datasets root (the tests use the same one).
ENV_DATASETS = "SPLATKIT_DATASETS"
#: Training-job channel that holds the datasets inside SageMaker (``/opt/ml/input/data/datasets``).
SAGEMAKER_DATASETS_CHANNEL = "datasets"
SYNTHETIC = "synthetic"


@dataclass(frozen=True, kw_only=True)
class BenchScene:
    """A named benchmark scene.

    Attributes
    ----------
    name : str
        What ``splatkit bench NAME`` takes.
    photos : str
        Photo folder relative to the datasets root ("" for the synthetic scene).
    description : str
        One line for ``--help`` and the record.
    """

    name: str
    photos: str
    description: str

    @property
    def synthetic(self) -> bool:
        return not self.photos


SCENES: dict[str, BenchScene] = {s.name: s for s in (
    BenchScene(name="caliterra-30", photos="odm-caliterra-30/images",
               description="30 nadir drone photos, 4000x3000, GPS EXIF (OpenDroneMap caliterra)"),
    BenchScene(name="caliterra-subset10", photos="odm-caliterra-subset10/images",
               description="10 of the caliterra drone photos, 4000x3000, GPS EXIF"),
    BenchScene(name="llff-fern", photos="llff-fern/images_8",
               description="20 forward-facing photos of a fern, 504x378 (LLFF), no EXIF"),
    BenchScene(name=SYNTHETIC, photos="",
               description="the demo's 32 synthetic geotagged drone photos, 320x240, rendered here (no dataset)"),
)}


def default_datasets_root() -> Path | None:
    """``$SPLATKIT_DATASETS``; else the SageMaker ``datasets`` channel inside a training job; else None."""
    env = os.environ.get(ENV_DATASETS)
    if env:
        return Path(env)
    if os.environ.get("TRAINING_JOB_NAME"):
        from splatkit.sagemaker import container

        return container.local_path(container.training_channel_path(SAGEMAKER_DATASETS_CHANNEL))
    return None


def prepare_photos(scene: BenchScene, work_dir: Path, datasets_root: Path | None) -> Path:
    """The photo folder of ``scene``: the dataset's folder, or the synthetic photos rendered under ``work_dir``.

    Raises
    ------
    InputError
        A real scene without a datasets root, or whose folder is missing (names the path and the fix).
    """
    if scene.synthetic:
        from splatkit.demo import generate_demo_photos

        return Path(generate_demo_photos(work_dir / "scene"))
    if datasets_root is None:
        raise InputError(f"bench: scene {scene.name!r} needs its photos ({scene.photos}); pass --datasets DIR "
                         f"or set {ENV_DATASETS} (the '{SYNTHETIC}' scene needs no dataset)")
    photos = Path(datasets_root) / scene.photos
    if not photos.is_dir():
        raise InputError(f"bench: scene {scene.name!r}: {photos} is not a folder; --datasets must hold "
                         f"{scene.photos} (or use the '{SYNTHETIC}' scene)")
    return photos
