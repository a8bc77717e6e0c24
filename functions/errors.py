"""Stable error codes and the exceptions that carry them.

A :class:`DocumentError` is something a user's input caused: it carries one of the codes
below and a sentence a person understands. ``INFRASTRUCTURE_UNAVAILABLE`` is S3 or the
file system failing after their own retries (see :mod:`functions.transient`); the state
machine retries it. Anything else is a defect and is reported as ``INTERNAL_ERROR`` with
a correlation id, never with a traceback.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The stable codes (docs/ARCHITECTURE.md, "Error codes") of reports and executions."""

    EMPTY_DOCUMENT = "EMPTY_DOCUMENT"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    TOO_LARGE = "TOO_LARGE"
    TOO_MANY_PAGES = "TOO_MANY_PAGES"
    CORRUPT_DOCUMENT = "CORRUPT_DOCUMENT"
    ENCRYPTED_DOCUMENT = "ENCRYPTED_DOCUMENT"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    UNSAFE_ARCHIVE = "UNSAFE_ARCHIVE"
    SOURCE_NOT_FOUND = "SOURCE_NOT_FOUND"
    PROCESSING_TIMEOUT = "PROCESSING_TIMEOUT"
    INFRASTRUCTURE_UNAVAILABLE = "INFRASTRUCTURE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class DocumentError(Exception):
    """A document cannot be processed, for a reason its owner can act on.

    Args:
        code: The stable error code.
        message: One sentence for a person, naming what is wrong with the input.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """Returns the ``{"code", "message"}`` pair used in reports and summaries."""
        return {"code": self.code.value, "message": self.message}


class StageError(Exception):
    """Base of the exceptions a handler raises to fail its Step Functions task.

    Lambda reports the class name of the raised exception as the error type, and Step
    Functions matches Catch and Retry on it; one subclass per code makes the error name
    the stable code itself (``EMPTY_DOCUMENT``), which is what the failure step reads.
    """


LAMBDA_ERROR_TYPES: dict[ErrorCode, type[StageError]] = {
    code: type(code.value, (StageError,), {"__module__": __name__}) for code in ErrorCode
}


def lambda_error(code: ErrorCode, message: str) -> StageError:
    """Returns the exception to raise from a handler so the task fails with ``code``."""
    return LAMBDA_ERROR_TYPES[code](message)
