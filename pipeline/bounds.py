"""The values a setting accepts beyond its type: each rule with the text the docs show.

``pipeline/settings.py`` attaches one :class:`Bounds` to each declared setting;
``pipeline/config.py`` applies it and names the key when a value breaks it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ARCHITECTURES = ("arm64", "x86_64")
PYTHON_VERSIONS = ("3.12", "3.13")
THROUGHPUT_MODES = ("elastic", "bursting", "provisioned")
UPLOAD_MODES = ("direct", "queued")
# The only values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# Lambda accepts 128 MB to 10,240 MB of memory.
LAMBDA_MEMORY_MB = (128, 10240)

# kmsKey's two named modes; anything else must be a KMS key ARN.
KMS_AWS_MANAGED = "aws-managed"
KMS_STACK = "stack"

_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Lambda only mounts file systems under /mnt/.
_MOUNT_PATH = re.compile(r"/mnt/[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
# S3 keys are arbitrary, but a prefix for an event pattern and an IAM resource must not
# contain IAM wildcards or start with a slash (S3 keys have no leading slash).
_PREFIX = re.compile(r"[A-Za-z0-9!\-_.'()]([A-Za-z0-9!\-_.'()/]*)|")
# Tesseract model names (eng, deu, chi_sim): they become file names under models/.
_LANGUAGE = re.compile(r"[a-z][a-z0-9_]{1,30}")
_HTTPS_URL = re.compile(r"https://[^\s/]+(/\S*)?")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:key/[A-Za-z0-9\-]+")


class InvalidValueError(ValueError):
    """A value breaks its bounds; the message says how, without the key (the caller adds it)."""


@dataclass(frozen=True)
class Bounds:
    """What values a setting accepts.

    Attributes:
        text: The accepted values as the README and ``Pulumi.yaml`` state them.
        check: Returns the value (normalised) or raises :class:`InvalidValueError`.
    """

    text: str
    check: Callable[[Any], Any]


def between(low: int, high: int, unit: str = "") -> Bounds:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise InvalidValueError(f"must be between {low} and {high}, got {value}")
        return value

    return Bounds(f"{low} to {high}{unit}", check)


def at_least(minimum: int) -> Bounds:
    def check(value: int) -> int:
        if value < minimum:
            raise InvalidValueError(f"must be at least {minimum}, got {value}")
        return value

    return Bounds(f"≥ {minimum}", check)


def one_of(*allowed: Any) -> Bounds:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise InvalidValueError(f"must be one of {', '.join(map(str, allowed))}, got {value!r}")
        return value

    return Bounds(", ".join(f"`{value}`" for value in allowed), check)


def matching(pattern: re.Pattern[str], what: str, text: str) -> Bounds:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise InvalidValueError(f"must be {what}, got {value!r}")
        return value

    return Bounds(text, check)


def _vpc_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        raise InvalidValueError(f"must be an IPv4 CIDR block, got {value!r}") from None
    # VPCs may be /16 to /28; each AZ's subnet needs room for Lambda ENIs and mount targets.
    if not 16 <= network.prefixlen <= 24:
        raise InvalidValueError(f"must be a block from /16 to /24, got {value!r}")
    return str(network)


def _subnet_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not _SUBNET_ID.fullmatch(value):
            raise InvalidValueError(f"must list subnet ids (subnet-...), got {value!r}")
    if len(set(values)) != len(values):
        raise InvalidValueError(f"lists a subnet twice: {list(values)!r}")
    return values


def _mount_path(value: str) -> str:
    if not _MOUNT_PATH.fullmatch(value) or ".." in value:
        raise InvalidValueError(f"must be under /mnt/, got {value!r}")
    return value


def _reserved(value: int) -> int:
    # Lambda's 0 stops a function from running at all; -1 means "no reservation".
    if value == 0 or value < -1:
        raise InvalidValueError(f"must be -1 (no reservation) or a positive number, got {value}")
    return value


def _kms_key(value: str) -> str:
    if value not in (KMS_AWS_MANAGED, KMS_STACK) and not _KMS_KEY_ARN.fullmatch(value):
        raise InvalidValueError(
            f"must be {KMS_AWS_MANAGED}, {KMS_STACK} or a KMS key ARN, got {value!r}"
        )
    return value


def _ocr_languages(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values or any(not _LANGUAGE.fullmatch(value) for value in values):
        raise InvalidValueError(
            f"must list Tesseract language names such as eng or chi_sim, got {list(values)}"
        )
    return values


POSITIVE = at_least(1)
VPC_ID = matching(_VPC_ID, "a VPC id (vpc-...) or empty", "`vpc-…` or empty")
SUBNET_IDS = Bounds("`subnet-…` ids, each once", _subnet_ids)
VPC_CIDR = Bounds("an IPv4 block, /16 to /24", _vpc_cidr)
MOUNT_PATH = Bounds("a path under `/mnt/`", _mount_path)
RESERVED_CONCURRENCY = Bounds("-1 or ≥ 1", _reserved)
TRIGGER_PREFIX = matching(
    _PREFIX,
    "an S3 key prefix without a leading slash or wildcards",
    "a key prefix without leading `/` or wildcards",
)
EMAIL = matching(_EMAIL, "an e-mail address or empty", "an e-mail address or empty")
OCR_LANGUAGES = Bounds("Tesseract language names (`eng`, `chi_sim`), at least one", _ocr_languages)
HTTPS_URL = matching(_HTTPS_URL, "an https:// URL or empty", "an `https://` URL or empty")
KMS_KEY = Bounds(f"`{KMS_AWS_MANAGED}`, `{KMS_STACK}` or `arn:aws:kms:…:key/…`", _kms_key)
