"""Output naming: every source key gets its own outputs, inside their prefix, within S3's limit."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from functions.naming import (
    MAX_BASE_BYTES,
    S3_MAX_KEY_BYTES,
    member_base,
    member_bases,
    output_base,
    outputs_of,
)

# Keys as S3 accepts them: any Unicode text of 1 to 1,024 UTF-8 bytes (no lone surrogates).
keys = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300).filter(
    lambda key: len(key.encode("utf-8")) <= S3_MAX_KEY_BYTES
)
segment_text = st.sampled_from(["", ".", "..", "a", "a.pdf", "%", "%2E", "!", "x!", "b/c"])
path_like = st.lists(segment_text, min_size=1, max_size=6).map("/".join)


@pytest.mark.parametrize(
    ("key", "pdf"),
    [
        ("inbox/scan.jpg", "processed/inbox/scan.jpg.pdf"),
        ("report.pdf", "processed/report.pdf.pdf"),
        ("naïve résumé.pdf", "processed/naïve résumé.pdf.pdf"),
        ("/x.pdf", "processed/%/x.pdf.pdf"),
        ("a//b.pdf", "processed/a/%/b.pdf.pdf"),
        ("a/./b.pdf", "processed/a/%2E/b.pdf.pdf"),
        ("a/../../x.pdf", "processed/a/%2E%2E/%2E%2E/x.pdf.pdf"),
        ("folder/", "processed/folder/%.pdf"),
        ("100%!.pdf", "processed/100%25%21.pdf.pdf"),
        ("line\nbreak.pdf", "processed/line%0Abreak.pdf.pdf"),
    ],
)
def test_common_keys_read_as_themselves(key: str, pdf: str) -> None:
    """This test ensures that ordinary keys stay readable and odd ones are written safely."""
    assert outputs_of(key).pdf == pdf


def test_each_output_kind_has_its_own_prefix() -> None:
    """This test ensures that a key's document, text, manifest, report and status differ."""
    outputs = outputs_of("inbox/a.pdf")
    assert [outputs.pdf, outputs.text, outputs.manifest, outputs.report, outputs.status] == [
        "processed/inbox/a.pdf.pdf",
        "processed/inbox/a.pdf.txt",
        "processed/inbox/a.pdf.json",
        "failed/inbox/a.pdf.json",
        "status/inbox/a.pdf.json",
    ]
    assert outputs.members_prefix == "processed/inbox/a.pdf!/"


def test_the_measured_collisions_no_longer_collide() -> None:
    """This test ensures that the pairs that once shared outputs now get outputs of their own."""
    bases = [
        output_base(key)
        for key in (
            "report.pdf",
            "report.jpg",
            "x.pdf",
            "/x.pdf",
            "a/b.pdf",
            "a//b.pdf",
            "a/./b.pdf",
            "y.pdf",
            "y.pdf/",
            "folder.pdf",
            "folder/",
            "batch/x.pdf",
            "batch.zip/x.pdf",
        )
    ]
    bases.append(member_base("batch.zip", "x.pdf"))
    assert len(set(bases)) == len(bases)


@given(st.lists(keys, min_size=2, max_size=2, unique=True))
@example(["report.pdf", "report.jpg"])
@example(["a/b", "a//b"])
@example(["%", ""])
def test_two_different_keys_never_share_a_base(pair: list[str]) -> None:
    """This test ensures that the mapping is one to one for any two keys S3 accepts."""
    first, second = pair
    assert output_base(first) != output_base(second)


@given(path_like, path_like)
def test_bundle_members_never_meet_plain_keys(bundle: str, member: str) -> None:
    """This test ensures that a member's outputs never coincide with any plain key's."""
    assert member_base(bundle, member) != output_base(f"{bundle}/{member}")
    assert member_base(bundle, member) != output_base(bundle)


@given(keys)
@example("../../etc/passwd")
@example("k" * 1024)
@example("é" * 512)
def test_outputs_stay_in_their_prefix_and_within_s3s_limit(key: str) -> None:
    """This test ensures that no output key escapes its prefix or passes 1,024 bytes."""
    outputs = outputs_of(key)
    assert len(outputs.base.encode("utf-8")) <= MAX_BASE_BYTES
    for output in (outputs.pdf, outputs.text, outputs.manifest, outputs.report, outputs.status):
        assert len(output.encode("utf-8")) <= S3_MAX_KEY_BYTES
        segments = output.split("/")
        assert segments[0] in ("processed", "failed", "status")
        assert all(segment not in ("", ".", "..") for segment in segments)


def test_long_keys_stay_distinct_after_cutting() -> None:
    """This test ensures that two long keys with one prefix still get different bases."""
    first, second = "k" * 1020 + "a", "k" * 1020 + "b"
    assert output_base(first) != output_base(second)
    assert "%~" in output_base(first)


@given(st.lists(st.text(alphabet="ab./!%", min_size=1, max_size=6), max_size=8, unique=True))
def test_members_of_one_bundle_never_share_outputs(names: list[str]) -> None:
    """This test ensures that distinct member names of one bundle get distinct bases."""
    bases = member_bases("b.zip", names)
    assert len(set(bases)) == len(bases)
