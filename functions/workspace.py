"""The shared workspace on EFS: job directories, atomic files, claims and the sweep.

Layout (relative to the mount path; the state machine only ever carries these relative
paths)::

    jobs/<job-id>/ingest/      source bytes; archive members unpacked here
    jobs/<job-id>/transform/   document.pdf, text.txt, facts.json (members: one folder each)
    jobs/<job-id>/compress/    document.pdf
    jobs/<job-id>/claim.json   which claim the job holds (for the failure step)
    claims/<source-digest>/    the claim on one object version (functions.claims)
    locks/<key-digest>         the lock of one source key's commits (functions.claims)

``<job-id>`` is the execution name in the reversible, traversal-safe form of
:func:`functions.naming.encode_segment` (a hash when that is too long for a file name).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from functions.naming import encode_segment

STAGES = ("ingest", "transform", "compress")
# Step Functions execution names: 1 to 80 characters, no whitespace, none of these
# characters and no control characters (which includes U+007F-U+009F).
_FORBIDDEN = set('<>{}[]?*"#%\\^|~`$&,;:/')
_TMP_PREFIX = ".tmp-"
_MAX_DIR_BYTES = 200


def validate_job_id(job: str) -> str:
    """Returns ``job`` if Step Functions accepts it as an execution name.

    Raises:
        ValueError: The id is not an execution name.
    """
    valid = (
        isinstance(job, str)
        and 1 <= len(job) <= 80
        and not any(char.isspace() or char in _FORBIDDEN or not char.isprintable() for char in job)
    )
    if not valid:
        raise ValueError(f"job id {job!r} is not a valid execution name")
    return job


def job_directory(job: str) -> str:
    """Returns the directory name of a job: its encoded form, hashed when too long."""
    name = encode_segment(validate_job_id(job))
    if len(name.encode("utf-8", "surrogatepass")) <= _MAX_DIR_BYTES:
        return name
    return "%~" + hashlib.sha256(job.encode("utf-8", "surrogatepass")).hexdigest()


class Workspace:
    """One job's directories under the mount path."""

    def __init__(self, root: Path, job: str) -> None:
        self.root = root
        self.job = validate_job_id(job)
        self.job_dir = root / "jobs" / job_directory(job)

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

    def remember_claim(self, digest: str) -> None:
        """Records the claim this job is about to take, before taking it."""
        self.job_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.job_dir / "claim.json", {"digest": digest})

    def claimed(self) -> str | None:
        """Returns the digest of the claim this job took, if it got that far."""
        try:
            digest = read_json(self.job_dir / "claim.json").get("digest")
        except (FileNotFoundError, ValueError, AttributeError):
            return None
        return digest if isinstance(digest, str) and digest.isalnum() else None

    def shrink(self, keep: tuple[str, ...]) -> None:
        """Removes every file of the job except ``keep`` (paths relative to the job)."""
        if not self.job_dir.is_dir():
            return
        kept = {self.job_dir / name for name in keep}
        for path in sorted(self.job_dir.rglob("*"), reverse=True):
            if path in kept or any(k.is_relative_to(path) for k in kept):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        """Removes the job's whole workspace; a missing one is fine (already removed)."""
        shutil.rmtree(self.job_dir, ignore_errors=True)


def document_folder(directory: Path, index: int, bundle: bool) -> Path:
    """Where a stage writes document ``index``: the stage folder, or one folder a member.

    The name comes from the position alone, never from a manifest, so that nothing read
    from the workspace can point a stage's output elsewhere.
    """
    return directory / f"{index:04d}" if bundle else directory


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


def sweep(root: Path, ttl_hours: float, now: float | None = None) -> list[str]:
    """Removes job workspaces, claims and key locks older than ``ttl_hours``.

    Jobs end by removing their own workspace; what is left older than the TTL belongs to
    executions that were killed. Claims expire after the same TTL: by then every duplicate
    delivery of the event has long arrived.

    Returns:
        The removed entries, relative to ``root``.
    """
    cutoff = (time.time() if now is None else now) - ttl_hours * 3600
    removed: list[str] = []
    for folder in ("jobs", "claims", "locks"):
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
