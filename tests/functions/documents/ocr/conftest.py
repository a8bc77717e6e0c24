"""A mount with the OCR models installed, as the stack provisions them on EFS; pikepdf
as on Lambda, without the jbig2dec program."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from pikepdf import jbig2

from pipeline.models import provision_mount


@pytest.fixture
def ocr_mount(mount: Path) -> Path:
    """The test mount with the ``eng`` and orientation models installed."""
    provision_mount(mount, ("eng",), "fast")
    return mount


@pytest.fixture
def no_jbig2dec() -> Iterator[None]:
    """pikepdf as on Lambda, where the jbig2dec program it runs for JBIG2 is missing
    (as it is on most machines: the outcome here does not depend on this one)."""

    def absent(*_args: object, **_kwargs: object) -> NoReturn:
        raise FileNotFoundError(2, "No such file or directory", "jbig2dec")

    before = jbig2.get_decoder()
    jbig2.set_decoder(jbig2.JBIG2Decoder(subprocess_run=absent))
    yield
    jbig2.set_decoder(before)
