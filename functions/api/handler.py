"""The ``api`` Lambda function: API Gateway HTTP API events (payload 2.0) in and out.

:class:`Api` holds the clients and settings and turns one event into one response:
a refused request gets its 4xx and ``{"error": {"code", "message"}}``; S3 or Step
Functions being unavailable gets ``503 INFRASTRUCTURE_UNAVAILABLE``; anything else is a
defect: the traceback goes to the log under a correlation id, and the response is
``500 INTERNAL_ERROR`` quoting only that id. :func:`handler` is what Lambda calls; the
local server (``pipeline/local/api_server.py``) calls :meth:`Api.handle` with clients
pointed at the local S3.
"""

from __future__ import annotations

import datetime
import functools
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from functions.api.errors import ApiError, ApiErrorCode
from functions.api.http import ApiResponse, ResponseEvent, parse_event
from functions.api.routes import Clients, route
from functions.api.settings import ApiSettings, load_api_settings
from functions.handler import correlation_id
from functions.logs import StageLogger, configure

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

# Error codes with which S3 and Step Functions say "not now" rather than "no".
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)
RETRY_AFTER_SECONDS = 2


def _is_transient(err: Exception) -> bool:
    if isinstance(err, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or status >= 500
    return False


def _failure(err: Exception, correlation: str) -> ApiError:
    if _is_transient(err):
        return ApiError(
            ApiErrorCode.INFRASTRUCTURE_UNAVAILABLE,
            "Storage or the pipeline is unavailable for the moment; try again in a few "
            f"seconds (correlation id {correlation}).",
        )
    return ApiError(
        ApiErrorCode.INTERNAL_ERROR,
        "docpipe hit an internal error answering this request; quote correlation id "
        f"{correlation} when reporting it.",
    )


class Api:
    """The HTTP API over the given clients and settings.

    Args:
        s3: Reads statuses and outputs, presigns, deletes.
        sfn: Starts executions for retries.
        settings: Buckets, prefix, state machine, limits.
    """

    def __init__(self, s3: S3Client, sfn: SFNClient, settings: ApiSettings) -> None:
        self.clients = Clients(s3, sfn)
        self.settings = settings

    def respond(self, event: Mapping[str, Any], context: Any) -> tuple[ApiResponse, dict[str, Any]]:
        """Returns the response to one event, and the fields its log line carries."""
        request = parse_event(event)
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.raw_path,
            "requestId": request.request_id,
        }
        now = datetime.datetime.now(datetime.UTC)
        try:
            return route(request, self.clients, self.settings, now), fields
        except ApiError as err:
            fields["code"] = err.code.value
            return ApiResponse(err.status, err.to_json()), fields
        except Exception as err:  # a defect or an outage: log it, answer without a traceback
            correlation = correlation_id(context)
            refused = _failure(err, correlation)
            fields.update(correlation=correlation, code=refused.code.value)
            log = StageLogger(configure(), {"stage": "api"})
            log.exception("api request failed", extra=fields)
            headers = (
                {"retry-after": str(RETRY_AFTER_SECONDS)}
                if refused.code is ApiErrorCode.INFRASTRUCTURE_UNAVAILABLE
                else {}
            )
            return ApiResponse(refused.status, refused.to_json(), headers), fields

    def handle(self, event: Mapping[str, Any], context: Any) -> ResponseEvent:
        """Answers one payload 2.0 event with one integration response, and logs it."""
        started = time.monotonic()
        response, fields = self.respond(event, context)
        log = StageLogger(configure(), {"stage": "api"})
        log.info(
            "api request handled",
            extra={
                **fields,
                "status": response.status,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        return response.to_event()


@functools.cache
def default_api() -> Api:
    """The API over clients for this function's region, created once per environment."""
    import boto3
    from botocore.config import Config

    # Presigned URLs name the bucket in the host (virtual-hosted style) on AWS; a local
    # endpoint (AWS_ENDPOINT_URL, as the local stack sets) only serves path-style ones.
    s3_config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if os.environ.get("AWS_ENDPOINT_URL") else "virtual"},
        retries={"mode": "standard", "max_attempts": 3},
    )
    return Api(
        boto3.client("s3", config=s3_config),
        boto3.client("stepfunctions", config=Config(retries={"mode": "standard"})),
        load_api_settings(),
    )


def handler(event: dict[str, Any], context: Any) -> ResponseEvent:
    """The Lambda entry point (``functions.api.handler.handler``)."""
    return default_api().handle(event, context)
