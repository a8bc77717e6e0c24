"""OCR of a PDF's scanned pages: read a range of pages, then graft the results.

The work is split in two so that a long scan can be read by several invocations in
parallel and put together by one (ARCHITECTURE.md "OCR"):

- :func:`ocr_pages` reads some pages of ``document.pdf`` and returns one
  :class:`PageOCR` per page: its text, its invisible text layer (a content stream in the
  page's user space), the turn that sets it upright, the mean word confidence and the
  seconds it took. :func:`write_part` and :func:`read_part` keep them as a JSON part.
- :func:`graft_pages` draws every layer over its page, turns rotated pages upright and
  writes the searchable PDF; a page whose OCR found nothing is left as it was.

Which pages to read is :func:`pages_to_ocr`'s decision: ``auto`` reads the pages that
have no text, ``force`` every page, ``off`` none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from functions.documents.ocr import engine
from functions.documents.ocr.page import NotScannedError, PageImage, page_image
from functions.documents.ocr.textlayer import add_font, graft, layer_stream

MODES = ("auto", "off", "force")


@dataclass(frozen=True)
class PageOCR:
    """The OCR of one page.

    Attributes:
        page: The page number, from 1.
        ocr: Text was recognised and a text layer made.
        reason: Why not, when ``ocr`` is False.
        language: The Tesseract language(s) used, e.g. ``eng`` or ``eng+deu``.
        confidence: Mean word confidence, 0-100.
        seconds: Time spent on the page (decoding, orientation, recognition).
        rotation: Clockwise degrees the page was turned to read it upright.
        dpi: The resolution the page was read at.
        words: Words recognised.
        text: The page's text, in reading order.
        layer: The text layer's content stream (ASCII), empty without OCR.
    """

    page: int
    ocr: bool
    reason: str | None
    language: str | None
    confidence: float | None
    seconds: float
    rotation: int
    dpi: int | None
    words: int
    text: str
    layer: str

    def summary(self) -> dict[str, Any]:
        """What the manifest records of the page (no text, no layer)."""
        fields = asdict(self)
        del fields["text"], fields["layer"]
        return fields


def pages_to_ocr(page_texts: Sequence[str], mode: str) -> list[int]:
    """Returns the page numbers (from 1) to OCR, given each page's extracted text.

    Raises:
        ValueError: ``mode`` is not one of :data:`MODES`.
    """
    if mode not in MODES:
        raise ValueError(f"OCR mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return []
    if mode == "force":
        return list(range(1, len(page_texts) + 1))
    return [number for number, text in enumerate(page_texts, start=1) if not text.strip()]


def ocr_pages(
    document: Path, pages: Iterable[int], mount: Path, language: str, max_pixels: int
) -> list[PageOCR]:
    """Reads the given pages of ``document``; never modifies it.

    Args:
        document: A PDF (transform's document.pdf).
        pages: Page numbers from 1.
        mount: The mount path the models live under.
        language: Tesseract language(s), ``+``-joined.
        max_pixels: The largest image decoded (the pixel-bomb limit).

    Raises:
        functions.documents.ocr.models.ModelError: A model is not installed.
    """
    import pikepdf

    results = []
    with pikepdf.open(document) as pdf:
        for number in pages:
            started = time.monotonic()
            try:
                image = page_image(pdf.pages[number - 1], max_pixels, document)
            except NotScannedError as err:
                results.append(_skipped(number, str(err), time.monotonic() - started))
                continue
            try:
                results.append(_read(number, image, mount, language, started))
            except RuntimeError:  # tesserocr's error for an image it cannot process
                reason = "the OCR engine could not read the page's image"
                results.append(_skipped(number, reason, time.monotonic() - started))
    return results


def _skipped(number: int, reason: str, seconds: float) -> PageOCR:
    return PageOCR(number, False, reason, None, None, round(seconds, 3), 0, None, 0, "", "")


def _upright(image: PageImage, mount: Path, language: str) -> tuple[int, engine.Recognised]:
    """Reads the page the right way up; returns the counter-clockwise turn and the text.

    The page is read as stored first: almost every scan is upright, and one that reads
    well in horizontal lines needs no orientation detection (a quarter of a page's time).
    Otherwise OSD proposes a turn, which is read too and kept when OSD is sure of it or
    it reads better than the page as stored.
    """
    plain = engine.recognise(mount, language, image.image, image.dpi)
    if plain.upright:
        return 0, plain
    turn, sure = engine.detect_rotation(mount, image.image, image.dpi)
    if not turn or sure < engine.MIN_ORIENTATION:
        return 0, plain
    turned = engine.recognise(mount, language, image.image.rotate(turn, expand=True), image.dpi)
    if sure >= engine.SURE_ORIENTATION or _reads_better(turned, plain):
        return turn, turned
    return 0, plain


def _reads_better(turned: engine.Recognised, plain: engine.Recognised) -> bool:
    if turned.horizontal != plain.horizontal:
        return turned.horizontal
    return (turned.confidence or -1.0) > (plain.confidence or -1.0)


def _read(number: int, image: PageImage, mount: Path, language: str, started: float) -> PageOCR:
    chosen, recognised = _upright(image, mount, language)
    seconds = round(time.monotonic() - started, 3)
    if not recognised.words:
        return PageOCR(
            number,
            False,
            "no text was recognised",
            language,
            None,
            seconds,
            0,
            image.dpi,
            0,
            "",
            "",
        )
    layer = layer_stream(recognised.words, image.pixels_to_page(chosen))
    rotation = (360 - chosen) % 360 if image.axis_aligned else 0
    confidence = recognised.confidence
    return PageOCR(
        page=number,
        ocr=True,
        reason=None,
        language=language,
        confidence=None if confidence is None else round(confidence, 1),
        seconds=seconds,
        rotation=rotation,
        dpi=image.dpi,
        words=len(recognised.words),
        text=recognised.text.strip(),
        layer=layer.decode("ascii"),
    )


def write_part(path: Path, results: Sequence[PageOCR]) -> None:
    """Writes a part (some pages' results) as JSON, atomically."""
    from functions.workspace import write_json

    write_json(path, {"pages": [asdict(result) for result in results]})


def read_part(path: Path) -> list[PageOCR]:
    """Reads a part written by :func:`write_part`."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [PageOCR(**page) for page in raw["pages"]]


def graft_pages(document: Path, out: Path, results: Iterable[PageOCR]) -> int:
    """Writes ``document`` with each OCR'd page's text layer to ``out``.

    Returns:
        The number of pages that received a text layer.
    """
    import pikepdf

    from functions.workspace import atomic_writer

    grafted = 0
    with pikepdf.open(document) as pdf:
        font = None
        for result in results:
            if not result.ocr:
                continue
            font = font if font is not None else add_font(pdf)
            page = pdf.pages[result.page - 1]
            graft(pdf, page, result.layer.encode("ascii"), font)
            if result.rotation:
                page.obj.Rotate = result.rotation
            grafted += 1
        with atomic_writer(out) as handle:
            pdf.save(cast(BinaryIO, handle))
    return grafted


def merged_text(page_texts: Sequence[str], results: Iterable[PageOCR]) -> list[str]:
    """Returns each page's text: the OCR'd text where a page was read, else its own."""
    texts = list(page_texts)
    for result in results:
        if result.ocr:
            texts[result.page - 1] = result.text
    return texts
