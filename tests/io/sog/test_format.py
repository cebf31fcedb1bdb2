"""SogFormat: the format seam's contract (detect, describe, decode, damaged files) on v2 and v1 samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splatkit.io import sog
from splatkit.testing import check_format
from tests.io.sog.samples import sog_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return sog_samples(tmp_path_factory.mktemp("sog_samples"))


def test_sog_format_keeps_the_format_contract(samples: list[Path], tmp_path: Path) -> None:
    check_format(sog.SogFormat, tmp_path, samples)


def test_describe_is_info_with_the_type_first(samples: list[Path]) -> None:
    for path in samples:
        facts = sog.SogFormat().describe(path)
        assert list(facts)[0] == "type" and facts["type"] == "sog"
        assert {k: v for k, v in facts.items() if k != "type"} == sog.info(path)
        json.dumps(facts, allow_nan=False)
    bundled = sog.SogFormat().describe(samples[0])
    assert bundled["version"] == 2 and bundled["padding"] > 0 and bundled["georeference"]["lat"] == 52.5
    assert sog.SogFormat().describe(samples[2])["version"] == 1


def test_decode_is_read_then_decode(samples: list[Path]) -> None:
    for path in samples:
        assert sog.SogFormat().decode(path).equals(sog.decode_sog(sog.read_sog(path), source=path))


def test_sog_format_does_not_write_and_detects_only_sog_paths(samples: list[Path], tmp_path: Path) -> None:
    assert not sog.SogFormat.can_write()
    fmt = sog.SogFormat()
    assert all(fmt.detect(path) for path in samples)
    assert fmt.detect(samples[1] / "meta.json")
    (tmp_path / "notes.txt").write_text("x")
    assert not fmt.detect(tmp_path / "notes.txt") and not fmt.detect(tmp_path) and not fmt.detect(tmp_path / "none")
