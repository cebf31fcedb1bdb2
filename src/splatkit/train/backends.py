"""The training stage backends: ``cpu`` (our rasterizer, anywhere) and ``gsplat`` (CUDA)."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, ClassVar

from splatkit.device import MIN_COMPUTE_CAPABILITY, cuda_problem, nvidia_driver_present, require_cuda
from splatkit.contracts import PosedImages
from splatkit.errors import InputError
from splatkit.io.atomic import atomic_write_text
from splatkit.plugins.spec import hookimpl
from splatkit.stages import ProgressCallback, Stage, StageResult, no_progress
from splatkit.train.config import TrainConfig
from splatkit.train.trainer import train_gaussians

__all__ = ["CpuTrainer", "GsplatTrainer", "load_posed_images"]

logger = logging.getLogger(__name__)


def load_posed_images(source: PosedImages | str | Path) -> PosedImages:
    """Accept ``PosedImages`` or an SfM output folder (``images/`` + ``sparse/0``, see docs/formats.md).

    A folder's ``georef.json`` is re-attached, so the trained cloud keeps the ENU origin.
    """
    if isinstance(source, PosedImages):
        return source
    from splatkit.io.sfm_output import read_sfm_output

    rec, images = read_sfm_output(Path(source))
    if not images.is_dir():
        raise InputError("expected an SfM output folder with images/ and sparse/0/ (what `splatkit sfm` "
                         "writes); images/ is missing", path=source)
    return PosedImages(reconstruction=rec, image_dir=images)


class _TrainStage(Stage):
    kind = "train"
    Config = TrainConfig
    _render_backend = ""

    def _device(self) -> str:
        raise NotImplementedError

    def run(self, input: Any, config: Any, workdir: Path,
            progress: ProgressCallback = no_progress) -> StageResult[Any]:
        from splatkit.io.ply import write_ply

        posed = load_posed_images(input)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        device = self._device()
        outcome = train_gaussians(posed, config, workdir, backend=self._render_backend, device=device,
                                  stage=self.qualified_name(), progress=progress)
        ply = write_ply(outcome.cloud, workdir / "point_cloud.ply")
        report = outcome.report.to_dict()
        metrics = atomic_write_text(workdir / "metrics.json", json.dumps(report, indent=2))
        return StageResult(output=outcome.cloud, report=report, files=(Path(ply), Path(metrics), *outcome.files))


class CpuTrainer(_TrainStage):
    """3DGS training with splatkit's own differentiable CPU rasterizer (no GPU needed)."""

    name = "cpu"
    description = "3DGS training on the CPU with splatkit's rasterizer (small scenes, CI, previews)"
    install_hint = "pip install 'splatkit[train]'"
    default_rank: ClassVar[int] = 100
    _render_backend = "cpu"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        missing = [m for m in ("torch", "gsplat", "numba") if importlib.util.find_spec(m) is None]
        return f"missing {', '.join(missing)}: {cls.install_hint}" if missing else None

    def _device(self) -> str:
        return "cpu"


class GsplatTrainer(_TrainStage):
    """3DGS training with gsplat's CUDA rasterizer."""

    name = "gsplat"
    description = ("3DGS training on a CUDA GPU (compute capability >= "
                   f"{MIN_COMPUTE_CAPABILITY[0]}.{MIN_COMPUTE_CAPABILITY[1]}) with gsplat 1.5.3")
    install_hint = "pip install 'splatkit[train]' on a machine with an NVIDIA GPU and CUDA toolkit"
    default_rank: ClassVar[int] = 200
    _render_backend = "gsplat"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Packages and the NVIDIA driver only (cheap: no torch import)."""
        missing = [m for m in ("torch", "gsplat") if importlib.util.find_spec(m) is None]
        if missing:
            return f"missing {', '.join(missing)}: {cls.install_hint}"
        if not nvidia_driver_present():
            return "no NVIDIA GPU driver found; use the 'cpu' training backend"
        return None

    @classmethod
    def unusable_reason(cls) -> str | None:
        """:meth:`unavailable_reason`, then whether torch sees a CUDA device gsplat can run on."""
        return cls.unavailable_reason() or cuda_problem()

    def _device(self) -> str:
        require_cuda(kind="train", name="gsplat", install_hint="use --backend cpu")
        return "cuda"


@hookimpl
def splatkit_register_stages(registry: Any) -> None:
    registry.add(CpuTrainer)
    registry.add(GsplatTrainer)
