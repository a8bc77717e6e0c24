"""What only a printing press or another application reads, dropped by the lossy profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pikepdf


def drop_private_data(pdf: pikepdf.Pdf) -> int:
    """Removes ``/PieceInfo``: other applications' private editing data (PDF 14.5).

    Illustrator and others keep a whole copy of their native document there (megabytes,
    in one corpus file half the PDF); viewers never read it. Acrobat's optimiser and
    ghostscript drop it too. Only the lossy profiles do, since it is not ours to discard
    in ``lossless``, which promises the document is otherwise untouched.

    Returns:
        How many objects had private data.
    """
    import pikepdf

    removed = 0
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream) and "/PieceInfo" in obj:
            del obj["/PieceInfo"]
            removed += 1
    return removed


def drop_print_output_intents(pdf: pikepdf.Pdf) -> bool:
    """Removes PDF/X output intents and the PDF/X claims that depend on them.

    A PDF/X output intent embeds the printing press's ICC profile (a CMYK profile is
    0.4 to 0.5 MB, most of several corpus files) so that a press reproduces colours as
    proofed. The lossy profiles make a copy for reading on screen, whose images are
    resampled anyway; ghostscript's ``/ebook`` and ``/screen`` drop the intent too. The
    document would still claim PDF/X conformance without it, so the claims in the
    document information and the XMP metadata go with it. PDF/A intents are kept: the
    archival claim does not depend on a press, and its profiles are small.

    Returns:
        Whether an output intent was removed.
    """
    import pikepdf

    intents = pdf.Root.get("/OutputIntents")
    if not isinstance(intents, pikepdf.Array):
        return False
    kept = [intent for intent in intents if not _is_pdfx_intent(intent)]
    if len(kept) == len(intents):
        return False
    if kept:
        pdf.Root.OutputIntents = pikepdf.Array(kept)
    else:
        del pdf.Root["/OutputIntents"]
    info = pdf.trailer.get("/Info")
    if isinstance(info, pikepdf.Dictionary):
        for key in ("/GTS_PDFXVersion", "/GTS_PDFXConformance"):
            if key in info:
                del info[key]
    if "/Metadata" in pdf.Root:
        try:
            # strict: pikepdf would otherwise replace XMP it cannot parse by an empty
            # packet, losing the title and authors; such XMP is left as it is.
            with pdf.open_metadata(
                set_pikepdf_as_editor=False, update_docinfo=False, strict=True
            ) as xmp:
                for key in _PDFX_XMP_KEYS:
                    if key in xmp:
                        del xmp[key]
        except (SyntaxError, ValueError):  # lxml's XMLSyntaxError is a SyntaxError
            pass
    return True


# PDF/X identification in XMP: pdfxid for PDF/X-4 and later, pdfx for PDF/X-1a and -3.
_PDFX_XMP_KEYS = (
    "pdfxid:GTS_PDFXVersion",
    "pdfx:GTS_PDFXVersion",
    "pdfx:GTS_PDFXConformance",
)


def _is_pdfx_intent(intent: object) -> bool:
    import pikepdf

    return isinstance(intent, pikepdf.Dictionary) and intent.get("/S") == "/GTS_PDFX"
