"""ZIP bundles are unpacked safely or refused with UNSAFE_ARCHIVE."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.archive import unpack
from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits
from tests import docgen

LIMITS = Limits(max_input_bytes=50 * 1024 * 1024, max_archive_members=5, max_compression_ratio=200)


def _zip(tmp_path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    path = tmp_path / "bundle.zip"
    path.write_bytes(out.getvalue())
    return path


def _refused(path: Path, tmp_path: Path, code: ErrorCode = ErrorCode.UNSAFE_ARCHIVE) -> str:
    destination = tmp_path / "members"
    with pytest.raises(DocumentError) as caught:
        unpack(path, destination, LIMITS)
    assert caught.value.code is code
    assert not destination.exists(), "a refused bundle leaves nothing unpacked"
    return caught.value.message


def test_members_are_unpacked_under_numbered_names(tmp_path: Path) -> None:
    """This test ensures that members keep their names in the result but not on disk."""
    pdf, jpeg = docgen.text_pdf(2), docgen.image_bytes("JPEG")
    path = _zip(
        tmp_path,
        [
            ("docs/a.pdf", pdf),
            ("docs/", b""),
            ("b.jpg", jpeg),
            ("__MACOSX/._b.jpg", b"junk"),
            (".DS_Store", b"junk"),
        ],
    )
    members = unpack(path, tmp_path / "members", LIMITS)
    assert [(m.name, m.path.name, m.size) for m in members] == [
        ("docs/a.pdf", "0001", len(pdf)),
        ("b.jpg", "0002", len(jpeg)),
    ]
    assert members[1].path.read_bytes() == jpeg


@pytest.mark.parametrize("name", ["../evil.pdf", "docs/../../evil.pdf", "..\\evil.pdf"])
def test_traversal_entries_are_refused(tmp_path: Path, name: str) -> None:
    """This test ensures that an entry pointing outside the bundle refuses the bundle."""
    message = _refused(_zip(tmp_path, [(zipfile.ZipInfo(name), b"%PDF-1.4")]), tmp_path)
    assert "outside" in message


def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    """This test ensures that a symlink entry (which could point anywhere) is refused."""
    link = zipfile.ZipInfo("link.pdf")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    assert "symbolic link" in _refused(_zip(tmp_path, [(link, b"/etc/passwd")]), tmp_path)


def test_nested_archives_are_refused(tmp_path: Path) -> None:
    """This test ensures that a bundle inside a bundle is refused, whatever its name."""
    inner = docgen.zip_bundle({"a.pdf": docgen.text_pdf(1)})
    assert "nested" in _refused(_zip(tmp_path, [("inner.pdf", inner)]), tmp_path)


def test_zip_bombs_are_refused_before_they_expand(tmp_path: Path) -> None:
    """This test ensures that a member expanding over the ratio limit is refused."""
    path = _zip(tmp_path, [("zeros.pdf", bytes(10 * 1024 * 1024))])
    assert path.stat().st_size < 100_000
    assert "zip bomb" in _refused(path, tmp_path)


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    """This test ensures that the member limit from config is enforced."""
    entries: list[tuple[zipfile.ZipInfo | str, bytes]] = [
        (f"{n}.pdf", docgen.text_pdf(1)) for n in range(LIMITS.max_archive_members + 1)
    ]
    assert "more than 5 files" in _refused(_zip(tmp_path, entries), tmp_path)


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    """This test ensures that two directory entries sharing one data stream are refused."""
    path = _zip(tmp_path, [("a.pdf", docgen.text_pdf(1))])
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    end = data.index(b"PK\x05\x06")
    record = bytes(data[central:end])
    # A second central directory record for the same local header: the bomb trick.
    patched = data[:end] + record + data[end:]
    eocd = len(data[:end]) + len(record)
    patched[eocd + 8 : eocd + 12] = (2).to_bytes(2, "little") * 2
    patched[eocd + 12 : eocd + 16] = (2 * len(record)).to_bytes(4, "little")
    path.write_bytes(bytes(patched))
    assert "overlap" in _refused(path, tmp_path)


def test_empty_and_broken_bundles_get_their_codes(tmp_path: Path) -> None:
    """This test ensures that a bundle of nothing and a truncated ZIP get clear codes."""
    empty = _zip(tmp_path, [("folder/", b"")])
    _refused(empty, tmp_path, ErrorCode.EMPTY_DOCUMENT)
    full = docgen.zip_bundle({"a.pdf": docgen.text_pdf(3)})
    broken = tmp_path / "broken.zip"
    broken.write_bytes(full[: len(full) // 2])
    _refused(broken, tmp_path, ErrorCode.CORRUPT_DOCUMENT)


_names = st.lists(
    st.text(alphabet="ab./\\:", min_size=1, max_size=12), min_size=1, max_size=4, unique=True
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=_names)
def test_nothing_is_ever_written_outside_the_destination(
    tmp_path_factory: pytest.TempPathFactory, names: list[str]
) -> None:
    """This test ensures that any entry names either unpack inside or refuse the bundle."""
    root = tmp_path_factory.mktemp("bundle")
    entries: list[tuple[zipfile.ZipInfo | str, bytes]] = [
        (zipfile.ZipInfo(name), docgen.text_pdf(1)) for name in names
    ]
    try:
        path = _zip(root, entries)
    except ValueError:  # zipfile itself rejects some names (e.g. NUL); nothing to unpack
        return
    before = set(root.rglob("*"))
    refused: ErrorCode | None = None
    members = []
    try:
        members = unpack(path, root / "members", LIMITS)
    except DocumentError as err:
        refused = err.code
    assert refused in {None, ErrorCode.UNSAFE_ARCHIVE, ErrorCode.EMPTY_DOCUMENT}
    after = set(root.rglob("*"))
    assert all(p.is_relative_to(root / "members") for p in after - before)
    assert all(".." not in m.name.split("/") for m in members)
