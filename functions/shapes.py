"""Checks shared by the contracts' parse functions (:mod:`functions.contracts`)."""

from __future__ import annotations

from typing import Any


class ContractError(ValueError):
    """A value does not have the shape of its contract."""


def to_object(raw: Any, what: str) -> dict[str, Any]:
    """Returns ``raw`` if it is a JSON object."""
    if not isinstance(raw, dict):
        raise ContractError(f"{what} is not a JSON object")
    return raw


def text(raw: dict[str, Any], name: str) -> str | None:
    """Returns the non-empty string ``raw[name]``, or None."""
    value = raw.get(name)
    return value if isinstance(value, str) and value else None


def required(raw: dict[str, Any], name: str, kind: type, what: str) -> Any:
    """Returns ``raw[name]`` if it has type ``kind``; raises :class:`ContractError` if not."""
    value = raw.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ContractError(f"{what} has no valid {name!r}")
    return value


def number(raw: dict[str, Any], name: str) -> int:
    """Returns the whole number ``raw[name]``, or 0."""
    value = raw.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
