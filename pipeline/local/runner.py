"""The whole pipeline on one machine: moto's S3 and Step Functions, local Lambda workers.

:func:`run` sets up what ``pulumi up`` would create, in moto: the trigger and output
buckets, the three functions (from the code archive :func:`build_code_archive` builds, the
one ``pulumi up`` deploys, with the environment :func:`function_environment` gives them),
and the state machine (the definition :func:`state_machine_definition` returns, the one
``pulumi up`` deploys). Each input file is uploaded to the trigger bucket, turned into an
execution input by the EventBridge rule's input transformer applied to a real-shaped S3
"Object Created" event, and started; executions run concurrently. The output bucket is
then copied to the output directory, and the workspace (a fresh temporary directory
standing in for the EFS mount) is checked: every job must have removed its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from functions.errors import ErrorCode
from functions.naming import outputs_of
from functions.settings import PROFILES
from pipeline.config import Settings, function_environment, load_stack_settings
from pipeline.definition import state_machine_definition
from pipeline.iam import assume_role_policy
from pipeline.local.invoker import FunctionPool, FunctionSpec, InvocationResult
from pipeline.local.moto_hooks import LambdaServiceError, moto_server
from pipeline.packaging import HANDLERS, build_code_archive
from pipeline.trigger import apply_input_transformer, object_created_event

REGION = "us-east-1"
ACCOUNT = "123456789012"
TRIGGER_BUCKET = "docpipe-local-trigger"
OUTPUT_BUCKET = "docpipe-local-output"
STATE_MACHINE = "docpipe-local"
# Credentials that moto accepts and that can reach nothing real.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "docpipe-local",
    "AWS_SECRET_ACCESS_KEY": "docpipe-local",
    "AWS_SESSION_TOKEN": "docpipe-local",
}
_POLL_SECONDS = 0.1
S3_MAX_KEY_BYTES = 1024


class UsageError(Exception):
    """The run cannot start because of how it was asked for (exit status 2)."""


@dataclass(frozen=True)
class InputDocument:
    """A local file and the trigger bucket key it is uploaded as."""

    path: Path
    key: str


@dataclass(frozen=True)
class DocumentResult:
    """How one document ended; :meth:`summary` is its entry in the ``--json`` summary.

    Attributes:
        reported: For a failed document, whether its failure report exists in the
            output bucket (a failure without one is a defect of the pipeline).
        failed_members: How many members of a bundle failed (the bundle succeeds).
        failed_attempts: ``(state, error)`` of every task attempt that failed, from the
            execution history, e.g. ``("Transform", "Lambda.ServiceException")`` for an
            attempt that the definition then retried.
    """

    source: str
    status: str
    outputs: tuple[str, ...]
    error: dict[str, str] | None
    bytes_in: int
    bytes_out: int
    pages: int
    seconds: float
    execution_arn: str
    reported: bool = True
    failed_members: int = 0
    failed_attempts: tuple[tuple[str, str], ...] = ()

    @property
    def accounted_for(self) -> bool:
        """Whether it succeeded, or failed and says why in a failure report."""
        return self.status == "succeeded" or self.reported

    def summary(self) -> dict[str, Any]:
        """Returns the document's entry of DESIGN section 4's summary."""
        return {
            "source": self.source,
            "status": self.status,
            "outputs": list(self.outputs),
            "error": self.error,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class RunResult:
    """The outcome of a local run.

    Attributes:
        documents: One result per input, sorted by source key.
        seconds: Wall time of the whole run, set-up included.
        out_dir: Where the output bucket was copied to.
        leftovers: Workspace entries no job removed (relative to the mount); must be empty.
        problems: Anything else that went wrong in the pipeline rather than in a document.
        transient_failures_injected: Invocations failed on purpose (tests only).
    """

    documents: tuple[DocumentResult, ...]
    seconds: float
    out_dir: Path
    leftovers: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    transient_failures_injected: int = 0

    @property
    def succeeded(self) -> int:
        """How many documents succeeded."""
        return sum(1 for doc in self.documents if doc.status == "succeeded")

    @property
    def failed(self) -> int:
        """How many documents failed (with or without a report)."""
        return len(self.documents) - self.succeeded

    @property
    def exit_code(self) -> int:
        """0 when every document is accounted for and the workspace is clean, else 1."""
        clean = not self.leftovers and not self.problems
        return 0 if clean and all(doc.accounted_for for doc in self.documents) else 1

    def summary(self) -> dict[str, Any]:
        """Returns the ``--json`` summary of DESIGN section 4."""
        return {
            "documents": [doc.summary() for doc in self.documents],
            "succeeded": self.succeeded,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
        }


def collect_inputs(
    paths: Sequence[Path], key_prefix: str = "", exclude: Sequence[Path] = ()
) -> list[InputDocument]:
    """Returns the files to process, keyed relative to the directory each was found in.

    A file argument is keyed by its name; files under a directory argument by their path
    relative to it (subdirectories included, symbolic links to directories not followed).

    Args:
        paths: Files and directories.
        key_prefix: Prepended to every key (the stack's trigger prefix).
        exclude: Directories not to search, e.g. the output directory of this run, so
            that running on ``.`` twice does not process the first run's outputs.

    Raises:
        UsageError: A path does not exist or is not a file or directory, a name cannot
            be an S3 key, two inputs would get the same key, or there is nothing to do.
    """
    found: dict[str, Path] = {}
    skipped = {path.resolve() for path in exclude}

    def add(path: Path, relative: str) -> None:
        key = key_prefix + relative
        try:
            encoded = key.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{path}: the file name is not valid UTF-8") from None
        if len(encoded) > S3_MAX_KEY_BYTES:
            raise UsageError(f"{path}: the key {key!r} is longer than S3 allows")
        previous = found.get(key)
        if previous is not None and previous.resolve() != path.resolve():
            raise UsageError(f"{previous} and {path} would both be uploaded as {key!r}")
        found[key] = path

    for given in paths:
        if given.is_dir():
            for folder, dirnames, filenames in os.walk(given):
                dirnames[:] = sorted(
                    name for name in dirnames if (Path(folder) / name).resolve() not in skipped
                )
                for name in sorted(filenames):
                    path = Path(folder) / name
                    if path.is_file():  # regular files and links to them; no sockets
                        add(path, path.relative_to(given).as_posix())
        elif given.is_file():
            add(given, given.name)
        elif given.exists():
            raise UsageError(f"{given} is neither a file nor a directory")
        else:
            raise UsageError(f"{given}: no such file or directory")
    if not found:
        raise UsageError("no documents to process in " + ", ".join(str(p) for p in paths))
    return [InputDocument(path, key) for key, path in sorted(found.items())]


class LocalLambda:
    """The Lambda service of the local run: function ARN -> warm workers.

    Args:
        transient_failures: For tests of the state machine's Retry: function name ->
            how many of its first invocations fail with ``Lambda.ServiceException`` (a
            failure of the Lambda service, before the function runs), as AWS does now
            and then.
    """

    def __init__(self, transient_failures: Mapping[str, int] | None = None) -> None:
        self._pools: dict[str, FunctionPool] = {}
        self._names: dict[str, str] = {}
        self._failures = dict(transient_failures or {})
        self._lock = threading.Lock()
        self.injected = 0

    def add(self, name: str, pool: FunctionPool) -> None:
        """Registers the workers that run function ``name``."""
        self._pools[pool.spec.arn] = pool
        self._names[pool.spec.arn] = name

    def invoke(self, function_arn: str, payload: str) -> InvocationResult:
        """Runs one invocation (called from moto's Lambda backend)."""
        # The state machine may name a function by its ARN with or without a qualifier.
        arn = function_arn.removesuffix(":$LATEST")
        pool = self._pools.get(arn)
        if pool is None:
            raise LambdaServiceError(
                "ResourceNotFoundException", f"Function not found: {function_arn}"
            )
        name = self._names[arn]
        with self._lock:
            fail = self._failures.get(name, 0) > 0
            if fail:
                self._failures[name] -= 1
                self.injected += 1
        if fail:
            raise LambdaServiceError(
                "ServiceException", "The Lambda service encountered an internal error."
            )
        return pool.invoke(payload)

    def close(self) -> None:
        """Stops every worker."""
        for pool in self._pools.values():
            pool.close()


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _extract(archive: Path, destination: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (destination / info.filename).resolve()
            if not target.is_relative_to(destination.resolve()):
                raise RuntimeError(f"code archive entry {info.filename!r} escapes its root")
        zf.extractall(destination)  # our own archive, and its entries were checked above
    return destination


def _worker_environment(
    name: str, function_env: Mapping[str, str], task_root: Path, endpoint: str, memory_mb: int
) -> dict[str, str]:
    """The environment of a worker: the function's plus what Lambda itself sets."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": HANDLERS[name],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": f"docpipe-{name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/docpipe-{name}",
        # Lambda's execution role credentials; here, ones moto accepts.
        **DUMMY_CREDENTIALS,
        # boto3 in the handler then talks to the moto server, like the rest of the run.
        "AWS_ENDPOINT_URL": endpoint,
    }
    environment.update(function_env)
    return environment


def _clients(endpoint: str) -> dict[str, Any]:
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=REGION,
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=64)
    return {
        service: session.client(service, endpoint_url=endpoint, config=config)
        for service in ("s3", "stepfunctions", "lambda", "iam")
    }


@dataclass
class _Execution:
    doc: InputDocument
    arn: str
    size: int
    started: float = field(default_factory=time.monotonic)


def _role(iam: Any, name: str, trust: dict[str, Any]) -> str:
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def _error_of(code: str | None, message: str | None) -> dict[str, str]:
    known = {item.value for item in ErrorCode}
    if code in known:
        return {"code": str(code), "message": message or ""}
    return {
        "code": ErrorCode.INTERNAL_ERROR.value,
        "message": f"The execution failed with {code}: {message}",
    }


def _finish(
    execution: _Execution, description: Mapping[str, Any], s3: Any, problems: list[str]
) -> DocumentResult:
    status = description["status"]
    started, stopped = description.get("startDate"), description.get("stopDate")
    seconds = (
        (stopped - started).total_seconds()
        if started and stopped
        else time.monotonic() - execution.started
    )
    source, arn, size = execution.doc.key, execution.arn, execution.size
    if status == "SUCCEEDED":
        output = json.loads(description.get("output") or "{}")
        if output.get("duplicate"):
            problems.append(
                f"{execution.doc.key}: the execution saw a duplicate claim in a fresh workspace"
            )
        return DocumentResult(
            status="succeeded",
            outputs=tuple(output.get("outputs", ())),
            error=None,
            bytes_out=int(output.get("bytes_out", 0)),
            pages=int(output.get("pages", 0)),
            failed_members=int(output.get("failed_members", 0)),
            source=source,
            seconds=seconds,
            execution_arn=arn,
            bytes_in=int(output.get("bytes_in", size)),
        )
    report_key = outputs_of(execution.doc.key).report
    try:
        report = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=report_key)["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        report = None
    if isinstance(report, dict) and isinstance(report.get("error"), dict):
        error = _error_of(report["error"].get("code"), report["error"].get("message"))
        return DocumentResult(
            status="failed",
            outputs=(report_key,),
            error=error,
            bytes_out=0,
            pages=0,
            source=source,
            seconds=seconds,
            execution_arn=arn,
            bytes_in=size,
        )
    if status == "FAILED":
        error = _error_of(description.get("error"), description.get("cause"))
    else:  # TIMED_OUT, ABORTED
        error = {
            "code": ErrorCode.INTERNAL_ERROR.value,
            "message": f"The execution ended {status} without a failure report.",
        }
    return DocumentResult(
        status="failed",
        outputs=(),
        error=error,
        bytes_out=0,
        pages=0,
        reported=False,
        source=source,
        seconds=seconds,
        execution_arn=arn,
        bytes_in=size,
    )


def _failed_attempts(sfn: Any, execution_arn: str) -> tuple[tuple[str, str], ...]:
    """Returns ``(state, error)`` for each failed task attempt in an execution's history."""
    attempts: list[tuple[str, str]] = []
    state = ""
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            entered = event.get("stateEnteredEventDetails")
            if entered is not None:
                state = entered["name"]
            failed = event.get("taskFailedEventDetails")
            if event["type"] == "TaskFailed" and failed is not None:
                attempts.append((state, str(failed.get("error", ""))))
    return tuple(attempts)


def _download_bucket(s3: Any, out_dir: Path) -> set[str]:
    root = out_dir.resolve()
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=OUTPUT_BUCKET):
        for item in page.get("Contents", ()):
            key = item["Key"]
            target = (root / key).resolve()
            if not target.is_relative_to(root) or key.endswith("/"):
                raise RuntimeError(f"output key {key!r} cannot be written under {out_dir}")
            target.parent.mkdir(parents=True, exist_ok=True)
            body = s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"]
            tmp = target.with_name(f".tmp-{uuid.uuid4().hex}-{target.name}")
            with open(tmp, "wb") as handle:
                shutil.copyfileobj(body, handle)
            tmp.replace(target)
            keys.add(key)
    return keys


def workspace_leftovers(mount: Path) -> list[str]:
    """Returns what jobs left in the workspace (relative paths); empty when clean.

    ``claims/`` is not a leftover: a claim outlives its job on purpose (it recognises a
    duplicate event for the same object version) and is swept after the TTL. A key lock
    (``locks/``) left behind is, like a job's directory.
    """
    leftovers: list[str] = []
    for entry in sorted(mount.iterdir()) if mount.is_dir() else ():
        if entry.name == "claims" and entry.is_dir():
            continue
        if entry.name in ("jobs", "locks") and entry.is_dir():
            leftovers.extend(child.relative_to(mount).as_posix() for child in entry.iterdir())
            continue
        leftovers.append(entry.relative_to(mount).as_posix())
    return sorted(leftovers)


@contextlib.contextmanager
def _scratch(mount: Path | None) -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="docpipe-local-") as tmp:
        scratch = Path(tmp)
        if mount is None:
            mount = scratch / "efs"
            mount.mkdir()
        yield scratch, mount


def run(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    profile: str | None = None,
    concurrency: int | None = None,
    settings: Settings | None = None,
    stack: str = "dev",
    code_archive: Path | None = None,
    mount: Path | None = None,
    log_dir: Path | None = None,
    transient_failures: Mapping[str, int] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_document: Callable[[DocumentResult], None] | None = None,
) -> RunResult:
    """Runs the pipeline on ``paths`` locally and copies the output bucket to ``out_dir``.

    Args:
        paths: Files and directories (searched recursively) to process.
        out_dir: Where the output bucket's ``processed/`` and ``failed/`` are written.
        profile: A compress profile for every document (else the stack's default).
        concurrency: How many executions run at once (default: the number of CPUs).
        settings: The stack's settings (default: read from ``Pulumi.<stack>.yaml``).
        stack: The stack whose settings apply when ``settings`` is not given.
        code_archive: The functions' code archive (default: built from ``functions/``
            by the same step ``pulumi up`` uses).
        mount: The directory standing in for the EFS mount (default: a fresh temporary
            one, removed afterwards); it must not hold jobs of another run.
        log_dir: Where each function's log output goes (``<function>.log``); None
            discards it, as a deleted log group would.
        transient_failures: Test hook, see :class:`LocalLambda`.
        on_start: Called with the number of documents once they are known.
        on_document: Called with each document's result as soon as it is known.

    Raises:
        UsageError: Bad paths, profile or concurrency (nothing was run).
    """
    began = time.monotonic()
    if concurrency is None:
        concurrency = os.cpu_count() or 1
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, got {concurrency}")
    try:
        settings = settings or load_stack_settings(stack)
    except FileNotFoundError as exc:
        raise UsageError(f"stack {stack!r} has no settings file: {exc.filename}") from None
    except ValueError as exc:
        raise UsageError(f"stack {stack!r}: {exc}") from None
    if profile is not None and profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    documents = collect_inputs([Path(p) for p in paths], settings.trigger_prefix, [out_dir])
    if on_start is not None:
        on_start(len(documents))
    out_dir.mkdir(parents=True, exist_ok=True)

    lambdas = LocalLambda(transient_failures)
    problems: list[str] = []
    with contextlib.ExitStack() as stack_:
        scratch, mount = stack_.enter_context(_scratch(mount))
        archive = code_archive or build_code_archive(scratch / "functions.zip")
        task_root = _extract(archive, scratch / "task")
        logs: dict[str, IO[bytes]] = {}
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            for name in HANDLERS:
                logs[name] = stack_.enter_context(open(log_dir / f"{name}.log", "ab"))
        stack_.callback(lambdas.close)
        endpoint = stack_.enter_context(moto_server(lambdas))
        clients = _clients(endpoint)
        s3, sfn = clients["s3"], clients["stepfunctions"]
        machine_arn = _deploy(clients, settings, archive, task_root, mount, endpoint, lambdas, logs)
        results = _execute(
            documents, s3, sfn, machine_arn, profile, concurrency, on_document, problems
        )
        present = _download_bucket(s3, out_dir)
        for result in results:
            missing = [key for key in result.outputs if key not in present]
            if missing:
                problems.append(f"{result.source}: outputs missing from the bucket: {missing}")
        leftovers = workspace_leftovers(mount)

    return RunResult(
        documents=tuple(sorted(results, key=lambda doc: doc.source)),
        seconds=time.monotonic() - began,
        out_dir=out_dir,
        leftovers=tuple(leftovers),
        problems=tuple(problems),
        transient_failures_injected=lambdas.injected,
    )


def _start(
    doc: InputDocument, s3: Any, sfn: Any, machine_arn: str, profile: str | None
) -> _Execution:
    size = doc.path.stat().st_size
    with open(doc.path, "rb") as body:
        put = s3.put_object(Bucket=TRIGGER_BUCKET, Key=doc.key, Body=body)
    event = object_created_event(
        TRIGGER_BUCKET,
        doc.key,
        size=size,
        etag=str(put["ETag"]).strip('"'),
        version_id=put.get("VersionId"),
        account=ACCOUNT,
        region=REGION,
        time=_utc_now(),
    )
    execution_input = apply_input_transformer(event)
    if profile is not None:
        execution_input["profile"] = profile
    started = sfn.start_execution(
        stateMachineArn=machine_arn, name=str(uuid.uuid4()), input=json.dumps(execution_input)
    )
    return _Execution(doc=doc, arn=str(started["executionArn"]), size=size)


def _deploy(
    clients: Mapping[str, Any],
    settings: Settings,
    archive: Path,
    task_root: Path,
    mount: Path,
    endpoint: str,
    lambdas: LocalLambda,
    logs: Mapping[str, IO[bytes]],
) -> str:
    """Creates in moto what ``pulumi up`` creates for a run; returns the state machine ARN.

    That is the versioned trigger and output buckets, the three functions (the archive,
    handler, timeout, memory and environment the stack gives them) with their local
    workers, and the state machine with the deployed definition.
    """
    s3, lam, iam = clients["s3"], clients["lambda"], clients["iam"]
    for bucket in (TRIGGER_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    function_env = function_environment(
        settings, output_bucket=OUTPUT_BUCKET, mount_path=str(mount)
    )
    arns: dict[str, str] = {}
    code = archive.read_bytes()
    for name, handler in HANDLERS.items():
        memory = settings.memory_mb[name]
        created = lam.create_function(
            FunctionName=f"docpipe-{name}",
            Runtime=f"python{settings.python_version}",
            Role=_role(iam, f"docpipe-{name}", assume_role_policy("lambda.amazonaws.com")),
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=settings.function_timeout_seconds,
            MemorySize=memory,
            Architectures=[settings.architecture],
            Environment={"Variables": function_env},
        )
        arns[name] = str(created["FunctionArn"])
        spec = FunctionSpec(
            name=f"docpipe-{name}",
            arn=arns[name],
            handler=handler,
            task_root=task_root,
            environment=_worker_environment(name, function_env, task_root, endpoint, memory),
            timeout_seconds=settings.function_timeout_seconds,
            memory_mb=memory,
        )
        lambdas.add(name, FunctionPool(spec, logs.get(name)))
    definition = state_machine_definition(
        arns["ingest"],
        arns["transform"],
        arns["compress"],
        task_timeout_seconds=settings.task_timeout_seconds,
    )
    created_machine = clients["stepfunctions"].create_state_machine(
        name=STATE_MACHINE,
        definition=json.dumps(definition),
        roleArn=_role(iam, "docpipe-states", assume_role_policy("states.amazonaws.com")),
        type="STANDARD",
    )
    return str(created_machine["stateMachineArn"])


def _execute(
    documents: Sequence[InputDocument],
    s3: Any,
    sfn: Any,
    machine_arn: str,
    profile: str | None,
    concurrency: int,
    on_document: Callable[[DocumentResult], None] | None,
    problems: list[str],
) -> list[DocumentResult]:
    """Uploads and starts documents, at most ``concurrency`` at a time, until all end."""
    results: list[DocumentResult] = []
    pending = list(reversed(documents))
    running: list[_Execution] = []
    while pending or running:
        while pending and len(running) < concurrency:
            running.append(_start(pending.pop(), s3, sfn, machine_arn, profile))
        time.sleep(_POLL_SECONDS)
        still: list[_Execution] = []
        for execution in running:
            description = sfn.describe_execution(executionArn=execution.arn)
            if description["status"] == "RUNNING":
                still.append(execution)
                continue
            result = _finish(execution, description, s3, problems)
            result = dataclasses.replace(
                result, failed_attempts=_failed_attempts(sfn, execution.arn)
            )
            results.append(result)
            if on_document is not None:
                on_document(result)
        running = still
    return results
