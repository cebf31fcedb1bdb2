"""The ray caster: exact hits on terrain, boxes and spheres; filtered texture lookups."""

from __future__ import annotations

import numpy as np
import pytest

from splatkit.demo import DemoConfig, demo_shots
from splatkit.demo.raycast import cast_rays, pixel_rays, render_view
from splatkit.demo.scene import Box, DemoScene, Hills, Sphere
from splatkit.demo.texture import GroundTexture


def _flat_scene(*, boxes: tuple[Box, ...] = (), spheres: tuple[Sphere, ...] = (),
                level0: np.ndarray | None = None) -> DemoScene:
    hills = Hills(centres=np.zeros((1, 2)), amplitudes=np.zeros(1), sigmas=np.ones(1))
    if level0 is None:
        level0 = np.full((16, 16, 3), 128, dtype=np.uint8)
    texture = GroundTexture(levels=(level0,), texel_m=1.0, half_m=level0.shape[0] / 2)
    return DemoScene(hills=hills, boxes=boxes, spheres=spheres, texture=texture, markers=np.zeros((0, 3)))


def _box(centre: tuple[float, float, float], half: tuple[float, float, float], yaw: float) -> Box:
    return Box(centre=np.array(centre), half_size=np.array(half), yaw=yaw, roof_rgb=np.array([1.0, 0.0, 0.0]),
               wall_rgb=np.array([0.0, 1.0, 0.0]), texture_offset=np.zeros((6, 2)))


def test_terrain_hits_lie_on_the_terrain_for_every_ray_of_the_flight(demo_scene: DemoScene) -> None:
    config = DemoConfig()
    k = config.intrinsics
    for shot in demo_shots(config)[::5]:
        dirs = pixel_rays(shot.rotation, k.fx, k.fy, k.cx, k.cy, k.width, k.height, 1).reshape(-1, 3)
        hits = cast_rays(demo_scene, shot.centre, dirs)
        ground = hits.texture_weight == 1.0
        assert ground.mean() > 0.5 and not hits.is_sky.any()
        p = shot.centre + hits.t[ground, None] * dirs[ground]
        h = demo_scene.hills.height(p[:, 0], p[:, 1])[0]
        assert np.abs(p[:, 2] - h).max() < 1e-6


def test_hills_gradient_matches_finite_differences(demo_scene: DemoScene) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-60, 60, size=(2, 50))
    _, gx, gy = demo_scene.hills.height(x, y)
    eps = 1e-5
    fx = (demo_scene.hills.height(x + eps, y)[0] - demo_scene.hills.height(x - eps, y)[0]) / (2 * eps)
    fy = (demo_scene.hills.height(x, y + eps)[0] - demo_scene.hills.height(x, y - eps)[0]) / (2 * eps)
    np.testing.assert_allclose(gx, fx, atol=1e-7)
    np.testing.assert_allclose(gy, fy, atol=1e-7)
    assert np.hypot(gx, gy).max() < 0.3  # gentle: every ray of the flight is steeper than the ground


def test_ray_down_onto_a_rotated_box_hits_its_roof() -> None:
    box = _box((5.0, -3.0, 2.0), (4.0, 1.0, 2.0), yaw=np.radians(30))
    scene = _flat_scene(boxes=(box,))
    origin = np.array([5.0, -3.0, 50.0])
    # Straight down at the centre, and at a point inside the rotated footprint but outside the
    # unrotated one (3 m along the box's own x axis).
    along = 3.0 * np.array([np.cos(np.radians(30)), np.sin(np.radians(30))])
    targets = np.array([[5.0, -3.0, 0.0], [5.0 + along[0], -3.0 + along[1], 0.0]])
    dirs = targets - origin
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    hits = cast_rays(scene, origin, dirs)
    z = origin[2] + hits.t * dirs[:, 2]
    np.testing.assert_allclose(z, 4.0)
    np.testing.assert_allclose(hits.normal, [[0, 0, 1], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(hits.base_rgb, [[1, 0, 0], [1, 0, 0]])  # roof colour


def test_horizontal_ray_hits_the_facing_wall_of_a_rotated_box() -> None:
    yaw = np.radians(90)  # the box's +x face now faces north
    scene = _flat_scene(boxes=(_box((0.0, 0.0, 5.0), (2.0, 3.0, 5.0), yaw),))
    origin = np.array([0.0, 20.0, 5.0])
    hits = cast_rays(scene, origin, np.array([[0.0, -1.0, -1e-9]]))
    assert hits.t[0] == pytest.approx(18.0)
    np.testing.assert_allclose(hits.normal[0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(hits.base_rgb[0], [0, 1, 0])  # wall colour


def test_nearest_object_wins_and_sphere_distance_is_exact() -> None:
    sphere = Sphere(centre=np.array([0.0, 0.0, 10.0]), radius=2.0, rgb=np.array([0.0, 0.0, 1.0]),
                    texture_offset=np.zeros(2))
    behind = _box((0.0, 0.0, 2.0), (3.0, 3.0, 2.0), 0.0)
    scene = _flat_scene(boxes=(behind,), spheres=(sphere,))
    origin = np.array([0.0, 0.0, 40.0])
    dirs = np.array([[0.0, 0.0, -1.0], [np.sin(0.2), 0.0, -np.cos(0.2)]])
    hits = cast_rays(scene, origin, dirs)
    assert hits.t[0] == pytest.approx(28.0)  # sphere top at z = 12
    np.testing.assert_allclose(hits.normal[0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(hits.base_rgb[0], [0, 0, 1])
    assert hits.t[1] > 30.0  # this ray misses the sphere and lands on the box or ground


def test_mip_lookup_filters_a_checkerboard_to_its_mean() -> None:
    checker = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
    level0 = np.repeat(checker[..., None], 3, axis=2)
    from splatkit.demo.texture import _mip_pyramid

    texture = GroundTexture(levels=_mip_pyramid(level0), texel_m=0.1, half_m=3.2)
    rng = np.random.default_rng(0)
    col, row = rng.integers(0, 64, size=(2, 200))
    x, y = -3.2 + (col + 0.5) * 0.1, 3.2 - (row + 0.5) * 0.1  # texel centres
    sharp = texture.sample(x, y, np.full(200, 0.01))
    np.testing.assert_allclose(sharp[:, 0], (col + row) % 2, atol=1e-6)  # a sub-texel footprint: exact texels
    blurred = texture.sample(x, y, np.full(200, 0.8))
    np.testing.assert_allclose(blurred, 0.5, atol=0.01)  # an 8-texel footprint averages the pattern out


def test_render_view_sizes_and_supersampling_consistency(demo_scene: DemoScene) -> None:
    config = DemoConfig()
    shot = demo_shots(config)[15]
    k = config.intrinsics
    kw = dict(fx=k.fx / 4, fy=k.fy / 4, cx=k.cx / 4, cy=k.cy / 4, width=k.width // 4, height=k.height // 4)
    one = render_view(demo_scene, shot.rotation, shot.translation, supersample=1, **kw)
    two = render_view(demo_scene, shot.rotation, shot.translation, supersample=2, **kw)
    assert one.shape == two.shape == (k.height // 4, k.width // 4, 3) and one.dtype == np.uint8
    # Same view, different anti-aliasing: close on average, not identical.
    diff = np.abs(one.astype(int) - two.astype(int))
    assert 0 < diff.mean() < 20
