"""Cold start: handler import times in a fresh interpreter, and what Lambda has to load.

Usage (from the repository root)::

    python benchmarks/coldstart.py [--runs N] [--architecture arm64] [--python 3.12]

For each handler module (``pipeline.packaging.HANDLERS``) a new interpreter is started
``N`` times and the import of that module alone is timed inside it (interpreter start-up
excluded: Lambda pays that whatever our code does); the median is reported beside the
target (150 ms). The heavy document libraries are timed the same way, to show what the
handlers avoid by importing them only where they are used. Then the function archive
(``build_code_archive()``) and the layer (``build_layer()``) are built and their sizes
reported, zipped and unzipped (Lambda's limit is 250 MB unzipped for function and layers).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 150.0
# Imported lazily by the document code; timed for comparison only.
LIBRARIES = ("pikepdf", "PIL.Image", "pypdf")

_PROBE = """
import sys, time
start = time.perf_counter()
import importlib; importlib.import_module(sys.argv[1])
print(time.perf_counter() - start)
"""


def import_ms(module: str, runs: int) -> tuple[float, float]:
    """Returns the median and the maximum milliseconds to import ``module`` afresh."""
    times = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, module],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"importing {module} failed: {result.stderr.strip()[-300:]}")
        times.append(float(result.stdout.strip()) * 1000)
    return statistics.median(times), max(times)


def zip_sizes(path: Path) -> tuple[int, int]:
    """Returns (zipped bytes, unzipped bytes) of an archive."""
    with zipfile.ZipFile(path) as archive:
        return path.stat().st_size, sum(info.file_size for info in archive.infolist())


def installed_size(requirements: Path) -> tuple[int, list[str]]:
    """Returns the installed size of the requirements' distributions in this environment."""
    from importlib import metadata

    names = []
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.append(line.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip())
    total, seen = 0, []
    for name in names:
        dist = metadata.distribution(name)
        for file in dist.files or []:
            located = Path(str(dist.locate_file(file)))
            if located.is_file():
                total += located.stat().st_size
        seen.append(f"{name} {dist.version}")
    return total, seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--architecture", default="arm64", choices=["arm64", "x86_64"])
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from pipeline import packaging

    results: dict[str, object] = {}
    print(
        f"import time in a fresh interpreter, median of {args.runs} (target < {TARGET_MS:.0f} ms)"
    )
    imports = {}
    for stage, handler in packaging.HANDLERS.items():
        module = handler.rsplit(".", 1)[0]
        median, worst = import_ms(module, args.runs)
        imports[module] = median
        verdict = "ok" if median < TARGET_MS else "OVER TARGET"
        print(f"  {stage:10} {module:24} {median:7.1f} ms  (max {worst:6.1f})  {verdict}")
    for library in LIBRARIES:
        median, worst = import_ms(library, args.runs)
        imports[library] = median
        print(
            f"  {'(library)':10} {library:24} {median:7.1f} ms  (max {worst:6.1f})  imported lazily"
        )
    results["import_ms"] = imports

    archive = packaging.build_code_archive()
    zipped, unzipped = zip_sizes(archive)
    results["archive"] = {"path": str(archive), "zipped": zipped, "unzipped": unzipped}
    print(
        f"\nfunction archive {archive.name}: {zipped / 1024:.1f} KiB zipped, "
        f"{unzipped / 1024:.1f} KiB unzipped"
    )

    requirements = packaging.FUNCTIONS_DIR / "requirements.txt"
    try:
        layer = packaging.build_layer(args.architecture, args.python)
    except RuntimeError as error:
        size, names = installed_size(requirements)
        results["layer"] = {"built": False, "installed_bytes": size, "packages": names}
        print(f"layer not built ({str(error).splitlines()[0]})")
        print(f"installed size of {', '.join(names)} here: {size / 1024 / 1024:.1f} MiB")
    else:
        zipped, unzipped = zip_sizes(layer)
        results["layer"] = {"path": str(layer), "zipped": zipped, "unzipped": unzipped}
        print(
            f"layer {layer.name}: {zipped / 1024 / 1024:.1f} MiB zipped, "
            f"{unzipped / 1024 / 1024:.1f} MiB unzipped (Lambda limit 250 MiB unzipped)"
        )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
