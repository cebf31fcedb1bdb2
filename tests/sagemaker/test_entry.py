"""The container entry on an emulated /opt/ml: platform files, job spec, compression inputs, failure files.

These run the entry in this process (``main([...])`` with ``SPLATKIT_SAGEMAKER_ROOT``); the
chained test runs it in subprocesses for whole jobs.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

from splatkit.errors import InputError
from splatkit.sagemaker import container
from splatkit.sagemaker.entry import (
    EXIT_FAILED,
    EXIT_USAGE,
    find_training_output,
    main,
    parse_kind,
    photo_source,
    processing_context,
    read_spec,
    training_context,
    write_job_message,
)
from splatkit.sagemaker.jobs import build_compress_job, build_train_job, job_spec
from splatkit.sagemaker.uris import parse_s3_uri
from tests.sagemaker.harness import write_processing_config, write_training_config

MODEL_URI = parse_s3_uri("s3://bucket/runs/r1/train/job/output/model/")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An emulated /opt/ml, named by the environment as in the harness."""
    path = tmp_path / "opt-ml"
    path.mkdir()
    monkeypatch.setenv(container.ENV_ROOT, str(path))
    # The entry's scratch folders (an unpacked model.tar.gz) go to the temp folder: keep it here.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    for name in (container.ENV_STAGE, container.ENV_SPEC_SHA256):
        monkeypatch.delenv(name, raising=False)
    return path


def _compress_job(make_config: Any, root: Path, monkeypatch: pytest.MonkeyPatch,
                  stage: tuple[str, dict[str, Any]] = ("ply", {})) -> Any:
    plan = build_compress_job(make_config(), stage, run_id="r1", model=MODEL_URI)
    write_processing_config(root, plan.request, arn="arn:aws:sagemaker:us-east-1:123456789012:processing-job/x")
    spec = container.local_path(container.processing_input_path(container.SPEC_INPUT), root)
    spec.mkdir(parents=True)
    (spec / container.SPEC_FILE).write_bytes(next(iter(plan.uploads.values())))
    for key, value in plan.request["Environment"].items():
        monkeypatch.setenv(key, value)
    model = container.local_path(container.processing_input_path("model"), root)
    model.mkdir(parents=True)
    return plan


def _cloud() -> Any:
    from tests.compress.synthetic import synthetic_cloud

    return synthetic_cloud(300, 1, seed=3)


def _training_output(folder: Path) -> Path:
    """A training job's model folder: the PLY, the metrics and the result file naming the PLY first."""
    from splatkit.io.ply import write_ply

    folder.mkdir(parents=True, exist_ok=True)
    write_ply(_cloud(), folder / "point_cloud.ply")
    (folder / "metrics.json").write_text("{}")
    (folder / container.RESULT_FILE).write_text(json.dumps({"files": ["point_cloud.ply", "metrics.json"]}))
    return folder


def _message(root: Path) -> str:
    return container.local_path(container.MESSAGE_FILE, root).read_text()


@pytest.mark.parametrize("argv, kind", [(["sfm"], "sfm"), (["train"], "train"), (["train", "train"], "train"),
                                        (["compress"], "compress")])
def test_the_kind_comes_from_the_command_line(argv: list[str], kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(container.ENV_STAGE, raising=False)
    assert parse_kind(argv) == kind


@pytest.mark.parametrize("argv", [[], ["bogus"], ["sfm", "train"], ["train", "train", "train"]])
def test_other_command_lines_are_usage_errors(argv: list[str], root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    assert "usage: python3 -m splatkit.sagemaker.entry {sfm,train,compress}" in capsys.readouterr().err
    assert list(root.iterdir()) == []


def test_a_kind_other_than_the_jobs_stage_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(container.ENV_STAGE, "train")
    with pytest.raises(InputError, match="SPLATKIT_STAGE is 'train' but the entry was started for 'sfm'"):
        parse_kind(["sfm"])


def test_processing_paths_come_from_the_jobs_own_config(make_config: Any, root: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _compress_job(make_config, root, monkeypatch)
    ctx = processing_context("compress", root)
    assert ctx.job_type == "processing" and ctx.job_name == plan.job_name
    assert ctx.inputs == {"model": root / "processing/input/model", "spec": root / "processing/input/spec"}
    assert ctx.output == root / "processing/output/compress"
    # A request whose output is named otherwise is not one of ours: say which name is missing.
    config = container.local_path(container.PROCESSING_CONFIG_FILE, root)
    doc = json.loads(config.read_text())
    doc["ProcessingOutputConfig"]["Outputs"][0]["OutputName"] = "result"
    config.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"no output \['compress'\] \(it has \['result'\]\)"):
        processing_context("compress", root)
    doc["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/data/model"
    config.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="is not under /opt/ml"):
        processing_context("compress", root)


def test_training_channels_come_from_inputdataconfig(make_config: Any, root: Path) -> None:
    plan = build_train_job(make_config(), ("cpu", {"steps": 5}), run_id="r1", sfm_output=MODEL_URI)
    write_training_config(root, plan.request)
    ctx = training_context(root)
    assert ctx.inputs == {"sfm": root / "input/data/sfm", "spec": root / "input/data/spec"}
    assert ctx.output == root / "model"
    config = container.local_path(container.INPUT_DATA_CONFIG_FILE, root)
    config.write_text(json.dumps({"sfm": {"TrainingInputMode": "Pipe"}, "spec": {}}))
    with pytest.raises(InputError, match="input mode 'Pipe'"):
        training_context(root)
    config.write_text(json.dumps({"spec": {}}))
    with pytest.raises(InputError, match=r"no channels \['sfm'\]"):
        training_context(root)


def test_the_job_spec_must_match_the_jobs_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = job_spec("train", "cpu", {"steps": 5}, run_id="r1", attempt=2)
    (tmp_path / container.SPEC_FILE).write_bytes(raw)
    monkeypatch.setenv(container.ENV_SPEC_SHA256, hashlib.sha256(raw).hexdigest())
    spec = read_spec(tmp_path, "train")
    assert (spec.backend, dict(spec.config), spec.run_id, spec.attempt) == ("cpu", {"steps": 5}, "r1", 2)
    with pytest.raises(InputError, match="for stage 'train', not 'sfm'"):
        read_spec(tmp_path, "sfm")
    (tmp_path / container.SPEC_FILE).write_bytes(raw.replace(b'"steps":5', b'"steps":6'))
    with pytest.raises(InputError, match="does not match the job's SPLATKIT_SPEC_SHA256"):
        read_spec(tmp_path, "train")
    monkeypatch.delenv(container.ENV_SPEC_SHA256)
    (tmp_path / container.SPEC_FILE).write_bytes(raw.replace(b'"schema":1', b'"schema":9'))
    with pytest.raises(InputError, match="schema 9"):
        read_spec(tmp_path, "train")


def test_the_photos_input_is_a_folder_or_the_one_zip_in_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "IMG_1.JPG").write_bytes(b"x")
    (tmp_path / "a" / "IMG_2.JPG").write_bytes(b"x")
    assert photo_source(tmp_path / "a") == tmp_path / "a"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "photos.zip").write_bytes(b"PK")
    assert photo_source(tmp_path / "b") == tmp_path / "b" / "photos.zip"
    (tmp_path / "c").mkdir()
    with pytest.raises(InputError, match="empty"):
        photo_source(tmp_path / "c")


def test_the_trained_model_is_found_by_result_file_manifest_or_single_ply(tmp_path: Path) -> None:
    folder = _training_output(tmp_path / "job")
    (folder / "other.ply").write_bytes(b"x")
    assert find_training_output(folder) == folder / "point_cloud.ply"
    (folder / container.RESULT_FILE).unlink()
    with pytest.raises(InputError, match="cannot tell which file is the trained model"):
        find_training_output(folder)
    (folder / "other.ply").unlink()
    assert find_training_output(folder) == folder / "point_cloud.ply"
    (folder / container.RESULT_FILE).write_text(json.dumps({"files": ["../escape.ply"]}))
    with pytest.raises(InputError, match="not a file in it"):
        find_training_output(folder)


@pytest.mark.parametrize("packed", [False, True], ids=["files", "model.tar.gz"])
def test_compression_reads_the_training_output_as_files_or_as_model_tar_gz(
        make_config: Any, root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, packed: bool) -> None:
    from splatkit.plugins import get_plugin_manager

    _compress_job(make_config, root, monkeypatch)
    model = container.local_path(container.processing_input_path("model"), root)
    if packed:
        source = _training_output(tmp_path / "model-files")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(source.iterdir()):
                tar.add(path, arcname=path.name)
        (model / "model.tar.gz").write_bytes(buffer.getvalue())
    else:
        _training_output(model)
    assert main(["compress"]) == 0, _message(root)
    output = container.local_path(container.processing_output_path("compress"), root)
    result = json.loads((output / container.RESULT_FILE).read_text())
    assert result["kind"] == "compress" and result["backend"] == "ply" and result["job_name"]
    primary = output / result["files"][0]
    fmt = get_plugin_manager().formats.detect(primary, holds="splats")
    assert fmt is not None and len(fmt().decode(primary)) == 300
    assert _message(root).startswith("compress/ply finished in")
    assert list((tmp_path / "tmp").iterdir()) == []  # the unpacked model is removed


def test_a_failure_is_written_where_sagemaker_reads_it(make_config: Any, root: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _compress_job(make_config, root, monkeypatch)  # the model input stays empty
    assert main(["compress"]) == EXIT_FAILED
    message = _message(root)
    assert "cannot tell which file is the trained model" in message and "\n" not in message
    assert not container.local_path(container.FAILURE_FILE, root).exists()


def test_a_training_failure_goes_to_the_failure_file(make_config: Any, root: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    plan = build_train_job(make_config(), ("cpu", {"steps": 5}), run_id="r1", sfm_output=MODEL_URI)
    write_training_config(root, plan.request)
    spec = container.local_path(container.training_channel_path(container.SPEC_INPUT), root)
    spec.mkdir(parents=True)
    (spec / container.SPEC_FILE).write_bytes(next(iter(plan.uploads.values())))
    assert main(["train"]) == EXIT_FAILED  # the sfm channel is empty
    failure = container.local_path(container.FAILURE_FILE, root).read_text()
    assert "SfM output folder not found" in failure
    assert not container.local_path(container.MODEL_DIR, root).exists() or not any(
        container.local_path(container.MODEL_DIR, root).iterdir())


def test_messages_are_cut_to_sagemakers_limit_on_a_character_boundary(tmp_path: Path) -> None:
    path = write_job_message("sfm", tmp_path, "é" * 1000)
    assert path == tmp_path / "output" / "message"
    text = path.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= container.MESSAGE_LIMIT_BYTES and set(text) == {"é"}
    assert write_job_message("train", tmp_path, "x") == tmp_path / "output" / "failure"
    assert write_job_message("train", tmp_path / "absent", "x") is None and not (tmp_path / "absent").exists()
