"""The local runner end to end: the deployed definition and code archive, in moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from functions.claims import current_claim
from pipeline.config import Settings
from pipeline.local.runner import (
    OUTPUT_BUCKET,
    RunResult,
    UsageError,
    collect_inputs,
    run,
    workspace_leftovers,
)
from pipeline.trigger import apply_input_transformer
from tests import docgen

EVENTS = Path(__file__).resolve().parents[1] / "events"

GOOD = {
    "report.pdf": (docgen.text_pdf(["First page of the report", "Second page"]), 2),
    "photo.jpg": (docgen.image_bytes("JPEG"), 1),
    "drawing.png": (docgen.image_bytes("PNG"), 1),
    "scans/pages.tif": (docgen.multipage_tiff(3), 3),
}
BUNDLE = {
    "a.pdf": (docgen.text_pdf(1), 1),
    "b.png": (docgen.image_bytes("PNG", width=120, height=90), 1),
    "c.tiff": (docgen.multipage_tiff(2), 2),
}
BAD = {
    "empty.pdf": (b"", "EMPTY_DOCUMENT"),
    "noise.bin": (bytes(range(256)) * 8, "UNSUPPORTED_TYPE"),
    "note.pdf": (b"A plain text note with a .pdf name.\n", "UNSUPPORTED_TYPE"),
    "truncated.pdf": (docgen.text_pdf(3)[:150], "CORRUPT_DOCUMENT"),
    "cut.jpg": (docgen.image_bytes("JPEG")[:300], "CORRUPT_DOCUMENT"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory tree holding every kind of good and bad input."""
    root = tmp_path_factory.mktemp("inputs")
    files = {name: data for name, (data, _) in {**GOOD, **BAD}.items()}
    files["bundles/batch.zip"] = docgen.zip_bundle({n: d for n, (d, _) in BUNDLE.items()})
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def outcome(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """One local run over ``inputs``, with a workspace directory the test can inspect."""
    mount = tmp_path_factory.mktemp("efs")
    result = run([inputs], tmp_path_factory.mktemp("out"), mount=mount, concurrency=3)
    return result, mount


def by_source(result: RunResult) -> dict[str, Any]:
    return {doc.source: doc for doc in result.documents}


@pytest.mark.slow
def test_every_document_type_is_processed_into_pdfs_that_open(
    outcome: tuple[RunResult, Path],
) -> None:
    """This test ensures that PDFs, JPEGs, PNGs and multi-page TIFFs come out as PDFs
    with the right page count, with text and manifest beside them."""
    result, _ = outcome
    docs = by_source(result)
    for name, (_, pages) in GOOD.items():
        doc = docs[name]
        stem = name  # the whole name: processed/scan.jpg.pdf (docs/ARCHITECTURE.md)
        assert doc.status == "succeeded", doc.error
        assert doc.error is None
        assert f"processed/{stem}.pdf" in doc.outputs
        assert f"processed/{stem}.json" in doc.outputs
        pdf = result.out_dir / "processed" / f"{stem}.pdf"
        assert len(PdfReader(pdf).pages) == pages == doc.pages
        assert doc.bytes_in == len(GOOD[name][0])
        assert doc.bytes_out == pdf.stat().st_size
        manifest = json.loads((result.out_dir / "processed" / f"{stem}.json").read_text())
        assert manifest["source"]["key"] == name
    text = (result.out_dir / "processed" / "report.pdf.txt").read_text(encoding="utf-8")
    assert "First page of the report" in text
    assert "Second page" in text


@pytest.mark.slow
def test_a_bundle_gives_one_output_per_member_and_a_bundle_manifest(
    outcome: tuple[RunResult, Path],
) -> None:
    """This test ensures that each ZIP member becomes its own PDF under the bundle's
    name, and that the bundle manifest lists every member as succeeded."""
    result, _ = outcome
    doc = by_source(result)["bundles/batch.zip"]
    assert doc.status == "succeeded"
    assert doc.failed_members == ()
    assert doc.pages == sum(pages for _, pages in BUNDLE.values())
    for member, (_, pages) in BUNDLE.items():
        pdf = result.out_dir / "processed" / "bundles" / "batch.zip!" / f"{member}.pdf"
        assert len(PdfReader(pdf).pages) == pages
    manifest = json.loads((result.out_dir / "processed" / "bundles" / "batch.zip.json").read_text())
    assert [m["status"] for m in manifest["members"]] == ["succeeded"] * len(BUNDLE)


@pytest.mark.slow
def test_bad_inputs_fail_with_their_codes_and_a_failure_report(
    outcome: tuple[RunResult, Path],
) -> None:
    """This test ensures that an empty file, a binary, text named .pdf, a truncated PDF
    and a cut JPEG each fail with the right code, a readable message and a report."""
    result, _ = outcome
    docs = by_source(result)
    for name, (_, code) in BAD.items():
        doc = docs[name]
        assert doc.status == "failed"
        assert doc.reported
        assert doc.error is not None
        assert doc.error["code"] == code, (name, doc.error)
        assert doc.error["message"]
        assert "Traceback" not in doc.error["message"]
        report_path = result.out_dir / "failed" / f"{name}.json"
        assert doc.outputs == (f"failed/{name}.json",)
        report = json.loads(report_path.read_text())
        assert report["error"] == doc.error
        assert report["source"]["key"] == name
        assert report["stage"] in ("ingest", "transform", "compress")
        assert report["execution"] == doc.execution_arn
        assert report["time"]
    assert not (result.out_dir / "processed" / "empty.pdf").exists()


@pytest.mark.slow
def test_the_summary_has_the_documented_shape_and_counts(
    outcome: tuple[RunResult, Path],
) -> None:
    """This test ensures that the --json summary has exactly the fields docs/ARCHITECTURE.md
    ("Local runner summary and exit status") lists, counts every document once and exits
    0 because every failure has its report."""
    result, _ = outcome
    summary = result.summary()
    assert set(summary) == {"documents", "succeeded", "failed", "seconds"}
    assert summary["succeeded"] == len(GOOD) + 1
    assert summary["failed"] == len(BAD)
    assert len(summary["documents"]) == len(GOOD) + len(BAD) + 1
    keys = {"source", "status", "outputs", "error", "bytes_in", "bytes_out", "pages", "seconds"}
    for entry in summary["documents"]:
        assert set(entry) == keys
        assert entry["status"] in ("succeeded", "failed")
        assert (entry["error"] is None) == (entry["status"] == "succeeded")
        assert entry["seconds"] >= 0
    json.dumps(summary)  # serialisable as printed
    assert result.exit_code == 0
    assert result.problems == ()


@pytest.mark.slow
def test_the_output_directory_mirrors_the_output_bucket(
    outcome: tuple[RunResult, Path],
) -> None:
    """This test ensures that every listed output was copied and nothing else appeared."""
    result, _ = outcome
    listed = {key for doc in result.documents for key in doc.outputs}
    written = {
        path.relative_to(result.out_dir).as_posix()
        for path in result.out_dir.rglob("*")
        if path.is_file()
    }
    assert listed <= written
    assert {key.split("/", 1)[0] for key in written} == {"processed", "failed"}
    assert OUTPUT_BUCKET  # the bucket these keys came from


@pytest.mark.slow
def test_the_workspace_is_empty_after_the_run(outcome: tuple[RunResult, Path]) -> None:
    """This test ensures that every job, succeeded or failed, removed its workspace;
    only the claims that guard against duplicate events remain."""
    result, mount = outcome
    assert result.leftovers == ()
    assert workspace_leftovers(mount) == []
    assert not any((mount / "jobs").iterdir())
    jobs = {doc.execution_arn.rsplit(":", 1)[1] for doc in result.documents}
    claims = [current_claim(mount, path.name) for path in (mount / "claims").iterdir()]
    assert {claim.job for claim in claims if claim is not None} <= jobs
    assert sum(1 for claim in claims if claim is not None and claim.state == "done") >= (
        result.succeeded
    )


@pytest.mark.slow
def test_a_transient_lambda_error_is_retried_into_exactly_one_output(tmp_path: Path) -> None:
    """This test ensures that when Lambda's service fails the first transform invocation,
    the state machine retries it and the document is published once, correctly."""
    source = tmp_path / "in" / "letter.pdf"
    source.parent.mkdir()
    source.write_bytes(docgen.text_pdf(["Retried page one", "Retried page two"]))
    mount = tmp_path / "efs"
    mount.mkdir()
    result = run([source], tmp_path / "out", mount=mount, transient_failures={"transform": 1})
    assert result.transient_failures_injected == 1
    (doc,) = result.documents
    assert doc.status == "succeeded"
    assert doc.failed_attempts == (("Transform", "Lambda.ServiceException"),)
    written = sorted(
        p.relative_to(result.out_dir).as_posix() for p in result.out_dir.glob("processed/*.*")
    )
    assert written == [
        "processed/letter.pdf.json",
        "processed/letter.pdf.pdf",
        "processed/letter.pdf.txt",
    ]
    assert sorted(doc.outputs) == written
    reader = PdfReader(result.out_dir / "processed" / "letter.pdf.pdf")
    assert len(reader.pages) == 2
    assert "Retried page two" in (reader.pages[1].extract_text() or "")
    assert result.exit_code == 0
    assert workspace_leftovers(mount) == []


def test_the_trigger_mapping_turns_a_real_event_into_the_execution_input() -> None:
    """This test ensures that the rule's input transformer, applied to an S3 Object
    Created event as EventBridge delivers it, gives the execution input of
    docs/ARCHITECTURE.md ("Execution input")."""
    event = json.loads((EVENTS / "s3-object-created.json").read_text())
    assert apply_input_transformer(event) == {
        "bucket": "docpipe-dev-trigger",
        "key": "inbox/quarterly+report+2024.pdf",  # as delivered; ingest decodes it
        "versionId": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        "etag": "0f343b0931126a20f133d67c2b018a3b",
        "size": 184320,
        "sequencer": "00617F08299329D189",
    }


def test_inputs_are_keyed_relative_to_the_directory_given(tmp_path: Path) -> None:
    """This test ensures that directories are searched recursively with keys relative to
    them, that a file argument is keyed by its name, and that the output directory of
    the run is never taken as input."""
    (tmp_path / "docs" / "a" / "b").mkdir(parents=True)
    (tmp_path / "docs" / "top.pdf").write_bytes(b"1")
    (tmp_path / "docs" / "a" / "b" / "deep.png").write_bytes(b"2")
    (tmp_path / "single.jpg").write_bytes(b"3")
    (tmp_path / "docs" / "out" / "processed").mkdir(parents=True)
    (tmp_path / "docs" / "out" / "processed" / "top.pdf").write_bytes(b"4")
    found = collect_inputs(
        [tmp_path / "docs", tmp_path / "single.jpg"], "inbox/", exclude=[tmp_path / "docs" / "out"]
    )
    assert [doc.key for doc in found] == ["inbox/a/b/deep.png", "inbox/single.jpg", "inbox/top.pdf"]
    assert found[0].path == tmp_path / "docs" / "a" / "b" / "deep.png"


def test_usage_errors_are_refused_before_anything_runs(tmp_path: Path) -> None:
    """This test ensures that a missing path, an empty directory, two files with one key
    and an unknown profile are usage errors with a sentence naming the problem."""
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "same.pdf").write_bytes(b"1")
    (tmp_path / "y" / "same.pdf").write_bytes(b"2")
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="no such file or directory"):
        run([tmp_path / "missing.pdf"], out, settings=Settings())
    with pytest.raises(UsageError, match="no documents"):
        run([tmp_path / "empty"], out, settings=Settings())
    with pytest.raises(UsageError, match=r"both be uploaded as 'same\.pdf'"):
        run([tmp_path / "x" / "same.pdf", tmp_path / "y" / "same.pdf"], out, settings=Settings())
    with pytest.raises(UsageError, match="unknown profile 'tiny'"):
        run([tmp_path / "x"], out, profile="tiny", settings=Settings())
    with pytest.raises(UsageError, match="concurrency"):
        run([tmp_path / "x"], out, concurrency=0, settings=Settings())
    with pytest.raises(UsageError, match="no settings file"):
        run([tmp_path / "x"], out, stack="no-such-stack")
    assert not out.exists()


@pytest.mark.slow
def test_a_key_the_local_bucket_refuses_fails_alone(tmp_path: Path) -> None:
    """This test ensures that a file name moto's S3 refuses (a newline) fails that one
    document with a clear error in the summary, while the others are processed and
    copied, and that the run exits 1 because a document got no execution."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fine.pdf").write_bytes(docgen.text_pdf(1))
    (folder / "two\nlines.pdf").write_bytes(docgen.text_pdf(1))
    result = run([folder], tmp_path / "out", settings=Settings(), concurrency=2)
    docs = by_source(result)
    assert docs["fine.pdf"].status == "succeeded"
    assert (result.out_dir / "processed" / "fine.pdf.pdf").is_file()
    refused = docs["two\nlines.pdf"]
    assert refused.status == "failed"
    assert refused.error is not None
    assert refused.error["code"] == "UPLOAD_REFUSED"
    assert "rename the file" in refused.error["message"]
    assert not refused.reported
    assert result.summary()["failed"] == 1
    assert result.exit_code == 1


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    """This test ensures that .DS_Store-like files and .git-like folders inside a given
    directory are not uploaded, while a hidden file named on the command line is."""
    (tmp_path / "docs" / ".git").mkdir(parents=True)
    (tmp_path / "docs" / ".git" / "config.pdf").write_bytes(b"1")
    (tmp_path / "docs" / ".DS_Store").write_bytes(b"2")
    (tmp_path / "docs" / "seen.pdf").write_bytes(b"3")
    (tmp_path / ".named.pdf").write_bytes(b"4")
    found = collect_inputs([tmp_path / "docs", tmp_path / ".named.pdf"])
    assert [doc.key for doc in found] == [".named.pdf", "seen.pdf"]


def test_an_output_path_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    """This test ensures that --out naming an existing file is refused before anything
    runs, and the file is left as it was."""
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.7\n")
    (tmp_path / "out.txt").write_text("keep me")
    with pytest.raises(UsageError, match="is a file"):
        run([tmp_path / "doc.pdf"], tmp_path / "out.txt", settings=Settings())
    assert (tmp_path / "out.txt").read_text() == "keep me"


@pytest.mark.slow
def test_the_summary_names_the_failed_members_of_a_bundle(tmp_path: Path) -> None:
    """This test ensures that a bundle with a bad member succeeds, and that its --json
    entry lists that member with its code and message."""
    bundle = tmp_path / "batch.zip"
    bundle.write_bytes(docgen.zip_bundle({"good.pdf": docgen.text_pdf(1), "bad.pdf": b""}))
    result = run([bundle], tmp_path / "out", settings=Settings())
    (entry,) = result.summary()["documents"]
    assert entry["status"] == "succeeded"
    (member,) = entry["failed_members"]
    assert member["member"] == "bad.pdf"
    assert member["code"] == "EMPTY_DOCUMENT"
    assert member["message"]
    assert result.exit_code == 0
