"""Tests for the lossy profiles' image pass (functions/documents/compress/images/)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from functions.documents.compress.images import (
    POLICIES,
    ImageReport,
    ImageRewriter,
    PlacementFinder,
)
from functions.documents.compress.images.strips import reduce_flate_by_strips
from tests.docgen import picture

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"
MAX_PIXELS = 178_956_970


def _corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {name} missing: python benchmarks/fetch_corpus.py")
    return path


def _photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A photo-like picture: smooth shapes plus sensor-like noise."""
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(picture(width, height), noise, 0.25).convert(mode)


def _pdf(
    images: list[dict[str, object]], *, inches: float = 2.0, pdf: pikepdf.Pdf | None = None
) -> pikepdf.Pdf:
    """Returns a one-page PDF drawing each image at ``inches`` square.

    Each entry of ``images`` is the image's dictionary plus its data under ``"data"``;
    a ``"/SMask"`` entry may be such a dictionary too. The page is added to ``pdf`` when
    given (objects the entries refer to must belong to it).
    """
    pdf = pdf if pdf is not None else pikepdf.new()

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
        reduce_flate_by_strips(bytes(raw), "L", 400, 300, 1, 2)


# --- palette (/Indexed) images -------------------------------------------------------------


def _palette_image(
    indices: Image.Image, base: object = "/DeviceRGB", mode: str = "RGB"
) -> dict[str, object]:
    """An 8-bit /Indexed Flate image of a "P" picture, its palette given in ``mode``."""
    colours = indices.getpalette() or []
    entries = len(colours) // 3
    strip = Image.frombytes("RGB", (entries, 1), bytes(colours[: entries * 3])).convert(mode)
    base_space = pikepdf.Name(base) if isinstance(base, str) else base
    return {
        "data": zlib.compress(indices.tobytes(), 6),
        "/Filter": pikepdf.Name.FlateDecode,
        "/Width": indices.width,
        "/Height": indices.height,
        "/ColorSpace": pikepdf.Array(
            [pikepdf.Name.Indexed, base_space, entries - 1, pikepdf.String(strip.tobytes())]
        ),
        "/BitsPerComponent": 8,
    }


def _chart(width: int, height: int, colours: int) -> Image.Image:
    """A bar chart in ``colours`` flat colours on white, as a palette image."""
    from PIL import ImageDraw

    chart = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(chart)
    bar = width // colours
    for i in range(colours - 1):
        fill = (i * 16 % 256, 255 - i * 16 % 256, i * 50 % 256)
        draw.rectangle(
            (i * bar, height - (i + 1) * height // colours, i * bar + bar - 4, height), fill
        )
    return chart.quantize(colours)


def _shown(stream: pikepdf.Stream) -> Image.Image:
    """The samples a PDF reader paints for a DeviceGray/RGB/CMYK image, /Decode applied.

    Pillow decodes every CMYK JPEG inverted (it assumes the Photoshop convention), while a
    PDF reader takes the stored samples as they are and applies /Decode; so the stored
    samples are Pillow's inverted back.
    """
    import io

    from PIL import ImageChops

    size = (int(stream.Width), int(stream.Height))
    if stream.get("/Filter") == pikepdf.Name.DCTDecode:
        decoded = Image.open(io.BytesIO(stream.read_raw_bytes()))
        decoded.load()
        stored = ImageChops.invert(decoded) if decoded.mode == "CMYK" else decoded
    else:
        mode = {"/DeviceGray": "L", "/DeviceRGB": "RGB", "/DeviceCMYK": "CMYK"}
        stored = Image.frombytes(mode[str(stream.ColorSpace)], size, stream.read_bytes())
    decode = [float(v) for v in stream.get("/Decode", [0, 1] * len(stored.getbands()))]
    bands = list(stored.split())
    for band, pair in enumerate(zip(decode[0::2], decode[1::2], strict=True)):
        assert pair in ((0.0, 1.0), (1.0, 0.0)), "only identity and inverting pairs are read"
        if pair == (1.0, 0.0):
            bands[band] = ImageChops.invert(bands[band])
    return Image.merge(stored.mode, bands)


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per sample of two images, ``b`` resized to ``a``."""
    from PIL import ImageChops, ImageStat

    b = b.resize(a.size, Image.Resampling.BOX)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / len(a.getbands())


def test_palette_photo_becomes_a_jpeg_in_its_base_colour_space() -> None:
    """This test ensures that a quantised photo in a palette is re-encoded as a smaller JPEG."""
    indices = _photo(600, 600).quantize(256)
    entries = _palette_image(indices)
    raw_length = len(entries["data"])  # type: ignore[arg-type]
    pdf = _pdf([entries], inches=2.0)  # 300 DPI: downsampled to 150 DPI by ebook
    report = _run(pdf)
    image = _image(pdf)
    assert report.rewritten == {image.objgen}
    assert image.Filter == pikepdf.Name.DCTDecode
    assert image.ColorSpace == pikepdf.Name.DeviceRGB
    assert (int(image.Width), int(image.Height)) == (300, 300)
    assert len(image.read_raw_bytes()) < raw_length
    assert _difference(_shown(image), indices.convert("RGB")) < 8


def test_cmyk_palette_photo_keeps_its_colours() -> None:
    """This test ensures that a CMYK palette photo's JPEG shows its colours, not their inverse."""
    indices = _photo(400, 400).quantize(256)
    pdf = _pdf([_palette_image(indices, "/DeviceCMYK", "CMYK")], inches=1.0)
    _run(pdf)
    image = _image(pdf)
    assert image.Filter == pikepdf.Name.DCTDecode
    assert image.ColorSpace == pikepdf.Name.DeviceCMYK
    expected = indices.convert("RGB").convert("CMYK")
    assert _difference(_shown(image), expected) < 8


def test_icc_based_palette_photo_keeps_its_profile() -> None:
    """This test ensures that the base ICCBased colour space, profile and all, stays on the JPEG."""
    from PIL import ImageCms

    pdf = pikepdf.new()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc = pdf.make_indirect(pikepdf.Stream(pdf, profile, N=3))
    entries = _palette_image(
        _photo(600, 600).quantize(256), pikepdf.Array([pikepdf.Name.ICCBased, icc])
    )
    _run(_pdf([entries], inches=2.0, pdf=pdf))
    image = _image(pdf)
    assert image.Filter == pikepdf.Name.DCTDecode
    assert image.ColorSpace[0] == pikepdf.Name.ICCBased
    assert image.ColorSpace[1].objgen == icc.objgen


@pytest.mark.parametrize(
    "indices",
    [
        pytest.param(_chart(600, 600, 16), id="16-colour chart"),
        pytest.param(
            _chart(1200, 1200, 16).convert("RGB").rotate(7, Image.Resampling.BICUBIC)
            .resize((600, 600), Image.Resampling.LANCZOS).quantize(256),
            id="antialiased chart, 256 colours",
        ),
    ],
)  # fmt: skip
def test_palette_drawing_stays_an_untouched_palette_image(indices: Image.Image) -> None:
    """This test ensures that charts and drawings in a palette keep their exact colours."""
    entries = _palette_image(indices)
    pdf = _pdf([entries], inches=2.0)
    report = _run(pdf)
    image = _image(pdf)
    assert report.rewritten == set()
    assert image.read_raw_bytes() == entries["data"]
    assert image.ColorSpace[0] == pikepdf.Name.Indexed


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("/Mask", pikepdf.Array([3, 9]), id="colour-key mask on indices"),
        pytest.param("/Decode", pikepdf.Array([255, 0]), id="reversed index mapping"),
    ],
)
def test_palette_photo_with_index_dependent_entries_is_kept(key: str, value: object) -> None:
    """This test ensures that a palette photo whose entries speak of indices stays as it is."""
    entries = _palette_image(_photo(600, 600).quantize(256))
    entries[key] = value
    pdf = _pdf([entries], inches=2.0)
    report = _run(pdf)
    image = _image(pdf)
    assert report.rewritten == set()
    assert image.read_raw_bytes() == entries["data"]


def test_real_palette_photo_is_reencoded_and_real_palette_drawing_kept() -> None:
    """This test ensures that sf_cmyk-image's palette photo shrinks; sf_grayscale-image's
    palette drawing does not change."""
    with pikepdf.open(_corpus_file("sf_cmyk-image.pdf")) as pdf:
        raw_length = len(pdf.get_object((5, 0)).read_raw_bytes())
        report = _run(pdf)
        image = pdf.get_object((5, 0))
        assert report.rewritten == {(5, 0)}
        assert image.Filter == pikepdf.Name.DCTDecode
        assert image.ColorSpace == pikepdf.Name.DeviceCMYK
        assert list(image.Decode) == [1, 0] * 4
        assert len(image.read_raw_bytes()) < raw_length * 0.8
    with pikepdf.open(_corpus_file("sf_grayscale-image.pdf")) as pdf:
        assert _run(pdf).rewritten == set()


# --- CMYK polarity ------------------------------------------------------------------------


def test_cmyk_flate_photo_as_jpeg_declares_its_inversion() -> None:
    """This test ensures that a CMYK JPEG Pillow wrote inverted has the Decode that undoes it."""
    source = _photo(600, 600, "CMYK")
    pdf = _pdf([_flate(source)], inches=2.0)
    _run(pdf)
    image = _image(pdf)
    assert image.Filter == pikepdf.Name.DCTDecode
    assert b"Adobe" in image.read_raw_bytes()[:512]  # the APP14 segment of inverted CMYK
    assert list(image.Decode) == [1, 0] * 4
    assert _difference(_shown(image), source) < 8


def test_cmyk_flate_photo_with_a_decode_array_keeps_its_look() -> None:
    """This test ensures that an existing CMYK Decode array is reversed, not overwritten."""
    source = _photo(600, 600, "CMYK")
    entries = _flate(source)
    entries["/Decode"] = pikepdf.Array([1, 0, 0, 1, 1, 0, 0, 1])
    pdf = _pdf([entries], inches=2.0)
    shown_before = _shown(_image(pdf))
    _run(pdf)
    image = _image(pdf)
    assert list(image.Decode) == [0, 1, 1, 0, 0, 1, 1, 0]
    assert _difference(_shown(image), shown_before) < 8


@pytest.mark.parametrize("decode", [None, [1, 0] * 4], ids=["no Decode", "Photoshop Decode"])
def test_cmyk_jpeg_reencoded_keeps_its_look(decode: list[int] | None) -> None:
    """This test ensures that re-encoding a CMYK JPEG leaves its polarity as it was shown."""
    import io

    out = io.BytesIO()
    _photo(600, 600, "CMYK").save(out, format="JPEG", quality=95)
    entries: dict[str, object] = {
        "data": out.getvalue(),
        "/Filter": pikepdf.Name.DCTDecode,
        "/Width": 600,
        "/Height": 600,
        "/ColorSpace": pikepdf.Name.DeviceCMYK,
        "/BitsPerComponent": 8,
    }
    if decode is not None:
        entries["/Decode"] = pikepdf.Array(decode)
    pdf = _pdf([entries], inches=2.0)
    shown_before = _shown(_image(pdf))
    assert _run(pdf).images_rewritten == 1
    image = _image(pdf)
    assert image.get("/Decode") == entries.get("/Decode")
    assert _difference(_shown(image), shown_before) < 8


# --- CMYK images with an ICC profile become sRGB ----------------------------------------------


def _swop_profile(pdf: pikepdf.Pdf) -> pikepdf.Stream:
    """The 390 KB U.S. Web Coated (SWOP) CMYK profile of ocr_cmyk.pdf, copied into ``pdf``."""
    with pikepdf.open(_corpus_file("ocr_cmyk.pdf")) as source:
        data = source.pages[0].Resources.ColorSpace.DefaultCMYK[1].read_bytes()
    return pdf.make_indirect(pikepdf.Stream(pdf, data, N=4))


def _cmyk_patches() -> Image.Image:
    """Paper white, rich black (every ink) and cyan quarters beside a photo quarter (CMYK)."""
    image = _photo(600, 600, "CMYK")
    for box, ink in [
        ((0, 0, 300, 300), (0, 0, 0, 0)),
        ((300, 0, 600, 300), (255, 255, 255, 255)),
        ((0, 300, 300, 600), (255, 0, 0, 0)),
    ]:
        image.paste(ink, box)
    return image


def _assert_patches_in_srgb(image: pikepdf.Stream) -> None:
    import io

    assert image.ColorSpace == pikepdf.Name.DeviceRGB
    assert image.Filter == pikepdf.Name.DCTDecode
    assert "/Decode" not in image
    rgb = Image.open(io.BytesIO(image.read_raw_bytes())).convert("RGB")
    quarter = rgb.width // 4
    white = rgb.crop((0, 0, quarter, quarter)).resize((1, 1)).getpixel((0, 0))
    black = rgb.crop((3 * quarter, 0, 4 * quarter, quarter)).resize((1, 1)).getpixel((0, 0))
    cyan = rgb.crop((0, 3 * quarter, quarter, 4 * quarter)).resize((1, 1)).getpixel((0, 0))
    assert isinstance(white, tuple)
    assert isinstance(black, tuple)
    assert isinstance(cyan, tuple)
    assert min(white) > 235, white  # paper white, not ink
    # Black point compensation: the darkest ink is black (32 grey without it).
    assert max(black) < 16, black
    assert cyan[0] < 80, cyan  # cyan: little red...
    assert cyan[2] > 180, cyan  # ... and much blue


@pytest.mark.parametrize(
    ("jpeg", "inverted"),
    [(False, False), (False, True), (True, True), (True, False)],
    ids=["Flate", "Flate with inverting Decode", "Photoshop JPEG", "plain JPEG"],
)
def test_cmyk_image_under_an_icc_default_becomes_srgb(jpeg: bool, inverted: bool) -> None:
    """This test ensures that a DeviceCMYK photo under /DefaultCMYK is converted through it.

    Every way of storing the same shown colours is tried: samples as they are or inverted
    with a Decode array that undoes it, Flate or JPEG (Pillow stores CMYK JPEGs inverted).
    """
    import io

    from PIL import ImageChops

    pdf = pikepdf.new()
    profile = _swop_profile(pdf)
    patches = _cmyk_patches()
    stored = ImageChops.invert(patches) if inverted else patches
    entries = _flate(stored)
    if jpeg:
        out = io.BytesIO()
        ImageChops.invert(stored).save(out, format="JPEG", quality=95)  # stores ``stored``
        entries.update(data=out.getvalue(), **{"/Filter": pikepdf.Name.DCTDecode})
    if inverted:
        entries["/Decode"] = pikepdf.Array([1, 0] * 4)
    _pdf([entries], inches=2.0, pdf=pdf)
    pdf.pages[0].Resources.ColorSpace = pikepdf.Dictionary(
        DefaultCMYK=pikepdf.Array([pikepdf.Name.ICCBased, profile])
    )
    report = _run(pdf)
    assert report.rewritten == {_image(pdf).objgen}
    _assert_patches_in_srgb(_image(pdf))


def test_icc_based_cmyk_image_becomes_srgb() -> None:
    """This test ensures that an /ICCBased CMYK photo is converted through its own profile."""
    pdf = pikepdf.new()
    entries = _flate(_cmyk_patches())
    entries["/ColorSpace"] = pikepdf.Array([pikepdf.Name.ICCBased, _swop_profile(pdf)])
    _pdf([entries], inches=2.0, pdf=pdf)
    _run(pdf)
    _assert_patches_in_srgb(_image(pdf))


def test_cmyk_image_drawn_with_and_without_a_default_stays_cmyk() -> None:
    """This test ensures that an image whose colours differ between its uses is not converted."""
    pdf = pikepdf.new()
    profile = _swop_profile(pdf)
    _pdf([_flate(_cmyk_patches())], inches=2.0, pdf=pdf)
    first = pdf.pages[0]
    second = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=first.MediaBox,
        Contents=first.Contents,
        Resources=pikepdf.Dictionary(XObject=first.Resources.XObject),
    )
    pdf.pages.append(pikepdf.Page(second))
    first.Resources.ColorSpace = pikepdf.Dictionary(
        DefaultCMYK=pikepdf.Array([pikepdf.Name.ICCBased, profile])
    )
    _run(pdf)
    image = _image(pdf)
    assert image.Filter == pikepdf.Name.DCTDecode
    assert image.ColorSpace == pikepdf.Name.DeviceCMYK


def test_real_cmyk_document_no_longer_draws_through_its_profile() -> None:
    """This test ensures that ocr_cmyk's six CMYK photos become sRGB: no image needs its profile."""
    with pikepdf.open(_corpus_file("ocr_cmyk.pdf")) as pdf:
        report = _run(pdf)
        images = [pdf.get_object(objgen) for objgen in report.rewritten]
        assert len(images) == 6
        assert all(image.ColorSpace == pikepdf.Name.DeviceRGB for image in images)
