"""The gsplat training backend's device checks, exercised without a GPU by faking torch.cuda."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from splatkit.errors import BackendUnavailableError  # noqa: E402
from splatkit import device  # noqa: E402
from splatkit.train import backends  # noqa: E402
from splatkit.train.backends import CpuTrainer, GsplatTrainer  # noqa: E402


def _fake_gpu(monkeypatch, name: str, capability: tuple[int, int]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)


def test_gsplat_trainer_refuses_compute_capability_below_7_and_suggests_cpu(monkeypatch) -> None:
    _fake_gpu(monkeypatch, "Tesla P100", (6, 1))
    with pytest.raises(BackendUnavailableError, match=r"Tesla P100 has compute capability 6\.1") as err:
        GsplatTrainer()._device()
    assert ">= 7.0" in str(err.value) and "--backend cpu" in str(err.value)
    assert (err.value.kind, err.value.name) == ("train", "gsplat")


def test_gsplat_trainer_accepts_compute_capability_7(monkeypatch) -> None:
    _fake_gpu(monkeypatch, "Tesla V100", (7, 0))
    assert GsplatTrainer()._device() == "cuda"


def test_gsplat_trainer_without_cuda_says_so(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="no CUDA device.*--backend cpu"):
        GsplatTrainer()._device()


def test_gsplat_is_the_preferred_default_and_cpu_the_fallback() -> None:
    assert GsplatTrainer.default_rank > CpuTrainer.default_rank > 0


def test_gsplat_unusable_reason_adds_the_cuda_check_to_the_cheap_one(monkeypatch) -> None:
    monkeypatch.setattr(GsplatTrainer, "unavailable_reason", classmethod(lambda cls: "no driver"))
    assert GsplatTrainer.unusable_reason() == "no driver"
    monkeypatch.setattr(GsplatTrainer, "unavailable_reason", classmethod(lambda cls: None))
    _fake_gpu(monkeypatch, "Tesla P100", (6, 1))
    assert GsplatTrainer.unusable_reason() == device.cuda_problem()
    assert "Tesla P100 has compute capability 6.1" in GsplatTrainer.unusable_reason()
    _fake_gpu(monkeypatch, "Tesla T4", (7, 5))
    assert GsplatTrainer.unusable_reason() is None


def test_gsplat_unavailable_reason_asks_only_for_the_driver(monkeypatch) -> None:
    # The cheap check never asks torch: only for the packages and splatkit.device's driver file.
    pytest.importorskip("gsplat")
    monkeypatch.setattr(backends, "nvidia_driver_present", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: pytest.fail("unavailable_reason asked torch"))
    reason = GsplatTrainer.unavailable_reason()
    assert reason is not None and "cpu" in reason
