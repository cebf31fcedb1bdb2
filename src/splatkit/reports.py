"""The training report: what a training backend returns as its stage report and writes as ``metrics.json``.

One typed, documented structure, :class:`TrainingReport`, built by the trainer and read back by the
pipeline's run report (and by anyone reading ``metrics.json``) through :meth:`TrainingReport.from_dict`,
which checks every key and type and raises :class:`~splatkit.errors.ContractError` naming the key.
A training backend from a plugin returns the same structure (``TrainingReport(...).to_dict()``) so
that the run report can show its curve and held-out scores.

Keys of the JSON object, in the order :meth:`TrainingReport.to_dict` writes them. "Required" keys
must be present; the others may be missing or ``null`` when a backend does not know them, and are
always written (``null`` when unknown) so readers find every key:

=====================  ==============  ==========================================================
key                    type            meaning (unit)
=====================  ==============  ==========================================================
``backend``            str | null      the rasterizer that trained (``"cpu"``, ``"gsplat"``)
``device``             str | null      the device, in words (``"NVIDIA H100 80GB HBM3"``,
                                       ``"cpu: <model> (2 threads)"``)
``steps``              int, required   the optimisation steps the run did in all (a step-count
                                       run: its ``steps`` option; a budgeted run: what fitted)
``resumed_from_step``  int             steps already done by a checkpoint this run resumed from
                                       (0: a fresh start); missing means 0
``seconds``            float | null    wall time of this invocation of the stage (s): scene
                                       loading, the steps run now, evaluations and export
``steps_per_second``   float | null    steps run now / the seconds spent inside those steps
                                       (evaluations and checkpoints excluded); null if none ran
``num_gaussians``      int, required   Gaussians in the trained cloud
``initial_points``     int | null      SfM points the Gaussians were initialised from
``final_loss``         float, required training loss of the last step: ``(1 - l) L1 + l (1 - SSIM)``
                                       on pixels in [0, 1] (unitless)
``train_views``        int | null      images trained on
``heldout_views``      list[str]       names of the held-out images (missing means none)
``heldout``            object, req.    ``{"mean": {"psnr", "ssim"} or {}, "views": [{"name",
                                       "psnr", "ssim"}, ...]}``: PSNR (dB) and SSIM (unitless,
                                       1 = identical) of the final model's renders of the
                                       held-out images; ``mean`` is ``{}`` without held-out views
``curve``              list, required  one point per logged step: ``{"step", "loss",
                                       "num_gaussians"}`` plus optional ``"seconds"`` (wall time
                                       since the stage started, s) and, at evaluation steps,
                                       ``"psnr"`` (dB) and ``"ssim"`` (held-out means)
``opacity_resets``     int | null      opacity resets the densification strategy performed
``peak_memory_bytes``  int | null      peak memory (bytes): CUDA, torch's peak allocation; CPU,
                                       the process's peak resident set size
``normalization``      object | null   the scene normalisation trained in: ``{"center": [x, y,
                                       z], "scale": s}`` with ``x_norm = s * (x_world -
                                       center)`` (world units)
``config``             object          the backend's options (its ``Config`` as a dict, with
                                       what the quality preset filled in); missing means ``{}``
``quality``            str | null      the quality preset the run used (``"preview"``,
                                       ``"standard"``, ``"high"``)
``quality_reason``     str | null      why: ``"set"`` or ``"auto: ..."`` (e.g. training on a CPU)
``resolution``         [int, int] |    width and height of the largest training image (px)
                       null
``resolution_reason``  str | null      why that size (``"590x443, downscale 4: the long side
                                       2362 px exceeds 640 px (cpu preview: ...)"``)
``budget_seconds``     float | null    the training-time budget (s); null: a step-count run
``train_seconds``      float | null    training time the run spent (s), over resumes: the
                                       training loop's wall time, what a budget counts (scene
                                       loading, final evaluation and export excluded)
``planned_steps``      int | null      a step-count run: its steps; a budgeted run: the first
                                       plan made from the measured step rate (compare ``steps``)
``stop_reason``        str | null      ``"steps"`` (the step count reached) or ``"budget"`` (the
                                       budget spent)
``densify_stop_step``  int | null      the step densification ended at; null: the run did not
                                       densify, or its densification did not finish
=====================  ==============  ==========================================================

Any other key is a backend's own metric: it is kept in :attr:`TrainingReport.extra` and written
back after the keys above.

This module imports only :mod:`splatkit.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from splatkit.errors import ContractError

__all__ = ["TrainingReport", "CurvePoint", "HeldoutScores", "ImageQuality", "ViewQuality", "Normalization",
           "TRAINING_REPORT_KEYS"]

#: The documented keys of a training report, in the order they are written.
TRAINING_REPORT_KEYS: tuple[str, ...] = (
    "backend", "device", "steps", "resumed_from_step", "seconds", "steps_per_second", "num_gaussians",
    "initial_points", "final_loss", "train_views", "heldout_views", "heldout", "curve", "opacity_resets",
    "peak_memory_bytes", "normalization", "config", "quality", "quality_reason", "resolution", "resolution_reason",
    "budget_seconds", "train_seconds", "planned_steps", "stop_reason", "densify_stop_step",
)


# -----------------------------------------------------------------------------------------------
# Checking one value (every error names its key path, e.g. "curve[3].loss")


def _fail(path: str, expected: str, value: Any) -> ContractError:
    return ContractError(f"training report: {path} must be {expected}, got {type(value).__name__} {value!r:.80}",
                         field=f"TrainingReport.{path}", expected=expected, actual=value)


def _req(data: Mapping[str, Any], key: str, path: str) -> Any:
    """``data[key]``; a missing key is a ContractError naming ``path``."""
    if key not in data:
        raise ContractError(f"training report: required key {path!r} is missing (keys: {sorted(data)})",
                            field=f"TrainingReport.{path}", expected=path, actual=sorted(data))
    return data[key]


def _int(value: Any, path: str, expected: str = "an integer") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, expected, value)
    return value


def _float(value: Any, path: str, expected: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, expected, value)
    return float(value)


def _str(value: Any, path: str, expected: str = "a string") -> str:
    if not isinstance(value, str):
        raise _fail(path, expected, value)
    return value


def _opt_int(value: Any, path: str) -> int | None:
    return None if value is None else _int(value, path, "an integer or null")


def _opt_float(value: Any, path: str) -> float | None:
    return None if value is None else _float(value, path, "a number or null")


def _opt_str(value: Any, path: str) -> str | None:
    return None if value is None else _str(value, path, "a string or null")


def _list(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise _fail(path, "a list", value)
    return value


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "an object", value)
    return value


# -----------------------------------------------------------------------------------------------
# The parts


@dataclass(frozen=True, kw_only=True)
class ImageQuality:
    """PSNR (dB) and SSIM (unitless, 1 = identical) of renders against photos."""

    psnr: float
    ssim: float

    def to_dict(self) -> dict[str, float]:
        return {"psnr": self.psnr, "ssim": self.ssim}

    @classmethod
    def from_dict(cls, data: Any, path: str = "quality") -> ImageQuality:
        data = _object(data, path)
        return cls(psnr=_float(_req(data, "psnr", f"{path}.psnr"), f"{path}.psnr"),
                   ssim=_float(_req(data, "ssim", f"{path}.ssim"), f"{path}.ssim"))


@dataclass(frozen=True, kw_only=True)
class ViewQuality:
    """One held-out image: its name (relative to the image folder), PSNR (dB) and SSIM."""

    name: str
    psnr: float
    ssim: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "psnr": self.psnr, "ssim": self.ssim}

    @classmethod
    def from_dict(cls, data: Any, path: str = "view") -> ViewQuality:
        data = _object(data, path)
        quality = ImageQuality.from_dict(data, path)
        return cls(name=_str(_req(data, "name", f"{path}.name"), f"{path}.name"), psnr=quality.psnr,
                   ssim=quality.ssim)


@dataclass(frozen=True, kw_only=True)
class HeldoutScores:
    """The final model on the held-out images: the mean (None without held-out views) and per view."""

    mean: ImageQuality | None
    views: tuple[ViewQuality, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.to_dict() if self.mean is not None else {},
                "views": [v.to_dict() for v in self.views]}

    @classmethod
    def from_dict(cls, data: Any, path: str = "heldout") -> HeldoutScores:
        data = _object(data, path)
        mean = _object(_req(data, "mean", f"{path}.mean"), f"{path}.mean")
        views = _list(_req(data, "views", f"{path}.views"), f"{path}.views")
        return cls(mean=ImageQuality.from_dict(mean, f"{path}.mean") if mean else None,
                   views=tuple(ViewQuality.from_dict(v, f"{path}.views[{i}]") for i, v in enumerate(views)))


@dataclass(frozen=True, kw_only=True)
class CurvePoint:
    """One logged training step.

    Attributes
    ----------
    step : int
        The step index (0-based).
    loss : float
        The training loss at that step.
    num_gaussians : int
        Gaussians after the step.
    seconds : float or None
        Wall time since the stage started (s).
    psnr, ssim : float or None
        Held-out means, at the steps where the run evaluated (``eval_every``).
    """

    step: int
    loss: float
    num_gaussians: int
    seconds: float | None = None
    psnr: float | None = None
    ssim: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "loss": self.loss, "num_gaussians": self.num_gaussians}
        for key in ("seconds", "psnr", "ssim"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "curve[]") -> CurvePoint:
        data = _object(data, path)

        def req(key: str) -> Any:
            return _req(data, key, f"{path}.{key}")

        def opt(key: str) -> float | None:
            return _opt_float(data.get(key), f"{path}.{key}")

        return cls(step=_int(req("step"), f"{path}.step"), loss=_float(req("loss"), f"{path}.loss"),
                   num_gaussians=_int(req("num_gaussians"), f"{path}.num_gaussians"),
                   seconds=opt("seconds"), psnr=opt("psnr"), ssim=opt("ssim"))


@dataclass(frozen=True, kw_only=True)
class Normalization:
    """The scene frame training ran in: ``x_norm = scale * (x_world - center)`` (world units)."""

    center: tuple[float, float, float]
    scale: float

    def to_dict(self) -> dict[str, Any]:
        return {"center": list(self.center), "scale": self.scale}

    @classmethod
    def from_dict(cls, data: Any, path: str = "normalization") -> Normalization:
        data = _object(data, path)
        center = _list(_req(data, "center", f"{path}.center"), f"{path}.center")
        if len(center) != 3:
            raise _fail(f"{path}.center", "3 numbers", center)
        x, y, z = (_float(c, f"{path}.center[{i}]") for i, c in enumerate(center))
        return cls(center=(x, y, z), scale=_float(_req(data, "scale", f"{path}.scale"), f"{path}.scale"))


# -----------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True, kw_only=True)
class TrainingReport:
    """A training run's report; see the module docstring for every key and its unit."""

    steps: int
    num_gaussians: int
    final_loss: float
    heldout: HeldoutScores
    curve: tuple[CurvePoint, ...]
    backend: str | None = None
    device: str | None = None
    resumed_from_step: int = 0
    seconds: float | None = None
    steps_per_second: float | None = None
    initial_points: int | None = None
    train_views: int | None = None
    heldout_views: tuple[str, ...] = ()
    opacity_resets: int | None = None
    peak_memory_bytes: int | None = None
    normalization: Normalization | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    quality: str | None = None
    quality_reason: str | None = None
    resolution: tuple[int, int] | None = None
    resolution_reason: str | None = None
    budget_seconds: float | None = None
    train_seconds: float | None = None
    planned_steps: int | None = None
    stop_reason: str | None = None
    densify_stop_step: int | None = None
    #: Keys outside :data:`TRAINING_REPORT_KEYS`: a backend's own metrics, kept as they are.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (every documented key, then :attr:`extra`)."""
        return {
            "backend": self.backend, "device": self.device, "steps": self.steps,
            "resumed_from_step": self.resumed_from_step, "seconds": self.seconds,
            "steps_per_second": self.steps_per_second, "num_gaussians": self.num_gaussians,
            "initial_points": self.initial_points, "final_loss": self.final_loss, "train_views": self.train_views,
            "heldout_views": list(self.heldout_views), "heldout": self.heldout.to_dict(),
            "curve": [p.to_dict() for p in self.curve], "opacity_resets": self.opacity_resets,
            "peak_memory_bytes": self.peak_memory_bytes,
            "normalization": self.normalization.to_dict() if self.normalization is not None else None,
            "config": dict(self.config), "quality": self.quality, "quality_reason": self.quality_reason,
            "resolution": list(self.resolution) if self.resolution is not None else None,
            "resolution_reason": self.resolution_reason, "budget_seconds": self.budget_seconds,
            "train_seconds": self.train_seconds, "planned_steps": self.planned_steps,
            "stop_reason": self.stop_reason, "densify_stop_step": self.densify_stop_step, **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any) -> TrainingReport:
        """Read and check a report (``metrics.json``, a stage's report in its manifest).

        Raises
        ------
        ContractError
            A required key is missing or a key has the wrong type; ``field`` names it
            (``"TrainingReport.curve[3].loss"``).
        """
        data = _object(data, "report")

        def req(key: str) -> Any:
            return _req(data, key, key)

        names = data.get("heldout_views")
        normalization = data.get("normalization")
        config = data.get("config")
        resumed = data.get("resumed_from_step")
        resolution = data.get("resolution")
        if resolution is not None:
            size = _list(resolution, "resolution")
            if len(size) != 2:
                raise _fail("resolution", "[width, height]", resolution)
            resolution = (_int(size[0], "resolution[0]"), _int(size[1], "resolution[1]"))
        return cls(
            steps=_int(req("steps"), "steps"),
            num_gaussians=_int(req("num_gaussians"), "num_gaussians"),
            final_loss=_float(req("final_loss"), "final_loss"),
            heldout=HeldoutScores.from_dict(req("heldout")),
            curve=tuple(CurvePoint.from_dict(p, f"curve[{i}]") for i, p in enumerate(_list(req("curve"), "curve"))),
            backend=_opt_str(data.get("backend"), "backend"),
            device=_opt_str(data.get("device"), "device"),
            resumed_from_step=0 if resumed is None else _int(resumed, "resumed_from_step"),
            seconds=_opt_float(data.get("seconds"), "seconds"),
            steps_per_second=_opt_float(data.get("steps_per_second"), "steps_per_second"),
            initial_points=_opt_int(data.get("initial_points"), "initial_points"),
            train_views=_opt_int(data.get("train_views"), "train_views"),
            heldout_views=tuple(_str(n, f"heldout_views[{i}]")
                                for i, n in enumerate(_list(names, "heldout_views") if names is not None else ())),
            opacity_resets=_opt_int(data.get("opacity_resets"), "opacity_resets"),
            peak_memory_bytes=_opt_int(data.get("peak_memory_bytes"), "peak_memory_bytes"),
            normalization=Normalization.from_dict(normalization) if normalization is not None else None,
            config=dict(_object(config, "config")) if config is not None else {},
            quality=_opt_str(data.get("quality"), "quality"),
            quality_reason=_opt_str(data.get("quality_reason"), "quality_reason"),
            resolution=resolution,
            resolution_reason=_opt_str(data.get("resolution_reason"), "resolution_reason"),
            budget_seconds=_opt_float(data.get("budget_seconds"), "budget_seconds"),
            train_seconds=_opt_float(data.get("train_seconds"), "train_seconds"),
            planned_steps=_opt_int(data.get("planned_steps"), "planned_steps"),
            stop_reason=_opt_str(data.get("stop_reason"), "stop_reason"),
            densify_stop_step=_opt_int(data.get("densify_stop_step"), "densify_stop_step"),
            extra={k: v for k, v in data.items() if k not in TRAINING_REPORT_KEYS},
        )
