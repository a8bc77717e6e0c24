"""Transform: every document becomes a PDF with its text extracted and facts recorded.

Reads ``ingest/manifest.json``; writes ``transform/document.pdf``, ``text.txt`` and
``facts.json`` (one folder per member for a bundle, named by its position) and
``transform/manifest.json``. A
single document's error fails the job; a bundle member's error is recorded and the other
members go on.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from functions.contracts import TransformResult, parse_ingest_result
from functions.errors import DocumentError
from functions.handler import stage_handler
from functions.logs import StageLogger
from functions.settings import Settings, load_settings
from functions.workspace import Workspace, document_folder, read_json, write_json


def transform(event: dict[str, Any], settings: Settings, log: StageLogger) -> dict[str, Any]:
    """Runs the transform stage for one execution; returns the state for compress."""
    from functions.documents.normalise import normalise

    state = parse_ingest_result(event.get("ingest"))
    workspace = Workspace(settings.mount_path, str(event.get("job", "")))
    if state.manifest is None:
        raise ValueError("the ingest result names no manifest")
    ingested = read_json(workspace.resolve(state.manifest))
    directory = workspace.reset_stage("transform")
    log = log.bind(key=state.source.key)
    bundle = bool(ingested["bundle"])
    documents = []
    for index, document in enumerate(ingested["documents"], start=1):
        entry: dict[str, Any] = {
            "name": document["name"],
            "type": document["type"],
            "size": document["size"],
            "error": document["error"],
        }
        documents.append(entry)
        if entry["error"] is not None:
            continue
        out = document_folder(directory, index, bundle)
        out.mkdir(exist_ok=True)
        started = time.monotonic()
        try:
            result = normalise(
                workspace.resolve(document["path"]), document["type"], out, settings.limits
            )
        except DocumentError as err:
            if not bundle:
                raise
            log.warning(
                "bundle member failed", extra={"member": document["name"], "code": err.code}
            )
            shutil.rmtree(out, ignore_errors=True)
            entry["error"] = err.to_dict()
            continue
        entry.update(
            pages=result.pages,
            has_text=result.has_text,
            warnings=list(result.warnings),
            seconds=round(time.monotonic() - started, 3),
        )
    failed = sum(1 for entry in documents if entry["error"] is not None)
    manifest_path = directory / "manifest.json"
    write_json(manifest_path, {"documents": documents})
    log.info("documents transformed", extra={"documents": len(documents), "failed": failed})
    return TransformResult(
        job=workspace.job,
        source=state.source,
        profile=str(ingested["profile"]),
        bundle=bundle,
        documents=len(documents),
        failed_members=failed,
        manifest=workspace.relative(manifest_path),
    ).to_json()


@stage_handler("transform")
def handler(event: dict[str, Any], log: StageLogger) -> dict[str, Any]:
    """Lambda entry point of the transform function."""
    return transform(event, load_settings(), log)
