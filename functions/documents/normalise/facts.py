"""The facts recorded about an opened PDF: version, producer, page sizes, image count."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.documents.normalise.pdf_objects import MAX_TREE_DEPTH, as_array, as_dict
from functions.documents.normalise.repair import OpenedPdf, corrupt_pdf

if TYPE_CHECKING:
    import pikepdf


def describe(opened: OpenedPdf) -> dict[str, Any]:
    """Returns the facts about an opened PDF: version, producer, page sizes, images.

    Raises:
        DocumentError: ``CORRUPT_DOCUMENT`` if qpdf cannot resolve the objects involved.
    """
    import pikepdf

    try:
        return _describe(opened.pdf)
    except (pikepdf.PdfError, RuntimeError) as err:
        raise corrupt_pdf() from err


def _describe(pdf: pikepdf.Pdf) -> dict[str, Any]:
    import pikepdf

    sizes: list[list[float] | None] = []
    images: set[tuple[int, int]] = set()
    direct_images = 0
    for page in pdf.pages:
        sizes.append(_page_size(page.obj))
        resources = as_dict(page.obj.get("/Resources"))
        xobjects = as_dict(resources.get("/XObject")) if resources is not None else None
        for value in xobjects.values() if xobjects is not None else []:
            if isinstance(value, pikepdf.Stream) and value.get("/Subtype") == pikepdf.Name.Image:
                if value.is_indirect:
                    images.add(value.objgen)
                else:
                    direct_images += 1
    info = as_dict(pdf.trailer.get("/Info"))
    producer = info.get("/Producer") if info is not None else None
    return {
        "pdf_version": str(pdf.pdf_version),
        "producer": str(producer)[:200] if isinstance(producer, pikepdf.String) else None,
        "page_sizes": sizes,
        "image_count": len(images) + direct_images,
    }


def _page_size(page: pikepdf.Dictionary) -> list[float] | None:
    """A page's displayed width and height in points (MediaBox, turned by /Rotate)."""
    node: pikepdf.Dictionary | None = page
    box = rotate = None
    for _ in range(MAX_TREE_DEPTH):  # both are inherited from the page tree
        if node is None:
            break
        box = box if box is not None else as_array(node.get("/MediaBox"))
        rotate = rotate if rotate is not None else node.get("/Rotate")
        node = as_dict(node.get("/Parent"))
    try:
        x0, y0, x1, y1 = (float(value) for value in box) if box is not None else (0, 0, 0, 0)
        turns = int(rotate) if rotate is not None else 0
    except (TypeError, ValueError):
        return None
    width, height = abs(x1 - x0), abs(y1 - y0)
    if width == 0 or height == 0:
        return None
    if turns % 180 == 90:
        width, height = height, width
    return [round(width, 2), round(height, 2)]
