"""Trainer features a run can silently lose: position-LR decay, the SH degree schedule, downscaled
views, the finiteness checks (loss every step; parameters every FINITE_CHECK_EVERY steps, at
checkpoints and at the end) and the MCMC strategy on CPU. Each test spies on what the
loop really hands to torch, the rasterizer or the strategy, on the tiny scene of test_training."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("gsplat")
pytest.importorskip("numba")

from torch.optim.optimizer import (  # noqa: E402
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from splatkit.errors import StageError  # noqa: E402
from splatkit.train import strategy as strategy_module  # noqa: E402
from splatkit.train import trainer as trainer_module  # noqa: E402
from splatkit.train.config import TrainConfig  # noqa: E402
from splatkit.train.state import PARAM_NAMES  # noqa: E402
from tests.train.test_training import FAST, _stage, scene  # noqa: E402, F401  (scene: module fixture)

# The synthetic cameras sit on a ring around their centroid, so after normalisation every camera is
# at distance 1 and gsplat's scene_scale (1.1 x the farthest camera) is exactly 1.1.
SCENE_SCALE = 1.1


@pytest.fixture
def optimizer_hooks():
    """``add(pre=fn)`` / ``add(post=fn)``: torch's global optimizer-step hooks, removed after the test.

    A hook is called as ``fn(optimizer, args, kwargs)`` around every ``Adam.step()`` the trainer makes.
    """
    handles = []

    def add(*, pre=None, post=None) -> None:
        if pre is not None:
            handles.append(register_optimizer_step_pre_hook(pre))
        if post is not None:
            handles.append(register_optimizer_step_post_hook(post))

    yield add
    for handle in handles:
        handle.remove()


def _group_name(optimizer) -> str:
    return optimizer.param_groups[0]["name"]


@pytest.fixture
def raster_calls(monkeypatch) -> list[dict]:
    """The arguments of every ``splatkit.render.rasterize`` call (the trainer imports it per run)."""
    render = importlib.import_module("splatkit.render")
    real = render.rasterize
    calls: list[dict] = []

    def spy(means, quats, scales, opacities, colors, viewmat, K, width, height, **kwargs):
        calls.append({"width": width, "height": height, "K": K.detach().clone(), "sh_coeffs": colors.shape[1],
                      "training": torch.is_grad_enabled(), **kwargs})
        return real(means, quats, scales, opacities, colors, viewmat, K, width, height, **kwargs)

    monkeypatch.setattr(render, "rasterize", spy)
    return calls


def test_position_lr_decays_exponentially_to_one_percent_and_other_lrs_stay(scene, tmp_path,
                                                                             optimizer_hooks) -> None:
    # The schedule is inline in the loop, so it is checked on the LR each Adam step actually uses.
    steps = 20
    used: dict[str, list[float]] = {name: [] for name in PARAM_NAMES}
    optimizer_hooks(pre=lambda opt, args, kwargs: used[_group_name(opt)].append(opt.param_groups[0]["lr"]))
    config = TrainConfig(steps=steps, **FAST)
    _stage().run(scene, config, tmp_path)

    lr0 = config.lr_means * SCENE_SCALE
    expected = [lr0 * 0.01 ** (s / steps) for s in range(steps)]
    assert used["means"] == pytest.approx(expected, rel=1e-9)
    assert used["means"][-1] == pytest.approx(lr0 * 0.01 ** (19 / 20), rel=1e-9)  # ~1.25% at the last step
    for name in ("scales", "quats", "opacities", "sh0", "shN"):
        assert used[name] == [getattr(config, f"lr_{name}")] * steps, name


def test_sh_degree_rises_by_one_every_interval_up_to_sh_degree(scene, tmp_path, raster_calls) -> None:
    config = TrainConfig(steps=10, **{**FAST, "sh_degree": 2, "sh_degree_interval": 3})
    cloud = _stage().run(scene, config, tmp_path).output

    train = [c["sh_degree"] for c in raster_calls if c["training"]]
    evaluation = [c["sh_degree"] for c in raster_calls if not c["training"]]
    assert train == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert evaluation == [2, 2]  # the two held-out views, at the full degree
    assert {c["sh_coeffs"] for c in raster_calls} == {9}  # (2 + 1)^2 coefficients always passed
    # shN starts at zero and only gets gradients once degree >= 1 is rendered.
    assert cloud.shN.shape[1:] == (8, 3) and np.abs(cloud.shN).max() > 0


def test_sh_degree_zero_never_renders_higher_bands(scene, tmp_path, raster_calls) -> None:
    cloud = _stage().run(scene, TrainConfig(steps=6, **{**FAST, "sh_degree": 0, "sh_degree_interval": 1}),
                         tmp_path).output
    assert {c["sh_degree"] for c in raster_calls} == {0}
    assert {c["sh_coeffs"] for c in raster_calls} == {1} and cloud.shN.shape[1] == 0


@pytest.mark.parametrize("downscale", [1, 2])
def test_downscale_trains_and_evaluates_at_reduced_resolution(scene, tmp_path, raster_calls, downscale) -> None:
    cam = scene.reconstruction.cameras[0]  # 48 x 40, fx = fy = 0.9 * 48, principal point at the centre
    w, h = cam.width // downscale, cam.height // downscale
    result = _stage().run(scene, TrainConfig(steps=4, **{**FAST, "downscale": downscale}), tmp_path)

    assert sum(c["training"] for c in raster_calls) == 4
    assert sum(not c["training"] for c in raster_calls) == 2
    assert {(c["width"], c["height"]) for c in raster_calls} == {(w, h)}
    # Intrinsics scaled with the image, or the downscaled views would not line up with the scene.
    fx, fy, cx, cy = cam.params
    expected_K = torch.tensor([[fx / downscale, 0, cx / downscale], [0, fy / downscale, cy / downscale], [0, 0, 1]],
                              dtype=torch.float32)
    for c in raster_calls:
        torch.testing.assert_close(c["K"], expected_K)
    eval_images = sorted((tmp_path / "eval").glob("*.png"))
    assert [p.name for p in eval_images] == ["view000.png", "view005.png"]
    for path in eval_images:
        with Image.open(path) as img:
            assert img.size == (w, h), path
    assert set(eval_images) <= set(result.files)


def _poison_gradient_at(optimizer_hooks, name: str, bad_step: int, *, every_gaussian: bool = False) -> None:
    """Make one Gaussian's (or every one's) ``name`` gradient NaN before the Adam step of step ``bad_step``."""
    steps_seen = {"n": 0}

    def poison_gradient(opt, args, kwargs) -> None:
        if _group_name(opt) != name:
            return
        if steps_seen["n"] == bad_step:
            grad = opt.param_groups[0]["params"][0].grad
            assert grad is not None, f"{name} got no gradient at step {bad_step}"
            rows = slice(None) if every_gaussian else 0
            grad.view(len(grad), -1)[rows, 0] = float("nan")
        steps_seen["n"] += 1

    optimizer_hooks(pre=poison_gradient)


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_non_finite_parameter_stops_training_at_the_check_naming_it(scene, tmp_path, optimizer_hooks, monkeypatch,
                                                                    name) -> None:
    monkeypatch.setattr(trainer_module, "FINITE_CHECK_EVERY", 1)  # check after every step
    bad_step = 2
    _poison_gradient_at(optimizer_hooks, name, bad_step)
    reported: list[int] = []
    with pytest.raises(StageError, match=rf"1 Gaussian\(s\) have non-finite {name} after step {bad_step};") as err:
        _stage().run(scene, TrainConfig(steps=10, **FAST), tmp_path, lambda update: reported.append(update.step))
    assert err.value.stage == "train/cpu"
    assert err.value.source == "synthetic test scene"
    assert reported == [1, 2]  # raised inside step 2, before it reported progress or a later step ran
    assert not (tmp_path / "point_cloud.ply").exists()


# shN is not rendered before step sh_degree_interval (20 in FAST), so a NaN there leaves the loss
# finite and only the parameter check can find it: these tests see when that check runs.


def test_finiteness_is_checked_every_finite_check_every_steps(scene, tmp_path, optimizer_hooks, monkeypatch) -> None:
    monkeypatch.setattr(trainer_module, "FINITE_CHECK_EVERY", 4)
    _poison_gradient_at(optimizer_hooks, "shN", 1)
    reported: list[int] = []
    with pytest.raises(StageError, match=r"non-finite shN after step 3;"):  # the check after 4 steps
        _stage().run(scene, TrainConfig(steps=10, **FAST), tmp_path, lambda update: reported.append(update.step))
    assert reported == [1, 2, 3]


def test_finiteness_is_checked_before_every_checkpoint(scene, tmp_path, optimizer_hooks) -> None:
    assert trainer_module.FINITE_CHECK_EVERY > 5
    _poison_gradient_at(optimizer_hooks, "shN", 1)
    config = TrainConfig(steps=10, **{**FAST, "checkpoint_every": 5})
    with pytest.raises(StageError, match=r"non-finite shN after step 4;"):
        _stage().run(scene, config, tmp_path)
    assert not list((tmp_path / "checkpoints").glob("*.pt"))  # a poisoned state is never saved


def test_finiteness_is_checked_after_the_last_step(scene, tmp_path, optimizer_hooks) -> None:
    assert trainer_module.FINITE_CHECK_EVERY > 6
    _poison_gradient_at(optimizer_hooks, "shN", 1)
    reported: list[int] = []
    with pytest.raises(StageError, match=r"non-finite shN after step 5;"):
        _stage().run(scene, TrainConfig(steps=6, **FAST), tmp_path, lambda update: reported.append(update.step))
    assert reported == [1, 2, 3, 4, 5]
    assert not (tmp_path / "point_cloud.ply").exists()


def test_non_finite_loss_stops_training_at_that_step(scene, tmp_path, optimizer_hooks) -> None:
    # NaN colours are rendered at the next step: the loss check (every step) finds them there.
    _poison_gradient_at(optimizer_hooks, "sh0", 2, every_gaussian=True)
    reported: list[int] = []
    with pytest.raises(StageError, match=r"loss became nan at step 3 \(view view\d+\.png\)") as err:
        _stage().run(scene, TrainConfig(steps=10, **FAST), tmp_path, lambda update: reported.append(update.step))
    assert err.value.stage == "train/cpu"
    assert reported == [1, 2, 3]


def test_mcmc_on_cpu_relocates_dead_gaussians_adds_up_to_the_cap_and_injects_noise(
        scene, tmp_path, monkeypatch, optimizer_hooks) -> None:
    n_points = len(scene.reconstruction.points)
    cap = n_points + 3  # below the 5% MCMC growth of the first refinement, so the cap binds
    steps, dead = 16, 10
    # Refinement (relocate dead, then add) at steps 4, 8 and 12; noise injection after every step.
    config = TrainConfig(steps=steps, strategy="mcmc", max_gaussians=cap,
                         **{**FAST, "refine_start": 2, "refine_every": 4, "refine_stop": 14})

    relocated: list[int] = []
    covariances: list[int] = []
    real_relocation, real_covar = strategy_module.relocation_torch, strategy_module.covar_from_quat_scale_torch

    def relocation_spy(opacities, scales, ratios, binoms):
        relocated.append(len(opacities))
        return real_relocation(opacities, scales, ratios, binoms)

    def covar_spy(quats, scales):
        covariances.append(len(quats))
        return real_covar(quats, scales)

    # enable_mcmc_on_cpu's dispatchers look these names up in the module on every call.
    monkeypatch.setattr(strategy_module, "relocation_torch", relocation_spy)
    monkeypatch.setattr(strategy_module, "covar_from_quat_scale_torch", covar_spy)

    noise_lrs: list[tuple[float, float]] = []
    real_make = strategy_module.make_mcmc_strategy

    def make_spy(**kwargs):
        strategy = real_make(**kwargs)
        post = strategy.step_post_backward

        def step_post_backward(params, optimizers, state, step, info, lr):
            noise_lrs.append((lr, optimizers["means"].param_groups[0]["lr"]))
            return post(params, optimizers, state, step, info, lr=lr)

        strategy.step_post_backward = step_post_backward
        return strategy

    monkeypatch.setattr(strategy_module, "make_mcmc_strategy", make_spy)

    opacity_steps = {"n": 0}

    def kill_some(opt, args, kwargs) -> None:
        # After step 3's update, the first `dead` Gaussians drop below MCMC's min_opacity (0.005).
        if _group_name(opt) == "opacities":
            if opacity_steps["n"] == 3:
                with torch.no_grad():
                    opt.param_groups[0]["params"][0][:dead] = -10.0
            opacity_steps["n"] += 1

    optimizer_hooks(post=kill_some)
    result = _stage().run(scene, config, tmp_path)
    cloud = result.output

    assert relocated == [dead, cap - n_points], relocated  # step 4: relocate the dead, then add to the cap
    assert covariances == [n_points] * 4 + [cap] * (steps - 4)  # noise each step, the count after growth
    assert [lr for lr, _ in noise_lrs] == [means_lr for _, means_lr in noise_lrs]  # noise follows the decay
    assert len(noise_lrs) == steps and noise_lrs[-1][0] < noise_lrs[0][0]
    assert len(cloud) == cap == result.report["num_gaussians"]
    assert [row["num_gaussians"] for row in result.report["curve"]] == [n_points, cap, cap]
    for field in ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN"):
        assert np.isfinite(getattr(cloud, field)).all(), field
    revived = 1 / (1 + np.exp(-cloud.opacity_logits[:dead]))
    assert revived.min() > 0.005, revived  # teleported onto live Gaussians, not left dead


def test_strategy_none_trains_the_initial_gaussians_without_densifying(scene, tmp_path) -> None:
    # FAST would refine at step 20 with the default strategy (test_training checks it does).
    result = _stage().run(scene, TrainConfig(steps=30, strategy="none", **FAST), tmp_path)
    n_points = len(scene.reconstruction.points)
    assert {row["num_gaussians"] for row in result.report["curve"]} == {n_points}
    assert len(result.output) == n_points and result.report["opacity_resets"] == 0
    assert result.report["final_loss"] < result.report["curve"][0]["loss"]
