"""The GPU memory model: the Gaussian cap and image resolution a VRAM budget allows.

One decision, in one place (docs/gpu.md has the table). A training step on the ``gsplat``
backend holds, on the device:

- per Gaussian (:func:`bytes_per_gaussian`, 2.0 KB at SH degree 3): the parameters (59 float32
  at degree 3: means 3, scales 3, quats 4, opacity 1, SH 48), their gradients and Adam's two
  moments (4 copies: 944 B); the densification statistics (gradient sum, count, max radius:
  12 B); gsplat's projection outputs and their gradients (2D means, depth, conic, radii, evaluated
  colours, view directions: about 15 values, twice: 120 B); tile intersections (an int64 key and
  an int32 index per tile a Gaussian touches, 8 tiles on average, doubled by the radix sort's
  second buffer: 192 B); and the transient copy a clone/split makes while the old parameters and
  Adam moments still live (708 B);
- per training pixel (:data:`BYTES_PER_PIXEL`, 320 B): the photo (uint8 copy and float32), the
  render and its alpha, the per-pixel last-Gaussian index, their gradients, the L1 map and the
  SSIM maps (5 filtered maps and the SSIM map, with autograd's saved copies and gradients);
- fixed: the CUDA context and kernels (:data:`CONTEXT_BYTES`, outside torch's allocator) and a
  :data:`FRAGMENTATION_HEADROOM` share of the budget for the caching allocator's fragmentation.

Photos never count: they stay on the host as uint8 and one view at a time goes to the device
(:mod:`splatkit.train.data`). The model is an upper estimate made from tensor sizes; the capped
runs on a lent GPU (issue #16) are its calibration.

Choices: the resolution keeps what the preset or the user chose unless the training image would
take more than :data:`MAX_IMAGE_SHARE` of the usable memory (then a larger integer downscale,
only when neither ``downscale`` nor ``max_image_size`` was set); the Gaussian cap is the
preset's, lowered to what the rest holds (rounded down to 100,000), never below
:data:`MIN_GAUSSIANS`. A cap or downscale the user set is kept and the reason says whether the
estimate exceeds the budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from splatkit.errors import ContractError

__all__ = ["GIB", "BYTES_PER_PIXEL", "CONTEXT_BYTES", "FRAGMENTATION_HEADROOM", "MAX_IMAGE_SHARE", "MIN_GAUSSIANS",
           "VramBudget", "VramChoice", "bytes_per_gaussian", "usable_bytes", "estimate_bytes", "fit_to_vram",
           "device_vram_budget"]

#: ``max_vram_gb`` counts GiB (2**30 bytes), the unit torch and nvidia-smi (MiB) report.
GIB = 2**30
#: Device bytes per training pixel (see the module docstring).
BYTES_PER_PIXEL = 320
#: The CUDA context, cuBLAS workspace and loaded kernels: memory torch's allocator never sees.
CONTEXT_BYTES = int(0.75 * GIB)
#: Share of the budget kept free for the caching allocator's fragmentation and size rounding.
FRAGMENTATION_HEADROOM = 0.15
#: Largest share of the usable memory the training image's buffers may take before downscaling.
MAX_IMAGE_SHARE = 0.25
#: Smallest Gaussian cap worth training; a budget that allows fewer is refused.
MIN_GAUSSIANS = 100_000
#: Caps are rounded down to a multiple of this.
_CAP_STEP = 100_000
#: Average tiles (16x16 px) a Gaussian touches, for the intersection buffers.
_TILES_PER_GAUSSIAN = 8


def bytes_per_gaussian(sh_degree: int) -> int:
    """Device bytes per Gaussian while training at ``sh_degree`` (2,000 at degree 3; see the module)."""
    values = 3 + 3 + 4 + 1 + 3 * (sh_degree + 1) ** 2  # means, scales, quats, opacity, SH coefficients
    params = 4 * values
    optimiser = 4 * params  # parameters, gradients, Adam's first and second moments
    statistics = 3 * 4
    projection = 2 * 4 * 15
    intersections = _TILES_PER_GAUSSIAN * (8 + 4) * 2
    densify_copy = 3 * params  # a clone/split concatenates parameters and both moments anew
    return optimiser + statistics + projection + intersections + densify_copy


def usable_bytes(budget_bytes: int) -> int:
    """What a budget leaves for Gaussians and pixels: minus the context and the fragmentation share."""
    return int(budget_bytes * (1.0 - FRAGMENTATION_HEADROOM)) - CONTEXT_BYTES


def estimate_bytes(num_gaussians: int, width: int, height: int, sh_degree: int) -> int:
    """Estimated peak device memory of a step (bytes) with ``num_gaussians`` at ``width`` x ``height``.

    Includes the context and the fragmentation headroom, so it compares with the budget directly.
    """
    used = num_gaussians * bytes_per_gaussian(sh_degree) + width * height * BYTES_PER_PIXEL + CONTEXT_BYTES
    return int(math.ceil(used / (1.0 - FRAGMENTATION_HEADROOM)))


@dataclass(frozen=True, kw_only=True)
class VramBudget:
    """The device memory a run may use.

    Attributes
    ----------
    bytes : int
        The budget.
    source : str
        Where it came from: ``"max_vram_gb set"`` or ``"<GPU name> total memory"``.
    """

    bytes: int
    source: str


@dataclass(frozen=True, kw_only=True)
class VramChoice:
    """What the budget chose and why (recorded in the training report as ``vram``).

    Attributes
    ----------
    budget_bytes : int
    max_gaussians : int
        The Gaussian cap the run uses.
    downscale : int
        The image downscale the run uses.
    width, height : int
        The largest training image at that downscale (px).
    estimate_bytes : int
        :func:`estimate_bytes` at the cap and that size.
    reason : str
        One line for the log and the report.
    """

    budget_bytes: int
    max_gaussians: int
    downscale: int
    width: int
    height: int
    estimate_bytes: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"budget_bytes": self.budget_bytes, "max_gaussians": self.max_gaussians,
                "downscale": self.downscale, "resolution": [self.width, self.height],
                "estimate_bytes": self.estimate_bytes, "reason": self.reason}


def _largest(sizes: Sequence[tuple[int, int]], factor: int) -> tuple[int, int]:
    width, height = max(sizes, key=lambda s: s[0] * s[1])
    return max(1, width // factor), max(1, height // factor)


def fit_to_vram(budget: VramBudget, sizes: Sequence[tuple[int, int]], *, downscale: int, max_gaussians: int,
                sh_degree: int, resolution_set: bool, gaussians_set: bool) -> VramChoice:
    """The downscale and Gaussian cap that fit ``budget`` for cameras of ``sizes`` [(width, height), ...].

    Parameters
    ----------
    downscale, max_gaussians
        What the preset (or the user) chose before the budget.
    resolution_set, gaussians_set
        The user set the resolution (``downscale`` or ``max_image_size``) / ``max_gaussians``:
        kept as they are, and the reason says when the estimate exceeds the budget.

    Raises
    ------
    ContractError
        The budget cannot hold the image and :data:`MIN_GAUSSIANS` (field ``TrainConfig.max_vram_gb``).
    """
    gib = budget.bytes / GIB
    usable = usable_bytes(budget.bytes)
    factor = downscale
    notes = []
    if not resolution_set:
        while _largest(sizes, factor)[0] * _largest(sizes, factor)[1] * BYTES_PER_PIXEL > MAX_IMAGE_SHARE * usable:
            factor += 1
        if factor != downscale:
            w0, h0 = _largest(sizes, downscale)
            notes.append(f"downscale {downscale} -> {factor}: a {w0}x{h0} image would take more than "
                         f"{MAX_IMAGE_SHARE:.0%} of it")
    width, height = _largest(sizes, factor)
    per_gaussian = bytes_per_gaussian(sh_degree)
    room = usable - width * height * BYTES_PER_PIXEL
    fits = max(0, room // per_gaussian)
    if gaussians_set:
        cap = max_gaussians
        if cap > fits:
            notes.append(f"max_gaussians {cap:,} (set) exceeds the {fits:,} the model fits")
    else:
        if fits < MIN_GAUSSIANS:
            raise ContractError(
                f"a {gib:.1f} GiB VRAM budget ({budget.source}) holds {fits:,} Gaussians at {width}x{height}, "
                f"fewer than {MIN_GAUSSIANS:,}: raise max_vram_gb, or lower max_image_size or sh_degree",
                field="TrainConfig.max_vram_gb", expected=f">= {MIN_GAUSSIANS} Gaussians", actual=fits)
        cap = min(max_gaussians, fits // _CAP_STEP * _CAP_STEP)
        if cap < max_gaussians:
            notes.append(f"Gaussian cap {max_gaussians:,} -> {cap:,} ({per_gaussian:,} B each)")
    estimate = estimate_bytes(cap, width, height, sh_degree)
    head = (f"{gib:.1f} GiB ({budget.source}): {cap:,} Gaussians at {width}x{height} estimated "
            f"{estimate / GIB:.1f} GiB")
    reason = head + ("; " + "; ".join(notes) if notes else "; the preset fits")
    return VramChoice(budget_bytes=budget.bytes, max_gaussians=cap, downscale=factor, width=width, height=height,
                      estimate_bytes=estimate, reason=reason)


def device_vram_budget(max_vram_gb: float | None, device: str) -> VramBudget | None:
    """The run's budget: ``max_vram_gb`` GiB when set, else the CUDA device's total memory; None on CPU.

    On the CPU nothing is budgeted (host memory is the photos' uint8 size plus the model's).
    """
    if not str(device).startswith("cuda"):
        return None
    if max_vram_gb is not None:
        return VramBudget(bytes=int(max_vram_gb * GIB), source="max_vram_gb set")
    import torch

    props = torch.cuda.get_device_properties(torch.device(device))
    return VramBudget(bytes=int(props.total_memory), source=f"{props.name} total memory")
