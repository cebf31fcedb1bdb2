"""Training views: images as tensors with their cameras, split into train and held-out sets.

Images stay compact on the host: uint8 ``[H, W, 3]`` CPU tensors (pinned when training on CUDA),
1 byte per channel instead of float32's 4, and never on the GPU all at once. The trainer moves one
view per step to the training device with :meth:`View.to_device`, which converts to float32
there, so GPU memory does not grow with the photo count and host memory grows by the photos'
uint8 size only (a 1600x1200 photo: 5.8 MB instead of 23 MB; tests/train/test_view_memory.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splatkit.contracts import PosedImages
from splatkit.contracts.images import ImageRecord
from splatkit.errors import ContractError
from splatkit.train.normalize import SceneNormalization, normalization_from_cameras

__all__ = ["View", "TrainingScene", "load_training_scene", "load_views", "split_holdout", "train_view_for_step",
           "host_image_bytes"]


@dataclass(frozen=True)
class View:
    """One posed image, in the normalised scene frame.

    A loaded scene holds *host* views (``image`` uint8 on the CPU); :meth:`to_device` gives the
    *device* view a step or an evaluation uses (``image`` float32 in [0, 1] on the device).

    Attributes
    ----------
    name : str
    image : torch.Tensor uint8 [H, W, 3] (host view) or float32 [H, W, 3] in [0, 1] (device view)
        Pixels.
    viewmat : torch.Tensor float32 [4, 4]
        cam_from_world in the normalised frame.
    K : torch.Tensor float32 [3, 3]
        Pinhole intrinsics for this (possibly downscaled) image size.
    """

    name: str
    image: object
    viewmat: object
    K: object

    def to_device(self, device: str) -> View:
        """This view on ``device`` with a float32 image in [0, 1] (what a step renders against).

        One uint8 copy to the device, then the conversion there (a quarter of the bytes over the
        bus). From pinned host memory the copies are asynchronous: later work on the device is
        ordered after them by the stream, and host views are never written to, so nothing races.
        The conversion is ``/ 255`` in float32, bitwise what loading as float32 gave. A device
        view is returned as it is (moved if on another device).
        """
        import torch

        image = self.image
        non_blocking = bool(getattr(image, "is_pinned", lambda: False)())
        target = torch.device(device)
        if image.dtype == torch.uint8 and target.type == "cpu":  # type: ignore[attr-defined]
            # numpy, one thread: torch's two-thread elementwise kernels took 16 ms for 640x480 on a
            # loaded 2-core machine (OpenMP barrier waits), numpy 1 ms; same float32 division.
            image = torch.from_numpy(np.divide(image.numpy(), np.float32(255.0),  # type: ignore[attr-defined]
                                               dtype=np.float32))
        else:
            image = image.to(target, non_blocking=non_blocking)  # type: ignore[attr-defined]
            if image.dtype == torch.uint8:
                image = image.to(torch.float32).div_(255.0)
        return View(name=self.name, image=image,
                    viewmat=self.viewmat.to(device, non_blocking=non_blocking),  # type: ignore[attr-defined]
                    K=self.K.to(device, non_blocking=non_blocking))  # type: ignore[attr-defined]

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
    """Read every frame's image (downscaled) and build its camera in the normalised frame.

    The views are host views (uint8 images on the CPU, see :class:`View`); ``device`` is the
    training device: for CUDA the host tensors are pinned so :meth:`View.to_device` copies
    asynchronously.
    """
    import torch

    pin = str(device).startswith("cuda") and torch.cuda.is_available()

    def host(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.pin_memory() if pin else tensor

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
            image=host(torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.uint8))),
            viewmat=host(torch.from_numpy(viewmat.astype(np.float32))),
            K=host(torch.from_numpy(K.astype(np.float32))),
        ))
    return views


def host_image_bytes(views: list[View]) -> int:
    """Bytes the host views' images hold (uint8: 3 per pixel)."""
    return sum(int(v.image.nbytes) for v in views)  # type: ignore[attr-defined]


def train_view_for_step(step: int, train_ids: list[int], seed: int) -> int:
    """The view trained on at ``step``: a fresh permutation of ``train_ids`` every epoch.

    The permutation is derived from (seed, epoch) alone, so a resumed run picks the same views
    without carrying sampler state, and the global torch RNG is not touched.
    """
    import torch

    n = len(train_ids)
    epoch, pos = divmod(step, n)
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return train_ids[int(torch.randperm(n, generator=gen)[pos])]


@dataclass(frozen=True)
class TrainingScene:
    """The views of one run in the normalised frame, split into training and held-out views.

    Attributes
    ----------
    norm : SceneNormalization
        World -> normalised frame (cameras' centroid at the origin, the farthest at distance 1).
    views : list[View]
        Every frame, in the reconstruction's order, as host views (uint8 images on the CPU).
    train_ids, test_ids : list[int]
        Indices into ``views``; ``test_ids`` in name order.
    scene_scale : float
        gsplat's scene scale: 1.1 x the farthest camera's distance from the centroid (normalised
        frame, so 1.1 unless every camera sits at one spot). Densification thresholds and the
        position learning rate scale with it.
    """

    norm: SceneNormalization
    views: list[View]
    train_ids: list[int]
    test_ids: list[int]
    scene_scale: float
    #: The training device; :meth:`device_view` moves a view there.
    device: str = "cpu"

    def device_view(self, index: int) -> View:
        """``views[index]`` on the training device, float32 (see :meth:`View.to_device`)."""
        return self.views[index].to_device(self.device)


def load_training_scene(posed: PosedImages, *, downscale: int, test_every: int, device: str) -> TrainingScene:
    """Normalise the scene, split off every ``test_every``-th view by name, load every image.

    Raises
    ------
    ContractError
        No training views are left after the hold-out.
    """
    rec = posed.reconstruction
    train_ids, test_ids = split_holdout(rec.frames.names, test_every)
    if not train_ids:
        raise ContractError("no training views left after holding out every "
                            f"{test_every}th image", field="TrainConfig.test_every")
    norm = normalization_from_cameras(rec.frames.centers(), rec.points.xyz)
    views = load_views(posed, norm, downscale=downscale, device=device)
    scene_scale = 1.1 * float(np.linalg.norm(norm.points_to_norm(rec.frames.centers()), axis=1).max() or 1.0)
    return TrainingScene(norm=norm, views=views, train_ids=train_ids, test_ids=test_ids, scene_scale=scene_scale,
                         device=device)
