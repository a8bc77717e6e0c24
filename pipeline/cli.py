"""``python -m pipeline``: the operator's command line.

``python -m pipeline run PATH... --out DIR [--profile P] [--json] [--concurrency N]``
runs the deployed pipeline locally (see :mod:`pipeline.local.runner`).
``python -m pipeline backfill --stack S [--prefix P] [--profile P]`` starts a deployed
stack's backfill (see :mod:`pipeline.backfill`).

Exit status: 0 when every document ended succeeded, or failed with a failure report;
1 when any ended without one, or the pipeline itself misbehaved (e.g. a job left its
workspace behind); 2 for usage errors. Never a traceback for any of these.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from functions.settings import PROFILES
from pipeline.backfill import add_backfill_parser, backfill_command

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of ``python -m pipeline``."""
    parser = _Parser(prog="python -m pipeline", description="docpipe operator tools")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser(
        "run",
        help="run the pipeline locally on files and directories (no AWS, no Docker)",
        description=(
            "Run the deployed pipeline on this machine: moto stands in for S3 and Step "
            "Functions, the functions run from the deployed code archive in local "
            "processes, and a temporary directory stands in for EFS. The output "
            "bucket (processed/, failed/) is written to --out."
        ),
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
        "--logs",
        type=Path,
        metavar="DIR",
        help="keep each function's log output in DIR/<function>.log",
    )
    add_backfill_parser(commands)
    return parser


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} MB"


def _document_line(doc: Any) -> str:
    if doc.status == "succeeded":
        pages = "1 page" if doc.pages == 1 else f"{doc.pages} pages"
        detail = f"{pages}, {_size(doc.bytes_in)} -> {_size(doc.bytes_out)}"
        if doc.failed_members:
            detail += f", {len(doc.failed_members)} bundle members failed"
        retried = sorted({f"{state} after {error}" for state, error in doc.failed_attempts})
        if retried:
            detail += ", retried " + "; ".join(retried)
        return f"  ok      {doc.source}  ({detail}, {doc.seconds:.1f} s)"
    error = doc.error or {"code": "INTERNAL_ERROR", "message": ""}
    line = f"  FAILED  {doc.source}  {error['code']}: {error['message']}"
    if not doc.reported:
        line += "  [no failure report was written]"
    return line


class _Progress:
    """A progress bar on a terminal, one plain line per finished document otherwise."""

    def __init__(self, stream: IO[str], enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._bar: Any = None
        self._total = 0
        self._done = 0

    def start(self, total: int) -> None:
        self._total = total
        if self._enabled and self._stream.isatty():
            from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the dev set

            self._bar = tqdm(total=total, unit="doc", file=self._stream, leave=False)

    def document(self, doc: Any) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._enabled:
            print(f"[{self._done}/{self._total}] {doc.status} {doc.source}", file=self._stream)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _save_traceback() -> str:
    with tempfile.NamedTemporaryFile(
        "w", prefix="docpipe-runner-", suffix=".log", delete=False, encoding="utf-8"
    ) as handle:
        traceback.print_exc(file=handle)
        return handle.name


def _print_summary(result: Any, out: IO[str]) -> None:
    for doc in result.documents:
        print(_document_line(doc), file=out)
    print(
        f"{len(result.documents)} documents: {result.succeeded} succeeded, "
        f"{result.failed} failed, in {result.seconds:.1f} s; output in {result.out_dir}",
        file=out,
    )


def run_command(args: argparse.Namespace) -> int:
    """Runs ``python -m pipeline run`` with parsed arguments; returns the exit status."""
    from pipeline.local.runner import UsageError, run

    progress = _Progress(sys.stderr, enabled=True)
    try:
        result = run(
            args.paths,
            args.out,
            profile=args.profile,
            concurrency=args.concurrency,
            stack=args.stack,
            log_dir=args.logs,
            on_start=progress.start,
            on_document=progress.document,
        )
    except UsageError as exc:
        print(f"python -m pipeline run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; the run was stopped and its workspace removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a defect of the runner: say so, keep the trace
        trace = _save_traceback()
        print(
            f"python -m pipeline run: internal error in the local runner: "
            f"{type(exc).__name__}: {exc} (traceback in {trace})",
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result.summary(), indent=2))
    else:
        _print_summary(result, sys.stdout)
    for leftover in result.leftovers:
        print(f"error: a job left {leftover} in the workspace", file=sys.stderr)
    for problem in result.problems:
        print(f"error: {problem}", file=sys.stderr)
    unreported = [doc.source for doc in result.documents if not doc.accounted_for]
    if unreported:
        print(
            f"error: {len(unreported)} documents failed without a failure report: "
            + ", ".join(unreported),
            file=sys.stderr,
        )
        if args.logs is None:
            print("  rerun with --logs DIR to keep the functions' logs", file=sys.stderr)
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m pipeline``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return run_command(args)
    if args.command == "backfill":
        return backfill_command(args)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse enforces choices


if __name__ == "__main__":
    sys.exit(main())
