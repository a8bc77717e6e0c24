"""The EFS workspace: atomic files, retry-safe stage directories, claims and the sweep."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from functions.claims import acquire
from functions.workspace import Workspace, atomic_writer, sweep, write_bytes


def test_atomic_writer_leaves_nothing_behind_on_error(tmp_path: Path) -> None:
    """This test ensures that a failed write leaves neither a partial file nor a temp file."""
    target = tmp_path / "document.pdf"
    write_bytes(target, b"original")

    def interrupted_write() -> None:
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError, match="disk went away"):
        interrupted_write()
    assert target.read_bytes() == b"original"
    assert [p.name for p in tmp_path.iterdir()] == ["document.pdf"]


def test_reset_stage_clears_a_previous_attempt(tmp_path: Path) -> None:
    """This test ensures that a retried stage starts from an empty directory of its own."""
    workspace = Workspace(tmp_path, "job-1")
    first = workspace.reset_stage("transform")
    (first / "stale.pdf").write_bytes(b"x")
    (workspace.reset_stage("ingest") / "source").write_bytes(b"y")
    second = workspace.reset_stage("transform")
    assert list(second.iterdir()) == []
    assert (workspace.stage_dir("ingest") / "source").exists()


@pytest.mark.parametrize("job", ["../escape", "a/b", "", "x" * 81, "job id"])
def test_job_ids_cannot_escape_the_jobs_directory(tmp_path: Path, job: str) -> None:
    """This test ensures that only execution-name-shaped job ids are accepted."""
    with pytest.raises(ValueError, match="not a valid execution name"):
        Workspace(tmp_path, job)


def test_state_references_outside_the_job_are_refused(tmp_path: Path) -> None:
    """This test ensures that a path carried in the state cannot point into another job."""
    workspace = Workspace(tmp_path, "job-1")
    workspace.reset_stage("ingest")
    with pytest.raises(ValueError, match="outside job"):
        workspace.resolve("jobs/job-2/ingest/source")
    with pytest.raises(ValueError, match="outside job"):
        workspace.resolve("jobs/job-1/../../claims/x")


@pytest.mark.parametrize(
    "job", ["rerun.v2", "a+b", "naïve-run", "..", ".", "!", "x" * 80, "é" * 80, "a=b@c(1)"]
)
def test_every_execution_name_is_a_safe_job_directory(tmp_path: Path, job: str) -> None:
    """This test ensures that any name Step Functions accepts works as a job directory."""
    workspace = Workspace(tmp_path, job)
    stage = workspace.reset_stage("ingest")
    (stage / "source").write_bytes(b"x")
    assert workspace.job_dir.parent == tmp_path / "jobs"
    assert workspace.resolve(workspace.relative(stage / "source")) == stage / "source"
    workspace.remove()
    assert list((tmp_path / "jobs").iterdir()) == []


def test_sweep_removes_only_entries_older_than_the_ttl(tmp_path: Path) -> None:
    """This test ensures that orphaned workspaces and claims expire and live ones stay."""
    old, live = Workspace(tmp_path, "old"), Workspace(tmp_path, "live")
    old.reset_stage("ingest")
    live.reset_stage("ingest")
    acquire(tmp_path, "old-claim", "old")
    day_ago = time.time() - 25 * 3600
    os.utime(old.job_dir, (day_ago, day_ago))
    os.utime(tmp_path / "claims" / "old-claim", (day_ago, day_ago))
    removed = sweep(tmp_path, ttl_hours=24)
    assert sorted(removed) == ["claims/old-claim", "jobs/old"]
    assert live.job_dir.exists()
    assert not old.job_dir.exists()
