"""Objects the saved file need not hold: unused page resources, and duplicate streams."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from functions.documents.compress.report import PassResult

if TYPE_CHECKING:
    import pikepdf


# Streams smaller than this are not worth hashing for duplicates: their share of any
# real document is negligible, and there are many of them.
_MIN_DEDUP_BYTES = 256
# An indirect reference as qpdf serialises it ("12 0 R"), its object and generation.
_REFERENCE = re.compile(rb"(\d+ \d+) R")


def remove_unreferenced_resources(pdf: pikepdf.Pdf) -> None:
    """Drops page resources (fonts, images, forms) that no content stream draws.

    Producers often give every page the document's whole resource dictionary; qpdf
    keeps a resource a page's content names and drops only the rest. Finding them
    parses every content stream (1.4 ms a page of a text manual), so, as qpdf's own
    ``--remove-unreferenced-resources=auto`` does, it is done only where resources are
    shared: a page whose resources are its own names what it draws.
    """
    if resources_shared(pdf):
        pdf.remove_unreferenced_resources()


def resources_shared(pdf: pikepdf.Pdf) -> bool:
    """Tells whether pages or their forms share a resource or XObject dictionary.

    qpdf's heuristic: resources on an intermediate page-tree node (inherited by its
    pages), or one indirect /Resources or /XObject dictionary reached twice from pages
    and the form XObjects they draw.
    """
    import pikepdf

    seen_nodes: set[tuple[int, int]] = set()
    seen_resources: set[tuple[int, int]] = set()
    queue: list[object] = [pdf.Root.get("/Pages")]
    while queue:
        node = queue.pop()
        if not isinstance(node, pikepdf.Dictionary | pikepdf.Stream):
            continue
        if node.is_indirect:
            if node.objgen in seen_nodes:
                continue
            seen_nodes.add(node.objgen)
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            if "/Resources" in node:
                return True
            queue.extend(kids)
            continue
        resources = node.get("/Resources")
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        for shared in (resources, xobjects):
            if isinstance(shared, pikepdf.Object) and shared.is_indirect:
                if shared.objgen in seen_resources:
                    return True
                seen_resources.add(shared.objgen)
        if isinstance(xobjects, pikepdf.Dictionary):
            queue.extend(
                xobject
                for xobject in xobjects.values()
                if isinstance(xobject, pikepdf.Stream) and xobject.get("/Subtype") == "/Form"
            )
    return False


def share_identical_streams(pdf: pikepdf.Pdf) -> PassResult:
    """Makes identical streams one object, so that the saved file holds each once.

    Documents assembled from parts (merged reports, mail merges, scanned batches) embed
    the same font program, logo or form many times. A stream is a duplicate of another
    when its dictionary (apart from ``/Length``) and its raw bytes are equal; references
    to it are redirected to the first, and the duplicates become unreachable, so qpdf
    does not write them.

    Returns:
        How many duplicates were dropped, and their stored sizes (after: 0).
    """
    import pikepdf

    result = PassResult("shared")
    first: dict[bytes, pikepdf.Object] = {}
    duplicate_of: dict[tuple[int, int], pikepdf.Object] = {}
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        raw = obj.read_raw_bytes()
        if len(raw) < _MIN_DEDUP_BYTES:
            continue
        digest = hashlib.sha256(raw)
        digest.update(_dictionary_key(obj))
        key = digest.digest()
        if key in first:
            duplicate_of[obj.objgen] = first[key]
            result = result.add(len(raw), 0)
        else:
            first[key] = obj
    if not duplicate_of:
        return result
    # Only containers whose serialised form names a duplicate are walked key by key:
    # qpdf serialises each in C++, where a Python walk of every object's every key
    # took seconds on a 1,333-page manual. Pages are objects too; streams are always
    # indirect, so a reference is all a container can hold of one.
    duplicates = {b"%d %d" % objgen for objgen in duplicate_of}
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            text = obj.stream_dict.unparse(resolved=True)
        elif isinstance(obj, pikepdf.Dictionary | pikepdf.Array):
            text = obj.unparse(resolved=True)
        else:
            continue
        if any(ref in duplicates for ref in _REFERENCE.findall(text)):
            _redirect(obj, duplicate_of)
    _redirect(pdf.trailer, duplicate_of)
    return result


def _dictionary_key(stream: pikepdf.Stream) -> bytes:
    """Returns the stream dictionary without ``/Length``, serialised for comparison."""
    items = sorted((str(key), value) for key, value in stream.stream_dict.items())
    return repr([(key, _unparse(value)) for key, value in items if key != "/Length"]).encode()


def _unparse(value: object) -> bytes | object:
    import pikepdf

    if isinstance(value, pikepdf.Object):
        return value.unparse()
    return value


def _redirect(
    container: pikepdf.Object, duplicate_of: dict[tuple[int, int], pikepdf.Object]
) -> None:
    """Points direct children of ``container`` that are duplicates to their original."""
    import pikepdf

    if isinstance(container, pikepdf.Array):
        for index, item in enumerate(container):
            target = _replacement(item, duplicate_of)
            if target is not None:
                container[index] = target
            elif isinstance(item, pikepdf.Dictionary | pikepdf.Array) and not item.is_indirect:
                _redirect(item, duplicate_of)
        return
    for key in list(container.keys()):
        item = container[key]
        target = _replacement(item, duplicate_of)
        if target is not None:
            container[key] = target
        elif isinstance(item, pikepdf.Dictionary | pikepdf.Array) and not item.is_indirect:
            _redirect(item, duplicate_of)


def _replacement(
    item: object, duplicate_of: dict[tuple[int, int], pikepdf.Object]
) -> pikepdf.Object | None:
    import pikepdf

    if isinstance(item, pikepdf.Stream) and item.is_indirect:
        return duplicate_of.get(item.objgen)
    return None
