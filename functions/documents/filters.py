"""The stream filters of the PDF standard, and the other ones a file names.

A filter outside ISO 32000 (a newer one, such as Brotli) is valid PDF syntax that
neither qpdf nor pypdf decodes: a document that depends on one is "not supported", not
"damaged" (docs/ARCHITECTURE.md, "Document code").
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path

#: Filters of ISO 32000, and their abbreviations (valid in inline images, and read by
#: qpdf in streams too).
STANDARD_FILTERS = frozenset(
    {"/ASCIIHexDecode", "/ASCII85Decode", "/LZWDecode", "/FlateDecode", "/RunLengthDecode",
     "/CCITTFaxDecode", "/JBIG2Decode", "/DCTDecode", "/JPXDecode", "/Crypt",
     "/AHx", "/A85", "/LZW", "/Fl", "/RL", "/CCF", "/DCT"}
)  # fmt: skip

# /Filter followed by a name or an array of names.
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]{0,256}\]|/[^\s/\[\]<>()%]{1,64})")
_NAME = re.compile(rb"/[^\s/\[\]<>()%]{1,64}")


def unknown_filters_in_file(path: Path) -> list[str]:
    """Returns the non-standard filter names the file at ``path`` names anywhere in its
    uncompressed syntax (read without parsing: for a file qpdf cannot open)."""
    found: set[str] = set()
    with open(path, "rb") as handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return []
        with data:
            for match in _FILTER.finditer(data):
                for name in _NAME.findall(match.group(1)):
                    text = name.decode("latin-1")
                    if text not in STANDARD_FILTERS:
                        found.add(text)
    return sorted(found)
