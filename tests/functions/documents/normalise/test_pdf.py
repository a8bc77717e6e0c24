"""PDFs: copied when clean, repaired, decrypted, stripped of active content, text extracted."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pikepdf
import pypdf
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from functions.documents.normalise import Normalised, normalise
from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits
from tests import docgen

CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"


def _run(tmp_path: Path, data: bytes, limits: Limits | None = None) -> Normalised:
    src = tmp_path / "source.pdf"
    src.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    result = normalise(src, "pdf", out, limits or Limits())
    assert src.read_bytes() == data
    return result


def _output(tmp_path: Path) -> bytes:
    return (tmp_path / "out" / "document.pdf").read_bytes()


def test_clean_pdf_is_copied_byte_for_byte(tmp_path: Path) -> None:
    """This test ensures that a PDF that opens cleanly, unencrypted and without active
    content, becomes document.pdf unchanged, with its text per page and its facts."""
    data = docgen.text_pdf(["Alpha page", "Beta page", "Gamma page"], size=(595, 842))
    result = _run(tmp_path, data)
    assert _output(tmp_path) == data
    assert result.pages == 3
    assert result.warnings == ()
    assert result.has_text is True
    text = (tmp_path / "out" / "text.txt").read_text(encoding="utf-8")
    assert [page.strip() for page in text.split("\f")] == ["Alpha page", "Beta page", "Gamma page"]
    facts = json.loads((tmp_path / "out" / "facts.json").read_text())
    assert facts == result.facts
    assert facts["copied_unchanged"] is True
    assert facts["repaired"] is False
    assert facts["encrypted"] is False
    assert facts["text_layer"] is True
    assert facts["page_sizes"] == [[595, 842]] * 3
    assert facts["active_content_removed"] == []


def test_active_content_is_removed_with_warnings(tmp_path: Path) -> None:
    """This test ensures that document JavaScript, the opening action, catalog, page and
    field /AA, a launch link, a JavaScript button and a JavaScript bookmark are all
    removed, each reported, and the rewritten PDF still has its pages, form and outline."""
    result = _run(tmp_path, docgen.active_content_pdf())
    kinds = {entry["kind"] for entry in result.facts["active_content_removed"]}
    assert kinds == {
        "document_javascript",
        "open_javascript",
        "document_actions",
        "page_actions",
        "annotation_actions",
        "javascript_actions",
        "launch_actions",
    }
    assert len(result.warnings) == len(kinds)
    assert "Removed JavaScript that ran when the document opened." in result.warnings
    assert result.facts["copied_unchanged"] is False
    with pikepdf.open(io.BytesIO(_output(tmp_path))) as pdf:
        assert len(pdf.pages) == 2
        assert "/OpenAction" not in pdf.Root
        assert "/AA" not in pdf.Root
        assert "/JavaScript" not in pdf.Root.Names
        assert "/AA" not in pdf.pages[0].obj
        link, widget = pdf.pages[0].obj.Annots
        assert "/A" not in link
        assert "/A" not in widget
        assert "/AA" not in widget
        assert len(pdf.Root.AcroForm.Fields) == 1
        assert "/A" not in pdf.Root.Outlines.First
        raw = _output(tmp_path)
        assert b"app.alert" not in raw
        assert b"calc.exe" not in raw
    assert pypdf.PdfReader(io.BytesIO(_output(tmp_path))).pages[0].extract_text().strip() == (
        "Hello active"
    )


def test_goto_actions_are_kept(tmp_path: Path) -> None:
    """This test ensures that a harmless opening action (go to page 1) is not active
    content: the document is copied unchanged."""
    data = docgen.text_pdf(2, extra_catalog=b"/OpenAction [4 0 R /Fit]")
    result = _run(tmp_path, data)
    assert _output(tmp_path) == data
    assert result.warnings == ()


def test_owner_password_pdf_is_written_decrypted(tmp_path: Path) -> None:
    """This test ensures that an AES-256 PDF with only an owner password is a normal
    document: written decrypted, text extracted, encryption noted in the facts."""
    result = _run(tmp_path, docgen.encrypted_pdf())
    reader = pypdf.PdfReader(io.BytesIO(_output(tmp_path)))
    assert not reader.is_encrypted
    assert len(reader.pages) == result.pages == 2
    assert result.facts["encrypted"] is True
    text = (tmp_path / "out" / "text.txt").read_text(encoding="utf-8")
    assert "Secret two" in text.split("\f")[1]


def test_user_password_pdf_is_refused(tmp_path: Path) -> None:
    """This test ensures that a PDF needing a password to open is ENCRYPTED_DOCUMENT."""
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, docgen.encrypted_pdf(user_password="open-sesame"))
    assert raised.value.code is ErrorCode.ENCRYPTED_DOCUMENT
    assert list((tmp_path / "out").iterdir()) == []


def test_broken_xref_is_repaired(tmp_path: Path) -> None:
    """This test ensures that a PDF whose cross-reference offsets are wrong is repaired
    (qpdf rebuilds the table), reported as such, and keeps every page's text."""
    data = docgen.text_pdf(["One", "Two", "Three"])
    start = data.index(b"xref\n")
    broken = data[:start] + data[start:].replace(b"0000000", b"0000001")
    result = _run(tmp_path, broken)
    assert result.facts["repaired"] is True
    assert result.facts["repairs"]
    assert any("repaired" in warning for warning in result.warnings)
    reader = pypdf.PdfReader(io.BytesIO(_output(tmp_path)))
    assert [page.extract_text().strip() for page in reader.pages] == ["One", "Two", "Three"]


@pytest.mark.parametrize(
    "data",
    [
        docgen.text_pdf(3)[:200],
        b"%PDF-1.7\n" + bytes(range(256)) * 4,
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF",
    ],
    ids=["truncated", "garbage", "no-page-tree"],
)
def test_unreadable_pdf_is_corrupt(tmp_path: Path, data: bytes) -> None:
    """This test ensures that a PDF that cannot be repaired is CORRUPT_DOCUMENT and leaves
    nothing behind."""
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, data)
    assert raised.value.code is ErrorCode.CORRUPT_DOCUMENT
    assert list((tmp_path / "out").iterdir()) == []


def test_pdf_without_pages_is_empty(tmp_path: Path) -> None:
    """This test ensures that an intact PDF whose page tree lists no pages is
    EMPTY_DOCUMENT (not corrupt: there is simply nothing in it)."""
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, docgen.text_pdf([]))
    assert raised.value.code is ErrorCode.EMPTY_DOCUMENT


def test_page_limit(tmp_path: Path) -> None:
    """This test ensures that a PDF with more pages than the limit is TOO_MANY_PAGES."""
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, docgen.text_pdf(5), Limits(max_pages=4))
    assert raised.value.code is ErrorCode.TOO_MANY_PAGES
    assert "5 pages" in raised.value.message


def test_pdf_without_text_writes_no_text_file(tmp_path: Path) -> None:
    """This test ensures that an image-only PDF has no text.txt and says so."""
    src = tmp_path / "scan.png"
    src.write_bytes(docgen.image_bytes("PNG"))
    first = tmp_path / "first"
    first.mkdir()
    normalise(src, "png", first, Limits())
    result = _run(tmp_path, (first / "document.pdf").read_bytes())
    assert result.has_text is False
    assert result.facts["text_layer"] is False
    assert result.facts["image_count"] == 1
    assert not (tmp_path / "out" / "text.txt").exists()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Found by this test in CI: pypdf asserts (AssertionError) inside text extraction.
@example(position=399, junk=bytes(21), cut=False)
@given(
    position=st.integers(min_value=0, max_value=len(docgen.text_pdf(2)) - 1),
    junk=st.binary(min_size=1, max_size=64),
    cut=st.booleans(),
)
def test_damaged_pdfs_only_raise_document_errors(
    tmp_path: Path, position: int, junk: bytes, cut: bool
) -> None:
    """This test ensures that a PDF overwritten or cut anywhere with random bytes either
    becomes a PDF that opens or fails with a DocumentError, never anything else."""
    data = docgen.text_pdf(2)
    damaged = data[:position] + junk + (b"" if cut else data[position + len(junk) :])
    case = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis may replay an example
    outcome: Normalised | DocumentError
    try:
        outcome = _run(case, damaged)
    except DocumentError as err:
        outcome = err
    if isinstance(outcome, DocumentError):
        assert outcome.code in {
            ErrorCode.CORRUPT_DOCUMENT,
            ErrorCode.EMPTY_DOCUMENT,
            ErrorCode.ENCRYPTED_DOCUMENT,
        }
    else:
        assert len(pypdf.PdfReader(io.BytesIO(_output(case))).pages) == outcome.pages


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=512))
def test_random_bytes_after_a_header_only_raise_document_errors(
    tmp_path: Path, body: bytes
) -> None:
    """This test ensures that anything after a PDF header fails with a DocumentError or
    becomes a PDF, never an unexpected exception."""
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        result = _run(case, b"%PDF-1.7\n" + body)
    except DocumentError:
        return
    assert len(pypdf.PdfReader(io.BytesIO(_output(case))).pages) == result.pages >= 1


CORPUS_PDFS = [
    ("sf_pdflatex-outline.pdf", 4, "copied"),
    ("sf_libreoffice-form.pdf", 1, "copied"),
    ("pk_form_dd0293.pdf", 4, "rewritten"),
    ("pk_form_210966.pdf", 2, "rewritten"),
]


@pytest.mark.parametrize(("name", "pages", "how"), CORPUS_PDFS)
def test_corpus_pdfs(tmp_path: Path, name: str, pages: int, how: str) -> None:
    """This test ensures that real PDFs (outline, forms, an AES owner-password XFA form
    with document JavaScript) are copied or rewritten with every page and form field."""
    source = CORPUS / name
    if not source.is_file():
        pytest.skip(
            "no corpus beside the repository: python benchmarks/fetch_corpus.py downloads it"
        )
    data = source.read_bytes()
    result = _run(tmp_path, data)
    assert result.pages == pages
    assert (_output(tmp_path) == data) is (how == "copied")
    with pikepdf.open(source) as original, pikepdf.open(tmp_path / "out" / "document.pdf") as out:
        assert len(out.pages) == pages
        if "/AcroForm" in original.Root:
            assert len(out.Root.AcroForm.Fields) == len(original.Root.AcroForm.Fields)


def test_corpus_user_password_pdf(tmp_path: Path) -> None:
    """This test ensures that LibreOffice's password-protected sample is ENCRYPTED_DOCUMENT."""
    source = CORPUS / "sf_libreoffice-writer-password.pdf"
    if not source.is_file():
        pytest.skip(
            "no corpus beside the repository: python benchmarks/fetch_corpus.py downloads it"
        )
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, source.read_bytes())
    assert raised.value.code is ErrorCode.ENCRYPTED_DOCUMENT


def test_corpus_broken_page_tree_is_corrupt(tmp_path: Path) -> None:
    """This test ensures that a PDF whose page tree has no /Kids (neither qpdf nor pypdf
    can find its pages) is CORRUPT_DOCUMENT with a sentence, not a traceback."""
    source = CORPUS / "sf_unreadablemetadata.pdf"
    if not source.is_file():
        pytest.skip(
            "no corpus beside the repository: python benchmarks/fetch_corpus.py downloads it"
        )
    with pytest.raises(DocumentError) as raised:
        _run(tmp_path, source.read_bytes())
    assert raised.value.code is ErrorCode.CORRUPT_DOCUMENT
