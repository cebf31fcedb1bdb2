"""Resumability: skip what is done, re-run exactly what an option change affects, trust nothing half-made."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from splatkit import InputError, StageError
from splatkit.pipeline import run
from splatkit.pipeline.events_log import read_events
from splatkit.pipeline.manifest import MANIFEST_NAME, read_manifest
from tests.pipeline.fakes import FakeSfM, FakeTrainer

FAKE = {"sfm": "fake", "train": "fake", "compress": "ply"}


def run_fake(photos: Path, out: Path, manager, config=None):
    return run(photos, out, config={k: {"backend": v, **((config or {}).get(k, {}))} for k, v in FAKE.items()},
               plugin_manager=manager)


def statuses(result) -> dict[str, str]:
    return {o.kind: o.status for o in result.stages}


def last_run_events(out: Path) -> list[dict]:
    events = read_events(out / "events.jsonl")
    start = max(i for i, e in enumerate(events) if e["event"] == "run_started")
    return events[start:]


def test_first_run_runs_every_stage_and_writes_manifests(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    result = run_fake(photos, out, manager)
    assert statuses(result) == {"sfm": "ran", "train": "ran", "compress": "ran"}
    for kind in ("sfm", "train", "compress"):
        manifest = read_manifest(out / kind)
        assert manifest is not None and manifest.kind == kind
        assert not (out / f"{kind}.partial").exists()
    assert result.final_file == out / "compress" / "splats.ply" and result.final_file.is_file()
    # Each stage's input digest is the previous stage's output digest.
    assert read_manifest(out / "train").input_digest == read_manifest(out / "sfm").output_digest
    assert read_manifest(out / "compress").input_digest == read_manifest(out / "train").output_digest
    # Checkpoints are scratch: gone once training is finished.
    assert not (out / "train" / "checkpoints").exists()


def test_rerun_skips_every_finished_stage(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    before = {k: (out / k / MANIFEST_NAME).read_text() for k in ("sfm", "train", "compress")}
    result = run_fake(photos, out, manager)
    assert statuses(result) == {"sfm": "skipped", "train": "skipped", "compress": "skipped"}
    assert (FakeSfM.runs, FakeTrainer.runs) == (1, 1)
    assert {k: (out / k / MANIFEST_NAME).read_text() for k in before} == before
    events = last_run_events(out)
    assert [e["event"] for e in events] == ["run_started", "skipped", "skipped", "skipped", "run_finished"]
    assert result.final_file.is_file()


def test_changed_compress_option_reruns_only_compress(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager, {"compress": {"sh_degree": 3}})
    result = run_fake(photos, out, manager, {"compress": {"sh_degree": 0}})
    assert statuses(result) == {"sfm": "skipped", "train": "skipped", "compress": "ran"}
    assert read_manifest(out / "compress").config == {"sh_degree": 0}
    # The cloud came from OUT/train/point_cloud.ply, since training did not run in this process.
    assert (FakeSfM.runs, FakeTrainer.runs) == (1, 1)


def test_changed_train_option_reruns_train_and_compress(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    result = run_fake(photos, out, manager, {"train": {"seed": 1}})
    assert statuses(result) == {"sfm": "skipped", "train": "ran", "compress": "ran"}
    assert (FakeSfM.runs, FakeTrainer.runs) == (1, 2)
    events = last_run_events(out)
    assert [(e["event"], e.get("stage")) for e in events[1:-1]] == [
        ("skipped", "sfm/fake"), ("started", "train/fake"), ("finished", "train/fake"),
        ("started", "compress/ply"), ("finished", "compress/ply")]


def test_sfm_option_that_does_not_change_its_output_reruns_sfm_only(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    result = run_fake(photos, out, manager, {"sfm": {"label": "again"}})
    assert statuses(result) == {"sfm": "ran", "train": "skipped", "compress": "skipped"}


def test_new_photos_rerun_everything(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    first = photos / "img_000.png"
    first.write_bytes(first.read_bytes() + b"\0")  # one changed byte of one photo
    result = run_fake(photos, out, manager)
    # The fake trainer's PLY does not depend on its input, so compression's input is unchanged:
    # digests follow content, not timestamps.
    assert statuses(result) == {"sfm": "ran", "train": "ran", "compress": "skipped"}


def test_a_failing_stage_leaves_no_stage_folder_and_no_manifest(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    with pytest.raises(StageError, match="told to fail"):
        run_fake(photos, out, manager, {"sfm": {"fail": True}})
    assert not (out / "sfm").exists()
    assert not list(out.rglob(MANIFEST_NAME))
    events = read_events(out / "events.jsonl")
    assert [e["event"] for e in events] == ["run_started", "started", "failed", "run_failed"]
    assert events[2]["stage"] == "sfm/fake" and "told to fail" in events[2]["error"]
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed" and "told to fail" in report["error"]
    assert report["stages"][0]["status"] == "failed"


def test_a_failing_rerun_removes_the_stale_result(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    with pytest.raises(StageError, match="step 2"):
        run_fake(photos, out, manager, {"train": {"fail_at": 2}})
    assert read_manifest(out / "sfm") is not None
    assert not (out / "train").exists()  # the old training is not left to be mistaken for this one
    assert not (out / "train.partial" / MANIFEST_NAME).exists()
    # The old compression result is kept but never trusted: its input is not the new training.
    result = run_fake(photos, out, manager)
    assert statuses(result) == {"sfm": "skipped", "train": "ran", "compress": "skipped"}


def test_partial_left_by_other_options_is_wiped_not_resumed(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    with pytest.raises(StageError):
        run_fake(photos, out, manager, {"train": {"fail_at": 3, "steps": 5}})
    assert len(list((out / "train.partial" / "checkpoints").glob("ckpt_*"))) == 3
    run_fake(photos, out, manager, {"train": {"steps": 5, "seed": 7}})
    assert FakeTrainer.resumed_from == [0, 0]


def test_same_options_resume_from_the_partial_checkpoints(photos, tmp_path, manager, monkeypatch) -> None:
    out = tmp_path / "out"
    monkeypatch.setattr(FakeTrainer, "crash_at", 3)  # a crash that is not part of the options
    with pytest.raises(StageError):
        run_fake(photos, out, manager, {"train": {"steps": 5}})
    monkeypatch.setattr(FakeTrainer, "crash_at", None)
    result = run_fake(photos, out, manager, {"train": {"steps": 5}})
    assert statuses(result) == {"sfm": "skipped", "train": "ran", "compress": "ran"}
    assert FakeTrainer.resumed_from == [0, 3]
    assert result.stage("train").resumed


def test_crash_between_manifest_and_rename_is_finished_by_the_next_run(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    os.replace(out / "compress", out / "compress.partial")
    result = run_fake(photos, out, manager)
    assert statuses(result) == {"sfm": "skipped", "train": "skipped", "compress": "skipped"}
    assert (out / "compress" / MANIFEST_NAME).is_file() and not (out / "compress.partial").exists()


def test_a_changed_output_file_is_not_trusted(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    with open(out / "compress" / "splats.ply", "ab") as f:
        f.write(b"junk")
    result = run_fake(photos, out, manager)
    assert statuses(result) == {"sfm": "skipped", "train": "skipped", "compress": "ran"}


def test_a_corrupt_manifest_is_not_trusted(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    run_fake(photos, out, manager)
    (out / "train" / MANIFEST_NAME).write_text("{not json")
    result = run_fake(photos, out, manager)
    assert statuses(result)["train"] == "ran"


def test_a_folder_the_user_made_is_never_deleted(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    (out / "sfm").mkdir(parents=True)
    (out / "sfm" / "my_notes.txt").write_text("precious")
    with pytest.raises(InputError, match="not a finished splatkit stage folder"):
        run_fake(photos, out, manager)
    assert (out / "sfm" / "my_notes.txt").read_text() == "precious"


def test_output_folder_inside_the_photo_folder_is_refused_before_anything_is_written(photos, manager) -> None:
    # It used to be excluded from the digest, but the SfM reader still took its PNGs for photos.
    out = photos / "out"
    with pytest.raises(InputError, match="inside the photo folder"):
        run_fake(photos, out, manager)
    assert not out.exists()
