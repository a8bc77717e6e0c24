"""CMYK images converted to sRGB through their ICC profile, and CMYK JPEGs' inversion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf


# An image's /Intent, as the littleCMS rendering intent (PIL.ImageCms.Intent values);
# PDF's default is relative colorimetric.
_INTENTS = {
    "/Perceptual": 0,
    "/RelativeColorimetric": 1,
    "/Saturation": 2,
    "/AbsoluteColorimetric": 3,
}


def inverted_decode(decode: Any, components: int) -> pikepdf.Array | None:
    """Returns the Decode array that shows inverted samples as ``decode`` showed the originals.

    Pillow writes CMYK JPEGs as Photoshop does: every sample inverted, with an Adobe
    segment. PDF readers do not undo that by themselves (a CMYK JPEG's samples are taken
    as they are stored, whatever its markers), so the inversion moves into the Decode
    array: each component's pair is swapped, ``[0 1]`` (the default) becoming ``[1 0]``.
    Returns None when ``decode`` is not one pair of numbers per component.
    """
    import pikepdf

    if decode is None:
        pairs = [0.0, 1.0] * components
    else:
        try:
            pairs = [float(value) for value in decode]
        except (TypeError, ValueError):
            return None
        if len(pairs) != 2 * components:
            return None
    swapped: list[float] = []
    for low, high in zip(pairs[0::2], pairs[1::2], strict=True):
        swapped += [high, low]
    return pikepdf.Array([int(v) if v.is_integer() else v for v in swapped])


@dataclass(frozen=True)
class CmykToRgb:
    """Turns a CMYK image's decoded pixels into sRGB through its ICC profile.

    Attributes:
        transform: The littleCMS transform (``PIL.ImageCms.ImageCmsTransform``).
        invert: Whether the decoded pixels are inverted from what the profile expects.
    """

    transform: Any
    invert: bool


def build_transform(profile: pikepdf.Stream, intent: Any) -> Any:
    """Returns a CMYK-to-sRGB transform through an embedded profile, or None if unusable.

    Black point compensation is on, as PDF viewers draw on screen: without it the
    profile's printed black (never 0 on paper) would come out as dark grey.
    """
    import io

    import pikepdf
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile.read_bytes()))
        if source.profile.xcolor_space.strip() != "CMYK":
            return None
        return ImageCms.buildTransform(
            source,
            ImageCms.createProfile("sRGB"),
            "CMYK",
            "RGB",
            renderingIntent=intent,
            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
        )
    except (ImageCms.PyCMSError, OSError, ValueError, pikepdf.PdfError):
        return None


def cmyk_to_rgb(
    image: pikepdf.Stream,
    profile: pikepdf.Stream,
    *,
    jpeg: bool,
    cache: dict[tuple[tuple[int, int], int], Any],
) -> CmykToRgb | None:
    """Returns how to turn a CMYK image's decoded pixels into sRGB through ``profile``.

    None when that cannot be done faithfully: a Decode array other than the identity
    or the full inversion, or a profile littleCMS cannot use. ``cache`` keeps one
    transform per (profile, rendering intent) for the document.
    """
    from PIL import ImageCms

    decode = image.get("/Decode")
    try:
        pairs = [float(v) for v in decode] if decode is not None else [0.0, 1.0] * 4
    except (TypeError, ValueError):
        return None
    if pairs not in ([0.0, 1.0] * 4, [1.0, 0.0] * 4):
        return None
    # Pillow decodes CMYK JPEGs inverted and other images as stored; the profile
    # wants the samples as the Decode array shows them.
    invert = jpeg != (pairs == [1.0, 0.0] * 4)
    intent = _INTENTS.get(str(image.get("/Intent", "")), ImageCms.Intent.RELATIVE_COLORIMETRIC)
    key = (profile.objgen, int(intent))
    if key not in cache:
        cache[key] = build_transform(profile, intent)
    transform = cache[key]
    return None if transform is None else CmykToRgb(transform, invert)
