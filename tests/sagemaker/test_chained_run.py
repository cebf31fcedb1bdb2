"""Data through S3 between real stage runs: photos -> SfM job -> training job -> compression job -> .sog.

The pipeline runs with the SageMaker executor against moto's server on loopback; the harness
(tests/sagemaker/harness.py) plays SageMaker's part and runs the real container entry for every
job in a subprocess on the CPU, on a downscaled real drone subset. The chain must end with a .sog
in the compression job's output prefix that our reader and, when installed, PlayCanvas's
splat-transform read. Because every byte a stage reads went through S3 under the names the
requests give, a renamed output folder or a processing input without its input mode breaks it.

The same finished run then serves the re-attach checks (nothing submitted or uploaded twice; a
changed option under the same run id is refused) and the SIGTERM check of the training entry.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from splatkit.errors import InputError
from splatkit.io.ply import read_ply
from splatkit.io.sog import decode_sog, read_sog
from splatkit.pipeline import run
from splatkit.pipeline.events_log import read_events
from splatkit.pipeline.runner import RunResult
from splatkit.sagemaker import container
from splatkit.sagemaker.config import LauncherConfig
from splatkit.sagemaker.entry import EXIT_STOPPED
from splatkit.sagemaker.executor import PollPolicy, SageMakerExecutor
from splatkit.sagemaker.jobs import build_train_job
from splatkit.sagemaker.layout import RunLayout
from splatkit.sagemaker.uris import parse_s3_uri
from tests.conftest import dataset, find_splat_transform
from tests.sagemaker.conftest import config_kwargs
from tests.sagemaker.harness import SageMakerHarness, entry_environment, run_entry, write_training_config

pytest.importorskip("moto")
pytest.importorskip("boto3")
pytest.importorskip("pycolmap")
pytest.importorskip("torch")
pytest.importorskip("numba")

pytestmark = pytest.mark.slow

RUN_ID = "caliterra-1"
BUCKET = "splatkit-chain"
# Downscaled so that the three jobs take about two minutes on a busy 2-core machine.
OPTIONS: dict[str, dict[str, Any]] = {
    "sfm": {"backend": "pycolmap", "max_image_size": 640, "undistort_max_size": 200},
    "train": {"backend": "cpu", "steps": 20, "sh_degree": 0, "refine_start": 10, "refine_every": 10,
              "checkpoint_every": 10, "save_eval_images": False},
    "compress": {"backend": "sog", "iterations": 2, "verify": False},
}
FAST_POLL = PollPolicy(first_s=0.0, factor=1.0, max_s=0.0)


@dataclass
class Chain:
    config: LauncherConfig
    photos: Path
    out_dir: Path
    result: RunResult
    harness: SageMakerHarness
    executor: SageMakerExecutor


def _executor(config: LauncherConfig, clients: dict[str, Any], harness: SageMakerHarness,
              run_id: str = RUN_ID) -> SageMakerExecutor:
    return SageMakerExecutor(config, run_id, sagemaker=clients["sagemaker"], s3=clients["s3"], poll=FAST_POLL,
                             sleep=harness.sleep)


def _diagnose(harness: SageMakerHarness) -> str:
    return "\n".join(f"--- {r.name} ({r.status}, rc {r.returncode})\n{r.stderr[-3000:]}" for r in harness.runs)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, aws_clients: dict[str, Any]) -> Iterator[Chain]:
    photos = dataset("odm-caliterra-subset10") / "images"
    tmp = tmp_path_factory.mktemp("chain")
    aws_clients["s3"].create_bucket(Bucket=BUCKET)
    config = LauncherConfig(**config_kwargs(output=f"s3://{BUCKET}/runs"))
    harness = SageMakerHarness(aws_clients, tmp / "jobs")
    try:
        executor = _executor(config, aws_clients, harness)
        try:
            result = run(photos, tmp / "out", config=OPTIONS, executor=executor)
        except Exception as e:
            raise AssertionError(f"the chained run failed: {e}\n{_diagnose(harness)}") from e
    finally:
        harness.close()
    yield Chain(config=config, photos=photos, out_dir=tmp / "out", result=result, harness=harness,
                executor=executor)


def _count_uploads(s3: Any) -> tuple[list[str], Any]:
    sent: list[str] = []

    def count(params: dict[str, Any], **kwargs: Any) -> None:
        sent.append(params.get("Key", ""))

    for operation in ("PutObject", "CreateMultipartUpload"):
        s3.meta.events.register(f"provide-client-params.s3.{operation}", count)
    return sent, count


def _stop_counting(s3: Any, count: Any) -> None:
    for operation in ("PutObject", "CreateMultipartUpload"):
        s3.meta.events.unregister(f"provide-client-params.s3.{operation}", count)


def test_the_chain_ends_with_a_sog_in_the_output_prefix_that_splat_transform_reads(
        chain: Chain, aws_clients: dict[str, Any], tmp_path: Path) -> None:
    harness = chain.harness
    names = [f"splatkit-{RUN_ID}-{kind}-a1" for kind in ("sfm", "train", "compress")]
    assert harness.created == names
    assert [(r.kind, r.status, r.returncode) for r in harness.runs] == [
        ("sfm", "Completed", 0), ("train", "Completed", 0), ("compress", "Completed", 0)], _diagnose(harness)
    assert chain.executor.submitted == names and chain.executor.adopted == []
    # The requests as sent carry the seams (the harness refuses the job otherwise).
    for operation, request in (harness.requests[n] for n in names):
        for item in request.get("ProcessingInputs", []):
            assert item["S3Input"]["S3InputMode"] == "File"

    # The .sog is in the compression job's output prefix, and it is the file the local run reports.
    prefix = RunLayout(chain.config.output_uri, RUN_ID).stage_output("compress", names[2])
    listed = aws_clients["s3"].list_objects_v2(Bucket=prefix.bucket, Prefix=prefix.key)["Contents"]
    sogs = [o["Key"] for o in listed if o["Key"].endswith(".sog")]
    assert len(sogs) == 1, listed
    sog = tmp_path / "from_s3.sog"
    aws_clients["s3"].download_file(prefix.bucket, sogs[0], str(sog))
    assert chain.result.final_file is not None and chain.result.final_file.read_bytes() == sog.read_bytes()
    cloud = decode_sog(read_sog(sog))
    assert len(cloud) > 100 and cloud.georeference is not None

    exe = find_splat_transform()
    if exe is not None:
        out = tmp_path / "from_splat_transform.ply"
        proc = subprocess.run([exe, "-w", "-g", "cpu", str(sog), str(out)], capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert len(read_ply(out)) == len(cloud)


def test_the_local_run_records_the_remote_stages_like_local_ones(chain: Chain) -> None:
    out = chain.out_dir
    assert [(o.kind, o.status) for o in chain.result.stages] == [("sfm", "ran"), ("train", "ran"),
                                                                 ("compress", "ran")]
    # Stage folders as a local run leaves them: the SfM layout, the PLY and metrics, the .sog.
    assert (out / "sfm" / "sparse" / "0").is_dir() and (out / "sfm" / "images").is_dir()
    assert (out / "train" / "point_cloud.ply").is_file() and (out / "train" / "metrics.json").is_file()
    assert not any(p.name == container.RESULT_FILE for p in out.rglob("*"))
    metrics = json.loads((out / "train" / "metrics.json").read_text())
    assert metrics["steps"] == OPTIONS["train"]["steps"] and metrics["backend"] == "cpu"
    assert json.loads((out / "report.json").read_text())["final_file"] == str(chain.result.final_file)
    events = read_events(out / "events.jsonl")
    assert events[0]["event"] == "run_started" and events[0]["executor"] == "sagemaker"
    stage_events = [(e["event"], e["stage"]) for e in events if e["event"] in ("started", "finished")]
    assert stage_events == [("started", "sfm/pycolmap"), ("finished", "sfm/pycolmap"), ("started", "train/cpu"),
                            ("finished", "train/cpu"), ("started", "compress/sog"), ("finished", "compress/sog")]


def test_a_reattached_run_submits_and_uploads_nothing_twice(chain: Chain, aws_clients: dict[str, Any],
                                                            tmp_path: Path) -> None:
    sent, counter = _count_uploads(aws_clients["s3"])
    try:
        with SageMakerHarness(aws_clients, tmp_path / "jobs") as harness:
            executor = _executor(chain.config, aws_clients, harness)
            result = run(chain.photos, tmp_path / "out", config=OPTIONS, executor=executor)
    finally:
        _stop_counting(aws_clients["s3"], counter)
    assert harness.created == [] and harness.runs == []
    assert executor.submitted == [] and executor.adopted == chain.executor.submitted
    assert sent == []
    assert result.final_file is not None and chain.result.final_file is not None
    assert result.final_file.read_bytes() == chain.result.final_file.read_bytes()

    # Same run id, another compression option: SfM and training are up to date locally (their
    # S3 outputs come from sagemaker.json), the compression job's name is taken by another request.
    changed = {**OPTIONS, "compress": {**OPTIONS["compress"], "iterations": 3}}
    with SageMakerHarness(aws_clients, tmp_path / "jobs2") as harness:
        with pytest.raises(InputError, match="already exists for another request.*attempt=2"):
            run(chain.photos, tmp_path / "out", config=changed, executor=_executor(chain.config, aws_clients, harness))
    assert harness.created == []


def test_sigterm_leaves_a_checkpoint_that_a_restarted_training_entry_resumes_from(chain: Chain,
                                                                                  tmp_path: Path) -> None:
    steps, every = 24, 4
    options = {"steps": steps, "sh_degree": 0, "checkpoint_every": every, "keep_checkpoints": 2,
               "save_eval_images": False, "downscale": 2}
    plan = build_train_job(chain.config, ("cpu", options), run_id="sigterm",
                           sfm_output=parse_s3_uri(f"s3://{BUCKET}/unused/"))
    root = tmp_path / "opt-ml"
    write_training_config(root, plan.request)
    shutil.copytree(chain.out_dir / "sfm", container.local_path(container.training_channel_path("sfm"), root))
    spec_dir = container.local_path(container.training_channel_path(container.SPEC_INPUT), root)
    spec_dir.mkdir(parents=True)
    (spec_dir / container.SPEC_FILE).write_bytes(next(iter(plan.uploads.values())))
    checkpoints = container.local_path(container.CHECKPOINT_DIR, root)
    environment = {**plan.request["Environment"], "TRAINING_JOB_NAME": plan.job_name}

    proc = subprocess.Popen([sys.executable, "-m", container.ENTRY_MODULE, "train"], cwd=root,
                            env=entry_environment(root, environment), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while not (checkpoints.is_dir() and any(checkpoints.glob("*.pt"))):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=container.STOP_GRACE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_STOPPED, stderr[-3000:]
    failure = container.local_path(container.FAILURE_FILE, root).read_text()
    assert failure.startswith("stopped by SIGTERM at train/cpu step") and "ckpt_" in failure
    kept = sorted(int(p.stem.split("_")[1]) for p in checkpoints.glob("ckpt_*.pt"))
    stopped_at = int(re.search(r"step (\d+)/", failure).group(1))
    # The trainer writes a checkpoint at the step it was stopped at (besides the periodic ones).
    assert kept and kept[-1] == stopped_at < steps and kept[0] % every == 0
    model = container.local_path(container.MODEL_DIR, root)
    assert not (model / container.RESULT_FILE).exists()  # a stopped job publishes no model

    container.local_path(container.FAILURE_FILE, root).unlink()
    done = run_entry([*container.ENTRY_COMMAND, "train"], root, environment)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["resumed_from_step"] == kept[-1]
    assert metrics["steps"] == steps and metrics["curve"][-1]["step"] == steps - 1
    result = json.loads((model / container.RESULT_FILE).read_text())
    assert result["files"][0] == "point_cloud.ply" and (model / "point_cloud.ply").is_file()
