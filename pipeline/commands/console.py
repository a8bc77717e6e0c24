"""What every command shares: exit codes, one-line errors, progress, JSON output.

Exit status (docs/ARCHITECTURE.md, "Operator commands"): 0 when every document asked
about ended as expected (succeeded, or failed for its input with a report); 1 when one
did not (no report, ``INTERNAL_ERROR``, still running at the deadline, unknown key) or
the tool itself failed; 2 for usage errors (nothing was done).
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from typing import IO, Any

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A command cannot go on; printed as one line, with its exit status.

    Args:
        message: One sentence saying what is wrong and, where possible, what to do.
        exit_code: :data:`EXIT_USAGE` (the default) or :data:`EXIT_INCOMPLETE`.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def error(command: str, message: str) -> None:
    """Prints ``python -m pipeline COMMAND: error: MESSAGE`` to stderr."""
    print(f"python -m pipeline {command}: error: {message}", file=sys.stderr)


def save_traceback() -> str:
    """Writes the current exception's traceback to a file; returns its path."""
    with tempfile.NamedTemporaryFile(
        "w", prefix="docpipe-cli-", suffix=".log", delete=False, encoding="utf-8"
    ) as handle:
        traceback.print_exc(file=handle)
        return handle.name


def print_json(value: Any) -> None:
    """Prints ``value`` as indented JSON on stdout."""
    print(json.dumps(value, indent=2, ensure_ascii=False))


def size(count: int) -> str:
    """Returns a byte count for a person: ``976 B``, ``7.8 KB``, ``1.2 MB``."""
    value = float(count)
    for unit in ("B", "KB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} MB"


class Progress:
    """A progress bar on a terminal, one plain line per finished item otherwise."""

    def __init__(self, stream: IO[str] = sys.stderr, enabled: bool = True) -> None:
        self._stream = stream
        self._enabled = enabled
        self._bar: Any = None
        self._total = 0
        self._done = 0

    def start(self, total: int) -> None:
        """Starts counting ``total`` items."""
        self._total = total
        if self._enabled and self._stream.isatty():
            from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the dev set

            self._bar = tqdm(total=total, unit="doc", file=self._stream, leave=False)

    def item(self, state: str, name: str) -> None:
        """Counts one finished item."""
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._enabled:
            print(f"[{self._done}/{self._total}] {state} {name}", file=self._stream)

    def close(self) -> None:
        """Removes the bar."""
        if self._bar is not None:
            self._bar.close()
