"""A minimal, streaming PDF writer for pages that each show one image.

Why not a library: Pillow's PDF writer hex-encodes palette images (up to 200 times
larger) and re-encodes JPEGs; pikepdf and pypdf hold every image stream in memory until
the whole document is saved. Image pages need four kinds of object (catalog, page tree,
page, image with its content stream), so writing them directly keeps memory at one
frame, lets a JPEG be copied byte for byte from its file, and makes the output
deterministic. Tests check every file it writes with qpdf (pikepdf) and pypdf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import IO

#: Object numbers fixed up front: the catalog, and the page tree written last (its
#: /Kids are known only then).
_CATALOG = 1
_PAGES = 2


def pdf_number(value: float) -> bytes:
    """Formats a number as PDF accepts it: no exponent, at most four decimals."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("", "-0") else "0").encode("ascii")


def pdf_array(values: Iterable[float]) -> bytes:
    """Formats numbers as a PDF array."""
    return b"[" + b" ".join(pdf_number(v) for v in values) + b"]"


class ImagePdfWriter:
    """Writes a PDF to an open binary file, one object at a time.

    Objects are written as soon as they are added; only their offsets are kept. Call
    :meth:`finish` once, after the last page.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._out = handle
        self._offsets: dict[int, int] = {}
        self._next = _PAGES + 1
        self._pages: list[int] = []
        self._shared: dict[bytes, int] = {}
        self._position = 0
        # The binary comment marks the file as binary for transfer tools (PDF 7.5.2).
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._position += len(data)

    def _reserve(self) -> int:
        number = self._next
        self._next += 1
        return number

    def _begin(self, number: int) -> None:
        self._offsets[number] = self._position
        self._write(b"%d 0 obj\n" % number)

    def add_object(self, body: bytes) -> int:
        """Writes a non-stream object; returns its object number."""
        number = self._reserve()
        self._begin(number)
        self._write(body + b"\nendobj\n")
        return number

    def add_stream(
        self,
        entries: bytes,
        length: int,
        write_data: Callable[[Callable[[bytes], None]], None],
    ) -> int:
        """Writes a stream object whose data ``write_data`` produces in chunks.

        Args:
            entries: The stream dictionary's entries, without ``<<``, ``>>`` or /Length.
            length: The exact number of bytes ``write_data`` writes.
            write_data: Called with a function that writes one chunk of the data.

        Raises:
            ValueError: ``write_data`` wrote a different number of bytes than ``length``.
        """
        number = self._reserve()
        self._begin(number)
        self._write(b"<< " + entries + b" /Length %d >>\nstream\n" % length)
        start = self._position
        write_data(self._write)
        if self._position - start != length:
            raise ValueError(f"stream {number} wrote {self._position - start} of {length} bytes")
        self._write(b"\nendstream\nendobj\n")
        return number

    def add_bytes_stream(self, entries: bytes, data: bytes) -> int:
        """Writes a stream object whose data is in memory."""
        return self.add_stream(entries, len(data), lambda write: write(data))

    def add_shared_stream(self, entries: bytes, data: bytes) -> int:
        """Writes a stream once per distinct content (e.g. an ICC profile used by many pages)."""
        key = hashlib.sha256(entries + b"\0" + data).digest()
        if key not in self._shared:
            self._shared[key] = self.add_bytes_stream(entries, data)
        return self._shared[key]

    def add_page(self, width: float, height: float, resources: bytes, content: bytes) -> int:
        """Writes a page of ``width`` by ``height`` points drawing ``content``."""
        contents = self.add_bytes_stream(b"", content)
        number = self.add_object(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources %s "
            b"/Contents %d 0 R >>"
            % (_PAGES, pdf_number(width), pdf_number(height), resources, contents)
        )
        self._pages.append(number)
        return number

    @property
    def page_count(self) -> int:
        """The number of pages added so far."""
        return len(self._pages)

    def finish(self) -> None:
        """Writes the page tree, the catalog, the cross-reference table and the trailer."""
        kids = b" ".join(b"%d 0 R" % page for page in self._pages)
        self._begin(_PAGES)
        self._write(b"<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (kids, len(self._pages)))
        self._begin(_CATALOG)
        self._write(b"<< /Type /Catalog /Pages %d 0 R >>\nendobj\n" % _PAGES)
        xref = self._position
        size = self._next
        self._write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        # Every entry is exactly 20 bytes, as the table format requires (PDF 7.5.4).
        self._write(b"".join(b"%010d 00000 n \n" % self._offsets[n] for n in range(1, size)))
        self._write(b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (size, _CATALOG))
        self._write(b"startxref\n%d\n%%%%EOF\n" % xref)
