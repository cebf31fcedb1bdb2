"""Render-space quality of a compressed cloud: PSNR of decoded vs original renders.

Per-attribute decode errors (:func:`splatkit.compress.sog_encoder.decode_errors`) say what each
field lost, not what a viewer sees. :func:`render_psnr` renders the original and the decoded cloud
from the same cameras with the project's rasterizer (:func:`splatkit.render.rasterize`: ``cpu``,
numba; ``gsplat`` on CUDA) and reports the PSNR per view and on average.

Both clouds must hold the same splats in the same order (the SOG encoder's ``encoded`` cloud and
``decode_sog(..., drop_padding=True)`` do): a large cloud is subsampled with the same indices on
both sides, and the report says so. Without caller cameras, :func:`orbit_cameras` places ``views``
pinhole cameras on a ring around the original's bounding box, looking at its centre.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from splatkit.contracts import GaussianCloud
from splatkit.device import resolve_device
from splatkit.errors import ContractError

__all__ = ["DEFAULT_MAX_SPLATS", "orbit_cameras", "render_psnr", "render_unavailable_reason",
           "choose_render_backend"]

logger = logging.getLogger(__name__)

#: Splats rendered at most; larger clouds are subsampled (seeded, same indices on both sides).
#: 250K keeps a 4-view 256x192 comparison to seconds on 2 CPU cores.
DEFAULT_MAX_SPLATS = 250_000
#: Horizontal field of view of the orbit cameras, degrees.
ORBIT_FOV_DEG = 60.0
#: Elevation of the orbit cameras above/below the ring plane, degrees (alternating sign, so a flat
#: drone scene is seen from both sides of its shortest bounding-box axis, whichever way is up).
ORBIT_ELEVATION_DEG = 30.0
#: Percentiles bounding the cloud for camera placement: a few far outliers (common in trained
#: scenes) must not push the cameras so far away that the scene shrinks to a few pixels.
BOUNDS_PERCENTILES = (1.0, 99.0)
#: Alpha above which a pixel counts as covered for ``foreground_psnr`` (one 8-bit step): on
#: sparse clouds most pixels are empty background in both renders and inflate the plain PSNR.
FOREGROUND_ALPHA = 1.0 / 255.0
_SUBSAMPLE_SEED = 0


def render_unavailable_reason(backend: str = "cpu") -> str | None:
    """Why ``backend`` cannot render here (None when it can); cheap for ``cpu`` (no imports)."""
    from splatkit.render import get_backend

    return get_backend(backend).unavailable_reason()


def choose_render_backend(device: str = "auto") -> str:
    """``"gsplat"`` when ``device`` resolves to CUDA (:func:`splatkit.device.resolve_device`) and
    gsplat can run, else ``"cpu"``."""
    if resolve_device(device, what="the compression render check") == "cuda" \
            and render_unavailable_reason("gsplat") is None:
        return "gsplat"
    return "cpu"


def orbit_cameras(means: np.ndarray, *, views: int = 4, width: int = 256,
                  height: int = 192) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole cameras on a ring around a point cloud, looking at its centre.

    The ring lies in the plane of the two longest axes of the (1-99 percentile) bounding box and
    turns around the shortest one, which shows as "up" on screen. The cameras alternate between
    +30 and -30 degrees of elevation and stand far enough away for the bounding sphere to fit the
    vertical field of view.

    Parameters
    ----------
    means : [N, 3]
        World-space positions.
    views : int
        Number of cameras (>= 1).
    width, height : int
        Image size in pixels.

    Returns
    -------
    viewmats : float64 [V, 4, 4]
        ``cam_from_world`` (OpenCV axes: x right, y down, z forward).
    Ks : float64 [V, 3, 3]
        Pixel intrinsics, principal point at the image centre.
    """
    if views < 1:
        raise ContractError(f"orbit_cameras: views must be >= 1, got {views}", field="views", expected=">= 1",
                            actual=views)
    pts = np.asarray(means, np.float64)
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] != 3:
        raise ContractError(f"orbit_cameras: means must be [N >= 1, 3], got {pts.shape}", field="means")
    low, high = np.percentile(pts, BOUNDS_PERCENTILES, axis=0)
    centre = (low + high) * 0.5
    extent = np.maximum(high - low, 1e-6)
    radius = 0.5 * float(np.linalg.norm(extent))
    axes = np.argsort(extent)            # shortest axis first: the ring turns around it
    up, u, v = np.eye(3)[axes[0]], np.eye(3)[axes[1]], np.eye(3)[axes[2]]
    focal = 0.5 * width / math.tan(math.radians(ORBIT_FOV_DEG) * 0.5)
    half_fov_v = math.atan(0.5 * height / focal)
    # Distance at which a sphere of this radius just fits the narrower (vertical) field of view.
    distance = radius / math.sin(half_fov_v)
    elevation = math.radians(ORBIT_ELEVATION_DEG)
    viewmats = np.zeros((views, 4, 4))
    for i in range(views):
        azimuth = 2.0 * math.pi * i / views
        sign = 1.0 if i % 2 == 0 else -1.0
        direction = (math.cos(elevation) * (math.cos(azimuth) * u + math.sin(azimuth) * v)
                     + sign * math.sin(elevation) * up)
        eye = centre + distance * direction
        forward = -direction
        # OpenCV camera (x right, y down, z forward): right = forward x up, down = forward x right.
        right = np.cross(forward, up)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])
        viewmats[i, :3, :3] = rotation
        viewmats[i, :3, 3] = -rotation @ eye
        viewmats[i, 3, 3] = 1.0
    K = np.array([[focal, 0.0, width * 0.5], [0.0, focal, height * 0.5], [0.0, 0.0, 1.0]])
    return viewmats, np.broadcast_to(K, (views, 3, 3)).copy()


def render_psnr(original: GaussianCloud, decoded: GaussianCloud, *, views: int = 4, width: int = 256,
                height: int = 192, backend: str = "cpu", max_splats: int | None = DEFAULT_MAX_SPLATS,
                viewmats: np.ndarray | None = None, Ks: np.ndarray | None = None) -> dict[str, Any]:
    """PSNR between renders of ``original`` and ``decoded`` from the same cameras.

    Parameters
    ----------
    original, decoded
        The same splats in the same order (e.g. the encoder's cleaned cloud and the decoded
        file with padding dropped); SH degrees may differ (each is rendered with its own).
    views
        Orbit cameras to place (:func:`orbit_cameras`) when ``viewmats`` is None.
    width, height
        Render size in pixels.
    backend
        ``"cpu"``, ``"gsplat"`` (CUDA) or ``"auto"`` (gsplat when it can run).
    max_splats
        Render at most this many splats: larger clouds are subsampled, seeded, with the same
        indices in both clouds (None: no cap).
    viewmats, Ks
        Optional caller cameras (e.g. the training views): ``cam_from_world [V, 4, 4]`` and
        ``[V, 3, 3]`` intrinsics for ``width`` x ``height`` images.

    Returns
    -------
    dict
        ``psnr`` (mean of the per-view PSNRs, dB; ``inf`` when every render is identical),
        ``foreground_psnr`` (the same over the pixels either render covers, alpha > 1/255: the
        honest number for sparse clouds on a black background), ``views`` (``[{"view", "psnr",
        "mse", "foreground_psnr", "coverage"}]``, images clamped to [0, 1]), ``width``, ``height``,
        ``backend``, ``cameras`` (``"orbit"`` or ``"given"``), ``splats`` (rendered),
        ``subsampled`` (bool), ``seconds``.

    Raises
    ------
    ContractError
        The clouds differ in size, or the cameras are malformed.
    BackendUnavailableError
        The rasterizer cannot run here (torch/numba missing, or no CUDA for gsplat).
    """
    if len(original) != len(decoded):
        raise ContractError(f"render_psnr: the clouds must hold the same splats, got {len(original)} original vs "
                            f"{len(decoded)} decoded (drop the padding and compare in file order)",
                            field="decoded", expected=len(original), actual=len(decoded))
    if len(original) == 0:
        raise ContractError("render_psnr: nothing to render (0 splats)", field="original")
    if width < 1 or height < 1:
        raise ContractError(f"render_psnr: image size must be positive, got {width}x{height}", field="width")
    if backend == "auto":
        backend = choose_render_backend("auto")
    started = time.perf_counter()
    if viewmats is None:
        viewmats, Ks = orbit_cameras(original.means, views=views, width=width, height=height)
        cameras = "orbit"
    else:
        viewmats = np.asarray(viewmats, np.float64)
        if viewmats.ndim == 2:
            viewmats = viewmats[None]
        if viewmats.ndim != 3 or viewmats.shape[1:] != (4, 4):
            raise ContractError(f"render_psnr: viewmats must be [V, 4, 4], got {viewmats.shape}", field="viewmats")
        Ks_given = np.asarray(Ks if Ks is not None else np.zeros(0), np.float64)
        if Ks_given.shape not in ((3, 3), (viewmats.shape[0], 3, 3)):
            raise ContractError(f"render_psnr: with viewmats, pass Ks as [3, 3] or [{viewmats.shape[0]}, 3, 3], got "
                                f"{None if Ks is None else Ks_given.shape}", field="Ks")
        Ks = np.broadcast_to(Ks_given, (viewmats.shape[0], 3, 3))
        cameras = "given"

    n = len(original)
    subsampled = max_splats is not None and n > max_splats
    if subsampled:
        keep = np.sort(np.random.default_rng(_SUBSAMPLE_SEED).choice(n, size=max_splats, replace=False))
        original, decoded = original.subset(keep), decoded.subset(keep)
        logger.info("render_psnr: rendering %d of %d splats (subsampled, same splats on both sides)",
                    max_splats, n)

    reference, reference_alpha = _render(original, viewmats, Ks, width, height, backend)
    test, test_alpha = _render(decoded, viewmats, Ks, width, height, backend)
    per_view = []
    for i in range(viewmats.shape[0]):
        squared = ((reference[i] - test[i]) ** 2).sum(axis=-1) / 3.0               # [H, W]
        covered = (reference_alpha[i] > FOREGROUND_ALPHA) | (test_alpha[i] > FOREGROUND_ALPHA)
        mse = float(squared.mean())
        foreground_mse = float(squared[covered].mean()) if covered.any() else 0.0
        per_view.append({"view": i, "psnr": _psnr(mse), "mse": mse, "foreground_psnr": _psnr(foreground_mse),
                         "coverage": round(float(covered.mean()), 4)})
    return {"psnr": _mean(v["psnr"] for v in per_view),
            "foreground_psnr": _mean(v["foreground_psnr"] for v in per_view),
            "views": per_view, "width": int(width), "height": int(height), "backend": backend,
            "cameras": cameras, "splats": len(original), "subsampled": bool(subsampled),
            "seconds": round(time.perf_counter() - started, 3)}


def _mean(values: Any) -> float:
    mean = float(np.mean(list(values)))
    return round(mean, 4) if math.isfinite(mean) else mean


def _psnr(mse: float) -> float:
    # Images in [0, 1]: PSNR = -10 log10(MSE); identical renders give +inf.
    return math.inf if mse == 0.0 else round(-10.0 * math.log10(mse), 4)


def _render(cloud: GaussianCloud, viewmats: np.ndarray, Ks: np.ndarray, width: int, height: int,
            backend: str) -> tuple[np.ndarray, np.ndarray]:
    """Render ``cloud`` from every camera on black.

    Returns
    -------
    rgb : float64 [V, H, W, 3]
        Clamped to [0, 1].
    alpha : float64 [V, H, W]
    """
    import torch

    from splatkit.render import rasterize

    device = "cuda" if backend == "gsplat" else "cpu"

    def tensor(a: np.ndarray) -> torch.Tensor:
        # np.array copies: contract arrays are read-only and torch wants writable memory.
        return torch.from_numpy(np.array(a, dtype=np.float32)).to(device)

    colors = np.concatenate([cloud.sh0[:, None, :], cloud.shN], axis=1)     # [N, K + 1, 3]
    with torch.no_grad():
        rgb, alpha, _ = rasterize(
            tensor(cloud.means), tensor(cloud.quats), tensor(np.exp(cloud.log_scales)),
            tensor(1.0 / (1.0 + np.exp(-cloud.opacity_logits.astype(np.float64)))), tensor(colors),
            tensor(viewmats), tensor(Ks), width, height, sh_degree=cloud.sh_degree, backend=backend)
    return rgb.clamp(0.0, 1.0).double().cpu().numpy(), alpha[..., 0].double().cpu().numpy()
