"""PDFs: opened (and repaired) with qpdf through pikepdf, active content removed.

qpdf reconstructs damaged cross-reference tables and page trees, opens documents that
are encrypted with an owner password only, and writes a document back with every page,
form field, annotation and outline entry it had. A PDF that opens without a single
repair, is not encrypted and has no active content is not rewritten at all: the caller
copies its bytes, so later stages compare against the original.

Active content is what runs without the reader asking: JavaScript (document-level,
on opening, in links, buttons and form fields), launch actions that start programs,
and additional actions (/AA) triggered by opening, closing, printing or hovering.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits

if TYPE_CHECKING:
    import pikepdf

#: How deep form-field and outline trees are followed; real documents stay far below.
_MAX_TREE_DEPTH = 64
#: How far a chain of /Next actions is followed.
_MAX_ACTION_CHAIN = 64

# What each kind of removal tells the document's owner; {n} is how many were removed.
_REMOVALS = {
    "document_javascript": "Removed the document's own JavaScript.",
    "open_javascript": "Removed JavaScript that ran when the document opened.",
    "open_launch": "Removed an action that started a program when the document opened.",
    "document_actions": "Removed actions the document ran on its own when it was closed, "
    "saved or printed.",
    "page_actions": "Removed actions that ran on their own when {n} page(s) opened or closed.",
    "annotation_actions": "Removed actions that ran on their own from {n} link(s), "
    "annotation(s) or form field(s).",
    "javascript_actions": "Removed JavaScript from {n} link(s), button(s), form field(s) "
    "or bookmark(s).",
    "launch_actions": "Removed {n} link(s) or bookmark(s) that would start another program.",
}


@dataclass
class OpenedPdf:
    """A PDF opened and cleaned, ready to be copied or written."""

    pdf: pikepdf.Pdf
    pages: int
    encrypted: bool
    removed: Counter[str] = field(default_factory=Counter)
    repairs: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        """True if the source bytes are the document: clean, not encrypted, nothing removed."""
        return not (self.encrypted or self.removed or self.repairs)

    def warnings(self) -> list[str]:
        """Sentences for the document's owner about what was changed."""
        notes = []
        if self.repairs:
            notes.append(
                "The PDF was damaged and has been repaired; check that nothing is missing."
            )
        notes.extend(_REMOVALS[kind].format(n=count) for kind, count in self.removed.items())
        return notes


def open_pdf(src: Path, limits: Limits) -> OpenedPdf:
    """Opens the PDF at ``src``, repairing it if needed, and removes its active content.

    The returned document must be closed by the caller (``result.pdf.close()``).

    Raises:
        DocumentError: ``ENCRYPTED_DOCUMENT`` if it needs a password to open,
            ``CORRUPT_DOCUMENT`` if it cannot be read even with repairs,
            ``EMPTY_DOCUMENT`` if it has no pages, ``TOO_MANY_PAGES`` over the limit.
    """
    import pikepdf

    try:
        pdf = pikepdf.open(src)
    except pikepdf.PasswordError as err:
        raise DocumentError(
            ErrorCode.ENCRYPTED_DOCUMENT, "The PDF is protected by a password needed to open it."
        ) from err
    except (pikepdf.PdfError, OSError, ValueError, RuntimeError) as err:
        raise _corrupt() from err
    try:
        opened = _inspect(pdf, limits)
    except BaseException:
        pdf.close()
        raise
    if not opened.repairs and not _pypdf_reads(src):
        # qpdf tolerates some damage silently (a stray byte after startxref); a copy must
        # open in every reader downstream, so such a file is rewritten like a repaired one.
        opened.repairs.append("pypdf could not read the file's trailer or page tree")
    return opened


def _pypdf_reads(src: Path) -> bool:
    """True if pypdf reads the trailer, cross-reference data and page tree of ``src``."""
    import warnings

    from pypdf import PdfReader

    with open(src, "rb") as handle, warnings.catch_warnings(), _quiet_pypdf():
        warnings.simplefilter("ignore")
        try:
            return len(PdfReader(handle, strict=False).pages) > 0
        except _pypdf_errors():
            return False


def _pypdf_errors() -> tuple[type[BaseException], ...]:
    """What pypdf raises for malformed files, fonts and content streams.

    AssertionError is among them: pypdf asserts on some damaged content streams (an
    operand that is not the type its parser expects), which is bad input, not our defect.
    """
    from pypdf.errors import PyPdfError

    return (
        PyPdfError,
        AssertionError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        ZeroDivisionError,
        RecursionError,
        struct.error,
        zlib.error,
    )


def _corrupt() -> DocumentError:
    return DocumentError(
        ErrorCode.CORRUPT_DOCUMENT, "The PDF is damaged beyond repair and cannot be read."
    )


def _inspect(pdf: pikepdf.Pdf, limits: Limits) -> OpenedPdf:
    import pikepdf

    try:
        root = pdf.Root
        if not isinstance(root, pikepdf.Dictionary) or not isinstance(
            root.get("/Pages"), pikepdf.Dictionary
        ):
            raise _corrupt()
        pages = len(pdf.pages)
    except (pikepdf.PdfError, RuntimeError, ValueError, TypeError, KeyError) as err:
        raise _corrupt() from err
    if pages == 0:
        # The file is intact (qpdf read its page tree) but lists no pages: nothing to show.
        raise DocumentError(ErrorCode.EMPTY_DOCUMENT, "The PDF has no pages.")
    if pages > limits.max_pages:
        raise DocumentError(
            ErrorCode.TOO_MANY_PAGES,
            f"The PDF has {pages} pages; at most {limits.max_pages} are allowed.",
        )
    opened = OpenedPdf(pdf=pdf, pages=pages, encrypted=bool(pdf.is_encrypted))
    try:
        _remove_active_content(pdf, opened.removed)
    except (pikepdf.PdfError, RuntimeError) as err:
        raise _corrupt() from err
    # qpdf reports every repair it made while reading, including objects it resolved
    # during the walk above, as a warning.
    opened.repairs = [str(note) for note in pdf.get_warnings()]
    return opened


def write_pdf(opened: OpenedPdf, out: IO[bytes]) -> None:
    """Writes the repaired, decrypted and cleaned document to ``out``.

    Raises:
        DocumentError: ``CORRUPT_DOCUMENT`` if qpdf cannot write the objects it read.
    """
    import pikepdf

    try:
        # encryption=False writes the document decrypted; deterministic_id makes a retried
        # stage write the same bytes.
        opened.pdf.save(cast("BinaryIO", out), encryption=False, deterministic_id=True)
    except (pikepdf.PdfError, RuntimeError) as err:
        raise _corrupt() from err


def _dict(value: Any) -> pikepdf.Dictionary | None:
    import pikepdf

    return value if isinstance(value, pikepdf.Dictionary) else None


def _array(value: Any) -> pikepdf.Array | None:
    import pikepdf

    return value if isinstance(value, pikepdf.Array) else None


def _action_kind(action: Any) -> str | None:
    """Returns "javascript" or "launch" if an action (or one it chains to) is active."""
    seen: set[tuple[int, int]] = set()
    pending = [action]
    steps = 0
    while pending and steps < _MAX_ACTION_CHAIN:
        steps += 1
        current = _dict(pending.pop())
        if current is None:
            continue
        if current.is_indirect:
            if current.objgen in seen:
                continue
            seen.add(current.objgen)
        kind = str(current.get("/S", ""))
        # A Rendition action may carry JavaScript in /JS too.
        if kind == "/JavaScript" or "/JS" in current:
            return "javascript"
        if kind == "/Launch":
            return "launch"
        chained = current.get("/Next")
        items = _array(chained)
        pending.extend(items if items is not None else [chained])
    return None


def _remove_active_content(pdf: pikepdf.Pdf, removed: Counter[str]) -> None:
    root = pdf.Root
    names = _dict(root.get("/Names"))
    if names is not None and "/JavaScript" in names:
        del names["/JavaScript"]
        removed["document_javascript"] += 1
    open_action = root.get("/OpenAction")
    kind = _action_kind(open_action) if _dict(open_action) is not None else None
    if kind is not None:
        del root["/OpenAction"]
        removed[f"open_{kind}"] += 1
    if "/AA" in root:
        del root["/AA"]
        removed["document_actions"] += 1
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        page_dict = page.obj
        if "/AA" in page_dict:
            del page_dict["/AA"]
            removed["page_actions"] += 1
        annotations = _array(page_dict.get("/Annots"))
        for annotation in annotations if annotations is not None else []:
            _clean_holder(_dict(annotation), seen, removed)
    form = _dict(root.get("/AcroForm"))
    if form is not None:
        for node in _tree(form.get("/Fields"), "/Kids"):
            _clean_holder(node, seen, removed)
    outlines = _dict(root.get("/Outlines"))
    if outlines is not None:
        for node in _outline(outlines.get("/First")):
            _clean_holder(node, seen, removed)


def _clean_holder(
    holder: pikepdf.Dictionary | None, seen: set[tuple[int, int]], removed: Counter[str]
) -> None:
    """Removes /AA and an active /A from an annotation, form field or bookmark."""
    if holder is None:
        return
    if holder.is_indirect:
        if holder.objgen in seen:
            return
        seen.add(holder.objgen)
    if "/AA" in holder:
        del holder["/AA"]
        removed["annotation_actions"] += 1
    kind = _action_kind(holder.get("/A")) if "/A" in holder else None
    if kind is not None:
        del holder["/A"]
        removed[f"{kind}_actions"] += 1


def _tree(nodes: Any, children: str) -> Iterator[pikepdf.Dictionary]:
    """Yields every dictionary of a tree of arrays (form fields and their /Kids)."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(nodes, 0)]
    while stack:
        value, depth = stack.pop()
        items = _array(value)
        if items is None or depth > _MAX_TREE_DEPTH:
            continue
        for item in items:
            node = _dict(item)
            if node is None:
                continue
            if node.is_indirect:
                if node.objgen in seen:
                    continue
                seen.add(node.objgen)
            yield node
            stack.append((node.get(children), depth + 1))


def _outline(first: Any) -> Iterator[pikepdf.Dictionary]:
    """Yields every bookmark of an outline (siblings by /Next, children by /First)."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(first, 0)]
    while stack:
        value, depth = stack.pop()
        node = _dict(value)
        while node is not None and depth <= _MAX_TREE_DEPTH:
            if node.is_indirect:
                if node.objgen in seen:
                    break
                seen.add(node.objgen)
            yield node
            stack.append((node.get("/First"), depth + 1))
            node = _dict(node.get("/Next"))


def describe(opened: OpenedPdf) -> dict[str, Any]:
    """Returns the facts about an opened PDF: version, producer, page sizes, images.

    Raises:
        DocumentError: ``CORRUPT_DOCUMENT`` if qpdf cannot resolve the objects involved.
    """
    import pikepdf

    try:
        return _describe(opened.pdf)
    except (pikepdf.PdfError, RuntimeError) as err:
        raise _corrupt() from err


def _describe(pdf: pikepdf.Pdf) -> dict[str, Any]:
    import pikepdf

    sizes: list[list[float] | None] = []
    images: set[tuple[int, int]] = set()
    direct_images = 0
    for page in pdf.pages:
        sizes.append(_page_size(page.obj))
        resources = _dict(page.obj.get("/Resources"))
        xobjects = _dict(resources.get("/XObject")) if resources is not None else None
        for value in xobjects.values() if xobjects is not None else []:
            if isinstance(value, pikepdf.Stream) and value.get("/Subtype") == pikepdf.Name.Image:
                if value.is_indirect:
                    images.add(value.objgen)
                else:
                    direct_images += 1
    info = _dict(pdf.trailer.get("/Info"))
    producer = info.get("/Producer") if info is not None else None
    return {
        "pdf_version": str(pdf.pdf_version),
        "producer": str(producer)[:200] if isinstance(producer, pikepdf.String) else None,
        "page_sizes": sizes,
        "image_count": len(images) + direct_images,
    }


def _page_size(page: pikepdf.Dictionary) -> list[float] | None:
    """A page's displayed width and height in points (MediaBox, turned by /Rotate)."""
    node: pikepdf.Dictionary | None = page
    box = rotate = None
    for _ in range(_MAX_TREE_DEPTH):  # both are inherited from the page tree
        if node is None:
            break
        box = box if box is not None else _array(node.get("/MediaBox"))
        rotate = rotate if rotate is not None else node.get("/Rotate")
        node = _dict(node.get("/Parent"))
    try:
        x0, y0, x1, y1 = (float(value) for value in box) if box is not None else (0, 0, 0, 0)
        turns = int(rotate) if rotate is not None else 0
    except (TypeError, ValueError):
        return None
    width, height = abs(x1 - x0), abs(y1 - y0)
    if width == 0 or height == 0:
        return None
    if turns % 180 == 90:
        width, height = height, width
    return [round(width, 2), round(height, 2)]


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """Silences pypdf's log of tolerated oddities (missing fontTools, odd xrefs) while
    extracting: they would fill the function's log for every damaged document."""
    logger = logging.getLogger("pypdf")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def extract_text(path: Path, pages: int) -> tuple[list[str], list[int]]:
    """Extracts the text of each page of the PDF at ``path`` with pypdf.

    Returns:
        The text of every page (empty for a page without text or whose text failed),
        and the 1-based numbers of the pages whose extraction failed.
    """
    import warnings

    from pypdf import PdfReader

    # pypdf raises these for malformed content streams and fonts; one page's failure
    # must not cost the document its other pages' text.
    errors = _pypdf_errors()
    texts: list[str] = []
    failed: list[int] = []
    with open(path, "rb") as handle, warnings.catch_warnings(), _quiet_pypdf():
        # pypdf warns about every oddity it tolerates; they are not the owner's concern.
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(handle, strict=False)
            count = len(reader.pages)
        except errors:
            return [""] * pages, list(range(1, pages + 1))
        for number in range(count):
            try:
                text = reader.pages[number].extract_text()
            except errors:
                failed.append(number + 1)
                text = ""
            texts.append(text or "")
    return texts, failed
