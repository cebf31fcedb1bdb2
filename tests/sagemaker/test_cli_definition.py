"""``splatkit sagemaker definition``: the Step Functions definition and the IAM policies.

The job states carry the builders' requests (so the same validation and seams hold), names come
from the run id and attempt, every task has Retry and Catch, and the jobs chain by fixed S3 paths.
moto does not run ``.sync`` integrations, so the execution test rewrites them to request-response
(moto then creates each job in its SageMaker backend) and runs the whole state machine on moto's
server: the specs land in S3 with the hashes the jobs expect, and the three jobs exist.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.request
from typing import Any

import pytest

from splatkit.cli import main
from splatkit.sagemaker import container
from tests.conftest import PROJECT_ROOT
from tests.sagemaker.conftest import IMAGE, REGION, ROLE, config_kwargs

pytest.importorskip("botocore")

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STAGES = {"sfm": ("pycolmap", {"max_image_size": 1600}), "train": ("gsplat", {"steps": 7000}),
          "compress": ("sog", {"iterations": 10})}
ORDER = ["PutSpecSfM", "PutSpecTrain", "PutSpecCompress", "SfM", "Train", "Compress", "Done"]


def _config(**overrides: Any) -> Any:
    from splatkit.sagemaker.config import LauncherConfig

    return LauncherConfig(**config_kwargs(**overrides))


def _chain(definition: dict[str, Any]) -> list[str]:
    names, state = [], definition["StartAt"]
    while True:
        names.append(state)
        nxt = definition["States"][state].get("Next")
        if nxt is None:
            return names
        state = nxt


def test_the_job_states_are_the_builders_requests_chained_by_fixed_paths() -> None:
    from splatkit.sagemaker.api_model import validate_request
    from splatkit.sagemaker.definition import SYNC_RESOURCES, run_plans, state_machine_definition
    from splatkit.sagemaker.jobs import request_digest

    config = _config(spot=True)
    definition = state_machine_definition(config, STAGES, run_id="flight-7")
    states = definition["States"]
    assert _chain(definition) == ORDER
    _, plans = run_plans(config, STAGES, run_id="flight-7")
    for plan, state_name in zip(plans, ("SfM", "Train", "Compress")):
        state = states[state_name]
        assert state["Resource"] == SYNC_RESOURCES[plan.operation] and state["Resource"].endswith(".sync")
        assert state["Parameters"] == plan.request
        validate_request(plan.operation, state["Parameters"])
        tags = {t["Key"]: t["Value"] for t in state["Parameters"]["Tags"]}
        assert tags["splatkit:request-sha256"] == request_digest(state["Parameters"])
    # Names derived from the run id (and the attempt).
    assert states["SfM"]["Parameters"]["ProcessingJobName"] == "splatkit-flight-7-sfm-a1"
    assert states["Train"]["Parameters"]["TrainingJobName"] == "splatkit-flight-7-train-a1"
    again = state_machine_definition(config, STAGES, run_id="flight-7", attempt=2)
    assert again["States"]["Compress"]["Parameters"]["ProcessingJobName"] == "splatkit-flight-7-compress-a2"
    # Every task retries and is caught; the catch goes to the one Fail state.
    for name in ORDER[:-1]:
        assert states[name]["Retry"] and states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]
    assert states["Failed"]["Type"] == "Fail" and states["Done"]["Type"] == "Succeed"
    # The seams: input modes, the SfM output feeds training, the documented model.tar.gz feeds compression.
    for name in ("SfM", "Compress"):
        for item in states[name]["Parameters"]["ProcessingInputs"]:
            assert item["S3Input"]["S3InputMode"] == "File"
    train = states["Train"]["Parameters"]
    assert train["OutputDataConfig"]["CompressionType"] == "GZIP" and train["EnableManagedSpotTraining"] is True
    sfm_output = states["SfM"]["Parameters"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == sfm_output
    model = states["Compress"]["Parameters"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert model == f"{train['OutputDataConfig']['S3OutputPath']}splatkit-flight-7-train-a1/output/model.tar.gz"
    # Each spec written is the one whose hash the job's environment carries.
    for kind, put, job in (("sfm", "PutSpecSfM", "SfM"), ("train", "PutSpecTrain", "Train"),
                           ("compress", "PutSpecCompress", "Compress")):
        body = states[put]["Parameters"]["Body"].encode("utf-8")
        assert states[job]["Parameters"]["Environment"][container.ENV_SPEC_SHA256] == hashlib.sha256(body).hexdigest()
        assert states[put]["Parameters"]["Key"].endswith(f"-{kind}-a1/{container.SPEC_FILE}")


def _policy_actions(policy: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        out |= {actions} if isinstance(actions, str) else set(actions)
    return out


def test_the_policies_are_least_privilege_documents() -> None:
    from splatkit.sagemaker.config import VpcSettings
    from splatkit.sagemaker.definition import iam_policies

    policies = iam_policies(_config(output="s3://splatkit-test-bucket/runs"), state_machine_name="maps")
    assert set(policies) == {"caller", "execution_role_trust", "execution_role", "state_machine_trust",
                             "state_machine", "state_machine_caller"}
    for doc in policies.values():
        assert doc["Version"] == "2012-10-17" and json.loads(json.dumps(doc)) == doc
    assert policies["execution_role_trust"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert policies["state_machine_trust"]["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    machine = policies["state_machine"]
    assert {"sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
            "iam:PassRole", "events:PutRule", "events:PutTargets", "events:DescribeRule",
            "s3:PutObject"} <= _policy_actions(machine)
    events = next(s for s in machine["Statement"] if s["Sid"] == "JobEndEvents")
    assert events["Resource"] == [
        "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule",
        "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"]
    jobs = next(s for s in machine["Statement"] if s["Sid"] == "RunSplatkitJobs")
    assert jobs["Resource"] == ["arn:aws:sagemaker:us-east-1:123456789012:processing-job/splatkit-*",
                                "arn:aws:sagemaker:us-east-1:123456789012:training-job/splatkit-*"]
    for name in ("caller", "state_machine"):
        passrole = next(s for s in policies[name]["Statement"] if s["Action"] == "iam:PassRole")
        assert passrole["Resource"] == ROLE
    s3 = [s for s in policies["execution_role"]["Statement"] if any(a.startswith("s3:") for a in
                                                                    _policy_actions({"Statement": [s]}))]
    assert {json.dumps(s["Resource"]) for s in s3} == {'"arn:aws:s3:::splatkit-test-bucket"',
                                                      '"arn:aws:s3:::splatkit-test-bucket/runs/*"'}
    starts = next(s for s in policies["state_machine_caller"]["Statement"] if s["Sid"] == "StartAndWatchRuns")
    assert starts["Resource"][0] == "arn:aws:states:us-east-1:123456789012:stateMachine:maps"
    assert "kms:CreateGrant" not in _policy_actions(policies["execution_role"])

    vpc = VpcSettings(subnets=("subnet-0123456789abcdef0",), security_group_ids=("sg-0123456789abcdef0",))
    secured = iam_policies(_config(output_kms_key_id=KEY, vpc=vpc))
    assert {"kms:CreateGrant", "kms:Decrypt", "ec2:CreateNetworkInterface"} <= _policy_actions(
        secured["execution_role"])
    assert "kms:Decrypt" in _policy_actions(secured["caller"])


def test_the_docs_policies_are_the_generated_ones() -> None:
    from splatkit.sagemaker.definition import iam_policies

    config = _config(role_arn="arn:aws:iam::123456789012:role/SplatkitSageMaker",
                     output="s3://docs-bucket-x/docs-prefix-x",
                     image_uri="123456789012.dkr.ecr.us-west-2.amazonaws.com/docs-repo-x:1")
    generated = iam_policies(config)
    text = json.dumps(generated)
    for value, placeholder in (("123456789012", "ACCOUNT"), ("us-west-2", "REGION"), ("docs-bucket-x", "BUCKET"),
                               ("docs-prefix-x", "PREFIX"), ("docs-repo-x", "REPO")):
        text = text.replace(value, placeholder)
    generated = json.loads(text)
    docs = (PROJECT_ROOT / "docs" / "sagemaker.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", docs, re.S)]
    assert blocks[:3] == [generated["execution_role_trust"], generated["execution_role"], generated["caller"]]


def test_the_command_prints_the_document_and_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["sagemaker", "definition", "s3://splatkit-test-bucket/runs", "--role", ROLE, "--image", IMAGE]
    assert main([*base, "--run-id", "flight-7", "--train-steps", "3000", "--spot", "--region", "eu-west-1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["photos"] == "s3://splatkit-test-bucket/runs/flight-7/input/photos/"
    assert doc["jobs"]["train"]["output"].endswith("/splatkit-flight-7-train-a1/output/model.tar.gz")
    spec = json.loads(doc["definition"]["States"]["PutSpecTrain"]["Parameters"]["Body"])
    assert (spec["backend"], spec["config"]["steps"]) == ("gsplat", 3000)  # auto = gsplat where training runs
    assert "eu-west-1" in json.dumps(doc["policies"]["state_machine"])

    for argv, expected in (([*base], "needs --run-id"),
                           ([*base, "--run-id", "x1", "--instance-type-train", "ml.g5.xlargee"], "did you mean"),
                           ([*base[:3], "--role", "arn:aws:iam::123456789012:user/me", "--image", IMAGE, "--run-id",
                             "x1"], "not a role ARN")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err


def _enable_sfn_execution(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/config", method="POST",
                                     data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201)


def test_the_state_machine_runs_on_moto_with_request_response_jobs(aws_clients: dict[str, Any], moto_endpoint: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("moto")
    import boto3
    from botocore.config import Config

    from splatkit.sagemaker.definition import state_machine_definition

    bucket = "splatkit-definition"
    aws_clients["s3"].create_bucket(Bucket=bucket)
    config = _config(output=f"s3://{bucket}/runs")
    definition = state_machine_definition(config, STAGES, run_id="sfn-1")
    # moto runs no .sync integration; request-response creates the job and goes on.
    test_asl = json.dumps(definition).replace('.sync"', '"')
    _enable_sfn_execution(moto_endpoint)
    # The server's state machine calls S3 and SageMaker through localhost:MOTO_PORT, i.e. itself.
    monkeypatch.setenv("MOTO_PORT", moto_endpoint.rsplit(":", 1)[1])
    sfn = boto3.client("stepfunctions", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))
    arn = sfn.create_state_machine(name="splatkit-test", definition=test_asl,
                                   roleArn="arn:aws:iam::123456789012:role/SplatkitStates")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="sfn-1", input="{}")["executionArn"]
    deadline = time.monotonic() + 120
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.2)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert status == "SUCCEEDED", [e for e in history if "Failed" in e["type"]]
    sagemaker = aws_clients["sagemaker"]
    assert sagemaker.describe_processing_job(ProcessingJobName="splatkit-sfn-1-sfm-a1")["ProcessingJobName"]
    assert sagemaker.describe_training_job(TrainingJobName="splatkit-sfn-1-train-a1")["TrainingJobName"]
    compress = sagemaker.describe_processing_job(ProcessingJobName="splatkit-sfn-1-compress-a1")
    assert compress["ProcessingInputs"][0]["S3Input"]["S3InputMode"] == "File"
    for state, job in (("PutSpecSfM", "SfM"), ("PutSpecTrain", "Train")):
        params = definition["States"][state]["Parameters"]
        body = aws_clients["s3"].get_object(Bucket=params["Bucket"], Key=params["Key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == \
            definition["States"][job]["Parameters"]["Environment"][container.ENV_SPEC_SHA256]
