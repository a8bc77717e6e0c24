"""``POST /documents``: a key for a new document and a presigned PUT to upload it.

The key is ``<triggerPrefix><32 hex digits>/<name>``: unique per request, so two clients
uploading ``scan.jpg`` never overwrite each other, and the name (with its extension)
stays in the key and so in the output names. The upload URL is a SigV4 presigned PUT
into the trigger bucket; a profile rides as ``x-amz-meta-docpipe-profile``, which is one
of the URL's signed headers, so the client must send it (``headers`` in the response)
and cannot change it. A presigned PUT cannot bound the body's size: ingest does, and
fails a larger upload with ``TOO_LARGE`` (``maxBytes`` in the response says where).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.api.errors import ApiError, ApiErrorCode
from functions.api.settings import ApiSettings
from functions.settings import PROFILES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# A file name, as most file systems bound it; the key adds the prefix and 33 characters.
MAX_NAME_BYTES = 255
PROFILE_HEADER = "x-amz-meta-docpipe-profile"
_FIELDS = ("name", "profile")


@dataclass(frozen=True)
class CreateDocument:
    """The body of ``POST /documents``: a file name and, optionally, a profile."""

    name: str
    profile: str | None = None


def parse_create(raw: Any) -> CreateDocument:
    """Validates the JSON body of ``POST /documents``.

    Raises:
        ApiError: The body is not an object with a usable ``name`` and known ``profile``.
    """
    if not isinstance(raw, Mapping):
        raise ApiError(
            ApiErrorCode.INVALID_BODY,
            'The request body must be a JSON object like {"name": "scan.jpg"}.',
        )
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ApiError(
            ApiErrorCode.INVALID_BODY,
            f"Unknown field {unknown[0]!r}; a document takes only name and profile.",
        )
    name = raw.get("name")
    if name is None or name == "":
        raise ApiError(ApiErrorCode.MISSING_NAME, "The document needs a name, e.g. scan.jpg.")
    if not isinstance(name, str):
        raise ApiError(ApiErrorCode.INVALID_NAME, "The name must be a string.")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise ApiError(
            ApiErrorCode.NAME_TOO_LONG,
            f"The name is {size} bytes long in UTF-8; at most {MAX_NAME_BYTES} are allowed.",
        )
    if name in (".", "..") or "/" in name or "\\" in name or not name.isprintable():
        raise ApiError(
            ApiErrorCode.INVALID_NAME,
            "The name must be a file name: no slashes, no control characters, not . or ..",
        )
    profile = raw.get("profile")
    if profile is not None and profile not in PROFILES:
        raise ApiError(
            ApiErrorCode.UNKNOWN_PROFILE,
            f"Unknown profile {profile!r}; use one of {', '.join(PROFILES)}.",
        )
    return CreateDocument(name=name, profile=profile)


@dataclass(frozen=True)
class UploadTicket:
    """What a client needs to upload: the key, the URL, its headers, expiry and limit."""

    key: str
    upload_url: str
    expires_at: str
    headers: dict[str, str]
    max_bytes: int
    profile: str

    def to_json(self) -> dict[str, Any]:
        """Returns the ``201`` body."""
        return {
            "key": self.key,
            "uploadUrl": self.upload_url,
            "method": "PUT",
            "headers": self.headers,
            "expiresAt": self.expires_at,
            "maxBytes": self.max_bytes,
            "profile": self.profile,
        }


def iso(moment: datetime.datetime) -> str:
    """Returns a UTC time as ISO 8601 with a ``Z``, to the second."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_upload(
    s3: S3Client,
    settings: ApiSettings,
    request: CreateDocument,
    now: datetime.datetime,
) -> UploadTicket:
    """Chooses the new document's key and presigns its upload (no S3 request is made)."""
    key = f"{settings.trigger_prefix}{uuid.uuid4().hex}/{request.name}"
    params: dict[str, Any] = {"Bucket": settings.trigger_bucket, "Key": key}
    headers: dict[str, str] = {}
    if request.profile is not None:
        params["Metadata"] = {"docpipe-profile": request.profile}
        headers[PROFILE_HEADER] = request.profile
    url = s3.generate_presigned_url(
        "put_object", Params=params, ExpiresIn=settings.url_expiry_seconds, HttpMethod="PUT"
    )
    expires = now + datetime.timedelta(seconds=settings.url_expiry_seconds)
    return UploadTicket(
        key=key,
        upload_url=url,
        expires_at=iso(expires),
        headers=headers,
        max_bytes=settings.max_input_bytes,
        profile=request.profile or settings.default_profile,
    )
