"""The time-budget planner, the quality presets and the resolution choice: pure logic, no torch.

The planner is driven with a simulated clock (no sleeping, no timing asserts): each simulated
step costs a known number of seconds, growing with the Gaussian count as a CPU step does.
"""

from __future__ import annotations

import math

import pytest

from splatkit.errors import ContractError
from splatkit.train.budget import STOP_BUDGET, BudgetPlan, RunFractions
from splatkit.train.config import TrainConfig
from splatkit.train.presets import CLASSIC_SCHEDULE, PRESETS, resolve_config
from splatkit.train.resolution import choose_resolution


def _plan(budget: float = 100.0, **options) -> BudgetPlan:
    config = resolve_config(TrainConfig(minutes=budget / 60.0, **options), "cpu").config
    return BudgetPlan.start(config, budget_seconds=budget, initial_gaussians=1000)


def _simulate(plan: BudgetPlan, seconds_per_step, *, max_steps: int = 100_000) -> dict:
    """Run the plan on a simulated clock; ``seconds_per_step(step, cap)`` is a step's cost."""
    seconds, step, events = 0.0, 0, {"refine": [], "reset": [], "curve": [], "checkpoint": [], "sh": []}
    lr_fraction_at_stop = None
    while plan.stop_reason(step, seconds) is None and step < max_steps:
        plan.note_sh_degree(step)
        events["sh"].append(min(step // plan.sh_interval, plan.sh_degree))
        decision = plan.densify(step)
        if decision.refine:
            events["refine"].append(step)
        if decision.reset:
            events["reset"].append(step)
        seconds += seconds_per_step(step, decision.cap)
        done = step + 1
        plan.observe(done, seconds)
        lr_fraction_at_stop = step / plan.planned_steps  # what position_lr decays by at this step
        if plan.due("curve", step):
            events["curve"].append(step)
        if plan.due("checkpoint", done):
            events["checkpoint"].append(done)
        step = done
    return {"steps": step, "seconds": seconds, "events": events, "lr_fraction": lr_fraction_at_stop}


# -- fractions and the first plan ---------------------------------------------------------------


def test_fractions_are_the_step_options_over_steps() -> None:
    config = TrainConfig(steps=1000, minutes=1, refine_start=50, refine_stop=600, refine_every=25, reset_every=0,
                         sh_degree_interval=150, curve_every=10, eval_every=250, checkpoint_every=500,
                         max_gaussians=10, grow_grad2d=1e-4, max_image_size=64)
    f = RunFractions.from_config(config)
    assert (f.refine_start, f.refine_stop, f.refine_every, f.reset_every) == (0.05, 0.6, 0.025, 0.0)
    assert (f.sh_degree_interval, f.curve_every, f.eval_every, f.checkpoint_every) == (0.15, 0.01, 0.25, 0.5)


def test_replan_is_done_plus_remaining_over_the_measured_rate() -> None:
    plan = _plan(budget=100.0)
    assert plan.planned_steps == 2000  # the cpu preview's reference until a rate is measured
    # The first step of a process (kernel loading) is left out of the rate: 10 s, then 0.5 s steps.
    assert not plan.observe(1, 10.0)
    assert not plan.observe(2, 10.5)
    assert plan.observe(3, 11.0)  # the third sample plans
    assert plan.planned_steps == 3 + int((100.0 - 11.0) / 0.5) == 181
    assert plan.first_planned_steps == 181 and plan.replans == 1
    # Not again before 1 % of the budget has passed ...
    assert not plan.observe(4, 11.5) and plan.planned_steps == 181
    # ... then with the slower rate (1 s/step over the window).
    plan.observe(5, 12.5)
    assert plan.planned_steps == 5 + int((100.0 - 12.5) / plan.seconds_per_step())
    assert plan.first_planned_steps == 181


def test_stop_reason_is_the_budget_or_the_plan() -> None:
    plan = _plan(budget=10.0)
    plan.replan(5, 5.0, 1.0)
    assert plan.planned_steps == 10
    assert plan.stop_reason(9, 9.0) is None
    assert plan.stop_reason(10, 9.5) == STOP_BUDGET
    assert plan.stop_reason(7, 10.0) == STOP_BUDGET


# -- a simulated run ----------------------------------------------------------------------------


def _cpu_like(step: int, cap: int) -> float:
    """A step's cost grows with the Gaussian count (the cap stands in for it)."""
    return 0.2 + 0.5 * cap / 80_000


def test_a_budgeted_run_stops_on_time_with_densification_finished_and_lr_decayed() -> None:
    plan = _plan(budget=600.0)
    run = _simulate(plan, _cpu_like)
    assert run["seconds"] <= 600.0 + _cpu_like(0, 80_000)  # stops at the step that spends the budget
    assert run["seconds"] >= 0.95 * 600.0  # and does not stop early
    assert plan.densify_end is not None and plan.densify_end < run["steps"]
    assert plan.densify_end >= 0.55 * run["steps"]  # the window is 60 % of the run, re-planned as it slowed
    assert run["lr_fraction"] > 0.97  # position LR decayed to ~1 % (0.01 ** fraction)
    events = run["events"]
    refines = events["refine"]
    assert refines and refines[0] > 0 and refines[-1] < plan.densify_end
    assert len(refines) == len(set(refines)) and refines == sorted(refines)
    # One pass per 2.5 % of the run between 2.5 % and 60 %: about 23, re-planning moves a few.
    assert 18 <= len(refines) <= 26
    assert events["reset"] == []  # the cpu budget schedule never resets opacity
    assert events["sh"] == sorted(events["sh"]) and events["sh"][-1] == 3  # SH bands never go down
    assert plan.cap_at(run["steps"]) == 80_000
    # checkpoint_every 1000 of 2000: one at half the run (the trainer writes none at the last step).
    assert len([done for done in events["checkpoint"] if done < run["steps"]]) == 1
    assert len(events["curve"]) >= 35


def test_replanning_never_fires_an_event_twice_or_reopens_the_window() -> None:
    plan = _plan(budget=100.0)
    plan.replan(3, 1.0, 0.1)  # S = 993
    fired = [s for s in range(3, 600) if plan.densify(s).refine]
    assert plan.densify_end == 596  # 60 % of 993
    plan.replan(600, 40.0, 0.01)  # much faster now: S grows to 6600, the window would be at 3960
    more = [s for s in range(600, 800) if plan.densify(s).refine]
    assert more == [] and plan.densify_end == 596 and not plan.densify(700).active
    assert len(fired) == len(set(fired))


def test_a_longer_plan_does_not_take_an_sh_band_away() -> None:
    plan = _plan(budget=100.0)
    plan.replan(3, 1.0, 0.1)  # S = 993: a band every 149 steps
    plan.note_sh_degree(300)
    assert plan.sh_floor == 2
    plan.replan(300, 2.0, 0.001)  # S = 98300: a band every 14745 steps would be degree 0 at step 300
    assert 300 // plan.sh_interval >= 2


def test_the_cap_grows_from_the_initial_count_over_the_first_half_of_the_window() -> None:
    plan = _plan(budget=100.0)
    plan.replan(3, 1.0, 0.1)
    s = plan.planned_steps
    assert plan.cap_at(0) == 1000
    assert plan.cap_at(math.floor(0.025 * s)) == 1000
    assert 1000 < plan.cap_at(round(0.2 * s)) < 80_000
    assert plan.cap_at(round(0.32 * s)) == 80_000


def test_the_plan_survives_a_checkpoint() -> None:
    plan = _plan(budget=100.0)
    for step in range(1, 300):
        plan.densify(step - 1)
        plan.observe(step, 0.3 * step)
    saved = plan.to_dict()
    again = _plan(budget=100.0)
    again.restore(saved)
    assert again.to_dict() == saved
    assert [again.densify(s).refine for s in range(300, 400)] == [plan.densify(s).refine for s in range(300, 400)]


# -- presets --------------------------------------------------------------------------------------


def test_auto_quality_is_preview_on_cpu_with_a_15_minute_budget() -> None:
    resolved = resolve_config(TrainConfig(), "cpu")
    c = resolved.config
    assert (c.quality, c.minutes, resolved.budget_seconds) == ("preview", 15.0, 900.0)
    assert resolved.quality_reason.startswith("auto: training on the CPU")
    assert (c.max_image_size, c.max_gaussians, c.reset_every, c.grow_grad2d) == (640, 80_000, 0, 1e-4)
    assert (c.refine_start, c.refine_every, c.refine_stop, c.sh_degree_interval) == (50, 50, 1200, 300)


def test_auto_quality_is_standard_on_gsplat_the_classic_7000_step_run() -> None:
    resolved = resolve_config(TrainConfig(), "gsplat")
    c = resolved.config
    assert (c.quality, c.steps, c.minutes, resolved.budget_seconds) == ("standard", 7000, 0.0, None)
    assert (c.max_image_size, c.max_gaussians) == (2400, 2_000_000)
    assert {k: getattr(c, k) for k in CLASSIC_SCHEDULE} == CLASSIC_SCHEDULE and c.refine_stop == 3500


def test_steps_without_minutes_is_a_step_run_with_the_classic_schedule() -> None:
    c = resolve_config(TrainConfig(steps=300), "cpu").config
    assert c.minutes == 0.0 and c.steps == 300 and c.refine_stop == 150
    assert {k: getattr(c, k) for k in CLASSIC_SCHEDULE} == CLASSIC_SCHEDULE
    assert (c.max_image_size, c.max_gaussians) == (640, 80_000)  # size still from the preset


def test_options_the_user_sets_win_over_the_preset() -> None:
    resolved = resolve_config(TrainConfig(quality="high", minutes=2, max_gaussians=5000, refine_every=7,
                                          refine_stop=0), "cpu")
    c = resolved.config
    assert resolved.quality_reason == "set" and c.quality == "high"
    assert (c.minutes, c.steps, c.max_gaussians, c.refine_every, c.max_image_size) == (2, 8000, 5000, 7, 1280)
    assert c.refine_stop == 4000  # 0 keeps its old meaning: half the run
    assert "max_gaussians" not in resolved.from_preset and "max_image_size" in resolved.from_preset
    assert resolve_config(TrainConfig(minutes=0), "cpu").budget_seconds is None


def test_every_backend_has_every_quality_level() -> None:
    for table in PRESETS.values():
        assert set(table) == {"preview", "standard", "high"}
    assert PRESETS["cpu"]["preview"].minutes == 15


@pytest.mark.parametrize("bad", [dict(quality="fast"), dict(minutes=-1), dict(refine_every=0),
                                 dict(max_gaussians=-5), dict(steps=0)])
def test_bad_options_are_refused(bad) -> None:
    with pytest.raises(ContractError):
        TrainConfig(**bad)


# -- resolution -----------------------------------------------------------------------------------


def test_resolution_shrinks_by_the_smallest_integer_factor_within_the_limit() -> None:
    choice = choose_resolution([(2362, 1772)], downscale=None, max_image_size=640, source="cpu preview: x")
    assert (choice.downscale, choice.width, choice.height) == (4, 590, 443) == (
        math.ceil(2362 / 640), 2362 // 4, 1772 // 4)
    assert choice.reason == "590x443, downscale 4: the long side 2362 px exceeds 640 px (cpu preview: x)"


def test_resolution_keeps_full_size_when_small_enough_or_when_downscale_is_set() -> None:
    small = choose_resolution([(48, 40), (40, 48)], downscale=None, max_image_size=640, source="s")
    assert (small.downscale, small.width, small.height) == (1, 48, 40) and "full size" in small.reason
    forced = choose_resolution([(2362, 1772)], downscale=2, max_image_size=640, source="s")
    assert (forced.downscale, forced.width) == (2, 1181) and "downscale 2 (set)" in forced.reason
    assert choose_resolution([(5000, 100)], downscale=None, max_image_size=0, source="s").downscale == 1
