"""Text extractors side by side: pypdf and PDFium (pypdfium2) against ``pdftotext``.

Usage (from the repository root)::

    python benchmarks/text.py [--corpus DIR] [--files F ...] [--manual]

Each PDF of the corpus (and with ``--manual`` the 1,333-page manual) has its text
extracted page by page by each library, in this process, timed around the library's calls
(opening included), and by ``pdftotext`` in its own process. Words are compared with
pdftotext's: recall and precision of the word multiset, and reading order as the share of
pdftotext's consecutive word pairs also found. Characters are non-space characters. The
last lines give each library's installed size (what it adds to the Lambda layer). See
``benchmarks/README.md`` ("text.py").
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.compress import DEFAULT_CORPUS
from benchmarks.manual import CorpusMissingError, manual
from benchmarks.pipeline import Row, compare_text

Extractor = Callable[[Path], list[str]]


def pypdf_text(path: Path) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(path, strict=False)
    texts = []
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except Exception:  # noqa: BLE001 (a benchmark counts a failed page as empty)
            texts.append("")
    return texts


def pdfium_text(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    from functions.documents.normalise.text import extract_text

    with pdfium.PdfDocument(str(path)) as document:
        pages = len(document)
    return extract_text(path, pages)[0]


EXTRACTORS: dict[str, Extractor] = {"pypdf": pypdf_text, "pdfium": pdfium_text}


@dataclass
class Total:
    pages: int = 0
    seconds: float = 0.0
    chars: int = 0
    words: int = 0
    found: float = 0.0  # recall x reference words
    kept: float = 0.0  # precision x own words
    ordered: float = 0.0  # order x reference words
    failed: list[str] = field(default_factory=list)


def measure(path: Path, totals: dict[str, Total]) -> None:
    started = time.perf_counter()
    reference = subprocess.run(
        ["pdftotext", "-q", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=False
    )
    seconds = time.perf_counter() - started
    if reference.returncode != 0:
        return
    text = reference.stdout.decode("utf-8", errors="replace")
    pages = text.count("\f") or 1
    for name, extract in EXTRACTORS.items():
        started = time.perf_counter()
        try:
            texts = extract(path)
        except Exception as error:  # noqa: BLE001 (reported, the others go on)
            totals[name].failed.append(f"{path.name}: {type(error).__name__}")
            continue
        _add(totals[name], text, "\f".join(texts), len(texts), time.perf_counter() - started)
    _add(totals["pdftotext"], text, text, pages, seconds)


def _add(total: Total, reference: str, text: str, pages: int, seconds: float) -> None:
    row = Row("", "")
    compare_text(reference, text, row)
    total.pages += pages
    total.seconds += seconds
    total.chars += len("".join(text.split()))
    total.words += row.words_ours
    total.found += row.recall * row.words_pdftotext
    total.kept += row.precision * row.words_ours
    total.ordered += row.order * row.words_pdftotext


def installed_mib(distribution: str) -> float:
    files = importlib.metadata.files(distribution) or []
    return sum(Path(str(file.locate())).stat().st_size for file in files) / 1024 / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--files", nargs="+")
    parser.add_argument("--manual", action="store_true", help="add the 1,333-page manual")
    args = parser.parse_args(argv)
    corpus = args.corpus.resolve()
    if not corpus.is_dir() or shutil.which("pdftotext") is None:
        print(
            f"text.py: needs the corpus at {corpus} (python benchmarks/fetch_corpus.py) and "
            "pdftotext (apt-get install poppler-utils)",
            file=sys.stderr,
        )
        return 2
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    files = sorted(corpus.rglob("*.pdf"))
    if args.files:
        files = [path for path in files if path.name in args.files]
    if args.manual:
        try:
            files.append(Path(manual(corpus, rebuild=False).path))
        except CorpusMissingError as error:
            print(f"text.py: no manual: {error}", file=sys.stderr)
    totals = {name: Total() for name in (*EXTRACTORS, "pdftotext")}
    for path in files:
        measure(path, totals)
    reference_words = totals["pdftotext"].words or 1
    print(
        f"{'extractor':10} {'pages':>6} {'ms/page':>8} {'chars':>9} {'words':>8} "
        f"{'recall':>7} {'precision':>9} {'order':>6}"
    )
    for name, total in totals.items():
        print(
            f"{name:10} {total.pages:>6} {total.seconds * 1000 / max(1, total.pages):>8.2f} "
            f"{total.chars:>9} {total.words:>8} {total.found / reference_words:>7.3f} "
            f"{total.kept / max(1, total.words):>9.3f} {total.ordered / reference_words:>6.3f}"
        )
        for failure in total.failed:
            print(f"  failed: {failure}")
    print(
        f"\ninstalled size: pypdf {installed_mib('pypdf'):.1f} MiB, "
        f"pypdfium2 {installed_mib('pypdfium2'):.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
