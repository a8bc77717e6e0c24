"""The fan-out of a long scan for ``benchmarks/ocr.py``: measured through the local runner,
and modelled for the deployed definition.

**Measured** (:func:`local_fan_out`): one scan of the benchmark's pages runs through the
local runner twice, every page in one transform invocation, then one page per
invocation through the Map state; the speed-up is bounded by this machine's CPUs.

**Modelled** (:func:`paper_model`): the wall time of a :data:`SCAN_PAGES`-page scan on
Lambda, sequential (every page in one invocation) against fanned out (the Map state of
the real definition). What it reads and assumes:

- ``MaxConcurrency`` from :func:`pipeline.definition.state_machine_definition` built with
  the dev stack's settings, and pages per invocation (``ocrPagesPerInvocation``) from the
  same settings (:func:`pipeline.config.load_stack_settings`);
- seconds per page: docpipe's CPU seconds per page measured in the same run (one thread,
  so an idle CPU's wall time), times :data:`GRAVITON_FACTOR` (the issue allows a page up
  to 2x slower on Graviton; a transform at 2,048 MB has more than one vCPU, and each
  invocation reads its pages one after another on one thread);
- the steps both ways share, measured here on a :data:`SCAN_PAGES`-page image-only scan
  built from the measured pages: transform's ``normalise`` before OCR, and the merge
  (:func:`functions.documents.ocr.stage.finish`: the parts grafted onto the document,
  text and facts rewritten), both times :data:`GRAVITON_FACTOR`;
- :data:`COLD_START_SECONDS` for an execution environment's first invocation (runtime
  start, importing Pillow, pikepdf and tesserocr from the layer, loading the models from
  EFS), paid once sequentially and once per concurrent environment (in parallel) fanned
  out; :data:`INVOKE_SECONDS` for each task's Step Functions transition and Lambda
  invoke;
- ranges run in waves of ``MaxConcurrency`` (they take the same time), each wave as long
  as its longest range; EFS serves every range at once (bursting throughput far above
  what OCR reads).

Sequential here means one invocation with no timeout: at these speeds a 200-page scan
takes longer than the function's timeout (``functionTimeoutSeconds``), which is why
the Map exists.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from functions.documents.ocr.document import PageOCR

#: How much slower a page may be on Graviton (arm64) than here: the issue's budget.
GRAVITON_FACTOR = 2.0
#: A new execution environment's first invocation: runtime, layer imports, models.
COLD_START_SECONDS = 2.0
#: One task's Step Functions transition and Lambda invoke, warm.
INVOKE_SECONDS = 0.2
#: The scan the target is stated for.
SCAN_PAGES = 200


@dataclass(frozen=True)
class Deployed:
    """What the deployed definition does with a long scan."""

    max_concurrency: int
    pages_per_invocation: int
    function_timeout_seconds: int


def deployed(stack: str = "dev") -> Deployed:
    """Reads the OCR Map's MaxConcurrency and the pages per invocation of a stack."""
    from pipeline.config import load_stack_settings
    from pipeline.definition import state_machine_definition

    settings = load_stack_settings(stack)
    definition = state_machine_definition(
        "ingest",
        "transform",
        "compress",
        task_timeout_seconds=settings.task_timeout_seconds,
        ocr_max_concurrency=settings.ocr_max_concurrency,
        execution_timeout_seconds=settings.execution_timeout_seconds,
    )
    return Deployed(
        max_concurrency=int(definition["States"]["Ocr"]["MaxConcurrency"]),
        pages_per_invocation=settings.ocr_pages_per_invocation,
        function_timeout_seconds=settings.function_timeout_seconds,
    )


def shared_steps(
    pages: Sequence[Path], work: Path, page_result: Sequence[PageOCR]
) -> dict[str, float]:
    """Times transform's normalise and the OCR merge on a SCAN_PAGES-page scan.

    Args:
        pages: Page images (PNG, 300 dpi), cycled to make the scan.
        work: A scratch directory.
        page_result: One :class:`~functions.documents.ocr.document.PageOCR` per image,
            from the measured run; the merge grafts them as if every page was read.
    """
    from functions.documents.normalise.stage import normalise
    from functions.documents.ocr import stage
    from functions.documents.ocr.document import write_part
    from functions.settings import Limits

    work.mkdir(parents=True, exist_ok=True)
    scan = work / "long-scan.pdf"
    _long_scan(pages, scan)
    doc_dir = work / "long-scan"
    doc_dir.mkdir()
    started = time.perf_counter()
    normalise(scan, "pdf", doc_dir, Limits())
    normalise_seconds = time.perf_counter() - started
    [wanted] = stage.plan(list(range(1, SCAN_PAGES + 1)), doc_dir, SCAN_PAGES)
    parts = work / "long-scan-parts"
    parts.mkdir()
    for first in range(0, SCAN_PAGES, 10):
        results = [
            dataclasses.replace(page_result[(n - 1) % len(page_result)], page=n)
            for n in wanted[first : first + 10]
        ]
        write_part(parts / stage.part_name([result.page for result in results]), results)
    started = time.perf_counter()
    stage.finish(doc_dir, parts, "auto")
    return {"normalise": normalise_seconds, "merge": time.perf_counter() - started}


_IMAGE_KEYS = (
    *("/Type", "/Subtype", "/Width", "/Height"),
    *("/ColorSpace", "/BitsPerComponent", "/Filter", "/DecodeParms"),
)


def _long_scan(pages: Sequence[Path], out: Path) -> None:
    """Writes an image-only PDF of SCAN_PAGES pages, each its own copy of an image."""
    import pikepdf

    from benchmarks.ocr_corpus import image_only_pdf

    first = image_only_pdf(list(pages), out.with_name("pages.pdf"))
    with pikepdf.open(first) as source, pikepdf.new() as pdf:
        for number in range(SCAN_PAGES):
            page = source.pages[number % len(source.pages)]
            [image] = page.images.values()
            copy = pikepdf.Stream(pdf, image.read_raw_bytes())
            for key in _IMAGE_KEYS:
                if key in image:
                    copy[key] = image[key]
            width, height = (float(v) for v in page.mediabox[2:])
            content = f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode()
            new = pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, width, height],
                Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=copy)),
                Contents=pikepdf.Stream(pdf, content),
            )
            pdf.pages.append(pikepdf.Page(new))
        pdf.save(out)


def paper_model(page_seconds: float, shared: dict[str, float], setup: Deployed) -> dict[str, float]:
    """Sequential and fanned-out wall time of a SCAN_PAGES-page scan (see the docstring)."""
    page = page_seconds * GRAVITON_FACTOR
    common = (
        COLD_START_SECONDS
        + INVOKE_SECONDS
        + GRAVITON_FACTOR * (shared["normalise"] + shared["merge"])
    )
    sequential = common + SCAN_PAGES * page
    per_range = setup.pages_per_invocation
    ranges = math.ceil(SCAN_PAGES / per_range)
    waves = math.ceil(ranges / setup.max_concurrency)
    fanned = (
        common
        + INVOKE_SECONDS  # the merge is a task of its own
        + COLD_START_SECONDS  # the Map's environments start together
        + waves * (INVOKE_SECONDS + min(per_range, SCAN_PAGES) * page)
    )
    return {
        "page": page,
        "ranges": ranges,
        "waves": waves,
        "sequential": sequential,
        "fanned": fanned,
        "ratio": fanned / sequential,
        "range_seconds": INVOKE_SECONDS + per_range * page,
    }


def print_model(page_seconds: float, shared: dict[str, float], setup: Deployed) -> None:
    """Prints the model for the deployed settings, then the settings that meet 1/5."""
    result = paper_model(page_seconds, shared, setup)
    print(
        f"\nPaper model, {SCAN_PAGES}-page scan on Lambda: {page_seconds:.2f} CPU s/page here "
        f"x {GRAVITON_FACTOR:g} (Graviton) = {result['page']:.2f} s/page; normalise "
        f"{shared['normalise']:.1f} s and merge {shared['merge']:.1f} s measured here (x "
        f"{GRAVITON_FACTOR:g}); cold start {COLD_START_SECONDS:g} s, invoke {INVOKE_SECONDS:g} s"
    )
    print(
        "\n| MaxConcurrency | pages/invocation | ranges | waves | sequential | fanned out |", end=""
    )
    print(" ratio |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [setup] + [
        dataclasses.replace(setup, max_concurrency=c, pages_per_invocation=k)
        for c, k in ((20, 10), (10, 20), (5, 10))
    ]
    for row in rows:
        got = paper_model(page_seconds, shared, row)
        label = " (deployed)" if row is setup else ""
        print(
            f"| {row.max_concurrency}{label} | {row.pages_per_invocation} | {got['ranges']:.0f} | "
            f"{got['waves']:.0f} | {got['sequential']:.0f} s | {got['fanned']:.0f} s | "
            f"{got['ratio']:.3f} |"
        )
    verdict = "meets" if result["ratio"] <= 0.2 else "misses"
    print(
        f"\nDeployed settings: {result['fanned']:.0f} s vs {result['sequential']:.0f} s "
        f"sequential, ratio {result['ratio']:.3f} ({verdict} <= 1/5); one range takes "
        f"{result['range_seconds']:.0f} s of the {setup.function_timeout_seconds} s timeout; "
        f"sequential would need {result['sequential']:.0f} s in one invocation."
    )


def local_fan_out(pages: list[Path], work: Path) -> dict[str, float]:
    """Runs one scan of ``pages`` through the local runner twice: every page in one
    invocation, then one page per invocation through the Map state; returns the seconds."""
    from benchmarks.ocr_corpus import image_only_pdf
    from pipeline.config import load_stack_settings
    from pipeline.local.runner import run

    inbox = work / "fan-out"
    inbox.mkdir()
    image_only_pdf(pages, inbox / "scan.pdf")
    base = load_stack_settings("dev")
    seconds = {}
    for label, per_invocation in (("one invocation", len(pages)), ("fanned out", 1)):
        settings = dataclasses.replace(
            base, ocr_pages_per_invocation=per_invocation, ocr_max_concurrency=len(pages)
        )
        result = run([inbox], work / f"out-{per_invocation}", settings=settings, concurrency=1)
        if result.documents[0].status != "succeeded":
            sys.exit(f"the scan failed: {result.documents[0].error}")
        seconds[label] = result.seconds
    return seconds
