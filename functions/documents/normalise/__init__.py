"""Normalise: the transform stage's document code, any supported document in, one clean PDF out.

What flows through it: a sniffed source file (``kind`` is one of
:data:`functions.sniff.DOCUMENT_TYPES`) and the limits go in; an empty directory receives::

    document.pdf   the document (a clean PDF source is copied byte for byte)
    text.txt       the text, pages separated by form feeds; only when there is any
    facts.json     what was found and done (see :class:`Normalised`)

The way there (:mod:`.stage` chooses it):

- an image becomes one page per frame (:mod:`.images`: frames and their pixel limits,
  page placement, JPEG embedding, Flate/PNG data, colour spaces), written by the
  streaming :mod:`.pdfwriter`;
- a PDF is opened and repaired with qpdf (:mod:`.repair`), its active content removed
  (:mod:`.active_content`), described (:mod:`.facts`), copied or rewritten, and its text
  extracted page by page (:mod:`.text`).

OCR of pages without text lives beside this package, in ``functions/documents/ocr``.
See docs/ARCHITECTURE.md, "Document code".
"""

from functions.documents.normalise.stage import (
    DOCUMENT,
    FACTS,
    PAGE_BREAK,
    TEXT,
    Normalised,
    normalise,
)

__all__ = ["DOCUMENT", "FACTS", "PAGE_BREAK", "TEXT", "Normalised", "normalise"]
