"""The local HTTP API over a real moto server, driven by a real HTTP client (urllib).

The pipeline is not running here: a test writes what the pipeline would publish (the
outputs and the status document), so that every route is exercised over HTTP, with
presigned URLs that reach the local S3.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer
from pypdf import PdfReader

from functions.naming import outputs_of
from functions.status import KeyStatus, StatusError, status_key
from pipeline.local.api_server import ApiServer, local_api
from tests import docgen

TRIGGER = "docpipe-serve-trigger"
OUTPUT = "docpipe-serve-output"


@pytest.fixture(scope="module")
def stack(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch_module.setenv(name, "docpipe-local")
    monkeypatch_module.delenv("AWS_SESSION_TOKEN", raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    for bucket in (TRIGGER, OUTPUT):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    machine = sfn.create_state_machine(
        name="docpipe-serve",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/docpipe-serve",
    )["stateMachineArn"]
    api = local_api(
        s3, sfn, trigger_bucket=TRIGGER, output_bucket=OUTPUT, state_machine_arn=machine
    )
    with ApiServer(api.handle) as http:
        yield {"url": http.url, "s3": s3, "sfn": sfn}
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 -- a local URL
            return response.status, response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers.items())


def api(stack: dict[str, Any], method: str, path: str, payload: Any = None) -> tuple[int, Any]:
    body = None if payload is None else json.dumps(payload).encode()
    status, raw, _ = request(method, stack["url"] + path, body)
    return status, json.loads(raw) if raw else None


def document_path(key: str) -> str:
    return "/documents/" + urllib.parse.quote(key, safe="")


def publish(stack: dict[str, Any], key: str, pdf: bytes) -> None:
    """Writes what the pipeline publishes for a succeeded document."""
    s3, outputs = stack["s3"], outputs_of(key)
    s3.put_object(Bucket=OUTPUT, Key=outputs.pdf, Body=pdf)
    s3.put_object(Bucket=OUTPUT, Key=outputs.text, Body=b"Hello")
    s3.put_object(Bucket=OUTPUT, Key=outputs.manifest, Body=b"{}")
    status = KeyStatus(
        key=key,
        state="succeeded",
        updated="2026-11-30T09:00:00Z",
        outputs=(outputs.pdf, outputs.text, outputs.manifest),
        manifest=outputs.manifest,
        pages=1,
    )
    s3.put_object(Bucket=OUTPUT, Key=status_key(key), Body=json.dumps(status.to_json()).encode())


def test_upload_read_download_retry_delete_over_http(stack: dict[str, Any]) -> None:
    """This test ensures that over real HTTP a client can POST a document, PUT its bytes
    to the presigned URL (the profile arriving as object metadata), read its status,
    download its PDF through the presigned URL and open it, retry it, delete it and then
    get 404."""
    status, ticket = api(stack, "POST", "/documents", {"name": "letter.pdf", "profile": "lossless"})
    assert status == 201
    source = docgen.text_pdf(2)
    # urllib would label the bytes as a form (which moto's server then tries to parse).
    headers = {**ticket["headers"], "Content-Type": "application/pdf"}
    put_status, _, _ = request("PUT", ticket["uploadUrl"], source, headers)
    assert put_status == 200
    key = ticket["key"]
    head = stack["s3"].head_object(Bucket=TRIGGER, Key=key)
    assert head["Metadata"] == {"docpipe-profile": "lossless"}
    assert head["ContentLength"] == len(source)

    assert api(stack, "GET", document_path(key))[0] == 404  # not picked up yet
    publish(stack, key, source)
    status, document = api(stack, "GET", document_path(key))
    assert (status, document["state"]) == (200, "succeeded")
    got, pdf, _ = request("GET", document["downloads"]["pdf"])
    assert got == 200
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 2

    status, started = api(stack, "POST", document_path(key) + "/retry")
    assert status == 202
    execution = stack["sfn"].describe_execution(executionArn=started["execution"])
    assert json.loads(execution["input"])["rerun"] is True

    assert api(stack, "DELETE", document_path(key)) == (204, None)
    assert api(stack, "GET", document_path(key))[1]["error"]["code"] == "NOT_FOUND"


def test_list_failed_over_http(stack: dict[str, Any]) -> None:
    """This test ensures that GET /documents?status=failed lists a failed document with
    its code, and a failed document's GET links its report."""
    key = "upload/bad.txt"
    report = outputs_of(key).report
    stack["s3"].put_object(Bucket=OUTPUT, Key=report, Body=b'{"error": {"code": "X"}}')
    status = KeyStatus(
        key=key,
        state="failed",
        updated="2026-11-30T09:00:00Z",
        error=StatusError("UNSUPPORTED_TYPE", "Not a document."),
        report=report,
    )
    stack["s3"].put_object(
        Bucket=OUTPUT, Key=status_key(key), Body=json.dumps(status.to_json()).encode()
    )
    code, page = api(stack, "GET", "/documents?status=failed&limit=10")
    assert code == 200
    assert [(d["key"], d["error"]["code"]) for d in page["documents"]] == [
        (key, "UNSUPPORTED_TYPE")
    ]
    _, document = api(stack, "GET", document_path(key))
    assert request("GET", document["downloads"]["report"])[1] == b'{"error": {"code": "X"}}'


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/documents", b"{", 400, "MALFORMED_JSON"),
        ("POST", "/documents", b"\x00\xff\xfe", 400, "MALFORMED_JSON"),
        ("POST", "/documents", b'{"name": "a.pdf", "profile": "x"}', 400, "UNKNOWN_PROFILE"),
        ("POST", "/documents", json.dumps({"name": "n" * 300}).encode(), 400, "NAME_TOO_LONG"),
        ("POST", "/documents", b"{}", 400, "MISSING_NAME"),
        ("GET", "/documents/", None, 400, "MISSING_KEY"),
        ("GET", "/documents?status=lost", None, 400, "BAD_STATUS_FILTER"),
        ("GET", "/documents?limit=-1", None, 400, "BAD_LIMIT"),
        ("DELETE", "/documents/nothing.pdf", None, 404, "NOT_FOUND"),
        ("POST", "/documents/nothing.pdf/retry", None, 404, "NOT_FOUND"),
        ("PUT", "/documents", b"{}", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/elsewhere", None, 404, "ROUTE_NOT_FOUND"),
    ],
)
def test_bad_requests_over_http(
    stack: dict[str, Any], method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    """This test ensures that every refusal reaches an HTTP client as its status and a
    JSON error body with the code."""
    got, raw, headers = request(method, stack["url"] + path, body)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert json.loads(raw)["error"]["code"] == code


def test_server_refuses_non_loopback_addresses() -> None:
    """This test ensures that the local API cannot be bound to a public address."""
    for host in ("0.0.0.0", "192.0.2.1", "example.com"):  # noqa: S104 -- the point of the test
        with pytest.raises(ValueError, match="loopback"):
            ApiServer(lambda event, context: {}, host=host)
