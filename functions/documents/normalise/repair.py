"""PDFs: opened (and repaired) with qpdf through pikepdf, then cleaned.

qpdf reconstructs damaged cross-reference tables and page trees, opens documents that
are encrypted with an owner password only, and writes a document back with every page,
form field, annotation and outline entry it had. A PDF that opens without a single
repair, is not encrypted and has no active content is not rewritten at all: the caller
copies its bytes, so later stages compare against the original.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from functions.documents.filters import unknown_filters_in_file
from functions.documents.normalise.active_content import removal_notes, remove_active_content
from functions.documents.normalise.pypdf_tolerance import pypdf_errors, quiet_pypdf
from functions.documents.signatures import Signatures, find_signatures
from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits

if TYPE_CHECKING:
    import pikepdf


@dataclass
class OpenedPdf:
    """A PDF opened and cleaned, ready to be copied or written.

    Attributes:
        repairs: What qpdf repaired while reading (its warnings); empty for a sound file.
        pypdf_unreadable: qpdf read it without a repair but pypdf cannot: the copy is
            rewritten so that every reader downstream opens it, without calling it damaged.
        signatures: The digital signatures of the source file.
    """

    pdf: pikepdf.Pdf
    pages: int
    encrypted: bool
    removed: Counter[str] = field(default_factory=Counter)
    repairs: list[str] = field(default_factory=list)
    pypdf_unreadable: bool = False
    signatures: Signatures = field(default_factory=Signatures)

    @property
    def unchanged(self) -> bool:
        """True if the source bytes are the document.

        That is a sound file with nothing removed, not encrypted, or encrypted (with an
        owner password only) and signed: decrypting it would break the signature, and
        every reader downstream opens such a file without a password.
        """
        if self.removed or self.repairs or self.pypdf_unreadable:
            return False
        return not self.encrypted or self.signatures.intact > 0

    def rewrite_reasons(self) -> list[str]:
        """Why the document is rewritten rather than copied, in words for its owner."""
        reasons = []
        if self.repairs:
            reasons.append("it was damaged and had to be repaired")
        if self.removed:
            reasons.append("its active content was removed")
        if self.pypdf_unreadable:
            reasons.append("its structure had to be rewritten for PDF readers")
        if self.encrypted and not reasons:
            reasons.append("its encryption was removed")
        return reasons

    def warnings(self) -> list[str]:
        """Sentences for the document's owner about what was changed."""
        notes = []
        if self.repairs:
            notes.append(
                "The PDF was damaged and has been repaired; check that nothing is missing."
            )
        notes.extend(removal_notes(self.removed))
        if self.signatures.intact and not self.unchanged:
            notes.append(
                "The PDF was digitally signed; its signature is no longer valid because "
                + " and ".join(self.rewrite_reasons())
                + "."
            )
        return notes

    def signature_facts(self) -> dict[str, object]:
        """What facts.json records about the signatures."""
        invalidated = bool(self.signatures.intact) and not self.unchanged
        return {
            **self.signatures.to_json(),
            "invalidated": invalidated,
            "reasons": self.rewrite_reasons() if invalidated else [],
        }


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
        raise _corrupt_or_unsupported(src) from err
    try:
        opened = _inspect(pdf, limits)
    except DocumentError as err:
        pdf.close()
        if err.code == ErrorCode.CORRUPT_DOCUMENT:
            raise _corrupt_or_unsupported(src) from err
        raise
    except BaseException:
        pdf.close()
        raise
    try:
        opened.signatures = find_signatures(pdf, src)
    except (pikepdf.PdfError, RuntimeError, OSError, ValueError) as err:
        pdf.close()
        raise corrupt_pdf() from err
    if opened.unchanged and not _pypdf_reads(src):
        # qpdf is the judge of damage, but a copy must open in every reader downstream:
        # a file qpdf reads without a repair and pypdf cannot is rewritten, not called
        # damaged. Only a file about to be copied is asked: pypdf parses the whole
        # document in Python, for nothing when it is rewritten anyway.
        opened.pypdf_unreadable = True
    return opened


def _pypdf_reads(src: Path) -> bool:
    """True if pypdf reads the trailer, cross-reference data and page tree of ``src``."""
    import warnings

    from pypdf import PdfReader

    with open(src, "rb") as handle, warnings.catch_warnings(), quiet_pypdf():
        warnings.simplefilter("ignore")
        try:
            return len(PdfReader(handle, strict=False).pages) > 0
        except pypdf_errors():
            return False


def _corrupt_or_unsupported(src: Path) -> DocumentError:
    """The error for a PDF qpdf cannot read: unsupported if it names a filter outside
    the standard (valid syntax no reader decodes), else damaged."""
    unknown = unknown_filters_in_file(src)
    if unknown:
        return DocumentError(
            ErrorCode.UNSUPPORTED_TYPE,
            f"The PDF uses the {', '.join(unknown)} filter(s), which are not supported.",
        )
    return corrupt_pdf()


def corrupt_pdf() -> DocumentError:
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
            raise corrupt_pdf()
        pages = len(pdf.pages)
    except (pikepdf.PdfError, RuntimeError, ValueError, TypeError, KeyError) as err:
        raise corrupt_pdf() from err
    if pages == 0:
        if pdf.get_warnings():
            # qpdf lost the page tree while reading (an object nested too deep, a broken
            # reference): the document is damaged, not empty.
            raise corrupt_pdf()
        # The file is intact (qpdf read its page tree) but lists no pages: nothing to show.
        raise DocumentError(ErrorCode.EMPTY_DOCUMENT, "The PDF has no pages.")
    if pages > limits.max_pages:
        raise DocumentError(
            ErrorCode.TOO_MANY_PAGES,
            f"The PDF has {pages} pages; at most {limits.max_pages} are allowed.",
        )
    opened = OpenedPdf(pdf=pdf, pages=pages, encrypted=bool(pdf.is_encrypted))
    try:
        remove_active_content(pdf, opened.removed)
    except (pikepdf.PdfError, RuntimeError) as err:
        raise corrupt_pdf() from err
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

    ensure_trailer_size(opened.pdf)
    try:
        # encryption=False writes the document decrypted; deterministic_id makes a retried
        # stage write the same bytes.
        opened.pdf.save(cast("BinaryIO", out), encryption=False, deterministic_id=True)
    except (pikepdf.PdfError, RuntimeError) as err:
        raise corrupt_pdf() from err


def ensure_trailer_size(pdf: pikepdf.Pdf) -> None:
    """Gives a trailer that lost its ``/Size`` one before qpdf writes it.

    qpdf rebuilds the cross-reference data of a damaged file but keeps the trailer it
    found; written without ``/Size``, a cross-reference stream is unreadable to every
    reader, qpdf included. qpdf writes the right value in place of this one.
    """
    if "/Size" not in pdf.trailer:
        pdf.trailer.Size = len(pdf.objects) + 1
