"""Compress and publish; also the failure step and the workspace sweep.

The compress function has three actions, so that the pipeline stays three functions:

- ``compress`` (the last stage): compresses each transformed document by its profile
  into ``compress/``, then publishes the PDFs, texts and manifests as one commit of the
  key (:mod:`functions.commit`), marks the claim done and removes the workspace.
- ``report_failure`` (the state machine's Catch): :mod:`functions.failure`.
- ``sweep`` (hourly schedule): removes workspaces and claims older than the TTL.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions import claims, publish
from functions.commit import KeyCommit, SourceVersion, entitled, key_commit, read_tagged
from functions.contracts import (
    BundleManifest,
    BundleMember,
    CompressResult,
    DocumentManifest,
    TransformResult,
    parse_bundle_manifest,
    parse_document_manifest,
    parse_transform_result,
)
from functions.failure import report_failure
from functions.handler import stage_handler
from functions.logs import DocumentMetrics, StageLogger, emit_document_metrics
from functions.naming import OutputKeys, member_base, outputs_of
from functions.settings import Settings, load_settings
from functions.transient import s3_client
from functions.workspace import Workspace, document_folder, read_json, sweep


@dataclass
class Compressed:
    """One document compressed on the workspace, ready to publish."""

    name: str
    keys: OutputKeys
    pdf: Path
    text: Path | None
    manifest: dict[str, Any]
    bytes_in: int
    bytes_out: int
    pages: int


def _compress_all(
    workspace: Workspace, ingested: dict[str, Any], transformed: dict[str, Any]
) -> tuple[list[BundleMember | None], list[Compressed]]:
    """Compresses every transformed document into ``compress/``; uploads nothing yet."""
    from functions.documents.compress import compress_pdf

    source, profile, bundle = ingested["source"], ingested["profile"], bool(ingested["bundle"])
    directory = workspace.reset_stage("compress")
    failures: list[BundleMember | None] = []
    done: list[Compressed] = []
    for index, document in enumerate(transformed["documents"], start=1):
        if document["error"] is not None:
            failures.append(BundleMember(document["name"], "failed", (), document["error"]))
            continue
        failures.append(None)
        started = time.monotonic()
        produced = document_folder(workspace.stage_dir("transform"), index, bundle)
        out = document_folder(directory, index, bundle)
        out.mkdir(exist_ok=True)
        result = compress_pdf(produced / "document.pdf", out / "document.pdf", profile)
        keys = (
            OutputKeys(member_base(source["key"], document["name"]))
            if bundle
            else outputs_of(source["key"])
        )
        text = produced / "text.txt"
        record_source = dict(source)
        if bundle:
            record_source.update(member=document["name"], member_size=document["size"])
        timings = {
            "ingest": ingested.get("seconds", 0.0),
            "transform": document.get("seconds", 0.0),
            "compress": round(time.monotonic() - started, 3),
        }
        manifest = DocumentManifest(
            source=record_source,
            output={
                "key": keys.pdf,
                "text": keys.text if text.exists() else None,
                "size": result.bytes_out,
                "sha256": publish.sha256_file(out / "document.pdf"),
                "pages": result.pages,
            },
            profile=profile,
            ratio=round(result.bytes_out / document["size"], 4) if document["size"] else None,
            compression={
                "pdf_bytes_in": result.bytes_in,
                "pdf_bytes_out": result.bytes_out,
                "kept_input": result.kept_input,
            },
            timings=timings,
            warnings=(
                *ingested.get("warnings", []),
                *document.get("warnings", []),
                *result.warnings,
            ),
            facts=read_json(produced / "facts.json"),
            job=workspace.job,
        )
        done.append(
            Compressed(
                name=document["name"],
                keys=keys,
                pdf=out / "document.pdf",
                text=text if text.exists() else None,
                manifest=manifest.to_json(),
                bytes_in=document["size"],
                bytes_out=result.bytes_out,
                pages=result.pages,
            )
        )
    return failures, done


def _upload(commit: KeyCommit, item: Compressed, metadata: dict[str, str]) -> list[str]:
    """Uploads one document's PDF, text and (last) manifest; returns their keys."""
    keys = [item.keys.pdf]
    publish.upload_file(commit.s3, commit.bucket, item.keys.pdf, item.pdf, metadata)
    commit.lock.renew()
    if item.text is not None:
        publish.upload_file(commit.s3, commit.bucket, item.keys.text, item.text, metadata)
        keys.append(item.keys.text)
    publish.put_json(commit.s3, commit.bucket, item.keys.manifest, item.manifest, metadata)
    commit.lock.renew()
    return [*keys, item.keys.manifest]


def _publish(
    commit: KeyCommit,
    ingested: dict[str, Any],
    failures: list[BundleMember | None],
    done: list[Compressed],
) -> CompressResult:
    """Publishes a job's outputs, then removes stale ones and commits the status."""
    source, profile = ingested["source"], ingested["profile"]
    metadata = publish.source_metadata(source)
    outputs: list[str] = []
    members: list[BundleMember] = []
    published = iter(done)
    for failure in failures:
        if failure is not None:
            members.append(failure)
            continue
        item = next(published)
        keys = _upload(commit, item, metadata)
        outputs.extend(keys)
        members.append(BundleMember(item.name, "succeeded", tuple(keys)))
    totals = {
        "bytes_in": sum(item.bytes_in for item in done),
        "bytes_out": sum(item.bytes_out for item in done),
        "pages": sum(item.pages for item in done),
    }
    job = commit.job
    if ingested["bundle"]:
        bundle = BundleManifest(source, profile, tuple(members), job=job, **totals)
        manifest_key = outputs_of(source["key"]).manifest
        publish.put_json(commit.s3, commit.bucket, manifest_key, bundle.to_json(), metadata)
        outputs.append(manifest_key)
    commit.remove_stale(keep=outputs)
    ratio = round(totals["bytes_out"] / totals["bytes_in"], 4) if totals["bytes_in"] else None
    commit.write(
        commit.status(
            "succeeded",
            stage="compress",
            profile=profile,
            outputs=tuple(outputs),
            manifest=outputs[-1] if outputs else None,
            pages=totals["pages"],
            ratio=ratio,
        )
    )
    failed = sum(1 for member in members if member.status == "failed")
    return CompressResult(
        job, "succeeded", tuple(outputs), documents=len(members), failed_members=failed, **totals
    )


def compress(
    event: dict[str, Any], s3: Any, settings: Settings, log: StageLogger
) -> dict[str, Any]:
    """Compresses and publishes every transformed document of one job."""
    began = time.monotonic()
    if not settings.output_bucket:
        raise ValueError("OUTPUT_BUCKET is not set")
    state = parse_transform_result(event.get("transform"))
    workspace = Workspace(settings.mount_path, str(event.get("job", "")))
    transform_manifest = workspace.resolve(state.manifest)
    if not transform_manifest.exists():
        earlier = _earlier_result(s3, settings, state, workspace.job)
        if earlier is not None:
            log.info("job already published by an earlier attempt")
            return earlier.to_json()
    transformed = read_json(transform_manifest)
    ingested = read_json(workspace.stage_dir("ingest") / "manifest.json")
    log = log.bind(key=state.source.key, profile=ingested["profile"])
    failures, done = _compress_all(workspace, ingested, transformed)
    version = SourceVersion.of(ingested["source"])
    with key_commit(s3, settings, version, workspace.job, log) as commit:
        if commit is None:
            result = CompressResult(workspace.job, "superseded", documents=len(failures))
        else:
            result = _publish(commit, ingested, failures, done)
    digest = workspace.claimed()
    if digest is not None:
        claims.settle(settings.mount_path, digest, workspace.job, "done")
    workspace.remove()
    log.info(
        "documents published",
        extra={"outputs": len(result.outputs), "status": result.status},
    )
    if result.status == "succeeded":
        transform_seconds = sum(d.get("seconds", 0.0) for d in transformed["documents"])
        stages = {"ingest": ingested.get("seconds", 0.0), "transform": transform_seconds}
        metrics = DocumentMetrics(
            "succeeded",
            None,
            result.pages,
            result.bytes_in,
            result.bytes_out,
            {**stages, "compress": time.monotonic() - began},
            result.failed_members,
        )
        emit_document_metrics(metrics, job=workspace.job, key=state.source.key)
    return result.to_json()


def _earlier_result(
    s3: Any, settings: Settings, state: TransformResult, job: str
) -> CompressResult | None:
    """Returns the result of an earlier attempt of this job that finished and cleaned up.

    Compress removes the workspace after publishing; if its response is then lost, Step
    Functions retries it against a workspace that no longer exists. The status document
    and the manifests carry the job id, so the retry returns the same result instead of
    failing; a job whose version was superseded returns ``superseded`` again.
    """
    status, _ = read_tagged(s3, settings.output_bucket, state.source.key)
    if status is None or status.execution != job or status.state != "succeeded":
        version = SourceVersion.of(state.source.to_json())
        if not entitled(s3, version, status):
            return CompressResult(job, "superseded", documents=state.documents)
        return None
    key = outputs_of(state.source.key).manifest
    raw = json.loads(s3.get_object(Bucket=settings.output_bucket, Key=key)["Body"].read())
    if state.bundle:
        bundle = parse_bundle_manifest(raw)
        failed = len(bundle.members) - bundle.succeeded
        totals = {"bytes_in": bundle.bytes_in, "bytes_out": bundle.bytes_out}
        return CompressResult(
            job,
            "succeeded",
            status.outputs,
            documents=len(bundle.members),
            failed_members=failed,
            pages=bundle.pages,
            **totals,
        )
    manifest = parse_document_manifest(raw)
    return CompressResult(
        job,
        "succeeded",
        status.outputs,
        bytes_in=int(manifest.source.get("size", 0)),
        bytes_out=int(manifest.output.get("size", 0)),
        pages=int(manifest.output.get("pages", 0)),
        documents=1,
    )


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
