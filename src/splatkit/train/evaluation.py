"""Held-out evaluation: render the held-out views, score PSNR / SSIM, optionally save the renders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from splatkit.reports import HeldoutScores, ImageQuality, ViewQuality
from splatkit.train.data import View
from splatkit.train.step import Renderer

if TYPE_CHECKING:
    import torch

__all__ = ["evaluate_views", "save_render_png"]


def evaluate_views(views: Sequence[View], ids: Sequence[int], renderer: Renderer, params: Any, sh_degree: int,
                   *, save_dir: Path | None = None, device: str = "cpu") -> HeldoutScores:
    """Score the renders of ``views[i]`` for ``i`` in ``ids`` at ``sh_degree`` (no gradients).

    Each view goes to ``device`` (the training device) on its own, as in training
    (:meth:`splatkit.train.data.View.to_device`), so held-out images never sit on the device together.

    PSNR is rounded to 4 decimals (dB), SSIM to 5; the mean is the mean of the rounded values.
    With ``save_dir``, each render is written as ``save_dir/<stem>.png``.
    """
    import torch

    from splatkit.train.ssim import psnr, ssim

    scores = []
    with torch.no_grad():
        for i in ids:
            view = views[i].to_device(device)
            rgb, _, _ = renderer(params, view, sh_degree)
            rgb = rgb.clamp(0, 1)
            scores.append(ViewQuality(name=view.name, psnr=round(psnr(rgb, view.image), 4),
                                      ssim=round(float(ssim(rgb, view.image)), 5)))
            if save_dir is not None:
                save_render_png(save_dir / (Path(view.name).stem + ".png"), rgb)
    mean = (ImageQuality(psnr=round(float(np.mean([v.psnr for v in scores])), 4),
                         ssim=round(float(np.mean([v.ssim for v in scores])), 5)) if scores else None)
    return HeldoutScores(mean=mean, views=tuple(scores))


def save_render_png(path: Path, rgb: torch.Tensor) -> None:
    """Write a render [H, W, 3] in [0, 1] as an 8-bit PNG (atomically)."""
    from PIL import Image

    from splatkit.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray((rgb.cpu().numpy() * 255.0 + 0.5).astype(np.uint8)).save(tmp, format="PNG")
