"""How a lossy profile treats images, and what the image pass reports."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class ImagePolicy:
    """How a lossy profile treats images.

    Attributes:
        target_dpi: Resolution images are downsampled to.
        threshold: Images are downsampled only above ``target_dpi * threshold``, so that
            an image just over the target is not resampled for a marginal gain.
        jpeg_quality: Quality of re-encoded photos.
        requality_above: A JPEG whose estimated quality is above this is re-encoded even
            when it needs no downsampling.
    """

    target_dpi: float
    threshold: float
    jpeg_quality: int
    requality_above: int


POLICIES = {
    "ebook": ImagePolicy(target_dpi=150, threshold=1.25, jpeg_quality=75, requality_above=85),
    "screen": ImagePolicy(target_dpi=96, threshold=1.25, jpeg_quality=60, requality_above=70),
}


@dataclass
class ImageReport:
    """What the image pass did, for the result's warnings and the benchmarks."""

    images_seen: int = 0
    images_rewritten: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    # Images over the configured pixel limit, and images under it too large to decode in
    # memory (over 256 MB decoded, not reducible by strips).
    skipped_too_large: list[str] = field(default_factory=list)
    skipped_too_big_to_decode: list[str] = field(default_factory=list)
    skipped_unreadable: list[str] = field(default_factory=list)
    # objgen of every stream this pass wrote (images and their resized soft masks). Their
    # data is final (JPEG, or Flate at deflate_level), so the recompression skips them.
    rewritten: set[tuple[int, int]] = field(default_factory=set)


# Standard IJG luminance quantisation table (quality 50), to estimate a JPEG's quality.
_IJG_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


def estimate_jpeg_quality(image: Image.Image) -> int | None:
    """Estimates the IJG quality a JPEG was saved with, from its luminance table."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return None
    table = list(tables[0])
    if len(table) != 64:
        return None
    # Pillow gives tables in zigzag or natural order depending on version; the mean
    # scale is the same either way.
    scale = sum(q * 100 / s for q, s in zip(table, _IJG_LUMINANCE, strict=True)) / 64
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))


def target_size(
    policy: ImagePolicy, width: int, height: int, width_pt: float, height_pt: float
) -> tuple[int, int]:
    """Returns the pixel size an image drawn at most ``width_pt`` x ``height_pt`` should have."""
    if width_pt <= 0 or height_pt <= 0:
        return width, height
    dpi_x = width / (width_pt / 72)
    dpi_y = height / (height_pt / 72)
    limit = policy.target_dpi * policy.threshold
    if dpi_x <= limit and dpi_y <= limit:
        return width, height
    new_w = min(width, max(1, math.ceil(width_pt / 72 * policy.target_dpi)))
    new_h = min(height, max(1, math.ceil(height_pt / 72 * policy.target_dpi)))
    return new_w, new_h
