"""Tests of the example plugin: run them with ``pytest`` after ``pip install -e .``."""

import dataclasses
import logging

import numpy as np
import pytest

import splatkit_example_plugin as plugin
from splatkit import GaussianCloud, Georeference, StageError
from splatkit.plugins import PluginManager


def small_cloud(n: int = 1000, seed: int = 0) -> GaussianCloud:
    rng = np.random.default_rng(seed)
    return GaussianCloud(
        means=rng.normal(size=(n, 3)) * 100.0, log_scales=rng.normal(-3.0, 1.0, size=(n, 3)),
        quats=rng.normal(size=(n, 4)), opacity_logits=rng.normal(size=n), sh0=rng.normal(size=(n, 3)),
        shN=rng.normal(scale=0.1, size=(n, 3, 3)), georeference=Georeference(lat=46.5, lon=6.6, alt=400.0))


def test_found_through_its_entry_point():
    stages = PluginManager().stages  # what `splatkit compress --backend npz-half` will use
    assert stages.get("compress", "npz-half") is plugin.NpzHalfCompressor
    assert stages.origin("compress", "npz-half") == "my_plugin"


def test_round_trip_within_float16_precision(tmp_path):
    cloud = small_cloud()
    result = plugin.NpzHalfCompressor().run(cloud, plugin.NpzHalfConfig(), tmp_path)

    assert result.files == (tmp_path / "cloud.npz",) and result.files[0].is_file()
    assert result.output.source_count == len(cloud)
    decoded = plugin.decode_npz_half(result.output)
    assert np.array_equal(decoded.means, cloud.means)  # kept at float32 by default
    # float16 rounding: relative error <= 2**-11 (11-bit significand), and absolute error
    # <= 2**-25 below 2**-14, where float16 is subnormal with a spacing of 2**-24.
    for name in ("log_scales", "quats", "opacity_logits", "sh0", "shN"):
        np.testing.assert_allclose(getattr(decoded, name), getattr(cloud, name), rtol=2.0**-11, atol=2.0**-25)
    assert decoded.georeference == cloud.georeference
    assert result.report["ratio_vs_float32"] < 0.75


def test_runs_through_the_registry_like_the_cli(tmp_path):
    cloud, workdir = small_cloud(), tmp_path

    from splatkit.plugins import get_plugin_manager
    from splatkit.stages import config_from_mapping

    stages = get_plugin_manager().stages
    stage_cls = stages.require_available("compress", "npz-half")  # BackendUnavailableError + install hint
    config = config_from_mapping(stage_cls.Config, {"deflate": "false"}, where="--compress-option")
    result = stage_cls().run(cloud, config, workdir)

    assert config == plugin.NpzHalfConfig(deflate=False)
    assert plugin.decode_npz_half(result.output).means.shape == (len(cloud), 3)


def test_values_beyond_float16_are_an_error_not_inf(tmp_path):
    cloud = small_cloud()
    opacity = np.array(cloud.opacity_logits)
    opacity[3] = 1e6
    with pytest.raises(StageError, match="opacity_logits"):
        plugin.NpzHalfCompressor().run(dataclasses.replace(cloud, opacity_logits=opacity),
                                       plugin.NpzHalfConfig(), tmp_path)
    assert not (tmp_path / "cloud.npz").exists()


def test_finished_event_logs_a_metrics_line(caplog):
    manager = PluginManager()
    with caplog.at_level(logging.INFO, logger="splatkit_example_plugin"):
        manager.stage_finished("compress/npz-half", {"gaussians": 64}, 0.25, ["cloud.npz"])
    assert '"gaussians": 64' in caplog.text and '"stage": "compress/npz-half"' in caplog.text
