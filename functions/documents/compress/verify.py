"""Every output is reopened before it is published: qpdf and pypdf, the same page count.

The compressed copy must open in qpdf without a repair (unless the input needed the same)
and show the input's page count in qpdf and in pypdf. If it does not, the input is
published instead: qpdf has read all its pages, or the document has already failed as
damaged (docs/ARCHITECTURE.md, "Document code").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from functions.documents.normalise.pypdf_tolerance import pypdf_errors, quiet_pypdf


@dataclass(frozen=True)
class Reopened:
    """How a written PDF reads.

    Attributes:
        qpdf_pages: Pages qpdf (pikepdf) finds, None if it cannot open the file.
        qpdf_repaired: qpdf had to repair the file to read it.
        pypdf_pages: Pages pypdf finds, None if it cannot read the file.
    """

    qpdf_pages: int | None
    qpdf_repaired: bool
    pypdf_pages: int | None


def reopen(path: Path) -> Reopened:
    """Opens ``path`` with qpdf and with pypdf and counts its pages in each."""
    import pikepdf

    qpdf_pages: int | None = None
    repaired = False
    try:
        with pikepdf.open(path) as pdf:
            qpdf_pages = len(pdf.pages)
            repaired = bool(pdf.get_warnings())
    except (pikepdf.PdfError, RuntimeError, ValueError, OSError):
        qpdf_pages = None
    return Reopened(qpdf_pages=qpdf_pages, qpdf_repaired=repaired, pypdf_pages=_pypdf_pages(path))


def _pypdf_pages(path: Path) -> int | None:
    """Pages pypdf finds in ``path``, None if it cannot read the file."""
    from pypdf import PdfReader

    with open(path, "rb") as handle, warnings.catch_warnings(), quiet_pypdf():
        warnings.simplefilter("ignore")
        try:
            return len(PdfReader(handle, strict=False).pages)
        except pypdf_errors():
            return None


def output_problem(output: Reopened, source_repaired: bool, pages: int) -> str | None:
    """Returns what is wrong with a compressed copy, or None if it may be published.

    Args:
        output: How the copy reads.
        source_repaired: qpdf had to repair the input: the copy may need the same repair.
        pages: The input's page count.
    """
    if output.qpdf_pages is None:
        return "qpdf cannot open it"
    if output.qpdf_repaired and not source_repaired:
        return "qpdf must repair it to read it"
    if output.qpdf_pages != pages:
        return f"qpdf finds {output.qpdf_pages} pages instead of {pages}"
    if output.pypdf_pages is None:
        return "pypdf cannot read it"
    if output.pypdf_pages != pages:
        return f"pypdf finds {output.pypdf_pages} pages instead of {pages}"
    return None
