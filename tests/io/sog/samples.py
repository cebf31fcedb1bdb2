"""Sample SOG files for the format contract checks: v2 bundled and unbundled, and the legacy v1 fixture.

``SogFormat`` reads but does not write (writing needs the encoder), so the contract checks of
:mod:`splatkit.testing` need samples: ``sog_samples(tmp_path)`` makes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.io.sog.fixtures import make_sog_v1

__all__ = ["V1_FIXTURE", "sog_samples"]

V1_FIXTURE = Path(make_sog_v1.__file__).resolve().parent / make_sog_v1.FOLDER


def sog_samples(folder: Path) -> list[Path]:
    """A v2 ``.sog`` (PLAS-padded, SH 1, georeferenced), a v2 folder (SH 0) and a copy of the v1 fixture."""
    from splatkit.compress.sog_encoder import SogEncodeOptions, encode_sog
    from splatkit.contracts import Georeference
    from splatkit.io.sog import write_sog
    from tests.compress.synthetic import synthetic_cloud

    folder.mkdir(parents=True, exist_ok=True)
    geo = Georeference(lat=52.5, lon=13.4, alt=34.0)
    bundled = encode_sog(synthetic_cloud(200, 1, seed=1, centre=(30.0, 0.0, -4.0), georeference=geo),
                         SogEncodeOptions(order="plas", device="cpu", webp_effort=0, iterations=2)).bundle
    unbundled = encode_sog(synthetic_cloud(150, 0, seed=2), SogEncodeOptions(device="cpu", webp_effort=0)).bundle
    legacy = folder / "legacy_v1"
    shutil.copytree(V1_FIXTURE, legacy)
    return [write_sog(bundled, folder / "scene.sog"), write_sog(unbundled, folder / "scene"), legacy]
