"""Test documents generated in code: text PDFs, images of every type, ZIP bundles.

Nothing here is a stand-in for product code: these are real files that real readers
open, made small and deterministic so tests stay fast and need no binaries in git.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any

import pikepdf
from PIL import Image, ImageDraw


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def pdf_of_objects(objects: list[bytes], trailer: bytes = b"", *, size: bool = True) -> bytes:
    """Returns a PDF of ``objects`` (numbered from 1, the catalog first) with a classic
    cross-reference table.

    Args:
        objects: Each object's body, e.g. ``b"<< /Type /Catalog /Pages 2 0 R >>"``.
        trailer: Raw entries added to the trailer after ``/Root``.
        size: Whether the trailer has its ``/Size`` (without it, readers must rebuild
            the cross-reference data).
    """
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    entries = (b"/Size %d " % (len(objects) + 1) if size else b"") + b"/Root 1 0 R " + trailer
    out.write(b"trailer\n<< " + entries + b">>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def text_pdf(
    pages: Sequence[str] | int = 1,
    *,
    extra_catalog: bytes = b"",
    size: tuple[int, int] = (612, 792),
) -> bytes:
    """Returns a valid PDF with one line of Helvetica text per page.

    Args:
        pages: The text of each page, or a page count (pages then read "Page N").
        extra_catalog: Raw entries added to the catalog, e.g. ``b"/OpenAction 9 0 R"``
            (objects it refers to must be given by the caller through the text).
        size: Page width and height in points.
    """
    texts = [f"Page {n + 1}" for n in range(pages)] if isinstance(pages, int) else list(pages)
    objects: list[bytes] = []
    page_ids = [4 + 2 * n for n in range(len(texts))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(texts))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for pid, text in zip(page_ids, texts, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] " % size
            + b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (pid + 1)
        )
        stream = b"BT /F1 18 Tf 72 %d Td " % (size[1] - 100) + _pdf_string(text) + b" Tj ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return pdf_of_objects(objects)


def font_descriptor(font_name: str, **font_file: Any) -> pikepdf.Dictionary:
    """Returns a simple font's /FontDescriptor with ordinary metrics (ascent 800, descent
    -200 in a 1000-unit em), embedding the program given as ``FontFile``, ``FontFile2``
    or ``FontFile3``.
    """
    return pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor,
        FontName=pikepdf.Name(font_name),
        Flags=32,
        FontBBox=[0, -200, 1000, 800],
        ItalicAngle=0,
        Ascent=800,
        Descent=-200,
        CapHeight=700,
        StemV=80,
        **font_file,
    )


def picture(width: int = 320, height: int = 240, mode: str = "RGB") -> Image.Image:
    """Returns a deterministic test picture with shapes and a gradient (photo-like)."""
    image = Image.linear_gradient("L").resize((width, height))
    rgb = Image.merge("RGB", (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image))
    draw = ImageDraw.Draw(rgb)
    draw.rectangle((width // 8, height // 8, width // 2, height // 2), fill=(200, 30, 30))
    draw.ellipse((width // 2, height // 3, width - 10, height - 10), fill=(30, 30, 200))
    if mode == "RGB":
        return rgb
    if mode == "RGBA":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize((width, height)))
        return rgba
    return rgb.convert(mode)


def image_bytes(
    fmt: str, *, width: int = 320, height: int = 240, mode: str = "RGB", **save
) -> bytes:
    """Returns ``picture()`` encoded as ``fmt`` (JPEG, PNG, TIFF, GIF, BMP, WEBP)."""
    out = io.BytesIO()
    picture(width, height, mode).save(out, format=fmt, **save)
    return out.getvalue()


def multipage_tiff(pages: int = 3, *, width: int = 200, height: int = 150) -> bytes:
    """Returns a TIFF with ``pages`` frames."""
    frames = [picture(width + 10 * n, height) for n in range(pages)]
    out = io.BytesIO()
    frames[0].save(
        out, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate"
    )
    return out.getvalue()


def zip_bundle(members: dict[str, bytes]) -> bytes:
    """Returns a ZIP archive holding ``members`` (name to bytes), deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# --- transform-stage documents: odd images and PDFs with active content -----------------


def exif_jpeg(orientation: int, *, width: int = 320, height: int = 200) -> bytes:
    """Returns a JPEG whose EXIF says to show it turned (``orientation`` 1-8)."""
    image = picture(width, height)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, dpi=(100, 100))
    return out.getvalue()


def cmyk_jpeg() -> bytes:
    """Returns a CMYK JPEG; Pillow writes it inverted with an Adobe segment, as Photoshop does."""
    out = io.BytesIO()
    picture(160, 120, "CMYK").save(out, format="JPEG", quality=90)
    return out.getvalue()


def animated(fmt: str, frames: int = 3, *, width: int = 120, height: int = 90) -> bytes:
    """Returns an animated GIF or WebP with ``frames`` visibly different frames."""
    images = [picture(width, height).rotate(30 * n) for n in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format=fmt, save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def pixel_bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """Returns a tiny PNG whose header declares ``width`` x ``height`` pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def active_content_pdf() -> bytes:
    """Returns a 2-page text PDF with JavaScript and launch actions everywhere they hide.

    Document JavaScript (/Names), /OpenAction JavaScript, catalog and page /AA, a link
    that launches a program, a form field with a JavaScript action and /AA, and a
    bookmark running JavaScript. Built with pikepdf so the structure is real.
    """
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(text_pdf(["Hello active", "Second page"])))
    js = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    root = pdf.Root
    root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("init"), js]))
    )
    root.OpenAction = pdf.make_indirect(js)
    root.AA = pikepdf.Dictionary(WC=js)
    page = pdf.pages[0].obj
    page.AA = pikepdf.Dictionary(O=js)
    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"), NewWindow=True)
    link = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[72, 72, 200, 100],
            A=launch,
        )
    )
    widget = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            FT=pikepdf.Name.Btn,
            T=pikepdf.String("button"),
            Rect=[72, 200, 200, 230],
            A=js,
            AA=pikepdf.Dictionary(E=js),
            P=page,
        )
    )
    page.Annots = pikepdf.Array([link, widget])
    root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([widget]))
    with pdf.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("Start", 0))
    first = root.Outlines.First
    first.A = pikepdf.Dictionary(
        S=pikepdf.Name.GoTo, D=[pdf.pages[0].obj, pikepdf.Name.Fit], Next=js
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def encrypted_pdf(*, user_password: str = "", owner_password: str | None = None) -> bytes:
    """Returns ``text_pdf(2)`` encrypted with AES-256 (owner-only if no user password)."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(text_pdf(["Secret one", "Secret two"])))
    owner = owner_password or "docpipe-test-owner"
    writer.encrypt(user_password=user_password, owner_password=owner, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
