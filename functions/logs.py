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
