"""The state machine's retries of transient errors and of the failure step."""

from __future__ import annotations

from pipeline.definition import state_machine_definition


def test_every_task_retries_infrastructure_errors_with_jittered_backoff() -> None:
    """S3 or EFS failing beyond the functions' own retries is
    retried by the state machine for every stage and for the failure step."""
    states = state_machine_definition("i", "t", "c")["States"]
    for name in ("Ingest", "Transform", "Compress", "ReportFailure"):
        retriers = {tuple(r["ErrorEquals"]): r for r in states[name]["Retry"]}
        retry = retriers[("INFRASTRUCTURE_UNAVAILABLE",)]
        assert retry["MaxAttempts"] >= 3
        assert retry["BackoffRate"] > 1
        assert retry["JitterStrategy"] == "FULL"


def test_the_failure_step_retries_any_error_of_its_own_last() -> None:
    """ReportFailure retries every error (States.ALL, which ASL
    requires to be the last retrier) before falling back to ReportFailed."""
    report = state_machine_definition("i", "t", "c")["States"]["ReportFailure"]
    assert report["Retry"][-1]["ErrorEquals"] == ["States.ALL"]
    assert all("States.ALL" not in r["ErrorEquals"] for r in report["Retry"][:-1])
    assert report["Catch"][0]["Next"] == "ReportFailed"


def test_skipped_and_duplicate_jobs_end_successfully() -> None:
    """Folder markers and superseded versions (skipped) and
    duplicates end in Succeed states without running transform."""
    states = state_machine_definition("i", "t", "c")["States"]
    choices = {c["Variable"]: c["Next"] for c in states["CheckDuplicate"]["Choices"]}
    assert choices == {"$.duplicate": "AlreadyProcessed", "$.skipped": "NothingToProcess"}
    assert states["AlreadyProcessed"]["Type"] == states["NothingToProcess"]["Type"] == "Succeed"
