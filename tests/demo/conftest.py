"""Fixtures for the demo tests: the shipped demo flight, generated once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from splatkit.demo import DemoConfig, generate_demo_photos
from splatkit.demo.scene import DemoScene, build_scene


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the default demo: ``photos/`` and ``demo_ground_truth.json``."""
    out = tmp_path_factory.mktemp("demo")
    generate_demo_photos(out)
    return out


@pytest.fixture(scope="session")
def demo_scene() -> DemoScene:
    """The default demo's scene (rebuilt from its seed)."""
    return build_scene(DemoConfig().seed)
