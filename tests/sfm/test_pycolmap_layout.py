"""The SfM output folder (written by sfm/layout.py, read by io/sfm_output.py): round trip, atomicity, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatkit.contracts import Georeference, Reconstruction
from splatkit.errors import ContractError, InputError
from splatkit.io.sfm_output import read_sfm_output, read_sfm_posed_images
from splatkit.sfm.layout import write_sfm_output
from splatkit.sfm.quality import reprojection_errors
from splatkit.sfm.undistort import undistort_to_pinhole
from tests.sfm.synthetic_scene import make_scene


def _scene(tmp_path: Path) -> tuple[Reconstruction, Reconstruction, Path]:
    geo = Georeference(lat=55.7, lon=13.2, alt=40.0)
    rec = make_scene(num_frames=4)
    rec = Reconstruction(cameras=rec.cameras, frames=rec.frames, points=rec.points, tracks=rec.tracks,
                         georeference=geo, source="synthetic")
    src = tmp_path / "photos"
    src.mkdir()
    for name in rec.frames.names:
        Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(src / name)
    staged = tmp_path / "staged"
    return rec, undistort_to_pinhole(rec, src, staged), staged


def test_written_folder_reads_back_as_a_colmap_scene(tmp_path: Path) -> None:
    rec, und, staged = _scene(tmp_path)
    report = {"georeference": {"applied": True, "residual_m": {"median": 1.0}}, "quality": {"points": len(rec.points)}}
    out = tmp_path / "out"
    files = write_sfm_output(out, distorted=rec, undistorted=und, undistorted_images=staged, report=report)

    assert files[0] == out / "sparse" / "0"
    assert {p.name for p in (out / "sparse" / "0").iterdir()} == {"cameras.bin", "images.bin", "points3D.bin"}
    assert (out / "distorted" / "sparse" / "0" / "images.bin").is_file()
    back, images = read_sfm_output(out)
    assert images == out / "images"
    assert back.georeference == rec.georeference
    assert back.frames.names == rec.frames.names and len(back.points) == len(rec.points)
    assert reprojection_errors(back).max() < 1e-6
    np.testing.assert_allclose(back.frames.rotation, rec.frames.rotation, atol=1e-12)
    posed = read_sfm_posed_images(out)
    assert posed.image_dir == out / "images"
    distorted, _ = read_sfm_output(out, distorted=True)
    assert distorted.cameras[0].model == "SIMPLE_RADIAL"
    georef = json.loads((out / "georef.json").read_text())
    assert georef["crs"] == "WGS84-ENU" and georef["reference"] == rec.georeference.to_dict()
    assert json.loads((out / "report.json").read_text())["layout_version"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_rewrite_replaces_the_whole_folder(tmp_path: Path) -> None:
    rec, und, staged = _scene(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old run")
    write_sfm_output(out, distorted=rec, undistorted=None, undistorted_images=None, report={})
    assert not (out / "stale.txt").exists()
    with pytest.raises(InputError, match="undistort=True"):
        read_sfm_output(out)
    assert json.loads((out / "georef.json").read_text())["crs"] == "WGS84-ENU"


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    rec, _, staged = _scene(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ContractError, match="non-pinhole"):
        write_sfm_output(out, distorted=rec, undistorted=rec, undistorted_images=staged, report={})
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_reading_a_missing_or_foreign_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run the SfM stage first"):
        read_sfm_output(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="images/ \\+ sparse/0"):
        read_sfm_output(tmp_path / "empty")


def test_ungeoreferenced_model_has_null_reference(tmp_path: Path) -> None:
    rec = make_scene(num_frames=3)
    out = tmp_path / "out"
    write_sfm_output(out, distorted=rec, undistorted=None, undistorted_images=None,
                     report={"georeference": {"applied": False, "reason": "no GPS"}})
    georef = json.loads((out / "georef.json").read_text())
    assert georef == {"layout_version": 1, "crs": None, "reference": None, "applied": False, "reason": "no GPS"}
    back, _ = read_sfm_output(out, distorted=True)
    assert back.georeference is None
