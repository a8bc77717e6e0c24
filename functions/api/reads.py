"""``GET /documents/{key}`` and ``GET /documents``: statuses, download URLs, reports.

Both read the per-key status documents (``status/S.json``, see :mod:`functions.status`);
neither lists executions. A listing walks ``status/`` in key order and reads each status
document; it stops at ``limit`` matches or after :data:`SCAN_BUDGET` documents, whichever
comes first, and hands back the last key it looked at as an opaque cursor, so a filter
that matches rarely gives short (even empty) pages with a cursor rather than a slow
request (docs/ARCHITECTURE.md, "HTTP API").
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.api.errors import ApiError, ApiErrorCode
from functions.api.settings import ApiSettings
from functions.api.uploads import iso
from functions.naming import STATUS, outputs_of
from functions.status import STATES, KeyStatus, State, read_status

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# Status documents one listing request reads at most, and how many at a time.
SCAN_BUDGET = 300
_FETCH_BATCH = 25
_FETCH_THREADS = 8
_LIST_PARAMETERS = ("status", "since", "limit", "cursor")
_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _presign_get(s3: S3Client, bucket: str, key: str, seconds: int) -> str:
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
    )


def _read_report(s3: S3Client, bucket: str, key: str) -> Any:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return None


def get_document(
    s3: S3Client, settings: ApiSettings, key: str, now: datetime.datetime
) -> dict[str, Any]:
    """Returns a key's status with presigned URLs: outputs when succeeded, report when failed.

    Raises:
        ApiError: ``NOT_FOUND`` when the key has no status (unknown, or not picked up yet).
    """
    status = read_status(s3, settings.output_bucket, key)
    if status is None:
        raise ApiError(
            ApiErrorCode.NOT_FOUND,
            f"No document {key!r}: the key is unknown, or its upload has not reached the "
            "pipeline yet.",
        )
    body = status.to_json()
    seconds = settings.url_expiry_seconds
    outputs = outputs_of(key)
    downloads: dict[str, str] = {}
    if status.state == "succeeded":
        present = set(status.outputs) | ({status.manifest} if status.manifest else set())
        for label, output in (
            ("pdf", outputs.pdf),
            ("text", outputs.text),
            ("manifest", status.manifest or outputs.manifest),
        ):
            if output in present:
                downloads[label] = _presign_get(s3, settings.output_bucket, output, seconds)
    elif status.state == "failed":
        report = status.report or outputs.report
        downloads["report"] = _presign_get(s3, settings.output_bucket, report, seconds)
        body["failureReport"] = _read_report(s3, settings.output_bucket, report)
    body["downloads"] = downloads
    if downloads:
        body["downloadsExpireAt"] = iso(now + datetime.timedelta(seconds=seconds))
    return body


@dataclass(frozen=True)
class ListQuery:
    """The query of ``GET /documents``."""

    state: State | None = None
    since: datetime.datetime | None = None
    limit: int = DEFAULT_LIMIT
    start_after: str | None = None


def _parse_since(raw: str, now: datetime.datetime) -> datetime.datetime:
    match = _DURATION.fullmatch(raw.strip())
    if match:
        return now - datetime.timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    try:
        moment = datetime.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ApiError(
            ApiErrorCode.BAD_SINCE,
            f"since must be a duration like 30m, 24h or 7d, or an ISO 8601 time, got {raw!r}.",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def encode_cursor(status_key: str) -> str:
    """Returns the opaque cursor that continues a listing after ``status_key``."""
    return base64.urlsafe_b64encode(status_key.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(raw: str) -> str:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        key = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        key = ""
    if not key.startswith(f"{STATUS}/"):
        raise ApiError(
            ApiErrorCode.BAD_CURSOR, "cursor must be the value a previous page returned."
        )
    return key


def parse_list_query(query: Mapping[str, str], now: datetime.datetime) -> ListQuery:
    """Validates the query of ``GET /documents``.

    Raises:
        ApiError: An unknown parameter, status filter, time, limit or cursor.
    """
    unknown = sorted(set(query) - set(_LIST_PARAMETERS))
    if unknown:
        raise ApiError(
            ApiErrorCode.BAD_QUERY,
            f"Unknown query parameter {unknown[0]!r}; use {', '.join(_LIST_PARAMETERS)}.",
        )
    state = query.get("status")
    if state is not None and state not in STATES:
        raise ApiError(
            ApiErrorCode.BAD_STATUS_FILTER,
            f"status must be one of {', '.join(STATES)}, got {state!r}.",
        )
    limit_raw = query.get("limit")
    limit = DEFAULT_LIMIT
    if limit_raw is not None:
        if not re.fullmatch(r"\d{1,4}", limit_raw) or not 1 <= int(limit_raw) <= MAX_LIMIT:
            raise ApiError(
                ApiErrorCode.BAD_LIMIT,
                f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit_raw!r}.",
            )
        limit = int(limit_raw)
    since = query.get("since")
    cursor = query.get("cursor")
    return ListQuery(
        state=state,
        since=_parse_since(since, now) if since is not None else None,
        limit=limit,
        start_after=_decode_cursor(cursor) if cursor is not None else None,
    )


def _candidate_keys(s3: S3Client, bucket: str, query: ListQuery) -> Iterator[str]:
    """Yields the status keys after the cursor, in key order, that may pass ``since``."""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{STATUS}/"}
    if query.start_after:
        params["StartAfter"] = query.start_after
    while True:
        page = s3.list_objects_v2(**params)
        for entry in page.get("Contents", []):
            # LastModified is never earlier than the document's own "updated" time: one
            # last written before `since` cannot match, and costs no read.
            if query.since is None or entry["LastModified"] >= query.since:
                yield entry["Key"]
        if not page.get("IsTruncated"):
            return
        params["ContinuationToken"] = page["NextContinuationToken"]
        params.pop("StartAfter", None)


def _fetch(s3: S3Client, bucket: str, status_key: str) -> KeyStatus | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=status_key)["Body"].read()
        return KeyStatus.from_json(json.loads(body))
    except s3.exceptions.NoSuchKey:
        return None  # deleted between the listing and the read
    except (json.JSONDecodeError, ValueError, KeyError, TypeError):
        return None  # not a status document: nothing to list


def _matches(status: KeyStatus, query: ListQuery) -> bool:
    if query.state is not None and status.state != query.state:
        return False
    if query.since is None:
        return True
    try:
        updated = datetime.datetime.fromisoformat(status.updated)
    except ValueError:
        return True  # the listing's LastModified already passed the filter
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=datetime.UTC)
    return updated >= query.since


def _batches(keys: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def list_documents(s3: S3Client, settings: ApiSettings, query: ListQuery) -> dict[str, Any]:
    """Returns a page of statuses and the cursor of the next page.

    The cursor is None when the listing reached the end; a page that stops at ``limit``
    or at the scan budget always carries one (the next page may then be empty).
    """
    bucket = settings.output_bucket
    items: list[dict[str, Any]] = []
    scanned = 0
    keys = _candidate_keys(s3, bucket, query)
    with ThreadPoolExecutor(max_workers=_FETCH_THREADS) as pool:
        for batch in _batches(keys, _FETCH_BATCH):
            statuses = pool.map(lambda key: _fetch(s3, bucket, key), batch)
            for key, status in zip(batch, statuses, strict=True):
                scanned += 1
                if status is not None and _matches(status, query):
                    items.append(status.to_json())
                if len(items) == query.limit or scanned >= SCAN_BUDGET:
                    return {"documents": items, "cursor": encode_cursor(key)}
    return {"documents": items, "cursor": None}
