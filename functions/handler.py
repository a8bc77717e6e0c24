"""The boundary between Lambda and the stages: typed errors in, Step Functions errors out.

Every handler is wrapped by :func:`stage_handler`. A :class:`DocumentError` leaves the
function as an exception named after its code (the error Step Functions' Catch sees); any
other exception is a defect: it is logged with its traceback and a correlation id, and
leaves as ``INTERNAL_ERROR`` whose message carries only that id.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

from functions.errors import DocumentError, ErrorCode, StageError, lambda_error
from functions.logs import StageLogger, configure

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Core = Callable[[dict[str, Any], StageLogger], dict[str, Any]]


def correlation_id(context: Any) -> str:
    """Returns the Lambda request id (it ties a report to the logs), or a fresh uuid."""
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) and request_id else uuid.uuid4().hex


def internal_error_message(correlation: str) -> str:
    """The sentence a user sees for a defect: no traceback, only what support needs."""
    return (
        "docpipe hit an internal error while processing this document; "
        f"quote correlation id {correlation} when reporting it."
    )


def stage_handler(stage: str) -> Callable[[Core], Handler]:
    """Wraps a stage's core as a Lambda handler with structured logs and typed errors."""

    def decorate(core: Core) -> Handler:
        @functools.wraps(core)
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            log = StageLogger(configure(), {"stage": stage})
            job = event.get("job") if isinstance(event, dict) else None
            if isinstance(job, str):
                log = log.bind(job=job)
            started = time.monotonic()
            try:
                result = core(event, log)
            except DocumentError as err:
                log.warning(
                    "stage failed on the document",
                    extra={"code": err.code.value, "reason": err.message},
                )
                raise lambda_error(err.code, err.message) from None
            except StageError:
                raise
            except Exception:  # a defect: keep the traceback in the logs, not in the report
                correlation = correlation_id(context)
                log.exception(
                    "stage failed with an internal error", extra={"correlation": correlation}
                )
                raise lambda_error(
                    ErrorCode.INTERNAL_ERROR, internal_error_message(correlation)
                ) from None
            log.info("stage finished", extra={"seconds": round(time.monotonic() - started, 3)})
            return result

        return handler

    return decorate
