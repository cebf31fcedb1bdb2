"""The ``gsplat`` rasterizer backend: ``gsplat.rasterization`` on a CUDA device.

gsplat needs compute capability >= 7.0 (its kernels use ``cooperative_groups::labeled_partition``)
and, when installed from PyPI, compiles its CUDA extension on first use (nvcc, ninja and the
``packaging`` module must be present; a minute or more the first time).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from splatkit.device import cuda_problem
from splatkit.errors import BackendUnavailableError

if TYPE_CHECKING:
    import torch

_INSTALL_HINT = "pip install 'splatkit[train]' with a CUDA build of torch, on an NVIDIA GPU"


#: Substrings (lower case) of the RuntimeErrors a broken gsplat extension raises on first use:
#: torch's JIT build ("Error building extension 'gsplat_cuda'", "Ninja is required ...", a
#: missing CUDA_HOME) and a build lacking this GPU's architecture ("no kernel image is available").
_BUILD_MARKERS = ("error building extension", "cuda_home", "ninja")
_ARCH_MARKERS = ("no kernel image",)


def _unavailable(why: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"render backend 'gsplat' is unavailable: {why}; use backend='cpu' (no GPU needed) or fix the install",
        kind="render", name="gsplat", install_hint=_INSTALL_HINT,
    )


def _extension_failure(error: RuntimeError) -> BackendUnavailableError | None:
    """The backend-unavailable error for a RuntimeError from a broken gsplat build, else None."""
    text = str(error)
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    lowered = text.lower()
    if any(marker in lowered for marker in _ARCH_MARKERS):
        import torch

        major, minor = torch.cuda.get_device_capability()
        return _unavailable(
            f"gsplat's CUDA extension has no kernels for this GPU ({first_line}): compute capability "
            f"{major}.{minor} is not in the TORCH_CUDA_ARCH_LIST it was built with; rebuild it with "
            f"TORCH_CUDA_ARCH_LIST including \"{major}.{minor}\" (see docs/gpu.md)")
    if any(marker in lowered for marker in _BUILD_MARKERS):
        return _unavailable(
            f"building gsplat's CUDA extension failed ({first_line}); the JIT build needs nvcc "
            "(CUDA_HOME), ninja and a TORCH_CUDA_ARCH_LIST covering this GPU (see docs/gpu.md)")
    return None


def gsplat_unavailable_reason() -> str | None:
    """Why the gsplat backend cannot run here, or None when it can (imports torch, not gsplat)."""
    for module in ("torch", "gsplat"):
        if importlib.util.find_spec(module) is None:
            return f"the '{module}' package is not installed"
    return cuda_problem()


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
    except RuntimeError as e:
        # The first rasterization triggers gsplat's lazy JIT build and the first kernel launch;
        # only those failures become "unavailable", any other RuntimeError is a real bug.
        unavailable = _extension_failure(e)
        if unavailable is None:
            raise
        raise unavailable from e
    return rgb, alpha, meta
