"""Operations: the per-document EMF metrics, the alarms that page, and the dashboard.

The metrics are written by the functions (``functions.logs``); the alarms and the
dashboard are created by the Pulumi program (``pipeline.operations``) under the same
recording mocks as tests/pipeline/test_infrastructure.py. These tests check that both
sides name the same namespace, metrics and dimensions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from functions.logs import DocumentMetrics, metrics_document
from pipeline.monitoring import PAGED_CODES
from tests.pipeline.test_infrastructure import Program, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _emitted(document: dict[str, Any]) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(namespace, metric, dimensions) of every metric an EMF document yields."""
    found = set()
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dims = tuple((name, document[name]) for name in dimension_set)
            for metric in directive["Metrics"]:
                assert isinstance(document[metric["Name"]], int | float)
                found.add((directive["Namespace"], metric["Name"], dims))
    return found


def test_a_succeeded_document_is_counted_with_its_pages_bytes_and_durations() -> None:
    """This test ensures that a published document's EMF line counts it by outcome and
    carries its pages, bytes and stage durations, with every dimension it names set."""
    metrics = DocumentMetrics(
        "succeeded", None, 3, 1000, 600, {"ingest": 0.1, "transform": 0.5, "compress": 0.2}
    )
    document = metrics_document(metrics, 1_700_000_000_000, job="j1", key="a.pdf")
    assert document["_aws"]["Timestamp"] == 1_700_000_000_000
    assert (document["job"], document["key"]) == ("j1", "a.pdf")
    assert _emitted(document) == {
        ("docpipe", "Documents", (("Outcome", "succeeded"),)),
        ("docpipe", "Pages", ()),
        ("docpipe", "BytesIn", ()),
        ("docpipe", "BytesOut", ()),
        ("docpipe", "FailedMembers", ()),
        ("docpipe", "IngestSeconds", ()),
        ("docpipe", "TransformSeconds", ()),
        ("docpipe", "CompressSeconds", ()),
    }
    assert (document["Pages"], document["BytesOut"]) == (3, 600)
    json.dumps(document)


def test_a_failed_document_is_counted_by_outcome_and_by_code() -> None:
    """This test ensures that a failure is counted once by outcome and once by its code,
    the dimension the alarms select on, and carries no size metrics."""
    document = metrics_document(DocumentMetrics("failed", "INTERNAL_ERROR"), 1)
    assert _emitted(document) == {
        ("docpipe", "Documents", (("Outcome", "failed"),)),
        ("docpipe", "Documents", (("ErrorCode", "INTERNAL_ERROR"),)),
    }


@pytest.fixture(scope="module")
def program() -> Iterator[Program]:
    yield run_program()
    pulumi.runtime.set_all_config({})


@pulumi.runtime.test
def test_alarms_page_for_defects_not_for_users_mistakes(program: Program) -> pulumi.Output[Any]:
    """This test ensures that documents failed with INTERNAL_ERROR, PROCESSING_TIMEOUT or
    INFRASTRUCTURE_UNAVAILABLE alarm on the metric the functions emit, both queues (trigger
    dead letters, failed sweeps) alarm when they hold a message, and no alarm counts every
    failed execution or every function error (a user's bad document)."""

    def check(_: Any) -> None:
        alarms = program.of_type(ALARM)
        by_code = {
            a.inputs["dimensions"]["ErrorCode"]: a
            for a in alarms
            if a.inputs["namespace"] == "docpipe"
        }
        assert set(by_code) == set(PAGED_CODES)
        for code, alarm in by_code.items():
            assert alarm.inputs["metricName"] == "Documents"
            assert alarm.inputs["threshold"] == 1
            failed = metrics_document(DocumentMetrics("failed", code), 1)
            assert ("docpipe", "Documents", (("ErrorCode", code),)) in _emitted(failed)
        metrics = {(a.inputs["namespace"], a.inputs["metricName"]) for a in alarms}
        assert ("AWS/States", "ExecutionsFailed") not in metrics
        assert ("AWS/Lambda", "Errors") not in metrics
        assert ("AWS/Lambda", "Throttles") in metrics
        queues = sorted(
            a.inputs["dimensions"]["QueueName"].rsplit("-", 1)[0]  # the mocks' random suffix
            for a in alarms
            if a.inputs["metricName"] == "ApproximateNumberOfMessagesVisible"
        )
        assert queues == ["docpipe-dev-sweep-failures", "docpipe-dev-trigger-dlq"]

    return program.done().apply(check)


@pulumi.runtime.test
def test_the_dashboard_shows_the_emitted_metrics_and_every_alarm(
    program: Program,
) -> pulumi.Output[Any]:
    """This test ensures that the dashboard graphs the metrics the functions emit (by
    outcome, by code, pages and bytes, stage durations), throttles and dead letters, lists
    every alarm, and that its console URL and the alarm topic are stack outputs."""

    def check(values: list[Any]) -> None:
        url, topic_arn = values
        dashboard = program.one("aws:cloudwatch/dashboard:Dashboard")
        body = json.loads(dashboard.inputs["dashboardBody"])
        graphed = {
            tuple(m for m in metric if not isinstance(m, dict))[:2]
            for widget in body["widgets"]
            if widget["type"] == "metric"
            for metric in widget["properties"]["metrics"]
        }
        succeeded = metrics_document(DocumentMetrics("succeeded", stage_seconds={"ingest": 1}), 1)
        emitted = {(namespace, name) for namespace, name, _ in _emitted(succeeded)}
        emitted.discard(("docpipe", "FailedMembers"))
        assert emitted <= graphed
        assert {("AWS/Lambda", "Throttles"), ("AWS/States", "ExecutionThrottled")} <= graphed
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in graphed
        (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
        assert len(alarm_widget["properties"]["alarms"]) == len(program.of_type(ALARM))
        assert url == (
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
            f"#dashboards:name={dashboard.inputs['dashboardName']}"
        )
        assert topic_arn.startswith("arn:aws:sns:")

    exports = program.exports
    return pulumi.Output.all(exports["dashboardUrl"], exports["alarmTopicArn"]).apply(check)
