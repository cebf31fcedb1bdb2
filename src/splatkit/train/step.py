"""One training step, in the order of gsplat's simple_trainer.

Render one training view -> strategy pre-backward -> loss ``(1 - l) L1 + l (1 - SSIM)`` ->
backward -> Adam steps -> strategy post-backward (densify / prune / reset / relocate).

On CPU tensors the loss and its gradient are one numba pass (:mod:`splatkit.train.photometric`),
each parameter's Adam step one serial numba loop (:mod:`splatkit.train.adam`) and the torch ops
left run on one thread (:func:`serial_torch_on_cpu`): each replaces torch parallel regions that
stalled a loaded 2-core machine (issue 13, item 3).

The step makes one host sync, reading the loss for the progress callback; it checks that value
too, since that is free. Parameters are checked for non-finite values by the loop, every few
steps (:data:`splatkit.train.trainer.FINITE_CHECK_EVERY`), not here: on CUDA each check is a
sync per parameter.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from splatkit.errors import StageError
from splatkit.train.config import TrainConfig
from splatkit.train.data import View
from splatkit.train.densify import Densifier
from splatkit.train.state import TrainState

if TYPE_CHECKING:
    import torch

__all__ = ["Renderer", "StepContext", "train_step", "photometric_loss", "position_lr", "sh_degree_at",
           "serial_torch_on_cpu"]


@dataclass(frozen=True, kw_only=True)
class Renderer:
    """Renders the current parameters from one view with one run's rasterizer options.

    Attributes
    ----------
    rasterize : callable
        :func:`splatkit.render.rasterize`, looked up when the run starts.
    backend : str
        Its backend (``"cpu"`` or ``"gsplat"``).
    packed, absgrad : bool
        gsplat's packed mode and absolute 2D-mean gradients (for the default strategy).
    rasterize_mode : str
        ``"classic"`` or ``"antialiased"``.
    """

    rasterize: Callable[..., Any]
    backend: str
    packed: bool = False
    absgrad: bool = False
    rasterize_mode: str = "classic"

    @classmethod
    def for_run(cls, config: TrainConfig, backend: str) -> Renderer:
        from splatkit.render import rasterize

        return cls(rasterize=rasterize, backend=backend, packed=config.packed, absgrad=config.absgrad,
                   rasterize_mode="antialiased" if config.antialiased else "classic")

    def __call__(self, params: Any, view: View, sh_degree: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """``(rgb [H, W, 3], alpha, info)``; ``info`` is what the densification strategy reads."""
        import torch

        colors = torch.cat([params["sh0"], params["shN"]], dim=1)
        rgb, alpha, info = self.rasterize(
            params["means"], params["quats"], torch.exp(params["scales"]), torch.sigmoid(params["opacities"]),
            colors, view.viewmat, view.K, view.width, view.height, sh_degree=sh_degree, backend=self.backend,
            packed=self.packed, absgrad=self.absgrad, rasterize_mode=self.rasterize_mode)
        return rgb.reshape(view.height, view.width, 3), alpha, info


def photometric_loss(rgb: torch.Tensor, image: torch.Tensor, ssim_lambda: float) -> torch.Tensor:
    """``(1 - l) L1 + l (1 - SSIM)`` of a render and a photo, both [H, W, 3] in [0, 1] (3DGS).

    On CPU tensors one numba pass computes the value and the gradient
    (:func:`splatkit.train.photometric.fused_photometric_loss`); elsewhere (CUDA) it is torch's
    composition of L1 and :func:`splatkit.train.ssim.ssim`. Both give the same value and gradient
    to float rounding.
    """
    import torch

    from splatkit.train.photometric import fused_loss_applies, fused_photometric_loss
    from splatkit.train.ssim import ssim

    if fused_loss_applies(rgb, image):
        return fused_photometric_loss(rgb, image, ssim_lambda)
    l1 = torch.abs(rgb - image).mean()
    return (1.0 - ssim_lambda) * l1 + ssim_lambda * (1.0 - ssim(rgb, image))


def position_lr(lr0: float, step: int, steps: int) -> float:
    """The position LR at ``step``: exponential decay to 1 % of ``lr0`` over the run (3DGS / gsplat)."""
    return lr0 * 0.01 ** (step / steps)


def sh_degree_at(step: int, config: TrainConfig) -> int:
    """The SH degree rendered at ``step``: one more band every ``sh_degree_interval`` steps."""
    return min(step // max(config.sh_degree_interval, 1), config.sh_degree)


@dataclass(frozen=True, kw_only=True)
class StepContext:
    """What stays the same for every step of a run.

    Attributes
    ----------
    config : TrainConfig
    renderer : Renderer
    densifier : Densifier
    means_lr0 : float
        The initial position learning rate (scaled with the scene).
    stage : str
        ``"train/<name>"``, for errors.
    source : str or None
        The input's origin, for errors.
    """

    config: TrainConfig
    renderer: Renderer
    densifier: Densifier
    means_lr0: float
    stage: str
    source: str | None = None


def train_step(state: TrainState, view: View, step: int, ctx: StepContext) -> float:
    """Run training step ``step`` on ``view``; return its loss (the step's one host sync).

    Raises
    ------
    StageError
        The loss is not finite.
    """
    with serial_torch_on_cpu(state.params["means"].device.type):
        return _run_step(state, view, step, ctx)


@contextlib.contextmanager
def serial_torch_on_cpu(device_type: str) -> Iterator[None]:
    """Within the block, torch's CPU ops run on the calling thread (numba's kernels keep theirs).

    A CPU step's torch ops are small (at most an image, 570K floats at 504x378), so a second
    thread saves little, and on a loaded 2-core machine each two-thread region can wait a
    scheduler time slice for that thread: gsplat's densification bookkeeping, about 15 ops on
    1,850 Gaussians, took 6 ms a step on average with two torch threads and 0.7 ms with one. numba
    passes its own thread count to each parallel region, so its kernels still use both cores
    (torch and numba share one OpenMP runtime here). The setting is restored after the block.
    """
    if device_type != "cpu":
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run_step(state: TrainState, view: View, step: int, ctx: StepContext) -> float:
    params, optimizers, strategy_state = state.params, state.optimizers, state.strategy_state
    optimizers["means"].param_groups[0]["lr"] = position_lr(ctx.means_lr0, step, ctx.config.steps)
    rgb, _, info = ctx.renderer(params, view, sh_degree_at(step, ctx.config))
    ctx.densifier.pre_backward(params, optimizers, strategy_state, step, info)
    loss = photometric_loss(rgb, view.image, ctx.config.ssim_lambda)
    loss.backward()
    for opt in optimizers.values():
        opt.step()
        opt.zero_grad(set_to_none=True)
    # Read after the optimiser step, so a GPU has the whole step queued when the host waits; and
    # before densification, which a NaN would turn into an obscure torch error (MCMC's sampling).
    value = float(loss.item())
    if not math.isfinite(value):
        raise StageError(f"loss became {value} at step {step} (view {view.name}); lower the learning rates or "
                         "check the input model", stage=ctx.stage, source=ctx.source or None)
    ctx.densifier.post_backward(params, optimizers, strategy_state, step, info)
    state.step = step + 1
    return value
