"""The save: qpdf writes the document, object streams where the standards it claims allow
them, and the input is kept when the result would not be smaller.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from functions.documents.normalise.repair import ensure_trailer_size
from functions.errors import DocumentError, ErrorCode
from functions.workspace import atomic_writer

if TYPE_CHECKING:
    import pikepdf


def qpdf_message(error: Exception, path: Path) -> str:
    """Returns qpdf's message without the file name it starts with (a workspace path)."""
    text = str(error).strip().splitlines()
    line = text[0].rstrip(".") if text else type(error).__name__
    for prefix in (f"{path}: ", f"{path.name}: "):
        line = line.removeprefix(prefix)
    return line


# Claims of conformance to standards based on PDF 1.3/1.4, which forbid object and
# cross-reference streams (PDF/A-1: ISO 19005-1 §6.1.4; PDF/X-1a and X-3).
# Both as an element (<pdfaid:part>1</pdfaid:part>, maybe with attributes) and as an
# attribute (pdfaid:part="1").
_PDFA1_CLAIM = re.compile(rb"pdfaid:part(?:\s*=\s*[\"']|[^>]*>)\s*1\s*[\"'<]")


_OLD_PDFX_CLAIM = re.compile(rb"GTS_PDFXVersion(?:\s*=\s*[\"']|[^>]*>)\s*PDF/X-[13]")


# Larger metadata streams are not searched for those claims (XMP is kilobytes).
_MAX_XMP_BYTES = 4 << 20


def _forbids_object_streams(pdf: pikepdf.Pdf) -> bool:
    """Tells whether the document claims PDF/A-1, PDF/X-1a or PDF/X-3 conformance.

    Object streams are where a lossless rewrite gains most, but those standards predate
    them: writing any would break the claim, so such a document keeps its plain
    cross-reference table and still gets every other saving.
    """
    import pikepdf

    info = pdf.trailer.get("/Info")
    if isinstance(info, pikepdf.Dictionary):
        version = info.get("/GTS_PDFXVersion")
        if isinstance(version, pikepdf.String) and _OLD_PDFX_CLAIM.search(
            b"GTS_PDFXVersion>" + bytes(version)
        ):
            return True
    metadata = pdf.Root.get("/Metadata")
    if not isinstance(metadata, pikepdf.Stream):
        return False
    try:
        if len(metadata.read_raw_bytes()) > _MAX_XMP_BYTES:
            return False
        xmp = metadata.read_bytes()
    except pikepdf.PdfError:
        return False
    return bool(_PDFA1_CLAIM.search(xmp) or _OLD_PDFX_CLAIM.search(xmp))


def save_guarded(pdf: pikepdf.Pdf, src: Path, dest: Path, bytes_in: int) -> tuple[int, bool]:
    """Saves ``pdf`` to ``dest``, or copies ``src`` there if the result is not smaller.

    Returns:
        The size written and whether it is the input's copy.
    """
    import pikepdf

    pikepdf.settings.set_flate_compression_level(9)
    ensure_trailer_size(pdf)
    with atomic_writer(dest) as handle:
        output = cast(BinaryIO, handle)  # opened in "wb" mode
        try:
            pdf.save(
                output,
                object_stream_mode=(
                    pikepdf.ObjectStreamMode.preserve
                    if _forbids_object_streams(pdf)
                    else pikepdf.ObjectStreamMode.generate
                ),
                compress_streams=True,
                # pikepdf would rewrite the XMP to update its PDF version, and replace
                # XMP it cannot parse by an empty packet: the metadata is not ours.
                fix_metadata_version=False,
                # Flate streams were recompressed by recompress_flate (faster); qpdf
                # compresses the streams that have no filter (new font subsets, contents).
                recompress_flate=False,
                # An owner-password-only PDF keeps its permissions and encryption.
                encryption=pdf.is_encrypted,
                # A deterministic /ID makes a retried stage give the same bytes; qpdf
                # cannot derive one for an encrypted file, which gets a random one.
                deterministic_id=not pdf.is_encrypted,
            )
        except pikepdf.PdfError as error:
            raise DocumentError(
                ErrorCode.CORRUPT_DOCUMENT,
                f"The PDF cannot be rewritten: {qpdf_message(error, src)}.",
            ) from None
        size = handle.tell()
        if size < bytes_in:
            return size, False
        handle.seek(0)
        handle.truncate()
        with open(src, "rb") as original:
            shutil.copyfileobj(original, handle, 1 << 20)
        return bytes_in, True
