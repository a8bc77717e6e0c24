"""What an image's samples are: colour components of its colour space, and its filters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf


COMPONENTS_TO_MODE = {1: "L", 3: "RGB", 4: "CMYK"}


def image_components(pdf_image: pikepdf.Stream) -> int | None:
    """Returns the colour components of an image's colour space when re-encoding is safe."""
    return space_components(pdf_image.get("/ColorSpace"))


def space_components(space: Any) -> int | None:
    """Returns the colour components of a colour space whose samples JPEG can hold."""
    import pikepdf

    if isinstance(space, pikepdf.Name):
        return {"/DeviceGray": 1, "/DeviceRGB": 3, "/DeviceCMYK": 4}.get(str(space))
    if isinstance(space, pikepdf.Array) and len(space) >= 1:
        family = str(space[0])
        if family == "/ICCBased" and len(space) == 2 and isinstance(space[1], pikepdf.Stream):
            n = space[1].get("/N")
            return int(n) if n in (1, 3, 4) else None
        if family == "/CalGray":
            return 1
        if family == "/CalRGB":
            return 3
    # Indexed (see indexed_palette), Separation, DeviceN, Lab and missing colour spaces keep
    # their images.
    return None


def stream_filters(stream: pikepdf.Stream) -> list[str]:
    import pikepdf

    value = stream.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Array):
        return [str(item) for item in value]
    return [str(value)]


LOSSLESS_FILTERS = {"/FlateDecode", "/LZWDecode", "/RunLengthDecode", "/ASCII85Decode",
                     "/ASCIIHexDecode"}  # fmt: skip
