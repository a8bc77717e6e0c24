"""Runs Lambda invocations in local worker processes, warm between invocations.

Each function gets a pool of worker processes (:mod:`pipeline.local.worker`). An
invocation takes an idle worker or starts a new one, so N concurrent invocations of a
function run in N processes, and a worker that finished one invocation serves the next,
with its module state intact, like a warm Lambda execution environment.

What Lambda does when an invocation goes wrong is reproduced here, because the state
machine's Retry and Catch depend on it: a handler exception becomes a ``FunctionError``
payload ``{"errorMessage", "errorType", "requestId", "stackTrace"}``; an invocation that
outlives the function's timeout is killed and reported as ``Sandbox.Timedout``; a worker
that dies mid-invocation is reported as ``Runtime.ExitError``. A killed or dead worker is
never reused.

Reserved concurrency is enforced as Lambda enforces it: an invocation that would take a
function beyond its reserved concurrent executions is refused at once, before any worker
runs it, with the Invoke API's HTTP 429 ``TooManyRequestsException`` (reason
``ReservedFunctionConcurrentInvocationLimitExceeded``), which Step Functions reports as
``Lambda.TooManyRequestsException``. So a burst behaves locally as it does deployed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from moto.core.exceptions import JsonRESTError

from pipeline.local import worker as worker_module

WORKER_SCRIPT = Path(worker_module.__file__).resolve()
# How long a worker may take to exit once its input is closed, before it is killed.
_SHUTDOWN_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to run one function, as its Lambda configuration says.

    Attributes:
        name: The function's name.
        arn: The function's ARN (the context's ``invoked_function_arn``).
        handler: ``module.function`` inside the code archive.
        task_root: The directory the code archive was extracted to.
        environment: The complete process environment of the worker.
        timeout_seconds: The function's timeout.
        memory_mb: The function's memory size (reported to the handler's context).
        reserved_concurrency: The function's reserved concurrent executions; -1 (as
            Lambda's configuration says it) for none, i.e. no limit here.
    """

    name: str
    arn: str
    handler: str
    task_root: Path
    environment: Mapping[str, str]
    timeout_seconds: float
    memory_mb: int
    reserved_concurrency: int = -1


class ThrottledError(JsonRESTError):
    """Lambda's answer to an invocation beyond the function's reserved concurrency."""

    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        # The body the Invoke API answers with, plus the type moto's clients read.
        self.description = json.dumps(
            {
                "__type": self.error_type,
                "Type": "User",
                "message": self.message,
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            }
        )


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, as Lambda's Invoke API returns it.

    Attributes:
        payload: The response payload (JSON text).
        function_error: ``"Unhandled"`` when the payload describes an error, else None.
    """

    payload: str
    function_error: str | None = None


class _WorkerDiedError(Exception):
    """The worker process ended or closed its pipe in the middle of an invocation."""


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    requests: IO[bytes]
    responses: IO[bytes]
    invocations: int = 0
    _buffer: bytearray = field(default_factory=bytearray)

    def send(self, message: Any) -> None:
        worker_module.write_message(self.requests, message)  # type: ignore[arg-type]

    def receive(self, deadline: float) -> Any:
        """Reads one response, waiting until ``deadline`` (monotonic); None on timeout."""
        fd = self.responses.fileno()
        header_size = worker_module._HEADER.size
        while True:
            if len(self._buffer) >= header_size:
                (length,) = worker_module._HEADER.unpack(self._buffer[:header_size])
                if len(self._buffer) >= header_size + length:
                    body = bytes(self._buffer[header_size : header_size + length])
                    del self._buffer[: header_size + length]
                    return json.loads(body.decode("utf-8"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _WorkerDiedError
            self._buffer.extend(chunk)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def stop(self) -> None:
        """Closes the worker's input so that it exits; kills it if it does not."""
        with contextlib.suppress(OSError):
            self.requests.close()
        try:
            self.process.wait(timeout=_SHUTDOWN_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.requests, self.responses):
            with contextlib.suppress(OSError):
                stream.close()

    def exit_description(self) -> str:
        code = self.process.poll()
        if code is None:
            return "pipe closed"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
            return f"signal {-code}"
        return f"exit status {code}"


class FunctionPool:
    """The warm workers of one function.

    Args:
        spec: The function's configuration.
        log: Where the workers' stdout and stderr go (the function's log stream);
            None discards them.

    Attributes:
        started: Worker processes started (cold starts).
        throttled: Invocations refused for the reserved concurrency.
        invocations: Invocations run (whatever their outcome).
    """

    def __init__(self, spec: FunctionSpec, log: IO[bytes] | None = None) -> None:
        self.spec = spec
        self._log = log
        self._idle: list[_Worker] = []
        self._busy: set[int] = set()
        self._all: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._in_flight = 0
        self.started = 0
        self.throttled = 0
        self.invocations = 0

    def _start_worker(self) -> _Worker:
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        output: int | IO[bytes] = self._log if self._log is not None else subprocess.DEVNULL
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                [
                    sys.executable,
                    "-I",  # isolated: no PYTHON* variables, no script dir, no user site
                    str(WORKER_SCRIPT),
                    "--task-root",
                    str(self.spec.task_root),
                    "--handler",
                    self.spec.handler,
                    "--request-fd",
                    str(request_read),
                    "--response-fd",
                    str(response_write),
                ],
                env=dict(self.spec.environment),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                pass_fds=(request_read, response_write),
                cwd=self.spec.task_root,
            )
        finally:
            os.close(request_read)
            os.close(response_write)
        self.started += 1
        return _Worker(
            process=process,
            requests=os.fdopen(request_write, "wb"),
            responses=os.fdopen(response_read, "rb", buffering=0),
        )

    def _acquire(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the workers of {self.spec.name} have been shut down")
            while self._idle:
                candidate = self._idle.pop()
                if candidate.process.poll() is None:
                    self._busy.add(id(candidate))
                    return candidate
                self._all.pop(id(candidate), None)
        new = self._start_worker()
        with self._lock:
            self._all[id(new)] = new
            self._busy.add(id(new))
        return new

    def _release(self, worker: _Worker, *, reusable: bool) -> None:
        with self._lock:
            self._busy.discard(id(worker))
            if reusable and not self._closed:
                self._idle.append(worker)
                return
            self._all.pop(id(worker), None)
        worker.kill()

    def invoke(self, payload: str, request_id: str | None = None) -> InvocationResult:
        """Runs one invocation with ``payload`` (JSON text) and returns Lambda's answer.

        Raises:
            ThrottledError: The function already runs its reserved concurrency.
        """
        reserved = self.spec.reserved_concurrency
        with self._lock:
            if 0 < reserved <= self._in_flight:
                self.throttled += 1
                raise ThrottledError
            self._in_flight += 1
        try:
            return self._invoke(payload, request_id or str(uuid.uuid4()))
        finally:
            with self._lock:
                self._in_flight -= 1
                self.invocations += 1

    def _invoke(self, payload: str, request_id: str) -> InvocationResult:
        timeout = self.spec.timeout_seconds
        worker = self._acquire()
        request = {
            "requestId": request_id,
            "payload": payload,
            "deadlineMs": int((time.time() + timeout) * 1000),
            "functionName": self.spec.name,
            "functionArn": self.spec.arn,
            "memoryMb": self.spec.memory_mb,
            "version": "$LATEST",
        }
        try:
            worker.send(request)
            response = worker.receive(time.monotonic() + timeout)
        except (_WorkerDiedError, BrokenPipeError):
            self._release(worker, reusable=False)
            return _error(
                request_id,
                "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited with error: "
                f"{worker.exit_description()}",
            )
        if response is None:
            self._release(worker, reusable=False)
            return _error(
                request_id,
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
            )
        worker.invocations += 1
        self._release(worker, reusable=True)
        if "error" in response:
            error = dict(response["error"])
            return _error(
                request_id, error["errorType"], error["errorMessage"], error.get("stackTrace")
            )
        return InvocationResult(payload=response["payload"])

    def close(self) -> None:
        """Stops every worker; invocations still running are killed."""
        with self._lock:
            self._closed = True
            workers = list(self._all.values())
            busy = set(self._busy)
            self._all.clear()
            self._idle.clear()
        for worker in workers:
            if id(worker) in busy:
                worker.kill()
            else:
                worker.stop()


def _error(
    request_id: str, error_type: str, message: str, stack: list[str] | None = None
) -> InvocationResult:
    body = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }
    return InvocationResult(payload=json.dumps(body), function_error="Unhandled")
