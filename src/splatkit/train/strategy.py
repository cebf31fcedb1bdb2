"""Densification strategies: gsplat's, with the fixes splatkit needs.

- ``CappedDefaultStrategy``: gsplat's clone/split/prune with a hard cap on the Gaussian count
  (DefaultStrategy has none; a T4 has 16 GB) and the periodic opacity reset done here, because
  gsplat 1.5.3 never performs it: ``step % self.reset_every == 0 & step > 0`` parses as
  ``step % reset_every == (0 & step) > 0``, which is always False (fixed upstream after 1.5.3).
- ``enable_mcmc_on_cpu()``: MCMCStrategy calls two CUDA-only helpers; this installs
  device-dispatching torch versions so it also runs on CPU tensors.

gsplat is imported inside functions: importing this module stays light.
"""

from __future__ import annotations

import logging

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["NEVER", "make_default_strategy", "make_mcmc_strategy", "enable_mcmc_on_cpu",
           "relocation_torch", "covar_from_quat_scale_torch"]

logger = logging.getLogger(__name__)


#: gsplat takes ``step % reset_every``: "never" is a period no run reaches.
NEVER = 2**62


def make_default_strategy(*, max_gaussians: int, reset_every: int, refine_start: int, refine_stop: int,
                          refine_every: int, grow_grad2d: float = 2e-4, prune_opa: float = 0.005,
                          absgrad: bool = False, schedule: Callable[[int], Any] | None = None) -> Any:
    """A gsplat ``DefaultStrategy`` subclass with a Gaussian cap and a working opacity reset.

    ``reset_every = 0`` never resets. ``schedule`` (a budgeted run's
    :meth:`splatkit.train.budget.BudgetPlan.densify`) maps a step to a
    :class:`~splatkit.train.budget.DensifyDecision` that replaces the step-count rules (window,
    interval, resets, cap); without it the strategy behaves as gsplat's with ``refine_*``.
    """
    import torch
    from gsplat.strategy import DefaultStrategy
    from gsplat.strategy.ops import reset_opa

    class CappedDefaultStrategy(DefaultStrategy):
        """DefaultStrategy + ``max_gaussians`` cap + opacity reset every ``reset_every`` steps."""

        cap = max_gaussians

        def _grow_gs(self, params, optimizers, state, step):  # type: ignore[no-untyped-def]
            budget = self.cap - len(params["means"])
            if budget <= 0:
                return 0, 0
            grads = state["grad2d"] / state["count"].clamp_min(1)
            candidates = grads[grads > self.grow_grad2d]
            if len(candidates) <= budget:
                return super()._grow_gs(params, optimizers, state, step)
            # Too many candidates: raise the threshold so only the `budget` strongest grow
            # (each duplicate or split adds exactly one Gaussian).
            kept = self.grow_grad2d
            self.grow_grad2d = float(torch.topk(candidates, budget + 1).values[-1])
            try:
                return super()._grow_gs(params, optimizers, state, step)
            finally:
                self.grow_grad2d = kept

        def _reset_opacities(self, params, optimizers, state, step):  # type: ignore[no-untyped-def]
            reset_opa(params=params, optimizers=optimizers, state=state, value=self.prune_opa * 2.0)
            state["opacity_resets"] = int(state.get("opacity_resets", 0)) + 1
            logger.debug("step %d: opacities reset to %.3f", step, self.prune_opa * 2.0)

        def step_post_backward(self, params, optimizers, state, step, info, packed=False):  # type: ignore[no-untyped-def]
            if schedule is not None:
                self._scheduled_post_backward(params, optimizers, state, step, info, packed)
                return
            super().step_post_backward(params, optimizers, state, step, info, packed=packed)
            if 0 < step < self.refine_stop_iter and step % self.reset_every == 0:
                self._reset_opacities(params, optimizers, state, step)

        def _scheduled_post_backward(self, params, optimizers, state, step, info, packed):  # type: ignore[no-untyped-def]
            # gsplat's step_post_backward with the step tests replaced by the plan's decision.
            decision = schedule(step)
            self.cap = decision.cap
            if not decision.active:
                return
            self._update_state(params, state, info, packed=packed)
            if decision.refine:
                self._grow_gs(params, optimizers, state, step)
                self._prune_gs(params, optimizers, state, step)
                state["grad2d"].zero_()
                state["count"].zero_()
                if self.refine_scale2d_stop_iter > 0:
                    state["radii"].zero_()
            if decision.reset:
                self._reset_opacities(params, optimizers, state, step)

    return CappedDefaultStrategy(
        prune_opa=prune_opa, grow_grad2d=grow_grad2d, refine_start_iter=refine_start,
        refine_stop_iter=refine_stop, reset_every=reset_every or NEVER, refine_every=refine_every,
        absgrad=absgrad, verbose=False,
    )


def make_mcmc_strategy(*, max_gaussians: int, refine_start: int, refine_stop: int, refine_every: int,
                       schedule: Callable[[int], Any] | None = None) -> Any:
    """gsplat's MCMCStrategy with ``cap_max = max_gaussians``; works on CPU tensors too.

    ``schedule``: as for :func:`make_default_strategy` (relocation and growth at the plan's
    refine steps, ``cap_max`` the plan's cap; resets do not apply to MCMC).
    """
    from gsplat.strategy import MCMCStrategy
    from gsplat.strategy.ops import inject_noise_to_position

    enable_mcmc_on_cpu()

    class ScheduledMCMCStrategy(MCMCStrategy):
        """MCMCStrategy whose relocation steps may come from a budgeted run's plan."""

        def step_post_backward(self, params, optimizers, state, step, info, lr):  # type: ignore[no-untyped-def]
            if schedule is None:
                super().step_post_backward(params, optimizers, state, step, info, lr)
                return
            decision = schedule(step)
            self.cap_max = decision.cap
            state["binoms"] = state["binoms"].to(params["means"].device)
            if decision.refine:
                self._relocate_gs(params, optimizers, state["binoms"])
                self._add_new_gs(params, optimizers, state["binoms"])
            inject_noise_to_position(params=params, optimizers=optimizers, state={}, scaler=lr * self.noise_lr)

    return ScheduledMCMCStrategy(cap_max=max_gaussians, refine_start_iter=refine_start,
                                 refine_stop_iter=refine_stop, refine_every=refine_every, verbose=False)


def relocation_torch(opacities: torch.Tensor, scales: torch.Tensor, ratios: torch.Tensor,
                     binoms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Equation (9) of 3DGS-MCMC, as gsplat's ``relocation`` CUDA kernel computes it.

    opacities [N], scales [N, 3], ratios [N] (clamped to [1, n_max]), binoms [n_max, n_max].
    """
    import torch

    n_max = binoms.shape[0]
    n = ratios.clamp(1, n_max).to(torch.int64)
    new_op = 1.0 - torch.pow(1.0 - opacities, 1.0 / n.to(opacities.dtype))
    i = torch.arange(1, n_max + 1, device=opacities.device)
    k = torch.arange(n_max, device=opacities.device)
    # term[i, k] = binom(i-1, k) * (-1)^k / sqrt(k+1), for k <= i-1, summed over i <= n.
    coef = binoms[(i - 1)[:, None], k[None, :]] * ((-1.0) ** k / torch.sqrt(k + 1.0))[None, :]
    coef = coef * (k[None, :] <= (i - 1)[:, None])
    powers = new_op[:, None] ** (k[None, :] + 1).to(new_op.dtype)  # [N, n_max]
    per_i = powers @ coef.T.to(powers.dtype)  # [N, n_max]: sum over k for each i
    denom = (per_i * (i[None, :] <= n[:, None])).sum(dim=1)
    new_scales = (opacities / denom)[:, None] * scales
    return new_op, new_scales


def covar_from_quat_scale_torch(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Covariances ``R S S^T R^T`` [N, 3, 3] from quats [N, 4] (wxyz, unnormalised) and scales [N, 3]."""
    import torch

    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    rot = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(-1, 3, 3)
    m = rot * scales[:, None, :]
    return m @ m.transpose(1, 2)


_MCMC_PATCHED = False


def enable_mcmc_on_cpu() -> None:
    """Route gsplat's MCMC helpers to torch versions for CPU tensors (CUDA tensors unchanged)."""
    global _MCMC_PATCHED
    if _MCMC_PATCHED:
        return
    from gsplat.strategy import ops

    cuda_relocation = ops.compute_relocation
    cuda_covar = ops.quat_scale_to_covar_preci

    def compute_relocation(opacities, scales, ratios, binoms):  # type: ignore[no-untyped-def]
        if opacities.is_cuda:
            return cuda_relocation(opacities, scales, ratios, binoms)
        return relocation_torch(opacities, scales, ratios, binoms)

    def quat_scale_to_covar_preci(quats, scales, compute_covar=True, compute_preci=True, triu=False):  # type: ignore[no-untyped-def]
        if quats.is_cuda:
            return cuda_covar(quats, scales, compute_covar=compute_covar, compute_preci=compute_preci, triu=triu)
        if triu or compute_preci:
            raise NotImplementedError("CPU fallback only provides full covariances")
        return covar_from_quat_scale_torch(quats, scales), None

    ops.compute_relocation = compute_relocation
    ops.quat_scale_to_covar_preci = quat_scale_to_covar_preci
    _MCMC_PATCHED = True

