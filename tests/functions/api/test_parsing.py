"""Property tests of the API's parsers: keys in paths, names, and the listing cursor."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.api.errors import ApiError
from functions.api.http import parse_event
from functions.api.reads import _decode_cursor, encode_cursor
from functions.api.routes import parse_key
from functions.api.settings import ApiSettings
from functions.api.uploads import MAX_NAME_BYTES, parse_create
from pipeline.local.api_server import request_event

SETTINGS = ApiSettings("trigger", "output", "arn:aws:states:::stateMachine:x", "inbox/")
# Keys S3 accepts: any text without surrogates, at most 1,024 bytes in UTF-8.
KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200).map(
    lambda rest: "inbox/" + rest
)


@given(KEYS, st.booleans())
def test_a_key_survives_the_path_whether_slashes_are_encoded_or_not(
    key: str, slashes: bool
) -> None:
    """This test ensures that any key, URL-encoded into the path (with or without its
    slashes encoded), travels through the payload 2.0 event and is read back unchanged."""
    encoded = urllib.parse.quote(key, safe="/" if slashes else "")
    request = parse_event(request_event("GET", f"/documents/{encoded}", {}, b""))
    assert request.raw_path.startswith("/documents/")
    assert parse_key(request.raw_path.removeprefix("/documents/"), SETTINGS) == key


@given(st.text(min_size=1, max_size=300))
def test_names_are_accepted_exactly_when_they_are_file_names(name: str) -> None:
    """This test ensures that a name is accepted if and only if it is a printable file
    name of at most 255 UTF-8 bytes, and that a refusal is an ApiError, never a crash."""
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        size = MAX_NAME_BYTES + 1  # surrogates: never a file name
    acceptable = (
        size <= MAX_NAME_BYTES
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and name.isprintable()
    )
    try:
        parsed = parse_create({"name": name})
    except ApiError:
        assert not acceptable
    else:
        assert acceptable
        assert parsed.name == name


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=300))
def test_cursors_round_trip_and_foreign_ones_are_refused(rest: str) -> None:
    """This test ensures that a cursor decodes to the status key it was made from, and
    that anything else (a key outside status/) is refused as BAD_CURSOR."""
    assert _decode_cursor(encode_cursor("status/" + rest)) == "status/" + rest
    with pytest.raises(ApiError, match="cursor"):
        _decode_cursor(encode_cursor("processed/" + rest))
