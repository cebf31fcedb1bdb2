"""Dollars per job on SageMaker, and the projection of a measured GPU's training time onto a T4 or an A10G.

**Prices** (:data:`PRICES`): SageMaker on-demand list prices, us-east-1, USD per instance-hour,
as gathered in ``../shared/briefs/sagemaker.md`` section 5 (several public code bases quoting the
AWS Price List API, ``AmazonSageMaker`` offer, read 2026-09-27; the official page
https://aws.amazon.com/sagemaker/pricing/ is rendered by JavaScript and could not be read here).
They are **assumptions to verify** with the Price List API before quoting. SageMaker bills per
second. Managed spot exists for training jobs only and has no published price: AWS states savings
"up to 90 %"; :data:`ASSUMED_SPOT_SAVINGS` is an assumption, the real saving of a job is
``1 - BillableTimeInSeconds / TrainingTimeInSeconds`` in DescribeTrainingJob.

**Projection** (:func:`projection_factor`): a 3DGS training step is a mix of memory-bound work
(rasterisation reads and writes per-tile Gaussian lists and per-pixel state, the Adam update
streams every parameter) and FP32 arithmetic (projection, SH evaluation, alpha compositing).
The model is additive (a roofline without overlap): a step moves ``B`` bytes and does ``F``
FP32 operations, ``t = B / BW + F / FP32``. ``w`` is the share of the *measured* GPU's time that
is memory traffic, so::

    t_target = t_measured * (w * BW_measured / BW_target + (1 - w) * FP32_measured / FP32_target)

with ``w = 0.5`` (:data:`BANDWIDTH_WEIGHT`) unless measured otherwise. Because ``w`` belongs to
the measured GPU, projections are consistent: projecting H100 -> A10G and then A10G -> T4 (with
the A10G's own share) gives the H100 -> T4 figure. Spec numbers are
NVIDIA's data-sheet values (:data:`GPU_SPECS`, sources there). The model ignores clocks under
load, cache sizes and launch latency (a small scene on a big GPU is latency bound, so the
projection onto a smaller GPU is then pessimistic); every projected row says ``projected``.
Only training is projected: SfM and compression run on CPU processing instances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from splatkit.bench.summary import CurveSample, RunSummary
from splatkit.errors import InputError

__all__ = ["GpuSpec", "InstancePrice", "GPU_SPECS", "PRICES", "PRICE_DATE", "PRICE_SOURCE", "ASSUMED_SPOT_SAVINGS",
           "BANDWIDTH_WEIGHT", "TRAINING_INSTANCES", "SFM_INSTANCE", "COMPRESS_INSTANCE", "JobCost", "gpu_spec_for",
           "projection_factor", "project_summary", "training_summaries_for", "job_cost"]

PRICE_DATE = "2026-09-27"
PRICE_SOURCE = ("SageMaker on-demand list prices, us-east-1, USD/h, from public code quoting the AWS Price List API "
                "(AmazonSageMaker offer) on 2026-09-27, as collected in shared/briefs/sagemaker.md section 5; not "
                "read from aws.amazon.com/sagemaker/pricing (JavaScript page): assumptions to verify")
#: Fraction of the on-demand price a managed-spot training job saves (assumed; AWS: "up to 90 %").
ASSUMED_SPOT_SAVINGS = 0.70
#: Share of a training step that scales with memory bandwidth (the rest with FP32 throughput).
BANDWIDTH_WEIGHT = 0.5


@dataclass(frozen=True, kw_only=True)
class GpuSpec:
    """Published peak numbers of one GPU.

    Attributes
    ----------
    name : str
    fp32_tflops : float
        Peak FP32 (non-tensor) throughput, TFLOPS.
    bandwidth_gbps : float
        Peak memory bandwidth, GB/s.
    vram_gb : float
    source : str
    """

    name: str
    fp32_tflops: float
    bandwidth_gbps: float
    vram_gb: float
    source: str


GPU_SPECS: dict[str, GpuSpec] = {g.name: g for g in (
    GpuSpec(name="T4", fp32_tflops=8.1, bandwidth_gbps=320.0, vram_gb=16.0,
            source="NVIDIA T4 data sheet (nvidia.com/en-us/data-center/tesla-t4)"),
    GpuSpec(name="A10G", fp32_tflops=31.2, bandwidth_gbps=600.0, vram_gb=24.0,
            source="NVIDIA A10 data sheet (31.2 TFLOPS FP32, 600 GB/s); AWS's A10G shares the A10's 24 GB GDDR6 "
                   "and 600 GB/s (baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference)"),
    GpuSpec(name="H100 SXM", fp32_tflops=67.0, bandwidth_gbps=3350.0, vram_gb=80.0,
            source="NVIDIA H100 data sheet, SXM5 (67 TFLOPS FP32, 3.35 TB/s)"),
    GpuSpec(name="H100 PCIe", fp32_tflops=51.0, bandwidth_gbps=2000.0, vram_gb=80.0,
            source="NVIDIA H100 data sheet, PCIe (51 TFLOPS FP32, 2 TB/s)"),
    GpuSpec(name="H200", fp32_tflops=67.0, bandwidth_gbps=4800.0, vram_gb=141.0,
            source="NVIDIA H200 data sheet (67 TFLOPS FP32, 4.8 TB/s)"),
)}

# What torch.cuda.get_device_name says -> GPU_SPECS key; first match wins ("H100 80GB HBM3" is the SXM5).
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (("A10G", "A10G"), ("T4", "T4"), ("H200", "H200"),
                                               ("H100 PCIE", "H100 PCIe"), ("H100", "H100 SXM"))


def gpu_spec_for(device: str) -> GpuSpec | None:
    """The spec of a device name as a record gives it (``"NVIDIA H100 80GB HBM3"``), None when unknown or a CPU."""
    upper = device.upper()
    if upper.startswith("CPU"):
        return None
    for pattern, key in _NAME_PATTERNS:
        if pattern in upper:
            return GPU_SPECS[key]
    return None


@dataclass(frozen=True, kw_only=True)
class InstancePrice:
    """A SageMaker instance type and its on-demand price (USD per hour); ``gpu`` keys :data:`GPU_SPECS`."""

    instance_type: str
    usd_per_hour: float
    gpu: str | None
    job_type: str


PRICES: dict[str, InstancePrice] = {p.instance_type: p for p in (
    InstancePrice(instance_type="ml.g4dn.xlarge", usd_per_hour=0.7364, gpu="T4", job_type="training"),
    InstancePrice(instance_type="ml.g5.xlarge", usd_per_hour=1.408, gpu="A10G", job_type="training"),
    InstancePrice(instance_type="ml.c6i.2xlarge", usd_per_hour=0.408, gpu=None, job_type="processing"),
    InstancePrice(instance_type="ml.c6i.4xlarge", usd_per_hour=0.816, gpu=None, job_type="processing"),
)}
#: The training instances compared, and the processing instances the launcher uses for SfM and
#: compression (splatkit.sagemaker.instances.DEFAULT_INSTANCE_TYPES).
TRAINING_INSTANCES: tuple[str, ...] = ("ml.g4dn.xlarge", "ml.g5.xlarge")
SFM_INSTANCE = "ml.c6i.2xlarge"
COMPRESS_INSTANCE = "ml.c6i.4xlarge"


def projection_factor(measured: GpuSpec, target: GpuSpec, *, bandwidth_weight: float = BANDWIDTH_WEIGHT) -> float:
    """How many times longer a training step takes on ``target`` than on ``measured`` (the module's model)."""
    if not 0.0 <= bandwidth_weight <= 1.0:
        raise InputError(f"projection: bandwidth_weight must be in [0, 1], got {bandwidth_weight}")
    return (bandwidth_weight * measured.bandwidth_gbps / target.bandwidth_gbps
            + (1.0 - bandwidth_weight) * measured.fp32_tflops / target.fp32_tflops)


def project_summary(summary: RunSummary, target: GpuSpec, *,
                    bandwidth_weight: float = BANDWIDTH_WEIGHT) -> RunSummary:
    """``summary``'s training run as projected onto ``target``: training time, steps/s and curve times scaled.

    Quality (PSNR, SSIM, Gaussians) and the CPU stages are carried over unchanged: the same
    steps give the same model. Peak GPU memory is carried over too (the same work allocates the
    same tensors); whether it fits is :attr:`GpuSpec.vram_gb`'s question.

    Raises
    ------
    InputError
        The summary's device is not a known GPU.
    """
    measured = gpu_spec_for(summary.device)
    if measured is None:
        raise InputError(f"projection: {summary.source or summary.label}: device {summary.device!r} is not a GPU "
                         f"with known specs ({', '.join(GPU_SPECS)})")
    factor = projection_factor(measured, target, bandwidth_weight=bandwidth_weight)
    train = summary.stage_seconds.get("train")
    return replace(
        summary, label=f"{summary.label} -> {target.name} (projected)", device=f"{target.name} (projected)",
        stage_seconds={**summary.stage_seconds, "train": None if train is None else train * factor},
        steps_per_second=None if summary.steps_per_second is None else summary.steps_per_second / factor,
        curve=tuple(CurveSample(step=p.step, seconds=p.seconds * factor, psnr=p.psnr) for p in summary.curve),
        projected=True,
        source=f"projected from {summary.source or summary.label} ({measured.name}) x {factor:.2f} "
               f"(w_bandwidth={bandwidth_weight})",
        extra={**summary.extra, "projection_factor": factor, "measured_gpu": measured.name})


def training_summaries_for(instance_type: str, summaries: list[RunSummary], *,
                           bandwidth_weight: float = BANDWIDTH_WEIGHT) -> list[RunSummary]:
    """The training runs to price on ``instance_type``: per scene and preset, a run measured on its GPU, else a projection.

    For each (scene, preset) that has a run measured on a known GPU: a run measured on the
    instance's GPU wins (so a real g4dn/g5 record replaces the projection with no code change);
    otherwise the first run measured on another GPU is projected. CPU runs are never projected.

    Raises
    ------
    InputError
        Unknown instance, or no summary measured on a GPU.
    """
    price = PRICES.get(instance_type)
    if price is None or price.gpu is None:
        raise InputError(f"cost: {instance_type!r} is not a priced GPU instance ({', '.join(TRAINING_INSTANCES)})")
    target = GPU_SPECS[price.gpu]
    groups: dict[tuple[str, str], list[RunSummary]] = {}
    for s in summaries:
        if not s.projected and gpu_spec_for(s.device) is not None:
            groups.setdefault((s.scene, s.preset), []).append(s)
    if not groups:
        raise InputError(f"cost: no GPU run among {[s.label for s in summaries]} to project onto {target.name}")
    chosen = []
    for runs in groups.values():
        on_target = [s for s in runs if gpu_spec_for(s.device) == target]
        chosen.append(on_target[0] if on_target else project_summary(runs[0], target, bandwidth_weight=bandwidth_weight))
    return chosen


@dataclass(frozen=True, kw_only=True)
class JobCost:
    """Dollars for one job (USD), per stage; None where the stage's time is unknown."""

    training_instance: str
    sfm_usd: float | None
    train_on_demand_usd: float | None
    train_spot_usd: float | None
    compress_usd: float | None
    projected: bool

    @property
    def total_on_demand_usd(self) -> float | None:
        parts = (self.sfm_usd, self.train_on_demand_usd, self.compress_usd)
        return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]

    @property
    def total_spot_usd(self) -> float | None:
        parts = (self.sfm_usd, self.train_spot_usd, self.compress_usd)
        return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"training_instance": self.training_instance, "sfm_usd": self.sfm_usd,
                "train_on_demand_usd": self.train_on_demand_usd, "train_spot_usd": self.train_spot_usd,
                "compress_usd": self.compress_usd, "total_on_demand_usd": self.total_on_demand_usd,
                "total_spot_usd": self.total_spot_usd, "projected": self.projected}


def _usd(seconds: float | None, instance_type: str) -> float | None:
    # Per-second billing: hours x the hourly price.
    return None if seconds is None else seconds / 3600.0 * PRICES[instance_type].usd_per_hour


def job_cost(training: RunSummary, training_instance: str, *, sfm_seconds: float | None = None,
             compress_seconds: float | None = None, spot_savings: float = ASSUMED_SPOT_SAVINGS,
             sfm_instance: str = SFM_INSTANCE, compress_instance: str = COMPRESS_INSTANCE) -> JobCost:
    """The cost of one job: SfM and compression on processing instances, training on ``training_instance``.

    ``sfm_seconds`` / ``compress_seconds`` default to the training summary's own stage times
    (None when it did not time them; the total is then None too).
    """
    if not 0.0 <= spot_savings < 1.0:
        raise InputError(f"cost: spot_savings must be in [0, 1), got {spot_savings}")
    for name in (training_instance, sfm_instance, compress_instance):
        if name not in PRICES:
            raise InputError(f"cost: no price for {name!r}; priced: {', '.join(PRICES)}")
    sfm = sfm_seconds if sfm_seconds is not None else training.stage_seconds.get("sfm")
    comp = compress_seconds if compress_seconds is not None else training.stage_seconds.get("compress")
    train_usd = _usd(training.stage_seconds.get("train"), training_instance)
    return JobCost(training_instance=training_instance, sfm_usd=_usd(sfm, sfm_instance),
                   train_on_demand_usd=train_usd,
                   train_spot_usd=None if train_usd is None else train_usd * (1.0 - spot_savings),
                   compress_usd=_usd(comp, compress_instance), projected=training.projected)
