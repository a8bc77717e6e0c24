"""Every error code (docs/ARCHITECTURE.md, "Error codes"), each from a real bad input.

Each case runs the real handlers in the order the state machine runs them; the stage
that refuses the document raises an exception named after the code, which is what Step
Functions' Catch sees and what the failure step writes to failed/S.json.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest
from PIL import Image

from functions import compress, ingest, transform
from functions.errors import ErrorCode, StageError
from tests import docgen
from tests.conftest import TRIGGER_BUCKET


def password_pdf() -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(docgen.text_pdf(2))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pixel_bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (3000, 3000)).save(out, format="PNG")  # 9 Mpx in a few KB
    return out.getvalue()


def garbage_pdf() -> bytes:
    return b"%PDF-1.7\n" + bytes(range(256)) * 8


CASES: dict[str, tuple[str, Callable[[], bytes], dict[str, str]]] = {
    "EMPTY_DOCUMENT": ("empty.pdf", lambda: b"", {}),
    "UNSUPPORTED_TYPE": ("program.pdf", lambda: b"\x7fELF\x02\x01\x01" + bytes(500), {}),
    "TOO_LARGE": ("big.pdf", lambda: docgen.text_pdf(30), {"MAX_INPUT_BYTES": "2000"}),
    "TOO_MANY_PAGES": ("long.pdf", lambda: docgen.text_pdf(6), {"MAX_PAGES": "5"}),
    "CORRUPT_DOCUMENT": ("truncated.pdf", garbage_pdf, {}),
    "ENCRYPTED_DOCUMENT": ("secret.pdf", password_pdf, {}),
    "IMAGE_TOO_LARGE": ("bomb.png", pixel_bomb, {"MAX_IMAGE_PIXELS": "4000000"}),
    "UNSAFE_ARCHIVE": (
        "evil.zip",
        lambda: docgen.zip_bundle({"../../escape.pdf": docgen.text_pdf(1)}),
        {},
    ),
}


def run(key: str) -> None:
    event: dict[str, Any] = {"input": {"bucket": TRIGGER_BUCKET, "key": key}, "job": "job-1"}
    ingested = ingest.handler(event, None)
    transformed = transform.handler({"ingest": ingested, "job": "job-1"}, None)
    compress.handler({"action": "compress", "transform": transformed, "job": "job-1"}, None)


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_bad_input_fails_with_its_code(
    s3: Any, mount: Path, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    """This test ensures that the bad input of each kind is refused with its stable code."""
    key, make, env = CASES[code]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3.put_object(Bucket=TRIGGER_BUCKET, Key=key, Body=make())
    with pytest.raises(StageError) as caught:
        run(key)
    assert type(caught.value).__name__ == code
    message = str(caught.value)
    assert message.endswith("."), "a sentence a person understands"
    assert "Traceback" not in message


def test_a_missing_key_is_source_not_found(s3: Any, mount: Path) -> None:
    """This test ensures that SOURCE_NOT_FOUND comes from a key that is not there."""
    with pytest.raises(StageError) as caught:
        run("inbox/never-uploaded.pdf")
    assert type(caught.value).__name__ == "SOURCE_NOT_FOUND"


def test_the_remaining_codes_are_covered_elsewhere() -> None:
    """This test ensures that every code has a real-input case here or a named test elsewhere.

    PROCESSING_TIMEOUT comes from Step Functions (test_report_failure and the local runner's
    timeout test); INTERNAL_ERROR from a defect (test_report_failure);
    INFRASTRUCTURE_UNAVAILABLE from S3 and file-system faults (test_faults).
    """
    covered = set(CASES) | {
        "SOURCE_NOT_FOUND",
        "PROCESSING_TIMEOUT",
        "INTERNAL_ERROR",
        "INFRASTRUCTURE_UNAVAILABLE",
    }
    assert covered == {code.value for code in ErrorCode}
