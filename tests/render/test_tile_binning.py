"""Tile binning keeps only the tiles a Gaussian's alpha >= 1/255 ellipse touches, and the row
entry of the compositing kernels steps exp(-sigma) from row to row: neither may change a render."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from splatkit import render  # noqa: E402
from splatkit.render import _tile_kernels  # noqa: E402
from splatkit.render.tile_compositor import TILE_SIZE, bin_gaussians_to_tiles  # noqa: E402
from tests.render.dense_reference import render_dense  # noqa: E402
from tests.render.scenes import random_scene  # noqa: E402

DIFF_KEYS = ("means", "quats", "scales", "opacities", "colors")
WIDTH, HEIGHT = 96, 80


def _needle_scene(seed: int, dtype: torch.dtype = torch.float32) -> dict:
    """Large, elongated, rotated Gaussians: their boxes hold many tiles the ellipse misses."""
    scene = random_scene(30, seed=seed, width=WIDTH, height=HEIGHT, sh_degree=None, dtype=dtype,
                         opacity_range=(0.02, 0.9), scale_range=(0.05, 0.9), spread=1.5)
    scene["scales"][:, 0] *= 0.05  # needles
    return scene


def _render(scene: dict, dtype: torch.dtype, **kwargs) -> tuple[np.ndarray, dict, dict]:
    inputs = {k: scene[k].to(dtype).clone().requires_grad_(True) for k in DIFF_KEYS}
    rgb, alpha, info = render.rasterize(
        inputs["means"], inputs["quats"], inputs["scales"], inputs["opacities"], inputs["colors"],
        scene["viewmat"].to(dtype), scene["K"].to(dtype), WIDTH, HEIGHT, **kwargs)
    weights = torch.linspace(-1, 1, rgb.numel(), dtype=dtype).reshape(rgb.shape)
    ((rgb * weights).sum() + alpha.sum()).backward()
    image = torch.cat([rgb, alpha], dim=-1).detach().numpy()
    return image, {k: v.grad.numpy() for k, v in inputs.items()}, info


def _bins(info: dict):
    m2 = info["means2d"][0].detach().numpy()
    n = m2.shape[0]
    return bin_gaussians_to_tiles(
        m2, info["conics"][0].detach().numpy(), info["opacities"][0].detach().numpy(),
        info["radii"][0].numpy(), info["depths"][0].detach().numpy(),
        np.zeros(n, dtype=np.int64), 1, WIDTH, HEIGHT,
    )


def _tiles_of(bins) -> dict[int, set[int]]:
    tiles: dict[int, set[int]] = {}
    for tile in range(bins.tile_offsets.shape[0] - 1):
        for k in range(bins.tile_offsets[tile], bins.tile_offsets[tile + 1]):
            tiles.setdefault(int(bins.flatten_ids[k]), set()).add(tile)
    return tiles


@pytest.mark.parametrize("seed", [51, 52])
def test_binned_tiles_hold_every_pixel_the_gaussian_can_reach(seed):
    """Brute force, float64: every pixel centre where alpha >= 1/255 lies in a binned tile of its
    Gaussian; binned tiles are within the box (gsplat's tiles); and the needles' boxes lose
    tiles (the test would pass vacuously otherwise)."""
    scene = _needle_scene(seed, torch.float64)
    _, _, info = _render(scene, torch.float64)
    bins = _bins(info)
    binned = _tiles_of(bins)
    m2 = info["means2d"][0].detach().numpy()
    conics = info["conics"][0].detach().numpy()
    opac = info["opacities"][0].detach().numpy()
    radii = info["radii"][0].numpy()
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    tile_of_pixel = (ys // TILE_SIZE).astype(int) * bins.tile_width + (xs // TILE_SIZE).astype(int)
    n_box = 0
    for g in np.flatnonzero((radii > 0).all(-1)):
        dx, dy = m2[g, 0] - xs, m2[g, 1] - ys
        a, b, c = conics[g]
        sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
        reached = set(tile_of_pixel[opac[g] * np.exp(-sigma) >= 1.0 / 255.0].tolist())
        assert reached <= binned.get(int(g), set()), f"Gaussian {g} lost a tile it reaches"
        tx0 = max(0, math.floor((m2[g, 0] - radii[g, 0]) / TILE_SIZE))
        tx1 = min(bins.tile_width, math.ceil((m2[g, 0] + radii[g, 0]) / TILE_SIZE))
        ty0 = max(0, math.floor((m2[g, 1] - radii[g, 1]) / TILE_SIZE))
        ty1 = min(bins.tile_height, math.ceil((m2[g, 1] + radii[g, 1]) / TILE_SIZE))
        box = {ty * bins.tile_width + tx for ty in range(ty0, ty1) for tx in range(tx0, tx1)}
        assert binned.get(int(g), set()) <= box
        n_box += len(box)
    assert bins.n_isects < 0.9 * n_box
    assert int(info["tiles_per_gauss"].sum()) == bins.n_isects


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dropping_missed_tiles_changes_nothing(monkeypatch, dtype):
    """Bit for bit the render and gradients of whole-box binning (a huge slack keeps every tile
    of the box, as gsplat bins them)."""
    scene = _needle_scene(53, dtype)
    image, grads, info = _render(scene, dtype, absgrad=True)
    monkeypatch.setattr(_tile_kernels, "TILE_SLACK", 1e30)
    box_image, box_grads, box_info = _render(scene, dtype, absgrad=True)
    assert info["n_isects"] < box_info["n_isects"]
    np.testing.assert_array_equal(image, box_image)
    for k in DIFF_KEYS:
        np.testing.assert_array_equal(grads[k], box_grads[k])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scene_name", ["needles", "diagonal"])
def test_backward_from_recorded_row_entries_equals_entering_rows_again(monkeypatch, dtype,
                                                                        scene_name):
    """The backward's two ways into a row (the forward's record, or entering it again when the
    record would be too large) give the same gradients bit for bit; a forward without
    gradients records nothing."""
    from splatkit.render import tile_compositor

    scene = _needle_scene(53, dtype) if scene_name == "needles" else _diagonal_needles(dtype)
    image, grads, _ = _render(scene, dtype, absgrad=True)
    monkeypatch.setattr(tile_compositor, "ROW_RECORD_MAX_BYTES", 0)
    again_image, again_grads, _ = _render(scene, dtype, absgrad=True)
    np.testing.assert_array_equal(image, again_image)
    for k in DIFF_KEYS:
        np.testing.assert_array_equal(grads[k], again_grads[k])


def test_row_records_are_reused_and_a_second_backward_enters_rows_again():
    """A handed-back record serves the next forward (no fresh pages); a record is not taken
    without a backward or past the size cap; a second backward through the same graph (its
    record handed back after the first) gives the same gradients."""
    from splatkit.render import tile_compositor

    pool = tile_compositor.RowRecordPool()
    first = pool.take(10, np.float32, True)
    assert [a.size for a in first] == [10 * TILE_SIZE] * 4
    pool.give_back(first)
    smaller = pool.take(4, np.float32, True)
    assert smaller[1].size == 4 * TILE_SIZE and np.shares_memory(smaller[1], first[1])
    assert pool.take(10, np.float32, True)[1].size == 10 * TILE_SIZE  # the pool is empty now
    assert not np.shares_memory(pool.take(10, np.float64, True)[1], first[1])
    assert pool.take(10, np.float32, False)[0].size == 0
    assert pool.take(10**9, np.float32, True)[0].size == 0

    scene = _needle_scene(53, torch.float32)
    params = {k: scene[k].clone().requires_grad_(True) for k in DIFF_KEYS}
    rgb, alpha, _ = render.rasterize(
        params["means"], params["quats"], params["scales"], params["opacities"], params["colors"],
        scene["viewmat"], scene["K"], WIDTH, HEIGHT)
    weights = torch.linspace(-1, 1, rgb.numel()).reshape(rgb.shape)
    loss = (rgb * weights).sum() + alpha.sum()
    loss.backward(retain_graph=True)
    once = {k: v.grad.clone() for k, v in params.items()}
    for v in params.values():
        v.grad = None
    loss.backward()
    for k, v in params.items():
        torch.testing.assert_close(v.grad, once[k], rtol=0, atol=0)


def _diagonal_needles(dtype: torch.dtype) -> dict:
    """Needles 0.05 px wide along the image diagonals, through pixel centres: every row of each
    holds an inside pixel next to the row above's, and the conic entries are ~190 (the
    step factors exp(+/-190) overflow float32)."""
    scene = random_scene(4, seed=55, width=WIDTH, height=HEIGHT, sh_degree=None, dtype=dtype,
                         opacity_range=(0.5, 0.9))
    f, cx, cy, z = float(scene["K"][0, 0]), WIDTH / 2, HEIGHT / 2, 4.0
    centres = [(30, 30), (60, 40), (45, 60), (70, 20)]
    scene["means"] = torch.tensor(
        [[(j + 0.5 - cx) * z / f, (i + 0.5 - cy) * z / f, z] for j, i in centres], dtype=dtype)
    scene["scales"] = torch.tensor([[12 * z / f, 0.05 * z / f, 0.05 * z / f]] * 4, dtype=dtype)
    half = math.pi / 8  # quaternion of a rotation about z by +/-45 degrees: (cos, 0, 0, sin)
    scene["quats"] = torch.tensor([[math.cos(half), 0, 0, math.sin(half) * sign]
                                   for sign in (1, -1, 1, -1)], dtype=dtype)
    return scene


def test_rows_entered_with_their_own_exp_when_conics_are_large():
    """Past RECURRENCE_LIMIT each row is entered with its own exp: still the dense reference, in
    float32 too, with finite gradients."""
    scene = _diagonal_needles(torch.float64)
    eps2d = 1e-4
    _, _, info = _render(scene, torch.float64, eps2d=eps2d)
    assert float(info["conics"][0].detach()[:, 1].abs().min()) > 2 * _tile_kernels.RECURRENCE_LIMIT
    np_scene = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in scene.items()}
    ref_rgb, ref_alpha = render_dense(
        np_scene["means"], np_scene["quats"], np_scene["scales"], np_scene["opacities"],
        np_scene["colors"], np_scene["viewmat"], np_scene["K"], WIDTH, HEIGHT, eps2d=eps2d,
    )
    assert (ref_alpha > 0.1).sum() > 4 * 25  # four needles, a pixel per row over 25+ rows
    for dtype, atol in ((torch.float64, 1e-9), (torch.float32, 2e-3)):
        image, grads, _ = _render(scene, dtype, eps2d=eps2d)
        np.testing.assert_allclose(image[..., :3], ref_rgb, atol=atol)
        np.testing.assert_allclose(image[..., 3], ref_alpha, atol=atol)
        assert all(np.isfinite(g).all() for g in grads.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depth_order_is_a_stable_argsort(dtype):
    """Ties (many here) keep index order; float32 goes through the packed integer sort, float64
    and non-positive depths through numpy's stable argsort."""
    from splatkit.render.tile_compositor import _depth_order

    rng = np.random.default_rng(7)
    depths = rng.integers(1, 50, size=5000).astype(dtype) * dtype(0.37)
    visible = np.sort(rng.choice(5000, size=3000, replace=False))
    expected = visible[np.argsort(depths[visible], kind="stable")]
    np.testing.assert_array_equal(_depth_order(depths, visible), expected)
    depths[visible[10]] = -1.0  # behind: the fallback path, same order rule
    expected = visible[np.argsort(depths[visible], kind="stable")]
    np.testing.assert_array_equal(_depth_order(depths, visible), expected)


def test_tile_lists_are_front_to_back_and_locality_order_groups_by_first_tile():
    """Each tile's list (``flatten_ids = local_order[local_ids]``) holds the Gaussians binned to
    it sorted by depth, ties by index; ``local_order`` holds every binned Gaussian once, grouped
    by first binned tile in row-major order (index order within a group); and the compositing
    inputs gathered in that order are the rows of the originals."""
    scene = _needle_scene(53, torch.float32)
    _, _, info = _render(scene, torch.float32)
    bins = _bins(info)
    depths = info["depths"][0].detach().numpy()
    binned = _tiles_of(bins)
    visible = np.flatnonzero(bins.tiles_per_gauss > 0)
    assert sorted(binned) == visible.tolist() and visible.size > 5
    for tile in range(bins.tile_offsets.shape[0] - 1):
        ids = bins.flatten_ids[bins.tile_offsets[tile]:bins.tile_offsets[tile + 1]]
        members = np.array(sorted(g for g, tiles in binned.items() if tile in tiles), dtype=int)
        np.testing.assert_array_equal(ids, members[np.argsort(depths[members], kind="stable")])
    first = {g: min(tiles) for g, tiles in binned.items()}
    np.testing.assert_array_equal(bins.local_order, sorted(visible, key=lambda g: (first[g], g)))
    m2 = info["means2d"][0].detach().numpy()
    radii = info["radii"][0].numpy()
    gathered = bins.gather_local(m2, m2[:, [0, 1, 0]], m2[:, [1, 0, 1]], m2[:, 0], radii)
    np.testing.assert_array_equal(gathered[0], m2[bins.local_order])
    np.testing.assert_array_equal(gathered[4], radii[bins.local_order])
