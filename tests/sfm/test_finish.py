"""The finishing step every SfM backend shares (sfm/finish.py), and both backends going through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from splatkit.contracts import ImageRecord, ImageSet, Reconstruction
from splatkit.errors import StageError
from splatkit.io.sfm_output import read_sfm_output, read_sfm_posed_images
from splatkit.sfm.finish import MODEL_ONLY_NOTE, FinishOptions, finish_reconstruction, finish_steps
from splatkit.sfm.opensfm_backend import OpenSfMConfig, OpenSfMImporter
from splatkit.sfm.pycolmap_backend import PycolmapConfig, PycolmapSfM
from splatkit.sfm.quality import reprojection_errors
from splatkit.sfm.steps import StageSteps
from splatkit.stages import ProgressUpdate, StageResult
from tests.sfm.synthetic_scene import make_scene
from tests.sfm.test_opensfm_backend import synthetic_dataset

#: What the finishing step adds to every backend's report (report.json also has ``layout_version``).
FINISH_KEYS = {"quality", "undistortion", "quality_undistorted", "timings_s", "notes"}


def _photos(rec: Reconstruction, folder: Path, extra: tuple[str, ...] = ()) -> ImageSet:
    """PNG photos of ``rec``'s frames (plus unregistered ``extra`` ones) as an ImageSet."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    cam = rec.cameras[0]
    records = []
    for name in (*rec.frames.names, *extra):
        Image.fromarray(rng.integers(0, 256, (cam.height, cam.width, 3), dtype=np.uint8)).save(folder / name)
        records.append(ImageRecord(name=name, path=folder / name, width=cam.width, height=cam.height))
    return ImageSet(records=tuple(records), root=folder, source=str(folder))


def _finish(rec: Reconstruction, images: ImageSet | Path, out: Path, names: tuple[str, ...],
            updates: list[ProgressUpdate] | None = None, **options: Any) -> StageResult[Reconstruction]:
    updates = [] if updates is None else updates
    undistort = options.get("undistort", True)
    steps = StageSteps("sfm/test", finish_steps(undistort), updates.append)
    report: dict[str, Any] = {"georeference": {"applied": True, "residual_m": {"median": 1.5}}, "notes": []}
    result = finish_reconstruction(rec, images, out, FinishOptions(min_points=10, **options), image_names=names,
                                   report=report, timings={"map": 1.0}, steps=steps, source="photos")
    steps.done()
    return result


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_finishing_writes_a_training_scene_and_the_shared_report(tmp_path: Path) -> None:
    rec = make_scene(num_frames=4)
    images = _photos(rec, tmp_path / "photos", extra=("lost.png",))
    updates: list[ProgressUpdate] = []
    result = _finish(rec, images, tmp_path / "out", images.names, updates)

    assert all(c.model == "PINHOLE" for c in result.output.cameras)
    assert reprojection_errors(result.output).max() < 1e-6
    report = result.report
    assert FINISH_KEYS <= set(report)
    assert report["quality"]["unregistered"] == ["lost.png"]
    assert report["quality"]["gps_residual_m"] == {"median": 1.5}
    assert set(report["timings_s"]) == {"map", "undistort", "write"}
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["quality"] == report["quality"] and written["layout_version"] == 1
    posed = read_sfm_posed_images(tmp_path / "out")
    assert posed.reconstruction.frames.names == rec.frames.names
    # Numbered 0, 1, then done at total.
    assert [(u.step, u.total) for u in updates] == [(0, 2), (1, 2), (2, 2)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_photos_from_an_image_set_or_a_folder_give_the_same_folder(tmp_path: Path) -> None:
    # The pycolmap backend hands over an ImageSet, the opensfm backend a folder.
    rec = make_scene(num_frames=4)
    images = _photos(rec, tmp_path / "photos")
    from_set = _finish(rec, images, tmp_path / "a", images.names)
    from_folder = _finish(rec, images.root, tmp_path / "b", images.names, exif_orientation=False)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    for name in _tree(tmp_path / "a"):
        if (tmp_path / "a" / name).is_file() and name != "report.json":
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert set(from_set.report) == set(from_folder.report)


def test_model_only_writes_no_images_and_says_so(tmp_path: Path) -> None:
    rec = make_scene(num_frames=4)
    updates: list[ProgressUpdate] = []
    result = _finish(rec, tmp_path / "nowhere", tmp_path / "out", rec.frames.names, updates, undistort=False)
    assert result.output is rec
    assert MODEL_ONLY_NOTE in result.report["notes"]
    assert "undistortion" not in result.report and "quality_undistorted" not in result.report
    assert _tree(tmp_path / "out")[:2] == ["distorted", "distorted/sparse"]
    assert not (tmp_path / "out" / "images").exists()
    back, _ = read_sfm_output(tmp_path / "out", distorted=True)
    assert back.frames.names == rec.frames.names
    assert [(u.step, u.total) for u in updates] == [(0, 1), (1, 1)]


def test_thin_model_and_missing_photos_fail_before_writing(tmp_path: Path) -> None:
    rec = make_scene(num_frames=4)
    images = _photos(rec, tmp_path / "photos", extra=("lost.png",))
    with pytest.raises(StageError, match="lost.png") as err:
        _finish(rec, images, tmp_path / "out", images.names, min_frames=5)
    assert err.value.stage == "sfm/test" and "need 5 images" in str(err.value)
    (images.root / rec.frames.names[1]).unlink()
    with pytest.raises(StageError, match="1 of the 4 registered images are missing") as err:
        _finish(rec, images.root, tmp_path / "out", images.names)
    assert "undistort=false" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_both_backends_finish_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pycolmap (its mapping replaced by a fixed model) and opensfm write the same layout and report keys."""
    rec = make_scene(num_frames=4)
    images = _photos(rec, tmp_path / "photos")

    def mapped(self: PycolmapSfM, image_set: ImageSet, config: PycolmapConfig, scratch: Path, steps: StageSteps,
               timings: dict[str, float], report: dict[str, Any], stage: str, source: str) -> Reconstruction:
        for message in ("extracting features", "matching", "incremental mapping", "georeferencing"):
            steps.next(message)
        report["georeference"] = {"applied": False, "reason": "test"}
        return rec

    monkeypatch.setattr(PycolmapSfM, "_run", mapped)
    updates: list[ProgressUpdate] = []
    colmap = PycolmapSfM().run(images, PycolmapConfig(min_points=10), tmp_path / "colmap", progress=updates.append)
    synthetic_dataset(tmp_path / "ds", size=(300, 400), photos=True)
    osfm = OpenSfMImporter().run(tmp_path / "ds", OpenSfMConfig(min_points=10), tmp_path / "osfm",
                                 progress=updates.append)

    for result in (colmap, osfm):
        assert FINISH_KEYS <= set(result.report)
        assert {"undistort", "write"} <= set(result.report["timings_s"])
        assert all(c.model == "PINHOLE" for c in result.output.cameras)
    layout = [p for p in _tree(tmp_path / "colmap") if not p.startswith("images/")]
    assert layout == [p for p in _tree(tmp_path / "osfm") if not p.startswith("images/")]
    for stage in ("sfm/pycolmap", "sfm/opensfm"):
        mine = [u for u in updates if u.stage == stage]
        assert [u.step for u in mine] == list(range(len(mine))) and mine[-1].step == mine[-1].total
