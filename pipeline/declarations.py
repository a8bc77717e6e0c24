"""The settings as declared on :class:`pipeline.settings.Settings`, read back.

Each field's config key (its name in camelCase), Pulumi type, default as a stack file
writes it, description, bounds and environment variable, for the validator
(``pipeline/config.py``) and the generated docs (``pipeline/settings_docs.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import MISSING, Field, dataclass, fields
from functools import cache
from typing import Any, get_type_hints

from pipeline.bounds import Bounds
from pipeline.settings import Settings

# The config types Pulumi.yaml knows, by field annotation.
_TYPES: dict[Any, str] = {
    int: "integer",
    bool: "boolean",
    str: "string",
    str | None: "string",
    tuple[str, ...]: "array",
}


@dataclass(frozen=True)
class Declaration:
    """One setting as declared on :class:`Settings`.

    Attributes:
        key: The config key without the ``docpipe:`` namespace.
        attribute: The :class:`Settings` attribute.
        type: The Pulumi config type: string, integer, boolean or array (of strings).
        optional: Whether an empty value means "not set" (``None``).
        default: The default as a stack file writes it (``""`` for unset, lists as lists).
        description: What it means.
        bounds: The values it accepts beyond its type, if restricted.
        env: The functions' environment variable carrying it, if any.
    """

    key: str
    attribute: str
    type: str
    optional: bool
    default: Any
    description: str
    bounds: Bounds | None
    env: str | None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _declare(item: Field[Any], annotation: Any) -> Declaration:
    if "description" not in item.metadata or annotation not in _TYPES:
        raise TypeError(
            f"Settings.{item.name} must be declared with setting(...) and one of the types "
            f"{', '.join(map(str, _TYPES))}"
        )
    default = item.default if item.default is not MISSING else None
    as_written = "" if default is None else list(default) if isinstance(default, tuple) else default
    return Declaration(
        key=_camel(item.name),
        attribute=item.name,
        type=_TYPES[annotation],
        optional=annotation == str | None,
        default=as_written,
        description=item.metadata["description"],
        bounds=item.metadata["bounds"],
        env=item.metadata["env"],
    )


@cache
def _declarations() -> dict[str, Declaration]:
    hints = get_type_hints(Settings)
    return {d.key: d for d in (_declare(f, hints[f.name]) for f in fields(Settings))}


def declarations() -> Iterator[Declaration]:
    """Yields every setting's declaration, in the order :class:`Settings` declares them."""
    yield from _declarations().values()


def declaration(key: str) -> Declaration | None:
    """Returns the declaration of config key ``key`` (no namespace), or ``None``."""
    return _declarations().get(key)


_declarations()  # a field declared without setting(...) fails at import, naming it
