"""OCR: docpipe's engine beside tesserocr's defaults and the ``tesseract`` command, on known text.

Usage (from the repository root)::

    python benchmarks/ocr.py [--pages N] [--corpus-pages N] [--corpus DIR]
                             [--model fast|standard] [--json PATH] [--repeat N] [--fan-out]

Four sets of pages, each rasterised at 300 dpi in grey with ``pdftoppm``
(poppler-utils), clean and degraded:

- letters: born-digital PDFs generated here (Helvetica, 11 pt, a letter page of 550
  words of prose with numbers and punctuation from a fixed vocabulary, so the text is
  known); ``--pages`` of them (default 4);
- corpus: the simple pages of born-digital PDFs in the shared corpus (``--corpus``,
  default ``../shared/corpus``), the reference being their own text layer read with
  PDFium; which pages, and why, is ``benchmarks/ocr_corpus.py``'s documented rule (no
  forms, no scans, no tables of contents or indexes, English text); all of them unless
  ``--corpus-pages`` says fewer (0: none).

"Degraded" copies add a 0.6 degree skew, the detail of a 150 dpi scan, blur, noise and
JPEG artefacts, as a worn copy through a cheap scanner. Each engine runs in its own
process, single-threaded (``OMP_THREAD_LIMIT=1``), on the same model files (the ones the
stack provisions) and the same pixels:

- ``docpipe``: ``functions.documents.ocr.ocr_pages`` on a losslessly stored image-only
  PDF of each page (image decoding, orientation when needed, recognition, the layer);
- ``tesserocr``: the same library and model with its defaults, on the page image: what
  docpipe's own choices (binarisation per page, the content box, decoding) save;
- ``tesseract``: the command (OCRmyPDF's engine), ``--psm 3``, text to stdout; when it is
  not installed the table goes without it.

Reported per engine and set: CER (character edit distance over the reference length,
whitespace collapsed), WER (the same over words), search misses (share of the
reference's words, lower-cased without punctuation, that a search of the OCR text would
not find), seconds per page (wall clock, and CPU time, which a busy machine inflates
less), and the process's peak RSS. With ``--repeat N`` every set is timed N times, the
engines taking turns, and the fastest run is kept: other load on a shared machine only
ever adds time. Last, docpipe's CPU time a page as a multiple of the other engines',
which holds when the machine's speed drifts.

Then a paper model of a 200-page scan on Lambda, sequential against fanned out by the
deployed definition's Map state, from docpipe's CPU seconds per page on the clean corpus
set of this run (``benchmarks/ocr_fanout.py``: its docstring lists what it reads and
assumes). ``--fan-out`` also runs the clean letter pages as one scan through the local
runner twice, all pages in one transform invocation and then one page per invocation
through the Map state, and prints both wall times (bounded by this machine's CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import ocr_fanout  # noqa: E402
from benchmarks.ocr_corpus import image_only_pdf, rasterise_page, simple_pages  # noqa: E402

_WORDS = """
the of and to in is that for on with as by this are from be at or an which report
document pipeline invoice contract budget revenue margin region quarter customer
delivery payment schedule committee approved signed return month within days due
number total account balance statement section page table figure results method
analysis storage network function compressed searchable scanned layer text image
however therefore although because between during against without including
"""
VOCABULARY = tuple(_WORDS.split())
LINES, WORDS_PER_LINE = 46, 12


def page_text(seed: int) -> list[str]:
    """Returns the known lines of one test page."""
    rng = random.Random(seed)  # noqa: S311 (reproducible text, not a secret)
    lines = []
    for _ in range(LINES):
        words = [rng.choice(VOCABULARY) for _ in range(WORDS_PER_LINE)]
        if rng.random() < 0.4:
            words[rng.randrange(len(words))] = str(rng.randrange(10, 99999))
        words[0] = words[0].capitalize()
        cut = rng.randrange(4, len(words) - 2)
        words[cut] += rng.choice((",", ";", ":"))
        lines.append(" ".join(words) + ".")
    return lines


def born_digital_pdf(lines: list[str]) -> bytes:
    """Returns a one-page letter PDF drawing ``lines`` in 11 pt Helvetica."""
    ops = ["BT /F1 11 Tf 14 TL 54 740 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def rasterise(pdf: Path, png_base: Path) -> Path:
    """Rasterises the PDF's page at 300 dpi in grey with pdftoppm; returns the PNG."""
    subprocess.run(
        ["pdftoppm", "-r", "300", "-gray", "-png", "-singlefile", str(pdf), str(png_base)],
        check=True,
    )
    return png_base.with_suffix(".png")


def degrade(png: Path, out: Path) -> Path:
    """Writes a worn copy of the page: skewed 0.6 degrees, detail lost (scanned at 150
    dpi and enlarged), blurred, with noise and JPEG artefacts."""
    import io

    from PIL import Image, ImageFilter

    image = Image.open(png).convert("L")
    size = image.size
    image = image.rotate(0.6, fillcolor=255, resample=Image.Resampling.BICUBIC)
    image = image.resize((size[0] // 2, size[1] // 2), Image.Resampling.BILINEAR)
    image = image.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(1.0))
    rng = random.Random(11)  # noqa: S311 (reproducible noise, not a secret)
    noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    image = Image.blend(image, noise, 0.28)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=35)
    Image.open(buffer).save(out, dpi=(300, 300))
    return out


def run_docpipe(scans: list[Path], models: Path) -> list[dict[str, object]]:
    """Worker: OCRs every image-only PDF the way transform does; returns each page's result."""
    from dataclasses import asdict

    from functions.documents.ocr.document import ocr_pages

    results = []
    for pdf in scans:
        [page] = ocr_pages(pdf, [1], models, "eng", 178_956_970)
        results.append(asdict(page))
    return results


def run_tesseract(pages: list[Path], models: Path) -> list[dict[str, object]]:
    """Worker: the tesseract command on every page; returns the texts."""
    tessdata = str(models / "models" / "tesseract")
    command = ["tesseract", "-", "stdout", "-l", "eng", "--psm", "3", "--tessdata-dir", tessdata]
    found: list[dict[str, object]] = []
    for png in pages:
        command[1] = str(png)
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        found.append({"text": done.stdout})
    return found


def run_tesserocr(pages: list[Path], models: Path) -> list[dict[str, object]]:
    """Worker: Tesseract through tesserocr with its defaults (the layout found
    automatically, Otsu's threshold over the whole image) on every page image: docpipe's
    engine and model without docpipe's choices; returns the texts."""
    import tesserocr

    found: list[dict[str, object]] = []
    tessdata = str(models / "models" / "tesseract")
    with tesserocr.PyTessBaseAPI(path=tessdata, lang="eng") as api:
        for png in pages:
            api.SetImageFile(str(png))
            found.append({"text": api.GetUTF8Text()})
    return found


WORKERS = {"docpipe": run_docpipe, "tesserocr": run_tesserocr, "tesseract": run_tesseract}


def measure(engine: str, pages: list[Path], models: Path) -> dict[str, Any]:
    """Runs one engine on ``pages`` in a fresh single-threaded process."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "PYTHONPATH": str(ROOT)}
    if engine == "docpipe":  # what transform is given: a PDF (made here, not timed)
        pages = [image_only_pdf([png], png.with_name(f"{png.stem}-scan.pdf")) for png in pages]
    args = [sys.executable, __file__, "--worker", engine, "--models", str(models)]
    done = subprocess.run(
        [*args, *map(str, pages)], check=True, capture_output=True, text=True, env=env
    )
    return json.loads(done.stdout)


def scores(reference: list[str], found: list[str]) -> dict[str, float]:
    """CER, WER and search misses of ``found`` against ``reference`` (one text a page)."""
    from rapidfuzz.distance import Levenshtein

    chars = edits = words = word_edits = wanted = missed = 0
    for ref, hyp in zip(reference, found, strict=True):
        ref_words, hyp_words = ref.split(), hyp.split()
        ref_text, hyp_text = " ".join(ref_words), " ".join(hyp_words)
        chars += len(ref_text)
        edits += Levenshtein.distance(ref_text, hyp_text)
        words += len(ref_words)
        word_edits += Levenshtein.distance(ref_words, hyp_words)
        index = {_search_form(word) for word in hyp_words}
        searched = [_search_form(word) for word in ref_words]
        wanted += len(searched)
        missed += sum(1 for word in searched if word not in index)
    return {"cer": edits / chars, "wer": word_edits / words, "search_miss": missed / wanted}


def _search_form(word: str) -> str:
    return word.strip(".,;:!?\"'()").lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4, help="synthetic letter pages (0: none)")
    parser.add_argument(
        "--corpus-pages",
        type=int,
        default=None,
        help="at most this many simple corpus pages (default: all; 0: none)",
    )
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--model", choices=("fast", "standard"), default="fast")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time every set this many times, the engines taking turns, and keep the "
        "fastest (other load on the machine only ever adds time)",
    )
    parser.add_argument(
        "--fan-out",
        action="store_true",
        help="also time the clean letter scan through the local runner: one invocation, "
        "then one page per invocation through the Map state",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.worker:
        worker = WORKERS[args.worker]
        started = time.perf_counter()
        pages = worker(args.files, args.models)
        seconds = time.perf_counter() - started
        own, children = (
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        )
        cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        peak = max(own.ru_maxrss, children.ru_maxrss)
        print(json.dumps({"pages": pages, "seconds": seconds, "cpu": cpu, "peak_kb": peak}))
        return
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm is needed to rasterise the test pages (apt-get install poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="docpipe-ocr-bench-") as tmp:
        run_benchmark(args, Path(tmp))


def test_sets(args: argparse.Namespace, work: Path) -> list[tuple[str, list[str], list[Path]]]:
    """Writes the pages of every set; returns (name, reference texts, page images)."""
    reference, clean, worn = [], [], []
    for seed in range(args.pages):
        lines = page_text(seed)
        reference.append(" ".join(lines))
        pdf = work / f"page{seed}.pdf"
        pdf.write_bytes(born_digital_pdf(lines))
        clean.append(rasterise(pdf, work / f"page{seed}"))
        worn.append(degrade(clean[-1], work / f"page{seed}-worn.png"))
    sets = [("letters clean", reference, clean), ("letters degraded", reference, worn)]
    limit = args.corpus_pages
    corpus = simple_pages(args.corpus, limit) if limit != 0 else []
    if limit != 0 and not corpus:
        print(f"no simple pages under {args.corpus} (MANIFEST.tsv): corpus sets skipped")
    texts, clean, worn = [], [], []
    for index, page in enumerate(corpus):
        texts.append(page.reference)
        clean.append(rasterise_page(page, work / f"corpus{index}"))
        worn.append(degrade(clean[-1], work / f"corpus{index}-worn.png"))
    sets += [("corpus clean", texts, clean), ("corpus degraded", texts, worn)]
    if corpus:
        print("corpus pages: " + ", ".join(page.label for page in corpus))
    return [entry for entry in sets if entry[2]]


def run_benchmark(args: argparse.Namespace, work: Path) -> None:
    """Measures every engine on every set; prints the table and the fan-out model."""
    from pipeline.models import provision_mount

    engines = ["docpipe", "tesserocr"] + (["tesseract"] if shutil.which("tesseract") else [])
    provision_mount(work, ("eng",), args.model)
    sets = test_sets(args, work)
    rows, docpipe_pages = [], {}
    for label, reference, pages in sets:
        runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
        for _ in range(args.repeat):  # engines alternate, so both see the machine alike
            for engine in engines:
                runs[engine].append(measure(engine, pages, work))
        for engine, results in runs.items():
            found = results[0]["pages"]
            row = {"set": label, "engine": engine, "model": args.model, "pages": len(pages)}
            row |= scores(reference, [str(page["text"]) for page in found])
            row["s_per_page"] = min(float(run["seconds"]) for run in results) / len(pages)
            row["cpu_per_page"] = min(float(run["cpu"]) for run in results) / len(pages)
            row["peak_rss_mb"] = max(int(run["peak_kb"]) for run in results) / 1024
            rows.append(row)
            if engine == "docpipe":
                docpipe_pages[label] = found
    fastest = f"; times: the fastest of {args.repeat} runs" if args.repeat > 1 else ""
    print(f"\n{args.model} model, 300 dpi, one thread (OMP_THREAD_LIMIT=1){fastest}\n")
    print("| set | pages | engine | CER | WER | search misses | s/page | CPU s/page | peak RSS |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['set']} | {row['pages']} | {row['engine']} | {row['cer']:.2%} | "
            f"{row['wer']:.2%} | {row['search_miss']:.2%} | {row['s_per_page']:.2f} | "
            f"{row['cpu_per_page']:.2f} | {row['peak_rss_mb']:.0f} MB |"
        )
    for label, *_rest in sets:
        cpu = {row["engine"]: row["cpu_per_page"] for row in rows if row["set"] == label}
        shares = [
            f"{cpu['docpipe'] / cpu[other]:.2f} x {name}"
            for other, name in (("tesserocr", "tesserocr's"), ("tesseract", "the command's"))
            if other in cpu
        ]
        print(f"{label}: docpipe's CPU time a page is " + ", ".join(shares))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    model_fan_out(sets, rows, docpipe_pages, work)
    if args.fan_out:
        clean = sets[0][2]
        timed = ocr_fanout.local_fan_out(clean, work)
        one, many = timed["one invocation"], timed["fanned out"]
        print(f"\nlocal runner, {len(clean)} pages on {os.cpu_count()} CPUs: ", end="")
        print(f"one invocation {one:.1f} s, fanned out {many:.1f} s ({one / many:.2f} x)")


def model_fan_out(
    sets: list[tuple[str, list[str], list[Path]]],
    rows: list[dict[str, Any]],
    docpipe_pages: dict[str, list[dict[str, Any]]],
    work: Path,
) -> None:
    """Prints the paper model of a long scan's fan-out from this run's docpipe pages:
    the clean corpus set's when there is one (ordinary pages), else the first set's."""
    from functions.documents.ocr.document import PageOCR

    label = "corpus clean" if "corpus clean" in docpipe_pages else sets[0][0]
    [row] = [row for row in rows if row["set"] == label and row["engine"] == "docpipe"]
    pages = next(images for name, _texts, images in sets if name == label)
    results = [PageOCR(**page) for page in docpipe_pages[label]]
    shared = ocr_fanout.shared_steps(pages, work / "long-scan", results)
    print(f"\n({label} pages)", end="")
    ocr_fanout.print_model(float(row["cpu_per_page"]), shared, ocr_fanout.deployed())


if __name__ == "__main__":
    main()
