"""A local Lambda execution environment: one Python process running one handler.

The runner starts this file as a script (``python -I worker.py ...``), so the process
sees only the standard library, the virtualenv's packages and the extracted code archive,
which goes first on ``sys.path`` as Lambda's ``/var/task`` does. The handler module is
imported once (the init phase) and then serves invocations until its input closes, so
module state persists between invocations like in a warm Lambda environment.

It speaks to the runner over two inherited pipes, never over stdout or stderr: those
carry the function's own log output, as in Lambda. Every message is a 4-byte big-endian
length followed by that many bytes of UTF-8 JSON.

Request: ``{"requestId", "payload" (the event as JSON text), "deadlineMs" (epoch ms),
"functionName", "functionArn", "memoryMb", "version"}``. Response: ``{"payload": JSON
text}`` on success, or ``{"error": {"errorMessage", "errorType", "stackTrace"}}`` when the
handler raised, as the Python runtime reports an unhandled exception.

Only the standard library may be imported here: this file runs before, and apart from,
anything of docpipe's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")


def read_message(stream: BinaryIO) -> Any | None:
    """Reads one framed JSON message; returns None when the other side has closed."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (length,) = _HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return json.loads(body.decode("utf-8"))


def write_message(stream: BinaryIO, message: Any) -> None:
    """Writes one framed JSON message and flushes it."""
    body = json.dumps(message).encode("utf-8")
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


class LambdaContext:
    """The context object the Python runtime passes to a handler (the fields it uses)."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["requestId"]
        self.function_name: str = request["functionName"]
        self.function_version: str = request.get("version", "$LATEST")
        self.invoked_function_arn: str = request["functionArn"]
        self.memory_limit_in_mb: str = str(request["memoryMb"])
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self._deadline_ms: int = request["deadlineMs"]

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the runner ends this invocation as timed out."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type: str, message: str, exc: BaseException | None = None) -> dict[str, Any]:
    stack: list[str] = []
    if exc is not None:
        stack = [line.rstrip("\n") for line in traceback.format_tb(exc.__traceback__)]
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack}


def _load_handler(spec: str) -> Callable[[Any, Any], Any]:
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {spec!r} is not of the form module.function")
    module = importlib.import_module(module_name)
    handler: Callable[[Any, Any], Any] = getattr(module, function_name)
    return handler


def _invoke(handler: Callable[[Any, Any], Any], request: dict[str, Any]) -> dict[str, Any]:
    try:
        event = json.loads(request["payload"])
    except json.JSONDecodeError as exc:
        return {"error": _error("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}")}
    try:
        result = handler(event, LambdaContext(request))
    except Exception as exc:  # noqa: BLE001 - reported to the caller, as Lambda does
        # Lambda names the error after the exception's class; docpipe's handlers raise
        # classes named after the stable error code, which Step Functions then matches.
        return {"error": _error(type(exc).__name__, str(exc), exc)}
    try:
        return {"payload": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {"error": _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")}


def main(argv: list[str] | None = None) -> int:
    """Runs the worker loop; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task-root", required=True, help="the extracted code archive")
    parser.add_argument("--handler", required=True, help="module.function, as in Lambda")
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--response-fd", type=int, required=True)
    args = parser.parse_args(argv)

    sys.path.insert(0, args.task_root)
    os.chdir(args.task_root)
    requests = os.fdopen(args.request_fd, "rb")
    responses = os.fdopen(args.response_fd, "wb")

    init_error: dict[str, Any] | None = None
    handler: Callable[[Any, Any], Any] | None = None
    try:
        handler = _load_handler(args.handler)
    except Exception as exc:  # noqa: BLE001 - Lambda reports init failures per invocation
        init_error = _error(
            "Runtime.ImportModuleError",
            f"Unable to import module {args.handler.rpartition('.')[0]!r}: {exc}",
            exc,
        )
        traceback.print_exc()

    while (request := read_message(requests)) is not None:
        if handler is None:
            write_message(responses, {"error": init_error})
            continue
        response = _invoke(handler, request)
        # Flush the function's log lines before answering, as Lambda's log agent would.
        sys.stdout.flush()
        sys.stderr.flush()
        write_message(responses, response)
    return 0


if __name__ == "__main__":
    sys.exit(main())
