"""Compress and publish; also the failure step and the workspace sweep.

The compress function has three actions, so that the pipeline stays three functions:

- ``compress`` (the last stage): compresses each transformed document by its profile
  into ``compress/``, publishes the PDFs, texts and manifests, removes the workspace.
- ``report_failure`` (the state machine's Catch): writes ``failed/K.json`` with the
  stable error code, removes the workspace and returns the code for the Fail state.
- ``sweep`` (hourly schedule): removes workspaces and claims older than the TTL.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from functions import publish
from functions.errors import ErrorCode
from functions.handler import internal_error_message, stage_handler
from functions.logs import StageLogger
from functions.settings import Settings, load_settings
from functions.workspace import Workspace, read_json, sweep

_TIMEOUT_ERRORS = {"States.Timeout", "Sandbox.Timedout"}


def _timings(
    ingested: dict[str, Any], document: dict[str, Any], compress_seconds: float
) -> dict[str, float]:
    return {
        "ingest": ingested.get("seconds", 0.0),
        "transform": document.get("seconds", 0.0),
        "compress": round(compress_seconds, 3),
    }


def _publish_document(
    s3: Any,
    settings: Settings,
    base: str,
    pdf: Path,
    text: Path | None,
    manifest: dict[str, Any],
    metadata: dict[str, str],
) -> list[str]:
    keys = [f"{base}.pdf"]
    publish.upload_file(s3, settings.output_bucket, keys[0], pdf, metadata)
    if text is not None:
        keys.append(f"{base}.txt")
        publish.upload_file(s3, settings.output_bucket, keys[1], text, metadata)
    keys.append(f"{base}.json")
    manifest["output"]["text"] = keys[1] if text is not None else None
    publish.put_json(s3, settings.output_bucket, keys[-1], manifest, metadata)
    return keys


def compress(
    event: dict[str, Any], s3: Any, settings: Settings, log: StageLogger
) -> dict[str, Any]:
    """Compresses and publishes every transformed document of one job."""
    from functions.documents.compress import compress_pdf

    if not settings.output_bucket:
        raise ValueError("OUTPUT_BUCKET is not set")
    state = event["transform"]
    workspace = Workspace(settings.mount_path, str(event.get("job", "")))
    transform_manifest = workspace.resolve(state["manifest"])
    if not transform_manifest.exists():
        published = _published_result(s3, settings, state, workspace.job)
        if published is not None:
            log.info("job already published by an earlier attempt")
            return published
    transformed = read_json(transform_manifest)
    ingested = read_json(workspace.stage_dir("ingest") / "manifest.json")
    source = ingested["source"]
    profile = ingested["profile"]
    log = log.bind(key=source["key"], profile=profile)
    directory = workspace.reset_stage("compress")
    documents = transformed["documents"]
    bundle = ingested["bundle"]
    bases = (
        publish.member_bases(source["key"], [d["name"] for d in documents])
        if bundle
        else [publish.processed_base(source["key"])]
    )
    metadata = publish.source_metadata(source)

    outputs: list[str] = []
    members: list[dict[str, Any]] = []
    totals = {"bytes_in": 0, "bytes_out": 0, "pages": 0}
    for document, base in zip(documents, bases, strict=True):
        member: dict[str, Any] = {
            "name": document["name"],
            "status": "failed",
            "outputs": [],
            "error": document["error"],
        }
        members.append(member)
        if document["error"] is not None:
            continue
        started = time.monotonic()
        produced = workspace.resolve(document["dir"])
        out = directory / document["slot"] if document["slot"] else directory
        out.mkdir(exist_ok=True)
        result = compress_pdf(
            produced / "document.pdf", out / "document.pdf", profile, limits=settings.limits
        )
        text = produced / "text.txt"
        bytes_in = document["size"]
        record_source = dict(source)
        if bundle:
            record_source["member"] = document["name"]
            record_source["member_size"] = bytes_in
        manifest = {
            "source": record_source,
            "output": {
                "key": f"{base}.pdf",
                "size": result.bytes_out,
                "sha256": publish.sha256_file(out / "document.pdf"),
                "pages": result.pages,
            },
            "profile": profile,
            "ratio": round(result.bytes_out / bytes_in, 4) if bytes_in else None,
            "compression": result.to_json(),
            "timings": _timings(ingested, document, time.monotonic() - started),
            "warnings": [
                *ingested.get("warnings", []),
                *document.get("warnings", []),
                *result.warnings,
            ],
            "facts": read_json(produced / "facts.json"),
            "job": workspace.job,
        }
        keys = _publish_document(
            s3,
            settings,
            base,
            out / "document.pdf",
            text if text.exists() else None,
            manifest,
            metadata,
        )
        member.update(status="succeeded", outputs=keys)
        outputs.extend(keys)
        totals["bytes_in"] += bytes_in
        totals["bytes_out"] += result.bytes_out
        totals["pages"] += result.pages

    if bundle:
        bundle_key = f"{publish.processed_base(source['key'])}.json"
        succeeded = sum(1 for m in members if m["status"] == "succeeded")
        publish.put_json(
            s3,
            settings.output_bucket,
            bundle_key,
            {
                "source": source,
                "profile": profile,
                "members": members,
                "succeeded": succeeded,
                "failed": len(members) - succeeded,
                **totals,
                "job": workspace.job,
            },
            metadata,
        )
        outputs.append(bundle_key)
    workspace.remove()
    failed = sum(1 for m in members if m["status"] == "failed")
    log.info("documents published", extra={"outputs": len(outputs), "failed_members": failed})
    return {
        "job": workspace.job,
        "status": "succeeded",
        "outputs": outputs,
        **totals,
        "documents": len(members),
        "failed_members": failed,
    }


def _published_result(
    s3: Any, settings: Settings, state: dict[str, Any], job: str
) -> dict[str, Any] | None:
    """Returns the result of an earlier attempt of this job that published and cleaned up.

    Compress removes the workspace after publishing; if its response is then lost, Step
    Functions retries it against a workspace that no longer exists. The manifests in the
    output bucket carry the job id, so the retry returns the same result instead of failing.
    """
    from botocore.exceptions import ClientError

    key = f"{publish.processed_base(state['source']['key'])}.json"
    try:
        body = s3.get_object(Bucket=settings.output_bucket, Key=key)["Body"].read()
    except ClientError:
        return None
    manifest = json.loads(body)
    if manifest.get("job") != job:
        return None
    if "members" in manifest:
        members = manifest["members"]
        outputs = [k for m in members for k in m["outputs"]] + [key]
        failed = sum(1 for m in members if m["status"] == "failed")
        totals = {k: manifest.get(k, 0) for k in ("bytes_in", "bytes_out", "pages")}
        documents = len(members)
    else:
        output = manifest["output"]
        outputs = [output["key"], *([output["text"]] if output.get("text") else []), key]
        failed, documents = 0, 1
        totals = {
            "bytes_in": manifest["source"]["size"],
            "bytes_out": output["size"],
            "pages": output["pages"],
        }
    return {
        "job": job,
        "status": "succeeded",
        "outputs": outputs,
        **totals,
        "documents": documents,
        "failed_members": failed,
    }


def _cause_message(cause: Any) -> tuple[str | None, str | None]:
    """Returns (errorType, errorMessage) from a Lambda error cause, when it is one."""
    if not isinstance(cause, str):
        return None, None
    try:
        parsed = json.loads(cause)
    except ValueError:
        return None, cause
    if isinstance(parsed, dict):
        kind = parsed.get("errorType")
        message = parsed.get("errorMessage")
        return (
            kind if isinstance(kind, str) else None,
            message if isinstance(message, str) else None,
        )
    return None, cause


def classify_failure(error: Any, stage: str, correlation: str) -> tuple[ErrorCode, str]:
    """Maps a Step Functions error (``{"Error", "Cause"}``) to a stable code and sentence.

    Errors named after a code (raised by a stage) keep their code and message; timeouts
    become ``PROCESSING_TIMEOUT``; anything else (a crash, exhausted retries of a
    transient error) is ``INTERNAL_ERROR`` with a correlation id, never the raw cause.
    """
    name = error.get("Error") if isinstance(error, dict) else None
    kind, message = _cause_message(error.get("Cause") if isinstance(error, dict) else None)
    codes = {code.value for code in ErrorCode}
    if name in codes and message:
        return ErrorCode(name), message
    if (
        name in _TIMEOUT_ERRORS
        or kind in _TIMEOUT_ERRORS
        or (message and "Task timed out" in message)
    ):
        return ErrorCode.PROCESSING_TIMEOUT, (
            f"The {stage} stage did not finish within its time limit; the document may be "
            "too large or too complex to process."
        )
    return ErrorCode.INTERNAL_ERROR, internal_error_message(correlation)


def report_failure(
    event: dict[str, Any], s3: Any, settings: Settings, log: StageLogger
) -> dict[str, Any]:
    """Writes ``failed/K.json`` for a failed job and removes its workspace."""
    job = str(event.get("job", ""))
    workspace = Workspace(settings.mount_path, job)
    raw_input = event.get("input")
    if isinstance(raw_input, str):  # $$.Execution.Input may arrive serialised
        try:
            raw_input = json.loads(raw_input)
        except ValueError:
            raw_input = {}
    source: dict[str, Any] = dict(raw_input) if isinstance(raw_input, dict) else {}
    ingest_manifest = workspace.stage_dir("ingest") / "manifest.json"
    if ingest_manifest.exists():  # the key as resolved, the size and digest as read
        source.update(read_json(ingest_manifest)["source"])
    stage = str(event.get("stage", "unknown"))
    code, message = classify_failure(event.get("error"), stage, job)
    key = source.get("key")
    report_key = publish.failed_key(
        key if isinstance(key, str) and key else f"_invalid-input/{job}"
    )
    report = {
        "source": source,
        "stage": stage,
        "error": {"code": code.value, "message": message},
        "execution": event.get("execution"),
        "job": job,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if not settings.output_bucket:
        raise ValueError("OUTPUT_BUCKET is not set")
    publish.put_json(
        s3, settings.output_bucket, report_key, report, publish.source_metadata(source)
    )
    workspace.remove()
    log.bind(key=key).info("failure reported", extra={"code": code.value, "report": report_key})
    return {"code": code.value, "message": message, "report": report_key}


@functools.cache
def s3_client() -> Any:
    """The S3 client, created once per execution environment (boto3 imported lazily)."""
    import boto3

    return boto3.client("s3")


@stage_handler("compress")
def handler(event: dict[str, Any], log: StageLogger) -> dict[str, Any]:
    """Lambda entry point of the compress function (actions: compress, report_failure, sweep)."""
    settings = load_settings()
    action = event.get("action", "compress")
    if action == "compress":
        return compress(event, s3_client(), settings, log)
    if action == "report_failure":
        return report_failure(event, s3_client(), settings, log)
    if action == "sweep":
        removed = sweep(settings.mount_path, settings.workspace_ttl_hours)
        log.info("workspace swept", extra={"removed": len(removed)})
        return {"removed": len(removed), "entries": removed[:100]}
    raise ValueError(f"unknown action {action!r}")
