"""Encode a :class:`~splatkit.contracts.GaussianCloud` as SOG v2 (PlayCanvas-compatible).

Steps (each timed): clean the cloud (drop splats with NaN/Inf values or a zero quaternion; cap
the SH degree), recentre the positions (the offset and any georeference go to splatkit's
extension object, :class:`~splatkit.io.sog.SplatkitExtension`, which other readers ignore), order
the splats (:mod:`.ordering`; PLAS fills the whole texture with transparent padding copies,
counted in ``SplatkitExtension.padding`` and marked by alpha 0 in the scales image), pack
positions and rotations (:mod:`splatkit.io.sog`), fit 256-entry codebooks for log-scales and
``f_dc`` (:mod:`.quantize`), fit the SH palette (:mod:`.palette`) and its codebook, then encode
the seven textures as lossless WebP. :func:`decode_errors` measures what the round trip lost.

Everything a file looks like (member names, pixel layouts, the ``meta.json`` schema) comes from
:mod:`splatkit.io.sog`: this module makes the lossy choices and fills a
:class:`~splatkit.io.sog.SogMeta`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from splatkit.compress.ordering import ORDERINGS, PixelOrder, order_splats
from splatkit.compress.palette import MAX_PALETTE_SIZE, fit_sh_palette, order_palette_by_position, palette_size
from splatkit.compress.plas import PlasSchedule
from splatkit.compress.quantize import quantize_1d
from splatkit.contracts import SH_COEFFS_FOR_DEGREE, CompressedBundle, GaussianCloud
from splatkit.errors import ContractError
from splatkit.io import sog

__all__ = ["SogEncodeOptions", "SogEncoding", "clean_cloud", "encode_sog", "decode_errors", "ply_size"]

logger = logging.getLogger(__name__)

StepCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, kw_only=True)
class SogEncodeOptions:
    """How to encode.

    Attributes
    ----------
    order : {"morton", "plas"}
        Pixel order. ``plas`` sorts onto the full texture grid and pads it with transparent
        copies of real splats (counted in ``meta.splatkit.padding``; splatkit's decoder drops
        them, other readers draw nothing for them).
    sh_degree : int or None
        Drop SH bands above this degree (None keeps the cloud's degree).
    palette_size : int or None
        SH palette entries; None uses splat-transform's size rule (64K from 65,536 splats up).
    iterations : int
        Lloyd iterations of the SH palette k-means.
    seed : int
        Seeds the palette k-means.
    recentre : bool
        Subtract the bounding-box centre before quantising positions (the offset is restored by
        our decoder; other viewers show the recentred scene).
    webp_effort : int
        libwebp lossless preset 0..9 (lossless either way; higher is smaller and slower).
    device : {"auto", "cpu", "cuda"}
        Where the palette k-means and the PLAS sort run.
    plas_schedule : PlasSchedule or None
        PLAS effort (None: :data:`~splatkit.compress.plas.CPU_SCHEDULE` on the CPU, the
        reference's schedule on CUDA).
    """

    order: str = "morton"
    sh_degree: int | None = None
    palette_size: int | None = None
    iterations: int = 10
    seed: int = 0
    recentre: bool = True
    webp_effort: int = sog.DEFAULT_WEBP_EFFORT
    device: str = "auto"
    plas_schedule: PlasSchedule | None = None

    def __post_init__(self) -> None:
        if self.order not in ORDERINGS:
            raise ContractError(f"order must be one of {ORDERINGS}, got {self.order!r}", field="order")
        if self.sh_degree is not None and self.sh_degree not in SH_COEFFS_FOR_DEGREE:
            raise ContractError(f"sh_degree must be 0..3 or None, got {self.sh_degree!r}", field="sh_degree")
        if self.palette_size is not None and not 1 <= self.palette_size <= MAX_PALETTE_SIZE:
            raise ContractError(f"palette_size must be in 1..{MAX_PALETTE_SIZE}, got {self.palette_size}",
                                field="palette_size")
        if self.iterations < 0:
            raise ContractError(f"iterations must be >= 0, got {self.iterations}", field="iterations")
        if not 0 <= self.webp_effort < len(sog.WEBP_EFFORT_PRESETS):
            raise ContractError(f"webp_effort must be 0..{len(sog.WEBP_EFFORT_PRESETS) - 1}, got {self.webp_effort}",
                                field="webp_effort")


@dataclass(frozen=True, kw_only=True, eq=False)
class SogEncoding:
    """An encoded cloud with what it took.

    Attributes
    ----------
    bundle : CompressedBundle
        ``meta`` (the ``meta.json`` object) and the WebP members.
    meta : SogMeta
        ``bundle.meta`` as the schema object it was written from.
    source_index : int64 [M]
        For each real splat in file order (padding skipped), its index in the input cloud (drops
        and order combined).
    encoded : GaussianCloud
        The cleaned, SH-capped input in file order, padding skipped: what splatkit's decoder
        gives back, approximately.
    dropped_invalid : int
        Splats dropped for NaN/Inf values or a zero quaternion.
    padding : int
        Transparent padding splats in the file (PLAS only); ``meta.count`` is ``M + padding``.
    order_stats : dict
        What the ordering reported (PLAS: seconds, radii, steps, device, distances).
    timings : dict[str, float]
        Seconds per step.
    """

    bundle: CompressedBundle
    meta: sog.SogMeta
    source_index: np.ndarray
    encoded: GaussianCloud
    dropped_invalid: int
    padding: int = 0
    order_stats: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def clean_cloud(cloud: GaussianCloud, sh_degree: int | None = None) -> tuple[GaussianCloud, np.ndarray]:
    """Drop splats SOG cannot store and cap the SH degree.

    Returns
    -------
    cleaned : GaussianCloud
    kept : int64 [M]
        Indices of the kept splats in ``cloud``.
    """
    n = len(cloud)
    ok = np.ones(n, bool)
    for name in ("means", "log_scales", "quats", "sh0"):
        ok &= np.isfinite(getattr(cloud, name)).all(axis=1)
    ok &= np.isfinite(cloud.opacity_logits)
    # an explicit width: reshape(0, -1) is ambiguous and raises for an empty cloud
    ok &= np.isfinite(cloud.shN.reshape(n, cloud.shN.shape[1] * 3)).all(axis=1)
    ok &= (cloud.quats.astype(np.float64) ** 2).sum(axis=1) > 0
    kept = np.flatnonzero(ok).astype(np.int64)
    out = cloud if kept.size == n else cloud.subset(kept)
    if sh_degree is not None and sh_degree < out.sh_degree:
        out = replace(out, shN=out.shN[:, : SH_COEFFS_FOR_DEGREE[sh_degree], :])
    return out, kept


def ply_size(count: int, sh_degree: int, *, georeference: bool = False) -> int:
    """Bytes of the canonical binary 3DGS PLY (:mod:`splatkit.io.ply`) for ``count`` splats."""
    from splatkit.contracts import Georeference
    from splatkit.io.ply import canonical_property_names, encode_ply

    k = SH_COEFFS_FOR_DEGREE[sh_degree]
    geo = Georeference(lat=0.0, lon=0.0, alt=0.0) if georeference else None
    empty = GaussianCloud(means=np.zeros((0, 3)), log_scales=np.zeros((0, 3)), quats=np.zeros((0, 4)),
                          opacity_logits=np.zeros(0), sh0=np.zeros((0, 3)), shN=np.zeros((0, k, 3)),
                          georeference=geo)
    header = len(encode_ply(empty)) - 1 + len(str(count))   # "element vertex 0" -> count digits
    return header + count * 4 * len(canonical_property_names(sh_degree))


def encode_sog(cloud: GaussianCloud, options: SogEncodeOptions = SogEncodeOptions(), *,
               on_step: StepCallback | None = None) -> SogEncoding:
    """Encode ``cloud`` as a SOG v2 bundle (nothing is written to disk).

    Parameters
    ----------
    cloud
        Any Gaussian cloud; non-finite splats and zero quaternions are dropped (counted).
    options
        See :class:`SogEncodeOptions`.
    on_step
        Called as ``on_step(message, step, total)`` before each step.

    Raises
    ------
    ContractError
        No splat left after cleaning, or too many for WebP's 16383 x 16383 limit.
    """
    steps = _Steps(["clean", "order", "means", "quats", "scales", "sh0", "shN", "webp"], on_step)
    steps.start("clean")
    source_count = len(cloud)
    cleaned, kept = clean_cloud(cloud, options.sh_degree)
    dropped = source_count - len(cleaned)
    if dropped:
        logger.warning("SOG: dropped %d of %d splats with NaN/Inf values or a zero quaternion", dropped, source_count)
    n = len(cleaned)
    if n == 0:
        why = ("the cloud holds no splats (a PLY with 'element vertex 0'?)" if source_count == 0 else
               f"{source_count} splat(s) in, none finite with a non-zero quaternion")
        raise ContractError(f"nothing to compress: {why}", field="GaussianCloud", expected=">= 1 valid splat",
                            actual=0)
    width, height = sog.check_count_fits(n)

    steps.start("order")
    means64 = cleaned.means.astype(np.float64)
    offset = (means64.min(axis=0) + means64.max(axis=0)) * 0.5 if options.recentre else np.zeros(3)
    local = means64 - offset
    pixel_order = order_splats(local, options.order, attributes=cleaned, texture=(width, height),
                               seed=options.seed, device=options.device, schedule=options.plas_schedule)
    order, expand = _real_rows(pixel_order)
    padding = pixel_order.padding
    ordered = cleaned.subset(order)
    local = local[order]

    def texture(rows: np.ndarray, *, padding_alpha: int | None = None) -> np.ndarray:
        # rows: one per real splat in file order -> one per pixel (padding repeats its twin).
        full = rows[expand]
        if padding_alpha is not None and padding.any():
            full[padding, 3] = padding_alpha
        return sog.to_texture(full, width, height)

    files = sog.SogFiles()
    steps.start("means")
    lower, upper, mins, maxs = sog.pack_means(local)
    images: dict[str, np.ndarray] = {files.means_l: texture(lower), files.means_u: texture(upper)}

    steps.start("quats")
    images[files.quats] = texture(sog.pack_quats(ordered.quats))

    steps.start("scales")
    # Pool the three axes column by column (scale_0 of every splat, then scale_1, ...).
    scales = quantize_1d(ordered.log_scales.T)
    images[files.scales] = texture(sog.pack_indices(scales.labels.reshape(3, n).T),
                                   padding_alpha=sog.PADDING_ALPHA)

    steps.start("sh0")
    colors = quantize_1d(ordered.sh0.T)
    rows = sog.pack_indices(colors.labels.reshape(3, n).T, sog.opacity_to_alpha(ordered.opacity_logits))
    images[files.sh0] = texture(rows, padding_alpha=0)      # padding: fully transparent

    steps.start("shN")
    shn: sog.ShNMeta | None = None
    bands = ordered.sh_degree
    if bands > 0:
        coeffs = SH_COEFFS_FOR_DEGREE[bands]
        rest = ordered.shN.transpose(0, 2, 1).reshape(n, 3 * coeffs)     # PLY channel-major f_rest
        k = options.palette_size or palette_size(n)
        centroids, labels = fit_sh_palette(rest, k, iterations=options.iterations, seed=options.seed,
                                           device=options.device)
        entries = centroids.shape[0]
        code = quantize_1d(centroids)                                    # pooled, row-major [P, 3K]
        idx = code.labels.reshape(entries, 3, coeffs).transpose(0, 2, 1)  # [P, K, 3] RGB per texel
        # Two numberings of the same palette: k-means' own (similar entries together: a smaller
        # atlas) and by file position (nearby labels for nearby pixels: a smaller label image).
        # Both images are encoded for each and the smaller pair is kept.
        renumbered_idx, renumbered_labels = order_palette_by_position(idx, labels)
        shn_candidates = {"k-means": _shn_images(idx, labels, texture, files),
                          "file-position": _shn_images(renumbered_idx, renumbered_labels, texture, files)}
        shn = sog.ShNMeta(count=int(entries), bands=int(bands), codebook=_floats(code.values))

    steps.start("webp")
    jobs = dict(images)
    if shn is not None:
        for numbering, pair in shn_candidates.items():
            jobs.update({(numbering, name): array for name, array in pair.items()})
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(jobs, pool.map(lambda a: sog.encode_webp(a, effort=options.webp_effort), jobs.values())))
    encoded = {name: data for name, data in done.items() if isinstance(name, str)}
    palette_numbering = None
    if shn is not None:
        palette_numbering = min(shn_candidates, key=lambda numbering: sum(
            len(done[(numbering, name)]) for name in shn_candidates[numbering]))
        encoded.update({name: done[(palette_numbering, name)] for name in shn_candidates[palette_numbering]})
    from splatkit import __version__ as splatkit_version

    extension = sog.SplatkitExtension(
        offset=(float(offset[0]), float(offset[1]), float(offset[2])), georeference=cloud.georeference,
        source_count=source_count, dropped_invalid=dropped, order=options.order,
        padding=pixel_order.padding_count, palette_numbering=palette_numbering)
    meta = sog.SogMeta(count=int(expand.shape[0]), means_mins=tuple(mins), means_maxs=tuple(maxs),
                       scales_codebook=_floats(scales.values), sh0_codebook=_floats(colors.values), shn=shn,
                       files=files, generator=f"splatkit v{splatkit_version}", splatkit=extension)
    bundle = CompressedBundle(format=sog.SOG_FORMAT, version=meta.version, meta=meta.to_json(), members=encoded,
                              source_count=source_count)
    steps.finish()
    return SogEncoding(bundle=bundle, meta=meta, source_index=kept[order], encoded=ordered, dropped_invalid=dropped,
                       padding=pixel_order.padding_count, order_stats=dict(pixel_order.stats),
                       timings=steps.timings)


def _shn_images(idx: np.ndarray, labels: np.ndarray, texture: Callable[[np.ndarray], np.ndarray],
                files: sog.SogFiles) -> dict[str, np.ndarray]:
    """The SH palette atlas and label image for codebook indices ``idx [P, K, 3]`` and ``labels [N]``."""
    return {files.shn_centroids: sog.pack_shn_centroids(idx), files.shn_labels: texture(sog.pack_shn_labels(labels))}


def _real_rows(pixel_order: PixelOrder) -> tuple[np.ndarray, np.ndarray]:
    """Split a pixel order into real splats and a pixel -> real-row map.

    Returns
    -------
    order : int64 [M]
        Splat index of each real (non-padding) pixel, in file order.
    expand : int64 [P]
        For each pixel, the row in ``order`` whose data it shows (padding: its twin's row).
    """
    order = pixel_order.order[~pixel_order.padding]
    rank = np.full(int(pixel_order.order.max(initial=-1)) + 1, -1, np.int64)
    rank[order] = np.arange(order.shape[0])
    expand = rank[pixel_order.order]
    if (expand < 0).any() or np.unique(order).shape[0] != order.shape[0]:
        raise ContractError("pixel order must place every splat exactly once (padding aside)", field="order")
    return order, expand


class _Steps:
    """Times named steps and reports each start to ``on_step``."""

    def __init__(self, names: list[str], on_step: StepCallback | None) -> None:
        self.names = names
        self.on_step = on_step
        self.timings: dict[str, float] = {}
        self._current: str | None = None
        self._started = 0.0

    def start(self, name: str) -> None:
        self.finish()
        self._current, self._started = name, time.perf_counter()
        if self.on_step is not None:
            self.on_step(name, self.names.index(name), len(self.names))

    def finish(self) -> None:
        if self._current is not None:
            self.timings[self._current] = round(time.perf_counter() - self._started, 4)
            self._current = None


def _floats(values: np.ndarray) -> tuple[float, ...]:
    # float32 -> shortest decimal that round-trips the float32 value.
    return tuple(float(np.format_float_positional(v, unique=True, trim="-")) if np.isfinite(v) else 0.0
                 for v in np.asarray(values, np.float32))


def decode_errors(reference: GaussianCloud, decoded: GaussianCloud) -> dict[str, float]:
    """What decoding lost, per attribute (both clouds in the same order, same SH degree).

    Returns
    -------
    dict
        ``position_max`` / ``position_rms`` (scene units), ``rotation_max_deg`` /
        ``rotation_mean_deg``, ``log_scale_max`` / ``log_scale_rms``, ``sh0_max`` / ``sh0_rms``,
        ``opacity_max`` (in sigmoid space), ``shN_rms`` / ``shN_max`` (when present).
    """
    if len(reference) != len(decoded):
        raise ContractError(f"decode_errors: {len(reference)} vs {len(decoded)} splats", field="decoded")
    dp = decoded.means.astype(np.float64) - reference.means.astype(np.float64)
    q1 = reference.quats.astype(np.float64)
    q1 = q1 / np.linalg.norm(q1, axis=1, keepdims=True)
    q2 = decoded.quats.astype(np.float64)
    q2 = q2 / np.linalg.norm(q2, axis=1, keepdims=True)
    angle = np.degrees(2.0 * np.arccos(np.clip(np.abs((q1 * q2).sum(axis=1)), 0.0, 1.0)))
    ds = decoded.log_scales.astype(np.float64) - reference.log_scales
    dc = decoded.sh0.astype(np.float64) - reference.sh0
    sig = lambda o: 1.0 / (1.0 + np.exp(-np.asarray(o, np.float64)))  # noqa: E731
    do = sig(decoded.opacity_logits) - sig(reference.opacity_logits)
    out = {
        "position_max": float(np.abs(dp).max(initial=0.0)),
        "position_rms": float(np.sqrt((dp ** 2).mean())) if dp.size else 0.0,
        "rotation_max_deg": float(angle.max(initial=0.0)),
        "rotation_mean_deg": float(angle.mean()) if angle.size else 0.0,
        "log_scale_max": float(np.abs(ds).max(initial=0.0)),
        "log_scale_rms": float(np.sqrt((ds ** 2).mean())) if ds.size else 0.0,
        "sh0_max": float(np.abs(dc).max(initial=0.0)),
        "sh0_rms": float(np.sqrt((dc ** 2).mean())) if dc.size else 0.0,
        "opacity_max": float(np.abs(do).max(initial=0.0)),
    }
    if reference.shN.shape[1] and decoded.shN.shape[1] == reference.shN.shape[1]:
        dn = decoded.shN.astype(np.float64) - reference.shN
        out["shN_rms"] = float(np.sqrt((dn ** 2).mean()))
        out["shN_max"] = float(np.abs(dn).max(initial=0.0))
    return out
