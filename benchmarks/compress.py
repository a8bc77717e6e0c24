"""Compression side by side: our profiles against qpdf, pikepdf, ghostscript and pypdf.

Usage (from the repository root)::

    python benchmarks/compress.py [--corpus DIR] [--csv PATH] [--tools NAME ...]

Every tool compresses every PDF of the corpus (default ``../shared/corpus``, searched
recursively) in one run, each document in its own child process, so that wall time and
peak memory (``ru_maxrss`` of that child, from ``os.wait4``) are per document. Then
each output is opened and its structure compared with the input's: pages, form fields,
annotations, outline entries, and whether text is still extractable where it was.

One table is printed, a row per tool; per-file rows go to a CSV (default
``benchmarks/results/compress-<time>.csv``). See ``benchmarks/README.md`` for what each
column means.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / ".." / "shared" / "corpus"
RESULTS = ROOT / "benchmarks" / "results"
# Pages whose text is compared; enough to tell "text kept" from "text lost".
TEXT_PAGES = 5
# A child that takes longer than this is a failure (ghostscript can loop on some files).
TIMEOUT_SECONDS = 600


# --- the tools -----------------------------------------------------------------------------


def _python_worker(tool: str) -> Callable[[Path, Path], list[str]]:
    def command(src: Path, dest: Path) -> list[str]:
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            tool,
            str(src),
            str(dest),
        ]

    return command


def _qpdf(src: Path, dest: Path) -> list[str]:
    return [
        "qpdf",
        "--object-streams=generate",
        "--recompress-flate",
        "--compression-level=9",
        str(src),
        str(dest),
    ]


def _ghostscript(setting: str) -> Callable[[Path, Path], list[str]]:
    def command(src: Path, dest: Path) -> list[str]:
        return [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=pdfwrite",
            f"-dPDFSETTINGS=/{setting}",
            f"-sOutputFile={dest}",
            str(src),
        ]

    return command


@dataclass(frozen=True)
class Tool:
    name: str
    command: Callable[[Path, Path], list[str]]
    needs: str | None = None  # executable that must be installed
    # qpdf exits 3 when it succeeded with warnings (it repaired something).
    ok_codes: tuple[int, ...] = (0,)
    # Python tools time their own call (see run_worker); CLIs are timed from outside.
    times_itself: bool = False
    # A message with which the tool says, while exiting 0, that it drew no page of the
    # input: its output is then a blank stand-in, a failure, not a smaller document.
    no_pages_message: bytes | None = None


# ghostscript 10 cannot read some valid PDFs (sf_cmyk-image: "circular reference to
# indirect object", which qpdf, pikepdf and pypdf read); it then prints this, writes a
# blank one-page PDF of 2 KB and exits 0.
_GS_NO_PAGES = b"No pages will be processed"

TOOLS = [
    Tool("ours-lossless", _python_worker("ours-lossless"), times_itself=True),
    Tool("ours-ebook", _python_worker("ours-ebook"), times_itself=True),
    Tool("ours-screen", _python_worker("ours-screen"), times_itself=True),
    Tool("qpdf", _qpdf, needs="qpdf", ok_codes=(0, 3)),
    Tool("pikepdf", _python_worker("pikepdf"), times_itself=True),
    Tool("gs-ebook", _ghostscript("ebook"), needs="gs", no_pages_message=_GS_NO_PAGES),
    Tool("gs-screen", _ghostscript("screen"), needs="gs", no_pages_message=_GS_NO_PAGES),
    Tool("pypdf", _python_worker("pypdf"), times_itself=True),
    Tool("pypdf-dedupe", _python_worker("pypdf-dedupe"), times_itself=True),
]


# What a warm compress function has imported after its first document.
_WARM_MODULES = (
    "pikepdf",
    "PIL.Image",
    "PIL.ImageCms",
    "fontTools.subset",
    "fontTools.agl",
    "fontTools.encodings.StandardEncoding",
    "zlib_ng.zlib_ng",
    "functions.documents.compress",
    "fontTools.t1Lib",
    "fontTools.cffLib",
)


def run_worker(tool: str, src: Path, dest: Path) -> None:
    """Runs one Python tool on one document (in the child) and prints its seconds as JSON.

    The time covers the compression call only, not interpreter start-up or imports: in
    Lambda those are paid once per execution environment, not per document.
    """
    sys.path.insert(0, str(ROOT))
    if tool.startswith("ours-") or tool == "pikepdf":
        # pikepdf's save imports lxml on first use (to update XMP metadata): a one-off
        # import, not per-document work, for both pikepdf-based tools alike.
        importlib.import_module("lxml.etree")
    if tool.startswith("ours-"):
        # compress_pdf imports pikepdf, Pillow, fontTools, zlib-ng and its passes lazily
        # (cold start); a warm Lambda has them already, and the pikepdf anchor imports
        # before its timer too, so they are imported here, outside the timed call.
        for module in _WARM_MODULES:
            importlib.import_module(module)
        from functions.documents.compress import compress_pdf

        start = time.perf_counter()
        result = compress_pdf(src, dest, tool.removeprefix("ours-"))
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "kept_input": result.kept_input}))
        return
    if tool == "pikepdf":
        import pikepdf

        start = time.perf_counter()
        pikepdf.settings.set_flate_compression_level(9)
        with pikepdf.open(src) as pdf:
            pdf.save(
                dest,
                object_stream_mode=pikepdf.ObjectStreamMode.generate,
                recompress_flate=True,
            )
        print(json.dumps({"seconds": time.perf_counter() - start}))
        return
    if tool in ("pypdf", "pypdf-dedupe"):
        from pypdf import PdfWriter

        start = time.perf_counter()
        writer = PdfWriter(clone_from=src)
        if tool == "pypdf-dedupe":
            for page in writer.pages:
                page.compress_content_streams(level=9)
            writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
        with open(dest, "wb") as handle:
            writer.write(handle)
        print(json.dumps({"seconds": time.perf_counter() - start}))
        return
    raise SystemExit(f"unknown worker tool {tool!r}")


# --- structure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Structure:
    pages: int
    fields: int
    annotations: int
    outlines: int
    image_pages: int  # pages that draw an image (XObject or inline): images not dropped
    text_chars: int  # characters extracted from the first TEXT_PAGES pages


def _count_fields(fields: object, depth: int = 0) -> int:
    import pikepdf

    if not isinstance(fields, pikepdf.Array) or depth > 32:
        return 0
    total = 0
    for item in fields:
        if not isinstance(item, pikepdf.Dictionary):
            continue
        kids = item.get("/Kids")
        # A field whose kids have no /T of their own is one field with several widgets.
        named_kids = [k for k in kids if "/T" in k] if isinstance(kids, pikepdf.Array) else []
        total += _count_fields(kids, depth + 1) if named_kids else 1
    return total


def _count_outlines(root: object) -> int:
    import pikepdf

    count, seen = 0, set()
    stack = [root.get("/First")] if isinstance(root, pikepdf.Dictionary) else []
    while stack:
        item = stack.pop()
        if not isinstance(item, pikepdf.Dictionary) or not item.is_indirect:
            continue
        if item.objgen in seen:
            continue
        seen.add(item.objgen)
        count += 1
        stack.extend([item.get("/First"), item.get("/Next")])
    return count


def _draws_image(content: Any, resources: object, depth: int = 0) -> bool:
    import pikepdf

    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    for instruction in pikepdf.parse_content_stream(content, "Do EI"):
        if str(instruction.operator) == "EI":
            return True
        if not isinstance(xobjects, pikepdf.Dictionary) or not instruction.operands:
            continue
        xobject = xobjects.get(str(instruction.operands[0]))
        if not isinstance(xobject, pikepdf.Stream):
            continue
        if xobject.get("/Subtype") == "/Image":
            return True
        if xobject.get("/Subtype") == "/Form" and depth < 8:
            inner = xobject.get("/Resources", resources)
            if _draws_image(xobject, inner, depth + 1):
                return True
    return False


def structure(path: Path) -> Structure | None:
    """Returns what a reader sees of a PDF, or None if it does not open."""
    import logging

    import pikepdf
    from pypdf import PdfReader

    try:
        with pikepdf.open(path) as pdf:
            root = pdf.Root
            acroform = root.get("/AcroForm")
            fields = _count_fields(acroform.get("/Fields")) if acroform is not None else 0
            annotations = sum(len(page.obj.get("/Annots", [])) for page in pdf.pages)
            outlines = _count_outlines(root.get("/Outlines"))
            pages = len(pdf.pages)
            image_pages = sum(_draws_image(page, page.obj.get("/Resources")) for page in pdf.pages)
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError, TypeError, AttributeError):
        return None
    text = 0
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(path)
        for page in reader.pages[:TEXT_PAGES]:
            text += len("".join(page.extract_text().split()))
    except Exception:  # noqa: BLE001 - text counting must not stop the benchmark
        text = -1
    return Structure(pages, fields, annotations, outlines, image_pages, text)


# --- running -------------------------------------------------------------------------------


@dataclass
class Row:
    tool: str
    file: str
    bytes_in: int
    bytes_out: int | None = None
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    status: str = "ok"  # ok, failed, unreadable-input
    structure_kept: bool | None = None
    lost: str = ""
    detail: str = ""


def run_one(tool: Tool, src: Path, dest: Path) -> Row:
    row = Row(tool.name, "", src.stat().st_size)
    start = time.perf_counter()
    process = subprocess.Popen(
        tool.command(src, dest), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        row.status, row.detail = "failed", "timeout"
    # communicate() has reaped the child; its rusage is the newest RUSAGE_CHILDREN delta.
    row.seconds = time.perf_counter() - start
    if process.returncode not in tool.ok_codes and row.status == "ok":
        row.status = "failed"
        row.detail = (stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1][:200]
    elif row.status == "ok" and tool.times_itself:
        row.seconds = json.loads(stdout.splitlines()[-1])["seconds"]
    elif row.status == "ok" and tool.no_pages_message and tool.no_pages_message in stdout + stderr:
        row.status = "failed"
        row.detail = f"processed no page: {tool.no_pages_message.decode()} (exit 0)"
    if row.status == "ok":
        if not dest.is_file():
            row.status, row.detail = "failed", "no output"
        else:
            row.bytes_out = dest.stat().st_size
    return row


def peak_rss_of_children() -> int:
    import resource

    # ru_maxrss of RUSAGE_CHILDREN is the largest of any reaped child; each document is
    # run in a fresh child after a reset (see measure()), so this is that document's.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def measure(tool: Tool, src: Path, dest: Path) -> Row:
    """Runs one tool on one file in a child of a fresh helper process (per-file peak RSS)."""
    # RUSAGE_CHILDREN only ever grows, so the document runs under a short-lived helper
    # whose own children are just this one run.
    helper = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--measure",
            tool.name,
            str(src),
            str(dest),
        ],
        capture_output=True,
        check=False,
    )
    if helper.returncode != 0:
        row = Row(tool.name, "", src.stat().st_size, status="failed")
        row.detail = (helper.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        return row
    return Row(**json.loads(helper.stdout))


def measure_in_helper(tool_name: str, src: Path, dest: Path) -> None:
    tool = next(t for t in TOOLS if t.name == tool_name)
    row = run_one(tool, src, dest)
    row.peak_rss_bytes = peak_rss_of_children()
    print(json.dumps(asdict(row)))


def compare(row: Row, before: Structure | None, dest: Path) -> None:
    if row.status != "ok":
        return
    after = structure(dest)
    if after is None:
        row.status, row.detail = "failed", "output does not open"
        return
    if before is None:
        # Nothing to compare with, and ghostscript exits 0 writing a one-page error PDF
        # for inputs it cannot read: a result that cannot be checked does not count.
        row.status, row.detail = "failed", "input does not open: output cannot be verified"
        return
    lost = [
        f"{name} {getattr(before, name)}->{getattr(after, name)}"
        for name in ("pages", "fields", "annotations", "outlines", "image_pages")
        if getattr(after, name) != getattr(before, name)
    ]
    if before.text_chars > 0 and after.text_chars < before.text_chars * 0.9:
        lost.append(f"text {before.text_chars}->{after.text_chars}")
    if after.pages != before.pages:
        # A different page count is not a smaller document: ghostscript writes a
        # one-page error PDF and exits 0 for inputs it cannot read.
        row.status = "failed"
        row.detail = "page count changed"
    row.structure_kept = not lost
    row.lost = "; ".join(lost)


@dataclass
class Summary:
    tool: str
    files: int = 0
    bytes_in: int = 0
    bytes_out: int = 0  # of files that succeeded (failures count as their input)
    guarded_out: int = 0
    kept_out: int = 0  # guarded, and an output that lost structure counts as the input
    grown: int = 0
    failed: int = 0
    structure_kept: int = 0
    structure_checked: int = 0
    seconds: float = 0.0
    bytes_ok: int = 0
    peak_rss: int = 0
    peak_file: str = ""
    lost: list[str] = field(default_factory=list)


def summarise(rows: list[Row]) -> Summary:
    summary = Summary(rows[0].tool)
    for row in rows:
        summary.files += 1
        summary.bytes_in += row.bytes_in
        if row.status == "ok" and row.bytes_out is not None:
            out = row.bytes_out
            summary.seconds += row.seconds
            summary.bytes_ok += row.bytes_in
        else:
            out = row.bytes_in
            summary.failed += 1
        summary.bytes_out += out
        summary.grown += out > row.bytes_in
        summary.guarded_out += min(out, row.bytes_in)
        kept = row.structure_kept is not False
        summary.kept_out += min(out, row.bytes_in) if kept else row.bytes_in
        if row.structure_kept is not None:
            summary.structure_checked += 1
            summary.structure_kept += row.structure_kept
            if row.lost:
                summary.lost.append(f"{row.file}: {row.lost}")
        if row.peak_rss_bytes > summary.peak_rss:
            summary.peak_rss, summary.peak_file = row.peak_rss_bytes, row.file
    return summary


def print_table(summaries: list[Summary]) -> None:
    header = (
        f"{'tool':14} {'files':>5} {'MB in':>7} {'MB out':>7} {'ratio':>6} {'guarded':>7} "
        f"{'kept-str':>8} {'grown':>5} {'failed':>6} {'structure':>9} {'wall s':>7} "
        f"{'MB/s':>6} {'peak MB':>7}"
    )
    print(header)
    print("-" * len(header))
    for s in summaries:
        mb = 1024 * 1024
        throughput = s.bytes_ok / mb / s.seconds if s.seconds else 0.0
        print(
            f"{s.tool:14} {s.files:>5} {s.bytes_in / mb:>7.2f} {s.bytes_out / mb:>7.2f} "
            f"{s.bytes_out / s.bytes_in:>6.3f} {s.guarded_out / s.bytes_in:>7.3f} "
            f"{s.kept_out / s.bytes_in:>8.3f} {s.grown:>5} {s.failed:>6} "
            f"{s.structure_kept:>4}/{s.structure_checked:<4} {s.seconds:>7.1f} "
            f"{throughput:>6.2f} {s.peak_rss / mb:>7.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument("--tools", nargs="+", choices=[t.name for t in TOOLS], default=None)
    parser.add_argument("--files", nargs="+", default=None, help="only these file names")
    parser.add_argument("--show-lost", action="store_true", help="list structure lost per file")
    parser.add_argument(
        "--worker", nargs=3, metavar=("TOOL", "SRC", "DEST"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--measure", nargs=3, metavar=("TOOL", "SRC", "DEST"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))
        return 0
    if args.measure:
        measure_in_helper(args.measure[0], Path(args.measure[1]), Path(args.measure[2]))
        return 0

    corpus = args.corpus.resolve()
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
    if args.files:
        files = [p for p in files if p.name in set(args.files)]
    if not files:
        print(
            f"no PDFs under {corpus} (python benchmarks/fetch_corpus.py downloads the corpus)",
            file=sys.stderr,
        )
        return 2
    tools = [t for t in TOOLS if args.tools is None or t.name in args.tools]
    missing = [t.name for t in tools if t.needs and shutil.which(t.needs) is None]
    if missing:
        print(f"skipping {', '.join(missing)}: not installed", file=sys.stderr)
    tools = [t for t in tools if t.name not in missing]
    csv_path = args.csv or RESULTS / f"compress-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)

    total_mb = sum(p.stat().st_size for p in files) / 1024 / 1024
    names = ", ".join(t.name for t in tools)
    print(f"{len(files)} PDFs, {total_mb:.1f} MB from {corpus}; tools: {names}")
    rows: dict[str, list[Row]] = {t.name: [] for t in tools}
    with tempfile.TemporaryDirectory(prefix="docpipe-bench-") as scratch:
        for number, src in enumerate(files, start=1):
            name = src.relative_to(corpus).as_posix()
            print(f"[{number}/{len(files)}] {name}", file=sys.stderr)
            before = structure(src)
            for tool in tools:
                dest = Path(scratch) / f"{tool.name}.pdf"
                dest.unlink(missing_ok=True)
                row = measure(tool, src, dest)
                row.file = name
                compare(row, before, dest)
                rows[tool.name].append(row)
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(Row("", "", 0)).keys()))
        writer.writeheader()
        for tool_rows in rows.values():
            writer.writerows(asdict(row) for row in tool_rows)
    summaries = [summarise(tool_rows) for tool_rows in rows.values()]
    print()
    print_table(summaries)
    if args.show_lost:
        for s in summaries:
            for line in s.lost:
                print(f"  {s.tool}: {line}")
    print(f"\nper-file rows: {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
