"""Where a source key's outputs live: a deterministic, collision-free mapping.

For a source key ``K`` the output base ``S`` is ``K`` with each ``/``-separated segment
made safe (see docs/ARCHITECTURE.md, "Output naming")::

    processed/S.pdf  processed/S.txt  processed/S.json   one document
    processed/S!/<member S>.pdf|.txt|.json               a bundle's members
    processed/S.json                                     the bundle manifest
    failed/S.json                                        a failure report
    status/S.json                                        the key's status document

A segment keeps every printable character except ``%`` and ``!``, which are written
``%25`` and ``%21``; control characters are percent-encoded too. Three segments that
could move a key out of its prefix are written as reserved forms: the empty segment (from
``//``, a leading or a trailing ``/``) as ``%``, ``.`` as ``%2E`` and ``..`` as ``%2E%2E``.
No encoded key segment can contain ``!`` or a ``%`` that is not followed by two hex
digits, so the bundle separator ``!/`` and the long-key marker ``%~`` below never collide
with a plain key, and two different keys never share an output.

The full extension is kept (``scan.jpg`` -> ``processed/scan.jpg.pdf``), so
``report.pdf`` and ``report.jpg`` never share outputs. A base whose longest output key
(``processed/S.json``) would pass S3's 1,024-byte limit is cut at a character boundary
and ends in ``%~`` and 40 hex digits of the key's SHA-256, so it stays unique.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

PROCESSED = "processed"
FAILED = "failed"
STATUS = "status"
S3_MAX_KEY_BYTES = 1024
# The longest output key of a base is "processed/" + S + ".json".
_LONGEST_WRAPPING = len(f"{PROCESSED}/") + len(".json")
MAX_BASE_BYTES = S3_MAX_KEY_BYTES - _LONGEST_WRAPPING
_HASH_MARKER = "%~"
_HASH_HEX = 40
BUNDLE_SEPARATOR = "!/"
_RESERVED_SEGMENTS = {"": "%", ".": "%2E", "..": "%2E%2E"}
_ESCAPED = {"%", "!"}


def _encode_char(char: str) -> str:
    if char in _ESCAPED or not char.isprintable():
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return char


def encode_segment(segment: str) -> str:
    """Returns one key segment in its safe, reversible output form."""
    if segment in _RESERVED_SEGMENTS:
        return _RESERVED_SEGMENTS[segment]
    return "".join(_encode_char(char) for char in segment)


def encode_path(path: str) -> str:
    """Returns a whole key (or member path) with every segment made safe."""
    return "/".join(encode_segment(segment) for segment in path.split("/"))


def _fit(base: str, identity: str) -> str:
    """Returns ``base`` or, when too long for S3, its cut form ending in a digest."""
    if len(base.encode("utf-8")) <= MAX_BASE_BYTES:
        return base
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX]
    tail = f"{_HASH_MARKER}{digest}"
    budget = MAX_BASE_BYTES - len(tail)
    cut = []
    used = 0
    for char in base:
        size = len(char.encode("utf-8"))
        if used + size > budget:
            break
        cut.append(char)
        used += size
    return "".join(cut) + tail


def output_base(source_key: str) -> str:
    """Returns ``S``, the output base of the source key ``K`` (without any prefix)."""
    return _fit(encode_path(source_key), source_key)


def member_base(bundle_key: str, member_name: str) -> str:
    """Returns the output base of one bundle member: ``S!/<member S>``."""
    base = f"{encode_path(bundle_key)}{BUNDLE_SEPARATOR}{encode_path(member_name)}"
    return _fit(base, f"{bundle_key}\0{member_name}")


def member_bases(bundle_key: str, member_names: Iterable[str]) -> list[str]:
    """Returns each member's output base; member names within one ZIP are unique paths."""
    return [member_base(bundle_key, name) for name in member_names]


@dataclass(frozen=True)
class OutputKeys:
    """The keys of one output base in the output bucket."""

    base: str

    @property
    def pdf(self) -> str:
        """The published document."""
        return f"{PROCESSED}/{self.base}.pdf"

    @property
    def text(self) -> str:
        """The extracted text."""
        return f"{PROCESSED}/{self.base}.txt"

    @property
    def manifest(self) -> str:
        """The manifest (for a bundle: the bundle manifest)."""
        return f"{PROCESSED}/{self.base}.json"

    @property
    def report(self) -> str:
        """The failure report."""
        return f"{FAILED}/{self.base}.json"

    @property
    def status(self) -> str:
        """The key's status document."""
        return f"{STATUS}/{self.base}.json"

    @property
    def members_prefix(self) -> str:
        """The prefix under which a bundle's member outputs live."""
        return f"{PROCESSED}/{self.base}{BUNDLE_SEPARATOR}"


def outputs_of(source_key: str) -> OutputKeys:
    """Returns the output keys of a source key."""
    return OutputKeys(output_base(source_key))
