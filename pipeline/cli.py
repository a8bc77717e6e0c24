"""``python -m pipeline``: the operator's command line (parser and dispatch).

Each command lives in :mod:`pipeline.commands`; this module declares the arguments of
each (one ``_add_<command>`` function apiece, registered in :data:`COMMANDS`) and turns
:class:`~pipeline.commands.console.CommandError` and unexpected exceptions into one line
and an exit status. Exit status: 0 every document ended as expected, 1 one did not (or
the tool failed), 2 usage error; see docs/ARCHITECTURE.md, "Operator commands".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.settings import PROFILES
from pipeline import __version__
from pipeline.commands.console import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
    error,
    save_traceback,
)

# Kept for callers of the old module layout.
EXIT_OK = 0
__all__ = ["EXIT_INCOMPLETE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

PROFILE_HELP = {
    "lossless": "no pixel changes: streams recompressed, duplicate objects removed",
    "ebook": "images over 150 DPI downsampled, photos as JPEG about quality 75 (default)",
    "screen": "about 96 DPI and stronger JPEG: smallest files, for reading on screen",
}
EPILOG = f"""\
profiles (--profile, or the object metadata docpipe-profile):
{chr(10).join(f"  {name:<9} {text}" for name, text in PROFILE_HELP.items())}

exit status:
  0  every document ended as expected: succeeded, or failed for its input with a
     failure report (EMPTY_DOCUMENT, UNSUPPORTED_TYPE, ...)
  1  a document failed without a report or with INTERNAL_ERROR (a defect), was still
     running at the deadline, a key is unknown, or the tool itself failed
  2  usage error: nothing was done (bad path, option, stack or outputs file)

examples:
  python -m pipeline run samples/documents --out out
  python -m pipeline serve                     # then, in another shell:
  python -m pipeline submit scans/ --local --prefix inbox/ --wait --out out
  python -m pipeline status inbox/scan.jpg --local
  python -m pipeline failures --since 24h --code CORRUPT_DOCUMENT --stack prod
  python -m pipeline retry --failed --since 1h --stack prod --outputs prod.json
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error leaves with status 2 and one clear line."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _duration(text: str) -> Any:
    from pipeline.commands.inspect import duration

    return duration(text)


def _target_options() -> argparse.ArgumentParser:
    """The options that say which stack a command talks to."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("stack")
    group.add_argument(
        "--stack", default="dev", help="Pulumi stack whose outputs to use (default: dev)"
    )
    group.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help="stack outputs as JSON (pulumi stack output --json), so no Pulumi CLI is needed",
    )
    group.add_argument(
        "--local", action="store_true", help="the local stack `serve` runs for --stack"
    )
    options.add_argument("--json", action="store_true", help="print JSON")
    return options


def _wait_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--wait", action="store_true", help="follow each document to its end")
    options.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="how long --wait waits (default: 900)",
    )
    return options


Commands = Any  # argparse's _SubParsersAction is private


def _add_run(commands: Commands) -> None:
    run = commands.add_parser(
        "run",
        help="run the pipeline locally on files and directories (no AWS, no Docker)",
        description=(
            "Run the deployed pipeline on this machine: moto stands in for S3 and Step "
            "Functions, the functions run from the deployed code archive in local "
            "processes, and a temporary directory stands in for EFS. The output "
            "bucket (processed/, failed/) is written to --out."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    run.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    run.add_argument("--profile", choices=PROFILES, help="compress profile for every document")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument(
        "--concurrency",
        type=_positive,
        default=None,
        metavar="N",
        help="documents processed at once (default: number of CPUs)",
    )
    run.add_argument("--stack", default="dev", help="stack whose settings apply (default: dev)")
    run.add_argument(
        "--logs", type=Path, metavar="DIR", help="keep each function's log in DIR/<function>.log"
    )


def _add_serve(commands: Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="keep a local stack up (127.0.0.1) for the commands and the AWS CLI",
        description=(
            "Start the local stack `run` uses and keep it up until Ctrl-C: an object put "
            "into its trigger bucket starts an execution, as on AWS. Prints the endpoint "
            "and the environment to point the commands and the AWS CLI at it."
        ),
    )
    serve.add_argument("--stack", default="dev", help="stack whose settings apply (default: dev)")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: free)")
    serve.add_argument(
        "--api-port",
        type=int,
        default=0,
        help="port of the HTTP API on 127.0.0.1 (default: free)",
    )
    serve.add_argument(
        "--outputs-file",
        type=Path,
        metavar="FILE",
        help="where to write the outputs (default: the file --local reads)",
    )
    serve.add_argument("--mount", type=Path, metavar="DIR", help="directory standing in for EFS")
    serve.add_argument("--logs", type=Path, metavar="DIR", help="keep the functions' logs here")
    serve.add_argument(
        "--drain",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="on Ctrl-C, how long to wait for running executions (default: 60)",
    )


def _add_submit(commands: Commands) -> None:
    submit = commands.add_parser(
        "submit",
        parents=[_target_options(), _wait_options()],
        help="upload files to a stack's trigger bucket",
        description="Upload documents (keys as `run` makes them); --wait follows them.",
    )
    submit.add_argument("paths", nargs="+", type=Path, metavar="FILE|DIR")
    submit.add_argument("--profile", choices=PROFILES, help="compress profile (object metadata)")
    submit.add_argument("--prefix", default="", help="key prefix after the stack's own")
    submit.add_argument("--out", type=Path, metavar="DIR", help="download outputs (with --wait)")


def _add_status(commands: Commands) -> None:
    status = commands.add_parser(
        "status", parents=[_target_options()], help="the status of source keys"
    )
    status.add_argument("keys", nargs="*", metavar="KEY", help="source keys")
    status.add_argument("--recent", type=_positive, metavar="N", help="the N newest statuses")


def _add_failures(commands: Commands) -> None:
    failures = commands.add_parser(
        "failures", parents=[_target_options()], help="failed documents, with counts by code"
    )
    failures.add_argument("--since", type=_duration, default="24h", help="e.g. 30m, 24h, 7d")
    failures.add_argument("--code", help="only this error code")


def _add_retry(commands: Commands) -> None:
    retry = commands.add_parser(
        "retry",
        parents=[_target_options(), _wait_options()],
        help="re-run documents (their newest version)",
    )
    retry.add_argument("keys", nargs="*", metavar="KEY", help="source keys")
    retry.add_argument("--failed", action="store_true", help="re-run the failed documents")
    retry.add_argument("--since", type=_duration, default="24h", help="with --failed")
    retry.add_argument("--code", help="with --failed: only this error code")


def _add_outputs(commands: Commands) -> None:
    commands.add_parser(
        "outputs", parents=[_target_options()], help="the stack outputs the commands use"
    )


def _add_backfill(commands: Commands) -> None:
    from pipeline.commands.backfill import add_backfill_parser

    add_backfill_parser(commands)


def _handler(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), name)(args))

    return handle


# command -> (adds its parser, runs it). Commands are imported when run, so that
# `--help` and the operator commands never import moto.
COMMANDS: dict[str, tuple[Callable[[Commands], None], Callable[[argparse.Namespace], int]]] = {
    "run": (_add_run, _handler("pipeline.commands.run", "run_command")),
    "serve": (_add_serve, _handler("pipeline.commands.serve", "serve_command")),
    "submit": (_add_submit, _handler("pipeline.commands.submit", "submit_command")),
    "status": (_add_status, _handler("pipeline.commands.inspect", "status_command")),
    "failures": (_add_failures, _handler("pipeline.commands.inspect", "failures_command")),
    "retry": (_add_retry, _handler("pipeline.commands.retry", "retry_command")),
    "outputs": (_add_outputs, _handler("pipeline.commands.inspect", "outputs_command")),
    "backfill": (_add_backfill, _handler("pipeline.commands.backfill", "backfill_command")),
}


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of ``python -m pipeline``."""
    parser = _Parser(
        prog="python -m pipeline",
        description="docpipe operator tools: run locally, serve a local stack, and submit, "
        "inspect and re-run documents on a deployed or local stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"docpipe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add, _ in COMMANDS.values():
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m pipeline``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except CommandError as exc:
        error(args.command, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (BotoCoreError, ClientError) as exc:  # AWS said no, or cannot be reached
        error(args.command, f"{type(exc).__name__}: {exc}")
        return EXIT_INCOMPLETE
    except Exception as exc:  # noqa: BLE001 - a defect of the tool: say so, keep the trace
        trace = save_traceback()
        error(args.command, f"{type(exc).__name__}: {exc} (traceback in {trace})")
        return EXIT_INCOMPLETE
