"""Building what the Lambda functions run: one code archive of ``functions/``.

The archive is deterministic (sorted entries, fixed timestamps and permissions, no
bytecode caches), so an unchanged tree gives a byte-identical zip and an unchanged hash,
and a second ``pulumi up`` shows no diff. The local runner runs the very same archive.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from pipeline.elf import compact

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
BUILD_DIR = PROJECT_ROOT / "build"

# 1980-01-01, the earliest time a zip entry can carry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_EXCLUDED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


def _source_files(root: Path) -> list[Path]:
    files = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part in _EXCLUDED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _EXCLUDED_SUFFIXES:
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def write_deterministic_zip(entries: Iterable[tuple[str, Path]], destination: Path) -> Path:
    """Writes ``(archive name, file)`` pairs to a zip that depends only on their content.

    Entries are sorted by name, dated 1980-01-01, mode 0644 (0755 if executable), and
    deflated at level 9. The zip is written to a temporary name and renamed into place.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(destination.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3  # Unix, so that the mode bits are honoured
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(destination)
    return destination


def build_code_archive(destination: Path | None = None) -> Path:
    """Zips ``functions/`` (and nothing else) as ``functions/...`` for the handlers.

    Returns:
        The archive's path (``build/functions.zip`` by default).
    """
    destination = destination or BUILD_DIR / "functions.zip"
    entries = [
        (f"functions/{path.relative_to(FUNCTIONS_DIR).as_posix()}", path)
        for path in _source_files(FUNCTIONS_DIR)
    ]
    return write_deterministic_zip(entries, destination)


HANDLERS = {
    "ingest": "functions.ingest.handler",
    "transform": "functions.transform.handler",
    "compress": "functions.compress.handler",
}
# The HTTP API's function runs the same archive; it is no pipeline stage (no EFS, no VPC).
API_HANDLER = "functions.api.handler.handler"


# Lambda's architecture names -> the machine names in manylinux wheel tags.
WHEEL_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34). pikepdf and Pillow
# publish manylinux_2_28 wheels only, so the older manylinux2014 tag alone would not do;
# pip also accepts every older manylinux_2_x tag for a newer one given.
MANYLINUX_TAGS = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
# Console scripts carry the building interpreter's path in their shebang, and nothing
# in a layer runs them.
_LAYER_EXCLUDED_TOP = {"bin"}
PIP_TIMEOUT_SECONDS = 600
# What the build does to the installed files besides zipping them; part of the cache key,
# so that a layer built before a change here is not reused.
_LAYER_RECIPE = "compact-elf-2"
# The architectures whose layer libraries are compacted: those this project loads after
# compacting (tests/pipeline/test_elf.py runs on x86_64). aarch64 libraries stay as the
# wheels ship them (OCR adds 16 MB unzipped there, within budget) until a test can load
# a compacted one on an arm64 machine.
COMPACTED_ARCHITECTURES = frozenset({"x86_64"})


def compact_libraries(paths: Iterable[Path]) -> int:
    """Rewrites the shared libraries among ``paths`` without the file space nothing
    loads and without debugging symbols (:func:`pipeline.elf.compact`); returns the bytes
    saved. The wheels' x86_64 libraries are mostly 2 MiB alignment padding."""
    saved = 0
    for path in paths:
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                continue
        data = path.read_bytes()
        smaller = compact(data)
        if len(smaller) < len(data):
            path.write_bytes(smaller)
            saved += len(data) - len(smaller)
    return saved


def layer_cache_key(requirements: Path, architecture: str, python_version: str) -> str:
    """Returns the key a built layer is cached under: what its content depends on."""
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    for part in (architecture, python_version, *MANYLINUX_TAGS, _LAYER_RECIPE):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:16]


def build_layer(
    architecture: str,
    python_version: str,
    requirements: Path = FUNCTIONS_DIR / "requirements.txt",
    destination: Path | None = None,
) -> Path:
    """Builds the functions' third-party packages into a Lambda layer zip (``python/...``).

    pip installs binary wheels for the Lambda platform (never builds from source, never
    this machine's wheels) into a temporary directory; on x86_64 the shared libraries
    lose their padding and debugging symbols (:func:`compact_libraries`,
    :data:`COMPACTED_ARCHITECTURES`), and the directory is zipped deterministically.
    The zip is cached under ``build/`` by a key of the requirements' content, the
    architecture and the Python version, so that a second build is instant and an
    unchanged tree gives an unchanged hash.

    Args:
        architecture: ``arm64`` or ``x86_64`` (Lambda's names).
        python_version: ``3.12`` or ``3.13``.
        requirements: The requirements file to install.
        destination: Where to write the zip (default ``build/layer-<arch>-py<ver>-<key>.zip``).

    Returns:
        The zip's path.

    Raises:
        ValueError: Unknown architecture or malformed Python version.
        RuntimeError: pip failed or timed out (for example, no package index reachable).
    """
    if architecture not in WHEEL_MACHINES:
        raise ValueError(f"architecture must be one of {', '.join(WHEEL_MACHINES)}")
    if not re.fullmatch(r"3\.\d+", python_version):
        raise ValueError(f"python_version must look like 3.12, got {python_version!r}")
    key = layer_cache_key(requirements, architecture, python_version)
    if destination is None:
        destination = BUILD_DIR / f"layer-{architecture}-py{python_version}-{key}.zip"
    if destination.exists():
        return destination

    machine = WHEEL_MACHINES[architecture]
    with tempfile.TemporaryDirectory(prefix="docpipe-layer-") as tmp:
        target = Path(tmp) / "python"
        command = [
            sys.executable, "-m", "pip", "install",
            "--quiet", "--disable-pip-version-check", "--no-input", "--no-compile",
            "--retries", "2", "--timeout", "30",
            *(arg for tag in MANYLINUX_TAGS for arg in ("--platform", f"{tag}_{machine}")),
            "--implementation", "cp",
            "--python-version", python_version,
            "--only-binary=:all:",
            "--target", str(target),
            "--requirement", str(requirements),
        ]  # fmt: skip
        try:
            result = subprocess.run(  # noqa: S603 -- fixed arguments, no shell
                command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"building the Lambda layer timed out after {PIP_TIMEOUT_SECONDS} s: "
                "is a package index reachable?"
            ) from None
        if result.returncode != 0:
            detail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise RuntimeError(
                f"pip could not install {requirements.name} for {machine} / Python "
                f"{python_version} (binary wheels only; a package index must be reachable):\n"
                f"{detail}"
            )
        entries = [
            (f"python/{path.relative_to(target).as_posix()}", path)
            for path in _source_files(target)
            if path.relative_to(target).parts[0] not in _LAYER_EXCLUDED_TOP
        ]
        if architecture in COMPACTED_ARCHITECTURES:
            compact_libraries(path for _name, path in entries)
        write_deterministic_zip(entries, destination)
        shutil.rmtree(target, ignore_errors=True)
    return destination
