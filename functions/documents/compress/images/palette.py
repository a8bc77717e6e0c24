"""8-bit ``/Indexed`` images: the palette that expands one to its base colour space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.documents.compress.images.spaces import space_components

if TYPE_CHECKING:
    import pikepdf


@dataclass(frozen=True)
class Palette:
    """An ``/Indexed`` colour space whose image can be expanded to its base colour space.

    Attributes:
        base: The base colour space object, given to the image when it is expanded.
        components: Colour components of the base colour space (1, 3 or 4).
        lookup: One table of 256 entries per component: the component's value for each
            index. Indices above ``hival`` take the last entry, as PDF readers do.
    """

    base: Any
    components: int
    lookup: tuple[bytes, ...]


def indexed_palette(pdf_image: pikepdf.Stream) -> Palette | None:
    """Returns the palette of an 8-bit ``/Indexed`` image when expanding it is safe."""
    import pikepdf

    space = pdf_image.get("/ColorSpace")
    if not (isinstance(space, pikepdf.Array) and len(space) == 4 and space[0] == "/Indexed"):
        return None
    decode = pdf_image.get("/Decode")
    try:
        if decode is not None and [float(v) for v in decode] != [0.0, 255.0]:
            return None  # an unusual index mapping: rare, and not worth the risk
        hival = int(space[2])
    except (TypeError, ValueError):
        return None
    base = space[1]
    components = space_components(base)
    table = space[3]
    try:
        data = table.read_bytes() if isinstance(table, pikepdf.Stream) else bytes(table)
    except (TypeError, pikepdf.PdfError):
        return None
    if components is None or not 0 <= hival <= 255 or len(data) < (hival + 1) * components:
        return None
    entries = [data[i * components : (i + 1) * components] for i in range(hival + 1)]
    entries += [entries[-1]] * (255 - hival)
    lookup = tuple(bytes(entry[c] for entry in entries) for c in range(components))
    return Palette(base=base, components=components, lookup=lookup)
