"""The HTTP API's stable error codes, each with its status, and the exception that carries one."""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus


class ApiErrorCode(StrEnum):
    """What went wrong with a request; the body says ``{"error": {"code", "message"}}``."""

    MALFORMED_JSON = "MALFORMED_JSON"
    INVALID_BODY = "INVALID_BODY"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    MISSING_NAME = "MISSING_NAME"
    INVALID_NAME = "INVALID_NAME"
    NAME_TOO_LONG = "NAME_TOO_LONG"
    UNKNOWN_PROFILE = "UNKNOWN_PROFILE"
    MISSING_KEY = "MISSING_KEY"
    INVALID_KEY = "INVALID_KEY"
    BAD_STATUS_FILTER = "BAD_STATUS_FILTER"
    BAD_SINCE = "BAD_SINCE"
    BAD_LIMIT = "BAD_LIMIT"
    BAD_CURSOR = "BAD_CURSOR"
    BAD_QUERY = "BAD_QUERY"
    NOT_FOUND = "NOT_FOUND"
    ROUTE_NOT_FOUND = "ROUTE_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    DOCUMENT_BUSY = "DOCUMENT_BUSY"
    INFRASTRUCTURE_UNAVAILABLE = "INFRASTRUCTURE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


STATUS: dict[ApiErrorCode, HTTPStatus] = {
    ApiErrorCode.MALFORMED_JSON: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.INVALID_BODY: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.BODY_TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ApiErrorCode.MISSING_NAME: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.INVALID_NAME: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.NAME_TOO_LONG: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.UNKNOWN_PROFILE: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.MISSING_KEY: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.INVALID_KEY: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.BAD_STATUS_FILTER: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.BAD_SINCE: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.BAD_LIMIT: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.BAD_CURSOR: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.BAD_QUERY: HTTPStatus.BAD_REQUEST,
    ApiErrorCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    ApiErrorCode.ROUTE_NOT_FOUND: HTTPStatus.NOT_FOUND,
    ApiErrorCode.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
    ApiErrorCode.DOCUMENT_BUSY: HTTPStatus.CONFLICT,
    ApiErrorCode.INFRASTRUCTURE_UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    ApiErrorCode.INTERNAL_ERROR: HTTPStatus.INTERNAL_SERVER_ERROR,
}
if set(STATUS) != set(ApiErrorCode):
    raise RuntimeError("every API error code needs exactly one HTTP status")


class ApiError(Exception):
    """A request the API refuses, for a reason its sender can act on.

    Args:
        code: The stable error code (it decides the HTTP status).
        message: One sentence for a person, naming what is wrong with the request.
    """

    def __init__(self, code: ApiErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status of the response."""
        return int(STATUS[self.code])

    def to_json(self) -> dict[str, dict[str, str]]:
        """Returns the response body: ``{"error": {"code", "message"}}``."""
        return {"error": {"code": self.code.value, "message": self.message}}
