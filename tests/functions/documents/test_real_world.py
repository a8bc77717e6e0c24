"""Real-world document classes, one generated reproduction each, through both stages.

Every class here once produced a wrong result: a published file no reader opens, a
signature broken silently, XFA scripts left in, a clean file called damaged, palette
colours unlike reference decoders, "damaged" said of valid but unsupported files, a
Flate bomb's memory, deep nesting called empty (docs/ARCHITECTURE.md, "Document code").
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pypdf
import pytest
from PIL import Image

from functions.documents.compress import compress_pdf
from functions.documents.normalise import Normalised, normalise
from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits
from tests import docgen
from tests.functions.documents import realworld

ROOT = Path(__file__).resolve().parents[3]


def _normalise(tmp_path: Path, data: bytes, kind: str = "pdf") -> tuple[Normalised, Path]:
    src = tmp_path / f"source.{kind}"
    src.write_bytes(data)
    out = tmp_path / "normalised"
    out.mkdir()
    return normalise(src, kind, out, Limits()), out / "document.pdf"


def _opens_cleanly(path: Path, pages: int) -> None:
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == pages
        assert pdf.get_warnings() == []
    assert len(pypdf.PdfReader(path).pages) == pages


def test_a_trailer_without_size_is_given_one_when_normalised(tmp_path: Path) -> None:
    """This test ensures that a repaired PDF whose trailer lacked /Size is written with one."""
    result, document = _normalise(tmp_path, realworld.without_size())
    assert result.facts["repaired"] is True
    with pikepdf.open(document) as pdf:
        assert "/Size" in pdf.trailer
    _opens_cleanly(document, 1)


@pytest.mark.parametrize("profile", ["lossless", "ebook"])
def test_a_trailer_without_size_compresses_into_a_readable_file(
    tmp_path: Path, profile: str
) -> None:
    """This test ensures that compressing a PDF without /Size (object streams and a
    cross-reference stream, where /Size is required) gives a file every reader opens."""
    src = tmp_path / "in.pdf"
    src.write_bytes(realworld.without_size(40))
    result = compress_pdf(src, tmp_path / "out.pdf", profile)
    assert not result.kept_input
    _opens_cleanly(tmp_path / "out.pdf", 40)


def test_an_output_that_fails_its_check_is_replaced_by_the_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that when the compressed copy does not reopen, the input is
    published instead, with a warning and the reason in the report."""
    from functions.documents.compress import profiles

    def broken_save(pdf: pikepdf.Pdf, src: Path, dest: Path, bytes_in: int) -> tuple[int, bool]:
        dest.write_bytes(b"%PDF-1.7\nnot a document\n")
        return dest.stat().st_size, False

    monkeypatch.setattr(profiles, "save_guarded", broken_save)
    src = tmp_path / "in.pdf"
    src.write_bytes(docgen.text_pdf(3))
    result = compress_pdf(src, tmp_path / "out.pdf", "lossless")
    assert result.kept_input
    assert result.kept_because == "output_unreadable"
    assert (tmp_path / "out.pdf").read_bytes() == src.read_bytes()
    assert any("failed its check" in warning for warning in result.warnings)
    assert result.to_json()["passes"] == {}


def test_an_owner_password_pdf_passes_its_check_and_stays_encrypted(tmp_path: Path) -> None:
    """This test ensures that the check reopens an encrypted copy (no password needed to
    open) in both readers, so such a PDF is still compressed, not kept."""
    src = tmp_path / "in.pdf"
    with pikepdf.open(io.BytesIO(docgen.text_pdf(40))) as pdf:
        pdf.save(src, encryption=pikepdf.Encryption(user="", owner="owner"))
    result = compress_pdf(src, tmp_path / "out.pdf", "lossless")
    assert result.kept_because is None
    assert result.bytes_out < result.bytes_in
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert pdf.is_encrypted


def test_an_input_no_reader_opens_is_a_clear_failure(tmp_path: Path) -> None:
    """This test ensures that a PDF that cannot be read is CORRUPT_DOCUMENT, never a success."""
    src = tmp_path / "in.pdf"
    src.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    with pytest.raises(DocumentError) as caught:
        compress_pdf(src, tmp_path / "out.pdf", "lossless")
    assert caught.value.code == ErrorCode.CORRUPT_DOCUMENT


@pytest.mark.parametrize("profile", ["lossless", "ebook", "screen"])
def test_a_signed_pdf_is_published_byte_for_byte(tmp_path: Path, profile: str) -> None:
    """This test ensures that a signed PDF goes through both stages unchanged, with a warning."""
    data = realworld.signed_pdf()
    result, document = _normalise(tmp_path, data)
    assert document.read_bytes() == data
    assert result.facts["signatures"] == {
        "count": 1,
        "intact": 1,
        "invalidated": False,
        "reasons": [],
    }
    compressed = compress_pdf(document, tmp_path / "out.pdf", profile)
    assert (tmp_path / "out.pdf").read_bytes() == data
    assert compressed.kept_because == "signed"
    assert any("digitally signed" in warning for warning in compressed.warnings)


def test_a_signed_pdf_with_javascript_says_its_signature_was_invalidated(tmp_path: Path) -> None:
    """This test ensures that removing active content from a signed PDF is never silent:
    the facts and the warnings say the signature is no longer valid, and why."""
    result, document = _normalise(tmp_path, realworld.signed_pdf(javascript=True))
    signatures = result.facts["signatures"]
    assert signatures["invalidated"] is True
    assert signatures["reasons"] == ["its active content was removed"]
    assert any("signature is no longer valid" in warning for warning in result.warnings)
    compressed = compress_pdf(document, tmp_path / "out.pdf", "ebook")
    assert compressed.kept_because != "signed"


@pytest.mark.parametrize("single_stream", [False, True])
def test_xfa_scripts_are_removed_and_counted(tmp_path: Path, single_stream: bool) -> None:
    """This test ensures that every <script> of an XFA form is removed, the rest of the
    form is kept, and the report says how many scripts went."""
    result, document = _normalise(tmp_path, realworld.xfa_form(single_stream=single_stream))
    assert {"kind": "xfa_scripts", "count": 3} in result.facts["active_content_removed"]
    assert "Removed 3 script(s) from the document's XFA form." in result.warnings
    with pikepdf.open(document) as pdf:
        xfa = pdf.Root.AcroForm.XFA
        streams = [xfa] if isinstance(xfa, pikepdf.Stream) else list(xfa)[1::2]
        text = b"".join(stream.read_bytes() for stream in streams)
    assert not re.search(rb"<(\w+:)?script\b", text)
    assert b"<scriptModel>" in text
    assert b"<a>1</a>" in text


def test_a_file_only_pypdf_cannot_read_is_not_called_damaged(tmp_path: Path) -> None:
    """This test ensures that a file qpdf reads without a repair gets no "damaged"
    warning, and that what is published opens in pypdf."""
    result, document = _normalise(tmp_path, realworld.pypdf_unreadable())
    assert result.facts["repaired"] is False
    assert not any("damaged" in warning for warning in result.warnings)
    assert len(pypdf.PdfReader(document).pages) == 1


def test_a_clean_pdf_never_grows_nor_is_called_damaged(tmp_path: Path) -> None:
    """This test ensures that a small clean PDF is published as it is by every profile."""
    data = docgen.text_pdf(1)
    result, document = _normalise(tmp_path, data)
    assert document.read_bytes() == data
    assert not result.warnings
    for profile in ("lossless", "ebook", "screen"):
        compressed = compress_pdf(document, tmp_path / f"{profile}.pdf", profile)
        assert compressed.bytes_out <= len(data)
        assert not any("damaged" in warning for warning in compressed.warnings)


def _decoded_row(document: Path) -> list[tuple[int, int, int]]:
    with pikepdf.open(document) as pdf:
        stream = pdf.pages[0].Resources.XObject.Im0
        assert isinstance(stream, pikepdf.Stream)
        image = pikepdf.PdfImage(stream).as_pil_image()
    rgb = image.convert("RGB")
    return [rgb.getpixel((x, 0)) for x in range(4)]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "make"),
    [("png", realworld.short_palette_png), ("bmp", realworld.short_palette_bmp)],
)
def test_palette_indices_past_the_palette_show_black(
    tmp_path: Path, kind: str, make: Callable[[], bytes]
) -> None:
    """This test ensures that indices beyond a short palette come out black, as reference
    decoders show them, not as the last palette colour."""
    _, document = _normalise(tmp_path, make(), kind)
    assert _decoded_row(document) == [(255, 0, 0), (0, 255, 0), (0, 0, 0), (0, 0, 0)]


@pytest.mark.parametrize(("channels", "bits"), [(3, 32), (1, 16), (1, 64)])
def test_float_tiffs_pillow_cannot_read_are_not_supported(
    tmp_path: Path, channels: int, bits: int
) -> None:
    """This test ensures that a valid floating-point TIFF Pillow cannot decode is told
    "not supported" (UNSUPPORTED_TYPE), not "damaged"."""
    with pytest.raises(DocumentError) as caught:
        _normalise(tmp_path, realworld.float_tiff(channels, bits), "tiff")
    assert caught.value.code == ErrorCode.UNSUPPORTED_TYPE
    assert f"{bits}-bit floating-point" in caught.value.message


def test_a_tiff_claiming_samples_of_no_bits_is_damaged_not_unsupported(tmp_path: Path) -> None:
    """This test ensures that a TIFF whose BitsPerSample says 0 (a value no valid file
    has, as random damage leaves it) is reported as damaged (CORRUPT_DOCUMENT), not as a
    valid variant that is not supported."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    (directory,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, directory)
    for index in range(count):
        entry = directory + 2 + 12 * index
        tag, _kind, number, where = struct.unpack_from("<HHII", data, entry)
        if tag == 258:  # BitsPerSample: three SHORTs, stored elsewhere
            assert number == 3
            data[where : where + 6] = bytes(6)
    with pytest.raises(DocumentError) as caught:
        _normalise(tmp_path, bytes(data), "tiff")
    assert caught.value.code == ErrorCode.CORRUPT_DOCUMENT


def test_a_single_channel_32_bit_float_tiff_still_converts(tmp_path: Path) -> None:
    """This test ensures that the float TIFF Pillow does read is still converted."""
    result, document = _normalise(tmp_path, realworld.float_tiff(1, 32), "tiff")
    assert result.pages == 1
    assert document.stat().st_size > 0


def test_an_old_style_jpeg_tiff_is_embedded_without_re_encoding(tmp_path: Path) -> None:
    """This test ensures that the JPEG stream of an old-style JPEG TIFF becomes the
    page's image byte for byte, not pixels deflated."""
    tiff, jpeg = realworld.old_jpeg_tiff()
    result, document = _normalise(tmp_path, tiff, "tiff")
    assert result.facts["images"][0]["encoding"] == "jpeg"
    with pikepdf.open(document) as pdf:
        image = pdf.pages[0].Resources.XObject.Im0
        assert image.Filter == pikepdf.Name.DCTDecode
        assert image.read_raw_bytes() == jpeg
    assert document.stat().st_size < 2 * len(tiff)


def test_a_pdf_whose_objects_need_a_newer_filter_is_not_supported(tmp_path: Path) -> None:
    """This test ensures that a PDF qpdf cannot open because it uses a filter outside the
    standard is UNSUPPORTED_TYPE, naming the filter."""
    with pytest.raises(DocumentError) as caught:
        _normalise(tmp_path, realworld.brotli_object_stream())
    assert caught.value.code == ErrorCode.UNSUPPORTED_TYPE
    assert "/BrotliDecode" in caught.value.message


@pytest.mark.parametrize("profile", ["lossless", "ebook"])
def test_content_in_a_newer_filter_is_kept_and_called_not_supported(
    tmp_path: Path, profile: str
) -> None:
    """This test ensures that compressing a PDF with content in an unknown filter keeps
    that content and says "not supported", not "damaged"."""
    src = tmp_path / "in.pdf"
    src.write_bytes(realworld.brotli_content())
    result = compress_pdf(src, tmp_path / "out.pdf", profile)
    assert any("/BrotliDecode" in w and "not supported" in w for w in result.warnings)
    assert not any("damaged" in warning for warning in result.warnings)
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        assert pdf.pages[0].Contents.Filter == "/BrotliDecode"


def test_deeply_nested_arrays_are_damaged_not_empty(tmp_path: Path) -> None:
    """This test ensures that a page lost to 100,000-deep nesting is CORRUPT_DOCUMENT."""
    with pytest.raises(DocumentError) as caught:
        _normalise(tmp_path, realworld.deep_arrays())
    assert caught.value.code == ErrorCode.CORRUPT_DOCUMENT
    src = tmp_path / "deep.pdf"
    src.write_bytes(realworld.deep_arrays())
    with pytest.raises(DocumentError) as compressed:
        compress_pdf(src, tmp_path / "out.pdf", "lossless")
    assert compressed.value.code == ErrorCode.CORRUPT_DOCUMENT


def test_streams_expanding_beyond_the_limit_get_only_bounded_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that a stream that would expand beyond what the content passes
    may hold keeps the document out of them, with a warning (scaled down: 1 MiB)."""
    from functions.documents.compress import guards

    monkeypatch.setattr(guards, "MAX_DECODED_BYTES", 1 << 20)
    src = tmp_path / "bomb.pdf"
    src.write_bytes(realworld.flate_bomb(8 << 20))
    result = compress_pdf(src, tmp_path / "out.pdf", "ebook")
    assert any("expand to more than" in warning for warning in result.warnings)
    assert "images" not in result.to_json()["passes"]
    _opens_cleanly(tmp_path / "out.pdf", 1)


# The child's own peak: ru_maxrss would include the parent's (Linux folds the peak of the
# memory a vfork-ed child shares with pytest into it at exec), so the high-water mark is
# reset first and read from /proc at the end.
_MEASURE = """
import json, sys
from pathlib import Path
Path("/proc/self/clear_refs").write_text("5")
sys.path.insert(0, sys.argv[1])
from functions.documents.compress import compress_pdf
result = compress_pdf(Path(sys.argv[2]), Path(sys.argv[3]), "ebook")
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"peak": peak, "warnings": list(result.warnings)}))
"""


@pytest.mark.slow
def test_a_gibibyte_flate_bomb_compresses_within_512_mb(tmp_path: Path) -> None:
    """This test ensures that a 1 MiB PDF whose content inflates to 1 GiB of spaces is
    compressed by a process whose peak resident memory stays under 512 MB."""
    src = tmp_path / "bomb.pdf"
    src.write_bytes(realworld.flate_bomb(1 << 30))
    assert src.stat().st_size < 2 << 20
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(ROOT), str(src), str(tmp_path / "out.pdf")],
        capture_output=True,
        check=True,
        text=True,
    )
    measured = json.loads(run.stdout)
    assert measured["peak"] < 512 * 1024 * 1024
    assert any("expand to more than" in warning for warning in measured["warnings"])


def test_the_pixel_limit_warning_is_only_for_images_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that an image kept because it is too big to decode in memory,
    though under the pixel limit, is not said to exceed the pixel limit."""
    from PIL import Image

    from functions.documents.compress.images import encode

    monkeypatch.setattr(encode, "MAX_DECODED_BYTES", 64 * 1024)
    image = Image.effect_noise((400, 400), 60).convert("RGB")
    pdf = pikepdf.new()
    xobject = pikepdf.Stream(pdf, image.tobytes())
    xobject.Type, xobject.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    xobject.Width, xobject.Height = 400, 400
    xobject.ColorSpace, xobject.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    pdf.add_blank_page(page_size=(72, 72))
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject))
    pdf.pages[0].Contents = pikepdf.Stream(pdf, b"q 72 0 0 72 0 0 cm /Im0 Do Q")
    src = tmp_path / "in.pdf"
    pdf.save(src)
    result = compress_pdf(src, tmp_path / "out.pdf", "ebook", limits=Limits())
    assert not any("pixel limit" in warning for warning in result.warnings)
    assert any("too large to re-encode in memory" in warning for warning in result.warnings)


def test_the_passes_report_what_they_did(tmp_path: Path) -> None:
    """This test ensures that compress_pdf's value says what each pass did, as JSON."""
    src = tmp_path / "in.pdf"
    src.write_bytes(docgen.text_pdf(60))
    result = compress_pdf(src, tmp_path / "out.pdf", "ebook")
    report = json.loads(json.dumps(result.to_json()))
    assert report["kept_input"] is False
    assert report["kept_because"] is None
    assert set(report["passes"]) >= {"images", "fonts", "type1", "sharing", "streams"}
    assert report["passes"]["images"] == {"rewritten": 0, "bytes_before": 0, "bytes_after": 0}
    assert report["pdf_bytes_out"] == (tmp_path / "out.pdf").stat().st_size
    assert io.BytesIO((tmp_path / "out.pdf").read_bytes()).getvalue().startswith(b"%PDF")
