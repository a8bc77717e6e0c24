"""What a PDF holds that the passes must not touch: oversized content, unknown filters.

Most passes parse page content (qpdf's resource pruning, the image placements, the
colour check) or decode font programs, and qpdf holds a decoded stream whole in memory.
A Flate stream can expand a thousandfold (1 GiB of spaces in a 1 MiB file), so before
any pass runs, each stream that could expand beyond :data:`MAX_DECODED_BYTES` is
inflated by chunks and counted; a document with such a stream gets only the passes
whose memory is bounded by design (identical streams shared, Flate recompressed by
chunks) and the save. Filters outside the PDF standard (a newer one, such as Brotli)
cannot be decoded: streams using them are kept as they are, and the warning says
"not supported", not "damaged".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.documents.compress.deflate import inflate_windows
from functions.documents.filters import STANDARD_FILTERS

if TYPE_CHECKING:
    import pikepdf

#: Largest decoded stream the content-parsing passes may meet (a 60 MB drawing is the
#: largest content stream seen in the corpus).
MAX_DECODED_BYTES = 128 << 20
# Flate expands at most about 1032:1; a smaller stream cannot exceed the limit.
_MAX_FLATE_RATIO = 1032


def oversized_streams(pdf: pikepdf.Pdf) -> int:
    """Counts the Flate streams whose data decodes to more than :data:`MAX_DECODED_BYTES`."""
    import pikepdf

    found = 0
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or obj.get("/Subtype") == "/Image":
            continue  # images are decoded by strips or not at all, under their own limit
        filters = obj.get("/Filter")
        names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)]
        if "/FlateDecode" not in names and "/Fl" not in names:
            continue
        raw = obj.read_raw_bytes()
        if len(raw) * _MAX_FLATE_RATIO > MAX_DECODED_BYTES and _inflates_beyond(
            raw, MAX_DECODED_BYTES
        ):
            found += 1
    return found


def _inflates_beyond(raw: bytes, limit: int) -> bool:
    """Tells whether Flate data decodes to more than ``limit`` bytes, holding a window."""
    total = 0
    try:
        for data in inflate_windows(raw):
            total += len(data)
            if total > limit:
                return True
    except ValueError:
        return False  # damaged data: qpdf copies it as it is
    return False


def unknown_filters(pdf: pikepdf.Pdf) -> list[str]:
    """Returns the filter names outside the PDF standard that the document's streams use."""
    import pikepdf

    found: set[str] = set()
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        filters = obj.get("/Filter")
        items = list(filters) if isinstance(filters, pikepdf.Array) else [filters]
        found.update(
            str(item)
            for item in items
            if isinstance(item, pikepdf.Name) and str(item) not in STANDARD_FILTERS
        )
    return sorted(found)
