"""What compressing one PDF did: the typed value ``compress_pdf`` returns, and its JSON.

The manifest records it under ``compression`` (docs/ARCHITECTURE.md, "Document code"):
the sizes, whether the input was published as it was and why, and what each pass did
to the published copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class PassResult:
    """What one pass changed.

    Attributes:
        counted: What ``count`` counts, in the JSON (``rewritten``, ``subset``...).
        count: Objects the pass changed.
        bytes_before: Their stored size before.
        bytes_after: Their stored size after (0 for objects dropped).
    """

    counted: str
    count: int = 0
    bytes_before: int = 0
    bytes_after: int = 0

    def add(self, before: int, after: int) -> PassResult:
        """Returns this result with one more object changed from ``before`` to ``after`` bytes."""
        return replace(
            self,
            count=self.count + 1,
            bytes_before=self.bytes_before + before,
            bytes_after=self.bytes_after + after,
        )

    def to_json(self) -> dict[str, int]:
        """``{"<counted>": n, "bytes_before": b, "bytes_after": a}``."""
        return {
            self.counted: self.count,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }


#: Why the input was published as it was.
NOT_SMALLER = "not_smaller"
SIGNED = "signed"
OUTPUT_UNREADABLE = "output_unreadable"


@dataclass(frozen=True)
class Compressed:
    """What compressing one PDF produced.

    Attributes:
        bytes_in: Size of the input.
        bytes_out: Size of the output (equal to ``bytes_in`` when ``kept_input``).
        pages: Page count, the same in input and output (both verified).
        kept_input: The output is a byte copy of the input.
        kept_because: Why (``not_smaller``, ``signed``, ``output_unreadable``), or None.
        warnings: Sentences for a person about what was kept, removed or repaired.
        passes: What each pass did to the output, by pass name; empty when the input
            was kept (nothing of the passes' work was published).
    """

    bytes_in: int
    bytes_out: int
    pages: int
    kept_input: bool
    warnings: tuple[str, ...]
    kept_because: str | None = None
    passes: dict[str, PassResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``compression`` object."""
        return {
            "pdf_bytes_in": self.bytes_in,
            "pdf_bytes_out": self.bytes_out,
            "kept_input": self.kept_input,
            "kept_because": self.kept_because,
            "passes": {name: result.to_json() for name, result in self.passes.items()},
        }
