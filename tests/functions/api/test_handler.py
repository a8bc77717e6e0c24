"""The API's handler against moto: every route, every refusal, defects and outages."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from functions.api import handler as api_handler
from functions.api.handler import Api
from functions.api.settings import ApiSettings
from functions.naming import outputs_of
from functions.status import KeyStatus, StatusError, status_key
from pipeline.local.api_server import request_event

TRIGGER = "docpipe-api-trigger"
OUTPUT = "docpipe-api-output"
PREFIX = "inbox/"
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def api(aws: None) -> Api:
    s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
    for bucket in (TRIGGER, OUTPUT):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="docpipe-api-test",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/docpipe-api-test",
    )["stateMachineArn"]
    settings = ApiSettings(
        trigger_bucket=TRIGGER,
        output_bucket=OUTPUT,
        state_machine_arn=machine,
        trigger_prefix=PREFIX,
        max_input_bytes=1000,
    )
    return Api(s3, sfn, settings)


def call(api: Api, method: str, target: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    response = api.handle(request_event(method, target, {"user-agent": "test"}, raw), None)
    text = response["body"]
    return response["statusCode"], json.loads(text) if text else None, response["headers"]


def addressed(url: str) -> str:
    """Returns ``bucket/key`` of a presigned URL, virtual-hosted or path style."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parts.path)
    if parts.netloc.endswith(".s3.amazonaws.com"):
        return parts.netloc.removesuffix(".s3.amazonaws.com") + path
    return path.lstrip("/")


def path_of(key: str) -> str:
    return f"/documents/{urllib.parse.quote(key, safe='')}"


def put_status(api: Api, status: KeyStatus) -> None:
    api.clients.s3.put_object(
        Bucket=OUTPUT, Key=status_key(status.key), Body=json.dumps(status.to_json()).encode()
    )


def succeeded(api: Api, key: str, updated: str = "2026-11-30T09:00:00Z") -> KeyStatus:
    outputs = outputs_of(key)
    for output in (outputs.pdf, outputs.text, outputs.manifest):
        api.clients.s3.put_object(Bucket=OUTPUT, Key=output, Body=b"output of " + key.encode())
    status = KeyStatus(
        key=key,
        state="succeeded",
        updated=updated,
        outputs=(outputs.pdf, outputs.text, outputs.manifest),
        manifest=outputs.manifest,
        pages=2,
        ratio=0.5,
    )
    put_status(api, status)
    return status


def failed(api: Api, key: str, updated: str = "2026-11-30T09:00:00Z") -> KeyStatus:
    report = outputs_of(key).report
    api.clients.s3.put_object(
        Bucket=OUTPUT,
        Key=report,
        Body=json.dumps({"error": {"code": "UNSUPPORTED_TYPE", "message": "Not a PDF."}}).encode(),
    )
    status = KeyStatus(
        key=key,
        state="failed",
        updated=updated,
        stage="ingest",
        error=StatusError("UNSUPPORTED_TYPE", "Not a PDF."),
        report=report,
    )
    put_status(api, status)
    return status


def processing(api: Api, key: str) -> KeyStatus:
    status = KeyStatus(
        key=key, state="processing", updated="2026-11-30T09:00:00Z", stage="transform"
    )
    put_status(api, status)
    return status


def test_post_presigns_an_upload_under_the_prefix_with_the_profile_signed(api: Api) -> None:
    """This test ensures that POST /documents returns 201 with a fresh key under the
    trigger prefix that keeps the name, a presigned PUT whose signed headers include the
    profile metadata, the headers to send, the expiry and the size limit."""
    status, body, headers = call(
        api, "POST", "/documents", {"name": "scan 1.jpg", "profile": "screen"}
    )
    assert status == 201
    assert re.fullmatch(r"inbox/[0-9a-f]{32}/scan 1\.jpg", body["key"])
    assert headers["location"] == path_of(body["key"])
    url = urllib.parse.urlsplit(body["uploadUrl"])
    query = urllib.parse.parse_qs(url.query)
    assert addressed(body["uploadUrl"]) == f"{TRIGGER}/{body['key']}"
    assert query["X-Amz-SignedHeaders"] == ["host;x-amz-meta-docpipe-profile"]
    assert query["X-Amz-Expires"] == ["900"]
    assert body["headers"] == {"x-amz-meta-docpipe-profile": "screen"}
    assert body["method"] == "PUT"
    assert body["maxBytes"] == 1000
    assert body["profile"] == "screen"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expiresAt"])

    _, other, _ = call(api, "POST", "/documents", {"name": "scan 1.jpg"})
    assert other["key"] != body["key"]
    assert other["headers"] == {}
    assert other["profile"] == "ebook"
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(other["uploadUrl"]).query)[
        "X-Amz-SignedHeaders"
    ] == ["host"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "MALFORMED_JSON"),
        (b"", 400, "MALFORMED_JSON"),
        (b"\xff\xfe", 400, "MALFORMED_JSON"),
        (b"[1, 2]", 400, "INVALID_BODY"),
        ({"name": "a.pdf", "colour": "red"}, 400, "INVALID_BODY"),
        ({"profile": "ebook"}, 400, "MISSING_NAME"),
        ({"name": ""}, 400, "MISSING_NAME"),
        ({"name": 42}, 400, "INVALID_NAME"),
        ({"name": "a/b.pdf"}, 400, "INVALID_NAME"),
        ({"name": ".."}, 400, "INVALID_NAME"),
        ({"name": "bad\nname.pdf"}, 400, "INVALID_NAME"),
        ({"name": "é" * 128}, 400, "NAME_TOO_LONG"),
        ({"name": "a.pdf", "profile": "tiny"}, 400, "UNKNOWN_PROFILE"),
        (b'{"name": "' + b"a" * 70_000 + b'"}', 413, "BODY_TOO_LARGE"),
    ],
)
def test_post_refuses_bad_bodies_with_a_code_and_a_sentence(
    api: Api, body: Any, status: int, code: str
) -> None:
    """This test ensures that each kind of bad POST body gets its 4xx status and stable
    code, with a sentence and no traceback."""
    got, answer, headers = call(api, "POST", "/documents", body)
    assert (got, answer["error"]["code"]) == (status, code)
    assert answer["error"]["message"].endswith(".")
    assert "Traceback" not in answer["error"]["message"]
    assert headers["content-type"] == "application/json"


def test_get_succeeded_document_gives_download_urls(api: Api) -> None:
    """This test ensures that GET /documents/{key} of a succeeded document returns its
    status with presigned GET URLs of its PDF, text and manifest, whether the key's slashes
    are encoded or not."""
    key = "inbox/letters/letter.pdf"
    succeeded(api, key)
    for target in (path_of(key), f"/documents/{key}"):
        status, body, _ = call(api, "GET", target)
        assert status == 200
        assert (body["key"], body["state"], body["pages"]) == (key, "succeeded", 2)
        assert set(body["downloads"]) == {"pdf", "text", "manifest"}
        outputs = outputs_of(key)
        for label, output in (("pdf", outputs.pdf), ("text", outputs.text)):
            assert addressed(body["downloads"][label]) == f"{OUTPUT}/{output}"
            assert "X-Amz-Signature=" in body["downloads"][label]
        assert "downloadsExpireAt" in body


def test_get_failed_document_gives_its_report(api: Api) -> None:
    """This test ensures that a failed document's GET carries the error, the failure
    report's content and a presigned URL to it."""
    key = "inbox/not-really.pdf"
    failed(api, key)
    status, body, _ = call(api, "GET", path_of(key))
    assert status == 200
    assert body["error"] == {"code": "UNSUPPORTED_TYPE", "message": "Not a PDF."}
    assert body["failureReport"]["error"]["code"] == "UNSUPPORTED_TYPE"
    assert set(body["downloads"]) == {"report"}


def test_get_unknown_missing_and_foreign_keys_are_refused(api: Api) -> None:
    """This test ensures that an unknown key is 404 NOT_FOUND, an empty one 400
    MISSING_KEY, one outside the trigger prefix 404, an over-long one 400 INVALID_KEY
    and a query parameter 400 BAD_QUERY."""
    cases = [
        (path_of("inbox/nothing.pdf"), 404, "NOT_FOUND"),
        ("/documents/", 400, "MISSING_KEY"),
        (path_of("elsewhere/a.pdf"), 404, "NOT_FOUND"),
        (path_of("inbox/" + "a" * 1100), 400, "INVALID_KEY"),
        ("/documents/inbox%2F%ff.pdf", 400, "INVALID_KEY"),
        (path_of("inbox/a.pdf") + "?verbose=1", 400, "BAD_QUERY"),
    ]
    for target, status, code in cases:
        got, body, _ = call(api, "GET", target)
        assert (got, body["error"]["code"]) == (status, code), target


def test_list_filters_by_status_and_since_and_pages_with_a_cursor(api: Api) -> None:
    """This test ensures that GET /documents lists statuses, filters by state and time,
    and that following the cursor with a small limit returns every match exactly once."""
    good = [f"inbox/good-{i:02d}.pdf" for i in range(7)]
    bad = [f"inbox/bad-{i:02d}.txt" for i in range(4)]
    for key in good:
        succeeded(api, key)
    for key in bad:
        failed(api, key)
    processing(api, "inbox/busy.pdf")

    status, body, _ = call(api, "GET", "/documents?status=failed")
    assert status == 200
    assert sorted(d["key"] for d in body["documents"]) == bad
    assert body["cursor"] is None

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        target = "/documents?status=succeeded&limit=3"
        if cursor:
            target += f"&cursor={cursor}"
        _, page, _ = call(api, "GET", target)
        assert len(page["documents"]) <= 3
        seen.extend(d["key"] for d in page["documents"])
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == good

    _, everything, _ = call(api, "GET", "/documents")
    assert len(everything["documents"]) == 12
    _, recent, _ = call(api, "GET", "/documents?since=1h")
    assert recent["documents"] == []  # every status says it was updated on Nov 30
    _, since, _ = call(api, "GET", "/documents?since=2026-11-30T08:00:00Z&status=processing")
    assert [d["key"] for d in since["documents"]] == ["inbox/busy.pdf"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("status=done", "BAD_STATUS_FILTER"),
        ("limit=0", "BAD_LIMIT"),
        ("limit=101", "BAD_LIMIT"),
        ("limit=ten", "BAD_LIMIT"),
        ("since=yesterday", "BAD_SINCE"),
        ("cursor=%%%", "BAD_CURSOR"),
        ("cursor=aGVsbG8", "BAD_CURSOR"),
        ("order=newest", "BAD_QUERY"),
    ],
)
def test_list_refuses_bad_queries(api: Api, query: str, code: str) -> None:
    """This test ensures that each bad listing parameter gets 400 and its code."""
    status, body, _ = call(api, "GET", f"/documents?{query}")
    assert (status, body["error"]["code"]) == (400, code)


def test_delete_removes_outputs_members_report_and_status_and_keeps_the_original(
    api: Api,
) -> None:
    """This test ensures that DELETE removes a bundle's outputs, its members' outputs and
    its status (GET is then 404), answers 204 without a body, leaves another key sharing
    the name's prefix alone, and keeps the uploaded original."""
    s3 = api.clients.s3
    key = "inbox/batch.zip"
    s3.put_object(Bucket=TRIGGER, Key=key, Body=b"zip")
    succeeded(api, key)
    members = outputs_of(key).members_prefix
    for member in ("a.pdf.pdf", "a.pdf.txt", "a.pdf.json"):
        s3.put_object(Bucket=OUTPUT, Key=members + member, Body=b"member")
    neighbour = succeeded(api, "inbox/batch.zip.old")
    s3.put_object(Bucket=OUTPUT, Key=outputs_of(key).report, Body=b"{}")

    status, body, _ = call(api, "DELETE", path_of(key))
    assert (status, body) == (204, None)
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=OUTPUT).get("Contents", [])]
    assert sorted(remaining) == sorted([*neighbour.outputs, status_key(neighbour.key)])
    assert call(api, "GET", path_of(key))[0] == 404
    assert s3.get_object(Bucket=TRIGGER, Key=key)["Body"].read() == b"zip"
    assert call(api, "DELETE", path_of(key))[1]["error"]["code"] == "NOT_FOUND"


def test_delete_with_original_removes_every_version_and_says_so(api: Api) -> None:
    """This test ensures that DELETE ?original=true deletes every version of the
    original (and no other key) and answers 200 with what it deleted."""
    s3 = api.clients.s3
    key = "inbox/report.pdf"
    s3.put_object(Bucket=TRIGGER, Key=key, Body=b"v1")
    s3.put_object(Bucket=TRIGGER, Key=key, Body=b"v2")
    s3.put_object(Bucket=TRIGGER, Key=key + ".bak", Body=b"other")
    failed(api, key)
    status, body, _ = call(api, "DELETE", path_of(key) + "?original=true")
    assert status == 200
    assert body["originalDeleted"] is True
    assert body["originalVersionsDeleted"] == 2
    assert sorted(body["deletedOutputs"]) == sorted([outputs_of(key).report, status_key(key)])
    versions = s3.list_object_versions(Bucket=TRIGGER)
    assert [v["Key"] for v in versions.get("Versions", [])] == [key + ".bak"]
    assert not versions.get("DeleteMarkers")


def test_delete_refuses_busy_documents_and_bad_flags(api: Api) -> None:
    """This test ensures that a document being processed cannot be deleted (409) and
    that original must be true or false."""
    processing(api, "inbox/busy.pdf")
    status, body, _ = call(api, "DELETE", path_of("inbox/busy.pdf"))
    assert (status, body["error"]["code"]) == (409, "DOCUMENT_BUSY")
    status, body, _ = call(api, "DELETE", path_of("inbox/busy.pdf") + "?original=yes")
    assert (status, body["error"]["code"]) == (400, "BAD_QUERY")


def test_retry_starts_a_rerun_execution(api: Api) -> None:
    """This test ensures that POST /documents/{key}/retry answers 202 and starts the
    state machine with {"bucket", "key", "rerun": true} and the version the status is
    about, under an execution name of its own; unknown keys are 404 and busy ones 409."""
    key = "inbox/scans/bad.tif"
    status_document = failed(api, key)
    put_status(api, dataclasses.replace(status_document, version_id="v-2", etag="e-2"))
    status, body, _ = call(api, "POST", path_of(key) + "/retry")
    assert status == 202
    assert (body["key"], body["previousState"]) == (key, "failed")
    execution = api.clients.sfn.describe_execution(executionArn=body["execution"])
    assert json.loads(execution["input"]) == {
        "bucket": TRIGGER,
        "key": key,
        "rerun": True,
        "versionId": "v-2",
        "etag": "e-2",
    }
    assert execution["name"] in body["execution"]
    unversioned = "inbox/plain.pdf"
    failed(api, unversioned)
    _, body, _ = call(api, "POST", path_of(unversioned) + "/retry")
    execution = api.clients.sfn.describe_execution(executionArn=body["execution"])
    assert json.loads(execution["input"]) == {"bucket": TRIGGER, "key": unversioned, "rerun": True}

    assert call(api, "POST", path_of("inbox/none.pdf") + "/retry")[0] == 404
    processing(api, "inbox/busy.pdf")
    assert call(api, "POST", path_of("inbox/busy.pdf") + "/retry")[0] == 409


def test_unknown_routes_and_methods(api: Api) -> None:
    """This test ensures that unknown paths are 404 ROUTE_NOT_FOUND and unsupported
    methods 405 METHOD_NOT_ALLOWED."""
    cases = [
        ("GET", "/", 404, "ROUTE_NOT_FOUND"),
        ("GET", "/documentsx", 404, "ROUTE_NOT_FOUND"),
        ("PUT", "/documents", 405, "METHOD_NOT_ALLOWED"),
        ("POST", path_of("inbox/a.pdf"), 405, "METHOD_NOT_ALLOWED"),
        ("PATCH", path_of("inbox/a.pdf"), 405, "METHOD_NOT_ALLOWED"),
    ]
    for method, target, status, code in cases:
        got, body, _ = call(api, method, target)
        assert (got, body["error"]["code"]) == (status, code), (method, target)


def test_a_defect_is_a_500_with_a_correlation_id_only(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """This test ensures that a defect (a status document that is not one) answers 500
    INTERNAL_ERROR quoting a correlation id, and that the traceback is logged under that
    id, not sent."""
    api.clients.s3.put_object(Bucket=OUTPUT, Key=status_key("inbox/x.pdf"), Body=b"[]")
    status, body, _ = call(api, "GET", path_of("inbox/x.pdf"))
    assert (status, body["error"]["code"]) == (500, "INTERNAL_ERROR")
    correlation = re.search(r"correlation id (\S+) ", body["error"]["message"])
    assert correlation
    assert "Traceback" not in json.dumps(body)
    failure = next(r for r in caplog.records if r.getMessage() == "api request failed")
    assert failure.__dict__["correlation"] == correlation[1]
    assert failure.exc_info is not None
    assert "not a docpipe status document" in str(failure.exc_info[1])


def test_unreachable_storage_is_a_503(api: Api) -> None:
    """This test ensures that S3 being unreachable answers 503 INFRASTRUCTURE_UNAVAILABLE
    with Retry-After, not a 500."""
    unreachable = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    broken = Api(unreachable, api.clients.sfn, api.settings)
    status, body, headers = call(broken, "GET", path_of("inbox/a.pdf"))
    assert (status, body["error"]["code"]) == (503, "INFRASTRUCTURE_UNAVAILABLE")
    assert headers["retry-after"] == "2"


def test_lambda_entry_point_reads_a_real_event_and_its_environment(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test ensures that the Lambda handler builds its API from the environment and
    answers a real API Gateway payload 2.0 event, decoding the key from rawPath."""
    for name, value in {
        "TRIGGER_BUCKET": TRIGGER,
        "OUTPUT_BUCKET": OUTPUT,
        "STATE_MACHINE_ARN": api.settings.state_machine_arn,
        "TRIGGER_PREFIX": PREFIX,
    }.items():
        monkeypatch.setenv(name, value)
    api_handler.default_api.cache_clear()
    event = json.loads((EVENTS / "api-get-document.json").read_text())
    try:
        assert api_handler.handler(event, None)["statusCode"] == 404
        succeeded(api, "inbox/scans/letter.pdf")
        response = api_handler.handler(event, None)
    finally:
        api_handler.default_api.cache_clear()
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["key"] == "inbox/scans/letter.pdf"
