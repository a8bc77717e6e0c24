"""The output bucket's layout (DESIGN section 3) and the uploads that fill it.

For a source key ``K`` whose extension-less form is ``S``::

    processed/S.pdf  processed/S.txt  processed/S.json     one document
    processed/S/<member S>.pdf|.txt|.json, processed/S.json a bundle
    failed/K.json                                           a failure report
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

PROCESSED = "processed"
FAILED = "failed"
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


def strip_extension(name: str) -> str:
    """Returns a key or member name without the extension of its last segment."""
    path = PurePosixPath(name)
    if path.suffix and path.stem:
        return path.with_suffix("").as_posix()
    return path.as_posix()


def processed_base(source_key: str) -> str:
    """Returns ``processed/S`` for the source key ``K``."""
    return f"{PROCESSED}/{strip_extension(source_key.lstrip('/'))}"


def failed_key(source_key: str) -> str:
    """Returns ``failed/K.json`` for the source key ``K``."""
    return f"{FAILED}/{source_key.lstrip('/')}.json"


def member_bases(bundle_key: str, member_names: Iterable[str]) -> list[str]:
    """Returns each member's ``processed/<bundle S>/<member S>``, unique within the bundle.

    Two members that differ only by extension (``a.jpg``, ``a.png``) would both become
    ``a``; the second and later keep their extension (``a.png``) so nothing is overwritten.
    """
    bundle = processed_base(bundle_key)
    taken: set[str] = set()
    bases = []
    for name in member_names:
        stem = strip_extension(name)
        if stem in taken:
            stem = name
        counter = 2
        candidate = stem
        while candidate in taken:
            candidate = f"{stem}-{counter}"
            counter += 1
        taken.add(candidate)
        bases.append(f"{bundle}/{candidate}")
    return bases


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
