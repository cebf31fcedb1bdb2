"""Fixtures: a plugin manager with the fake stages, and a small folder of photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from splatkit.plugins import PluginManager
from tests.pipeline.fakes import FakeSfM, FakeStagesPlugin, FakeTrainer, write_photos


@pytest.fixture
def manager() -> PluginManager:
    FakeSfM.runs = 0
    FakeTrainer.runs = 0
    FakeTrainer.resumed_from = []
    pm = PluginManager(load_entrypoints=False)
    pm.register(FakeStagesPlugin(), "fake-stages")
    return pm


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return write_photos(tmp_path / "photos")
