"""A tiny posed-image scene for training tests: rendered from known Gaussians, no dataset needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splatkit.contracts import Camera, Frames, Points, PosedImages, Reconstruction, Tracks


def look_at(center: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cam_from_world (R, t) for a camera at ``center`` looking at ``target`` (OpenCV axes, y down)."""
    z = target - center
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])
    return rot, -rot @ center


def make_scene(folder: Path, *, n_views: int = 10, width: int = 48, height: int = 40, n_gauss: int = 400,
               seed: int = 0) -> PosedImages:
    """Render ``n_views`` images of a random Gaussian blob cloud and build a matching PosedImages.

    Points are the ground-truth centres (a subset, jittered), with tracks from their projections.
    """
    import torch
    from PIL import Image

    from splatkit.render import rasterize

    rng = np.random.default_rng(seed)
    means = rng.uniform(-1, 1, (n_gauss, 3)) * [1.0, 1.0, 0.3]
    colors = rng.uniform(0.05, 0.95, (n_gauss, 3))
    scales = np.full((n_gauss, 3), 0.12)
    quats = np.tile([1.0, 0, 0, 0], (n_gauss, 1))
    f = 0.9 * width
    K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    rots, trans = [], []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_views):
        angle = 2 * np.pi * i / n_views
        center = np.array([3.0 * np.cos(angle), 3.0 * np.sin(angle), 1.5])
        rot, t = look_at(center, np.zeros(3))
        rots.append(rot)
        trans.append(t)
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = rot, t
        t32 = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        rgb, _, _ = rasterize(t32(means), t32(quats), t32(scales), torch.full((n_gauss,), 0.9), t32(colors),
                              t32(view), t32(K), width, height, backend="cpu")
        pixels = (rgb.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"view{i:03d}.png")
    rots_a, trans_a = np.stack(rots), np.stack(trans)
    xyz = means[::2] + rng.normal(0, 0.02, means[::2].shape)
    cam = rots_a @ xyz.T + trans_a[:, :, None]  # [F, 3, P]
    uv = (K @ cam.transpose(1, 0, 2).reshape(3, -1)).reshape(3, n_views, -1)
    uv = (uv[:2] / uv[2:]).transpose(1, 2, 0)  # [F, P, 2]
    inside = (uv[..., 0] > 0) & (uv[..., 0] < width) & (uv[..., 1] > 0) & (uv[..., 1] < height)
    f_idx, p_idx = np.nonzero(inside)
    keep = np.bincount(p_idx, minlength=len(xyz)) >= 2
    remap = np.cumsum(keep) - 1
    sel = keep[p_idx]
    rec = Reconstruction(
        cameras=(Camera(model="PINHOLE", width=width, height=height, params=[f, f, width / 2, height / 2]),),
        frames=Frames(names=tuple(f"view{i:03d}.png" for i in range(n_views)),
                      camera_index=np.zeros(n_views, np.int32), rotation=rots_a, translation=trans_a),
        points=Points(xyz=xyz[keep], rgb=(colors[::2][keep] * 255).astype(np.uint8), error=np.zeros(keep.sum())),
        tracks=Tracks(point_index=remap[p_idx[sel]], frame_index=f_idx[sel], xy=uv[f_idx[sel], p_idx[sel]]),
        source="synthetic test scene",
    )
    return PosedImages(reconstruction=rec.validate(), image_dir=folder)
