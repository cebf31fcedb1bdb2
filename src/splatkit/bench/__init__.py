"""``splatkit bench``: one benchmark suite for a laptop CPU, a lent GPU and a SageMaker training job.

A named scene (:mod:`splatkit.bench.scenes`) runs through the real pipeline
(:func:`splatkit.pipeline.runner.run`: SfM, training, compression) with a named preset, and the
run is recorded as one JSON document (:mod:`splatkit.bench.schema`): the machine
(:mod:`splatkit.bench.environment`), per-stage wall times, steps/s, peak memory, Gaussians,
held-out PSNR/SSIM and the training curve from the training report, and the ``.sog`` size and
render PSNR from the compression report. :mod:`splatkit.bench.costs` turns such records into
dollars per job and projects a measured GPU onto a T4 or an A10G.

Importing this package imports nothing heavy (no torch, pycolmap, gsplat or boto3).
"""

from __future__ import annotations

__all__: list[str] = []
