"""Simple pages of the shared corpus for ``benchmarks/ocr.py``: real born-digital pages
whose text is known from their own text layer.

Which pages (the rule, applied in this order):

1. Documents: the corpus's PDFs (``MANIFEST.tsv``) that are not encrypted, have no form
   fields, and whose images cover at most half the page area on average: born-digital,
   not scans that carry an OCR layer (``pk_sandwich``) and not forms.
2. Pages: the text layer, read with PDFium, has at least :data:`MIN_WORDS` words, and at
   most :data:`MAX_NON_ASCII` of its characters are outside ASCII (the ``eng`` model;
   this leaves out German and formula-heavy pages).
3. Not a table of contents or an index: fewer than :data:`MAX_NUMBERED_LINES` of its
   lines end in a number (a page number after a title or a term), and no line is a
   dot leader.
4. Pages whose reference text is identical to an earlier page's are counted once.

The reference is the text layer in PDFium's order (a two-column page reads column by
column, as Tesseract does), NFKC-normalised (ligatures become letters); a word PDFium
marks as hyphenated at a line end (U+FFFE) gets the hyphen and the line break the
rendered page shows.
"""

from __future__ import annotations

import csv
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

MIN_WORDS = 80
MAX_NON_ASCII = 0.01
MAX_NUMBERED_LINES = 0.2
MAX_IMAGE_SHARE = 0.5
_NUMBER_AT_END = re.compile(r"\b[0-9ivxlc]+$", re.IGNORECASE)
_DOT_LEADER = re.compile(r"(\.\s?){4,}")


@dataclass(frozen=True)
class CorpusPage:
    """One simple page: the file, its page number (from 1) and its known text."""

    file: Path
    page: int
    reference: str

    @property
    def label(self) -> str:
        """``file.pdf:page``."""
        return f"{self.file.name}:{self.page}"


def born_digital_files(corpus: Path) -> list[Path]:
    """The corpus PDFs that pass rule 1, in the manifest's order."""
    manifest = corpus / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    files = []
    with manifest.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["kind"] != "pdf" or row["encrypted"] != "False":
                continue
            if row["form_fields"] not in ("", "0") or not row["img_frac"]:
                continue
            if float(row["img_frac"]) <= MAX_IMAGE_SHARE and (corpus / row["file"]).is_file():
                files.append(corpus / row["file"])
    return files


def reference_text(raw: str) -> str:
    """The reference form of a PDFium text layer (see the module's docstring)."""
    text = unicodedata.normalize("NFKC", raw.replace("\ufffe", "-\n"))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_simple(text: str) -> bool:
    """Rules 2 and 3 for one page's reference text."""
    words = text.split()
    if len(words) < MIN_WORDS:
        return False
    if sum(1 for char in text if ord(char) > 127) > MAX_NON_ASCII * len(text):
        return False
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    numbered = sum(1 for line in lines if _NUMBER_AT_END.search(line))
    if numbered >= MAX_NUMBERED_LINES * len(lines):
        return False
    return not any(_DOT_LEADER.search(line) for line in lines)


def simple_pages(corpus: Path, limit: int | None = None) -> list[CorpusPage]:
    """The simple pages of the corpus, at most ``limit``."""
    import pypdfium2

    found: list[CorpusPage] = []
    seen: set[str] = set()
    for path in born_digital_files(corpus):
        document = pypdfium2.PdfDocument(path)
        try:
            for index in range(len(document)):
                text = reference_text(document[index].get_textpage().get_text_range())
                key = " ".join(text.split())
                if key in seen or not is_simple(text):
                    continue
                seen.add(key)
                found.append(CorpusPage(path, index + 1, text))
                if limit is not None and len(found) >= limit:
                    return found
        finally:
            document.close()
    return found


def rasterise_page(page: CorpusPage, png_base: Path) -> Path:
    """Rasterises one corpus page at 300 dpi in grey with pdftoppm; returns the PNG."""
    number = str(page.page)
    pages = ["-f", number, "-l", number, "-singlefile"]
    subprocess.run(
        ["pdftoppm", "-r", "300", "-gray", "-png", *pages, str(page.file), str(png_base)],
        check=True,
    )
    return png_base.with_suffix(".png")


def image_only_pdf(pngs: list[Path], out: Path, dpi: int = 300) -> Path:
    """Writes the page images as an image-only PDF, one page each, losslessly (Flate):
    docpipe then reads the very pixels the ``tesseract`` command reads from the PNG
    (Pillow's own PDF writer would store grey pages as JPEG)."""
    import zlib

    import pikepdf
    from PIL import Image

    pdf = pikepdf.new()
    for png in pngs:
        image = Image.open(png).convert("L")
        width, height = image.size
        xobject = pikepdf.Stream(
            pdf,
            zlib.compress(image.tobytes(), 6),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=width,
            Height=height,
            ColorSpace=pikepdf.Name.DeviceGray,
            BitsPerComponent=8,
            Filter=pikepdf.Name.FlateDecode,
        )
        size = (width * 72 / dpi, height * 72 / dpi)
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, *size],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject)),
            Contents=pikepdf.Stream(pdf, f"q {size[0]} 0 0 {size[1]} 0 0 cm /Im0 Do Q".encode()),
        )
        pdf.pages.append(pikepdf.Page(page))
    pdf.save(out)
    return out
