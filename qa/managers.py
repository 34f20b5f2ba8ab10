"""The department's extension -> manager map (``managers.csv``).

PBX file names and call logs name a manager by extension (``101``); people read names.
One small CSV maps them, and every step that meets an extension (file-name templates,
manifests, the PBX call log) asks this module::

    extension;manager
    101;Анна Смирнова
    102;Ivan Petrov

The delimiter (``,`` ``;`` or tab) and encoding (UTF-8, UTF-8 with BOM, Windows-1251) are
detected as for manifests; column names may be Russian or English (aliases in
``qa/data/metadata.yaml``, key ``managers_columns``). A header is optional: without one,
the first column is the extension and the second the name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MetadataError
from .metadata import _column_key, _decode, _sniff_delimiter, _vocabulary


def _extension_key(value: object) -> str:
    """``"101"``, ``" 101 "``, ``"101.0"`` (a spreadsheet's float) and ``"SIP/101"`` are one extension."""
    text = str(value or "").strip()
    if "/" in text:  # SIP/101, PJSIP/101-0000a1 -> 101
        text = text.split("/", 1)[1].split("-", 1)[0]
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


@dataclass(frozen=True)
class ManagerMap(Mapping[str, str]):
    """Extension -> manager name, read from ``managers.csv``; ``path`` names the file."""

    names: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None

    def __getitem__(self, extension: str) -> str:
        return self.names[_extension_key(extension)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, extension: object) -> bool:
        return _extension_key(extension) in self.names

    def name(self, extension: str | None) -> str | None:
        """The manager's name for ``extension``; ``None`` when it is not in the file."""
        if extension is None:
            return None
        return self.names.get(_extension_key(extension))

    def resolve(self, manager: str | None) -> str | None:
        """A manager field as found (an extension or already a name) -> the name to show."""
        if manager is None:
            return None
        return self.name(manager) or manager


def load_managers(path: str | Path) -> ManagerMap:
    """Read ``managers.csv`` (see the module docstring). Errors name the file and line."""
    p = Path(path)
    where = str(p)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise MetadataError(f"{where}: cannot read the managers file ({e.strerror or e}); "
                            "check the path") from e
    text = _decode(raw, where)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise MetadataError(f"{where}: the managers file is empty; write one 'extension;manager' "
                            "line per manager")
    delimiter = _sniff_delimiter(next(line for line in lines if line.strip()))
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    aliases = _vocabulary().managers_columns
    first = [_column_key(c) for c in rows[0]] if rows else []
    ext_col = man_col = None
    for i, key in enumerate(first):
        if key in aliases.get("extension", ()) and ext_col is None:
            ext_col = i
        elif key in aliases.get("manager", ()) and man_col is None:
            man_col = i
    start = 1
    if ext_col is None or man_col is None:
        if ext_col is not None or man_col is not None:
            raise MetadataError(
                f"{where}: line 1: need both an extension and a manager column "
                f"(found {', '.join(rows[0])}); name them 'extension' and 'manager'"
            )
        ext_col, man_col, start = 0, 1, 0  # no header: extension, name
    names: dict[str, str] = {}
    for lineno, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(ext_col, man_col):
            raise MetadataError(
                f"{where}: line {lineno}: expected an extension and a manager name, got "
                f"{delimiter.join(row)!r}; write 'extension{delimiter}manager'"
            )
        ext, name = _extension_key(row[ext_col]), row[man_col].strip()
        if not ext or not name:
            raise MetadataError(f"{where}: line {lineno}: empty extension or name; fill both in")
        if ext in names and names[ext] != name:
            raise MetadataError(
                f"{where}: line {lineno}: extension {ext} is given twice ({names[ext]!r} and "
                f"{name!r}); keep one line per extension"
            )
        names[ext] = name
    return ManagerMap(names, where)
