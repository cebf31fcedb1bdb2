"""A broken gsplat CUDA extension is reported as an unavailable backend, without needing a GPU.

gsplat 1.5.3 JIT-builds its extension on the first rasterization, so a failed build (or a build
without this GPU's architecture) surfaces there as a RuntimeError; these tests fake that call.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
gsplat = pytest.importorskip("gsplat")

from splatkit import render  # noqa: E402
from splatkit.errors import BackendUnavailableError  # noqa: E402
from splatkit.render import gsplat_backend  # noqa: E402
from tests.render.scenes import random_scene  # noqa: E402


def _rasterize_with_gsplat_raising(monkeypatch, error: Exception):
    def broken(*args, **kwargs):
        raise error

    # Pretend a capable GPU is present so the call reaches gsplat.rasterization.
    monkeypatch.setattr(gsplat_backend, "gsplat_unavailable_reason", lambda: None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 9))
    monkeypatch.setattr(gsplat, "rasterization", broken)
    s = random_scene(5, seed=0, sh_degree=None, dtype=torch.float32)
    return render.rasterize(s["means"], s["quats"], s["scales"], s["opacities"], s["colors"], s["viewmat"],
                            s["K"], s["width"], s["height"], sh_degree=None, backend="gsplat")


@pytest.mark.parametrize(("message", "why"), [
    ("Error building extension 'gsplat_cuda': [1/12] /usr/local/cuda/bin/nvcc ... exit status 1",
     "building gsplat's CUDA extension failed"),
    ("Ninja is required to load C++ extensions (pip install ninja to get it)", "building gsplat's CUDA"),
    ("CUDA_HOME environment variable is not set. Please set it to your CUDA install root.", "nvcc"),
    ("CUDA error: no kernel image is available for execution on the device\nCUDA kernel errors might be ...",
     r"compute capability 8\.9 is not in the TORCH_CUDA_ARCH_LIST"),
])
def test_failed_extension_build_or_missing_arch_is_backend_unavailable(monkeypatch, message, why) -> None:
    with pytest.raises(BackendUnavailableError, match=why) as err:
        _rasterize_with_gsplat_raising(monkeypatch, RuntimeError(message))
    text = str(err.value)
    assert "docs/gpu.md" in text and "backend='cpu'" in text and "no GPU" in text
    assert message.splitlines()[0] in text  # the original cause, first line only
    assert isinstance(err.value.__cause__, RuntimeError)
    assert (err.value.kind, err.value.name) == ("render", "gsplat")


def test_unrelated_runtime_error_from_gsplat_is_not_swallowed(monkeypatch) -> None:
    error = RuntimeError("The size of tensor a (5) must match the size of tensor b (4) at dimension 0")
    with pytest.raises(RuntimeError) as err:
        _rasterize_with_gsplat_raising(monkeypatch, error)
    assert err.value is error
