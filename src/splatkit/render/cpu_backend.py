"""The ``cpu`` rasterizer backend: PyTorch projection and SH, numba tile compositing.

Same semantics and ``info`` keys as ``gsplat.rasterization(..., packed=False)`` for pinhole
cameras and RGB output; see :mod:`splatkit.render.gaussian_stages` (projection, SH) and
:mod:`splatkit.render.tile_compositor` (tiles, compositing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def rasterize_cpu(
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
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Render ``C`` cameras; arguments as :func:`splatkit.render.rasterize` with batched cameras.

    Returns
    -------
    rgb, alpha, info
        ``[C, H, W, 3]``, ``[C, H, W, 1]`` and gsplat's non-packed ``meta`` keys.
    """
    from splatkit.render.gaussian_stages import project_gaussians, sh_colors
    from splatkit.render.tile_compositor import composite_tiles

    proj = project_gaussians(
        means, quats, scales, opacities, viewmats, Ks, width, height,
        near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, radius_clip=radius_clip,
        antialiased=rasterize_mode == "antialiased",
    )
    n_cameras = viewmats.shape[0]
    if sh_degree is None:
        colors_c = colors[None].expand(n_cameras, -1, -1)
    else:
        colors_c = sh_colors(sh_degree, means, colors, viewmats, proj.radii)
    rgb, alpha, tiles = composite_tiles(
        proj.means2d, proj.conics, colors_c, proj.opacities, proj.radii, proj.depths,
        width, height, background=backgrounds, absgrad=absgrad,
    )
    info: dict[str, Any] = {
        "batch_ids": None,
        "camera_ids": None,
        "gaussian_ids": None,
        "radii": proj.radii,
        "means2d": proj.means2d,
        "depths": proj.depths,
        "conics": proj.conics,
        "opacities": proj.opacities,
        "tile_width": tiles["tile_width"],
        "tile_height": tiles["tile_height"],
        "tiles_per_gauss": tiles["tiles_per_gauss"],
        "n_isects": tiles["n_isects"],
        "width": width,
        "height": height,
        "tile_size": tiles["tile_size"],
        "n_batches": 1,
        "n_cameras": n_cameras,
    }
    return rgb, alpha, info
