"""Time-budgeted training: the schedule laid out in fractions of the run and re-planned as it goes.

A budgeted run (``TrainConfig.minutes``) does not know its step count in advance: it depends on
the machine. :class:`BudgetPlan` keeps a *planned* step count ``S`` and places every scheduled
event at a fraction of it, the fractions being the config's step options divided by its
``steps`` (:class:`RunFractions`):

- densification: gradient statistics until ``refine_stop``, a pass every ``refine_every`` from
  ``refine_start``, opacity resets every ``reset_every`` inside the window, and a Gaussian cap that
  grows from the initial count to ``max_gaussians`` over the first half of the window (on a CPU
  the step time follows the count: growing early, then capping, buys the most steps);
- the SH degree (one band per ``sh_degree_interval``) and the position-LR decay (to 1 % at ``S``),
  handed to the training step as a config with ``steps = S``;
- the curve, held-out evaluations and checkpoints.

The plan starts from ``steps`` and is re-planned from the measured step rate after the third
step this process runs, then every 1 % of the budget: ``S = done + remaining / seconds_per_step``,
the rate measured over the last 10 % of the budget (the first step of a process is left out: it
loads the rasterizer's compiled kernels). The run stops when the budget is spent or ``S`` is
reached. Events fire when the run's progress ``step / S`` crosses their next multiple, so a
re-plan never fires an event twice nor reopens a closed densification window, and the SH degree
never goes down.

The budget counts *training time*: the wall time of the training loop (steps, densification,
evaluations and checkpoints during training), not scene loading, the final evaluation or the
export. It is saved in checkpoints with the plan, so a resumed run spends what is left; the work
a killed run did after its last checkpoint is redone and not counted twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["RunFractions", "DensifyDecision", "BudgetPlan", "STOP_BUDGET", "STOP_STEPS"]

#: ``TrainingReport.stop_reason`` of a budgeted run (the budget is spent or the plan reached).
STOP_BUDGET = "budget"
#: ``TrainingReport.stop_reason`` of a step-count run.
STOP_STEPS = "steps"
# Events placed by fraction of the run; their "fired" counter starts here (-1: also at step 0).
_FIRST_INDEX = {"refine": 0, "reset": 0, "curve": -1, "eval": 0, "checkpoint": 0}


@dataclass(frozen=True, kw_only=True)
class RunFractions:
    """The schedule as fractions of the run (0: the event is off).

    Attributes
    ----------
    refine_start, refine_stop, refine_every, reset_every, sh_degree_interval : float
        Densification window, pass interval, opacity-reset interval and SH band interval.
    curve_every, eval_every, checkpoint_every : float
        Logging, held-out evaluation and checkpoint intervals.
    """

    refine_start: float
    refine_stop: float
    refine_every: float
    reset_every: float
    sh_degree_interval: float
    curve_every: float
    eval_every: float
    checkpoint_every: float

    @classmethod
    def from_config(cls, config: Any) -> RunFractions:
        """Each step option of a resolved ``config`` divided by its ``steps``."""
        steps = float(config.steps)
        return cls(refine_start=config.refine_start / steps,
                   refine_stop=(config.refine_stop or config.steps // 2) / steps,
                   refine_every=config.refine_every / steps, reset_every=config.reset_every / steps,
                   sh_degree_interval=config.sh_degree_interval / steps, curve_every=config.curve_every / steps,
                   eval_every=config.eval_every / steps, checkpoint_every=config.checkpoint_every / steps)


@dataclass(frozen=True)
class DensifyDecision:
    """What the densification strategy does at one step of a budgeted run.

    Attributes
    ----------
    active : bool
        Inside the densification window: accumulate gradient statistics.
    refine : bool
        Grow and prune now (then clear the statistics).
    reset : bool
        Reset opacities now.
    cap : int
        The Gaussian cap at this step.
    """

    active: bool
    refine: bool
    reset: bool
    cap: int


@dataclass
class BudgetPlan:
    """The planner of one budgeted run (see the module docstring).

    Attributes
    ----------
    budget_seconds : float
        The training-time budget (s).
    fractions : RunFractions
    sh_degree, max_gaussians : int
        From the resolved config.
    initial_gaussians : int
        Gaussians when the run started (the cap grows from there).
    planned_steps : int
        The current plan ``S``.
    first_planned_steps : int or None
        The first plan made from a measured rate.
    replans : int
        Plans made from a measured rate.
    densify_end : int or None
        The step densification ended at (None while it runs).
    fired : dict[str, int]
        The last fired multiple of each event.
    sh_floor : int
        The highest SH degree handed out (it never goes down).
    """

    budget_seconds: float
    fractions: RunFractions
    sh_degree: int
    max_gaussians: int
    initial_gaussians: int
    planned_steps: int
    first_planned_steps: int | None = None
    replans: int = 0
    densify_end: int | None = None
    fired: dict[str, int] = field(default_factory=lambda: dict(_FIRST_INDEX))
    sh_floor: int = 0
    sh_interval: int = 1
    # This process's measurements: (training seconds, steps done) after each step, and the time of
    # the last re-plan. Not saved: a resumed process measures its own rate.
    samples: list[tuple[float, int]] = field(default_factory=list, repr=False)
    last_plan_seconds: float = field(default=-math.inf, repr=False)

    @classmethod
    def start(cls, config: Any, *, budget_seconds: float, initial_gaussians: int) -> BudgetPlan:
        """A fresh plan for the resolved ``config``: ``S = steps`` until a rate is measured."""
        fractions = RunFractions.from_config(config)
        plan = cls(budget_seconds=budget_seconds, fractions=fractions, sh_degree=config.sh_degree,
                   max_gaussians=config.max_gaussians, initial_gaussians=initial_gaussians,
                   planned_steps=config.steps)
        plan.sh_interval = plan._interval(fractions.sh_degree_interval)
        return plan

    # -- persistence ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The plan's state for a checkpoint (numbers only)."""
        return {"planned_steps": self.planned_steps, "first_planned_steps": self.first_planned_steps,
                "replans": self.replans, "densify_end": self.densify_end, "fired": dict(self.fired),
                "sh_floor": self.sh_floor, "sh_interval": self.sh_interval,
                "initial_gaussians": self.initial_gaussians}

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from :meth:`to_dict`'s state (the fractions and budget come from the config)."""
        self.planned_steps = int(data["planned_steps"])
        first = data.get("first_planned_steps")
        self.first_planned_steps = None if first is None else int(first)
        self.replans = int(data.get("replans", 0))
        end = data.get("densify_end")
        self.densify_end = None if end is None else int(end)
        self.fired = {**_FIRST_INDEX, **{k: int(v) for k, v in data.get("fired", {}).items()}}
        self.sh_floor = int(data.get("sh_floor", 0))
        self.sh_interval = int(data.get("sh_interval", self.sh_interval))
        self.initial_gaussians = int(data.get("initial_gaussians", self.initial_gaussians))

    # -- measuring and planning ----------------------------------------------------------------

    def seconds_per_step(self) -> float | None:
        """The recent step rate: training seconds per step over the last 10 % of the budget."""
        if len(self.samples) < 2:
            return None
        t1, d1 = self.samples[-1]
        window = 0.1 * self.budget_seconds
        t0, d0 = self.samples[0]
        for t, d in reversed(self.samples[:-1]):
            t0, d0 = t, d
            if t1 - t >= window and d1 - d >= 2:
                break
        return (t1 - t0) / (d1 - d0) if d1 > d0 else None

    def observe(self, done: int, seconds: float) -> bool:
        """Record that ``done`` steps took ``seconds`` of training time; re-plan when due.

        Returns True when the plan changed (the caller hands the step a new config).
        """
        self.samples.append((seconds, done))
        due = len(self.samples) == 3 or seconds - self.last_plan_seconds >= 0.01 * self.budget_seconds
        if not due or len(self.samples) < 3:
            return False
        rate = self.seconds_per_step()
        if rate is None or rate <= 0:
            return False
        self.last_plan_seconds = seconds
        self.replan(done, seconds, rate)
        return True

    def replan(self, done: int, seconds: float, seconds_per_step: float) -> None:
        """``S = done + remaining / seconds_per_step`` (at least ``done + 1`` while time is left)."""
        remaining = max(0.0, self.budget_seconds - seconds)
        self.planned_steps = max(done + 1, done + int(remaining / seconds_per_step))
        if self.first_planned_steps is None:
            self.first_planned_steps = self.planned_steps
        self.replans += 1
        interval = self._interval(self.fractions.sh_degree_interval)
        if self.sh_floor > 0 and done // interval < self.sh_floor:
            interval = max(1, done // self.sh_floor)  # a longer plan must not take a band away
        self.sh_interval = interval

    def stop_reason(self, done: int, seconds: float) -> str | None:
        """:data:`STOP_BUDGET` when the budget is spent or the plan reached, else None."""
        if seconds >= self.budget_seconds or done >= self.planned_steps:
            return STOP_BUDGET
        return None

    def step_config(self, config: Any) -> Any:
        """``config`` as the training step reads it now: ``steps = S`` (LR decay), the SH interval."""
        return replace(config, steps=self.planned_steps, sh_degree_interval=self.sh_interval)

    def note_sh_degree(self, step: int) -> None:
        """Remember the SH degree step ``step`` trains at (it never goes down after a re-plan)."""
        self.sh_floor = max(self.sh_floor, min(step // self.sh_interval, self.sh_degree))

    # -- events --------------------------------------------------------------------------------

    def progress(self, step: int) -> float:
        """The fraction of the planned run ``step`` is at."""
        return step / self.planned_steps

    def _interval(self, fraction: float) -> int:
        return max(1, round(fraction * self.planned_steps))

    def _crossed(self, event: str, position: float, every: float) -> bool:
        """True (once) when ``position / every`` reaches the next multiple for ``event``."""
        if every <= 0:
            return False
        index = math.floor(position / every + 1e-9)
        if index > self.fired[event]:
            self.fired[event] = index
            return True
        return False

    def due(self, event: str, step: int) -> bool:
        """Whether ``"curve"``, ``"eval"`` or ``"checkpoint"`` is due at ``step`` (counted once)."""
        every = {"curve": self.fractions.curve_every, "eval": self.fractions.eval_every,
                 "checkpoint": self.fractions.checkpoint_every}[event]
        return self._crossed(event, self.progress(step), every)

    def cap_at(self, step: int) -> int:
        """The Gaussian cap: from the initial count to ``max_gaussians`` over the first half of the window."""
        f = self.fractions
        ramp = max(1e-9, 0.5 * (f.refine_stop - f.refine_start))
        t = min(1.0, max(0.0, (self.progress(step) - f.refine_start) / ramp))
        start = min(self.initial_gaussians, self.max_gaussians)
        return int(start + t * (self.max_gaussians - start))

    def densify(self, step: int) -> DensifyDecision:
        """The densification decision at ``step`` (call once per step, in order)."""
        f = self.fractions
        p = self.progress(step)
        cap = self.cap_at(step)
        if self.densify_end is not None or p >= f.refine_stop:
            if self.densify_end is None:
                self.densify_end = step
            return DensifyDecision(active=False, refine=False, reset=False, cap=cap)
        refine = p >= f.refine_start and self._crossed("refine", p - f.refine_start, f.refine_every)
        reset = step > 0 and self._crossed("reset", p, f.reset_every)
        return DensifyDecision(active=True, refine=refine, reset=reset, cap=cap)
