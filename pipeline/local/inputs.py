"""The files a local run or ``submit`` uploads, and the trigger bucket key of each.

A file argument is keyed by its name; files under a directory argument by their path
relative to that directory (subdirectories included, symbolic links to directories not
followed). Hidden files and folders (names starting with ``.``, such as ``.DS_Store`` or
``.git``) found while searching a directory are skipped; a hidden file named on the
command line is taken, since it was asked for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

S3_MAX_KEY_BYTES = 1024


class UsageError(Exception):
    """The command cannot start because of how it was asked for (exit status 2)."""


@dataclass(frozen=True)
class InputDocument:
    """A local file and the trigger bucket key it is uploaded as."""

    path: Path
    key: str


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(directory: Path, skipped: set[Path]) -> Iterable[Path]:
    """Yields the visible regular files under ``directory``, in a stable order."""
    for folder, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(
            name
            for name in dirnames
            if not _hidden(name) and (Path(folder) / name).resolve() not in skipped
        )
        for name in sorted(filenames):
            path = Path(folder) / name
            if not _hidden(name) and path.is_file():  # regular files and links to them
                yield path


class _Keys:
    """Collects ``key -> path``, refusing keys S3 cannot hold and duplicate keys."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.found: dict[str, Path] = {}

    def add(self, path: Path, relative: str) -> None:
        key = self.prefix + relative
        try:
            encoded = key.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{path}: the file name is not valid UTF-8") from None
        if len(encoded) > S3_MAX_KEY_BYTES:
            raise UsageError(f"{path}: the key {key!r} is longer than S3 allows")
        previous = self.found.get(key)
        if previous is not None and previous.resolve() != path.resolve():
            raise UsageError(f"{previous} and {path} would both be uploaded as {key!r}")
        self.found[key] = path


def collect_inputs(
    paths: Sequence[Path], key_prefix: str = "", exclude: Sequence[Path] = ()
) -> list[InputDocument]:
    """Returns the files to process, keyed relative to the directory each was found in.

    Args:
        paths: Files and directories.
        key_prefix: Prepended to every key (the stack's trigger prefix).
        exclude: Directories not to search, e.g. the output directory of this run, so
            that running on ``.`` twice does not process the first run's outputs.

    Raises:
        UsageError: A path does not exist or is not a file or directory, a name cannot
            be an S3 key, two inputs would get the same key, or there is nothing to do.
    """
    keys = _Keys(key_prefix)
    skipped = {path.resolve() for path in exclude}
    for given in paths:
        if given.is_dir():
            for path in _walk(given, skipped):
                keys.add(path, path.relative_to(given).as_posix())
        elif given.is_file():
            keys.add(given, given.name)
        elif given.exists():
            raise UsageError(f"{given} is neither a file nor a directory")
        else:
            raise UsageError(f"{given}: no such file or directory")
    if not keys.found:
        raise UsageError("no documents to process in " + ", ".join(str(p) for p in paths))
    return [InputDocument(path, key) for key, path in sorted(keys.found.items())]
