"""Content sniffing decides the type from bytes, never from the file name."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.errors import DocumentError, ErrorCode
from functions.sniff import sniff, sniff_bytes
from tests import docgen


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (docgen.text_pdf(1), "pdf"),
        (docgen.image_bytes("JPEG"), "jpeg"),
        (docgen.image_bytes("PNG"), "png"),
        (docgen.multipage_tiff(2), "tiff"),
        (docgen.image_bytes("GIF"), "gif"),
        (docgen.image_bytes("BMP"), "bmp"),
        (docgen.image_bytes("WEBP"), "webp"),
        (docgen.zip_bundle({"a.pdf": docgen.text_pdf(1)}), "zip"),
        (b"garbage before the header %PDF-1.4\n", "pdf"),
    ],
)
def test_types_are_sniffed_from_content(tmp_path: Path, data: bytes, kind: str) -> None:
    """This test ensures that every supported type is recognised whatever its name says."""
    path = tmp_path / "misleading.txt"
    path.write_bytes(data)
    assert sniff(path) == kind


def test_empty_and_unknown_content_get_their_codes(tmp_path: Path) -> None:
    """This test ensures that an empty file and an unknown binary get stable codes."""
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError) as caught:
        sniff(empty)
    assert caught.value.code is ErrorCode.EMPTY_DOCUMENT
    binary = tmp_path / "program.pdf"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))
    with pytest.raises(DocumentError) as caught:
        sniff(binary)
    assert caught.value.code is ErrorCode.UNSUPPORTED_TYPE


@given(st.binary(max_size=2048))
def test_sniffing_never_fails_on_arbitrary_bytes(data: bytes) -> None:
    """This test ensures that arbitrary bytes give a type or None, never an exception."""
    assert sniff_bytes(data) in {None, "pdf", "jpeg", "png", "tiff", "gif", "bmp", "webp", "zip"}
