"""Typed access to pikepdf objects for code that walks untrusted PDF structures.

A damaged or hostile PDF puts any type anywhere; these return None instead of raising,
and bound how deep a tree is followed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf


#: How deep form-field and outline trees are followed; real documents stay far below.
MAX_TREE_DEPTH = 64


def as_dict(value: Any) -> pikepdf.Dictionary | None:
    import pikepdf

    return value if isinstance(value, pikepdf.Dictionary) else None


def as_array(value: Any) -> pikepdf.Array | None:
    import pikepdf

    return value if isinstance(value, pikepdf.Array) else None
