"""The transform function's OCR actions, on one job's workspace.

- after normalising, :func:`plan_job` decides which pages of which documents to read;
  few pages are read right away (:func:`run_inline`), many are returned as items for the
  state machine's Map state;
- ``{"action": "ocr", "job", "item"}`` reads one item's pages into a part
  (:func:`read_item`);
- ``{"action": "ocr_merge", "job", "transform"}`` grafts the parts onto their documents
  and returns the transform state without the items (:func:`merge`).

Parts live in ``jobs/<job>/ocr/<slot>/``, the documents in ``jobs/<job>/transform/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, TypedDict

from functions.documents.ocr import stage
from functions.documents.ocr.models import MODELS_DIR, missing_models
from functions.settings import Settings
from functions.workspace import Workspace, read_json, write_json

OCR_DIR = "ocr"


class OcrItem(TypedDict):
    """One Map item: some pages of one document."""

    dir: str
    parts: str
    pages: list[int]


def parts_dir(workspace: Workspace, slot: str) -> Path:
    """Returns where the parts of the document in ``slot`` go."""
    return workspace.job_dir / OCR_DIR / (slot or "document")


def plan_job(
    workspace: Workspace, entries: list[dict[str, Any]], mode: str, settings: Settings
) -> list[OcrItem]:
    """Plans the OCR of every transformed document; marks those waiting for it.

    Returns:
        The Map items (ranges of pages), in document and page order.
    """
    items: list[OcrItem] = []
    missing = missing_models(settings.mount_path, settings.ocr.languages.split("+"))
    for entry in entries:
        if entry.get("error") is not None or "dir" not in entry:
            continue
        doc_dir = workspace.resolve(entry["dir"])
        wanted = stage.wanted_pages(doc_dir, entry["pages"], mode)
        if wanted and missing:
            # A document is still worth publishing without OCR; the operator is told why.
            entry["warnings"] = [*entry.get("warnings", []), _not_installed(wanted, missing)]
            continue
        if wanted and stage.keeps_signature(doc_dir):
            entry["warnings"] = [*entry.get("warnings", []), _signed(wanted)]
            continue
        ranges = stage.plan(wanted, doc_dir, settings.ocr.pages_per_invocation)
        if not ranges:
            continue
        entry["ocr"] = "pending"
        parts = parts_dir(workspace, entry["slot"])
        shutil.rmtree(parts, ignore_errors=True)  # a retried transform starts clean
        items.extend(
            {"dir": entry["dir"], "parts": workspace.relative(parts), "pages": pages}
            for pages in ranges
        )
    return items


def _not_installed(pages: list[int], missing: list[str]) -> str:
    noun = "page has" if len(pages) == 1 else "pages have"
    return (
        f"{len(pages)} {noun} no text and could not be OCR'd: the OCR model(s) "
        f"{', '.join(missing)} are not installed under {MODELS_DIR}/ on the file system."
    )


def _signed(pages: list[int]) -> str:
    noun = "page has" if len(pages) == 1 else "pages have"
    return (
        f"{len(pages)} {noun} no text and were not OCR'd: the document carries an intact "
        "signature, which a text layer would invalidate."
    )


def read_item(workspace: Workspace, item: OcrItem, settings: Settings) -> dict[str, Any]:
    """Reads one item's pages into its part; returns a small result for the Map."""
    part = stage.read_range(
        workspace.resolve(item["dir"]),
        list(item["pages"]),
        workspace.resolve(item["parts"]),
        settings.mount_path,
        settings.ocr.languages,
        settings.limits.max_image_pixels,
    )
    return {"part": workspace.relative(part), "pages": len(item["pages"])}


def run_inline(workspace: Workspace, items: list[OcrItem], settings: Settings) -> None:
    """Reads every item in this invocation (few pages: no fan-out)."""
    for item in items:
        read_item(workspace, item, settings)


def finish_job(workspace: Workspace, entries: list[dict[str, Any]], mode: str) -> int:
    """Grafts the parts of every document waiting for OCR; returns the pages read."""
    pages = 0
    for entry in entries:
        if entry.get("ocr") != "pending":
            continue
        finished = stage.finish(
            workspace.resolve(entry["dir"]), parts_dir(workspace, entry["slot"]), mode
        )
        entry.update(
            ocr="done",
            ocr_pages=finished.pages_read,
            has_text=finished.has_text or bool(entry.get("has_text")),
            warnings=[*entry.get("warnings", []), *finished.warnings],
        )
        pages += finished.pages_read
    return pages


def merge(workspace: Workspace, state: dict[str, Any]) -> dict[str, Any]:
    """The ``ocr_merge`` action: finishes every document; returns the state for compress."""
    manifest_path = workspace.resolve(state["manifest"])
    manifest = read_json(manifest_path)
    finish_job(workspace, manifest["documents"], manifest.get("ocr_mode", "auto"))
    write_json(manifest_path, manifest)
    return {key: value for key, value in state.items() if key != "ocr"}
