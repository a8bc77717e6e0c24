"""The code archive and the layer: deterministic, and built for the Lambda platform."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from functions.publish import sha256_file
from pipeline.config import load_stack_settings
from pipeline.packaging import (
    HANDLERS,
    build_code_archive,
    build_layer,
    layer_cache_key,
)

ROOT = Path(__file__).resolve().parents[2]


def test_code_archive_is_byte_identical_when_built_twice(tmp_path: Path) -> None:
    """This test ensures that building the code archive twice gives byte-identical zips
    holding functions/ only, with every handler module in it."""
    first = build_code_archive(tmp_path / "first.zip")
    second = build_code_archive(tmp_path / "second.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert all(name.startswith("functions/") for name in names)
        assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    for handler in HANDLERS.values():
        module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
        if (ROOT / module).exists():
            assert module in names


@pytest.fixture(scope="module")
def dev_layer() -> Path:
    """The dev stack's layer (built once, then taken from the build/ cache)."""
    settings = load_stack_settings("dev", ROOT)
    return build_layer(settings.architecture, settings.python_version)


def test_layer_holds_wheels_for_the_configured_platform(dev_layer: Path) -> None:
    """This test ensures that the layer holds pypdf, Pillow and pikepdf under python/,
    with native code built for Linux aarch64 and CPython 3.12 only (the dev stack's
    arm64 / python3.12), not for the machine that built it."""
    with zipfile.ZipFile(dev_layer) as layer:
        names = layer.namelist()
        assert all(name.startswith("python/") for name in names)
        for package in ("pypdf", "PIL", "pikepdf"):
            assert any(name.startswith(f"python/{package}/") for name in names), package
        extensions = [n for n in names if n.endswith(".so") and ".cpython-" in n]
        assert extensions
        for name in extensions:
            assert name.endswith("-aarch64-linux-gnu.so"), name
            assert ".cpython-312-" in name, name
        tags = [
            line.split(":", 1)[1].strip()
            for name in names
            if name.endswith(".dist-info/WHEEL")
            for line in layer.read(name).decode().splitlines()
            if line.startswith("Tag:")
        ]
        platforms = {tag.split("-")[2] for tag in tags}
        assert platforms - {"any"}
        assert all(p == "any" or p.endswith("_aarch64") for p in platforms), platforms
        assert not any(name.startswith("python/bin/") for name in names)


def test_second_layer_build_is_the_cached_identical_zip(dev_layer: Path) -> None:
    """This test ensures that a second build returns the same cached zip, keyed by the
    requirements, architecture and Python version."""
    digest = sha256_file(dev_layer)
    again = build_layer("arm64", "3.12")
    assert again == dev_layer
    assert sha256_file(again) == digest
    requirements = ROOT / "functions" / "requirements.txt"
    key = layer_cache_key(requirements, "arm64", "3.12")
    assert key in dev_layer.name
    assert key != layer_cache_key(requirements, "x86_64", "3.12")
    assert key != layer_cache_key(requirements, "arm64", "3.13")


def test_layer_build_failure_is_a_clear_error(tmp_path: Path) -> None:
    """This test ensures that a failing pip fails the build with a message saying what
    could not be installed and pip's own reason, and leaves no zip behind."""
    requirements = tmp_path / "requirements.txt"
    # Malformed, so that pip fails before it asks any package index.
    requirements.write_text("pypdf >= = 6 !!\n")
    with pytest.raises(
        RuntimeError, match=r"pip could not install requirements\.txt for aarch64(.|\n)*pypdf"
    ):
        build_layer("arm64", "3.12", requirements, destination=tmp_path / "layer.zip")
    assert not (tmp_path / "layer.zip").exists()


def test_layer_rejects_unknown_platforms(tmp_path: Path) -> None:
    """This test ensures that an unknown architecture or Python version is refused."""
    with pytest.raises(ValueError, match="architecture"):
        build_layer("sparc", "3.12", destination=tmp_path / "x.zip")
    with pytest.raises(ValueError, match="python_version"):
        build_layer("arm64", "twelve", destination=tmp_path / "x.zip")
