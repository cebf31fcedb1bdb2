"""Tests of the example plugin: run them with ``pytest`` after ``pip install -e .``."""

import dataclasses
import logging

import numpy as np
import pytest
from PIL import Image

import splatkit_example_plugin as plugin
from splatkit import Camera, Frames, GaussianCloud, Georeference, Points, Reconstruction, StageError, Tracks
from splatkit.io.colmap import write_colmap_model
from splatkit.plugins import PluginManager
from splatkit.testing import check_format, check_stage_class, check_stage_run, synthetic_cloud


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


def test_the_stages_and_the_format_keep_splatkits_contract(tmp_path):
    # The checks every built-in backend and format passes (splatkit.testing).
    manager = PluginManager()
    check_stage_class(plugin.NpzHalfCompressor)
    check_stage_run(plugin.NpzHalfCompressor, synthetic_cloud(500, sh_degree=2), tmp_path / "compress",
                    formats=manager.formats)
    check_format(plugin.NpzHalfFormat, tmp_path / "format", formats=manager.formats)
    check_stage_class(plugin.ColmapSceneImporter)
    check_stage_run(plugin.ColmapSceneImporter, colmap_scene(tmp_path / "scene"), tmp_path / "sfm")


def test_info_and_decompress_find_the_format_through_the_registry(tmp_path):
    result = plugin.NpzHalfCompressor().run(small_cloud(), plugin.NpzHalfConfig(), tmp_path)
    formats = PluginManager().formats
    assert formats.detect(result.files[0]) is plugin.NpzHalfFormat
    info = plugin.NpzHalfFormat().describe(result.files[0])
    assert info["type"] == "npz-half" and info["gaussians"] == 1000 and info["sh_degree"] == 1
    assert plugin.NpzHalfFormat().decode(result.files[0]).georeference == Georeference(lat=46.5, lon=6.6, alt=400.0)


def colmap_scene(folder, *, num_points=150):
    """A COLMAP scene as ``colmap image_undistorter`` leaves it: images/ + sparse/0, PINHOLE."""
    rng = np.random.default_rng(0)
    width, height, focal = 64, 48, 60.0
    names = tuple(f"frame_{i}.png" for i in range(4))
    centres = np.array([[0.5 * i, 0.0, 0.0] for i in range(len(names))])
    xyz = rng.uniform([-1.0, -1.0, 4.0], [2.5, 1.0, 6.0], size=(num_points, 3))
    cam = xyz[None] - centres[:, None]  # identity rotations: camera frame = world frame shifted
    uv = focal * cam[..., :2] / cam[..., 2:] + [width / 2, height / 2]
    inside = (uv >= 0).all(axis=-1) & (uv < [width, height]).all(axis=-1)
    seen = inside.sum(axis=0) >= 2
    frame_index, point_index = np.nonzero(inside[:, seen])
    rec = Reconstruction(
        cameras=(Camera(model="PINHOLE", width=width, height=height, params=[focal, focal, width / 2, height / 2]),),
        frames=Frames(names=names, camera_index=np.zeros(len(names), np.int32),
                      rotation=np.tile(np.eye(3), (len(names), 1, 1)), translation=-centres),
        points=Points(xyz=xyz[seen], rgb=np.full((int(seen.sum()), 3), 128, np.uint8), error=np.zeros(int(seen.sum()))),
        tracks=Tracks(point_index=point_index, frame_index=frame_index, xy=uv[:, seen][frame_index, point_index]),
    )
    write_colmap_model(rec, folder / "sparse" / "0")
    (folder / "images").mkdir(parents=True)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(folder / "images" / name)
    return folder


def test_a_colmap_scene_becomes_a_training_scene(tmp_path):
    from splatkit.io.sfm_output import read_sfm_posed_images

    result = plugin.ColmapSceneImporter().run(colmap_scene(tmp_path / "scene"), plugin.ColmapSceneConfig(),
                                              tmp_path / "sfm")
    posed = read_sfm_posed_images(tmp_path / "sfm")  # what the training stage reads
    assert posed.reconstruction.frames.names == result.output.frames.names
    assert result.report["quality"]["reprojection_error_px"]["max"] < 1e-6


def test_a_distorted_scene_is_refused_with_the_fix(tmp_path):
    scene = colmap_scene(tmp_path / "scene")
    from splatkit.io.colmap import read_colmap_model

    rec = read_colmap_model(scene / "sparse" / "0")
    radial = Camera(model="SIMPLE_RADIAL", width=64, height=48, params=[60.0, 32.0, 24.0, 0.01])
    write_colmap_model(dataclasses.replace(rec, cameras=(radial,)), scene / "sparse" / "0")
    with pytest.raises(StageError, match="colmap image_undistorter"):
        plugin.ColmapSceneImporter().run(scene, plugin.ColmapSceneConfig(), tmp_path / "sfm")
    assert not (tmp_path / "sfm").exists()
