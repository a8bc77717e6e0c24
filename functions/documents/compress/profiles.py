"""What each profile runs, in order, and the result the compress stage reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from functions.documents.compress.colour import drop_unused_default_cmyk
from functions.documents.compress.fonts import font_dictionaries, subset_fonts
from functions.documents.compress.images import compress_images
from functions.documents.compress.print_data import drop_print_output_intents, drop_private_data
from functions.documents.compress.save import qpdf_message, save_guarded
from functions.documents.compress.sharing import (
    remove_unreferenced_resources,
    share_identical_streams,
)
from functions.documents.compress.streams import recompress_flate
from functions.documents.compress.type1 import convert_type1_fonts
from functions.errors import DocumentError, ErrorCode
from functions.settings import PROFILES, Limits

if TYPE_CHECKING:
    from functions.documents.compress.images import ImageReport


@dataclass(frozen=True)
class Compressed:
    """What compressing one PDF produced.

    Attributes:
        bytes_in: Size of the input.
        bytes_out: Size of the output (equal to ``bytes_in`` when ``kept_input``).
        pages: Page count, the same in input and output.
        kept_input: Compressing would not have made it smaller: dest is a copy of src.
        warnings: Sentences for a person about what was kept or repaired.
        peak_memory_bytes: Not measured here (the benchmarks measure it per document in
            a child process); ``None``.
    """

    bytes_in: int
    bytes_out: int
    pages: int
    kept_input: bool
    warnings: tuple[str, ...]
    peak_memory_bytes: int | None = None


def compress_pdf(
    src: Path, dest: Path, profile: str, *, limits: Limits | None = None
) -> Compressed:
    """Writes a compressed copy of the PDF ``src`` to ``dest``.

    Args:
        src: The PDF to compress; never modified.
        dest: Where the result is written (atomically: a reader never sees a partial file).
        profile: One of ``functions.settings.PROFILES``: ``lossless``, ``ebook``, ``screen``.
        limits: Bounds on the work (the image pixel limit is used); defaults apply when
            not given.

    Returns:
        Sizes, page count, whether the input was kept, and warnings for a person.

    Raises:
        ValueError: ``profile`` is not a known profile (a defect in the caller).
        DocumentError: ``CORRUPT_DOCUMENT`` when the PDF cannot be read,
            ``ENCRYPTED_DOCUMENT`` when it needs a password to open.
    """
    import pikepdf

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    limits = limits or Limits()
    bytes_in = src.stat().st_size
    warnings: list[str] = []
    try:
        pdf = pikepdf.open(src)
    except pikepdf.PasswordError:
        raise DocumentError(
            ErrorCode.ENCRYPTED_DOCUMENT, "The PDF is protected by a password and cannot be opened."
        ) from None
    except pikepdf.PdfError as error:
        raise DocumentError(
            ErrorCode.CORRUPT_DOCUMENT, f"The PDF cannot be read: {qpdf_message(error, src)}."
        ) from None
    with pdf:
        try:
            pages = len(pdf.pages)
            written: set[tuple[int, int]] = set()
            removed_intent = False
            if profile != "lossless":
                report = compress_images(pdf, profile, limits.max_image_pixels)
                warnings.extend(_image_warnings(report))
                written |= report.rewritten
                drop_unused_default_cmyk(pdf)
                drop_private_data(pdf)
                if drop_print_output_intents(pdf):
                    removed_intent = True
                fonts = font_dictionaries(pdf)  # walks every object: once for both passes
                subset_fonts(pdf, fonts)
                convert_type1_fonts(pdf, fonts)
            remove_unreferenced_resources(pdf)
            share_identical_streams(pdf)
            recompress_flate(pdf, skip=written)
        except pikepdf.PdfError as error:
            raise DocumentError(
                ErrorCode.CORRUPT_DOCUMENT, f"The PDF cannot be read: {qpdf_message(error, src)}."
            ) from None
        if pdf.get_warnings():
            warnings.append("The PDF was damaged; its structure was repaired while compressing.")
        bytes_out, kept_input = save_guarded(pdf, src, dest, bytes_in)
    if kept_input:
        warnings.append("Compressing would not have made the PDF smaller, so it is kept as it was.")
    elif removed_intent:
        warnings.append(
            "The PDF/X print output intent was removed: this copy is for reading on screen, "
            "not for a printing press."
        )
    return Compressed(
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        pages=pages,
        kept_input=kept_input,
        warnings=tuple(warnings),
    )


def _image_warnings(report: ImageReport) -> list[str]:
    warnings = []
    if report.skipped_too_large:
        warnings.append(
            f"{len(report.skipped_too_large)} image(s) exceed the pixel limit and were kept "
            "as they were."
        )
    if report.skipped_unreadable:
        warnings.append(
            f"{len(report.skipped_unreadable)} image(s) have damaged data and were kept "
            "as they were."
        )
    return warnings
