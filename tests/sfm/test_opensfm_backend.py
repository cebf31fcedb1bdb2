"""The ``sfm/opensfm`` stage: real OpenSfM outputs, a synthetic exact scene, errors, registration."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from splatkit.contracts import Georeference, ImageRecord, ImageSet, PosedImages, Reconstruction
from splatkit.errors import BackendUnavailableError, ContractError, InputError, StageError
from splatkit.io.sfm_output import read_sfm_output
from splatkit.plugins import PluginManager
from splatkit.sfm.georeference import lla_to_enu
from splatkit.sfm.opensfm_backend import (
    OpenSfMConfig,
    OpenSfMImporter,
    find_opensfm_command,
)
from splatkit.sfm.quality import reprojection_errors
from splatkit.sfm.undistort import pinhole_camera_for
from splatkit.stages import config_from_mapping
from splatkit.train.backends import load_posed_images
from tests.conftest import dataset
from tests.sfm.test_opensfm_camera_conversion import opensfm_project

REAL = [
    # (dataset, config, folder of its photos (None: <dataset>/images), shots, points in the chosen partial)
    ("opensfm-outputs/berlin", {}, "opensfm-berlin/data/berlin/images", 3, 1668),
    ("opensfm-outputs/lund", {}, "opensfm-lund/data/lund/images", 15, 2675),
    ("opensfm-outputs/lund", {"reconstruction_index": 1}, "opensfm-lund/data/lund/images", 7, 507),
    ("opensfm-outputs/lund", {"reconstruction_index": 2}, "opensfm-lund/data/lund/images", 6, 636),
    ("opensfm-berlin/data/berlin",
     {"reconstruction_file": "reconstruction_example.json", "tracks_file": "tracks_example.csv"}, None, 3, 1430),
]
REAL_IDS = ["berlin", "lund-0", "lund-1", "lund-2", "berlin-example"]
#: CI has 2 cores: undistort to small images (berlin's photos are 3264x2448).
FAST = {"undistort_max_size": 800}


def _config(options: dict, images: str | None = None, **more: object) -> OpenSfMConfig:
    if images is not None:
        options = {**options, "images_dir": str(dataset(images))}
    return config_from_mapping(OpenSfMConfig, {**options, **more})


def _pycolmap_errors(model_dir: Path) -> tuple[object, np.ndarray]:
    """Load a written model with pycolmap and reproject every observation with pycolmap's cameras."""
    import pycolmap

    rec = pycolmap.Reconstruction(str(model_dir))
    errs = []
    for image in rec.images.values():
        for p2d in image.points2D:
            if p2d.has_point3D():
                proj = image.project_point(rec.points3D[p2d.point3D_id].xyz)
                errs.append(np.linalg.norm(np.asarray(proj) - np.asarray(p2d.xy)))
    return rec, np.array(errs)


def _check_training_scene(work: Path, report: dict, *, max_size: int = 0) -> PosedImages:
    """The folder is the documented layout, and the training stage accepts it."""
    posed = load_posed_images(work).validate()  # every image present, sizes == cameras
    rec = posed.reconstruction
    assert all(c.model == "PINHOLE" for c in rec.cameras)
    if max_size:
        assert all(max(c.width, c.height) <= max_size for c in rec.cameras)
    assert {p.name for p in work.iterdir()} >= {"images", "sparse", "distorted", "report.json", "georef.json"}
    on_disk = json.loads((work / "report.json").read_text())
    assert on_disk["layout_version"] == 1
    assert set(on_disk) >= {"backend", "source", "config", "quality", "quality_undistorted", "georeference",
                            "undistortion", "timings_s", "notes"}
    assert on_disk["quality"] == json.loads(json.dumps(report["quality"]))
    assert not [p for p in work.parent.iterdir() if p.name.startswith(f".{work.name}.")], "temp folders left"
    return posed


@pytest.mark.parametrize(("name", "options", "images", "shots", "points_in_file"), REAL, ids=REAL_IDS)
def test_real_opensfm_outputs_become_training_scenes(tmp_path, name, options, images, shots, points_in_file):
    pycolmap = pytest.importorskip("pycolmap")
    folder = dataset(name)
    work = tmp_path / "work"
    result = OpenSfMImporter().run(folder, _config(options, images, **FAST), work)
    rec, report = result.output, result.report
    q = report["quality"]
    json.dumps(report)
    assert isinstance(rec, Reconstruction)
    rec.validate()
    assert len(rec.frames) == q["images_registered"] == shots
    assert report["points_in_file"] == points_in_file
    assert 100 <= len(rec.points) == q["points"] <= points_in_file
    assert q["points"] + report["points_dropped_short_tracks"] + report["points_nonfinite"] == points_in_file
    assert rec.tracks.lengths(len(rec.points)).min() >= 2
    assert rec.georeference is not None and report["frame"] == "ENU"
    assert q["reprojection_error_px"]["median"] < 2.0
    assert result.files[0] == work / "sparse" / "0"

    # distorted/sparse/0: pycolmap reads it and, with its own camera models, agrees with our errors.
    loaded, errs = _pycolmap_errors(work / "distorted" / "sparse" / "0")
    assert loaded.num_reg_images() == shots and loaded.num_points3D() == len(rec.points)
    assert len(errs) == len(rec.tracks)
    assert np.median(errs) == pytest.approx(q["reprojection_error_px"]["median"], abs=1e-6)
    assert isinstance(loaded, pycolmap.Reconstruction) and loaded.is_valid()

    # sparse/0 + images/: PINHOLE, sizes match, the moved observations still reproject.
    posed = _check_training_scene(work, report, max_size=800)
    assert posed.reconstruction.frames.names == rec.frames.names
    _, und_errs = _pycolmap_errors(work / "sparse" / "0")
    assert len(und_errs) == len(rec.tracks) and np.median(und_errs) < 2.0
    assert np.median(und_errs) == pytest.approx(report["quality_undistorted"]["reprojection_error_px"]["median"],
                                                abs=1e-6)
    georef = json.loads((work / "georef.json").read_text())
    assert georef["crs"] == "WGS84-ENU" and georef["reference"] == rec.georeference.to_dict()
    assert georef["method"] == "opensfm_topocentric" and georef["applied"] is False


@pytest.mark.parametrize(("name", "options", "images", "shots", "points_in_file"), REAL, ids=REAL_IDS)
def test_unfiltered_real_tracks_reproject_below_two_pixels(tmp_path, name, options, images, shots, points_in_file):
    """Without the outlier filter, the median error checks the conventions (units, pixel centres, poses).

    Also the model-only mode: ``undistort=False`` needs no photos and writes no training scene.
    """
    pytest.importorskip("pycolmap")
    config = _config(options, max_reprojection_error=0.0, undistort=False)
    result = OpenSfMImporter().run(dataset(name), config, tmp_path / "work")
    assert result.report["observations_over_max_error"] == 0
    assert result.files[0] == tmp_path / "work" / "distorted" / "sparse" / "0"
    assert not (tmp_path / "work" / "sparse").exists() and not (tmp_path / "work" / "images").exists()
    assert any("undistort=False" in n for n in result.report["notes"])
    _, errs = _pycolmap_errors(tmp_path / "work" / "distorted" / "sparse" / "0")
    assert len(errs) == len(result.output.tracks)
    assert np.median(errs) < 2.0


def test_full_resolution_undistortion_keeps_the_reprojection_error(tmp_path):
    """lund partial 0 at full size: moving the observations with the lens keeps them where the points project
    (OpenSfM's own ``undistort`` keeps the distorted observations instead)."""
    result = OpenSfMImporter().run(dataset("opensfm-outputs/lund"), _config({}, "opensfm-lund/data/lund/images"),
                                   tmp_path / "work")
    before = result.report["quality"]["reprojection_error_px"]
    after = result.report["quality_undistorted"]["reprojection_error_px"]
    assert after["median"] == pytest.approx(before["median"], abs=0.05)
    assert after["p95"] == pytest.approx(before["p95"], rel=0.1)
    crop = result.report["undistortion"][0]
    assert crop["from"]["model"] in ("RADIAL", "SIMPLE_RADIAL") and crop["to"]["model"] == "PINHOLE"
    assert crop["scale"] == 1.0 and crop["to"]["params"][0] == pytest.approx(crop["from"]["params"][0])
    _check_training_scene(tmp_path / "work", result.report)


def test_berlin_frame_is_enu_around_reference_lla(tmp_path):
    """OpenSfM's gps_position equals our ENU of the EXIF GPS around reference_lla: the frames agree."""
    folder = dataset("opensfm-outputs/berlin")
    ref = json.loads((folder / "reference_lla.json").read_text())
    recon = json.loads((folder / "reconstruction.json").read_text())[0]
    georef = Georeference(lat=ref["latitude"], lon=ref["longitude"], alt=ref["altitude"])
    for name, shot in recon["shots"].items():
        gps = json.loads((folder / "exif" / f"{name}.exif").read_text())["gps"]
        enu = lla_to_enu(np.array([gps["latitude"]]), np.array([gps["longitude"]]), np.array([gps["altitude"]]),
                         georef)[0]
        np.testing.assert_allclose(enu, shot["gps_position"], atol=0.01)
    result = OpenSfMImporter().run(folder, _config({}, undistort=False), tmp_path / "work")
    geo = result.report["georeference"]
    assert geo["images_with_gps"] == 3 and set(geo["per_image_residual_m"]) == {"01.jpg", "02.jpg", "03.jpg"}
    # iPhone GPS (GPSDOP 5 m): camera centres within metres of their fixes, as the brief measured (1.5-3.6 m).
    assert 0.5 < geo["residual_m"]["median"] < 10.0
    assert result.report["quality"]["gps_residual_m"] == geo["residual_m"]


def test_missing_photos_are_a_stage_error_and_write_nothing(tmp_path):
    work = tmp_path / "work"
    with pytest.raises(StageError) as err:
        OpenSfMImporter().run(dataset("opensfm-outputs/lund"), OpenSfMConfig(), work)
    msg = str(err.value)
    assert err.value.stage == "sfm/opensfm"
    assert "images_dir" in msg and "undistort=false" in msg and "15 of the 15" in msg
    assert not work.exists()
    assert [p.name for p in tmp_path.iterdir()] == []
    # Some photos present, some not: the missing ones are named.
    partial = tmp_path / "some"
    partial.mkdir()
    with pytest.raises(StageError, match="lacks them"):
        OpenSfMImporter().run(dataset("opensfm-outputs/lund"), OpenSfMConfig(images_dir=str(partial)), work)


def test_lund_reports_the_other_partials_and_unregistered_images(tmp_path):
    report = OpenSfMImporter().run(dataset("opensfm-outputs/lund"), OpenSfMConfig(undistort=False), tmp_path).report
    assert report["reconstruction_index"] == 0 and report["reconstructions_in_file"] == 3
    assert [(o["index"], o["shots"], o["points"]) for o in report["other_reconstructions"]] == [
        (1, 7, 507), (2, 6, 636)]
    assert report["quality"]["images_given"] == 29
    assert len(report["quality"]["unregistered"]) == 14
    assert report["quality"]["mean_track_length"] >= 2.0
    assert any("not merged" in n for n in report["notes"])


def test_too_thin_model_is_a_stage_error_naming_missing_shots(tmp_path):
    folder = dataset("opensfm-outputs/lund")
    with pytest.raises(StageError) as err:
        OpenSfMImporter().run(folder, OpenSfMConfig(reconstruction_index=1, min_points=1000), tmp_path)
    msg = str(err.value)
    assert err.value.stage == "sfm/opensfm"
    assert "01.jpg" in msg and "reconstruction_index" in msg and "1000 points" in msg
    assert not (tmp_path / "sparse").exists()


def test_colmap_export_input_is_refused(tmp_path):
    export = dataset("opensfm-outputs/berlin/colmap_export")
    with pytest.raises(InputError) as err:
        OpenSfMImporter().run(export, OpenSfMConfig(), tmp_path)
    assert type(err.value) is InputError
    assert "export_colmap" in str(err.value) and "tracks.csv" in str(err.value)


# --- a synthetic scene with exact observations -------------------------------------------------


def _look_at_rotvec(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(scale=0.05, size=3) + np.array([np.pi, 0.0, 0.0])  # roughly looking down


#: Each shot's gps_position is its camera centre moved by this (1 m): the GPS residual to expect.
GPS_OFFSET = np.array([0.6, 0.8, 0.0])


def synthetic_dataset(folder: Path, *, reference_in_file: bool = True, size: tuple[int, int] = (3000, 4000),
                       photos: bool = False) -> dict:
    """An OpenSfM folder whose tracks are exact projections (OpenSfM's brown model, portrait images).

    With ``photos``, ``images/`` holds the registered photos (random texture); ``img_1.jpg`` is
    stored landscape with EXIF Orientation 6, which OpenSfM ignores (its coordinates are in the
    stored pixel grid) -- so must the undistortion.
    """
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(3)
    w, h = size
    cam = {"projection_type": "brown", "width": w, "height": h, "focal_x": 0.7, "focal_y": 0.705,
           "c_x": 0.011, "c_y": -0.008, "k1": -0.09, "k2": 0.02, "p1": 0.0008, "p2": -0.0006, "k3": 0.001}
    shots, poses = {}, {}
    for i in range(4):
        rv = _look_at_rotvec(rng)
        centre = np.array([i * 5.0, rng.uniform(-1, 1), 40.0])
        R = Rotation.from_rotvec(rv).as_matrix()
        t = -R @ centre
        shots[f"img_{i}.jpg"] = {"rotation": rv.tolist(), "translation": t.tolist(), "camera": "c1",
                                 "gps_position": (centre + GPS_OFFSET).tolist()}
        poses[f"img_{i}.jpg"] = (R, t)
    xyz = np.column_stack([rng.uniform(-5, 20, 60), rng.uniform(-10, 10, 60), rng.uniform(-2, 2, 60)])
    points = {str(100 + p): {"coordinates": xyz[p].tolist(), "color": [1.0, 2.0, 250.6]} for p in range(60)}
    lines = []
    for name, (R, t) in poses.items():
        xn = opensfm_project(cam, (xyz @ R.T) + t)
        for p in range(60):
            if p == 0 and name != "img_0.jpg":
                continue  # point 100 is seen once: dropped
            x, y = float(xn[p, 0]), float(xn[p, 1])
            if p == 1 and name == "img_1.jpg":
                x += 10.0 / max(w, h)  # a 10 px outlier, as tracks.csv keeps BA-rejected observations
            lines.append(f"{name}\t{100 + p}\t{p}\t{x!r}\t{y!r}\t0.001\t1\t2\t3")
    lines.append("img_9.jpg\t105\t7\t0.1\t0.1\t0.001\t1\t2\t3")  # a shot outside the reconstruction
    lines.append("img_0.jpg\t999\t8\t0.1\t0.1\t0.001\t1\t2\t3")  # a track that was never triangulated
    ref = {"latitude": 47.1, "longitude": 8.2, "altitude": 400.0}
    recon = {"cameras": {"c1": cam}, "shots": shots, "points": points}
    if not reference_in_file:
        recon["reference_lla"] = ref
    other = {"cameras": {"c1": cam}, "shots": {"img_9.jpg": shots["img_0.jpg"]}, "points": {}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reconstruction.json").write_text(json.dumps([other, recon]))
    (folder / "tracks.csv").write_text("OPENSFM_TRACKS_VERSION_v1\n" + "\n".join(lines) + "\n")
    if reference_in_file:
        (folder / "reference_lla.json").write_text(json.dumps(ref))
    if photos:
        from PIL import Image

        (folder / "images").mkdir()
        for name in poses:
            texture = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
            image = Image.fromarray(texture).resize((w, h), Image.BILINEAR)
            if name == "img_1.jpg":
                exif = Image.Exif()
                exif[0x0112] = 6  # "rotate 90 CW to view": upright it would be h x w
                image.save(folder / "images" / name, exif=exif.tobytes())
            else:
                image.save(folder / "images" / name)
    return {"poses": poses, "xyz": xyz}


@pytest.mark.parametrize("reference_in_file", [True, False])
def test_synthetic_scene_converts_exactly(tmp_path, reference_in_file):
    truth = synthetic_dataset(tmp_path / "ds", reference_in_file=reference_in_file)
    result = OpenSfMImporter().run(tmp_path / "ds", OpenSfMConfig(min_points=10, undistort=False), tmp_path / "work")
    rec, report = result.output, result.report
    assert report["reconstruction_index"] == 1  # the largest, not the first
    assert report["tracks_version"] == 1
    assert rec.frames.names == ("img_0.jpg", "img_1.jpg", "img_2.jpg", "img_3.jpg")
    assert rec.cameras[0].model == "FULL_OPENCV"
    for f, name in enumerate(rec.frames.names):
        R, t = truth["poses"][name]
        np.testing.assert_allclose(rec.frames.rotation[f], R, atol=1e-12)
        np.testing.assert_allclose(rec.frames.translation[f], t, atol=1e-12)
    np.testing.assert_allclose(rec.points.xyz, truth["xyz"][1:])
    np.testing.assert_array_equal(rec.points.rgb[0], [1, 2, 251])
    assert report["points_dropped_short_tracks"] == 1
    assert report["observations_over_max_error"] == 1
    assert report["observations_outside_model"] == 2
    assert len(rec.tracks) == 59 * 4 - 1
    assert np.max(reprojection_errors(rec)) < 1e-6
    assert report["quality"]["reprojection_error_px"]["max"] < 1e-6
    assert rec.georeference is not None and rec.georeference.to_dict() == {"lat": 47.1, "lon": 8.2, "alt": 400.0}
    assert report["quality"]["images_given"] == 5 and report["quality"]["unregistered"] == ["img_9.jpg"]
    assert report["georeference"]["residual_m"]["max"] == pytest.approx(1.0)
    # pycolmap agrees that the observations are exact.
    pytest.importorskip("pycolmap")
    _, errs = _pycolmap_errors(tmp_path / "work" / "distorted" / "sparse" / "0")
    assert errs.max() < 1e-6


def test_synthetic_scene_becomes_an_exact_training_scene(tmp_path):
    """Same layout as sfm/pycolmap: PINHOLE images + model whose moved observations are still exact."""
    synthetic_dataset(tmp_path / "ds", size=(300, 400), photos=True)
    work = tmp_path / "work"
    result = OpenSfMImporter().run(tmp_path / "ds", OpenSfMConfig(min_points=10), work)
    assert result.files == (work / "sparse" / "0", work / "images", work / "report.json", work / "georef.json")
    report = result.report
    posed = _check_training_scene(work, report)
    und = posed.reconstruction
    assert und.frames.names == ("img_0.jpg", "img_1.jpg", "img_2.jpg", "img_3.jpg")
    distorted, _ = read_sfm_output(work, distorted=True)
    assert distorted.cameras[0].model == "FULL_OPENCV"
    # Cropped to valid pixels of the stored (portrait) grid: an EXIF-rotated img_1.jpg would not fit it.
    pinhole = pinhole_camera_for(distorted.cameras[0]).pinhole
    assert (und.cameras[0].width, und.cameras[0].height) == (pinhole.width, pinhole.height)
    assert und.cameras[0].height > und.cameras[0].width
    assert reprojection_errors(und).max() < 1e-6
    assert report["quality_undistorted"]["reprojection_error_px"]["max"] < 1e-6
    assert report["quality"]["images_given"] == 4 and report["images_dir"] == str(tmp_path / "ds" / "images")
    np.testing.assert_array_equal(distorted.points.xyz, und.points.xyz)
    georef = json.loads((work / "georef.json").read_text())
    assert georef["reference"] == {"lat": 47.1, "lon": 8.2, "alt": 400.0} and georef["crs"] == "WGS84-ENU"
    assert georef["method"] == "opensfm_topocentric" and georef["residual_m"]["median"] == pytest.approx(1.0)
    pytest.importorskip("pycolmap")
    _, errs = _pycolmap_errors(work / "sparse" / "0")
    assert errs.max() < 1e-6


def test_resized_photos_are_refused(tmp_path):
    synthetic_dataset(tmp_path / "ds", size=(300, 400), photos=True)
    from PIL import Image

    Image.new("RGB", (150, 200)).save(tmp_path / "ds" / "images" / "img_2.jpg")
    with pytest.raises(InputError, match="resized after SfM"):
        OpenSfMImporter().run(tmp_path / "ds", OpenSfMConfig(min_points=10), tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_reconstruction_json_file_as_input_and_missing_tracks(tmp_path):
    synthetic_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "reconstruction.json").rename(tmp_path / "ds" / "other_name.json")
    result = OpenSfMImporter().run(tmp_path / "ds" / "other_name.json", OpenSfMConfig(min_points=10, undistort=False),
                                   tmp_path / "w")
    assert len(result.output.frames) == 4
    (tmp_path / "ds" / "tracks.csv").unlink()
    with pytest.raises(InputError, match="tracks.csv is missing"):
        OpenSfMImporter().run(tmp_path / "ds" / "other_name.json", OpenSfMConfig(min_points=10, undistort=False),
                              tmp_path / "w")
    synthetic_dataset(tmp_path / "ds2")
    with pytest.raises(InputError, match="reconstruction_index=5 is out of range"):
        OpenSfMImporter().run(tmp_path / "ds2", OpenSfMConfig(reconstruction_index=5), tmp_path / "w2")


# --- photos, the opensfm command, registration --------------------------------------------------


def _image_set(root: Path) -> ImageSet:
    root.mkdir(parents=True, exist_ok=True)
    recs = []
    for i in range(3):
        (root / f"p{i}.jpg").write_bytes(b"")
        recs.append(ImageRecord(name=f"p{i}.jpg", path=root / f"p{i}.jpg", width=64, height=48))
    return ImageSet(records=tuple(recs), root=root)


def test_photos_without_run_opensfm_are_a_stage_error(tmp_path):
    with pytest.raises(StageError, match="run_opensfm=true"):
        OpenSfMImporter().run(_image_set(tmp_path / "photos"), OpenSfMConfig(), tmp_path / "w")


def test_run_opensfm_without_the_command_is_backend_unavailable(tmp_path):
    config = OpenSfMConfig(run_opensfm=True, opensfm_command="splatkit-no-such-opensfm")
    with pytest.raises(BackendUnavailableError, match="not on PATH") as err:
        OpenSfMImporter().run(_image_set(tmp_path / "photos"), config, tmp_path / "w")
    assert err.value.kind == "sfm" and err.value.name == "opensfm"


def _fake_opensfm(bin_dir: Path, source: Path) -> Path:
    """A stand-in ``opensfm`` CLI that 'reconstructs' by copying a finished dataset's files."""
    bin_dir.mkdir(parents=True)
    script = bin_dir / "opensfm"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$1" >> "$2/steps.log"\n'
        f'if [ "$1" = reconstruct ]; then cp "{source}/reconstruction.json" "{source}/tracks.csv" "$2/"; fi\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_opensfm_command_detection(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_opensfm_command() is None
    script = _fake_opensfm(tmp_path / "bin", tmp_path)
    assert find_opensfm_command() == str(script)


def test_run_opensfm_with_a_fake_command(tmp_path, monkeypatch):
    synthetic_dataset(tmp_path / "made")
    _fake_opensfm(tmp_path / "bin", tmp_path / "made")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    photos = _image_set(tmp_path / "photos")
    # The fake "reconstructs" other images than the photos: model only (undistortion would need them).
    config = OpenSfMConfig(run_opensfm=True, min_points=10, undistort=False)
    result = OpenSfMImporter().run(photos, config, tmp_path / "w")
    # The OpenSfM dataset it built is kept in the output folder, beside the layout.
    steps = (tmp_path / "w" / "opensfm" / "steps.log").read_text().split()
    assert steps == ["extract_metadata", "detect_features", "match_features", "create_tracks", "reconstruct"]
    assert sorted(p.name for p in (tmp_path / "w" / "opensfm" / "images").iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert (tmp_path / "w" / "distorted" / "sparse" / "0" / "images.bin").is_file()
    assert result.report["quality"]["images_given"] == 3 and len(result.output.frames) == 4


def test_config_rejects_bad_values():
    with pytest.raises(ContractError, match="undistort_max_size"):
        OpenSfMConfig(undistort_max_size=-1)
    config = config_from_mapping(OpenSfMConfig, {"undistort": "false", "undistort_max_size": "640"})
    assert config.undistort is False and config.undistort_max_size == 640


def test_stage_is_registered_through_the_hook():
    pm = PluginManager(builtins=("splatkit.sfm.opensfm_backend",), load_entrypoints=False)
    assert pm.stages.get("sfm", "opensfm") is OpenSfMImporter
    assert OpenSfMImporter.is_available()


def test_written_model_round_trips_through_splatkit_colmap_writer(tmp_path):
    config = _config({"reconstruction_index": 2}, "opensfm-lund/data/lund/images", **FAST)
    result = OpenSfMImporter().run(dataset("opensfm-outputs/lund"), config, tmp_path / "w")
    from splatkit.io.colmap import read_colmap_model

    back = read_colmap_model(tmp_path / "w" / "sparse" / "0")
    assert back.frames.names == result.output.frames.names
    np.testing.assert_allclose(back.points.xyz, result.output.points.xyz)
    # Same observations (moved into the undistorted images), whatever the order the files hold them in.
    for got, want in zip(_observations(back), _observations(result.output)):
        np.testing.assert_allclose(got, want)


def _observations(rec: Reconstruction) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, frame, xy) of every observation, sorted by point then frame."""
    order = np.lexsort((rec.tracks.frame_index, rec.tracks.point_index))
    return rec.tracks.point_index[order], rec.tracks.frame_index[order], rec.tracks.xy[order]


def test_undistorted_folder_converts_with_a_warning(tmp_path):
    """OpenSfM's ``undistort`` keeps distorted observations: the report says so and the errors show it."""
    folder = dataset("opensfm-outputs/berlin/undistorted")
    result = OpenSfMImporter().run(folder, OpenSfMConfig(max_reprojection_error=0.0, undistort=False), tmp_path)
    assert any("distorted observations" in w for w in result.report["warnings"])
    assert result.report["cameras"][0]["params"][3] == 0.0  # k1 = 0 after OpenSfM's undistortion
    assert result.report["quality"]["reprojection_error_px"]["median"] > 2.0
