"""The 3DGS training run, shared by the ``cpu`` and ``gsplat`` training backends.

:func:`train_gaussians` puts the parts together:

0. the options: the quality preset fills what the config leaves unset
   (:func:`splatkit.train.presets.resolve_config`) and the image resolution is chosen from the
   cameras (:func:`splatkit.train.resolution.choose_resolution`); on CUDA the memory model fits
   the Gaussian cap and resolution to the VRAM budget (:mod:`splatkit.train.vram`); all are
   logged and reported;
1. the scene (:func:`splatkit.train.data.load_training_scene`): normalised views, hold-out split;
2. the state (:class:`splatkit.train.state.TrainState`), fresh from the SfM points or resumed from
   the newest checkpoint of this run's identity (:mod:`splatkit.train.checkpoint`);
3. the densification strategy, chosen once (:func:`splatkit.train.densify.make_densifier`);
4. the loop (:func:`run_steps`) over :func:`splatkit.train.step.train_step`, which logs the curve,
   evaluates every ``eval_every`` steps, reports progress and writes checkpoints; a run with a time
   budget (``minutes``) places all of these, the densification and the LR decay by a
   :class:`splatkit.train.budget.BudgetPlan` re-planned from the measured step rate;
5. the final held-out evaluation (:mod:`splatkit.train.evaluation`), the export to world units
   and the report (:mod:`splatkit.train.report`, schema in :mod:`splatkit.reports`).

Parameters are checked for non-finite values every :data:`FINITE_CHECK_EVERY` steps, before every
checkpoint and after the last step: on CUDA each check is a host sync per parameter, too many to
make every step. The loss is checked every step (its value is read for progress anyway).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from splatkit.contracts import GaussianCloud, PosedImages, Reconstruction
from splatkit.reports import TrainingReport
from splatkit.stages import ProgressCallback, ProgressUpdate, StopRequested, no_progress
from splatkit.train import checkpoint as ckpt
from splatkit.train.budget import STOP_STEPS, BudgetPlan
from splatkit.train.config import TrainConfig
from splatkit.train.data import TrainingScene, load_training_scene, train_view_for_step
from splatkit.train.densify import Densifier, make_densifier
from splatkit.train.evaluation import evaluate_views
from splatkit.train.init import init_from_points
from splatkit.train.presets import ResolvedOptions, preset_for, resolve_config
from splatkit.train.report import RunChoices, RunTiming, build_training_report
from splatkit.train.resolution import ResolutionChoice, choose_resolution
from splatkit.train.state import PARAM_NAMES, TrainState, learning_rates
from splatkit.train.step import Renderer, StepContext, train_step
from splatkit.train.vram import VramBudget, VramChoice, device_vram_budget, fit_to_vram

__all__ = ["TrainConfig", "TrainOutcome", "LoopOutcome", "train_gaussians", "resolve_run", "run_steps",
           "start_state", "write_checkpoint", "PARAM_NAMES", "FINITE_CHECK_EVERY"]

logger = logging.getLogger(__name__)

#: Steps between checks of the parameters for NaN / inf (also checked at checkpoints and the end).
FINITE_CHECK_EVERY = 100


@dataclass(frozen=True)
class TrainOutcome:
    """What :func:`train_gaussians` returns: the cloud in world units, the report, the eval renders."""

    cloud: GaussianCloud
    report: TrainingReport
    files: tuple[Path, ...]


@dataclass(frozen=True)
class LoopOutcome:
    """What :func:`run_steps` returns.

    Attributes
    ----------
    final_loss : float
        The last step's loss (NaN when no step ran).
    step_seconds : float
        Seconds spent inside this call's steps (evaluations and checkpoints excluded).
    stop_reason : str
        ``"steps"`` (the step count reached) or ``"budget"`` (the time budget spent).
    """

    final_loss: float
    step_seconds: float
    stop_reason: str


def resolve_run(config: TrainConfig, backend: str, rec: Reconstruction, *,
                vram: VramBudget | None = None) -> tuple[ResolvedOptions, ResolutionChoice, VramChoice | None]:
    """The run's options (quality preset filled in, ``downscale`` chosen), the resolution and VRAM choices.

    The returned ``ResolvedOptions.config`` leaves nothing unset: it is what the run digests,
    checkpoints under and reports. With a ``vram`` budget (CUDA runs, see
    :func:`splatkit.train.vram.device_vram_budget`) the memory model may lower the preset's
    Gaussian cap and raise the downscale (:func:`splatkit.train.vram.fit_to_vram`).
    """
    resolved = resolve_config(config, backend)
    filled = resolved.config
    sizes = [(cam.width, cam.height) for cam in rec.cameras]
    if config.max_image_size is not None:
        source = "max_image_size set"
    else:
        source = f"{backend} {filled.quality}: {preset_for(backend, filled.quality).why}"
    resolution = choose_resolution(sizes, downscale=filled.downscale, max_image_size=filled.max_image_size,
                                   source=source)
    vram_choice = None
    if vram is not None:
        vram_choice = fit_to_vram(vram, sizes, downscale=resolution.downscale, max_gaussians=filled.max_gaussians,
                                  sh_degree=filled.sh_degree,
                                  resolution_set=config.downscale is not None or config.max_image_size is not None,
                                  gaussians_set=config.max_gaussians is not None)
        if vram_choice.downscale != resolution.downscale:
            resolution = replace(resolution, downscale=vram_choice.downscale, width=vram_choice.width,
                                 height=vram_choice.height,
                                 reason=f"{vram_choice.width}x{vram_choice.height}, downscale "
                                        f"{vram_choice.downscale} to fit the VRAM budget ({resolution.reason})")
        filled = replace(filled, max_gaussians=vram_choice.max_gaussians)
    resolved = replace(resolved, config=replace(filled, downscale=resolution.downscale))
    return resolved, resolution, vram_choice


def train_gaussians(
    posed: PosedImages,
    config: TrainConfig,
    workdir: Path,
    *,
    backend: str,
    device: str,
    stage: str,
    progress: ProgressCallback = no_progress,
) -> TrainOutcome:
    """Train a Gaussian cloud on ``posed``; resume from ``workdir/checkpoints`` when possible.

    Parameters
    ----------
    posed
        Undistorted pinhole cameras and their images.
    config
        The options; those left at None come from its quality preset on ``backend``.
    backend
        Rasterizer backend name for :func:`splatkit.render.rasterize` (``"cpu"`` or ``"gsplat"``).
    device
        torch device for parameters and images (``"cpu"`` or ``"cuda"``).
    stage
        ``"train/<name>"`` for progress and errors.
    """
    import torch

    rec = posed.reconstruction
    posed.validate()
    rec.check_trainable(min_points=config.min_points, min_frames=config.min_frames)
    workdir = Path(workdir)
    t_start = time.perf_counter()
    resolved, resolution, vram_choice = resolve_run(config, backend, rec,
                                                    vram=device_vram_budget(config.max_vram_gb, device))
    config = resolved.config
    length = (f"a {config.minutes:g}-minute training budget (schedule over a {config.steps}-step reference)"
              if resolved.budget_seconds else f"{config.steps} steps")
    logger.info("%s: quality %s (%s): %s, up to %d Gaussians", stage, config.quality, resolved.quality_reason,
                length, config.max_gaussians)
    logger.info("%s: training images %s", stage, resolution.reason)
    if vram_choice is not None:
        logger.info("%s: VRAM budget %s", stage, vram_choice.reason)
    scene = load_training_scene(posed, downscale=resolution.downscale, test_every=config.test_every, device=device)

    torch.manual_seed(config.seed)
    plan = (BudgetPlan.start(config, budget_seconds=resolved.budget_seconds, initial_gaussians=len(rec.points))
            if resolved.budget_seconds else None)
    densifier = make_densifier(config, scene_scale=scene.scene_scale,
                               refine_stop=config.refine_stop or config.steps // 2,
                               schedule=plan.densify if plan is not None else None)
    # What a checkpoint must match to be resumed: the options and the scene (see checkpoint.py).
    identity = {"config_digest": config.digest(), "input_fingerprint": ckpt.input_fingerprint(rec)}
    state = start_state(rec, config, scene, densifier, checkpoints=workdir / "checkpoints", identity=identity,
                        device=device)
    resumed_from = state.step
    if plan is not None and state.plan is not None:
        plan.restore(state.plan)
    ctx = StepContext(config=plan.step_config(config) if plan is not None else config,
                      renderer=Renderer.for_run(config, backend), densifier=densifier,
                      means_lr0=learning_rates(config, scene.scene_scale)["means"], stage=stage,
                      source=rec.source or None)
    loop = run_steps(state, scene, ctx, checkpoints=workdir / "checkpoints", identity=identity,
                     progress=progress, t_start=t_start, plan=plan, base_config=config)
    if plan is not None:
        logger.info("%s: stopped after %d steps and %.1f s of training (budget %.0f s; first plan %s steps, "
                    "densification ended at step %s)", stage, state.step, state.train_seconds,
                    resolved.budget_seconds, plan.first_planned_steps, plan.densify_end)

    heldout = evaluate_views(scene.views, scene.test_ids, ctx.renderer, state.params, config.sh_degree,
                             save_dir=workdir / "eval" if config.save_eval_images else None, device=device)
    cloud = state.to_cloud(scene.norm, rec.georeference)
    if plan is not None:
        densify_end = plan.densify_end
    else:
        densify_end = min(config.refine_stop or config.steps // 2, config.steps)
    choices = RunChoices(
        quality=config.quality, quality_reason=resolved.quality_reason, resolution=(resolution.width,
                                                                                    resolution.height),
        resolution_reason=resolution.reason, budget_seconds=resolved.budget_seconds,
        planned_steps=plan.first_planned_steps if plan is not None else config.steps, stop_reason=loop.stop_reason,
        densify_stop_step=None if config.strategy == "none" else densify_end, vram=vram_choice)
    report = build_training_report(
        state=state, config=config, backend=backend, device=device, resumed_from_step=resumed_from,
        timing=RunTiming(seconds=time.perf_counter() - t_start, steps_run=state.step - resumed_from,
                         step_seconds=loop.step_seconds),
        final_loss=loop.final_loss, num_gaussians=len(cloud), initial_points=len(rec.points),
        train_views=len(scene.train_ids), heldout_views=tuple(rec.frames.names[i] for i in scene.test_ids),
        heldout=heldout, norm=scene.norm, choices=choices)
    files = tuple(sorted((workdir / "eval").glob("*.png"))) if (workdir / "eval").is_dir() else ()
    return TrainOutcome(cloud=cloud, report=report, files=files)


def start_state(rec: Reconstruction, config: TrainConfig, scene: TrainingScene, densifier: Densifier, *,
                checkpoints: Path, identity: dict[str, str], device: str) -> TrainState:
    """The newest checkpoint of ``identity`` in ``checkpoints`` (RNG included), or a fresh state.

    A fresh state starts from one Gaussian per SfM point (:func:`splatkit.train.init.init_from_points`).
    """
    lrs = learning_rates(config, scene.scene_scale)
    resume = ckpt.latest_checkpoint(checkpoints, identity)
    if resume is None:
        init = init_from_points(scene.norm.points_to_norm(rec.points.xyz), rec.points.rgb,
                                init_opacity=config.init_opacity, init_scale=config.init_scale)
        state = TrainState.from_initial(init, sh_degree=config.sh_degree, lrs=lrs,
                                        strategy_state=densifier.initialize_state(), device=device)
    else:
        state = TrainState.from_checkpoint(ckpt.load_checkpoint(resume, map_location=device), lrs=lrs,
                                           strategy_state=densifier.initialize_state(), device=device)
        logger.info("resuming training from %s (step %d, %.1f s of training done)", resume, state.step,
                    state.train_seconds)
    densifier.check_sanity(state.params, state.optimizers)
    return state


def run_steps(state: TrainState, scene: TrainingScene, ctx: StepContext, *, checkpoints: Path,
              identity: dict[str, Any], progress: ProgressCallback, t_start: float, plan: BudgetPlan | None = None,
              base_config: TrainConfig | None = None) -> LoopOutcome:
    """Run steps from ``state.step`` until ``steps`` (or, with ``plan``, until the budget is spent).

    After each step: the finiteness check when due, the curve point (every ``curve_every`` steps
    and the last), a held-out evaluation (every ``eval_every`` steps, merged into the last curve
    point), the progress update, then a checkpoint (every ``checkpoint_every`` steps, not after
    the last one; see :func:`write_checkpoint`). With a budget ``plan`` those intervals are
    fractions of the plan (:class:`splatkit.train.budget.BudgetPlan`), which is re-planned from
    the measured rate and hands the step a config with the planned length (LR decay, SH degree).
    ``state.train_seconds`` accumulates the loop's wall time (what the budget counts).

    Raises
    ------
    StageError
        A non-finite loss or parameter.
    StopRequested
        From ``progress``; a checkpoint of the step just done is written first (when checkpoints
        are on), so the resumed run is bitwise the uninterrupted one.
    """
    config = base_config if base_config is not None else ctx.config
    last_loss = float("nan")
    step_seconds = 0.0
    t_loop = time.perf_counter()
    seconds_before = state.train_seconds

    def elapsed() -> float:
        return seconds_before + (time.perf_counter() - t_loop)

    def stop_reason(done: int) -> str | None:
        if plan is None:
            return STOP_STEPS if done >= config.steps else None
        return plan.stop_reason(done, state.train_seconds)

    def save() -> None:
        state.train_seconds = elapsed()
        if plan is not None:
            state.plan = plan.to_dict()
        write_checkpoint(state, ctx, checkpoints=checkpoints, identity=identity)

    step = state.step
    reason = stop_reason(step)
    while reason is None:
        if plan is not None:
            plan.note_sh_degree(step)
        t0 = time.perf_counter()
        # One view per step goes to the device (uint8 over the bus, float32 there): GPU memory
        # does not grow with the photo count.
        last_loss = train_step(state, scene.device_view(train_view_for_step(step, scene.train_ids, config.seed)),
                               step, ctx)
        step_seconds += time.perf_counter() - t0
        done = step + 1
        state.train_seconds = elapsed()
        if plan is not None and plan.observe(done, state.train_seconds):
            ctx = replace(ctx, config=plan.step_config(config))
        reason = stop_reason(done)
        last = reason is not None
        if done % FINITE_CHECK_EVERY == 0 or last:
            state.check_finite(after_step=step, stage=ctx.stage, source=ctx.source)
        n_gauss = state.num_gaussians
        curve_due = plan.due("curve", step) if plan is not None else step % config.curve_every == 0
        if curve_due or last:
            state.curve.append({"step": step, "loss": last_loss, "num_gaussians": n_gauss,
                                "seconds": round(time.perf_counter() - t_start, 2)})
        eval_due = (plan.due("eval", step) if plan is not None
                    else config.eval_every and step > 0 and step % config.eval_every == 0)
        if eval_due and scene.test_ids:
            scores = evaluate_views(scene.views, scene.test_ids, ctx.renderer, state.params, config.sh_degree,
                                    device=scene.device)
            if scores.mean is not None:
                state.curve[-1] = {**state.curve[-1], **scores.mean.to_dict()}
        total = config.steps if plan is None else (done if last else max(plan.planned_steps, done))
        metrics = {"loss": last_loss, "num_gaussians": float(n_gauss)}
        if plan is not None:
            # A budgeted run's total moves with each re-plan; its time left is the steadier ETA.
            metrics.update(train_seconds=state.train_seconds, budget_seconds=plan.budget_seconds)
        try:
            progress(ProgressUpdate(stage=ctx.stage, step=done, total=total, message="train", metrics=metrics))
        except StopRequested:
            # Asked to stop (a spot instance reclaimed): keep this step's work for the resume.
            if not last and config.checkpoint_every:
                save()
                logger.warning("%s: stop requested; checkpoint written at step %d", ctx.stage, done)
            raise
        checkpoint_due = (plan.due("checkpoint", done) if plan is not None
                          else done % config.checkpoint_every == 0) if config.checkpoint_every else False
        if checkpoint_due and not last:
            save()
        step = done
    state.train_seconds = elapsed()
    return LoopOutcome(final_loss=last_loss, step_seconds=step_seconds, stop_reason=reason)


def write_checkpoint(state: TrainState, ctx: StepContext, *, checkpoints: Path, identity: dict[str, Any]) -> None:
    """Check the parameters, then save ``state`` as checkpoint ``state.step`` and prune older ones.

    A checkpoint never holds a non-finite state: a resume would only diverge again.
    """
    state.check_finite(after_step=state.step - 1, stage=ctx.stage, source=ctx.source)
    ckpt.save_checkpoint(checkpoints, state.step, {**state.checkpoint_payload(), **identity})
    ckpt.prune_checkpoints(checkpoints, ctx.config.keep_checkpoints, identity)
