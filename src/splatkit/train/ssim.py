"""SSIM and PSNR in plain torch, so the D-SSIM loss runs on CPU (``fused_ssim`` is CUDA-only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["ssim", "psnr"]

_C1 = 0.01**2  # (K1 * L)^2 with L = 1 (images in [0, 1]), Wang et al. 2004
_C2 = 0.03**2


def _gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    import torch

    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def ssim(img1: torch.Tensor, img2: torch.Tensor, *, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity of two images, differentiable.

    Same definition as the 3DGS reference (11x11 Gaussian window, sigma 1.5, zero padding, "same"
    output size), computed with a separable convolution.

    Parameters
    ----------
    img1, img2 : torch.Tensor [H, W, 3] or [B, H, W, 3]
        Images in [0, 1].

    Returns
    -------
    torch.Tensor
        Scalar mean SSIM.
    """
    import torch.nn.functional as F

    if img1.dim() == 3:
        img1, img2 = img1[None], img2[None]
    a = img1.permute(0, 3, 1, 2)
    b = img2.permute(0, 3, 1, 2)
    channels = a.shape[1]
    g = _gaussian_window(window_size, sigma, a.device, a.dtype)
    wx = g.view(1, 1, 1, -1).expand(channels, 1, 1, window_size)
    wy = g.view(1, 1, -1, 1).expand(channels, 1, window_size, 1)
    pad = window_size // 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, wx, padding=(0, pad), groups=channels)
        return F.conv2d(x, wy, padding=(pad, 0), groups=channels)

    mu1, mu2 = blur(a), blur(b)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = blur(a * a) - mu1_sq
    sigma2_sq = blur(b * b) - mu2_sq
    sigma12 = blur(a * b) - mu12
    num = (2 * mu12 + _C1) * (2 * sigma12 + _C2)
    den = (mu1_sq + mu2_sq + _C1) * (sigma1_sq + sigma2_sq + _C2)
    return (num / den).mean()


def psnr(img1: torch.Tensor, img2: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (renders clamped to [0, 1] first)."""
    import torch

    mse = torch.mean((img1.clamp(0, 1) - img2) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * torch.log10(torch.tensor(mse)).item()
