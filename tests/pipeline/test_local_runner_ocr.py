"""OCR through the local runner: the deployed definition's Map state, in moto."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pipeline.config import load_stack_settings
from pipeline.local.runner import run
from tests import scangen


@pytest.mark.slow
def test_a_long_scan_is_fanned_out_and_merged_through_the_state_machine(tmp_path: Path) -> None:
    """This test ensures that a scan with more pages than one invocation reads goes
    through the Map state (one ocr action per page range) and the merge, and is
    published with every page's text, on a mount the runner provisioned with models."""
    seeds = (31, 32, 33)
    images = [scangen.scan_image(scangen.page_lines(s, 3), height_inches=1.5) for s in seeds]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "scan.pdf").write_bytes(scangen.image_pdf(images))
    settings = dataclasses.replace(
        load_stack_settings("dev"), ocr_pages_per_invocation=1, ocr_max_concurrency=3
    )
    mount = tmp_path / "efs"
    mount.mkdir()
    logs = tmp_path / "logs"
    result = run(
        [inbox], tmp_path / "out", settings=settings, mount=mount, concurrency=1, log_dir=logs
    )
    [document] = result.documents
    assert document.status == "succeeded", document.error
    assert not result.leftovers
    out = tmp_path / "out"
    [text_file] = out.rglob("*.txt")
    pages = text_file.read_text(encoding="utf-8").split("\f")
    for seed, page in zip(seeds, pages, strict=True):
        assert scangen.word_recall(" ".join(scangen.page_lines(seed, 3)), page) >= 0.98
    [manifest_file] = [p for p in out.rglob("*.json") if p.stem == text_file.stem]
    ocr = json.loads(manifest_file.read_text())["facts"]["ocr"]
    assert [page["page"] for page in ocr["pages"] if page["ocr"]] == [1, 2, 3]
    assert (mount / "models" / "tesseract" / "eng.traineddata").is_file()
    transform_log = (logs / "transform.log").read_text(encoding="utf-8")
    assert '"OCR fanned out"' in transform_log
    assert '"items": 3' in transform_log
