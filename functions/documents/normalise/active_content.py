"""Active content removed from an opened PDF, counted by kind for the owner's report.

Active content is what runs without the reader asking: JavaScript (document-level,
on opening, in links, buttons and form fields), launch actions that start programs,
and additional actions (/AA) triggered by opening, closing, printing or hovering.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from functions.documents.normalise.pdf_objects import MAX_TREE_DEPTH, as_array, as_dict

if TYPE_CHECKING:
    import pikepdf


#: How far a chain of /Next actions is followed.
_MAX_ACTION_CHAIN = 64


# What each kind of removal tells the document's owner; {n} is how many were removed.
_REMOVALS = {
    "document_javascript": "Removed the document's own JavaScript.",
    "open_javascript": "Removed JavaScript that ran when the document opened.",
    "open_launch": "Removed an action that started a program when the document opened.",
    "document_actions": "Removed actions the document ran on its own when it was closed, "
    "saved or printed.",
    "page_actions": "Removed actions that ran on their own when {n} page(s) opened or closed.",
    "annotation_actions": "Removed actions that ran on their own from {n} link(s), "
    "annotation(s) or form field(s).",
    "javascript_actions": "Removed JavaScript from {n} link(s), button(s), form field(s) "
    "or bookmark(s).",
    "launch_actions": "Removed {n} link(s) or bookmark(s) that would start another program.",
    "xfa_scripts": "Removed {n} script(s) from the document's XFA form.",
    "xfa_forms": "Removed the document's XFA form, whose scripts could not be read; its "
    "other form fields remain.",
}

# A <script> element of an XFA packet (with any namespace prefix), empty or with content;
# XFA keeps scripts in <script> elements only (in events, calculations, validations and
# <variables>), in the template packet and in form packets of filled forms.
_XFA_SCRIPT = re.compile(
    rb"<(?P<tag>(?:[A-Za-z_][\w.-]*:)?script)\b[^>]*?(?:/>|>.*?</(?P=tag)\s*>)", re.DOTALL
)


def removal_notes(removed: Counter[str]) -> list[str]:
    """Sentences for the document's owner, one per kind of active content removed."""
    return [_REMOVALS[kind].format(n=count) for kind, count in removed.items()]


def _action_kind(action: Any) -> str | None:
    """Returns "javascript" or "launch" if an action (or one it chains to) is active."""
    seen: set[tuple[int, int]] = set()
    pending = [action]
    steps = 0
    while pending and steps < _MAX_ACTION_CHAIN:
        steps += 1
        current = as_dict(pending.pop())
        if current is None:
            continue
        if current.is_indirect:
            if current.objgen in seen:
                continue
            seen.add(current.objgen)
        kind = str(current.get("/S", ""))
        # A Rendition action may carry JavaScript in /JS too.
        if kind == "/JavaScript" or "/JS" in current:
            return "javascript"
        if kind == "/Launch":
            return "launch"
        chained = current.get("/Next")
        items = as_array(chained)
        pending.extend(items if items is not None else [chained])
    return None


def remove_active_content(pdf: pikepdf.Pdf, removed: Counter[str]) -> None:
    root = pdf.Root
    names = as_dict(root.get("/Names"))
    if names is not None and "/JavaScript" in names:
        del names["/JavaScript"]
        removed["document_javascript"] += 1
    open_action = root.get("/OpenAction")
    kind = _action_kind(open_action) if as_dict(open_action) is not None else None
    if kind is not None:
        del root["/OpenAction"]
        removed[f"open_{kind}"] += 1
    if "/AA" in root:
        del root["/AA"]
        removed["document_actions"] += 1
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        page_dict = page.obj
        if "/AA" in page_dict:
            del page_dict["/AA"]
            removed["page_actions"] += 1
        annotations = as_array(page_dict.get("/Annots"))
        for annotation in annotations if annotations is not None else []:
            _clean_holder(as_dict(annotation), seen, removed)
    form = as_dict(root.get("/AcroForm"))
    if form is not None:
        for node in _tree(form.get("/Fields"), "/Kids"):
            _clean_holder(node, seen, removed)
        _remove_xfa_scripts(form, removed)
    outlines = as_dict(root.get("/Outlines"))
    if outlines is not None:
        for node in _outline(outlines.get("/First")):
            _clean_holder(node, seen, removed)


def _clean_holder(
    holder: pikepdf.Dictionary | None, seen: set[tuple[int, int]], removed: Counter[str]
) -> None:
    """Removes /AA and an active /A from an annotation, form field or bookmark."""
    if holder is None:
        return
    if holder.is_indirect:
        if holder.objgen in seen:
            return
        seen.add(holder.objgen)
    if "/AA" in holder:
        del holder["/AA"]
        removed["annotation_actions"] += 1
    kind = _action_kind(holder.get("/A")) if "/A" in holder else None
    if kind is not None:
        del holder["/A"]
        removed[f"{kind}_actions"] += 1


def _tree(nodes: Any, children: str) -> Iterator[pikepdf.Dictionary]:
    """Yields every dictionary of a tree of arrays (form fields and their /Kids)."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(nodes, 0)]
    while stack:
        value, depth = stack.pop()
        items = as_array(value)
        if items is None or depth > MAX_TREE_DEPTH:
            continue
        for item in items:
            node = as_dict(item)
            if node is None:
                continue
            if node.is_indirect:
                if node.objgen in seen:
                    continue
                seen.add(node.objgen)
            yield node
            stack.append((node.get(children), depth + 1))


def _outline(first: Any) -> Iterator[pikepdf.Dictionary]:
    """Yields every bookmark of an outline (siblings by /Next, children by /First)."""
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(first, 0)]
    while stack:
        value, depth = stack.pop()
        node = as_dict(value)
        while node is not None and depth <= MAX_TREE_DEPTH:
            if node.is_indirect:
                if node.objgen in seen:
                    break
                seen.add(node.objgen)
            yield node
            stack.append((node.get("/First"), depth + 1))
            node = as_dict(node.get("/Next"))


def _remove_xfa_scripts(form: pikepdf.Dictionary, removed: Counter[str]) -> None:
    """Removes every <script> element from the XFA packets of a form.

    ``/XFA`` is one stream holding the whole XDP document, or an array alternating
    packet names and streams; a packet never splits an element, so each stream is
    cleaned on its own.
    """
    import pikepdf

    xfa = form.get("/XFA")
    streams = [xfa] if isinstance(xfa, pikepdf.Stream) else []
    items = as_array(xfa)
    if items is not None:
        streams = [item for item in items if isinstance(item, pikepdf.Stream)]
    for stream in streams:
        try:
            data = stream.read_bytes()
        except pikepdf.PdfError:
            # Scripts that cannot be read cannot be removed: the XFA form goes, and
            # readers fall back to the AcroForm fields every XFA form carries.
            del form["/XFA"]
            removed["xfa_forms"] += 1
            return
        cleaned, count = _XFA_SCRIPT.subn(b"", data)
        if count:
            stream.write(cleaned)
            removed["xfa_scripts"] += count
