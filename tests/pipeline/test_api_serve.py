"""The HTTP API of ``python -m pipeline serve``, end to end, with a real HTTP client.

``serve`` starts the local stack and the API beside it and prints the API's URL. Uploads
go through the presigned URLs into the stack's trigger bucket, whose rule starts the
deployed definition on the local workers; the status documents the pipeline writes are
what GET and the listing read.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from pipeline.cli import build_parser
from pipeline.commands.serve import serve_command
from tests import docgen

POLL_TIMEOUT_SECONDS = 180


def request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 -- a local URL
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Client:
    """A JSON client of the local API."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, raw = request(method, self.base + path, body)
        return status, json.loads(raw) if raw else None

    def upload(self, name: str, data: bytes, content_type: str, **extra: str) -> str:
        status, ticket = self.call("POST", "/documents", {"name": name, **extra})
        assert status == 201, ticket
        headers = {**ticket["headers"], "Content-Type": content_type}
        assert request("PUT", ticket["uploadUrl"], data, headers)[0] == 200
        return str(ticket["key"])

    def wait_for(self, key: str, states: tuple[str, ...]) -> dict[str, Any]:
        """Polls GET until the document reaches one of ``states``."""
        deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            status, body = self.call("GET", path_of(key))
            if status == 200 and body["state"] in states:
                return dict(body)
            assert status in (200, 404), body  # 404 until ingest has picked it up
            time.sleep(0.2)
        raise AssertionError(f"{key} did not reach {states}")


def path_of(key: str) -> str:
    return "/documents/" + urllib.parse.quote(key, safe="")


@pytest.mark.slow
def test_documents_through_the_api_of_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This test ensures that against `serve` a client can POST, PUT the bytes to the
    upload URL, poll GET until succeeded, download the PDF and open it; that a bad upload
    is listed as failed with its code and report, a retry re-runs it, DELETE makes GET 404
    while keeping the original, ?original=true removes every version, every refusal is a
    4xx with its code, and serve then stops with a clean workspace."""
    mount = tmp_path / "efs"
    mount.mkdir()
    args = build_parser().parse_args(
        ["serve", "--outputs-file", str(tmp_path / "outputs.json"), "--mount", str(mount)]
    )
    stop = threading.Event()

    def scenario(stack: Any) -> None:
        try:
            banner = capsys.readouterr().out
            url = re.search(r"HTTP API +(http://127\.0\.0\.1:\d+)/documents", banner)
            assert url, banner
            drive(Client(url[1]), stack)
        finally:
            stop.set()

    assert serve_command(args, stop=stop, on_ready=scenario) == 0
    assert "the workspace is clean" in capsys.readouterr().out


def drive(client: Client, stack: Any) -> None:
    """The client's side of the scenario."""
    good = client.upload("letter.pdf", docgen.text_pdf(2), "application/pdf", profile="lossless")
    bad = client.upload("notes.txt", b"just some text\n", "text/plain")

    done = client.wait_for(good, ("succeeded", "failed"))
    assert done["state"] == "succeeded", done
    assert done["profile"] == "lossless"
    status, pdf = request("GET", done["downloads"]["pdf"])
    assert status == 200
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 2
    assert request("GET", done["downloads"]["text"])[0] == 200
    manifest = json.loads(request("GET", done["downloads"]["manifest"])[1])
    assert manifest

    failed = client.wait_for(bad, ("succeeded", "failed"))
    assert failed["error"]["code"] == "UNSUPPORTED_TYPE"
    assert failed["failureReport"]
    status, page = client.call("GET", "/documents?status=failed")
    assert status == 200
    assert [(d["key"], d["error"]["code"]) for d in page["documents"]] == [
        (bad, "UNSUPPORTED_TYPE")
    ]
    _, succeeded = client.call("GET", "/documents?status=succeeded&limit=1")
    assert [d["key"] for d in succeeded["documents"]] == [good]

    status, retried = client.call("POST", path_of(bad) + "/retry")
    assert status == 202, retried
    stack.wait(timeout=POLL_TIMEOUT_SECONDS)
    history = stack.sfn.describe_execution(executionArn=retried["execution"])
    assert json.loads(history["input"])["rerun"] is True
    assert history["status"] in ("SUCCEEDED", "FAILED")
    again = client.wait_for(bad, ("failed",))
    assert again["error"]["code"] == "UNSUPPORTED_TYPE"

    assert client.call("DELETE", path_of(good)) == (204, None)
    assert client.call("GET", path_of(good))[0] == 404
    assert stack.s3.head_object(Bucket=stack.trigger_bucket, Key=good)["ContentLength"] > 0

    status, deleted = client.call("DELETE", path_of(bad) + "?original=true")
    assert status == 200
    assert deleted["originalVersionsDeleted"] == 1
    versions = stack.s3.list_object_versions(Bucket=stack.trigger_bucket, Prefix=bad)
    assert not versions.get("Versions")
    assert not versions.get("DeleteMarkers")

    for method, path, payload, code in [
        ("POST", "/documents", {"name": "a.pdf", "profile": "huge"}, "UNKNOWN_PROFILE"),
        ("POST", "/documents", {"name": "x" * 300}, "NAME_TOO_LONG"),
        ("GET", "/documents?status=sleeping", None, "BAD_STATUS_FILTER"),
        ("GET", path_of("elsewhere/a.pdf"), None, "NOT_FOUND"),
        ("POST", path_of(good) + "/retry", None, "NOT_FOUND"),
    ]:
        status, body = client.call(method, path, payload)
        assert 400 <= status < 500
        assert body["error"]["code"] == code
