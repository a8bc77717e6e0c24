"""Every place where the local runner reaches into moto's internals, in one module.

Written against moto 5.2 (``requirements-dev.txt`` pins ``>=5.2.3,<5.3``: 5.2.1 and 5.2.2
fail concurrent StartExecution calls); what it relies on, checked when moving to another
moto series:

- ``moto.server.ThreadedMotoServer`` serves moto's in-process backends over HTTP, so that
  the worker processes (which cannot see this process's mock) reach the same S3.
- ``moto.core.config.default_user_config["stepfunctions"]["execute_state_machine"]``
  makes Step Functions run executions with its ASL interpreter (ported from LocalStack,
  ``moto/stepfunctions/parser``); the server reads the same dict per request.
- That interpreter calls Lambda with a boto3 client aimed at
  ``http://localhost:$MOTO_PORT`` (``moto.settings.moto_server_port``) when no in-process
  mock is active, so ``MOTO_PORT`` must name the server's port.
- ``moto.awslambda.models.LambdaFunction.invoke(body, request_headers,
  response_headers)`` runs a function (in Docker, in moto); it is replaced here by a call
  to the runner's :class:`Invoker`. Setting the header ``x-amz-function-error`` makes
  the Invoke API report a ``FunctionError``; raising a ``JsonRESTError`` makes it answer
  with that error code, which the interpreter turns into ``Lambda.<code>``.
- ``moto.s3.notifications.send_event(account_id, event_name, bucket, key)`` is called by
  the S3 backend after every PutObject, POST upload, CopyObject and
  CompleteMultipartUpload (``event_name`` ``s3:ObjectCreated:*``), with the bucket and the
  new key version (``name``, ``size``, ``etag``, ``version_id``). It is wrapped here to
  tell the local stack's EventBridge (:mod:`pipeline.local.events`) about new objects,
  since moto's EventBridge does not deliver to Step Functions.
- ``moto.moto_api._internal.models.moto_api_backend.reset()`` empties every backend.
- moto 5.2 has no StartSyncExecution: :func:`_start_sync_execution` is added to
  ``moto.stepfunctions.responses.StepFunctionResponse`` (the server calls the method
  named after the ``X-Amz-Target`` action). It starts the execution with the backend's
  ``start_execution`` (its interpreter runs it in a thread), waits for the execution's
  ``status`` to leave ``RUNNING``, and answers with the response shape of the API.
- The interpreter waits between Retry attempts with ``time.sleep`` in
  ``moto/stepfunctions/parser/asl/component/common/retry/retrier_decl.py``;
  :func:`retry_clock` runs those waits on a faster clock (the definition is unchanged).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.moto_api._internal.models import moto_api_backend
from moto.s3 import notifications as s3_notifications
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.responses import StepFunctionResponse

from pipeline.local.invoker import InvocationResult

# One moto server and one set of patches per process: moto's backends and config are
# process-wide, so two runs at once would see each other's buckets and functions.
_ACTIVE = threading.Lock()
# The server logs every request, and the ASL interpreter logs every failed state as an
# error, which for a document that fails is the expected path: none of it is for the user.
_NOISY_LOGGERS = ("werkzeug", "moto")
#: An Express execution that runs longer ends as TIMED_OUT (as on AWS: five minutes).
EXPRESS_TIMEOUT_SECONDS = 300.0
_SYNC_POLL_SECONDS = 0.02


class Invoker(Protocol):
    """What the patched Lambda backend calls to run an invocation."""

    def invoke(self, function_arn: str, payload: str) -> InvocationResult:
        """Runs the function named by ``function_arn`` with ``payload`` (JSON text)."""
        ...


@dataclass(frozen=True)
class ObjectCreated:
    """A new object version in a moto bucket, as S3 tells EventBridge about it.

    Attributes:
        reason: ``PutObject``, ``PostObject``, ``CopyObject`` or
            ``CompleteMultipartUpload`` (the event's ``detail.reason``).
    """

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    reason: str


ObjectListener = Callable[[ObjectCreated], None]
_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "PostObject",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}


def _notify_through(original: Any, listener: ObjectListener) -> Any:
    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        reason = _REASONS.get(str(getattr(event_name, "value", event_name)))
        if reason is not None:
            version = key.version_id if key.version_id not in (None, "null") else None
            listener(
                ObjectCreated(
                    bucket=bucket.name,
                    key=key.name,
                    size=int(key.size),
                    etag=str(key.etag).strip('"'),
                    version_id=version,
                    reason=reason,
                )
            )
        original(account_id, event_name, bucket, key)

    return send_event


class LambdaServiceError(JsonRESTError):
    """An error of the Lambda service itself (HTTP 500), not of the function.

    Step Functions sees it as ``Lambda.<code>``, e.g. ``Lambda.ServiceException``, which
    the definition retries as a transient error.
    """

    code = 500

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(error_code, message)


def _invoke_through(invoker: Invoker) -> Any:
    def invoke(
        self: LambdaFunction, body: str, request_headers: Any, response_headers: Any
    ) -> bytes:
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type != "RequestResponse":
            # The state machine invokes synchronously; nothing else runs against this
            # backend, so another type means the definition changed under the runner.
            raise LambdaServiceError(
                "InvalidParameterValueException",
                f"the local runner only runs RequestResponse invocations, not {invocation_type}",
            )
        result = invoker.invoke(self.function_arn, body or "{}")
        if result.function_error is not None:
            response_headers["x-amz-function-error"] = result.function_error
        return result.payload.encode("utf-8")

    return invoke


class StateMachineTypeNotSupportedError(JsonRESTError):
    """StartSyncExecution's answer for a STANDARD state machine."""

    code = 400

    def __init__(self, arn: str) -> None:
        super().__init__(
            "StateMachineTypeNotSupported",
            f"This operation is not supported by this type of state machine: {arn}",
        )


def _billing(started: datetime.datetime, stopped: datetime.datetime) -> dict[str, int]:
    """Express's billing: duration rounded up to 100 ms, memory in 64 MB steps (the least)."""
    milliseconds = max(0, int((stopped - started).total_seconds() * 1000))
    return {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": 100 * max(1, math.ceil(milliseconds / 100)),
    }


def _sync_response(execution: Any, status: str) -> dict[str, Any]:
    """The StartSyncExecution response for an ended ``execution`` of moto's interpreter."""
    stopped = execution.stop_date or datetime.datetime.now(datetime.UTC)
    response: dict[str, Any] = {
        "executionArn": execution.execution_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "startDate": execution.start_date,
        "stopDate": stopped,
        "status": status,
        "input": execution.execution_input,
        "inputDetails": {"included": True},
        "billingDetails": _billing(execution.start_date, stopped),
    }
    if status == "SUCCEEDED":
        output = execution.output
        response["output"] = output if isinstance(output, str) else json.dumps(output)
        response["outputDetails"] = {"included": True}
    elif status == "TIMED_OUT":
        response["error"] = "States.Timeout"
        response["cause"] = "The execution ran longer than Express allows."
    else:
        # An aborted execution (StopExecution) has an empty error and cause.
        response["error"] = execution.error or "States.Aborted"
        response["cause"] = execution.cause or "The execution was stopped."
    return response


def _start_sync_execution_through(timeout_seconds: float) -> Any:
    def start_sync_execution(self: StepFunctionResponse) -> ActionResult:
        arn = self._get_param("stateMachineArn")
        backend = self.stepfunction_backend
        if backend.describe_state_machine(arn).type != "EXPRESS":
            raise StateMachineTypeNotSupportedError(arn)
        execution = backend.start_execution(
            arn, self._get_param("name") or str(uuid.uuid4()), self._get_param("input", "{}")
        )
        deadline = time.monotonic() + timeout_seconds
        while execution.status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(_SYNC_POLL_SECONDS)
        status = execution.status
        if status == "RUNNING":  # past Express's limit: stopped, as AWS ends it
            backend.stop_execution(execution.execution_arn)
            status = "TIMED_OUT"
        # The sync API knows SUCCEEDED, FAILED and TIMED_OUT; a stopped one has FAILED.
        if status not in ("SUCCEEDED", "TIMED_OUT"):
            status = "FAILED"
        return ActionResult(_sync_response(execution, status))

    return start_sync_execution


@contextlib.contextmanager
def moto_server(
    invoker: Invoker,
    on_object_created: ObjectListener | None = None,
    port: int = 0,
    express_timeout_seconds: float = EXPRESS_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Runs moto as a local HTTP server whose Lambda invocations go to ``invoker``.

    Args:
        invoker: Runs the Lambda invocations.
        on_object_created: Called (in the server's request thread, so it must return
            quickly) with every object created in any bucket.
        port: The port on 127.0.0.1 to listen on (0: a free one).
        express_timeout_seconds: How long StartSyncExecution waits before it stops the
            execution and answers ``TIMED_OUT``.

    Yields:
        The endpoint URL (``http://127.0.0.1:<port>``) for boto3 clients, in this process
        and in the workers (as ``AWS_ENDPOINT_URL``).

    Raises:
        RuntimeError: Another local run is active in this process.
    """
    if not _ACTIVE.acquire(blocking=False):
        raise RuntimeError("another local pipeline run is active in this process")
    saved_config = {
        "stepfunctions": dict(default_user_config.get("stepfunctions", {})),
        "lambda": dict(default_user_config.get("lambda", {})),
    }
    saved_port = os.environ.get("MOTO_PORT")
    saved_levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    original_invoke = LambdaFunction.invoke
    original_send_event = s3_notifications.send_event
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    completed = False
    try:
        moto_api_backend.reset()
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        # "use_docker" selects the backend whose LambdaFunction.invoke is patched below
        # (the other one answers canned responses); Docker itself is never started.
        default_user_config["lambda"] = {"use_docker": True}
        LambdaFunction.invoke = _invoke_through(invoker)  # type: ignore[method-assign]
        StepFunctionResponse.start_sync_execution = _start_sync_execution_through(  # type: ignore[attr-defined]
            express_timeout_seconds
        )
        if on_object_created is not None:
            s3_notifications.send_event = _notify_through(original_send_event, on_object_created)
        server.start()
        host, port = server.get_host_and_port()
        os.environ["MOTO_PORT"] = str(port)
        yield f"http://{host}:{port}"
        completed = True
    finally:
        with contextlib.suppress(AssertionError, AttributeError):
            server.stop()  # raises if start() never got as far as creating the thread
        LambdaFunction.invoke = original_invoke  # type: ignore[method-assign]
        with contextlib.suppress(AttributeError):
            del StepFunctionResponse.start_sync_execution  # type: ignore[attr-defined]
        s3_notifications.send_event = original_send_event
        default_user_config["stepfunctions"] = saved_config["stepfunctions"]  # type: ignore[typeddict-item]
        default_user_config["lambda"] = saved_config["lambda"]  # type: ignore[typeddict-item]
        if saved_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = saved_port
        moto_api_backend.reset()
        # After an interruption, executions still running in moto's (daemon) threads fail
        # against the stopped server and would log it; keep them quiet for good then.
        if completed:
            for name, level in saved_levels.items():
                logging.getLogger(name).setLevel(level)
        _ACTIVE.release()


class _FastClock:
    """Stands in for the ``time`` module of moto's retrier: sleeps ``speedup`` times less."""

    def __init__(self, speedup: float) -> None:
        self._speedup = speedup

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self._speedup)


@contextlib.contextmanager
def retry_clock(speedup: float) -> Iterator[None]:
    """Runs the state machine's Retry waits ``speedup`` times faster, while in use.

    A burst of small local documents then meets the definition's retry intervals as a
    burst of full-size documents meets them on AWS (a local transform takes a fraction of
    a deployed one), without changing the deployed definition.

    Raises:
        ValueError: ``speedup`` is not positive.
    """
    if speedup <= 0:
        raise ValueError("speedup must be positive")
    original = retrier_decl.time
    retrier_decl.time = _FastClock(speedup)  # type: ignore[assignment]
    try:
        yield
    finally:
        retrier_decl.time = original
