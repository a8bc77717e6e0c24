"""Transient infrastructure errors: the S3 client that retries them, and their one name.

The S3 client retries throttling and 5xx answers itself (botocore's adaptive mode, which
also slows down when S3 says ``SlowDown``). What still fails after that, and what the
file system refuses for reasons outside the document (EIO, ENOSPC, a stale handle), is
``INFRASTRUCTURE_UNAVAILABLE``: the state machine retries it with backoff, and the
failure report says so in words an operator can act on (docs/ARCHITECTURE.md,
"Transient errors").
"""

from __future__ import annotations

import errno
import functools
from typing import Any

# Error codes S3 answers when it is the one in trouble, not the request.
_S3_TRANSIENT = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
}
_FS_TRANSIENT = {
    errno.EIO,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ESTALE,
    errno.ETIMEDOUT,
    errno.EROFS,
    errno.ENOLCK,
}
S3_MAX_ATTEMPTS = 8


def _s3_cause(err: Exception) -> str | None:
    from botocore.exceptions import (
        ClientError,
        HTTPClientError,
        IncompleteReadError,
        ResponseStreamingError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from urllib3.exceptions import HTTPError, ProtocolError

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _S3_TRANSIENT or status >= 500:
            return f"S3 answered {code or status} ({error.get('Message') or 'no detail'})"
        return None
    if isinstance(
        err, (BotoConnectionError, HTTPClientError, IncompleteReadError, ResponseStreamingError)
    ):
        return f"the connection to S3 broke ({type(err).__name__})"
    if isinstance(err, (ProtocolError, HTTPError)):
        return f"the connection to S3 broke ({type(err).__name__})"
    return None


def transient_cause(err: BaseException) -> str | None:
    """Returns what went wrong in words, when ``err`` is a transient infrastructure error."""
    if isinstance(err, OSError) and err.errno in _FS_TRANSIENT:
        return f"the shared file system failed ({errno.errorcode.get(err.errno, err.errno)})"
    if isinstance(err, Exception):
        return _s3_cause(err)
    return None


def unavailable_message(cause: str) -> str:
    """The sentence of an ``INFRASTRUCTURE_UNAVAILABLE`` error."""
    return (
        f"docpipe's storage was unavailable: {cause}. The document itself is not at fault "
        "and nothing was published; re-run it once the service has recovered."
    )


def s3_config() -> Any:
    """The botocore configuration of every docpipe S3 client: adaptive retries."""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "max_attempts": S3_MAX_ATTEMPTS})


@functools.cache
def s3_client() -> Any:
    """The S3 client, created once per execution environment (boto3 imported lazily)."""
    import boto3

    return boto3.client("s3", config=s3_config())
