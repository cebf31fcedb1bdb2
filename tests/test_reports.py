"""The training report schema (splatkit.reports): round trip, defaults, and errors that name the key."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.errors import ContractError
from splatkit.reports import (
    TRAINING_REPORT_KEYS,
    CurvePoint,
    HeldoutScores,
    ImageQuality,
    Normalization,
    TrainingReport,
    ViewQuality,
)


def full_report() -> dict:
    """A report as the built-in trainer writes it (metrics.json)."""
    return {
        "backend": "cpu", "device": "cpu: Some CPU (2 threads)", "steps": 120, "resumed_from_step": 20,
        "seconds": 12.5, "steps_per_second": 8.123, "num_gaussians": 1179, "initial_points": 180,
        "final_loss": 0.0412, "train_views": 8, "heldout_views": ["view000.png", "view005.png"],
        "heldout": {"mean": {"psnr": 24.5, "ssim": 0.8}, "views": [
            {"name": "view000.png", "psnr": 24.0, "ssim": 0.79}, {"name": "view005.png", "psnr": 25.0, "ssim": 0.81}]},
        "curve": [{"step": 0, "loss": 0.3, "num_gaussians": 180, "seconds": 0.5},
                  {"step": 10, "loss": 0.2, "num_gaussians": 180, "seconds": 1.1, "psnr": 18.0, "ssim": 0.5}],
        "opacity_resets": 1, "peak_memory_bytes": 123456789,
        "normalization": {"center": [0.1, -0.2, 1.5], "scale": 0.3},
        "config": {"steps": 120, "strategy": "default"},
        "quality": "preview", "quality_reason": "auto: training on the CPU", "resolution": [590, 443],
        "resolution_reason": "590x443, downscale 4: the long side 2362 px exceeds 640 px",
        "budget_seconds": 120.0, "train_seconds": 119.2, "planned_steps": 131, "stop_reason": "budget",
        "densify_stop_step": 72,
    }


def test_a_full_report_round_trips_with_its_key_order() -> None:
    data = full_report()
    report = TrainingReport.from_dict(json.loads(json.dumps(data)))
    assert report.to_dict() == data and tuple(report.to_dict()) == TRAINING_REPORT_KEYS
    assert report.heldout.mean == ImageQuality(psnr=24.5, ssim=0.8)
    assert report.heldout.views[1] == ViewQuality(name="view005.png", psnr=25.0, ssim=0.81)
    assert report.curve[1] == CurvePoint(step=10, loss=0.2, num_gaussians=180, seconds=1.1, psnr=18.0, ssim=0.5)
    assert report.normalization == Normalization(center=(0.1, -0.2, 1.5), scale=0.3)
    assert (report.quality, report.resolution, report.budget_seconds, report.stop_reason) == (
        "preview", (590, 443), 120.0, "budget")


def test_a_minimal_report_gets_defaults_and_every_key_is_written() -> None:
    minimal = {"steps": 6, "num_gaussians": 20, "final_loss": 1.0, "heldout": {"mean": {}, "views": []},
               "curve": [{"step": 0, "loss": 1, "num_gaussians": 20}], "pid": 4242}
    report = TrainingReport.from_dict(minimal)
    assert report.resumed_from_step == 0 and report.backend is None and report.heldout.mean is None
    assert report.extra == {"pid": 4242}  # a backend's own key is kept
    out = report.to_dict()
    assert tuple(out)[:-1] == TRAINING_REPORT_KEYS and out["pid"] == 4242
    assert out["heldout"] == {"mean": {}, "views": []} and out["config"] == {} and out["heldout_views"] == []
    assert out["curve"] == [{"step": 0, "loss": 1.0, "num_gaussians": 20}]  # optional curve keys left out
    assert TrainingReport.from_dict(out) == report


@pytest.mark.parametrize("key", ["steps", "num_gaussians", "final_loss", "heldout", "curve"])
def test_a_missing_required_key_is_named(key: str) -> None:
    data = full_report()
    del data[key]
    with pytest.raises(ContractError, match=f"required key '{key}' is missing") as err:
        TrainingReport.from_dict(data)
    assert err.value.field == f"TrainingReport.{key}"


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("steps",), "120", "an integer"),
    (("steps",), True, "an integer"),
    (("num_gaussians",), 1.5, "an integer"),
    (("final_loss",), None, "a number"),
    (("backend",), 3, "a string or null"),
    (("seconds",), "fast", "a number or null"),
    (("heldout_views",), "view000.png", "a list"),
    (("heldout_views", 1), 5, "a string"),
    (("heldout", "views", 0, "psnr"), "high", "a number"),
    (("heldout", "mean"), [], "an object"),
    (("curve", 1, "num_gaussians"), "many", "an integer"),
    (("curve", 1), 3, "an object"),
    (("normalization", "center"), [0, 1], "3 numbers"),
    (("config",), [], "an object"),
    (("resolution",), [590], r"\[width, height\]"),
    (("resolution", 1), 44.3, "an integer"),
    (("budget_seconds",), "2 min", "a number or null"),
    (("stop_reason",), 1, "a string or null"),
    (("densify_stop_step",), 7.5, "an integer or null"),
])
def test_a_wrong_type_is_named_by_its_key_path(path: tuple, value: object, expected: str) -> None:
    data = full_report()
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    with pytest.raises(ContractError, match=f"training report: {re.escape(name)} must be {expected}") as err:
        TrainingReport.from_dict(data)
    assert err.value.field == f"TrainingReport.{name}"


def test_a_missing_nested_key_is_named() -> None:
    data = full_report()
    del data["curve"][1]["loss"]
    with pytest.raises(ContractError, match=r"'curve\[1\]\.loss' is missing"):
        TrainingReport.from_dict(data)


def test_not_an_object_is_refused() -> None:
    with pytest.raises(ContractError, match="report must be an object"):
        TrainingReport.from_dict([1, 2])


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(steps=st.integers(1, 10**6), n=st.integers(0, 10**7), loss=st.floats(allow_nan=True),
       psnr=st.one_of(st.none(), finite), names=st.lists(st.text(min_size=1, max_size=8), max_size=4))
def test_any_report_survives_json(steps: int, n: int, loss: float, psnr: float | None, names: list[str]) -> None:
    report = TrainingReport(
        steps=steps, num_gaussians=n, final_loss=loss,
        heldout=HeldoutScores(mean=None if psnr is None else ImageQuality(psnr=psnr, ssim=0.5),
                              views=tuple(ViewQuality(name=s, psnr=psnr or 0.0, ssim=0.5) for s in names)),
        curve=(CurvePoint(step=0, loss=loss, num_gaussians=n),), heldout_views=tuple(names))
    back = TrainingReport.from_dict(json.loads(json.dumps(report.to_dict())))
    if math.isnan(loss):
        assert math.isnan(back.final_loss) and math.isnan(back.curve[0].loss)
    else:
        assert back == report
