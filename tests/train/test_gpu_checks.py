"""The gsplat training backend's device check, exercised without a GPU by faking torch.cuda."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from splatkit.errors import BackendUnavailableError  # noqa: E402
from splatkit.train.backends import GsplatTrainer  # noqa: E402


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
