"""Reading the status per key: one key, the recent ones, and following keys to their end.

The status documents (``status/S.json``, :mod:`functions.status`) are the only thing
read: no execution is listed. A key's newest version is the one the status is about, so
following a document we uploaded means waiting for a final status of *its* version (or,
for a re-run, of *its* execution).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from functions.errors import ErrorCode
from functions.naming import STATUS
from functions.status import KeyStatus, read_status
from pipeline.commands.console import Progress

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FINAL = ("succeeded", "failed")
_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Awaited:
    """A document being followed: its key and which run of it we wait for.

    Attributes:
        key: The source key.
        version_id: The version we uploaded (None: any).
        execution: The execution (job id) we started (None: any).
    """

    key: str
    version_id: str | None = None
    execution: str | None = None

    def reached(self, status: KeyStatus | None) -> bool:
        """Whether ``status`` is a final status of the run we wait for."""
        if status is None or status.state not in FINAL:
            return False
        if self.version_id is not None and status.version_id != self.version_id:
            return False
        return self.execution is None or status.execution == self.execution


def expected(status: KeyStatus | None) -> bool:
    """Whether a document ended as the exit status 0 allows: succeeded, or failed for
    its input with a report (never ``INTERNAL_ERROR``)."""
    if status is None or status.state not in FINAL:
        return False
    if status.state == "succeeded":
        return True
    code = status.error.code if status.error else ErrorCode.INTERNAL_ERROR.value
    return bool(status.report) and code != ErrorCode.INTERNAL_ERROR.value


def follow(
    s3: S3Client,
    bucket: str,
    awaited: Sequence[Awaited],
    timeout: float,
    on_final: Callable[[KeyStatus], None] | None = None,
) -> dict[str, KeyStatus | None]:
    """Polls the status of each awaited document until final or ``timeout`` passes.

    Returns:
        Key -> its last status read (None when it has none yet).
    """
    deadline = time.monotonic() + timeout
    last: dict[str, KeyStatus | None] = {item.key: None for item in awaited}
    waiting = list(awaited)
    while waiting:
        still = []
        for item in waiting:
            last[item.key] = read_status(s3, bucket, item.key)
            if item.reached(last[item.key]):
                if on_final is not None:
                    on_final(last[item.key])  # type: ignore[arg-type]  # reached: not None
            else:
                still.append(item)
        waiting = still
        if waiting and time.monotonic() > deadline:
            break
        if waiting:
            time.sleep(_POLL_SECONDS)
    return last


def follow_with_progress(
    s3: S3Client, bucket: str, awaited: Sequence[Awaited], timeout: float, *, show: bool
) -> dict[str, KeyStatus | None]:
    """:func:`follow`, counting each document that reaches its end on a progress bar
    (or one line each when stderr is not a terminal); ``show`` False prints nothing."""
    progress = Progress(enabled=show)
    progress.start(len(awaited))
    try:
        return follow(
            s3, bucket, awaited, timeout, lambda status: progress.item(status.state, status.key)
        )
    finally:
        progress.close()


@dataclass(frozen=True)
class Listed:
    """A status document found by listing ``status/``."""

    object_key: str
    modified: datetime.datetime


def listed(s3: S3Client, bucket: str, since: datetime.datetime | None = None) -> Iterator[Listed]:
    """Yields the status documents, optionally only those written since ``since``."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{STATUS}/")
    for page in pages:
        for item in page.get("Contents", ()):
            if since is None or item["LastModified"] >= since:
                yield Listed(item["Key"], item["LastModified"])


def load(s3: S3Client, bucket: str, found: Listed) -> KeyStatus | None:
    """Reads a listed status document; None when it vanished or is not one."""
    try:
        body = s3.get_object(Bucket=bucket, Key=found.object_key)["Body"].read()
        return KeyStatus.from_json(json.loads(body))
    except s3.exceptions.NoSuchKey:
        return None
    except ValueError:
        return None


def recent(s3: S3Client, bucket: str, count: int) -> list[KeyStatus]:
    """Returns the ``count`` most recently written statuses, newest first."""
    newest = sorted(listed(s3, bucket), key=lambda item: item.modified, reverse=True)
    if len(newest) > count:
        # LastModified has a resolution of one second: every status written in the same
        # second as the last one kept is read, and they are ordered by their own "updated"
        # time, which has milliseconds.
        cutoff = newest[count - 1].modified
        newest = [item for item in newest if item.modified >= cutoff]
    loaded = [status for status in (load(s3, bucket, item) for item in newest) if status]
    loaded.sort(key=lambda status: status.updated, reverse=True)
    return loaded[:count]
