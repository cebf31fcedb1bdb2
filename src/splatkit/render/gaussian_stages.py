"""Differentiable per-Gaussian stages of the CPU backend: projection and SH colours.

Thin ``torch.autograd.Function`` wrappers over the numba kernels of
:mod:`splatkit.render._gaussian_kernels` (forward and hand-written backward). Outputs use gsplat's
non-packed layout: ``[C, N, ...]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Projection:
    """Per-camera screen-space Gaussians (gsplat's non-packed projection outputs).

    Attributes
    ----------
    means2d
        ``[C, N, 2]`` pixel coordinates of the centres (differentiable).
    conics
        ``[C, N, 3]`` upper triangle ``(a, b, c)`` of the inverse blurred 2D covariance.
    opacities
        ``[C, N]`` opacities, times the compensation in antialiased mode (differentiable).
    depths
        ``[C, N]`` camera-space z of the centres.
    radii
        ``[C, N, 2]`` int32 per-axis box half-sizes in pixels; 0 where culled.
    compensations
        ``[C, N]`` ``sqrt(det(cov2d) / det(cov2d + eps2d I))`` (0 where culled).
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    opacities: torch.Tensor
    depths: torch.Tensor
    radii: torch.Tensor
    compensations: torch.Tensor


def _np(t: torch.Tensor, dtype: Any = None) -> np.ndarray:
    t = t.detach()
    if dtype is not None:
        t = t.to(dtype)
    return t.contiguous().numpy()


def project_gaussians(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    radius_clip: float = 0.0,
    antialiased: bool = False,
) -> Projection:
    """Project ``N`` Gaussians (``[N, 3]``, ``[N, 4]`` wxyz, ``[N, 3]`` activated, ``[N]``)
    into ``C`` pinhole cameras (``viewmats [C, 4, 4]`` cam_from_world, ``Ks [C, 3, 3]``)."""
    fn = _functions()["project"]
    settings = (int(width), int(height), float(near_plane), float(far_plane), float(eps2d),
                float(radius_clip), bool(antialiased))
    means2d, conics, opac, depths, radii, comps = fn.apply(
        means, quats, scales, opacities, viewmats, Ks, settings
    )
    return Projection(means2d, conics, opac, depths, radii, comps)


def sh_colors(
    sh_degree: int, means: torch.Tensor, coeffs: torch.Tensor, viewmats: torch.Tensor,
    radii: torch.Tensor,
) -> torch.Tensor:
    """``[C, N, 3]`` colours ``max(SH + 0.5, 0)`` of ``coeffs [N, K, 3]`` seen from each camera
    (view direction ``means - campos``, normalised); 0 where ``radii`` is 0."""
    return _functions()["sh"].apply(sh_degree, means, coeffs, viewmats, radii)


_FUNCTIONS: dict[str, Any] = {}


def _functions() -> dict[str, Any]:
    if not _FUNCTIONS:
        _FUNCTIONS.update(_make_functions())
    return _FUNCTIONS


def _make_functions() -> dict[str, Any]:
    import torch

    from splatkit.render._gaussian_kernels import compiled_gaussian_kernels
    from splatkit.render._threading import threads_for

    class ProjectFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, means, quats, scales, opacities, viewmats, Ks, settings):
            width, height, near, far, eps2d, radius_clip, antialiased = settings
            k = compiled_gaussian_kernels()
            dtype = means.dtype
            arrays = [_np(t, dtype) for t in (means, quats, scales, opacities, viewmats, Ks)]
            c, n = viewmats.shape[0], means.shape[0]
            np_dtype = arrays[0].dtype
            means2d = np.empty((c, n, 2), np_dtype)
            conics = np.empty((c, n, 3), np_dtype)
            opac = np.empty((c, n), np_dtype)
            depths = np.empty((c, n), np_dtype)
            radii = np.empty((c, n, 2), np.int32)
            comps = np.empty((c, n), np_dtype)
            with threads_for(c * n):
                k.project_fwd(*arrays, width, height, near, far, eps2d, radius_clip,
                              antialiased, means2d, conics, opac, depths, radii, comps)
            ctx.arrays = arrays
            ctx.dtype = dtype
            ctx.settings = settings
            ctx.radii = radii
            ctx.in_dtypes = (quats.dtype, scales.dtype, opacities.dtype)
            depths_t = torch.from_numpy(depths)
            radii_t = torch.from_numpy(radii)
            comps_t = torch.from_numpy(comps)
            ctx.mark_non_differentiable(depths_t, radii_t, comps_t)
            return (torch.from_numpy(means2d), torch.from_numpy(conics), torch.from_numpy(opac),
                    depths_t, radii_t, comps_t)

        @staticmethod
        def backward(ctx, v_means2d, v_conics, v_opac, *_unused):
            width, height, _, _, eps2d, _, antialiased = ctx.settings
            k = compiled_gaussian_kernels()
            means = ctx.arrays[0]
            dtype = ctx.dtype
            grads_out = [
                _np(v if v is not None else torch.zeros(shape, dtype=dtype), dtype)
                for v, shape in (
                    (v_means2d, ctx.radii.shape), (v_conics, ctx.radii.shape[:2] + (3,)),
                    (v_opac, ctx.radii.shape[:2]),
                )
            ]
            n = means.shape[0]
            v_means = np.empty((n, 3), means.dtype)
            v_quats = np.empty((n, 4), means.dtype)
            v_scales = np.empty((n, 3), means.dtype)
            v_opacities = np.empty((n,), means.dtype)
            with threads_for(ctx.radii.shape[0] * n):
                k.project_bwd(*ctx.arrays, width, height, eps2d, antialiased, ctx.radii,
                              *grads_out, v_means, v_quats, v_scales, v_opacities)
            q_dtype, s_dtype, o_dtype = ctx.in_dtypes
            return (torch.from_numpy(v_means), torch.from_numpy(v_quats).to(q_dtype),
                    torch.from_numpy(v_scales).to(s_dtype),
                    torch.from_numpy(v_opacities).to(o_dtype), None, None, None)

    class ShFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, sh_degree, means, coeffs, viewmats, radii):
            k = compiled_gaussian_kernels()
            dtype = means.dtype
            rot = viewmats[:, :3, :3].to(dtype)
            # Camera centre in world space: -R^T t of cam_from_world.
            campos = -torch.einsum("cji,cj->ci", rot, viewmats[:, :3, 3].to(dtype))
            m, co, cp = _np(means), _np(coeffs, dtype), _np(campos)
            rad = radii.contiguous().numpy()
            colors = np.empty((cp.shape[0], m.shape[0], 3), m.dtype)
            with threads_for(colors.shape[0] * colors.shape[1]):
                k.sh_fwd(sh_degree, m, co, cp, rad, colors)
            ctx.state = (sh_degree, m, co, cp, rad, colors, coeffs.dtype)
            ctx.dtype = dtype
            return torch.from_numpy(colors)

        @staticmethod
        def backward(ctx, v_colors):
            sh_degree, m, co, cp, rad, colors, coeffs_dtype = ctx.state
            k = compiled_gaussian_kernels()
            v_coeffs = np.empty(co.shape, m.dtype)
            v_means = np.empty(m.shape, m.dtype)
            with threads_for(colors.shape[0] * colors.shape[1]):
                k.sh_bwd(sh_degree, m, co, cp, rad, colors, _np(v_colors, ctx.dtype), v_coeffs,
                         v_means)
            return (None, torch.from_numpy(v_means), torch.from_numpy(v_coeffs).to(coeffs_dtype),
                    None, None)

    return {"project": ProjectFunction, "sh": ShFunction}
