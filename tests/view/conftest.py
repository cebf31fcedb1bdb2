"""Fixtures of the viewer tests: Chromium (skipped when absent), small SOG/PLY files, a running server.

Browser tests carry the ``browser`` marker (registered here) and skip cleanly without Chromium
(Debian's ``chromium`` package; ``SPLATKIT_CHROMIUM`` points at another build).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from splatkit.contracts import GaussianCloud
from splatkit.view import ViewServer, resolve_source, serve
from tests.view.chromium import find_chromium
from tests.view.scenes import synthetic_cloud


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium (skipped when it is not installed)")


@pytest.fixture(scope="session")
def chromium() -> str:
    exe = find_chromium()
    if exe is None:
        pytest.skip("Chromium not installed (Debian: apt-get install chromium; or set SPLATKIT_CHROMIUM)")
    return exe


@pytest.fixture(scope="session")
def cloud() -> GaussianCloud:
    return synthetic_cloud(2000, sh_degree=3)


@pytest.fixture(scope="session")
def sog_file(cloud: GaussianCloud, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scene.sog`` written by splatkit's encoder from :func:`cloud` (small palette: quick k-means)."""
    from splatkit.compress.sog_encoder import SogEncodeOptions, encode_sog
    from splatkit.io.sog import write_sog

    encoding = encode_sog(cloud, SogEncodeOptions(palette_size=256, iterations=2, device="cpu"))
    return write_sog(encoding.bundle, tmp_path_factory.mktemp("sog") / "scene.sog")


@pytest.fixture(scope="session")
def ply_file(cloud: GaussianCloud, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from splatkit.io.ply import write_ply

    return write_ply(cloud, tmp_path_factory.mktemp("ply") / "point_cloud.ply")


@contextmanager
def running(path: Path) -> Iterator[ViewServer]:
    """A view server for ``path`` on a free port, stopped afterwards."""
    server = serve(resolve_source(path))
    server.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
