"""Local deployment: what ``pulumi up`` creates, created in moto.

That is the versioned trigger and output buckets, the three functions (the code archive,
handler, timeout, memory and environment the stack gives them) with their local warm
workers, and the state machine with the deployed definition
(:func:`pipeline.definition.state_machine_definition`). With ``uploads: queued``,
:mod:`pipeline.local.queued` adds the uploads queue, its consumer and its state machine.
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
    sqs: Any  # no stubs for SQS or IAM in the dev set
    iam: Any


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
        sqs=session.client("sqs", endpoint_url=endpoint, config=config),
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


@dataclass(frozen=True)
class FunctionConfig:
    """One function's Lambda configuration (what the stack gives it)."""

    handler: str
    memory_mb: int
    timeout_seconds: int
    environment: Mapping[str, str]
    reserved_concurrency: int = -1


@dataclass(frozen=True)
class Deployed:
    """What :func:`deploy` created: the state machine's ARN and function name -> ARN."""

    state_machine_arn: str
    functions: Mapping[str, str]


def _worker_environment(
    name: str, function: FunctionConfig, deployment: Deployment
) -> dict[str, str]:
    """The environment of a worker: the function's plus what Lambda itself sets."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(deployment.task_root),
        "_HANDLER": function.handler,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": f"docpipe-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/docpipe-{name}",
        # Lambda's execution role credentials; here, ones moto accepts.
        **DUMMY_CREDENTIALS,
        # boto3 in the handler then talks to the moto server, like the rest of the stack.
        "AWS_ENDPOINT_URL": deployment.endpoint,
    }
    environment.update(function.environment)
    return environment


def _role(iam: Any, name: str, service: str) -> str:
    trust = json.dumps(assume_role_policy(service))
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])


def _create_buckets(s3: S3Client) -> None:
    for bucket in (TRIGGER_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def create_function(
    name: str, function: FunctionConfig, deployment: Deployment, aws: Clients, lambdas: LocalLambda
) -> str:
    """Creates function ``docpipe-<name>`` in moto and its workers; returns its ARN."""
    settings = deployment.settings
    created = aws.lambda_.create_function(
        FunctionName=f"docpipe-{name}",
        Runtime=f"python{settings.python_version}",  # type: ignore[arg-type]
        Role=_role(aws.iam, f"docpipe-{name}", "lambda.amazonaws.com"),
        Handler=function.handler,
        Code={"ZipFile": deployment.archive.read_bytes()},
        Timeout=function.timeout_seconds,
        MemorySize=function.memory_mb,
        Architectures=[settings.architecture],  # type: ignore[list-item]
        Environment={"Variables": dict(function.environment)},
    )
    spec = FunctionSpec(
        name=f"docpipe-{name}",
        arn=str(created["FunctionArn"]),
        handler=function.handler,
        task_root=deployment.task_root,
        environment=_worker_environment(name, function, deployment),
        timeout_seconds=function.timeout_seconds,
        memory_mb=function.memory_mb,
        reserved_concurrency=function.reserved_concurrency,
    )
    lambdas.add(name, FunctionPool(spec, deployment.logs.get(name)))
    return spec.arn


def _stage(name: str, settings: Settings, mount: Path) -> FunctionConfig:
    """The configuration of pipeline stage ``name`` (ingest, transform or compress)."""
    return FunctionConfig(
        handler=HANDLERS[name],
        memory_mb=settings.memory_mb[name],
        timeout_seconds=settings.function_timeout_seconds,
        environment=function_environment(
            settings, output_bucket=OUTPUT_BUCKET, mount_path=str(mount)
        ),
        reserved_concurrency=settings.reserved_concurrency,
    )


def state_machine_role(aws: Clients, name: str) -> str:
    """Creates a role Step Functions may assume; returns its ARN."""
    return _role(aws.iam, name, "states.amazonaws.com")


def deploy(deployment: Deployment, aws: Clients, lambdas: LocalLambda) -> Deployed:
    """Creates the buckets, functions and state machine."""
    _create_buckets(aws.s3)
    settings = deployment.settings
    arns = {
        name: create_function(
            name, _stage(name, settings, deployment.mount), deployment, aws, lambdas
        )
        for name in HANDLERS
    }
    definition = state_machine_definition(
        arns["ingest"],
        arns["transform"],
        arns["compress"],
        task_timeout_seconds=deployment.settings.task_timeout_seconds,
        ocr_max_concurrency=deployment.settings.ocr_max_concurrency,
        execution_timeout_seconds=deployment.settings.execution_timeout_seconds,
    )
    created = aws.sfn.create_state_machine(
        name=STATE_MACHINE,
        definition=json.dumps(definition),
        roleArn=state_machine_role(aws, "docpipe-states"),
        type="STANDARD",
    )
    return Deployed(str(created["stateMachineArn"]), arns)
