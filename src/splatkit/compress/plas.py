"""PLAS: Parallel Linear Assignment Sorting of splats onto a 2-D grid.

Morgenstern et al., "Compact 3D Scene Representation via Self-Organizing Gaussian Grids"
(ECCV 2024); algorithm as described by the authors' reference (``fraunhoferhhi/PLAS``,
``sort_with_plas``), re-implemented here in plain torch so one code path runs on the CPU and,
when the tensors live on a GPU, on CUDA.

The grid is improved from coarse to fine. For each blur radius ``r`` (shrinking geometrically
from half the grid side to :attr:`PlasSchedule.min_radius`):

1. the *target* is the current grid blurred with a box of width ``2r + 1`` (circular in x,
   mirrored in y, so a row-major reading of the grid wraps smoothly from one row to the next). The
   reference uses a truncated Gaussian whose sigma equals its width, which is a box within a few
   percent; a box costs O(1) per pixel at any radius via cumulative sums;
2. the grid is cut into square blocks (side ``max(min_block_size, 2r + 2)``) at a random offset;
   the pixels of every block are shuffled into candidate groups of four, and each group takes the
   best of the 24 ways to place its four splats on its four pixels (an exact 4 x 4 linear
   assignment, evaluated for all groups at once). Reorder steps repeat with fresh groups until the
   relative improvement of the squared distance to the target falls below
   :attr:`PlasSchedule.improvement_break`; a few block offsets are tried per radius.

Unlike the reference, the grid may be any ``H x W`` rectangle (SOG v2's texture size, multiples of
4) instead of a square, so nothing has to be cropped: :func:`plas_order` pads the cloud with copies
of real splats that the encoder makes fully transparent.

Cost on this project's 2-core CPU is dominated by the reorder steps (gathers of ``[P, C]``
features); :data:`CPU_SCHEDULE` bounds it (see docs/compression.md for measured times).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from splatkit.device import resolve_device
from splatkit.errors import ContractError

if TYPE_CHECKING:
    import torch

__all__ = ["PlasSchedule", "DEFAULT_SCHEDULE", "CPU_SCHEDULE", "PlasResult", "FEATURE_WEIGHTS",
           "plas_features", "sort_grid", "plas_order"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PlasSchedule:
    """How hard PLAS works (the reference's knobs plus explicit caps).

    Attributes
    ----------
    radius_decay : float
        Factor between successive blur radii (reference: 0.95, ~120 radii for a 1024 grid).
    min_radius : int
        Last blur radius.
    min_block_size : int
        Smallest block side (reference: 16); blocks grow with the radius.
    improvement_break : float
        Stop reordering a block configuration once a step improves the distance to the target by
        less than this fraction (reference callers: 1e-4).
    max_steps : int
        Cap on reorder steps per block configuration.
    min_configs, max_configs : int
        Block configurations (random offsets) per radius: at least ``min_configs``, then stop at
        the first that gains less than ``improvement_break``; never more than ``max_configs``
        (reference: at least 4, no cap).
    max_radius : int or None
        Start the radius schedule here instead of at half the grid side (with ``sort_grid``'s
        ``initial`` arrangement already coherent, the coarse radii only undo that order).
    """

    radius_decay: float = 0.95
    min_radius: int = 1
    min_block_size: int = 16
    improvement_break: float = 1e-4
    max_steps: int = 64
    min_configs: int = 4
    max_configs: int = 16
    max_radius: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.radius_decay < 1.0:
            raise ContractError(f"radius_decay must be in (0, 1), got {self.radius_decay}", field="radius_decay")
        if self.min_radius < 1 or self.min_block_size < 2 or self.min_block_size % 2:
            raise ContractError(f"need min_radius >= 1 and an even min_block_size >= 2, got {self.min_radius}, "
                                f"{self.min_block_size}", field="PlasSchedule")
        if self.max_steps < 1 or not 1 <= self.min_configs <= self.max_configs:
            raise ContractError(f"need max_steps >= 1 and 1 <= min_configs <= max_configs, got {self.max_steps}, "
                                f"{self.min_configs}, {self.max_configs}", field="PlasSchedule")

    def radii(self, height: int, width: int) -> list[int]:
        """The blur radii, coarse to fine (consecutive duplicates removed)."""
        out: list[int] = []
        r = max(height, width) / 2.0 - 1.0
        if self.max_radius is not None:
            r = min(r, float(self.max_radius))
        while r >= self.min_radius:
            if not out or int(r) != out[-1]:
                out.append(int(r))
            r *= self.radius_decay
        return out or [self.min_radius]


#: The reference's schedule (what a GPU affords).
DEFAULT_SCHEDULE = PlasSchedule()
#: A bounded schedule for CPUs: fewer radii (factor 0.7), at most 2 block offsets x 4 steps per
#: radius. On the shared 2-core CI machine: 100K splats in ~4 s, 1M in ~90 s (the reference
#: schedule: ~70 s at 100K); docs/compression.md has the measurements.
CPU_SCHEDULE = PlasSchedule(radius_decay=0.7, max_steps=4, min_configs=1, max_configs=2)

#: Default weight of each attribute group in the sort features (after per-column z-scoring).
#: Self-Organizing Gaussians sorts z-scored positions, DC colour and scales (weights 1); SOGS adds
#: opacity and rotation. Rotations are sign-ambiguous and noisy, so they get less weight.
FEATURE_WEIGHTS: dict[str, float] = {"means": 1.0, "sh0": 1.0, "log_scales": 1.0, "opacity": 1.0, "quats": 0.5}

# The 24 ways to place 4 splats on 4 pixels; identity first so ties keep the current placement.
_PERMUTATIONS = np.array(list(itertools.permutations(range(4))), np.int64)


def plas_features(means: np.ndarray, sh0: np.ndarray, log_scales: np.ndarray, opacity_logits: np.ndarray,
                  quats: np.ndarray, weights: dict[str, float] | None = None) -> np.ndarray:
    """The vectors PLAS sorts by: z-scored attributes, weighted per group.

    Parameters
    ----------
    means : [N, 3]
        Positions as the file stores them (recentred); sorted in SOG's symlog domain.
    sh0 : [N, 3]
    log_scales : [N, 3]
    opacity_logits : [N]
        Sorted as ``sigmoid`` (what the ``sh0`` alpha stores).
    quats : [N, 4]
        ``(w, x, y, z)``, normalised and sign-fixed like the smallest-three packing.
    weights : dict, optional
        Group weights (:data:`FEATURE_WEIGHTS` by default); 0 drops a group.

    Returns
    -------
    float32 [N, C]
    """
    from splatkit.io.sog import symlog

    w = dict(FEATURE_WEIGHTS if weights is None else weights)
    q = np.asarray(quats, np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    q = q * np.where(q[np.arange(q.shape[0]), np.abs(q).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    groups = {
        "means": symlog(means),
        "sh0": np.asarray(sh0, np.float64),
        "log_scales": np.asarray(log_scales, np.float64),
        "opacity": (1.0 / (1.0 + np.exp(-np.asarray(opacity_logits, np.float64))))[:, None],
        "quats": q,
    }
    unknown = set(w) - set(groups)
    if unknown:
        raise ContractError(f"unknown PLAS feature group(s) {sorted(unknown)}; expected {sorted(groups)}",
                            field="weights")
    columns = []
    for name, values in groups.items():
        weight = float(w.get(name, 0.0))
        if weight == 0.0:
            continue
        std = values.std(axis=0)
        columns.append((values - values.mean(axis=0)) / np.where(std > 0, std, 1.0) * weight)
    if not columns:
        raise ContractError("PLAS needs at least one feature group with a non-zero weight", field="weights")
    return np.concatenate(columns, axis=1).astype(np.float32)


@dataclass(frozen=True, kw_only=True, eq=False)
class PlasResult:
    """A PLAS grid order.

    Attributes
    ----------
    order : int64 [H * W]
        Row-major: the splat index placed at each pixel. Padding pixels hold the index of the
        real splat they copy.
    padding : bool [H * W]
        True at padding pixels (``H * W - N`` of them).
    stats : dict
        ``seconds``, ``radii``, ``steps``, ``device``, ``distance_start`` / ``distance_end``
        (mean squared distance of each pixel's features to the blurred grid at the finest
        radius, before and after its pass), ``neighbour_distance`` (mean squared feature
        difference of horizontally adjacent pixels).
    """

    order: np.ndarray
    padding: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


def _resolve_device(device: str) -> str:
    return resolve_device(device, what="PLAS sorting")


def _box_blur(grid: "torch.Tensor", rx: int, ry: int) -> "torch.Tensor":
    """Mean over a ``(2 ry + 1) x (2 rx + 1)`` window of ``grid`` [H, W, C]: x circular, y mirrored."""
    import torch

    h, w = grid.shape[0], grid.shape[1]
    out = grid
    if rx > 0:
        cols = torch.arange(-rx, w + rx, device=grid.device) % w
        padded = out.index_select(1, cols)
        cs = torch.nn.functional.pad(padded.cumsum(1, dtype=torch.float64), (0, 0, 1, 0))
        out = ((cs[:, 2 * rx + 1:] - cs[:, : w]) / (2 * rx + 1)).to(grid.dtype)
    if ry > 0:
        rows = torch.arange(-ry, h + ry, device=grid.device).abs()
        rows = torch.where(rows >= h, 2 * (h - 1) - rows, rows)
        padded = out.index_select(0, rows)
        cs = torch.nn.functional.pad(padded.cumsum(0, dtype=torch.float64), (0, 0, 0, 0, 1, 0))
        out = ((cs[2 * ry + 1:] - cs[: h]) / (2 * ry + 1)).to(grid.dtype)
    return out


#: Below this many pixels a CPU sort runs torch single-threaded: each op is too small to pay for
#: waking a second thread (measured on the shared 2-core CI box: 12x faster at 10K pixels, 2.7x
#: at 100K).
SINGLE_THREAD_BELOW = 1 << 20


@contextlib.contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if count is not None and count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def sort_grid(features: np.ndarray, height: int, width: int, *, schedule: PlasSchedule | None = None,
              seed: int = 0, device: str = "auto", shuffle: bool = True, initial: np.ndarray | None = None,
              threads: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Arrange ``H * W`` feature vectors on an ``H x W`` grid so neighbours are similar.

    Parameters
    ----------
    features : [H * W, C]
        One vector per pixel (pad before calling).
    height, width : int
        Grid size; each at least 2.
    schedule : PlasSchedule, optional
        :data:`CPU_SCHEDULE` on the CPU and :data:`DEFAULT_SCHEDULE` on CUDA by default.
    seed : int
        Seeds the initial shuffle, the block offsets and the candidate groups (same seed, same
        device: same order).
    device : {"auto", "cpu", "cuda"}
    shuffle : bool
        Start from a random arrangement (the reference's advice: pre-sorted input gets stuck in
        local minima). ``False`` starts from the input order.
    initial : int64 [H * W], optional
        Starting arrangement (a permutation: the feature row at each pixel); overrides
        ``shuffle``.
    threads : int, optional
        torch CPU threads for the sort (restored afterwards). Default: 1 below
        :data:`SINGLE_THREAD_BELOW` pixels, else torch's setting.

    Returns
    -------
    grid : int64 [H * W]
        Row-major: the index of the feature vector placed at each pixel (a permutation).
    stats : dict
        See :attr:`PlasResult.stats`.
    """

    x_np = np.asarray(features, np.float32)
    count = height * width
    if x_np.ndim != 2 or x_np.shape[0] != count:
        raise ContractError(f"PLAS features must be [H*W, C] = [{count}, C], got {x_np.shape}", field="features")
    if height < 2 or width < 2:
        raise ContractError(f"PLAS grid must be at least 2 x 2, got {height} x {width}", field="grid")
    if not np.isfinite(x_np).all():
        raise ContractError("PLAS features hold NaN/Inf; clean the cloud first", field="features")
    dev = _resolve_device(device)
    if schedule is None:
        schedule = DEFAULT_SCHEDULE if dev == "cuda" else CPU_SCHEDULE
    if threads is None and dev == "cpu" and count < SINGLE_THREAD_BELOW:
        threads = 1
    with _torch_threads(threads if dev == "cpu" else None):
        if initial is not None:
            initial = np.asarray(initial, np.int64)
            if initial.shape != (count,) or not np.array_equal(np.sort(initial), np.arange(count)):
                raise ContractError("PLAS initial arrangement must be a permutation of the H*W rows", field="initial")
        grid, stats = _sort(x_np, height, width, schedule, seed, dev, shuffle, initial)
    logger.info("PLAS: %dx%d grid, %d radii, %d steps on %s in %.1f s", width, height, stats["radii"],
                stats["steps"], dev, stats["seconds"])
    return grid, stats


def _sort(x_np: np.ndarray, height: int, width: int, schedule: PlasSchedule, seed: int, dev: str,
          shuffle: bool, initial: np.ndarray | None) -> tuple[np.ndarray, dict[str, Any]]:
    import torch

    count = height * width
    started = time.perf_counter()
    # Random numbers come from a CPU generator so a seed means the same thing on every device.
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.from_numpy(x_np).to(dev)
    if initial is not None:
        grid = torch.from_numpy(initial).to(dev)
    else:
        grid = (torch.randperm(count, generator=gen) if shuffle else torch.arange(count)).to(dev)
    perms = torch.from_numpy(_PERMUTATIONS).to(dev)                        # [24, 4]
    # inverse[p, j]: which of the 4 members permutation p puts on pixel j.
    inverse = torch.from_numpy(np.argsort(_PERMUTATIONS, axis=1)).to(dev)
    # score of permutation p = sum_i dot[i, perm[p, i]] = (dot.flatten() @ select)[p].
    select = torch.zeros(16, 24, device=dev)
    select[(torch.arange(4, device=dev) * 4)[None, :] + perms, torch.arange(24, device=dev)[:, None]] = 1.0
    steps_done = 0
    radii = schedule.radii(height, width)
    dist_start = dist_end = float("nan")
    with torch.no_grad():
        for radius in radii:
            rx, ry = min(radius, (width - 1) // 2), min(radius, (height - 1) // 2)
            placed = x[grid]
            target = _box_blur(placed.view(height, width, -1), rx, ry).reshape(count, -1)
            dist = float(((placed - target) ** 2).sum(dtype=torch.float64))
            del placed
            dist_start = dist / count
            block = max(schedule.min_block_size, 2 * radius + 2)
            block = min(block, height - height % 2, width - width % 2)
            nby, nbx, cells_per_block = height // block, width // block, block * block
            offsets = torch.arange(block, device=dev)
            for config in range(schedule.max_configs):
                sy, sx = (int(v) for v in torch.randint(0, block, (2,), generator=gen))
                ys = (sy + torch.arange(nby, device=dev)[:, None] * block + offsets[None, :]) % height  # [nby, B]
                xs = (sx + torch.arange(nbx, device=dev)[:, None] * block + offsets[None, :]) % width   # [nbx, B]
                # cells[b, k]: pixel k (row-major inside the block) of block b. Work on block-major
                # copies so each step's shuffles and gathers stay inside a block (cache-friendly).
                cells = (ys[:, None, :, None] * width + xs[None, :, None, :]).reshape(nby * nbx, cells_per_block)
                members = grid[cells]                                   # [nblk, B^2] splat ids
                feats = x[members]                                      # [nblk, B^2, C]
                goals = target[cells]
                config_gain = 0.0
                for _ in range(schedule.max_steps):
                    shuffle_idx = torch.randperm(cells_per_block, generator=gen).to(dev)
                    f = feats[:, shuffle_idx].reshape(-1, 4, feats.shape[-1])   # [G, 4, C] candidate groups
                    t = goals[:, shuffle_idx].reshape(-1, 4, goals.shape[-1])
                    scores = torch.bmm(f, t.transpose(1, 2)).reshape(-1, 16) @ select   # [G, 24]
                    best = scores.argmax(dim=1)
                    gain = float((scores.gather(1, best[:, None])[:, 0] - scores[:, 0]).sum(dtype=torch.float64))
                    steps_done += 1
                    if gain > 0:
                        take = inverse[best]                                      # [G, 4]
                        m = members[:, shuffle_idx].reshape(-1, 4).gather(1, take)
                        f = f.gather(1, take[:, :, None].expand(-1, -1, f.shape[-1]))
                        members[:, shuffle_idx] = m.reshape(members.shape)
                        feats[:, shuffle_idx] = f.reshape(feats.shape)
                    improvement = 2.0 * gain                 # |f - t|^2 = |f|^2 + |t|^2 - 2 f.t
                    config_gain += improvement
                    relative = improvement / dist if dist > 0 else 0.0
                    dist -= improvement
                    if relative < schedule.improvement_break:
                        break
                grid[cells] = members
                if config + 1 >= schedule.min_configs and config_gain <= schedule.improvement_break * max(dist, 1e-30):
                    break
            dist_end = dist / count
        placed = x[grid].view(height, width, -1)
        neighbour = float(((placed[:, 1:] - placed[:, :-1]) ** 2).sum(-1).mean())
    stats = {"seconds": round(time.perf_counter() - started, 3), "radii": len(radii), "steps": steps_done,
             "device": dev, "distance_start": dist_start, "distance_end": dist_end,
             "neighbour_distance": neighbour}
    return grid.cpu().numpy().astype(np.int64), stats


def plas_order(features: np.ndarray, width: int, height: int, *, schedule: PlasSchedule | None = None,
               seed: int = 0, device: str = "auto") -> PlasResult:
    """PLAS order of ``N`` splats on a ``W x H`` texture, padding the ``W * H - N`` spare pixels.

    Padding pixels copy randomly chosen real splats (so they sort next to their twin and cost
    almost nothing in WebP); the encoder stores them fully transparent and marks them, so
    splatkit's decoder drops them while other readers draw nothing for them.

    Parameters
    ----------
    features : [N, C]
        From :func:`plas_features`.
    width, height : int
        The texture size (``W * H >= N``).

    Returns
    -------
    PlasResult
    """
    x = np.asarray(features, np.float32)
    n = x.shape[0]
    pixels = width * height
    if n < 1 or pixels < n:
        raise ContractError(f"PLAS: {n} splats do not fit a {width} x {height} grid", field="grid")
    rng = np.random.default_rng(seed)
    twins = rng.choice(n, size=pixels - n, replace=pixels - n > n) if pixels > n else np.zeros(0, np.int64)
    source = np.concatenate([np.arange(n), twins]).astype(np.int64)      # feature row -> splat index
    grid, stats = sort_grid(x[source], height, width, schedule=schedule, seed=seed, device=device)
    order = source[grid]
    padding = grid >= n
    stats["padding"] = int(padding.sum())
    return PlasResult(order=order, padding=padding, stats=stats)
