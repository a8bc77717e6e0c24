"""An image's pixels encoded again at their target size: JPEG for photos, Flate otherwise.

JPEGs are decoded with Pillow's ``draft()``, which lets libjpeg scale by 1/2, 1/4 or 1/8
while decoding; other images are decoded by qpdf (predictors included, in C++), except
large Flate images that are downsampled: those are reduced by strips (:mod:`.strips`),
so an image's size never sets the peak memory. Each encoder returns the new data, its
filter and its size, or None when the image is better kept as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.documents.compress.deflate import deflate_level
from functions.documents.compress.images import strips
from functions.documents.compress.images.colour import CmykToRgb
from functions.documents.compress.images.palette import Palette
from functions.documents.compress.images.photo import is_photo, palette_is_photo
from functions.documents.compress.images.policy import ImagePolicy, estimate_jpeg_quality

if TYPE_CHECKING:
    import pikepdf
    from PIL import Image

#: New data, its filter name and its pixel size.
Encoded = tuple[bytes, str, tuple[int, int]]

# Largest decoded image (bytes) the pass will hold in memory at once. A bigger image is
# kept as it is, so that one image never decides the function's peak memory.
MAX_DECODED_BYTES = 256 * 1024 * 1024


class TooBigToDecodeError(Exception):
    """The image is too large to decode whole and cannot be reduced by strips: it is kept."""


def from_jpeg(
    raw: bytes,
    mode: str,
    target: tuple[int, int],
    policy: ImagePolicy,
    to_rgb: CmykToRgb | None = None,
) -> Encoded | None:
    """Re-encodes a DCT image at ``target``, unless it is already small and compressed."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(raw)) as source:
        if source.mode != mode:
            return None  # the JPEG disagrees with its dictionary: keep it untouched
        quality = estimate_jpeg_quality(source)
        if (
            to_rgb is None
            and target == source.size
            and (quality is None or quality <= policy.requality_above)
        ):
            # Already small and already compressed: no generation loss (a CMYK JPEG
            # that can become sRGB is re-encoded: that frees its ICC profile).
            return None
        source.draft(mode, target)
        picture = source.convert(mode) if source.mode != mode else source
        picture = resize(picture, target)
        return encode_jpeg(picture, policy, to_rgb), "/DCTDecode", picture.size


def from_lossless(
    image: pikepdf.Stream,
    mode: str,
    target: tuple[int, int],
    policy: ImagePolicy,
    to_rgb: CmykToRgb | None = None,
) -> Encoded | None:
    """Re-encodes an image with lossless filters: a photo as JPEG, a drawing as Flate.

    Raises:
        TooBigToDecodeError: Too large to decode whole, and not reducible by strips.
    """
    from PIL import Image
    from zlib_ng import zlib_ng

    width, height = int(image["/Width"]), int(image["/Height"])
    components = len(mode)
    expected = width * height * components
    factor = min(width // target[0], height // target[1])
    if factor >= 2 and expected > strips.STRIP_BYTES and strips.plain_flate(image):
        # Large and downsampled: inflate and reduce by strips, memory bounded by a
        # strip and the reduced image whatever the image's size.
        reduced, photo = strips.reduce_flate_by_strips(
            image.read_raw_bytes(), mode, width, height, components, factor
        )
        resized = resize(reduced, target)
    else:
        if expected > MAX_DECODED_BYTES:
            raise TooBigToDecodeError
        data = image.read_bytes()
        if len(data) < expected:
            raise ValueError("image data is shorter than its dimensions")
        picture = Image.frombuffer(mode, (width, height), data, "raw", mode, 0, 1)
        photo = is_photo(picture)
        resized = resize(picture, target)
    if photo:
        return encode_jpeg(resized, policy, to_rgb), "/DCTDecode", resized.size
    if resized.size == (width, height):
        return None  # a drawing at its resolution: the save recompresses it losslessly
    pixels = resized.tobytes()
    return zlib_ng.compress(pixels, deflate_level(len(pixels))), "/FlateDecode", resized.size


def from_palette(
    image: pikepdf.Stream, palette: Palette, mode: str, target: tuple[int, int], policy: ImagePolicy
) -> Encoded | None:
    """Expands a palette photo to its base colour space and encodes it as a JPEG.

    Palette drawings (charts, logos, screenshots) return None: their flat colours are
    what Flate compresses best and what JPEG blurs.

    Raises:
        TooBigToDecodeError: Its expanded pixels would be too large to hold.
    """
    from PIL import Image

    width, height = int(image["/Width"]), int(image["/Height"])
    if width * height * (1 + palette.components) > MAX_DECODED_BYTES:
        raise TooBigToDecodeError
    data = image.read_bytes()
    if len(data) < width * height:
        raise ValueError("image data is shorter than its dimensions")
    indices = Image.frombuffer("L", (width, height), data, "raw", "L", 0, 1)
    if not palette_is_photo(indices):
        return None
    bands = [indices.point(list(table)) for table in palette.lookup]
    picture = bands[0] if mode == "L" else Image.merge(mode, bands)
    resized = resize(picture, target)
    return encode_jpeg(resized, policy), "/DCTDecode", resized.size


def encode_jpeg(
    picture: Image.Image, policy: ImagePolicy, to_rgb: CmykToRgb | None = None
) -> bytes:
    """Encodes ``picture`` as a JPEG at the policy's quality, in sRGB if ``to_rgb`` says."""
    import io

    from PIL import ImageChops, ImageCms

    if to_rgb is not None and picture.mode == "CMYK":
        if to_rgb.invert:
            picture = ImageChops.invert(picture)
        rgb = ImageCms.applyTransform(picture, to_rgb.transform)
        if rgb is None:  # returned only when transforming in place, not asked for here
            raise ValueError("the colour conversion returned no image")
        picture = rgb

    out = io.BytesIO()
    # optimize computes Huffman tables for this image: a few percent smaller, and
    # cheap next to the decode; no progressive mode, which some viewers draw slowly.
    picture.save(out, format="JPEG", quality=policy.jpeg_quality, optimize=True)
    return out.getvalue()


def resize(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resizes with reduce() by the whole factor, then a Lanczos step for the remainder."""
    from PIL import Image

    if picture.size == size:
        return picture
    # reduce() first (box filter by an integer factor, fast), then a Lanczos step for
    # the remainder: the quality of a full Lanczos at a fraction of its cost.
    factor = min(picture.width // size[0], picture.height // size[1])
    if factor >= 2:
        picture = picture.reduce(factor)
    return picture.resize(size, Image.Resampling.LANCZOS)
