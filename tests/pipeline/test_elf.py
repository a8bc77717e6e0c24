"""Shared libraries compacted for the layer still load and work, and are much smaller."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tesserocr

from pipeline.elf import compact
from pipeline.models import provision_mount
from pipeline.packaging import compact_libraries
from tests import scangen

SITE = Path(tesserocr.__file__).resolve().parent.parent

PROBE = """
import sys
import tesserocr
from PIL import Image
assert tesserocr.__file__.startswith(sys.argv[1]), tesserocr.__file__
with tesserocr.PyTessBaseAPI(path=sys.argv[2], lang="eng") as api:
    api.SetImage(Image.open(sys.argv[3]))
    print(api.GetUTF8Text())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the wheels' libraries are ELF on Linux only")
def test_compacted_tesserocr_libraries_load_and_read_a_page(tmp_path: Path, mount: Path) -> None:
    """This test ensures that tesserocr and its bundled libraries, with their padding and
    debugging symbols removed, shrink by more than a quarter (x86_64: by more than half)
    and still import and read a page as before."""
    copy = tmp_path / "site"
    for name in ("tesserocr", "tesserocr.libs"):
        shutil.copytree(SITE / name, copy / name)
    files = [path for path in copy.rglob("*") if path.is_file()]
    before = sum(path.stat().st_size for path in files)
    saved = compact_libraries(files)
    assert saved > before / 4
    assert sum(path.stat().st_size for path in files) == before - saved
    provision_mount(mount, ("eng",), "fast")
    lines = scangen.page_lines(7, 2)
    page = tmp_path / "page.png"
    scangen.scan_image(lines, height_inches=1.2).save(page, dpi=(300, 300))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(copy), str(mount / "models" / "tesseract"), str(page)],
        env={"PYTHONPATH": str(copy), "OMP_THREAD_LIMIT": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert scangen.word_recall(" ".join(lines), done.stdout) >= 0.98


@pytest.mark.skipif(sys.platform != "linux", reason="the wheels' libraries are ELF on Linux only")
def test_compacting_is_deterministic_and_leaves_other_files_alone() -> None:
    """This test ensures that compacting gives the same bytes every time, that a compacted
    library is left as it is, and that a file that is not a shared object is unchanged."""
    library = next((SITE / "tesserocr").glob("tesserocr*.so"))
    data = library.read_bytes()
    once = compact(data)
    assert len(once) < len(data)
    assert compact(data) == once
    assert compact(once) == once
    for other in (b"", b"not an ELF file", b"\x7fELF\x01\x01" + bytes(100)):
        assert compact(other) == other


@pytest.mark.parametrize("truncate", [64, 4096])
def test_a_truncated_library_is_left_unchanged(truncate: int) -> None:
    """This test ensures that a shared object cut short (headers pointing past its end)
    is returned as it is rather than rewritten."""
    data = next((SITE / "tesserocr.libs").glob("libtiff*")).read_bytes()[:truncate]
    assert compact(data) == data
