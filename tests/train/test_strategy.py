"""Densification fixes: the opacity reset gsplat 1.5.3 skips, the Gaussian cap, MCMC on CPU."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gsplat")

from splatkit.train.strategy import (  # noqa: E402
    covar_from_quat_scale_torch,
    make_default_strategy,
    make_mcmc_strategy,
    relocation_torch,
)


def _params(n: int, seed: int = 0) -> tuple[torch.nn.ParameterDict, dict[str, torch.optim.Optimizer]]:
    g = torch.Generator().manual_seed(seed)
    params = torch.nn.ParameterDict({
        "means": torch.nn.Parameter(torch.randn(n, 3, generator=g)),
        "scales": torch.nn.Parameter(torch.full((n, 3), math.log(0.001))),
        "quats": torch.nn.Parameter(torch.randn(n, 4, generator=g)),
        "opacities": torch.nn.Parameter(torch.full((n,), 2.0)),
        "sh0": torch.nn.Parameter(torch.zeros(n, 1, 3)),
        "shN": torch.nn.Parameter(torch.zeros(n, 15, 3)),
    })
    opts = {k: torch.optim.Adam([{"params": p, "lr": 1e-3, "name": k}]) for k, p in params.items()}
    return params, opts


def _info(n: int, grad: float) -> dict[str, object]:
    means2d = torch.zeros(1, n, 2, requires_grad=True)
    means2d.grad = torch.full((1, n, 2), grad)
    return {"width": 100, "height": 100, "n_cameras": 1, "radii": torch.ones(1, n, 2, dtype=torch.int32),
            "gaussian_ids": None, "means2d": means2d}


def test_opacity_reset_happens_at_reset_every() -> None:
    params, opts = _params(50)
    strategy = make_default_strategy(max_gaussians=10_000, reset_every=30, refine_start=1000, refine_stop=1000,
                                     refine_every=100)
    state = strategy.initialize_state(scene_scale=1.0)
    for step in range(31):
        before = torch.sigmoid(params["opacities"]).max().item()
        strategy.step_post_backward(params, opts, state, step, _info(50, 0.0))
        after = torch.sigmoid(params["opacities"]).max().item()
        if step == 30:
            assert before > 0.8 and after == pytest.approx(2 * strategy.prune_opa, rel=1e-5)
        else:
            assert after == before
    assert state["opacity_resets"] == 1


def test_gaussian_cap_limits_growth() -> None:
    params, opts = _params(100)
    strategy = make_default_strategy(max_gaussians=130, reset_every=10_000, refine_start=0, refine_stop=1000,
                                     refine_every=1, grow_grad2d=1e-6)
    state = strategy.initialize_state(scene_scale=1.0)
    info = _info(100, 1.0)
    info["means2d"].grad = torch.linspace(0.01, 1.0, 100).reshape(1, 100, 1).repeat(1, 1, 2)
    strategy.step_post_backward(params, opts, state, 1, info)
    assert len(params["means"]) <= 130
    assert len(params["means"]) >= 125  # the cap is used, not ignored
    strategy.step_post_backward(params, opts, state, 2, _info(len(params["means"]), 1.0))
    assert len(params["means"]) <= 130


def test_relocation_matches_hand_computed_values() -> None:
    # 3DGS-MCMC eq. 9 with ratio 2, opacity 0.8: o' = 1 - sqrt(0.2); scale factor o / (2 o' - o'^2 / sqrt 2).
    binoms = torch.tensor([[math.comb(n, k) for k in range(51)] for n in range(51)], dtype=torch.float32)
    op, sc = relocation_torch(torch.tensor([0.8, 0.3]), torch.ones(2, 3), torch.tensor([2, 1]), binoms)
    o2 = 1 - math.sqrt(0.2)
    assert op[0].item() == pytest.approx(o2, rel=1e-5)
    assert sc[0, 0].item() == pytest.approx(0.8 / (2 * o2 - o2**2 / math.sqrt(2)), rel=1e-5)
    assert op[1].item() == pytest.approx(0.3) and sc[1, 0].item() == pytest.approx(1.0, rel=1e-5)


def test_covariance_fallback_matches_gsplat_torch_impl() -> None:
    from gsplat.cuda._torch_impl import _quat_scale_to_covar_preci

    g = torch.Generator().manual_seed(3)
    quats, scales = torch.randn(20, 4, generator=g), torch.rand(20, 3, generator=g) + 0.1
    expected, _ = _quat_scale_to_covar_preci(quats, scales, compute_covar=True, compute_preci=False, triu=False)
    torch.testing.assert_close(covar_from_quat_scale_torch(quats, scales), expected, rtol=1e-5, atol=1e-6)


def test_mcmc_strategy_runs_on_cpu() -> None:
    params, opts = _params(200)
    strategy = make_mcmc_strategy(max_gaussians=250, refine_start=0, refine_stop=1000, refine_every=1)
    state = strategy.initialize_state()
    strategy.check_sanity(params, opts)
    with torch.no_grad():
        params["opacities"][:20] = -10.0  # dead Gaussians get relocated
    strategy.step_post_backward(params, opts, state, 1, {}, lr=1e-3)
    assert 200 < len(params["means"]) <= 250
    assert torch.sigmoid(params["opacities"][:20]).min() > 0.01


def _decide(**by_step):
    """A budget plan stand-in: step -> DensifyDecision (inactive where not given)."""
    from splatkit.train.budget import DensifyDecision

    def schedule(step: int) -> DensifyDecision:
        return by_step.get(f"s{step}", DensifyDecision(active=False, refine=False, reset=False, cap=10_000))

    return schedule


def test_a_scheduled_default_strategy_refines_resets_and_caps_when_the_plan_says() -> None:
    from splatkit.train.budget import DensifyDecision

    params, opts = _params(100)
    schedule = _decide(s3=DensifyDecision(active=True, refine=False, reset=False, cap=120),
                       s7=DensifyDecision(active=True, refine=True, reset=False, cap=120),
                       s9=DensifyDecision(active=True, refine=False, reset=True, cap=120))
    # The step options would refine at every step and never reset: the schedule decides instead.
    strategy = make_default_strategy(max_gaussians=10_000, reset_every=0, refine_start=0, refine_stop=1000,
                                     refine_every=1, grow_grad2d=1e-6, schedule=schedule)
    state = strategy.initialize_state(scene_scale=1.0)
    for step in range(12):
        n = len(params["means"])
        info = _info(n, 1.0)
        info["means2d"].grad = torch.linspace(0.01, 1.0, n).reshape(1, n, 1).repeat(1, 1, 2)  # distinct strengths
        strategy.step_post_backward(params, opts, state, step, info)
        grew = len(params["means"]) - n
        assert (grew > 0) == (step == 7), step
    assert len(params["means"]) <= 120 and strategy.cap == 10_000  # the plan's cap at each step
    assert state["opacity_resets"] == 1
    assert torch.sigmoid(params["opacities"]).max().item() == pytest.approx(2 * strategy.prune_opa, rel=1e-5)


def test_a_scheduled_mcmc_strategy_relocates_only_at_the_plans_refine_steps() -> None:
    from splatkit.train.budget import DensifyDecision

    params, opts = _params(200)
    schedule = _decide(s2=DensifyDecision(active=True, refine=True, reset=False, cap=230))
    strategy = make_mcmc_strategy(max_gaussians=250, refine_start=0, refine_stop=1000, refine_every=1,
                                  schedule=schedule)
    state = strategy.initialize_state()
    for step in range(4):
        n = len(params["means"])
        strategy.step_post_backward(params, opts, state, step, {}, lr=1e-3)
        assert (len(params["means"]) > n) == (step == 2), step
    assert len(params["means"]) == 210  # 5 % growth, within the plan's cap of 230
