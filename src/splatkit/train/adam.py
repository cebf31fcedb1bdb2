"""Adam for CPU training: torch's optimiser, each parameter stepped in one serial numba loop.

A run keeps one Adam per parameter (gsplat's layout: densification strategies replace parameters
and their moments by name). For CPU parameters :func:`make_adam` gives a ``torch.optim.Adam``
subclass whose ``step()`` updates each parameter in one numba loop over its elements instead of
torch's single-tensor Adam (issue 13, item 3); on CUDA it is torch's Adam. Why: torch makes seven
passes per parameter (``lerp_``, ``mul_``, ``addcmul_``, ``sqrt``, ``div``, ``add_``,
``addcdiv_``), and on the 83K-float ``shN`` each of them is a two-thread parallel region; on a
loaded 2-core machine each such region can wait a scheduler time slice for its second thread (an
Adam step measured 90 ms there, 3 ms idle). The serial loops need no second thread.

The arithmetic is torch's ``_single_tensor_adam`` (no weight decay, amsgrad or maximize), in the
parameter's dtype with the same scalars: ``m = m + (1 - b1) (g - m)``, ``v = v b2 + (1 - b2) g g``,
``p = p - lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)``; the optimiser state (``step``,
``exp_avg``, ``exp_avg_sq``) is torch's, so checkpoints, ``state_dict()`` and the strategies'
edits work unchanged. The results agree with torch's to float rounding, not bit for bit: torch's
vector kernels fuse the multiply-adds of ``lerp_`` and ``addcmul_`` and its float32 ``sqrt`` is
not correctly rounded (1 ulp off for a fifth of values here), and these loops round each operation
(``tests/train/test_adam.py``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["make_adam", "fused_adam_applies"]


def make_adam(param_groups: list[dict[str, Any]], *, eps: float) -> torch.optim.Adam:
    """A ``torch.optim.Adam`` over ``param_groups``; for CPU parameters, the numba-stepped subclass.

    The subclass is a ``torch.optim.Adam`` in every other respect (state, ``state_dict``, hooks:
    torch wraps its ``step`` with the optimizer hooks as it wraps Adam's). It steps with torch's
    own code whenever :func:`fused_adam_applies` says no.
    """
    import importlib.util

    import torch

    on_cpu = all(p.device.type == "cpu" for group in param_groups for p in _as_list(group["params"]))
    cls = _numba_adam_class() if on_cpu and importlib.util.find_spec("numba") is not None else torch.optim.Adam
    return cls(param_groups, eps=eps)


def fused_adam_applies(opt: torch.optim.Optimizer) -> bool:
    """Whether ``opt.step()`` runs the numba loop: a :func:`make_adam` optimiser on CPU tensors.

    Not with the options the loop leaves out (weight decay, amsgrad, maximize, capturable,
    differentiable, fused, tensor learning rates or betas) or a closure; then torch's Adam steps.
    """
    import torch

    if not isinstance(opt, _numba_adam_class()):
        return False
    for group in opt.param_groups:
        if (group.get("weight_decay") or group.get("amsgrad") or group.get("maximize") or group.get("capturable")
                or group.get("differentiable") or group.get("fused") or group.get("decoupled_weight_decay")
                or not isinstance(group["lr"], float) or torch.is_tensor(group["betas"][0])
                or torch.is_tensor(group["betas"][1])):
            return False
        for p in group["params"]:
            if p.device.type != "cpu" or not p.dtype.is_floating_point or p.is_complex() or p.is_sparse:
                return False
    return True


def _as_list(params: Any) -> list[Any]:
    import torch

    return [params] if torch.is_tensor(params) else list(params)


@functools.lru_cache(maxsize=1)
def _numba_adam_class() -> type:
    """``torch.optim.Adam`` whose ``step`` on CPU tensors is :func:`_fused_step` (made once: torch
    is imported only here)."""
    import torch

    class NumbaAdam(torch.optim.Adam):
        """Adam with a numba step on CPU tensors (module :mod:`splatkit.train.adam`)."""

        def step(self, closure: Any = None) -> Any:  # type: ignore[override]
            if closure is not None or not fused_adam_applies(self):
                # torch's step without its hook wrapper (this class's wrapper ran the hooks).
                torch_step = torch.optim.Adam.step
                if getattr(torch_step, "hooked", False):
                    torch_step = torch_step.__wrapped__
                return torch_step(self, closure)
            with torch.no_grad():
                _fused_step(self)
            return None

    return NumbaAdam


def _fused_step(opt: torch.optim.Adam) -> None:
    """Adam's step through :func:`_adam_update` (state created as torch creates it)."""
    import torch

    kernel = _adam_kernel()
    for group in opt.param_groups:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue  # as torch: a parameter without a gradient is not stepped
            state = opt.state[p]
            if len(state) == 0:
                # torch's _init_group: a float32 step counter on the CPU and zero moments.
                state["step"] = torch.tensor(0.0, dtype=torch.float32)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            step_t = state["step"]
            step_t += 1
            step = float(step_t)
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            arrays = [t.detach().numpy() for t in (p, p.grad, state["exp_avg"], state["exp_avg_sq"])]
            if not all(a.flags.c_contiguous for a in arrays):
                raise ValueError("fused Adam needs contiguous parameters, gradients and moments")
            dtype = arrays[0].dtype
            # The scalars torch's kernels see, cast to the parameter's dtype as they cast them.
            scalars = np.array([1 - beta1, beta2, 1 - beta2, bias_correction2**0.5, group["eps"],
                                -(group["lr"] / bias_correction1)], dtype=dtype)
            kernel(*(a.reshape(-1) for a in arrays), scalars)


def _adam_update(param, grad, exp_avg, exp_avg_sq, scalars):  # pragma: no cover
    """One Adam update of flat arrays, in torch's order of operations (see the module doc)."""
    w1 = scalars[0]
    beta2 = scalars[1]
    w2 = scalars[2]
    bc2_sqrt = scalars[3]
    eps = scalars[4]
    neg_step_size = scalars[5]
    for i in range(param.shape[0]):
        g = grad[i]
        m = exp_avg[i]
        m = m + w1 * (g - m)                       # lerp_(grad, 1 - beta1): |weight| < 0.5 branch
        v = exp_avg_sq[i] * beta2                  # mul_(beta2)
        v = v + w2 * g * g                         # addcmul_(grad, grad, value=1 - beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        denom = np.sqrt(v) / bc2_sqrt + eps        # (sqrt() / bias_correction2_sqrt).add_(eps)
        param[i] = param[i] + neg_step_size * m / denom   # addcdiv_(exp_avg, denom, value=-step_size)


@functools.lru_cache(maxsize=1)
def _adam_kernel() -> Any:
    """Compile (or load from numba's cache) :func:`_adam_update`; serial on purpose (module doc)."""
    import numba

    return numba.njit(cache=True, nogil=True, error_model="numpy")(_adam_update)
