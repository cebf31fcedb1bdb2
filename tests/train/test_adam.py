"""The numba-stepped Adam of CPU runs equals torch's Adam to float rounding, state and hooks included."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from torch.optim.optimizer import register_optimizer_step_pre_hook  # noqa: E402

from splatkit.train.adam import fused_adam_applies, make_adam  # noqa: E402
from splatkit.train.state import PARAM_NAMES, make_optimizers  # noqa: E402

SHAPES = {"means": (40, 3), "scales": (40, 3), "quats": (40, 4), "opacities": (40,), "sh0": (40, 1, 3),
          "shN": (40, 15, 3)}
LRS = {"means": 1.6e-4, "scales": 5e-3, "quats": 1e-3, "opacities": 5e-2, "sh0": 2.5e-3, "shN": 2.5e-3 / 20}


def make_params(dtype: torch.dtype = torch.float32) -> torch.nn.ParameterDict:
    g = torch.Generator().manual_seed(0)
    return torch.nn.ParameterDict({k: torch.nn.Parameter(torch.randn(s, generator=g, dtype=dtype))
                                   for k, s in SHAPES.items()})


def torch_optimizers(params: torch.nn.ParameterDict) -> dict[str, torch.optim.Adam]:
    """What make_optimizers made before the numba step: torch's own Adam."""
    return {name: torch.optim.Adam([{"params": params[name], "lr": LRS[name], "name": name}], eps=1e-15)
            for name in PARAM_NAMES}


def step_all(optimizers: dict[str, torch.optim.Adam]) -> None:
    """As train_step does."""
    for opt in optimizers.values():
        opt.step()
        opt.zero_grad(set_to_none=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_adam_equals_torch_adam_over_a_run(dtype: torch.dtype) -> None:
    fused_params, torch_params = make_params(dtype), make_params(dtype)
    fused_opts, torch_opts = make_optimizers(fused_params, LRS), torch_optimizers(torch_params)
    assert all(fused_adam_applies(opt) for opt in fused_opts.values())
    assert all(isinstance(opt, torch.optim.Adam) for opt in fused_opts.values())
    g = torch.Generator().manual_seed(1)
    for step in range(60):
        for opts in (fused_opts, torch_opts):  # the position LR decays, as in train_step
            opts["means"].param_groups[0]["lr"] = LRS["means"] * 0.01 ** (step / 60)
        for name in PARAM_NAMES:
            grad = torch.randn(SHAPES[name], generator=g, dtype=dtype)
            if name == "shN" and step < 20:
                grad.zero_()  # bands not rendered yet get a zero gradient
            fused_params[name].grad, torch_params[name].grad = grad.clone(), grad.clone()
        step_all(fused_opts)
        step_all(torch_opts)

    # Relative to each tensor's scale: a moment that cancels towards 0 keeps only absolute accuracy.
    rtol = 1e-6 if dtype == torch.float32 else 1e-14
    for name in PARAM_NAMES:
        assert fused_params[name].grad is None
        fused_state = fused_opts[name].state[fused_params[name]]
        torch_state = torch_opts[name].state[torch_params[name]]
        assert sorted(fused_state) == sorted(torch_state) == ["exp_avg", "exp_avg_sq", "step"]
        assert fused_state["step"].dtype == torch_state["step"].dtype and fused_state["step"].item() == 60
        for key in ("exp_avg", "exp_avg_sq"):
            scale = torch_state[key].abs().max().item()
            torch.testing.assert_close(fused_state[key], torch_state[key], rtol=rtol, atol=4 * rtol * scale)
        scale = torch_params[name].abs().max().item()
        torch.testing.assert_close(fused_params[name].detach(), torch_params[name].detach(), rtol=rtol,
                                   atol=rtol * scale)


def test_a_parameter_without_gradient_is_not_stepped() -> None:
    params = make_params()
    opts = make_optimizers(params, LRS)
    before = params["quats"].detach().clone()
    for name in PARAM_NAMES:
        params[name].grad = None if name == "quats" else torch.ones(SHAPES[name])
    step_all(opts)
    assert torch.equal(params["quats"].detach(), before) and len(opts["quats"].state) == 0
    assert opts["means"].state[params["means"]]["step"].item() == 1


def test_a_state_torch_made_continues_and_saves_as_torch_does() -> None:
    # Resuming a checkpoint written before the fused step: the moments and counter carry on.
    fused_params, torch_params = make_params(), make_params()
    fused_opts, torch_opts = torch_optimizers(fused_params), torch_optimizers(torch_params)
    g = torch.Generator().manual_seed(2)
    grads = [{n: torch.randn(SHAPES[n], generator=g) for n in PARAM_NAMES} for _ in range(6)]
    for i, step_grads in enumerate(grads):
        for name in PARAM_NAMES:
            fused_params[name].grad, torch_params[name].grad = step_grads[name].clone(), step_grads[name].clone()
        if i == 3:  # the second half by the numba step, from torch's state (a checkpoint resumed)
            saved = {name: opt.state_dict() for name, opt in fused_opts.items()}
            fused_opts = make_optimizers(fused_params, LRS)
            for name, opt in fused_opts.items():
                opt.load_state_dict(saved[name])
            assert all(fused_adam_applies(opt) for opt in fused_opts.values())
        step_all(fused_opts)
        step_all(torch_opts)
    for name in PARAM_NAMES:
        fused_sd, torch_sd = fused_opts[name].state_dict(), torch_opts[name].state_dict()
        assert fused_sd["param_groups"] == torch_sd["param_groups"]
        assert fused_sd["state"][0]["step"].item() == 6
        torch.testing.assert_close(fused_params[name].detach(), torch_params[name].detach(), rtol=1e-6, atol=1e-6)


def test_options_the_loop_leaves_out_fall_back_to_torch() -> None:
    params, reference = make_params(), make_params()
    amsgrad = make_adam([{"params": params["means"], "lr": 1e-3}], eps=1e-15)
    amsgrad.param_groups[0]["amsgrad"] = True
    assert not fused_adam_applies(amsgrad)
    assert not fused_adam_applies(torch.optim.Adam([params["scales"]], lr=1e-3))   # torch's own class
    ref_amsgrad = torch.optim.Adam([reference["means"]], lr=1e-3, eps=1e-15, amsgrad=True)
    for _ in range(3):
        for p in (params["means"], reference["means"]):
            p.grad = torch.ones(SHAPES["means"])
        step_all({"means": amsgrad})
        step_all({"means": ref_amsgrad})
    assert torch.equal(params["means"].detach(), reference["means"].detach())


def test_step_hooks_run_once_per_step_around_the_numba_step() -> None:
    # The trainer's tests spy on every Adam step through torch's global hooks; the numba step keeps them.
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))]).step()  # torch's Adam.step hooked, as in a real run
    params = make_params()
    opts = make_optimizers(params, LRS)
    seen: list[tuple[str, bool]] = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append((opt.param_groups[0]["name"], opt.param_groups[0]["params"][0].grad
                                               is not None)))
    try:
        for name in PARAM_NAMES:
            params[name].grad = torch.ones(SHAPES[name])
        step_all(opts)
        params["means"].grad = torch.ones(SHAPES["means"])
        opts["means"].step(lambda: None)   # a closure: torch's step, still hooked once
    finally:
        handle.remove()
    assert seen == [(name, True) for name in PARAM_NAMES] + [("means", True)]


def test_cuda_parameters_get_torch_adam() -> None:
    params = make_params()
    assert type(make_adam([{"params": params["means"], "lr": 1e-3}], eps=1e-15)) is not torch.optim.Adam
    if torch.cuda.is_available():
        cuda = torch.nn.Parameter(torch.zeros(3, device="cuda"))
        assert type(make_adam([{"params": cuda, "lr": 1e-3}], eps=1e-15)) is torch.optim.Adam
