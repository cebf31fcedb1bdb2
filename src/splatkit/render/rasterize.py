"""``rasterize()``: one entry point over the registered rasterizer backends.

Backends are looked up by name in a small registry (:func:`register_backend`,
:func:`available_backends`); built in are ``cpu`` (our numba rasterizer, no GPU) and ``gsplat``
(CUDA). Both take gsplat 1.5.3's conventions and return its ``meta`` keys, so gsplat's
``DefaultStrategy`` and ``MCMCStrategy`` read either backend's ``info``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from splatkit.errors import BackendUnavailableError, ContractError

if TYPE_CHECKING:
    import torch

RASTERIZE_MODES = ("classic", "antialiased")


@dataclass(frozen=True)
class RasterBackend:
    """A registered rasterizer.

    Attributes
    ----------
    name
        Registry key, e.g. ``"cpu"``.
    render
        ``render(means, quats, scales, opacities, colors, viewmats [C,4,4], Ks [C,3,3], width,
        height, **options) -> (rgb [C,H,W,3], alpha [C,H,W,1], info)``.
    unavailable_reason
        Cheap check: None when the backend can run here, else why not.
    supports_packed
        Whether ``packed=True`` is honoured.
    install_hint
        How to make it available, quoted in ``BackendUnavailableError``.
    """

    name: str
    render: Callable[..., tuple[Any, Any, dict[str, Any]]]
    unavailable_reason: Callable[[], str | None]
    supports_packed: bool = False
    install_hint: str = ""


_BACKENDS: dict[str, RasterBackend] = {}


def register_backend(backend: RasterBackend) -> None:
    """Add a rasterizer backend; a duplicate name is an error."""
    if backend.name in _BACKENDS:
        raise ValueError(f"render backend {backend.name!r} is already registered")
    _BACKENDS[backend.name] = backend


def get_backend(name: str) -> RasterBackend:
    """The backend registered under ``name`` (``ContractError`` naming the choices otherwise)."""
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ContractError(
            f"unknown render backend {name!r}; choose one of {sorted(_BACKENDS)}",
            field="backend", expected=sorted(_BACKENDS), actual=name,
        ) from None


def available_backends() -> list[str]:
    """Names of the registered backends that can run on this machine."""
    return [name for name, b in _BACKENDS.items() if b.unavailable_reason() is None]


def _cpu_unavailable_reason() -> str | None:
    import importlib.util

    for module in ("torch", "numba"):
        if importlib.util.find_spec(module) is None:
            return f"the '{module}' package is not installed (pip install 'splatkit[train]')"
    return None


def _render_cpu(*args: Any, packed: bool, **kwargs: Any) -> tuple[Any, Any, dict[str, Any]]:
    from splatkit.render.cpu_backend import rasterize_cpu

    return rasterize_cpu(*args, **kwargs)


def _render_gsplat(*args: Any, **kwargs: Any) -> tuple[Any, Any, dict[str, Any]]:
    from splatkit.render.gsplat_backend import rasterize_gsplat

    return rasterize_gsplat(*args, **kwargs)


def _gsplat_unavailable_reason() -> str | None:
    from splatkit.render.gsplat_backend import gsplat_unavailable_reason

    return gsplat_unavailable_reason()


register_backend(
    RasterBackend(
        "cpu", _render_cpu, _cpu_unavailable_reason, install_hint="pip install 'splatkit[train]'"
    )
)
register_backend(
    RasterBackend(
        "gsplat", _render_gsplat, _gsplat_unavailable_reason, supports_packed=True,
        install_hint="needs an NVIDIA GPU with compute capability >= 7.0, a CUDA build of torch "
        "and gsplat 1.5.3 (pip install 'splatkit[train]'); or use backend='cpu'",
    )
)


def rasterize(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmat: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    backend: str = "cpu",
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    radius_clip: float = 0.0,
    rasterize_mode: str = "classic",
    background: torch.Tensor | None = None,
    packed: bool = False,
    absgrad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Render 3D Gaussians with gsplat 1.5.3's conventions, differentiably.

    Parameters
    ----------
    means
        ``[N, 3]`` world-space centres.
    quats
        ``[N, 4]`` rotations (w, x, y, z), need not be normalised.
    scales
        ``[N, 3]`` activated (positive) scales, not log-scales.
    opacities
        ``[N]`` activated opacities in [0, 1], not logits.
    colors
        ``[N, K, 3]`` SH coefficients with ``sh_degree`` set (``K >= (sh_degree + 1) ** 2``), or
        ``[N, 3]`` RGB with ``sh_degree=None``.
    viewmat
        ``[4, 4]`` cam_from_world (OpenCV axes: x right, y down, z forward), or ``[C, 4, 4]``.
    K
        ``[3, 3]`` pixel intrinsics, or ``[C, 3, 3]``. Pixel centres are at ``(j + 0.5, i + 0.5)``.
    width, height
        Image size in pixels.
    backend
        A registered backend: ``"cpu"`` or ``"gsplat"`` (CUDA tensors).
    near_plane, far_plane, eps2d, radius_clip, rasterize_mode
        As ``gsplat.rasterization``; ``rasterize_mode`` is ``"classic"`` or ``"antialiased"``.
    background
        ``[3]`` (or ``[C, 3]``) colour blended behind the Gaussians; default black.
    packed
        gsplat's packed layout (``gsplat`` backend only).
    absgrad
        Also accumulate ``info["means2d"].absgrad`` in backward (for AbsGS densification).

    Returns
    -------
    rgb, alpha, info
        ``[H, W, 3]``, ``[H, W, 1]`` (with a leading ``[C]`` when ``viewmat`` is batched) and
        gsplat's ``meta`` dict: ``means2d [C, N, 2]`` (call ``retain_grad()`` before backward to
        read its pixel-space gradient), ``radii [C, N, 2]`` int32, ``width``, ``height``,
        ``n_cameras``, ``gaussian_ids`` (None unless packed), ``depths``, ``conics``,
        ``opacities``, ``tiles_per_gauss``, ...

    Raises
    ------
    BackendUnavailableError
        The backend cannot run here (message says why and how to fix it).
    ContractError
        Inconsistent shapes, an unknown backend or mode.
    """
    chosen = get_backend(backend)
    reason = chosen.unavailable_reason()
    if reason is not None:
        raise BackendUnavailableError(
            f"render backend {backend!r} is unavailable: {reason}",
            kind="render", name=backend, install_hint=chosen.install_hint,
        )
    if packed and not chosen.supports_packed:
        raise ContractError(
            f"render backend {backend!r} does not support packed=True; use packed=False",
            field="packed", expected=False, actual=True,
        )
    if rasterize_mode not in RASTERIZE_MODES:
        raise ContractError(
            f"rasterize_mode must be one of {RASTERIZE_MODES}, got {rasterize_mode!r}",
            field="rasterize_mode", expected=RASTERIZE_MODES, actual=rasterize_mode,
        )
    if backend == "cpu" and means.device.type != "cpu":
        raise ContractError(
            f"render backend 'cpu' needs CPU tensors, got means on {means.device}; move them "
            "with .cpu() or use backend='gsplat'",
            field="means", expected="cpu", actual=str(means.device),
        )
    batched = viewmat.dim() == 3
    viewmats = viewmat if batched else viewmat[None]
    Ks = K if K.dim() == 3 else K[None].expand(viewmats.shape[0], 3, 3)
    _check_shapes(means, quats, scales, opacities, colors, viewmats, Ks, sh_degree)
    backgrounds = None
    if background is not None:
        backgrounds = background if background.dim() == 2 else background[None]
        backgrounds = backgrounds.expand(viewmats.shape[0], 3)
    rgb, alpha, info = chosen.render(
        means, quats, scales, opacities, colors, viewmats, Ks, int(width), int(height),
        sh_degree=sh_degree, near_plane=near_plane, far_plane=far_plane, eps2d=eps2d,
        radius_clip=radius_clip, rasterize_mode=rasterize_mode, backgrounds=backgrounds,
        absgrad=absgrad, packed=packed,
    )
    if not batched:
        rgb, alpha = rgb[0], alpha[0]
    return rgb, alpha, info


def _check_shapes(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    sh_degree: int | None,
) -> None:
    n = means.shape[0] if means.dim() == 2 else -1
    expected = {
        "means": (means, (n, 3)),
        "quats": (quats, (n, 4)),
        "scales": (scales, (n, 3)),
        "opacities": (opacities, (n,)),
        "viewmat": (viewmats, (viewmats.shape[0], 4, 4)),
        "K": (Ks, (viewmats.shape[0], 3, 3)),
    }
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ContractError(
                f"rasterize: {name} has shape {tuple(tensor.shape)}, expected {shape}",
                field=name, expected=shape, actual=tuple(tensor.shape),
            )
    if sh_degree is None:
        ok = colors.dim() == 2 and tuple(colors.shape) == (n, 3)
        want = f"[{n}, 3] RGB (or pass sh_degree for [N, K, 3] SH coefficients)"
    else:
        n_bases = (sh_degree + 1) ** 2
        ok = (
            colors.dim() == 3 and colors.shape[0] == n and colors.shape[2] == 3
            and colors.shape[1] >= n_bases and 0 <= sh_degree <= 3
        )
        want = f"[{n}, K >= {n_bases}, 3] SH coefficients for sh_degree={sh_degree} (0..3)"
    if not ok:
        raise ContractError(
            f"rasterize: colors has shape {tuple(colors.shape)}, expected {want}",
            field="colors", expected=want, actual=tuple(colors.shape),
        )
