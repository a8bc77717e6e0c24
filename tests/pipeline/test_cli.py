"""``python -m pipeline run``: usage errors, the text and JSON summaries, the samples."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "documents"


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own checks
        code = exit_.code  # type: ignore[assignment]
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert "Traceback" not in captured.err
    assert captured.out == ""
    return captured.err


def test_usage_errors_exit_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that a missing path, nothing to process, an unknown profile, a
    bad concurrency and a missing --out each exit 2 with one sentence, no traceback."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.7\n")
    out = str(tmp_path / "out")
    missing = str(tmp_path / "missing.pdf")
    assert "missing.pdf: no such file or directory" in usage_error(
        capsys, "run", missing, "--out", out
    )
    assert "no documents to process" in usage_error(
        capsys, "run", str(tmp_path / "empty"), "--out", out
    )
    assert "invalid choice: 'tiny'" in usage_error(
        capsys, "run", str(tmp_path / "doc.pdf"), "--out", out, "--profile", "tiny"
    )
    assert "must be at least 1" in usage_error(
        capsys, "run", str(tmp_path / "doc.pdf"), "--out", out, "--concurrency", "0"
    )
    assert "--out" in usage_error(capsys, "run", str(tmp_path / "doc.pdf"))
    assert "no settings file" in usage_error(
        capsys, "run", str(tmp_path / "doc.pdf"), "--out", out, "--stack", "nowhere"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_text_summary_names_each_document_and_its_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that without --json a person reads one line per document with
    its code and message, a total line, plain progress lines off a terminal, and that
    --logs keeps the functions' JSON log lines."""
    logs = tmp_path / "logs"
    code = main(
        [
            "run",
            str(SAMPLES / "not-really.pdf"),
            "--out",
            str(tmp_path / "out"),
            "--logs",
            str(logs),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "FAILED  not-really.pdf  UNSUPPORTED_TYPE: The document is not a PDF" in captured.out
    assert "1 documents: 0 succeeded, 1 failed" in captured.out
    assert "[1/1] failed not-really.pdf" in captured.err
    assert (tmp_path / "out" / "failed" / "not-really.pdf.json").is_file()
    records = [json.loads(line) for line in (logs / "ingest.log").read_text().splitlines()]
    assert any(r.get("stage") == "ingest" and r.get("job") for r in records)
    assert (logs / "compress.log").read_text()  # the failure step ran and logged


@pytest.mark.slow
def test_the_samples_run_with_every_sample_accounted_for(tmp_path: Path) -> None:
    """This test ensures that what `make run` does (python -m pipeline on samples/)
    prints a JSON summary in which every sample succeeded or failed with a report."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", str(SAMPLES), "--out", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    summary = json.loads(completed.stdout)
    statuses = {doc["source"]: doc["status"] for doc in summary["documents"]}
    assert statuses == {
        "bundle.zip": "succeeded",
        "letter.pdf": "succeeded",
        "not-really.pdf": "failed",
        "pages.tiff": "succeeded",
        "scan.jpg": "succeeded",
    }
    assert (summary["succeeded"], summary["failed"]) == (4, 1)
    (failed,) = [doc for doc in summary["documents"] if doc["status"] == "failed"]
    assert failed["error"]["code"] == "UNSUPPORTED_TYPE"
    assert (tmp_path / "failed" / "not-really.pdf.json").is_file()
    assert (tmp_path / "processed" / "bundle.zip.json").is_file()
    assert (tmp_path / "processed" / "pages.tiff.pdf").is_file()


def test_the_committed_samples_are_the_ones_the_generator_makes() -> None:
    """This test ensures that samples/documents holds exactly the generated set, each
    small, so the README's provenance stays true."""
    spec = importlib.util.spec_from_file_location(
        "samples_generate", ROOT / "samples" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.samples()
    assert sorted(generated) == sorted(p.name for p in SAMPLES.iterdir())
    for name in generated:
        assert (SAMPLES / name).stat().st_size < 64 * 1024
