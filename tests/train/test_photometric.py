"""The fused CPU training loss equals torch's composition of L1 and SSIM in value and gradient."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
numba = pytest.importorskip("numba")

from splatkit.train.photometric import fused_loss_applies, fused_photometric_loss  # noqa: E402
from splatkit.train.ssim import ssim  # noqa: E402
from splatkit.train.step import photometric_loss  # noqa: E402


def composed_loss(rgb: torch.Tensor, image: torch.Tensor, ssim_lambda: float, *, torch_ssim: bool) -> torch.Tensor:
    """The loss as the step computed it before the fused pass: torch's L1 and ``ssim()``.

    ``torch_ssim``: a target that requires a gradient sends ``ssim()`` down its torch path (the
    CUDA one) instead of its numba kernels.
    """
    target = image.clone().requires_grad_() if torch_ssim else image
    l1 = torch.abs(rgb - image).mean()
    return (1.0 - ssim_lambda) * l1 + ssim_lambda * (1.0 - ssim(rgb, target))


def images(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    photo = torch.rand(shape, generator=g, dtype=dtype)
    render = 0.6 * photo + 0.4 * torch.rand(shape, generator=g, dtype=dtype)
    render[0, 0] = photo[0, 0]  # some pixels equal the photo: L1's gradient is 0 there (torch.sgn)
    return render.requires_grad_(), photo


@pytest.mark.parametrize("torch_ssim", [False, True], ids=["numba-ssim", "torch-ssim"])
@pytest.mark.parametrize(("shape", "dtype"), [
    ((378, 504, 3), torch.float32),   # the equal-work benchmark's size
    ((23, 31, 3), torch.float64),
    ((9, 13, 3), torch.float32),      # smaller than the 11-pixel window
    ((1, 3, 3), torch.float64),
    ((40, 1, 3), torch.float32),
])
@pytest.mark.parametrize("ssim_lambda", [0.2, 0.0, 1.0])
def test_fused_loss_equals_the_composition(shape: tuple[int, ...], dtype: torch.dtype, ssim_lambda: float,
                                           torch_ssim: bool) -> None:
    render, photo = images(shape, dtype)
    fused = fused_photometric_loss(render, photo, ssim_lambda)
    (fused_grad,) = torch.autograd.grad(fused, render)
    reference = composed_loss(render, photo, ssim_lambda, torch_ssim=torch_ssim)
    (reference_grad,) = torch.autograd.grad(reference, render)

    assert fused.dtype == dtype and fused.shape == ()
    rel = 1e-5 if dtype == torch.float32 else 1e-12
    assert fused.item() == pytest.approx(reference.item(), rel=rel, abs=1e-12)
    scale = reference_grad.abs().max().item()
    torch.testing.assert_close(fused_grad, reference_grad, rtol=rel, atol=rel * scale)


def test_fused_loss_is_bitwise_the_numba_ssim_composition_gradient_on_the_benchmark_size() -> None:
    # Same blurs in the same order as train/ssim.py's kernels: the gradient does not move by a bit.
    render, photo = images((378, 504, 3), torch.float32, seed=3)
    (fused_grad,) = torch.autograd.grad(fused_photometric_loss(render, photo, 0.2), render)
    (reference_grad,) = torch.autograd.grad(composed_loss(render, photo, 0.2, torch_ssim=False), render)
    assert torch.equal(fused_grad, reference_grad)


def test_fused_loss_gradient_matches_finite_differences() -> None:
    render, photo = images((7, 12, 3), torch.float64, seed=1)
    render = (render.detach() + 1e-3).requires_grad_()  # keep |render - photo| away from L1's kink
    assert torch.autograd.gradcheck(lambda t: fused_photometric_loss(t, photo, 0.3), (render,))


def test_an_incoming_gradient_scales_the_fused_gradient() -> None:
    render, photo = images((20, 30, 3), torch.float64, seed=2)
    (once,) = torch.autograd.grad(fused_photometric_loss(render, photo, 0.2), render)
    (thrice,) = torch.autograd.grad(3.0 * fused_photometric_loss(render, photo, 0.2), render)
    torch.testing.assert_close(thrice, 3.0 * once, rtol=1e-14, atol=0)


def test_without_grad_the_value_is_the_same() -> None:
    render, photo = images((50, 60, 3), torch.float32, seed=4)
    with_grad = fused_photometric_loss(render, photo, 0.2)
    with torch.no_grad():
        without = fused_photometric_loss(render, photo, 0.2)
    assert without.item() == pytest.approx(with_grad.item(), rel=1e-6)
    assert not without.requires_grad


@pytest.mark.parametrize("threads", [1, 2])
def test_the_row_bands_do_not_change_the_gradient(threads: int) -> None:
    # One band per thread, each starting and ending 10 rows beyond its rows: the seams must not show.
    render, photo = images((61, 17, 3), torch.float32, seed=5)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        (one_band,) = torch.autograd.grad(fused_photometric_loss(render, photo, 0.2), render)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        (bands,) = torch.autograd.grad(fused_photometric_loss(render, photo, 0.2), render)
    finally:
        numba.set_num_threads(previous)
    assert torch.equal(one_band, bands)


def test_which_inputs_the_fused_loss_takes() -> None:
    render, photo = images((8, 8, 3), torch.float32)
    assert fused_loss_applies(render, photo)
    assert not fused_loss_applies(render, photo.clone().requires_grad_())   # a target with a gradient
    assert not fused_loss_applies(render, photo.double())                   # mixed dtypes
    assert not fused_loss_applies(render[None], photo[None])                # a batch
    assert not fused_loss_applies(render[..., :2], photo[..., :2])          # not RGB


def test_the_step_loss_takes_the_fused_path_on_cpu_and_equals_the_composition() -> None:
    render, photo = images((30, 40, 3), torch.float32, seed=6)
    loss = photometric_loss(render, photo, 0.2)
    assert "FusedLoss" in type(loss.grad_fn).__name__
    assert loss.item() == pytest.approx(composed_loss(render, photo, 0.2, torch_ssim=True).item(), rel=1e-5)


@pytest.mark.cuda
def test_the_cuda_loss_equals_the_fused_cpu_loss() -> None:
    render, photo = images((64, 80, 3), torch.float32, seed=7)
    cpu = fused_photometric_loss(render, photo, 0.2)
    (cpu_grad,) = torch.autograd.grad(cpu, render)
    render_gpu = render.detach().cuda().requires_grad_()
    gpu = photometric_loss(render_gpu, photo.cuda(), 0.2)
    (gpu_grad,) = torch.autograd.grad(gpu, render_gpu)
    assert gpu.item() == pytest.approx(cpu.item(), rel=1e-5)
    torch.testing.assert_close(gpu_grad.cpu(), cpu_grad, rtol=1e-4, atol=1e-9)
