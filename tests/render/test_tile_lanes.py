"""The tiles are dealt to the threads in balanced lanes; the result must not depend on the lanes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from splatkit import render  # noqa: E402
from splatkit.render import tile_compositor  # noqa: E402
from splatkit.render.tile_compositor import balanced_tile_order  # noqa: E402
from tests.render.scenes import random_scene  # noqa: E402

DIFF_KEYS = ("means", "quats", "scales", "opacities", "colors")


@pytest.mark.parametrize("n_lanes", [1, 2, 3, 7])
def test_balanced_tile_order_deals_every_tile_once_longest_first(n_lanes):
    counts = np.random.default_rng(n_lanes).integers(0, 500, size=97)
    order, lane_offsets = balanced_tile_order(counts, n_lanes)
    assert order.dtype == np.int64 and lane_offsets.dtype == np.int64
    assert lane_offsets.shape == (n_lanes + 1,) and lane_offsets[0] == 0
    assert lane_offsets[-1] == counts.size
    np.testing.assert_array_equal(np.sort(order), np.arange(counts.size))
    work = [counts[order[a:b]].sum() for a, b in zip(lane_offsets[:-1], lane_offsets[1:])]
    for a, b in zip(lane_offsets[:-1], lane_offsets[1:]):
        assert (np.diff(counts[order[a:b]]) <= 0).all()  # longest first within a lane
    # A snake deal: lanes differ by at most the largest tile.
    assert max(work) - min(work) <= counts.max()


def test_balanced_tile_order_with_no_tiles():
    order, lane_offsets = balanced_tile_order(np.zeros(0, dtype=np.int64), 2)
    assert order.shape == (0,) and lane_offsets.tolist() == [0, 0, 0]


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
def test_images_and_gradients_do_not_depend_on_the_lanes(monkeypatch, dtype):
    """Each tile is composited by one thread whatever the lanes, so results are bit-identical."""
    scene = random_scene(60, seed=41, width=70, height=54, sh_degree=None,
                         opacity_range=(0.05, 0.9), scale_range=(0.05, 0.6), spread=1.5)
    results = []
    for n_lanes in (1, 2, 5):
        monkeypatch.setattr(tile_compositor, "balanced_tile_order",
                            lambda counts, _n, k=n_lanes: balanced_tile_order(counts, k))
        results.append(_render_and_grads(scene, dtype))
    (image0, grads0), *others = results
    assert image0[..., 3].max() > 0.5  # the scene covers the image
    for image, grads in others:
        np.testing.assert_array_equal(image, image0)
        for k in DIFF_KEYS:
            np.testing.assert_array_equal(grads[k], grads0[k])
