"""The output layout of DESIGN section 3: processed/S.*, bundle members, failed/K.json."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.publish import failed_key, member_bases, processed_base, source_metadata


@pytest.mark.parametrize(
    ("key", "base"),
    [
        ("inbox/report.pdf", "processed/inbox/report"),
        ("scan.jpeg", "processed/scan"),
        ("archive.tar.zip", "processed/archive.tar"),
        ("inbox/README", "processed/inbox/README"),
        ("inbox/.hidden", "processed/inbox/.hidden"),
    ],
)
def test_processed_keys_drop_only_the_last_extension(key: str, base: str) -> None:
    """This test ensures that S is K without the extension of its last segment."""
    assert processed_base(key) == base


def test_failure_reports_keep_the_whole_key() -> None:
    """This test ensures that failed/K.json keeps K with its extension."""
    assert failed_key("inbox/report.pdf") == "failed/inbox/report.pdf.json"


def test_bundle_members_never_overwrite_each_other() -> None:
    """This test ensures that members differing only by extension get distinct outputs."""
    assert member_bases("in/batch.zip", ["a.jpg", "a.png", "b/c.pdf", "a.png"]) == [
        "processed/in/batch/a",
        "processed/in/batch/a.png",
        "processed/in/batch/b/c",
        "processed/in/batch/a.png-2",
    ]


@given(st.lists(st.text(alphabet="ab./", min_size=1, max_size=6), max_size=8))
def test_member_outputs_are_always_unique(names: list[str]) -> None:
    """This test ensures uniqueness of member outputs for any list of names."""
    bases = member_bases("b.zip", names)
    assert len(set(bases)) == len(bases)


def test_metadata_is_ascii_for_any_key() -> None:
    """This test ensures that S3 metadata (US-ASCII only) can carry a non-ASCII key."""
    metadata = source_metadata({"bucket": "b", "key": "inbox/résumé 1.pdf", "sha256": "ab"})
    assert metadata["source-key"] == "inbox/r%C3%A9sum%C3%A9%201.pdf"
    assert all(value.isascii() for value in metadata.values())
