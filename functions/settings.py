"""The settings a function reads from its environment, with documented defaults.

Every variable here is set by the Pulumi program on each function and by the local
runner on each worker; the defaults are the ones that apply when it is not set.

| variable | default | meaning |
| --- | --- | --- |
| EFS_MOUNT_PATH | /mnt/docpipe | where the access point is mounted |
| OUTPUT_BUCKET | (none) | bucket the compress stage publishes to |
| DEFAULT_PROFILE | ebook | profile used when neither the input nor metadata names one |
| MAX_INPUT_BYTES | 536870912 | largest source object, and largest unpacked archive |
| MAX_PAGES | 2000 | most pages in one document |
| MAX_IMAGE_PIXELS | 178956970 | most pixels in one image (Pillow's own bomb limit) |
| MAX_ARCHIVE_MEMBERS | 500 | most members in a ZIP bundle |
| MAX_COMPRESSION_RATIO | 200 | largest expansion of one archive member |
| WORKSPACE_TTL_HOURS | 24 | age after which an orphaned workspace is swept |
| OCR_MODE | auto | OCR pages without text (auto), every scanned page (force), or none (off) |
| OCR_LANGUAGES | eng | Tesseract languages, ``+``-joined (models under models/tesseract/) |
| OCR_PAGES_PER_INVOCATION | 10 | pages one invocation reads; more are fanned out by a Map state |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("lossless", "ebook", "screen")
OCR_MODES = ("auto", "off", "force")


@dataclass(frozen=True)
class Limits:
    """Limits that bound the work one document may cause."""

    max_input_bytes: int = 512 * 1024 * 1024
    max_pages: int = 2000
    max_image_pixels: int = 178_956_970
    max_archive_members: int = 500
    max_compression_ratio: int = 200


@dataclass(frozen=True)
class OcrSettings:
    """How pages without text are read (ARCHITECTURE.md "OCR")."""

    mode: str = "auto"
    languages: str = "eng"
    pages_per_invocation: int = 10


@dataclass(frozen=True)
class Settings:
    """A function's settings, read once per execution environment."""

    mount_path: Path
    output_bucket: str
    default_profile: str
    limits: Limits
    workspace_ttl_hours: float
    ocr: OcrSettings = OcrSettings()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Reads the settings from ``env`` (the process environment by default).

    Raises:
        ValueError: A variable is set to something unusable; the message names it.
    """
    env = os.environ if env is None else env
    profile = env.get("DEFAULT_PROFILE") or "ebook"
    if profile not in PROFILES:
        raise ValueError(f"DEFAULT_PROFILE must be one of {', '.join(PROFILES)}, got {profile!r}")
    defaults = Limits()
    limits = Limits(
        max_input_bytes=_int(env, "MAX_INPUT_BYTES", defaults.max_input_bytes),
        max_pages=_int(env, "MAX_PAGES", defaults.max_pages),
        max_image_pixels=_int(env, "MAX_IMAGE_PIXELS", defaults.max_image_pixels),
        max_archive_members=_int(env, "MAX_ARCHIVE_MEMBERS", defaults.max_archive_members),
        max_compression_ratio=_int(env, "MAX_COMPRESSION_RATIO", defaults.max_compression_ratio),
    )
    ocr_mode = env.get("OCR_MODE") or "auto"
    if ocr_mode not in OCR_MODES:
        raise ValueError(f"OCR_MODE must be one of {', '.join(OCR_MODES)}, got {ocr_mode!r}")
    ocr = OcrSettings(
        mode=ocr_mode,
        languages=env.get("OCR_LANGUAGES") or "eng",
        pages_per_invocation=_int(env, "OCR_PAGES_PER_INVOCATION", 10),
    )
    return Settings(
        mount_path=Path(env.get("EFS_MOUNT_PATH") or "/mnt/docpipe"),
        output_bucket=env.get("OUTPUT_BUCKET", ""),
        default_profile=profile,
        limits=limits,
        workspace_ttl_hours=float(_int(env, "WORKSPACE_TTL_HOURS", 24)),
        ocr=ocr,
    )
