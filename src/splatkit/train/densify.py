"""The densification strategy behind one interface, chosen once per run by ``TrainConfig.strategy``.

gsplat's ``DefaultStrategy`` and ``MCMCStrategy`` differ in what their post-backward step needs
(``packed`` for the first, the current position learning rate for the second, which scales
MCMC's noise). A :class:`Densifier` hides that, so the training step calls the same two methods
whatever the strategy, and the loop has no string compare:

- :class:`DefaultDensifier`: clone / split / prune with a Gaussian cap and the opacity reset
  (:func:`splatkit.train.strategy.make_default_strategy`);
- :class:`McmcDensifier`: 3DGS-MCMC relocation, growth to the cap and noise injection
  (:func:`splatkit.train.strategy.make_mcmc_strategy`, CPU tensors too);
- :class:`NoDensifier`: a fixed set of Gaussians, only optimised.

Densifiers work on ``(params, optimizers, strategy_state)`` as gsplat's strategies do; the
strategy state is part of :class:`splatkit.train.state.TrainState` because checkpoints save it.
gsplat is imported inside functions: importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from splatkit.train.config import TrainConfig

#: A budgeted run's densification decision for a step (a :class:`splatkit.train.budget.DensifyDecision`).
Schedule = Callable[[int], Any]

__all__ = ["Schedule", "Densifier", "DefaultDensifier", "McmcDensifier", "NoDensifier", "DENSIFIERS", "make_densifier"]


class Densifier:
    """The interface: fresh state, a sanity check, and the hooks around ``loss.backward()``.

    The base class densifies nothing; subclasses wrap a gsplat strategy object.
    """

    name: ClassVar[str] = ""

    @classmethod
    def from_config(cls, config: TrainConfig, *, scene_scale: float, refine_stop: int,
                    schedule: Schedule | None = None) -> Densifier:
        """The densifier for ``config``'s options (see :func:`make_densifier` for the arguments)."""
        return cls()

    def initialize_state(self) -> dict[str, Any]:
        """The strategy's fresh running state (saved and restored with checkpoints)."""
        return {}

    def check_sanity(self, params: Any, optimizers: dict[str, Any]) -> None:
        """Raise when the parameters and optimisers do not have the layout the strategy edits."""

    def pre_backward(self, params: Any, optimizers: dict[str, Any], state: dict[str, Any], step: int,
                     info: dict[str, Any]) -> None:
        """Before ``loss.backward()`` (gsplat: keep the gradient of the 2D means)."""

    def post_backward(self, params: Any, optimizers: dict[str, Any], state: dict[str, Any], step: int,
                      info: dict[str, Any]) -> None:
        """After the optimiser step: densify, prune, relocate, reset, as the strategy does."""


class NoDensifier(Densifier):
    """No densification: the Gaussians the run starts with are optimised, never added or removed."""

    name = "none"


class _GsplatDensifier(Densifier):
    """A gsplat strategy object and its calls that do not differ between strategies."""

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy

    def check_sanity(self, params: Any, optimizers: dict[str, Any]) -> None:
        self.strategy.check_sanity(params, optimizers)

    def pre_backward(self, params: Any, optimizers: dict[str, Any], state: dict[str, Any], step: int,
                     info: dict[str, Any]) -> None:
        self.strategy.step_pre_backward(params, optimizers, state, step, info)


class DefaultDensifier(_GsplatDensifier):
    """gsplat's DefaultStrategy with splatkit's cap and opacity reset."""

    name = "default"

    def __init__(self, strategy: Any, *, scene_scale: float, packed: bool) -> None:
        super().__init__(strategy)
        self.scene_scale = scene_scale
        self.packed = packed

    @classmethod
    def from_config(cls, config: TrainConfig, *, scene_scale: float, refine_stop: int,
                    schedule: Schedule | None = None) -> DefaultDensifier:
        from splatkit.train.strategy import make_default_strategy

        strategy = make_default_strategy(
            max_gaussians=config.max_gaussians, reset_every=config.reset_every, refine_start=config.refine_start,
            refine_stop=refine_stop, refine_every=config.refine_every, grow_grad2d=config.grow_grad2d,
            prune_opa=config.prune_opa, absgrad=config.absgrad, schedule=schedule)
        return cls(strategy, scene_scale=scene_scale, packed=config.packed)

    def initialize_state(self) -> dict[str, Any]:
        # Split/prune thresholds are relative to the scene scale, which the state carries.
        return self.strategy.initialize_state(scene_scale=self.scene_scale)

    def post_backward(self, params: Any, optimizers: dict[str, Any], state: dict[str, Any], step: int,
                      info: dict[str, Any]) -> None:
        self.strategy.step_post_backward(params, optimizers, state, step, info, packed=self.packed)


class McmcDensifier(_GsplatDensifier):
    """gsplat's MCMCStrategy (``cap_max = max_gaussians``), runnable on CPU tensors."""

    name = "mcmc"

    @classmethod
    def from_config(cls, config: TrainConfig, *, scene_scale: float, refine_stop: int,
                    schedule: Schedule | None = None) -> McmcDensifier:
        from splatkit.train.strategy import make_mcmc_strategy

        return cls(make_mcmc_strategy(max_gaussians=config.max_gaussians, refine_start=config.refine_start,
                                      refine_stop=refine_stop, refine_every=config.refine_every, schedule=schedule))

    def initialize_state(self) -> dict[str, Any]:
        return self.strategy.initialize_state()

    def post_backward(self, params: Any, optimizers: dict[str, Any], state: dict[str, Any], step: int,
                      info: dict[str, Any]) -> None:
        # MCMC's noise is scaled by the position LR of this step (3DGS-MCMC, eq. 10), after its decay.
        self.strategy.step_post_backward(params, optimizers, state, step, info,
                                         lr=optimizers["means"].param_groups[0]["lr"])


#: ``TrainConfig.strategy`` -> densifier class; the keys are :data:`splatkit.train.config.STRATEGY_NAMES`.
DENSIFIERS: dict[str, type[Densifier]] = {cls.name: cls for cls in (DefaultDensifier, McmcDensifier, NoDensifier)}


def make_densifier(config: TrainConfig, *, scene_scale: float, refine_stop: int,
                   schedule: Schedule | None = None) -> Densifier:
    """The run's densifier for ``config.strategy`` (a resolved config: no option left at None).

    Parameters
    ----------
    scene_scale
        gsplat's scene scale in the normalised frame (1.1 x the farthest camera's distance).
    refine_stop
        The step refinement stops at (``config.refine_stop``, or its derived default).
    schedule
        A budgeted run's decisions per step (:meth:`splatkit.train.budget.BudgetPlan.densify`),
        replacing the step options' window, interval, resets and cap.
    """
    return DENSIFIERS[config.strategy].from_config(config, scene_scale=scene_scale, refine_stop=refine_stop,
                                                   schedule=schedule)
