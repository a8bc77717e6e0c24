"""Default CMYK colour spaces the lossy profiles no longer need.

A page may name an ICC profile as its ``/DefaultCMYK`` (PDF 32000-1 §8.6.5.6): everything
the page paints in DeviceCMYK is then shown through that profile. Scanning software
attaches a print profile this way (ocr_cmyk: 390 KB of SWOP for six 14 KB images). Once
the image pass has converted those images to sRGB through the profile, nothing on the
page paints DeviceCMYK any more and the profile is dead weight; removing the entry lets
the save drop the profile (429 KB to 33 KB on ocr_cmyk in ``ebook``).

The entry is removed only when the page's own content certainly paints nothing in
DeviceCMYK. Anything this module does not follow keeps it: colour operators ``k``/``K``,
``cs``/``CS``/``scn`` that name DeviceCMYK or a resource colour space built on it, inline
images, shadings and patterns, Type 3 fonts (their glyphs use the page's resources),
DeviceCMYK images, forms without their own resources (they paint in the page's scope),
and content that cannot be parsed. Forms with their own resources are their own scope
(§8.6.5.6), as are annotation appearances.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf

# Operators whose use of colour this module cannot follow through the resources.
_UNFOLLOWED = frozenset({"sh", "BI", "INLINE IMAGE"})
# Deepest nesting of resource-less forms followed; beyond it the entry is kept.
_MAX_DEPTH = 8


def drop_unused_default_cmyk(pdf: pikepdf.Pdf) -> int:
    """Removes ``/DefaultCMYK`` from pages that paint nothing in DeviceCMYK.

    Returns:
        How many pages lost the entry.
    """
    import pikepdf

    dropped = 0
    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        spaces = resources.get("/ColorSpace")
        if not isinstance(spaces, pikepdf.Dictionary) or "/DefaultCMYK" not in spaces:
            continue
        try:
            uses_cmyk = _paints_cmyk(page, resources, depth=0)
        except pikepdf.PdfError:
            continue  # unparsable content keeps what it has
        if not uses_cmyk:
            if spaces.is_indirect:
                # Shared by other pages, which decide for themselves: give this one a copy.
                spaces = pikepdf.Dictionary(dict(spaces.items()))
                resources.ColorSpace = spaces
            del spaces["/DefaultCMYK"]
            dropped += 1
    return dropped


def _paints_cmyk(content: Any, resources: pikepdf.Dictionary, depth: int) -> bool:
    """Tells whether ``content`` may paint anything in DeviceCMYK in this resource scope."""
    import pikepdf

    if depth > _MAX_DEPTH:
        return True
    if "/Pattern" in resources or "/Shading" in resources or _has_type3_font(resources):
        return True
    if _has_soft_mask(resources) or _mentions_cmyk(_group_space(content)):
        return True  # soft-mask groups and a CMYK blending space are not followed
    spaces = resources.get("/ColorSpace")
    xobjects = resources.get("/XObject")
    for instruction in pikepdf.parse_content_stream(content):
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            return True
        op = str(instruction.operator)
        operands = instruction.operands
        if op in ("k", "K") or op in _UNFOLLOWED:
            return True
        if op in ("cs", "CS") and operands:
            if _space_uses_cmyk(operands[0], spaces):
                return True
        elif op == "Do" and operands and isinstance(xobjects, pikepdf.Dictionary):
            xobject = xobjects.get(str(operands[0]))
            if isinstance(xobject, pikepdf.Stream) and _xobject_paints_cmyk(
                xobject, resources, depth
            ):
                return True
    return False


def _xobject_paints_cmyk(
    xobject: pikepdf.Stream, resources: pikepdf.Dictionary, depth: int
) -> bool:
    import pikepdf

    subtype = xobject.get("/Subtype")
    if subtype == "/Image":
        if xobject.get("/ImageMask", False):
            return False  # a stencil paints in the current colour, followed by cs/k
        space = xobject.get("/ColorSpace")
        return space is None or _mentions_cmyk(space)
    if subtype == "/Form":
        own = xobject.get("/Resources")
        if isinstance(own, pikepdf.Dictionary):
            return False  # its own scope: the page's default does not apply inside
        return _paints_cmyk(xobject, resources, depth + 1)
    return True  # PostScript XObjects and unknown kinds


def _space_uses_cmyk(name: Any, spaces: Any) -> bool:
    """Tells whether a ``cs`` operand is DeviceCMYK or a resource built on it."""
    import pikepdf

    key = str(name)
    if key in ("/DeviceRGB", "/DeviceGray", "/RGB", "/G"):
        return False
    if key in ("/DeviceCMYK", "/CMYK", "/Pattern"):
        return True  # a pattern's own colours are not followed
    if not isinstance(spaces, pikepdf.Dictionary) or key not in spaces:
        return True  # an unknown name: assume the worst
    return _mentions_cmyk(spaces[key])


def _mentions_cmyk(space: Any, depth: int = 0) -> bool:
    """Tells whether a colour space is DeviceCMYK or has it as a base or alternate."""
    import pikepdf

    if depth > 4:
        return True
    if isinstance(space, pikepdf.Name):
        return str(space) in ("/DeviceCMYK", "/CMYK")
    if isinstance(space, pikepdf.Array):
        return any(
            _mentions_cmyk(item, depth + 1)
            for item in space
            if isinstance(item, pikepdf.Name | pikepdf.Array)
        )
    return False


def _has_type3_font(resources: pikepdf.Dictionary) -> bool:
    import pikepdf

    fonts = resources.get("/Font")
    if not isinstance(fonts, pikepdf.Dictionary):
        return False
    return any(
        isinstance(font, pikepdf.Dictionary) and font.get("/Subtype") == "/Type3"
        for font in fonts.values()
    )


def _has_soft_mask(resources: pikepdf.Dictionary) -> bool:
    import pikepdf

    states = resources.get("/ExtGState")
    if not isinstance(states, pikepdf.Dictionary):
        return False
    return any(
        isinstance(state, pikepdf.Dictionary)
        and isinstance(state.get("/SMask"), pikepdf.Dictionary)
        for state in states.values()
    )


def _group_space(content: Any) -> Any:
    """Returns the blending colour space of a page's or form's transparency group."""
    import pikepdf

    obj = content.obj if isinstance(content, pikepdf.Page) else content
    group = obj.get("/Group")
    return group.get("/CS") if isinstance(group, pikepdf.Dictionary) else None
