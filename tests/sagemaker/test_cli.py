"""``splatkit sagemaker ...`` through ``splatkit.cli.main``, against moto's server on loopback.

Bad input is one ``splatkit: error:`` line, exit 2, and nothing reaches AWS (no object, no job).
A run through the CLI drives the same pipeline and executor as the library (the harness plays
SageMaker, with canned stage outputs so it takes seconds): OUT gets the manifests, events and
report, ``sagemaker.json`` records the run, the flags reach the requests, the same command
re-attaches. ``status``, ``logs`` and ``stop`` find the run's jobs from OUT or the run id.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from splatkit.cli import build_parser, main
from splatkit.sagemaker import cli as sm_cli
from splatkit.sagemaker import container
from tests.sagemaker.conftest import IMAGE, REGION, ROLE

pytest.importorskip("moto")
pytest.importorskip("boto3")

_runs = itertools.count()
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "splatkit-cli"


@pytest.fixture(scope="module")
def bucket(aws_clients: dict[str, Any]) -> str:
    aws_clients["s3"].create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def endpoint_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The launcher's own clients (boto3's default session) talk to moto with dummy credentials."""
    monkeypatch.setenv(sm_cli.ENDPOINT_ENV, moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    from tests.pipeline.fakes import write_photos

    return write_photos(tmp_path / "photos")


def _nothing_sent(clients: dict[str, Any], run_id: str) -> None:
    sagemaker = clients["sagemaker"]
    assert sagemaker.list_processing_jobs(NameContains=run_id)["ProcessingJobSummaries"] == []
    assert sagemaker.list_training_jobs(NameContains=run_id)["TrainingJobSummaries"] == []
    listed = clients["s3"].list_objects_v2(Bucket=BUCKET, Prefix=f"cli/{run_id}/")
    assert listed.get("KeyCount", 0) == 0


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("splatkit: error: "), err
    assert "Traceback" not in err
    return lines[0]


BAD_INPUT = {
    "malformed S3 URI": (["s3:/splatkit-cli/cli"], [], "has no scheme"),
    "http S3 URL": (["http://splatkit-cli.s3.amazonaws.com/cli"], [], "http"),
    "look-alike host": (["https://splatkit-cli.s3.amazonaws.com.evil.com/cli"], [], "not an amazon s3"),
    "bad bucket name": (["s3://Splatkit_CLI/cli"], [], "invalid bucket name"),
    "user ARN as role": ([f"s3://{BUCKET}/cli"], ["--role", "arn:aws:iam::123456789012:user/alice"],
                         "is an iam user arn, not a role arn"),
    "role name only": ([f"s3://{BUCKET}/cli"], ["--role", "SplatkitSageMaker"], "is not an arn"),
    "unknown instance type": ([f"s3://{BUCKET}/cli"], ["--instance-type-train", "ml.g5.xlargee"],
                              "did you mean ml.g5.xlarge"),
    "training-only type on sfm": ([f"s3://{BUCKET}/cli"], ["--instance-type-sfm", "ml.p3dn.24xlarge"],
                                  "runs training jobs only"),
    "VPC half given": ([f"s3://{BUCKET}/cli"], ["--subnet", "subnet-0123456789abcdef0"], "go together"),
    "bad tag": ([f"s3://{BUCKET}/cli"], ["--tag", "no-equals-sign"], "expected key=value"),
    "reserved tag": ([f"s3://{BUCKET}/cli"], ["--tag", "aws:owner=me"], "reserved prefix"),
    "bad run id": ([f"s3://{BUCKET}/cli"], ["--run-id=-leading-dash"], "run id '-leading-dash' is not usable"),
    "attempt 0": ([f"s3://{BUCKET}/cli"], ["--attempt", "0"], "attempt 0 is not usable"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_and_sends_nothing(case: str, photos: Path, tmp_path: Path, bucket: str,
                                                 endpoint_env: str, aws_clients: dict[str, Any],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    prefix, flags, expected = BAD_INPUT[case]
    run_id = f"bad-{next(_runs)}"
    argv = ["sagemaker", "run", str(photos), *prefix, str(tmp_path / "out"), "--role", ROLE, "--image", IMAGE,
            "--region", REGION, "--run-id", run_id, *flags]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert expected in line.lower(), line
    _nothing_sent(aws_clients, run_id)
    assert not (tmp_path / "out").exists()


def test_a_kms_volume_key_on_g5_is_refused(photos: Path, tmp_path: Path, bucket: str, endpoint_env: str,
                                           aws_clients: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    launcher = tmp_path / "launcher.toml"
    launcher.write_text(f'role_arn = "{ROLE}"\nimage_uri = "{IMAGE}"\nregion = "{REGION}"\n\n'
                        f'[train]\ninstance_type = "ml.g5.xlarge"\nvolume_kms_key_id = "{KEY}"\n')
    argv = ["sagemaker", "run", str(photos), f"s3://{BUCKET}/cli", str(tmp_path / "out"), "--run-id", "kms-g5",
            "--launcher-config", str(launcher)]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "train.volume_kms_key_id" in line and "ml.g5.xlarge has local NVMe storage" in line
    _nothing_sent(aws_clients, "kms-g5")


def test_an_unknown_launcher_setting_names_the_file_and_the_known_keys(photos: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("botocore")
    launcher = tmp_path / "launcher.toml"
    launcher.write_text(f'role_arn = "{ROLE}"\nimage = "{IMAGE}"\n')
    argv = ["sagemaker", "run", str(photos), f"s3://{BUCKET}/cli", str(tmp_path / "out"), "--launcher-config",
            str(launcher)]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert str(launcher) in line and "unknown key(s) ['image']" in line and "'image_uri'" in line
    launcher.write_text("role_arn = [\n")
    assert main(argv) == 2
    assert "not valid TOML" in _one_error_line(capsys)


def _parse(argv: list[str]) -> Any:
    return build_parser(argv).parse_args(argv)


def test_flags_win_over_the_launcher_file_and_kms_goes_where_sagemaker_takes_it(tmp_path: Path) -> None:
    pytest.importorskip("botocore")
    launcher = tmp_path / "launcher.toml"
    launcher.write_text(f'role_arn = "{ROLE}"\nimage_uri = "{IMAGE}"\noutput = "s3://{BUCKET}/from-file"\n'
                        'region = "eu-west-1"\nspot = true\n\n[train]\ninstance_type = "ml.g4dn.xlarge"\n'
                        'max_runtime_s = 7200\n\n[compress]\nvolume_size_gb = 80\n\n[tags]\nteam = "maps"\n')
    args = _parse(["sagemaker", "run", "photos", f"s3://{BUCKET}/from-flag", "out", "--launcher-config",
                   str(launcher), "--instance-type-train", "ml.g5.xlarge", "--no-spot", "--kms-key", KEY,
                   "--tag", "project=site-42", "--tag", "team=survey", "--subnet", "subnet-0123456789abcdef0",
                   "--security-group", "sg-0123456789abcdef0"])
    config, region = sm_cli.launcher_config_from_args(args)
    assert region == "eu-west-1"
    assert config.output == f"s3://{BUCKET}/from-flag/"
    assert config.spot is False
    assert (config.train.instance_type, config.train.max_runtime_s) == ("ml.g5.xlarge", 7200)
    assert (config.compress.instance_type, config.compress.volume_size_gb) == ("ml.c6i.4xlarge", 80)
    assert dict(config.tags) == {"team": "survey", "project": "site-42"}
    assert config.vpc is not None and config.vpc.subnets == ("subnet-0123456789abcdef0",)
    # The key encrypts the outputs and the EBS volumes; g5's NVMe takes none (hardware-encrypted).
    assert config.output_kms_key_id == KEY
    assert (config.sfm.volume_kms_key_id, config.train.volume_kms_key_id, config.compress.volume_kms_key_id) == (
        KEY, None, KEY)
    assert [n.split(" runs on ")[0] for n in sm_cli.kms_notes(config, KEY)] == ["note: train"]

    # The region of an https output URL is the default region.
    args = _parse(["sagemaker", "run", "photos", f"https://{BUCKET}.s3.ap-southeast-2.amazonaws.com/x", "out",
                   "--role", ROLE, "--image", IMAGE])
    assert sm_cli.launcher_config_from_args(args)[1] == "ap-southeast-2"


def test_print_config_resolves_auto_for_the_remote_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sagemaker", "run", "--print-config", "--train-steps", "1234", "--set", "compress.iterations=3"]) == 0
    out = capsys.readouterr().out
    train = out.split("[train]\n", 1)[1]
    # auto is the preferred default where the stage runs (a GPU instance), not this machine's choice.
    assert train.startswith("# auto: gsplat") and 'backend = "gsplat"' in train and "steps = 1234" in train
    assert "iterations = 3" in out.split("[compress]", 1)[1]


def test_sagemaker_help_is_light() -> None:
    code = ("import sys\n"
            "from splatkit.cli import build_parser\n"
            "for argv in (['--help'], ['sagemaker', '--help'], ['sagemaker', 'run', '--help'],\n"
            "             ['sagemaker', 'logs', '--help'], ['sagemaker', 'definition', '--help']):\n"
            "    build_parser(argv[:-1]).format_help()\n"
            "loaded = [m for m in ('boto3', 'botocore', 'torch', 'pycolmap', 'gsplat') if m in sys.modules]\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_default_run_id_is_named_after_out(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    when = datetime(2026, 5, 1, 12, 30, 5, tzinfo=timezone.utc)
    assert sm_cli.default_run_id(tmp_path / "Site 42 (retake)", when) == "Site-42-retake-20260501-123005"
    assert sm_cli.default_run_id(tmp_path / "...", when).endswith("-20260501-123005")


def test_run_refs_from_a_folder_or_a_run_id(tmp_path: Path) -> None:
    ref = sm_cli.resolve_run("flight-7", region="eu-west-1")
    assert (ref.run_id, ref.job_prefix, ref.region) == ("flight-7", "splatkit", "eu-west-1")
    from splatkit.errors import InputError

    with pytest.raises(InputError, match="has no sagemaker.json"):
        sm_cli.resolve_run(str(tmp_path))
    with pytest.raises(InputError, match="run id"):
        sm_cli.resolve_run("no such/run")
    (tmp_path / "sagemaker.json").write_text(json.dumps({"schema": 1, "run_id": "r-1", "job_prefix": "team-a",
                                                         "region": "us-west-2", "output": "s3://b/x/r-1/"}))
    ref = sm_cli.resolve_run(str(tmp_path))
    assert (ref.run_id, ref.job_prefix, ref.region) == ("r-1", "team-a", "us-west-2")
    assert sm_cli.resolve_run(str(tmp_path), region="eu-west-1").region == "eu-west-1"


# -- a run through the CLI, with canned stage outputs ----------------------------------------------


def _canned_outputs(photos: Path, root: Path) -> dict[str, Path]:
    """What the three entries would write, made locally: a fake SfM layout, a PLY, a compressed PLY."""
    from splatkit.io.ply import write_ply
    from tests.compress.synthetic import synthetic_cloud
    from tests.pipeline.fakes import FakeSfM, FakeSfMConfig

    sfm = root / "sfm"
    result = FakeSfM().run(photos, FakeSfMConfig(), sfm)
    files = [Path(f).relative_to(sfm).as_posix() for f in result.files]
    (sfm / container.RESULT_FILE).write_text(json.dumps({"files": files, "report": result.report}))
    train = root / "train"
    train.mkdir()
    write_ply(synthetic_cloud(200, 0, seed=1), train / "point_cloud.ply")
    (train / "metrics.json").write_text(json.dumps({"steps": 7}))
    (train / container.RESULT_FILE).write_text(json.dumps({"files": ["point_cloud.ply", "metrics.json"],
                                                           "report": {"steps": 7}}))
    compress = root / "compress"
    compress.mkdir()
    write_ply(synthetic_cloud(200, 0, seed=1), compress / "scene.ply")
    (compress / container.RESULT_FILE).write_text(json.dumps({"files": ["scene.ply"], "report": {"ratio": 1.0}}))
    return {"sfm": sfm, "train": train, "compress": compress}


@pytest.fixture
def harness(aws_clients: dict[str, Any], tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI's clients are the session's moto clients, watched by the harness, which runs at each wait."""
    from tests.sagemaker.harness import SageMakerHarness

    with SageMakerHarness(aws_clients, tmp_path / "jobs") as h:
        h.canned.update(_canned_outputs(photos, tmp_path / "canned"))
        h.behaviour.update({kind: "canned" for kind in h.canned})
        monkeypatch.setattr(sm_cli, "make_client", lambda service, region: aws_clients[service])
        monkeypatch.setattr(sm_cli, "wait", h.sleep)
        yield h


def test_a_run_through_the_cli_records_it_locally_and_re_attaches(photos: Path, tmp_path: Path, bucket: str,
                                                                  harness: Any, aws_clients: dict[str, Any],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from splatkit.pipeline.events_log import read_events
    from splatkit.pipeline.manifest import read_manifest

    out = tmp_path / "out"
    argv = ["-q", "sagemaker", "run", str(photos), f"s3://{BUCKET}/cli", str(out), "--role", ROLE, "--image", IMAGE,
            "--run-id", "cli-run", "--sfm", "pycolmap", "--train", "cpu", "--compress", "ply",
            "--train-steps", "7", "--set", "sfm.max_image_size=800", "--spot", "--instance-type-train",
            "ml.g4dn.xlarge", "--kms-key", KEY, "--tag", "project=site-42"]
    assert main(argv) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert "run id: cli-run (given)" in stdout and f"s3://{BUCKET}/cli/cli-run/" in stdout
    assert "compress/ply: ran" in stdout and f"final file: {out / 'compress' / 'scene.ply'}" in stdout
    names = ["splatkit-cli-run-sfm-a1", "splatkit-cli-run-train-a1", "splatkit-cli-run-compress-a1"]
    assert harness.created == names

    # The local OUT is a pipeline run's: manifests, events (executor sagemaker), report.
    assert [read_manifest(out / k).backend for k in ("sfm", "train", "compress")] == ["pycolmap", "cpu", "ply"]
    events = read_events(out / "events.jsonl")
    assert events[0]["event"] == "run_started" and events[0]["executor"] == "sagemaker"
    assert (out / "report.json").is_file()
    state = json.loads((out / "sagemaker.json").read_text())
    assert (state["run_id"], state["job_prefix"], state["region"]) == ("cli-run", "splatkit", REGION)
    assert {k: v["job_name"] for k, v in state["jobs"].items()} == dict(zip(("sfm", "train", "compress"), names))

    # The flags reached the requests.
    _, sfm = harness.requests[names[0]]
    _, train = harness.requests[names[1]]
    assert sfm["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
    assert sfm["ProcessingOutputConfig"]["KmsKeyId"] == KEY
    assert train["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert "VolumeKmsKeyId" not in train["ResourceConfig"] and train["OutputDataConfig"]["KmsKeyId"] == KEY
    assert train["EnableManagedSpotTraining"] is True and "MaxWaitTimeInSeconds" in train["StoppingCondition"]
    assert {"Key": "project", "Value": "site-42"} in train["Tags"]
    spec = json.loads(aws_clients["s3"].get_object(Bucket=BUCKET, Key=f"cli/cli-run/spec/{names[1]}/stage.json")
                      ["Body"].read())
    assert (spec["backend"], spec["config"]["steps"]) == ("cpu", 7)

    # The same command without --run-id re-attaches to the run OUT recorded: nothing is submitted.
    argv.remove("--run-id")
    argv.remove("cli-run")
    assert main(argv) == 0
    assert "run id: cli-run (recorded in" in capsys.readouterr().out
    assert harness.created == names

    # status, from OUT or from the run id
    assert main(["sagemaker", "status", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"run cli-run (from {out / 'sagemaker.json'})"
    assert [line.split()[:3] for line in lines[1:]] == [[k, n, "Completed"] for k, n in
                                                        zip(("sfm", "train", "compress"), names)]
    assert main(["sagemaker", "status", "cli-run", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(j["kind"], j["attempt"], j["status"]) for j in doc["jobs"]] == [
        ("sfm", 1, "Completed"), ("train", 1, "Completed"), ("compress", 1, "Completed")]
    assert doc["jobs"][1]["spot"] is True


def _put_log(logs: Any, group: str, stream: str, messages: list[str]) -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])


def _submit_jobs(clients: dict[str, Any], run_id: str, kinds: tuple[str, ...] = ("sfm", "train")) -> dict[str, str]:
    """Create the run's jobs in moto (Completed at once, as moto does); kind -> job name."""
    from splatkit.sagemaker.config import LauncherConfig
    from splatkit.sagemaker.jobs import build_job
    from splatkit.sagemaker.uris import parse_s3_uri
    from tests.sagemaker.conftest import config_kwargs

    config = LauncherConfig(**config_kwargs(output=f"s3://{BUCKET}/cli"))
    stages = {"sfm": ("pycolmap", {}), "train": ("cpu", {"steps": 5}), "compress": ("sog", {})}
    names = {}
    for kind in kinds:
        plan = build_job(kind, config, stages[kind], run_id=run_id, input=parse_s3_uri(f"s3://{BUCKET}/in/"))
        if plan.operation == "CreateProcessingJob":
            clients["sagemaker"].create_processing_job(**plan.request)
        else:
            clients["sagemaker"].create_training_job(**plan.request)
        names[kind] = plan.job_name
    return names


def _set_status(name: str, status: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
    if name in backend.processing_jobs:
        backend.processing_jobs[name].processing_job_status = status
    else:
        backend.training_jobs[name].training_job_status = status
        backend.training_jobs[name].secondary_status = "Training" if status == "InProgress" else status


def test_logs_prints_the_last_lines_of_the_stage_job(bucket: str, endpoint_env: str, aws_clients: dict[str, Any],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    names = _submit_jobs(aws_clients, "logs-1")
    logs = boto3.client("logs", endpoint_url=endpoint_env, region_name=REGION)
    _put_log(logs, "/aws/sagemaker/TrainingJobs", f"{names['train']}/algo-1-1714561234",
             [f"step {i}" for i in range(30)])
    # Another attempt's stream must not show up (prefix "JOB/").
    _put_log(logs, "/aws/sagemaker/TrainingJobs", f"{names['train']}0/algo-1-1714561234", ["other job"])
    assert main(["sagemaker", "logs", "logs-1", "train", "--region", REGION, "-n", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" ", 1)[1] for line in out] == [f"step {i}" for i in range(25, 30)]

    # --follow on a finished job prints what is there and ends; a job without a stream says so.
    assert main(["sagemaker", "logs", "logs-1", "sfm", "--region", REGION, "--follow"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"no log stream {names['sfm']}/... in /aws/sagemaker/ProcessingJobs" in captured.err
    assert f"{names['sfm']} is Completed" in captured.err

    assert main(["sagemaker", "logs", "logs-1", "compress", "--region", REGION]) == 2
    assert "has no compress job" in _one_error_line(capsys)
    assert main(["sagemaker", "status", "no-such-run", "--region", REGION]) == 2
    assert "no SageMaker job of run 'no-such-run' in us-east-1" in _one_error_line(capsys)


def test_logs_follow_reads_new_lines_until_the_job_ends(bucket: str, aws_clients: dict[str, Any], moto_endpoint: str,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    names = _submit_jobs(aws_clients, "follow-1", ("train",))
    _set_status(names["train"], "InProgress")
    logs = boto3.client("logs", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")
    stream = f"{names['train']}/algo-1-1714561299"
    _put_log(logs, "/aws/sagemaker/TrainingJobs", stream, ["first"])
    clients = {**aws_clients, "logs": logs}
    monkeypatch.setattr(sm_cli, "make_client", lambda service, region: clients[service])
    waits = []

    def job_writes_then_ends(seconds: float) -> None:
        waits.append(seconds)
        logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream,
                            logEvents=[{"timestamp": int(time.time() * 1000), "message": f"line {len(waits)}"}])
        if len(waits) == 2:
            _set_status(names["train"], "Completed")

    monkeypatch.setattr(sm_cli, "wait", job_writes_then_ends)
    assert main(["sagemaker", "logs", "follow-1", "train", "--follow"]) == 0
    captured = capsys.readouterr()
    assert [line.split(" ", 1)[1] for line in captured.out.splitlines()] == ["first", "line 1", "line 2"]
    assert waits == [sm_cli.FOLLOW_POLL_S] * 2 and f"{names['train']} is Completed" in captured.err


def test_stop_stops_the_running_jobs_of_a_run(bucket: str, aws_clients: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    names = _submit_jobs(aws_clients, "stop-1", ("sfm", "train", "compress"))
    _set_status(names["train"], "InProgress")
    _set_status(names["compress"], "InProgress")
    stopped = []

    # moto 5.2.5 implements StopProcessingJob (the job becomes Stopped) but not StopTrainingJob.
    def stop_training(params: dict[str, Any], **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        name = json.loads(params["body"])["TrainingJobName"]
        stopped.append(name)
        _set_status(name, "Stopping")
        return type("Response", (), {"status_code": 200, "headers": {}})(), {}

    sagemaker = aws_clients["sagemaker"]
    sagemaker.meta.events.register("before-call.sagemaker.StopTrainingJob", stop_training)
    monkeypatch.setattr(sm_cli, "make_client", lambda service, region: aws_clients[service])
    try:
        assert main(["sagemaker", "stop", "stop-1"]) == 0
        out = capsys.readouterr().out
        assert f"stopping train job {names['train']}" in out and f"stopping compress job {names['compress']}" in out
        assert names["sfm"] not in out and stopped == [names["train"]]
        assert sagemaker.describe_processing_job(ProcessingJobName=names["compress"])["ProcessingJobStatus"] == \
            "Stopped"
        # Nothing left to stop: the training job is Stopping, the rest finished.
        assert main(["sagemaker", "stop", "stop-1"]) == 0
        assert capsys.readouterr().out.startswith("no running job in run stop-1")
    finally:
        sagemaker.meta.events.unregister("before-call.sagemaker.StopTrainingJob", stop_training)
