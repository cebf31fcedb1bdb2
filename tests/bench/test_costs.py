"""Cost per job and the GPU projection: the arithmetic, and that a measured run replaces a projection."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from splatkit.bench.costs import (
    GPU_SPECS,
    PRICES,
    gpu_spec_for,
    job_cost,
    project_summary,
    projection_factor,
    training_summaries_for,
)
from splatkit.bench.summary import CurveSample, RunSummary, load_summary
from splatkit.errors import InputError


def _run(device: str, train_s: float = 100.0, **kw: object) -> RunSummary:
    fields = dict(label=device, device=device, scene="s", preset="7k",
                  stage_seconds={"sfm": 36.0, "train": train_s, "compress": 18.0}, steps=7000,
                  steps_per_second=70.0, psnr=25.0, curve=(CurveSample(step=1000, seconds=10.0, psnr=20.0),))
    fields.update(kw)
    return RunSummary(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "key"), [
    ("NVIDIA H100 80GB HBM3", "H100 SXM"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA A10G", "A10G"),
    ("Tesla T4", "T4"), ("NVIDIA H200", "H200"),
])
def test_gpu_names_as_torch_reports_them(name: str, key: str) -> None:
    assert gpu_spec_for(name) is GPU_SPECS[key]


def test_cpu_and_unknown_devices_have_no_spec() -> None:
    assert gpu_spec_for("cpu: AMD EPYC") is None
    assert gpu_spec_for("NVIDIA GeForce GTX 1080") is None


def test_projection_factor_is_the_stated_weighted_ratio() -> None:
    h100, t4, a10g = GPU_SPECS["H100 SXM"], GPU_SPECS["T4"], GPU_SPECS["A10G"]
    assert projection_factor(h100, t4) == pytest.approx(0.5 * 3350 / 320 + 0.5 * 67 / 8.1)
    assert projection_factor(h100, a10g) == pytest.approx(0.5 * 3350 / 600 + 0.5 * 67 / 31.2)
    assert projection_factor(h100, t4, bandwidth_weight=1.0) == pytest.approx(3350 / 320)
    assert projection_factor(h100, t4, bandwidth_weight=0.0) == pytest.approx(67 / 8.1)
    assert projection_factor(t4, t4) == pytest.approx(1.0)
    # The T4/A10G ratio does not depend on the measured GPU (both terms are ratios to it) only
    # when the weight is 0 or 1; at 0.5 it does, so the measured GPU is always named.
    with pytest.raises(InputError, match="bandwidth_weight"):
        projection_factor(h100, t4, bandwidth_weight=1.5)


def test_projected_summary_scales_time_rate_and_curve_only() -> None:
    measured = _run("NVIDIA H100 80GB HBM3")
    factor = projection_factor(GPU_SPECS["H100 SXM"], GPU_SPECS["T4"])
    p = project_summary(measured, GPU_SPECS["T4"])
    assert p.projected and "projected" in p.label and "projected" in p.device
    assert p.stage_seconds == {"sfm": 36.0, "train": pytest.approx(100.0 * factor), "compress": 18.0}
    assert p.steps_per_second == pytest.approx(70.0 / factor)
    assert p.curve[0].seconds == pytest.approx(10.0 * factor) and p.curve[0].psnr == 20.0
    assert (p.psnr, p.steps) == (measured.psnr, measured.steps)


def test_cpu_run_cannot_be_projected() -> None:
    with pytest.raises(InputError, match="not a GPU"):
        project_summary(_run("cpu: AMD EPYC"), GPU_SPECS["T4"])


def test_a_measured_run_on_the_instance_gpu_replaces_the_projection() -> None:
    h100 = _run("NVIDIA H100 80GB HBM3")
    a10g = _run("NVIDIA A10G", train_s=321.0)
    (on_g5,) = training_summaries_for("ml.g5.xlarge", [h100, a10g])
    assert on_g5 is a10g and not on_g5.projected
    (on_g4dn,) = training_summaries_for("ml.g4dn.xlarge", [h100, a10g])
    assert on_g4dn.projected and on_g4dn.device == "T4 (projected)"


def test_one_priced_run_per_scene_and_preset() -> None:
    runs = [_run("NVIDIA H100 80GB HBM3"), _run("NVIDIA H100 80GB HBM3", preset="30k"), _run("cpu: x", preset="c")]
    assert [r.preset for r in training_summaries_for("ml.g4dn.xlarge", runs)] == ["7k", "30k"]
    with pytest.raises(InputError, match="no GPU run"):
        training_summaries_for("ml.g4dn.xlarge", [_run("cpu: x")])
    with pytest.raises(InputError, match="not a priced GPU instance"):
        training_summaries_for("ml.c6i.2xlarge", runs)


def test_job_cost_is_seconds_times_hourly_price() -> None:
    run = _run("NVIDIA A10G", train_s=1800.0)
    cost = job_cost(run, "ml.g5.xlarge", spot_savings=0.7)
    assert cost.sfm_usd == pytest.approx(36.0 / 3600 * PRICES["ml.c6i.2xlarge"].usd_per_hour)
    assert cost.train_on_demand_usd == pytest.approx(0.5 * 1.408)
    assert cost.train_spot_usd == pytest.approx(0.5 * 1.408 * 0.3)
    assert cost.compress_usd == pytest.approx(18.0 / 3600 * 0.816)
    assert cost.total_on_demand_usd == pytest.approx(cost.sfm_usd + 0.704 + cost.compress_usd)
    assert cost.total_spot_usd == pytest.approx(cost.sfm_usd + 0.2112 + cost.compress_usd)
    assert not cost.projected and cost.to_dict()["training_instance"] == "ml.g5.xlarge"


def test_unknown_stage_time_leaves_the_total_unknown() -> None:
    run = dataclasses.replace(_run("NVIDIA A10G"), stage_seconds={"sfm": None, "train": 60.0, "compress": None})
    cost = job_cost(run, "ml.g5.xlarge")
    assert cost.sfm_usd is None and cost.total_on_demand_usd is None and cost.train_on_demand_usd is not None
    assert job_cost(run, "ml.g5.xlarge", sfm_seconds=10, compress_seconds=5).total_spot_usd is not None
    with pytest.raises(InputError, match="spot_savings"):
        job_cost(run, "ml.g5.xlarge", spot_savings=1.0)
    with pytest.raises(InputError, match="no price"):
        job_cost(run, "ml.p5.48xlarge")


def test_recorded_h100_fern_projection(h100_paths: list[Path]) -> None:
    h100_7k = load_summary(h100_paths[0])
    assert h100_7k.device == "NVIDIA H100 80GB HBM3" and h100_7k.curve_seconds_estimated
    (t4,) = training_summaries_for("ml.g4dn.xlarge", [h100_7k])
    assert t4.stage_seconds["train"] == pytest.approx(80.039 * projection_factor(GPU_SPECS["H100 SXM"], GPU_SPECS["T4"]))


def test_projection_is_consistent_through_an_intermediate_gpu() -> None:
    # t = B/BW + F/FP32: the memory share on the A10G follows from the one on the H100.
    h100, a10g, t4 = GPU_SPECS["H100 SXM"], GPU_SPECS["A10G"], GPU_SPECS["T4"]
    w = 0.5
    mem_on_a10g = w * h100.bandwidth_gbps / a10g.bandwidth_gbps
    w_a10g = mem_on_a10g / projection_factor(h100, a10g, bandwidth_weight=w)
    two_hops = projection_factor(h100, a10g, bandwidth_weight=w) * projection_factor(a10g, t4, bandwidth_weight=w_a10g)
    assert two_hops == pytest.approx(projection_factor(h100, t4, bandwidth_weight=w))
