"""Readers for OpenSfM dataset folders: tracks.csv versions, reconstruction.json, reference, folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from splatkit.errors import InputError
from splatkit.io import opensfm as osfm
from tests.conftest import dataset

V2_LINES = [
    "01.jpg\t7\t120\t0.25\t-0.125\t0.0015\t155\t145\t143\t-1\t-1",
    "02.jpg\t7\t33\t-0.1\t0.2\t0.002\t10\t20\t30\t4\t2",
    "02.jpg\t8\t34\t0.3\t0.1\t0.003\t1\t2\t3\t-1\t-1",
]


def _write(path: Path, lines: list[str], header: str | None) -> Path:
    path.write_text("".join(f"{line}\n" for line in ([header] if header else []) + lines))
    return path


def _drop_cols(line: str, drop: list[int]) -> str:
    cols = line.split("\t")
    return "\t".join(c for i, c in enumerate(cols) if i not in drop)


@pytest.mark.parametrize("version", [0, 1, 2])
def test_tracks_versions_parse_to_the_same_observations(tmp_path, version):
    if version == 2:
        lines, header = V2_LINES, "OPENSFM_TRACKS_VERSION_v2"
    elif version == 1:
        lines, header = [_drop_cols(line, [9, 10]) for line in V2_LINES], "OPENSFM_TRACKS_VERSION_v1"
    else:
        lines, header = [_drop_cols(line, [5, 9, 10]) for line in V2_LINES], None
    tracks = osfm.read_tracks_csv(_write(tmp_path / "tracks.csv", lines, header))
    assert tracks.version == version
    assert len(tracks) == 3
    assert tracks.images == ("01.jpg", "02.jpg")
    assert tracks.track_ids == ("7", "7", "8")
    np.testing.assert_array_equal(tracks.image_index, [0, 1, 1])
    np.testing.assert_array_equal(tracks.feature_id, [120, 33, 34])
    np.testing.assert_allclose(tracks.xy, [[0.25, -0.125], [-0.1, 0.2], [0.3, 0.1]])
    np.testing.assert_array_equal(tracks.rgb, [[155, 145, 143], [10, 20, 30], [1, 2, 3]])
    np.testing.assert_allclose(tracks.scale, [0, 0, 0] if version == 0 else [0.0015, 0.002, 0.003])


def test_duplicate_observation_keeps_the_last_line_like_opensfm(tmp_path):
    lines = V2_LINES + ["01.jpg\t7\t999\t0.5\t0.5\t0.001\t0\t0\t0\t-1\t-1"]
    tracks = osfm.read_tracks_csv(_write(tmp_path / "t.csv", lines, "OPENSFM_TRACKS_VERSION_v2"))
    assert len(tracks) == 3
    assert tracks.feature_id[0] == 999


def test_tracks_column_mismatch_names_the_line_and_the_likely_version(tmp_path):
    v1_lines = [_drop_cols(line, [9, 10]) for line in V2_LINES]
    path = _write(tmp_path / "tracks.csv", v1_lines, "OPENSFM_TRACKS_VERSION_v2")
    with pytest.raises(InputError, match=r"line 2 has 9 .* exactly 11 .* looks like version 1") as err:
        osfm.read_tracks_csv(path)
    assert str(path) in str(err.value)


def test_tracks_bad_number_and_unknown_version(tmp_path):
    bad = [V2_LINES[0].replace("0.25", "abc")]
    with pytest.raises(InputError, match="line 2: cannot parse"):
        osfm.read_tracks_csv(_write(tmp_path / "a.csv", bad, "OPENSFM_TRACKS_VERSION_v2"))
    with pytest.raises(InputError, match="unknown tracks file version"):
        osfm.read_tracks_csv(_write(tmp_path / "b.csv", V2_LINES, "OPENSFM_TRACKS_VERSION_v7"))


def test_binary_tracks_file_is_refused(tmp_path):
    path = tmp_path / "tracks.csv"
    path.write_bytes(b"\x80\x03\x00\x00binary tracks\x00\xff")
    with pytest.raises(InputError, match="binary"):
        osfm.read_tracks_csv(path)
    with pytest.raises(InputError, match="file not found"):
        osfm.read_tracks_csv(tmp_path / "missing.csv")


def _recon(**over):
    rec = {
        "cameras": {"cam": {"projection_type": "perspective", "width": 640, "height": 480, "focal": 0.9}},
        "shots": {"a.jpg": {"rotation": [0, 0, 0], "translation": [1, 2, 3], "camera": "cam",
                            "gps_position": [0, 0, 1]}},
        "points": {"5": {"coordinates": [1, 2, 3], "color": [10.0, 20.0, 30.0]}},
        "reference_lla": {"latitude": 52.5, "longitude": 13.4, "altitude": 0.0},
    }
    rec.update(over)
    return rec


def test_reconstruction_json_reads_partials(tmp_path):
    path = tmp_path / "reconstruction.json"
    path.write_text(json.dumps([_recon(), _recon(points={})]))
    partials = osfm.read_reconstruction_json(path)
    assert [p.index for p in partials] == [0, 1]
    p = partials[0]
    assert p.num_shots == 1 and p.num_points == 1 and p.point_ids == ("5",)
    np.testing.assert_allclose(p.shots["a.jpg"].translation, [1, 2, 3])
    np.testing.assert_allclose(p.point_rgb, [[10, 20, 30]])
    assert p.reference is not None and p.reference.lat == 52.5
    assert partials[1].num_points == 0


@pytest.mark.parametrize(("content", "match"), [
    ("{not json", "not valid JSON"),
    (json.dumps({"a": 1}), "JSON list"),
    (json.dumps([_recon(shots={"a.jpg": {"rotation": [0, 0], "camera": "cam"}})]),
     r"reconstructions\[0\]\.shots\['a\.jpg'\]\.rotation"),
    (json.dumps([_recon(shots={"a.jpg": {"rotation": [0, 0, 0], "camera": "other"}})]), "'other' is not one"),
    (json.dumps([_recon(reference_lla={"latitude": 123, "longitude": 0})]), "reference_lla"),
])
def test_reconstruction_json_errors_name_the_member(tmp_path, content, match):
    path = tmp_path / "reconstruction.json"
    path.write_text(content)
    with pytest.raises(InputError, match=match) as err:
        osfm.read_reconstruction_json(path)
    assert str(path) in str(err.value)


def test_reference_lla(tmp_path):
    path = tmp_path / "reference_lla.json"
    path.write_text(json.dumps({"latitude": 55.7, "longitude": 13.2, "altitude": 12.5}))
    ref = osfm.read_reference_lla(path)
    assert (ref.lat, ref.lon, ref.alt) == (55.7, 13.2, 12.5)
    path.write_text(json.dumps({"longitude": 13.2}))
    with pytest.raises(InputError, match="latitude"):
        osfm.read_reference_lla(path)


def _fake_colmap_export(folder: Path) -> Path:
    export = folder / "colmap_export"
    export.mkdir(parents=True)
    for name in ("cameras.bin", "images.bin", "points3D.bin", "project.ini", "colmap_database.db"):
        (export / name).write_bytes(b"")
    return export


def test_colmap_export_is_refused_with_the_files_to_pass_instead(tmp_path):
    ds = tmp_path / "dataset"
    export = _fake_colmap_export(ds)
    (ds / "tracks.csv").write_text("OPENSFM_TRACKS_VERSION_v2\n")
    for given in (export, export / "images.bin", ds):
        with pytest.raises(InputError) as err:
            osfm.refuse_colmap_export(given)
        msg = str(err.value)
        assert type(err.value) is InputError
        assert "export_colmap" in msg and "points3D" in msg and "keypoints" in msg
        assert f"{ds / 'reconstruction.json'} (missing)" in msg and f"{ds / 'tracks.csv'} (found)" in msg
    # A dataset with reconstruction.json next to colmap_export is fine to pass.
    (ds / "reconstruction.json").write_text("[]")
    osfm.refuse_colmap_export(ds)
    # A renamed export folder is recognised by its files.
    renamed = tmp_path / "model"
    export.rename(renamed)
    with pytest.raises(InputError, match="export_colmap"):
        osfm.refuse_colmap_export(renamed)


def test_real_colmap_export_is_refused():
    export = dataset("opensfm-outputs/berlin/colmap_export")
    with pytest.raises(InputError) as err:
        osfm.refuse_colmap_export(export)
    assert str(export.parent / "reconstruction.json") + " (found)" in str(err.value)


def test_is_opensfm_folder_and_info_on_real_data():
    lund = dataset("opensfm-outputs/lund")
    assert osfm.is_opensfm_folder(lund)
    assert not osfm.is_opensfm_folder(lund / "reconstruction.json")
    assert not osfm.is_opensfm_folder(lund.parent)
    summary = osfm.info(lund)
    json.dumps(summary)
    assert [r["shots"] for r in summary["reconstructions"]] == [15, 7, 6]
    assert [r["points"] for r in summary["reconstructions"]] == [2675, 507, 636]
    assert summary["tracks"]["version"] == 2 and summary["tracks"]["observations"] > 10000
    assert summary["reference_lla"]["lat"] == pytest.approx(55.6989, abs=1e-3)
    assert set(summary["reconstructions"][0]["cameras"].values()) == {"perspective"}
    berlin = osfm.info(dataset("opensfm-outputs/berlin"))
    assert berlin["has_colmap_export"] and berlin["has_undistorted"]


def test_info_refuses_a_folder_without_reconstruction(tmp_path):
    with pytest.raises(InputError, match="no reconstruction.json"):
        osfm.info(tmp_path)


def test_real_tracks_file_matches_reconstruction_ids():
    berlin = dataset("opensfm-berlin/data/berlin")
    tracks = osfm.read_tracks_csv(berlin / "tracks_example.csv")
    (partial,) = osfm.read_reconstruction_json(berlin / "reconstruction_example.json")
    assert tracks.version == 2 and len(tracks) == 3219
    assert set(partial.point_ids) <= set(tracks.track_ids)
    assert set(tracks.images) == set(partial.shots) == {"01.jpg", "02.jpg", "03.jpg"}
    assert np.abs(tracks.xy).max() <= 0.5
