"""The SageMaker executor against moto's server, with the harness playing SageMaker.

A failed SfM job stops the chain with SageMaker's FailureReason and the container's message; a
``Stopped`` training job (spot MaxWait) is a failure although botocore's waiter calls it success;
a re-attached run adopts a job of the same request instead of submitting it again, and refuses
one of another request under the same name before sending anything; a training job's
``model.tar.gz`` is downloaded, unpacked and read back.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from splatkit.errors import InputError, StageError
from splatkit.io.ply import write_ply
from splatkit.pipeline import run
from splatkit.pipeline.events_log import read_events
from splatkit.pipeline.runner import resolve_stage
from splatkit.plugins import get_plugin_manager
from splatkit.sagemaker import container
from splatkit.sagemaker.config import LauncherConfig
from splatkit.sagemaker.executor import STATE_FILE, PollPolicy, SageMakerExecutor
from tests.compress.synthetic import synthetic_cloud
from tests.sagemaker.conftest import config_kwargs
from tests.sagemaker.harness import SageMakerHarness

pytest.importorskip("moto")
pytest.importorskip("boto3")

_buckets = itertools.count()
NO_WAIT = PollPolicy(first_s=0.0, factor=1.0, max_s=0.0)


@pytest.fixture
def config(aws_clients: dict[str, Any]) -> LauncherConfig:
    bucket = f"splatkit-executor-{next(_buckets)}"
    aws_clients["s3"].create_bucket(Bucket=bucket)
    return LauncherConfig(**config_kwargs(output=f"s3://{bucket}/runs"))


@pytest.fixture
def harness(aws_clients: dict[str, Any], tmp_path: Path) -> Any:
    with SageMakerHarness(aws_clients, tmp_path / "jobs") as h:
        yield h


def _executor(config: LauncherConfig, clients: dict[str, Any], harness: SageMakerHarness, run_id: str,
              **kwargs: Any) -> SageMakerExecutor:
    return SageMakerExecutor(config, run_id, sagemaker=clients["sagemaker"], s3=clients["s3"], poll=NO_WAIT,
                             sleep=harness.sleep, **kwargs)


def _resolved(kind: str, backend: str, values: dict[str, Any]) -> Any:
    return resolve_stage(kind, backend, values, get_plugin_manager().stages, require_available=False)


def _photos(folder: Path, n: int = 3) -> Path:
    from PIL import Image

    folder.mkdir()
    for i in range(n):
        Image.new("RGB", (64, 48), (40 * i, 90, 160)).save(folder / f"IMG_{i:04d}.png")
    return folder


def test_a_failed_sfm_job_stops_the_chain_with_its_failure_reason(config: LauncherConfig, aws_clients: dict[str, Any],
                                                                 harness: SageMakerHarness, tmp_path: Path) -> None:
    pytest.importorskip("pycolmap")
    if not get_plugin_manager().stages.get("train", "cpu").is_available():
        pytest.skip("the pipeline resolves train/cpu locally before it runs anything")
    photos = _photos(tmp_path / "photos")
    executor = _executor(config, aws_clients, harness, "sfm-fails")
    options = {"sfm": {"backend": "pycolmap", "min_frames": 50}, "train": {"backend": "cpu"},
               "compress": {"backend": "sog"}}
    with pytest.raises(StageError) as raised:
        run(photos, tmp_path / "out", config=options, executor=executor)
    text = str(raised.value)
    assert text.startswith("sfm/pycolmap failed on s3://")
    assert "processing job splatkit-sfm-fails-sfm-a1 failed: AlgorithmError" in text
    # The container's own splatkit error, as written to /opt/ml/output/message.
    assert "found 3 usable image(s); at least 50 overlapping photos are needed" in text
    assert "attempt=2" in text
    assert harness.created == ["splatkit-sfm-fails-sfm-a1"] and [r.returncode for r in harness.runs] == [1]
    events = read_events(tmp_path / "out" / "events.jsonl")
    assert [(e["event"], e.get("stage")) for e in events if e["event"] in ("started", "failed", "run_failed")] == [
        ("started", "sfm/pycolmap"), ("failed", "sfm/pycolmap"), ("run_failed", "sfm/pycolmap")]
    assert not (tmp_path / "out" / "sfm").exists()


def test_a_stopped_training_job_is_a_failure(config: LauncherConfig, aws_clients: dict[str, Any],
                                             harness: SageMakerHarness, tmp_path: Path) -> None:
    sfm = tmp_path / "sfm"
    sfm.mkdir()
    (sfm / "georef.json").write_text("{}")
    harness.behaviour["train"] = "stop"
    executor = _executor(config, aws_clients, harness, "spot-1")
    resolved = _resolved("train", "cpu", {"steps": 5})
    with pytest.raises(StageError) as raised:
        executor.execute(resolved, sfm, tmp_path / "train.partial")
    text = str(raised.value)
    assert "training job splatkit-spot-1-train-a1 stopped (MaxWaitTimeExceeded)" in text
    assert "A stopped job is a failure" in text and "max_wait_s" in text and "attempt=2" in text
    # What botocore's own waiter makes of the same job: success.
    waiter = aws_clients["sagemaker"].get_waiter("training_job_completed_or_stopped")
    waiter.wait(TrainingJobName="splatkit-spot-1-train-a1", WaiterConfig={"Delay": 0, "MaxAttempts": 1})

    # Re-attaching adopts the stopped job (same request): nothing is submitted twice.
    again = _executor(config, aws_clients, harness, "spot-1")
    with pytest.raises(StageError, match="stopped"):
        again.execute(resolved, sfm, tmp_path / "train.partial")
    assert harness.created == ["splatkit-spot-1-train-a1"]
    assert again.submitted == [] and again.adopted == ["splatkit-spot-1-train-a1"]
    # The next attempt is a new job; its sfm input was uploaded once, by the first attempt.
    third = _executor(config, aws_clients, harness, "spot-1", attempt=2)
    with pytest.raises(StageError, match="train-a2 stopped"):
        third.execute(resolved, sfm, tmp_path / "train.partial")
    assert harness.created == ["splatkit-spot-1-train-a1", "splatkit-spot-1-train-a2"]


def test_another_request_under_a_taken_job_name_is_refused_before_anything_is_sent(
        config: LauncherConfig, aws_clients: dict[str, Any], harness: SageMakerHarness, tmp_path: Path) -> None:
    model = tmp_path / "train"
    model.mkdir()
    (model / "point_cloud.ply").write_bytes(b"ply")
    harness.behaviour["compress"] = "stop"
    first = _executor(config, aws_clients, harness, "conflict")
    with pytest.raises(StageError):
        first.execute(_resolved("compress", "sog", {"iterations": 2}), model, tmp_path / "compress.partial")
    second = _executor(config, aws_clients, harness, "conflict")
    with pytest.raises(InputError, match=r"splatkit-conflict-compress-a1 already exists for another request.*"
                                         r"use a new run id, or attempt=2"):
        second.execute(_resolved("compress", "sog", {"iterations": 3}), model, tmp_path / "compress.partial")
    assert harness.created == ["splatkit-conflict-compress-a1"] and second.submitted == []


def test_a_photo_source_is_a_folder_or_a_zip(config: LauncherConfig, aws_clients: dict[str, Any],
                                             harness: SageMakerHarness, tmp_path: Path) -> None:
    harness.behaviour["sfm"] = "stop"
    note = tmp_path / "notes.txt"
    note.write_text("not photos")
    executor = _executor(config, aws_clients, harness, "sources")
    with pytest.raises(InputError, match="is a file but not a .zip"):
        executor.execute(_resolved("sfm", "pycolmap", {}), note, tmp_path / "sfm.partial")
    archive = tmp_path / "flight.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))
    with pytest.raises(StageError, match="stopped"):
        executor.execute(_resolved("sfm", "pycolmap", {}), archive, tmp_path / "sfm.partial")
    _, request = harness.requests["splatkit-sources-sfm-a1"]
    photos = request["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert photos == f"{config.output}sources/input/photos/flight.zip"


def test_poll_delays_grow_to_their_cap() -> None:
    delays = PollPolicy(first_s=10, factor=2, max_s=30).delays()
    assert [next(delays) for _ in range(5)] == [10, 20, 30, 30, 30]


def test_a_gzip_model_is_downloaded_unpacked_and_read_back(aws_clients: dict[str, Any], harness: SageMakerHarness,
                                                           tmp_path: Path) -> None:
    bucket = f"splatkit-executor-{next(_buckets)}"
    aws_clients["s3"].create_bucket(Bucket=bucket)
    config = LauncherConfig(**config_kwargs(output=f"s3://{bucket}/runs", model_compression="GZIP"))
    model = tmp_path / "model"
    model.mkdir()
    write_ply(synthetic_cloud(200, 0, seed=1), model / "point_cloud.ply")
    (model / "metrics.json").write_text(json.dumps({"steps": 5}))
    (model / container.RESULT_FILE).write_text(json.dumps({"files": ["point_cloud.ply", "metrics.json"],
                                                           "report": {"steps": 5}}))
    harness.behaviour["train"] = "canned"
    harness.canned["train"] = model
    sfm = tmp_path / "sfm"
    sfm.mkdir()
    (sfm / "georef.json").write_text("{}")
    out = tmp_path / "out"
    workdir = out / "train.partial"
    workdir.mkdir(parents=True)
    (workdir / "stale.txt").write_text("from an earlier attempt")
    executor = _executor(config, aws_clients, harness, "gzip-1")
    result = executor.execute(_resolved("train", "cpu", {"steps": 5}), sfm, workdir)
    assert sorted(p.name for p in workdir.iterdir()) == ["metrics.json", "point_cloud.ply"]
    assert result.files == (workdir / "point_cloud.ply", workdir / "metrics.json")
    assert result.report == {"steps": 5} and len(result.output) == 200
    state = json.loads((out / STATE_FILE).read_text())
    assert state["stages"]["train"]["output"].endswith("/train/splatkit-gzip-1-train-a1/output/model.tar.gz")
    assert state["stages"]["train"]["job_name"] == "splatkit-gzip-1-train-a1"
