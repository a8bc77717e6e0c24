"""The text layer of a normalised PDF, page by page.

PDFium (through pypdfium2) extracts it: on the corpus it finds more of ``pdftotext``'s
words, in its order, than pypdf does, at about 2 ms a page where pypdf takes 27 (measured
by ``benchmarks/text.py``; see "Text extraction" in docs/ARCHITECTURE.md). pypdf stays
the fallback for a document PDFium will not open or counts other pages in, so no
document loses text it had.

Text extraction decodes content streams only, never image data: a page whose content
streams use a filter text extraction does not decode (an image filter such as
``/JBIG2Decode`` or ``/DCTDecode`` put on a content stream, or an unknown one) is listed
by :func:`undecodable_pages` and skipped, and any error the extractor raises on one page
costs that page's text, with a warning, never the document's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.documents.normalise.pypdf_tolerance import pypdf_errors, quiet_pypdf

if TYPE_CHECKING:
    import pikepdf

#: Filters of content streams that text extraction decodes, with their abbreviated
#: names (ISO 32000-2 §8.9.7 allows them in inline images; qpdf and PDFium read them on
#: any stream). Everything else on a content stream is image data or unknown.
CONTENT_FILTERS = frozenset(
    {
        "/FlateDecode",
        "/Fl",
        "/LZWDecode",
        "/LZW",
        "/ASCII85Decode",
        "/A85",
        "/ASCIIHexDecode",
        "/AHx",
        "/RunLengthDecode",
        "/RL",
    }
)
#: Line ends as PDFium writes them, and its mark for a hyphen where it joined two lines.
_PDFIUM_NEWLINE = "\r\n"
_PDFIUM_HYPHEN = "\ufffe"


def undecodable_pages(pdf: pikepdf.Pdf) -> list[int]:
    """Returns the 1-based numbers of pages whose content text extraction cannot decode.

    A page's content streams and the form XObjects its resources name directly are
    checked: reading their filter names costs no decoding.
    """
    import pikepdf

    numbers = []
    for number, page in enumerate(pdf.pages, start=1):
        try:
            if all(_decodable(stream) for stream in _content_streams(page.obj)):
                continue
        except pikepdf.PdfError:
            pass  # content qpdf cannot resolve is not extracted either
        numbers.append(number)
    return numbers


def _content_streams(page: pikepdf.Dictionary) -> Iterator[pikepdf.Stream]:
    import pikepdf

    contents = page.get("/Contents")
    items = contents if isinstance(contents, pikepdf.Array) else [contents]
    yield from (item for item in items if isinstance(item, pikepdf.Stream))
    resources = page.get("/Resources")
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if isinstance(xobjects, pikepdf.Dictionary):
        for value in xobjects.values():
            if isinstance(value, pikepdf.Stream) and value.get("/Subtype") == "/Form":
                yield value


def _decodable(stream: pikepdf.Stream) -> bool:
    import pikepdf

    filters = stream.get("/Filter")
    names = filters if isinstance(filters, pikepdf.Array) else [filters]
    return all(name is None or str(name) in CONTENT_FILTERS for name in names)


def extract_text(path: Path, pages: int, skip: Collection[int] = ()) -> tuple[list[str], list[int]]:
    """Extracts the text of each page of the PDF at ``path``.

    Args:
        path: The normalised PDF (opened by qpdf before, with ``pages`` pages).
        pages: Its page count.
        skip: 1-based numbers of pages not to extract (see :func:`undecodable_pages`);
            they count as failed.

    Returns:
        The text of every page (empty for a page without text or whose text failed),
        and the 1-based numbers of the pages whose extraction failed.
    """
    texts = _pdfium_texts(path, pages, set(skip))
    if texts is None:
        texts = pypdf_texts(path, pages, set(skip))
    failed = [number for number, text in enumerate(texts, start=1) if text is None]
    # A form feed inside a page would read as a page break in text.txt.
    return [(text or "").replace("\f", "\n") for text in texts], failed


def _pdfium_texts(path: Path, pages: int, skip: set[int]) -> list[str | None] | None:
    """The text of each page by PDFium (None for a failed page); None if it cannot open."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        return None
    try:
        if len(document) != pages:
            return None  # PDFium read another page tree than qpdf: let pypdf try
        return [
            None if number + 1 in skip else _pdfium_page(document, number)
            for number in range(pages)
        ]
    finally:
        document.close()


def _pdfium_page(document: Any, index: int) -> str | None:
    import pypdfium2 as pdfium

    try:
        page = document[index]
    except pdfium.PdfiumError:
        return None
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_range()
        finally:
            textpage.close()
    except pdfium.PdfiumError:
        return None
    finally:
        page.close()
    return text.replace(_PDFIUM_NEWLINE, "\n").replace(_PDFIUM_HYPHEN, "-")


def pypdf_texts(path: Path, pages: int, skip: Collection[int] = ()) -> list[str | None]:
    """The text of each page by pypdf, the fallback (None for a page whose text failed).

    Every error pypdf raises on one page (its own family, the Python errors its parser
    lets through, and ``DeprecationError``/``DependencyError`` for abbreviated filter
    names and missing image decoders) costs that page's text only.
    """
    import warnings

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, DeprecationError

    # pypdf raises these for malformed content streams and fonts, and (outside its
    # PyPdfError family) for abbreviated filter names and missing image decoders; one
    # page's failure must not cost the document its other pages' text.
    errors: tuple[type[BaseException], ...] = (
        *pypdf_errors(),
        DeprecationError,
        DependencyError,
        NotImplementedError,
    )
    texts: list[str | None] = [None] * pages
    with open(path, "rb") as handle, warnings.catch_warnings(), quiet_pypdf():
        # pypdf warns about every oddity it tolerates; they are not the owner's concern.
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(handle, strict=False)
            count = min(len(reader.pages), pages)
        except errors:
            return texts
        for index in range(count):
            if index + 1 in skip:
                continue
            try:
                texts[index] = reader.pages[index].extract_text() or ""
            except errors:
                texts[index] = None
    return texts
