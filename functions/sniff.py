"""Content sniffing: the type of a document comes from its first bytes, not its name."""

from __future__ import annotations

from pathlib import Path

from functions.errors import DocumentError, ErrorCode

IMAGE_TYPES = ("jpeg", "png", "tiff", "gif", "bmp", "webp")
DOCUMENT_TYPES = ("pdf", *IMAGE_TYPES)
ALL_TYPES = (*DOCUMENT_TYPES, "zip")

# PDF readers accept a header anywhere in the first KiB (PDF 32000-1, annex H.3).
_PDF_WINDOW = 1024


def sniff_bytes(head: bytes) -> str | None:
    """Returns the type of a document whose first bytes are ``head``, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if b"%PDF-" in head[:_PDF_WINDOW]:
        return "pdf"
    return None


def sniff(path: Path) -> str:
    """Returns the type of the document at ``path``: one of :data:`ALL_TYPES`.

    Raises:
        DocumentError: ``EMPTY_DOCUMENT`` for a file with no bytes, ``UNSUPPORTED_TYPE``
            for content that is none of the supported types.
    """
    with open(path, "rb") as handle:
        head = handle.read(_PDF_WINDOW)
    if not head:
        raise DocumentError(ErrorCode.EMPTY_DOCUMENT, "The document is empty (0 bytes).")
    kind = sniff_bytes(head)
    if kind is None:
        raise DocumentError(
            ErrorCode.UNSUPPORTED_TYPE,
            "The document is not a PDF, a supported image (JPEG, PNG, TIFF, GIF, BMP, WebP) "
            "or a ZIP bundle of them.",
        )
    return kind
