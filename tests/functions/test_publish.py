"""The upload helpers: S3 metadata that can carry any source key."""

from __future__ import annotations

from functions.publish import source_metadata


def test_metadata_is_ascii_for_any_key() -> None:
    """S3 metadata (US-ASCII only) can carry a non-ASCII key."""
    metadata = source_metadata({"bucket": "b", "key": "inbox/résumé 1.pdf", "sha256": "ab"})
    assert metadata["source-key"] == "inbox/r%C3%A9sum%C3%A9%201.pdf"
    assert all(value.isascii() for value in metadata.values())
