"""A mount with the OCR models installed, as the stack provisions them on EFS."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import provision_mount


@pytest.fixture
def ocr_mount(mount: Path) -> Path:
    """The test mount with the ``eng`` and orientation models installed."""
    provision_mount(mount, ("eng",), "fast")
    return mount
