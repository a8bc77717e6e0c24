"""Claims on source versions and per-key publish locks, on the shared workspace.

Both are files on EFS written in one step: the content goes to a temporary file that is
fsynced and then hard-linked into place (``link`` fails if the name exists, which EFS
honours across clients). A full or failing file system therefore never leaves an empty
or partial claim: the temporary file is removed and nothing is linked.

A claim (``claims/<digest>/<generation>``) records who processes one object version and
how it ended: ``processing`` (with a lease), ``done`` or ``failed``. The newest
generation is the claim; a job takes over a failed or expired claim by linking the next
generation, so that two jobs never both take it (docs/ARCHITECTURE.md, "Exactly once").

A key lock (``locks/<digest>``) serialises the commits of one source key: the uploads of
a job's outputs, the removal of stale ones and the status document.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

ClaimState = Literal["processing", "done", "failed"]
# A processing claim is trusted this long: longer than any job (three stages of at most
# 15 minutes each, with retries). After it an abandoned job's version is processed again.
CLAIM_LEASE_SECONDS = 3600.0
# A job inside an Express execution ends within its five minutes, whatever happens to it:
# its claim is trusted five minutes and one of margin (clocks, the claim's own write).
EXPRESS_CLAIM_LEASE_SECONDS = 360.0
LOCK_LEASE_SECONDS = 300.0
LOCK_WAIT_SECONDS = 60.0
_TMP_PREFIX = ".tmp-"


class Claimed(StrEnum):
    """What :func:`acquire` decided for a job."""

    CLAIMED = "claimed"
    PUBLISHED = "published"  # a job already published this version: nothing to do
    BUSY = "busy"  # another job is processing it now, within its lease


@dataclass(frozen=True)
class ClaimRecord:
    """One generation of a claim."""

    state: ClaimState
    job: str
    expires: float
    generation: int


class LockBusyError(Exception):
    """Another job held a key's lock for longer than the wait allows."""


def write_new(path: Path, value: Any) -> bool:
    """Creates ``path`` holding ``value`` as JSON in one step; False if it exists.

    Raises:
        OSError: The file system refused the write (the temporary file is removed).
    """
    tmp = path.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}")
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            json.dump(value, handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # written by an older release (the job id alone): treat as failed
        return {"state": "failed", "job": "", "expires": 0}
    return value if isinstance(value, dict) else {"state": "failed", "job": "", "expires": 0}


def _generations(directory: Path) -> list[int]:
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(name) for name in names if name.isdigit())


def current_claim(root: Path, digest: str) -> ClaimRecord | None:
    """Returns the newest generation of a claim, or None when there is none."""
    directory = root / "claims" / digest
    for generation in reversed(_generations(directory)):
        raw = _read(directory / f"{generation:010d}")
        if raw is not None:
            return ClaimRecord(
                state=raw.get("state", "failed"),
                job=str(raw.get("job", "")),
                expires=float(raw.get("expires", 0)),
                generation=generation,
            )
    return None


def _link_generation(
    root: Path,
    digest: str,
    generation: int,
    state: ClaimState,
    job: str,
    now: float,
    lease_seconds: float = CLAIM_LEASE_SECONDS,
) -> bool:
    directory = root / "claims" / digest
    if directory.exists() and not directory.is_dir():  # a claim of an older release
        directory.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    expires = now + lease_seconds if state == "processing" else 0.0
    record = {"state": state, "job": job, "expires": expires, "time": now}
    if not write_new(directory / f"{generation:010d}", record):
        return False
    for older in _generations(directory):
        if older < generation:
            (directory / f"{older:010d}").unlink(missing_ok=True)
    return True


def acquire(
    root: Path,
    digest: str,
    job: str,
    *,
    rerun: bool = False,
    now: float | None = None,
    lease_seconds: float = CLAIM_LEASE_SECONDS,
) -> Claimed:
    """Claims an object version for ``job``.

    A version nobody claimed, a failed one and one whose processing lease expired are
    claimed; a retried ingest of the same job keeps its own claim; a published one is
    claimed only when ``rerun`` asks to reprocess it on purpose. ``lease_seconds`` is how
    long the claim is trusted: a job that cannot outlive a shorter time (one inside an
    Express execution, :data:`EXPRESS_CLAIM_LEASE_SECONDS`) lets a later job take over
    its version that much sooner when it was cut short.
    """
    for _ in range(16):
        moment = time.time() if now is None else now
        current = current_claim(root, digest)
        if current is not None and current.job == job and current.state == "processing":
            return Claimed.CLAIMED
        if current is not None and not rerun:
            if current.state == "done":
                return Claimed.PUBLISHED
            if current.state == "processing" and current.expires > moment:
                return Claimed.BUSY
        generation = 1 if current is None else current.generation + 1
        if _link_generation(root, digest, generation, "processing", job, moment, lease_seconds):
            return Claimed.CLAIMED
    return Claimed.BUSY


def settle(root: Path, digest: str, job: str, state: ClaimState) -> bool:
    """Marks ``job``'s claim ``done`` or ``failed``; False if another job holds it now.

    When the mark cannot be written (a full file system), the claim is removed instead,
    so that a re-run of the version processes it.
    """
    for _ in range(16):
        current = current_claim(root, digest)
        if current is None or current.job != job:
            return False
        try:
            if _link_generation(root, digest, current.generation + 1, state, job, time.time()):
                return True
        except OSError:
            shutil.rmtree(root / "claims" / digest, ignore_errors=True)
            return False
    return False


@dataclass
class KeyLock:
    """A held key lock; :meth:`renew` extends its lease between long uploads."""

    path: Path
    token: str
    job: str
    clock: Callable[[], float] = time.time

    def renew(self) -> None:
        """Extends the lease (the lock is ours: only its holder renews it)."""
        tmp = self.path.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}")
        record = {
            "job": self.job,
            "token": self.token,
            "expires": self.clock() + LOCK_LEASE_SECONDS,
        }
        try:
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)


def _break(path: Path, seen: dict[str, Any]) -> None:
    """Removes a stale lock, putting it back if a fresh one was taken instead."""
    moved = path.with_name(f".stale-{uuid.uuid4().hex}")
    try:
        os.rename(path, moved)
    except FileNotFoundError:
        return
    taken = _read(moved)
    if taken is not None and taken.get("token") != seen.get("token"):
        with contextlib.suppress(FileExistsError):
            os.link(moved, path)
    moved.unlink(missing_ok=True)


@contextlib.contextmanager
def key_lock(
    root: Path,
    name: str,
    job: str,
    *,
    wait: float = LOCK_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[KeyLock]:
    """Holds the lock ``locks/<name>`` while the block runs.

    A lock held by the same job (an earlier attempt that crashed) or whose lease expired
    is broken. Raises :class:`LockBusyError` when another job holds it longer than ``wait``.
    """
    locks = root / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / name
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while True:
        record = {"job": job, "token": token, "expires": time.time() + LOCK_LEASE_SECONDS}
        if write_new(path, record):
            break
        holder = _read(path)
        if holder is None:
            continue
        if holder.get("job") == job or float(holder.get("expires", 0)) < time.time():
            _break(path, holder)
            continue
        if time.monotonic() > deadline:
            raise LockBusyError(
                f"the key's outputs stayed locked by another job ({holder.get('job')}) "
                f"for over {wait:g} seconds"
            )
        sleep(0.2)
    lock = KeyLock(path, token, job)
    try:
        yield lock
    finally:
        held = _read(path)
        if held is not None and held.get("token") == token:
            path.unlink(missing_ok=True)
