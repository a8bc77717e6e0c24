"""Checks, before a local stack starts, that the packages it needs are installed.

Without this, a missing package surfaces as an ``ImportError`` deep in moto or as every
document failing ``Runtime.ImportModuleError`` in the workers. Here it is one sentence that
names the package and the command that installs it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from pipeline.local.inputs import UsageError

# import name -> distribution, for what the local stack and the functions import.
REQUIRED = {
    "boto3": "boto3",
    "moto": "moto",
    "flask": "flask",  # moto's server
    "flask_cors": "flask-cors",
    "werkzeug": "werkzeug",
    "yaml": "PyYAML",
    "pypdf": "pypdf",
    "PIL": "pillow",
    "pikepdf": "pikepdf",
    "fontTools": "fonttools",
    "zlib_ng": "zlib-ng",
}
# The moto versions the hooks work with (requirements-dev.txt says why).
MOTO_FLOOR = (5, 2, 3)
MOTO_CEILING = (5, 3)
FIX = (
    "install the development requirements with `.venv/bin/pip install -r "
    "requirements-dev.txt` and run docpipe with `.venv/bin/python -m pipeline` "
    "(or `make run`, which does both)"
)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:3]:
        digits = "".join(char for char in part if char.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def missing_packages() -> list[str]:
    """Returns the distributions whose modules cannot be imported."""
    return [dist for module, dist in REQUIRED.items() if importlib.util.find_spec(module) is None]


def check() -> None:
    """Raises a :class:`UsageError` naming a missing package or an unsupported moto.

    Raises:
        UsageError: A package is missing, or moto is outside the supported series.
    """
    missing = missing_packages()
    if missing:
        names = ", ".join(missing)
        raise UsageError(f"the local stack needs {names}, which is not installed: {FIX}")
    moto = importlib.metadata.version("moto")
    if not MOTO_FLOOR <= _version(moto) < MOTO_CEILING:
        raise UsageError(
            f"moto {moto} is installed, but the local stack works with moto >=5.2.3,<5.3: {FIX}"
        )
