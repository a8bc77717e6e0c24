"""``serve``: a local stack kept up until Ctrl-C, for the commands and the AWS CLI.

It starts what ``run`` starts (:class:`~pipeline.local.stack.LocalStack`: moto on
127.0.0.1 only, the deployed definition, warm workers, a temporary mount), writes its
outputs to a state file (``--local`` and ``$DOCPIPE_OUTPUTS`` read it), prints the
endpoint and the environment that points boto3 and the AWS CLI at it, and waits. Any
object put into its trigger bucket starts an execution, as on AWS, or with ``uploads:
queued`` in the stack's settings waits in the uploads queue for its batch. On Ctrl-C it
waits for running executions and, queued, for the queue to empty (up to ``--drain``
seconds), stops, checks the workspace and removes the state file.

Other servers that live as long as the stack (the HTTP API) are started from
:data:`EXTRA_SERVERS`: each is a function of the stack that returns a context manager
yielding one line to print (e.g. its URL).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.commands.console import EXIT_INCOMPLETE, EXIT_OK, CommandError
from pipeline.commands.target import OUTPUTS_VARIABLE, state_path
from pipeline.local import preflight
from pipeline.local.api_server import api_beside
from pipeline.local.inputs import UsageError

ServerStarter = Callable[["LocalStack", argparse.Namespace], AbstractContextManager[str]]
# Servers started beside the stack, in order, stopped in reverse.
EXTRA_SERVERS: list[ServerStarter] = [api_beside]

if TYPE_CHECKING:  # importing moto waits until serve runs, after the preflight
    from pipeline.local.stack import LocalStack


def write_state(stack: LocalStack, path: Path) -> None:
    """Writes the stack's outputs to ``path`` (replacing it atomically)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(stack.outputs(), indent=2), encoding="utf-8")
    tmp.replace(path)


def banner(stack: LocalStack, state: Path, extra: list[str]) -> str:
    """Returns what serve prints once the stack is up."""
    environment = {**stack.environment(), OUTPUTS_VARIABLE: str(state)}
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items())
    lines = [
        f"docpipe local stack is up on {stack.endpoint} (Ctrl-C stops it)",
        f"  trigger bucket  {stack.trigger_bucket}",
        f"  output bucket   {stack.output_bucket}",
        f"  state machine   {stack.state_machine_arn}",
        *_queued_lines(stack),
        f"  outputs file    {state}",
        *(f"  {line}" for line in extra),
        "Point the commands and the AWS CLI at it:",
        f"  export {exports}",
        "  python -m pipeline submit samples/documents --wait",
        f"  aws s3 cp letter.pdf s3://{stack.trigger_bucket}/letter.pdf",
    ]
    return "\n".join(lines)


def _queued_lines(stack: LocalStack) -> list[str]:
    if stack.uploads is None:
        return []
    return [
        f"  uploads queue   {stack.uploads.queue_url} (uploads: queued)",
        f"  uploads batches {stack.uploads.state_machine_arn}",
    ]


def _stack(args: argparse.Namespace) -> LocalStack:
    from pipeline.local.stack import LocalStack, StackOptions

    options = StackOptions(stack=args.stack, log_dir=args.logs, port=args.port)
    return LocalStack(mount=args.mount, options=options)


def _drain(stack: LocalStack, seconds: float) -> list[str]:
    """Waits for running executions; returns problems to report."""
    try:
        stack.wait(timeout=seconds)
    except TimeoutError:
        return [f"executions still running after {seconds:.0f} s were stopped"]
    return []


def _wait_for(stop: threading.Event) -> None:
    """Returns when ``stop`` is set; Ctrl-C (and SIGTERM, made one) raise KeyboardInterrupt."""
    if threading.current_thread() is threading.main_thread():
        # Also when started in the background by a shell, which makes it ignore SIGINT.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    while not stop.wait(0.5):
        pass


def serve_command(
    args: argparse.Namespace,
    stop: threading.Event | None = None,
    on_ready: Callable[[LocalStack], None] | None = None,
) -> int:
    """Runs ``serve`` until Ctrl-C (or until ``stop`` is set, for tests).

    Args:
        args: The parsed arguments.
        stop: Set to shut down (a Ctrl-C does the same when it is None).
        on_ready: Called with the stack once it is up (tests inject faults with it).
    """
    try:
        preflight.check()
        stack = _stack(args)
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    state = args.outputs_file or state_path(args.stack)
    problems: list[str] = []
    with stack, contextlib.ExitStack() as servers:
        extra = [servers.enter_context(start(stack, args)) for start in EXTRA_SERVERS]
        write_state(stack, state)
        servers.callback(state.unlink, missing_ok=True)
        print(banner(stack, state, extra), flush=True)
        if on_ready is not None:
            on_ready(stack)
        try:
            _wait_for(stop or threading.Event())
        except KeyboardInterrupt:
            print("\nstopping: waiting for running executions", flush=True)
        problems += _drain(stack, args.drain)
        leftovers = stack.workspace_leftovers()
    problems += [f"a job left {leftover} in the workspace" for leftover in leftovers]
    for problem in problems:
        print(f"error: {problem}", flush=True)
    if not problems:
        print("stopped; the workspace is clean", flush=True)
    return EXIT_INCOMPLETE if problems else EXIT_OK
