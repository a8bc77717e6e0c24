"""Language models on the shared mount: ``models/tesseract/<lang>.traineddata``.

A model is installed by copying its bytes to a temporary name in the same directory,
checking their SHA-256, fsyncing and renaming into place, so a reader (a cold start in
another function, on another client of the file system) sees either no file or the whole
file, never part of one; two installers racing each rename a complete copy, and the last
rename wins with identical bytes. ``<lang>.sha256`` beside each model records what was
installed, so that a second provisioning with the same bytes does nothing.

Pure: paths and byte streams in, no boto3. Where the bytes come from (a packaged wheel,
an S3 models prefix) is the caller's business; see ARCHITECTURE.md "OCR".
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: The models' directory, relative to the mount path.
MODELS_DIR = "models/tesseract"
#: The orientation and script model, needed to read rotated pages the right way up.
OSD = "osd"
_LANGUAGE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
_CHUNK = 1 << 20


class ModelError(Exception):
    """A model is missing, or its bytes do not match the checksum they came with."""


@dataclass(frozen=True)
class InstalledModel:
    """One installed model: its language, path on the mount, size and SHA-256."""

    language: str
    path: Path
    size: int
    sha256: str
    changed: bool


def validate_language(language: str) -> str:
    """Returns ``language`` if it is a Tesseract model name (``eng``, ``chi_sim``, ``osd``).

    Raises:
        ValueError: The name could not be a model file name (and might escape the folder).
    """
    if not _LANGUAGE.match(language):
        raise ValueError(f"{language!r} is not a Tesseract language name such as 'eng'")
    return language


def models_dir(mount: Path) -> Path:
    """Returns the models' directory under the mount path (not created)."""
    return mount / MODELS_DIR


def model_path(mount: Path, language: str) -> Path:
    """Returns where the model of ``language`` lives on the mount."""
    return models_dir(mount) / f"{validate_language(language)}.traineddata"


def installed_sha256(mount: Path, language: str) -> str | None:
    """Returns the recorded checksum of an installed model, or None if there is none."""
    path = model_path(mount, language)
    record = path.with_suffix(".sha256")
    try:
        recorded = record.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return recorded if path.is_file() else None


def install_model(mount: Path, language: str, source: IO[bytes], sha256: str) -> InstalledModel:
    """Installs the model read from ``source`` atomically, verifying its SHA-256.

    Args:
        mount: The mount path (the models live under :data:`MODELS_DIR`).
        language: The model's name, e.g. ``eng``.
        source: The model's bytes, read to the end.
        sha256: Their expected hex digest (from the wheel's RECORD or the S3 object).

    Returns:
        What is installed; ``changed`` is False when the same bytes were already there.

    Raises:
        ModelError: The bytes do not match ``sha256``; nothing is changed.
    """
    expected = sha256.lower()
    path = model_path(mount, language)
    if installed_sha256(mount, language) == expected:
        return InstalledModel(language, path, path.stat().st_size, expected, changed=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as handle:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if digest.hexdigest() != expected:
            raise ModelError(
                f"The {language} model's bytes do not match their checksum "
                f"({digest.hexdigest()} instead of {expected}); it was not installed."
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _write_record(path.with_suffix(".sha256"), expected)
    return InstalledModel(language, path, size, expected, changed=True)


def _write_record(path: Path, sha256: str) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        tmp.write_text(sha256 + "\n", encoding="ascii")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """Returns the hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def missing_models(mount: Path, languages: Iterable[str]) -> list[str]:
    """Returns the languages (and ``osd``) whose model is not installed on the mount."""
    wanted = [*languages, OSD]
    return [language for language in wanted if not model_path(mount, language).is_file()]
