"""Two versions of one key, in every finish order: the newest version's outputs win.

Each case uploads v1, starts its job, uploads v2 just before v2's job starts, and
interleaves the six stage runs of the two jobs in one of the 20 possible orders. Whatever
the order, the key ends with one consistent set: v2's, as its status document says.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from functions.status import KeyStatus
from tests import docgen
from tests.jobs import Job, assert_clean, assert_consistent, body, output_keys, status, upload

KEY = "inbox/contract.pdf"
ORDERS = sorted(set(itertools.permutations("111222")))


def run_interleaved(
    s3: Any, order: tuple[str, ...], first: bytes, second: bytes
) -> tuple[Job, Job]:
    jobs: dict[str, Job] = {"1": Job("job-v1", upload(s3, KEY, first))}
    for who in order:
        if who not in jobs:
            jobs[who] = Job("job-v2", upload(s3, KEY, second))
        jobs[who].step()
    return jobs["1"].run(), jobs["2"].run()


@pytest.mark.parametrize("order", ORDERS, ids=["".join(o) for o in ORDERS])
def test_the_newest_version_wins_in_every_finish_order(
    s3: Any, mount: Path, order: tuple[str, ...]
) -> None:
    """Whatever order two versions' jobs finish in, v2's outputs
    and only them remain, with a status document about v2."""
    one, two = run_interleaved(
        s3, order, docgen.text_pdf(["version one"]), docgen.text_pdf(["version two", "p2"])
    )
    assert two.ended == "succeeded"
    assert one.ended in {"succeeded", "superseded", "skipped"}
    assert_consistent(s3, KEY, two.input["versionId"])
    assert "version two" in body(s3, "processed/inbox/contract.pdf.txt").decode()
    current = status(s3, KEY)
    assert current.state == "succeeded"
    assert current.pages == 2
    assert current.execution == "job-v2"
    assert current.manifest == "processed/inbox/contract.pdf.json"
    assert_clean(mount)


@pytest.mark.parametrize("order", ["111222", "222111", "121212", "212121"])
def test_a_failed_newest_version_leaves_only_its_report(s3: Any, mount: Path, order: str) -> None:
    """When v2 fails, v1's processed outputs go and v2's report stays."""
    _, two = run_interleaved(s3, tuple(order), docgen.text_pdf(["one"]), b"%PDF-1.7\n\x00junk")
    assert two.ended == "failed"
    assert_consistent(s3, KEY, two.input["versionId"])
    current = status(s3, KEY)
    assert current.state == "failed"
    assert current.error is not None
    assert current.error.code == "CORRUPT_DOCUMENT"
    assert current.report == "failed/inbox/contract.pdf.json"
    assert current.stage == "transform"
    assert_clean(mount)


@pytest.mark.parametrize("order", ["111222", "222111", "112122"])
def test_a_fixed_newest_version_removes_the_stale_report(s3: Any, mount: Path, order: str) -> None:
    """A good v2 after a broken v1 leaves no failed/ report behind."""
    _, two = run_interleaved(s3, tuple(order), b"%PDF-1.7\n\x00junk", docgen.text_pdf(2))
    assert two.ended == "succeeded"
    assert_consistent(s3, KEY, two.input["versionId"])
    assert not any(key.startswith("failed/") for key in output_keys(s3))


def test_processing_is_written_when_ingest_starts_work(s3: Any, mount: Path) -> None:
    """The status says processing, with stage and execution, while a
    job runs, and that a status document is valid JSON a reader parses."""
    job = Job("job-p", upload(s3, KEY, docgen.text_pdf(1)))
    job.step()
    current = status(s3, KEY)
    assert current.state == "processing"
    assert (current.stage, current.execution) == ("ingest", "job-p")
    assert current.version_id == job.input["versionId"]
    raw = json.loads(body(s3, "status/inbox/contract.pdf.json"))
    assert KeyStatus.from_json(raw) == current
    job.run()
    assert status(s3, KEY).state == "succeeded"


def test_a_bundle_replaced_by_a_smaller_one_keeps_no_stale_member(s3: Any, mount: Path) -> None:
    """Members of an older bundle disappear with the newer commit."""
    key = "in/batch.zip"
    old = docgen.zip_bundle({"a.pdf": docgen.text_pdf(1), "b.pdf": docgen.text_pdf(1)})
    Job("job-old", upload(s3, key, old)).run()
    assert "processed/in/batch.zip!/b.pdf.pdf" in output_keys(s3)
    new = Job("job-new", upload(s3, key, docgen.zip_bundle({"a.pdf": docgen.text_pdf(2)}))).run()
    assert new.ended == "succeeded"
    assert_consistent(s3, key, new.input["versionId"])
    assert not any("b.pdf" in k for k in output_keys(s3))
