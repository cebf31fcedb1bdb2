"""The training loss ``(1 - l) L1 + l (1 - SSIM)`` on CPU, value and gradient in one numba pass.

What :func:`splatkit.train.step.photometric_loss` runs for CPU tensors (issue 13, item 3). The
composition it replaces (torch's L1, the numba SSIM of :mod:`splatkit.train.ssim`, autograd
between them) made about 15 full-image passes per step: two ``[H, W, 3] -> [3, H, W]`` copies, the
L1's ``sub``/``abs``/``mean`` and their backward, four SSIM parallel regions and the sum of the
two gradients. Each pass over 570K floats is a parallel region of torch or numba, and on a loaded
2-core machine a parallel region can wait a scheduler time slice for its second thread.

Here one parallel region computes the loss and its gradient with respect to the render: each
thread takes one band of rows and streams down it, keeping only 11-row ring buffers (so the
working set stays in cache):

1. the horizontal blur of the five moment maps ``a, b, a^2, b^2, ab`` of a row;
2. once the 11 rows around a row are blurred, the vertical blur, the SSIM of that row and its
   derivatives with respect to ``mu_a``, ``E[a^2]`` and ``E[ab]`` (as :mod:`splatkit.train.ssim`);
3. the horizontal blur of the three derivative rows;
4. five rows behind, the vertical blur of those and the gradient of the row:
   ``(1 - l)/n sign(a - b) - l/n (blur(d0) + 2 a blur(d1) + b blur(d2))`` (the zero-padded
   Gaussian blur is its own adjoint).

A band starts 10 rows early and ends 10 rows late (the blurs' reach), about 5 % more blur work at
two bands of 189 rows, for one parallel region instead of a dozen. Images are read in their
``[H, W, 3]`` layout, a row being ``3 W`` interleaved values whose horizontal neighbours are 3
apart, so every inner loop runs over contiguous memory and vectorises. The gradient is computed
in the forward (a training step always needs it) and handed to autograd in the backward.

The blurs add in the same order as :mod:`splatkit.train.ssim`'s kernels, so the SSIM map, its
derivatives and the gradient are theirs bit for bit (at the benchmark's 504x378, float32); the
value differs from the composition's by float rounding (its sums are float64 here)
(``tests/train/test_photometric.py``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["fused_loss_applies", "fused_photometric_loss"]

_C1 = 0.01**2  # (K1 * L)^2 with L = 1 (images in [0, 1]), Wang et al. 2004; as splatkit.train.ssim
_C2 = 0.03**2
_WINDOW = 11   # the 3DGS SSIM window: 11 taps, sigma 1.5
_SIGMA = 1.5


def fused_loss_applies(rgb: torch.Tensor, image: torch.Tensor) -> bool:
    """Whether :func:`fused_photometric_loss` can compute the loss of these two images.

    Both ``[H, W, 3]`` CPU tensors of one floating dtype, the photo constant (no gradient), numba
    installed. Elsewhere (CUDA) the loss is torch's composition.
    """
    import importlib.util

    return (rgb.device.type == "cpu" and image.device.type == "cpu" and not image.requires_grad
            and rgb.dim() == 3 and rgb.shape[-1] == 3 and rgb.shape == image.shape
            and rgb.dtype == image.dtype and rgb.dtype.is_floating_point
            and importlib.util.find_spec("numba") is not None)


def fused_photometric_loss(rgb: torch.Tensor, image: torch.Tensor, ssim_lambda: float) -> torch.Tensor:
    """``(1 - l) mean|rgb - image| + l (1 - SSIM(rgb, image))``, differentiable in ``rgb``.

    Parameters
    ----------
    rgb : torch.Tensor [H, W, 3]
        The render (CPU; float32 or float64).
    image : torch.Tensor [H, W, 3]
        The photo, same dtype, no gradient.
    ssim_lambda : float
        ``l``, the weight of the D-SSIM term.

    Returns
    -------
    torch.Tensor
        Scalar loss, in ``rgb``'s dtype. Its gradient is computed here when ``rgb`` requires one
        (and grad mode is on) and returned by the backward, scaled by the incoming gradient.
    """
    import numba
    import torch

    kernel = _loss_kernel()
    h, w, _ = rgb.shape
    a = rgb.detach().contiguous().numpy().reshape(h, w * 3)
    b = image.detach().contiguous().numpy().reshape(h, w * 3)
    dtype = a.dtype
    n = a.size
    want_grad = bool(rgb.requires_grad and torch.is_grad_enabled())
    weights = _window(dtype.str)
    # Scalars as arrays of the image dtype: Python floats would promote float32 math to float64.
    consts = np.array([_C1, _C2, 2.0, (1.0 - ssim_lambda) / n, -ssim_lambda / n, 1.0], dtype=dtype)
    n_bands = max(1, min(numba.get_num_threads(), h))
    sums = np.zeros((n_bands, 2), np.float64)
    grad = np.empty_like(a) if want_grad else np.empty((0, 0), dtype)
    kernel(a, b, weights, consts, n_bands, want_grad, sums, grad)
    ssim_mean = float(sums[:, 0].sum()) / n
    l1_mean = float(sums[:, 1].sum()) / n
    value = (1.0 - ssim_lambda) * l1_mean + ssim_lambda * (1.0 - ssim_mean)
    grad_t = torch.from_numpy(grad).reshape(h, w, 3) if want_grad else None

    class _FusedLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return torch.tensor(value, dtype=inp.dtype)

        @staticmethod
        def backward(ctx: Any, grad_out: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            scale = float(grad_out)
            # loss.backward() passes 1: the precomputed gradient as it is, no extra image pass.
            return grad_t if scale == 1.0 else grad_t * scale  # type: ignore[operator]

    return _FusedLoss.apply(rgb)


@functools.lru_cache(maxsize=4)
def _window(dtype_str: str) -> np.ndarray:
    """The normalised 1D Gaussian window (computed in float64, then cast, as splatkit.train.ssim)."""
    x = np.arange(_WINDOW, dtype=np.float64) - (_WINDOW - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * _SIGMA**2))
    return (g / g.sum()).astype(np.dtype(dtype_str))


prange = range  # rebound to numba.prange by _loss_kernel()


def _hblur(src, w, dst):  # pragma: no cover
    """``dst[j] = sum_t src[j + 3 t] w[t]`` over 11 taps: a row of interleaved RGB blurred along x.

    One expression per output, added left to right (the order of :mod:`splatkit.train.ssim`), so
    LLVM keeps the sum in registers and vectorises over ``j`` (a loop over ``t`` outside the one
    over ``j`` loaded and stored ``dst`` 11 times).
    """
    w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10 = w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10]
    for j in range(dst.shape[0]):
        dst[j] = (src[j] * w0 + src[j + 3] * w1 + src[j + 6] * w2 + src[j + 9] * w3 + src[j + 12] * w4
                  + src[j + 15] * w5 + src[j + 18] * w6 + src[j + 21] * w7 + src[j + 24] * w8
                  + src[j + 27] * w9 + src[j + 30] * w10)


def _vblur(ring, slots, w, dst):  # pragma: no cover
    """``dst[j] = sum_t ring[slots[t], j] w[t]`` over 11 taps: rows blurred along y.

    A row outside the image is the ring's zero row: adding its ``+0`` leaves the sum as skipping
    it would.
    """
    r0, r1, r2, r3 = ring[slots[0]], ring[slots[1]], ring[slots[2]], ring[slots[3]]
    r4, r5, r6, r7 = ring[slots[4]], ring[slots[5]], ring[slots[6]], ring[slots[7]]
    r8, r9, r10 = ring[slots[8]], ring[slots[9]], ring[slots[10]]
    w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10 = w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10]
    for j in range(dst.shape[0]):
        dst[j] = (r0[j] * w0 + r1[j] * w1 + r2[j] * w2 + r3[j] * w3 + r4[j] * w4 + r5[j] * w5 + r6[j] * w6
                  + r7[j] * w7 + r8[j] * w8 + r9[j] * w9 + r10[j] * w10)


def _ssim_row(acc, c1, c2, two, res, o):  # pragma: no cover
    """SSIM of a row from its blurred moments ``acc [5, n]`` (``mu_a, mu_b, E[a^2], E[b^2], E[ab]``).

    Writes ``res[0, o + j]`` = SSIM and ``res[1..3, o + j]`` = its derivatives by ``mu_a``,
    ``E[a^2]`` and ``E[ab]`` (formulas as :mod:`splatkit.train.ssim`). Two arrays, one read and one
    written, so LLVM's alias checks stay few enough for it to vectorise the loop.
    """
    for j in range(acc.shape[1]):
        mu1 = acc[0, j]
        mu2 = acc[1, j]
        s1v = acc[2, j] - mu1 * mu1
        s2v = acc[3, j] - mu2 * mu2
        s12 = acc[4, j] - mu1 * mu2
        a1 = two * mu1 * mu2 + c1
        a2 = two * s12 + c2
        b1 = mu1 * mu1 + mu2 * mu2 + c1
        b2 = s1v + s2v + c2
        den = b1 * b2
        sv = a1 * a2 / den
        res[0, o + j] = sv
        res[1, o + j] = (two * mu2 * (a2 - a1) - two * mu1 * sv * (b2 - b1)) / den
        res[2, o + j] = -sv / b2
        res[3, o + j] = two * a1 / den


def _row_sum(x):  # pragma: no cover
    """``sum(x)`` in float64; compiled with reassociation, so the sum is vectorised (rounding only)."""
    total = 0.0
    for j in range(x.shape[0]):
        total += x[j]
    return total


def _row_abs_diff_sum(x, y):  # pragma: no cover
    """``sum |x - y|`` in float64, vectorised as :func:`_row_sum`."""
    total = 0.0
    for j in range(x.shape[0]):
        total += abs(x[j] - y[j])
    return total


def _grad_row(a, b, acc, l1_scale, ssim_scale, one, out):  # pragma: no cover
    """``out = l1_scale sign(a - b) + ssim_scale (acc0 + 2 a acc1 + b acc2)`` along a row.

    ``acc [3, n]``: the blurred SSIM derivatives; ``sign`` is 0 where ``a == b``, as ``torch.sgn``.
    """
    zero = one - one
    for j in range(out.shape[0]):
        va = a[j]
        vb = b[j]
        diff = va - vb
        sign = one if diff > zero else (-one if diff < zero else zero)
        out[j] = l1_scale * sign + ssim_scale * (acc[0, j] + (va + va) * acc[1, j] + vb * acc[2, j])


def _ring_slots(y, h, k, slots):  # pragma: no cover
    """The ring slots of rows ``y - k//2 .. y + k//2``; rows outside ``[0, h)`` -> the zero row ``k``."""
    pad = k // 2
    for t in range(k):
        yy = y + t - pad
        slots[t] = yy % k if 0 <= yy < h else k


def _fused_loss(a, b, weights, consts, n_bands, want_grad, sums, grad):  # pragma: no cover
    """Loss sums per band (``sums[band] = (sum SSIM, sum |a - b|)``) and the gradient ``grad``.

    ``a``, ``b``: ``[H, 3 W]`` rows of interleaved RGB; ``weights``: the 11-tap window. See the
    module docstring for the stages.
    """
    h, w3 = a.shape
    k = weights.shape[0]
    pad = k // 2
    c1 = consts[0]
    c2 = consts[1]
    two = consts[2]
    l1_scale = consts[3]
    ssim_scale = consts[4]
    one = consts[5]
    band_rows = (h + n_bands - 1) // n_bands
    for band in prange(n_bands):
        y0 = band * band_rows
        y1 = min(h, y0 + band_rows)
        halo = pad if want_grad else 0
        s0 = max(0, y0 - halo)            # rows whose SSIM (and derivatives) this band computes
        s1 = min(h, y1 + halo)
        h0 = max(0, s0 - pad)             # rows whose moments it blurs horizontally
        h1 = min(h, s1 + pad)
        padded = np.zeros((5, w3 + 6 * pad), dtype=a.dtype)   # one row, zero-padded by pad pixels
        moments = np.zeros((5, k + 1, w3), dtype=a.dtype)       # ring of blurred rows + a zero row
        derivs = np.zeros((3, k + 1, w3), dtype=a.dtype)
        acc = np.empty((5, w3), dtype=a.dtype)
        res = np.zeros((4, w3 + 6 * pad), dtype=a.dtype)       # SSIM and derivative rows, zero margins
        slots = np.empty(k, dtype=np.int64)
        ssim_sum = 0.0
        l1_sum = 0.0
        o = 3 * pad
        for r in range(h0, y1 + 2 * pad):
            if r < h1:
                # 1. Horizontal blur of the five moments of row r.
                for j in range(w3):
                    va = a[r, j]
                    vb = b[r, j]
                    padded[0, o + j] = va
                    padded[1, o + j] = vb
                    padded[2, o + j] = va * va
                    padded[3, o + j] = vb * vb
                    padded[4, o + j] = va * vb
                for m in range(5):
                    _hblur(padded[m], weights, moments[m, r % k])
            s = r - pad
            if s0 <= s < s1:
                # 2. Vertical blur around row s, its SSIM and derivatives.
                _ring_slots(s, h, k, slots)
                for m in range(5):
                    _vblur(moments[m], slots, weights, acc[m])
                _ssim_row(acc, c1, c2, two, res, o)
                if y0 <= s < y1:
                    ssim_sum += _row_sum(res[0, o:o + w3])
                    l1_sum += _row_abs_diff_sum(a[s], b[s])
                if want_grad:
                    # 3. Horizontal blur of the derivative rows.
                    for m in range(3):
                        _hblur(res[m + 1], weights, derivs[m, s % k])
            y = s - pad
            if want_grad and y0 <= y < y1:
                # 4. Vertical blur of the derivatives around row y, and the gradient of row y.
                _ring_slots(y, h, k, slots)
                for m in range(3):
                    _vblur(derivs[m], slots, weights, acc[m])
                _grad_row(a[y], b[y], acc, l1_scale, ssim_scale, one, grad[y])
        sums[band, 0] = ssim_sum
        sums[band, 1] = l1_sum


@functools.lru_cache(maxsize=1)
def _loss_kernel() -> Any:
    """Compile (or load from numba's cache) :func:`_fused_loss` and the row helpers it calls."""
    import numba

    module = globals()
    module["prange"] = numba.prange
    # error_model="numpy": a float division without Python's zero check, which kept LLVM from
    # vectorising the SSIM row (23 -> 3 us a row); the SSIM denominators are >= C1 C2 > 0.
    jit = functools.partial(numba.njit, cache=True, nogil=True, error_model="numpy")
    for name in ("_hblur", "_vblur", "_ssim_row", "_grad_row", "_ring_slots"):
        module[name] = jit()(module[name])
    for name in ("_row_sum", "_row_abs_diff_sum"):
        module[name] = jit(fastmath={"reassoc"})(module[name])
    return jit(parallel=True)(_fused_loss)
