"""A mount with the OCR models installed, as the stack provisions them on EFS; pikepdf
as on Lambda, without the jbig2dec program."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from pipeline.models import provision_mount


@pytest.fixture
def ocr_mount(mount: Path) -> Path:
    """The test mount with the ``eng`` and orientation models installed."""
    provision_mount(mount, ("eng",), "fast")
    return mount


@pytest.fixture
def no_jbig2dec(monkeypatch: pytest.MonkeyPatch) -> None:
    """pikepdf as on Lambda, where the jbig2dec program it runs for JBIG2 is missing
    (as it is on most machines: the outcome here does not depend on this one)."""

    def missing(_image: pikepdf.PdfImage) -> Image.Image:
        raise pikepdf.DependencyError("jbig2dec - not installed or not found")

    monkeypatch.setattr(pikepdf.PdfImage, "as_pil_image", missing)
