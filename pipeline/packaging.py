"""Building what the Lambda functions run: one code archive of ``functions/``.

The archive is deterministic (sorted entries, fixed timestamps and permissions, no
bytecode caches), so an unchanged tree gives a byte-identical zip and an unchanged hash,
and a second ``pulumi up`` shows no diff. The local runner runs the very same archive.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable
from pathlib import Path

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


def sha256_file(path: Path) -> str:
    """Returns the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


HANDLERS = {
    "ingest": "functions.ingest.handler",
    "transform": "functions.transform.handler",
    "compress": "functions.compress.handler",
}
