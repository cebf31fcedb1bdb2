"""SSIM and PSNR in plain torch, so the D-SSIM loss runs on CPU (``fused_ssim`` is CUDA-only).

The Gaussian window is applied as a separable blur written as shifted in-place adds, inside an
autograd Function whose backward is the same blur (a symmetric kernel with zero padding is its
own adjoint). On a 2-core CPU this is 10-40x faster than ``conv2d`` with ``groups=3``, whose
depthwise CPU path dominated a training step (0.45 s of 0.58 s at 320x240).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["ssim", "psnr", "gaussian_blur"]

_C1 = 0.01**2  # (K1 * L)^2 with L = 1 (images in [0, 1]), Wang et al. 2004
_C2 = 0.03**2


def _gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    import torch

    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _blur_same(x: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """Zero-padded "same" correlation of ``x`` [C, H, W] with ``weights`` along W, then along H."""
    import torch.nn.functional as F

    k = len(weights)
    pad = k // 2
    _, h, w = x.shape
    padded = F.pad(x, (pad, pad, 0, 0))
    rows = padded[:, :, 0:w] * weights[0]
    for i in range(1, k):
        rows.add_(padded[:, :, i:i + w], alpha=weights[i])
    padded = F.pad(rows, (0, 0, pad, pad))
    out = padded[:, 0:h, :] * weights[0]
    for i in range(1, k):
        out.add_(padded[:, i:i + h, :], alpha=weights[i])
    return out


def gaussian_blur(x: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Differentiable separable Gaussian blur of ``x`` [C, H, W] with zero padding (same size)."""
    import torch

    class _Blur(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return _blur_same(inp, weights)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return _blur_same(grad.contiguous(), weights)

    weights = [float(v) for v in _gaussian_window(window_size, sigma, torch.device("cpu"), torch.float64)]
    return _Blur.apply(x)


def ssim(img1: torch.Tensor, img2: torch.Tensor, *, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity of two images, differentiable.

    Same definition as the 3DGS reference (11x11 Gaussian window, sigma 1.5, zero padding, "same"
    output size).

    Parameters
    ----------
    img1, img2 : torch.Tensor [H, W, 3] or [B, H, W, 3]
        Images in [0, 1].

    Returns
    -------
    torch.Tensor
        Scalar mean SSIM.
    """
    import torch

    if img1.dim() == 3:
        img1, img2 = img1[None], img2[None]
    b, h, w, c = img1.shape
    a = img1.permute(0, 3, 1, 2).reshape(b * c, h, w)
    bb = img2.permute(0, 3, 1, 2).reshape(b * c, h, w)
    n = b * c
    # One blur call over the five moment maps: a, b, a^2, b^2, ab.
    stats = gaussian_blur(torch.cat([a, bb, a * a, bb * bb, a * bb]), window_size, sigma)
    mu1, mu2, e11, e22, e12 = stats.split(n)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    num = (2 * mu12 + _C1) * (2 * (e12 - mu12) + _C2)
    den = (mu1_sq + mu2_sq + _C1) * ((e11 - mu1_sq) + (e22 - mu2_sq) + _C2)
    return (num / den).mean()


def psnr(img1: torch.Tensor, img2: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (renders clamped to [0, 1] first)."""
    import torch

    mse = torch.mean((img1.clamp(0, 1) - img2) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * torch.log10(torch.tensor(mse)).item()
