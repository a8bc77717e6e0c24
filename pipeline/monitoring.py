"""What the operator watches: the per-document metrics, the defect alarms, the dashboard.

The functions write one line per document in CloudWatch's embedded metric format
(:func:`functions.logs.metrics_document`, namespace :data:`METRICS_NAMESPACE`):
``Documents`` by ``Outcome`` and by ``ErrorCode``, ``Pages``, ``BytesIn``, ``BytesOut``,
``FailedMembers`` and ``IngestSeconds``/``TransformSeconds``/``CompressSeconds``.
Alarms page for what only an operator can fix (:data:`PAGED_CODES`: a defect, a
timeout, infrastructure that stayed unavailable), never for a user's bad document.
This module only describes them (pure functions); :mod:`pipeline.operations` creates
them. See docs/ARCHITECTURE.md, "Metrics and alarms".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from functions.errors import ErrorCode
from functions.logs import DOCUMENTS_METRIC, METRICS_NAMESPACE, STAGE_METRIC_SUFFIX

# The codes that page: each is a defect or an operator's matter, not a user's mistake.
PAGED_CODES: dict[str, str] = {
    "INTERNAL_ERROR": "A document failed with INTERNAL_ERROR, a defect: the failure report's "
    "correlation id finds the traceback in the functions' logs",
    "PROCESSING_TIMEOUT": "A stage ran out of time on a document: raise the function timeout "
    "or look for a document that is too complex",
    "INFRASTRUCTURE_UNAVAILABLE": "S3 or EFS stayed unavailable after the retries: re-run the "
    "failed documents (python -m pipeline retry --failed --code INFRASTRUCTURE_UNAVAILABLE)",
}
STAGES = ("ingest", "transform", "compress")
WIDTH = 12  # half of the dashboard's 24 columns
HEIGHT = 6


def dashboard_url(region: str, dashboard_name: str) -> str:
    """Returns the CloudWatch console URL of a dashboard."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards:name={dashboard_name}"
    )


def _widget(title: str, metrics: list[list[Any]], region: Any, **properties: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "period": 300,
            "stat": "Sum",
            "view": "timeSeries",
            **properties,
        },
    }


def _by_outcome(region: Any) -> dict[str, Any]:
    metrics = [
        [METRICS_NAMESPACE, DOCUMENTS_METRIC, "Outcome", outcome]
        for outcome in ("succeeded", "failed")
    ]
    return _widget("Documents by outcome", metrics, region, stacked=True)


def _by_code(region: Any) -> dict[str, Any]:
    codes = [code.value for code in ErrorCode]
    codes += [code for code in PAGED_CODES if code not in codes]
    metrics = [[METRICS_NAMESPACE, DOCUMENTS_METRIC, "ErrorCode", code] for code in codes]
    return _widget("Failed documents by error code", metrics, region, stacked=True)


def _volume(region: Any) -> dict[str, Any]:
    metrics: list[list[Any]] = [
        [METRICS_NAMESPACE, "Pages"],
        [METRICS_NAMESPACE, "BytesIn", {"yAxis": "right"}],
        [METRICS_NAMESPACE, "BytesOut", {"yAxis": "right"}],
    ]
    return _widget("Pages, bytes in and out", metrics, region)


def _durations(region: Any) -> dict[str, Any]:
    metrics: list[list[Any]] = []
    for stage in STAGES:
        name = f"{stage.capitalize()}{STAGE_METRIC_SUFFIX}"
        metrics.append([METRICS_NAMESPACE, name, {"stat": "p50", "label": f"{stage} p50"}])
        metrics.append([METRICS_NAMESPACE, name, {"stat": "p90", "label": f"{stage} p90"}])
    return _widget("Stage durations (seconds)", metrics, region, stat="p50")


def _throttles(
    region: Any, function_names: Mapping[str, Any], state_machine_arn: Any
) -> dict[str, Any]:
    metrics: list[list[Any]] = [
        ["AWS/Lambda", "Throttles", "FunctionName", name] for name in function_names.values()
    ]
    metrics.append(["AWS/States", "ExecutionThrottled", "StateMachineArn", state_machine_arn])
    return _widget("Throttles", metrics, region)


def _dead_letters(region: Any, queue_name: Any) -> dict[str, Any]:
    metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name]]
    return _widget("Trigger dead-letter queue", metrics, region, stat="Maximum")


def _uploads_waiting(region: Any, queue_name: Any) -> dict[str, Any]:
    metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue_name, {"yAxis": "right"}],
    ]
    return _widget(
        "Queued uploads waiting (count; oldest, seconds)", metrics, region, stat="Maximum"
    )


def _alarms(alarm_arns: Sequence[Any]) -> dict[str, Any]:
    return {
        "type": "alarm",
        "width": 2 * WIDTH,
        "height": HEIGHT,
        "properties": {"title": "Alarms", "alarms": list(alarm_arns)},
    }


def dashboard_body(
    region: Any,
    function_names: Mapping[str, Any],
    state_machine_arn: Any,
    queue_name: Any,
    alarm_arns: Sequence[Any],
    uploads_queue_name: Any = None,
) -> dict[str, Any]:
    """Returns the dashboard's body (values may be pulumi Outputs: serialise it with
    ``pulumi.Output.json_dumps``); with queued uploads, how many wait and for how long."""
    widgets = [
        _alarms(alarm_arns),
        _by_outcome(region),
        _by_code(region),
        _volume(region),
        _durations(region),
        _throttles(region, function_names, state_machine_arn),
        _dead_letters(region, queue_name),
    ]
    if uploads_queue_name is not None:
        widgets.append(_uploads_waiting(region, uploads_queue_name))
    return {"widgets": widgets}
