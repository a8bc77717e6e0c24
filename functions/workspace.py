"""The shared workspace on EFS: job directories, atomic files, claims and the sweep.

Layout (relative to the mount path; the state machine only ever carries these relative
paths)::

    jobs/<job-id>/ingest/      source bytes; archive members unpacked here
    jobs/<job-id>/transform/   document.pdf, text.txt, facts.json (members: one folder each)
    jobs/<job-id>/compress/    document.pdf
    claims/<source-digest>     at-least-once guard, created with O_EXCL by ingest
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

STAGES = ("ingest", "transform", "compress")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_TMP_PREFIX = ".tmp-"


def validate_job_id(job: str) -> str:
    """Returns ``job`` if it is a safe directory name (a Step Functions execution name).

    Raises:
        ValueError: The id could escape the jobs directory or is not an execution name.
    """
    if not _JOB_ID.match(job):
        raise ValueError(f"job id {job!r} is not a valid execution name")
    return job


class Workspace:
    """One job's directories under the mount path."""

    def __init__(self, root: Path, job: str) -> None:
        self.root = root
        self.job = validate_job_id(job)
        self.job_dir = root / "jobs" / self.job

    def stage_dir(self, stage: str) -> Path:
        """Returns the directory a stage owns (not created)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        return self.job_dir / stage

    def reset_stage(self, stage: str) -> Path:
        """Empties and recreates a stage's directory, so that a retry starts clean."""
        path = self.stage_dir(stage)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def relative(self, path: Path) -> str:
        """Returns ``path`` relative to the mount path, as carried in the state."""
        return path.relative_to(self.root).as_posix()

    def resolve(self, relative: str) -> Path:
        """Returns the absolute path of a state reference, refusing any outside this job."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.job_dir.resolve()):
            raise ValueError(f"path {relative!r} is outside job {self.job}")
        return path

    def remove(self) -> None:
        """Removes the job's whole workspace; a missing one is fine (already removed)."""
        shutil.rmtree(self.job_dir, ignore_errors=True)


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Opens a temporary file beside ``path`` and renames it into place on success.

    The data is fsynced before the rename, so a reader on another client never sees a
    partial file; on an exception the temporary file is removed and ``path`` is untouched.
    """
    tmp = path.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}-{path.name}")
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(data)


def write_json(path: Path, value: Any) -> None:
    """Writes ``value`` as indented UTF-8 JSON to ``path`` atomically."""
    write_bytes(path, json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8"))


def read_json(path: Path) -> Any:
    """Reads a JSON file written by :func:`write_json`."""
    return json.loads(path.read_text(encoding="utf-8"))


def claim(root: Path, digest: str, job: str) -> bool:
    """Claims a source version for ``job``; returns False if another job holds it.

    The claim file is created with ``O_EXCL``, which EFS (NFSv4) honours across clients,
    and holds the id of the job that made it, so that a retried ingest of the same job
    recognises its own claim.
    """
    claims = root / "claims"
    claims.mkdir(parents=True, exist_ok=True)
    path = claims / digest
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        try:
            return path.read_text(encoding="utf-8").strip() == job
        except FileNotFoundError:  # swept between open and read: claim again
            return claim(root, digest, job)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(job)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def sweep(root: Path, ttl_hours: float, now: float | None = None) -> list[str]:
    """Removes job workspaces and claims older than ``ttl_hours``.

    Jobs end by removing their own workspace; what is left older than the TTL belongs to
    executions that were killed. Claims expire after the same TTL: by then every duplicate
    delivery of the event has long arrived.

    Returns:
        The removed entries, relative to ``root``.
    """
    cutoff = (time.time() if now is None else now) - ttl_hours * 3600
    removed: list[str] = []
    for folder in ("jobs", "claims"):
        base = root / folder
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            try:
                mtime = entry.lstat().st_mtime
            except FileNotFoundError:
                continue
            if mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.relative_to(root).as_posix())
    return removed
