"""Ingest against moto S3 with a temporary directory as the EFS mount."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from functions import ingest
from functions.errors import StageError
from functions.workspace import read_json
from tests import docgen
from tests.conftest import TRIGGER_BUCKET


@dataclass
class Context:
    """The attributes of a Lambda context object that the handlers read."""

    aws_request_id: str = "req-1"


def run(job: str, **source: Any) -> dict[str, Any]:
    event = {"job": job, "input": {"bucket": TRIGGER_BUCKET, **source}}
    return ingest.handler(event, Context())


def put(s3: Any, key: str, body: bytes, **extra: Any) -> dict[str, Any]:
    return s3.put_object(Bucket=TRIGGER_BUCKET, Key=key, Body=body, **extra)


def failure(job: str, **source: Any) -> StageError:
    with pytest.raises(StageError) as caught:
        run(job, **source)
    return caught.value


def test_a_pdf_is_streamed_hashed_and_described(s3: Any, mount: Path) -> None:
    """This test ensures that the source lands on EFS with its size, digest and type."""
    pdf = docgen.text_pdf(3)
    version = put(s3, "inbox/report.pdf", pdf)["VersionId"]
    state = run("job-1", key="inbox/report.pdf", versionId=version)
    assert state["duplicate"] is False
    assert state["documents"] == 1
    assert state["bundle"] is False
    assert state["profile"] == "ebook"
    assert state["source"]["sha256"] == __import__("hashlib").sha256(pdf).hexdigest()
    assert state["source"]["type"] == "pdf"
    assert state["source"]["size"] == len(pdf)
    assert len(json.dumps(state)) < 2048, "the state carries references, not content"
    manifest = read_json(mount / state["manifest"])
    [document] = manifest["documents"]
    assert (mount / document["path"]).read_bytes() == pdf
    assert s3.get_object(Bucket=TRIGGER_BUCKET, Key="inbox/report.pdf")["Body"].read() == pdf


def test_url_encoded_keys_are_resolved_after_the_key_as_given(s3: Any, mount: Path) -> None:
    """This test ensures that an encoded key finds the object, and a literal '+' still works."""
    put(s3, "inbox/my report.pdf", docgen.text_pdf(1))
    put(s3, "inbox/a+b.pdf", docgen.text_pdf(2))
    assert run("job-1", key="inbox/my+report.pdf")["source"]["key"] == "inbox/my report.pdf"
    assert run("job-2", key="inbox/my%20report.pdf")["source"]["key"] == "inbox/my report.pdf"
    assert run("job-3", key="inbox/a+b.pdf")["source"]["key"] == "inbox/a+b.pdf"


def test_profile_comes_from_input_then_metadata(s3: Any, mount: Path) -> None:
    """This test ensures that the profile comes from the input, then the object's metadata,
    then the default, and that an unknown one falls back to the default with a warning."""
    put(s3, "a.pdf", docgen.text_pdf(1), Metadata={"docpipe-profile": "screen"})
    assert run("job-1", key="a.pdf")["profile"] == "screen"
    assert run("job-2", key="a.pdf", profile="lossless")["profile"] == "lossless"
    state = run("job-3", key="a.pdf", profile="tiny")
    assert state["profile"] == "ebook"
    assert "unknown profile 'tiny'" in read_json(mount / state["manifest"])["warnings"][0]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "EMPTY_DOCUMENT"),
        (b"\x7fELF" + bytes(100), "UNSUPPORTED_TYPE"),
        (b"MZ\x90\x00" + bytes(600), "UNSUPPORTED_TYPE"),
    ],
)
def test_bad_sources_fail_with_their_code(s3: Any, mount: Path, body: bytes, code: str) -> None:
    """This test ensures that empty and binary sources fail with a stable code."""
    put(s3, "bad.pdf", body)
    err = failure("job-1", key="bad.pdf")
    assert type(err).__name__ == code
    assert "Traceback" not in str(err)


def test_a_missing_key_is_source_not_found(s3: Any, mount: Path) -> None:
    """This test ensures that a key that does not exist fails as SOURCE_NOT_FOUND."""
    err = failure("job-1", key="inbox/nothing-here.pdf")
    assert type(err).__name__ == "SOURCE_NOT_FOUND"
    assert "nothing-here.pdf" in str(err)
    assert type(failure("job-2")).__name__ == "SOURCE_NOT_FOUND"


def test_a_replaced_object_is_not_processed_under_an_old_etag(s3: Any, mount: Path) -> None:
    """This test ensures that an ETag naming an older object without version is refused."""
    etag = put(s3, "a.pdf", docgen.text_pdf(1))["ETag"]
    put(s3, "a.pdf", docgen.text_pdf(2))
    assert type(failure("job-1", key="a.pdf", etag=etag)).__name__ == "SOURCE_NOT_FOUND"


def test_size_limit_is_enforced(s3: Any, mount: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test ensures that an object over MAX_INPUT_BYTES is TOO_LARGE."""
    monkeypatch.setenv("MAX_INPUT_BYTES", "1000")
    put(s3, "big.pdf", docgen.text_pdf(40))
    assert type(failure("job-1", key="big.pdf")).__name__ == "TOO_LARGE"


# The child's own peak: ru_maxrss would include pytest's (Linux folds the peak of the memory
# a vfork-ed child shares with its parent into it at exec), so the high-water mark is reset
# first and read from /proc at the end.
_DOWNLOAD_CHILD = """
import sys
from pathlib import Path
Path("/proc/self/clear_refs").write_text("5")
import boto3
from functions import ingest
s3 = boto3.client("s3")
ref = ingest.ExecutionInput(bucket=sys.argv[1], key=sys.argv[2])
source = ingest.resolve_source(s3, ref)
ingest.download(s3, source, Path(sys.argv[3]), max_bytes=1 << 40)
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""


def test_download_memory_does_not_grow_with_the_object(tmp_path: Path) -> None:
    """This test ensures that a large object is streamed: peak memory stays flat.

    moto's in-process mock holds whole bodies in memory, so the download runs in a child
    process against moto's server, and the child's peak RSS for a 160 MiB object is
    compared with its peak for a tiny one.
    """
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": str(Path.cwd()),
        }
        client = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="streaming")
        size = 160 * 1024 * 1024
        client.put_object(Bucket="streaming", Key="small.pdf", Body=b"%PDF-1.7\n")
        client.upload_fileobj(io.BytesIO(b"%PDF-1.7\n" + bytes(size)), "streaming", "big.pdf")

        def peak(key: str) -> int:
            out = subprocess.run(
                [sys.executable, "-c", _DOWNLOAD_CHILD, "streaming", key, str(tmp_path / key)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            return int(out.stdout.strip())

        baseline, big = peak("small.pdf"), peak("big.pdf")
    finally:
        server.stop()
    assert (tmp_path / "big.pdf").stat().st_size == size + 9
    assert big - baseline < 48 * 1024 * 1024, f"peak grew by {big - baseline} bytes"


def test_a_duplicate_event_is_not_processed_twice(s3: Any, mount: Path) -> None:
    """This test ensures that a second job for the same version is a no-op, a retry is not."""
    version = put(s3, "a.pdf", docgen.text_pdf(1))["VersionId"]
    first = run("job-1", key="a.pdf", versionId=version)
    retried = run("job-1", key="a.pdf", versionId=version)
    duplicate = run("job-2", key="a.pdf", versionId=version)
    assert first["duplicate"] is False
    assert retried["duplicate"] is False
    assert duplicate["duplicate"] is True
    assert not (mount / "jobs" / "job-2").exists(), "the duplicate leaves no workspace"
    newer = put(s3, "a.pdf", docgen.text_pdf(2))["VersionId"]
    assert run("job-3", key="a.pdf", versionId=newer)["duplicate"] is False


def test_a_retried_ingest_gives_the_same_result(s3: Any, mount: Path) -> None:
    """This test ensures that running ingest again for a job rewrites the same workspace."""
    put(
        s3,
        "b.zip",
        docgen.zip_bundle({"a.pdf": docgen.text_pdf(1), "b.png": docgen.image_bytes("PNG")}),
    )
    first = run("job-1", key="b.zip")
    listing = sorted(p.relative_to(mount).as_posix() for p in (mount / "jobs").rglob("*"))
    manifest = read_json(mount / first["manifest"])
    second = run("job-1", key="b.zip")
    assert second == first
    assert sorted(p.relative_to(mount).as_posix() for p in (mount / "jobs").rglob("*")) == listing
    manifest.pop("seconds")
    again = read_json(mount / second["manifest"])
    again.pop("seconds")
    assert again == manifest


def test_bundle_members_are_listed_with_their_own_types_and_errors(s3: Any, mount: Path) -> None:
    """This test ensures that each member is sniffed; an unsupported one is recorded, not fatal."""
    bundle = docgen.zip_bundle(
        {
            "scan.jpg": docgen.image_bytes("JPEG"),
            "notes.txt": b"plain text",
            "doc.pdf": docgen.text_pdf(2),
        }
    )
    put(s3, "inbox/batch.zip", bundle)
    state = run("job-1", key="inbox/batch.zip")
    assert state["bundle"] is True
    assert state["documents"] == 3
    documents = read_json(mount / state["manifest"])["documents"]
    assert [(d["name"], d["type"]) for d in documents] == [
        ("scan.jpg", "jpeg"),
        ("notes.txt", None),
        ("doc.pdf", "pdf"),
    ]
    assert documents[1]["error"]["code"] == "UNSUPPORTED_TYPE"


def test_unsafe_bundles_fail_the_job(s3: Any, mount: Path) -> None:
    """This test ensures that a traversal entry fails the whole bundle as UNSAFE_ARCHIVE."""
    put(s3, "evil.zip", docgen.zip_bundle({"../../etc/cron.d/x.pdf": docgen.text_pdf(1)}))
    assert type(failure("job-1", key="evil.zip")).__name__ == "UNSAFE_ARCHIVE"
    assert not list((mount / "jobs" / "job-1" / "ingest").glob("members/*"))
