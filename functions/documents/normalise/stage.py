"""Which way a sniffed document takes to document.pdf, text.txt and facts.json.

An image goes through :mod:`functions.documents.normalise.images`; a PDF is opened and
repaired (:mod:`.repair`), stripped of its active content (:mod:`.active_content`),
described (:mod:`.facts`), copied or rewritten, and its text extracted (:mod:`.text`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits
from functions.sniff import DOCUMENT_TYPES
from functions.workspace import atomic_writer, write_json

DOCUMENT = "document.pdf"


TEXT = "text.txt"


FACTS = "facts.json"


#: Separates pages in text.txt (a form feed, as pdftotext does).
PAGE_BREAK = "\f"


#: Failed pages listed by number in a warning; more are counted.
_LISTED_PAGES = 10


@dataclass(frozen=True)
class Normalised:
    """What :func:`normalise` produced.

    Attributes:
        pages: Pages of document.pdf.
        has_text: text.txt was written (some page had text).
        warnings: Sentences for a person about what was changed or could not be done.
        facts: Exactly what facts.json holds (JSON-able).
    """

    pages: int
    has_text: bool
    warnings: tuple[str, ...]
    facts: dict[str, Any]


def normalise(src: Path, kind: str, out_dir: Path, limits: Limits) -> Normalised:
    """Turns the document at ``src`` into ``out_dir``/document.pdf, text.txt, facts.json.

    Args:
        src: The source document; never modified.
        kind: Its sniffed type, one of :data:`functions.sniff.DOCUMENT_TYPES`.
        out_dir: An existing, empty directory.
        limits: The page and pixel limits.

    Raises:
        DocumentError: The document cannot be processed (corrupt, needs a password, too
            many pages, an image too large, no pages).
        ValueError: ``kind`` is not a document type (a defect of the caller).
    """
    if kind not in DOCUMENT_TYPES:
        raise ValueError(f"normalise cannot handle type {kind!r}")
    if src.stat().st_size == 0:
        raise DocumentError(ErrorCode.EMPTY_DOCUMENT, "The document is empty (0 bytes).")
    if kind == "pdf":
        return _normalise_pdf(src, out_dir, limits)
    return _normalise_image(src, kind, out_dir, limits)


def _normalise_image(src: Path, kind: str, out_dir: Path, limits: Limits) -> Normalised:
    from functions.documents.normalise.images import image_to_pdf

    with atomic_writer(out_dir / DOCUMENT) as handle:
        converted = image_to_pdf(src, kind, handle, limits)
    sources = {frame["dpi_source"] for frame in converted.frames}
    facts: dict[str, Any] = {
        "source_type": kind,
        "pages": converted.pages,
        "page_sizes": converted.page_sizes,
        "image_count": converted.pages,
        "producer": None,
        "text_layer": False,
        "encrypted": False,
        "repaired": False,
        "copied_unchanged": False,
        "active_content_removed": [],
        "dpi_source": sources.pop() if len(sources) == 1 else "mixed",
        "images": converted.frames,
        "warnings": list(converted.warnings),
    }
    write_json(out_dir / FACTS, facts)
    return Normalised(
        pages=converted.pages, has_text=False, warnings=converted.warnings, facts=facts
    )


def _normalise_pdf(src: Path, out_dir: Path, limits: Limits) -> Normalised:
    from functions.documents.normalise.facts import describe
    from functions.documents.normalise.repair import open_pdf, write_pdf
    from functions.documents.normalise.text import extract_text, undecodable_pages

    document = out_dir / DOCUMENT
    opened = open_pdf(src, limits)
    try:
        described = describe(opened)
        undecodable = undecodable_pages(opened.pdf)
        with atomic_writer(document) as handle:
            if opened.unchanged:
                with open(src, "rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
            else:
                write_pdf(opened, handle)
    finally:
        opened.pdf.close()
    warnings = opened.warnings()
    texts, failed = extract_text(document, opened.pages, skip=undecodable)
    if failed:
        warnings.append(_failed_pages(failed, opened.pages))
    has_text = any(text.strip() for text in texts)
    if has_text:
        with atomic_writer(out_dir / TEXT) as handle:
            # pypdf can return lone surrogates from broken font maps; they are not UTF-8.
            handle.write(PAGE_BREAK.join(texts).encode("utf-8", errors="replace"))
    facts: dict[str, Any] = {
        "source_type": "pdf",
        "pages": opened.pages,
        "page_sizes": described["page_sizes"],
        "image_count": described["image_count"],
        "producer": described["producer"],
        "pdf_version": described["pdf_version"],
        "text_layer": has_text,
        "encrypted": opened.encrypted,
        "repaired": bool(opened.repairs),
        "repairs": opened.repairs[:20],
        "copied_unchanged": opened.unchanged,
        "active_content_removed": [
            {"kind": kind, "count": count} for kind, count in sorted(opened.removed.items())
        ],
        "dpi_source": None,
        "signatures": opened.signature_facts(),
        "text_failed_pages": failed,
        "warnings": warnings,
    }
    write_json(out_dir / FACTS, facts)
    return Normalised(pages=opened.pages, has_text=has_text, warnings=tuple(warnings), facts=facts)


def _failed_pages(failed: list[int], pages: int) -> str:
    if len(failed) == pages:
        return "The text of the document could not be extracted."
    listed = ", ".join(str(number) for number in failed[:_LISTED_PAGES])
    more = f" and {len(failed) - _LISTED_PAGES} more" if len(failed) > _LISTED_PAGES else ""
    noun = "page" if len(failed) == 1 else "pages"
    return f"The text of {noun} {listed}{more} could not be extracted."
