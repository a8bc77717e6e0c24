"""Digital signatures: found in a PDF's form, and whether each still covers the file's bytes.

A signature field (``/FT /Sig``) whose value (``/V``) is a signature dictionary signs the
bytes its ``/ByteRange`` names: everything but the ``/Contents`` hex string that holds
the signature. Any rewrite of the file moves those bytes and breaks it. A signature is
*intact* here when its byte range still has that shape in this file (it starts at 0,
the gap between its two parts is exactly a ``<...>`` hex string, and it ends inside the
file); the cryptography itself is not checked: docpipe never changes an intact
signature's bytes, so its validity is whatever it was (docs/ARCHITECTURE.md, "Signed
documents").
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf

#: How deep the form-field tree is followed.
_MAX_DEPTH = 64


@dataclass(frozen=True)
class Signatures:
    """The signatures of one PDF.

    Attributes:
        count: Signature fields that hold a signature.
        intact: Of those, the ones whose byte range still matches the file.
    """

    count: int = 0
    intact: int = 0

    def to_json(self) -> dict[str, int]:
        """The form facts.json and the manifest record."""
        return {"count": self.count, "intact": self.intact}


def find_signatures(pdf: pikepdf.Pdf, path: Path) -> Signatures:
    """Returns the signatures of the open ``pdf``, whose file is ``path``."""
    ranges = [_byte_range(value) for value in _signature_values(pdf)]
    if not ranges:
        return Signatures()
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        intact = sum(1 for byte_range in ranges if byte_range and _covers(byte_range, data))
    return Signatures(count=len(ranges), intact=intact)


def _signature_values(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    """The ``/V`` signature dictionaries of the form's signature fields."""
    import pikepdf

    form = pdf.Root.get("/AcroForm")
    fields = form.get("/Fields") if isinstance(form, pikepdf.Dictionary) else None
    found: list[pikepdf.Dictionary] = []
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int, Any]] = [(fields, 0, None)]
    while stack:
        nodes, depth, inherited_type = stack.pop()
        if not isinstance(nodes, pikepdf.Array) or depth > _MAX_DEPTH:
            continue
        for node in nodes:
            if not isinstance(node, pikepdf.Dictionary):
                continue
            if node.is_indirect:
                if node.objgen in seen:
                    continue
                seen.add(node.objgen)
            field_type = node.get("/FT", inherited_type)
            value = node.get("/V")
            if field_type == "/Sig" and isinstance(value, pikepdf.Dictionary):
                found.append(value)
            stack.append((node.get("/Kids"), depth + 1, field_type))
    return found


def _byte_range(value: pikepdf.Dictionary) -> tuple[int, int, int, int] | None:
    try:
        numbers = [int(item) for item in value.get("/ByteRange", [])]
    except (TypeError, ValueError):
        return None
    if len(numbers) != 4:
        return None
    return numbers[0], numbers[1], numbers[2], numbers[3]


def _covers(byte_range: tuple[int, int, int, int], data: mmap.mmap) -> bool:
    start, first, second, length = byte_range
    size = len(data)
    return (
        start == 0
        and 0 < first < second <= size
        and second + length <= size
        and data[first : first + 1] == b"<"
        and data[second - 1 : second] == b">"
    )
