"""gsplat's densification strategies read the cpu backend's ``info`` as they read gsplat's."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")
strategy = pytest.importorskip("gsplat.strategy")

from splatkit import render  # noqa: E402
from tests.render.scenes import random_scene  # noqa: E402


def _params(n: int, seed: int) -> tuple[torch.nn.ParameterDict, dict]:
    scene = random_scene(n, seed=seed, width=32, height=24, dtype=torch.float32, spread=1.0)
    opacities = scene["opacities"].clone()
    opacities[:3] = 0.002  # below prune_opa: these must be pruned
    params = torch.nn.ParameterDict({
        "means": scene["means"],
        "scales": torch.log(scene["scales"]),
        "quats": scene["quats"],
        "opacities": torch.logit(opacities),
        "sh0": scene["colors"][:, :1].clone(),
        "shN": scene["colors"][:, 1:].clone(),
    })
    optimizers = {k: torch.optim.Adam([{"params": p, "lr": 1e-3, "name": k}])
                  for k, p in params.items()}
    return params, {"optimizers": optimizers, "scene": scene}


@pytest.mark.parametrize("absgrad", [False, True])
def test_default_strategy_grows_and_prunes_with_cpu_info(absgrad):
    params, extra = _params(40, seed=12)
    optimizers, scene = extra["optimizers"], extra["scene"]
    strat = strategy.DefaultStrategy(
        refine_start_iter=0, refine_every=2, grow_grad2d=1e-12, prune_opa=0.005,
        reset_every=10_000, absgrad=absgrad, verbose=False,
    )
    strat.check_sanity(params, optimizers)
    state = strat.initialize_state()
    target = torch.rand(24, 32, 3)
    history = []
    for step in range(3):
        rgb, _, info = render.rasterize(
            params["means"], params["quats"], torch.exp(params["scales"]),
            torch.sigmoid(params["opacities"]),
            torch.cat([params["sh0"], params["shN"]], dim=1), scene["viewmat"].float(),
            scene["K"].float(), 32, 24, sh_degree=3, absgrad=absgrad,
        )
        strat.step_pre_backward(params, optimizers, state, step, info)
        loss = (rgb - target).abs().mean()
        loss.backward()
        visible = int((info["radii"] > 0).all(-1).sum())
        n_before = len(params["means"])
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        strat.step_post_backward(params, optimizers, state, step, info, packed=False)
        history.append((n_before, visible, len(params["means"])))
        assert all(len(p) == len(params["means"]) for p in params.values())
        for name, opt in optimizers.items():  # optimizer state was resized with the params
            exp_avg = opt.state[opt.param_groups[0]["params"][0]].get("exp_avg")
            assert exp_avg is None or exp_avg.shape == params[name].shape
    # Step 2 refines (step > refine_start_iter, step % refine_every == 0): every visible
    # Gaussian with a gradient grows (duplicate or split) and the 3 transparent ones are pruned.
    n_before, visible, n_after = history[2]
    assert visible > 20
    assert n_after > n_before
    assert n_after <= n_before + visible
    assert (torch.sigmoid(params["opacities"]) >= 0.005 - 1e-6).all()
    assert state["count"].shape == (n_after,)
    assert math.isfinite(float(loss.detach()))
