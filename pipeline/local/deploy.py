"""Local deployment: what ``pulumi up`` creates, created in moto.

That is the versioned trigger and output buckets, the three functions (the code archive,
handler, timeout, memory and environment the stack gives them) with their local warm
workers, and the state machine with the deployed definition
(:func:`pipeline.definition.state_machine_definition`).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from pipeline.config import Settings, function_environment
from pipeline.definition import state_machine_definition
from pipeline.iam import assume_role_policy
from pipeline.local.invoker import FunctionPool, FunctionSpec
from pipeline.local.lambdas import LocalLambda
from pipeline.local.names import (
    DUMMY_CREDENTIALS,
    OUTPUT_BUCKET,
    REGION,
    STATE_MACHINE,
    TRIGGER_BUCKET,
)
from pipeline.packaging import HANDLERS

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


@dataclass(frozen=True)
class Clients:
    """boto3 clients on the local endpoint."""

    s3: S3Client
    sfn: SFNClient
    lambda_: LambdaClient
    iam: Any  # no stubs for IAM in the dev set


def clients(endpoint: str) -> Clients:
    """Returns clients on ``endpoint`` with the dummy credentials."""
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=REGION,
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=64)
    return Clients(
        s3=session.client("s3", endpoint_url=endpoint, config=config),
        sfn=session.client("stepfunctions", endpoint_url=endpoint, config=config),
        lambda_=session.client("lambda", endpoint_url=endpoint, config=config),
        iam=session.client("iam", endpoint_url=endpoint, config=config),
    )


@dataclass(frozen=True)
class Deployment:
    """What the local deployment is made from.

    Attributes:
        settings: The stack's settings.
        archive: The functions' code archive (the one ``pulumi up`` deploys).
        task_root: Where the archive was extracted (the workers' ``LAMBDA_TASK_ROOT``).
        mount: The directory standing in for the EFS mount.
        endpoint: The moto server's URL.
        logs: Function name -> where its workers' output goes (absent: discarded).
    """

    settings: Settings
    archive: Path
    task_root: Path
    mount: Path
    endpoint: str
    logs: Mapping[str, IO[bytes]]


def extract_archive(archive: Path, destination: Path) -> Path:
    """Extracts the code archive to ``destination`` (refusing entries that escape it)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (destination / info.filename).resolve()
            if not target.is_relative_to(destination.resolve()):
                raise RuntimeError(f"code archive entry {info.filename!r} escapes its root")
        zf.extractall(destination)  # our own archive, and its entries were checked above
    return destination


def _worker_environment(
    name: str, function_env: Mapping[str, str], deployment: Deployment
) -> dict[str, str]:
    """The environment of a worker: the function's plus what Lambda itself sets."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(deployment.task_root),
        "_HANDLER": HANDLERS[name],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": f"docpipe-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(deployment.settings.memory_mb[name]),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/docpipe-{name}",
        # Lambda's execution role credentials; here, ones moto accepts.
        **DUMMY_CREDENTIALS,
        # boto3 in the handler then talks to the moto server, like the rest of the stack.
        "AWS_ENDPOINT_URL": deployment.endpoint,
    }
    environment.update(function_env)
    return environment


def _role(iam: Any, name: str, service: str) -> str:
    trust = json.dumps(assume_role_policy(service))
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])


def _create_buckets(s3: S3Client) -> None:
    for bucket in (TRIGGER_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _create_function(name: str, deployment: Deployment, aws: Clients, lambdas: LocalLambda) -> str:
    """Creates function ``name`` in moto and its workers; returns its ARN."""
    settings = deployment.settings
    function_env = function_environment(
        settings, output_bucket=OUTPUT_BUCKET, mount_path=str(deployment.mount)
    )
    created = aws.lambda_.create_function(
        FunctionName=f"docpipe-{name}",
        Runtime=f"python{settings.python_version}",  # type: ignore[arg-type]
        Role=_role(aws.iam, f"docpipe-{name}", "lambda.amazonaws.com"),
        Handler=HANDLERS[name],
        Code={"ZipFile": deployment.archive.read_bytes()},
        Timeout=settings.function_timeout_seconds,
        MemorySize=settings.memory_mb[name],
        Architectures=[settings.architecture],  # type: ignore[list-item]
        Environment={"Variables": function_env},
    )
    spec = FunctionSpec(
        name=f"docpipe-{name}",
        arn=str(created["FunctionArn"]),
        handler=HANDLERS[name],
        task_root=deployment.task_root,
        environment=_worker_environment(name, function_env, deployment),
        timeout_seconds=settings.function_timeout_seconds,
        memory_mb=settings.memory_mb[name],
    )
    lambdas.add(name, FunctionPool(spec, deployment.logs.get(name)))
    return spec.arn


def deploy(deployment: Deployment, aws: Clients, lambdas: LocalLambda) -> str:
    """Creates the buckets, functions and state machine; returns the state machine ARN."""
    _create_buckets(aws.s3)
    arns = {name: _create_function(name, deployment, aws, lambdas) for name in HANDLERS}
    definition = state_machine_definition(
        arns["ingest"],
        arns["transform"],
        arns["compress"],
        task_timeout_seconds=deployment.settings.task_timeout_seconds,
    )
    created = aws.sfn.create_state_machine(
        name=STATE_MACHINE,
        definition=json.dumps(definition),
        roleArn=_role(aws.iam, "docpipe-states", "states.amazonaws.com"),
        type="STANDARD",
    )
    return str(created["stateMachineArn"])
