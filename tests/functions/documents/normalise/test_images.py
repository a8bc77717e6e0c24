"""Images become PDF pages: every type, mode and frame, compactly and the right way up."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pikepdf
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from functions.documents.normalise import Normalised, normalise
from functions.documents.normalise.images.flate import split_alpha
from functions.documents.normalise.images.placement import placement
from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits
from tests import docgen

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"


def _run(tmp_path: Path, data: bytes, kind: str, limits: Limits | None = None) -> Normalised:
    src = tmp_path / f"source.{kind}"
    src.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    result = normalise(src, kind, out, limits or Limits())
    assert src.read_bytes() == data
    return result


ImageReader = Callable[[Path], list[pikepdf.Stream]]


@pytest.fixture
def images() -> Iterator[ImageReader]:
    """Reads the image XObject drawn on each page of a PDF, after qpdf found no fault.

    The PDFs stay open until the test ends (their objects need them) and are opened from
    memory, so no file handle is left behind.
    """
    opened: list[pikepdf.Pdf] = []

    def read(path: Path) -> list[pikepdf.Stream]:
        pdf = pikepdf.open(io.BytesIO(path.read_bytes()))
        opened.append(pdf)
        assert pdf.check_pdf_syntax() == []
        xobjects = [page.obj.Resources.XObject for page in pdf.pages]
        return [cast(pikepdf.Stream, image) for xobject in xobjects for image in xobject.values()]

    yield read
    for pdf in opened:
        pdf.close()


def _pages(path: Path) -> list[Any]:
    return list(pypdf.PdfReader(path).pages)


@pytest.mark.parametrize(
    ("fmt", "kind", "options"),
    [
        ("JPEG", "jpeg", {}),
        ("PNG", "png", {}),
        ("PNG", "png", {"mode": "RGBA"}),
        ("PNG", "png", {"mode": "P"}),
        ("PNG", "png", {"mode": "1"}),
        ("PNG", "png", {"mode": "L"}),
        ("TIFF", "tiff", {}),
        ("GIF", "gif", {}),
        ("BMP", "bmp", {}),
        ("WEBP", "webp", {}),
        ("WEBP", "webp", {"mode": "RGBA", "lossless": True}),
    ],
)
def test_every_image_type_becomes_one_page(
    images: ImageReader, tmp_path: Path, fmt: str, kind: str, options: dict[str, Any]
) -> None:
    """This test ensures that each image type and mode becomes a one-page PDF that pypdf
    and qpdf open, landscape like the image, with facts saying what was done."""
    result = _run(tmp_path, docgen.image_bytes(fmt, **options), kind)
    document = tmp_path / "out" / "document.pdf"
    (page,) = _pages(document)
    assert float(page.mediabox.width) > float(page.mediabox.height)
    assert result.pages == 1
    assert result.has_text is False
    assert not (tmp_path / "out" / "text.txt").exists()
    facts = json.loads((tmp_path / "out" / "facts.json").read_text())
    assert facts == result.facts
    assert facts["source_type"] == kind
    assert facts["image_count"] == 1
    assert facts["images"][0]["width"] == 320
    (image,) = images(document)
    assert image.Width == 320
    assert image.Height == 240


def test_jpeg_bytes_are_embedded_unchanged(images: ImageReader, tmp_path: Path) -> None:
    """This test ensures that a JPEG goes into the PDF byte for byte (DCTDecode, never
    re-encoded) and the PDF is barely larger than the JPEG."""
    data = docgen.image_bytes("JPEG", width=640, height=480, quality=85)
    result = _run(tmp_path, data, "jpeg")
    document = tmp_path / "out" / "document.pdf"
    (image,) = images(document)
    assert image.Filter == pikepdf.Name.DCTDecode
    assert image.read_raw_bytes() == data
    assert document.stat().st_size < len(data) + 2048
    assert result.facts["images"][0]["encoding"] == "jpeg"


def test_palette_png_stays_a_compact_palette(images: ImageReader, tmp_path: Path) -> None:
    """This test ensures that a palette PNG stays /Indexed (Pillow's PDF writer would
    hex-encode it) and its PDF is not much larger than the PNG."""
    data = docgen.image_bytes("PNG", width=800, height=600, mode="P")
    _run(tmp_path, data, "png")
    document = tmp_path / "out" / "document.pdf"
    (image,) = images(document)
    assert image.ColorSpace[0] == pikepdf.Name.Indexed
    assert document.stat().st_size < len(data) * 1.25 + 2048
    decoded = pikepdf.PdfImage(image).as_pil_image()
    original = Image.open(io.BytesIO(data)).convert("RGB")
    assert decoded.convert("RGB").tobytes() == original.tobytes()


def test_bilevel_image_stays_one_bit(images: ImageReader, tmp_path: Path) -> None:
    """This test ensures that a 1-bit image is embedded at 1 bit per pixel, pixel-exact."""
    data = docgen.image_bytes("PNG", mode="1")
    _run(tmp_path, data, "png")
    (image,) = images(tmp_path / "out" / "document.pdf")
    assert image.BitsPerComponent == 1
    decoded = pikepdf.PdfImage(image).as_pil_image().convert("1")
    assert decoded.tobytes() == Image.open(io.BytesIO(data)).tobytes()


def test_alpha_becomes_a_soft_mask(images: ImageReader, tmp_path: Path) -> None:
    """This test ensures that an RGBA image keeps its transparency as an /SMask whose
    values are the alpha channel, and its colours as RGB."""
    data = docgen.image_bytes("PNG", mode="RGBA")
    result = _run(tmp_path, data, "png")
    (image,) = images(tmp_path / "out" / "document.pdf")
    assert image.ColorSpace == pikepdf.Name.DeviceRGB
    mask = pikepdf.PdfImage(cast(pikepdf.Stream, image.SMask)).as_pil_image()
    original = Image.open(io.BytesIO(data))
    assert mask.tobytes() == original.getchannel("A").tobytes()
    assert result.facts["images"][0]["alpha"] is True


def test_sixteen_bit_greyscale_keeps_its_depth(images: ImageReader, tmp_path: Path) -> None:
    """This test ensures that a 16-bit greyscale image is embedded at 16 bits, values kept."""
    image = Image.linear_gradient("L").resize((64, 32)).convert("I")
    image = image.point(lambda value: value * 257).convert("I;16")
    out = io.BytesIO()
    image.save(out, format="PNG")
    _run(tmp_path, out.getvalue(), "png")
    (embedded,) = images(tmp_path / "out" / "document.pdf")
    assert embedded.BitsPerComponent == 16
    assert embedded.ColorSpace == pikepdf.Name.DeviceGray
    raw = embedded.read_bytes()
    assert raw == image.tobytes("raw", "I;16B")


def test_cmyk_jpeg_is_embedded_with_the_inversion_undone(
    images: ImageReader, tmp_path: Path
) -> None:
    """This test ensures that an Adobe (inverted) CMYK JPEG is embedded as it is, with the
    /Decode array that makes readers show it in its true colours."""
    data = docgen.cmyk_jpeg()
    _run(tmp_path, data, "jpeg")
    (image,) = images(tmp_path / "out" / "document.pdf")
    assert image.ColorSpace == pikepdf.Name.DeviceCMYK
    assert list(image.Decode) == [1, 0] * 4
    assert image.read_raw_bytes() == data


def test_multipage_tiff_gives_a_page_per_frame(tmp_path: Path) -> None:
    """This test ensures that every frame of a multi-page TIFF becomes its own page, at
    its own size."""
    result = _run(tmp_path, docgen.multipage_tiff(4), "tiff")
    pages = _pages(tmp_path / "out" / "document.pdf")
    assert len(pages) == result.pages == 4
    widths = [frame["width"] for frame in result.facts["images"]]
    assert widths == [200, 210, 220, 230]


@pytest.mark.parametrize(("fmt", "kind"), [("GIF", "gif"), ("WEBP", "webp")])
def test_animation_gives_a_page_per_frame(tmp_path: Path, fmt: str, kind: str) -> None:
    """This test ensures that every frame of an animated GIF or WebP becomes a page."""
    result = _run(tmp_path, docgen.animated(fmt, 3), kind)
    assert len(_pages(tmp_path / "out" / "document.pdf")) == result.pages == 3


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_page(
    images: ImageReader, tmp_path: Path, orientation: int
) -> None:
    """This test ensures that an EXIF-rotated JPEG keeps its bytes and gets a page in the
    orientation it is meant to be seen in (portrait for a quarter turn)."""
    data = docgen.exif_jpeg(orientation)
    result = _run(tmp_path, data, "jpeg")
    (page,) = _pages(tmp_path / "out" / "document.pdf")
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    shown = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert (width > height) == (shown.width > shown.height)
    assert width == pytest.approx(shown.width * 72 / 100, abs=0.01)
    (image,) = images(tmp_path / "out" / "document.pdf")
    assert image.read_raw_bytes() == data
    assert result.facts["images"][0]["orientation"] == orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matrix_matches_pillow(orientation: int) -> None:
    """This test ensures that the page matrix puts every corner of the stored image where
    Pillow's exif_transpose puts it, for all eight EXIF orientations."""
    stored = Image.new("RGB", (4, 2))
    corners = {(0, 0): (255, 0, 0), (3, 0): (0, 255, 0), (0, 1): (0, 0, 255), (3, 1): (9, 9, 9)}
    for xy, colour in corners.items():
        stored.putpixel(xy, colour)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, format="PNG", exif=exif)
    shown = ImageOps.exif_transpose(Image.open(io.BytesIO(out.getvalue())))
    place = placement(stored.size, (72, 72), orientation)
    a, b, c, d, e, f = place.matrix
    assert (place.width, place.height) == shown.size
    for (col, row), colour in corners.items():
        # The centre of stored pixel (col, row) in the image's unit square (v up).
        u, v = (col + 0.5) / 4, 1 - (row + 0.5) / 2
        x, y = a * u + c * v + e, b * u + d * v + f
        assert shown.getpixel((int(x), int(place.height - y))) == colour


def test_resolution_sets_the_page_size(tmp_path: Path) -> None:
    """This test ensures that a plausible DPI sizes the page (300 DPI, 600 px = 2 in) and
    a missing one falls back to a default the facts name."""
    _run(tmp_path, docgen.image_bytes("PNG", width=600, height=300, dpi=(300, 300)), "png")
    (page,) = _pages(tmp_path / "out" / "document.pdf")
    assert float(page.mediabox.width) == pytest.approx(144, abs=0.01)
    facts = json.loads((tmp_path / "out" / "facts.json").read_text())
    assert facts["dpi_source"] == "image"
    assert facts["images"][0]["dpi"] == pytest.approx([300, 300], abs=0.01)
    assert placement((600, 300), None).dpi_source == "default"
    assert placement((600, 300), (1, 1)).dpi_source == "default"
    big = placement((6000, 4000), None)
    assert big.width <= 842 + 0.01
    assert big.height <= 595 + 0.01


def test_greyscale_transparency_becomes_alpha() -> None:
    """This test ensures that palette transparency is kept as a separate alpha channel
    while the palette itself stays a palette."""
    image = docgen.picture(40, 30, "P")
    image.info["transparency"] = 0
    base, alpha = split_alpha(image)
    assert base.mode == "P"
    assert alpha is not None
    assert alpha.getextrema() == (0, 255)


def test_pixel_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    """This test ensures that a tiny PNG declaring 1.6 gigapixels is refused as
    IMAGE_TOO_LARGE without being decoded, and no Pillow bomb warning escapes."""
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, docgen.pixel_bomb_png(), "png")
    assert raised.value.code is ErrorCode.IMAGE_TOO_LARGE
    assert not (tmp_path / "out" / "document.pdf").exists()


def test_pixel_limit_applies_to_every_frame(tmp_path: Path) -> None:
    """This test ensures that the pixel limit is per call (not Pillow's global) and is
    checked for each frame: the fourth, larger frame of a TIFF trips it."""
    limits = Limits(max_image_pixels=230 * 150 - 1)
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, docgen.multipage_tiff(4), "tiff", limits)
    assert raised.value.code is ErrorCode.IMAGE_TOO_LARGE
    assert "Frame 4" in raised.value.message
    assert limits.max_image_pixels != Image.MAX_IMAGE_PIXELS


def test_too_many_frames(tmp_path: Path) -> None:
    """This test ensures that an image with more frames than the page limit is refused."""
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, docgen.multipage_tiff(3), "tiff", Limits(max_pages=2))
    assert raised.value.code is ErrorCode.TOO_MANY_PAGES


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (docgen.image_bytes("JPEG")[:600], "jpeg"),
        (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, "jpeg"),
        (docgen.image_bytes("PNG")[:300], "png"),
        (docgen.multipage_tiff(2)[:500], "tiff"),
        (b"GIF89a" + b"\x00" * 40, "gif"),
    ],
    ids=["truncated-jpeg", "garbage-jpeg", "truncated-png", "truncated-tiff", "garbage-gif"],
)
def test_damaged_images_are_corrupt(tmp_path: Path, data: bytes, kind: str) -> None:
    """This test ensures that a truncated or garbage image is CORRUPT_DOCUMENT, with no
    document left behind."""
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, data, kind)
    assert raised.value.code is ErrorCode.CORRUPT_DOCUMENT
    assert list((tmp_path / "out").iterdir()) == []


CORPUS_IMAGES = [
    ("ocr_baiona_cmyk.jpg", "jpeg", 1),
    ("ocr_baiona_colormapped.png", "png", 1),
    ("ocr_baiona_alpha.png", "png", 1),
    ("pil_mcidas_satellite.tiff", "tiff", 1),
    ("pil_pport_g4.tif", "tiff", 1),
    ("pil_sugarshack.mpo", "jpeg", 1),
    ("pil_icc_profile_big.jpg", "jpeg", 1),
]


@pytest.mark.parametrize(("name", "kind", "pages"), CORPUS_IMAGES)
def test_corpusimages(
    images: ImageReader, tmp_path: Path, name: str, kind: str, pages: int
) -> None:
    """This test ensures that real-world images (CMYK, palette, alpha, 16-bit satellite,
    G4 fax, multi-picture JPEG, large ICC profile) become valid PDFs no more than 25%
    larger than the image."""
    source = CORPUS / name
    if not source.is_file():
        pytest.skip(
            "no corpus beside the repository: python benchmarks/fetch_corpus.py downloads it"
        )
    result = _run(tmp_path, source.read_bytes(), kind)
    document = tmp_path / "out" / "document.pdf"
    assert len(_pages(document)) == result.pages == pages
    assert document.stat().st_size <= source.stat().st_size * 1.25 + 4096
    images(document)


_FUZZ_BASES = [
    ("jpeg", docgen.exif_jpeg(6, width=64, height=48)),
    ("png", docgen.image_bytes("PNG", width=64, height=48, mode="P")),
    ("tiff", docgen.multipage_tiff(2, width=40, height=30)),
    ("gif", docgen.animated("GIF", 2, width=40, height=30)),
    ("webp", docgen.animated("WEBP", 2, width=40, height=30)),
    ("bmp", docgen.image_bytes("BMP", width=40, height=30)),
]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.sampled_from(_FUZZ_BASES),
    position=st.integers(min_value=4, max_value=10_000),
    junk=st.binary(min_size=1, max_size=16),
    cut=st.booleans(),
)
def test_damaged_images_only_raise_document_errors(
    tmp_path: Path, base: tuple[str, bytes], position: int, junk: bytes, cut: bool
) -> None:
    """This test ensures that an image overwritten or cut anywhere with random bytes either
    becomes a PDF with one page per frame or fails with a DocumentError, never a crash or
    an escaped Pillow warning."""
    kind, data = base
    position %= len(data)
    damaged = data[:position] + junk + (b"" if cut else data[position + len(junk) :])
    case = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis may replay an example
    outcome: Normalised | DocumentError
    try:
        outcome = _run(case, damaged, kind, Limits(max_image_pixels=10_000_000))
    except DocumentError as err:
        outcome = err
    if isinstance(outcome, DocumentError):
        assert outcome.code in {ErrorCode.CORRUPT_DOCUMENT, ErrorCode.IMAGE_TOO_LARGE}
    else:
        reader = pypdf.PdfReader(case / "out" / "document.pdf")
        assert len(reader.pages) == outcome.pages
