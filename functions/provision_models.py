"""The transform function's ``provision_models`` action: S3 models prefix -> EFS.

``pulumi up`` uploads the packaged traineddata to the models bucket and invokes this
action once per change (an operator may add files of their own under the same prefix).
Each model is streamed from S3 into ``models/tesseract/`` on the access point with its
SHA-256 checked and renamed into place (:mod:`functions.documents.ocr.models`), so a
cold start racing it reads the old file or the new one, never part of one.

Input: ``{"action": "provision_models", "bucket": str, "models": [{"language": str,
"key": str, "sha256": str | null}]}``; a null checksum is read from the object's
``sha256`` metadata (an operator's own upload). Returns what was installed.
"""

from __future__ import annotations

from typing import Any, TypedDict

from functions.documents.ocr.models import install_model, installed_sha256, validate_language
from functions.settings import Settings

SHA256_METADATA = "sha256"


class ModelRef(TypedDict):
    """One model to provision."""

    language: str
    key: str
    sha256: str | None


def provision(event: dict[str, Any], s3: Any, settings: Settings) -> dict[str, Any]:
    """Installs every listed model onto the mount; returns ``{"models": [...]}``.

    Raises:
        ValueError: The input names no bucket, a bad language, or a model without a
            checksum anywhere (nothing unverified is ever installed).
        functions.documents.ocr.models.ModelError: Bytes that do not match their checksum.
    """
    bucket = event.get("bucket")
    models: list[ModelRef] = event.get("models") or []
    if not isinstance(bucket, str) or not bucket:
        raise ValueError("provision_models needs the models bucket")
    done = []
    for model in models:
        language = validate_language(model["language"])
        expected = model.get("sha256")
        if expected and installed_sha256(settings.mount_path, language) == expected:
            done.append({"language": language, "sha256": expected, "changed": False})
            continue
        response = s3.get_object(Bucket=bucket, Key=model["key"])
        expected = expected or response.get("Metadata", {}).get(SHA256_METADATA)
        if not expected:
            raise ValueError(
                f"s3://{bucket}/{model['key']} has no sha256 metadata; upload it with "
                "--metadata sha256=<hex digest> so that it can be verified."
            )
        installed = install_model(settings.mount_path, language, response["Body"], expected)
        done.append({"language": language, "sha256": expected, "changed": installed.changed})
    return {"models": done}
