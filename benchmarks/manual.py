"""Peak memory and throughput on a 1,300-page, 26 MB manual: our profiles beside qpdf.

Usage (from the repository root)::

    python benchmarks/manual.py [--corpus DIR] [--tools NAME ...] [--rebuild] [--build-only]

The compress stage's peak memory must stay within 1.5 GB for a 1,300-page, 26 MB manual
(benchmarks/README.md, "Targets and where we are"), and the corpus has no such
document. This script builds one from the corpus, the same bytes every time (cached
under ``benchmarks/results/``, which git ignores), then runs each of our profiles and
qpdf on it, each in its own child process (the machinery of ``benchmarks/compress.py``:
``ru_maxrss`` of that child via a helper process), and prints one table: bytes in and
out, ratio, wall seconds, MB/s, peak RSS, structure kept.

What the manual is made of, and why:

- Volumes, each a fresh copy of real corpus documents: ``sf_GeoTopo-komprimiert.pdf``
  (117 pages of text, vector drawings and JPEG figures, 480 internal links, 35 outline
  entries), four small pdfLaTeX/Google Docs text documents, and image chapters (scans,
  photos, a CMYK palette image, a 9000x9000 RGB image) cycled through the volumes up to
  an image byte budget; two volumes carry a form (pdfLaTeX's and LibreOffice's fields).
- Every copy is its own set of objects (each is copied from a freshly opened source, so
  qpdf's foreign-object map never hands back an earlier copy), and no two copies are
  byte-identical, as no two pages of a real manual are: each page gets a footer with its
  page number written into its own content stream, and each copy's images carry the
  copy's number in one corner pixel (JPEGs are re-encoded with their own quantisation
  tables, Flate images re-deflated). Without this our duplicate-stream pass would fold
  the copies into one and flatter both ratio and memory. Font programs, on the other
  hand, are shared between copies, as a real manual embeds each font once.
- Manual structure: an outline with an entry per volume and per chapter plus each
  GeoTopo copy's own outline (resolved to that copy's pages), GeoTopo's named link
  destinations resolved to explicit ``/Dest`` arrays on the copy's pages, and an
  ``/AcroForm`` with the form copies' fields (renamed per copy, so they stay distinct).
- It is saved the way a modern producer saves: object streams and Flate-compressed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf

# compress.py's runner is reused, not copied; run as a script, only benchmarks/ is on the
# path, and the import names the module from the repository root as mypy does.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.compress import (
    DEFAULT_CORPUS,
    RESULTS,
    TOOLS,
    Row,
    Structure,
    compare,
    measure,
    structure,
)

# Bump when the construction changes, so that a cached manual is rebuilt.
BUILD_VERSION = 1
VOLUMES = 10
TEXT_PARTS = (
    "sf_GeoTopo-komprimiert.pdf",
    "sf_pdflatex-outline.pdf",
    "sf_pdflatex-4-pages.pdf",
    "sf_multicolumn.pdf",
    "sf_google-doc-document.pdf",
)
IMAGE_PARTS = (
    "ocr_multipage.pdf",
    "pk_congress.pdf",
    "ocr_francais.pdf",
    "sf_base64image.pdf",
    "ocr_c02-22.pdf",
    "ocr_poster.pdf",
    "sf_cmyk-image.pdf",
    "sf_pdflatex-image.pdf",
    "ocr_graph.pdf",
    "ocr_2400dpi.pdf",
)
# Source-file bytes of image chapters over the whole manual; with the text volumes this
# makes about 26 MB saved.
IMAGE_BUDGET = 16_000_000
# Volumes that carry a form, and which.
FORM_PARTS = {0: "sf_pdflatex-forms.pdf", 5: "sf_libreoffice-form.pdf"}
SOURCES = sorted({*TEXT_PARTS, *IMAGE_PARTS, *FORM_PARTS.values()})
OUR_TOOLS = ("ours-lossless", "ours-ebook", "ours-screen", "qpdf")
FOOTER_FONT = "/DocpipeFooter"
MB = 1024 * 1024


class CorpusMissingError(Exception):
    """The corpus, or one of the documents the manual is built from, is not there."""


def plan(corpus: Path) -> list[list[str]]:
    """Returns the corpus documents of each volume, in order (the same every time)."""
    sizes = {name: corpus / name for name in IMAGE_PARTS}
    volumes: list[list[str]] = []
    spent, cursor = 0, 0
    for number in range(VOLUMES):
        parts = list(TEXT_PARTS)
        # Image chapters are spread evenly: each volume takes images until the manual so
        # far has its share of the budget.
        while spent < IMAGE_BUDGET * (number + 1) // VOLUMES:
            name = IMAGE_PARTS[cursor % len(IMAGE_PARTS)]
            parts.append(name)
            spent += sizes[name].stat().st_size
            cursor += 1
        if number in FORM_PARTS:
            parts.append(FORM_PARTS[number])
        volumes.append(parts)
    return volumes


# --- building ------------------------------------------------------------------------------


@dataclass
class Built:
    """What the manual is made of (stored beside it as JSON)."""

    path: str
    bytes: int = 0
    pages: int = 0
    parts: int = 0
    image_streams: int = 0
    images_marked: int = 0
    link_annotations: int = 0
    links_with_dest: int = 0
    links_unresolved: int = 0
    outline_entries: int = 0
    fields: int = 0
    font_programs_shared: int = 0
    shared_between_copies: int = 0  # content/image streams used by two copies: must be 0
    # [first page, page count] of each copy, to check that copies share no streams.
    ranges: list[list[int]] = field(default_factory=list)


def build(corpus: Path, dest: Path) -> Built:
    """Builds the manual from ``corpus`` into ``dest`` (see the module docstring)."""
    import pikepdf

    volumes = plan(corpus)
    manual = pikepdf.new()
    built = Built(path=str(dest))
    footer_font = manual.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    outline_items: list[pikepdf.OutlineItem] = []
    with ExitStack() as sources:
        for number, parts in enumerate(volumes, start=1):
            volume = pikepdf.OutlineItem(f"Volume {number}", len(manual.pages))
            for name in parts:
                # A fresh open per copy: qpdf maps a foreign object to the copy it made
                # before, so copying from one open source twice would share objects.
                source = sources.enter_context(pikepdf.open(corpus / name))
                chapter = _append_copy(manual, source, name, number, footer_font, built)
                volume.children.append(chapter)
            outline_items.append(volume)
        with manual.open_outline() as outline:
            outline.root.extend(outline_items)
        built.font_programs_shared = _share_font_programs(manual)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".partial")
        manual.save(
            partial,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            compress_streams=True,
            deterministic_id=True,
        )
        partial.replace(dest)
    _describe(dest, built)
    return built


def _append_copy(
    manual: pikepdf.Pdf,
    source: pikepdf.Pdf,
    name: str,
    copy: int,
    footer_font: pikepdf.Dictionary,
    built: Built,
) -> pikepdf.OutlineItem:
    """Appends a distinct copy of ``source`` to ``manual``; returns its chapter entry."""
    import pikepdf

    start = len(manual.pages)
    with warnings.catch_warnings():
        # pikepdf warns that extend() drops named destinations and form fields; this
        # copy resolves the first to explicit /Dest arrays and carries the second itself.
        warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
        manual.pages.extend(source.pages)
    count = len(manual.pages) - start
    built.ranges.append([start, count])
    built.parts += 1
    source_index = {page.obj.objgen: index for index, page in enumerate(source.pages)}
    destinations = _named_destinations(source)
    marked: set[tuple[int, int]] = set()
    for offset in range(count):
        page = manual.pages[start + offset]
        _add_footer(page, footer_font, start + offset + 1)
        for image in _images(page.obj.get("/Resources")):
            if image.objgen not in marked:
                marked.add(image.objgen)
                built.images_marked += _mark_image(image, copy)
        for annotation in page.obj.get("/Annots", pikepdf.Array()):
            if isinstance(annotation, pikepdf.Dictionary):
                _resolve_link(annotation, destinations, source_index, manual, start, built)
    _copy_fields(manual, source, copy, built)
    chapter = pikepdf.OutlineItem(f"{copy}.{built.parts} {Path(name).stem}", start)
    with source.open_outline() as outline:
        chapter.children.extend(
            _copy_outline(item, destinations, source_index, start) for item in outline.root
        )
    return chapter


def _add_footer(page: pikepdf.Page, font: pikepdf.Dictionary, number: int) -> None:
    """Writes a page-number footer into the page's own (single) content stream."""
    import pikepdf

    page.contents_coalesce()
    resource = page.add_resource(font, pikepdf.Name.Font, pikepdf.Name(FOOTER_FONT))
    contents = page.obj.Contents
    footer = f"BT {resource} 8 Tf 36 18 Td (Page {number}) Tj ET\n".encode()
    data = b"q\n" + contents.read_bytes() + b"\nQ\n" + footer
    contents.write(zlib.compress(data, 6), filter=pikepdf.Name.FlateDecode)


def _images(resources: object, depth: int = 0) -> Iterator[pikepdf.Stream]:
    """Yields the image XObjects (and their soft masks) a resource dictionary reaches."""
    import pikepdf

    if not isinstance(resources, pikepdf.Dictionary) or depth > 8:
        return
    xobjects = resources.get("/XObject")
    if not isinstance(xobjects, pikepdf.Dictionary):
        return
    for key in list(xobjects.keys()):
        xobject = xobjects[key]
        if not isinstance(xobject, pikepdf.Stream):
            continue
        if xobject.get("/Subtype") == "/Image":
            yield xobject
            mask = xobject.get("/SMask")
            if isinstance(mask, pikepdf.Stream):
                yield mask
        elif xobject.get("/Subtype") == "/Form":
            yield from _images(xobject.get("/Resources"), depth + 1)


def _mark_image(image: pikepdf.Stream, copy: int) -> int:
    """Puts the copy's number into the image's data; returns 1 if it could, else 0.

    JPEGs get one corner pixel changed and are re-encoded with their own quantisation
    tables and subsampling (Pillow's ``quality="keep"``); Flate images get the low bit of
    their last bytes changed (with a PNG predictor the last byte is the last sample's
    difference, so it changes that sample only) and are deflated again.
    """
    import pikepdf

    filters = image.get("/Filter")
    parms = image.get("/DecodeParms")
    if not isinstance(filters, pikepdf.Name | pikepdf.Array) or not isinstance(
        parms, pikepdf.Dictionary | pikepdf.Array | None
    ):
        return 0
    names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)]
    raw = image.read_raw_bytes()
    if names == ["/DCTDecode"]:
        data = _mark_jpeg(raw, copy)
    elif names == ["/FlateDecode", "/DCTDecode"]:
        data = zlib.compress(_mark_jpeg(zlib.decompress(raw), copy), 9)
    elif names == ["/FlateDecode"]:
        decoded = bytearray(zlib.decompress(raw))
        for bit in range(min(8, len(decoded))):
            if copy >> bit & 1:
                decoded[-1 - bit] ^= 1
        data = zlib.compress(bytes(decoded), 6)
    else:
        return 0
    image.write(data, filter=filters, decode_parms=parms)
    return 1


def _mark_jpeg(data: bytes, copy: int) -> bytes:
    from PIL import Image

    picture = Image.open(io.BytesIO(data))
    picture.load()
    if picture.mode not in ("L", "RGB"):
        raise ValueError(f"only grey and RGB JPEGs are marked, not {picture.mode}")
    corner = (picture.width - 1, picture.height - 1)
    value = (copy * 37) % 256
    picture.putpixel(corner, value if picture.mode == "L" else (value, value, value))
    out = io.BytesIO()
    icc = picture.info.get("icc_profile")
    picture.save(out, "JPEG", quality="keep", **({"icc_profile": icc} if icc else {}))
    return out.getvalue()


def _named_destinations(source: pikepdf.Pdf) -> dict[str, Any]:
    """Returns the source's named destinations (name tree and old ``/Dests`` dict)."""
    import pikepdf

    found: dict[str, Any] = {}
    names = source.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/Dests" in names:
        for key, value in pikepdf.NameTree(names.Dests).items():
            found[str(key)] = value
    dests = source.Root.get("/Dests")
    if isinstance(dests, pikepdf.Dictionary):
        for key, value in dests.items():
            found[key.lstrip("/")] = value
    return found


def _target(
    destination: object,
    destinations: dict[str, Any],
    source_index: dict[tuple[int, int], int],
) -> tuple[int, list[Any]] | None:
    """Resolves a destination to (source page index, the view operands after the page)."""
    import pikepdf

    if isinstance(destination, pikepdf.String | pikepdf.Name | str):
        destination = destinations.get(str(destination).lstrip("/"))
    if isinstance(destination, pikepdf.Dictionary):
        destination = destination.get("/D")
    if not isinstance(destination, pikepdf.Array) or len(destination) == 0:
        return None
    page = destination[0]
    if not isinstance(page, pikepdf.Dictionary) or page.objgen not in source_index:
        return None
    view = [_plain(item) for item in list(destination)[1:]]
    return source_index[page.objgen], view


def _plain(item: object) -> Any:
    """A direct destination operand as a value any Pdf accepts."""
    import pikepdf

    if isinstance(item, pikepdf.Name):
        return pikepdf.Name(str(item))
    if item is None:
        return None
    return float(item)  # type: ignore[arg-type]


def _resolve_link(
    annotation: pikepdf.Dictionary,
    destinations: dict[str, Any],
    source_index: dict[tuple[int, int], int],
    manual: pikepdf.Pdf,
    start: int,
    built: Built,
) -> None:
    """Turns a copied ``/Link``'s destination into an explicit ``/Dest`` in the copy."""
    import pikepdf

    if annotation.get("/Subtype") != "/Link":
        return
    built.link_annotations += 1
    action = annotation.get("/A")
    destination: object
    if "/Dest" in annotation:
        destination = annotation.Dest
    elif isinstance(action, pikepdf.Dictionary) and action.get("/S") == "/GoTo":
        destination = action.get("/D")
    else:
        return  # a URI or other action: kept as it is
    target = _target(destination, destinations, source_index)
    if target is None:
        built.links_unresolved += 1
        return
    index, view = target
    annotation.Dest = pikepdf.Array([manual.pages[start + index].obj, *view])
    if "/A" in annotation:
        del annotation["/A"]
    built.links_with_dest += 1


def _copy_outline(
    item: pikepdf.OutlineItem,
    destinations: dict[str, Any],
    source_index: dict[tuple[int, int], int],
    start: int,
) -> pikepdf.OutlineItem:
    import pikepdf

    destination: object = item.destination
    if destination is None and isinstance(item.action, pikepdf.Dictionary):
        destination = item.action.get("/D")
    target = _target(destination, destinations, source_index)
    copied = pikepdf.OutlineItem(item.title, start + (target[0] if target else 0))
    copied.children.extend(
        _copy_outline(child, destinations, source_index, start) for child in item.children
    )
    return copied


def _copy_fields(manual: pikepdf.Pdf, source: pikepdf.Pdf, copy: int, built: Built) -> None:
    """Adds the source's form fields (already copied as page widgets) to the manual's form."""
    import pikepdf

    acroform = source.Root.get("/AcroForm")
    if not isinstance(acroform, pikepdf.Dictionary) or "/Fields" not in acroform:
        return
    if "/AcroForm" not in manual.Root:
        manual.Root.AcroForm = manual.make_indirect(
            pikepdf.Dictionary(Fields=pikepdf.Array(), DR=pikepdf.Dictionary())
        )
    form = manual.Root.AcroForm
    for source_field in acroform.Fields:
        # The same foreign-object map as the pages': the widgets copied with the pages
        # come back, not new objects.
        copied = manual.copy_foreign(source_field)
        # Fields with one name are one field: each copy's fields get their own names.
        copied.T = pikepdf.String(f"{source_field.get('/T', 'field')}_v{copy}")
        form.Fields.append(copied)
    resources = acroform.get("/DR")
    if isinstance(resources, pikepdf.Dictionary):
        for kind, entries in resources.items():
            if kind not in form.DR:
                form.DR[kind] = pikepdf.Dictionary()
            into = form.DR[kind]
            if not isinstance(entries, pikepdf.Dictionary):
                continue
            for key, value in entries.items():
                if key not in into:
                    into[key] = _foreign(manual, value)
    for key in ("/DA", "/NeedAppearances"):
        if key in acroform and key not in form:
            form[key] = _foreign(manual, acroform[key])


def _foreign(manual: pikepdf.Pdf, value: object) -> object:
    """``value`` of another Pdf as an object of ``manual`` (qpdf copies indirect ones)."""
    import pikepdf

    if not isinstance(value, pikepdf.Object):
        return value  # pikepdf gives booleans and numbers as Python values
    if value.is_indirect:
        return manual.copy_foreign(value)
    if isinstance(value, pikepdf.Dictionary):
        return pikepdf.Dictionary({key: _foreign(manual, item) for key, item in value.items()})
    if isinstance(value, pikepdf.Array):
        return pikepdf.Array([_foreign(manual, item) for item in value])
    return value


def _share_font_programs(manual: pikepdf.Pdf) -> int:
    """Makes identical embedded font programs one object; returns how many were folded."""
    import pikepdf

    first: dict[bytes, pikepdf.Stream] = {}
    folded = 0
    for obj in manual.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != "/FontDescriptor":
            continue
        for key in ("/FontFile", "/FontFile2", "/FontFile3"):
            program = obj.get(key)
            if not isinstance(program, pikepdf.Stream):
                continue
            digest = hashlib.sha256(program.read_raw_bytes())
            for name, value in sorted(program.stream_dict.items()):
                if name != "/Length":
                    digest.update(f"{name}={value}".encode())
            original = first.setdefault(digest.digest(), program)
            if original.objgen != program.objgen:
                obj[key] = original
                folded += 1
    return folded


def _describe(path: Path, built: Built) -> None:
    """Counts what a reader sees of the saved manual, and checks copies share no stream."""
    import pikepdf

    seen = structure(path)
    if seen is None:
        raise RuntimeError(f"the manual just built does not open: {path}")
    built.bytes = path.stat().st_size
    built.pages = seen.pages
    built.outline_entries = seen.outlines
    built.fields = seen.fields
    owner: dict[tuple[int, int], int] = {}
    shared: set[tuple[int, int]] = set()
    images: set[tuple[int, int]] = set()
    with pikepdf.open(path) as pdf:
        for copy, (start, count) in enumerate(built.ranges):
            for page in pdf.pages[start : start + count]:
                pictures = list(_images(page.obj.get("/Resources")))
                images.update(picture.objgen for picture in pictures)
                for stream in [page.obj.Contents, *pictures]:
                    if owner.setdefault(stream.objgen, copy) != copy:
                        shared.add(stream.objgen)
    built.image_streams = len(images)
    built.shared_between_copies = len(shared)


def cache_path(corpus: Path) -> Path:
    """Where the manual built from this corpus is cached (its name changes with its inputs)."""
    digest = hashlib.sha256(f"v{BUILD_VERSION} {VOLUMES} {IMAGE_BUDGET}".encode())
    for name in SOURCES:
        digest.update(name.encode())
        digest.update(hashlib.sha256((corpus / name).read_bytes()).digest())
    return RESULTS / f"manual-{digest.hexdigest()[:12]}.pdf"


def manual(corpus: Path, rebuild: bool) -> Built:
    """Returns the cached manual's description, building it first if needed."""
    if not corpus.is_dir():
        raise CorpusMissingError(
            f"no corpus at {corpus}: the manual is built from its documents (run "
            "python benchmarks/fetch_corpus.py, or pass --corpus DIR)"
        )
    missing = [name for name in SOURCES if not (corpus / name).is_file()]
    if missing:
        raise CorpusMissingError(
            f"the manual is built from the corpus at {corpus}, which lacks "
            f"{', '.join(missing)} (python benchmarks/fetch_corpus.py downloads them, "
            "or pass --corpus DIR)"
        )
    path = cache_path(corpus)
    described = path.with_suffix(".json")
    if not rebuild and path.is_file() and described.is_file():
        return Built(**json.loads(described.read_text(encoding="utf-8")))
    for stale in RESULTS.glob("manual-*.*"):
        stale.unlink()  # earlier builds of this script: 25 MB each, never read again
    built = build(corpus, path)
    described.write_text(json.dumps(asdict(built)), encoding="utf-8")
    return built


# --- measuring -----------------------------------------------------------------------------


def print_built(built: Built) -> None:
    print(
        f"manual: {built.pages} pages, {built.bytes / MB:.1f} MiB ({built.bytes:,} bytes), "
        f"{built.parts} copied documents in {VOLUMES} volumes\n"
        f"  images: {built.image_streams} image streams "
        f"({built.images_marked} marked with their copy number)\n"
        f"  links: {built.link_annotations} /Link annotations, {built.links_with_dest} with "
        f"an explicit /Dest ({built.links_unresolved} unresolved)\n"
        f"  outline entries: {built.outline_entries}; form fields: {built.fields}\n"
        f"  font programs shared between copies: {built.font_programs_shared}; "
        f"content/image streams shared between copies: {built.shared_between_copies}\n"
        f"  {built.path}"
    )


def print_table(rows: list[Row], before: Structure) -> None:
    header = (
        f"{'tool':14} {'MB in':>7} {'MB out':>7} {'ratio':>6} {'wall s':>7} {'MB/s':>6} "
        f"{'peak MB':>7}  {'status':7} structure"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        out = row.bytes_out if row.bytes_out is not None else row.bytes_in
        throughput = row.bytes_in / MB / row.seconds if row.seconds else 0.0
        kept = {True: "kept", False: f"LOST {row.lost}", None: row.detail}[row.structure_kept]
        print(
            f"{row.tool:14} {row.bytes_in / MB:>7.2f} {out / MB:>7.2f} "
            f"{out / row.bytes_in:>6.3f} {row.seconds:>7.1f} {throughput:>6.2f} "
            f"{row.peak_rss_bytes / MB:>7.0f}  {row.status:7} {kept}"
        )
    print(
        f"\ninput structure: {before.pages} pages, {before.annotations} annotations, "
        f"{before.outlines} outline entries, {before.fields} fields, "
        f"{before.image_pages} pages drawing images"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--tools", nargs="+", choices=OUR_TOOLS, default=list(OUR_TOOLS))
    parser.add_argument("--rebuild", action="store_true", help="build the manual again")
    parser.add_argument("--build-only", action="store_true", help="build, describe, stop")
    args = parser.parse_args(argv)

    corpus = args.corpus.resolve()
    try:
        built = manual(corpus, args.rebuild)
    except CorpusMissingError as error:
        print(f"manual.py: {error}", file=sys.stderr)
        return 2
    print_built(built)
    if args.build_only:
        return 0
    src = Path(built.path)
    before = structure(src)
    if before is None:
        print(f"manual.py: the cached manual does not open: {src}", file=sys.stderr)
        return 1
    tools = [t for t in TOOLS if t.name in args.tools]
    missing = [t.name for t in tools if t.needs and shutil.which(t.needs) is None]
    if missing:
        print(f"skipping {', '.join(missing)}: not installed", file=sys.stderr)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="docpipe-manual-") as scratch:
        for tool in tools:
            if tool.name in missing:
                continue
            print(f"running {tool.name}", file=sys.stderr)
            dest = Path(scratch) / f"{tool.name}.pdf"
            row = measure(tool, src, dest)
            row.file = src.name
            compare(row, before, dest)
            rows.append(row)
            dest.unlink(missing_ok=True)
    print()
    print_table(rows, before)
    return 0 if all(row.status == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
