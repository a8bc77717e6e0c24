"""Where each image is drawn: the largest size, in points, at which any page draws it.

Each page's content stream is parsed once by qpdf (in C++), keeping only the ``q``,
``Q``, ``cm`` and ``Do`` operators; Form XObjects are followed (once each, memoised)
with their ``/Matrix``. The /DefaultCMYK colour space each image is drawn under is
recorded on the way, for the colour conversion.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from functions.documents.compress.images.spaces import space_components
from functions.documents.matrices import IDENTITY, Matrix, multiply

if TYPE_CHECKING:
    import pikepdf


# Deepest nesting of Form XObjects followed; real documents stay in single digits and a
# cycle (a form drawing itself) must not recurse forever.
_MAX_FORM_DEPTH = 12


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
            icc = space[1] if space_components(space) == 4 and space[0] == "/ICCBased" else None
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
