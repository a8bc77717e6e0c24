"""The engine: loaded on the first OCR, once per environment, threads bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.documents.ocr import engine
from functions.documents.ocr.models import ModelError
from tests import scangen

ROOT = Path(__file__).resolve().parents[4]


def test_importing_the_transform_handler_loads_no_ocr_engine() -> None:
    """This test ensures that the transform handler's import does not load tesserocr,
    Pillow or a model: a document with text never pays for OCR."""
    probe = (
        "import sys, functions.transform; "
        "print(sorted(m for m in ('tesserocr', 'PIL', 'pikepdf') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_engine_is_loaded_once_and_reused(ocr_mount: Path) -> None:
    """This test ensures that the first OCR loads the model and later ones reuse it, with
    OpenMP's threads bounded to the process's CPUs."""
    image = scangen.scan_image(scangen.page_lines(41, 2), height_inches=1.2)
    first = engine.recognise(ocr_mount, "eng", image, 300)
    loaded = engine._engines[(str(ocr_mount), "eng")]
    second = engine.recognise(ocr_mount, "eng", image, 300)
    assert engine._engines[(str(ocr_mount), "eng")] is loaded
    assert first.text == second.text
    assert (str(ocr_mount), "eng") in engine.loaded_engines()
    assert int(os.environ["OMP_THREAD_LIMIT"]) <= engine.cpu_count()


def test_a_missing_model_is_named(tmp_path: Path) -> None:
    """This test ensures that OCR without a provisioned model fails with a sentence
    naming the model and where it should be."""
    image = scangen.scan_image(["x"], height_inches=0.5)
    with pytest.raises(ModelError, match="'eng' is not installed under"):
        engine.recognise(tmp_path, "eng", image, 300)
