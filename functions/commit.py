"""Committing a key's outcome: the newest source version wins, one consistent output set.

Every write that changes what a source key's outputs say (its status document, its
processed outputs, its failure report) happens inside :func:`key_commit`, which

1. holds the key's lock on the workspace (one committer per key at a time);
2. reads ``status/S.json`` with its ETag;
3. decides whether the job's source version may commit: only the key's current version
   in the trigger bucket may (HeadObject without a version id); when the key has no
   current version any more, a version may only replace a status about itself or about
   an older S3 event sequencer;
4. lets the caller upload, then removes what belongs to no version any more, and writes
   the status with ``If-Match`` (``If-None-Match: *`` when there was none), so that even
   a writer that bypassed the lock cannot be overwritten unseen.

See docs/ARCHITECTURE.md, "Status per key" and "Exactly once".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.claims import KeyLock, key_lock
from functions.logs import StageLogger
from functions.naming import outputs_of
from functions.settings import Settings
from functions.status import KeyStatus, State, status_key

_MISSING = {"404", "403", "NoSuchKey", "NoSuchVersion", "AccessDenied", "NoSuchBucket"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


@dataclass(frozen=True)
class SourceVersion:
    """The source object version a job is about."""

    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    sequencer: str | None = None

    @classmethod
    def of(cls, source: Any) -> SourceVersion:
        """Reads the version from a described source (``bucket``, ``key``, ``versionId``...)."""
        return cls(
            bucket=str(source.get("bucket", "")),
            key=str(source.get("key", "")),
            version_id=source.get("versionId") or None,
            etag=source.get("etag") or None,
            sequencer=source.get("sequencer") or None,
        )


def now_iso() -> str:
    """The current time as ISO 8601 in UTC, to the millisecond (statuses sort by it)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def sequencer_newer_or_same(ours: str, theirs: str) -> bool:
    """Compares S3 event sequencers of one key: right-pad with zeros, then compare."""
    width = max(len(ours), len(theirs))
    return ours.upper().ljust(width, "0") >= theirs.upper().ljust(width, "0")


def _code(err: Exception) -> str:
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def is_current(s3: Any, version: SourceVersion) -> bool | None:
    """True if ``version`` is the key's current version; None if the key has none."""
    from botocore.exceptions import ClientError, ParamValidationError

    try:
        head = s3.head_object(Bucket=version.bucket, Key=version.key)
    except ParamValidationError:  # a bucket name S3 never accepts holds no version
        return None
    except ClientError as err:
        if _code(err) in _MISSING:
            return None
        raise
    current_id = head.get("VersionId")
    if version.version_id and current_id and current_id != "null":
        return bool(current_id == version.version_id)
    return str(head.get("ETag", "")).strip('"') == (version.etag or "").strip('"')


def is_about(status: KeyStatus, version: SourceVersion) -> bool:
    """True if a status document is about this very version."""
    if version.version_id or status.version_id:
        return status.version_id == version.version_id
    return (status.etag or "").strip('"') == (version.etag or "").strip('"')


def entitled(s3: Any, version: SourceVersion, status: KeyStatus | None) -> bool:
    """Decides whether a job of ``version`` may commit over ``status`` (module docstring)."""
    current = is_current(s3, version)
    if current is not None:
        return current
    if status is None or is_about(status, version):
        return True
    if status.sequencer and version.sequencer:
        return sequencer_newer_or_same(version.sequencer, status.sequencer)
    return False


def read_tagged(s3: Any, bucket: str, key: str) -> tuple[KeyStatus | None, str | None]:
    """Reads a key's status document and its ETag (None, None when there is none)."""
    from botocore.exceptions import ClientError

    try:
        response = s3.get_object(Bucket=bucket, Key=status_key(key))
    except ClientError as err:
        if _code(err) in _MISSING:
            return None, None
        raise
    try:
        status = KeyStatus.from_json(json.loads(response["Body"].read()))
    except ValueError:
        status = None  # unreadable: replaced by the next commit
    return status, str(response["ETag"])


def lock_name(bucket: str, key: str) -> str:
    """The name of a key's lock on the workspace."""
    return hashlib.sha256(f"{bucket}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class KeyCommit:
    """A commit in progress: the key's lock is held and the job's version may commit."""

    s3: Any
    bucket: str
    version: SourceVersion
    job: str
    lock: KeyLock
    previous: KeyStatus | None
    etag: str | None

    def status(self, state: State, **fields: Any) -> KeyStatus:
        """Returns a status document about this commit's version."""
        return KeyStatus(
            key=self.version.key,
            state=state,
            updated=now_iso(),
            version_id=self.version.version_id,
            etag=self.version.etag,
            sequencer=self.version.sequencer,
            execution=self.job,
            **fields,
        )

    def existing_outputs(self) -> set[str]:
        """Every output key the source key may have now, from any earlier version."""
        keys = outputs_of(self.version.key)
        found = {keys.pdf, keys.text, keys.manifest, keys.report}
        if self.previous is not None:
            found.update(self.previous.outputs)
            if self.previous.report:
                found.add(self.previous.report)
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=keys.members_prefix):
            found.update(item["Key"] for item in page.get("Contents", ()))
        return found

    def remove_stale(self, keep: Collection[str]) -> list[str]:
        """Removes every output of the key that is not in ``keep``; returns them."""
        stale = sorted(self.existing_outputs() - set(keep))
        for start in range(0, len(stale), 1000):
            batch = [{"Key": key} for key in stale[start : start + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return stale

    def write(self, status: KeyStatus) -> bool:
        """Writes the status with a conditional put; False if a newer version took over."""
        from botocore.exceptions import ClientError

        for _ in range(5):
            condition = {"IfMatch": self.etag} if self.etag else {"IfNoneMatch": "*"}
            try:
                response = self.s3.put_object(
                    Bucket=self.bucket,
                    Key=status_key(self.version.key),
                    Body=json.dumps(status.to_json(), indent=2, ensure_ascii=False).encode(),
                    ContentType="application/json",
                    **condition,
                )
            except ClientError as err:
                if _code(err) not in _CONFLICT:
                    raise
                self.previous, self.etag = read_tagged(self.s3, self.bucket, self.version.key)
                if not entitled(self.s3, self.version, self.previous):
                    return False
                continue
            self.etag = str(response.get("ETag") or "") or None
            return True
        return False


@contextlib.contextmanager
def key_commit(
    s3: Any, settings: Settings, version: SourceVersion, job: str, log: StageLogger
) -> Iterator[KeyCommit | None]:
    """Holds the key's lock; yields a commit, or None when a newer version owns the key."""
    bucket = settings.output_bucket
    with key_lock(settings.mount_path, lock_name(bucket, version.key), job) as lock:
        previous, etag = read_tagged(s3, bucket, version.key)
        if not entitled(s3, version, previous):
            log.info(
                "a newer version of the key owns its outputs",
                extra={
                    "versionId": version.version_id,
                    "current": previous and previous.version_id,
                },
            )
            yield None
            return
        yield KeyCommit(s3, bucket, version, job, lock, previous, etag)


def mark_processing(
    s3: Any, settings: Settings, version: SourceVersion, job: str, log: StageLogger, **fields: Any
) -> bool:
    """Writes ``processing`` for a job that starts real work on the key's current version."""
    with key_commit(s3, settings, version, job, log) as commit:
        if commit is None:
            return False
        return commit.write(commit.status("processing", stage="ingest", **fields))
