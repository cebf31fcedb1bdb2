"""The VRAM memory model's choices: T4 (16 GB) and A10G (24 GB) budgets, user values, the report."""

from __future__ import annotations

import pytest

from splatkit.errors import ContractError
from splatkit.train.config import TrainConfig
from splatkit.train.presets import preset_for
from splatkit.train.vram import (
    GIB,
    MIN_GAUSSIANS,
    VramBudget,
    bytes_per_gaussian,
    device_vram_budget,
    estimate_bytes,
    fit_to_vram,
)

#: odm-caliterra-30's photos (4000x3000 undistorted pinhole).
CALITERRA = [(4000, 3000)]
#: A 30k run is the gsplat ``high`` preset: long side <= 3840 px (downscale 2 here), 4 M Gaussians.
HIGH = preset_for("gsplat", "high")


def _fit(gib: float, sizes=CALITERRA, *, downscale: int = 2, max_gaussians: int = HIGH.max_gaussians,
         resolution_set: bool = False, gaussians_set: bool = False, sh_degree: int = 3):
    return fit_to_vram(VramBudget(bytes=int(gib * GIB), source="test"), sizes, downscale=downscale,
                       max_gaussians=max_gaussians, sh_degree=sh_degree, resolution_set=resolution_set,
                       gaussians_set=gaussians_set)


def test_bytes_per_gaussian_counts_params_grads_adam_buffers_and_the_densify_copy() -> None:
    # 59 float32 at SH degree 3: 236 B x (param, grad, 2 Adam moments) + densify copy (3 x 236)
    # + statistics 12 + projection 120 + tile intersections 192.
    assert bytes_per_gaussian(3) == 236 * 4 + 236 * 3 + 12 + 120 + 192 == 1976
    assert bytes_per_gaussian(0) < bytes_per_gaussian(3)


@pytest.mark.parametrize("gib", [15.0, 16.0, 22.0, 24.0])  # T4 / A10G as torch sees them, and nominal
def test_a_30k_caliterra_run_fits_a_t4_and_an_a10g_with_the_preset(gib: float) -> None:
    choice = _fit(gib)
    assert choice.downscale == 2 and (choice.width, choice.height) == (2000, 1500)
    assert choice.max_gaussians == HIGH.max_gaussians
    assert choice.estimate_bytes <= gib * GIB
    assert "the preset fits" in choice.reason and f"{gib:.1f} GiB" in choice.reason


def test_a_4k_survey_is_downscaled_on_a_t4_and_kept_on_an_a10g() -> None:
    t4, a10g = _fit(16.0, [(3840, 2880)], downscale=1), _fit(24.0, [(3840, 2880)], downscale=1)
    assert (t4.downscale, a10g.downscale) == (2, 1) and "downscale 1 -> 2" in t4.reason
    assert t4.max_gaussians == a10g.max_gaussians == HIGH.max_gaussians
    assert t4.estimate_bytes <= 16 * GIB and a10g.estimate_bytes <= 24 * GIB


def test_a_user_budget_lowers_the_cap_to_the_largest_multiple_that_fits() -> None:
    choice = _fit(10.0)
    assert choice.downscale == 2 and choice.max_gaussians < HIGH.max_gaussians
    assert choice.max_gaussians % 100_000 == 0 and "Gaussian cap 4,000,000 ->" in choice.reason
    assert choice.estimate_bytes <= 10 * GIB < estimate_bytes(choice.max_gaussians + 100_000, 2000, 1500, 3)


def test_a_small_user_budget_lowers_the_cap_and_raises_the_downscale() -> None:
    choice = _fit(6.0, downscale=1)
    assert choice.downscale > 1 and "downscale 1 ->" in choice.reason
    assert MIN_GAUSSIANS <= choice.max_gaussians < HIGH.max_gaussians
    assert choice.estimate_bytes <= 6 * GIB


def test_user_set_cap_and_resolution_are_kept_and_the_excess_is_said() -> None:
    choice = _fit(8.0, downscale=1, max_gaussians=6_000_000, resolution_set=True, gaussians_set=True)
    assert (choice.downscale, choice.max_gaussians) == (1, 6_000_000)
    assert "(set) exceeds" in choice.reason and choice.estimate_bytes > 8 * GIB


def test_a_budget_too_small_for_any_useful_cap_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="max_vram_gb") as info:
        _fit(1.0)
    assert info.value.field == "TrainConfig.max_vram_gb"


def test_the_budget_is_unused_on_cpu_and_set_from_the_option_on_cuda() -> None:
    assert device_vram_budget(16.0, "cpu") is None and device_vram_budget(None, "cpu") is None
    budget = device_vram_budget(16.0, "cuda:0")  # set: no device query needed
    assert budget is not None and budget.bytes == 16 * GIB and budget.source == "max_vram_gb set"


def test_max_vram_gb_option_range_and_digest() -> None:
    with pytest.raises(ContractError, match="max_vram_gb"):
        TrainConfig(max_vram_gb=0)
    # It acts through the cap and downscale it fills in, so it does not change the digest itself.
    assert TrainConfig(max_vram_gb=16).digest() == TrainConfig().digest()


def test_resolve_run_applies_the_budget_and_the_report_records_it(tmp_path) -> None:
    from splatkit.train.trainer import resolve_run
    from tests.train.survey_photos import write_survey

    rec = write_survey(tmp_path / "photos", n_photos=4, width=3840, height=2880, n_points=20,
                       fmt="jpg").reconstruction
    budget = VramBudget(bytes=8 * GIB, source="max_vram_gb set")
    resolved, resolution, choice = resolve_run(TrainConfig(quality="high"), "gsplat", rec, vram=budget)
    assert choice is not None and resolved.config.max_gaussians == choice.max_gaussians < 4_000_000
    assert resolved.config.downscale == resolution.downscale == choice.downscale
    assert choice.to_dict()["resolution"] == [resolution.width, resolution.height]
    assert resolution.downscale == 2 and "to fit the VRAM budget" in resolution.reason
    _, unbudgeted, none = resolve_run(TrainConfig(quality="high"), "gsplat", rec)
    assert none is None and unbudgeted.downscale == 1


def test_the_report_records_the_vram_choice() -> None:
    from types import SimpleNamespace

    import numpy as np

    from splatkit.reports import HeldoutScores, TrainingReport
    from splatkit.train.normalize import SceneNormalization
    from splatkit.train.report import RunChoices, RunTiming, build_training_report

    choice = _fit(16.0)
    state = SimpleNamespace(step=5, train_seconds=1.0, curve=[], strategy_state={})
    choices = RunChoices(quality="high", quality_reason="set", resolution=(2000, 1500), resolution_reason="r",
                         budget_seconds=None, planned_steps=5, stop_reason="steps", densify_stop_step=None,
                         vram=choice)
    report = build_training_report(
        state=state, config=TrainConfig(), backend="cpu", device="cpu", resumed_from_step=0,
        timing=RunTiming(seconds=1.0, steps_run=5, step_seconds=1.0), final_loss=0.1, num_gaussians=10,
        initial_points=10, train_views=3, heldout_views=(), heldout=HeldoutScores(mean=None, views=()),
        norm=SceneNormalization(center=np.zeros(3), scale=1.0), choices=choices)
    data = report.to_dict()
    assert data["vram"] == choice.to_dict() and data["vram"]["max_gaussians"] == 4_000_000
    assert TrainingReport.from_dict(data).to_dict()["vram"] == data["vram"]
