"""The engine: loaded on the first OCR, once per environment, threads bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

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


def test_otsu_threshold_splits_a_two_peaked_histogram_between_its_peaks() -> None:
    """This test ensures that the threshold the binarisation choice is made around falls
    between the ink and the paper."""
    histogram = [0] * 256
    histogram[20], histogram[240] = 100, 900
    assert 20 <= engine.otsu_threshold(histogram) < 240
    assert engine.otsu_threshold([0] * 255 + [5]) == 0  # one level: nothing to split


def test_a_clean_page_is_binarised_globally_and_a_worn_one_locally() -> None:
    """This test ensures that a clean page (and a bilevel fax) takes Otsu's global
    threshold, which reads it the same for less time, and a worn page Sauvola's."""
    lines = scangen.page_lines(12)
    clean = scangen.scan_image(lines)
    assert engine.binarisation(clean, 300).method == engine.OTSU
    assert engine.binarisation(clean.convert("1"), 300).method == engine.OTSU
    worn = scangen.scan_image(lines, degraded=True)
    assert engine.binarisation(worn, 300) == engine.Binarisation(engine.SAUVOLA)


#: Lines whose second and third share no word with the others.
BANDED_LINES = [
    "Searchable scans need a text layer aligned",
    "Invoice number 4821 is due within thirty",
    "days of delivery to the northern warehouse.",
    "Meeting notes: the committee approved the",
    "budget and the new schedule for spring.",
]


@pytest.mark.parametrize("shade", [110, 150])
def test_words_on_a_shaded_band_are_not_lost_to_a_global_threshold(
    ocr_mount: Path, shade: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that a clean page whose lines are printed on a grey or dark band
    is binarised locally: a global threshold cuts through the band or turns it into one
    black blob, and the words on it are lost."""
    image = scangen.scan_image(BANDED_LINES, band=shade)
    banded = " ".join(BANDED_LINES[1:3])
    assert engine.binarisation(image, 300) == engine.Binarisation(engine.SAUVOLA)
    locally = scangen.word_recall(banded, engine.recognise(ocr_mount, "eng", image, 300).text)

    monkeypatch.setattr(engine, "binarisation", lambda *_: engine.Binarisation(engine.OTSU))
    globally = scangen.word_recall(banded, engine.recognise(ocr_mount, "eng", image, 300).text)
    assert globally < 0.2
    assert locally >= globally + 0.4


def test_words_on_a_light_band_are_read_with_the_global_threshold(ocr_mount: Path) -> None:
    """This test ensures that a band lighter than the valley between ink and paper keeps
    the page two-toned (Otsu's threshold leaves it white) and its words are read."""
    image = scangen.scan_image(BANDED_LINES, band=190)
    assert engine.binarisation(image, 300).method == engine.OTSU
    read = engine.recognise(ocr_mount, "eng", image, 300)
    assert scangen.word_recall(" ".join(BANDED_LINES[1:3]), read.text) >= 0.9


def test_a_two_toned_page_is_read_within_its_content_and_boxes_stay_in_place(
    ocr_mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that Tesseract reads only the box around a clean page's ink,
    with a margin, and that the word boxes it gives are still in the whole image's
    pixels, where the whole image read gives them (the text layer depends on it)."""
    lines = scangen.page_lines(14, 3)
    page = Image.new("L", (2400, 3000), 255)
    page.paste(scangen.scan_image(lines, height_inches=1.2), (700, 1100))
    binarised = engine.binarisation(page, 300)
    assert binarised.method == engine.OTSU
    assert binarised.content is not None
    left, top, width, height = binarised.content
    assert 700 - 40 < left < 700 + 90  # the scan's own margin, less ours
    assert 1100 - 40 < top < 1100 + 90
    assert left + width < 700 + 1350
    assert top + height < 1100 + 360
    within = engine.recognise(ocr_mount, "eng", page, 300)

    monkeypatch.setattr(engine, "binarisation", lambda *_: engine.Binarisation(engine.OTSU))
    whole = engine.recognise(ocr_mount, "eng", page, 300)
    assert within.text == whole.text
    assert scangen.word_recall(" ".join(lines), within.text) >= 0.98
    for mine, theirs in zip(within.words, whole.words, strict=True):
        assert max(abs(a - b) for a, b in zip(mine.box, theirs.box, strict=True)) <= 2
        assert abs(mine.baseline - theirs.baseline) <= 2


def test_tesseract_is_given_the_decoded_pixels_not_a_second_jpeg(ocr_mount: Path) -> None:
    """This test ensures that an image decoded from a JPEG reaches Tesseract as its very
    pixels: tesserocr would otherwise save it as a second, lossy JPEG and read that."""
    import io

    import tesserocr

    page = scangen.scan_image(scangen.page_lines(9, 2), height_inches=0.6, degraded=True)
    stored = io.BytesIO()
    page.save(stored, "JPEG", quality=90)
    decoded = Image.open(io.BytesIO(stored.getvalue()))
    decoded.load()
    exact = Image.frombytes("L", decoded.size, decoded.tobytes())
    tessdata = str(ocr_mount / "models" / "tesseract")
    with tesserocr.PyTessBaseAPI(path=tessdata, lang="eng") as api:
        api.SetImage(exact)
        wanted = api.GetThresholdedImage().tobytes()
        api.SetImage(engine.as_pixels(decoded))
        assert api.GetThresholdedImage().tobytes() == wanted
        api.SetImage(decoded)  # as tesserocr takes it: re-encoded
        assert api.GetThresholdedImage().tobytes() != wanted
