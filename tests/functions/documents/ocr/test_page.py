"""The page image OCR reads: plain Flate images decoded once, the same pixels as pikepdf."""

from __future__ import annotations

import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from functions.documents.ocr import page as page_module
from functions.documents.ocr.page import NotScannedError, page_image
from tests import scangen

MAX_PIXELS = 178_956_970


def _scan_page(
    image: Image.Image, data: bytes, **stream: object
) -> tuple[pikepdf.Pdf, pikepdf.Page]:
    """A one-page PDF drawing ``image`` (stored as ``data``) over the page."""
    pdf = pikepdf.new()
    width, height = image.size
    xobject = pikepdf.Stream(pdf, data)
    xobject.update(
        {
            "/Type": pikepdf.Name.XObject,
            "/Subtype": pikepdf.Name.Image,
            "/Width": width,
            "/Height": height,
            "/BitsPerComponent": 8,
            **{f"/{key}": value for key, value in stream.items()},
        }
    )
    points = (width * 72 / 300, height * 72 / 300)
    page = pikepdf.Page(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, *points],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject)),
            Contents=pdf.make_stream(f"q {points[0]} 0 0 {points[1]} 0 0 cm /Im0 Do Q".encode()),
        )
    )
    pdf.pages.append(page)
    return pdf, pdf.pages[0]


def _image(page: pikepdf.Page) -> pikepdf.Stream:
    image = page.resources.XObject.Im0
    assert isinstance(image, pikepdf.Stream)
    return image


def _png_predicted(image: Image.Image, channels: int) -> bytes:
    """Flate data with the PNG 'Up' predictor on every row, as some scanners write it."""
    row = image.width * channels
    raw = image.tobytes()
    rows = [raw[i : i + row] for i in range(0, len(raw), row)]
    out = bytearray()
    previous = bytes(row)
    for current in rows:
        out += b"\x02" + bytes((a - b) % 256 for a, b in zip(current, previous, strict=True))
        previous = current
    return zlib.compress(bytes(out))


@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize("predicted", [False, True])
def test_a_flate_image_gives_the_pixels_pikepdf_gives(mode: str, predicted: bool) -> None:
    """This test ensures that a plain Flate grey or colour image, with or without a PNG
    predictor, is read as exactly the pixels pikepdf's own decoder gives."""
    image = scangen.scan_image(scangen.page_lines(3, 2), height_inches=0.6).convert(mode)
    channels = len(mode)
    colour = pikepdf.Name.DeviceGray if mode == "L" else pikepdf.Name.DeviceRGB
    stream: dict[str, object] = {"Filter": pikepdf.Name.FlateDecode, "ColorSpace": colour}
    data = zlib.compress(image.tobytes())
    if predicted:
        data = _png_predicted(image, channels)
        parms = {"/Predictor": 12, "/Colors": channels, "/Columns": image.width}
        stream["DecodeParms"] = pikepdf.Dictionary(parms)
    pdf, page = _scan_page(image, data, **stream)
    with pdf:
        read = page_image(page, MAX_PIXELS)
        xobject = _image(page)
        reference = pikepdf.PdfImage(xobject).as_pil_image().convert("L")
        assert page_module._plain_pixels(xobject, *image.size) is not None  # decoded once
    assert read.dpi == 300
    assert read.image.mode == "L"
    assert read.image.tobytes() == reference.tobytes() == image.convert("L").tobytes()


def test_an_image_with_a_decode_array_goes_through_pikepdf() -> None:
    """This test ensures that an image whose Decode array inverts it is read inverted,
    as pikepdf decodes it, and not as its raw samples."""
    image = scangen.scan_image(scangen.page_lines(4, 2), height_inches=0.6)
    inverted = Image.eval(image, lambda value: 255 - value)
    pdf, page = _scan_page(
        image,
        data=zlib.compress(inverted.tobytes()),
        Filter=pikepdf.Name.FlateDecode,
        ColorSpace=pikepdf.Name.DeviceGray,
        Decode=pikepdf.Array([1, 0]),
    )
    with pdf:
        read = page_image(page, MAX_PIXELS)
        assert page_module._plain_pixels(_image(page), *image.size) is None
    assert read.image.tobytes() == image.tobytes()


@pytest.mark.usefixtures("no_jbig2dec")
def test_a_jbig2_image_is_decoded_by_pdfium_when_pikepdf_cannot(tmp_path: Path) -> None:
    """This test ensures that a JBIG2 scan pikepdf cannot decode (no jbig2dec) is read
    from the document with PDFium, pixel for pixel, and that without the document the
    page is skipped with the decoder's reason rather than an error."""
    bilevel = scangen.scan_image(scangen.page_lines(5, 2), height_inches=0.6).convert("1")
    path = tmp_path / "jbig2.pdf"
    path.write_bytes(scangen.jbig2_pdf(bilevel))
    with pikepdf.open(path) as pdf:
        read = page_image(pdf.pages[0], MAX_PIXELS, path)
        with pytest.raises(NotScannedError, match=r"cannot be decoded \(DependencyError\)"):
            page_image(pdf.pages[0], MAX_PIXELS)
    assert read.dpi == 300
    assert read.image.mode == "L"
    assert read.image.tobytes() == bilevel.convert("L").tobytes()


@pytest.mark.usefixtures("no_jbig2dec")
def test_an_image_neither_decoder_reads_is_skipped_with_a_reason(tmp_path: Path) -> None:
    """This test ensures that a JBIG2 stream whose data is damaged is skipped with a
    reason by both decoders, never raised."""
    bilevel = scangen.scan_image(scangen.page_lines(6, 2), height_inches=0.6).convert("1")
    path = tmp_path / "damaged.pdf"
    path.write_bytes(scangen.jbig2_pdf(bilevel))
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        _image(pdf.pages[0]).write(b"\x00" * 64, filter=pikepdf.Name.JBIG2Decode)
        pdf.save(path)
    with pikepdf.open(path) as pdf, pytest.raises(NotScannedError, match="cannot be decoded"):
        page_image(pdf.pages[0], MAX_PIXELS, path)
