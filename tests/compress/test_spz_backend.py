"""The ``compress/spz`` stage: one run on a small cloud, its report, its options and its registration."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from splatkit.compress import spz_backend
from splatkit.compress.spz_backend import SPZ_MEMBER, SpzCompressor, SpzConfig
from splatkit.contracts import CompressedBundle, Georeference
from splatkit.errors import ContractError
from splatkit.io import spz
from splatkit.plugins.registry import FormatRegistry, StageRegistry
from splatkit.stages import ProgressUpdate, config_from_mapping
from splatkit.testing.stage_checks import check_stage_class, check_stage_run
from tests.compress.synthetic import synthetic_cloud


def test_registered_by_its_hook_and_passes_the_class_contract() -> None:
    registry = StageRegistry()
    spz_backend.splatkit_register_stages(registry)
    assert registry.get("compress", "spz") is SpzCompressor
    assert SpzCompressor.default_rank == 0                     # only when named: sog stays the default
    check_stage_class(SpzCompressor)


def test_run_writes_scene_spz_and_reports_the_loss(tmp_path: Path) -> None:
    cloud = synthetic_cloud(2000, 3, seed=4, centre=(10.0, -5.0, 2.0))
    formats = FormatRegistry()
    formats.add(spz.SpzFormat)
    updates: list[ProgressUpdate] = []
    result = check_stage_run(SpzCompressor, cloud, tmp_path / "work", formats=formats)
    result_again = SpzCompressor().run(cloud, SpzConfig(), tmp_path / "again", updates.append)
    assert updates[-1].step == updates[-1].total == 3

    bundle = result.output
    assert isinstance(bundle, CompressedBundle)
    assert (bundle.format, bundle.version, bundle.source_count) == ("spz", 3, 2000)
    assert list(bundle.members) == [SPZ_MEMBER]
    path = tmp_path / "work" / SPZ_MEMBER
    assert result.files == (path,) and path.read_bytes() == bundle.members[SPZ_MEMBER]
    assert result_again.output.members[SPZ_MEMBER] == bundle.members[SPZ_MEMBER]      # deterministic

    report = json.loads(json.dumps(result.report, allow_nan=False))
    assert report["format"] == "spz" and report["count"] == 2000 and report["sh_degree"] == 3
    assert report["bytes"] == path.stat().st_size
    assert report["ratio_vs_ply"] > 5                         # 248 B/splat PLY vs ~35 B/splat
    assert report["out_of_range"] == {"log_scales": 0, "sh0": 0, "shN": 0}
    errors = report["errors"]
    assert errors["position_max"] <= 2 ** -13 * 1.0001
    assert errors["log_scale_max"] <= 1 / 32 + 1e-6 and errors["opacity_max"] <= 0.5 / 255 + 1e-6
    assert errors["rotation_max_deg"] < 0.3 and errors["shN_max"] <= 8.5 / 128 + 1e-6
    decoded = spz.read_spz(path)
    assert np.abs(decoded.means - cloud.means).max() == pytest.approx(errors["position_max"])


def test_sh_cap_fractional_bits_and_flags(tmp_path: Path) -> None:
    cloud = synthetic_cloud(500, 3, seed=1)
    config = SpzConfig(sh_degree=1, fractional_bits=10, antialiased=True, verify=False)
    result = SpzCompressor().run(cloud, config, tmp_path)
    facts = spz.info(result.files[0])
    assert (facts["sh_degree"], facts["fractional_bits"], facts["antialiased"]) == (1, 10, True)
    assert result.report["sh_degree"] == 1 and result.report["source_sh_degree"] == 3
    assert result.report["errors"] == {}
    assert result.output.source_count == 500
    assert cloud.sh_degree == 3                               # the input is untouched


def test_georeference_is_reported_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cloud = synthetic_cloud(100, 0, georeference=Georeference(lat=1.0, lon=2.0, alt=3.0))
    with caplog.at_level(logging.WARNING, logger="splatkit.io.spz"):
        result = SpzCompressor().run(cloud, SpzConfig(), tmp_path)
    assert result.report["georeference_dropped"] is True
    assert "georeference" in caplog.text


def test_out_of_range_values_are_counted(tmp_path: Path) -> None:
    cloud = synthetic_cloud(100, 1, seed=2)
    scales = cloud.log_scales.copy()
    scales[:7, 0] = -12.0                                     # below SPZ's smallest scale byte
    result = SpzCompressor().run(dataclasses.replace(cloud, log_scales=scales), SpzConfig(), tmp_path)
    assert result.report["out_of_range"]["log_scales"] == 7
    assert result.report["errors"]["log_scale_max"] == pytest.approx(2.0)


def test_too_large_a_scene_names_the_fractional_bits_that_fit(tmp_path: Path) -> None:
    cloud = synthetic_cloud(100, 0, centre=(5000.0, 0.0, 0.0))
    with pytest.raises(ContractError, match="fractional_bits=10"):
        SpzCompressor().run(cloud, SpzConfig(), tmp_path / "a")
    assert not (tmp_path / "a" / SPZ_MEMBER).exists()
    assert SpzCompressor().run(cloud, SpzConfig(fractional_bits=10), tmp_path / "b").files


@pytest.mark.parametrize("options, match", [
    ({"version": 5}, "version"), ({"sh_degree": 4}, "sh_degree"), ({"fractional_bits": 30}, "fractional_bits"),
    ({"sh1_bits": 0}, "sh1_bits"), ({"sh_rest_bits": 9}, "sh_rest_bits"),
])
def test_bad_options_are_refused_when_the_config_is_built(options: dict, match: str) -> None:
    with pytest.raises(ContractError, match=match):
        SpzConfig(**options)
    with pytest.raises(ContractError, match=match):
        config_from_mapping(SpzConfig, {k: str(v) for k, v in options.items()})


def test_version_4_needs_zstandard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spz, "zstd_unavailable_reason", lambda: "needs the zstandard package: pip install zstandard")
    with pytest.raises(ContractError, match="pip install zstandard"):
        SpzConfig(version=4)


def test_wrong_input_or_config_type(tmp_path: Path) -> None:
    cloud = synthetic_cloud(10, 0)
    with pytest.raises(ContractError, match="GaussianCloud"):
        SpzCompressor().run("cloud.ply", SpzConfig(), tmp_path)
    with pytest.raises(ContractError, match="SpzConfig"):
        SpzCompressor().run(cloud, object(), tmp_path)
