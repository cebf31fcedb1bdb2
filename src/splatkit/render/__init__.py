"""Rasterizers shared by training, compression reports and the pipeline report.

``rasterize(...)`` renders Gaussians with gsplat 1.5.3's conventions through a registered backend:
``cpu`` (numba tile rasterizer, exact and differentiable, no GPU) or ``gsplat`` (CUDA). Importing
this package imports neither torch, numba nor gsplat.
"""

from splatkit.render.rasterize import (
    RasterBackend,
    available_backends,
    get_backend,
    rasterize,
    register_backend,
)

__all__ = ["RasterBackend", "available_backends", "get_backend", "rasterize", "register_backend"]
