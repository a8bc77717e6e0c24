"""Every docpipe setting, declared once: type, default, description, bounds.

:class:`Settings` is the declarations table. Each field is one ``docpipe:`` config key
(the camelCase form of the field name) declared with :func:`setting`; its annotation is
the type, and the rest is said once here; ``pipeline/declarations.py`` reads it back.
Everything else is derived from it or checked against it: the validator
(``pipeline/config.py``), the functions' environment, the
``config:`` block of ``Pulumi.yaml`` and the README's configuration table
(``python -m pipeline.settings_docs`` writes both; a test fails naming the key when they
drift), and the Lambda-side defaults in ``functions/settings.py`` (checked by a test).

This module imports no cloud SDK: the local runner and the tests read it too. See
docs/ARCHITECTURE.md, "Settings".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from functions.settings import OCR_MODES, PROFILES
from pipeline.bounds import (
    ARCHITECTURES,
    EMAIL,
    HTTPS_URL,
    KMS_AWS_MANAGED,
    KMS_KEY,
    LAMBDA_MAX_TIMEOUT_SECONDS,
    LAMBDA_MEMORY_MB,
    LOG_RETENTION_DAYS,
    MOUNT_PATH,
    OCR_LANGUAGES,
    POSITIVE,
    PYTHON_VERSIONS,
    RESERVED_CONCURRENCY,
    SUBNET_IDS,
    THROUGHPUT_MODES,
    TRIGGER_PREFIX,
    UPLOAD_MODES,
    VPC_CIDR,
    VPC_ID,
    Bounds,
    at_least,
    between,
    one_of,
)

T = TypeVar("T")


def setting(
    default: T, description: str, *, bounds: Bounds | None = None, env: str | None = None
) -> T:
    """Declares one setting (used as a :class:`Settings` field's default).

    Args:
        default: The value when the stack does not set the key (``None`` for an optional
            string, which a stack leaves empty).
        description: What it means, one or two sentences (Markdown backticks allowed).
        bounds: The values it accepts, beyond its type.
        env: The environment variable the functions read it from, if they do.
    """
    metadata = {"description": description, "bounds": bounds, "env": env}
    return field(default=default, metadata=metadata)


MEMORY = between(*LAMBDA_MEMORY_MB, " MB")


@dataclass(frozen=True)
class Settings:
    """Every setting of a docpipe stack, validated. Attribute ``x_y`` is config key ``xY``."""

    vpc_id: str | None = setting(
        None,
        "Existing VPC to run in. Empty: the stack creates its own VPC without NAT gateway. "
        "Set together with `subnetIds`.",
        bounds=VPC_ID,
    )
    subnet_ids: tuple[str, ...] = setting(
        (),
        "Existing private subnets (at least 2, in different AZs) for the functions and mount "
        "targets, when `vpcId` is set. Their route tables must reach S3 (a gateway endpoint).",
        bounds=SUBNET_IDS,
    )
    availability_zones: int = setting(
        2, "Number of AZs for the stack's own private subnets.", bounds=between(2, 6)
    )
    vpc_cidr: str = setting(
        "10.42.0.0/16",
        "CIDR block of the stack's own VPC, split evenly into one private subnet per AZ.",
        bounds=VPC_CIDR,
    )
    mount_path: str = setting(
        "/mnt/docpipe",
        "Where each function mounts the access point.",
        bounds=MOUNT_PATH,
        env="EFS_MOUNT_PATH",
    )
    efs_throughput_mode: str = setting(
        "elastic",
        "EFS throughput mode: `elastic` (pay per use), `bursting` or `provisioned`.",
        bounds=one_of(*THROUGHPUT_MODES),
    )
    efs_provisioned_mibps: int = setting(
        0,
        "Provisioned throughput in MiB/s; required with, and only with, `provisioned`.",
        bounds=at_least(0),
    )
    efs_backups: bool = setting(True, "AWS Backup's automatic daily backups of the file system.")
    efs_storage_alarm_gib: int = setting(
        50,
        "Alarm when the file system holds more than this many GiB (workspaces should be "
        "removed after each job).",
        bounds=POSITIVE,
    )
    architecture: str = setting(
        "arm64",
        "Lambda architecture, `arm64` (Graviton, cheaper) or `x86_64`; the layer is built for it.",
        bounds=one_of(*ARCHITECTURES),
    )
    python_version: str = setting(
        "3.12", "Lambda Python runtime; the layer is built for it.", bounds=one_of(*PYTHON_VERSIONS)
    )
    ingest_memory_mb: int = setting(1024, "Memory of the ingest function.", bounds=MEMORY)
    transform_memory_mb: int = setting(2048, "Memory of the transform function.", bounds=MEMORY)
    compress_memory_mb: int = setting(2048, "Memory of the compress function.", bounds=MEMORY)
    function_timeout_seconds: int = setting(
        300,
        "Timeout of each function; a state machine task allows 60 s more.",
        bounds=between(1, LAMBDA_MAX_TIMEOUT_SECONDS, " s"),
    )
    reserved_concurrency: int = setting(
        -1,
        "Reserved concurrent executions of each function; `-1` (the default) for no "
        "reservation, which a fresh account with the minimum concurrency quota needs. A "
        "production stack sets it (`Pulumi.prod.example.yaml`).",
        bounds=RESERVED_CONCURRENCY,
    )
    log_retention_days: int = setting(
        30,
        "Retention of every log group (functions, state machine, VPC flow logs), and "
        "the days after which server access logs expire.",
        bounds=one_of(*LOG_RETENTION_DAYS),
    )
    trigger_prefix: str = setting(
        "",
        "Only keys starting with this prefix start an execution (e.g. `inbox/`); ingest may "
        "only read under it. Empty for every object.",
        bounds=TRIGGER_PREFIX,
    )
    noncurrent_version_days: int = setting(
        30,
        "Noncurrent object versions in both buckets are deleted after this many days.",
        bounds=POSITIVE,
    )
    default_profile: str = setting(
        "ebook",
        "Compression profile when neither the input nor the object's `docpipe-profile` "
        "metadata names one.",
        bounds=one_of(*PROFILES),
        env="DEFAULT_PROFILE",
    )
    max_input_bytes: int = setting(
        512 * 1024 * 1024,
        "Largest source object, and largest unpacked bundle, in bytes.",
        bounds=POSITIVE,
        env="MAX_INPUT_BYTES",
    )
    max_pages: int = setting(2000, "Most pages in one document.", bounds=POSITIVE, env="MAX_PAGES")
    max_image_pixels: int = setting(
        178_956_970,
        "Most pixels in one image (decompression-bomb guard).",
        bounds=POSITIVE,
        env="MAX_IMAGE_PIXELS",
    )
    max_archive_members: int = setting(
        500, "Most members in one ZIP bundle.", bounds=POSITIVE, env="MAX_ARCHIVE_MEMBERS"
    )
    max_compression_ratio: int = setting(
        200,
        "Largest expansion ratio of one archive member (zip-bomb guard).",
        bounds=POSITIVE,
        env="MAX_COMPRESSION_RATIO",
    )
    workspace_ttl_hours: int = setting(
        24,
        "Age in hours after which the hourly sweep removes an orphaned job workspace.",
        bounds=POSITIVE,
        env="WORKSPACE_TTL_HOURS",
    )
    ocr: str = setting(
        "auto",
        "OCR of pages without text: `auto` (pages without text), `force` (every scanned "
        "page) or `off`. Per document: metadata `docpipe-ocr` or the input's `ocr`.",
        bounds=one_of(*OCR_MODES),
        env="OCR_MODE",
    )
    ocr_languages: tuple[str, ...] = setting(
        ("eng",),
        "Tesseract languages read on every page; their models are provisioned onto the "
        "file system under `models/tesseract/`.",
        bounds=OCR_LANGUAGES,
        env="OCR_LANGUAGES",
    )
    ocr_model: str = setting(
        "fast",
        "Tesseract models to provision: `fast` (about 4 MB per language) or `standard` "
        "(about 23 MB, slower).",
        bounds=one_of("fast", "standard"),
    )
    ocr_pages_per_invocation: int = setting(
        10,
        "Pages one transform invocation OCRs; a scan with more is fanned out over page "
        "ranges by a Map state.",
        bounds=POSITIVE,
        env="OCR_PAGES_PER_INVOCATION",
    )
    ocr_max_concurrency: int = setting(
        10,
        "Most page ranges of one document OCR'd at once by the Map state.",
        bounds=between(1, 1000),
    )
    backfill_max_concurrency: int = setting(
        10,
        "Documents a backfill runs at once (two per batch: the Distributed Map's "
        "`MaxConcurrency` x 2); about 1.5 x `reservedConcurrency`.",
        bounds=between(1, 10_000),
    )
    uploads: str = setting(
        "direct",
        "`direct`: one pipeline execution per upload. `queued`: uploads wait in an SQS queue "
        "and run in Express batches at a bounded concurrency (cheap bursts).",
        bounds=one_of(*UPLOAD_MODES),
    )
    uploads_max_concurrency: int = setting(
        10,
        "Queued uploads processed at once (two per batch: the queue's event source mapping's "
        "`MaximumConcurrency` x 2).",
        bounds=between(4, 2000),
    )
    batch_size: int = setting(
        6,
        "Documents per Express batch (of a backfill, and of queued uploads), two at a time.",
        bounds=between(1, 40),
    )
    execution_timeout_hours: int = setting(
        24,
        "The state machine's `TimeoutSeconds`, in hours; longer than the longest burst takes "
        "to drain (documents x transform seconds / reserved concurrency).",
        bounds=between(1, 8760),
    )
    api_throttling_burst_limit: int = setting(
        100,
        "Most requests the HTTP API accepts in a burst (default route throttling of its stage).",
        bounds=POSITIVE,
    )
    api_throttling_rate_limit: int = setting(
        50,
        "Steady requests per second the HTTP API accepts (default route throttling of its stage).",
        bounds=POSITIVE,
    )
    api_access_log_retention_days: int = setting(
        30,
        "Retention of the HTTP API's access logs, in days.",
        bounds=one_of(*LOG_RETENTION_DAYS),
    )
    api_jwt_issuer: str | None = setting(
        None,
        "Issuer URL of a JWT authorizer for every HTTP API route. Empty keeps IAM (SigV4) "
        "authorization. Set together with `apiJwtAudience`.",
        bounds=HTTPS_URL,
    )
    api_jwt_audience: tuple[str, ...] = setting(
        (),
        "Audiences (client ids) a JWT must name, when `apiJwtIssuer` is set.",
    )
    alarm_email: str | None = setting(
        None,
        "E-mail address subscribed to the alarm topic (confirm the mail AWS sends). Empty for "
        "none.",
        bounds=EMAIL,
    )
    kms_key: str = setting(
        KMS_AWS_MANAGED,
        "Encryption of the file system, buckets, log groups, queues, topic and the functions' "
        "environment: `aws-managed` (AWS-owned and AWS-managed keys), `stack` (one "
        "customer-managed key per stack, rotated yearly) or the ARN of an existing key "
        "whose policy lets these services use it (see the README's Security section).",
        bounds=KMS_KEY,
    )
    protect: bool = setting(
        False,
        "Production stack: buckets refuse to be destroyed while they hold objects, and the "
        "file system is protected and retained on destroy.",
    )

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
    def execution_timeout_seconds(self) -> int:
        """The state machine's top-level ``TimeoutSeconds``."""
        return self.execution_timeout_hours * 3600

    @property
    def memory_mb(self) -> dict[str, int]:
        """Memory per function, keyed by function name."""
        return {
            "ingest": self.ingest_memory_mb,
            "transform": self.transform_memory_mb,
            "compress": self.compress_memory_mb,
        }
