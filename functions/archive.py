"""Safe unpacking of ZIP bundles.

A bundle is refused as ``UNSAFE_ARCHIVE`` when it could harm the workspace or exhaust it:
absolute paths, ``..`` components, symbolic links, nested archives, more members than the
limit, two entries with one name, a member that expands past a grace size and more than
the compression-ratio limit, a total larger than the input limit, or overlapping entries
(the "zip bomb without recursion" trick). Declared
sizes are not trusted: every member is counted while it is written.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from functions.errors import DocumentError, ErrorCode
from functions.settings import Limits
from functions.sniff import sniff_bytes
from functions.workspace import atomic_writer

_CHUNK = 1 << 20
# A member that expands to at most this much is never a bomb, whatever its ratio: a flat
# white scan (a 360 KB BMP deflates to 1.5 KB, ratio 238) is ordinary. The ratio guard
# applies above it; the total-bytes limit applies to every member.
RATIO_GRACE_BYTES = 8 * 1024 * 1024
# Files that archivers add beside the real content; they are not documents.
_METADATA_DIRS = ("__MACOSX",)
_METADATA_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class Member:
    """One unpacked member: its name inside the bundle and where it was written."""

    name: str
    path: Path
    size: int


def _unsafe(message: str) -> DocumentError:
    return DocumentError(ErrorCode.UNSAFE_ARCHIVE, message)


def _member_name(info: zipfile.ZipInfo) -> str:
    raw = info.filename.replace("\\", "/")
    path = PurePosixPath(raw)
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise _unsafe(f"The bundle contains an entry with an absolute path ({info.filename!r}).")
    if ".." in path.parts:
        raise _unsafe(f"The bundle contains an entry that points outside it ({info.filename!r}).")
    if not path.parts:
        raise _unsafe(f"The bundle contains an entry without a usable name ({info.filename!r}).")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise _unsafe(f"The bundle contains a symbolic link ({info.filename!r}).")
    return path.as_posix()


def _is_metadata(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return parts[0] in _METADATA_DIRS or parts[-1] in _METADATA_NAMES or parts[-1].startswith("._")


def _ratio_allowance(info: zipfile.ZipInfo, limits: Limits) -> int:
    """The most bytes a member may expand to under the ratio guard (with its grace size)."""
    return max(max(info.compress_size, 1) * limits.max_compression_ratio, RATIO_GRACE_BYTES)


def _check_layout(infos: list[zipfile.ZipInfo], archive_size: int) -> None:
    """Refuses entries whose data overlap (one compressed stream counted many times)."""
    end = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < end:
            raise _unsafe("The bundle's entries overlap, a pattern used by zip bombs.")
        # 30 bytes of local header plus the name and extra field, then the data.
        end = info.header_offset + 30 + len(info.filename.encode()) + info.compress_size
    if end > archive_size:
        raise _unsafe("The bundle's entries claim more data than the file holds.")


def list_members(
    archive: zipfile.ZipFile, archive_size: int, limits: Limits
) -> list[zipfile.ZipInfo]:
    """Returns the bundle's file entries after checking names, counts and declared sizes."""
    infos = archive.infolist()
    _check_layout(infos, archive_size)
    files: list[zipfile.ZipInfo] = []
    names: set[str] = set()
    declared_total = 0
    for info in infos:
        if info.is_dir():  # folders are never created from names: nothing to check
            continue
        name = _member_name(info)
        if _is_metadata(name):
            continue
        if name in names:  # each member's outputs are named after its path
            raise _unsafe(f"The bundle holds two entries named {name!r}.")
        names.add(name)
        files.append(info)
        if len(files) > limits.max_archive_members:
            raise _unsafe(
                f"The bundle has more than {limits.max_archive_members} files, the most one "
                "bundle may hold."
            )
        declared_total += info.file_size
        if info.file_size > _ratio_allowance(info, limits):
            raise _unsafe(
                f"The bundle entry {name!r} expands more than "
                f"{limits.max_compression_ratio} times, a sign of a zip bomb."
            )
    if declared_total > limits.max_input_bytes:
        raise _unsafe(
            f"The bundle unpacks to more than {limits.max_input_bytes} bytes, the most one "
            "bundle may hold."
        )
    return files


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, budget: int, limits: Limits
) -> int:
    """Writes one member, stopping as soon as it exceeds its declared or allowed size."""
    allowed = min(info.file_size, budget, _ratio_allowance(info, limits))
    written = 0
    with archive.open(info) as source, atomic_writer(destination) as target:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > allowed:
                raise _unsafe(
                    f"The bundle entry {info.filename!r} expands beyond its declared size or "
                    "the bundle's limits, a sign of a zip bomb."
                )
            if written == len(chunk) and sniff_bytes(chunk[:1024]) == "zip":
                raise _unsafe(
                    f"The bundle contains another archive ({info.filename!r}); "
                    "bundles cannot be nested."
                )
            target.write(chunk)
    return written


def unpack(source: Path, destination: Path, limits: Limits) -> list[Member]:
    """Unpacks the ZIP bundle ``source`` into ``destination`` as numbered files.

    Members are written as ``0001``, ``0002``, ... (their names inside the bundle are
    returned, never used as paths), in the order of the bundle's directory.

    Raises:
        DocumentError: ``UNSAFE_ARCHIVE`` as described in the module docstring,
            ``CORRUPT_DOCUMENT`` for a ZIP that cannot be read, ``EMPTY_DOCUMENT`` for a
            bundle without any file, ``ENCRYPTED_DOCUMENT`` for password-protected members.
    """
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(source) as archive:
            infos = list_members(archive, source.stat().st_size, limits)
            if not infos:
                raise DocumentError(ErrorCode.EMPTY_DOCUMENT, "The bundle contains no files.")
            if any(info.flag_bits & 0x1 for info in infos):
                raise DocumentError(
                    ErrorCode.ENCRYPTED_DOCUMENT,
                    "The bundle is password-protected; upload its files without a password.",
                )
            members = []
            budget = limits.max_input_bytes
            for index, info in enumerate(infos, start=1):
                path = destination / f"{index:04d}"
                size = _copy_member(archive, info, path, budget, limits)
                budget -= size
                members.append(Member(name=_member_name(info), path=path, size=size))
            return members
    except DocumentError:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
        zlib.error,
    ) as err:
        shutil.rmtree(destination, ignore_errors=True)
        raise DocumentError(
            ErrorCode.CORRUPT_DOCUMENT, f"The ZIP bundle cannot be read ({err})."
        ) from None
