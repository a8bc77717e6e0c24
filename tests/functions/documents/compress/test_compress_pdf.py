"""Tests for the compress stage's document code (functions/documents/compress/)."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from pypdf import PdfReader

from functions.documents.compress import compress_pdf
from functions.errors import DocumentError, ErrorCode
from functions.settings import PROFILES, Limits
from tests.docgen import picture, text_pdf

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"


def _corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {name} missing: python benchmarks/fetch_corpus.py")
    return path


def _photo(width: int, height: int) -> Image.Image:
    """A photo-like picture: smooth shapes plus sensor-like noise (JPEG's worst friend)."""
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(picture(width, height), noise, 0.25)


def _image_pdf(
    path: Path,
    images: list[tuple[bytes, dict[str, object]]],
    *,
    pages: int = 1,
    inches: float = 4.0,
) -> Path:
    """Writes a PDF that draws every image at ``inches`` square on each of ``pages`` pages.

    ``images`` holds (stream data, extra dictionary entries) pairs; the same image
    objects are shared by all pages.
    """
    pdf = pikepdf.new()
    xobjects = pikepdf.Dictionary()
    draws = []
    size = inches * 72
    for index, (data, entries) in enumerate(images):
        stream = pikepdf.Stream(pdf, data)
        stream.Type = pikepdf.Name.XObject
        stream.Subtype = pikepdf.Name.Image
        for key, value in entries.items():
            stream[key] = value
        xobjects[f"/Im{index}"] = pdf.make_indirect(stream)
        draws.append(f"q {size} 0 0 {size} 0 {index * size} cm /Im{index} Do Q")
    content = pdf.make_indirect(pikepdf.Stream(pdf, "\n".join(draws).encode()))
    resources = pdf.make_indirect(pikepdf.Dictionary(XObject=xobjects))
    for _ in range(pages):
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, size, size * len(images)],
            Contents=content,
            Resources=resources,
        )
        pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def _jpeg_image(image: Image.Image, quality: int = 95) -> tuple[bytes, dict[str, object]]:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue(), {
        "/Filter": pikepdf.Name.DCTDecode,
        "/Width": image.width,
        "/Height": image.height,
        "/ColorSpace": pikepdf.Name.DeviceRGB,
        "/BitsPerComponent": 8,
    }


def _flate_image(image: Image.Image) -> tuple[bytes, dict[str, object]]:
    space = {"L": pikepdf.Name.DeviceGray, "RGB": pikepdf.Name.DeviceRGB}[image.mode]
    return zlib.compress(image.tobytes(), 1), {
        "/Filter": pikepdf.Name.FlateDecode,
        "/Width": image.width,
        "/Height": image.height,
        "/ColorSpace": space,
        "/BitsPerComponent": 8,
    }


def _soft_mask(pdf: pikepdf.Pdf, alpha: Image.Image) -> pikepdf.Stream:
    """Returns an indirect 8-bit /SMask image holding the greyscale ``alpha``."""
    smask = pikepdf.Stream(pdf, zlib.compress(alpha.tobytes()))
    smask.Type, smask.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    smask.Filter, smask.ColorSpace = pikepdf.Name.FlateDecode, pikepdf.Name.DeviceGray
    smask.Width, smask.Height, smask.BitsPerComponent = alpha.width, alpha.height, 8
    return pdf.make_indirect(smask)


def _pixels(path: Path) -> list[bytes]:
    """Decodes every image XObject of a PDF (in object order) to raw pixels."""
    with pikepdf.open(path) as pdf:
        return [
            pikepdf.PdfImage(obj).as_pil_image().tobytes()
            for obj in pdf.objects
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/Image"
        ]


def _structure(path: Path) -> tuple[int, int, int, int]:
    reader = PdfReader(path)

    def outline_entries(items: list) -> int:
        return sum(outline_entries(i) if isinstance(i, list) else 1 for i in items)

    annotations = sum(len(page.get("/Annots") or []) for page in reader.pages)
    return (
        len(reader.pages),
        len(reader.get_fields() or {}),
        annotations,
        outline_entries(reader.outline),
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_writes_a_pdf_with_the_same_pages(tmp_path: Path, profile: str) -> None:
    """This test ensures that every profile writes a PDF that opens with its page count."""
    src = tmp_path / "in.pdf"
    src.write_bytes(text_pdf(["one", "two", "three"]))
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, profile)
    reader = PdfReader(dest)
    assert len(reader.pages) == 3 == result.pages
    assert "two" in reader.pages[1].extract_text()
    assert result.bytes_out == dest.stat().st_size <= result.bytes_in


def test_ebook_shrinks_an_image_heavy_pdf_by_a_large_factor(tmp_path: Path) -> None:
    """This test ensures that ebook downsamples 600 DPI photos and re-encodes them."""
    # 1,200 pixels drawn at 2 inches: 600 DPI, four times ebook's 150.
    src = _image_pdf(
        tmp_path / "photos.pdf",
        [_jpeg_image(_photo(1200, 1200)), _flate_image(_photo(1200, 1200))],
        inches=2,
    )
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, "ebook")
    assert not result.kept_input
    assert result.bytes_out * 8 < result.bytes_in
    with pikepdf.open(dest) as pdf:
        images = [pdf.pages[0].Resources.XObject[name] for name in ("/Im0", "/Im1")]
        assert [(int(i.Width), int(i.Height)) for i in images] == [(300, 300), (300, 300)]
        assert all(i.Filter == pikepdf.Name.DCTDecode for i in images)


def test_screen_is_smaller_than_ebook(tmp_path: Path) -> None:
    """This test ensures that screen (96 DPI, lower quality) goes further than ebook."""
    src = _image_pdf(tmp_path / "photos.pdf", [_jpeg_image(_photo(1200, 1200))], inches=2)
    ebook = compress_pdf(src, tmp_path / "ebook.pdf", "ebook")
    screen = compress_pdf(src, tmp_path / "screen.pdf", "screen")
    assert screen.bytes_out < ebook.bytes_out


def test_lossless_changes_no_pixel(tmp_path: Path) -> None:
    """This test ensures that lossless keeps every image's decoded pixels identical."""
    mask = Image.linear_gradient("L").resize((200, 200))
    rgb_data, rgb_entries = _flate_image(_photo(400, 300))
    src = _image_pdf(
        tmp_path / "mixed.pdf",
        [
            _jpeg_image(_photo(600, 600)),
            (rgb_data, rgb_entries),
            _flate_image(picture(300, 200, "L")),
        ],
        inches=1,
    )
    with pikepdf.open(src, allow_overwriting_input=True) as pdf:
        pdf.pages[0].Resources.XObject.Im1.SMask = _soft_mask(pdf, mask)
        pdf.save(src)
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, "lossless")
    assert not result.kept_input
    assert _pixels(dest) == _pixels(src)
    assert len(_pixels(src)) == 4


def test_shared_image_is_reencoded_once_and_keeps_its_soft_mask(tmp_path: Path) -> None:
    """This test ensures that an image drawn on many pages stays one object, with /SMask."""
    src = _image_pdf(tmp_path / "shared.pdf", [_flate_image(_photo(1200, 1200))], pages=5, inches=2)
    with pikepdf.open(src, allow_overwriting_input=True) as pdf:
        alpha = Image.linear_gradient("L").resize((1200, 1200))
        pdf.pages[0].Resources.XObject.Im0.SMask = _soft_mask(pdf, alpha)
        pdf.save(src)
    dest = tmp_path / "out.pdf"
    compress_pdf(src, dest, "ebook")
    with pikepdf.open(dest) as pdf:
        images = {page.Resources.XObject.Im0.objgen for page in pdf.pages}
        assert len(images) == 1
        image = pdf.pages[0].Resources.XObject.Im0
        assert (int(image.Width), int(image.Height)) == (300, 300)
        assert (int(image.SMask.Width), int(image.SMask.Height)) == (300, 300)


def test_lossy_profiles_drop_other_applications_private_data(tmp_path: Path) -> None:
    """This test ensures that ebook drops /PieceInfo and lossless keeps it."""
    src = tmp_path / "in.pdf"
    src.write_bytes(text_pdf(2))
    with pikepdf.open(src, allow_overwriting_input=True) as pdf:
        private = pikepdf.Stream(pdf, bytes(range(256)) * 2000)  # incompressible-ish
        piece = pikepdf.Dictionary(Illustrator=pikepdf.Dictionary(Private=private))
        pdf.Root.PieceInfo = piece
        pdf.pages[0].obj.PieceInfo = piece
        pdf.save(src)
    compress_pdf(src, tmp_path / "ebook.pdf", "ebook")
    compress_pdf(src, tmp_path / "lossless.pdf", "lossless")
    with pikepdf.open(tmp_path / "ebook.pdf") as pdf:
        assert "/PieceInfo" not in pdf.Root
        assert "/PieceInfo" not in pdf.pages[0].obj
    with pikepdf.open(tmp_path / "lossless.pdf") as pdf:
        assert "/PieceInfo" in pdf.Root
        assert "/PieceInfo" in pdf.pages[0].obj


def _intent(pdf: pikepdf.Pdf, kind: str, profile: bytes) -> pikepdf.Dictionary:
    stream = pikepdf.Stream(pdf, zlib.compress(profile))
    stream.Filter = pikepdf.Name.FlateDecode
    stream.N = 3
    return pikepdf.Dictionary(
        Type=pikepdf.Name.OutputIntent,
        S=pikepdf.Name(kind),
        OutputConditionIdentifier="sRGB",
        DestOutputProfile=pdf.make_indirect(stream),
    )


def _pdfx_document(path: Path) -> Path:
    """Writes a PDF claiming PDF/X-4 and PDF/A-2b, with both output intents."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path.write_bytes(text_pdf(1))
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.Root.OutputIntents = pikepdf.Array(
            [_intent(pdf, "/GTS_PDFX", profile), _intent(pdf, "/GTS_PDFA1", profile)]
        )
        pdf.docinfo["/GTS_PDFXVersion"] = "PDF/X-4"
        with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
            xmp["pdfxid:GTS_PDFXVersion"] = "PDF/X-4"
            xmp["pdfaid:part"] = "2"
            xmp["pdfaid:conformance"] = "B"
        pdf.save(path)
    return path


@pytest.mark.parametrize("profile", ["ebook", "screen"])
def test_lossy_profiles_remove_the_pdfx_output_intent_and_claim(
    tmp_path: Path, profile: str
) -> None:
    """This test ensures that a screen copy drops the press's intent and PDF/X claim only.

    The PDF/A intent and claim stay, and the result says what was removed.
    """
    src = _pdfx_document(tmp_path / "in.pdf")
    result = compress_pdf(src, tmp_path / "out.pdf", profile)
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert [str(intent.S) for intent in pdf.Root.OutputIntents] == ["/GTS_PDFA1"]
        assert "/GTS_PDFXVersion" not in pdf.docinfo
        xmp = pdf.open_metadata()
        assert "pdfxid:GTS_PDFXVersion" not in xmp
        assert xmp["pdfaid:part"] == "2"
    assert any("PDF/X" in warning for warning in result.warnings)


@pytest.mark.parametrize("profile", PROFILES)
def test_unparsable_xmp_is_never_rewritten(tmp_path: Path, profile: str) -> None:
    """This test ensures that no profile replaces XMP it cannot parse (pikepdf's default)."""
    src = tmp_path / "in.pdf"
    src.write_bytes(text_pdf(2))
    broken = b"<x:xmpmeta><dc:title>Annual report</dc:title> <<< not XML"
    with pikepdf.open(src, allow_overwriting_input=True) as pdf:
        pdf.Root.Metadata = pdf.make_stream(broken)
        pdf.save(src, fix_metadata_version=False)  # else pikepdf itself empties it
    compress_pdf(src, tmp_path / "out.pdf", profile)
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert bytes(pdf.Root.Metadata.read_bytes()) == broken


def _object_streams(path: Path) -> int:
    with pikepdf.open(path) as pdf:
        return sum(
            1
            for obj in pdf.objects
            if isinstance(obj, pikepdf.Stream) and obj.get("/Type") == "/ObjStm"
        )


@pytest.mark.parametrize(
    ("claim", "profile", "object_streams"),
    [
        ("pdfa-1", "lossless", False),
        ("pdfa-1", "ebook", False),
        ("pdfa-2", "lossless", True),
        ("pdfx-3", "lossless", False),
        ("pdfx-3", "ebook", True),  # ebook removes the press's intent and the claim
        ("pdfx-4", "lossless", True),
    ],
)
def test_documents_claiming_pdf_1_4_standards_get_no_object_streams(
    tmp_path: Path, claim: str, profile: str, object_streams: bool
) -> None:
    """This test ensures that PDF/A-1, PDF/X-1a and X-3 files stay conforming.

    Those standards forbid object streams; later ones allow them.
    """
    src = _pdfx_document(tmp_path / "in.pdf")
    with pikepdf.open(src, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
            xmp["pdfaid:part"] = "1" if claim == "pdfa-1" else "2"
            if claim.startswith("pdfx"):
                version = "PDF/X-3:2002" if claim == "pdfx-3" else "PDF/X-4"
                xmp["pdfxid:GTS_PDFXVersion"] = version
                pdf.docinfo["/GTS_PDFXVersion"] = version
            else:
                del xmp["pdfxid:GTS_PDFXVersion"]
                del pdf.docinfo["/GTS_PDFXVersion"]
        pdf.save(src, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    compress_pdf(src, tmp_path / "out.pdf", profile)
    assert (_object_streams(tmp_path / "out.pdf") > 0) is object_streams


def test_lossless_keeps_the_pdfx_output_intent(tmp_path: Path) -> None:
    """This test ensures that lossless leaves output intents and claims as they are."""
    src = _pdfx_document(tmp_path / "in.pdf")
    result = compress_pdf(src, tmp_path / "out.pdf", "lossless")
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert [str(i.S) for i in pdf.Root.OutputIntents] == ["/GTS_PDFX", "/GTS_PDFA1"]
        assert pdf.open_metadata()["pdfxid:GTS_PDFXVersion"] == "PDF/X-4"
    assert not any("PDF/X" in warning for warning in result.warnings)


def _content_stream_pdf(path: Path, raw: bytes, **entries: object) -> Path:
    """Writes a one-page PDF whose content stream has ``raw`` as its encoded data."""
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, raw)
    stream.Filter = pikepdf.Name.FlateDecode
    for key, value in entries.items():
        stream[key] = value
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=[0, 0, 200, 200], Contents=pdf.make_indirect(stream)
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path, compress_streams=False)
    return path


def _content_stream(path: Path) -> tuple[bytes, bytes]:
    """Returns the first page's content stream: (raw encoded bytes, decoded bytes)."""
    with pikepdf.open(path) as pdf:
        contents = pdf.pages[0].Contents
        return bytes(contents.read_raw_bytes()), bytes(contents.read_bytes())


def test_lightly_deflated_streams_are_recompressed_losslessly(tmp_path: Path) -> None:
    """This test ensures that a level-1 Flate stream is deflated again, same content."""
    rng = random.Random(3)  # noqa: S311 - reproducible text, not secrets
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"]
    content = b"".join(
        b"BT /F1 12 Tf %d %d Td (%s) Tj ET\n"
        % (rng.randrange(600), rng.randrange(800), b" ".join(rng.choices(words, k=8)))
        for _ in range(3000)
    )
    src = _content_stream_pdf(tmp_path / "in.pdf", zlib.compress(content, 1))
    compress_pdf(src, tmp_path / "out.pdf", "lossless")
    raw, decoded = _content_stream(tmp_path / "out.pdf")
    assert decoded == content
    assert len(raw) < len(zlib.compress(content, 1)) * 0.9


@pytest.mark.parametrize("profile", PROFILES)
def test_damaged_flate_stream_is_copied_as_it_is(tmp_path: Path, profile: str) -> None:
    """This test ensures that a truncated Flate stream is kept byte for byte, not lost."""
    content = b"0 0 m 100 100 l S\n" * 5000
    truncated = zlib.compress(content, 1)[:-200]
    src = _content_stream_pdf(tmp_path / "in.pdf", truncated)
    compress_pdf(src, tmp_path / "out.pdf", profile)
    raw, _ = _content_stream(tmp_path / "out.pdf")
    assert raw == truncated


def test_flate_bomb_stream_is_kept_without_being_held_inflated(tmp_path: Path) -> None:
    """This test ensures that 256 MB of zeros deflated to 250 KB is kept, never held whole.

    Recompressing it cannot win (it is already level 9), and it is inflated and deflated
    by chunks: the Python heap never holds more than a few chunks of it.
    """
    deflater = zlib.compressobj(9)
    bomb = b"".join(deflater.compress(bytes(1 << 20)) for _ in range(256)) + deflater.flush()
    src = tmp_path / "in.pdf"
    src.write_bytes(text_pdf(1))
    with pikepdf.open(src, allow_overwriting_input=True) as pdf:
        stream = pikepdf.Stream(pdf, bomb)
        stream.Filter = pikepdf.Name.FlateDecode
        pdf.Root.DocpipeData = pdf.make_indirect(stream)  # kept: reachable, never parsed
        pdf.save(src)
    tracemalloc.start()
    try:
        compress_pdf(src, tmp_path / "out.pdf", "lossless")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert bytes(pdf.Root.DocpipeData.read_raw_bytes()) == bomb


def test_predictor_image_is_recompressed_with_identical_pixels(tmp_path: Path) -> None:
    """This test ensures that an image with a PNG predictor keeps every pixel when redone."""
    image = picture(300, 200).quantize(16).convert("RGB")
    with pikepdf.new() as pdf:
        pdf.save(tmp_path / "empty.pdf")
    rows = image.tobytes()
    stride = 300 * 3
    # PNG "Up" predictor on every row (type byte 2), as many producers write charts.
    filtered = bytearray()
    previous = bytes(stride)
    for top in range(0, len(rows), stride):
        row = rows[top : top + stride]
        filtered += b"\x02" + bytes((a - b) & 0xFF for a, b in zip(row, previous, strict=True))
        previous = row
    data = zlib.compress(bytes(filtered), 1)
    parms = pikepdf.Dictionary(Predictor=12, Colors=3, BitsPerComponent=8, Columns=300)
    src = _image_pdf(
        tmp_path / "in.pdf",
        [
            (
                data,
                {
                    "/Filter": pikepdf.Name.FlateDecode,
                    "/DecodeParms": parms,
                    "/Width": 300,
                    "/Height": 200,
                    "/ColorSpace": pikepdf.Name.DeviceRGB,
                    "/BitsPerComponent": 8,
                },
            )
        ],
    )
    result = compress_pdf(src, tmp_path / "out.pdf", "lossless")
    assert _pixels(tmp_path / "out.pdf") == [rows]
    assert result.bytes_out < result.bytes_in


def test_never_larger_than_the_input(tmp_path: Path) -> None:
    """This test ensures that an input compression cannot shrink is copied byte for byte."""
    first = tmp_path / "first.pdf"
    first.write_bytes(text_pdf(4))
    once = tmp_path / "once.pdf"
    compress_pdf(first, once, "lossless")
    twice = tmp_path / "twice.pdf"
    result = compress_pdf(once, twice, "ebook")
    assert result.kept_input
    assert twice.read_bytes() == once.read_bytes()
    assert result.bytes_out == result.bytes_in == once.stat().st_size
    assert any("kept as it was" in warning for warning in result.warnings)


@pytest.mark.parametrize("profile", PROFILES)
def test_input_is_never_modified(tmp_path: Path, profile: str) -> None:
    """This test ensures that compressing leaves the source file's bytes untouched."""
    src = _image_pdf(tmp_path / "in.pdf", [_jpeg_image(_photo(800, 800))], inches=1)
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    compress_pdf(src, tmp_path / "out.pdf", profile)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before


def test_image_over_the_pixel_limit_is_kept_with_a_warning(tmp_path: Path) -> None:
    """This test ensures that an image above the pixel limit is kept, not a crash."""
    src = _image_pdf(tmp_path / "big.pdf", [_jpeg_image(_photo(1200, 1200))], inches=1)
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, "ebook", limits=Limits(max_image_pixels=500_000))
    assert any("pixel limit" in warning for warning in result.warnings)
    with pikepdf.open(dest) as pdf:
        assert int(pdf.pages[0].Resources.XObject.Im0.Width) == 1200


@pytest.mark.parametrize("content", [b"%PDF-1.7\n1 0 obj <<", b"not a pdf at all", b""])
def test_corrupt_input_is_corrupt_document(tmp_path: Path, content: bytes) -> None:
    """This test ensures that an unreadable PDF raises CORRUPT_DOCUMENT and writes nothing."""
    src = tmp_path / "broken.pdf"
    src.write_bytes(content)
    dest = tmp_path / "out.pdf"
    with pytest.raises(DocumentError) as caught:
        compress_pdf(src, dest, "ebook")
    assert caught.value.code is ErrorCode.CORRUPT_DOCUMENT
    assert str(tmp_path) not in caught.value.message
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_password_protected_input_is_encrypted_document(tmp_path: Path) -> None:
    """This test ensures that a PDF that needs a password raises ENCRYPTED_DOCUMENT."""
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(text_pdf(1))
    src = tmp_path / "locked.pdf"
    with pikepdf.open(plain) as pdf:
        pdf.save(src, encryption=pikepdf.Encryption(user="secret", owner="owner"))
    with pytest.raises(DocumentError) as caught:
        compress_pdf(src, tmp_path / "out.pdf", "lossless")
    assert caught.value.code is ErrorCode.ENCRYPTED_DOCUMENT


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    """This test ensures that a profile name outside PROFILES is a ValueError."""
    src = tmp_path / "in.pdf"
    src.write_bytes(text_pdf(1))
    with pytest.raises(ValueError, match="unknown profile"):
        compress_pdf(src, tmp_path / "out.pdf", "tiny")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "name", ["sf_pdflatex-forms.pdf", "sf_pdflatex-outline.pdf", "sf_libreoffice-form.pdf"]
)
def test_structure_is_kept_on_real_documents(tmp_path: Path, name: str, profile: str) -> None:
    """This test ensures that pages, form fields, annotations and outline entries survive."""
    src = _corpus_file(name)
    dest = tmp_path / "out.pdf"
    compress_pdf(src, dest, profile)
    before, after = _structure(src), _structure(dest)
    assert after == before
    assert sum(before[1:]) > 0  # the file really has fields, annotations or outlines


def test_real_scan_shrinks_and_keeps_its_page(tmp_path: Path) -> None:
    """This test ensures that a real 2400 DPI scan is downsampled by ebook."""
    src = _corpus_file("ocr_2400dpi.pdf")
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, "ebook")
    assert result.bytes_out < result.bytes_in * 0.9
    assert len(PdfReader(dest).pages) == len(PdfReader(src).pages)


def test_huge_flate_image_is_downsampled_by_strips_never_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that a Flate image too big to decode whole is still downsampled."""
    from functions.documents.compress.images import encode, strips

    # Scaled down: an image over the whole-decode limit, strips far smaller than it.
    monkeypatch.setattr(encode, "MAX_DECODED_BYTES", 1024 * 1024)
    monkeypatch.setattr(strips, "STRIP_BYTES", 64 * 1024)
    big = _photo(1600, 1200)  # 5.8 MB decoded, drawn at 2 inches: 800 DPI
    src = _image_pdf(tmp_path / "huge.pdf", [_flate_image(big)], inches=2)
    dest = tmp_path / "out.pdf"
    result = compress_pdf(src, dest, "ebook")
    assert not result.warnings
    with pikepdf.open(dest) as pdf:
        image = pdf.pages[0].Resources.XObject.Im0
        assert (int(image.Width), int(image.Height)) == (300, 300)
        assert image.Filter == pikepdf.Name.DCTDecode


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_strip_reduction_equals_whole_image_reduction(mode: str) -> None:
    """This test ensures that reducing by strips gives exactly the whole image's reduce()."""
    from functions.documents.compress.images.photo import is_photo
    from functions.documents.compress.images.strips import reduce_flate_by_strips

    for source in (_photo(503, 301).convert(mode), picture(503, 301, mode)):
        raw = zlib.compress(source.tobytes(), 6)
        components = len(mode)
        reduced, photo = reduce_flate_by_strips(raw, mode, 503, 301, components, 3)
        assert reduced.tobytes() == source.reduce(3).tobytes()
        assert photo == is_photo(source)


def test_truncated_huge_flate_image_is_kept_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that damaged data in a strip-decoded image keeps it, not a crash."""
    from functions.documents.compress.images import strips

    monkeypatch.setattr(strips, "STRIP_BYTES", 64 * 1024)
    data, entries = _flate_image(_photo(1200, 1200))
    src = _image_pdf(tmp_path / "cut.pdf", [(data[: len(data) // 2], entries)], inches=1)
    result = compress_pdf(src, tmp_path / "out.pdf", "ebook")
    assert any("damaged data" in warning for warning in result.warnings)
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert int(pdf.pages[0].Resources.XObject.Im0.Width) == 1200
