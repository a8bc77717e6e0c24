"""OCR as the transform stage does it: plan the pages, read ranges into parts, finish.

For each document transform has normalised (a folder with document.pdf, text.txt,
facts.json), :func:`plan` decides which pages to read and cuts them into ranges of at
most ``pages_per_invocation``. Each range is read by :func:`read_range` (inline, or by one
invocation of the transform function's ``ocr`` action in a Map state) into a part under
``jobs/<job>/ocr/<slot>/``. :func:`finish` then grafts every part onto the document and
rewrites its text and facts; it reads the normalised PDF from ``scanned.pdf``, which
:func:`plan` set aside, so a retried finish gives the same result.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.documents.ocr.document import (
    PageOCR,
    graft_pages,
    merged_text,
    ocr_pages,
    pages_to_ocr,
    read_part,
    write_part,
)
from functions.workspace import atomic_writer, read_json, write_json

DOCUMENT = "document.pdf"
SCANNED = "scanned.pdf"
TEXT = "text.txt"
FACTS = "facts.json"
PAGE_BREAK = "\f"


@dataclass(frozen=True)
class Finished:
    """What OCR did to one document."""

    pages_read: int
    has_text: bool
    warnings: tuple[str, ...]


def page_texts(doc_dir: Path, pages: int) -> list[str]:
    """Returns each page's extracted text (text.txt split at form feeds), '' for none."""
    path = doc_dir / TEXT
    texts = path.read_text(encoding="utf-8").split(PAGE_BREAK) if path.exists() else []
    return (texts + [""] * pages)[:pages]


def wanted_pages(doc_dir: Path, pages: int, mode: str) -> list[int]:
    """Returns the pages of the document in ``doc_dir`` that ``mode`` says to read."""
    return pages_to_ocr(page_texts(doc_dir, pages), mode)


def keeps_signature(doc_dir: Path) -> bool:
    """Whether the document carries an intact signature that a text layer would break.

    A signed PDF is never changed silently (ARCHITECTURE.md "Signed documents"), so its
    pages are not OCR'd; the caller warns.
    """
    signatures = read_json(doc_dir / FACTS).get("signatures") or {}
    return bool(signatures.get("intact")) and not signatures.get("invalidated")


def plan(wanted: list[int], doc_dir: Path, pages_per_invocation: int) -> list[list[int]]:
    """Cuts ``wanted`` into ranges and sets document.pdf aside as scanned.pdf."""
    if not wanted:
        return []
    (doc_dir / DOCUMENT).replace(doc_dir / SCANNED)
    step = max(1, pages_per_invocation)
    return [wanted[i : i + step] for i in range(0, len(wanted), step)]


def part_name(pages: list[int]) -> str:
    """Returns the file name of the part holding ``pages``."""
    return f"part-{pages[0]:05d}-{pages[-1]:05d}.json"


def read_range(
    doc_dir: Path, pages: list[int], parts_dir: Path, mount: Path, language: str, max_pixels: int
) -> Path:
    """Reads ``pages`` of the set-aside document into a part; returns its path."""
    results = ocr_pages(doc_dir / SCANNED, pages, mount, language, max_pixels)
    parts_dir.mkdir(parents=True, exist_ok=True)
    path = parts_dir / part_name(pages)
    write_part(path, results)
    return path


def finish(doc_dir: Path, parts_dir: Path, mode: str) -> Finished:
    """Grafts the parts onto the document; rewrites document.pdf, text.txt and facts.json."""
    started = time.monotonic()
    results: list[PageOCR] = []
    for path in sorted(parts_dir.glob("part-*.json")):
        results.extend(read_part(path))
    results.sort(key=lambda result: result.page)
    facts: dict[str, Any] = read_json(doc_dir / FACTS)
    pages = int(facts["pages"])
    if any(result.ocr for result in results):
        grafted = graft_pages(doc_dir / SCANNED, doc_dir / DOCUMENT, results)
    else:  # nothing to add: the document stays byte for byte what normalise made
        grafted = 0
        with open(doc_dir / SCANNED, "rb") as source, atomic_writer(doc_dir / DOCUMENT) as out:
            shutil.copyfileobj(source, out, 1 << 20)
    texts = merged_text(page_texts(doc_dir, pages), results)
    has_text = any(text.strip() for text in texts)
    if has_text:
        with atomic_writer(doc_dir / TEXT) as handle:
            handle.write(PAGE_BREAK.join(texts).encode("utf-8", errors="replace"))
    warnings = []
    unread = [result.page for result in results if not result.ocr]
    if unread:
        listed = ", ".join(str(page) for page in unread[:10])
        more = f" and {len(unread) - 10} more" if len(unread) > 10 else ""
        warnings.append(f"OCR read no text on page(s) {listed}{more}; facts.ocr says why.")
    facts["text_layer"] = bool(facts.get("text_layer")) or grafted > 0
    facts["ocr"] = {
        "mode": mode,
        "pages_ocr": grafted,
        "seconds": round(sum(result.seconds for result in results), 3),
        "merge_seconds": round(time.monotonic() - started, 3),
        "pages": [result.summary() for result in results],
    }
    facts["warnings"] = [*facts.get("warnings", []), *warnings]
    write_json(doc_dir / FACTS, facts)
    return Finished(pages_read=grafted, has_text=has_text, warnings=tuple(warnings))
