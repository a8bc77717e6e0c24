"""``python -m pipeline run``: local files through a local stack, outputs copied back.

:func:`run` collects the inputs (:mod:`pipeline.local.inputs`), brings up a
:class:`~pipeline.local.stack.LocalStack` (what ``pulumi up`` creates, in moto), puts
every file into its trigger bucket and follows each execution to its end
(:mod:`pipeline.local.execution`), copies the output bucket's ``processed/`` and
``failed/`` to the output directory, and checks the workspace: every job must have
removed its own.

``run`` always deploys its stack with direct uploads, whatever the stack's ``uploads``
says: each document then has its own execution, whose failed attempts and history the
summary reports. Queued uploads run the same states in batches; ``serve`` deploys them
as the stack's settings say (docs/ARCHITECTURE.md, "Local runner").
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from functions.settings import PROFILES
from pipeline.config import Settings
from pipeline.local.deploy import OUTPUT_BUCKET, TRIGGER_BUCKET
from pipeline.local.execution import Batch, execute
from pipeline.local.inputs import InputDocument, UsageError, collect_inputs
from pipeline.local.results import DocumentResult, RunResult, download_bucket
from pipeline.local.stack import LocalStack, StackOptions, load_settings, workspace_leftovers

__all__ = [
    "OUTPUT_BUCKET",
    "TRIGGER_BUCKET",
    "DocumentResult",
    "InputDocument",
    "RunResult",
    "UsageError",
    "collect_inputs",
    "run",
    "workspace_leftovers",
]
# What --out mirrors of the output bucket (status/ is for the operator commands).
MIRRORED_PREFIXES = ("processed/", "failed/")


@dataclass(frozen=True)
class _Checked:
    documents: list[InputDocument]
    concurrency: int


def _check(
    paths: Sequence[Path],
    out_dir: Path,
    settings: Settings,
    concurrency: int | None,
    profile: str | None,
) -> _Checked:
    """Validates the request before anything runs.

    Raises:
        UsageError: Bad paths, output directory, profile or concurrency.
    """
    if concurrency is None:
        concurrency = os.cpu_count() or 1
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, got {concurrency}")
    if profile is not None and profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a directory")
    documents = collect_inputs([Path(p) for p in paths], settings.trigger_prefix, [out_dir])
    return _Checked(documents, concurrency)


def _missing_outputs(results: Sequence[DocumentResult], present: set[str]) -> list[str]:
    problems = []
    for result in results:
        missing = [key for key in result.outputs if key not in present]
        if missing:
            problems.append(f"{result.source}: outputs missing from the bucket: {missing}")
    return problems


def run(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    profile: str | None = None,
    concurrency: int | None = None,
    settings: Settings | None = None,
    stack: str = "dev",
    code_archive: Path | None = None,
    mount: Path | None = None,
    log_dir: Path | None = None,
    transient_failures: Mapping[str, int] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_document: Callable[[DocumentResult], None] | None = None,
) -> RunResult:
    """Runs the pipeline on ``paths`` locally and copies the output bucket to ``out_dir``.

    Args:
        paths: Files and directories (searched recursively) to process.
        out_dir: Where the output bucket's ``processed/`` and ``failed/`` are written.
        profile: A compress profile for every document (else the stack's default).
        concurrency: How many executions run at once (default: the number of CPUs).
        settings: The stack's settings (default: read from ``Pulumi.<stack>.yaml``);
            uploads are direct whatever their ``uploads`` says (see the module).
        stack: The stack whose settings apply when ``settings`` is not given.
        code_archive: See :class:`StackOptions`.
        mount: See :class:`LocalStack`.
        log_dir: See :class:`StackOptions`.
        transient_failures: See :class:`StackOptions`.
        on_start: Called with the number of documents once they are known.
        on_document: Called with each document's result as soon as it is known.

    Raises:
        UsageError: Bad paths, output directory, profile or concurrency (nothing ran).
    """
    began = time.monotonic()
    # One execution per document, which the summary follows (see the module docstring).
    settings = dataclasses.replace(settings or load_settings(stack), uploads="direct")
    checked = _check(paths, out_dir, settings, concurrency, profile)
    if on_start is not None:
        on_start(len(checked.documents))
    out_dir.mkdir(parents=True, exist_ok=True)
    options = StackOptions(
        stack=stack,
        code_archive=code_archive,
        log_dir=log_dir,
        transient_failures=dict(transient_failures or {}),
    )
    with LocalStack(settings, mount, options=options) as local:
        batch = Batch(checked.documents, profile, checked.concurrency, on_document)
        results, problems = execute(local, batch)
        present = download_bucket(local.s3, local.output_bucket, out_dir, MIRRORED_PREFIXES)
        problems += _missing_outputs(results, present)
        leftovers = local.workspace_leftovers()
    return RunResult(
        documents=tuple(sorted(results, key=lambda doc: doc.source)),
        seconds=time.monotonic() - began,
        out_dir=out_dir,
        leftovers=tuple(leftovers),
        problems=tuple(problems),
        transient_failures_injected=local.lambdas.injected,
    )
