"""The transform function's provision_models action: S3 models prefix -> the mount."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from functions import transform
from functions.documents.ocr.models import installed_sha256, model_path
from functions.errors import StageError
from tests.conftest import OUTPUT_BUCKET

MODELS_BUCKET = OUTPUT_BUCKET  # any bucket moto holds; the stack uses its own


def put_model(s3: Any, language: str, data: bytes, metadata: dict[str, str] | None = None) -> str:
    key = f"models/tesseract/{language}.traineddata"
    s3.put_object(Bucket=MODELS_BUCKET, Key=key, Body=data, Metadata=metadata or {})
    return key


def provision(models: list[dict[str, Any]]) -> dict[str, Any]:
    event = {"action": "provision_models", "bucket": MODELS_BUCKET, "models": models}
    return transform.handler(event, None)


def test_models_are_copied_with_their_checksums_once(s3: Any, mount: Path) -> None:
    """This test ensures that packaged and operator-uploaded models are installed with
    their checksums, and that a second provisioning leaves them unchanged."""
    eng, xyz = b"eng model" * 1000, b"an operator's model"
    eng_sha = hashlib.sha256(eng).hexdigest()
    xyz_sha = hashlib.sha256(xyz).hexdigest()
    models: list[dict[str, Any]] = [
        {"language": "eng", "key": put_model(s3, "eng", eng), "sha256": eng_sha},
        {"language": "xyz", "key": put_model(s3, "xyz", xyz, {"sha256": xyz_sha}), "sha256": None},
    ]
    first = provision(models)
    assert [m["changed"] for m in first["models"]] == [True, True]
    assert model_path(mount, "eng").read_bytes() == eng
    assert installed_sha256(mount, "xyz") == xyz_sha
    again = provision(models)
    assert [m["changed"] for m in again["models"]] == [False, False]


def test_a_model_that_does_not_match_its_checksum_fails_and_installs_nothing(
    s3: Any, mount: Path
) -> None:
    """This test ensures that corrupted bytes in S3 are never installed."""
    key = put_model(s3, "eng", b"corrupted")
    with pytest.raises(StageError):
        provision([{"language": "eng", "key": key, "sha256": "0" * 64}])
    assert not model_path(mount, "eng").exists()
