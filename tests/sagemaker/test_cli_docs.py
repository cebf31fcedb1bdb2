"""docs/sagemaker.md's walkthrough stays true: its IAM JSON parses and grants every AWS call the
launcher makes, its launcher file builds a LauncherConfig, its flags exist."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from splatkit.cli import build_parser
from tests.conftest import PROJECT_ROOT

TEXT = (PROJECT_ROOT / "docs" / "sagemaker.md").read_text()
SOURCES = sorted((PROJECT_ROOT / "src" / "splatkit" / "sagemaker").glob("*.py"))
# boto3 client attributes that are not API calls.
_NOT_CALLS = {"meta", "exceptions", "can_paginate", "get_waiter", "close"}
# S3 transfer helpers and paginators -> the S3 operations they make.
_S3_HELPERS = {"download_file": ["HeadObject", "GetObject"], "upload_file": ["PutObject", "CreateMultipartUpload"],
               "get_paginator": ["ListObjectsV2"]}
# IAM actions of the S3 operations (the S3 authorisation table: HEAD needs GetObject, ...).
_S3_ACTIONS = {"HeadObject": "s3:GetObject", "GetObject": "s3:GetObject", "PutObject": "s3:PutObject",
               "CreateMultipartUpload": "s3:PutObject", "ListObjectsV2": "s3:ListBucket"}


def _json_blocks() -> list[dict[str, Any]]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", TEXT, re.S)]


def _policy(predicate: Any) -> dict[str, Any]:
    (found,) = [doc for doc in _json_blocks() if predicate(doc)]
    return found


def _actions(policy: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        out |= {actions} if isinstance(actions, str) else set(actions)
    return out


def _launcher_calls() -> dict[str, set[str]]:
    """service -> client method names that src/splatkit/sagemaker calls (``sagemaker.x``, ``self.s3.y``)."""
    pattern = re.compile(r"(?<![\w.])(?:self\.)?(sagemaker|s3|logs)\.([a-z_0-9]+)\b")
    calls: dict[str, set[str]] = {"sagemaker": set(), "s3": set(), "logs": set()}
    for path in SOURCES:
        for service, method in pattern.findall(path.read_text()):
            if method not in _NOT_CALLS:
                calls[service].add(method)
    return calls


def test_every_json_block_is_a_policy_document() -> None:
    blocks = _json_blocks()
    assert len(blocks) == 3
    for doc in blocks:
        assert doc["Version"] == "2012-10-17" and doc["Statement"]


def test_the_caller_policy_grants_every_call_the_launcher_makes() -> None:
    boto3 = pytest.importorskip("boto3")
    caller = _policy(lambda d: "iam:PassRole" in _actions(d))
    granted = _actions(caller)
    needed = {"iam:PassRole", "sagemaker:AddTags"}  # Create*Job with Tags needs AddTags too
    calls = _launcher_calls()
    assert {"create_training_job", "describe_processing_job", "list_training_jobs", "stop_training_job"} <= \
        calls["sagemaker"], calls
    for service in ("sagemaker", "logs", "s3"):
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        mapping = client.meta.method_to_api_mapping
        for method in calls[service]:
            if method not in mapping and method not in _S3_HELPERS:
                continue  # prose such as "docs/sagemaker.md", not a client attribute
            operations = _S3_HELPERS.get(method) or [mapping[method]]
            for operation in operations:
                needed.add(_S3_ACTIONS[operation] if service == "s3" else f"{service}:{operation}")
    assert needed <= granted, sorted(needed - granted)
    passrole = next(s for s in caller["Statement"] if s["Action"] == "iam:PassRole")
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    scoped = next(s for s in caller["Statement"] if "sagemaker:CreateTrainingJob" in s["Action"])
    assert all(r.endswith("/splatkit-*") for r in scoped["Resource"])


def test_the_execution_role_trusts_sagemaker_and_reaches_only_the_prefix_and_the_repository() -> None:
    trust = _policy(lambda d: any("Principal" in s for s in d["Statement"]))
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}]
    execution = _policy(lambda d: "ecr:BatchGetImage" in _actions(d))
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "ecr:GetAuthorizationToken", "logs:PutLogEvents",
            "logs:CreateLogStream"} <= _actions(execution)
    for statement in execution["Statement"]:
        if any(a.startswith("s3:") for a in _actions({"Statement": [statement]})):
            assert statement["Resource"] in ("arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/PREFIX/*")
    assert not any("*" == a or a.endswith(":*") for a in _actions(execution))


def test_the_launcher_file_example_builds_a_launcher_config() -> None:
    pytest.importorskip("botocore")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from splatkit.sagemaker.config import launcher_config_from_mapping

    (block,) = re.findall(r"```toml\n(.*?)\n```", TEXT, re.S)
    data = tomllib.loads(block)
    assert data.pop("region") == "us-east-1"
    config = launcher_config_from_mapping(data, where="docs")
    assert config.spot and config.spot_max_wait_s == 86400 and config.train.instance_type == "ml.g4dn.xlarge"
    assert config.sfm.volume_kms_key_id is not None and dict(config.tags) == {"project": "site-42"}


def test_the_documented_flags_exist() -> None:
    table = TEXT.split("## The `splatkit sagemaker run` options", 1)[1].split("\n## ", 1)[0]
    flags = set(re.findall(r"`(--[a-z-]+)", table)) | set(re.findall(r"(--[a-z][a-z-]+)", table))
    run = build_parser(["sagemaker", "run"])
    sub = next(a for a in run._actions if a.dest == "command").choices["sagemaker"]
    parser = next(a for a in sub._actions if a.dest == "sagemaker_command").choices["run"]
    known = set(parser._option_string_actions)
    assert flags and flags <= known, sorted(flags - known)
    walkthrough = TEXT.split("### 5. Watch", 1)[1].split("\n## ", 1)[0]
    for command in ("status", "logs", "stop"):
        assert f"splatkit sagemaker {command} " in walkthrough


def test_the_docs_name_the_paths_and_limits_the_code_uses() -> None:
    from splatkit.sagemaker import cli as sm_cli
    from splatkit.sagemaker.executor import LOG_GROUPS

    for group in LOG_GROUPS.values():
        assert f"`{group}`" in TEXT
    assert f"every {sm_cli.FOLLOW_POLL_S:.0f} s" in TEXT
    assert f"(default {sm_cli.DEFAULT_LOG_LINES})" in TEXT
    assert Path(PROJECT_ROOT / "docker" / "Dockerfile").is_file() and "docker build -f docker/Dockerfile" in TEXT
