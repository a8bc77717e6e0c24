"""A local stack: the deployed pipeline on one machine, kept up while in use.

:class:`LocalStack` sets up what ``pulumi up`` creates, in a moto server on 127.0.0.1
(:mod:`pipeline.local.deploy`): the trigger and output buckets, the three functions
from the code archive with warm local workers, and the state machine with the deployed
definition. An object put into the trigger bucket, by anyone, starts an execution
through the EventBridge rule's pattern and input transformer
(:mod:`pipeline.local.events`). With ``uploads: queued`` the rule sends that input to
the uploads queue instead, and a local event source mapping
(:mod:`pipeline.local.event_source`) runs it in a batch of the uploads state machine
through the dispatch function (:mod:`pipeline.local.queued`); an upload then has no
execution of its own. A temporary directory stands in for the EFS mount unless one is
given. ``python -m pipeline run`` and ``serve`` are clients of it, and so are the
tests::

    with LocalStack() as stack:
        arn = stack.put("inbox/letter.pdf", Path("letter.pdf"))
        stack.wait(timeout=60)
        assert stack.workspace_leftovers() == []
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pipeline.config import Settings, load_stack_settings
from pipeline.local import deploy
from pipeline.local.deploy import Clients, Deployed, Deployment
from pipeline.local.event_source import EventSourceMapping
from pipeline.local.events import (
    DELIVERY_TIMEOUT_SECONDS,
    Target,
    TriggerRule,
    send_message,
    start_execution,
)
from pipeline.local.inputs import UsageError
from pipeline.local.lambdas import LocalLambda
from pipeline.local.moto_hooks import ObjectCreated, moto_server
from pipeline.local.queued import DISPATCH, QueuedUploads, deploy_queued, mapping_config
from pipeline.models import provision_local
from pipeline.packaging import HANDLERS, build_code_archive
from pipeline.trigger import event_pattern

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class StackOptions:
    """How a local stack is built, beyond its settings and mount.

    Attributes:
        stack: The stack whose settings apply when none are given (``Pulumi.<stack>.yaml``).
        code_archive: The functions' code archive (default: built from ``functions/`` by
            the step ``pulumi up`` uses).
        log_dir: Where each function's log output goes (``<function>.log``); None
            discards it, as a deleted log group would.
        transient_failures: Test hook: function name (``dispatch`` too) -> how many of
            its first invocations fail as a Lambda outage (see :class:`LocalLambda`).
        port: The moto server's port on 127.0.0.1 (0: a free one).
        visibility_timeout_seconds: Test hook for ``uploads: queued``: the uploads
            queue's visibility timeout (None: the deployed one), so that a batch that did
            not finish comes back within a test.
    """

    stack: str = "dev"
    code_archive: Path | None = None
    log_dir: Path | None = None
    transient_failures: Mapping[str, int] = field(default_factory=dict)
    port: int = 0
    visibility_timeout_seconds: int | None = None


@dataclass(frozen=True)
class Upload:
    """An object put into the trigger bucket, and what the trigger rule did with it.

    Attributes:
        version_id: The new object version.
        delivered: The execution the rule started (direct uploads), or the id of the
            message it sent to the uploads queue (queued: the document's job is
            ``upload-<id>-<delivery>``; its status document tells how it ended).
    """

    key: str
    version_id: str | None
    delivered: str


def load_settings(stack: str) -> Settings:
    """Returns a stack's settings from ``Pulumi.<stack>.yaml``.

    Raises:
        UsageError: The stack has no settings file, or its settings are invalid.
    """
    try:
        return load_stack_settings(stack)
    except FileNotFoundError as exc:
        raise UsageError(f"stack {stack!r} has no settings file: {exc.filename}") from None
    except ValueError as exc:
        raise UsageError(f"stack {stack!r}: {exc}") from None


def workspace_leftovers(mount: Path) -> list[str]:
    """Returns what jobs left in the workspace (relative paths); empty when clean.

    ``claims/`` is not a leftover: a claim outlives its job on purpose (it recognises a
    duplicate event for the same object version) and is swept after the TTL. Nor is
    ``models/``, which the stack provisions for every job. A key lock (``locks/``) left
    behind is, like a job's directory.
    """
    leftovers: list[str] = []
    for entry in sorted(mount.iterdir()) if mount.is_dir() else ():
        if entry.name in ("claims", "models") and entry.is_dir():
            continue
        if entry.name in ("jobs", "locks") and entry.is_dir():
            leftovers.extend(child.relative_to(mount).as_posix() for child in entry.iterdir())
            continue
        leftovers.append(entry.relative_to(mount).as_posix())
    return sorted(leftovers)


class LocalStack:
    """The deployed pipeline in moto, up between ``__enter__`` and ``__exit__``.

    Args:
        settings: The stack's settings (default: those of ``options.stack``).
        mount: The directory standing in for the EFS mount (default: a fresh temporary
            one, removed afterwards); it must not hold jobs of another stack.
        options: See :class:`StackOptions`.

    Raises:
        UsageError: (on construction) the stack's settings cannot be read.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        mount: Path | None = None,
        *,
        options: StackOptions | None = None,
    ) -> None:
        self.options = options or StackOptions()
        self.settings = settings or load_settings(self.options.stack)
        self._given_mount = mount
        self.lambdas = LocalLambda(self.options.transient_failures)
        self._exit = contextlib.ExitStack()
        self._rule: TriggerRule | None = None
        # The uploads queue's event source mapping (None unless uploads are queued).
        self.mapping: EventSourceMapping | None = None
        self._aws: Clients | None = None
        self.mount = Path()
        self.endpoint = ""
        self.state_machine_arn = ""
        self.uploads: QueuedUploads | None = None

    trigger_bucket = deploy.TRIGGER_BUCKET
    output_bucket = deploy.OUTPUT_BUCKET
    region = deploy.REGION

    @property
    def s3(self) -> S3Client:
        """An S3 client on the local endpoint."""
        return self._clients.s3

    @property
    def sfn(self) -> SFNClient:
        """A Step Functions client on the local endpoint."""
        return self._clients.sfn

    @property
    def lambda_client(self) -> LambdaClient:
        """A Lambda client on the local endpoint."""
        return self._clients.lambda_

    @property
    def sqs(self) -> Any:
        """An SQS client on the local endpoint."""
        return self._clients.sqs

    @property
    def iam(self) -> Any:
        """An IAM client on the local endpoint."""
        return self._clients.iam

    @property
    def _clients(self) -> Clients:
        if self._aws is None:
            raise RuntimeError("the local stack is not up (use it in a with statement)")
        return self._aws

    def __enter__(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._exit.close()
        self._aws = None

    def _start(self) -> None:
        scratch = Path(
            self._exit.enter_context(tempfile.TemporaryDirectory(prefix="docpipe-local-"))
        )
        self.mount = self._given_mount or scratch / "efs"
        self.mount.mkdir(exist_ok=True)
        # OCR models, as the stack provisions them on EFS (pipeline/models.py).
        provision_local(self.mount, self.settings.ocr_languages, self.settings.ocr_model)
        archive = self.options.code_archive or build_code_archive(scratch / "functions.zip")
        task_root = deploy.extract_archive(archive, scratch / "task")
        logs = self._open_logs()
        self._exit.callback(self.lambdas.close)
        self.endpoint = self._exit.enter_context(
            moto_server(self.lambdas, self._object_created, self.options.port)
        )
        self._aws = deploy.clients(self.endpoint)
        spec = Deployment(self.settings, archive, task_root, self.mount, self.endpoint, logs)
        deployed = deploy.deploy(spec, self._aws, self.lambdas)
        self.state_machine_arn = deployed.state_machine_arn
        target = start_execution(self._aws.sfn, self.state_machine_arn)
        if self.queued:
            target = self._start_queued(spec, deployed)
        pattern = event_pattern(self.trigger_bucket, self.settings.trigger_prefix)
        rule = TriggerRule(target, pattern, self.region)
        rule.start()
        self._rule = rule
        # Stopped before the mapping (callbacks run last first): events already received
        # are still sent to the queue.
        self._exit.callback(rule.stop)

    @property
    def queued(self) -> bool:
        """Whether uploads wait in the uploads queue (``uploads: queued``)."""
        return self.settings.uploads == "queued"

    def _start_queued(self, spec: Deployment, deployed: Deployed) -> Target:
        """Deploys queued uploads and starts the event source mapping; returns the target."""
        aws = self._clients
        self.uploads = deploy_queued(
            spec, aws, self.lambdas, deployed, self.options.visibility_timeout_seconds
        )
        config = mapping_config(self.uploads, self.settings)
        self.mapping = EventSourceMapping(aws.sqs, config, self.lambdas.invoke)
        self.mapping.start()
        self._exit.callback(self.mapping.stop)
        return send_message(aws.sqs, self.uploads.queue_url)

    def _open_logs(self) -> dict[str, IO[bytes]]:
        log_dir = self.options.log_dir
        if log_dir is None:
            return {}
        log_dir.mkdir(parents=True, exist_ok=True)
        names = [*HANDLERS, DISPATCH] if self.queued else list(HANDLERS)
        return {
            name: self._exit.enter_context(open(log_dir / f"{name}.log", "ab")) for name in names
        }

    @property
    def _trigger_rule(self) -> TriggerRule:
        if self._rule is None:
            raise RuntimeError("the local stack is not up (use it in a with statement)")
        return self._rule

    def _object_created(self, created: ObjectCreated) -> None:
        if self._rule is not None:
            self._rule.notify(created)

    def put(
        self, key: str, data_or_path: bytes | Path, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Puts an object into the trigger bucket; returns the execution it started.

        The execution is started by the trigger rule, as on AWS, with the input the
        rule's transformer makes from the S3 event (a ``docpipe-profile`` entry of
        ``metadata`` chooses the profile, as object metadata does on AWS). With
        ``uploads: queued`` there is no execution per upload: use :meth:`upload`.

        Raises:
            ValueError: The key is outside the stack's trigger prefix (no rule matches).
            botocore.exceptions.ClientError: S3 refused the object.
            RuntimeError: The rule could not start the execution, or uploads are queued.
        """
        if self.queued:
            raise RuntimeError(
                "uploads are queued: an upload has no execution of its own; use upload() "
                "and follow the key's status document"
            )
        return self.upload(key, data_or_path, metadata).delivered

    def upload(
        self, key: str, data_or_path: bytes | Path, metadata: Mapping[str, str] | None = None
    ) -> Upload:
        """Puts an object into the trigger bucket; returns its version and what the trigger
        rule did with it (see :meth:`put` and :class:`Upload`).

        Raises:
            ValueError: The key is outside the stack's trigger prefix (no rule matches).
            botocore.exceptions.ClientError: S3 refused the object.
            RuntimeError: The rule could not deliver the object's event.
        """
        prefix = self.settings.trigger_prefix
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is outside the trigger prefix {prefix!r}")
        extra: dict[str, Any] = {"Metadata": dict(metadata)} if metadata else {}
        if isinstance(data_or_path, Path):
            with open(data_or_path, "rb") as body:
                put = self.s3.put_object(Bucket=self.trigger_bucket, Key=key, Body=body, **extra)
        else:
            put = self.s3.put_object(
                Bucket=self.trigger_bucket, Key=key, Body=data_or_path, **extra
            )
        version = put.get("VersionId")
        delivered = self._trigger_rule.delivery_of(key, version, DELIVERY_TIMEOUT_SECONDS)
        return Upload(key, version, delivered)

    def start(self, execution_input: Mapping[str, Any], name: str | None = None) -> str:
        """Starts an execution with ``execution_input`` directly (a re-run); returns its ARN."""
        started = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=name or str(uuid.uuid4()),
            input=json.dumps(dict(execution_input)),
        )
        return str(started["executionArn"])

    def running(self) -> list[str]:
        """Returns the ARNs of the executions still running."""
        pages = self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
        )
        return [item["executionArn"] for page in pages for item in page["executions"]]

    def idle(self) -> bool:
        """Whether every event was delivered and all the work it started has ended: no
        execution running and, with queued uploads, the uploads queue empty and no batch
        running."""
        if self._rule is None or not self._rule.idle:
            return False
        if self.mapping is not None and not self.mapping.idle:
            return False
        return not self.running()

    def wait(self, timeout: float | None = None) -> None:
        """Returns once every delivered event's work has ended (see :meth:`idle`).

        Raises:
            TimeoutError: Work was still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.idle():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"executions still running after {timeout} s")
            time.sleep(_POLL_SECONDS)

    def workspace_leftovers(self) -> list[str]:
        """Returns what jobs left in the workspace; see :func:`workspace_leftovers`."""
        return workspace_leftovers(self.mount)

    def outputs(self) -> dict[str, str]:
        """Returns the stack outputs, named as ``pulumi stack output`` names them."""
        outputs = {
            "triggerBucket": self.trigger_bucket,
            "outputBucket": self.output_bucket,
            "stateMachineArn": self.state_machine_arn,
            "triggerPrefix": self.settings.trigger_prefix,
            "endpoint": self.endpoint,
            "region": self.region,
        }
        if self.uploads is not None:
            outputs["uploadsQueueUrl"] = self.uploads.queue_url
            outputs["uploadsDeadLetterQueueUrl"] = self.uploads.dead_letter_url
            outputs["uploadsStateMachineArn"] = self.uploads.state_machine_arn
        return outputs

    def environment(self) -> dict[str, str]:
        """Returns the environment that points boto3 and the AWS CLI at this stack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **deploy.DUMMY_CREDENTIALS,
        }
