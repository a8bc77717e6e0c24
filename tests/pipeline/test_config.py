"""Stack settings: parsing, validation messages, stack files, and the functions' environment."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.settings import load_settings
from pipeline.config import (
    KEYS,
    Settings,
    declared_defaults,
    environment_value,
    function_environment,
    load_stack_settings,
    parse_settings,
)
from pipeline.declarations import declarations
from pipeline.settings_docs import TABLE_HEADER, pulumi_declaration, readme_row

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "edit pipeline/settings.py and run python -m pipeline.settings_docs"


def test_declared_defaults_are_the_parsed_defaults() -> None:
    """This test ensures that Pulumi.yaml declares every setting, each with a type and a
    description, and that its defaults are exactly the defaults the program applies."""
    import yaml

    declarations = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(declarations) == set(KEYS)
    for key, declaration in declarations.items():
        assert declaration["type"] in ("string", "integer", "boolean", "array"), key
        assert declaration["description"].strip(), key
        assert "default" in declaration, key
    assert parse_settings(declared_defaults(ROOT)) == Settings()


def test_dev_stack_loads() -> None:
    """This test ensures that the dev stack file is a working stack: it parses, and the
    settings it changes take effect over the declared defaults."""
    settings = load_stack_settings("dev", ROOT)
    assert settings.reserved_concurrency == -1  # deployable on a fresh account
    assert settings.log_retention_days == 14
    assert settings.mount_path == "/mnt/docpipe"
    assert settings.availability_zones == 2
    assert not settings.uses_existing_network


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mountPath": "/data"}, "docpipe:mountPath must be under /mnt/, got '/data'"),
        ({"mountPath": "/mnt/../etc"}, "docpipe:mountPath must be under /mnt/"),
        ({"availabilityZones": 1}, "docpipe:availabilityZones must be between 2 and 6, got 1"),
        ({"availabilityZones": "two"}, "docpipe:availabilityZones must be a whole number"),
        ({"defaultProfile": "tiny"}, "docpipe:defaultProfile must be one of"),
        ({"maxPages": -1}, "docpipe:maxPages must be at least 1, got -1"),
        ({"maxInputBytes": "0"}, "docpipe:maxInputBytes must be at least 1, got 0"),
        ({"functionTimeoutSeconds": 901}, "docpipe:functionTimeoutSeconds must be between 1"),
        ({"logRetentionDays": 31}, "docpipe:logRetentionDays must be one of"),
        ({"reservedConcurrency": 0}, "docpipe:reservedConcurrency must be -1"),
        ({"architecture": "arm"}, "docpipe:architecture must be one of arm64, x86_64"),
        ({"pythonVersion": "3.9"}, "docpipe:pythonVersion must be one of 3.12, 3.13"),
        ({"efsThroughputMode": "fast"}, "docpipe:efsThroughputMode must be one of"),
        ({"efsThroughputMode": "provisioned"}, "docpipe:efsProvisionedMibps must be at least 1"),
        ({"efsProvisionedMibps": 10}, "docpipe:efsProvisionedMibps only applies"),
        ({"efsBackups": "yes"}, "docpipe:efsBackups must be true or false"),
        ({"vpcCidr": "10.0.0.0/8"}, "docpipe:vpcCidr must be a block from /16 to /24"),
        ({"vpcCidr": "not-a-cidr"}, "docpipe:vpcCidr must be an IPv4 CIDR block"),
        ({"triggerPrefix": "/inbox"}, "docpipe:triggerPrefix must be an S3 key prefix"),
        ({"triggerPrefix": "in*"}, "docpipe:triggerPrefix must be an S3 key prefix"),
        ({"alarmEmail": "nobody"}, "docpipe:alarmEmail must be an e-mail address"),
        ({"ingestMemoryMb": 64}, "docpipe:ingestMemoryMb must be between 128 and 10240"),
        ({"vpcId": "vpc-0123456789abcdef0"}, "docpipe:vpcId and docpipe:subnetIds"),
        ({"subnetIds": ["subnet-0123456789abcdef0"]}, "docpipe:vpcId and docpipe:subnetIds"),
        (
            {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0123456789abcdef0"]},
            "docpipe:subnetIds must name at least 2 subnets",
        ),
        ({"subnetIds": ["subnet-x"]}, "docpipe:subnetIds must list subnet ids"),
        ({"mountpath": "/mnt/x"}, "docpipe:mountpath is not a docpipe setting"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(values: dict[str, Any], message: str) -> None:
    """This test ensures that an unusable value raises ValueError naming the key."""
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace("*", r"\*")):
        parse_settings(values)


def test_values_as_the_cli_passes_them() -> None:
    """This test ensures that text values (as the Pulumi runtime passes them), YAML-typed
    values and namespaced keys all parse to the same settings."""
    as_text = parse_settings(
        {
            "docpipe:vpcId": "vpc-0123456789abcdef0",
            "subnetIds": '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]',
            "efsBackups": "false",
            "maxPages": "100",
            "alarmEmail": "",
        }
    )
    typed = parse_settings(
        {
            "vpcId": "vpc-0123456789abcdef0",
            "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "efsBackups": False,
            "maxPages": 100,
            "alarmEmail": None,
        }
    )
    assert as_text == typed
    assert typed.uses_existing_network
    assert typed.alarm_email is None


def test_secure_values_in_a_stack_file_are_refused(tmp_path: Path) -> None:
    """This test ensures that a stack file with an encrypted docpipe value is refused with
    the key named, rather than read as a garbled setting."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.ci.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  docpipe:alarmEmail:\n    secure: AAABAx==\n"
    )
    with pytest.raises(ValueError, match="docpipe:alarmEmail is encrypted"):
        load_stack_settings("ci", tmp_path)


def test_function_environment_is_what_the_functions_read(tmp_path: Path) -> None:
    """This test ensures that the environment given to the functions holds exactly the
    documented variables and that functions/settings.py reads back the stack's values."""
    settings = parse_settings({"defaultProfile": "screen", "maxPages": 7, "workspaceTtlHours": 3})
    env = function_environment(settings, output_bucket="out-bucket")
    assert set(env) == {
        "EFS_MOUNT_PATH",
        "OUTPUT_BUCKET",
        "DEFAULT_PROFILE",
        "MAX_INPUT_BYTES",
        "MAX_PAGES",
        "MAX_IMAGE_PIXELS",
        "MAX_ARCHIVE_MEMBERS",
        "MAX_COMPRESSION_RATIO",
        "WORKSPACE_TTL_HOURS",
        "OCR_MODE",
        "OCR_LANGUAGES",
        "OCR_PAGES_PER_INVOCATION",
    }
    assert all(isinstance(value, str) for value in env.values())
    read = load_settings(env)
    assert str(read.mount_path) == "/mnt/docpipe"
    assert read.output_bucket == "out-bucket"
    assert read.default_profile == "screen"
    assert read.limits.max_pages == 7
    assert read.workspace_ttl_hours == 3
    local = function_environment(settings, output_bucket="b", mount_path=str(tmp_path))
    assert load_settings(local).mount_path == tmp_path


def test_ocr_settings_reach_the_functions() -> None:
    """This test ensures that the OCR keys are validated and reach the functions as the
    environment functions/settings.py reads."""
    settings = parse_settings(
        {"ocr": "force", "ocrLanguages": '["eng", "deu"]', "ocrPagesPerInvocation": 4}
    )
    read = load_settings(function_environment(settings, output_bucket="b"))
    assert (read.ocr.mode, read.ocr.languages, read.ocr.pages_per_invocation) == (
        "force",
        "eng+deu",
        4,
    )
    with pytest.raises(ValueError, match="docpipe:ocrLanguages"):
        parse_settings({"ocrLanguages": ["../etc"]})
    with pytest.raises(ValueError, match="docpipe:ocrModel"):
        parse_settings({"ocrModel": "huge"})
    with pytest.raises(ValueError, match="docpipe:ocr "):
        parse_settings({"ocr": "sometimes"})


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_limits_accept_exactly_the_positive_numbers(value: int) -> None:
    """This test ensures that every limit accepts a positive whole number (as a number or
    as text) and rejects zero and negatives naming the key."""
    for key in ("maxInputBytes", "maxPages", "maxImagePixels", "maxArchiveMembers"):
        if value >= 1:
            assert parse_settings({key: str(value)}) == parse_settings({key: value})
        else:
            with pytest.raises(ValueError, match=f"^docpipe:{key} must be at least 1"):
                parse_settings({key: value})


def test_pulumi_yaml_declares_each_setting_as_the_declarations_do() -> None:
    """This test ensures that Pulumi.yaml's config block is exactly what the declarations
    on Settings produce, and names the first key that drifted."""
    import yaml

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    wanted = {d.key: pulumi_declaration(d) for d in declarations()}
    missing, extra = set(wanted) - set(declared), set(declared) - set(wanted)
    assert not missing, f"Pulumi.yaml lacks {sorted(missing)}: {REGENERATE}"
    assert not extra, f"Pulumi.yaml declares {sorted(extra)}, which Settings does not: {REGENERATE}"
    for key, entry in wanted.items():
        assert declared[key] == entry, f"Pulumi.yaml's docpipe:{key} differs: {REGENERATE}"
    assert list(declared) == list(wanted), f"Pulumi.yaml's keys are out of order: {REGENERATE}"


def test_readme_table_is_the_declarations() -> None:
    """This test ensures that the README's configuration table has one row per setting,
    each as the declarations produce it, and names the first key whose row drifted."""
    text = (ROOT / "README.md").read_text()
    assert TABLE_HEADER in text, "the README lost its configuration table header"
    table = text[text.index(TABLE_HEADER) + len(TABLE_HEADER) :].split("\n\n", 1)[0]
    rows = {row.split("|")[1].strip().strip("`"): row + "\n" for row in table.splitlines()}
    for declared in declarations():
        assert declared.key in rows, f"README lacks docpipe:{declared.key}: {REGENERATE}"
        assert rows.pop(declared.key) == readme_row(declared), (
            f"README's row for docpipe:{declared.key} differs: {REGENERATE}"
        )
    assert not rows, f"README lists {sorted(rows)}, which Settings does not: {REGENERATE}"


def test_lambda_defaults_are_the_declared_defaults() -> None:
    """This test ensures that functions/settings.py, reading an environment without a
    variable, applies the declared default of the setting that variable carries, and
    that its documented defaults are those too."""
    unset = load_settings({})
    documented = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in _functions_settings_doc().splitlines()
        if line.startswith("| ") and not line.startswith("| variable")
    }
    for declared in declarations():
        if declared.env is None:
            continue
        as_set = load_settings({declared.env: environment_value(declared.default)})
        assert as_set == unset, (
            f"functions/settings.py's default for {declared.env} differs from "
            f"docpipe:{declared.key}'s declared default {declared.default!r}"
        )
        assert documented.get(declared.env) == environment_value(declared.default), (
            f"functions/settings.py documents {declared.env}'s default as "
            f"{documented.get(declared.env)!r}, "
            f"docpipe:{declared.key} declares {declared.default!r}"
        )


def _functions_settings_doc() -> str:
    import functions.settings

    return functions.settings.__doc__ or ""


def test_pulumi_config_is_read_in_exactly_one_module() -> None:
    """This test ensures that only pipeline/config.py reads pulumi.Config, so every
    component takes its settings from the validated Settings."""
    sources = [ROOT / "__main__.py", *sorted((ROOT / "pipeline").rglob("*.py"))]
    readers = [p.relative_to(ROOT).as_posix() for p in sources if "pulumi.Config(" in p.read_text()]
    assert readers == ["pipeline/config.py"]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("aws-managed", True),
        ("stack", True),
        ("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("arn:aws:kms:eu-west-1:123456789012:alias/docpipe", False),
        ("alias/docpipe", False),
        ("customer", False),
    ],
)
def test_kms_key_accepts_the_modes_and_key_arns(value: str, accepted: bool) -> None:
    """This test ensures that kmsKey takes aws-managed, stack or a key ARN, and refuses
    aliases and other words naming the key."""
    if accepted:
        assert parse_settings({"kmsKey": value}).kms_key == value
    else:
        with pytest.raises(ValueError, match=r"^docpipe:kmsKey must be aws-managed, stack or"):
            parse_settings({"kmsKey": value})


def test_a_field_without_a_declaration_is_refused() -> None:
    """This test ensures that a setting added to Settings without setting(...) fails at
    once, naming the field, instead of silently missing from Pulumi.yaml and the README."""
    from dataclasses import dataclass

    from pipeline.declarations import _declare

    @dataclass
    class Undeclared:
        new_key: int = 3

    (item,) = fields(Undeclared)
    with pytest.raises(TypeError, match=r"^Settings\.new_key must be declared with setting"):
        _declare(item, int)
