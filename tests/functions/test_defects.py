"""Inputs that once ended with the wrong code, no report or garbage outputs, each through
the real handlers against moto S3 and a temporary mount."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from functions import ingest, transform
from functions.errors import StageError
from functions.workspace import Workspace, read_json, write_json
from tests import docgen
from tests.conftest import TRIGGER_BUCKET
from tests.jobs import Job, assert_clean, body, output_keys, status, upload


def test_an_invalid_bucket_name_is_source_not_found(s3: Any, mount: Path) -> None:
    """A bucket name S3 would never accept names no object."""
    job = Job("job-b", {"bucket": "Not_A..Bucket!", "key": "a.pdf"}).run()
    assert job.ended == "failed"
    assert job.result["code"] == "SOURCE_NOT_FOUND"
    report = json.loads(body(s3, job.result["report"]))
    assert "not a valid S3 bucket name" in report["error"]["message"]
    assert_clean(mount)


def test_an_encoded_key_with_only_an_etag_finds_the_object_it_names(s3: Any, mount: Path) -> None:
    """When both the literal and the decoded key exist, the ETag in
    the event picks the right one."""
    named = docgen.text_pdf(["the decoded key"])
    s3.put_object(Bucket=TRIGGER_BUCKET, Key="a+b.pdf", Body=docgen.text_pdf(["the literal"]))
    put = s3.put_object(Bucket=TRIGGER_BUCKET, Key="a b.pdf", Body=named)
    event = {"bucket": TRIGGER_BUCKET, "key": "a+b.pdf", "etag": put["ETag"].strip('"')}
    job = Job("job-e", event).run()
    assert job.ended == "succeeded"
    assert "the decoded key" in body(s3, "processed/a b.pdf.txt").decode()
    assert not any(key.startswith("processed/a+b") for key in output_keys(s3))


def test_a_console_folder_marker_is_skipped_without_garbage(s3: Any, mount: Path) -> None:
    """The console's empty `inbox/` object ends quietly: no report,
    no status, nothing published."""
    job = Job("job-f", upload(s3, "inbox/", b"")).run()
    assert job.ended == "skipped"
    assert job.state["reason"] == "folder marker"
    assert output_keys(s3) == set()
    assert_clean(mount)


def test_an_empty_file_is_still_an_empty_document(s3: Any, mount: Path) -> None:
    """Only a key ending in a slash is a folder marker."""
    job = Job("job-z", upload(s3, "inbox/empty.pdf", b"")).run()
    assert job.result["code"] == "EMPTY_DOCUMENT"
    assert "failed/inbox/empty.pdf.json" in output_keys(s3)


def test_transform_ignores_paths_planted_in_the_manifest(s3: Any, mount: Path) -> None:
    """A slot or path in ingest's manifest cannot send transform's
    output, or its input, outside the job."""
    bundle = docgen.zip_bundle({"a.pdf": docgen.text_pdf(1)})
    state = ingest.handler({"input": upload(s3, "b.zip", bundle), "job": "job-t"}, None)
    manifest_path = mount / state["manifest"]
    manifest = read_json(manifest_path)
    manifest["documents"][0]["slot"] = "../../../../escaped"
    write_json(manifest_path, manifest)
    transform.handler({"ingest": state, "job": "job-t"}, None)
    assert not (mount.parent / "escaped").exists()
    assert (Workspace(mount, "job-t").stage_dir("transform") / "0001" / "document.pdf").exists()
    manifest["documents"][0]["path"] = "jobs/other-job/ingest/source"
    write_json(manifest_path, manifest)
    with pytest.raises(StageError) as caught:
        transform.handler({"ingest": state, "job": "job-t"}, None)
    assert type(caught.value).__name__ == "INTERNAL_ERROR"


def flat_scan_bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, format="BMP")
    return out.getvalue()


def test_a_flat_white_scan_in_a_bundle_is_not_a_zip_bomb(s3: Any, mount: Path) -> None:
    """A 360 KB BMP deflated over 200 times is unpacked and published."""
    scan = flat_scan_bmp()
    assert len(scan) > 350_000
    job = Job("job-w", upload(s3, "scans.zip", docgen.zip_bundle({"white.bmp": scan}))).run()
    assert job.ended == "succeeded", job.result
    assert "processed/scans.zip!/white.bmp.pdf" in output_keys(s3)


def test_a_bundle_with_two_entries_of_one_name_is_refused(s3: Any, mount: Path) -> None:
    """Duplicate entry names (which would share outputs) are refused."""
    data = io.BytesIO()
    import warnings
    import zipfile

    with warnings.catch_warnings(), zipfile.ZipFile(data, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate, as it should
        archive.writestr("a.pdf", docgen.text_pdf(1))
        archive.writestr("a.pdf", docgen.text_pdf(2))
    job = Job("job-d", upload(s3, "dup.zip", data.getvalue())).run()
    assert job.result["code"] == "UNSAFE_ARCHIVE"
    assert "two entries named" in json.loads(body(s3, job.result["report"]))["error"]["message"]


@pytest.mark.parametrize("size", [1014, 1020, 1024])
def test_keys_near_the_s3_limit_get_outputs_and_reports(s3: Any, mount: Path, size: int) -> None:
    """Keys of 1,014 bytes and more publish and report normally."""
    good = "g" * (size - 4) + ".pdf"
    bad = "b" * (size - 4) + ".pdf"
    assert Job("job-g", upload(s3, good, docgen.text_pdf(1))).run().ended == "succeeded"
    assert status(s3, good).state == "succeeded"
    failed = Job("job-x", upload(s3, bad, b"%PDF-1.7\n\x00junk")).run()
    assert failed.ended == "failed"
    assert status(s3, bad).report == failed.result["report"]
    assert len(failed.result["report"].encode()) <= 1024
    assert_clean(mount)


@pytest.mark.parametrize("job", ["rerun.v2", "a+b", "naïve-run", "..", "x" * 80])
def test_every_execution_name_runs_the_whole_pipeline(s3: Any, mount: Path, job: str) -> None:
    """Execution names beyond [A-Za-z0-9_-] work in every stage and
    in the failure step."""
    assert Job(job, upload(s3, f"{job}.pdf", docgen.text_pdf(1))).run().ended == "succeeded"
    failed = Job(job, upload(s3, f"{job}-bad.pdf", b"%PDF-1.7\n\x00junk")).run()
    assert failed.result["code"] == "CORRUPT_DOCUMENT"
    assert_clean(mount)
    assert not (mount.parent / "jobs").exists()
