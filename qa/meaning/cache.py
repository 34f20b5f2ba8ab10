"""Vector caches: embed each distinct text once per model.

A cache maps ``(model name, text key)`` to a vector; :func:`text_key` is a SHA-1 of the
text as given, so the caller decides what counts as the same text (normalise before, if at
all). Two implementations: :class:`MemoryVectorCache` (per process) and
:class:`SqliteVectorCache` (one SQLite file; its table is what the workspace can adopt).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..store import VECTORS_SCHEMA


def text_key(text: str) -> str:
    """The cache key of one text: SHA-1 of its UTF-8 bytes."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class VectorCache(Protocol):
    """Storage for embeddings, keyed by model name and :func:`text_key`."""

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors for the keys that are cached (missing keys are simply absent)."""
        ...

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Store vectors by key (overwriting)."""
        ...


class MemoryVectorCache:
    """A dict in this process."""

    def __init__(self) -> None:
        self._d: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._d)

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {k: self._d[(model, k)] for k in keys if (model, k) in self._d}

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        for k, v in vectors.items():
            self._d[(model, k)] = np.asarray(v, dtype=np.float32)


#: The table (the workspace's own ``vectors`` table, so a workspace can adopt a cache file).
SCHEMA = VECTORS_SCHEMA


class SqliteVectorCache:
    """Vectors in a SQLite file (float32 bytes); safe to share between processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                     check_same_thread=False)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        keys = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(keys), 500):  # stay under SQLite's variable limit
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, vector FROM vectors WHERE model=? AND key IN ({marks})",
                    [model, *chunk],
                ).fetchall()
                for k, blob in rows:
                    out[k] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        rows = [(model, k, int(np.asarray(v).size), np.asarray(v, dtype=np.float32).tobytes())
                for k, v in vectors.items()]
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors(model, key, dim, vector) VALUES (?,?,?,?)", rows)
            self._conn.execute("COMMIT")
