"""The boundary between Lambda and the stages: typed errors in, Step Functions errors out.

Every handler is wrapped by :func:`stage_handler`. A :class:`DocumentError` leaves the
function as an exception named after its code (the error Step Functions' Catch sees). A
transient infrastructure error (S3 or the file system failing after their own retries)
leaves as ``INFRASTRUCTURE_UNAVAILABLE``, which the state machine retries. Any other
exception is a defect: it is logged with its traceback and a correlation id, and leaves
as ``INTERNAL_ERROR`` whose message carries only that id.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

from functions.claims import LockBusyError
from functions.errors import DocumentError, ErrorCode, StageError, lambda_error
from functions.logs import StageLogger, configure
from functions.transient import transient_cause, unavailable_message

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


def _run(core: Core, event: dict[str, Any], log: StageLogger, context: Any) -> dict[str, Any]:
    """Runs a stage's core; a defect leaves as ``INTERNAL_ERROR`` with a correlation id."""
    try:
        return core(event, log)
    except (DocumentError, StageError, LockBusyError):
        raise
    except Exception as err:
        if transient_cause(err) is not None:
            raise
        correlation = correlation_id(context)
        log.exception("stage failed with an internal error", extra={"correlation": correlation})
        raise lambda_error(ErrorCode.INTERNAL_ERROR, internal_error_message(correlation)) from None


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
                result = _run(core, event, log, context)
            except DocumentError as err:
                log.warning(
                    "stage failed on the document",
                    extra={"code": err.code.value, "reason": err.message},
                )
                raise lambda_error(err.code, err.message) from None
            except StageError:
                raise
            except LockBusyError as err:
                log.warning("stage waited too long for the key's lock", extra={"reason": str(err)})
                raise lambda_error(
                    ErrorCode.INFRASTRUCTURE_UNAVAILABLE, unavailable_message(str(err))
                ) from None
            except Exception as err:
                cause = transient_cause(err)
                if cause is None:
                    raise
                log.warning("stage failed on the infrastructure", extra={"reason": cause})
                raise lambda_error(
                    ErrorCode.INFRASTRUCTURE_UNAVAILABLE, unavailable_message(cause)
                ) from None
            log.info("stage finished", extra={"seconds": round(time.monotonic() - started, 3)})
            return result

        return handler

    return decorate
