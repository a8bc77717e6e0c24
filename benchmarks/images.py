"""Images to PDF: how much bigger is an image once it is a published PDF, per profile?

Usage (from the repository root)::

    python benchmarks/images.py [--corpus DIR] [--csv PATH]

Every image in the corpus (JPEG, PNG, TIFF, GIF, BMP, WebP, sniffed from content as the
ingest stage does) goes through the transform stage's conversion (``normalise``) and then
``compress_pdf`` with each profile, exactly as a document dropped into the trigger
bucket would. Reported per image and profile: the published PDF's size over the image's
(``x``), and for JPEG sources whether the JPEG is embedded byte for byte (no generation
loss). The target (benchmarks/README.md, "Targets and where we are"): a JPEG is embedded
as it is in ``lossless``, and no image becomes a PDF much larger than itself in any
profile; "much larger" is reported here as more than 10 % plus 2 KB (a PDF's own
objects: page, image dictionary, cross-reference).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from functions.documents.compress import compress_pdf  # noqa: E402
from functions.documents.normalise import DOCUMENT, normalise  # noqa: E402
from functions.errors import DocumentError  # noqa: E402
from functions.settings import PROFILES, Limits  # noqa: E402
from functions.sniff import IMAGE_TYPES, sniff  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
# A PDF's own objects around one image: page, image dictionary, cross-reference.
WRAPPER_BYTES = 2048
MUCH_LARGER = 1.10


@dataclass
class Row:
    """One image through one profile."""

    image: str
    kind: str
    profile: str
    bytes_image: int
    bytes_pdf: int
    jpeg_as_is: bool | None  # None: not a JPEG source
    seconds: float
    error: str = ""

    @property
    def ratio(self) -> float:
        return self.bytes_pdf / self.bytes_image

    @property
    def much_larger(self) -> bool:
        return self.bytes_pdf > self.bytes_image * MUCH_LARGER + WRAPPER_BYTES


def images_in(corpus: Path) -> list[tuple[Path, str]]:
    """Returns (path, sniffed kind) for every image file below ``corpus``."""
    found = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        try:
            kind = sniff(path)
        except DocumentError:
            continue  # not a document type at all (README, manifest)
        if kind in IMAGE_TYPES:
            found.append((path, kind))
    return found


def jpeg_embedded_as_is(source: Path, pdf_path: Path) -> bool:
    """Tells whether the PDF's first image stream holds the source JPEG's bytes unchanged."""
    import pikepdf

    jpeg = source.read_bytes()
    with pikepdf.open(pdf_path) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/Image":
                raw = bytes(obj.read_raw_bytes())
                # The stream holds the JPEG up to its end marker; trailing bytes some
                # cameras append after it (MPO's second picture) are not part of it.
                return obj.get("/Filter") == "/DCTDecode" and jpeg.startswith(raw)
    return False


def run(corpus: Path) -> list[Row]:
    """Converts and compresses every image in ``corpus`` with every profile."""
    limits = Limits()
    rows: list[Row] = []
    for path, kind in images_in(corpus):
        with tempfile.TemporaryDirectory() as scratch:
            transform_dir = Path(scratch) / "transform"
            transform_dir.mkdir()
            try:
                normalise(path, kind, transform_dir, limits)
            except DocumentError as error:
                size, message = path.stat().st_size, f"{error.code}: {error}"
                rows.extend(
                    Row(path.name, kind, profile, size, 0, None, 0.0, error=message)
                    for profile in PROFILES
                )
                continue
            for profile in PROFILES:
                dest = Path(scratch) / f"{profile}.pdf"
                start = time.perf_counter()
                compress_pdf(transform_dir / DOCUMENT, dest, profile, limits=limits)
                seconds = time.perf_counter() - start
                as_is = jpeg_embedded_as_is(path, dest) if kind == "jpeg" else None
                size_in, size_out = path.stat().st_size, dest.stat().st_size
                rows.append(Row(path.name, kind, profile, size_in, size_out, as_is, seconds))
    return rows


def print_table(rows: list[Row]) -> None:
    """Prints one row per image (size ratio per profile) and a summary per profile."""
    names = sorted({row.image for row in rows})
    by_key = {(row.image, row.profile): row for row in rows}
    header = f"{'image':30} {'kind':5} {'KB in':>8}" + "".join(
        f" {profile + ' x':>12}" for profile in PROFILES
    )
    print(header)
    print("-" * len(header))
    for name in names:
        first = by_key[(name, PROFILES[0])]
        cells = []
        for profile in PROFILES:
            row = by_key[(name, profile)]
            if row.error:
                cells.append(f" {'failed':>12}")
                continue
            mark = "!" if row.much_larger else ""
            mark += "=" if row.jpeg_as_is else ""
            cells.append(f" {row.ratio:>10.3f}{mark:<2}")
        print(f"{name[:30]:30} {first.kind:5} {first.bytes_image / 1024:8.1f}" + "".join(cells))
    print("\n'=' the JPEG is embedded byte for byte; '!' more than 10 % + 2 KB larger.")
    for profile in PROFILES:
        done = [r for r in rows if r.profile == profile and not r.error]
        total_in = sum(r.bytes_image for r in done)
        total_out = sum(r.bytes_pdf for r in done)
        larger = [r.image for r in done if r.much_larger]
        jpegs = [r for r in done if r.jpeg_as_is is not None]
        print(
            f"{profile:9} total x {total_out / total_in:.3f}; "
            f"JPEGs embedded as is {sum(bool(r.jpeg_as_is) for r in jpegs)}/{len(jpegs)}; "
            f"much larger: {', '.join(larger) or 'none'}"
        )
    failed = sorted({f"{r.image} ({r.error})" for r in rows if r.error})
    if failed:
        print("refused by transform:", "; ".join(failed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--csv", type=Path, help="also write the per-image rows here")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(
            f"corpus directory not found: {args.corpus} "
            "(python benchmarks/fetch_corpus.py downloads it)",
            file=sys.stderr,
        )
        return 2
    rows = run(args.corpus)
    if not rows:
        print(f"no images found below {args.corpus}", file=sys.stderr)
        return 2
    print_table(rows)
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["image", "kind", "profile", "bytes_image", "bytes_pdf", "ratio", "jpeg_as_is",
                 "seconds", "error"]
            )  # fmt: skip
            writer.writerows(
                [r.image, r.kind, r.profile, r.bytes_image, r.bytes_pdf, f"{r.ratio:.4f}",
                 r.jpeg_as_is, f"{r.seconds:.4f}", r.error]
                for r in rows
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
