"""The output naming: every source key has its own outputs, inside their prefixes."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.naming import (
    MAX_BASE_BYTES,
    S3_MAX_KEY_BYTES,
    member_base,
    member_bases,
    output_base,
    outputs_of,
)

# The pairs of source keys that shared outputs before the mapping (issue of the fault
# campaign): each pair must now give two different output sets.
COLLIDING_PAIRS = [
    ("report.pdf", "report.jpg"),
    ("x.pdf", "/x.pdf"),
    ("a/b.pdf", "a//b.pdf"),
    ("a/b.pdf", "a/./b.pdf"),
    ("y.pdf", "y.pdf/"),
    ("folder.pdf", "folder/"),
]


@pytest.mark.parametrize(("first", "second"), COLLIDING_PAIRS)
def test_different_keys_never_share_outputs(first: str, second: str) -> None:
    """The pairs that once collided now map to distinct outputs."""
    a, b = outputs_of(first), outputs_of(second)
    assert {a.pdf, a.text, a.manifest, a.report, a.status}.isdisjoint(
        {b.pdf, b.text, b.manifest, b.report, b.status}
    )


def test_a_bundle_member_never_shares_a_key_of_its_own() -> None:
    """Member x.pdf of batch.zip and key batch.zip/x.pdf differ."""
    member = member_base("batch.zip", "x.pdf")
    assert member == "batch.zip!/x.pdf"
    assert member != output_base("batch.zip/x.pdf")


@pytest.mark.parametrize("key", ["a/../../x.pdf", "../escape.pdf", "./a", "a/..", "/../b"])
def test_dot_segments_never_leave_their_prefix(key: str) -> None:
    """`..` and `.` in a key cannot move an output out of its prefix."""
    keys = outputs_of(key)
    for output, prefix in ((keys.pdf, "processed/"), (keys.report, "failed/")):
        assert posixpath.normpath(output).startswith(prefix.rstrip("/") + "/")
        assert "/../" not in f"/{output}/"
        assert "/./" not in f"/{output}/"


def test_common_keys_stay_readable() -> None:
    """An ordinary key keeps its name and its whole extension."""
    keys = outputs_of("inbox/scan.jpg")
    assert keys.pdf == "processed/inbox/scan.jpg.pdf"
    assert keys.text == "processed/inbox/scan.jpg.txt"
    assert keys.manifest == "processed/inbox/scan.jpg.json"
    assert keys.report == "failed/inbox/scan.jpg.json"
    assert keys.status == "status/inbox/scan.jpg.json"


@pytest.mark.parametrize("size", [1000, 1014, 1020, 1024])
def test_keys_near_the_s3_limit_still_fit(size: int) -> None:
    """Keys of 1,014 bytes or more still give valid, unique outputs."""
    key = "k" * (size - 4) + ".pdf"
    other = "k" * (size - 5) + "x.pdf"
    keys = outputs_of(key)
    for output in (keys.pdf, keys.manifest, keys.report, keys.status):
        assert len(output.encode()) <= S3_MAX_KEY_BYTES
    assert len(output_base(key).encode()) <= MAX_BASE_BYTES
    assert outputs_of(other).manifest != keys.manifest


@given(st.lists(st.text(alphabet="ab./!%", min_size=1, max_size=6), max_size=8, unique=True))
def test_member_outputs_are_always_unique(names: list[str]) -> None:
    """This test ensures uniqueness of member outputs for any list of distinct names."""
    bases = member_bases("b.zip", names)
    assert len(set(bases)) == len(bases)


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_the_mapping_is_injective(first: str, second: str) -> None:
    """Two different keys always have two different output bases."""
    if first != second:
        assert output_base(first) != output_base(second)
