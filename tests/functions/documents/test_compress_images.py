"""Tests for the lossy profiles' image pass (functions/documents/compress_images.py)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from functions.documents.compress_images import (
    POLICIES,
    ImageReport,
    ImageRewriter,
    PlacementFinder,
    _reduce_flate_by_strips,
)
from tests.docgen import picture

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
MAX_PIXELS = 178_956_970


def _corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {name} not available (../shared/corpus)")
    return path


def _photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A photo-like picture: smooth shapes plus sensor-like noise."""
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(picture(width, height), noise, 0.25).convert(mode)


def _pdf(images: list[dict[str, object]], *, inches: float = 2.0) -> pikepdf.Pdf:
    """Returns a one-page PDF drawing each image at ``inches`` square.

    Each entry of ``images`` is the image's dictionary plus its data under ``"data"``;
    a ``"/SMask"`` entry may be such a dictionary too.
    """
    pdf = pikepdf.new()

    def stream(entries: dict[str, object]) -> pikepdf.Object:
        entries = dict(entries)
        obj = pikepdf.Stream(pdf, entries.pop("data"))  # type: ignore[arg-type]
        obj.Type = pikepdf.Name.XObject
        obj.Subtype = pikepdf.Name.Image
        for key, value in entries.items():
            obj[key] = stream(value) if isinstance(value, dict) else value
        return pdf.make_indirect(obj)

    size = inches * 72
    xobjects = pikepdf.Dictionary()
    draws = []
    for index, entries in enumerate(images):
        xobjects[f"/Im{index}"] = stream(entries)
        draws.append(f"q {size} 0 0 {size} 0 {index * size} cm /Im{index} Do Q")
    content = pikepdf.Stream(pdf, "\n".join(draws).encode())
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, size, size * len(images)],
        Contents=pdf.make_indirect(content),
        Resources=pikepdf.Dictionary(XObject=xobjects),
    )
    pdf.pages.append(pikepdf.Page(page))
    return pdf


def _run(pdf: pikepdf.Pdf, profile: str = "ebook") -> ImageReport:
    finder = PlacementFinder()
    for page in pdf.pages:
        finder.add_page(page)
    return ImageRewriter(pdf, POLICIES[profile], MAX_PIXELS).run(finder)


def _image(pdf: pikepdf.Pdf, index: int = 0) -> pikepdf.Stream:
    image = pdf.pages[0].Resources.XObject[f"/Im{index}"]
    assert isinstance(image, pikepdf.Stream)
    return image


def _flate(image: Image.Image, level: int = 1) -> dict[str, object]:
    space = {"L": "/DeviceGray", "RGB": "/DeviceRGB", "CMYK": "/DeviceCMYK"}[image.mode]
    return {
        "data": zlib.compress(image.tobytes(), level),
        "/Filter": pikepdf.Name.FlateDecode,
        "/Width": image.width,
        "/Height": image.height,
        "/ColorSpace": pikepdf.Name(space),
        "/BitsPerComponent": 8,
    }


# --- what the pass writes is final, and it says which streams it wrote --------------------


def test_report_names_every_stream_written_and_only_those() -> None:
    """This test ensures that the report lists each rewritten image and resized soft mask."""
    masked = _flate(_photo(900, 900))
    masked["/SMask"] = _flate(picture(900, 900, "L"))
    kept = _flate(picture(100, 100, "L"))  # small, at its resolution: left alone
    drawing = _flate(picture(900, 900, "L"))  # a drawing, downsampled and kept Flate
    pdf = _pdf([masked, kept, drawing], inches=1.0)
    report = _run(pdf)
    image, smask = _image(pdf, 0), _image(pdf, 0).SMask
    assert report.rewritten == {image.objgen, smask.objgen, _image(pdf, 2).objgen}
    assert image.Filter == pikepdf.Name.DCTDecode
    assert (int(smask.Width), int(smask.Height)) == (150, 150)
    assert int(_image(pdf, 1).Width) == 100


def test_flate_written_by_the_pass_is_already_at_level_9() -> None:
    """This test ensures that Flate data the pass writes needs no recompression on save."""
    from zlib_ng import zlib_ng

    drawing = _flate(picture(900, 900, "L"))
    drawing["/SMask"] = _flate(picture(900, 900, "L"))
    pdf = _pdf([drawing], inches=1.0)
    report = _run(pdf)
    image = _image(pdf)
    assert report.rewritten == {image.objgen, image.SMask.objgen}
    for stream in (image, image.SMask):
        assert stream.Filter == pikepdf.Name.FlateDecode
        pixels = stream.read_bytes()
        assert len(pixels) == 150 * 150
        assert stream.read_raw_bytes() == zlib_ng.compress(pixels, 9)


def test_damaged_flate_data_read_by_strips_is_a_value_error() -> None:
    """This test ensures that zlib-ng's error on damaged data becomes the pass's ValueError."""
    source = _photo(400, 300, "L")
    raw = bytearray(zlib.compress(source.tobytes(), 6))
    raw[0] = 0x00  # not a zlib header: the inflater raises at once
    with pytest.raises(ValueError, match="damaged Flate data"):
        _reduce_flate_by_strips(bytes(raw), "L", 400, 300, 1, 2)
