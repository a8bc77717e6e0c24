"""``python -m pipeline serve`` in a thread, for tests of the operator commands."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import EXIT_OK, build_parser, main
from pipeline.commands.serve import serve_command
from pipeline.config import Settings
from pipeline.local.stack import LocalStack


@dataclass(frozen=True)
class Served:
    """A running serve: its stack (for fault injection) and its outputs file."""

    stack: LocalStack
    outputs: Path


@contextlib.contextmanager
def serving(root: Path, *, drain: int, settings: Settings | None = None) -> Iterator[Served]:
    """Runs serve with its mount and outputs file under ``root`` (and ``settings`` instead
    of the dev stack's); stops it, checks it exited 0 and removed its outputs file."""
    outputs = root / "outputs.json"
    mount = str(root / "efs")
    args = build_parser().parse_args(
        ["serve", "--outputs-file", str(outputs), "--mount", mount, "--drain", str(drain)]
    )
    stop = threading.Event()
    ready: queue.Queue[LocalStack] = queue.Queue()
    exits: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        if settings is not None:
            patch.setattr("pipeline.local.stack.load_stack_settings", lambda _stack: settings)
        thread = threading.Thread(target=lambda: exits.append(serve_command(args, stop, ready.put)))
        thread.start()
        try:
            yield Served(ready.get(timeout=120), outputs)
        finally:
            stop.set()
            thread.join(timeout=drain + 60)
    assert exits == [EXIT_OK]
    assert not outputs.exists()


def command(capsys: pytest.CaptureFixture[str], served: Served, *argv: str) -> tuple[int, str]:
    """Runs one command against serve; returns its exit status and stdout."""
    capsys.readouterr()
    code = main([*argv, "--outputs", str(served.outputs)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out


def json_command(capsys: pytest.CaptureFixture[str], served: Served, *argv: str) -> tuple[int, Any]:
    """Runs one command with ``--json``; returns its exit status and what it printed."""
    code, out = command(capsys, served, *argv, "--json")
    return code, json.loads(out)
