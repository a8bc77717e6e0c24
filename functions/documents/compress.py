"""The compress stage's document code: a PDF in, a smaller PDF with the same structure out.

Means chosen by measurement (issue 5, ``benchmarks/compress.py``):

- pikepdf (qpdf) writes the document: object streams and cross-reference streams are
  where a lossless rewrite gains, and pypdf cannot write them (rewriting a modern PDF
  with pypdf grows it). qpdf also keeps every page, form field, annotation and outline
  entry, repairs damaged cross-reference tables, and drops unreachable objects.
- ``lossless`` recompresses every Flate stream (with zlib-ng, several times faster than
  qpdf's zlib for the same format; level 9, or 6 for megabytes of image data), removes
  resources that no content stream uses, shares identical streams (fonts, images, forms
  embedded more than once) and packs objects into object streams. Pixels and font
  programs are never touched.
- ``ebook`` and ``screen`` make a copy for reading on screen. They add the image pass of
  :mod:`compress_images` (images drawn above the profile's resolution are downsampled,
  photos re-encoded as JPEG, CMYK photos with a profile converted to sRGB, masks and
  bilevel scans kept lossless), subset embedded fonts to the glyphs their codes reach
  (:mod:`compress_fonts`), re-embed Type 1 fonts as CFF (:mod:`compress_type1`), and
  drop what only a printing press or another application reads: PDF/X output intents,
  default CMYK profiles nothing paints with any more (:mod:`compress_colour`) and
  ``/PieceInfo``. Pages, form fields, annotations, outlines and text are kept.
- A result that would not be smaller than its input is replaced by a byte copy of the
  input, so the stage never makes a document bigger.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from functions.documents.compress_colour import drop_unused_default_cmyk
from functions.documents.compress_fonts import font_dictionaries, subset_fonts
from functions.documents.compress_type1 import convert_type1_fonts
from functions.errors import DocumentError, ErrorCode
from functions.settings import PROFILES, Limits
from functions.workspace import atomic_writer

if TYPE_CHECKING:
    import pikepdf

    from functions.documents.compress_images import ImageReport

# Streams smaller than this are not worth hashing for duplicates: their share of any
# real document is negligible, and there are many of them.
_MIN_DEDUP_BYTES = 256


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
            ErrorCode.CORRUPT_DOCUMENT, f"The PDF cannot be read: {_first_line(error, src)}."
        ) from None
    with pdf:
        try:
            pages = len(pdf.pages)
            written: set[tuple[int, int]] = set()
            removed_intent = False
            if profile != "lossless":
                report = _compress_images(pdf, profile, limits)
                warnings.extend(_image_warnings(report))
                written |= report.rewritten
                drop_unused_default_cmyk(pdf)
                _drop_private_data(pdf)
                if _drop_print_output_intents(pdf):
                    removed_intent = True
                fonts = font_dictionaries(pdf)  # walks every object: once for both passes
                subset_fonts(pdf, fonts)
                convert_type1_fonts(pdf, fonts)
            _remove_unreferenced_resources(pdf)
            _share_identical_streams(pdf)
            _recompress_flate(pdf, skip=written)
        except pikepdf.PdfError as error:
            raise DocumentError(
                ErrorCode.CORRUPT_DOCUMENT, f"The PDF cannot be read: {_first_line(error, src)}."
            ) from None
        if pdf.get_warnings():
            warnings.append("The PDF was damaged; its structure was repaired while compressing.")
        bytes_out, kept_input = _save_guarded(pdf, src, dest, bytes_in)
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


def _first_line(error: Exception, path: Path) -> str:
    """Returns qpdf's message without the file name it starts with (a workspace path)."""
    text = str(error).strip().splitlines()
    line = text[0].rstrip(".") if text else type(error).__name__
    for prefix in (f"{path}: ", f"{path.name}: "):
        line = line.removeprefix(prefix)
    return line


def _compress_images(pdf: pikepdf.Pdf, profile: str, limits: Limits) -> ImageReport:
    from functions.documents.compress_images import POLICIES, ImageRewriter, PlacementFinder

    finder = PlacementFinder()
    for page in pdf.pages:
        finder.add_page(page)
    return ImageRewriter(pdf, POLICIES[profile], limits.max_image_pixels).run(finder)


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


def _drop_private_data(pdf: pikepdf.Pdf) -> None:
    """Removes ``/PieceInfo``: other applications' private editing data (PDF 14.5).

    Illustrator and others keep a whole copy of their native document there (megabytes,
    in one corpus file half the PDF); viewers never read it. Acrobat's optimiser and
    ghostscript drop it too. Only the lossy profiles do, since it is not ours to discard
    in ``lossless``, which promises the document is otherwise untouched.
    """
    import pikepdf

    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream) and "/PieceInfo" in obj:
            del obj["/PieceInfo"]


def _drop_print_output_intents(pdf: pikepdf.Pdf) -> bool:
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


def _remove_unreferenced_resources(pdf: pikepdf.Pdf) -> None:
    """Drops page resources (fonts, images, forms) that no content stream draws.

    Producers often give every page the document's whole resource dictionary; qpdf
    keeps a resource a page's content names and drops only the rest.
    """
    pdf.remove_unreferenced_resources()


def _share_identical_streams(pdf: pikepdf.Pdf) -> None:
    """Makes identical streams one object, so that the saved file holds each once.

    Documents assembled from parts (merged reports, mail merges, scanned batches) embed
    the same font program, logo or form many times. A stream is a duplicate of another
    when its dictionary (apart from ``/Length``) and its raw bytes are equal; references
    to it are redirected to the first, and the duplicates become unreachable, so qpdf
    does not write them.
    """
    import pikepdf

    first: dict[bytes, pikepdf.Object] = {}
    duplicate_of: dict[tuple[int, int], pikepdf.Object] = {}
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        raw = obj.read_raw_bytes()
        if len(raw) < _MIN_DEDUP_BYTES:
            continue
        digest = hashlib.sha256(raw)
        digest.update(_dictionary_key(obj))
        key = digest.digest()
        if key in first:
            duplicate_of[obj.objgen] = first[key]
        else:
            first[key] = obj
    if not duplicate_of:
        return
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream | pikepdf.Array):
            _redirect(obj, duplicate_of)
    for page in pdf.pages:
        _redirect(page.obj, duplicate_of)
    _redirect(pdf.trailer, duplicate_of)


def _dictionary_key(stream: pikepdf.Stream) -> bytes:
    """Returns the stream dictionary without ``/Length``, serialised for comparison."""
    items = sorted((str(key), value) for key, value in stream.stream_dict.items())
    return repr([(key, _unparse(value)) for key, value in items if key != "/Length"]).encode()


def _unparse(value: object) -> bytes | object:
    import pikepdf

    if isinstance(value, pikepdf.Object):
        return value.unparse()
    return value


def _redirect(
    container: pikepdf.Object, duplicate_of: dict[tuple[int, int], pikepdf.Object]
) -> None:
    """Points direct children of ``container`` that are duplicates to their original."""
    import pikepdf

    if isinstance(container, pikepdf.Array):
        for index, item in enumerate(container):
            target = _replacement(item, duplicate_of)
            if target is not None:
                container[index] = target
            elif isinstance(item, pikepdf.Dictionary | pikepdf.Array) and not item.is_indirect:
                _redirect(item, duplicate_of)
        return
    for key in list(container.keys()):
        item = container[key]
        target = _replacement(item, duplicate_of)
        if target is not None:
            container[key] = target
        elif isinstance(item, pikepdf.Dictionary | pikepdf.Array) and not item.is_indirect:
            _redirect(item, duplicate_of)


def _replacement(
    item: object, duplicate_of: dict[tuple[int, int], pikepdf.Object]
) -> pikepdf.Object | None:
    import pikepdf

    if isinstance(item, pikepdf.Stream) and item.is_indirect:
        return duplicate_of.get(item.objgen)
    return None


def _recompress_flate(pdf: pikepdf.Pdf, skip: set[tuple[int, int]]) -> None:
    """Recompresses every plain Flate stream, keeping the smaller encoding.

    This is qpdf's ``recompress_flate`` done with zlib-ng, which inflates about five
    times and deflates about twice as fast as the zlib qpdf uses, for the same format
    (measured in ``benchmarks/``); data of megabytes is deflated at level 6 (see
    :func:`deflate_level`). Streams the image pass has just written (``skip``) are not
    done twice. A stream is inflated and deflated by chunks, and
    given up as soon as the new encoding is not smaller, so a highly compressed stream
    (a Flate bomb) never expands in memory. An image with a PNG or TIFF predictor is
    decoded by qpdf and deflated without it, as qpdf does, when its pixels are known to
    fit in ``_PREDICTOR_DECODED_BYTES``; it keeps the smaller encoding. Damaged data is
    left for qpdf to copy as it is.
    """
    import pikepdf

    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or obj.objgen in skip:
            continue
        filters = obj.get("/Filter")
        if isinstance(filters, pikepdf.Array) and len(filters) == 1:
            filters = filters[0]
        if filters != pikepdf.Name.FlateDecode:
            continue
        raw = obj.read_raw_bytes()
        if "/DecodeParms" not in obj or _no_parameters(obj.get("/DecodeParms")):
            smaller = _deflate_smaller(raw, deflate_level(_image_bytes(obj)))
        else:
            smaller = _without_predictor(obj, len(raw))
        if smaller is not None:
            obj.write(smaller, filter=pikepdf.Name.FlateDecode)


# Decoded size from which Flate data is deflated at level 6 rather than 9. Measured on the
# corpus (benchmarks/compress.py): zlib-ng's level 9 takes 7x as long as level 6 on a
# 60 MB drawing for 5 % less, and images of megabytes are where the time goes. With
# this threshold lossless gives 0.896 instead of 0.891 at 8.8 instead of 5.2 MB/s, ebook
# is unchanged (0.536) at 4.9 instead of 4.4 MB/s. Content streams and fonts, smaller
# and where level 9's lazy matching pays, keep level 9.
_LARGE_DEFLATE_BYTES = 1 << 20


def deflate_level(decoded_bytes: int | None) -> int:
    """Returns the Flate level for data of this decoded size (None: not known, small)."""
    return 6 if decoded_bytes is not None and decoded_bytes > _LARGE_DEFLATE_BYTES else 9


def _image_bytes(stream: pikepdf.Stream) -> int | None:
    """Returns an upper bound of an image's decoded size (4 components), None if no image."""
    try:
        if stream.get("/Subtype") != "/Image":
            return None
        width, height = int(stream["/Width"]), int(stream["/Height"])
        bits = int(stream.get("/BitsPerComponent", 8))
    except (KeyError, TypeError, ValueError):
        return None
    return width * height * 4 * max(bits, 1) // 8


# Largest decoded image whose predictor is undone to try it without (qpdf decodes it in
# memory); larger predictor images keep their encoding.
_PREDICTOR_DECODED_BYTES = 64 << 20


def _without_predictor(image: pikepdf.Stream, raw_length: int) -> bytes | None:
    """Returns an image's pixels deflated without its predictor, if that is smaller."""
    import pikepdf
    from zlib_ng import zlib_ng

    try:
        width, height = int(image["/Width"]), int(image["/Height"])
        bits = int(image.get("/BitsPerComponent", 8))
    except (KeyError, TypeError, ValueError):
        return None  # not an image: its size cannot be bounded before decoding
    if image.get("/Subtype") != "/Image" or width * height * 4 * max(bits, 8) // 8 > (
        _PREDICTOR_DECODED_BYTES
    ):
        return None
    try:
        pixels = image.read_bytes()
    except pikepdf.PdfError:
        return None
    compressed = zlib_ng.compress(pixels, deflate_level(len(pixels)))
    return compressed if len(compressed) < raw_length else None


# Compressed bytes fed to the inflater at once, and the most it may expand them to.
_RECOMPRESS_CHUNK = 1 << 20
_RECOMPRESS_WINDOW = 16 << 20


def _no_parameters(parms: object) -> bool:
    import pikepdf

    if isinstance(parms, pikepdf.Array):
        return all(item is None or _no_parameters(item) for item in parms)
    if isinstance(parms, pikepdf.Dictionary):
        return int(parms.get("/Predictor", 1)) == 1
    return parms is None


def _deflate_smaller(raw: bytes, level: int) -> bytes | None:
    """Returns ``raw`` inflated and deflated again at ``level`` if that is smaller, else None."""
    from zlib_ng import zlib_ng

    # zlib-ng's stub declares ``error`` as an instance; it is the exception class.
    inflate_error = cast("type[Exception]", zlib_ng.error)
    inflater = zlib_ng.decompressobj()
    deflater = zlib_ng.compressobj(level)
    out: list[bytes] = []
    size = 0
    view = memoryview(raw)
    try:
        for start in range(0, len(raw), _RECOMPRESS_CHUNK):
            chunk: bytes | memoryview = view[start : start + _RECOMPRESS_CHUNK]
            while chunk:
                data = inflater.decompress(chunk, _RECOMPRESS_WINDOW)
                chunk = inflater.unconsumed_tail
                compressed = deflater.compress(data)
                size += len(compressed)
                if size >= len(raw):
                    return None
                out.append(compressed)
                if inflater.eof:
                    break
            if inflater.eof:
                break
    except inflate_error:
        return None
    if not inflater.eof:
        return None  # truncated data: qpdf copies it as it is
    tail = deflater.flush()
    if size + len(tail) >= len(raw):
        return None
    out.append(tail)
    return b"".join(out)


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


def _save_guarded(pdf: pikepdf.Pdf, src: Path, dest: Path, bytes_in: int) -> tuple[int, bool]:
    """Saves ``pdf`` to ``dest``, or copies ``src`` there if the result is not smaller.

    Returns:
        The size written and whether it is the input's copy.
    """
    import pikepdf

    pikepdf.settings.set_flate_compression_level(9)
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
                # Flate streams were recompressed by _recompress_flate (faster); qpdf
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
                f"The PDF cannot be rewritten: {_first_line(error, src)}.",
            ) from None
        size = handle.tell()
        if size < bytes_in:
            return size, False
        handle.seek(0)
        handle.truncate()
        with open(src, "rb") as original:
            shutil.copyfileobj(original, handle, 1 << 20)
        return bytes_in, True
