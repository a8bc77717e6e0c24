"""Where an image goes on its page: the page size from its resolution, turned by its
orientation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A resolution outside this range (dots per inch) is a placeholder, not a measurement.
_DPI_RANGE = (20.0, 10_000.0)


#: Acrobat's largest page side (200 inches); a resolution giving more is not plausible.
_MAX_PAGE_POINTS = 14_400.0


#: Without a plausible resolution, small images show at screen size and larger ones
#: are fitted to an A4 page in their own orientation.
_SCREEN_DPI = 96.0


_A4_INCHES = (8.27, 11.69)


@dataclass(frozen=True)
class Placement:
    """Where one frame goes: the page size and the matrix drawing the image on it."""

    width: float
    height: float
    matrix: tuple[float, float, float, float, float, float]
    dpi: tuple[float, float]
    dpi_source: str


def placement(size: tuple[int, int], dpi: Any, orientation: int = 1) -> Placement:
    """Returns the page for an image of ``size`` pixels with resolution ``dpi``.

    Args:
        size: Width and height in pixels, as stored.
        dpi: The image's (x, y) resolution as Pillow reports it, or None.
        orientation: The EXIF orientation (1-8); 5-8 turn the page a quarter.

    The matrix maps the image's unit square (stored pixels, first row at the top) to the
    page so that it appears as the EXIF orientation says it should.
    """
    width, height = size
    resolution = _plausible_dpi(size, dpi)
    source = "image"
    if resolution is None:
        source = "default"
        short, long = _A4_INCHES
        fit_w, fit_h = (long, short) if width > height else (short, long)
        value = max(_SCREEN_DPI, width / fit_w, height / fit_h)
        resolution = (value, value)
    w = width * 72.0 / resolution[0]
    h = height * 72.0 / resolution[1]
    page_w, page_h = (h, w) if orientation >= 5 else (w, h)
    matrices = {
        1: (w, 0.0, 0.0, h, 0.0, 0.0),
        2: (-w, 0.0, 0.0, h, w, 0.0),
        3: (-w, 0.0, 0.0, -h, w, h),
        4: (w, 0.0, 0.0, -h, 0.0, h),
        5: (0.0, -w, -h, 0.0, h, w),
        6: (0.0, -w, h, 0.0, 0.0, w),
        7: (0.0, w, h, 0.0, 0.0, 0.0),
        8: (0.0, w, -h, 0.0, h, 0.0),
    }
    return Placement(page_w, page_h, matrices.get(orientation, matrices[1]), resolution, source)


def _plausible_dpi(size: tuple[int, int], dpi: Any) -> tuple[float, float] | None:
    try:
        x, y = (float(value) for value in dpi)
    except (TypeError, ValueError):
        return None
    low, high = _DPI_RANGE
    if not (low <= x <= high and low <= y <= high):
        return None
    if size[0] * 72.0 / x > _MAX_PAGE_POINTS or size[1] * 72.0 / y > _MAX_PAGE_POINTS:
        return None
    return (round(x, 4), round(y, 4))
