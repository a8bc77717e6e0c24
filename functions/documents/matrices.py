"""PDF's affine matrices, for the code that follows a page's graphics state.

A matrix ``(a, b, c, d, e, f)`` maps ``[x y 1]`` to ``[ax + cy + e, bx + dy + f]`` (PDF's
row-vector convention, ISO 32000 8.3.3).
"""

from __future__ import annotations

Matrix = tuple[float, float, float, float, float, float]

IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def multiply(first: Matrix, second: Matrix) -> Matrix:
    """Returns the matrix applying ``first`` and then ``second`` (``cm`` makes
    ``m * CTM``)."""
    a, b, c, d, e, f = first
    a2, b2, c2, d2, e2, f2 = second
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )
