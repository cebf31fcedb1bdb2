"""Write a legacy SOG v1 file with the real first SOGS release (PyPI ``sogs==1.0.0``) on the CPU.

``sogs`` 1.0.0 (Vincent Woo's SOGS, the tool PlayCanvas's ``sogs`` was forked from) imports two
CUDA-only packages for its two search steps: ``torchpq`` (k-means of the SH rest coefficients,
needs cupy) and ``plas`` (Parallel Linear Assignment Sorting; ``fraunhoferhhi/PLAS`` is not on
PyPI), and moves every tensor to CUDA. This script gives those imports CPU stand-ins with the same
call signatures, ``splatkit.compress.plas.sort_grid`` for the sort and a Lloyd k-means
(``scipy.cluster.vq.kmeans2``, Euclidean where torchpq's was Manhattan) for the palette, and makes
``Tensor.cuda()`` a no-op. Everything that decides the file format is ``sogs``'s own code:
reading the PLY, the log transform, the quaternion sign flip, the square crop, the 8/16-bit
quantization, the palette atlas and label images, the WebP files and ``meta.json``.

Which splat lands on which pixel and which palette entries exist depend on the stand-ins, so the
tests compare the decoded splats with the source PLY by position, never by index.

Usage::

    python -m tests.io.sog.sogs_v1_writer IN.ply OUT_DIR
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

__all__ = ["main", "sogs_available"]


def sogs_available() -> bool:
    """True when ``sogs`` (1.0.0) and torch are importable."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("sogs", "torch"))


def _install_cpu_stand_ins() -> None:
    import torch

    from splatkit.compress.plas import sort_grid

    def sort_with_plas(grid: torch.Tensor, improvement_break: float = 1e-4, verbose: bool = False):
        """PLAS's signature: ``[C, H, W]`` -> (sorted ``[C, H, W]``, indices ``[H, W]``)."""
        channels, height, width = grid.shape
        features = grid.permute(1, 2, 0).reshape(height * width, channels).double().numpy()
        order, _ = sort_grid(features, height, width, seed=0, device="cpu")
        indices = torch.from_numpy(order).reshape(height, width)
        return grid.reshape(channels, -1)[:, indices.flatten()].reshape(grid.shape), indices

    class KMeans:
        """torchpq's ``KMeans`` as sogs calls it: ``fit(data [dim, n]) -> labels [n]``, ``centroids [dim, k]``."""

        def __init__(self, n_clusters: int, distance: str = "euclidean", verbose: bool = False) -> None:
            self.n_clusters = n_clusters
            self.centroids: torch.Tensor | None = None

        def fit(self, data: torch.Tensor) -> torch.Tensor:
            from scipy.cluster.vq import kmeans2

            points = data.t().double().numpy()
            centroids, labels = kmeans2(points, self.n_clusters, iter=10, minit="++", seed=0)
            self.centroids = torch.from_numpy(centroids.astype(np.float32)).t().contiguous()
            return torch.from_numpy(labels.astype(np.int64))

    plas = types.ModuleType("plas")
    plas.sort_with_plas = sort_with_plas  # type: ignore[attr-defined]
    torchpq = types.ModuleType("torchpq")
    clustering = types.ModuleType("torchpq.clustering")
    clustering.KMeans = KMeans  # type: ignore[attr-defined]
    torchpq.clustering = clustering  # type: ignore[attr-defined]
    sys.modules.update({"plas": plas, "torchpq": torchpq, "torchpq.clustering": clustering})
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    ply, out = Path(args[0]), Path(args[1])
    _install_cpu_stand_ins()
    from sogs.sogs_compression import read_ply, run_compression

    out.mkdir(parents=True, exist_ok=True)
    run_compression(str(out), read_ply(str(ply)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
