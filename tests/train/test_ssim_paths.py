"""The CPU numba SSIM and the torch SSIM (the CUDA path) agree in value and gradient."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from splatkit.train.ssim import ssim  # noqa: E402


@pytest.mark.parametrize(("shape", "window"), [((37, 53, 3), 11), ((2, 16, 24, 3), 11), ((20, 9, 3), 5)])
def test_numba_and_torch_ssim_agree_in_value_and_gradient(shape: tuple[int, ...], window: int) -> None:
    generator = torch.Generator().manual_seed(7)
    target = torch.rand(shape, generator=generator, dtype=torch.float64)
    render = (0.7 * target + 0.3 * torch.rand(shape, generator=generator, dtype=torch.float64)).requires_grad_()

    numba_value = ssim(render, target, window_size=window)            # constant target: the numba kernels
    (numba_grad,) = torch.autograd.grad(numba_value, render)
    torch_target = target.clone().requires_grad_()                     # a target with a gradient: the torch path
    torch_value = ssim(render, torch_target, window_size=window)
    (torch_grad,) = torch.autograd.grad(torch_value, render)

    assert 0.2 < torch_value.item() < 0.99                              # a real comparison, not identical images
    assert numba_value.item() == pytest.approx(torch_value.item(), abs=1e-9)
    torch.testing.assert_close(numba_grad, torch_grad, rtol=1e-6, atol=1e-10)
