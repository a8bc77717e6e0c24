"""Models on the shared mount: installed with a checksum, atomically, once."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
from pathlib import Path

import pytest

from functions.documents.ocr.models import (
    ModelError,
    install_model,
    installed_sha256,
    missing_models,
    model_path,
    validate_language,
)

SIZE = 6 * 1024 * 1024


def model_bytes() -> bytes:
    return hashlib.sha256(b"model").digest() * (SIZE // 32)


def _install(mount: str, source: str, sha256: str, rounds: int) -> None:
    for _ in range(rounds):
        with open(source, "rb") as handle:
            install_model(Path(mount), "eng", handle, sha256)
        # Force a rewrite next round, as a cold start racing a new deployment would.
        Path(mount, "models/tesseract/eng.sha256").unlink(missing_ok=True)


def _read(mount: str, sha256: str, rounds: int, seen: multiprocessing.Queue) -> None:
    path = Path(mount, "models/tesseract/eng.traineddata")
    bad = 0
    for _ in range(rounds):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        bad += hashlib.sha256(data).hexdigest() != sha256
    seen.put(bad)


def test_concurrent_provisioning_leaves_one_complete_file(tmp_path: Path) -> None:
    """This test ensures that two processes installing the same model at once leave one
    complete file, no temporary file, and that a reader never sees part of it."""
    mount = tmp_path / "efs"
    data = model_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    source = tmp_path / "eng.traineddata"
    source.write_bytes(data)
    context = multiprocessing.get_context("spawn")
    seen = context.Queue()
    installers = [
        context.Process(target=_install, args=(str(mount), str(source), sha256, 6))
        for _ in range(2)
    ]
    reader = context.Process(target=_read, args=(str(mount), sha256, 40, seen))
    for process in [*installers, reader]:
        process.start()
    for process in [*installers, reader]:
        process.join(timeout=120)
        assert process.exitcode == 0
    assert seen.get(timeout=5) == 0
    installed = model_path(mount, "eng")
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == sha256
    assert sorted(p.name for p in installed.parent.iterdir()) == ["eng.traineddata"]


def test_a_model_whose_bytes_do_not_match_is_not_installed(tmp_path: Path) -> None:
    """This test ensures that bytes that do not match their checksum leave nothing."""
    with pytest.raises(ModelError, match="do not match their checksum"):
        install_model(tmp_path, "eng", io.BytesIO(b"truncated"), "0" * 64)
    assert not model_path(tmp_path, "eng").exists()
    assert os.listdir(model_path(tmp_path, "eng").parent) == []


def test_a_second_provisioning_with_the_same_bytes_changes_nothing(tmp_path: Path) -> None:
    """This test ensures that provisioning is idempotent: same checksum, no rewrite."""
    data = b"model bytes"
    sha256 = hashlib.sha256(data).hexdigest()
    first = install_model(tmp_path, "deu", io.BytesIO(data), sha256)
    second = install_model(tmp_path, "deu", io.BytesIO(data), sha256)
    assert (first.changed, second.changed) == (True, False)
    assert installed_sha256(tmp_path, "deu") == sha256
    assert missing_models(tmp_path, ["deu", "eng"]) == ["eng", "osd"]


@pytest.mark.parametrize("name", ["../eng", "eng/x", "", "E", "eng.traineddata"])
def test_a_language_name_cannot_escape_the_models_folder(name: str) -> None:
    """This test ensures that only plain Tesseract language names are accepted."""
    with pytest.raises(ValueError, match="not a Tesseract language"):
        validate_language(name)
