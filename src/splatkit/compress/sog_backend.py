"""The ``compress/sog`` stage: GaussianCloud -> SOG v2 (``scene.sog``), PlayCanvas-compatible.

Register with ``splatkit.compress.sog_backend`` in the built-in plugin tuple; the hook below
adds :class:`SogCompressor`. Heavy work lives in :mod:`splatkit.compress.sog_encoder`; torch is
only imported there when the palette k-means looks for CUDA.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splatkit.contracts import CompressedBundle, GaussianCloud
from splatkit.errors import ContractError
from splatkit.io import sog
from splatkit.plugins.spec import hookimpl
from splatkit.stages import (ProgressCallback, ProgressUpdate, Stage, StageResult, config_to_dict, no_progress,
                             ranged)

if TYPE_CHECKING:
    from splatkit.compress.sog_encoder import SogEncodeOptions

__all__ = ["SogCompressor", "splatkit_register_stages"]

logger = logging.getLogger(__name__)

#: Primary artifact names under the stage's workdir.
BUNDLE_NAME = "scene.sog"
FOLDER_NAME = "scene"


@dataclass(frozen=True, kw_only=True)
class SogConfig:
    """Options of the ``compress/sog`` stage (flat).

    Attributes
    ----------
    order : {"morton", "plas"}
        ``"morton"`` (default: the smaller files with lossless WebP) or ``"plas"`` (2-D
        self-organising sort: 2-13 % larger on a trained cloud and slower, see
        docs/compression.md; pads the texture with transparent splats that only splatkit's
        decoder drops).
    sh_degree : int or None
        Cap the SH degree (0 drops all higher-order SH: ~2.5x smaller, seconds to encode).
    palette_size : int or None
        SH palette entries (1..65536); None = splat-transform's rule (64K from 65,536 splats).
    iterations : int
        SH palette k-means iterations.
    seed : int
        Seeds the k-means.
    bundle : bool
        Write one ``scene.sog`` ZIP (True) or a ``scene/`` folder with ``meta.json``.
    recentre : bool
        Recentre positions before quantising (offset kept in ``meta.splatkit``).
    webp_effort : int
        libwebp lossless preset 0..9.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``, ``"cpu"`` or ``"cuda"`` for the palette k-means and the PLAS sort.
    verify : bool
        Decode the result and report per-attribute errors (costs a WebP decode).
    quality_views : int
        Render the encoded and the decoded cloud from this many orbit cameras and report the PSNR
        (:func:`splatkit.compress.quality.render_psnr`; needs ``verify`` and the rasterizer:
        torch + numba, or gsplat on CUDA). 0 disables it.
    """

    order: str = "morton"
    sh_degree: int | None = ranged(None, ge=0, le=3)
    palette_size: int | None = ranged(None, ge=1, le=sog.MAX_PALETTE_ENTRIES)
    iterations: int = ranged(10, ge=0)
    seed: int = ranged(0, ge=0)
    bundle: bool = True
    recentre: bool = True
    webp_effort: int = ranged(sog.DEFAULT_WEBP_EFFORT, ge=0, le=len(sog.WEBP_EFFORT_PRESETS) - 1)
    device: str = "auto"
    verify: bool = True
    quality_views: int = ranged(4, ge=0)

    def __post_init__(self) -> None:
        self.encode_options()           # refuse bad options before any work or output folder
        if self.quality_views < 0:
            raise ContractError(f"compress/sog: quality_views must be >= 0 (0 disables the render PSNR), got "
                                f"{self.quality_views}", field="SogConfig.quality_views", expected=">= 0",
                                actual=self.quality_views)


    def encode_options(self) -> "SogEncodeOptions":
        """The encoder options these stage options stand for (validated)."""
        from splatkit.compress.sog_encoder import SogEncodeOptions

        return SogEncodeOptions(order=self.order, sh_degree=self.sh_degree, palette_size=self.palette_size,
                                iterations=self.iterations, seed=self.seed, recentre=self.recentre,
                                webp_effort=self.webp_effort, device=self.device)


class SogCompressor(Stage):
    """SOG v2 writer: Morton-ordered, codebook-quantised, lossless-WebP textures."""

    kind = "compress"
    name = "sog"
    default_rank = 100
    Config = SogConfig
    description = "SOG v2 (PlayCanvas/SuperSplat web format): 5-15x smaller than a 3DGS PLY"
    install_hint = ""

    def run(self, input: Any, config: SogConfig, workdir: Path,
            progress: ProgressCallback = no_progress) -> StageResult[CompressedBundle]:
        """Encode ``input`` and write ``workdir/scene.sog`` (or ``workdir/scene/``).

        Returns
        -------
        StageResult[CompressedBundle]
            The bundle; a report with ``count`` (real splats), ``file_count`` (``meta.count``:
            real plus ``padding``), ``order_stats`` (PLAS), ``dropped_invalid``, ``bytes``,
            ``bytes_per_splat``, ``ply_bytes`` (canonical PLY of the encoded cloud), ``ratio_vs_ply``,
            ``ratio_vs_input_ply`` (vs the PLY of the input before drops and the SH cap),
            ``members`` (bytes each), ``errors`` (per attribute), ``render_psnr`` (decoded vs
            encoded renders, :func:`~splatkit.compress.quality.render_psnr`; ``{"skipped": why}``
            when it cannot run or is off) and ``timings`` (seconds per step).
        """
        from splatkit.compress.sog_encoder import decode_errors, encode_sog, ply_size

        if not isinstance(input, GaussianCloud):
            raise ContractError(f"compress/sog expects a GaussianCloud, got {type(input).__name__}",
                                field="input", expected="GaussianCloud", actual=type(input).__name__)
        qualified = self.qualified_name()
        options = config.encode_options()

        def on_step(message: str, step: int, total: int) -> None:
            progress(ProgressUpdate(stage=qualified, step=step, total=total + 2, message=message))

        encoding = encode_sog(input, options, on_step=on_step)
        timings = dict(encoding.timings)
        bundle = encoding.bundle

        progress(ProgressUpdate(stage=qualified, step=8, total=10, message="write"))
        started = time.perf_counter()
        workdir = Path(workdir)
        target = workdir / (BUNDLE_NAME if config.bundle else FOLDER_NAME)
        sog.write_sog(bundle, target, bundled=config.bundle)
        timings["write"] = round(time.perf_counter() - started, 4)
        size = target.stat().st_size if config.bundle else sum(p.stat().st_size for p in target.iterdir())

        errors: dict[str, float] = {}
        quality: dict[str, Any] = {"skipped": "verify=False (the render PSNR needs the decoded cloud)"}
        if config.verify:
            progress(ProgressUpdate(stage=qualified, step=9, total=10, message="verify"))
            started = time.perf_counter()
            decoded = sog.decode_sog(bundle, source=target)
            errors = decode_errors(encoding.encoded, decoded)
            timings["verify"] = round(time.perf_counter() - started, 4)
            started = time.perf_counter()
            quality = _render_quality(encoding.encoded, decoded, config)
            if "skipped" not in quality:
                timings["render_psnr"] = round(time.perf_counter() - started, 4)

        meta = encoding.meta
        file_count = meta.count
        count = file_count - encoding.padding
        ply_bytes = ply_size(count, encoding.encoded.sh_degree, georeference=input.georeference is not None)
        report: dict[str, Any] = {
            "format": sog.SOG_FORMAT,
            "version": meta.version,
            "config": config_to_dict(config),
            "source_count": len(input),
            "count": count,
            "file_count": file_count,
            "padding": encoding.padding,
            "order": config.order,
            "order_stats": encoding.order_stats,
            "dropped_invalid": encoding.dropped_invalid,
            "sh_degree": encoding.encoded.sh_degree,
            "palette_size": meta.palette_size,
            "bytes": int(size),
            "bytes_per_splat": round(size / count, 3),
            "ply_bytes": int(ply_bytes),
            "ratio_vs_ply": round(ply_bytes / size, 3),
            # vs the PLY of the cloud as given (before dropping splats and capping the SH degree)
            "ratio_vs_input_ply": round(ply_size(len(input), input.sh_degree,
                                                 georeference=input.georeference is not None) / size, 3),
            "members": {name: len(data) for name, data in bundle.members.items()},
            "offset": None if meta.splatkit is None or meta.splatkit.offset is None else list(meta.splatkit.offset),
            "errors": errors,
            "render_psnr": quality,
            "timings": timings,
        }
        logger.info("compress/sog: %d splats -> %s (%d bytes, %.2f B/splat, %.1fx vs PLY)", count, target, size,
                    size / count, ply_bytes / size)
        progress(ProgressUpdate(stage=qualified, step=10, total=10, message="done"))
        return StageResult(output=bundle, report=report, files=(target,))


def _render_quality(encoded: GaussianCloud, decoded: GaussianCloud, config: SogConfig) -> dict[str, Any]:
    """Render PSNR of ``decoded`` vs ``encoded`` (same splats, file order), or why it was skipped."""
    from splatkit.compress.quality import choose_render_backend, render_psnr, render_unavailable_reason

    if config.quality_views == 0:
        return {"skipped": "quality_views=0"}
    backend = choose_render_backend(config.device)
    reason = render_unavailable_reason(backend)
    if reason is not None:
        logger.info("compress/sog: no render PSNR, rasterizer %r unavailable: %s", backend, reason)
        return {"skipped": f"rasterizer {backend!r} unavailable: {reason}"}
    # The reference is the cloud as encoded (invalid splats dropped, SH capped): the PSNR measures
    # what quantisation lost, not what the SH cap removed on purpose.
    return render_psnr(encoded, decoded, views=config.quality_views, backend=backend)


@hookimpl
def splatkit_register_stages(registry: Any) -> None:
    """Add the ``compress/sog`` stage."""
    registry.add(SogCompressor)
