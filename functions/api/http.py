"""API Gateway HTTP API events (payload format 2.0) in, typed requests and responses out.

Only the fields the API reads are parsed: the method, the raw (still percent-encoded)
path, the query string, the headers, the body and the request id. ``rawPath`` is used
rather than ``pathParameters`` so that a key's encoded slashes (``%2F``) and literal ones
mean the same, on API Gateway and on the local server alike.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from functions.api.errors import ApiError, ApiErrorCode

# A request body is a small JSON object; nothing the API accepts comes near this.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, as the API sees it.

    Attributes:
        method: The HTTP method, upper case.
        raw_path: The path as sent, percent-encoding kept (``/documents/inbox%2Fa.pdf``).
        query: Query parameters; a repeated one is joined with commas (as API Gateway does).
        headers: Header names in lower case.
        body: The body's bytes (empty when there is none).
        request_id: API Gateway's request id (the local server makes one up).
    """

    method: str
    raw_path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_id: str = ""

    def json_body(self) -> Any:
        """Returns the body parsed as JSON.

        Raises:
            ApiError: The body is too large, or is not JSON (``MALFORMED_JSON``).
        """
        if len(self.body) > MAX_BODY_BYTES:
            raise ApiError(
                ApiErrorCode.BODY_TOO_LARGE,
                f"The request body is larger than {MAX_BODY_BYTES} bytes.",
            )
        if not self.body.strip():
            raise ApiError(ApiErrorCode.MALFORMED_JSON, "The request body must be a JSON object.")
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ApiError(
                ApiErrorCode.MALFORMED_JSON,
                f"The request body is not valid JSON ({err.__class__.__name__} at "
                f"position {getattr(err, 'pos', getattr(err, 'start', 0))}).",
            ) from None


class ResponseEvent(TypedDict):
    """What a Lambda proxy integration (payload 2.0) returns to API Gateway."""

    statusCode: int
    headers: dict[str, str]
    body: str
    isBase64Encoded: bool


@dataclass(frozen=True)
class ApiResponse:
    """A response: the status, a JSON-able body (None for none) and extra headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_event(self) -> ResponseEvent:
        """Returns the integration response API Gateway expects."""
        headers = {"cache-control": "no-store", **self.headers}
        if self.body is None:
            return {
                "statusCode": self.status,
                "headers": headers,
                "body": "",
                "isBase64Encoded": False,
            }
        headers["content-type"] = "application/json"
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": json.dumps(self.body, separators=(",", ":"), ensure_ascii=False),
            "isBase64Encoded": False,
        }


def _text_map(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items() if v is not None}


def parse_event(event: Mapping[str, Any]) -> ApiRequest:
    """Parses an HTTP API payload 2.0 event.

    Raises:
        ValueError: The event is not a payload 2.0 HTTP event (a defect of the caller).
    """
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, Mapping) else None
    if event.get("version") != "2.0" or not isinstance(http, Mapping):
        raise ValueError("not an API Gateway HTTP API payload 2.0 event")
    raw_body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the event's body is not base64") from None
    else:
        body = str(raw_body).encode("utf-8", "surrogatepass")
    return ApiRequest(
        method=str(http.get("method", "")).upper(),
        raw_path=str(event.get("rawPath") or http.get("path") or "/"),
        query=_text_map(event.get("queryStringParameters")),
        headers={k.lower(): v for k, v in _text_map(event.get("headers")).items()},
        body=body,
        request_id=str(context.get("requestId") or "") if isinstance(context, Mapping) else "",
    )
