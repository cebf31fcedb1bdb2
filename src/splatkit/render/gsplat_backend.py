"""The ``gsplat`` rasterizer backend: ``gsplat.rasterization`` on a CUDA device.

gsplat needs compute capability >= 7.0 (its kernels use ``cooperative_groups::labeled_partition``)
and, when installed from PyPI, compiles its CUDA extension on first use (nvcc, ninja and the
``packaging`` module must be present; a minute or more the first time).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from splatkit.errors import BackendUnavailableError

if TYPE_CHECKING:
    import torch

MIN_COMPUTE_CAPABILITY = (7, 0)
_INSTALL_HINT = "pip install 'splatkit[train]' with a CUDA build of torch, on an NVIDIA GPU"


def _unavailable(why: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"render backend 'gsplat' is unavailable: {why}; use backend='cpu' or fix the install",
        kind="render", name="gsplat", install_hint=_INSTALL_HINT,
    )


def gsplat_unavailable_reason() -> str | None:
    """Why the gsplat backend cannot run here, or None when it can (imports torch, not gsplat)."""
    for module in ("torch", "gsplat"):
        if importlib.util.find_spec(module) is None:
            return f"the '{module}' package is not installed"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device"
    capability = torch.cuda.get_device_capability()
    if capability < MIN_COMPUTE_CAPABILITY:
        name = torch.cuda.get_device_name()
        return (
            f"{name} has compute capability {capability[0]}.{capability[1]}; gsplat>=1.0 needs "
            f">= {MIN_COMPUTE_CAPABILITY[0]}.{MIN_COMPUTE_CAPABILITY[1]}"
        )
    return None


def rasterize_gsplat(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None,
    near_plane: float,
    far_plane: float,
    eps2d: float,
    radius_clip: float,
    rasterize_mode: str,
    backgrounds: torch.Tensor | None,
    absgrad: bool,
    packed: bool,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Render ``C`` cameras with ``gsplat.rasterization``; tensors must be on the CUDA device.

    Returns
    -------
    rgb, alpha, info
        ``[C, H, W, 3]``, ``[C, H, W, 1]`` and gsplat's ``meta`` dict unchanged.
    """
    reason = gsplat_unavailable_reason()
    if reason is not None:
        raise _unavailable(reason)
    try:
        import gsplat
    except ImportError as e:  # e.g. gsplat 1.5.3's undeclared 'packaging' dependency
        raise _unavailable(f"importing gsplat failed ({e})") from e
    try:
        rgb, alpha, meta = gsplat.rasterization(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height,
            near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, radius_clip=radius_clip,
            sh_degree=sh_degree, packed=packed, backgrounds=backgrounds, absgrad=absgrad,
            rasterize_mode=rasterize_mode,
        )
    except (ImportError, AttributeError, OSError) as e:
        # No compiled extension: a failed JIT build surfaces as ImportError/OSError, a missing
        # toolkit as "'NoneType' object has no attribute ..." (gsplat's lazy CUDA objects).
        raise _unavailable(f"gsplat's CUDA extension could not be loaded or built ({e})") from e
    return rgb, alpha, meta
