"""The run folder: never overlapping the photos, no scratch left behind, modes from the umask."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import pytest

from splatkit import InputError, StageError, hookimpl
from splatkit.io.images import read_image_set
from splatkit.pipeline import run
from splatkit.pipeline.manifest import read_manifest
from splatkit.pipeline.runner import check_out_dir_apart, prepare_out_dir, remove_stale_scratch
from tests.pipeline.fakes import FakeSfM

FAKE = {"sfm": {"backend": "fake"}, "train": {"backend": "fake"}, "compress": {"backend": "ply"}}
ZIP_FAKE = {**FAKE, "sfm": {"backend": "zipfake"}}


class ZipReadingSfM(FakeSfM):
    """The fake SfM on a photo ZIP, read the way sfm/pycolmap reads one (a temporary extraction)."""

    name = "zipfake"
    roots: ClassVar[list[Path]] = []

    def run(self, input: Any, config: Any, workdir: Path, progress: Any = None) -> Any:
        image_set = read_image_set(Path(input), min_images=1)
        type(self).roots.append(Path(image_set.root))
        return super().run(image_set.root, config, workdir, progress)


class ZipPlugin:
    @hookimpl
    def splatkit_register_stages(self, registry: Any) -> None:
        registry.add(ZipReadingSfM)


@pytest.fixture
def zip_manager(manager):
    ZipReadingSfM.roots = []
    manager.register(ZipPlugin(), "zip-fake")
    return manager


@pytest.fixture
def photo_zip(photos: Path, tmp_path: Path) -> Path:
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for photo in sorted(photos.iterdir()):
            zf.write(photo, photo.name)
    return path


@pytest.fixture
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary folder, pointed at an empty folder of the test's own."""
    import tempfile

    folder = tmp_path / "systemp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


# ---------------------------------------------------------------------------------------------
# Output folder and photos never overlap


def test_output_folder_equal_to_the_photo_folder_is_refused(photos, manager) -> None:
    with pytest.raises(InputError, match="is the photo source") as excinfo:
        run(photos, photos, config=FAKE, plugin_manager=manager)
    assert str(photos) in str(excinfo.value) and "pass an output folder outside" in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert sorted(p.name for p in photos.iterdir()) == [f"img_{i:03d}.png" for i in range(6)]


def test_output_folder_reached_through_a_link_is_resolved(photos, tmp_path, manager) -> None:
    link = tmp_path / "link"
    link.symlink_to(photos)
    with pytest.raises(InputError, match="is the photo source"):
        run(photos, link, config=FAKE, plugin_manager=manager)
    with pytest.raises(InputError, match="inside the photo folder"):
        run(photos, link / "out", config=FAKE, plugin_manager=manager)
    with pytest.raises(InputError, match="inside the photo folder"):
        run(link, photos / "deep" / "out", config=FAKE, plugin_manager=manager)
    assert not (photos / "out").exists() and not (photos / "deep").exists()


@pytest.mark.parametrize("where", ["sfm/images", "train.partial/x", "report_files", ".hidden"])
def test_photos_where_the_run_writes_are_refused(photos, tmp_path, manager, where) -> None:
    out = tmp_path / "out"
    inside = out / where
    inside.parent.mkdir(parents=True)
    os.replace(photos, inside)
    with pytest.raises(InputError, match="which splatkit writes and deletes") as excinfo:
        run(inside, out, config=FAKE, plugin_manager=manager)
    assert str(out) in str(excinfo.value) and str(inside) in str(excinfo.value)
    assert len(list(inside.iterdir())) == 6


def test_photos_elsewhere_in_the_output_folder_are_allowed_as_the_demo_keeps_them(photos, tmp_path,
                                                                                    manager) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.replace(photos, out / "photos")
    result = run(out / "photos", out, config=FAKE, plugin_manager=manager)
    assert {o.status for o in result.stages} == {"ran"}
    again = run(out / "photos", out, config=FAKE, plugin_manager=manager)
    assert {o.status for o in again.stages} == {"skipped"}


def test_a_zip_source_next_to_the_output_is_fine_and_one_inside_a_stage_folder_is_not(photo_zip, tmp_path) -> None:
    check_out_dir_apart(photo_zip, tmp_path / "out")
    with pytest.raises(InputError, match="is the photo source"):
        check_out_dir_apart(photo_zip, photo_zip)
    with pytest.raises(InputError, match="in compress"):
        check_out_dir_apart(tmp_path / "out" / "compress" / "p.zip", tmp_path / "out")


def test_a_stage_folder_inside_its_input_is_refused(photos, manager) -> None:
    from splatkit.pipeline.runner import resolve_stage, run_stage

    resolved = resolve_stage("sfm", "fake", {}, manager.stages)
    with pytest.raises(InputError, match="stage folder is inside the photo folder"):
        run_stage(resolved, photos, photos / "sfm", input_digest="x", plugin_manager=manager)
    assert not (photos / "sfm").exists()


# ---------------------------------------------------------------------------------------------
# Output paths named as the user gave them


def test_output_link_to_a_missing_folder_names_the_link_and_its_target(tmp_path) -> None:
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(InputError, match="symbolic link to .*gone, which does not exist") as excinfo:
        prepare_out_dir(link)
    assert str(excinfo.value).startswith(f"{link}: ")


def test_output_link_to_a_file_is_not_a_folder(tmp_path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "out").symlink_to(tmp_path / "empty")
    with pytest.raises(InputError, match="not a folder"):
        prepare_out_dir(tmp_path / "out")


def test_output_link_to_an_empty_folder_is_used(photos, tmp_path, manager) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "target")
    result = run(photos, tmp_path / "out", config=FAKE, plugin_manager=manager)
    assert result.final_file is not None and (tmp_path / "target" / "compress" / "splats.ply").is_file()


# ---------------------------------------------------------------------------------------------
# Scratch: removed on success, on failure, and at the next run after a kill


def test_a_zip_extraction_lives_in_the_output_folder_and_is_removed_after_the_stage(
        photo_zip, tmp_path, zip_manager, private_tmpdir) -> None:
    out = tmp_path / "out"
    run(photo_zip, out, config=ZIP_FAKE, plugin_manager=zip_manager)
    [root] = ZipReadingSfM.roots
    assert root.parent.parent == out and root.parent.name.startswith(".sfm.partial.scratch.")
    assert not root.parent.exists()
    assert list(private_tmpdir.iterdir()) == []
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".splatkit.lock"]


def test_a_failed_stage_leaves_no_extraction_behind(photo_zip, tmp_path, zip_manager, private_tmpdir) -> None:
    out = tmp_path / "out"
    with pytest.raises(StageError, match="told to fail"):
        run(photo_zip, out, config={**ZIP_FAKE, "sfm": {"backend": "zipfake", "fail": True}},
            plugin_manager=zip_manager)
    assert list(private_tmpdir.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == [".splatkit.lock", "events.jsonl", "report.html", "report.json",
                                                     "report_files", "sfm.partial"] or not ZipReadingSfM.roots
    assert not [p for p in out.iterdir() if p.name.startswith(".sfm.partial.")]


def test_a_zip_read_outside_the_pipeline_is_removed_when_the_process_exits(photo_zip, private_tmpdir) -> None:
    from splatkit.io import images

    image_set = read_image_set(photo_zip)
    assert Path(image_set.root).parent == private_tmpdir and Path(image_set.root).is_dir()
    images._remove_tempdir_extractions()  # what atexit runs
    assert list(private_tmpdir.iterdir()) == []


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    leftovers = [".sfm.partial.pycolmap.ab12cd34", ".sfm.partial.undistort.x_y_z_12", ".sfm.partial.scratch.qwer5678",
                 ".train.old.abcdefgh", ".report_files.tmp.a1b2c3d4", ".report.json.tmp.zz99yy88.json",
                 ".splatkit-write-test.tmp.00000000"]
    for name in leftovers:
        if name.endswith(".json") or "write-test" in name:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text("half")
        else:
            (out / name / "deep").mkdir(parents=True)
            (out / name / "deep" / "database.db").write_bytes(b"x")
    mine = [".git", ".sfm.partial.notes", "notes.txt", ".report.json.backup", ".train.old.short"]
    for name in mine:
        (out / name).write_text("precious")

    run(photos, out, config=FAKE, plugin_manager=manager)
    names = {p.name for p in out.iterdir()}
    assert not names & set(leftovers)
    assert set(mine) <= names


def test_a_resumed_partial_folder_loses_its_half_written_files(photos, tmp_path, manager, monkeypatch) -> None:
    from tests.pipeline.fakes import FakeTrainer

    out = tmp_path / "out"
    monkeypatch.setattr(FakeTrainer, "crash_at", 2)
    with pytest.raises(StageError):
        run(photos, out, config=FAKE, plugin_manager=manager)
    monkeypatch.setattr(FakeTrainer, "crash_at", None)
    partial = out / "train.partial"
    (partial / ".point_cloud.ply.tmp.abcd1234.ply").write_bytes(b"half a PLY")
    (partial / "checkpoints" / ".ckpt_0003.json.tmp.abcd1234.json").write_bytes(b"{")
    result = run(photos, out, config=FAKE, plugin_manager=manager)
    assert result.stage("train").resumed and FakeTrainer.resumed_from == [0, 2]
    assert set(read_manifest(out / "train").files) == {"point_cloud.ply"}
    assert tree(out / "train") == {"manifest.json", "point_cloud.ply"}


def test_remove_stale_scratch_can_be_limited_to_one_stage(tmp_path) -> None:
    for name in (".sfm.partial.pycolmap.ab12cd34", ".train.partial.scratch.ab12cd34", ".train.tmp.ab12cd34",
                 ".trainer.tmp.ab12cd34"):
        (tmp_path / name).mkdir()
    removed = remove_stale_scratch(tmp_path, names=("train",))
    assert sorted(p.name for p in removed) == [".train.partial.scratch.ab12cd34", ".train.tmp.ab12cd34"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".sfm.partial.pycolmap.ab12cd34", ".trainer.tmp.ab12cd34"]


# ---------------------------------------------------------------------------------------------
# File modes


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_every_output_gets_the_umask_permissions(photos, tmp_path, manager, umask) -> None:
    out = tmp_path / "out"
    old = os.umask(umask)
    try:
        run(photos, out, config=FAKE, plugin_manager=manager)
    finally:
        os.umask(old)
    wrong = {}
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        if mode != expected:
            wrong[path.relative_to(out).as_posix()] = oct(mode)
    assert wrong == {}
