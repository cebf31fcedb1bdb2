"""A numpy ray caster for the demo scene: exact hits on analytic terrain, boxes and spheres.

Per ray: Newton's method on ``g(t) = o_z + t d_z - h(o_xy + t d_xy)`` for the terrain (``g`` is
monotonic because every ray from the flight altitude is steeper than the terrain's slopes, so the
first root is the only one), the slab test for each rotated box, the quadratic for each sphere;
the nearest hit wins. Colour is albedo times Lambert shading under a fixed sun
(:data:`~splatkit.demo.scene.SUN_DIRECTION`): nothing depends on the viewing direction, which is
what a 3DGS model with low-order spherical harmonics can fit.

Anti-aliasing: each photo is rendered at ``supersample`` times its size and box-filtered down, and
texture lookups are mip-mapped by the pixel's footprint on the surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splatkit.demo.scene import SUN_DIRECTION, Box, DemoScene, Sphere

__all__ = ["RayHits", "cast_rays", "shade", "render_view", "pixel_rays", "NEWTON_STEPS"]

#: Newton steps on the terrain. From the plane z = 0 the worst height residual over every ray of
#: the demo flight is 4 m, 0.3 m, 2e-3 m, 4e-8 m after 0, 1, 2, 3 steps (quadratic
#: convergence); tests check the residual.
NEWTON_STEPS = 3
#: Rays flatter than this (``-d_z``) never reach the ground within the scene: they see the sky.
_MIN_DOWNWARD = 0.05
_SKY_RGB = np.array([0.74, 0.81, 0.90], dtype=np.float32)
_AMBIENT, _DIFFUSE = 0.42, 0.62
#: Share of the ground texture in the colour of buildings and trees (the rest is their base colour).
_OBJECT_TEXTURE_WEIGHT = 0.4


@dataclass(frozen=True, eq=False)
class RayHits:
    """Where rays hit the scene.

    Attributes
    ----------
    t : float64 [N]
        Distance along the (unit) ray; ``inf`` for the sky.
    normal : float64 [N, 3]
        Unit surface normal (ENU), zero for the sky.
    texture_xy : float64 [N, 2]
        Texture-space position in metres.
    base_rgb : float32 [N, 3]
        Base colour mixed with the texture by ``texture_weight``.
    texture_weight : float32 [N]
        1 for the ground, :data:`_OBJECT_TEXTURE_WEIGHT` for objects, 0 for the sky.
    """

    t: np.ndarray
    normal: np.ndarray
    texture_xy: np.ndarray
    base_rgb: np.ndarray
    texture_weight: np.ndarray

    @property
    def is_sky(self) -> np.ndarray:
        """bool [N]: the ray hit nothing."""
        return ~np.isfinite(self.t)


def cast_rays(scene: DemoScene, origin: np.ndarray, dirs: np.ndarray) -> RayHits:
    """Intersect rays from one point with the scene.

    Parameters
    ----------
    scene
        The demo scene.
    origin : float64 [3]
        Ray origin (the camera centre), ENU metres, above the terrain and outside every object.
    dirs : float64 [N, 3]
        Unit ray directions, ENU.

    Returns
    -------
    RayHits
    """
    origin = np.asarray(origin, dtype=np.float64)
    n = dirs.shape[0]
    t = np.full(n, np.inf)
    normal = np.zeros((n, 3))
    texture_xy = np.zeros((n, 2))
    base_rgb = np.zeros((n, 3), dtype=np.float32)
    weight = np.zeros(n, dtype=np.float32)

    ground = np.flatnonzero(dirs[:, 2] < -_MIN_DOWNWARD)
    t_ground, gx, gy = _terrain_t(scene, origin, dirs[ground])
    t[ground] = t_ground
    ng = np.column_stack([-gx, -gy, np.ones_like(gx)])
    normal[ground] = ng / np.linalg.norm(ng, axis=1, keepdims=True)
    texture_xy[ground] = origin[:2] + t_ground[:, None] * dirs[ground, :2]
    weight[ground] = 1.0

    # Bounding-sphere cull for all objects at once: one [N, 3] x [3, K] product instead of K passes.
    objects = [(box.centre, float(np.linalg.norm(box.half_size))) for box in scene.boxes]
    objects += [(sphere.centre, sphere.radius) for sphere in scene.spheres]
    candidates = _rays_near(origin, dirs, objects)
    for box, near in zip(scene.boxes, candidates):
        _hit_box(box, origin, dirs, near, t, normal, texture_xy, base_rgb, weight)
    for sphere, near in zip(scene.spheres, candidates[len(scene.boxes):]):
        _hit_sphere(sphere, origin, dirs, near, t, normal, texture_xy, base_rgb, weight)
    return RayHits(t=t, normal=normal, texture_xy=texture_xy, base_rgb=base_rgb, texture_weight=weight)


def shade(scene: DemoScene, hits: RayHits, dirs: np.ndarray, pixel_angle: float) -> np.ndarray:
    """Colour of each ray: albedo times Lambert shading, sky colour where nothing was hit.

    Parameters
    ----------
    hits
        From :func:`cast_rays`.
    dirs : float64 [N, 3]
        The rays' unit directions (for the texture footprint).
    pixel_angle
        Angle one (supersampled) pixel subtends, radians (``1 / focal_px``).

    Returns
    -------
    float32 [N, 3]
        Linear RGB in [0, 1].
    """
    out = np.empty((dirs.shape[0], 3), dtype=np.float32)
    sky = hits.is_sky
    out[sky] = _SKY_RGB
    hit = ~sky
    cos_view = np.abs(np.einsum("ij,ij->i", hits.normal[hit], dirs[hit]))
    # Footprint of a pixel on the surface: distance x angle, stretched by the grazing angle
    # (capped: an isotropic mip level cannot follow a very anisotropic footprint anyway).
    footprint = hits.t[hit] * pixel_angle / np.maximum(cos_view, 0.25)
    texture = scene.texture.sample(hits.texture_xy[hit, 0], hits.texture_xy[hit, 1], footprint)
    w = hits.texture_weight[hit, None]
    albedo = texture * w + hits.base_rgb[hit] * (1.0 - w)
    lambert = np.maximum(hits.normal[hit] @ SUN_DIRECTION, 0.0).astype(np.float32)
    out[hit] = albedo * (_AMBIENT + _DIFFUSE * lambert)[:, None]
    return out


def pixel_rays(rotation: np.ndarray, fx: float, fy: float, cx: float, cy: float, width: int, height: int,
               supersample: int) -> np.ndarray:
    """World directions of the rays through the sub-pixel centres of a pinhole camera.

    Pixel ``(col, row)`` covers ``[col, col + 1] x [row, row + 1]`` in COLMAP's convention (the
    centre of the top-left pixel is at 0.5, 0.5); each is sampled at ``supersample**2`` evenly spaced
    sub-pixel centres.

    Parameters
    ----------
    rotation : float64 [3, 3]
        ``cam_from_world`` rotation (OpenCV axes: x right, y down, z forward).

    Returns
    -------
    float64 [height * supersample, width * supersample, 3]
        Unit directions in world coordinates.
    """
    s = supersample
    u = (np.arange(width * s) + 0.5) / s
    v = (np.arange(height * s) + 0.5) / s
    uu, vv = np.meshgrid((u - cx) / fx, (v - cy) / fy)
    cam = np.stack([uu, vv, np.ones_like(uu)], axis=-1)
    world = cam @ rotation  # rows: R^T @ d_cam
    return world / np.linalg.norm(world, axis=-1, keepdims=True)


def render_view(scene: DemoScene, rotation: np.ndarray, translation: np.ndarray, *, fx: float, fy: float,
                cx: float, cy: float, width: int, height: int, supersample: int = 2) -> np.ndarray:
    """Render one photo.

    Parameters
    ----------
    rotation, translation : float64 [3, 3], [3]
        ``cam_from_world``: ``x_cam = R X + t``.
    fx, fy, cx, cy
        Pinhole intrinsics in output pixels.
    width, height
        Output size.
    supersample
        Sub-pixels per pixel along each axis (box filter).

    Returns
    -------
    uint8 [height, width, 3]
        sRGB-ish colours (the shading is not gamma-corrected; it only has to look plausible).
    """
    rotation = np.asarray(rotation, dtype=np.float64)
    centre = -rotation.T @ np.asarray(translation, dtype=np.float64)
    dirs = pixel_rays(rotation, fx, fy, cx, cy, width, height, supersample).reshape(-1, 3)
    colour = shade(scene, cast_rays(scene, centre, dirs), dirs, pixel_angle=1.0 / (fx * supersample))
    s = supersample
    image = colour.reshape(height, s, width, s, 3).mean(axis=(1, 3))
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _terrain_t(scene: DemoScene, origin: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the terrain along each (downward) ray, and the height gradient there.

    Returns
    -------
    t, dh_dx, dh_dy : float64 [N]
        The gradient is from the last Newton evaluation (within ~2 mm of the hit, see
        :data:`NEWTON_STEPS`), which is all a shading normal needs.
    """
    tt = origin[2] / -d[:, 2]  # start on the plane z = 0
    for _ in range(NEWTON_STEPS):
        x = origin[0] + tt * d[:, 0]
        y = origin[1] + tt * d[:, 1]
        h, gx, gy = scene.hills.height(x, y)
        g = origin[2] + tt * d[:, 2] - h
        slope = d[:, 2] - (gx * d[:, 0] + gy * d[:, 1])
        tt = tt - g / slope
    return tt, gx, gy


def _hit_box(box: Box, origin: np.ndarray, dirs: np.ndarray, near: np.ndarray, t: np.ndarray,
             normal: np.ndarray, texture_xy: np.ndarray, base_rgb: np.ndarray, weight: np.ndarray) -> None:
    """Slab test in the box's frame for rays ``near``; updates the hit arrays where the box is nearer."""
    if near.size == 0:
        return
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    o = origin - box.centre
    # World -> box frame: rotate by -yaw about z.
    ol = np.array([c * o[0] + s * o[1], -s * o[0] + c * o[1], o[2]])
    d = dirs[near]
    dl = np.column_stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dl
        t1 = (-box.half_size - ol) * inv
        t2 = (box.half_size - ol) * inv
    t_min = np.minimum(t1, t2)
    t_max = np.maximum(t1, t2)
    t_near = np.maximum(np.maximum(t_min[:, 0], t_min[:, 1]), t_min[:, 2])
    t_far = np.minimum(np.minimum(t_max[:, 0], t_max[:, 1]), t_max[:, 2])
    hit = (t_near <= t_far) & (t_near > 0.0) & (t_near < t[near])
    if not hit.any():
        return
    sub = np.flatnonzero(hit)
    idx = near[sub]
    dl, t_near = dl[sub], t_near[sub]
    axis = t_min[sub].argmax(axis=1)
    sign = -np.sign(dl[np.arange(sub.size), axis])
    n_local = np.zeros((idx.size, 3))
    n_local[np.arange(idx.size), axis] = sign
    normal[idx] = np.column_stack([c * n_local[:, 0] - s * n_local[:, 1], s * n_local[:, 0] + c * n_local[:, 1],
                                   n_local[:, 2]])
    t[idx] = t_near
    p = ol + t_near[:, None] * dl
    face = axis * 2 + (sign < 0)  # +x, -x, +y, -y, +z, -z
    # Texture coordinates: the face's own 2D coordinates (metres), shifted per face.
    uv = np.where((axis == 2)[:, None], p[:, [0, 1]], np.where((axis == 0)[:, None], p[:, [1, 2]], p[:, [0, 2]]))
    texture_xy[idx] = uv + box.texture_offset[face]
    base_rgb[idx] = np.where((axis == 2)[:, None], box.roof_rgb, box.wall_rgb).astype(np.float32)
    weight[idx] = _OBJECT_TEXTURE_WEIGHT


def _hit_sphere(sphere: Sphere, origin: np.ndarray, dirs: np.ndarray, near: np.ndarray, t: np.ndarray,
                normal: np.ndarray, texture_xy: np.ndarray, base_rgb: np.ndarray, weight: np.ndarray) -> None:
    """Nearest root of ``|o + t d - c|^2 = r^2`` for rays ``near``; updates the hit arrays where nearer."""
    if near.size == 0:
        return
    oc = origin - sphere.centre
    b = dirs[near] @ oc
    disc = b * b - (oc @ oc - sphere.radius ** 2)
    with np.errstate(invalid="ignore"):
        t_hit = -b - np.sqrt(disc)
    hit = (disc > 0.0) & (t_hit > 0.0) & (t_hit < t[near])
    if not hit.any():
        return
    idx = near[hit]
    t_hit = t_hit[hit]
    p = origin + t_hit[:, None] * dirs[idx]
    t[idx] = t_hit
    normal[idx] = (p - sphere.centre) / sphere.radius
    texture_xy[idx] = p[:, :2] + 0.5 * (p[:, 2:3] - sphere.centre[2]) + sphere.texture_offset
    base_rgb[idx] = sphere.rgb.astype(np.float32)
    weight[idx] = _OBJECT_TEXTURE_WEIGHT


def _rays_near(origin: np.ndarray, dirs: np.ndarray, spheres: list[tuple[np.ndarray, float]]) -> list[np.ndarray]:
    """For each bounding sphere ``(centre [3], radius)``, the indices of the rays that pass within it.

    The exact intersection tests then run on those few rays only. A ray meets the sphere when the
    angle between it and the direction to the centre is below ``asin(radius / distance)``.
    """
    if not spheres:
        return []
    to_centre = np.array([c for c, _ in spheres]) - origin  # [K, 3]
    dist = np.linalg.norm(to_centre, axis=1)
    radius = np.array([r for _, r in spheres])
    cos_cone = np.sqrt(np.clip(1.0 - (radius / dist) ** 2, 0.0, 1.0))
    cos_angle = (to_centre / dist[:, None]) @ dirs.T  # [K, N]: one contiguous row per object
    out = []
    for k in range(len(spheres)):
        if dist[k] <= radius[k]:
            out.append(np.arange(dirs.shape[0]))
        else:
            out.append(np.flatnonzero(cos_angle[k] >= cos_cone[k] - 1e-9))
    return out
