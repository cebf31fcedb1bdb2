"""A Step Functions state machine for one run, and the IAM policies around it (for CDK or Terraform users).

The client-side chain (:class:`~splatkit.sagemaker.executor.SageMakerExecutor`) needs no AWS
resource besides the jobs; this module is the alternative for a run that must survive the
client: it emits, as JSON-able dicts, never creating anything,

* :func:`state_machine_definition`: an Amazon States Language document that writes the three job
  specs to S3 (``aws-sdk:s3:putObject``), then runs the SfM, training and compression jobs with
  the ``.sync`` integrations (``arn:aws:states:::sagemaker:create{Processing,Training}Job.sync``:
  Step Functions waits for each job), each with ``Retry`` and a ``Catch`` to one ``Fail`` state;
* :func:`iam_policies`: the caller's policy, the execution role's trust and permissions, and the
  state machine role's trust and permissions.

The job requests are the builders' (:func:`splatkit.sagemaker.jobs.build_job`), validated against
botocore's model like the executor's, with the same names (run id, stage, attempt) and specs. Two
choices differ from a client run, because a state machine chains jobs by fixed S3 paths:

* the training job writes ``model.tar.gz`` (``CompressionType=GZIP``), whose place
  (``S3OutputPath/JOB/output/model.tar.gz``) AWS documents; the compression job reads it;
* the photos are expected under the run's ``input/photos/`` prefix (upload them first, e.g.
  ``aws s3 sync``); the definition says where.

``Retry`` covers a refused Create call (throttling, an instance quota), after which no job exists
and the same name is free. A job that ran and failed keeps its name, so retrying it would only be
refused; such a failure goes to the ``Catch``, and a new attempt is a new definition
(``attempt=2``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from splatkit.errors import InputError
from splatkit.sagemaker.config import LauncherConfig
from splatkit.sagemaker.executor import LOG_GROUPS
from splatkit.sagemaker.jobs import JobPlan, build_job
from splatkit.sagemaker.layout import RunLayout
from splatkit.sagemaker.uris import S3Uri, parse_s3_uri
from splatkit.stages import STAGE_KINDS

__all__ = [
    "DEFINITION_SCHEMA",
    "chained_output",
    "SYNC_RESOURCES",
    "definition_document",
    "iam_policies",
    "run_plans",
    "state_machine_definition",
    "to_json",
]

DEFINITION_SCHEMA = 1
#: The Step Functions resource that runs (and waits for) each CreateXJob operation.
SYNC_RESOURCES: dict[str, str] = {
    "CreateProcessingJob": "arn:aws:states:::sagemaker:createProcessingJob.sync",
    "CreateTrainingJob": "arn:aws:states:::sagemaker:createTrainingJob.sync",
}
_PUT_OBJECT = "arn:aws:states:::aws-sdk:s3:putObject"
_STATE_NAMES = {"sfm": "SfM", "train": "Train", "compress": "Compress"}
_FAILED = "Failed"
_DONE = "Done"
# A refused Create call (throttling, quota) leaves no job behind: try again with backoff.
_JOB_RETRY = [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "IntervalSeconds": 30, "MaxAttempts": 3,
               "BackoffRate": 2.0}]
# Writing a spec is idempotent: retry whatever went wrong.
_PUT_RETRY = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2.0}]
_CATCH = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": _FAILED}]


def run_plans(config: LauncherConfig, stages: Mapping[str, tuple[str, Mapping[str, Any]]], *, run_id: str,
              attempt: int = 1) -> tuple[LauncherConfig, list[JobPlan]]:
    """The three jobs of a state-machine run, chained by fixed S3 paths; returns the config used too.

    ``stages`` maps each stage kind to its resolved ``(backend, {option: value})``. The training
    job is built with ``CompressionType=GZIP`` (see the module docstring).
    """
    missing = [kind for kind in STAGE_KINDS if kind not in stages]
    if missing:
        raise InputError(f"the state machine needs every stage; missing {missing}")
    config = dataclasses.replace(config, model_compression="GZIP")
    plans: list[JobPlan] = []
    data = None
    for kind in STAGE_KINDS:
        plan = build_job(kind, config, stages[kind], run_id=run_id, input=data, attempt=attempt)
        plans.append(plan)
        # The next job reads this one's output: a processing job's prefix, a training job's archive.
        data = chained_output(plan)
    return config, plans


def chained_output(plan: JobPlan) -> S3Uri:
    """Where the next job reads ``plan``'s output: a processing job's prefix, a training job's ``model.tar.gz``."""
    return plan.output.child("model.tar.gz") if plan.operation == "CreateTrainingJob" else plan.output


def _put_spec_state(uri: str, body: bytes, next_state: str) -> dict[str, Any]:
    location = parse_s3_uri(uri)
    return {"Type": "Task", "Resource": _PUT_OBJECT,
            "Parameters": {"Bucket": location.bucket, "Key": location.key, "Body": body.decode("utf-8"),
                           "ContentType": "application/json"},
            "ResultPath": None, "Retry": _PUT_RETRY, "Catch": _CATCH, "Next": next_state}


def state_machine_definition(config: LauncherConfig, stages: Mapping[str, tuple[str, Mapping[str, Any]]], *,
                             run_id: str, attempt: int = 1) -> dict[str, Any]:
    """The Amazon States Language document of one run (see the module docstring)."""
    config, plans = run_plans(config, stages, run_id=run_id, attempt=attempt)
    layout = RunLayout(config.output_uri, run_id)
    states: dict[str, Any] = {}
    uploads = [(uri, body) for plan in plans for uri, body in plan.uploads.items()]
    put_names = [f"PutSpec{_STATE_NAMES[plan.kind]}" for plan in plans]
    for i, (name, (uri, body)) in enumerate(zip(put_names, uploads)):
        states[name] = _put_spec_state(uri, body, put_names[i + 1] if i + 1 < len(put_names)
                                       else _STATE_NAMES[plans[0].kind])
    for i, plan in enumerate(plans):
        state = {"Type": "Task", "Resource": SYNC_RESOURCES[plan.operation], "Parameters": plan.request,
                 "ResultPath": None, "Retry": _JOB_RETRY, "Catch": _CATCH}
        state["Comment"] = f"{plan.kind}: job {plan.job_name}, output {plan.output.uri}"
        if i + 1 < len(plans):
            state["Next"] = _STATE_NAMES[plans[i + 1].kind]
        else:
            state["Next"] = _DONE
        states[_STATE_NAMES[plan.kind]] = state
    states[_DONE] = {"Type": "Succeed"}
    states[_FAILED] = {"Type": "Fail", "Error": "SplatkitStageFailed",
                       "Cause": f"a splatkit job of run {run_id} failed or was refused: see the execution's "
                                f"history (the error is in $.error) and `splatkit sagemaker status {run_id}`"}
    return {"Comment": f"splatkit run {run_id} attempt {attempt}: photos from {layout.photos.uri} -> SfM -> "
                       f"training -> compression (.sog in {plans[-1].output.uri})",
            "StartAt": put_names[0], "States": states}


def _arn_parts(config: LauncherConfig, region: str | None) -> tuple[str, str, str]:
    partition, account = config.role_arn.split(":")[1], config.role_arn.split(":")[4]
    ecr_region = config.image_uri.split(".")[3]
    return partition, account, region or ecr_region


def iam_policies(config: LauncherConfig, *, region: str | None = None,
                 state_machine_name: str = "splatkit") -> dict[str, dict[str, Any]]:
    """IAM documents for a launcher config (least privilege, scoped to its bucket prefix and job prefix).

    Keys: ``caller`` (who runs ``splatkit sagemaker``), ``execution_role_trust`` and
    ``execution_role`` (what the jobs run as), ``state_machine_trust`` and ``state_machine``
    (the Step Functions role for :func:`state_machine_definition`), and
    ``state_machine_caller`` (who starts and watches its executions). ``region`` defaults to the
    image's (ECR) region.
    """
    partition, account, region = _arn_parts(config, region)
    out = config.output_uri
    bucket_arn = f"arn:{partition}:s3:::{out.bucket}"
    prefix = out.key.rstrip("/")
    objects_arn = f"{bucket_arn}/{prefix}/*" if prefix else f"{bucket_arn}/*"
    list_condition = {"StringLike": {"s3:prefix": [f"{prefix}/*" if prefix else "*"]}}
    jobs = [f"arn:{partition}:sagemaker:{region}:{account}:{kind}-job/{config.job_prefix}-*"
            for kind in ("processing", "training")]
    logs_arn = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/*"
    repository = config.image_uri.split("/", 1)[1].split("@")[0].split(":")[0]
    pass_role = {"Sid": "PassOnlyTheExecutionRole", "Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": config.role_arn,
                 "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}
    list_prefix = {"Sid": "ListTheRunPrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
                   "Condition": list_condition}
    job_actions = ["sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:AddTags",
                   "sagemaker:DescribeProcessingJob", "sagemaker:DescribeTrainingJob", "sagemaker:ListTags",
                   "sagemaker:StopProcessingJob", "sagemaker:StopTrainingJob"]
    kms = []
    keys = {k for k in [config.output_kms_key_id] + [config.resources(kind).volume_kms_key_id
                                                     for kind in STAGE_KINDS] if k}
    if keys:
        kms = [{"Sid": "UseTheKmsKeys", "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"],
                "Resource": sorted(k if k.startswith("arn:") else f"arn:{partition}:kms:{region}:{account}:{k}"
                                   if k.startswith("alias/") else f"arn:{partition}:kms:{region}:{account}:key/{k}"
                                   for k in keys)}]
    vpc = []
    if config.vpc is not None:
        vpc = [{"Sid": "JobNetworkInterfaces", "Effect": "Allow", "Resource": "*",
                "Action": ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                           "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
                           "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                           "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]}]
    state_machine_arn = f"arn:{partition}:states:{region}:{account}:stateMachine:{state_machine_name}"

    def policy(*statements: dict[str, Any]) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": list(statements)}

    def trust(service: str) -> dict[str, Any]:
        return policy({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})

    return {
        "caller": policy(
            {"Sid": "SubmitWatchStopSplatkitJobs", "Effect": "Allow", "Action": job_actions, "Resource": jobs},
            {"Sid": "FindARunsJobs", "Effect": "Allow",
             "Action": ["sagemaker:ListProcessingJobs", "sagemaker:ListTrainingJobs"], "Resource": "*"},
            pass_role, list_prefix,
            {"Sid": "UploadPhotosAndSpecsDownloadOutputs", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects_arn},
            {"Sid": "ReadJobLogs", "Effect": "Allow", "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents"],
             "Resource": logs_arn},
            *([{**kms[0], "Action": ["kms:Decrypt", "kms:GenerateDataKey"]}] if kms else [])),
        "execution_role_trust": trust("sagemaker.amazonaws.com"),
        "execution_role": policy(
            list_prefix,
            {"Sid": "ReadInputsWriteOutputsAndCheckpoints", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects_arn},
            {"Sid": "PullTheImage", "Effect": "Allow",
             "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
             "Resource": f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"},
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Sid": "WriteJobLogs", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                        "logs:DescribeLogStreams"],
             "Resource": logs_arn},
            {"Sid": "JobMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
            *kms, *vpc),
        "state_machine_trust": trust("states.amazonaws.com"),
        # The .sync integrations: create, describe and stop the jobs, pass the role, and the
        # EventBridge rules Step Functions manages to learn when a job ends (AWS Step Functions
        # developer guide, "IAM policies for Amazon SageMaker AI").
        "state_machine": policy(
            {"Sid": "RunSplatkitJobs", "Effect": "Allow", "Action": job_actions, "Resource": jobs},
            pass_role,
            {"Sid": "JobEndEvents", "Effect": "Allow",
             "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
             "Resource": [f"arn:{partition}:events:{region}:{account}:rule/"
                          f"StepFunctionsGetEventsForSageMaker{kind}JobsRule" for kind in ("Processing", "Training")]},
            {"Sid": "WriteJobSpecs", "Effect": "Allow", "Action": "s3:PutObject", "Resource": objects_arn}),
        "state_machine_caller": policy(
            {"Sid": "StartAndWatchRuns", "Effect": "Allow",
             "Action": ["states:StartExecution", "states:DescribeExecution", "states:StopExecution",
                        "states:GetExecutionHistory"],
             "Resource": [state_machine_arn,
                          f"arn:{partition}:states:{region}:{account}:execution:{state_machine_name}:*"]},
            list_prefix,
            {"Sid": "UploadPhotosDownloadOutputs", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": objects_arn}),
    }


def definition_document(config: LauncherConfig, stages: Mapping[str, tuple[str, Mapping[str, Any]]], *,
                        run_id: str, attempt: int = 1, region: str | None = None,
                        state_machine_name: str = "splatkit") -> dict[str, Any]:
    """What ``splatkit sagemaker definition`` prints: the state machine, the policies and where things go."""
    used, plans = run_plans(config, stages, run_id=run_id, attempt=attempt)
    layout = RunLayout(used.output_uri, run_id)
    return {
        "schema": DEFINITION_SCHEMA,
        "run_id": run_id,
        "attempt": attempt,
        "photos": layout.photos.uri,
        "jobs": {plan.kind: {"name": plan.job_name, "operation": plan.operation, "output": chained_output(plan).uri,
                             "log_group": LOG_GROUPS["training" if plan.kind == "train" else "processing"]}
                 for plan in plans},
        "final_output": plans[-1].output.uri,
        "definition": state_machine_definition(config, stages, run_id=run_id, attempt=attempt),
        "policies": iam_policies(config, region=region, state_machine_name=state_machine_name),
    }


def to_json(document: Mapping[str, Any]) -> str:
    """``document`` as the indented JSON the command prints."""
    return json.dumps(document, indent=2)
