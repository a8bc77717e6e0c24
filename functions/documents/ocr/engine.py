"""Tesseract through tesserocr, loaded once per warm execution environment.

The first OCR in an environment loads the language model from the mount (about 0.1 s
for ``eng`` fast) and keeps the engine in a module-level cache; every later page and
invocation reuses it. Importing this module does not import tesserocr: the transform
handler's cold import stays short, and a document with text never pays for the engine.

Threads: a Tesseract built with OpenMP parallelises; more threads than the function has
CPUs turns a 1.3 s page into 40 s. ``OMP_THREAD_LIMIT`` is set to the CPUs this process
may use before the library loads (an operator's own setting wins). The tesserocr 2.13
wheels (x86_64 and arm64) link no OpenMP and run single-threaded; the limit guards a
build that does.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.documents.ocr.models import OSD, ModelError, model_path, models_dir

if TYPE_CHECKING:
    from PIL import Image

#: OSD's orientation confidence above which its answer is taken without checking.
SURE_ORIENTATION = 10.0
#: Below this OSD confidence the rotation is not even tried.
MIN_ORIENTATION = 1.0
#: Mean word confidence from which a page read as stored, in horizontal lines, is taken
#: as upright without asking OSD. Upright pages read 90-96 here, clean or worn; a page
#: turned 90 or 180 degrees reads as garbage at 28-43.
UPRIGHT_CONFIDENCE = 70.0
#: Tesseract's ``thresholding_method`` values: Otsu's global threshold, Sauvola's local one.
OTSU, SAUVOLA = "0", "2"
#: A page is two-toned (see :func:`binarisation`) when at most ``TWO_TONE_NEAR`` of
#: its pixels lie within ``TWO_TONE_VALLEY`` grey levels of Otsu's threshold and at most
#: ``TWO_TONE_DARK`` of its 8x8-pixel cells average darker than that valley. Clean pages
#: measure at most 1.7 % and 0.4 %; worn ones 34-99 % near the threshold.
TWO_TONE_VALLEY, TWO_TONE_NEAR, TWO_TONE_DARK = 48, 0.03, 0.01
_CELL = 8
#: The white margin kept around a two-toned page's content: an eighth of an inch.
_MARGIN_PER_INCH = 8
#: Words this long or longer say which way the lines run (wider than tall: horizontal).
_SHAPE_LETTERS = 3

_engines: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Word:
    """A recognised word, in pixels of the image it was read from (origin top left).

    Attributes:
        text: The word.
        confidence: Tesseract's confidence, 0-100.
        box: (left, top, right, bottom) of the word.
        baseline: The y of the line's baseline under the word.
        line_height: The height of the word's line, from its bounding box.
    """

    text: str
    confidence: float
    box: tuple[int, int, int, int]
    baseline: float
    line_height: int


@dataclass(frozen=True)
class Recognised:
    """What the engine read on one image."""

    text: str
    words: tuple[Word, ...]

    @property
    def confidence(self) -> float | None:
        """Mean word confidence (0-100), or None when no word was found."""
        if not self.words:
            return None
        return sum(word.confidence for word in self.words) / len(self.words)

    @property
    def horizontal(self) -> bool:
        """The words run in horizontal lines: together, the words of three letters or
        more are wider than tall. Tesseract reads a page turned 90 degrees clockwise
        well, but in vertical lines; that page still needs turning to be shown upright."""
        shaped = [word.box for word in self.words if len(word.text) >= _SHAPE_LETTERS]
        width = sum(right - left for left, _top, right, _bottom in shaped)
        height = sum(bottom - top for _left, top, _right, bottom in shaped)
        return width > height

    @property
    def upright(self) -> bool:
        """Read well in horizontal lines: the page needs no orientation detection."""
        return self.horizontal and (self.confidence or 0.0) >= UPRIGHT_CONFIDENCE


def cpu_count() -> int:
    """Returns the CPUs this process may run on (a Lambda function's vCPUs)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _tesserocr() -> Any:
    os.environ.setdefault("OMP_THREAD_LIMIT", str(cpu_count()))
    import tesserocr

    return tesserocr


def _engine(mount: Path, language: str) -> Any:
    key = (str(mount), language)
    engine = _engines.get(key)
    if engine is not None:
        return engine
    with _lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        if not model_path(mount, language).is_file():
            raise ModelError(
                f"The OCR model for {language!r} is not installed under "
                f"{models_dir(mount)}; provision it first."
            )
        tesserocr = _tesserocr()
        if language == OSD:
            # OSD needs the legacy engine; asking an LSTM-only model for it aborts.
            engine = tesserocr.PyTessBaseAPI(
                path=str(models_dir(mount)),
                lang=OSD,
                psm=tesserocr.PSM.OSD_ONLY,
                oem=tesserocr.OEM.TESSERACT_ONLY,
            )
        else:
            engine = tesserocr.PyTessBaseAPI(
                path=str(models_dir(mount)),
                lang=language,
                psm=tesserocr.PSM.AUTO,
                oem=tesserocr.OEM.LSTM_ONLY,
            )
        _engines[key] = engine
        return engine


def loaded_engines() -> list[tuple[str, str]]:
    """Returns the (mount, language) pairs loaded in this environment so far."""
    return sorted(_engines)


def detect_rotation(mount: Path, image: Image.Image, dpi: int) -> tuple[int, float]:
    """Returns the counter-clockwise turn (0/90/180/270) that sets ``image`` upright.

    Returns:
        The turn in degrees and OSD's confidence; (0, 0.0) when OSD finds too little.
    """
    engine = _engine(mount, OSD)
    engine.SetImage(as_pixels(image))
    engine.SetSourceResolution(dpi)
    try:
        found = engine.DetectOrientationScript()
    except RuntimeError:  # too few characters to decide
        return 0, 0.0
    finally:
        engine.Clear()
    if not found:
        return 0, 0.0
    return int(found["orient_deg"]) % 360, float(found["orient_conf"])


def recognise(mount: Path, language: str, image: Image.Image, dpi: int) -> Recognised:
    """Reads the text and the word boxes of one page image.

    Args:
        mount: The mount path the models live under.
        language: A Tesseract language (``eng``, or ``eng+deu`` for several).
        image: The page, upright, in grey or colour.
        dpi: The image's resolution, which Tesseract uses to size its filters.
    """
    tesserocr = _tesserocr()
    engine = _engine(mount, language)
    binarised = binarisation(image, dpi)
    engine.SetVariable("thresholding_method", binarised.method)
    engine.SetImage(as_pixels(image))
    engine.SetSourceResolution(dpi)
    if binarised.content is not None:
        engine.SetRectangle(*binarised.content)  # word boxes stay in the image's pixels
    try:
        engine.Recognize()
        text = engine.GetUTF8Text() or ""
        words = _words(tesserocr, engine)
    finally:
        engine.Clear()
    return Recognised(text=text, words=tuple(words))


def as_pixels(image: Image.Image) -> Image.Image:
    """Returns ``image`` as tesserocr should be given it: without a file format.

    tesserocr hands Leptonica the image saved in its own format (``image.format``, set
    when it was decoded from a file): a JPEG page would be read from a second, lossy
    JPEG, and a JPEG 2000 page not at all (the wheel's Leptonica has no JPEG 2000). An
    image without one goes as BMP: the very pixels.
    """
    return image if image.format is None else image.copy()


@dataclass(frozen=True)
class Binarisation:
    """How Tesseract is to binarise a page image.

    Attributes:
        method: :data:`OTSU` or :data:`SAUVOLA` (Tesseract's ``thresholding_method``).
        content: For a two-toned page, the box (left, top, width, height) around every
            pixel darker than Otsu's threshold, with a margin: Tesseract reads only it
            (blank margins cost layout time and hold no word). None: the whole image.
    """

    method: str
    content: tuple[int, int, int, int] | None = None


def binarisation(image: Image.Image, dpi: int) -> Binarisation:
    """Returns how Tesseract should binarise ``image``: Otsu or Sauvola.

    Sauvola's local threshold reads worn pages (noise, blur, uneven paper): Otsu's global
    one splits a noisy page with little text along its noise and reads nothing. But it
    costs about a tenth of a page's time, and on a two-toned page (a clean background
    and the ink, as a born-digital page or a clean scan rasterises) both read the same.
    A page is two-toned when its histogram has an empty valley around Otsu's threshold
    (noise, or a grey area the threshold could cut through, fills it) and no area of
    the page is darker than that valley (a dark band a global threshold would turn to
    one black blob, hiding the words on it).
    """
    grey = image if image.mode == "L" else image.convert("L")
    histogram = grey.histogram()
    threshold = otsu_threshold(histogram)
    low, high = max(0, threshold - TWO_TONE_VALLEY), threshold + TWO_TONE_VALLEY + 1
    if sum(histogram[low:high]) > TWO_TONE_NEAR * sum(histogram):
        return Binarisation(SAUVOLA)
    cells = grey.reduce(_CELL) if min(grey.size) >= _CELL else grey
    cell_histogram = cells.histogram()
    if sum(cell_histogram[:low]) > TWO_TONE_DARK * sum(cell_histogram):
        return Binarisation(SAUVOLA)
    dark = grey.point([255 if level <= threshold else 0 for level in range(256)]).getbbox()
    if dark is None:
        return Binarisation(OTSU)
    margin = max(1, dpi // _MARGIN_PER_INCH)
    left, top = max(0, dark[0] - margin), max(0, dark[1] - margin)
    right, bottom = min(grey.width, dark[2] + margin), min(grey.height, dark[3] + margin)
    return Binarisation(OTSU, (left, top, right - left, bottom - top))


def otsu_threshold(histogram: list[int]) -> int:
    """Returns Otsu's threshold of a 256-level histogram: the level that best splits it
    in two classes (the largest variance between them; the middle of an empty valley
    where several split alike). Levels up to it are dark."""
    total = sum(histogram)
    weighted = sum(level * count for level, count in enumerate(histogram))
    below = below_weighted = 0
    first = last = 0
    best_variance = -1.0
    for level, count in enumerate(histogram):
        below += count
        below_weighted += level * count
        above = total - below
        if below == 0 or above == 0:
            continue
        difference = below_weighted / below - (weighted - below_weighted) / above
        variance = below * above * difference * difference
        if variance > best_variance:
            first = last = level
            best_variance = variance
        elif variance == best_variance:  # an empty valley: every level in it splits alike
            last = level
    return (first + last) // 2


def _words(tesserocr: Any, engine: Any) -> list[Word]:
    words: list[Word] = []
    iterator = engine.GetIterator()
    if iterator is None:
        return words
    line_level, word_level = tesserocr.RIL.TEXTLINE, tesserocr.RIL.WORD
    line: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 0.0)
    line_height = 0
    while True:
        if iterator.IsAtBeginningOf(line_level):
            line_box = iterator.BoundingBox(line_level)
            found = iterator.Baseline(line_level)
            if line_box is not None:
                line_height = max(1, line_box[3] - line_box[1])
                line = (0.0, float(line_box[3]), 1.0, float(line_box[3]))
            if found is not None:
                (x1, y1), (x2, y2) = found
                line = (float(x1), float(y1), float(x2 if x2 != x1 else x1 + 1), float(y2))
        try:
            text = iterator.GetUTF8Text(word_level)
        except RuntimeError:  # an empty result (a blank page has one): no word here
            text = None
        box = iterator.BoundingBox(word_level)
        if text and text.strip() and box is not None:
            words.append(
                Word(
                    text=text.strip(),
                    confidence=float(iterator.Confidence(word_level)),
                    box=(box[0], box[1], box[2], box[3]),
                    baseline=_on_line(line, box[0]),
                    line_height=line_height,
                )
            )
        if not iterator.Next(word_level):
            break
    return words


def _on_line(line: tuple[float, float, float, float], x: float) -> float:
    """Returns the y of the (possibly skewed) baseline at ``x``."""
    x1, y1, x2, y2 = line
    return y1 + (y2 - y1) * (x - x1) / (x2 - x1)
