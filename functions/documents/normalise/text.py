"""The text layer of a normalised PDF, page by page, extracted with pypdf."""

from __future__ import annotations

from pathlib import Path

from functions.documents.normalise.pypdf_tolerance import pypdf_errors, quiet_pypdf


def extract_text(path: Path, pages: int) -> tuple[list[str], list[int]]:
    """Extracts the text of each page of the PDF at ``path`` with pypdf.

    Returns:
        The text of every page (empty for a page without text or whose text failed),
        and the 1-based numbers of the pages whose extraction failed.
    """
    import warnings

    from pypdf import PdfReader

    # pypdf raises these for malformed content streams and fonts; one page's failure
    # must not cost the document its other pages' text.
    errors = pypdf_errors()
    texts: list[str] = []
    failed: list[int] = []
    with open(path, "rb") as handle, warnings.catch_warnings(), quiet_pypdf():
        # pypdf warns about every oddity it tolerates; they are not the owner's concern.
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(handle, strict=False)
            count = len(reader.pages)
        except errors:
            return [""] * pages, list(range(1, pages + 1))
        for number in range(count):
            try:
                text = reader.pages[number].extract_text()
            except errors:
                failed.append(number + 1)
                text = ""
            texts.append(text or "")
    return texts, failed
