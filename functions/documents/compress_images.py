"""The image pass of the lossy profiles: find where each image is drawn, then shrink it.

Image re-encoding is the one big lever for lossy compression (issue 5's measurements), so
this pass is built for speed and for keeping the document intact:

- Each page's content stream is parsed once by qpdf (in C++), keeping only the ``q``,
  ``Q``, ``cm`` and ``Do`` operators, to learn the size at which every image XObject is
  drawn; Form XObjects are followed (once each, memoised) with their ``/Matrix``.
- An image used several times, on one page or on many, is one object and is re-encoded
  once, at the resolution its largest use needs.
- JPEGs are decoded with Pillow's ``draft()``, which lets libjpeg scale by 1/2, 1/4 or
  1/8 while decoding; other images are decoded by qpdf (predictors included, in C++),
  except large Flate images that are downsampled: those are inflated and reduced a
  strip of rows at a time, so an image's size never sets the peak memory.
- ``/SMask`` soft masks are resized with their image and kept lossless; bilevel images,
  stencil masks, JBIG2, CCITT and JPEG 2000 images are left as they are.
- 8-bit ``/Indexed`` images whose palette is photo-like (a quantised photograph) become
  JPEGs in their base colour space; palette drawings keep their exact colours.
- CMYK photos whose colours an ICC profile gives (``/ICCBased``, or ``/DeviceCMYK``
  drawn under an ICC ``/DefaultCMYK``) are converted through it to sRGB JPEGs, so that
  no image needs the profile any more (often the largest object of such a file).
- CMYK JPEGs made from other CMYK images carry ``/Decode [1 0 ...]``: Pillow stores
  their samples inverted, as Photoshop does.
- A re-encoded image replaces the original only when its stream is smaller; streams it
  writes are final (JPEG, or Flate at ``compress.deflate_level``) and listed in
  ``ImageReport.rewritten``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pikepdf
    from PIL import Image

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

# Deepest nesting of Form XObjects followed; real documents stay in single digits and a
# cycle (a form drawing itself) must not recurse forever.
_MAX_FORM_DEPTH = 12
# Largest decoded image (bytes) the pass will hold in memory at once. A bigger image is
# kept as it is, so that one image never decides the function's peak memory.
_MAX_DECODED_BYTES = 256 * 1024 * 1024
# Flate images larger than this decoded are inflated and reduced a strip of rows at a
# time (when they are downsampled), so that their size never decides peak memory; a
# strip holds about this many decoded bytes.
_STRIP_BYTES = 16 * 1024 * 1024
# Compressed input fed to the inflater at once while decoding by strips.
_INFLATE_CHUNK = 1 << 20
# Images smaller than this (encoded) are not worth the decode: the saving is at most a
# few hundred bytes.
_MIN_STREAM_BYTES = 2048
# Standard IJG luminance quantisation table (quality 50), to estimate a JPEG's quality.
_IJG_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
_COMPONENTS_TO_MODE = {1: "L", 3: "RGB", 4: "CMYK"}
# A palette image is a photo (re-encoded as a JPEG in its base colour space) when it uses
# at least this many palette entries and its 16 most used entries cover at most this
# share of its pixels (see _palette_is_photo).
_PHOTO_PALETTE_USED = 64
_PHOTO_TOP16_SHARE = 0.4
# An image's /Intent, as the littleCMS rendering intent (PIL.ImageCms.Intent values);
# PDF's default is relative colorimetric.
_INTENTS = {
    "/Perceptual": 0,
    "/RelativeColorimetric": 1,
    "/Saturation": 2,
    "/AbsoluteColorimetric": 3,
}


@dataclass(frozen=True)
class ImagePolicy:
    """How a lossy profile treats images.

    Attributes:
        target_dpi: Resolution images are downsampled to.
        threshold: Images are downsampled only above ``target_dpi * threshold``, so that
            an image just over the target is not resampled for a marginal gain.
        jpeg_quality: Quality of re-encoded photos.
        requality_above: A JPEG whose estimated quality is above this is re-encoded even
            when it needs no downsampling.
    """

    target_dpi: float
    threshold: float
    jpeg_quality: int
    requality_above: int


POLICIES = {
    "ebook": ImagePolicy(target_dpi=150, threshold=1.25, jpeg_quality=75, requality_above=85),
    "screen": ImagePolicy(target_dpi=96, threshold=1.25, jpeg_quality=60, requality_above=70),
}


@dataclass
class ImageReport:
    """What the image pass did, for the result's warnings and the benchmarks."""

    images_seen: int = 0
    images_rewritten: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    skipped_too_large: list[str] = field(default_factory=list)
    skipped_unreadable: list[str] = field(default_factory=list)
    # objgen of every stream this pass wrote (images and their resized soft masks). Their
    # data is final (JPEG, or Flate at deflate_level), so the recompression skips them.
    rewritten: set[tuple[int, int]] = field(default_factory=set)


def multiply(m: Matrix, n: Matrix) -> Matrix:
    """Returns ``m`` then ``n`` (PDF's row-vector convention: ``cm`` makes ``m * CTM``)."""
    a1, b1, c1, d1, e1, f1 = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a1 * a2 + b1 * c2,
        a1 * b2 + b1 * d2,
        c1 * a2 + d1 * c2,
        c1 * b2 + d1 * d2,
        e1 * a2 + f1 * c2 + e2,
        e1 * b2 + f1 * d2 + f2,
    )


def _as_matrix(values: Any) -> Matrix | None:
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None
    if len(numbers) != 6 or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


class PlacementFinder:
    """Finds, for every image XObject drawn on a page, the largest size it is drawn at.

    Sizes are in points (1/72 inch) along the image's own x and y axes, so rotation and
    skew do not matter.
    """

    def __init__(self) -> None:
        # objgen of an image -> (largest width in points, largest height in points)
        self.extent: dict[tuple[int, int], tuple[float, float]] = {}
        self.images: dict[tuple[int, int], pikepdf.Stream] = {}
        # objgen of an image -> the /DefaultCMYK colour spaces it is drawn under: the
        # ICC profile stream's objgen, None for no DefaultCMYK, "other" for any other.
        self.default_cmyk: dict[tuple[int, int], set[tuple[int, int] | str | None]] = {}
        self._profiles: dict[tuple[int, int], pikepdf.Stream] = {}
        # objgen of a form -> uses inside it, relative to the form's own space
        self._forms: dict[tuple[int, int], list[tuple[tuple[int, int], Matrix]]] = {}

    def add_page(self, page: pikepdf.Page) -> None:
        """Records the images drawn by one page (and the forms it draws)."""
        import pikepdf

        user_unit = float(page.obj.get("/UserUnit", 1) or 1)
        base: Matrix = (user_unit, 0.0, 0.0, user_unit, 0.0, 0.0)
        try:
            uses = self._uses(page, page.obj.get("/Resources"), depth=0)
        except pikepdf.PdfError:
            return  # an unparsable page keeps its images as they are
        for objgen, matrix in uses:
            self._record(objgen, multiply(matrix, base))

    def _record(self, objgen: tuple[int, int], ctm: Matrix) -> None:
        a, b, c, d, _, _ = ctm
        width, height = math.hypot(a, b), math.hypot(c, d)
        old_w, old_h = self.extent.get(objgen, (0.0, 0.0))
        self.extent[objgen] = (max(old_w, width), max(old_h, height))

    def _uses(
        self, content: Any, resources: Any, depth: int
    ) -> list[tuple[tuple[int, int], Matrix]]:
        """Returns (image objgen, matrix relative to ``content``'s space) for every draw."""
        import pikepdf

        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(xobjects, pikepdf.Dictionary):
            return []
        uses: list[tuple[tuple[int, int], Matrix]] = []
        ctm = IDENTITY
        stack: list[Matrix] = []
        for instruction in pikepdf.parse_content_stream(content, "q Q cm Do"):
            if not isinstance(instruction, pikepdf.ContentStreamInstruction):
                continue  # inline images are drawn in place and keep their data
            operands, op = instruction.operands, str(instruction.operator)
            if op == "q":
                stack.append(ctm)
            elif op == "Q":
                ctm = stack.pop() if stack else IDENTITY
            elif op == "cm":
                matrix = _as_matrix(operands)
                if matrix is not None:
                    ctm = multiply(matrix, ctm)
            elif op == "Do" and operands:
                xobject = xobjects.get(str(operands[0]))
                if isinstance(xobject, pikepdf.Stream):
                    uses.extend(self._do(xobject, ctm, resources, depth))
        return uses

    def cmyk_profile(self, objgen: tuple[int, int]) -> pikepdf.Stream | None:
        """Returns the ICC profile that gives a CMYK image's colours, if one does.

        That is the profile of an ``/ICCBased`` CMYK image, or of the ``/DefaultCMYK``
        colour space every use of a ``/DeviceCMYK`` image is drawn under (PDF readers
        take the Default colour space of the resources the image is drawn with).
        """
        import pikepdf

        image = self.images[objgen]
        space = image.get("/ColorSpace")
        if isinstance(space, pikepdf.Array):
            icc = space[1] if _space_components(space) == 4 and space[0] == "/ICCBased" else None
            return icc if isinstance(icc, pikepdf.Stream) else None
        if space != "/DeviceCMYK":
            return None
        defaults = self.default_cmyk.get(objgen, set())
        if len(defaults) != 1:
            return None  # none recorded, or drawn under different defaults
        (default,) = defaults
        return self._profiles.get(default) if isinstance(default, tuple) else None

    def _default_cmyk(self, resources: Any) -> tuple[int, int] | str | None:
        import pikepdf

        spaces = resources.get("/ColorSpace") if isinstance(resources, pikepdf.Dictionary) else None
        default = spaces.get("/DefaultCMYK") if isinstance(spaces, pikepdf.Dictionary) else None
        if default is None:
            return None
        if (
            isinstance(default, pikepdf.Array)
            and len(default) == 2
            and default[0] == "/ICCBased"
            and isinstance(default[1], pikepdf.Stream)
            and default[1].is_indirect
            and default[1].get("/N") == 4
        ):
            profile = default[1]
            self._profiles[profile.objgen] = profile
            return profile.objgen
        return "other"

    def _do(
        self, xobject: pikepdf.Stream, ctm: Matrix, resources: Any, depth: int
    ) -> list[tuple[tuple[int, int], Matrix]]:
        subtype = xobject.get("/Subtype")
        if subtype == "/Image":
            if xobject.is_indirect:
                self.images[xobject.objgen] = xobject
                default = self._default_cmyk(resources)
                self.default_cmyk.setdefault(xobject.objgen, set()).add(default)
                return [(xobject.objgen, ctm)]
            return []
        if subtype != "/Form" or depth >= _MAX_FORM_DEPTH or not xobject.is_indirect:
            return []
        key = xobject.objgen
        if key not in self._forms:
            self._forms[key] = []  # a cycle finds an empty list instead of recursing
            form_matrix = _as_matrix(xobject.get("/Matrix", [1, 0, 0, 1, 0, 0])) or IDENTITY
            inner = self._uses(xobject, xobject.get("/Resources", resources), depth + 1)
            self._forms[key] = [(objgen, multiply(m, form_matrix)) for objgen, m in inner]
        return [(objgen, multiply(m, ctm)) for objgen, m in self._forms[key]]


def estimate_jpeg_quality(image: Image.Image) -> int | None:
    """Estimates the IJG quality a JPEG was saved with, from its luminance table."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return None
    table = list(tables[0])
    if len(table) != 64:
        return None
    # Pillow gives tables in zigzag or natural order depending on version; the mean
    # scale is the same either way.
    scale = sum(q * 100 / s for q, s in zip(table, _IJG_LUMINANCE, strict=True)) / 64
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return max(1, min(100, round(quality)))


def _components(pdf_image: pikepdf.Stream) -> int | None:
    """Returns the colour components of an image's colour space when re-encoding is safe."""
    return _space_components(pdf_image.get("/ColorSpace"))


def _space_components(space: Any) -> int | None:
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
    # Indexed (see _palette), Separation, DeviceN, Lab and missing colour spaces keep
    # their images.
    return None


@dataclass(frozen=True)
class Palette:
    """An ``/Indexed`` colour space whose image can be expanded to its base colour space.

    Attributes:
        base: The base colour space object, given to the image when it is expanded.
        components: Colour components of the base colour space (1, 3 or 4).
        lookup: One table of 256 entries per component: the component's value for each
            index. Indices above ``hival`` take the last entry, as PDF readers do.
    """

    base: Any
    components: int
    lookup: tuple[bytes, ...]


def _palette(pdf_image: pikepdf.Stream) -> Palette | None:
    """Returns the palette of an 8-bit ``/Indexed`` image when expanding it is safe."""
    import pikepdf

    space = pdf_image.get("/ColorSpace")
    if not (isinstance(space, pikepdf.Array) and len(space) == 4 and space[0] == "/Indexed"):
        return None
    decode = pdf_image.get("/Decode")
    try:
        if decode is not None and [float(v) for v in decode] != [0.0, 255.0]:
            return None  # an unusual index mapping: rare, and not worth the risk
        hival = int(space[2])
    except (TypeError, ValueError):
        return None
    base = space[1]
    components = _space_components(base)
    table = space[3]
    try:
        data = table.read_bytes() if isinstance(table, pikepdf.Stream) else bytes(table)
    except (TypeError, pikepdf.PdfError):
        return None
    if components is None or not 0 <= hival <= 255 or len(data) < (hival + 1) * components:
        return None
    entries = [data[i * components : (i + 1) * components] for i in range(hival + 1)]
    entries += [entries[-1]] * (255 - hival)
    lookup = tuple(bytes(entry[c] for entry in entries) for c in range(components))
    return Palette(base=base, components=components, lookup=lookup)


def _palette_is_photo(indices: Image.Image) -> bool:
    """Tells a palette photo (a GIF-like quantised photograph) from a palette drawing.

    Measured on real and generated images: a quantised photo uses most of its palette
    with no dominant entries (the 16 most used cover 10-20 % of the pixels of a 256-colour
    photo, 38 % of a 64-colour one), while drawings, charts and screenshots, antialiased
    or not, spend most pixels on a few flat colours (over 80 %).
    """
    counts = sorted(indices.histogram(), reverse=True)
    used = sum(1 for count in counts if count)
    return (
        used >= _PHOTO_PALETTE_USED
        and sum(counts[:16]) <= _PHOTO_TOP16_SHARE * indices.width * indices.height
    )


def _inverted_decode(decode: Any, components: int) -> pikepdf.Array | None:
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


def _build_transform(profile: pikepdf.Stream, intent: Any) -> Any:
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


def _filters(stream: pikepdf.Stream) -> list[str]:
    import pikepdf

    value = stream.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Array):
        return [str(item) for item in value]
    return [str(value)]


_LOSSLESS_FILTERS = {"/FlateDecode", "/LZWDecode", "/RunLengthDecode", "/ASCII85Decode",
                     "/ASCIIHexDecode"}  # fmt: skip


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

    def _target_size(
        self, width: int, height: int, width_pt: float, height_pt: float
    ) -> tuple[int, int]:
        """Returns the pixel size the image should have at the policy's resolution."""
        policy = self.policy
        if width_pt <= 0 or height_pt <= 0:
            return width, height
        dpi_x = width / (width_pt / 72)
        dpi_y = height / (height_pt / 72)
        limit = policy.target_dpi * policy.threshold
        if dpi_x <= limit and dpi_y <= limit:
            return width, height
        new_w = min(width, max(1, math.ceil(width_pt / 72 * policy.target_dpi)))
        new_h = min(height, max(1, math.ceil(height_pt / 72 * policy.target_dpi)))
        return new_w, new_h

    def _rewrite(
        self,
        image: pikepdf.Stream,
        width_pt: float,
        height_pt: float,
        profile: pikepdf.Stream | None = None,
    ) -> None:
        import pikepdf
        from PIL import Image

        if image.get("/ImageMask", False) or image.get("/BitsPerComponent") != 8:
            return  # stencil masks and bilevel scans stay bilevel; 16-bit stays exact
        if isinstance(image.get("/Mask"), pikepdf.Array) and "/SMask" not in image:
            # Colour-key masking needs exact colours, which JPEG does not keep (a soft
            # mask, when present, takes precedence over it).
            return
        palette = _palette(image)
        if palette is not None and isinstance(image.get("/Mask"), pikepdf.Array):
            return  # a colour key names palette indices, which expanding does away with
        components = palette.components if palette else _components(image)
        if components is None:
            return
        try:
            width, height = int(image["/Width"]), int(image["/Height"])
        except (KeyError, TypeError, ValueError):
            return
        raw = image.read_raw_bytes()
        raw_length = len(raw)
        if raw_length < _MIN_STREAM_BYTES:
            return
        filters = _filters(image)
        target = self._target_size(width, height, width_pt, height_pt)
        mode = _COMPONENTS_TO_MODE[components]
        name = f"image {image.objgen[0]} ({width}x{height})"
        to_rgb = None
        if profile is not None and palette is None and mode == "CMYK":
            to_rgb = self._cmyk_to_rgb(image, profile, jpeg=filters == ["/DCTDecode"])
        try:
            if palette is not None:
                if not set(filters) <= _LOSSLESS_FILTERS:
                    return
                encoded = self._from_palette(image, palette, mode, width, height, target)
            elif filters == ["/DCTDecode"]:
                encoded = self._from_jpeg(raw, mode, target, to_rgb)
            elif set(filters) <= _LOSSLESS_FILTERS:
                encoded = self._from_lossless(
                    image, mode, width, height, target, components, to_rgb
                )
            else:
                return  # CCITT, JBIG2, JPEG 2000: already efficient or not worth the risk
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            self.report.skipped_too_large.append(name)
            return
        except (OSError, ValueError, SyntaxError, pikepdf.PdfError):
            # Pillow and qpdf raise these for damaged image data; such an image is
            # kept exactly as it was, and the document still compresses.
            self.report.skipped_unreadable.append(name)
            return
        if encoded is None:
            return
        data, filter_name, (new_w, new_h) = encoded
        if len(data) >= raw_length:
            return
        # The Decode array of the written samples: a palette's index mapping is the
        # identity (_palette checks) and goes; colour samples keep theirs, except CMYK
        # samples that were not a JPEG and now are one, which Pillow stores inverted.
        decode = None if palette is not None else image.get("/Decode")
        converted = to_rgb is not None and filter_name == "/DCTDecode"
        if converted:
            decode = None  # sRGB samples shown as they are
        elif mode == "CMYK" and filter_name == "/DCTDecode" and filters != ["/DCTDecode"]:
            decode = _inverted_decode(decode, components)
            if decode is None:
                return  # a malformed Decode array: keep the image as it is
        self.report.images_rewritten += 1
        self.report.bytes_before += raw_length
        self.report.bytes_after += len(data)
        image.write(data, filter=pikepdf.Name(filter_name))
        self.report.rewritten.add(image.objgen)
        if "/DecodeParms" in image:
            del image["/DecodeParms"]
        if palette is not None:
            image.ColorSpace = palette.base
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
        if (new_w, new_h) != (width, height):
            self._resize_smask(image, (new_w, new_h))

    def _from_jpeg(
        self, raw: bytes, mode: str, target: tuple[int, int], to_rgb: CmykToRgb | None = None
    ) -> tuple[bytes, str, tuple[int, int]] | None:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(raw)) as source:
            if source.mode != mode:
                return None  # the JPEG disagrees with its dictionary: keep it untouched
            quality = estimate_jpeg_quality(source)
            if (
                to_rgb is None
                and target == source.size
                and (quality is None or quality <= self.policy.requality_above)
            ):
                # Already small and already compressed: no generation loss (a CMYK JPEG
                # that can become sRGB is re-encoded: that frees its ICC profile).
                return None
            source.draft(mode, target)
            picture = source.convert(mode) if source.mode != mode else source
            picture = _resize(picture, target)
            return self._jpeg(picture, to_rgb), "/DCTDecode", picture.size

    def _from_lossless(
        self,
        image: pikepdf.Stream,
        mode: str,
        width: int,
        height: int,
        target: tuple[int, int],
        components: int,
        to_rgb: CmykToRgb | None = None,
    ) -> tuple[bytes, str, tuple[int, int]] | None:
        from PIL import Image
        from zlib_ng import zlib_ng

        from functions.documents.compress import deflate_level

        expected = width * height * components
        factor = min(width // target[0], height // target[1])
        if width * height > self.max_pixels:
            self.report.skipped_too_large.append(f"image {image.objgen[0]} ({width}x{height})")
            return None
        if factor >= 2 and expected > _STRIP_BYTES and _plain_flate(image):
            # Large and downsampled: inflate and reduce by strips, memory bounded by a
            # strip and the reduced image whatever the image's size.
            reduced, photo = _reduce_flate_by_strips(
                image.read_raw_bytes(), mode, width, height, components, factor
            )
            resized = _resize(reduced, target)
        else:
            if expected > _MAX_DECODED_BYTES:
                self.report.skipped_too_large.append(f"image {image.objgen[0]} ({width}x{height})")
                return None
            data = image.read_bytes()
            if len(data) < expected:
                raise ValueError("image data is shorter than its dimensions")
            picture = Image.frombuffer(mode, (width, height), data, "raw", mode, 0, 1)
            photo = _is_photo(picture)
            resized = _resize(picture, target)
        if photo:
            return self._jpeg(resized, to_rgb), "/DCTDecode", resized.size
        if resized.size == (width, height):
            return None  # a drawing at its resolution: the save recompresses it losslessly
        pixels = resized.tobytes()
        return zlib_ng.compress(pixels, deflate_level(len(pixels))), "/FlateDecode", resized.size

    def _from_palette(
        self,
        image: pikepdf.Stream,
        palette: Palette,
        mode: str,
        width: int,
        height: int,
        target: tuple[int, int],
    ) -> tuple[bytes, str, tuple[int, int]] | None:
        """Expands a palette photo to its base colour space and encodes it as a JPEG.

        Palette drawings (charts, logos, screenshots) return None: their flat colours are
        what Flate compresses best and what JPEG blurs.
        """
        from PIL import Image

        name = f"image {image.objgen[0]} ({width}x{height})"
        if width * height > self.max_pixels:
            self.report.skipped_too_large.append(name)
            return None
        if width * height * (1 + palette.components) > _MAX_DECODED_BYTES:
            self.report.skipped_too_large.append(name)
            return None
        data = image.read_bytes()
        if len(data) < width * height:
            raise ValueError("image data is shorter than its dimensions")
        indices = Image.frombuffer("L", (width, height), data, "raw", "L", 0, 1)
        if not _palette_is_photo(indices):
            return None
        bands = [indices.point(list(table)) for table in palette.lookup]
        picture = bands[0] if mode == "L" else Image.merge(mode, bands)
        resized = _resize(picture, target)
        return self._jpeg(resized), "/DCTDecode", resized.size

    def _cmyk_to_rgb(
        self, image: pikepdf.Stream, profile: pikepdf.Stream, *, jpeg: bool
    ) -> CmykToRgb | None:
        """Returns how to turn a CMYK image's decoded pixels into sRGB through ``profile``.

        None when that cannot be done faithfully: a Decode array other than the identity
        or the full inversion, or a profile littleCMS cannot use.
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
        if key not in self._transforms:
            self._transforms[key] = _build_transform(profile, intent)
        transform = self._transforms[key]
        return None if transform is None else CmykToRgb(transform, invert)

    def _jpeg(self, picture: Image.Image, to_rgb: CmykToRgb | None = None) -> bytes:
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
        picture.save(out, format="JPEG", quality=self.policy.jpeg_quality, optimize=True)
        return out.getvalue()

    def _resize_smask(self, image: pikepdf.Stream, size: tuple[int, int]) -> None:
        """Resizes an image's soft mask with it, kept lossless (masks show JPEG noise)."""
        import pikepdf
        from PIL import Image
        from zlib_ng import zlib_ng

        from functions.documents.compress import deflate_level

        mask = image.get("/SMask")
        if not isinstance(mask, pikepdf.Stream) or mask.get("/BitsPerComponent") != 8:
            return
        try:
            width, height = int(mask["/Width"]), int(mask["/Height"])
            if set(_filters(mask)) - _LOSSLESS_FILTERS or width * height > _MAX_DECODED_BYTES:
                return
            data = mask.read_bytes()
        except (KeyError, TypeError, ValueError, pikepdf.PdfError):
            return
        if len(data) < width * height or (width, height) <= size:
            return
        alpha = Image.frombuffer("L", (width, height), data[: width * height], "raw", "L", 0, 1)
        alpha = _resize(alpha, size)
        pixels = alpha.tobytes()
        mask.write(
            zlib_ng.compress(pixels, deflate_level(len(pixels))),
            filter=pikepdf.Name("/FlateDecode"),
        )
        if "/DecodeParms" in mask:
            del mask["/DecodeParms"]
        mask.Width, mask.Height = alpha.size
        self.report.rewritten.add(mask.objgen)


def _resize(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    from PIL import Image

    if picture.size == size:
        return picture
    # reduce() first (box filter by an integer factor, fast), then a Lanczos step for
    # the remainder: the quality of a full Lanczos at a fraction of its cost.
    factor = min(picture.width // size[0], picture.height // size[1])
    if factor >= 2:
        picture = picture.reduce(factor)
    return picture.resize(size, Image.Resampling.LANCZOS)


def _sample_size(width: int, height: int) -> tuple[int, int]:
    """Returns the size of the colour sample that tells photos from drawings."""
    scale = min(1.0, 256 / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _is_photo(picture: Image.Image) -> bool:
    """Tells photographs (many colours, JPEG suits them) from drawings and screenshots."""
    from PIL import Image

    # Nearest-neighbour keeps the colours that are there (a drawing stays a drawing), and
    # resizing straight to the sample size never copies a large image whole.
    sample = picture.resize(_sample_size(*picture.size), Image.Resampling.NEAREST)
    return sample.getcolors(maxcolors=256) is None


def _plain_flate(image: pikepdf.Stream) -> bool:
    """Tells whether an image is Flate alone, without a predictor: inflate gives pixels."""
    import pikepdf

    if _filters(image) != ["/FlateDecode"]:
        return False
    parms = image.get("/DecodeParms")
    if isinstance(parms, pikepdf.Array):
        parms = parms[0] if len(parms) == 1 else None
    if parms is None:
        return True
    return isinstance(parms, pikepdf.Dictionary) and int(parms.get("/Predictor", 1)) == 1


def _reduce_flate_by_strips(
    raw: bytes, mode: str, width: int, height: int, components: int, factor: int
) -> tuple[Image.Image, bool]:
    """Inflates a Flate image a strip of rows at a time and reduces it by ``factor``.

    Strips hold a multiple of ``factor`` rows, so the result is exactly what reducing
    the whole decoded image would give. The rows a nearest-neighbour colour sample
    would pick are kept on the way, to tell a photo from a drawing as :func:`_is_photo`
    does on the whole image.

    Returns:
        The reduced image and whether the image is a photo.

    Raises:
        ValueError: The data is damaged or shorter than the image's dimensions.
    """
    from PIL import Image
    from zlib_ng import zlib_ng

    row_bytes = width * components
    rows_per_strip = factor * max(1, _STRIP_BYTES // (row_bytes * factor))
    reduced = Image.new(mode, (-(-width // factor), -(-height // factor)))
    sample_w, sample_h = _sample_size(width, height)
    # The source row nearest-neighbour resizing picks for each sample row.
    wanted = {min(height - 1, int((i + 0.5) * height / sample_h)): i for i in range(sample_h)}
    sample = Image.new(mode, (sample_w, sample_h))
    # zlib-ng inflates the same format several times faster than zlib (0.12 s against
    # 0.75 s for ocr_enormous's 243 MB image).
    inflater = zlib_ng.decompressobj()
    # zlib-ng's stub declares ``error`` as an instance; it is the exception class.
    inflate_error = cast("type[Exception]", zlib_ng.error)
    source = memoryview(raw)
    position = 0
    try:
        for top in range(0, height, rows_per_strip):
            rows = min(rows_per_strip, height - top)
            need = rows * row_bytes
            # The inflater never gives more than asked, so a strip is its parts joined:
            # no bytes are carried over, and a strip inflated in one call is not copied.
            parts: list[bytes] = []
            got = 0
            while got < need and not inflater.eof:
                if inflater.unconsumed_tail:
                    chunk: bytes | memoryview = inflater.unconsumed_tail
                elif position < len(source):
                    chunk = source[position : position + _INFLATE_CHUNK]
                    position += _INFLATE_CHUNK
                else:
                    break
                part = inflater.decompress(chunk, need - got)
                parts.append(part)
                got += len(part)
            if got < need:
                raise ValueError("image data is shorter than its dimensions")
            pending = parts[0] if len(parts) == 1 else b"".join(parts)
            del parts
            strip = Image.frombuffer(mode, (width, rows), pending, "raw", mode, 0, 1)
            for row in range(top, top + rows):
                if row in wanted:
                    line = strip.crop((0, row - top, width, row - top + 1))
                    line = line.resize((sample_w, 1), Image.Resampling.NEAREST)
                    sample.paste(line, (0, wanted[row]))
            reduced.paste(strip.reduce(factor), (0, top // factor))
            del strip, pending
    except inflate_error as error:
        raise ValueError(f"damaged Flate data: {error}") from None
    return reduced, sample.getcolors(maxcolors=256) is None
