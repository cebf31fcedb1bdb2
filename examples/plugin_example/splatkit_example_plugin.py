"""An example splatkit plugin: a ``compress`` stage that stores a Gaussian cloud as float16 NPZ.

``compress/npz-half`` halves a cloud's size by storing every attribute as IEEE half floats
(11 significant bits, relative error <= 2**-11), keeping the centres at float32 by default. It is
the smallest useful compressor: a preview format, and a template for your own stage.

The module also shows the two kinds of hooks: ``splatkit_register_stages`` adds the stage, and
``splatkit_stage_finished`` / ``splatkit_stage_failed`` receive events (here they log a metrics
line; a real plugin could send an e-mail or push to StatsD).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import splatkit
from splatkit import CompressedBundle, ContractError, GaussianCloud, Stage, StageError, StageResult
from splatkit.io.atomic import atomic_write_bytes
from splatkit.plugins import StageRegistry
from splatkit.stages import ProgressCallback, ProgressUpdate, no_progress

__all__ = ["NpzHalfCompressor", "NpzHalfConfig", "decode_npz_half"]

logger = logging.getLogger(__name__)

FORMAT = "npz-half"
MEMBER = "cloud.npz"
_ARRAYS = ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN")
_HALF_MAX = float(np.finfo(np.float16).max)  # 65504: larger magnitudes would become inf


@dataclass(frozen=True, kw_only=True)
class NpzHalfConfig:
    """Options of ``compress/npz-half``: flat, each with a scalar default.

    Attributes
    ----------
    keep_means_float32 : bool
        Store centres at full precision. float16 keeps about 3 significant digits, so in a scene
        500 m across a centre could move by 0.25 m.
    deflate : bool
        Deflate the NPZ members (smaller file, slower to write).
    """

    keep_means_float32: bool = True
    deflate: bool = True


class NpzHalfCompressor(Stage):
    """GaussianCloud -> CompressedBundle with one member, ``cloud.npz``."""

    kind = "compress"
    name = "npz-half"
    Config = NpzHalfConfig
    description = "float16 NPZ: half the size of a float32 PLY, for previews"
    install_hint = "pip install splatkit-example-plugin"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        # Cheap: find_spec looks the module up without importing it. A stage that needs torch
        # would check find_spec("torch") here and import torch inside run().
        if importlib.util.find_spec("zlib") is None:
            return "this Python was built without zlib; rebuild it with zlib or use another compressor"
        return None

    def run(
        self,
        input: GaussianCloud,
        config: NpzHalfConfig,
        workdir: Path,
        progress: ProgressCallback = no_progress,
    ) -> StageResult[CompressedBundle]:
        cloud = input.validate(source="compress/npz-half input")
        arrays: dict[str, np.ndarray] = {}
        for name in _ARRAYS:
            values = getattr(cloud, name)  # read-only: the stage never mutates its input
            if name == "means" and config.keep_means_float32:
                arrays[name] = values
                continue
            if values.size and float(np.abs(values).max()) > _HALF_MAX:
                raise StageError(f"GaussianCloud.{name} holds values beyond float16's range "
                                 f"(|x| > {_HALF_MAX:g}); use a float32 format such as compress/ply",
                                 stage=self.qualified_name())
            arrays[name] = values.astype(np.float16)
        buffer = io.BytesIO()
        (np.savez_compressed if config.deflate else np.savez)(buffer, **arrays)
        data = buffer.getvalue()
        progress(ProgressUpdate(stage=self.qualified_name(), step=1, total=1, message="encoded"))

        georeference = None if cloud.georeference is None else cloud.georeference.to_dict()
        bundle = CompressedBundle(format=FORMAT, version=1, members={MEMBER: data}, source_count=len(cloud),
                                  meta={"sh_degree": cloud.sh_degree, "georeference": georeference})
        path = atomic_write_bytes(Path(workdir) / MEMBER, data)  # never a partial file on error
        float32_bytes = sum(getattr(cloud, n).nbytes for n in _ARRAYS)
        report = {"gaussians": len(cloud), "bytes": len(data), "ratio_vs_float32": len(data) / max(float32_bytes, 1)}
        logger.info("compress/npz-half: %d Gaussians -> %d bytes", len(cloud), len(data))
        return StageResult(output=bundle, report=report, files=(path,))


def decode_npz_half(bundle: CompressedBundle) -> GaussianCloud:
    """The :class:`GaussianCloud` stored in a bundle made by ``compress/npz-half`` (float32 again)."""
    if bundle.format != FORMAT or MEMBER not in bundle.members:
        raise ContractError(f"not an {FORMAT} bundle: format {bundle.format!r}, members {sorted(bundle.members)}",
                            field="CompressedBundle.members", expected=MEMBER, actual=sorted(bundle.members))
    with np.load(io.BytesIO(bundle.members[MEMBER]), allow_pickle=False) as npz:
        arrays = {name: npz[name].astype(np.float32) for name in _ARRAYS}
    origin = bundle.meta.get("georeference")
    georeference = None if origin is None else splatkit.Georeference.from_dict(origin)
    return GaussianCloud(**arrays, georeference=georeference)


@splatkit.hookimpl
def splatkit_register_stages(registry: StageRegistry) -> None:
    registry.add(NpzHalfCompressor)


@splatkit.hookimpl
def splatkit_stage_finished(stage: str, report: dict[str, Any], seconds: float) -> None:
    # A hook may take fewer arguments than the spec (here no ``files``); pluggy passes only those.
    logger.info("metrics %s", json.dumps({"stage": stage, "seconds": round(seconds, 3), **report}, sort_keys=True))


@splatkit.hookimpl
def splatkit_stage_failed(stage: str, error: BaseException) -> None:
    # Stand-in for "send an e-mail": notifiers must not raise; splatkit logs and ignores it if they do.
    logger.warning("stage %s failed: %s", stage, error)
