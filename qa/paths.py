"""File names made from call ids and file names that came from outside.

A call id comes from a PBX file name or a manifest row, so it may hold anything: ``/``,
``..``, control characters, bytes that are not UTF-8, or a thousand characters. Every
writer of a file named after a call (``qa transcribe -o``, clips, the report's pages and
audio copies) builds that name with :func:`safe_filename` / :func:`call_path`, so a call id
can never put a file outside its output folder or fail on a name the file system refuses.
:func:`displayable` turns a name that is not valid UTF-8 into text that can be stored,
printed and written to JSON.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

__all__ = ["call_path", "displayable", "safe_filename", "slug"]

# Separators, characters Windows refuses, and control characters.
_UNSAFE = re.compile(r'[\\/<>:"|?*\x00-\x1f\x7f]')
# Windows device names, refused as file names with any extension.
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Longest name kept before the hash suffix, in UTF-8 bytes (file systems allow 255).
MAX_NAME_BYTES = 150


def displayable(text: str) -> str:
    """``text`` as valid Unicode: bytes that were not UTF-8 become U+FFFD.

    Python keeps undecodable bytes of a file name as lone surrogates, which SQLite, JSON
    writers and terminals refuse; everything else comes back unchanged.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte (JSON "\ud800")
        return _SURROGATE.sub("\ufffd", text)


def safe_filename(call_id: str, suffix: str = "") -> str:
    """A file name for ``call_id`` that stays inside the folder it is joined to.

    An ordinary id (``2026-11-21_10-32-15_ivanov``) is kept as it is. An id that holds a
    path separator, ``..``, a control or Windows-reserved character, bytes that are not
    UTF-8, or more than :data:`MAX_NAME_BYTES` bytes has those parts replaced by ``_`` and
    gets a short hash of the original id, so two different ids never share a file.
    """
    raw = str(call_id)
    text = unicodedata.normalize("NFC", displayable(raw))
    name = _UNSAFE.sub("_", text).strip().strip(".")
    if name.upper().split(".", 1)[0] in _RESERVED:
        name = f"_{name}"
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        name = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    if name != raw or not name:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        name = f"{name}-{digest}" if name else f"call-{digest}"
    return name + suffix


def call_path(folder: str | os.PathLike[str], call_id: str, suffix: str = "") -> Path:
    """``folder / safe_filename(call_id, suffix)``; always a direct child of ``folder``."""
    base = Path(folder)
    path = base / safe_filename(call_id, suffix)
    # safe_filename removes every separator; this guards the guarantee against regressions.
    if path.parent != base:
        raise ValueError(f"call id {call_id!r} escapes {base}")
    return path


def slug(text: str, max_len: int = 80) -> str:
    """A file name that is also a clean URL path, for pages and media linked from HTML (the
    report, the clips playlist): letters, digits, ``.``, ``-``, ``_`` kept (Cyrillic too);
    anything else replaced, and then a short hash of the original added so two ids never
    share a file. Never leaves its folder (no separators, no leading dot)."""
    kept = "".join(ch if (ch.isalnum() or ch in "-_.") else "_" for ch in str(text)).strip(".")
    kept = kept[:max_len] or "_"
    if kept != text:
        kept += "-" + hashlib.sha1(str(text).encode("utf-8")).hexdigest()[:8]
    return kept
