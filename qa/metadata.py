"""Call metadata: who called whom, when, which way, and how the deal ended.

Recordings come from a PBX either with the facts in the file name
(``2026-11-21_10-32-15_ivanov_79161234567_out.mp3``) or with a CSV export of the PBX/CRM
(one row per call). This step reads both:

* :class:`NameTemplate` turns a file-name template such as
  ``{date}_{time}_{manager}_{phone}_{direction}`` into a regular expression and parses
  file names into :class:`~qa.transcripts.CallMeta`;
* :func:`load_manifest` reads the CSV (delimiter and encoding detected, Russian and English
  column names) into a :class:`Manifest` that is looked up by file name, stem or call id;
* :func:`resolve_meta` merges the two for one file (the manifest wins) and says what is
  missing, e.g. a call without a manager.

It hands a :class:`~qa.transcripts.CallMeta` per call to the pipeline (transcription or
import), and :func:`outcome_won` to the supervisor and trainer features, which need to know
whether a call's deal was won.

The vocabulary (direction words, column names, outcome words) lives in
``qa/data/metadata.yaml``, so a new PBX export needs a data change, not a code change.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

from .errors import MetadataError
from .paths import displayable
from .transcripts import CallMeta

if TYPE_CHECKING:
    from .managers import ManagerMap

__all__ = [
    "AUTO_TEMPLATE",
    "DEFAULT_TEMPLATE",
    "TEMPLATE_FIELDS",
    "Manifest",
    "NamePreset",
    "NameTemplate",
    "name_parser",
    "name_presets",
    "load_manifest",
    "normalize_direction",
    "outcome_won",
    "resolve_meta",
]

#: File names as many PBXs write them: ``2026-11-21_10-32-15_ivanov_79161234567_out``.
DEFAULT_TEMPLATE = "{date}_{time}_{manager}_{phone}_{direction}"

_DATA_FILE = Path(__file__).parent / "data" / "metadata.yaml"

# What each template field may match. Date and time accept the separators PBXs use in
# file names; the free-text fields are lazy so that the literal separators and the
# stricter fields after them decide where they end (a manager may contain "_").
_DATE_RE = r"\d{4}-\d{2}-\d{2}|\d{8}|\d{2}\.\d{2}\.\d{4}"
_TIME_RE = r"\d{2}-\d{2}-\d{2}|\d{6}|\d{2}\.\d{2}\.\d{2}|\d{2}:\d{2}:\d{2}"
_FIELD_RES: dict[str, str] = {
    "date": _DATE_RE,
    "time": _TIME_RE,
    "manager": r".+?",
    "phone": r"\+?\d{3,}",
    "extension": r"\d{2,6}",  # the manager's internal number; managers.csv names it
    "direction": "",  # built from the direction words in the data file
    "call_id": r".+?",
    "*": r".*?",
}
#: Fields a file-name template may use; ``{*}`` matches anything and is skipped.
TEMPLATE_FIELDS = tuple(_FIELD_RES)
_FIELD_HELP = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)

_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%Y.%m.%d", "%d/%m/%Y", "%d-%m-%Y")
_TIME_FORMATS = ("%H-%M-%S", "%H%M%S", "%H.%M.%S", "%H:%M:%S", "%H:%M")


# ---- vocabulary ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Vocabulary:
    direction: dict[str, str]  # word -> "in" | "out"
    columns: dict[str, str]  # normalised column name -> field
    won: frozenset[str]
    lost: frozenset[str]
    managers_columns: dict[str, frozenset[str]]  # "extension" | "manager" -> column names


def _key(value: str) -> str:
    """Case- and spacing-insensitive form used to compare words from the data file."""
    return " ".join(str(value).split()).casefold()


def _column_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", _key(name.replace("\ufeff", "").strip().strip('"')))


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    # yaml is imported here so that importing qa.metadata stays cheap.
    import yaml

    try:
        data = yaml.safe_load(_DATA_FILE.read_text(encoding="utf-8"))
        direction = {
            _key(word): side
            for side, words in data["direction"].items()
            for word in [side, *words]
        }
        columns = {
            _column_key(word): name
            for name, words in data["columns"].items()
            for word in [name, *words]
        }
        won = frozenset(_key(w) for w in data["outcome"]["won"])
        lost = frozenset(_key(w) for w in data["outcome"]["lost"])
        managers_columns = {
            name: frozenset(_column_key(w) for w in [name, *words])
            for name, words in data.get("managers_columns", {}).items()
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        raise MetadataError(
            f"{_DATA_FILE}: cannot read the metadata vocabulary ({e}); reinstall call-qa"
        ) from e
    if set(direction.values()) != {"in", "out"}:
        raise MetadataError(f"{_DATA_FILE}: 'direction' must list words for 'in' and 'out'")
    return _Vocabulary(direction, columns, won, lost, managers_columns)


def normalize_direction(value: str | None) -> str | None:
    """``"Входящий"`` -> ``"in"``, ``"outbound"`` -> ``"out"``; empty or unknown -> None."""
    if value is None or not str(value).strip():
        return None
    return _vocabulary().direction.get(_key(value))


def outcome_won(value: object) -> bool | None:
    """Whether a deal outcome means the deal was won.

    ``won``, ``success``, ``сделка``, ``да``, ``1``... -> True; ``lost``, ``отказ``, ``нет``,
    ``0``... -> False; empty or anything else -> None (unknown). The word lists are in
    ``qa/data/metadata.yaml``.
    """
    if value is None or isinstance(value, bool):
        return value if isinstance(value, bool) else None
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    key = _key(str(value))
    if not key:
        return None
    vocab = _vocabulary()
    if key in vocab.won:
        return True
    if key in vocab.lost:
        return False
    return None


# ---- date and time ---------------------------------------------------------------------------
def _parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _parse_time(text: str) -> time | None:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    return None


def parse_datetime(text: str) -> str | None:
    """Read a date, or a date and time, as PBX/CRM exports write them; return ISO 8601.

    ``2026-11-21 10:32:15``, ``21.11.2026 10:32``, ``20261121``, ``2026-11-21T10:32:15+03:00``
    -> ``2026-11-21T10:32:15`` (with the offset when one is given); a date alone ->
    ``2026-11-21``. Returns None when the text is not a date.
    """
    text = " ".join(text.replace("T", " ").split()) if text else ""
    if not text:
        return None
    day_text, _, time_text = text.partition(" ")
    day = _parse_date(day_text)
    if day is not None:
        if not time_text:
            return day.isoformat()
        clock = _parse_time(time_text)
        if clock is not None:
            return datetime.combine(day, clock).isoformat(timespec="seconds")
    try:
        # Fractional seconds and UTC offsets: leave those to the standard parser.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.isoformat(timespec="seconds")


def _parse_duration(text: str) -> float | None:
    """Seconds from ``95``, ``95.5``, ``95,5``, ``1:35`` or ``00:01:35``; None if unreadable."""
    text = text.strip().replace(",", ".")
    try:
        if ":" in text:
            seconds = 0.0
            for part in text.split(":"):
                seconds = seconds * 60 + float(part)
            return seconds if text.count(":") <= 2 else None
        return float(text)
    except ValueError:
        return None


# ---- file-name template ----------------------------------------------------------------------
@dataclass(frozen=True)
class NameTemplate:
    """A file-name template compiled to a regular expression.

    ``pattern`` describes the file name without its extension, with fields
    ``{date}`` (YYYY-MM-DD, YYYYMMDD or DD.MM.YYYY), ``{time}`` (HH-MM-SS, HHMMSS or
    HH.MM.SS), ``{manager}``, ``{extension}`` (2-6 digits: the manager's internal number,
    kept in ``extra["extension"]`` and used as the manager until ``managers.csv`` names
    it), ``{phone}``, ``{direction}`` (in/out and their synonyms, e.g. вх/исх),
    ``{call_id}`` and ``{*}`` (anything, skipped); everything else is literal text.
    Matching ignores letter case. PBX presets (several templates each) are in
    :func:`name_presets`.

    Example: ``NameTemplate().parse("2026-11-21_10-32-15_ivanov_79161234567_out.mp3")``
    gives manager ``ivanov``, started_at ``2026-11-21T10:32:15``, direction ``out``.
    """

    pattern: str = DEFAULT_TEMPLATE
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    fields: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex, fields = _compile_template(self.pattern)
        object.__setattr__(self, "regex", regex)
        object.__setattr__(self, "fields", fields)

    def match(self, path: str | Path) -> CallMeta | None:
        """Parse a file name; None when it does not match the template."""
        path = _as_path(path)
        m = self.regex.fullmatch(path.stem)
        if m is None:
            return None
        values = {k: v for k, v in m.groupdict().items() if v is not None}
        day = _parse_date(values["date"]) if "date" in values else None
        clock = _parse_time(values["time"]) if "time" in values else None
        # A name that fits the shape but holds an impossible date (2026-13-45) is not ours.
        if ("date" in values and day is None) or ("time" in values and clock is None):
            return None
        extra: dict[str, str] = {}
        if "extension" in values:
            extra["extension"] = values["extension"]
        started_at: str | None = None
        if day is not None and clock is not None:
            started_at = datetime.combine(day, clock).isoformat(timespec="seconds")
        elif day is not None:
            started_at = day.isoformat()
        elif clock is not None:
            # A time without a day is not a point in time; keep it for the reader.
            extra["time"] = clock.isoformat(timespec="seconds")
        return CallMeta(
            call_id=values.get("call_id", "").strip() or _stem(path),
            source=str(path),
            manager=values.get("manager") or values.get("extension"),
            started_at=started_at,
            direction=normalize_direction(values.get("direction")),
            client_phone=values.get("phone"),
            extra=extra,
        )

    def parse(self, path: str | Path) -> CallMeta:
        """Parse a file name; a name that does not match gives only ``call_id`` = stem."""
        path = _as_path(path)
        meta = self.match(path)
        if meta is None:
            return CallMeta(call_id=_stem(path), source=str(path))
        return meta


def _compile_template(pattern: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    where = f"invalid file-name template {pattern!r}"
    if not isinstance(pattern, str) or not pattern.strip():
        raise MetadataError(f"{where}: it is empty; use fields {_FIELD_HELP}, e.g. {DEFAULT_TEMPLATE!r}")
    if "/" in pattern or "\\" in pattern:
        raise MetadataError(
            f"{where}: a template describes the file name only; remove the folder part"
        )
    parts: list[str] = []
    fields: list[str] = []
    pos = 0
    for m in re.finditer(r"\{([^{}]*)\}", pattern):
        literal = pattern[pos : m.start()]
        if "{" in literal or "}" in literal:
            raise MetadataError(f"{where}: unbalanced '{{' or '}}'; write fields as {_FIELD_HELP}")
        parts.append(re.escape(literal))
        name = m.group(1).strip().lower()
        if name not in _FIELD_RES:
            raise MetadataError(
                f"{where}: unknown field {{{m.group(1)}}}; use {_FIELD_HELP}"
            )
        if name == "*":
            parts.append(f"(?:{_FIELD_RES['*']})")
        else:
            if name in fields:
                raise MetadataError(f"{where}: field {{{name}}} appears twice; use it once")
            fields.append(name)
            regex = _direction_regex() if name == "direction" else _FIELD_RES[name]
            parts.append(f"(?P<{name}>{regex})")
        pos = m.end()
    tail = pattern[pos:]
    if "{" in tail or "}" in tail:
        raise MetadataError(f"{where}: unbalanced '{{' or '}}'; write fields as {_FIELD_HELP}")
    parts.append(re.escape(tail))
    if not fields:
        raise MetadataError(f"{where}: it has no fields; use {_FIELD_HELP}")
    return re.compile("".join(parts), re.IGNORECASE), tuple(fields)


def _direction_regex() -> str:
    # Longest words first, so "входящий" is not cut to "вх" when both could match.
    words = sorted(_vocabulary().direction, key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


def _stem(path: Path) -> str:
    """The call id a file name gives: its stem, or the whole name when the stem is blank."""
    return path.stem if path.stem.strip() else path.name.strip() or "call"


# ---- PBX presets ---------------------------------------------------------------------------------
#: ``--template`` value (and the default) that tries every preset in turn.
AUTO_TEMPLATE = "auto"


@dataclass(frozen=True)
class NamePreset:
    """A PBX's file names: one or more templates tried in order (from ``name_presets`` in
    ``qa/data/metadata.yaml``, where each preset's comment cites the format)."""

    name: str
    description: str
    templates: tuple[NameTemplate, ...]

    def match(self, path: str | Path) -> CallMeta | None:
        for template in self.templates:
            meta = template.match(path)
            if meta is not None:
                return meta
        return None


@lru_cache(maxsize=1)
def name_presets() -> dict[str, NamePreset]:
    """The file-name presets by name, in the order auto-detection tries them."""
    import yaml

    try:
        data = yaml.safe_load(_DATA_FILE.read_text(encoding="utf-8"))["name_presets"]
        presets = {
            str(name): NamePreset(
                str(name), str(spec.get("description", "")), tuple(NameTemplate(p) for p in spec["templates"])
            )
            for name, spec in data.items()
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        raise MetadataError(f"{_DATA_FILE}: cannot read the file-name presets ({e}); reinstall call-qa") from e
    return presets


def name_parser(template: NameTemplate | str | None = None) -> NamePreset:
    """What ``--template`` names: ``None``/``auto`` (every preset in turn), a preset name
    (``asterisk``) or a template pattern."""
    if isinstance(template, NameTemplate):
        return NamePreset(template.pattern, "", (template,))
    spec = (template or AUTO_TEMPLATE).strip()
    presets = name_presets()
    if spec.lower() == AUTO_TEMPLATE:
        return NamePreset(AUTO_TEMPLATE, "every preset in turn",
                          tuple(t for p in presets.values() for t in p.templates))
    if spec.lower() in presets:
        return presets[spec.lower()]
    if "{" not in spec:
        raise MetadataError(
            f"--template {spec!r}: not a preset ({', '.join([AUTO_TEMPLATE, *presets])}) nor a template "
            f"with fields such as {DEFAULT_TEMPLATE!r}; pick one of those"
        )
    return NamePreset(spec, "", (NameTemplate(spec),))


def _as_path(path: str | Path) -> Path:
    if isinstance(path, Path):
        return path
    # Manifests exported on Windows name files with backslashes.
    if "\\" in path and "/" not in path:
        return Path(PureWindowsPath(path).as_posix())
    return Path(path)


# ---- manifest -----------------------------------------------------------------------------------
@dataclass
class Manifest:
    """Call metadata from a PBX/CRM CSV export, one :class:`CallMeta` per row.

    ``meta.source`` is the file column as written (None when the CSV has no file column).
    Look a call up by its file name, the name without extension, or its call id.
    """

    path: Path
    calls: list[CallMeta]
    lines: list[int] = field(default_factory=list)  # CSV line of each call, for messages
    #: Rows read with a doubt, as ``file:line: what``: too few or too many cells.
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id: dict[str, int] = {}
        self._by_name: dict[str, int] = {}
        self._by_stem: dict[str, int] = {}
        for i, meta in enumerate(self.calls):
            self._by_id.setdefault(meta.call_id.casefold(), i)
            if meta.source:
                name = _as_path(meta.source)
                self._by_name.setdefault(name.name.casefold(), i)
                self._by_stem.setdefault(name.stem.casefold(), i)

    def __len__(self) -> int:
        return len(self.calls)

    def __iter__(self) -> Iterator[CallMeta]:
        return (_copy(meta) for meta in self.calls)

    def lookup(self, path_or_call_id: str | Path) -> CallMeta | None:
        """The row for a file (by name, then stem) or a call id; a copy, or None."""
        text = str(path_or_call_id)
        path = _as_path(path_or_call_id)
        for index, key in (
            (self._by_name, path.name),
            (self._by_id, text),
            (self._by_stem, path.stem),
            (self._by_id, path.stem),
        ):
            i = index.get(key.casefold())
            if i is not None:
                return _copy(self.calls[i])
        return None


def _copy(meta: CallMeta) -> CallMeta:
    # CallMeta is mutable; callers get their own so the manifest stays as read.
    return replace(meta, extra=dict(meta.extra))


def _decode(raw: bytes, where: str) -> str:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MetadataError(f"{where}: cannot decode the file; save it as UTF-8")


def _sniff_delimiter(header: str) -> str:
    # The header line decides: Sniffer guesses wrong on short files and quoted data.
    counts = {d: _count_outside_quotes(header, d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


_KEY_FIELDS = ("file", "call_id")
_EXPECTED_COLUMNS = (
    "file (or path/файл/запись) or call_id (or id); optional manager, started_at (or date "
    "and time), direction, client_phone, duration, outcome"
)


def load_manifest(path: str | Path) -> Manifest:
    """Read a manifest CSV exported from a PBX or CRM.

    The delimiter (``,`` ``;`` or tab) and encoding (UTF-8, UTF-8 with BOM, Windows-1251)
    are detected. Column names may be Russian or English (aliases in
    ``qa/data/metadata.yaml``); separate date and time columns are combined into
    ``started_at``; columns without a field are kept in ``CallMeta.extra``. A ``file`` or
    ``call_id`` column is required; each call may appear once.
    """
    path = Path(path)
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise MetadataError(f"{where}: cannot read the manifest ({e.strerror or e})") from e
    text = _decode(raw, where)
    if not text.strip():
        raise MetadataError(f"{where}: the manifest is empty; expected a header row with {_EXPECTED_COLUMNS}")
    header_line = text.lstrip("\r\n").splitlines()[0]
    # strict: a quote left open is an error, not one cell that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(header_line), strict=True)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):
            header = next(reader)
    except StopIteration as e:
        raise MetadataError(f"{where}: the manifest is empty; expected a header row with {_EXPECTED_COLUMNS}") from e
    except csv.Error as e:
        raise MetadataError(f"{where}:{reader.line_num}: not valid CSV ({e})") from e

    vocab = _vocabulary()
    columns: dict[str, int] = {}  # field -> column index
    extra_columns: list[tuple[int, str]] = []
    for i, name in enumerate(header):
        label = name.replace("\ufeff", "").strip()
        if not label:
            continue
        field_name = vocab.columns.get(_column_key(label))
        if field_name is None:
            extra_columns.append((i, label))
        elif field_name in columns:
            first = header[columns[field_name]].strip()
            raise MetadataError(
                f"{where}:{reader.line_num}: columns {first!r} and {label!r} both mean "
                f"{field_name}; rename or remove one"
            )
        else:
            columns[field_name] = i
    if not any(k in columns for k in _KEY_FIELDS):
        found = ", ".join(repr(h.strip()) for h in header if h.strip()) or "none"
        raise MetadataError(
            f"{where}: no file or call_id column (found {found}); expected {_EXPECTED_COLUMNS}"
        )

    calls: list[CallMeta] = []
    lines: list[int] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    width = len(header)
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            problem = _row_width_problem(row, width, header)
            if problem:
                warnings.append(f"{where}:{line}: {problem}")
            meta = _row_to_meta(row, columns, extra_columns, f"{where}:{line}")
            keys = [("call_id", meta.call_id)]
            if meta.source:
                keys.insert(0, ("file", _as_path(meta.source).name))
            for kind, key in keys:
                previous = seen.get(f"{kind}\0{key.casefold()}")
                if previous is not None:
                    raise MetadataError(
                        f"{where}:{line}: {kind} {key!r} is already on line {previous}; "
                        "each call must appear once"
                    )
            for kind, key in keys:
                seen[f"{kind}\0{key.casefold()}"] = line
            calls.append(meta)
            lines.append(line)
    except csv.Error as e:
        raise MetadataError(
            f"{where}:{reader.line_num}: not valid CSV ({e}); check the quotes on or before this line"
        ) from e
    return Manifest(path=path, calls=calls, lines=lines, warnings=warnings)


def _row_width_problem(row: list[str], width: int, header: list[str]) -> str | None:
    """What is wrong with a row whose cell count differs from the header's, or None.

    Short rows are read with the missing cells empty; extra cells are ignored, since they
    usually mean a delimiter inside an unquoted value, which shifts nothing we can undo.
    """
    if len(row) < width:
        missing = ", ".join(repr(h.strip()) for h in header[len(row):] if h.strip())
        if not missing:  # only unnamed columns (a trailing delimiter in the header)
            return None
        return (f"{len(row)} cells but the header has {width} columns; read {missing} "
                "as empty (fill them in, or end the row with delimiters)")
    extra = [cell for cell in row[width:] if cell.strip()]
    if extra:
        return (f"{len(row)} cells but the header has {width} columns; ignored the extra "
                f"{', '.join(repr(c.strip()) for c in extra[:3])} (quote values that hold the delimiter)")
    return None


def _row_to_meta(
    row: list[str],
    columns: Mapping[str, int],
    extra_columns: list[tuple[int, str]],
    where: str,
) -> CallMeta:
    def cell(name: str) -> str:
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    file = cell("file")
    call_id = cell("call_id") or (_as_path(file).stem if file else "")
    if not call_id:
        raise MetadataError(f"{where}: no file and no call_id; fill one of them")

    values: dict[str, Any] = {"call_id": call_id, "source": file or None}
    values["manager"] = cell("manager") or None
    values["client_phone"] = cell("client_phone") or None
    values["outcome"] = cell("outcome") or None

    started_text = cell("started_at") or " ".join(p for p in (cell("date"), cell("time")) if p)
    extra: dict[str, str] = {}
    if started_text:
        started = parse_datetime(started_text)
        if started is None and not cell("started_at") and not cell("date"):
            # A time column alone: no day to anchor it, keep it as written.
            extra["time"] = started_text
        elif started is None:
            raise MetadataError(
                f"{where}: cannot read {started_text!r} as a date and time; "
                "write it as YYYY-MM-DD HH:MM:SS or DD.MM.YYYY HH:MM"
            )
        values["started_at"] = started

    direction_text = cell("direction")
    if direction_text:
        direction = normalize_direction(direction_text)
        if direction is None:
            raise MetadataError(
                f"{where}: unknown direction {direction_text!r}; use in or out "
                "(or incoming/outgoing, вх/исх; words are in qa/data/metadata.yaml)"
            )
        values["direction"] = direction

    duration_text = cell("duration")
    if duration_text:
        duration = _parse_duration(duration_text)
        if duration is None or duration < 0:
            raise MetadataError(
                f"{where}: cannot read duration {duration_text!r}; write seconds (95) or mm:ss (1:35)"
            )
        values["duration"] = duration

    for i, label in extra_columns:
        if i < len(row) and row[i].strip():
            extra[label] = row[i].strip()
    return CallMeta(**values, extra=extra)


# ---- both ---------------------------------------------------------------------------------------
def resolve_meta(
    path: str | Path,
    template: NameTemplate | str | None = None,
    manifest: Manifest | None = None,
    managers: ManagerMap | None = None,
) -> tuple[CallMeta, list[str]]:
    """Metadata for one file from its name and the manifest (the manifest wins).

    ``template`` is a :class:`NameTemplate`, a template pattern or a preset name (see
    :func:`name_parser`); None tries every preset (default names, Asterisk/FreePBX, ...).
    ``managers`` (``managers.csv``, :mod:`qa.managers`) turns an extension into the
    manager's name; the extension stays in ``extra["extension"]``. Returns the merged
    :class:`CallMeta` (``source`` is ``path``) and warnings worth showing the user, such as
    a call without a manager (without the file name: the caller says which file they are
    about).
    """
    path = _as_path(path)
    explicit = template is not None and template != AUTO_TEMPLATE
    parser = name_parser(template)
    warnings: list[str] = []
    from_name = parser.match(path)
    if from_name is None:
        from_name = CallMeta(call_id=_stem(path), source=str(path))
        if explicit:
            warnings.append(f"file name does not match template {parser.name!r}")
    meta = from_name
    if manifest is not None:
        row = manifest.lookup(path)
        if row is None and from_name.call_id != path.stem:
            # The template took the call id out of the name: the manifest may key on it.
            row = manifest.lookup(from_name.call_id)
        if row is None:
            warnings.append(f"not in manifest {manifest.path.name}")
        else:
            meta = from_name.merged(row)
    meta.source = str(path)
    # A name that is not UTF-8 holds lone surrogates, which no store or report can write.
    meta.call_id = displayable(meta.call_id)
    if managers is not None and meta.manager:
        name = managers.name(meta.manager)
        if name is not None and name != meta.manager:
            meta.extra.setdefault("extension", meta.manager)
            meta.manager = name
    if not meta.manager:
        warnings.append("no manager in file name or manifest")
    return meta, warnings
