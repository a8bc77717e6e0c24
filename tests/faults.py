"""S3 faults injected through botocore's own event hooks, in front of moto.

``s3_faults`` answers chosen S3 operations with a 503 SlowDown (as S3 does under load) a
number of times, or cuts a GetObject body mid-stream, on the client the handlers use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.response import StreamingBody
from urllib3.exceptions import ProtocolError

from functions.transient import s3_client

_SLOW_DOWN = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class _Raw:
    """A urllib3-like body: ``data`` for a 503, or bytes then a broken connection."""

    def __init__(self, data: bytes, *, break_after: int | None = None) -> None:
        self._data = data
        self._sent = 0
        self._break_after = break_after

    def close(self) -> None:
        """Nothing to release."""

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._data

    def read(self, amt: int | None = None) -> bytes:
        if self._break_after is not None and self._sent >= self._break_after:
            raise ProtocolError("Connection broken: IncompleteRead")
        end = len(self._data) if amt is None else self._sent + amt
        if self._break_after is not None:
            end = min(end, self._break_after)
        chunk = self._data[self._sent : end]
        self._sent += len(chunk)
        return chunk


@dataclass
class Faults:
    """How many faults are left to inject, per S3 operation (``PutObject`` ...)."""

    slow_down: dict[str, int] = field(default_factory=dict)
    broken_downloads: int = 0
    injected: int = 0
    url_part: str | None = None  # only requests whose URL contains it (a bucket, a prefix)

    def _send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        left = self.slow_down.get(operation, 0)
        if left <= 0 or (self.url_part and self.url_part not in request.url):
            return None
        self.slow_down[operation] = left - 1
        self.injected += 1
        return AWSResponse(request.url, 503, HTTPHeaders(), _Raw(_SLOW_DOWN))

    def _after_get(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.broken_downloads <= 0 or "Body" not in parsed:
            return
        self.broken_downloads -= 1
        self.injected += 1
        data = parsed["Body"].read()
        raw = _Raw(data, break_after=max(1, len(data) // 2))
        parsed["Body"] = StreamingBody(cast(IO[bytes], raw), len(data))


@contextlib.contextmanager
def s3_faults(faults: Faults) -> Iterator[Faults]:
    """Injects ``faults`` into the handlers' S3 client while the block runs."""
    events = s3_client().meta.events
    events.register_first("before-send.s3", faults._send, unique_id="docpipe-faults-send")
    events.register("after-call.s3.GetObject", faults._after_get, unique_id="docpipe-faults-get")
    try:
        yield faults
    finally:
        events.unregister("before-send.s3", unique_id="docpipe-faults-send")
        events.unregister("after-call.s3.GetObject", unique_id="docpipe-faults-get")
