"""What each profile runs, in order, on one open document, and what is published.

``compress_pdf`` opens the normalised PDF once, keeps a signed one byte for byte, runs
the profile's passes (fewer when a stream could expand beyond what the content-parsing
passes may hold), saves with the guard that never makes a document bigger, and reopens
the result before it may be published (:mod:`.verify`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from functions.documents.compress.colour import drop_unused_default_cmyk
from functions.documents.compress.fonts import font_dictionaries, subset_fonts
from functions.documents.compress.guards import (
    MAX_DECODED_BYTES,
    oversized_streams,
    unknown_filters,
)
from functions.documents.compress.images import compress_images
from functions.documents.compress.print_data import drop_print_output_intents, drop_private_data
from functions.documents.compress.report import (
    NOT_SMALLER,
    OUTPUT_UNREADABLE,
    SIGNED,
    Compressed,
    PassResult,
)
from functions.documents.compress.save import qpdf_message, save_guarded
from functions.documents.compress.sharing import (
    remove_unreferenced_resources,
    share_identical_streams,
)
from functions.documents.compress.streams import recompress_flate
from functions.documents.compress.type1 import convert_type1_fonts
from functions.documents.compress.verify import output_problem, reopen
from functions.documents.signatures import find_signatures
from functions.errors import DocumentError, ErrorCode
from functions.settings import PROFILES, Limits
from functions.workspace import atomic_writer

if TYPE_CHECKING:
    import pikepdf

    from functions.documents.compress.images import ImageReport

__all__ = ["Compressed", "compress_pdf"]

_SIGNED_WARNING = (
    "The PDF is digitally signed, so it is published exactly as it was: compressing it "
    "would invalidate the signature."
)
_REPAIRED_WARNING = "The PDF was damaged; its structure was repaired while compressing."
_NOT_SMALLER_WARNING = "Compressing would not have made the PDF smaller, so it is kept as it was."


def compress_pdf(
    src: Path, dest: Path, profile: str, *, limits: Limits | None = None
) -> Compressed:
    """Writes a compressed copy of the PDF ``src`` to ``dest``, verified.

    Args:
        src: The PDF to compress; never modified.
        dest: Where the result is written (atomically: a reader never sees a partial file).
        profile: One of ``functions.settings.PROFILES``: ``lossless``, ``ebook``, ``screen``.
        limits: Bounds on the work (the image pixel limit is used); defaults apply when
            not given.

    Returns:
        Sizes, page count, whether the input was kept and why, what each pass did, and
        warnings for a person.

    Raises:
        ValueError: ``profile`` is not a known profile (a defect in the caller).
        DocumentError: ``CORRUPT_DOCUMENT`` when the PDF cannot be read,
            ``ENCRYPTED_DOCUMENT`` when it needs a password to open.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    limits = limits or Limits()
    bytes_in = src.stat().st_size
    with _open(src) as pdf:
        pages, repaired = _read_pages(pdf, src)
        if find_signatures(pdf, src).intact:
            return _keep_input(src, dest, pages, SIGNED, [_SIGNED_WARNING])
        warnings = [_REPAIRED_WARNING] if repaired else []
        passes, notes = _run_passes(pdf, profile, limits, src)
        bytes_out, kept_input = save_guarded(pdf, src, dest, bytes_in)
    warnings += notes  # true of the input too: what was kept as it was
    if kept_input:  # the guard has copied the input to dest
        return _kept(src, pages, NOT_SMALLER, [*warnings, _NOT_SMALLER_WARNING])
    problem = output_problem(reopen(dest), repaired, pages)
    if problem is not None:
        note = (
            f"The compressed copy failed its check ({problem}), so the PDF is published as it was."
        )
        return _keep_input(src, dest, pages, OUTPUT_UNREADABLE, [*warnings, note])
    if passes.get("output_intents", PassResult("removed")).count:
        warnings.append(
            "The PDF/X print output intent was removed: this copy is for reading on screen, "
            "not for a printing press."
        )
    return Compressed(
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        pages=pages,
        kept_input=False,
        warnings=tuple(warnings),
        passes=passes,
    )


def _open(src: Path) -> pikepdf.Pdf:
    import pikepdf

    try:
        return pikepdf.open(src)
    except pikepdf.PasswordError:
        raise DocumentError(
            ErrorCode.ENCRYPTED_DOCUMENT, "The PDF is protected by a password and cannot be opened."
        ) from None
    except (pikepdf.PdfError, RuntimeError, ValueError) as error:
        raise _unreadable(error, src) from None


def _unreadable(error: Exception, src: Path) -> DocumentError:
    return DocumentError(
        ErrorCode.CORRUPT_DOCUMENT, f"The PDF cannot be read: {qpdf_message(error, src)}."
    )


def _read_pages(pdf: pikepdf.Pdf, src: Path) -> tuple[int, bool]:
    """Returns the page count and whether qpdf had to repair the file to read it.

    Raises:
        DocumentError: ``CORRUPT_DOCUMENT`` when qpdf finds no page (nothing to publish).
    """
    import pikepdf

    try:
        pages = len(pdf.pages)
    except (pikepdf.PdfError, RuntimeError, ValueError) as error:
        raise _unreadable(error, src) from None
    if pages == 0:
        raise DocumentError(ErrorCode.CORRUPT_DOCUMENT, "The PDF cannot be read: it has no pages.")
    return pages, bool(pdf.get_warnings())  # qpdf's warnings so far are its repairs


def _run_passes(
    pdf: pikepdf.Pdf, profile: str, limits: Limits, src: Path
) -> tuple[dict[str, PassResult], list[str]]:
    """Runs the profile's passes; returns what each did and sentences for a person."""
    import pikepdf

    passes: dict[str, PassResult] = {}
    notes: list[str] = []
    try:
        unknown = unknown_filters(pdf)
        oversized = oversized_streams(pdf)
        written: set[tuple[int, int]] = set()
        if not oversized:
            if profile != "lossless":
                written = _lossy_passes(pdf, profile, limits, passes, notes)
            remove_unreferenced_resources(pdf)
        passes["sharing"] = share_identical_streams(pdf)
        passes["streams"] = recompress_flate(pdf, skip=written)
    except pikepdf.PdfError as error:
        raise _unreadable(error, src) from None
    if oversized:
        notes.append(
            f"{oversized} stream(s) of the PDF expand to more than "
            f"{MAX_DECODED_BYTES >> 20} MB; only its streams were recompressed, and its "
            "pages, images and fonts were kept as they were."
        )
    if unknown:
        notes.append(
            f"The PDF uses the {', '.join(unknown)} filter(s), which are not supported; "
            "the data that uses them was kept as it was."
        )
    elif pdf.get_warnings():
        notes.append("Part of the PDF's content could not be read; it was kept as it was.")
    return passes, notes


def _lossy_passes(
    pdf: pikepdf.Pdf,
    profile: str,
    limits: Limits,
    passes: dict[str, PassResult],
    notes: list[str],
) -> set[tuple[int, int]]:
    """Runs the passes of ``ebook`` and ``screen``; returns the streams the image pass wrote."""
    report = compress_images(pdf, profile, limits.max_image_pixels)
    notes.extend(_image_warnings(report, limits))
    passes["images"] = PassResult(
        "rewritten", report.images_rewritten, report.bytes_before, report.bytes_after
    )
    passes["colour"] = PassResult("removed", drop_unused_default_cmyk(pdf))
    passes["private_data"] = PassResult("removed", drop_private_data(pdf))
    passes["output_intents"] = PassResult("removed", int(drop_print_output_intents(pdf)))
    fonts = font_dictionaries(pdf)  # walks every object: once for both passes
    subset = subset_fonts(pdf, fonts)
    passes["fonts"] = PassResult(
        "subset", subset.fonts_subset, subset.bytes_before, subset.bytes_after
    )
    converted = convert_type1_fonts(pdf, fonts)
    passes["type1"] = PassResult(
        "converted", converted.programs_converted, converted.bytes_before, converted.bytes_after
    )
    return report.rewritten


def _keep_input(src: Path, dest: Path, pages: int, because: str, warnings: list[str]) -> Compressed:
    """Publishes a byte copy of the input (qpdf has read all its ``pages``)."""
    with atomic_writer(dest) as handle, open(src, "rb") as original:
        shutil.copyfileobj(original, handle, 1 << 20)
    return _kept(src, pages, because, warnings)


def _kept(src: Path, pages: int, because: str, warnings: list[str]) -> Compressed:
    size = src.stat().st_size
    return Compressed(
        bytes_in=size,
        bytes_out=size,
        pages=pages,
        kept_input=True,
        kept_because=because,
        warnings=tuple(warnings),
    )


def _image_warnings(report: ImageReport, limits: Limits) -> list[str]:
    warnings = []
    if report.skipped_too_large:
        warnings.append(
            f"{len(report.skipped_too_large)} image(s) exceed the pixel limit "
            f"({limits.max_image_pixels:,} pixels) and were kept as they were."
        )
    if report.skipped_too_big_to_decode:
        warnings.append(
            f"{len(report.skipped_too_big_to_decode)} image(s) are too large to re-encode in "
            "memory and were kept as they were."
        )
    if report.skipped_unreadable:
        warnings.append(
            f"{len(report.skipped_unreadable)} image(s) have damaged data and were kept "
            "as they were."
        )
    return warnings
