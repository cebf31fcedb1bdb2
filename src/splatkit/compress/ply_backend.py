"""The ``ply`` compress backend: a plain 3DGS PLY, the uncompressed reference format.

Not compression in the size sense: it writes the cloud as the Inria/gsplat/SuperSplat PLY that
every splat tool reads (248 bytes per splat at SH degree 3), optionally dropping higher SH bands.
It is the baseline the ``sog`` backend is measured against and a way to export a trained cloud.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from splatkit.contracts.bundle import CompressedBundle
from splatkit.contracts.gaussians import SH_COEFFS_FOR_DEGREE, GaussianCloud
from splatkit.errors import ContractError
from splatkit.compress.inputs import cap_sh_degree, checked_input
from splatkit.io.atomic import atomic_write_bytes
from splatkit.io.ply import decode_ply, encode_ply
from splatkit.plugins.spec import hookimpl
from splatkit.stages import ProgressCallback, ProgressUpdate, Stage, StageResult, no_progress, ranged

__all__ = ["PLY_MEMBER", "PLY_BUNDLE_VERSION", "PlyCompressor", "decode_bundle"]

logger = logging.getLogger(__name__)

#: Name of the single bundle member and of the file written in the workdir.
PLY_MEMBER = "splats.ply"
#: Version of the ``ply`` bundle layout (one member holding a binary little-endian 3DGS PLY).
PLY_BUNDLE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class PlyConfig:
    """Options of the ``ply`` backend.

    Attributes
    ----------
    sh_degree : int or None
        Keep SH bands up to this degree (0..3); None keeps what the cloud has. A cap above the
        cloud's degree changes nothing (bands are never invented).
    """

    sh_degree: int | None = ranged(None, ge=0, le=3)

    def __post_init__(self) -> None:
        value = self.sh_degree
        if value is None:
            return
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # from a CLI flag or a TOML string
        if isinstance(value, bool) or not isinstance(value, int) or value not in SH_COEFFS_FOR_DEGREE:
            raise ContractError(f"ply backend: sh_degree must be 0, 1, 2, 3 or None, got {self.sh_degree!r}",
                                field="PlyConfig.sh_degree", expected="0..3 or None", actual=self.sh_degree)
        object.__setattr__(self, "sh_degree", value)



class PlyCompressor(Stage):
    """GaussianCloud -> a :class:`CompressedBundle` holding one 3DGS PLY member (``splats.ply``)."""

    kind: ClassVar[str] = "compress"
    name: ClassVar[str] = "ply"
    Config: ClassVar[type] = PlyConfig
    description: ClassVar[str] = "plain 3DGS PLY (Inria/gsplat/SuperSplat layout), the uncompressed baseline"

    def run(
        self,
        input: Any,
        config: Any,
        workdir: Path,
        progress: ProgressCallback = no_progress,
    ) -> StageResult[CompressedBundle]:
        """Write ``workdir/splats.ply`` and return the bundle holding the same bytes.

        Raises
        ------
        ContractError
            ``input`` is not a GaussianCloud, or holds NaN/Inf; ``config`` is not a PlyConfig.
        """
        stage = self.qualified_name()
        input = checked_input(stage, input, config, PlyConfig)
        start = time.perf_counter()
        progress(ProgressUpdate(stage=stage, step=0, total=2, message="encoding PLY"))
        cloud = cap_sh_degree(input, config.sh_degree)
        data = encode_ply(cloud)
        path = atomic_write_bytes(Path(workdir) / PLY_MEMBER, data)
        progress(ProgressUpdate(stage=stage, step=2, total=2, message="wrote PLY",
                                metrics={"bytes": float(len(data))}))
        meta: dict[str, Any] = {
            "layout": "3dgs-ply",
            "count": len(cloud),
            "sh_degree": cloud.sh_degree,
            "georeference": None if cloud.georeference is None else cloud.georeference.to_dict(),
        }
        bundle = CompressedBundle(format="ply", version=PLY_BUNDLE_VERSION, meta=meta,
                                  members={PLY_MEMBER: data}, source_count=len(input))
        seconds = time.perf_counter() - start
        report = {
            "count": len(cloud),
            "sh_degree": cloud.sh_degree,
            "source_sh_degree": input.sh_degree,
            "bytes": len(data),
            "bytes_per_splat": len(data) / len(cloud) if len(cloud) else None,
            "seconds": seconds,
        }
        logger.info("compress/ply: %d splats, SH degree %d, %d bytes in %.2f s",
                    len(cloud), cloud.sh_degree, len(data), seconds)
        return StageResult(output=bundle, report=report, files=(path,))

    @staticmethod
    def decode_bundle(bundle: CompressedBundle) -> GaussianCloud:
        """See :func:`decode_bundle`."""
        return decode_bundle(bundle)


def decode_bundle(bundle: CompressedBundle) -> GaussianCloud:
    """The GaussianCloud stored in a ``ply`` bundle (bitwise what was encoded).

    Raises
    ------
    ContractError
        The bundle is not a version-1 ``ply`` bundle or lacks ``splats.ply``.
    InputError
        The member is not a valid 3DGS PLY (names the member).
    """
    if bundle.format != "ply" or bundle.version != PLY_BUNDLE_VERSION:
        raise ContractError(f"not a ply bundle: format {bundle.format!r} version {bundle.version}; "
                            f"expected 'ply' version {PLY_BUNDLE_VERSION}", field="CompressedBundle.format",
                            expected=("ply", PLY_BUNDLE_VERSION), actual=(bundle.format, bundle.version))
    if PLY_MEMBER not in bundle.members:
        raise ContractError(f"ply bundle lacks member {PLY_MEMBER!r} (members: {sorted(bundle.members)})",
                            field="CompressedBundle.members", expected=PLY_MEMBER, actual=sorted(bundle.members))
    return decode_ply(bundle.members[PLY_MEMBER], source=f"ply bundle member {PLY_MEMBER}")


@hookimpl
def splatkit_register_stages(registry: Any) -> None:
    """Register :class:`PlyCompressor` as ``compress/ply``."""
    registry.add(PlyCompressor)
