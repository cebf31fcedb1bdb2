"""A nadir grid survey of many cheap photos for memory tests (no ray casting, any photo count).

The pixels are smooth patterns, not renders of the points: memory tests train a few steps and
measure what the process holds, not what it learns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splatkit.contracts import Camera, Frames, Points, PosedImages, Reconstruction, Tracks

#: cam_from_world rotation of a camera looking straight down (OpenCV axes: x east, y south, z down).
NADIR = np.diag([1.0, -1.0, -1.0])


def write_survey(folder: Path, *, n_photos: int, width: int, height: int, n_points: int = 400,
                 seed: int = 0, fmt: str = "png") -> PosedImages:
    """``n_photos`` nadir photos [height, width, 3] on a square grid 10 m above a textured plane.

    Each point is observed by two photos (enough for the contracts); the pixels are a gradient
    with a per-photo offset so that no two files are identical.
    """
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_photos)))
    centers = np.array([[2.0 * (i % side), 2.0 * (i // side), 10.0] for i in range(n_photos)])
    yy, xx = np.mgrid[0:height, 0:width]
    names = []
    for i in range(n_photos):
        base = (xx * 3 + yy * 5 + 7 * i) % 256
        pixels = np.stack([base, (base + 85) % 256, (255 - base)], axis=-1).astype(np.uint8)
        name = f"photo{i:04d}.{fmt}"
        Image.fromarray(pixels).save(folder / name)
        names.append(name)
    rotation = np.tile(NADIR, (n_photos, 1, 1))
    translation = -(rotation @ centers[:, :, None])[:, :, 0]
    extent = centers[:, :2].max(axis=0) + 2.0
    xyz = np.column_stack([rng.uniform(-2.0, extent[0], n_points), rng.uniform(-2.0, extent[1], n_points),
                           rng.normal(0.0, 0.2, n_points)])
    f = 0.8 * width
    frame_index = np.concatenate([rng.integers(0, n_photos, n_points), rng.integers(0, n_photos, n_points)])
    rec = Reconstruction(
        cameras=(Camera(model="PINHOLE", width=width, height=height,
                        params=[f, f, width / 2, height / 2]),),
        frames=Frames(names=tuple(names), camera_index=np.zeros(n_photos, np.int32), rotation=rotation,
                      translation=translation),
        points=Points(xyz=xyz, rgb=rng.integers(0, 256, (n_points, 3)).astype(np.uint8),
                      error=np.zeros(n_points)),
        tracks=Tracks(point_index=np.tile(np.arange(n_points), 2), frame_index=frame_index.astype(np.int64),
                      xy=np.full((2 * n_points, 2), [width / 2, height / 2])),
        source=f"synthetic {n_photos}-photo survey",
    )
    return PosedImages(reconstruction=rec.validate(), image_dir=folder)
