"""How pypdf is called on untrusted PDFs: which of its errors mean "bad input", and quiet."""

from __future__ import annotations

import contextlib
import logging
import struct
import zlib
from collections.abc import Iterator


def pypdf_errors() -> tuple[type[BaseException], ...]:
    """What pypdf raises for malformed files, fonts and content streams.

    AssertionError is among them: pypdf asserts on some damaged content streams (an
    operand that is not the type its parser expects), which is bad input, not our defect.
    """
    from pypdf.errors import PyPdfError

    return (
        PyPdfError,
        AssertionError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        ZeroDivisionError,
        RecursionError,
        struct.error,
        zlib.error,
    )


@contextlib.contextmanager
def quiet_pypdf() -> Iterator[None]:
    """Silences pypdf's log of tolerated oddities (missing fontTools, odd xrefs) while
    extracting: they would fill the function's log for every damaged document."""
    logger = logging.getLogger("pypdf")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
