"""Training views: images as tensors with their cameras, split into train and held-out sets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splatkit.contracts import PosedImages
from splatkit.contracts.images import ImageRecord
from splatkit.train.normalize import SceneNormalization

__all__ = ["View", "load_views", "split_holdout"]


@dataclass(frozen=True)
class View:
    """One posed image, in the normalised scene frame.

    Attributes
    ----------
    name : str
    image : torch.Tensor float32 [H, W, 3]
        Pixels in [0, 1].
    viewmat : torch.Tensor float32 [4, 4]
        cam_from_world in the normalised frame.
    K : torch.Tensor float32 [3, 3]
        Pinhole intrinsics for this (possibly downscaled) image size.
    """

    name: str
    image: object
    viewmat: object
    K: object

    @property
    def width(self) -> int:
        return int(self.image.shape[1])  # type: ignore[attr-defined]

    @property
    def height(self) -> int:
        return int(self.image.shape[0])  # type: ignore[attr-defined]


def split_holdout(names: tuple[str, ...], test_every: int) -> tuple[list[int], list[int]]:
    """Indices of (train, held-out) frames: every ``test_every``-th frame by sorted name is held out.

    ``test_every <= 0`` holds nothing out.
    """
    order = sorted(range(len(names)), key=lambda i: names[i])
    held = {order[j] for j in range(len(order)) if test_every > 0 and j % test_every == 0}
    return [i for i in range(len(names)) if i not in held], sorted(held, key=lambda i: names[i])


def load_views(posed: PosedImages, norm: SceneNormalization, *, downscale: int = 1,
               device: str = "cpu") -> list[View]:
    """Read every frame's image (downscaled) and build its camera in the normalised frame."""
    import torch

    rec = posed.reconstruction
    views = []
    for i, name in enumerate(rec.frames.names):
        cam = rec.camera_of(i)
        record = ImageRecord(name=name, path=posed.image_dir / name, width=cam.width, height=cam.height)
        pixels = record.load(downscale=downscale)
        h, w = pixels.shape[:2]
        K = cam.K().copy()
        K[0, :] *= w / cam.width  # exact ratio: W // downscale need not be W / downscale
        K[1, :] *= h / cam.height
        rot, trans = norm.pose_to_norm(rec.frames.rotation[i], rec.frames.translation[i])
        viewmat = np.eye(4)
        viewmat[:3, :3], viewmat[:3, 3] = rot, trans
        views.append(View(
            name=name,
            image=torch.from_numpy(pixels.astype(np.float32) / 255.0).to(device),
            viewmat=torch.from_numpy(viewmat.astype(np.float32)).to(device),
            K=torch.from_numpy(K.astype(np.float32)).to(device),
        ))
    return views
