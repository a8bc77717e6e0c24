"""Structured logs: JSON lines with the job id, the stage and the key attached.

In Lambda the function's log format is JSON (set by the Pulumi program), and the runtime
formats every record, including the fields passed as ``extra``. Anywhere else (tests, the
local runner) :func:`configure` installs an equivalent JSON formatter on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

LOGGER_NAME = "docpipe"
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, message and its extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        entry.update(
            (key, value) for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS
        )
        if record.exc_info:
            entry["stackTrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure() -> logging.Logger:
    """Returns the docpipe logger, giving it a JSON handler unless Lambda formats logs."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    lambda_formats_json = os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"
    if not lambda_formats_json and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    return logger


class StageLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that attaches the same fields (job, stage, key) to every record."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra: Mapping[str, Any] = self.extra or {}
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return msg, kwargs

    def bind(self, **fields: Any) -> StageLogger:
        """Returns a logger with ``fields`` added to the ones already attached."""
        return StageLogger(self.logger, {**(self.extra or {}), **fields})


# CloudWatch embedded metric format (EMF): one JSON line per document, which CloudWatch
# Logs turns into metrics in this namespace with no API call (docs/ARCHITECTURE.md,
# "Metrics and alarms"). The Pulumi program's alarms and dashboard read these names.
METRICS_NAMESPACE = "docpipe"
DOCUMENTS_METRIC = "Documents"
STAGE_METRIC_SUFFIX = "Seconds"


@dataclass(frozen=True)
class DocumentMetrics:
    """What one document's end is counted as.

    Attributes:
        outcome: ``succeeded`` or ``failed``.
        error_code: The failure's code (``failed`` only).
        pages: Pages published.
        bytes_in: Source bytes.
        bytes_out: Published PDF bytes.
        stage_seconds: Stage name (``ingest``, ``transform``, ``compress``) -> seconds.
        failed_members: Bundle members that failed (the bundle succeeds).
    """

    outcome: str
    error_code: str | None = None
    pages: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    stage_seconds: Mapping[str, float] = field(default_factory=dict)
    failed_members: int = 0


def _directive(dimensions: list[list[str]], metrics: Mapping[str, str]) -> dict[str, Any]:
    return {
        "Namespace": METRICS_NAMESPACE,
        "Dimensions": dimensions,
        "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics.items()],
    }


def metrics_document(
    metrics: DocumentMetrics, timestamp_ms: int, **properties: Any
) -> dict[str, Any]:
    """Returns the EMF document of one document's end (a JSON object for one log line).

    ``Documents`` is counted by ``Outcome`` and, for a failure, by ``ErrorCode``; pages,
    bytes and stage durations (``IngestSeconds``...) have no dimension. ``properties``
    (job, key) ride along as plain fields, searchable in Logs Insights.
    """
    counted = [["Outcome"], ["ErrorCode"]] if metrics.error_code else [["Outcome"]]
    values: dict[str, Any] = {"Outcome": metrics.outcome, DOCUMENTS_METRIC: 1}
    directives = [_directive(counted, {DOCUMENTS_METRIC: "Count"})]
    if metrics.error_code:
        values["ErrorCode"] = metrics.error_code
    if metrics.outcome == "succeeded":
        sizes = {"Pages": "Count", "BytesIn": "Bytes", "BytesOut": "Bytes"}
        sizes["FailedMembers"] = "Count"
        values.update(
            Pages=metrics.pages,
            BytesIn=metrics.bytes_in,
            BytesOut=metrics.bytes_out,
            FailedMembers=metrics.failed_members,
        )
        for stage, seconds in metrics.stage_seconds.items():
            name = f"{stage.capitalize()}{STAGE_METRIC_SUFFIX}"
            sizes[name] = "Seconds"
            values[name] = round(seconds, 3)
        directives.append(_directive([[]], sizes))
    return {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives},
        "message": "document metrics",
        **properties,
        **values,
    }


def emit_document_metrics(metrics: DocumentMetrics, **properties: Any) -> None:
    """Writes one document's EMF line to stdout (its own line, as Powertools does, so
    that CloudWatch reads ``_aws`` at the top level whatever the log format)."""
    line = json.dumps(metrics_document(metrics, int(time.time() * 1000), **properties))
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
