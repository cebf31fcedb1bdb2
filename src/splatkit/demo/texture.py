"""The demo ground texture: a painted aerial map with a mip pyramid, sampled with trilinear filtering.

What it is for decides what it holds. SIFT needs many distinctive, non-repeating corners at the
scale of a few image pixels (0.2-1 m here); a short CPU 3DGS run must still reach 20 dB on held-out
views, so most of the energy sits at medium scale (fields, roads, objects of 1-30 m) and the
fine-grain noise is kept weak. Detail fades out beyond ``detail_radius_m``: far ground seen at a
grazing angle from the orbit is then a smooth field that neither confuses matching nor costs
held-out PSNR.

The texture is painted with Pillow's ``ImageDraw`` (exact, deterministic, fast for thousands of
shapes) over multi-octave value noise. Coordinates: texel ``(i, j)`` (row, column) covers world
``x in [-half + j * texel, -half + (j + 1) * texel]`` east and ``y`` from ``+half`` down (row 0 is
north), in metres of the local ENU frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["GroundTexture", "paint_ground_texture", "MARKER_RGB"]

#: Colour of the ground-control marker discs: nothing else in the palette comes near it, so tests
#: can find a marker in a rendered photo by colour alone.
MARKER_RGB = (235, 20, 225)

# Field colours (RGB): crops, meadow, stubble, bare soil; muted like real aerial photos.
_FIELD_PALETTE = np.array([
    [96, 132, 58], [122, 150, 70], [70, 110, 52], [158, 150, 86], [182, 164, 104], [134, 104, 72],
    [110, 86, 62], [150, 128, 84], [86, 120, 88], [170, 176, 112], [120, 120, 70], [196, 180, 130],
], dtype=np.float64)
# Small objects: cars, roofs of sheds, tarps, rocks; saturated so they make strong corners.
_OBJECT_PALETTE = np.array([
    [220, 220, 215], [30, 30, 34], [200, 40, 36], [40, 70, 170], [230, 190, 40], [240, 120, 30],
    [60, 150, 160], [150, 150, 155], [90, 50, 30], [250, 250, 245], [20, 90, 40], [110, 70, 50],
], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class GroundTexture:
    """A square RGB texture over the ground with its mip pyramid.

    Attributes
    ----------
    levels : tuple[np.ndarray, ...]
        uint8 ``[S / 2**k, S / 2**k, 3]`` images, level 0 the finest; each level is the 2x2 mean of
        the previous one.
    texel_m : float
        Size of a level-0 texel in metres.
    half_m : float
        The texture covers ``[-half_m, half_m]`` in x and y; it wraps around outside.
    """

    levels: tuple[np.ndarray, ...]
    texel_m: float
    half_m: float

    def sample(self, x: np.ndarray, y: np.ndarray, footprint_m: np.ndarray) -> np.ndarray:
        """Trilinear lookup: bilinear within the two mip levels that bracket the footprint.

        Parameters
        ----------
        x, y : float [N]
            Texture-space position in metres (world east/north for the ground).
        footprint_m : float [N]
            Size on the ground of the (supersampled) pixel that looks there, in metres; picks the
            mip level so that far, grazing ground is filtered instead of aliased.

        Returns
        -------
        float32 [N, 3]
            RGB in [0, 1].
        """
        lod = np.log2(np.maximum(footprint_m, 1e-6) / self.texel_m)
        lod = np.clip(lod, 0.0, len(self.levels) - 1.0)
        lower = np.floor(lod).astype(np.int64)
        frac = (lod - lower).astype(np.float32)[:, None]
        out = np.empty((x.shape[0], 3), dtype=np.float32)
        for level in np.unique(lower):
            sel = lower == level
            a = self._bilinear(int(level), x[sel], y[sel])
            if level + 1 < len(self.levels):
                b = self._bilinear(int(level) + 1, x[sel], y[sel])
                out[sel] = a + (b - a) * frac[sel]
            else:
                out[sel] = a
        return out * np.float32(1.0 / 255.0)

    def _bilinear(self, level: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        image = self.levels[level]
        size = image.shape[0]
        texel = self.texel_m * (2 ** level)
        # Continuous texel coordinates with texel centres at integer + 0.5 (hence the - 0.5).
        col = (x + self.half_m) / texel - 0.5
        row = (self.half_m - y) / texel - 0.5
        c0 = np.floor(col)
        r0 = np.floor(row)
        fc = (col - c0).astype(np.float32)[:, None]
        fr = (row - r0).astype(np.float32)[:, None]
        c0 = c0.astype(np.int64) % size
        r0 = r0.astype(np.int64) % size
        c1 = (c0 + 1) % size
        r1 = (r0 + 1) % size
        p00 = image[r0, c0].astype(np.float32)
        p01 = image[r0, c1].astype(np.float32)
        p10 = image[r1, c0].astype(np.float32)
        p11 = image[r1, c1].astype(np.float32)
        top = p00 + (p01 - p00) * fc
        bottom = p10 + (p11 - p10) * fc
        return top + (bottom - top) * fr


def paint_ground_texture(
    rng: np.random.Generator,
    *,
    size: int,
    texel_m: float,
    detail_radius_m: float,
    markers_xy: np.ndarray,
    roads: int = 4,
    fields: int = 90,
    objects: int = 500,
) -> GroundTexture:
    """Paint the ground: noisy base colours, fields, roads, small objects and marker discs.

    Parameters
    ----------
    rng
        The only source of randomness (deterministic output for a seeded generator).
    size
        Level-0 texels per side; a power of two times 8 keeps every mip level exact.
    texel_m
        Metres per level-0 texel.
    detail_radius_m
        Fields, roads and objects are painted within this distance of the origin; beyond it the
        ground fades to a plain noisy meadow.
    markers_xy : float [M, 2]
        Ground-control marker centres (ENU metres, on texel corners: multiples of ``texel_m``): a
        white 3 m square with a black rim and a 1 m-radius :data:`MARKER_RGB` disc, painted last
        so nothing covers them.

    Returns
    -------
    GroundTexture
    """
    half = size * texel_m / 2.0

    def to_px(xy: np.ndarray) -> np.ndarray:
        """ENU metres [..., 2] to Pillow pixel coordinates (x right = east, y down = south)."""
        return np.stack([(xy[..., 0] + half) / texel_m, (half - xy[..., 1]) / texel_m], axis=-1)

    base = _value_noise_rgb(rng, size)
    canvas = Image.fromarray(base)
    draw = ImageDraw.Draw(canvas)
    r = detail_radius_m

    # Fields: jittered, rotated quadrilaterals, overlapping in painting order, some with crop rows.
    for _ in range(fields):
        centre = rng.uniform(-r, r, size=2)
        w, h = rng.uniform(8.0, 30.0, size=2)
        angle = rng.uniform(0.0, np.pi)
        corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2.0 + rng.normal(0.0, 1.5, size=(4, 2))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        polygon = to_px(corners @ rot.T + centre)
        colour = _FIELD_PALETTE[rng.integers(len(_FIELD_PALETTE))] + rng.normal(0.0, 8.0, size=3)
        draw.polygon([tuple(p) for p in polygon], fill=_rgb(colour))
        if rng.random() < 0.3:  # crop rows: a few dark stripes with random gaps (never periodic)
            darker = _rgb(colour * 0.8)
            offsets = np.cumsum(rng.uniform(1.2, 3.5, size=int(h)))
            for off in offsets[offsets < h] - h / 2.0:
                seg = np.array([[-w / 2.0 * rng.uniform(0.6, 1.0), off], [w / 2.0 * rng.uniform(0.6, 1.0), off]])
                line = to_px(seg @ rot.T + centre)
                draw.line([tuple(p) for p in line], fill=darker, width=max(1, int(0.35 / texel_m)))

    # Roads and tracks: smooth random walks, grey asphalt or tan dirt.
    for k in range(roads):
        point = rng.uniform(-r, r, size=2)
        heading = rng.uniform(0.0, 2.0 * np.pi)
        path = [point.copy()]
        for _ in range(60):
            heading += rng.normal(0.0, 0.12)
            point = point + 3.0 * np.array([np.cos(heading), np.sin(heading)])
            path.append(point.copy())
        pixels = [tuple(p) for p in to_px(np.array(path))]
        asphalt = k % 2 == 0
        width_m = 4.0 if asphalt else 2.5
        draw.line(pixels, fill=(105, 105, 108) if asphalt else (176, 156, 118), width=int(width_m / texel_m),
                  joint="curve")
        if asphalt:  # a dashed, irregular centre line
            for a, b in zip(pixels[::2], pixels[1::2]):
                if rng.random() < 0.7:
                    draw.line([a, b], fill=(235, 235, 220), width=max(1, int(0.2 / texel_m)))

    # Small objects: cars, sheds, bushes, rocks, tarps; most of SIFT's corners come from these.
    for _ in range(objects):
        centre = rng.uniform(-r, r, size=2)
        kind = rng.random()
        colour = _OBJECT_PALETTE[rng.integers(len(_OBJECT_PALETTE))] + rng.normal(0.0, 10.0, size=3)
        if kind < 0.45:  # rectangle: car or shed
            w, h = rng.uniform(0.8, 2.5), rng.uniform(1.5, 5.0)
            angle = rng.uniform(0.0, np.pi)
            rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2.0 @ rot.T + centre
            draw.polygon([tuple(p) for p in to_px(corners)], fill=_rgb(colour))
        elif kind < 0.8:  # round bush or rock: dark, with a lighter rim for a strong blob response
            radius = rng.uniform(0.4, 1.8)
            green = np.array([40.0, 70.0, 35.0]) + rng.normal(0.0, 12.0, size=3)
            fill = green if rng.random() < 0.6 else colour
            box = to_px(np.array([centre - radius, centre + radius]))
            draw.ellipse([min(box[:, 0]), min(box[:, 1]), max(box[:, 0]), max(box[:, 1])], fill=_rgb(fill))
        else:  # a bold mark: a cross or a wedge
            length = rng.uniform(1.0, 3.0)
            angle = rng.uniform(0.0, np.pi)
            d = length / 2.0 * np.array([np.cos(angle), np.sin(angle)])
            e = length / 2.0 * np.array([-np.sin(angle), np.cos(angle)])
            width = max(1, int(rng.uniform(0.25, 0.6) / texel_m))
            if rng.random() < 0.5:
                for a, b in ((centre - d, centre + d), (centre - e, centre + e)):
                    draw.line([tuple(p) for p in to_px(np.array([a, b]))], fill=_rgb(colour), width=width)
            else:
                draw.polygon([tuple(p) for p in to_px(np.array([centre - d, centre + d, centre + e]))],
                             fill=_rgb(colour))

    painted = np.asarray(canvas, dtype=np.float32)
    # Fine grain everywhere (weak: it is what a short 3DGS run fits last), then fade the painted
    # detail into the plain base beyond detail_radius_m.
    grain = _octave(rng, size, cells=size // 8, amplitude=1.0)[..., None]
    painted = painted * (1.0 + 0.06 * grain)
    axis = (np.arange(size, dtype=np.float32) + 0.5) * texel_m - half
    dist = np.hypot(axis[None, :], axis[:, None])
    keep = np.clip((r + 10.0 - dist) / 20.0, 0.0, 1.0)[..., None]
    blended = base.astype(np.float32) * (1.0 - keep) + painted * keep

    marked = Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(marked)
    for xy in np.asarray(markers_xy, dtype=np.float64).reshape(-1, 2):
        # Pillow draws on whole texels: a shape spanning texels c - k .. c + k - 1 is centred on
        # the texel corner c, so a marker centre on a corner gets an exactly centred disc.
        corner = np.rint(to_px(xy)).astype(int)
        if np.abs(to_px(xy) - corner).max() > 1e-6:
            raise ValueError(f"marker centre {xy.tolist()} is not on a texel corner (multiple of {texel_m} m)")
        for half_side_m, fill in ((1.75, (20, 20, 20)), (1.5, (245, 245, 245)), (1.0, MARKER_RGB)):
            k = int(round(half_side_m / texel_m))
            box = [int(corner[0]) - k, int(corner[1]) - k, int(corner[0]) + k - 1, int(corner[1]) + k - 1]
            if fill == MARKER_RGB:
                draw.ellipse(box, fill=fill)
            else:
                draw.rectangle(box, fill=fill)
    level0 = np.asarray(marked, dtype=np.uint8).copy()
    return GroundTexture(levels=_mip_pyramid(level0), texel_m=texel_m, half_m=half)


def _value_noise_rgb(rng: np.random.Generator, size: int) -> np.ndarray:
    """Meadow base colour, uint8 ``[size, size, 3]``: three noise octaves mixing grass, dry grass, soil.

    Its finest octave has cells of 32 texels, so it is computed at a quarter of the resolution and
    upsampled (bicubic): 16 times less arithmetic for the same picture.
    """
    small = size // 4
    low = _octave(rng, small, cells=6, amplitude=1.0)
    mid = _octave(rng, small, cells=40, amplitude=1.0)
    high = _octave(rng, small, cells=size // 32, amplitude=1.0)
    mix_dry = np.clip(0.5 + 0.35 * low + 0.15 * mid, 0.0, 1.0)[..., None]
    mix_soil = np.clip(0.25 + 0.3 * mid, 0.0, 1.0)[..., None]
    grass = np.array([88.0, 124.0, 60.0], dtype=np.float32)
    dry = np.array([150.0, 146.0, 92.0], dtype=np.float32)
    soil = np.array([120.0, 98.0, 72.0], dtype=np.float32)
    colour = grass * (1.0 - mix_dry) + dry * mix_dry
    colour = colour * (1.0 - 0.5 * mix_soil) + soil * (0.5 * mix_soil)
    colour = colour * (1.0 + 0.08 * high[..., None])
    quarter = Image.fromarray(np.clip(np.rint(colour), 0, 255).astype(np.uint8))
    return np.asarray(quarter.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def _octave(rng: np.random.Generator, size: int, *, cells: int, amplitude: float) -> np.ndarray:
    """Value noise: a ``cells x cells`` grid of N(0, 1) values, bicubic-upsampled to ``size``, float32."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    up = Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(up, dtype=np.float32) * np.float32(amplitude)


def _mip_pyramid(level0: np.ndarray) -> tuple[np.ndarray, ...]:
    levels = [level0]
    while levels[-1].shape[0] >= 16 and levels[-1].shape[0] % 2 == 0:
        prev = levels[-1].astype(np.float32)
        s = prev.shape[0] // 2
        levels.append(np.rint(prev.reshape(s, 2, s, 2, 3).mean(axis=(1, 3))).astype(np.uint8))
    return tuple(levels)


def _rgb(colour: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (min(255, max(0, int(round(float(v))))) for v in colour)
    return r, g, b
