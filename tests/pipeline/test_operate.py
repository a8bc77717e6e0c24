"""The operator commands end to end against ``serve``: submit, status, failures, retry,
outputs, their ``--json`` shapes and exit codes.

``serve`` runs in a thread of this process (its real command function, stopped by an
event instead of Ctrl-C), so that a test can inject a fault into its Lambda service;
the commands talk to it only through the outputs file it writes, as from another shell.
One test also runs ``serve`` as its own process and stops it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.cli import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, main
from pipeline.local.lambdas import Fault
from tests import docgen
from tests.pipeline.serving import Served, command, json_command, serving

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_MEMBERS = {"a.pdf": docgen.text_pdf(1), "b.png": docgen.image_bytes("PNG")}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``python -m pipeline serve`` for the whole module."""
    with serving(tmp_path_factory.mktemp("serve"), drain=60) as running:
        yield running


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good document, a bad one, a bundle, and a hidden file that is not uploaded."""
    root = tmp_path_factory.mktemp("folder")
    (root / "letter.pdf").write_bytes(docgen.text_pdf(["Operate letter", "Page two"]))
    (root / "note.pdf").write_bytes(b"Only text, named .pdf\n")
    (root / "batch.zip").write_bytes(docgen.zip_bundle(BUNDLE_MEMBERS))
    (root / ".DS_Store").write_bytes(b"\0\0")
    return root


@pytest.mark.slow
def test_submit_waits_for_each_document_and_downloads_its_outputs(
    served: Served, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that submit uploads a folder (hidden files skipped), follows
    each document to its final status, prints the documented JSON, downloads outputs and
    reports, and exits 0 because the bad document failed with a report."""
    out = tmp_path / "out"
    code, summary = json_command(
        capsys,
        served,
        "submit",
        str(folder),
        "--prefix",
        "ops/",
        "--wait",
        "--timeout",
        "120",
        "--out",
        str(out),
    )
    assert code == EXIT_OK
    states = {entry["key"]: entry["state"] for entry in summary["documents"]}
    assert states == {
        "ops/batch.zip": "succeeded",
        "ops/letter.pdf": "succeeded",
        "ops/note.pdf": "failed",
    }
    assert (summary["succeeded"], summary["failed"]) == (2, 1)
    for entry in summary["documents"]:
        assert entry["versionId"]
        assert {"key", "state", "versionId", "outputs", "error", "report"} <= set(entry)
    (note,) = [e for e in summary["documents"] if e["key"] == "ops/note.pdf"]
    assert note["error"]["code"] == "UNSUPPORTED_TYPE"
    assert (out / note["report"]).is_file()
    (letter,) = [e for e in summary["documents"] if e["key"] == "ops/letter.pdf"]
    assert letter["pages"] == 2
    for key in letter["outputs"]:
        assert (out / key).is_file()
    (bundle,) = [e for e in summary["documents"] if e["key"] == "ops/batch.zip"]
    assert len([k for k in bundle["outputs"] if k.endswith(".pdf")]) == len(BUNDLE_MEMBERS)


@pytest.mark.slow
def test_status_reads_each_key_and_the_recent_ones(
    served: Served, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that status reports each key's state (and exits 1 for a key it
    has never seen), human and JSON, and that --recent N lists the newest statuses."""
    code, _ = command(
        capsys,
        served,
        "submit",
        str(folder / "letter.pdf"),
        "--prefix",
        "st/",
        "--wait",
        "--timeout",
        "120",
    )
    assert code == EXIT_OK
    code, found = json_command(capsys, served, "status", "st/letter.pdf")
    assert code == EXIT_OK
    (status,) = found["statuses"]
    assert status["state"] == "succeeded"
    assert status["manifest"] in status["outputs"]
    code, text = command(capsys, served, "status", "st/letter.pdf", "st/never.pdf")
    assert code == EXIT_INCOMPLETE
    assert "succeeded   st/letter.pdf  (2 pages" in text
    assert "unknown     st/never.pdf" in text
    code, recent = json_command(capsys, served, "status", "--recent", "1")
    assert code == EXIT_OK
    assert [s["key"] for s in recent["statuses"]] == ["st/letter.pdf"]


@pytest.mark.slow
def test_failures_lists_the_bad_document_with_its_code(
    served: Served, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that failures lists a failed document with its code, message,
    stage, time and report, counts by code, and filters by --code."""
    code, _ = command(
        capsys,
        served,
        "submit",
        str(folder / "note.pdf"),
        "--prefix",
        "fl/",
        "--wait",
        "--timeout",
        "120",
    )
    assert code == EXIT_OK
    code, listed = json_command(capsys, served, "failures", "--since", "1h")
    assert code == EXIT_OK
    mine = [f for f in listed["failures"] if f["key"] == "fl/note.pdf"]
    assert len(mine) == 1
    assert mine[0]["code"] == "UNSUPPORTED_TYPE"
    assert all(mine[0][field] for field in ("stage", "time", "message"))
    assert mine[0]["report"].startswith("failed/")
    assert listed["counts"]["UNSUPPORTED_TYPE"] >= 1
    code, other = json_command(capsys, served, "failures", "--code", "TOO_LARGE")
    assert other == {"failures": [], "counts": {}}
    code, text = command(capsys, served, "failures")
    assert "UNSUPPORTED_TYPE" in text
    assert "failed documents: UNSUPPORTED_TYPE" in text


@pytest.mark.slow
def test_retry_processes_a_document_that_failed_for_a_transient_fault(
    served: Served, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that a document whose transform worker was killed fails (exit 1:
    not the user's fault), and that retry re-runs it into a success that status shows."""
    served.stack.lambdas.fail_next("transform", 1, Fault.CRASH)
    code, first = json_command(
        capsys,
        served,
        "submit",
        str(folder / "letter.pdf"),
        "--prefix",
        "rt/",
        "--wait",
        "--timeout",
        "120",
    )
    assert code == EXIT_INCOMPLETE
    assert [d["state"] for d in first["documents"]] == ["failed"]
    code, retried = json_command(
        capsys, served, "retry", "rt/letter.pdf", "--wait", "--timeout", "120"
    )
    assert code == EXIT_OK
    (entry,) = retried["retried"]
    assert entry["execution"].startswith("arn:aws:states:")
    assert entry["status"]["state"] == "succeeded"
    code, found = json_command(capsys, served, "status", "rt/letter.pdf")
    assert found["statuses"][0]["state"] == "succeeded"
    code, text = command(capsys, served, "retry", "rt/never.pdf")
    assert code == EXIT_INCOMPLETE
    assert "not started rt/never.pdf" in text


def test_outputs_and_usage_errors(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that outputs prints the stack outputs the commands use, and that
    a missing outputs file, contradicting options and an --out file exit 2 in one line."""
    code, outputs = json_command(capsys, served, "outputs")
    assert code == EXIT_OK
    assert outputs["endpoint"].startswith("http://127.0.0.1:")
    assert {"triggerBucket", "outputBucket", "stateMachineArn"} <= set(outputs)
    assert main(["status", "x", "--outputs", str(tmp_path / "none.json")]) == EXIT_USAGE
    assert "no such outputs file" in capsys.readouterr().err
    assert main(["retry", "x", "--failed", "--outputs", str(served.outputs)]) == EXIT_USAGE
    assert "not both" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.7\n")
    argv = ["submit", str(tmp_path / "doc.pdf"), "--out", str(tmp_path / "file")]
    assert main([*argv, "--outputs", str(served.outputs)]) == EXIT_USAGE
    assert "is a file" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_as_a_process_answers_the_aws_cli_way_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path,
) -> None:
    """This test ensures that serve, as its own process, binds 127.0.0.1, prints the
    environment that points other tools at it, serves submit from another process
    through $DOCPIPE_OUTPUTS, and on Ctrl-C stops with status 0 after checking the
    workspace."""
    outputs = tmp_path / "outputs.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--outputs-file", str(outputs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("docpipe local stack is up on http://127.0.0.1:")
        endpoint = first.split()[6]
        exports = next(line for line in process.stdout if line.startswith("  export "))
        assert f"AWS_ENDPOINT_URL={endpoint}" in exports
        assert f"DOCPIPE_OUTPUTS={outputs}" in exports
        source = tmp_path / "letter.pdf"
        source.write_bytes(docgen.text_pdf(1))
        submitted = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "submit",
                str(source),
                "--wait",
                "--timeout",
                "120",
                "--json",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**env, "DOCPIPE_OUTPUTS": str(outputs)},
            timeout=120,
            check=False,
        )
        assert submitted.returncode == 0, submitted.stderr
        assert json.loads(submitted.stdout)["documents"][0]["state"] == "succeeded"
    finally:
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors
    assert "stopped; the workspace is clean" in rest
    assert "Traceback" not in errors
    assert not outputs.exists()
