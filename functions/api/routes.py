"""Which core function a request goes to, with its path and query checked.

| method and path | core | success |
| --- | --- | --- |
| ``POST /documents`` | :func:`~functions.api.uploads.create_upload` | 201 |
| ``GET /documents`` | :func:`~functions.api.reads.list_documents` | 200 |
| ``GET /documents/{key}`` | :func:`~functions.api.reads.get_document` | 200 |
| ``DELETE /documents/{key}`` | :func:`~functions.api.changes.delete_document` | 204 (1) |
| ``POST /documents/{key}/retry`` | :func:`~functions.api.changes.retry_document` | 202 |

(1) 200 with a body saying what went, with ``?original=true``.

A key is the rest of the path after ``/documents/``, percent-decoded once, so
``inbox%2Fscan.jpg`` and ``inbox/scan.jpg`` name the same key (API Gateway routes both
through the greedy ``{key+}`` routes).
"""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.api.changes import delete_document, retry_document
from functions.api.errors import ApiError, ApiErrorCode
from functions.api.http import ApiRequest, ApiResponse
from functions.api.reads import get_document, list_documents, parse_list_query
from functions.api.settings import ApiSettings
from functions.api.uploads import create_upload, parse_create
from functions.naming import S3_MAX_KEY_BYTES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

COLLECTION = "/documents"
RETRY_SUFFIX = "/retry"


@dataclass(frozen=True)
class Clients:
    """The AWS clients the cores use."""

    s3: S3Client
    sfn: SFNClient


def _not_allowed(method: str, allowed: str) -> ApiError:
    return ApiError(
        ApiErrorCode.METHOD_NOT_ALLOWED, f"{method} is not allowed here; use {allowed}."
    )


def parse_key(encoded: str, settings: ApiSettings) -> str:
    """Returns the source key named by the path's percent-encoded rest.

    Raises:
        ApiError: The key is empty, not UTF-8, too long, or outside the trigger prefix.
    """
    if not encoded:
        raise ApiError(
            ApiErrorCode.MISSING_KEY,
            "The path must name a document key: /documents/{key}, URL-encoded.",
        )
    try:
        key = urllib.parse.unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        raise ApiError(
            ApiErrorCode.INVALID_KEY, "The key is not UTF-8 once percent-decoded."
        ) from None
    if len(key.encode("utf-8", "surrogatepass")) > S3_MAX_KEY_BYTES:
        raise ApiError(
            ApiErrorCode.INVALID_KEY, f"The key is longer than S3's {S3_MAX_KEY_BYTES} bytes."
        )
    if not key.startswith(settings.trigger_prefix):
        raise ApiError(
            ApiErrorCode.NOT_FOUND,
            f"No document {key!r}: documents have keys under {settings.trigger_prefix!r}.",
        )
    return key


def _original_flag(query: Mapping[str, str]) -> bool:
    unknown = sorted(set(query) - {"original"})
    if unknown:
        raise ApiError(
            ApiErrorCode.BAD_QUERY,
            f"Unknown query parameter {unknown[0]!r}; a delete takes only original.",
        )
    raw = query.get("original", "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(ApiErrorCode.BAD_QUERY, f"original must be true or false, got {raw!r}.")
    return raw == "true"


def _no_query(query: Mapping[str, str]) -> None:
    if query:
        name = sorted(query)[0]
        raise ApiError(ApiErrorCode.BAD_QUERY, f"Unknown query parameter {name!r}.")


def _collection(
    request: ApiRequest, clients: Clients, settings: ApiSettings, now: datetime.datetime
) -> ApiResponse:
    if request.method == "POST":
        _no_query(request.query)
        ticket = create_upload(clients.s3, settings, parse_create(request.json_body()), now)
        location = f"{COLLECTION}/{urllib.parse.quote(ticket.key, safe='')}"
        return ApiResponse(201, ticket.to_json(), {"location": location})
    if request.method == "GET":
        page = list_documents(clients.s3, settings, parse_list_query(request.query, now))
        return ApiResponse(200, page)
    raise _not_allowed(request.method, "GET or POST")


def _document(
    rest: str,
    request: ApiRequest,
    clients: Clients,
    settings: ApiSettings,
    now: datetime.datetime,
) -> ApiResponse:
    if request.method == "POST":
        if not rest.endswith(RETRY_SUFFIX):
            raise _not_allowed("POST", "GET or DELETE (POST only on /documents/{key}/retry)")
        _no_query(request.query)
        key = parse_key(rest.removesuffix(RETRY_SUFFIX), settings)
        return ApiResponse(202, retry_document(clients.s3, clients.sfn, settings, key, now))
    if request.method == "GET":
        _no_query(request.query)
        return ApiResponse(200, get_document(clients.s3, settings, parse_key(rest, settings), now))
    if request.method == "DELETE":
        original = _original_flag(request.query)
        key = parse_key(rest, settings)
        result = delete_document(clients.s3, settings, key, original=original)
        if original:
            return ApiResponse(200, result.to_json())
        return ApiResponse(204)
    raise _not_allowed(request.method, "GET, DELETE, or POST .../retry")


def route(
    request: ApiRequest, clients: Clients, settings: ApiSettings, now: datetime.datetime
) -> ApiResponse:
    """Runs the request's core function and returns its response.

    Raises:
        ApiError: Whatever the request got wrong, with its code.
    """
    path = request.raw_path
    if path == COLLECTION:
        return _collection(request, clients, settings, now)
    if path.startswith(f"{COLLECTION}/"):
        return _document(path[len(COLLECTION) + 1 :], request, clients, settings, now)
    raise ApiError(
        ApiErrorCode.ROUTE_NOT_FOUND,
        f"No route {request.method} {path}; the API serves /documents and /documents/{{key}}.",
    )
