"""The API function's settings, read from its environment.

| variable | default | meaning |
| --- | --- | --- |
| TRIGGER_BUCKET | (required) | bucket uploads go to |
| TRIGGER_PREFIX | "" | prefix every document key starts with |
| OUTPUT_BUCKET | (required) | bucket with processed/, failed/ and status/ |
| STATE_MACHINE_ARN | (required) | the pipeline, started again by a retry |
| DEFAULT_PROFILE | ebook | the profile ingest uses when an upload names none |
| MAX_INPUT_BYTES | 536870912 | largest upload ingest accepts (stated to clients) |
| URL_EXPIRY_SECONDS | 900 | how long a presigned upload or download URL works |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from functions.settings import PROFILES, Limits

DEFAULT_URL_EXPIRY_SECONDS = 900
# SigV4 presigned URLs may not be valid for longer than seven days.
MAX_URL_EXPIRY_SECONDS = 7 * 24 * 60 * 60


@dataclass(frozen=True)
class ApiSettings:
    """Where the API finds the pipeline, and what it tells clients about limits."""

    trigger_bucket: str
    output_bucket: str
    state_machine_arn: str
    trigger_prefix: str = ""
    default_profile: str = "ebook"
    max_input_bytes: int = Limits().max_input_bytes
    url_expiry_seconds: int = DEFAULT_URL_EXPIRY_SECONDS


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ValueError(f"{name} must be set")
    return value


def _positive(env: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0 or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be between 1 and {maximum or 'any'}, got {value}")
    return value


def load_api_settings(env: Mapping[str, str] | None = None) -> ApiSettings:
    """Reads the settings from ``env`` (the process environment by default).

    Raises:
        ValueError: A variable is missing or unusable; the message names it.
    """
    env = os.environ if env is None else env
    profile = env.get("DEFAULT_PROFILE") or "ebook"
    if profile not in PROFILES:
        raise ValueError(f"DEFAULT_PROFILE must be one of {', '.join(PROFILES)}, got {profile!r}")
    return ApiSettings(
        trigger_bucket=_required(env, "TRIGGER_BUCKET"),
        output_bucket=_required(env, "OUTPUT_BUCKET"),
        state_machine_arn=_required(env, "STATE_MACHINE_ARN"),
        trigger_prefix=env.get("TRIGGER_PREFIX", ""),
        default_profile=profile,
        max_input_bytes=_positive(env, "MAX_INPUT_BYTES", Limits().max_input_bytes),
        url_expiry_seconds=_positive(
            env, "URL_EXPIRY_SECONDS", DEFAULT_URL_EXPIRY_SECONDS, MAX_URL_EXPIRY_SECONDS
        ),
    )
