"""The PBX call log (CDR): missed inbound calls, callbacks and talk time per manager.

Recordings say how a call went; only the PBX log says which calls nobody answered. This
step reads the log, keeps it in the workspace and answers the head of sales' morning
questions: how many inbound calls each manager missed, how many were called back, how
fast, and which clients were never called back.

Reading (:func:`read_log`)
    Asterisk ``cdr_csv`` ``Master.csv`` (no header, the standard 18 columns, plus
    ``peeraccount, linkedid, sequence`` when present) or a CSV / XLSX export with a header
    (Mango Office, Zadarma, Bitrix24, UIS, or any file whose columns a preset in
    ``qa/data/calllog.yaml`` names). A bad row (wrong column count, an unreadable date, a
    truncated last line) is reported with its line number and skipped; the good rows are
    kept.

Classifying one row (:func:`classify`)
    An *extension* is a number matching ``internal_extension`` in the data file (default 2-5
    digits); the extension of a channel is taken from its name (``SIP/101-0000002a`` ->
    ``101``). The calling side is an extension when ``src`` is one or the ``channel`` names
    one; the called side when ``dst`` is one (or ``dst`` is not a number and ``dstchannel``
    names one). Both sides extensions: *internal*, left out of every figure. Calling side an
    extension: *outbound*; the manager is that extension, the client ``dst``. Otherwise
    *inbound*; the client is ``src`` and the manager is the extension in ``dstchannel``, else
    ``dst`` when it is an extension (else nobody: the call died in the IVR or queue).
    Exports with a direction column use it. A row is *answered* when its status is an
    answered word and its talk time (``billsec``) is above zero; ``NO ANSWER``, ``BUSY``,
    ``FAILED`` and an answered time of zero are *missed*. Client numbers are compared on
    their last 10 digits (``phone_match_digits``).

One call, several rows
    A ring group or queue writes one row per extension rung, with one ``linkedid`` (or
    ``uniqueid``). Rows of one direction sharing it are one call: answered when any leg was
    answered, and then it belongs to the answering extension; a missed call belongs to the
    first extension rung.

Callbacks (:func:`missed_report`)
    A missed inbound call is *called back* by the first outbound call from any manager to
    the same client number that starts after the missed call started. With the default
    rule ``attempt`` any outbound call counts (the manager's reaction is what is measured);
    rule ``answered`` counts only a callback the client answered. Called back within the
    window (``--callback-within``, default 30 minutes) is *in time*, after it *late*. When
    the client called again and got through before any callback, the miss is *recovered*
    (shown apart, not counted as called back). Otherwise it is *not called back*. Callbacks
    are looked for in the log in the workspace also after the period's end, up to
    ``callback_horizon_days`` (30) after it; time to callback runs from the start of the
    missed call.

It hands plain tables (pandas) to the CLI (``qa missed``) and small blocks to the views:
:func:`calls_block` (scorecard, team), :func:`never_called_back` (report day page),
:func:`revive_rows` (``qa revive``), :func:`callback_coaching` (``qa coach``),
:func:`log_for_call` and :func:`unrecorded_calls` (recordings and log rows linked), and
:func:`day_card_html` / :func:`call_log_html` (the report's day and call pages).
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CallLogError, OptionError
from .managers import ManagerMap
from .metadata import (
    _column_key,
    _decode,
    _parse_duration,
    _sniff_delimiter,
    normalize_direction,
    parse_datetime,
)

if TYPE_CHECKING:
    import pandas as pd

    from .store import Workspace

__all__ = [
    "CallLogRules",
    "ImportResult",
    "MissedReport",
    "ParsedLog",
    "call_log_html",
    "calls_block",
    "callback_coaching",
    "classify",
    "day_card_html",
    "import_log",
    "log_for_call",
    "missed_report",
    "never_called_back",
    "parse_window",
    "read_log",
    "revive_rows",
    "rules",
    "unrecorded_calls",
]

_DATA_FILE = Path(__file__).parent / "data" / "calllog.yaml"
TEAM = "(team)"
NOBODY = "(no extension)"
CALLBACK_RULES = ("attempt", "answered")
_FIELDS = (
    "start", "date", "time", "answer", "end", "src", "dst", "direction", "extension", "client",
    "channel", "dstchannel", "disposition", "billsec", "duration", "uniqueid", "linkedid",
    "sequence", "accountcode", "dcontext", "clid", "lastapp", "lastdata", "amaflags",
    "userfield", "peeraccount",
)


# ---- rules from the data file --------------------------------------------------------------
@dataclass(frozen=True)
class CallLogRules:
    """What ``qa/data/calllog.yaml`` says: extensions, statuses, columns, presets."""

    internal_extension: re.Pattern[str]
    phone_match_digits: int
    answered: frozenset[str]
    missed: frozenset[str]
    direction: Mapping[str, str]
    asterisk_columns: tuple[str, ...]
    asterisk_extra: tuple[str, ...]
    presets: Mapping[str, Mapping[str, frozenset[str]]]
    preset_titles: Mapping[str, str]
    link_within_seconds: float
    callback_horizon_days: int

    def is_extension(self, number: str | None) -> bool:
        return bool(number) and self.internal_extension.fullmatch(str(number)) is not None

    def client_key(self, number: str | None) -> str | None:
        digits = re.sub(r"\D", "", number or "")
        if not digits:
            return None
        n = self.phone_match_digits
        return digits[-n:] if n > 0 else digits


@lru_cache(maxsize=4096)
def _word(value: Any) -> str:
    # Statuses and directions repeat on every row: compare them once per distinct value.
    return _column_key(str(value))


@lru_cache(maxsize=1)
def rules() -> CallLogRules:
    """The rules in ``qa/data/calllog.yaml`` (read once)."""
    import yaml

    try:
        data = yaml.safe_load(_DATA_FILE.read_text(encoding="utf-8"))
        direction = {_word(w): side for side, words in data["direction"].items() for w in words}
        presets = {
            name: {f: frozenset(_word(c) for c in cols) for f, cols in p["columns"].items()}
            for name, p in data["presets"].items()
        }
        bad = {f for p in presets.values() for f in p} - set(_FIELDS)
        if bad:
            raise KeyError(f"unknown field(s) {', '.join(sorted(bad))} in presets")
        return CallLogRules(
            internal_extension=re.compile(str(data.get("internal_extension") or r"\d{2,5}")),
            phone_match_digits=int(data.get("phone_match_digits", 10)),
            answered=frozenset(_word(w) for w in data["answered"]),
            missed=frozenset(_word(w) for w in data["missed"]),
            direction=direction,
            asterisk_columns=tuple(data["asterisk"]["columns"]),
            asterisk_extra=tuple(data["asterisk"].get("extra_columns") or ()),
            presets=presets,
            preset_titles={name: str(p.get("title") or name) for name, p in data["presets"].items()},
            link_within_seconds=float(data.get("link_within_seconds", 10)),
            callback_horizon_days=int(data.get("callback_horizon_days", 30)),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError, re.error) as e:
        raise CallLogError(f"{_DATA_FILE}: cannot read the call-log rules ({e}); fix or reinstall the file") from e


# ---- reading ---------------------------------------------------------------------------------
@dataclass
class ParsedLog:
    """Rows read from one log file, ready to store, and the problems met on the way."""

    path: str
    format: str  # "asterisk" or the preset name
    rows: list[dict[str, Any]] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    lines: int = 0  # data lines seen (good and bad)


_CHANNEL_EXT = re.compile(r"^[^/]+/([^-@;/]+)")
_PHONE_PUNCT = re.compile(r"[\s()\-.]")
_PHONE = re.compile(r"\+?\d+")


def _channel_extension(channel: str) -> str | None:
    m = _CHANNEL_EXT.match(channel or "")
    return m.group(1) if m else None


def _number(value: str) -> str:
    """``"+7 (916) 123-45-67"`` -> ``"+79161234567"``; text such as ``s`` stays as it is."""
    text = (value or "").strip()
    if text.isdigit():
        return text
    cleaned = _PHONE_PUNCT.sub("", text)
    return cleaned if _PHONE.fullmatch(cleaned) else text


def _parse_start(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)  # Asterisk's own format: the fast path
    except ValueError:
        pass
    if text.isdigit() and len(text) == 10:  # Unix time (Mango's API), read as local time
        return datetime.fromtimestamp(int(text))
    iso = parse_datetime(text)
    if iso is None or len(iso) <= 10:  # no time of day: not a call start
        return None
    return datetime.fromisoformat(iso)


def _seconds(text: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        return _parse_duration(text)


def classify(values: Mapping[str, str], rule: CallLogRules | None = None) -> dict[str, Any]:
    """One raw row (field -> text) -> ``direction, extension, client, client_key, answered``.

    See the module docstring for the rules. Raises ``ValueError`` with a reader's message
    for a row that cannot be classified.
    """
    r = rule or rules()
    src, dst = _number(values.get("src", "")), _number(values.get("dst", ""))
    channel, dstchannel = values.get("channel", "").strip(), values.get("dstchannel", "").strip()
    direction_text = values.get("direction", "").strip()
    extension = _number(values.get("extension", "")) or None
    client = _number(values.get("client", "")) or None
    direction: str | None = None
    if direction_text:
        direction = r.direction.get(_word(direction_text)) or normalize_direction(direction_text)
        if direction is None:
            raise ValueError(
                f"unknown direction {direction_text!r}; use in, out or internal "
                "(words are in qa/data/calllog.yaml and qa/data/metadata.yaml)"
            )
    if direction is None or (extension is None and client is None):
        chan_ext = _channel_extension(channel)
        dst_ext = _channel_extension(dstchannel)
        from_ext = src if r.is_extension(src) else chan_ext if r.is_extension(chan_ext) else None
        to_ext = dst if r.is_extension(dst) else (
            dst_ext if r.is_extension(dst_ext) and not re.search(r"\d", dst) else None
        )
        if direction is None:
            if not src and not dst and not channel:
                raise ValueError("no caller and no called number (src, dst); fill them or map the columns")
            direction = "internal" if from_ext and to_ext else "out" if from_ext else "in"
        if direction == "out":
            extension = extension or from_ext
            client = client or dst or None
        elif direction == "in":
            inbound_ext = dst_ext if r.is_extension(dst_ext) else to_ext
            extension = extension or inbound_ext
            client = client or src or None
    if direction != "internal" and client and r.is_extension(client) and extension:
        direction = "internal"  # an export's "inbound" call from another extension
    status = _word(values.get("disposition", ""))
    billsec = _seconds(values.get("billsec", ""))
    if billsec is None:
        raise ValueError(f"cannot read talk time {values.get('billsec')!r}; write seconds (95) or mm:ss (1:35)")
    if status:
        answered = status in r.answered and billsec > 0
    else:
        answered = billsec > 0
    return {
        "direction": direction, "extension": extension, "client": client,
        "client_key": r.client_key(client), "answered": answered, "billsec": billsec,
        "src": src, "dst": dst, "channel": channel, "dstchannel": dstchannel,
        "disposition": values.get("disposition", "").strip() or None,
    }


def _row_key(cells: Sequence[str]) -> str:
    # The row's own content: the same row in a re-import or an overlapping export is one row.
    return hashlib.blake2b("\x1f".join(cells).encode("utf-8"), digest_size=12).hexdigest()


def _make_row(values: Mapping[str, str], cells: Sequence[str], path: str, line: int, r: CallLogRules) -> dict[str, Any]:
    start_text = values.get("start", "").strip()
    if not start_text and (values.get("date") or values.get("time")):
        start_text = " ".join(p for p in (values.get("date", "").strip(), values.get("time", "").strip()) if p)
    if not start_text:
        raise ValueError("no start time; fill the start column")
    start = _parse_start(start_text)
    if start is None:
        raise ValueError(
            f"cannot read start {start_text!r} as a date and time; write YYYY-MM-DD HH:MM:SS "
            "or DD.MM.YYYY HH:MM:SS"
        )
    row = classify(values, r)
    duration = _seconds(values.get("duration", ""))
    started = start.replace(tzinfo=None).isoformat(timespec="seconds")
    row.update({
        "row_key": _row_key(cells), "source": path, "line": line, "started_at": started,
        "day": started[:10], "duration": duration,
        "uniqueid": values.get("uniqueid", "").strip() or None,
        "linkedid": values.get("linkedid", "").strip() or None,
    })
    return row


def _rows_of(path: Path, where: str, issues: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of a CSV or XLSX file; blank rows skipped. A line the CSV reader
    cannot read ends the file there, with an issue; the rows before it are kept."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            from openpyxl import load_workbook

            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many kinds for a file that is not a workbook
            raise CallLogError(f"{where}: cannot open the workbook ({e}); export the log as .xlsx or .csv") from e
        try:
            sheet = book.worksheets[0]
            for lineno, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [_cell_text(v) for v in values]
                if any(c.strip() for c in cells):
                    yield lineno, cells
        finally:
            book.close()
        return
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CallLogError(f"{where}: cannot read the call log ({e.strerror or e}); check the path") from e
    try:
        text = _decode(raw, where)
    except Exception as e:
        raise CallLogError(str(e)) from e
    first = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first))
    line = 0
    while True:
        start_line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            issues.append(f"{where}:{reader.line_num}: not valid CSV ({e}); this line and the rest of the file skipped")
            return
        line = start_line
        if any(c.strip() for c in cells):
            yield line, cells


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _looks_asterisk(cells: Sequence[str], r: CallLogRules) -> bool:
    n = len(r.asterisk_columns)
    if len(cells) < n - 3:
        return False
    return _parse_start(cells[r.asterisk_columns.index("start")]) is not None


def _pick_preset(header: Sequence[str], preset: str | None, r: CallLogRules, where: str) -> tuple[str, dict[str, int], list[str]]:
    keys = [_word(h.replace("\ufeff", "")) for h in header]
    if preset is not None and preset not in r.presets:
        raise CallLogError(f"unknown preset {preset!r}; choose one of: asterisk, {', '.join(r.presets)}")
    candidates = [preset] if preset else list(r.presets)
    best: tuple[int, str, dict[str, int]] | None = None
    for name in candidates:
        assert name is not None
        mapping: dict[str, int] = {}
        for i, key in enumerate(keys):
            for f, names in r.presets[name].items():
                if key in names and f not in mapping:
                    mapping[f] = i
                    break
        usable = ("start" in mapping or "date" in mapping) and (
            ("src" in mapping and "dst" in mapping) or ("client" in mapping or "src" in mapping)
        )
        score = len(mapping) if usable else -1
        if best is None or score > best[0]:
            best = (score, name, mapping)
    assert best is not None
    score, name, mapping = best
    found = ", ".join(repr(h) for h in header if h.strip()) or "none"
    if score < 0:
        raise CallLogError(
            f"{where}:1: not an Asterisk Master.csv and no preset fits the header (found {found}); "
            "a log needs a start column and src + dst (or a client number); add your column names "
            "to a preset in qa/data/calllog.yaml or pass --preset"
        )
    unknown = [h for i, h in enumerate(header) if h.strip() and i not in mapping.values()]
    return name, mapping, unknown


def read_log(path: str | Path, *, preset: str | None = None, rule: CallLogRules | None = None) -> ParsedLog:
    """Read a call log (see the module docstring). Raises :class:`CallLogError` for a file
    that cannot be read at all (missing, empty, no usable columns); bad rows become
    ``issues`` (``file:line: what; row skipped``) and the good rows are kept."""
    r = rule or rules()
    p = Path(path)
    where = str(p)
    issues: list[str] = []
    rows = _rows_of(p, where, issues)
    first = next(rows, None)
    if first is None:
        raise CallLogError(f"{where}: the call log is empty; export the day's calls from the PBX (Master.csv) and try again")
    line, cells = first
    n_std = len(r.asterisk_columns)
    if preset in (None, "asterisk") and _looks_asterisk(cells, r):
        result = ParsedLog(where, "asterisk", issues=issues)
        for line, cells in _chain([first], rows):
            result.lines += 1
            n = len(cells)
            if n < n_std or n > n_std + len(r.asterisk_extra):
                what = "a truncated line?" if n < n_std else "extra columns"
                result.issues.append(
                    f"{where}:{line}: expected {n_std} columns (Asterisk Master.csv) or "
                    f"{n_std + len(r.asterisk_extra)} with {', '.join(r.asterisk_extra)}, found {n} "
                    f"({what}); row skipped"
                )
                continue
            names = r.asterisk_columns + r.asterisk_extra[: n - n_std]
            values = dict(zip(names, cells))
            try:
                result.rows.append(_make_row(values, cells, where, line, r))
            except ValueError as e:
                result.issues.append(f"{where}:{line}: {e}; row skipped")
        return result
    if preset == "asterisk":
        raise CallLogError(f"{where}:{line}: this is not an Asterisk Master.csv row (no start time in column 10)")
    name, mapping, unknown = _pick_preset(cells, preset, r, where)
    result = ParsedLog(where, name, issues=issues)
    if unknown:
        result.issues.append(
            f"{where}:{line}: column(s) {', '.join(repr(u) for u in unknown)} not used by preset "
            f"{name!r}; map them in qa/data/calllog.yaml if they matter"
        )
    width = max(mapping.values()) + 1
    for line, cells in rows:
        result.lines += 1
        if len(cells) < width:
            result.issues.append(
                f"{where}:{line}: expected at least {width} columns, found {len(cells)} "
                "(a truncated line?); row skipped"
            )
            continue
        values = {f: cells[i] for f, i in mapping.items()}
        try:
            result.rows.append(_make_row(values, cells, where, line, r))
        except ValueError as e:
            result.issues.append(f"{where}:{line}: {e}; row skipped")
    if result.lines == 0:
        result.issues.append(f"{where}: only a header, no calls; nothing imported")
    return result


def _chain(*parts: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    for part in parts:
        yield from part


# ---- importing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportResult:
    """One log file brought into the workspace."""

    path: str
    format: str
    rows: int  # good rows in the file
    new: int  # of which not in the workspace before
    internal: int
    issues: tuple[str, ...]

    @property
    def summary(self) -> str:
        again = self.rows - self.new
        return (
            f"{self.path}: {self.rows} row(s) read ({self.format}), {self.new} new, "
            f"{again} already in the workspace, {self.internal} internal (ignored), "
            f"{len(self.issues)} problem(s)"
        )


def import_log(
    ws: Workspace,
    path: str | Path,
    *,
    managers: ManagerMap | None = None,
    preset: str | None = None,
) -> ImportResult:
    """Read a log file and store its rows; importing the same rows again adds nothing (a file
    already imported, by content, is not even read again; rows shared with another export of
    the same calls are stored once).

    ``managers`` (from :func:`qa.managers.load_managers`) names the extensions; the names are
    kept in the workspace, so later views show them without the file.
    """
    if managers is not None:
        ws.save_extension_names(dict(managers.names))
    p = Path(path)
    try:
        with p.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as e:
        raise CallLogError(f"{p}: cannot read the call log ({e.strerror or e}); check the path") from e
    done = ws.calllog_imports(digest)
    if done and preset in (None, done[-1]["format"]):
        # The same file again: every row is stored already; say what its first import said.
        last = done[-1]
        return ImportResult(str(p), last["format"], last["rows"], 0, last["internal"], tuple(last["issues"]))
    parsed = read_log(p, preset=preset)
    new = ws.save_calllog(parsed.rows, source=parsed.path, issues=parsed.issues, sha256=digest, format=parsed.format)
    internal = sum(1 for row in parsed.rows if row["direction"] == "internal")
    return ImportResult(parsed.path, parsed.format, len(parsed.rows), new, internal, tuple(parsed.issues))


# ---- the analysis --------------------------------------------------------------------------------
def parse_window(text: str | int | float) -> float:
    """``30m``, ``1h``, ``90s``, ``1h30m`` or a bare number of minutes -> minutes."""
    s = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?:in)?)?(?:(\d+(?:\.\d+)?)s)?", s)
    if not s or m is None or not any(m.groups()):
        raise OptionError(f"cannot read callback window {text!r}; write it like 30m, 2h, 1h30m or 90s")
    h, mi, se = (float(g) if g else 0.0 for g in m.groups())
    return h * 60 + mi + se / 60


def _day_arg(value: str | date | None, what: str) -> str | None:
    if value is None or isinstance(value, date):
        return value.isoformat() if isinstance(value, date) else None
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise OptionError(f"--{what} {value!r} is not a date; write YYYY-MM-DD") from None


@dataclass
class _Call:
    """One call: its legs' rows joined (ring groups, queues)."""

    direction: str
    started_at: str
    t: datetime
    extension: str | None
    client: str | None
    client_key: str | None
    answered: bool
    billsec: float
    row_key: str
    uniqueids: tuple[str, ...]


def _calls(rows: Iterable[Mapping[str, Any]]) -> list[_Call]:
    """Rows (oldest first, as :meth:`Workspace.calllog_rows` gives them) -> calls, oldest first."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        key = row["linkedid"] or row["uniqueid"] or row["row_key"]
        groups.setdefault((row["direction"], key), []).append(row)
    calls = []
    parse = datetime.fromisoformat
    for (direction, _), legs in groups.items():
        first = legs[0]
        if len(legs) == 1:  # most calls: one row
            owner, answered = first, bool(first["answered"])
            billsec = float(first["billsec"] or 0)
            uids: tuple[str, ...] = (first["uniqueid"],) if first["uniqueid"] else ()
        else:
            picked = [x for x in legs if x["answered"]]
            owner = picked[0] if picked else next((x for x in legs if x["extension"]), first)
            answered = bool(picked)
            billsec = float(max((x["billsec"] or 0) for x in legs))
            uids = tuple(x["uniqueid"] for x in legs if x["uniqueid"])
        calls.append(_Call(
            direction=direction, started_at=first["started_at"], t=parse(first["started_at"]),
            extension=owner["extension"], client=owner["client"] or first["client"],
            client_key=owner["client_key"] or first["client_key"], answered=answered, billsec=billsec,
            row_key=owner["row_key"], uniqueids=uids,
        ))
    # Groups are in the order of their first rows, which come oldest first: already sorted.
    return calls


@dataclass
class MissedReport:
    """What :func:`missed_report` found. ``managers``: one row per manager and a ``(team)``
    row; ``not_called_back``: one row per client; ``misses``: one row per missed call."""

    date_from: str | None
    date_to: str | None
    window_minutes: float
    rule: str
    managers: pd.DataFrame
    not_called_back: pd.DataFrame
    misses: pd.DataFrame
    has_log: bool

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"missed": self.managers, "not_called_back": self.not_called_back}

    def row(self, manager: str) -> dict[str, Any] | None:
        hit = self.managers[self.managers["manager"] == manager]
        return None if hit.empty else hit.iloc[0].to_dict()


MANAGER_COLUMNS = [
    "manager", "extension", "inbound", "answered", "missed", "called_back_in_time",
    "called_back_late", "not_called_back", "recovered", "callback_rate", "in_time_rate",
    "median_callback_minutes", "p90_callback_minutes", "outbound", "outbound_answered",
    "talk_minutes", "avg_talk_seconds",
]
NOT_CALLED_BACK_COLUMNS = ["client", "manager", "missed_calls", "first_missed_at", "last_missed_at"]
MISS_COLUMNS = ["started_at", "client", "manager", "extension", "outcome", "callback_at", "callback_minutes", "row_key"]


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _load_rows(ws: Workspace, day_from: str | None, day_to: str | None) -> list[Any]:
    """The period's rows and, for callbacks, those of ``callback_horizon_days`` after it."""
    horizon = None
    if day_to is not None:
        horizon = (date.fromisoformat(day_to) + timedelta(days=rules().callback_horizon_days)).isoformat()
    return ws.calllog_rows(day_from=day_from, day_to=horizon, directions=("in", "out"))


def missed_report(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    manager: str | None = None,
    window: str | float = 30,
    rule: str = "attempt",
) -> MissedReport:
    """Missed inbound calls and callbacks per manager for the period (days inclusive).

    ``window``: minutes, or text such as ``30m`` (see :func:`parse_window`); ``rule``:
    ``attempt`` (any outbound call is a callback) or ``answered``. ``manager`` (a name or
    an extension) keeps that manager's rows and the team row.
    """
    import pandas as pd

    minutes = parse_window(window) if isinstance(window, str) else float(window)
    if rule not in CALLBACK_RULES:
        raise OptionError(f"unknown callback rule {rule!r}; use {' or '.join(CALLBACK_RULES)}")
    lo, hi = _day_arg(date_from, "from"), _day_arg(date_to, "to")
    names = ws.extension_names()
    rows = _load_rows(ws, lo, hi)
    calls = _calls(rows)

    def who(ext: str | None) -> str:
        return names.get(ext, ext) if ext else NOBODY

    # Per client: outbound starts (per rule) and answered inbound starts, sorted.
    callbacks: dict[str, list[datetime]] = {}
    recoveries: dict[str, list[datetime]] = {}
    for c in calls:
        if not c.client_key:
            continue
        if c.direction == "out" and (rule == "attempt" or c.answered):
            callbacks.setdefault(c.client_key, []).append(c.t)
        elif c.direction == "in" and c.answered:
            recoveries.setdefault(c.client_key, []).append(c.t)

    def after(times: list[datetime] | None, t: datetime) -> datetime | None:
        if not times:
            return None
        i = bisect.bisect_right(times, t)
        return times[i] if i < len(times) else None

    stats: dict[str, dict[str, Any]] = {}
    delays: dict[str, list[float]] = {}
    misses: list[dict[str, Any]] = []

    def bucket(name: str, ext: str | None) -> dict[str, Any]:
        s = stats.get(name)
        if s is None:
            s = stats[name] = {c: 0 for c in MANAGER_COLUMNS}
            s.update(manager=name, extension=ext or "", talk_seconds=0.0, talked=0)
            delays[name] = []
        return s

    for c in calls:
        day = c.started_at[:10]
        if (lo and day < lo) or (hi and day > hi):
            continue
        name = who(c.extension)
        for s in (bucket(name, c.extension), bucket(TEAM, None)):
            if c.answered:
                s["talk_seconds"] += c.billsec
                s["talked"] += 1
            if c.direction == "out":
                s["outbound"] += 1
                s["outbound_answered"] += int(c.answered)
            else:
                s["inbound"] += 1
                s["answered"] += int(c.answered)
                s["missed"] += int(not c.answered)
        if c.direction != "in" or c.answered:
            continue
        cb = after(callbacks.get(c.client_key or ""), c.t) if c.client_key else None
        back = after(recoveries.get(c.client_key or ""), c.t) if c.client_key else None
        delay = None
        if cb is not None and (back is None or cb <= back):
            delay = (cb - c.t).total_seconds() / 60
            outcome = "called_back_in_time" if delay <= minutes + 1e-9 else "called_back_late"
        elif back is not None:
            outcome = "recovered"
        else:
            outcome = "not_called_back"
        for key in (name, TEAM):
            stats[key][outcome] += 1
            if delay is not None:
                delays[key].append(delay)
        misses.append({
            "started_at": c.started_at, "client": c.client, "manager": name, "extension": c.extension,
            "outcome": outcome, "callback_at": cb.isoformat() if delay is not None and cb else None,
            "callback_minutes": None if delay is None else round(delay, 1), "row_key": c.row_key,
        })

    out = []
    for name, s in stats.items():
        d = delays[name]
        called = s["called_back_in_time"] + s["called_back_late"]
        s["callback_rate"] = round(100.0 * called / s["missed"], 1) if s["missed"] else None
        s["in_time_rate"] = round(100.0 * s["called_back_in_time"] / s["missed"], 1) if s["missed"] else None
        med, p90 = _quantile(d, 0.5), _quantile(d, 0.9)
        s["median_callback_minutes"] = None if med is None else round(med, 1)
        s["p90_callback_minutes"] = None if p90 is None else round(p90, 1)
        s["talk_minutes"] = round(s["talk_seconds"] / 60, 1)
        s["avg_talk_seconds"] = round(s["talk_seconds"] / s["talked"], 1) if s["talked"] else None
        out.append({c: s[c] for c in MANAGER_COLUMNS})
    order = sorted((r for r in out if r["manager"] != TEAM), key=lambda r: (r["manager"] == NOBODY, str(r["manager"]).casefold()))
    team = [r for r in out if r["manager"] == TEAM]
    if manager is not None:
        wanted = str(manager).casefold()
        order = [r for r in order if str(r["manager"]).casefold() == wanted or str(r["extension"]) == str(manager)]
        if not order and rows:
            known = ", ".join(sorted({str(r["manager"]) for r in out if r["manager"] not in (TEAM, NOBODY)})) or "none"
            raise CallLogError(f"no calls for manager {manager!r} in the call log for this period; known: {known}")
        keep = {r["manager"] for r in order}
        misses = [m for m in misses if m["manager"] in keep]
    managers_df = pd.DataFrame(order + team, columns=MANAGER_COLUMNS)
    for col in ("median_callback_minutes", "p90_callback_minutes", "callback_rate", "in_time_rate", "avg_talk_seconds"):
        managers_df[col] = managers_df[col].astype("float64")
    misses_df = pd.DataFrame(misses, columns=MISS_COLUMNS)
    return MissedReport(lo, hi, minutes, rule, managers_df, _never(misses_df), misses_df, bool(rows) or ws.has_calllog())


def _never(misses: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for m in misses[misses["outcome"] == "not_called_back"].to_dict("records"):
        key = str(m["client"])
        r = rows.get(key)
        if r is None:
            rows[key] = {"client": m["client"], "manager": m["manager"], "missed_calls": 1,
                         "first_missed_at": m["started_at"], "last_missed_at": m["started_at"]}
        else:
            r["missed_calls"] += 1
            r["last_missed_at"] = max(r["last_missed_at"], m["started_at"])
            r["manager"] = m["manager"] if m["started_at"] >= r["last_missed_at"] else r["manager"]
    out = sorted(rows.values(), key=lambda r: r["last_missed_at"], reverse=True)
    return pd.DataFrame(out, columns=NOT_CALLED_BACK_COLUMNS)


# ---- blocks for the other views ------------------------------------------------------------------
def _fmt(value: Any, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.0f}{suffix}" if suffix == "%" else f"{value:.1f}{suffix}"
    return f"{value}{suffix}"


def calls_block(
    ws: Workspace,
    manager: str | None = None,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    window: str | float = 30,
) -> pd.DataFrame | None:
    """The "calls" block of ``qa scorecard`` (one manager against the team) and ``qa team``
    (``manager=None``: one row per manager). None when the workspace has no call log."""
    import pandas as pd

    if not ws.has_calllog():
        return None
    report = missed_report(ws, date_from, date_to, window=window)
    team = report.row(TEAM) or {}
    if manager is None:
        rows = [
            {"Manager": r["manager"], "Inbound": r["inbound"], "Missed": r["missed"],
             "Called back": _fmt(r["callback_rate"], "%"),
             f"Within {report.window_minutes:g} min": r["called_back_in_time"],
             "Never called back": r["not_called_back"], "Recovered": r["recovered"],
             "Median callback, min": _fmt(r["median_callback_minutes"]),
             "Outbound": r["outbound"], "Talk, min": _fmt(r["talk_minutes"])}
            for r in report.managers.to_dict("records")
        ]
        return pd.DataFrame(rows)
    mine: dict[str, Any] = next((r for r in report.managers.to_dict("records")
                                 if str(r["manager"]).casefold() == str(manager).casefold() and r["manager"] != TEAM), {})
    metrics = (
        ("Inbound calls", "inbound", ""), ("Missed", "missed", ""), ("Called back", "callback_rate", "%"),
        (f"Called back within {report.window_minutes:g} min", "in_time_rate", "%"),
        ("Never called back", "not_called_back", ""), ("Recovered (client called again)", "recovered", ""),
        ("Median callback, min", "median_callback_minutes", ""), ("Outbound calls", "outbound", ""),
        ("Talk time, min", "talk_minutes", ""),
    )
    return pd.DataFrame([
        {"Metric": label, "Value": _fmt(mine.get(key, 0 if not suffix and key != "median_callback_minutes" else None), suffix),
         "Team": _fmt(team.get(key), suffix)}
        for label, key, suffix in metrics
    ], columns=["Metric", "Value", "Team"])


def never_called_back(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    manager: str | None = None,
    window: str | float = 30,
) -> pd.DataFrame:
    """Clients whose missed calls in the period nobody called back (newest first):
    ``client, manager, missed_calls, first_missed_at, last_missed_at``."""
    import pandas as pd

    if not ws.has_calllog():
        return pd.DataFrame(columns=NOT_CALLED_BACK_COLUMNS)
    return missed_report(ws, date_from, date_to, manager=manager, window=window).not_called_back


REVIVE_COLUMNS = ["started_at", "client_phone", "manager", "call_id", "objections", "time", "quote",
                  "moments", "score", "source", "seconds", "reason"]


def revive_rows(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    manager: str | None = None,
    *,
    base: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``qa revive``'s list with the clients whose missed calls were never called back added
    (reason ``missed call, not called back``), newest first. ``base`` is
    :func:`qa.coaching.revive_list`'s frame (its rows get the reason ``unhandled objection,
    no next step``)."""
    import pandas as pd

    if base is not None and not ws.has_calllog():
        return base  # no log: the list stays as it was
    frames = []
    if base is not None:
        b = base.copy()
        b["reason"] = "unhandled objection, no next step"
        frames.append(b)
    never = never_called_back(ws, date_from, date_to)
    if manager is not None and len(never):
        never = never[never["manager"].astype(str).str.casefold() == str(manager).casefold()]
    if len(never):
        reason = [f"missed call, not called back ({n} missed)" if n > 1 else "missed call, not called back"
                  for n in never["missed_calls"]]
        frames.append(pd.DataFrame({
            "started_at": never["last_missed_at"], "client_phone": never["client"],
            "manager": never["manager"], "call_id": None, "objections": reason, "time": "",
            "quote": "", "moments": "", "score": float("nan"), "source": "PBX call log",
            "seconds": float("nan"), "reason": reason,
        }))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=REVIVE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values("started_at", ascending=False, kind="stable").reset_index(drop=True)[
        [c for c in REVIVE_COLUMNS if c in out.columns]
    ]


# ---- coaching: a goal on callback speed -----------------------------------------------------------
@dataclass
class CallbackCoaching:
    """A callback-speed goal for one manager, and the check of the previous one."""

    manager: str
    window_minutes: float
    rate: float | None  # percent of missed calls called back within the window
    missed: int
    team_best_quartile: float | None
    target: float | None
    previous: dict[str, Any] | None = None
    goal_id: int | None = None

    @property
    def goal_text(self) -> str | None:
        if self.target is None:
            return None
        return f"call back at least {self.target:.0f}% of missed calls within {self.window_minutes:g} min"

    def to_markdown(self) -> str:
        lines = ["## Callbacks (PBX call log)", ""]
        if self.previous is not None:
            p = self.previous
            actual = "no missed calls" if p["actual"] is None else f"{p['actual']:.0f}%"
            verdict = "no data" if p["met"] is None else ("met" if p["met"] else "not met")
            lines.append(f"- Previous goal: **{verdict}**: {p['text']}; actual {actual}")
        now = "no missed calls" if self.rate is None else f"{self.rate:.0f}% of {self.missed} missed call(s)"
        best = "" if self.team_best_quartile is None else f"; team best quartile {self.team_best_quartile:.0f}%"
        lines.append(f"- Now: called back within {self.window_minutes:g} min: {now}{best}")
        if self.goal_text:
            lines.append(f"- Goal for the next period: {self.goal_text}")
        else:
            lines.append("- No callback goal: at or above the team's best quartile")
        return "\n".join(lines) + "\n"


def callback_coaching(
    ws: Workspace,
    manager: str,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    window: str | float = 30,
    save: bool = True,
) -> CallbackCoaching | None:
    """``qa coach``'s callback goal: the share of missed calls called back within the window,
    against the team's best quartile (75th percentile of the managers' shares); the goal is
    that quartile when the manager is below it. The previous goal (saved for a period that
    ended before this one) is checked first. None when the workspace has no call log."""
    if not ws.has_calllog():
        return None
    report = missed_report(ws, date_from, date_to, window=window)
    rates = [float(r["in_time_rate"]) for r in report.managers.to_dict("records")
             if r["manager"] not in (TEAM, NOBODY) and not _nan(r["in_time_rate"])]
    best = _quantile(rates, 0.75)
    mine = next((r for r in report.managers.to_dict("records")
                 if str(r["manager"]).casefold() == str(manager).casefold()), None)
    rate = None if mine is None or _nan(mine["in_time_rate"]) else float(mine["in_time_rate"])
    target = best if best is not None and rate is not None and rate < best - 1e-9 else None
    result = CallbackCoaching(manager, report.window_minutes, rate, int(mine["missed"]) if mine else 0, best, target)
    start = report.date_from or (str(report.misses["started_at"].min())[:10] if len(report.misses) else None)
    earlier = [g for g in ws.callback_goals(manager) if g["period_to"] and (start is None or g["period_to"] < start)]
    if earlier:
        goal = earlier[-1]["goal"]
        actual = rate
        result.previous = {"text": goal["text"], "target": goal["target"], "actual": actual,
                           "met": None if actual is None else actual >= float(goal["target"]) - 1e-9}
    if save and target is not None:
        end = report.date_to or (str(report.misses["started_at"].max())[:10] if len(report.misses) else None)
        result.goal_id = ws.save_callback_goal(
            manager, {"text": result.goal_text, "target": target, "baseline": rate,
                      "window_minutes": report.window_minutes},
            period_from=start, period_to=end,
        )
    return result


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


# ---- recordings and log rows ----------------------------------------------------------------------
def _links(ws: Workspace, lo: str | None = None, hi: str | None = None) -> dict[str, str]:
    """call_id -> row_key of the log row that is the same call (cached per workspace state:
    the report asks once per call page)."""
    state = (lo, hi, ws.change_marker())
    cache: dict[Any, dict[str, str]] = ws.__dict__.setdefault("_calllog_links", {})
    if state not in cache:
        cache.clear()
        cache[state] = _find_links(ws, lo, hi)
    return cache[state]


def _find_links(ws: Workspace, lo: str | None, hi: str | None) -> dict[str, str]:
    from .store import day_range

    days, params = day_range("day", lo, hi)
    rec = ws.query(
        "SELECT call_id, source, manager, started_at, client_phone FROM calls "
        f"WHERE {' AND '.join(['started_at IS NOT NULL', *days])}",
        params,
    )
    if not rec:
        return {}
    r = rules()
    names = ws.extension_names()
    rows = ws.calllog_rows(day_from=lo, day_to=hi, directions=("in", "out"))
    by_uid: dict[str, str] = {}
    by_key: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for row in rows:
        if row["uniqueid"]:
            by_uid.setdefault(row["uniqueid"], row["row_key"])
        if row["extension"] and row["client_key"]:
            t = datetime.fromisoformat(row["started_at"])
            for who in {row["extension"], names.get(row["extension"], row["extension"])}:
                by_key.setdefault((str(who).casefold(), row["client_key"]), []).append((t, row["row_key"]))
    uid_re = re.compile(r"(\d{9,}\.\d+)")
    links: dict[str, str] = {}
    for call_id, source, manager, started_at, phone in rec:
        for text in (call_id, Path(source or "").name):
            m = uid_re.search(text or "")
            if m and m.group(1) in by_uid:
                links[call_id] = by_uid[m.group(1)]
                break
        if call_id in links or not manager:
            continue
        key = r.client_key(phone)
        try:
            t = datetime.fromisoformat(str(started_at))
        except ValueError:
            continue
        best = None
        for lt, row_key in by_key.get((str(manager).casefold(), key or ""), []):
            gap = abs((lt - t).total_seconds())
            if gap <= r.link_within_seconds and (best is None or gap < best[0]):
                best = (gap, row_key)
        if best is not None:
            links[call_id] = best[1]
    return links


def log_for_call(ws: Workspace, call_id: str) -> dict[str, Any] | None:
    """The log row of a recording (same uniqueid, or same extension, client number and start
    within ``link_within_seconds``), with the manager's name; None when none matches."""
    if not ws.has_calllog():
        return None
    row = ws.query("SELECT day FROM calls WHERE call_id=?", [call_id])
    if not row or not row[0][0]:
        return None
    day = row[0][0]
    key = _links(ws, day, day).get(call_id)
    if key is None:
        return None
    found = ws.calllog_row(key)
    if found is not None:
        found["manager"] = ws.extension_names().get(found["extension"], found["extension"])
    return found


def unrecorded_calls(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
) -> pd.DataFrame:
    """Answered log calls of the period with no recording in the workspace, on the days that
    have recordings (a day without any recording says nothing about missing ones):
    ``started_at, direction, manager, client, talk_seconds, uniqueid``."""
    import pandas as pd

    cols = ["started_at", "direction", "manager", "client", "talk_seconds", "uniqueid"]
    lo, hi = _day_arg(date_from, "from"), _day_arg(date_to, "to")
    if not ws.has_calllog():
        return pd.DataFrame(columns=cols)
    days = {r[0] for r in ws.query("SELECT DISTINCT day FROM calls WHERE day IS NOT NULL")}
    if not days:
        return pd.DataFrame(columns=cols)
    linked = set(_links(ws, lo, hi).values())
    linked_uids = _linked_uids(ws, linked)
    names = ws.extension_names()
    calls = _calls(ws.calllog_rows(day_from=lo, day_to=hi, directions=("in", "out")))
    out = [
        {"started_at": c.started_at, "direction": c.direction,
         "manager": names.get(c.extension, c.extension) if c.extension else NOBODY,
         "client": c.client, "talk_seconds": c.billsec, "uniqueid": c.uniqueids[0] if c.uniqueids else None}
        for c in calls
        if c.answered and c.started_at[:10] in days and c.row_key not in linked
        and not (set(c.uniqueids) & linked_uids)
    ]
    return pd.DataFrame(out, columns=cols)


def _linked_uids(ws: Workspace, keys: set[str]) -> set[str]:
    out = set()
    for key in keys:
        row = ws.calllog_row(key)
        if row and row.get("uniqueid"):
            out.add(str(row["uniqueid"]))
    return out


# ---- HTML for the report (qa report) ------------------------------------------------------------
def _h(value: Any) -> str:
    import html

    return html.escape("" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value))


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool]) -> str:
    head = "".join(f'<th class="{"num" if n else "text"}">{_h(h)}</th>' for h, n in zip(headers, numeric))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if n else ""}">{_h(v)}</td>' for v, n in zip(row, numeric)) + "</tr>"
        for row in rows
    )
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _label(key: str, lang: str, **values: Any) -> str:
    """A word of the report's PBX blocks in ``lang``: key ``pbx_<key>`` of the interface
    catalogs (:mod:`qa.ui`, ``qa/data/ui/<lang>.yaml``), English for a language without one."""
    from .ui import Catalog, languages

    return Catalog(lang if lang in languages() else "en")(f"pbx_{key}", **values)


def day_card_html(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    window: str | float = 30,
    lang: str = "en",
) -> str:
    """The report day page's PBX block: missed calls per manager and the clients never called
    back (phone and time), in ``lang`` (words in ``qa/data/ui/<lang>.yaml``, English for a
    missing one). An empty string when the workspace has no call log."""
    if not ws.has_calllog():
        return ""
    report = missed_report(ws, date_from, date_to, window=window)
    t = lambda key, **v: _label(key, lang, **v)  # noqa: E731
    within = t("within", minutes=f"{report.window_minutes:g}")
    per_manager = _html_table(
        [t("manager"), t("inbound"), t("missed"), t("called_back", within=within), t("later"), t("never"),
         t("recovered"), t("median"), t("outbound"), t("talk")],
        [[r["manager"], r["inbound"], r["missed"], r["called_back_in_time"], r["called_back_late"],
          r["not_called_back"], r["recovered"], _fmt(r["median_callback_minutes"]), r["outbound"],
          _fmt(r["talk_minutes"])] for r in report.managers.to_dict("records")],
        [False] + [True] * 9,
    )
    never = report.not_called_back
    clients = _html_table(
        [t("client"), t("manager"), t("missed_calls"), t("last_missed"), t("first_missed")],
        [[r["client"], r["manager"], r["missed_calls"], str(r["last_missed_at"]).replace("T", " ")[:16],
          str(r["first_missed_at"]).replace("T", " ")[:16]] for r in never.to_dict("records")],
        [False, False, True, False, False],
    ) if len(never) else f'<p class="note">{_h(t("all_called_back"))}</p>'
    return (
        f'<section class="card calllog"><h2>{_h(t("card_title"))}</h2>'
        f'<p class="note">{_h(t("card_note", within=within, rule=report.rule))}</p>{per_manager}'
        f'<h2>{_h(t("never_title"))}</h2>{clients}</section>'
    )


def call_log_html(ws: Workspace, call_id: str, *, lang: str = "en") -> str:
    """The call page's line of PBX log data (start, status, talk time, uniqueid) in ``lang``;
    an empty string when no log row is the same call."""
    row = log_for_call(ws, call_id)
    if row is None:
        return ""
    t = lambda key, **v: _label(key, lang, **v)  # noqa: E731
    parts = [
        f"{t(row['direction'])} {str(row['started_at']).replace('T', ' ')}",
        f"{t('status')} {row['disposition'] or ''}".strip(),
        t("talk_seconds", seconds=f"{row['billsec']:.0f}") if row["billsec"] is not None else "",
        f"{t('extension')} {row['extension']} ({row['manager']})" if row["extension"] else "",
        f"{t('client')} {row['client']}" if row["client"] else "",
        f"{t('uniqueid')} {row['uniqueid']}" if row["uniqueid"] else "",
    ]
    return f'<div class="alert info calllog"><b>{_h(t("log"))}:</b> {_h(" · ".join(p for p in parts if p))}</div>'
