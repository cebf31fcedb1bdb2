"""An example splatkit plugin: a compression stage, the file format it writes, and an SfM stage.

* ``compress/npz-half`` halves a cloud's size by storing every attribute as IEEE half floats
  (11 significant bits, relative error <= 2**-11), keeping the centres at float32 by default.
* The ``npz-half`` format reads those files back, so ``splatkit info cloud.npz`` and
  ``splatkit decompress cloud.npz out.ply`` work on them like on the built-in formats.
* ``sfm/colmap-scene`` turns an undistorted COLMAP scene made elsewhere (``images/`` +
  ``sparse/0``) into splatkit's SfM output folder, so training can start from it.

The module also shows the event hooks: ``splatkit_stage_finished`` / ``splatkit_stage_failed``
log a metrics line and a warning (a real plugin could send an e-mail or push to StatsD).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

import splatkit
from splatkit import (
    CompressedBundle,
    ContractError,
    GaussianCloud,
    ImageSet,
    InputError,
    Reconstruction,
    Stage,
    StageError,
    StageResult,
)
from splatkit.contracts import PosedImages
from splatkit.formats import Format
from splatkit.io.atomic import atomic_write_bytes
from splatkit.plugins import FormatRegistry, StageRegistry
from splatkit.stages import ProgressCallback, ProgressUpdate, config_to_dict, no_progress

__all__ = ["NpzHalfCompressor", "NpzHalfConfig", "NpzHalfFormat", "ColmapSceneConfig", "ColmapSceneImporter",
           "encode_npz_half", "read_npz_half", "decode_npz_half"]

logger = logging.getLogger(__name__)

FORMAT = "npz-half"
MEMBER = "cloud.npz"
_ARRAYS = ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN")
_NPZ_MEMBERS = frozenset(f"{name}.npy" for name in (*_ARRAYS, "meta"))
_HALF_MAX = float(np.finfo(np.float16).max)  # 65504: larger magnitudes would become inf
_MAX_UNCOMPRESSED_BYTES = 1 << 32  # 4 GiB of arrays: far beyond a real scene, and a bound for a ZIP bomb


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
        data = encode_npz_half(cloud, config, stage=self.qualified_name())
        progress(ProgressUpdate(stage=self.qualified_name(), step=1, total=1, message="encoded"))

        georeference = None if cloud.georeference is None else cloud.georeference.to_dict()
        bundle = CompressedBundle(format=FORMAT, version=1, members={MEMBER: data}, source_count=len(cloud),
                                  meta={"sh_degree": cloud.sh_degree, "georeference": georeference})
        path = atomic_write_bytes(Path(workdir) / MEMBER, data)  # never a partial file on error
        float32_bytes = sum(getattr(cloud, n).nbytes for n in _ARRAYS)
        report = {"gaussians": len(cloud), "bytes": len(data), "ratio_vs_float32": len(data) / max(float32_bytes, 1)}
        logger.info("compress/npz-half: %d Gaussians -> %d bytes", len(cloud), len(data))
        return StageResult(output=bundle, report=report, files=(path,))


def encode_npz_half(cloud: GaussianCloud, config: NpzHalfConfig, *, stage: str = "compress/npz-half") -> bytes:
    """The bytes of an ``.npz`` holding ``cloud`` as float16 arrays plus a ``meta`` JSON string.

    Raises
    ------
    StageError
        A value beyond float16's range (it would become inf).
    """
    arrays: dict[str, np.ndarray] = {}
    for name in _ARRAYS:
        values = getattr(cloud, name)  # read-only: the stage never mutates its input
        if name == "means" and config.keep_means_float32:
            arrays[name] = values
            continue
        if values.size and float(np.abs(values).max()) > _HALF_MAX:
            raise StageError(f"GaussianCloud.{name} holds values beyond float16's range "
                             f"(|x| > {_HALF_MAX:g}); use a float32 format such as compress/ply", stage=stage)
        arrays[name] = values.astype(np.float16)
    georeference = None if cloud.georeference is None else cloud.georeference.to_dict()
    meta = {"format": FORMAT, "version": 1, "georeference": georeference}
    buffer = io.BytesIO()
    # A 0-d unicode array: np.load reads it back with allow_pickle=False.
    (np.savez_compressed if config.deflate else np.savez)(buffer, **arrays, meta=np.array(json.dumps(meta)))
    return buffer.getvalue()


def read_npz_half(source: str | Path | IO[bytes], *, name: str = "") -> GaussianCloud:
    """The cloud in an npz-half file (a path or an open binary file), float32 again, validated.

    Hostile input is refused with an :class:`~splatkit.InputError` naming the file, never another
    exception: a reader meets truncated downloads and files that only look like ours.
    """
    where = name or str(source)
    try:
        with zipfile.ZipFile(source) as zf:
            members = zf.infolist()
        if {m.filename for m in members} != _NPZ_MEMBERS:
            raise InputError(f"not an npz-half file: members {sorted(m.filename for m in members)}", path=where)
        if sum(m.file_size for m in members) > _MAX_UNCOMPRESSED_BYTES:
            raise InputError("npz-half members expand beyond 4 GiB; refusing to read them", path=where)
        if not isinstance(source, (str, Path)):
            source.seek(0)
        with np.load(source, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays = {array: npz[array] for array in _ARRAYS}
        if any(values.dtype.kind != "f" for values in arrays.values()):
            raise InputError(f"npz-half arrays must be floats, got {[str(v.dtype) for v in arrays.values()]}",
                             path=where)
        origin = meta.get("georeference") if isinstance(meta, dict) else None
        georeference = None if origin is None else splatkit.Georeference.from_dict(origin)
        cloud = GaussianCloud(**{k: v.astype(np.float32) for k, v in arrays.items()}, georeference=georeference)
        return cloud.validate(source=where)
    except InputError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, MemoryError, zipfile.BadZipFile,
            zlib.error) as e:  # ContractError is a ValueError: bad shapes and NaN land here too
        raise InputError(f"not a readable npz-half file ({type(e).__name__}: {e})", path=where) from e


def decode_npz_half(bundle: CompressedBundle) -> GaussianCloud:
    """The :class:`GaussianCloud` stored in a bundle made by ``compress/npz-half`` (float32 again)."""
    if bundle.format != FORMAT or MEMBER not in bundle.members:
        raise ContractError(f"not an {FORMAT} bundle: format {bundle.format!r}, members {sorted(bundle.members)}",
                            field="CompressedBundle.members", expected=MEMBER, actual=sorted(bundle.members))
    return read_npz_half(io.BytesIO(bundle.members[MEMBER]), name=f"{FORMAT} bundle member {MEMBER}")


class NpzHalfFormat(Format):
    """The files ``compress/npz-half`` writes, for ``splatkit info``, ``decompress`` and ``view``."""

    name = "npz-half"
    holds = "splats"
    suffixes = (".npz",)
    description = "float16 NPZ written by compress/npz-half (splatkit-example-plugin)"

    def detect(self, path: Path) -> bool:
        # Cheap and never raises: only the ZIP's table of contents is read, no member is inflated.
        try:
            with zipfile.ZipFile(path) as zf:
                return set(zf.namelist()) == _NPZ_MEMBERS
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # missing, a folder, not a ZIP
            return False

    def describe(self, path: Path) -> dict[str, Any]:
        cloud = read_npz_half(path)
        size = Path(path).stat().st_size
        return {"type": FORMAT, "path": str(path), "gaussians": len(cloud), "sh_degree": cloud.sh_degree,
                "bytes": size, "bytes_per_gaussian": size / max(len(cloud), 1),
                "georeference": None if cloud.georeference is None else cloud.georeference.to_dict()}

    def decode(self, path: Path) -> GaussianCloud:
        return read_npz_half(path)

    def write(self, cloud: GaussianCloud, path: Path) -> Path:
        return atomic_write_bytes(path, encode_npz_half(cloud.validate(), NpzHalfConfig()))


@dataclass(frozen=True, kw_only=True)
class ColmapSceneConfig:
    """Options of ``sfm/colmap-scene``.

    Attributes
    ----------
    min_points : int
        Fewer triangulated points is a StageError: 3DGS initialises its Gaussians from them.
    """

    min_points: int = 100


class ColmapSceneImporter(Stage):
    """An undistorted COLMAP scene made elsewhere -> the SfM output folder that training reads.

    Input: the scene folder (``images/`` + ``sparse/0`` with PINHOLE cameras, what ``colmap
    image_undistorter`` writes), or an :class:`ImageSet` of its ``images/``.
    """

    kind = "sfm"
    name = "colmap-scene"
    Config = ColmapSceneConfig
    description = "an undistorted COLMAP scene made elsewhere (images/ + sparse/0) -> the SfM output folder"
    install_hint = "pip install splatkit-example-plugin"

    def run(
        self,
        input: ImageSet | str | Path,
        config: ColmapSceneConfig,
        workdir: Path,
        progress: ProgressCallback = no_progress,
    ) -> StageResult[Reconstruction]:
        from splatkit.io.colmap import read_colmap_model
        from splatkit.sfm.layout import write_sfm_output
        from splatkit.sfm.quality import quality_report

        stage, workdir = self.qualified_name(), Path(workdir)
        scene = Path(input.root).parent if isinstance(input, ImageSet) else Path(input)
        progress(ProgressUpdate(stage=stage, step=0, total=2, message="reading sparse/0"))
        rec = read_colmap_model(scene / "sparse" / "0")  # InputError naming what is missing
        try:  # training needs PINHOLE cameras and every image at its camera's size
            PosedImages(reconstruction=rec, image_dir=scene / "images").validate()
        except ContractError as e:
            raise StageError(f"{e}; undistort the scene first (`colmap image_undistorter`) or run sfm/pycolmap "
                             "on the photos", stage=stage, source=str(scene)) from e
        if len(rec.points) < config.min_points:
            raise StageError(f"the model has {len(rec.points)} points, fewer than min_points={config.min_points}; "
                             "3DGS needs a denser model to start from", stage=stage, source=str(scene))
        given = list(input.names) if isinstance(input, ImageSet) else list(rec.frames.names)
        report = {"backend": stage, "source": str(scene), "config": config_to_dict(config),
                  "quality": quality_report(rec, given), "timings_s": {}, "notes": [],
                  "georeference": {"applied": False, "reason": "a COLMAP scene carries no GPS reference"}}
        progress(ProgressUpdate(stage=stage, step=1, total=2, message="writing the SfM output folder"))
        # write_sfm_output moves the images into the new folder: give it copies, staged beside workdir.
        workdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{workdir.name}.images.", dir=workdir.parent))
        try:
            for name in rec.frames.names:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(scene / "images" / name, staging / name)
            files = write_sfm_output(workdir, distorted=rec, undistorted=rec, undistorted_images=staging,
                                     report=report)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress(ProgressUpdate(stage=stage, step=2, total=2, message="done"))
        return StageResult(output=rec, report=report, files=files)


@splatkit.hookimpl
def splatkit_register_stages(registry: StageRegistry) -> None:
    registry.add(NpzHalfCompressor)
    registry.add(ColmapSceneImporter)


@splatkit.hookimpl
def splatkit_register_formats(registry: FormatRegistry) -> None:
    registry.add(NpzHalfFormat)


@splatkit.hookimpl
def splatkit_stage_finished(stage: str, report: dict[str, Any], seconds: float) -> None:
    # A hook may take fewer arguments than the spec (here no ``files``); pluggy passes only those.
    logger.info("metrics %s", json.dumps({"stage": stage, "seconds": round(seconds, 3), **report}, sort_keys=True))


@splatkit.hookimpl
def splatkit_stage_failed(stage: str, error: BaseException) -> None:
    # Stand-in for "send an e-mail": notifiers must not raise; splatkit logs and ignores it if they do.
    logger.warning("stage %s failed: %s", stage, error)
