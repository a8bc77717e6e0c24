"""The stack's settings: read, typed and validated here and nowhere else.

``pulumi up`` reads them with :func:`from_pulumi`; the local runner reads the same stack
files with :func:`load_stack_settings` and gives each local function the environment
:func:`function_environment` describes, which is exactly what the deployed functions get.

Every key is declared with its type, default and description in ``Pulumi.yaml``; the
defaults below must agree with those declarations (a test holds them together). A value
that cannot work raises :class:`ValueError` naming the key, before any resource exists.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from functions.settings import PROFILES

NAMESPACE = "docpipe"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

ARCHITECTURES = ("arm64", "x86_64")
PYTHON_VERSIONS = ("3.12", "3.13")
THROUGHPUT_MODES = ("elastic", "bursting", "provisioned")
# The only values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LAMBDA_MAX_TIMEOUT_SECONDS = 900
# Lambda accepts 128 MB to 10,240 MB of memory.
LAMBDA_MEMORY_MB = (128, 10240)
# Enough room for one subnet per AZ in every region that has at most six AZs.
MAX_AVAILABILITY_ZONES = 6

_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# API Gateway fetches a JWT issuer's keys over HTTPS only.
_HTTPS_URL = re.compile(r"^https://[^\s/]+(/\S*)?$")
# S3 keys are arbitrary, but a prefix for an event pattern and an IAM resource must not
# contain IAM wildcards or start with a slash (S3 keys have no leading slash).
_PREFIX = re.compile(r"^[A-Za-z0-9!\-_.'()/]*$")


@dataclass(frozen=True)
class Settings:
    """Every setting of a docpipe stack, validated.

    Attribute names are the snake_case forms of the ``docpipe:`` config keys.
    """

    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    availability_zones: int = 2
    vpc_cidr: str = "10.42.0.0/16"
    mount_path: str = "/mnt/docpipe"
    efs_throughput_mode: str = "elastic"
    efs_provisioned_mibps: int = 0
    efs_backups: bool = True
    efs_storage_alarm_gib: int = 50
    architecture: str = "arm64"
    python_version: str = "3.12"
    ingest_memory_mb: int = 1024
    transform_memory_mb: int = 2048
    compress_memory_mb: int = 2048
    function_timeout_seconds: int = 300
    reserved_concurrency: int = 10
    log_retention_days: int = 30
    trigger_prefix: str = ""
    noncurrent_version_days: int = 30
    default_profile: str = "ebook"
    max_input_bytes: int = 512 * 1024 * 1024
    max_pages: int = 2000
    max_image_pixels: int = 178_956_970
    max_archive_members: int = 500
    max_compression_ratio: int = 200
    workspace_ttl_hours: int = 24
    alarm_email: str | None = None
    protect: bool = False
    api_throttling_burst_limit: int = 100
    api_throttling_rate_limit: int = 50
    api_access_log_retention_days: int = 30
    api_jwt_issuer: str | None = None
    api_jwt_audience: tuple[str, ...] = ()

    @property
    def uses_existing_network(self) -> bool:
        """Whether the stack runs in a VPC and subnets it does not own."""
        return self.vpc_id is not None

    @property
    def task_timeout_seconds(self) -> int:
        """How long one state machine task may run: the function's timeout plus a margin.

        The margin covers a cold start with an EFS mount, so that the task timer only ends
        an invocation that Lambda itself failed to end.
        """
        return self.function_timeout_seconds + 60

    @property
    def memory_mb(self) -> dict[str, int]:
        """Memory per function, keyed by function name."""
        return {
            "ingest": self.ingest_memory_mb,
            "transform": self.transform_memory_mb,
            "compress": self.compress_memory_mb,
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


KEYS: dict[str, str] = {_camel(field.name): field.name for field in fields(Settings)}
"""Config key (without the ``docpipe:`` prefix) -> :class:`Settings` attribute."""


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _as_int(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{_key(key)} must be a whole number, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        return int(raw)
    raise ValueError(f"{_key(key)} must be a whole number, got {raw!r}")


def _as_bool(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(f"{_key(key)} must be true or false, got {raw!r}")


def _as_str(key: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"{_key(key)} must be a string, got {raw!r}")
    return raw.strip()


def _as_str_list(key: str, raw: Any) -> tuple[str, ...]:
    # `pulumi config set --path` stores a list; the runtime hands the program its JSON
    # text; a person may also type a comma-separated string.
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"{_key(key)} must be a list of strings, got {raw!r}") from None
        else:
            raw = [part for part in (p.strip() for p in text.split(",")) if part]
    if not isinstance(raw, list | tuple) or not all(isinstance(item, str) for item in raw):
        raise ValueError(f"{_key(key)} must be a list of strings, got {raw!r}")
    return tuple(item.strip() for item in raw)


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{_key(key)} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _at_least(key: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise ValueError(f"{_key(key)} must be at least {minimum}, got {value}")
    return value


def _between(key: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"{_key(key)} must be between {low} and {high}, got {value}")
    return value


def _mount_path(key: str, value: str) -> str:
    # Lambda only mounts file systems under /mnt/, one directory level deep is enough.
    if not re.fullmatch(r"/mnt/[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*", value) or ".." in value:
        raise ValueError(f"{_key(key)} must be under /mnt/, got {value!r}")
    return value


def _vpc_cidr(key: str, value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        raise ValueError(f"{_key(key)} must be an IPv4 CIDR block, got {value!r}") from None
    # VPCs may be /16 to /28; each AZ's subnet needs room for Lambda ENIs and mount targets.
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"{_key(key)} must be a block from /16 to /24, got {value!r}")
    return str(network)


def _validators() -> dict[str, Callable[[str, Any], Any]]:
    def positive(key: str, raw: Any) -> int:
        return _at_least(key, _as_int(key, raw), 1)

    def memory(key: str, raw: Any) -> int:
        return _between(key, _as_int(key, raw), *LAMBDA_MEMORY_MB)

    def optional_str(pattern: re.Pattern[str], what: str) -> Callable[[str, Any], str | None]:
        def check(key: str, raw: Any) -> str | None:
            value = _as_str(key, raw)
            if not value:
                return None
            if not pattern.fullmatch(value):
                raise ValueError(f"{_key(key)} must be {what}, got {value!r}")
            return value

        return check

    def subnet_ids(key: str, raw: Any) -> tuple[str, ...]:
        values = _as_str_list(key, raw)
        for value in values:
            if not _SUBNET_ID.fullmatch(value):
                raise ValueError(f"{_key(key)} must list subnet ids (subnet-...), got {value!r}")
        if len(set(values)) != len(values):
            raise ValueError(f"{_key(key)} lists a subnet twice: {list(values)!r}")
        return values

    def retention(key: str, raw: Any) -> int:
        value = _as_int(key, raw)
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in LOG_RETENTION_DAYS)
            raise ValueError(f"{_key(key)} must be one of {allowed}, got {value}")
        return value

    def reserved(key: str, raw: Any) -> int:
        value = _as_int(key, raw)
        # Lambda's 0 stops a function from running at all; -1 means "no reservation".
        if value == 0 or value < -1:
            raise ValueError(
                f"{_key(key)} must be -1 (no reservation) or a positive number, got {value}"
            )
        return value

    def prefix(key: str, raw: Any) -> str:
        value = _as_str(key, raw)
        if value.startswith("/") or not _PREFIX.fullmatch(value):
            raise ValueError(
                f"{_key(key)} must be an S3 key prefix without a leading slash or wildcards, "
                f"got {value!r}"
            )
        return value

    return {
        "vpcId": optional_str(_VPC_ID, "a VPC id (vpc-...) or empty"),
        "subnetIds": subnet_ids,
        "availabilityZones": lambda k, r: _between(k, _as_int(k, r), 2, MAX_AVAILABILITY_ZONES),
        "vpcCidr": lambda k, r: _vpc_cidr(k, _as_str(k, r)),
        "mountPath": lambda k, r: _mount_path(k, _as_str(k, r)),
        "efsThroughputMode": lambda k, r: _one_of(k, _as_str(k, r), THROUGHPUT_MODES),
        "efsProvisionedMibps": lambda k, r: _at_least(k, _as_int(k, r), 0),
        "efsBackups": _as_bool,
        "efsStorageAlarmGib": positive,
        "architecture": lambda k, r: _one_of(k, _as_str(k, r), ARCHITECTURES),
        "pythonVersion": lambda k, r: _one_of(k, _as_str(k, r), PYTHON_VERSIONS),
        "ingestMemoryMb": memory,
        "transformMemoryMb": memory,
        "compressMemoryMb": memory,
        "functionTimeoutSeconds": lambda k, r: _between(
            k, _as_int(k, r), 1, LAMBDA_MAX_TIMEOUT_SECONDS
        ),
        "reservedConcurrency": reserved,
        "logRetentionDays": retention,
        "triggerPrefix": prefix,
        "noncurrentVersionDays": positive,
        "defaultProfile": lambda k, r: _one_of(k, _as_str(k, r), PROFILES),
        "maxInputBytes": positive,
        "maxPages": positive,
        "maxImagePixels": positive,
        "maxArchiveMembers": positive,
        "maxCompressionRatio": positive,
        "workspaceTtlHours": positive,
        "alarmEmail": optional_str(_EMAIL, "an e-mail address or empty"),
        "protect": _as_bool,
        "apiThrottlingBurstLimit": positive,
        "apiThrottlingRateLimit": positive,
        "apiAccessLogRetentionDays": retention,
        "apiJwtIssuer": optional_str(_HTTPS_URL, "an https:// URL or empty"),
        "apiJwtAudience": _as_str_list,
    }


_VALIDATORS = _validators()
if set(_VALIDATORS) != set(KEYS):
    raise RuntimeError("every docpipe setting needs exactly one validator")


def _strip_namespace(key: str) -> str:
    prefix = f"{NAMESPACE}:"
    return key[len(prefix) :] if key.startswith(prefix) else key


def parse_settings(values: Mapping[str, Any]) -> Settings:
    """Validates config values and returns the settings, defaults filled in.

    Args:
        values: Config keys without the ``docpipe:`` prefix (a prefixed key is accepted
            too) mapped to their values as a stack file or ``pulumi config`` holds them:
            strings, or YAML-typed numbers, booleans and lists. ``None`` means unset.

    Raises:
        ValueError: A key is unknown or a value unusable; the message names the key.
    """
    parsed: dict[str, Any] = {}
    for raw_key, raw in values.items():
        key = _strip_namespace(raw_key)
        if key not in KEYS:
            raise ValueError(f"{_key(key)} is not a docpipe setting (known: {', '.join(KEYS)})")
        if raw is None:
            continue
        parsed[KEYS[key]] = _VALIDATORS[key](key, raw)
    settings = Settings(**parsed)
    _check_together(settings)
    return settings


def _check_together(settings: Settings) -> None:
    if (settings.vpc_id is None) != (not settings.subnet_ids):
        raise ValueError(
            f"{_key('vpcId')} and {_key('subnetIds')} must be set together (an existing "
            "network) or both left empty (the stack creates its own VPC)"
        )
    if settings.subnet_ids and len(settings.subnet_ids) < 2:
        raise ValueError(
            f"{_key('subnetIds')} must name at least 2 subnets in different availability "
            f"zones, got {len(settings.subnet_ids)}"
        )
    if settings.efs_throughput_mode == "provisioned" and settings.efs_provisioned_mibps < 1:
        raise ValueError(
            f"{_key('efsProvisionedMibps')} must be at least 1 when "
            f"{_key('efsThroughputMode')} is provisioned, got {settings.efs_provisioned_mibps}"
        )
    if (settings.api_jwt_issuer is None) != (not settings.api_jwt_audience):
        raise ValueError(
            f"{_key('apiJwtIssuer')} and {_key('apiJwtAudience')} must be set together (a "
            "JWT authorizer) or both left empty (IAM authorization)"
        )
    if settings.efs_throughput_mode != "provisioned" and settings.efs_provisioned_mibps:
        raise ValueError(
            f"{_key('efsProvisionedMibps')} only applies when {_key('efsThroughputMode')} "
            f"is provisioned (it is {settings.efs_throughput_mode})"
        )


def from_pulumi() -> Settings:
    """Reads the ``docpipe:`` config of the running Pulumi stack.

    Raises:
        ValueError: A value is unusable; ``pulumi up`` stops before creating anything.
    """
    # Imported here so that the local runner, which only reads stack files, does not pay
    # for loading the Pulumi SDK.
    import pulumi

    config = pulumi.Config(NAMESPACE)
    # The Pulumi runtime hands every value over as text (lists as JSON); parse_settings
    # reads text and typed values alike. No docpipe setting is a secret.
    return parse_settings({key: config.get(key) for key in KEYS})


def _load_yaml(path: Path) -> Any:
    # PyYAML comes with pulumi; only readers of stack files need it.
    import yaml

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def declared_defaults(root: Path | None = None) -> dict[str, Any]:
    """Returns the defaults declared in ``Pulumi.yaml``'s ``config:`` block."""
    project = _load_yaml((root or PROJECT_ROOT) / "Pulumi.yaml") or {}
    defaults: dict[str, Any] = {}
    for key, declaration in (project.get("config") or {}).items():
        name = _strip_namespace(key)
        if isinstance(declaration, Mapping) and "default" in declaration:
            defaults[name] = declaration["default"]
    return defaults


def load_stack_settings(stack: str = "dev", root: Path | None = None) -> Settings:
    """Reads a stack's settings from ``Pulumi.yaml`` defaults and ``Pulumi.<stack>.yaml``.

    This is what ``pulumi up`` would read for that stack, without the Pulumi CLI.

    Raises:
        FileNotFoundError: The stack file does not exist.
        ValueError: A value is unusable, or a setting is stored encrypted.
    """
    root = root or PROJECT_ROOT
    values = declared_defaults(root)
    stack_file = _load_yaml(root / f"Pulumi.{stack}.yaml") or {}
    for key, value in (stack_file.get("config") or {}).items():
        if not key.startswith(f"{NAMESPACE}:"):
            continue  # aws:region and other providers' settings
        if isinstance(value, Mapping) and "secure" in value:
            raise ValueError(f"{key} is encrypted; docpipe settings are never secrets")
        values[_strip_namespace(key)] = value
    return parse_settings(values)


def function_environment(
    settings: Settings, *, output_bucket: str, mount_path: str | None = None
) -> dict[str, str]:
    """Returns the environment every function gets (``functions/settings.py`` reads it).

    Args:
        settings: The stack's settings.
        output_bucket: The output bucket's name.
        mount_path: Where the workspace is mounted, if not at ``settings.mount_path``
            (the local runner passes a local directory).
    """
    return {
        "EFS_MOUNT_PATH": mount_path if mount_path is not None else settings.mount_path,
        "OUTPUT_BUCKET": output_bucket,
        "DEFAULT_PROFILE": settings.default_profile,
        "MAX_INPUT_BYTES": str(settings.max_input_bytes),
        "MAX_PAGES": str(settings.max_pages),
        "MAX_IMAGE_PIXELS": str(settings.max_image_pixels),
        "MAX_ARCHIVE_MEMBERS": str(settings.max_archive_members),
        "MAX_COMPRESSION_RATIO": str(settings.max_compression_ratio),
        "WORKSPACE_TTL_HOURS": str(settings.workspace_ttl_hours),
    }
