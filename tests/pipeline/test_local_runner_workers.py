"""The local Lambda workers: warm reuse, isolation, and Lambda's ways of failing.

The handlers here are small modules written into a temporary task root; they exercise
the worker machinery, not docpipe's stages (the end-to-end tests run those).
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from pipeline.config import Settings
from pipeline.local.invoker import FunctionPool, FunctionSpec, InvocationResult
from pipeline.local.runner import run, workspace_leftovers
from pipeline.packaging import FUNCTIONS_DIR, write_deterministic_zip
from tests import docgen

HANDLERS = """
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

CALLS = 0


def count(event, context):
    global CALLS
    CALLS += 1
    return {"calls": CALLS, "pid": os.getpid(), "request": context.aws_request_id}


def fail(event, context):
    raise type("EMPTY_DOCUMENT", (Exception,), {})("The document is empty (0 bytes).")


def sleep(event, context):
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def crash(event, context):
    os._exit(3)


def unserialisable(event, context):
    return {"value": object()}


def rendezvous(event, context):
    # Returns only once `expected` invocations are inside this handler at the same time.
    folder = Path(event["folder"])
    (folder / str(os.getpid())).touch()
    while len(list(folder.iterdir())) < event["expected"]:
        time.sleep(0.01)
    return {"pid": os.getpid()}


def environment(event, context):
    return {
        "variable": os.environ.get("DOCPIPE_TEST_VARIABLE"),
        "home": os.environ.get("HOME"),
        "first_path": sys.path[0],
        "pipeline_importable": importlib.util.find_spec("pipeline") is not None,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
    }
"""


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    (root / "handlers.py").write_text(HANDLERS, encoding="utf-8")
    (root / "broken.py").write_text("raise ImportError('missing dependency')\n", encoding="utf-8")
    return root


@pytest.fixture
def pool_for(task_root: Path) -> Iterator[Any]:
    pools: list[FunctionPool] = []

    def make(handler: str, timeout: float = 10.0) -> FunctionPool:
        spec = FunctionSpec(
            name="docpipe-test",
            arn="arn:aws:lambda:us-east-1:123456789012:function:docpipe-test",
            handler=handler,
            task_root=task_root,
            environment={"PATH": os.environ["PATH"], "DOCPIPE_TEST_VARIABLE": "set"},
            timeout_seconds=timeout,
            memory_mb=512,
        )
        pool = FunctionPool(spec)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


def payload(result: InvocationResult) -> Any:
    return json.loads(result.payload)


def test_a_warm_worker_keeps_its_module_state(pool_for: Any) -> None:
    """This test ensures that invocations reuse one process whose module state persists,
    as a warm Lambda execution environment does."""
    pool = pool_for("handlers.count")
    first = payload(pool.invoke("{}", "request-1"))
    second = payload(pool.invoke("{}", "request-2"))
    assert (first["calls"], second["calls"]) == (1, 2)
    assert first["pid"] == second["pid"]
    assert second["request"] == "request-2"
    assert pool.started == 1


def test_concurrent_invocations_run_in_separate_processes(pool_for: Any, tmp_path: Path) -> None:
    """This test ensures that two invocations at once get two worker processes (each
    waits inside the handler until the other has arrived)."""
    pool = pool_for("handlers.rendezvous", timeout=20)
    folder = tmp_path / "arrivals"
    folder.mkdir()
    event = json.dumps({"folder": str(folder), "expected": 2})
    results: list[InvocationResult] = []
    threads = [threading.Thread(target=lambda: results.append(pool.invoke(event))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.function_error for r in results] == [None, None]
    assert len({payload(r)["pid"] for r in results}) == 2
    assert pool.started == 2


def test_a_handler_exception_is_reported_as_lambda_reports_it(pool_for: Any) -> None:
    """This test ensures that a raised exception becomes a FunctionError payload named
    after the exception's class, which is what Step Functions matches on."""
    result = pool_for("handlers.fail").invoke("{}", "request-9")
    assert result.function_error == "Unhandled"
    body = payload(result)
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert body["errorType"] == "EMPTY_DOCUMENT"
    assert body["errorMessage"] == "The document is empty (0 bytes)."
    assert body["requestId"] == "request-9"
    assert any("handlers.py" in line for line in body["stackTrace"])


def test_an_invocation_past_its_timeout_is_killed_as_sandbox_timedout(pool_for: Any) -> None:
    """This test ensures that a handler running past the function's timeout is killed
    and reported as Lambda reports it, and that the next invocation gets a new worker."""
    pool = pool_for("handlers.sleep", timeout=0.5)
    result = pool.invoke(json.dumps({"seconds": 30}), "request-3")
    assert result.function_error == "Unhandled"
    body = payload(result)
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"] == ("RequestId: request-3 Error: Task timed out after 0.50 seconds")
    assert payload(pool.invoke(json.dumps({"seconds": 0}))) == {"slept": 0}
    assert pool.started == 2


def test_a_worker_that_dies_is_reported_and_replaced(pool_for: Any) -> None:
    """This test ensures that a process exiting mid-invocation gives Runtime.ExitError."""
    pool = pool_for("handlers.crash")
    body = payload(pool.invoke("{}", "request-4"))
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: exit status 3")
    payload(pool.invoke("{}"))
    assert pool.started == 2


def test_import_and_marshalling_failures_use_lambdas_error_types(pool_for: Any) -> None:
    """This test ensures that a module failing to import and a result that is not JSON
    are reported with the runtime's error types, not as a hang or a crash."""
    imported = payload(pool_for("broken.handler").invoke("{}"))
    assert imported["errorType"] == "Runtime.ImportModuleError"
    assert "missing dependency" in imported["errorMessage"]
    marshalled = payload(pool_for("handlers.unserialisable").invoke("{}"))
    assert marshalled["errorType"] == "Runtime.MarshalError"


def test_a_worker_sees_only_its_function_environment(pool_for: Any, task_root: Path) -> None:
    """This test ensures that the worker gets the function's environment and code first
    on its path, and nothing of the runner's (not even the project's packages)."""
    body = payload(pool_for("handlers.environment", timeout=60).invoke("{}"))
    assert body["variable"] == "set"
    assert body["home"] is None
    assert Path(body["first_path"]) == task_root
    assert body["pipeline_importable"] is False
    assert 0 < body["remaining_ms"] <= 60_000
    assert body["memory"] == "512"
    assert body["arn"].endswith(":function:docpipe-test")


def _archive(tmp_path: Path, replacements: dict[str, str]) -> Path:
    """The real code archive with some modules replaced by the given source."""
    entries = []
    for path in sorted(FUNCTIONS_DIR.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        relative = path.relative_to(FUNCTIONS_DIR).as_posix()
        if relative in replacements:
            path = tmp_path / relative.replace("/", "_")
            path.write_text(textwrap.dedent(replacements[relative]), encoding="utf-8")
        entries.append((f"functions/{relative}", path))
    return write_deterministic_zip(entries, tmp_path / "functions.zip")


@pytest.mark.slow
def test_a_stage_past_the_function_timeout_ends_as_processing_timeout(tmp_path: Path) -> None:
    """This test ensures that a stage killed for its timeout reaches the real failure
    step as Sandbox.Timedout and is reported as PROCESSING_TIMEOUT, workspace removed."""
    archive = _archive(
        tmp_path,
        {
            "ingest.py": """
                import time

                def handler(event, context):
                    time.sleep(60)
            """
        },
    )
    source = tmp_path / "slow.pdf"
    source.write_bytes(docgen.text_pdf(1))
    mount = tmp_path / "efs"
    mount.mkdir()
    result = run(
        [source],
        tmp_path / "out",
        settings=Settings(function_timeout_seconds=1),
        code_archive=archive,
        mount=mount,
    )
    (doc,) = result.documents
    assert doc.status == "failed"
    assert doc.reported
    assert doc.error is not None
    assert doc.error["code"] == "PROCESSING_TIMEOUT"
    assert ("Ingest", "Sandbox.Timedout") in doc.failed_attempts
    report = json.loads((tmp_path / "out" / "failed" / "slow.pdf.json").read_text())
    assert report["stage"] == "ingest"
    assert result.exit_code == 0
    assert workspace_leftovers(mount) == []


@pytest.mark.slow
def test_a_failure_without_a_report_makes_the_run_exit_1(tmp_path: Path) -> None:
    """This test ensures that a document whose failure report could not be written is
    counted as failed and makes the run incomplete (exit status 1)."""
    archive = _archive(
        tmp_path,
        {
            "compress.py": """
                def handler(event, context):
                    raise OSError("the output bucket refused the write")
            """
        },
    )
    source = tmp_path / "in"
    source.mkdir()
    (source / "empty.pdf").write_bytes(b"")
    (source / "fine.pdf").write_bytes(docgen.text_pdf(1))
    result = run([source], tmp_path / "out", settings=Settings(), code_archive=archive)
    docs = {doc.source: doc for doc in result.documents}
    assert {doc.status for doc in docs.values()} == {"failed"}
    for doc in docs.values():
        assert not doc.reported
        assert doc.error is not None
        assert doc.error["code"] == "INTERNAL_ERROR"
        assert doc.outputs == ()
    assert not (tmp_path / "out" / "failed").exists()
    assert result.exit_code == 1


@pytest.mark.slow
def test_a_leftover_job_directory_makes_the_run_exit_1(tmp_path: Path) -> None:
    """This test ensures that the run checks the workspace: a job directory nobody
    removed is reported as a leftover, even when every document is accounted for."""
    mount = tmp_path / "efs"
    (mount / "jobs" / "killed-execution" / "ingest").mkdir(parents=True)
    source = tmp_path / "doc.pdf"
    source.write_bytes(docgen.text_pdf(1))
    result = run([source], tmp_path / "out", settings=Settings(), mount=mount)
    assert [doc.status for doc in result.documents] == ["succeeded"]
    assert len(PdfReader(tmp_path / "out" / "processed" / "doc.pdf.pdf").pages) == 1
    assert result.leftovers == ("jobs/killed-execution",)
    assert result.exit_code == 1


@pytest.mark.slow
def test_an_internal_error_with_a_report_makes_the_run_exit_1(tmp_path: Path) -> None:
    """This test ensures that a defect in a stage (an unexpected exception) ends the
    document as INTERNAL_ERROR with its failure report, and that the run exits 1: a
    defect is never a user's mistake."""
    archive = _archive(
        tmp_path,
        {
            "transform.py": """
                def handler(event, context):
                    raise KeyError("a field the stage expected")
            """
        },
    )
    source = tmp_path / "doc.pdf"
    source.write_bytes(docgen.text_pdf(1))
    result = run([source], tmp_path / "out", settings=Settings(), code_archive=archive)
    (doc,) = result.documents
    assert doc.status == "failed"
    assert doc.reported
    assert doc.error is not None
    assert doc.error["code"] == "INTERNAL_ERROR"
    assert not doc.accounted_for
    assert result.exit_code == 1
