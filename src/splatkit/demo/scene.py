"""The demo scene: gentle hills, a few buildings and trees, painted ground, in local ENU metres.

Geometry is analytic so that the ray caster (:mod:`splatkit.demo.raycast`) is exact and fast:

- terrain: ``z = h(x, y)``, a sum of Gaussian bumps with slopes below ~0.15, so a ray from the
  flight altitude meets it once (no self-occlusion) and Newton's method converges in a few steps;
- buildings: boxes rotated about z, sunk 3 m into the ground so no gap shows at their foot;
- trees: spheres resting on the ground.

The scene spans about 100 m around the origin (x east, y north, z up); the painted texture fades
to a plain meadow beyond ``detail_radius_m``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splatkit.demo.texture import GroundTexture, paint_ground_texture

__all__ = ["Hills", "Box", "Sphere", "DemoScene", "build_scene", "SUN_DIRECTION"]

#: Unit vector towards the sun (ENU): from the south-east, 55 degrees above the horizon. Fixed, so
#: shading is baked into the scene and the same in every photo (no view-dependent effects).
SUN_DIRECTION = np.array([np.cos(np.radians(55)) * np.sin(np.radians(135)),
                          np.cos(np.radians(55)) * np.cos(np.radians(135)),
                          np.sin(np.radians(55))])


@dataclass(frozen=True, eq=False)
class Hills:
    """Terrain height ``h(x, y) = sum_k a_k exp(-|p - c_k|^2 / (2 s_k^2))``.

    Attributes
    ----------
    centres : float64 [K, 2]
    amplitudes : float64 [K]
        Metres (negative: a hollow).
    sigmas : float64 [K]
        Metres.
    """

    centres: np.ndarray
    amplitudes: np.ndarray
    sigmas: np.ndarray

    def height(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Height and its gradient at ``(x, y)``.

        Returns
        -------
        h, dh_dx, dh_dy : float64 arrays shaped like ``x``
        """
        h = np.zeros_like(x, dtype=np.float64)
        gx = np.zeros_like(h)
        gy = np.zeros_like(h)
        for (cx, cy), a, s in zip(self.centres, self.amplitudes, self.sigmas):
            dx = x - cx
            dy = y - cy
            bump = a * np.exp(-(dx * dx + dy * dy) * (0.5 / (s * s)))
            h += bump
            gx -= bump * dx / (s * s)
            gy -= bump * dy / (s * s)
        return h, gx, gy


@dataclass(frozen=True, eq=False)
class Box:
    """A building: a box rotated by ``yaw`` about z.

    Attributes
    ----------
    centre : float64 [3]
        ENU metres.
    half_size : float64 [3]
        Half extents along the box's own x, y, z.
    yaw : float
        Radians, counter-clockwise seen from above.
    roof_rgb, wall_rgb : float64 [3]
        Base colours in [0, 1], mixed with the ground texture for detail.
    texture_offset : float64 [6, 2]
        Per face (+x, -x, +y, -y, +z, -z), where in the texture that face's detail comes from.
    """

    centre: np.ndarray
    half_size: np.ndarray
    yaw: float
    roof_rgb: np.ndarray
    wall_rgb: np.ndarray
    texture_offset: np.ndarray


@dataclass(frozen=True, eq=False)
class Sphere:
    """A tree crown. ``centre`` [3] ENU metres, ``radius`` metres, ``rgb`` [3] in [0, 1]."""

    centre: np.ndarray
    radius: float
    rgb: np.ndarray
    texture_offset: np.ndarray


@dataclass(frozen=True, eq=False)
class DemoScene:
    """Everything the ray caster needs.

    Attributes
    ----------
    hills : Hills
    boxes : tuple[Box, ...]
    spheres : tuple[Sphere, ...]
    texture : GroundTexture
    markers : float64 [M, 3]
        Ground-control marker centres on the terrain (ENU metres): magenta discs painted into the
        texture, used by tests to check poses against rendered pixels.
    """

    hills: Hills
    boxes: tuple[Box, ...]
    spheres: tuple[Sphere, ...]
    texture: GroundTexture
    markers: np.ndarray


def build_scene(seed: int, *, texture_size: int = 2048, texel_m: float = 0.125, detail_radius_m: float = 75.0,
                n_buildings: int = 7, n_trees: int = 14) -> DemoScene:
    """Make the demo scene from a seed (same seed, same scene, bit for bit).

    Parameters
    ----------
    seed
        Seed of the one random generator everything is drawn from.
    texture_size, texel_m
        Level-0 texture resolution: ``texture_size * texel_m`` metres across (256 m by default).
    detail_radius_m
        Radius of the painted area (fields, roads, objects).
    n_buildings, n_trees
        How many boxes and spheres.
    """
    rng = np.random.default_rng(seed)
    k = 9
    hills = Hills(
        centres=rng.uniform(-70.0, 70.0, size=(k, 2)),
        amplitudes=rng.uniform(1.5, 3.5, size=k) * rng.choice([1.0, 1.0, -0.6], size=k),
        sigmas=rng.uniform(16.0, 30.0, size=k),
    )

    # Buildings first, in the inner 60 m, not overlapping each other (rejection sampling).
    boxes: list[Box] = []
    while len(boxes) < n_buildings:
        xy = rng.uniform(-30.0, 30.0, size=2)
        half = np.array([rng.uniform(3.0, 7.0), rng.uniform(3.0, 6.0), 0.0])
        if any(np.hypot(*(xy - b.centre[:2])) < np.hypot(*half[:2]) + np.hypot(*b.half_size[:2]) + 4.0
               for b in boxes):
            continue
        ground = float(hills.height(np.array([xy[0]]), np.array([xy[1]]))[0][0])
        height = rng.uniform(4.0, 12.0)
        bottom = ground - 3.0  # sunk so that the slope under it never shows a gap
        top = ground + height
        half[2] = (top - bottom) / 2.0
        roof = np.array([[0.62, 0.30, 0.22], [0.45, 0.45, 0.48], [0.30, 0.33, 0.40], [0.70, 0.62, 0.50]])
        walls = np.array([[0.85, 0.80, 0.70], [0.75, 0.72, 0.68], [0.80, 0.70, 0.55], [0.65, 0.68, 0.72]])
        boxes.append(Box(centre=np.array([xy[0], xy[1], (top + bottom) / 2.0]), half_size=half,
                         yaw=float(rng.uniform(0.0, np.pi)), roof_rgb=roof[rng.integers(len(roof))],
                         wall_rgb=walls[rng.integers(len(walls))],
                         texture_offset=rng.uniform(-70.0, 70.0, size=(6, 2))))

    spheres: list[Sphere] = []
    while len(spheres) < n_trees:
        xy = rng.uniform(-45.0, 45.0, size=2)
        radius = rng.uniform(1.5, 3.5)
        if any(np.hypot(*(xy - b.centre[:2])) < np.hypot(*b.half_size[:2]) + radius + 1.0 for b in boxes):
            continue
        ground = float(hills.height(np.array([xy[0]]), np.array([xy[1]]))[0][0])
        green = np.array([0.20, 0.33, 0.15]) + rng.uniform(-0.05, 0.05, size=3)
        spheres.append(Sphere(centre=np.array([xy[0], xy[1], ground + radius * 0.9]), radius=float(radius),
                              rgb=green, texture_offset=rng.uniform(-70.0, 70.0, size=2)))

    # Ground-control markers on a loose 3x3 grid, kept clear of buildings and trees.
    markers = []
    for gx in (-32.0, 0.0, 32.0):
        for gy in (-26.0, 0.0, 26.0):
            for _ in range(100):
                xy = np.array([gx, gy]) + rng.uniform(-6.0, 6.0, size=2)
                clear_b = all(np.hypot(*(xy - b.centre[:2])) > np.hypot(*b.half_size[:2]) + 4.0 for b in boxes)
                clear_s = all(np.hypot(*(xy - s.centre[:2])) > s.radius + 4.0 for s in spheres)
                if clear_b and clear_s:
                    markers.append(xy)
                    break
    # On texel corners, so that the painted disc is centred exactly on the recorded position.
    markers_xy = np.round(np.array(markers) / texel_m) * texel_m
    z = hills.height(markers_xy[:, 0], markers_xy[:, 1])[0]
    texture = paint_ground_texture(rng, size=texture_size, texel_m=texel_m, detail_radius_m=detail_radius_m,
                                   markers_xy=markers_xy)
    return DemoScene(hills=hills, boxes=tuple(boxes), spheres=tuple(spheres), texture=texture,
                     markers=np.column_stack([markers_xy, z]))
