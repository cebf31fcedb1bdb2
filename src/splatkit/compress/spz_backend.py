"""The ``compress/spz`` stage: GaussianCloud -> Niantic SPZ (``scene.spz``), 8-bit quantised and gzipped.

The file layout and the quantisation live in :mod:`splatkit.io.spz`; this stage picks the options,
writes the file into the workdir, reads it back and reports what the format lost per attribute.
SPZ is a fixed quantiser (no fitting), so encoding takes about a second per million splats.
Selected with ``--compress spz``; ``compress/sog`` stays the default.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from splatkit.contracts import SH_COEFFS_FOR_DEGREE, CompressedBundle, GaussianCloud
from splatkit.errors import ContractError
from splatkit.io import spz
from splatkit.compress.inputs import cap_sh_degree, checked_input
from splatkit.io.atomic import atomic_write_bytes
from splatkit.plugins.spec import hookimpl
from splatkit.stages import (ProgressCallback, ProgressUpdate, Stage, StageResult, config_to_dict, no_progress,
                             ranged)

__all__ = ["SPZ_MEMBER", "SpzCompressor", "SpzConfig", "splatkit_register_stages"]

logger = logging.getLogger(__name__)

#: The file written in the workdir and the bundle's single member.
SPZ_MEMBER = "scene.spz"


def _int_option(name: str, value: Any, allowed: range | tuple[int, ...]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ContractError(f"compress/spz: {name} must be one of {list(allowed)}, got {value!r}",
                            field=f"SpzConfig.{name}", expected=list(allowed), actual=value)


@dataclass(frozen=True, kw_only=True)
class SpzConfig:
    """Options of the ``compress/spz`` stage (flat).

    Attributes
    ----------
    version : {2, 3, 4}
        SPZ version to write: 3 (gzip, read by every SPZ reader; default), 2 (the older rotation
        encoding) or 4 (ZSTD streams, ~5-10 % smaller; needs ``pip install zstandard``).
    sh_degree : int or None
        Keep SH bands up to this degree (0..3); None keeps what the cloud has.
    fractional_bits : int
        Fractional bits of the 24-bit fixed-point positions (0..23). 12 (Niantic's) gives 0.24 mm
        steps within +-2048 scene units; a larger scene needs fewer (the error says how many).
    sh1_bits, sh_rest_bits : int
        Bits kept (1..8) of the 8-bit SH coefficients of band 1 and of bands 2-3 (Niantic: 5, 4).
    antialiased : bool
        Set the header flag for clouds trained with mip-splatting's antialiasing filter.
    verify : bool
        Read the file back and report the decode error per attribute.
    """

    version: int = spz.SPZ_DEFAULT_VERSION
    sh_degree: int | None = ranged(None, ge=0, le=3)
    fractional_bits: int = ranged(12, ge=0, le=23)
    sh1_bits: int = ranged(5, ge=1, le=8)
    sh_rest_bits: int = ranged(4, ge=1, le=8)
    antialiased: bool = False
    verify: bool = True

    def __post_init__(self) -> None:
        # refuse bad options before any work or output folder
        _int_option("version", self.version, spz.SPZ_WRITE_VERSIONS)
        if self.sh_degree is not None:
            _int_option("sh_degree", self.sh_degree, tuple(SH_COEFFS_FOR_DEGREE))
        _int_option("fractional_bits", self.fractional_bits, range(0, 24))
        _int_option("sh1_bits", self.sh1_bits, range(1, 9))
        _int_option("sh_rest_bits", self.sh_rest_bits, range(1, 9))
        if self.version == 4 and spz.zstd_unavailable_reason() is not None:
            raise ContractError(f"compress/spz: version=4 cannot be written here: {spz.zstd_unavailable_reason()} "
                                "(or use version=3)", field="SpzConfig.version", expected="3 or zstandard installed",
                                actual=self.version)

    def encode_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`splatkit.io.spz.encode_spz` for these options."""
        return {"version": self.version, "fractional_bits": self.fractional_bits, "sh1_bits": self.sh1_bits,
                "sh_rest_bits": self.sh_rest_bits, "antialiased": self.antialiased}


def _out_of_range(cloud: GaussianCloud) -> dict[str, int]:
    """Splats with a value the SPZ byte encodings clamp (the error report shows by how much)."""
    scale_lo, scale_hi = -10.0, 255 / 16 - 10.0           # log-scale bytes: b / 16 - 10
    colour = 0.5 / 0.15                                   # DC bytes: (b / 255 - 0.5) / 0.15
    return {
        "log_scales": int(((cloud.log_scales < scale_lo) | (cloud.log_scales > scale_hi)).any(axis=1).sum()),
        "sh0": int((np.abs(cloud.sh0) > colour).any(axis=1).sum()),
        "shN": int((np.abs(cloud.shN) > 1.0).any(axis=(1, 2)).sum()) if cloud.shN.shape[1] else 0,
    }


class SpzCompressor(Stage):
    """GaussianCloud -> one Niantic SPZ file, byte-identical to what Niantic's library writes."""

    kind: ClassVar[str] = "compress"
    name: ClassVar[str] = "spz"
    Config: ClassVar[type] = SpzConfig
    description: ClassVar[str] = "Niantic SPZ (8-bit quantised, gzipped: ~7x smaller than a 3DGS PLY at SH degree 3)"
    install_hint: ClassVar[str] = ""

    def run(
        self,
        input: Any,
        config: Any,
        workdir: Path,
        progress: ProgressCallback = no_progress,
    ) -> StageResult[CompressedBundle]:
        """Write ``workdir/scene.spz`` and return the bundle holding the same bytes.

        Returns
        -------
        StageResult[CompressedBundle]
            A report with ``format``, ``version``, ``config``, ``source_count``, ``count``,
            ``sh_degree``, ``source_sh_degree``, ``bytes``, ``bytes_per_splat``, ``ply_bytes``
            (canonical PLY of the encoded cloud), ``ratio_vs_ply``, ``georeference_dropped``,
            ``out_of_range`` (splats per attribute outside what the bytes can hold, clamped),
            ``errors`` (max and RMS decode error per attribute; empty when ``verify`` is off) and
            ``timings``.

        Raises
        ------
        ContractError
            ``input`` is not a finite GaussianCloud, ``config`` not an SpzConfig, or a coordinate
            does not fit the fixed point of ``fractional_bits``.
        """
        from splatkit.compress.sog_encoder import decode_errors, ply_size

        stage = self.qualified_name()
        input = checked_input(stage, input, config, SpzConfig)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        progress(ProgressUpdate(stage=stage, step=0, total=3, message="encoding SPZ"))
        cloud = cap_sh_degree(input, config.sh_degree)
        data = spz.encode_spz(cloud, **config.encode_options())
        timings["encode"] = round(time.perf_counter() - started, 4)

        started = time.perf_counter()
        path = atomic_write_bytes(Path(workdir) / SPZ_MEMBER, data)
        timings["write"] = round(time.perf_counter() - started, 4)
        progress(ProgressUpdate(stage=stage, step=2, total=3, message="wrote SPZ", metrics={"bytes": float(len(data))}))

        errors: dict[str, float] = {}
        if config.verify:
            started = time.perf_counter()
            errors = decode_errors(cloud, spz.decode_spz(data, source=str(path)))
            timings["verify"] = round(time.perf_counter() - started, 4)
        count = len(cloud)
        ply_bytes = ply_size(count, cloud.sh_degree, georeference=input.georeference is not None)
        meta: dict[str, Any] = {
            "count": count,
            "sh_degree": cloud.sh_degree,
            "fractional_bits": config.fractional_bits,
            "antialiased": config.antialiased,
        }
        bundle = CompressedBundle(format="spz", version=config.version, meta=meta, members={SPZ_MEMBER: data},
                                  source_count=len(input))
        report: dict[str, Any] = {
            "format": "spz",
            "version": config.version,
            "config": config_to_dict(config),
            "source_count": len(input),
            "count": count,
            "sh_degree": cloud.sh_degree,
            "source_sh_degree": input.sh_degree,
            "bytes": len(data),
            "bytes_per_splat": round(len(data) / count, 3),
            "ply_bytes": int(ply_bytes),
            "ratio_vs_ply": round(ply_bytes / len(data), 3),
            "georeference_dropped": input.georeference is not None,
            "out_of_range": _out_of_range(cloud),
            "errors": errors,
            "timings": timings,
        }
        logger.info("compress/spz: %d splats -> %s (%d bytes, %.2f B/splat, %.1fx vs PLY)", count, path,
                    len(data), len(data) / count, ply_bytes / len(data))
        progress(ProgressUpdate(stage=stage, step=3, total=3, message="done"))
        return StageResult(output=bundle, report=report, files=(path,))


@hookimpl
def splatkit_register_stages(registry: Any) -> None:
    """Register :class:`SpzCompressor` as ``compress/spz``."""
    registry.add(SpzCompressor)
