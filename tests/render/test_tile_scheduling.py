"""Threads take tiles from a shared counter; the result must not depend on how many there are."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
numba = pytest.importorskip("numba")

from splatkit import render  # noqa: E402
from splatkit.render import _threading  # noqa: E402
from splatkit.render._tile_kernels import compiled_kernels, fetch_add_first  # noqa: E402
from tests.render.scenes import random_scene  # noqa: E402

DIFF_KEYS = ("means", "quats", "scales", "opacities", "colors")


def test_fetch_add_first_counts_up_in_python_and_numba():
    counter = np.zeros(1, dtype=np.int64)
    assert [fetch_add_first(counter) for _ in range(3)] == [0, 1, 2]
    compiled_kernels()  # binds the intrinsic
    from splatkit.render._atomics import fetch_add_first_intrinsic

    atomic = fetch_add_first_intrinsic()

    @numba.njit(parallel=True)
    def take_all(n_workers, n, counter, taken):
        for _worker in numba.prange(n_workers):
            while True:
                i = atomic(counter)
                if i >= n:
                    break
                taken[i] += 1

    counter[0] = 0
    taken = np.zeros(1000, dtype=np.int64)
    take_all(4, 1000, counter, taken)
    assert (taken == 1).all()  # every item taken exactly once
    assert counter[0] == 1000 + 4  # each worker's last, failed take


def _render_and_grads(scene: dict, dtype: torch.dtype) -> tuple[np.ndarray, dict]:
    inputs = {k: scene[k].to(dtype).clone().requires_grad_(True) for k in DIFF_KEYS}
    rgb, alpha, _ = render.rasterize(
        inputs["means"], inputs["quats"], inputs["scales"], inputs["opacities"], inputs["colors"],
        scene["viewmat"].to(dtype), scene["K"].to(dtype), 70, 54)
    weights = torch.linspace(-1, 1, rgb.numel(), dtype=dtype).reshape(rgb.shape)
    ((rgb * weights).sum() + alpha.sum()).backward()
    image = torch.cat([rgb, alpha], dim=-1).detach().numpy()
    return image, {k: v.grad.numpy() for k, v in inputs.items()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_images_and_gradients_do_not_depend_on_the_threads(monkeypatch, dtype):
    """Each tile is composited by one thread whatever the order they take them: bit-identical."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    monkeypatch.setattr(_threading, "SERIAL_BELOW", 0)  # threads even for this small scene
    scene = random_scene(60, seed=41, width=70, height=54, sh_degree=None,
                         opacity_range=(0.05, 0.9), scale_range=(0.05, 0.6), spread=1.5)
    previous = numba.get_num_threads()
    results = []
    try:
        for n_threads in (1, 2):
            numba.set_num_threads(n_threads)
            results.append(_render_and_grads(scene, dtype))
    finally:
        numba.set_num_threads(previous)
    (image1, grads1), (image2, grads2) = results
    assert image1[..., 3].max() > 0.5  # the scene covers the image
    np.testing.assert_array_equal(image2, image1)
    for k in DIFF_KEYS:
        np.testing.assert_array_equal(grads2[k], grads1[k])
