"""Images become PDF pages: one page per frame, drawn at the image's own resolution.

What flows through it: an image file and its sniffed type in, a PDF written to an open
file out, with one fact record per frame (:class:`.frames.ImageDocument`). Encodings are
chosen so that no image becomes a PDF much larger than itself:

- :mod:`.frames` opens the image with only the Pillow plugin its type allows, refuses a
  frame over the pixel limit from its header before decoding it, and adds a page per
  frame;
- :mod:`.placement` gives the page size from the resolution and turns it by the EXIF or
  TIFF orientation;
- :mod:`.jpeg` embeds a baseline or progressive JPEG as it is (DCTDecode, never
  re-encoded);
- :mod:`.flate` embeds every other frame as the IDAT data of Pillow's PNG encoder
  (Flate with PNG predictors), alpha as a soft mask;
- :mod:`.colour` writes the image dictionary and its colour space (the ICC profile when
  it is small beside the image).
"""

from functions.documents.normalise.images.frames import ImageDocument, image_to_pdf

__all__ = ["ImageDocument", "image_to_pdf"]
