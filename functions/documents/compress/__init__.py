"""Compress: the compress stage's document code, a PDF in, a smaller PDF of the same structure out.

What flows through it: a normalised PDF and a profile name go in; a compressed copy is
written atomically to the destination, and a :class:`Compressed` value says what was
done. :mod:`.profiles` runs the passes in order on one open ``pikepdf.Pdf``:

- ``ebook`` and ``screen`` only: the image pass (:mod:`.images`), default CMYK profiles
  nothing paints with any more (:mod:`.colour`), private application data and PDF/X
  print output intents (:mod:`.print_data`), font subsetting (:mod:`.fonts`) and Type 1
  programs re-embedded as CFF (:mod:`.type1`, reading with :mod:`.type1_parse`, writing
  with :mod:`.type1_cff`);
- every profile: unused resources dropped and identical streams shared
  (:mod:`.sharing`), Flate streams recompressed (:mod:`.streams`, deflating with
  :mod:`.deflate`), and the guarded save (:mod:`.save`: object streams where the claimed
  standards allow them; the input kept when the result would not be smaller).

``lossless`` never touches pixels or font programs. The decisions and their measurements
are in docs/ARCHITECTURE.md, "Document code".
"""

from functions.documents.compress.profiles import Compressed, compress_pdf

__all__ = ["Compressed", "compress_pdf"]
