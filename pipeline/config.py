"""The stack's settings: read and validated here and nowhere else.

``pulumi up`` reads them with :func:`from_pulumi` (the only place that reads
``pulumi.Config``); the local runner reads the same stack files with
:func:`load_stack_settings` and gives each local function the environment
:func:`function_environment` describes, which is exactly what the deployed functions get.

Each key is declared once, on :class:`pipeline.settings.Settings` (type, default,
description, bounds); parsing and validation here follow those declarations. A value
that cannot work raises :class:`ValueError` naming the key, before any resource exists.
See docs/ARCHITECTURE.md, "Settings".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.bounds import InvalidValueError
from pipeline.declarations import Declaration, declaration, declarations
from pipeline.settings import Settings

__all__ = [
    "KEYS",
    "NAMESPACE",
    "Settings",
    "declared_defaults",
    "environment_value",
    "from_pulumi",
    "function_environment",
    "load_stack_settings",
    "parse_settings",
]

NAMESPACE = "docpipe"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

KEYS: dict[str, str] = {d.key: d.attribute for d in declarations()}
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


_PARSERS = {"integer": _as_int, "boolean": _as_bool, "string": _as_str, "array": _as_str_list}


def _parse_one(declared: Declaration, raw: Any) -> Any:
    value = _PARSERS[declared.type](declared.key, raw)
    if declared.optional and value == "":
        return None
    if declared.bounds is None:
        return value
    try:
        return declared.bounds.check(value)
    except InvalidValueError as invalid:
        raise ValueError(f"{_key(declared.key)} {invalid}") from None


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
        declared = declaration(key)
        if declared is None:
            raise ValueError(f"{_key(key)} is not a docpipe setting (known: {', '.join(KEYS)})")
        if raw is None:
            continue
        parsed[declared.attribute] = _parse_one(declared, raw)
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
    """Returns the defaults declared in ``Pulumi.yaml``'s ``config:`` block.

    ``Pulumi.yaml`` is written from :class:`Settings` (``python -m pipeline.settings_docs``)
    and a test holds them together; this reads the file as the Pulumi CLI would.
    """
    project = _load_yaml((root or PROJECT_ROOT) / "Pulumi.yaml") or {}
    defaults: dict[str, Any] = {}
    for key, declared in (project.get("config") or {}).items():
        name = _strip_namespace(key)
        if isinstance(declared, Mapping) and "default" in declared:
            defaults[name] = declared["default"]
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


def environment_value(value: object) -> str:
    """A setting as an environment variable: lists joined with ``+`` (no key uses one)."""
    if isinstance(value, tuple | list):
        return "+".join(str(item) for item in value)
    return str(value)


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
    environment = {
        declared.env: environment_value(getattr(settings, declared.attribute))
        for declared in declarations()
        if declared.env is not None
    }
    if mount_path is not None:
        environment["EFS_MOUNT_PATH"] = mount_path
    environment["OUTPUT_BUCKET"] = output_bucket
    return environment
