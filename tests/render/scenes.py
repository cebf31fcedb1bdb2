"""Small random test scenes shared by the render tests (and runnable on a CUDA device)."""

from __future__ import annotations

import torch


def random_scene(
    n: int,
    *,
    seed: int,
    width: int = 24,
    height: int = 20,
    sh_degree: int | None = 3,
    dtype: torch.dtype = torch.float64,
    opacity_range: tuple[float, float] = (0.1, 0.7),
    scale_range: tuple[float, float] = (0.08, 0.35),
    spread: float = 0.6,
) -> dict:
    """Gaussians in front of an identity camera at depth ~4; a few off-image and behind it.

    Opacities stay below 0.999/max so no alpha clamp is hit; few Gaussians per pixel keep T well
    above the 1e-4 stop, so images and gradients are smooth in the inputs.
    """
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g, dtype=dtype)

    means = (rand(n, 3) - 0.5) * 2 * spread
    means[:, 2] += 4.0
    lo, hi = scale_range
    scales = lo + (hi - lo) * rand(n, 3)
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    lo, hi = opacity_range
    opacities = lo + (hi - lo) * rand(n)
    if sh_degree is None:
        colors = rand(n, 3)
    else:
        colors = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g, dtype=dtype) * 0.3
    f = 1.2 * width
    K = torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=dtype)
    viewmat = torch.eye(4, dtype=dtype)
    return {
        "means": means, "quats": quats, "scales": scales, "opacities": opacities,
        "colors": colors, "viewmat": viewmat, "K": K, "width": width, "height": height,
        "sh_degree": sh_degree,
    }
