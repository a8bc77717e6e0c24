"""The HTTP API on the local stack: a loopback-only server that calls the same handler.

Each request becomes the API Gateway HTTP API event (payload format 2.0) that API Gateway
would send for it on the ``$default`` route, and the API's own code answers it in this
process: :class:`functions.api.handler.Api` over boto3 clients on the local S3 and Step
Functions endpoint, so presigned URLs point at that endpoint and work with any HTTP
client. There is no authorization (the deployed API has IAM or JWT on every route);
the server only ever binds to a loopback address.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime
import ipaddress
import json
import logging
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol

from functions.api.handler import Api
from functions.api.settings import ApiSettings
from pipeline.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

Handler = Callable[[dict[str, Any], Any], Mapping[str, Any]]
# API Gateway refuses payloads over 10 MB; so does the local server, before reading them.
MAX_BODY_BYTES = 10 * 1024 * 1024
_LOG = logging.getLogger("docpipe.api_server")


@dataclass(frozen=True)
class LocalContext:
    """The parts of a Lambda context the handler reads."""

    aws_request_id: str
    function_name: str = "docpipe-local-api"


def request_event(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    source_ip: str = "127.0.0.1",
    host: str = "127.0.0.1",
) -> dict[str, Any]:
    """Returns the payload 2.0 event API Gateway would send for this request."""
    parts = urllib.parse.urlsplit(target)
    query: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        # API Gateway joins the values of a repeated parameter with commas.
        query[name] = f"{query[name]},{value}" if name in query else value
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    now = datetime.datetime.now(datetime.UTC)
    request_id = uuid.uuid4().hex
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": urllib.parse.unquote(parts.path or "/"),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")


def _make_request_handler(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "docpipe-local-api"

        def _answer(self) -> None:
            length_header = self.headers.get("Content-Length") or "0"
            length = int(length_header) if length_header.isdigit() else -1
            if length < 0 or length > MAX_BODY_BYTES:
                self._send(413, {}, _error_body("BODY_TOO_LARGE", "The body is too large."))
                return
            body = self.rfile.read(length) if length else b""
            event = request_event(
                self.command,
                self.path,
                dict(self.headers.items()),
                body,
                source_ip=self.client_address[0],
                host=self.headers.get("Host", "127.0.0.1"),
            )
            context = LocalContext(event["requestContext"]["requestId"])
            response = handler(event, context)
            raw = str(response.get("body") or "")
            payload = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
            self._send(int(response["statusCode"]), response.get("headers") or {}, payload)

        def _send(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if payload and "content-type" not in {name.lower() for name in headers}:
                self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- stdlib's name
            _LOG.debug(format, *args)

    return RequestHandler


class ApiServer:
    """Serves a payload 2.0 handler on ``http://127.0.0.1:PORT/`` in a background thread.

    Args:
        handler: ``(event, context) -> response``, e.g. :meth:`functions.api.handler.Api.handle`.
        host: A loopback address; anything else is refused.
        port: The port, 0 for a free one (see :attr:`url`).

    Raises:
        ValueError: ``host`` is not a loopback address.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the local API only listens on a loopback address, not {host!r}")
        self._server = ThreadingHTTPServer((host, port), _make_request_handler(handler))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="docpipe-local-api", daemon=True
        )

    @property
    def url(self) -> str:
        """The API's base URL, e.g. ``http://127.0.0.1:8080``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ApiServer:
        """Starts serving; returns the server."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def local_api(
    s3: S3Client,
    sfn: SFNClient,
    *,
    trigger_bucket: str,
    output_bucket: str,
    state_machine_arn: str,
    trigger_prefix: str = "",
    default_profile: str = "ebook",
    max_input_bytes: int | None = None,
) -> Api:
    """Returns the API over local clients.

    ``s3`` must address buckets path-style on the local endpoint (boto3 does so for an
    IP endpoint), so that the URLs it presigns reach the local S3.
    """
    settings = ApiSettings(
        trigger_bucket=trigger_bucket,
        output_bucket=output_bucket,
        state_machine_arn=state_machine_arn,
        trigger_prefix=trigger_prefix,
        default_profile=default_profile,
    )
    if max_input_bytes is not None:
        settings = dataclasses.replace(settings, max_input_bytes=max_input_bytes)
    return Api(s3, sfn, settings)


class ServedStack(Protocol):
    """What :func:`serve_api` needs of a local stack (``pipeline.local.stack.LocalStack``)."""

    @property
    def s3(self) -> S3Client: ...

    @property
    def sfn(self) -> SFNClient: ...

    trigger_bucket: str
    output_bucket: str
    state_machine_arn: str
    settings: Settings


def serve_api(stack: ServedStack, port: int = 0) -> ApiServer:
    """Returns the HTTP API of a running local stack, not yet started.

    ``serve`` starts it next to the stack: ``with serve_api(stack, port) as api: ...``;
    its presigned URLs point at the stack's S3 endpoint, and an upload through them
    starts an execution as any upload to the trigger bucket does.
    """
    api = local_api(
        stack.s3,
        stack.sfn,
        trigger_bucket=stack.trigger_bucket,
        output_bucket=stack.output_bucket,
        state_machine_arn=stack.state_machine_arn,
        trigger_prefix=stack.settings.trigger_prefix,
        default_profile=stack.settings.default_profile,
        max_input_bytes=stack.settings.max_input_bytes,
    )
    return ApiServer(api.handle, port=port)


@contextlib.contextmanager
def api_beside(stack: ServedStack, args: argparse.Namespace) -> Iterator[str]:
    """Serves the HTTP API while ``serve`` keeps ``stack`` up; yields the line it prints."""
    with serve_api(stack, getattr(args, "api_port", 0) or 0) as server:
        yield f"HTTP API        {server.url}/documents (no auth, 127.0.0.1 only)"
