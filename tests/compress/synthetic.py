"""Synthetic Gaussian clouds for the compression tests and benchmarks (structured, seeded)."""

from __future__ import annotations

import numpy as np

from splatkit.contracts import SH_COEFFS_FOR_DEGREE, GaussianCloud, Georeference


def synthetic_cloud(n: int, sh_degree: int = 3, *, seed: int = 0, extent: float = 20.0,
                    centre: tuple[float, float, float] = (0.0, 0.0, 0.0),
                    georeference: Georeference | None = None) -> GaussianCloud:
    """A cloud shaped like a trained scene: clustered positions, SH correlated in space.

    Positions are drawn around a few hundred surface patches so Morton order has structure to
    find; log-scales ~ N(-4, 1); opacities span the whole range; SH rest decays with the band
    and varies smoothly with position plus noise (so the palette has something to learn).
    """
    rng = np.random.default_rng(seed)
    patches = max(1, min(400, n // 50))
    centres = rng.uniform(-extent, extent, size=(patches, 3))
    which = rng.integers(0, patches, size=n)
    means = centres[which] + rng.normal(scale=extent / 40.0, size=(n, 3)) + np.asarray(centre)
    log_scales = rng.normal(-4.0, 1.0, size=(n, 3))
    quats = rng.normal(size=(n, 4))
    opacity = rng.normal(0.0, 3.0, size=n)
    base_colour = rng.normal(0.0, 0.8, size=(patches, 3))
    sh0 = base_colour[which] + rng.normal(scale=0.15, size=(n, 3))
    k = SH_COEFFS_FOR_DEGREE[sh_degree]
    if k:
        band = np.repeat([1.0, 0.5, 0.25], [3, 5, 7])[:k]
        patch_sh = rng.normal(scale=0.2, size=(patches, k, 3))
        shN = (patch_sh[which] + rng.normal(scale=0.05, size=(n, k, 3))) * band[None, :, None]
    else:
        shN = np.zeros((n, 0, 3))
    return GaussianCloud(means=means, log_scales=log_scales, quats=quats, opacity_logits=opacity,
                         sh0=sh0, shN=shN, georeference=georeference)
