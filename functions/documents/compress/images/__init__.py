"""The image pass of the lossy profiles: find where each image is drawn, then shrink it.

Image re-encoding is the one big lever for lossy compression (docs/ARCHITECTURE.md,
"Document code"), so this pass is built for speed and for keeping the document intact.
What flows through it: an open ``pikepdf.Pdf`` and a profile's :class:`.policy.ImagePolicy`
in; the same document with smaller images, and an :class:`.policy.ImageReport`, out.

- :mod:`.placements` parses each page's content once (qpdf, in C++) to learn the largest
  size every image XObject is drawn at, following Form XObjects;
- :mod:`.rewriter` takes each image once: :mod:`.policy` gives its target size,
  :mod:`.encode` re-encodes it (JPEG for photos, told apart by :mod:`.photo`; Flate for
  drawings), large Flate images are reduced by strips in bounded memory
  (:mod:`.strips`), soft masks follow their image losslessly (:mod:`.masks`);
- 8-bit ``/Indexed`` images whose palette is photo-like become JPEGs in their base
  colour space (:mod:`.palette`); palette drawings keep their exact colours;
- CMYK photos whose colours an ICC profile gives (``/ICCBased``, or ``/DeviceCMYK``
  drawn under an ICC ``/DefaultCMYK``) are converted through it to sRGB JPEGs
  (:mod:`.colour`), so that no image needs the profile any more;
- ``/SMask`` soft masks are resized with their image and kept lossless; bilevel images,
  stencil masks, JBIG2, CCITT and JPEG 2000 images are left as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.documents.compress.images.placements import PlacementFinder
from functions.documents.compress.images.policy import POLICIES, ImagePolicy, ImageReport
from functions.documents.compress.images.rewriter import ImageRewriter

if TYPE_CHECKING:
    import pikepdf

__all__ = [
    "POLICIES",
    "ImagePolicy",
    "ImageReport",
    "ImageRewriter",
    "PlacementFinder",
    "compress_images",
]


def compress_images(pdf: pikepdf.Pdf, profile: str, max_pixels: int) -> ImageReport:
    """Runs the image pass of a lossy ``profile`` over every page of ``pdf``."""
    finder = PlacementFinder()
    for page in pdf.pages:
        finder.add_page(page)
    return ImageRewriter(pdf, POLICIES[profile], max_pixels).run(finder)
