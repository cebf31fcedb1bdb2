"""Fixtures for the SageMaker launcher: a valid LauncherConfig to vary, and moto's server on loopback.

The server is moto's real HTTP server (``ThreadedMotoServer``) bound to 127.0.0.1 on a free port,
so requests go through botocore's serialisation and moto's HTTP parsing exactly as against AWS;
clients get dummy credentials and the loopback endpoint, and nothing leaves the machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROLE = "arn:aws:iam::123456789012:role/SplatkitSageMaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/splatkit:0.1.0"
OUTPUT = "s3://splatkit-test-bucket/runs"
REGION = "us-east-1"


def config_kwargs(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of a valid LauncherConfig, with ``overrides`` applied."""
    return {"role_arn": ROLE, "output": OUTPUT, "image_uri": IMAGE, **overrides}


@pytest.fixture
def make_config() -> Callable[..., Any]:
    """``make_config(**overrides)`` -> LauncherConfig (skips without botocore: it holds the enums)."""
    pytest.importorskip("botocore")
    from splatkit.sagemaker.config import LauncherConfig

    def make(**overrides: Any) -> LauncherConfig:
        return LauncherConfig(**config_kwargs(**overrides))

    return make


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server started for this test session."""
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    with pytest.MonkeyPatch.context() as mp:
        # Loopback must never go through a proxy, and nothing may look for real credentials.
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="session")
def aws_clients(moto_endpoint: str) -> dict[str, Any]:
    """boto3 ``s3`` and ``sagemaker`` clients talking to the loopback moto server."""
    import boto3
    from botocore.config import Config

    assert moto_endpoint.startswith("http://127.0.0.1:")
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return {name: boto3.client(name, endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                               aws_secret_access_key="testing", config=config)
            for name in ("s3", "sagemaker")}
