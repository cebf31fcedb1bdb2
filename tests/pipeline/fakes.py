"""Tiny stand-ins for the heavy stages, so the pipeline's resume logic is tested in seconds.

``FakeSfM`` writes the SfM layout (``images/`` + ``sparse/0``) of a small exact scene made in
numpy; ``FakeTrainer`` "trains" by checkpointing a counter and writes a real 3DGS PLY.
Both count their runs in class attributes, and can be told to fail or to hang.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from splatkit import hookimpl
from splatkit.contracts import Camera, GaussianCloud
from splatkit.errors import StageError
from splatkit.io.atomic import atomic_write_text
from splatkit.io.colmap import write_colmap_model
from splatkit.stages import ProgressUpdate, Stage, StageResult
from tests.sfm.synthetic_scene import make_scene

PHOTO_NAMES = tuple(f"img_{i:03d}.png" for i in range(6))


def write_photos(folder: Path, *, seed: int = 0) -> Path:
    """Six small PNG 'photos' (random colours): the pipeline's source for the fake SfM."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in PHOTO_NAMES:
        Image.fromarray(rng.integers(0, 255, size=(24, 32, 3), dtype=np.uint8)).save(folder / name)
    return folder


@dataclass(frozen=True, kw_only=True)
class FakeSfMConfig:
    num_points: int = 150
    fail: bool = False
    label: str = ""  # changes the config digest, not the output


class FakeSfM(Stage):
    """Photos folder -> the SfM layout of a synthetic PINHOLE scene (images are the input photos)."""

    kind = "sfm"
    name = "fake"
    Config = FakeSfMConfig
    runs: ClassVar[int] = 0

    def run(self, input: Any, config: Any, workdir: Path, progress: Any = None) -> StageResult[Any]:
        type(self).runs += 1
        if config.fail:
            raise StageError("told to fail", stage="sfm/fake", source=str(input))
        workdir = Path(workdir)
        camera = Camera(model="PINHOLE", width=32, height=24, params=np.array([30.0, 30.0, 16.0, 12.0]))
        rec = make_scene(camera=camera, num_frames=len(PHOTO_NAMES), num_points=config.num_points,
                         names=PHOTO_NAMES)
        images = workdir / "images"
        images.mkdir(parents=True, exist_ok=True)
        for name in PHOTO_NAMES:
            (images / name).write_bytes((Path(input) / name).read_bytes())
        model = write_colmap_model(rec, workdir / "sparse" / "0")
        report = {"images_registered": len(rec.frames), "points": len(rec.points),
                  "reprojection_error_px": {"median": 0.0}}
        atomic_write_text(workdir / "report.json", json.dumps(report))
        if progress is not None:
            progress(ProgressUpdate(stage="sfm/fake", step=1, total=1, message="done"))
        return StageResult(output=rec, report=report, files=(model, images, workdir / "report.json"))


@dataclass(frozen=True, kw_only=True)
class FakeTrainConfig:
    steps: int = 4
    checkpoint_every: int = 1
    step_seconds: float = 0.0
    seed: int = 0
    fail_at: int = -1


class FakeTrainer(Stage):
    """Counts steps with a checkpoint file per step (resumes from the last), writes a small PLY."""

    kind = "train"
    name = "fake"
    Config = FakeTrainConfig
    runs: ClassVar[int] = 0
    resumed_from: ClassVar[list[int]] = []
    crash_at: ClassVar[int | None] = None  # a failure that is not part of the options

    def run(self, input: Any, config: Any, workdir: Path, progress: Any = None) -> StageResult[Any]:
        from splatkit.io.ply import write_ply

        type(self).runs += 1
        workdir = Path(workdir)
        assert (Path(input) / "sparse" / "0").is_dir(), input
        ckpts = workdir / "checkpoints"
        ckpts.mkdir(parents=True, exist_ok=True)
        done = sorted(int(p.stem.split("_")[1]) for p in ckpts.glob("ckpt_*.json"))
        start = done[-1] if done else 0
        type(self).resumed_from.append(start)
        for step in range(start, config.steps):
            if step == config.fail_at or step == type(self).crash_at:
                raise StageError(f"told to fail at step {step}", stage="train/fake", source=str(input))
            time.sleep(config.step_seconds)
            if (step + 1) % config.checkpoint_every == 0:
                atomic_write_text(ckpts / f"ckpt_{step + 1:04d}.json", json.dumps({"step": step + 1}))
            if progress is not None:
                progress(ProgressUpdate(stage="train/fake", step=step + 1, total=config.steps,
                                        metrics={"loss": 1.0 / (step + 1)}))
        rng = np.random.default_rng(config.seed)
        n = 20
        cloud = GaussianCloud(means=rng.normal(size=(n, 3)).astype(np.float32),
                              log_scales=np.full((n, 3), -2.0, np.float32),
                              quats=np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)),
                              opacity_logits=np.zeros(n, np.float32), sh0=np.zeros((n, 3), np.float32),
                              shN=np.zeros((n, 0, 3), np.float32))
        ply = write_ply(cloud, workdir / "point_cloud.ply")
        curve = [{"step": s, "loss": 1.0 / (s + 1), "num_gaussians": n} for s in range(config.steps)]
        report = {"steps": config.steps, "resumed_from_step": start, "num_gaussians": n, "curve": curve,
                  "final_loss": curve[-1]["loss"], "heldout": {"mean": {}, "views": []},
                  "pid": os.getpid()}
        return StageResult(output=cloud, report=report, files=(Path(ply),))


class FakeStagesPlugin:
    @hookimpl
    def splatkit_register_stages(self, registry: Any) -> None:
        registry.add(FakeSfM)
        registry.add(FakeTrainer)
