"""Downloads the benchmark corpus from its public sources, at the pinned commits.

Usage (from the repository root, on a machine that reaches github.com)::

    python benchmarks/fetch_corpus.py [--dest ../shared/corpus] [--files NAME ...]

The benchmarks and the corpus tests read real documents from ``../shared/corpus``
beside the repository. A clone without it gets the same files here: each row of
``benchmarks/corpus.tsv`` names a file, its source (``github:owner/repo@commit:path``),
its size and its SHA-256. Every file is downloaded from that repository at that commit,
checked against both, and written atomically; a file already present and matching is
left alone, so the script can be run again after an interrupted download. The files'
licences are their projects' (py-pdf/sample-files, ocrmypdf/OCRmyPDF, pikepdf/pikepdf,
python-pillow/Pillow); nothing is copied into this repository.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LISTING = ROOT / "benchmarks" / "corpus.tsv"
DEFAULT_DEST = ROOT / ".." / "shared" / "corpus"
ATTEMPTS = 3
TIMEOUT_SECONDS = 60
#: Told by every benchmark and test that needs the corpus and finds none.
HOW_TO_GET_IT = (
    "the corpus is not at ../shared/corpus beside the repository; on a machine that "
    "reaches github.com, `python benchmarks/fetch_corpus.py` downloads it there"
)


@dataclass(frozen=True)
class Entry:
    """One corpus file and where it comes from."""

    file: str
    repository: str  # owner/name
    commit: str
    path: str
    size: int
    sha256: str

    @property
    def url(self) -> str:
        """The file's bytes at the pinned commit (GitHub resolves abbreviated commits)."""
        path = urllib.parse.quote(self.path)
        return f"https://github.com/{self.repository}/raw/{self.commit}/{path}"


def read_listing(listing: Path = LISTING) -> list[Entry]:
    """Parses ``corpus.tsv`` (comment lines start with ``#``)."""
    with open(listing, encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    entries = []
    for row in csv.DictReader(lines, delimiter="\t"):
        kind, _, rest = row["source"].partition(":")
        place, _, path = rest.partition(":")
        repository, _, commit = place.partition("@")
        if kind != "github" or not (repository and commit and path):
            raise ValueError(f"{row['file']}: unknown source {row['source']!r}")
        entries.append(
            Entry(row["file"], repository, commit, path, int(row["size_bytes"]), row["sha256"])
        )
    return entries


def matches(entry: Entry, data: bytes) -> bool:
    return len(data) == entry.size and hashlib.sha256(data).hexdigest() == entry.sha256


def download(entry: Entry) -> bytes:
    """The file's bytes from its source, retried on network errors."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(entry.url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https only)
                return bytes(response.read())
        except (urllib.error.URLError, TimeoutError) as error:
            if attempt == ATTEMPTS:
                raise
            print(f"  {entry.file}: {error}; retrying", file=sys.stderr)
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


def fetch(entry: Entry, dest: Path) -> str:
    """Makes ``dest/entry.file`` the verified file; returns what was done."""
    target = dest / entry.file
    if target.is_file() and matches(entry, target.read_bytes()):
        return "present"
    data = download(entry)
    if not matches(entry, data):
        digest = hashlib.sha256(data).hexdigest()
        raise ValueError(
            f"{entry.file}: {entry.url} gave {len(data)} bytes with SHA-256 {digest}, "
            f"expected {entry.size} bytes with {entry.sha256}"
        )
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return "downloaded"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--files", nargs="+", help="only these files (names in corpus.tsv)")
    args = parser.parse_args(argv)
    entries = read_listing()
    if args.files:
        unknown = sorted(set(args.files) - {entry.file for entry in entries})
        if unknown:
            print(f"fetch_corpus.py: not in corpus.tsv: {', '.join(unknown)}", file=sys.stderr)
            return 2
        entries = [entry for entry in entries if entry.file in args.files]
    args.dest.mkdir(parents=True, exist_ok=True)
    failed = 0
    for entry in entries:
        try:
            outcome = fetch(entry, args.dest)
        except (OSError, ValueError) as error:  # URLError is an OSError
            failed += 1
            outcome = f"FAILED: {error}"
        print(f"{entry.file}: {outcome}")
    print(f"{len(entries) - failed} of {len(entries)} files in {args.dest.resolve()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
