"""Small synthetic Gaussian clouds for contract checks: numpy only, deterministic per seed."""

from __future__ import annotations

import numpy as np

from splatkit.contracts import GaussianCloud, Georeference
from splatkit.contracts.gaussians import SH_COEFFS_FOR_DEGREE
from splatkit.errors import ContractError

__all__ = ["synthetic_cloud"]


def synthetic_cloud(n: int = 256, sh_degree: int = 1, seed: int = 0, *,
                    georeference: Georeference | None = None) -> GaussianCloud:
    """A random but plausible :class:`GaussianCloud` of ``n`` Gaussians.

    The cloud is deliberately asymmetric, so a reader that swaps axes, flips a sign or drops an
    offset moves its bounding box: centres are spread 8 x 4 x 2 units around ``(10, -5, 2)``.
    Every value is well inside float16's range, so lossy formats can store it.

    Parameters
    ----------
    n : int
        Number of Gaussians (0 is allowed: the contract accepts an empty cloud).
    sh_degree : int
        0..3; ``shN`` gets 0, 3, 8 or 15 coefficients per colour channel.
    seed : int
        Seeds numpy's generator: the same arguments give the same cloud.
    georeference : Georeference, optional
        The ENU origin to attach.

    Returns
    -------
    GaussianCloud
        ``means`` [n, 3], ``log_scales`` [n, 3] (about e^-3), ``quats`` [n, 4] (unit, w >= 0),
        ``opacity_logits`` [n], ``sh0`` [n, 3], ``shN`` [n, K, 3] (small, as after training).
    """
    if sh_degree not in SH_COEFFS_FOR_DEGREE:
        raise ContractError(f"sh_degree must be one of {sorted(SH_COEFFS_FOR_DEGREE)}, got {sh_degree!r}",
                            field="sh_degree", expected=sorted(SH_COEFFS_FOR_DEGREE), actual=sh_degree)
    if n < 0:
        raise ContractError(f"n must be >= 0, got {n}", field="n", actual=n)
    rng = np.random.default_rng(seed)
    quats = rng.normal(size=(n, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    quats *= np.where(quats[:, :1] < 0, -1.0, 1.0)  # w >= 0: q and -q are the same rotation
    return GaussianCloud(
        means=rng.uniform(-1.0, 1.0, (n, 3)) * [4.0, 2.0, 1.0] + [10.0, -5.0, 2.0],
        log_scales=rng.normal(-3.0, 0.5, (n, 3)),
        quats=quats,
        opacity_logits=rng.normal(0.0, 2.0, n),
        sh0=rng.normal(0.0, 0.5, (n, 3)),
        shN=rng.normal(0.0, 0.1, (n, SH_COEFFS_FOR_DEGREE[sh_degree], 3)),
        georeference=georeference,
    )
