"""The image rewriter: each image a :class:`PlacementFinder` found, re-encoded once.

An image used several times, on one page or on many, is one object and is re-encoded
once, at the resolution its largest use needs (:func:`.policy.target_size`). A
re-encoded image replaces the original only when its stream is smaller; streams it
writes are final (JPEG, or Flate at :func:`functions.documents.compress.deflate.deflate_level`)
and listed in :attr:`ImageReport.rewritten`, so the Flate pass does not redo them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.documents.compress.images.colour import CmykToRgb, cmyk_to_rgb, inverted_decode
from functions.documents.compress.images.encode import (
    Encoded,
    TooBigToDecodeError,
    from_jpeg,
    from_lossless,
    from_palette,
)
from functions.documents.compress.images.masks import resize_smask
from functions.documents.compress.images.palette import Palette, indexed_palette
from functions.documents.compress.images.placements import PlacementFinder
from functions.documents.compress.images.policy import ImagePolicy, ImageReport, target_size
from functions.documents.compress.images.spaces import (
    COMPONENTS_TO_MODE,
    LOSSLESS_FILTERS,
    image_components,
    stream_filters,
)

if TYPE_CHECKING:
    import pikepdf

# Images smaller than this (encoded) are not worth the decode: the saving is at most a
# few hundred bytes.
_MIN_STREAM_BYTES = 2048


@contextmanager
def pixel_limit(max_pixels: int) -> Iterator[None]:
    """Sets Pillow's decompression-bomb limit for one call and turns its warning into an error.

    Pillow keeps the limit in a module global; setting it per call (and restoring it)
    means the configured limit applies here whatever another module set, and the
    warning, which pytest and careful callers treat as an error, is raised as
    ``DecompressionBombError`` only for images this pass would decode.
    """
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


class _OverPixelLimitError(Exception):
    """The image has more pixels than the configured limit: it is kept as it is."""


@dataclass(frozen=True)
class _Source:
    """An image the pass may re-encode, with what its samples are."""

    image: pikepdf.Stream
    size: tuple[int, int]
    mode: str
    filters: list[str]
    palette: Palette | None
    raw: bytes

    @property
    def raw_length(self) -> int:
        return len(self.raw)

    @property
    def name(self) -> str:
        return f"image {self.image.objgen[0]} ({self.size[0]}x{self.size[1]})"


class ImageRewriter:
    """Re-encodes the images a :class:`PlacementFinder` found, one at a time."""

    def __init__(self, pdf: pikepdf.Pdf, policy: ImagePolicy, max_pixels: int) -> None:
        self.pdf = pdf
        self.policy = policy
        self.max_pixels = max_pixels
        self.report = ImageReport()
        # (profile objgen, rendering intent) -> CMYK to sRGB transform, None if unusable
        self._transforms: dict[tuple[tuple[int, int], int], Any] = {}

    def run(self, finder: PlacementFinder) -> ImageReport:
        """Rewrites every image the finder saw; returns what was done."""
        import pikepdf

        smasks = set()
        for image in finder.images.values():
            mask = image.get("/SMask")
            if isinstance(mask, pikepdf.Stream) and mask.is_indirect:
                smasks.add(mask.objgen)
        with pixel_limit(self.max_pixels):
            for objgen, image in finder.images.items():
                if objgen in smasks:
                    continue  # a soft mask drawn on its own is rare; its image resizes it
                width_pt, height_pt = finder.extent[objgen]
                self.report.images_seen += 1
                self._rewrite(image, width_pt, height_pt, finder.cmyk_profile(objgen))
        return self.report

    def _rewrite(
        self,
        image: pikepdf.Stream,
        width_pt: float,
        height_pt: float,
        profile: pikepdf.Stream | None = None,
    ) -> None:
        import pikepdf
        from PIL import Image

        source = _source(image)
        if source is None:
            return
        width, height = source.size
        target = target_size(self.policy, width, height, width_pt, height_pt)
        to_rgb = None
        if profile is not None and source.palette is None and source.mode == "CMYK":
            jpeg = source.filters == ["/DCTDecode"]
            to_rgb = cmyk_to_rgb(image, profile, jpeg=jpeg, cache=self._transforms)
        try:
            encoded = self._encode(source, target, to_rgb)
        except (_OverPixelLimitError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            self.report.skipped_too_large.append(source.name)
            return
        except TooBigToDecodeError:
            self.report.skipped_too_big_to_decode.append(source.name)
            return
        except (OSError, ValueError, SyntaxError, pikepdf.PdfError):
            # Pillow and qpdf raise these for damaged image data; such an image is
            # kept exactly as it was, and the document still compresses.
            self.report.skipped_unreadable.append(source.name)
            return
        if encoded is not None and len(encoded[0]) < source.raw_length:
            self._store(source, encoded, to_rgb)

    def _encode(
        self, source: _Source, target: tuple[int, int], to_rgb: CmykToRgb | None
    ) -> Encoded | None:
        image, mode, filters = source.image, source.mode, source.filters
        width, height = source.size
        if source.palette is not None:
            if not set(filters) <= LOSSLESS_FILTERS:
                return None
            if width * height > self.max_pixels:
                raise _OverPixelLimitError
            return from_palette(image, source.palette, mode, target, self.policy)
        if filters == ["/DCTDecode"]:
            return from_jpeg(source.raw, mode, target, self.policy, to_rgb)
        if set(filters) <= LOSSLESS_FILTERS:
            if width * height > self.max_pixels:
                raise _OverPixelLimitError
            return from_lossless(image, mode, target, self.policy, to_rgb)
        return None  # CCITT, JBIG2, JPEG 2000: already efficient or not worth the risk

    def _store(self, source: _Source, encoded: Encoded, to_rgb: CmykToRgb | None) -> None:
        """Writes the new data into the image and makes its dictionary describe it."""
        import pikepdf

        image = source.image
        data, filter_name, (new_w, new_h) = encoded
        # The Decode array of the written samples: a palette's index mapping is the
        # identity (indexed_palette checks) and goes; colour samples keep theirs, except
        # CMYK samples that were not a JPEG and now are one, which Pillow stores inverted.
        decode = None if source.palette is not None else image.get("/Decode")
        converted = to_rgb is not None and filter_name == "/DCTDecode"
        if converted:
            decode = None  # sRGB samples shown as they are
        elif (
            source.mode == "CMYK"
            and filter_name == "/DCTDecode"
            and source.filters != ["/DCTDecode"]
        ):
            decode = inverted_decode(decode, len(source.mode))
            if decode is None:
                return  # a malformed Decode array: keep the image as it is
        self.report.images_rewritten += 1
        self.report.bytes_before += source.raw_length
        self.report.bytes_after += len(data)
        image.write(data, filter=pikepdf.Name(filter_name))
        self.report.rewritten.add(image.objgen)
        if "/DecodeParms" in image:
            del image["/DecodeParms"]
        if source.palette is not None:
            image.ColorSpace = source.palette.base
        if converted:
            image.ColorSpace = pikepdf.Name.DeviceRGB
            if "/Intent" in image:
                del image["/Intent"]  # applied by the conversion
        if decode is not None:
            image.Decode = decode
        elif "/Decode" in image:
            del image["/Decode"]
        image.Width = new_w
        image.Height = new_h
        if (new_w, new_h) != source.size:
            mask = resize_smask(image, (new_w, new_h))
            if mask is not None:
                self.report.rewritten.add(mask)


def _source(image: pikepdf.Stream) -> _Source | None:
    """Returns what the pass needs of an image, or None if it keeps the image as it is."""
    import pikepdf

    if image.get("/ImageMask", False) or image.get("/BitsPerComponent") != 8:
        return None  # stencil masks and bilevel scans stay bilevel; 16-bit stays exact
    if isinstance(image.get("/Mask"), pikepdf.Array) and "/SMask" not in image:
        # Colour-key masking needs exact colours, which JPEG does not keep (a soft
        # mask, when present, takes precedence over it).
        return None
    palette = indexed_palette(image)
    if palette is not None and isinstance(image.get("/Mask"), pikepdf.Array):
        return None  # a colour key names palette indices, which expanding does away with
    components = palette.components if palette else image_components(image)
    if components is None:
        return None
    try:
        width, height = int(image["/Width"]), int(image["/Height"])
    except (KeyError, TypeError, ValueError):
        return None
    raw = image.read_raw_bytes()
    if len(raw) < _MIN_STREAM_BYTES:
        return None
    return _Source(
        image=image,
        size=(width, height),
        mode=COMPONENTS_TO_MODE[components],
        filters=stream_filters(image),
        palette=palette,
        raw=raw,
    )
