"""Regenerates the sample documents in this directory, from code, byte for byte.

Run from the repository root: ``.venv/bin/python samples/generate.py``. Every sample is
drawn here or by ``tests/docgen.py`` (no third-party content), with fixed seeds, so a
rerun with the same Pillow version reproduces the committed files.
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
DOCUMENTS = HERE / "documents"
sys.path.insert(0, str(HERE.parent))

from tests import docgen  # noqa: E402 - the repository root must be on sys.path first

LETTER = [
    "docpipe sample letter, page 1: a text PDF with real, extractable text.",
    "Page 2: the pipeline repairs it, extracts this line and compresses it.",
]


def scanned_page(width: int = 620, height: int = 800, seed: int = 7) -> Image.Image:
    """Returns a grayscale page that looks scanned: lines of text, a slight skew, noise."""
    rng = random.Random(seed)  # noqa: S311 - a fixed seed, for reproducible drawings
    page = Image.new("L", (width, height), 238)
    draw = ImageDraw.Draw(page)
    draw.text((60, 50), "DOCPIPE SAMPLE SCAN", fill=20)
    y = 100
    while y < height - 80:
        x = 60
        while x < width - 90:
            word = rng.randint(18, 70)
            draw.rectangle((x, y, x + word, y + 9), fill=rng.randint(25, 70))
            x += word + rng.randint(8, 14)
        y += rng.choice((22, 22, 22, 40))
    page = page.rotate(0.8, resample=Image.Resampling.BICUBIC, fillcolor=238)
    noise = Image.effect_noise((width, height), 12).point(lambda v: v - 128)
    page = Image.blend(page, noise.convert("L"), 0.06)
    return page.filter(ImageFilter.GaussianBlur(0.6))


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    # tests/docgen's zip_bundle stamps entries with the current time; samples must not.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def samples() -> dict[str, bytes]:
    """Returns the sample set: file name -> content."""
    return {
        "letter.pdf": docgen.text_pdf(LETTER),
        "scan.jpg": _jpeg(scanned_page(), quality=60),
        "pages.tiff": docgen.multipage_tiff(3, width=160, height=120),
        "bundle.zip": _zip(
            {
                "minutes.pdf": docgen.text_pdf(["Bundle member one: meeting minutes."]),
                "photo.png": docgen.image_bytes("PNG", width=160, height=120),
                "receipt.jpg": _jpeg(scanned_page(300, 400, seed=11), quality=55),
            }
        ),
        # Named like a PDF, but plain text: sniffing by content rejects it.
        "not-really.pdf": b"This is a plain text note saved with a .pdf name.\n",
    }


def main() -> None:
    """Writes every sample to samples/documents/."""
    DOCUMENTS.mkdir(exist_ok=True)
    for name, data in samples().items():
        (DOCUMENTS / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")  # noqa: T201 - a script talking to a person


if __name__ == "__main__":
    main()
