"""The uploads that fill the output bucket.

Where each output goes is :mod:`functions.naming`'s mapping (docs/ARCHITECTURE.md,
"Output naming"); when a key's outputs may be written is :mod:`functions.commit`'s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


def sha256_file(path: Path) -> str:
    """Returns the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def source_metadata(source: dict[str, Any]) -> dict[str, str]:
    """S3 user metadata naming the source (US-ASCII only, so the key is URL-quoted)."""
    metadata = {
        "source-bucket": str(source.get("bucket", "")),
        "source-key": quote(str(source.get("key", "")), safe="/"),
        "source-sha256": str(source.get("sha256", "")),
    }
    if source.get("versionId"):
        metadata["source-version"] = str(source["versionId"])
    return metadata


def upload_file(s3: Any, bucket: str, key: str, path: Path, metadata: dict[str, str]) -> None:
    """Uploads a file (multipart when large) with its content type and source metadata."""
    s3.upload_file(
        str(path),
        bucket,
        key,
        ExtraArgs={"ContentType": CONTENT_TYPES[PurePosixPath(key).suffix], "Metadata": metadata},
    )


def put_json(s3: Any, bucket: str, key: str, value: Any, metadata: dict[str, str]) -> None:
    """Writes a JSON document (a manifest or a report) to the output bucket."""
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8"),
        ContentType=CONTENT_TYPES[".json"],
        Metadata=metadata,
    )
