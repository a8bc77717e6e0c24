"""The whole pipeline per stage and per page, beside ``gs /ebook`` + ``pdftotext``.

Usage (from the repository root)::

    python benchmarks/pipeline.py [--corpus DIR] [--profile ebook] [--files F ...]
                                  [--no-manual] [--csv PATH]

Every PDF of the corpus (default ``../shared/corpus``), and the 1,333-page manual that
``benchmarks/manual.py`` builds from it, goes through our three stages and through the
script a user would write instead, in one run:

- ours: each stage's handler, called with the payload the state machine gives it
  (as ``tests/functions/test_stages.py`` chains them), against moto's S3, each stage in
  its own child process. A child is warmed first by running its stages on a one-page
  document, as a warm Lambda has imported its libraries; then the document's stage runs.
  Stage times are the ones the pipeline records in the published manifest (``timings``);
  peak memory is the child's ``ru_maxrss`` (from ``os.wait4``), which includes the
  interpreter, boto3, moto and the warm-up: the ``harness`` row is a child that only
  sets up and warms, its floor.
- anchors: ``gs -sDEVICE=pdfwrite -dPDFSETTINGS=/ebook`` and ``pdftotext`` on the same
  file, one process each, timed from outside (their start-up is their per-document cost).

The text each side extracts is compared with ``pdftotext``'s: words found (recall and
precision of the word multiset) and reading order (share of pdftotext's consecutive
word pairs found in ours). Per-document rows go to ``benchmarks/results/pipeline-*.csv``.
See ``benchmarks/README.md`` ("pipeline.py") for the method and the last results.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from itertools import pairwise
from pathlib import Path
from typing import Any

# Run as a script, only benchmarks/ is on the path; the imports name modules from the
# repository root, as mypy does.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.compress import DEFAULT_CORPUS, RESULTS, ROOT
from benchmarks.manual import CorpusMissingError, manual

STAGES = ("ingest", "transform", "compress")
TRIGGER, OUTPUT = "bench-trigger", "bench-output"
TIMEOUT_SECONDS = 900
MB = 1024 * 1024
_WORD = re.compile(r"\w+")


# --- the child: one stage of one document ---------------------------------------------------


def _warm_pdf() -> bytes:
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    font = pdf.make_indirect(
        pikepdf.Dictionary(Type="/Font", Subtype="/Type1", BaseFont="/Helvetica")
    )
    pdf.pages[0].obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    pdf.pages[0].obj.Contents = pdf.make_stream(b"BT /F1 12 Tf 72 700 Td (warm) Tj ET")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _run_stages(key: str, job: str, last: str) -> dict[str, Any]:
    """Runs the stages up to ``last`` on the trigger object ``key``; returns each result."""
    from functions import compress, ingest, transform

    results: dict[str, Any] = {}
    state: dict[str, Any] = {"input": {"bucket": TRIGGER, "key": key}, "job": job}
    for stage, handler in (
        ("ingest", ingest.handler),
        ("transform", transform.handler),
        ("compress", compress.handler),
    ):
        if stage == "compress":
            state["action"] = "compress"
        results[stage] = state = {stage: handler(state, None), "job": job}
        if stage == last:
            break
    return results


def run_child(stage: str, work: Path, src: Path, state_file: Path) -> None:
    """Runs ``stage`` of ``src`` after a warm-up; writes its result to ``state_file``."""
    import boto3
    from moto import mock_aws

    os.environ.update(
        {
            "EFS_MOUNT_PATH": str(work / "mount"),
            "OUTPUT_BUCKET": OUTPUT,
            # moto's S3 only: credentials that can reach nothing real.
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    (work / "mount").mkdir(exist_ok=True)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (TRIGGER, OUTPUT):
            s3.create_bucket(Bucket=bucket)
        # Each child's warm-up is its own object and job: a claim outlives its job.
        s3.put_object(Bucket=TRIGGER, Key=f"warm-{stage}.pdf", Body=_warm_pdf())
        _run_stages(
            f"warm-{stage}.pdf", f"warm-{stage}", "compress" if stage == "harness" else stage
        )
        if stage == "harness":
            return
        record = _measured_stage(s3, stage, work, src, state_file)
    state_file.write_text(json.dumps(record), encoding="utf-8")


def _measured_stage(s3: Any, stage: str, work: Path, src: Path, state_file: Path) -> dict[str, Any]:
    from functions import compress, ingest, transform

    job = "bench"
    if stage == "ingest":
        with open(src, "rb") as body:
            s3.put_object(Bucket=TRIGGER, Key=src.name, Body=body)
        cpu = time.process_time()
        payload = {"input": {"bucket": TRIGGER, "key": src.name}, "job": job}
        return {"ingest": ingest.handler(payload, None), "cpu": time.process_time() - cpu}
    state = json.loads(state_file.read_text(encoding="utf-8"))
    cpu = time.process_time()
    if stage == "transform":
        result = transform.handler({"ingest": state["ingest"], "job": job}, None)
        return {**state, "transform": result, "cpu": time.process_time() - cpu}
    payload = {"action": "compress", "transform": state["transform"], "job": job}
    result = compress.handler(payload, None)
    cpu = time.process_time() - cpu
    manifest_key = next(key for key in result["outputs"] if key.endswith(".json"))
    manifest = json.loads(s3.get_object(Bucket=OUTPUT, Key=manifest_key)["Body"].read())
    for key in result["outputs"]:
        if key.endswith(".txt"):
            s3.download_file(OUTPUT, key, str(work / "ours.txt"))
    return {"manifest": manifest, "cpu": cpu}


# --- the parent: children measured from outside ---------------------------------------------


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # user + system time of the process
    peak_bytes: int
    ok: bool
    detail: str = ""


def run_process(command: list[str]) -> Run:
    """Runs a command to the end; its wall time and peak RSS (``os.wait4``)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        deadline = started + TIMEOUT_SECONDS
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        errors.seek(0)
        last = (errors.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss * 1024, process.returncode == 0, last[:160])


def _child(stage: str, work: Path, src: Path) -> Run:
    return run_process(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            stage,
            str(work),
            str(src),
            str(work / "state.json"),
        ]
    )


@dataclass
class Row:
    file: str
    category: str
    pages: int = 0
    bytes_in: int = 0
    status: str = "ok"
    ingest_ms: float = 0.0
    transform_ms: float = 0.0
    compress_ms: float = 0.0
    ingest_mb: float = 0.0
    transform_mb: float = 0.0
    compress_mb: float = 0.0
    ours_bytes: int = 0
    ingest_cpu_ms: float = 0.0
    transform_cpu_ms: float = 0.0
    compress_cpu_ms: float = 0.0
    gs_ms: float = 0.0
    gs_cpu_ms: float = 0.0
    gs_mb: float = 0.0
    gs_bytes: int = 0
    gs_ok: bool = False
    pdftotext_ms: float = 0.0
    pdftotext_cpu_ms: float = 0.0
    pdftotext_mb: float = 0.0
    words_pdftotext: int = 0
    words_ours: int = 0
    recall: float = 0.0
    precision: float = 0.0
    order: float = 0.0


def measure_ours(src: Path, work: Path, row: Row) -> Path | None:
    """Runs our three stages on ``src``; returns our text's path (None if no text)."""
    for stage in STAGES:
        run = _child(stage, work, src)
        setattr(row, f"{stage}_mb", run.peak_bytes / MB)
        if not run.ok:
            row.status = f"{stage} failed: {run.detail}"
            return None
        cpu = json.loads((work / "state.json").read_text(encoding="utf-8"))["cpu"]
        setattr(row, f"{stage}_cpu_ms", cpu * 1000)
    manifest = json.loads((work / "state.json").read_text(encoding="utf-8"))["manifest"]
    for stage in STAGES:
        setattr(row, f"{stage}_ms", manifest["timings"][stage] * 1000)
    row.pages = manifest["output"]["pages"]
    row.ours_bytes = manifest["output"]["size"]
    text = work / "ours.txt"
    return text if text.exists() else None


def measure_anchors(src: Path, work: Path, row: Row) -> str:
    """Runs ``gs /ebook`` and ``pdftotext`` on ``src``; returns pdftotext's text."""
    gs_out, text_out = work / "gs.pdf", work / "pdftotext.txt"
    gs = run_process(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=pdfwrite",
            "-dPDFSETTINGS=/ebook",
            f"-sOutputFile={gs_out}",
            str(src),
        ]
    )
    row.gs_ms, row.gs_mb, row.gs_ok = gs.seconds * 1000, gs.peak_bytes / MB, gs.ok
    row.gs_cpu_ms = gs.cpu_seconds * 1000
    row.gs_bytes = gs_out.stat().st_size if gs.ok and gs_out.exists() else row.bytes_in
    text = run_process(["pdftotext", "-q", "-enc", "UTF-8", str(src), str(text_out)])
    row.pdftotext_ms, row.pdftotext_mb = text.seconds * 1000, text.peak_bytes / MB
    row.pdftotext_cpu_ms = text.cpu_seconds * 1000
    return text_out.read_text(encoding="utf-8", errors="replace") if text_out.exists() else ""


def compare_text(reference: str, ours: str, row: Row) -> None:
    """Words and reading order of ``ours`` against pdftotext's ``reference``."""
    want, got = _WORD.findall(reference.lower()), _WORD.findall(ours.lower())
    common = sum((Counter(want) & Counter(got)).values())
    pairs_want, pairs_got = Counter(pairwise(want)), Counter(pairwise(got))
    row.words_pdftotext, row.words_ours = len(want), len(got)
    row.recall = common / len(want) if want else 1.0
    row.precision = common / len(got) if got else 1.0
    row.order = sum((pairs_want & pairs_got).values()) / max(1, sum(pairs_want.values()))


def measure_document(src: Path, category: str) -> Row:
    row = Row(src.name, category, bytes_in=src.stat().st_size)
    with tempfile.TemporaryDirectory(prefix="docpipe-pipeline-") as scratch:
        work = Path(scratch)
        ours = measure_ours(src, work, row)
        if row.status != "ok":
            return row
        reference = measure_anchors(src, work, row)
        compare_text(reference, ours.read_text(encoding="utf-8") if ours else "", row)
    return row


# --- the tables -------------------------------------------------------------------------


def categories(corpus: Path) -> dict[str, str]:
    """Each corpus file's category from MANIFEST.tsv (``text``, ``image``, ``form``...)."""
    listing = corpus / "MANIFEST.tsv"
    if not listing.is_file():
        return {}
    with open(listing, encoding="utf-8", newline="") as handle:
        return {line["file"]: line["category"] for line in csv.DictReader(handle, delimiter="\t")}


def _per_page(rows: list[Row], column: str) -> float:
    pages = sum(row.pages for row in rows)
    return sum(getattr(row, column) for row in rows) / pages if pages else 0.0


def _time_table(groups: dict[str, list[Row]], suffix: str, title: str) -> None:
    head = (
        f"{'set':24} {'docs':>4} {'pages':>5} | {'ingest':>6} {'transf':>6} {'compr':>6} "
        f"{'ours':>6} | {'gs':>6} {'p2t':>5} {'anchor':>6} | {'speed':>5}"
    )
    print(title)
    print(head)
    print("-" * len(head))
    for name, rows in groups.items():
        stages = [_per_page(rows, f"{stage}_{suffix}") for stage in STAGES]
        gs, text = _per_page(rows, f"gs_{suffix}"), _per_page(rows, f"pdftotext_{suffix}")
        ours = sum(stages)
        print(
            f"{name:24} {len(rows):>4} {sum(r.pages for r in rows):>5} | "
            + " ".join(f"{value:>6.2f}" for value in stages)
            + f" {ours:>6.2f} | {gs:>6.2f} {text:>5.2f} {gs + text:>6.2f} | "
            f"{(gs + text) / ours if ours else 0:>4.1f}x"
        )


def print_tables(groups: dict[str, list[Row]], harness: Run) -> None:
    _time_table(groups, "ms", "ms per page, wall (ours: the manifests' stage times)")
    print()
    _time_table(groups, "cpu_ms", "ms per page, CPU (user + system; steadier on a busy machine)")
    print(
        f"\npeak RSS MB, largest document of the set (harness floor: "
        f"{harness.peak_bytes / MB:.0f} MB); size ratio out/in; text against pdftotext"
    )
    head = (
        f"{'set':24} | {'ingest':>6} {'transf':>6} {'compr':>6} | {'gs':>5} {'p2t':>5} | "
        f"{'ours':>5} {'gs':>5} | {'recall':>6} {'prec':>5} {'order':>5}"
    )
    print(head)
    print("-" * len(head))
    for name, rows in groups.items():
        bytes_in = sum(row.bytes_in for row in rows) or 1
        words = sum(row.words_pdftotext for row in rows) or 1
        found = sum(row.words_ours for row in rows) or 1
        print(
            f"{name:24} | "
            + " ".join(f"{max(getattr(r, f'{s}_mb') for r in rows):>6.0f}" for s in STAGES)
            + f" | {max(r.gs_mb for r in rows):>5.0f} {max(r.pdftotext_mb for r in rows):>5.0f}"
            f" | {sum(r.ours_bytes for r in rows) / bytes_in:>5.3f} "
            f"{sum(r.gs_bytes for r in rows) / bytes_in:>5.3f} | "
            f"{sum(r.recall * r.words_pdftotext for r in rows) / words:>6.3f} "
            f"{sum(r.precision * r.words_ours for r in rows) / found:>5.3f} "
            f"{sum(r.order * r.words_pdftotext for r in rows) / words:>5.3f}"
        )


def write_csv(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Row)])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def _group(rows: list[Row]) -> dict[str, list[Row]]:
    ok = [row for row in rows if row.status == "ok"]
    corpus = [row for row in ok if row.category != "manual"]
    groups = {"corpus: all PDFs": corpus}
    for category in sorted({row.category for row in corpus}):
        groups[f"corpus: {category}"] = [row for row in corpus if row.category == category]
    groups["manuals (>= 20 pages)"] = [row for row in ok if row.pages >= 20]
    groups.update({"manual (1,333 pages)": [row for row in ok if row.category == "manual"]})
    return {name: group for name, group in groups.items() if group}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--files", nargs="+", help="only these corpus files (names)")
    parser.add_argument("--no-manual", action="store_true", help="skip the 1,333-page manual")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        stage, work, src, state = args.child
        run_child(stage, Path(work), Path(src), Path(state))
        return 0
    corpus = args.corpus.resolve()
    missing = [tool for tool in ("gs", "pdftotext") if shutil.which(tool) is None]
    if not corpus.is_dir() or missing:
        print(
            f"pipeline.py: needs the corpus at {corpus} (python benchmarks/fetch_corpus.py "
            f"downloads it) and gs + pdftotext (apt-get install ghostscript poppler-utils); "
            f"missing: {', '.join(missing) or 'the corpus'}",
            file=sys.stderr,
        )
        return 2
    kinds = categories(corpus)
    documents = [(path, kinds.get(path.name, "?")) for path in sorted(corpus.rglob("*.pdf"))]
    if args.files:
        documents = [(path, kind) for path, kind in documents if path.name in args.files]
    if not args.no_manual:
        try:
            documents.append((Path(manual(corpus, rebuild=False).path), "manual"))
        except CorpusMissingError as error:
            print(f"pipeline.py: no manual: {error}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="docpipe-harness-") as scratch:
        harness = _child("harness", Path(scratch), Path(scratch))
    rows = []
    for path, kind in documents:
        print(f"{path.name}", file=sys.stderr, flush=True)
        rows.append(measure_document(path, kind))
    failed = [row for row in rows if row.status != "ok"]
    for row in failed:
        print(f"not counted: {row.file}: {row.status}", file=sys.stderr)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    write_csv(rows, args.csv or RESULTS / f"pipeline-{stamp}.csv")
    print()
    print_tables(_group(rows), harness)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
