"""The workspace: one database that keeps everything across days.

By default a folder holding one SQLite file (``qa.sqlite``, WAL mode: readers never block
the writer); or a PostgreSQL database, named by a ``postgresql://user:pass@host:port/db``
URL (``?schema=NAME`` keeps several workspaces in one database), shared by machines that
transcribe, score and read at the same time. Both hold the same tables and answer the same
methods: the SQL here and in the views is written once, in SQLite's dialect, and
:mod:`qa.db` translates it for PostgreSQL (placeholders, upserts, full-text search).

Tables (one owner each, all written only through this module):

``transcripts``  transcript JSON by cache key (audio content + model + options), so a call
                 already transcribed is never transcribed again;
``calls``        one row per call: metadata, which transcript it uses, quality flags;
``failures``     files that could not be processed, with a one-line reason;
``configs``      every script / rubric version ever used, by content hash;
``scores``       one row per call and (script, rubric) version: score, metrics, flags, and
                 for the supervisor views, which read 100,000 of these at once: the call's
                 item statuses per kind (``tokens_*``, see :data:`TOKEN_KINDS`) and the key
                 talk metrics as columns (``metric_*``, see :data:`KEY_METRICS`), so a team
                 is counted without reading ``items`` or parsing JSON; and the objections
                 the manager left unhandled (``unhandled_objections``, see
                 :func:`unhandled_objections`), so the revive list reads no items either;
``items``        one row per call, version and checked item (stage, objection, forbidden)
                 with the evidence: quote, timestamp, similarity, and the index of the
                 utterance it was said in (``utterance``);
``plans``        saved coaching plans.

Every write is one transaction, so a killed run leaves either the whole call or nothing:
nothing half-written is ever read back as valid.

Which scores a view reads is decided here too, by one rule (:mod:`qa.versions` names the
versions, :meth:`Workspace.scope_sql` writes the SQL): scorecards, coaching, mining, clips
and the report all read through it, so they count the same calls.

Schema versions: 1 (first release); 2 adds ``items.utterance``, ``scores.tokens_*`` and
``scores.metric_*``; 3 adds ``items.layer`` (which layer found it: ``fuzzy`` or ``meaning``),
the meaning layer's ``vectors`` cache and the supervisors' ``disputes``; 4 the search index;
5 ``score_totals``; 6 ``scores.unhandled_objections`` (what the revive list reads).
Opening an older workspace migrates it in place (``ALTER TABLE``; the token columns are
filled from ``items`` once).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from .db import location_of, workspace_spec
from .db.postgres import catalog as pg_catalog
from .errors import WorkspaceError
from .transcripts import CallMeta, Transcript

SCHEMA_VERSION = 6
#: PostgreSQL advisory lock of the score totals (Workspace._lock_totals): any fixed number
_TOTALS_LOCK = 0x51415F544F54
DB_NAME = "qa.sqlite"
DEFAULT_WORKSPACE = "qa_workspace"

#: Bytes of a SQLite workspace file read through a memory map (``PRAGMA mmap_size``; beyond
#: it, reads fall back to ordinary I/O).
MMAP_SIZE = 1 << 30

#: The meaning layer's vector cache: one sentence-encoder vector per (model, SHA-1 of the
#: text), float32 bytes. Part of every workspace, and the whole of a standalone cache file
#: (``qa.meaning.SqliteVectorCache``).
VECTORS_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    key TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID;
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transcripts (
    cache_key TEXT PRIMARY KEY,
    json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    source TEXT,
    audio_sha256 TEXT,
    cache_key TEXT REFERENCES transcripts(cache_key),
    manager TEXT,
    started_at TEXT,
    day TEXT,
    direction TEXT,
    client_phone TEXT,
    duration REAL,
    outcome TEXT,
    language TEXT,
    model TEXT,
    quality_json TEXT NOT NULL DEFAULT '{}',
    extra_json TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_manager_day ON calls(manager, day);
CREATE INDEX IF NOT EXISTS calls_day ON calls(day);
CREATE TABLE IF NOT EXISTS failures (
    source TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS configs (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT,
    path TEXT,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    call_id TEXT NOT NULL,
    script_hash TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    score REAL NOT NULL,
    points REAL,
    max_points REAL,
    critical INTEGER NOT NULL DEFAULT 0,
    critical_reason TEXT,
    next_step INTEGER,
    metrics_json TEXT NOT NULL DEFAULT '{}',
    summary_json TEXT NOT NULL DEFAULT '{}',
    scored_at REAL NOT NULL,
    tokens_stage TEXT,
    tokens_objection TEXT,
    tokens_forbidden TEXT,
    metric_manager_talk_share REAL,
    metric_longest_monologue_s REAL,
    metric_manager_questions REAL,
    metric_manager_interruptions REAL,
    metric_long_silences REAL,
    metric_manager_wpm REAL,
    unhandled_objections TEXT,
    PRIMARY KEY (call_id, script_hash, rubric_hash)
);
-- scored_at too: version_stats (every view) reads its counts and latest time from the index
DROP INDEX IF EXISTS scores_version;
CREATE INDEX IF NOT EXISTS scores_version_at ON scores(script_hash, rubric_hash, scored_at);
CREATE TABLE IF NOT EXISTS items (
    call_id TEXT NOT NULL,
    script_hash TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    title TEXT,
    status TEXT NOT NULL,
    score REAL,
    max_score REAL,
    start REAL,
    end REAL,
    role TEXT,
    text TEXT,
    matched TEXT,
    phrase TEXT,
    similarity REAL,
    detail TEXT,
    utterance INTEGER,
    layer TEXT
);
CREATE INDEX IF NOT EXISTS items_call ON items(call_id, script_hash, rubric_hash);
CREATE INDEX IF NOT EXISTS items_version ON items(script_hash, rubric_hash, kind, item_id);
-- Covering index for the supervisor views (qa.scorecards): they count items per call,
-- version, kind and status with GROUP BY, which then never touches the table rows.
CREATE INDEX IF NOT EXISTS items_status ON items(call_id, script_hash, rubric_hash, kind, item_id, status);
CREATE TABLE IF NOT EXISTS plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    manager TEXT NOT NULL,
    created_at REAL NOT NULL,
    period_from TEXT,
    period_to TEXT,
    script_hash TEXT,
    rubric_hash TEXT,
    plan_json TEXT NOT NULL
);
-- ---- PBX call log (qa.calllog) -------------------------------------------------------
-- One row per CDR row, keyed by a hash of the row's own cells, so re-importing a day's
-- log (or an overlapping export) adds nothing. direction: in | out | internal.
CREATE TABLE IF NOT EXISTS calllog (
    row_key TEXT PRIMARY KEY,
    source TEXT,
    line INTEGER,
    started_at TEXT NOT NULL,
    day TEXT NOT NULL,
    direction TEXT NOT NULL,
    extension TEXT,
    client TEXT,
    client_key TEXT,
    src TEXT,
    dst TEXT,
    channel TEXT,
    dstchannel TEXT,
    disposition TEXT,
    answered INTEGER NOT NULL,
    duration REAL,
    billsec REAL,
    uniqueid TEXT,
    linkedid TEXT,
    imported_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calllog_day ON calllog(day, direction);
CREATE INDEX IF NOT EXISTS calllog_uniqueid ON calllog(uniqueid);
CREATE TABLE IF NOT EXISTS calllog_imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    sha256 TEXT,
    format TEXT,
    internal INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL,
    new_rows INTEGER NOT NULL,
    issues_json TEXT NOT NULL DEFAULT '[]',
    imported_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calllog_imports_sha ON calllog_imports(sha256);
CREATE TABLE IF NOT EXISTS calllog_extensions (extension TEXT PRIMARY KEY, manager TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calllog_goals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    manager TEXT NOT NULL,
    created_at REAL NOT NULL,
    period_from TEXT,
    period_to TEXT,
    goal_json TEXT NOT NULL
);
-- ---- end of PBX call log ----------------------------------------------------------------
-- ---- meaning layer and disputes (qa.meaning, qa.disputes) ------------------------------
-- vectors: VECTORS_SCHEMA above (also the whole of a standalone cache file)
""" + VECTORS_SCHEMA + """-- disputes: a supervisor's override of one item of one call; kept across rescoring (it
-- is keyed by call and item, not by version). One row per (call, kind, item).
CREATE TABLE IF NOT EXISTS disputes (
    call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    status TEXT NOT NULL,
    tool_status TEXT,
    note TEXT,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    source TEXT,
    PRIMARY KEY (call_id, kind, item_id)
);
-- ---- end of meaning layer and disputes -------------------------------------------------
-- ---- search over utterances (qa.search) ------------------------------------------------
-- One row per utterance of every call, with its text in the stemmed form of qa.normalize
-- (``stems``); search_fts indexes those stems (external content: the stems are kept once).
-- Both are rewritten in the transaction that saves the call (Workspace.save_call).
CREATE TABLE IF NOT EXISTS search_utterances (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    utterance INTEGER NOT NULL,
    role TEXT,
    start REAL,
    end REAL,
    text TEXT NOT NULL,
    stems TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_utterances_call ON search_utterances(call_id);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    stems, content='search_utterances', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
-- ---- end of search ------------------------------------------------------------------------
-- ---- calibration profiles (qa.calibrate) ---------------------------------------------------
-- What ``qa calibrate --fit`` learnt from human grades for one script/rubric version (their
-- config hashes): per-item meaning thresholds as JSON; ``qa score`` applies it to that
-- version only. One row per version and encoder.
CREATE TABLE IF NOT EXISTS calibrations (
    script_hash TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    encoder TEXT NOT NULL,
    profile_json TEXT NOT NULL,
    grades INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (script_hash, rubric_hash, encoder)
);
-- ---- end of calibration profiles -----------------------------------------------------------
-- Totals of the scores per version, manager ('' = none) and day ('' = none), kept by every
-- write of a score or of a call's manager or day (schema 5): the supervisor views count a
-- team from a few thousand of these rows instead of one row per call. ``totals`` is JSON
-- (Workspace._totals_merge says what it holds); sums are exact (store.exact).
CREATE TABLE IF NOT EXISTS score_totals (
    script_hash TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    manager TEXT NOT NULL,
    day TEXT NOT NULL,
    calls INTEGER NOT NULL,
    totals TEXT NOT NULL,
    PRIMARY KEY (script_hash, rubric_hash, manager, day)
);
"""

#: The revive list's index (SQLite): the scores with an unhandled objection and no next step,
#: with all the list reads of them, so a 90-day list never reads the wide score rows of the
#: calls it leaves out (0.17 -> 0.11 CPU s on 100,000 calls). Not in ``_SCHEMA``: that runs
#: before an older workspace is migrated, when the column does not exist yet. PostgreSQL
#: plans the join its own way, and limits an index entry to about 2.7 kB (quotes are longer).
_REVIVE_INDEX = (
    "CREATE INDEX IF NOT EXISTS scores_revive ON scores(call_id, script_hash, rubric_hash, next_step, score, "
    "scored_at, unhandled_objections) WHERE unhandled_objections IS NOT NULL AND next_step = 0"
)

#: What PostgreSQL needs to know of each table (keys for upserts, generated ids), read from
#: the schema text above: the one definition of the schema for both databases.
_PG_TABLES = pg_catalog(_SCHEMA)

#: Evidence columns of an ``items`` row: where and how an item was said. ``utterance`` is
#: the index (in ``Transcript.utterances``) of the utterance holding the match, so a page or
#: the miner finds the turn without searching for it by time and quote.
EVIDENCE_COLUMNS = (
    "start", "end", "role", "text", "matched", "phrase", "similarity", "utterance",
)
#: Columns of ``items`` in insert order (the dicts passed to :meth:`Workspace.save_score`).
#: The one definition: the scorer, the views and the benchmarks all take it from here.
ITEM_COLUMNS = (
    "kind", "item_id", "title", "status", "score", "max_score", "start", "end",
    "role", "text", "matched", "phrase", "similarity", "detail", "utterance", "layer",
)
#: Item kinds whose statuses are kept per score in ``scores.tokens_<kind>``: the item ids and
#: statuses of the call as ``item_id<US>status`` joined by ``<RS>``, sorted (one token per
#: row, so an objection raised twice is there twice). Teams are counted from these.
TOKEN_KINDS = ("stage", "objection", "forbidden")
TOKEN_SEP, FIELD_SEP = "\x1e", "\x1f"
#: The talk metrics (``qa.metrics`` keys) supervisors compare: talk share, longest
#: monologue, questions, interruptions, long silences, speech rate. Besides
#: ``metrics_json``, each score keeps them in a ``metric_<key>`` column.
KEY_METRICS = (
    "manager_talk_share", "longest_monologue_s", "manager_questions", "manager_interruptions",
    "long_silences", "manager_wpm",
)


#: The derived columns of ``scores``, in insert order.
_DERIVED = ", ".join([*(f"tokens_{k}" for k in TOKEN_KINDS), *(f"metric_{m}" for m in KEY_METRICS)])


#: Exact sums are whole numbers of 2**-1074, the smallest step between doubles: every
#: double is one, so a sum of them is an integer, exact, and does not depend on the order.
EXACT_BITS = 1074


def exact(value: float) -> int:
    """``value`` as a whole number of 2**-1074 (exactly)."""
    num, den = float(value).as_integer_ratio()
    return num << (EXACT_BITS - den.bit_length() + 1)


def pack_exact(total: int) -> str:
    """An exact sum as short text: ``<hex>p<bits>`` = hex * 2**-bits (trailing zero bits
    dropped: a sum of values with one decimal keeps about 15 hex digits, not 270)."""
    if not total:
        return "0"
    zeros = (total & -total).bit_length() - 1
    return f"{total >> zeros:x}p{EXACT_BITS - zeros}"


def unpack_exact(text: str) -> int:
    """:func:`pack_exact` back to a whole number of 2**-1074."""
    num, _, bits = text.partition("p")
    return int(num, 16) << (EXACT_BITS - int(bits)) if bits else int(num, 16)


def _number(value: Any) -> float | None:
    """A metric as ``json_extract`` reads it back: numbers (bools as 0/1), else NULL."""
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, (int, float)) else None


def item_tokens(items: Iterable[Mapping[str, Any]], kind: str) -> str | None:
    """``scores.tokens_<kind>`` of one score's items (None when it has none of that kind)."""
    toks = sorted(
        f"{it['item_id']}{FIELD_SEP}{it['status']}" for it in items if it.get("kind") == kind
    )
    return TOKEN_SEP.join(toks) if toks else None


#: The items ``scores.unhandled_objections`` keeps: (kind, status).
UNHANDLED = ("objection", "unhandled")


def unhandled_objections(items: Iterable[Mapping[str, Any]]) -> str | None:
    """``scores.unhandled_objections`` of one score's items: the objections the client raised
    and the manager did not handle, as JSON ``[[item_id, title, start, text], ...]`` in the
    order they were raised (no time first, then by ``start``; at the same moment by item
    id, then as given); None when there are none.

    The revive list (:func:`qa.coaching.revive_list`) reads this one column per call
    instead of looking up the items of every call in scope (100,000 calls: 0.5 s of SQL).
    """
    kind, status = UNHANDLED
    found = [
        [it.get("item_id"), it.get("title"), _start(it.get("start")), it.get("text")]
        for it in items if it.get("kind") == kind and it.get("status") == status
    ]
    if not found:
        return None
    found.sort(key=lambda m: (m[2] is not None, m[2] or 0.0, str(m[0])))
    return json.dumps(found, ensure_ascii=False)


def _start(value: Any) -> float | None:
    """An item's ``start`` as the ``items`` table gives it back (REAL or NULL)."""
    if value is None:
        return None
    f = float(value)
    return None if f != f else f  # NaN: no time


def default_workspace() -> Path | str:
    """``$QA_WORKSPACE`` if set (a folder or a ``postgresql://`` URL), else ``./qa_workspace``."""
    return workspace_spec(os.environ.get("QA_WORKSPACE") or DEFAULT_WORKSPACE)


#: What ``Workspace(...)`` opens: a folder (SQLite) or a ``postgresql://`` URL.
WorkspaceSpec = str | os.PathLike[str]


def open_workspace(spec: WorkspaceSpec | None = None, *, create: bool = True) -> Workspace:
    """The workspace ``spec`` names (default :func:`default_workspace`); the one factory
    for a user's value (``--workspace``, ``QA_WORKSPACE``, a config file)."""
    return Workspace(spec, create=create)


# Identical recordings (or transcript files) share one cached transcript; who the call is
# (id, source, manager, ...) comes from its own row in ``calls``, never from the cache.
_CALL_TRANSCRIPT = (
    "SELECT t.json, call_id, source, manager, started_at, direction, client_phone, duration,"
    " outcome, extra_json FROM calls JOIN transcripts t USING(cache_key)"
)


def _call_transcript(row: Sequence[Any]) -> Transcript:
    t = Transcript.from_json(row[0])
    fields = ("call_id", "source", "manager", "started_at", "direction", "client_phone", "duration", "outcome")
    t.meta = CallMeta(**dict(zip(fields, row[1:9])), extra=json.loads(row[9] or "{}"))
    return t


def _read_frame(conn: Any, sql: str, params: Sequence[Any]) -> Any:
    """A SELECT as a DataFrame, on either database (pandas reads a SQLite connection itself)."""
    import pandas as pd

    if isinstance(conn, sqlite3.Connection):
        return pd.read_sql_query(sql, conn, params=list(params))
    cur = conn.execute(sql, params)
    return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description], coerce_float=True)


class NamedRow(tuple):  # type: ignore[type-arg]
    """A row read by position or by column name, as :class:`sqlite3.Row` (``row["client"]``,
    ``dict(row)``): the call-log rows of a PostgreSQL workspace."""

    _index: Mapping[str, int]

    def __new__(cls, values: Iterable[Any], index: Mapping[str, int]) -> NamedRow:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _lock_key(*parts: str) -> int:
    """A signed 64-bit number for a row key (PostgreSQL advisory locks)."""
    import hashlib

    digest = hashlib.blake2b(FIELD_SEP.join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def day_range(column: str, date_from: str | None, date_to: str | None) -> tuple[list[str], list[Any]]:
    """SQL conditions and their parameters for an inclusive range of ``column`` days
    (``YYYY-MM-DD``); a bound that is None leaves that side open (no condition)."""
    conds: list[str] = []
    params: list[Any] = []
    if date_from:
        conds.append(f"{column} >= ?")
        params.append(date_from)
    if date_to:
        conds.append(f"{column} <= ?")
        params.append(date_to)
    return conds, params


def _day(started_at: str | None) -> str | None:
    if not started_at:
        return None
    return str(started_at)[:10]


class Workspace:
    """A folder holding ``qa.sqlite`` (``Workspace("qa_workspace")``) or a PostgreSQL
    database (``Workspace("postgresql://qa:secret@db:5432/qa")``); safe to reopen, and
    to open from several processes at once.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``; ``path`` is the folder, or for a
    server the URL without its password (text, for messages); ``conn`` runs SQL written
    for SQLite on either.
    """

    conn: Any

    def __init__(self, path: WorkspaceSpec | None = None, *, create: bool = True):
        #: PostgreSQL connections of finished parallel reads (:meth:`frames`), reused
        self._idle_readers: list[Any] = []
        spec = workspace_spec(path) if path is not None else default_workspace()
        if isinstance(spec, str):
            self._open_server(spec, create=create)
            return
        self.dialect = "sqlite"
        self.url: str | None = None
        self.path = spec
        self.db_path = self.path / DB_NAME
        if not self.db_path.exists() and not create:
            raise WorkspaceError(
                f"{self.path}: no workspace here; run 'qa transcribe' or 'qa score' first, "
                "or pass --workspace DIR"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=OFF")
            # reads straight from the OS page cache, not a pread copy per page: the meaning
            # layer reads ~45 vectors of 2 KB per call (each row spills to an overflow page),
            # 172 pread system calls per call before this, none after (BENCHMARKS.md, issue 12)
            self.conn.execute(f"PRAGMA mmap_size={MMAP_SIZE}")
            self.conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise WorkspaceError(f"{self.db_path}: cannot open workspace database: {e}") from e
        try:
            self._check_version()
            self.conn.execute(_REVIVE_INDEX)  # needs the schema-6 column: after the migration
        except WorkspaceError:
            self.conn.close()
            raise
        except sqlite3.Error as e:
            self.conn.close()
            raise WorkspaceError(f"{self.db_path}: cannot open workspace database: {e}") from e

    def _open_server(self, url: str, *, create: bool) -> None:
        """Connect to a PostgreSQL workspace; create or migrate its schema (one process at
        a time: an advisory lock) unless it is already current."""
        from .db import postgres

        self.dialect = "postgresql"
        self.url = url
        # a server workspace has no folder: path is the URL without its password, for messages
        self.path = cast(Path, location_of(url))
        self.db_path = self.path
        self.conn = postgres.Connection(url, _PG_TABLES)
        try:
            found = self._pg_version()
            if found == SCHEMA_VERSION:
                return  # the common case: no DDL, no lock
            if found is not None and found > SCHEMA_VERSION:
                self._check_version()  # refused before anything is changed
            if found is None and not create:
                raise WorkspaceError(
                    f"{self.path}: no workspace in this database; run 'qa transcribe' or "
                    "'qa score' with --workspace pointing here first"
                )
            with self.transaction() as c:
                c.execute("SELECT pg_advisory_xact_lock(?)", (postgres.SCHEMA_LOCK,))
                for stmt in postgres.schema_statements(_SCHEMA, _PG_TABLES):
                    c.execute(stmt)
            self._check_version()
        except BaseException:
            self.conn.close()
            raise

    def _pg_version(self) -> int | None:
        """The schema version stored in this database (None: no workspace here yet)."""
        if not self.conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:
            return None
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None

    # -- housekeeping ---------------------------------------------------------
    def _check_version(self) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{self.db_path}: made by a newer version of call-qa (schema {row[0]}); "
                "upgrade with 'pip install -U call-qa'"
            )
        elif int(row[0]) < SCHEMA_VERSION:
            self._migrate(int(row[0]))

    def _columns(self, table: str) -> set[str]:
        if self.dialect == "postgresql":
            return {r[0] for r in self.conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND table_schema = current_schema()", (table,)
            )}
        return {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}

    def _migrate(self, found: int) -> None:
        """Bring a workspace made by an older call-qa up to :data:`SCHEMA_VERSION`, in one
        transaction (a failed migration leaves the workspace as it was)."""
        try:
            with self.transaction() as c:
                if found < 2:
                    # 1 -> 2: evidence keeps its utterance (NULL for items scored before:
                    # rescoring fills it); scores keep their item statuses per kind.
                    if "utterance" not in self._columns("items"):
                        c.execute("ALTER TABLE items ADD COLUMN utterance INTEGER")
                    have = self._columns("scores")
                    for kind in TOKEN_KINDS:
                        if f"tokens_{kind}" not in have:
                            c.execute(f"ALTER TABLE scores ADD COLUMN tokens_{kind} TEXT")
                    for key in KEY_METRICS:
                        if f"metric_{key}" not in have:
                            c.execute(f"ALTER TABLE scores ADD COLUMN metric_{key} REAL")
                    self._fill_derived(c, only_missing=False, dialect=self.dialect)
                if found < 3:
                    # 2 -> 3: which layer found an item (NULL for items scored before)
                    if "layer" not in self._columns("items"):
                        c.execute("ALTER TABLE items ADD COLUMN layer TEXT")
                if found < 4:
                    self._backfill_search(c)  # 3 -> 4: the search index (qa search)
                if found < 5:
                    self._rebuild_totals(c)  # 4 -> 5: totals for the supervisor views
                if found < 6:
                    # 5 -> 6: each score keeps its unhandled objections (the revive list)
                    if "unhandled_objections" not in self._columns("scores"):
                        c.execute("ALTER TABLE scores ADD COLUMN unhandled_objections TEXT")
                    self._fill_unhandled(c)
                c.execute(
                    "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),)
                )
        except (sqlite3.Error, WorkspaceError) as e:
            raise WorkspaceError(
                f"{self.db_path}: cannot upgrade the workspace from schema {found} to "
                f"{SCHEMA_VERSION}: {e}; is it read-only or the disk full?"
            ) from e

    @staticmethod
    def _fill_derived(c: Any, *, only_missing: bool, dialect: str = "sqlite") -> None:
        # The covering index items_status hands each call's rows over sorted by item_id and
        # status: the same order item_tokens() sorts them in. PostgreSQL is told the order.
        token = "i.item_id || char(31) || i.status"
        concat = (
            f"string_agg({token}, chr(30) ORDER BY {token})" if dialect == "postgresql"
            else f"group_concat({token}, char(30))"
        )
        sets = ", ".join([
            *(
                f"tokens_{k} = (SELECT {concat} "
                "FROM items i WHERE i.call_id = scores.call_id AND i.script_hash = scores.script_hash "
                f"AND i.rubric_hash = scores.rubric_hash AND i.kind = '{k}')"
                for k in TOKEN_KINDS
            ),
            *(f"metric_{m} = json_extract(metrics_json, '$.{m}')" for m in KEY_METRICS),
        ])
        where = " WHERE tokens_stage IS NULL AND tokens_objection IS NULL AND tokens_forbidden IS NULL" if only_missing else ""
        c.execute(f"UPDATE scores SET {sets}{where}")

    def refresh_derived(self) -> None:
        """Fill ``scores.tokens_*`` and ``scores.metric_*`` (from ``items`` and
        ``metrics_json``) where no token column is set, and rebuild ``score_totals`` and
        every ``scores.unhandled_objections``.

        :meth:`save_scores` keeps them up to date; a tool that writes ``items`` and ``scores``
        with its own SQL (the supervisor benchmark does) calls this afterwards.
        """
        with self.transaction() as c:
            self._lock_totals(c)
            self._fill_derived(c, only_missing=True, dialect=self.dialect)
            self._rebuild_totals(c)
            self._fill_unhandled(c)

    def _fill_unhandled(self, c: Any, call_ids: Sequence[str] | None = None) -> None:
        """``scores.unhandled_objections`` from ``items``, for every score or for the scores
        of ``call_ids`` (at most 500): the migration, :meth:`refresh_derived` and
        :meth:`redact_items`, which change items without :meth:`save_scores`."""
        only = f" AND call_id IN ({','.join('?' * len(call_ids))})" if call_ids is not None else ""
        params = list(call_ids or ())
        c.execute(f"UPDATE scores SET unhandled_objections = NULL WHERE unhandled_objections IS NOT NULL{only}",
                  params)
        cols = ("call_id", "script_hash", "rubric_hash", "kind", "item_id", "title", "status", "start", "text")
        rows = c.execute(
            f"SELECT {', '.join(cols)} FROM items WHERE kind = ? AND status = ?{only} "
            "ORDER BY call_id, script_hash, rubric_hash, rowid",  # rowid: the order they were saved in
            [*UNHANDLED, *params],
        ).fetchall()
        per_score: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for row in rows:
            per_score.setdefault((row[0], row[1], row[2]), []).append(dict(zip(cols[3:], row[3:])))
        c.executemany(
            "UPDATE scores SET unhandled_objections = ? WHERE call_id = ? AND script_hash = ? AND rubric_hash = ?",
            [(unhandled_objections(items), *key) for key, items in per_score.items()],
        )

    def copy_to(self, dest: Workspace, *, progress: Any = None) -> dict[str, int]:
        """Copy every row of this workspace into ``dest`` (an empty workspace, either
        database): moving a team's SQLite workspace to a shared PostgreSQL one. Rows keep
        their order (SQLite's rowid); PostgreSQL is fed with COPY and analysed afterwards.
        One transaction: all of it lands, or none. Returns rows copied per table;
        ``progress(table, rows)`` is called after each table."""
        if dest.query("SELECT COUNT(*) FROM calls")[0][0]:
            raise WorkspaceError(f"{dest.path}: not empty; copy into a new workspace")
        counts: dict[str, int] = {}
        with dest.transaction() as c:
            for table, info in _PG_TABLES.items():
                if table == "meta":  # dest has its own schema version (this one is migrated)
                    continue
                have = self._columns(table)
                cols = [col for col in info.columns if col in have]
                quoted = ", ".join('"end"' if col == "end" else col for col in cols)
                order = f" ORDER BY {info.identity}" if info.identity else (" ORDER BY rowid" if info.rowid else "")
                src = self.conn.execute(f"SELECT {', '.join(cols)} FROM {table}{order}")
                n = 0
                if dest.dialect == "postgresql":
                    with c.raw.cursor().copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                        for row in src:
                            copy.write_row(row)
                            n += 1
                else:
                    rows = src.fetchall()
                    c.executemany(
                        f"INSERT OR REPLACE INTO {table}({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
                    n = len(rows)
                if dest.dialect == "postgresql" and info.identity:
                    c.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{info.identity}'), "
                              f"GREATEST((SELECT MAX({info.identity}) FROM {table}), 1))")
                counts[table] = n
                if progress is not None:
                    progress(table, n)
            if dest.dialect == "sqlite":
                c.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
        if dest.dialect == "postgresql":
            dest.conn.execute("ANALYZE")
        return counts

    def close(self) -> None:
        for reader in self._idle_readers:
            reader.close()
        self._idle_readers.clear()
        self.conn.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One atomic unit of work: all of it lands, or none of it."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- transcripts and calls --------------------------------------------------
    def cached_transcript(self, cache_key: str) -> Transcript | None:
        row = self.conn.execute(
            "SELECT json FROM transcripts WHERE cache_key=?", (cache_key,)
        ).fetchone()
        return Transcript.from_json(row[0]) if row else None

    def has_transcript(self, cache_key: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM transcripts WHERE cache_key=?", (cache_key,)).fetchone()
            is not None
        )

    def save_call(
        self,
        transcript: Transcript,
        *,
        cache_key: str,
        audio_sha256: str | None = None,
    ) -> None:
        """Store a transcript and its call row in one transaction."""
        meta = transcript.meta
        with self.transaction() as c:
            self._lock_totals(c)
            bucket = self._totals_bucket(c, meta.call_id)
            c.execute(
                "INSERT OR REPLACE INTO transcripts(cache_key, json, created_at) VALUES (?,?,?)",
                (cache_key, transcript.to_json(), time.time()),
            )
            c.execute(
                """INSERT OR REPLACE INTO calls(call_id, source, audio_sha256, cache_key, manager,
                started_at, day, direction, client_phone, duration, outcome, language, model,
                quality_json, extra_json, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (
                    meta.call_id, meta.source, audio_sha256, cache_key, meta.manager,
                    meta.started_at, _day(meta.started_at), meta.direction, meta.client_phone,
                    meta.duration if meta.duration is not None else transcript.duration,
                    meta.outcome, transcript.language, transcript.model,
                    json.dumps(transcript.quality, ensure_ascii=False),
                    json.dumps(meta.extra, ensure_ascii=False), time.time(),
                ),
            )
            if meta.source:
                c.execute("DELETE FROM failures WHERE source=?", (meta.source,))
            self._index_call(c, transcript)  # the search index changes with the call
            self._totals_rebucket(c, meta.call_id, bucket)

    def update_meta(self, meta: CallMeta) -> None:
        """Refresh a stored call's metadata (e.g. a manifest that arrived later)."""
        with self.transaction() as c:
            self._lock_totals(c)
            bucket = self._totals_bucket(c, meta.call_id)
            c.execute(
                """UPDATE calls SET manager=?, started_at=?, day=?, direction=?, client_phone=?,
                outcome=?, extra_json=?, updated_at=? WHERE call_id=?""",
                (
                    meta.manager, meta.started_at, _day(meta.started_at), meta.direction,
                    meta.client_phone, meta.outcome, json.dumps(meta.extra, ensure_ascii=False),
                    time.time(), meta.call_id,
                ),
            )
            self._totals_rebucket(c, meta.call_id, bucket)
            row = c.execute(
                "SELECT t.cache_key, t.json FROM calls JOIN transcripts t USING(cache_key) WHERE call_id=?",
                (meta.call_id,),
            ).fetchone()
            if row:
                data = json.loads(row[1])
                data["meta"] = {**data.get("meta", {}), **asdict(meta)}
                c.execute(
                    "UPDATE transcripts SET json=? WHERE cache_key=?",
                    (json.dumps(data, ensure_ascii=False), row[0]),
                )

    def transcript(self, call_id: str) -> Transcript | None:
        row = self.conn.execute(_CALL_TRANSCRIPT + " WHERE call_id=?", (call_id,)).fetchone()
        return _call_transcript(row) if row else None

    def transcripts(self, call_ids: Iterable[str] | None = None) -> Iterator[Transcript]:
        if call_ids is None:
            for row in self.conn.execute(_CALL_TRANSCRIPT + " ORDER BY call_id"):
                yield _call_transcript(row)
        else:
            for cid in call_ids:
                t = self.transcript(cid)
                if t is not None:
                    yield t

    def call_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT call_id FROM calls ORDER BY call_id")]

    def managers(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT manager FROM calls WHERE manager IS NOT NULL ORDER BY manager"
            )
        ]

    # -- failures -----------------------------------------------------------
    def record_failure(self, source: str, reason: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO failures(source, reason, at) VALUES (?,?,?)",
                (source, reason, time.time()),
            )

    def failures(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in self.conn.execute("SELECT source, reason FROM failures ORDER BY source")]  # type: ignore[misc]

    # -- configs and scores --------------------------------------------------
    def save_config(self, *, hash: str, kind: str, name: str | None, path: str | None, text: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO configs(hash, kind, name, path, text, created_at) VALUES (?,?,?,?,?,?)",
                (hash, kind, name, path, text, time.time()),
            )

    def config(self, hash: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT hash, kind, name, path, text, created_at FROM configs WHERE hash=?", (hash,)
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("hash", "kind", "name", "path", "text", "created_at"), row))

    def save_score(
        self,
        call_id: str,
        *,
        script_hash: str,
        rubric_hash: str,
        summary: Mapping[str, Any],
        items: Sequence[Mapping[str, Any]],
    ) -> None:
        """Replace the score of one call under one (script, rubric) version.

        ``summary`` needs ``score``; may carry ``points, max_points, critical,
        critical_reason, next_step, metrics`` (dict) and anything else (kept as JSON).
        ``items`` are dicts with the keys of :data:`ITEM_COLUMNS`.
        """
        self.save_scores([(call_id, script_hash, rubric_hash, summary, items)])

    def save_scores(
        self,
        rows: Iterable[tuple[str, str, str, Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    ) -> int:
        """Batch form of :meth:`save_score`, one transaction for all rows."""
        n = 0
        now = time.time()
        rows = list(rows)
        with self.transaction() as c:
            self._lock_totals(c)
            if self.dialect == "postgresql":
                # Writers on other machines take the keys of a batch in one order: no deadlock
                # between two batches that share calls (rows stay in their own order).
                c.execute(
                    "SELECT pg_advisory_xact_lock(k) FROM unnest(?::bigint[]) WITH ORDINALITY AS t(k, n) ORDER BY n",
                    (sorted({_lock_key(*r[:3]) for r in rows}),),
                )
            for call_id, script_hash, rubric_hash, summary, items in rows:
                key = (call_id, script_hash, rubric_hash)
                metrics = summary.get("metrics") or {}
                before = self._totals_row(c, *key)  # a rescore replaces its totals
                rest = {
                    k: v for k, v in summary.items()
                    if k not in ("score", "points", "max_points", "critical", "critical_reason", "next_step", "metrics")
                }
                c.execute(
                    f"""INSERT OR REPLACE INTO scores(call_id, script_hash, rubric_hash, score, points,
                    max_points, critical, critical_reason, next_step, metrics_json, summary_json, scored_at,
                    {_DERIVED}, unhandled_objections)
                    VALUES ({','.join('?' * (13 + len(TOKEN_KINDS) + len(KEY_METRICS)))})""",
                    (
                        *key, float(summary["score"]), summary.get("points"), summary.get("max_points"),
                        int(bool(summary.get("critical"))), summary.get("critical_reason"),
                        None if summary.get("next_step") is None else int(bool(summary["next_step"])),
                        json.dumps(metrics, ensure_ascii=False),
                        json.dumps(rest, ensure_ascii=False, default=str), now,
                        *(item_tokens(items, k) for k in TOKEN_KINDS),
                        *(_number(metrics.get(m)) for m in KEY_METRICS),
                        unhandled_objections(items),
                    ),
                )
                # After the score row: a second writer of the same score waits on that row
                # until this transaction commits, then deletes these items, not a stale set.
                c.execute("DELETE FROM items WHERE call_id=? AND script_hash=? AND rubric_hash=?", key)
                c.executemany(
                    f"INSERT INTO items(call_id, script_hash, rubric_hash, {', '.join(ITEM_COLUMNS)}) "
                    f"VALUES (?,?,?,{','.join('?' * len(ITEM_COLUMNS))})",
                    [(*key, *(it.get(col) for col in ITEM_COLUMNS)) for it in items],
                )
                bucket = self._totals_bucket(c, call_id)
                if before is not None:
                    self._totals_add(c, script_hash, rubric_hash, bucket, before, -1)
                self._totals_add(c, script_hash, rubric_hash, bucket, self._totals_row(c, *key), 1)
                n += 1
        return n

    def scored_call_ids(self, script_hash: str, rubric_hash: str) -> set[str]:
        return {
            r[0]
            for r in self.conn.execute(
                "SELECT call_id FROM scores WHERE script_hash=? AND rubric_hash=?",
                (script_hash, rubric_hash),
            )
        }

    def latest_version(self) -> tuple[str, str] | None:
        """The (script_hash, rubric_hash) most recently scored with."""
        row = self.conn.execute(
            "SELECT script_hash, rubric_hash FROM scores ORDER BY scored_at DESC LIMIT 1"
        ).fetchone()
        return (row[0], row[1]) if row else None

    def version_stats(self) -> list[dict[str, Any]]:
        """Every (script, rubric) version with scores, most recently scored first (then the
        one with most calls): ``script_hash, rubric_hash, calls, scored_at, name, path`` (name
        and path of the script). :mod:`qa.versions` picks the versions a view reads from these."""
        # grouped first, from the index alone, then one configs row per version (not per score)
        rows = self.conn.execute(
            "SELECT v.script_hash, v.rubric_hash, v.n, v.at, c.name, c.path FROM ("
            "SELECT script_hash, rubric_hash, COUNT(*) AS n, MAX(scored_at) AS at FROM scores "
            "GROUP BY script_hash, rubric_hash) v LEFT JOIN configs c ON c.hash = v.script_hash "
            "ORDER BY v.at DESC, v.n DESC"
        ).fetchall()
        keys = ("script_hash", "rubric_hash", "calls", "scored_at", "name", "path")
        return [dict(zip(keys, r)) for r in rows]

    def version_items(self, script_hash: str, rubric_hash: str, call_ids: Iterable[str]) -> Any:
        """The ``items`` rows (a DataFrame, every column) of ``call_ids`` under one version."""
        import pandas as pd

        ids = list(call_ids)
        frames = []
        cols = ", ".join(("call_id", "script_hash", "rubric_hash", *ITEM_COLUMNS))
        for i in range(0, len(ids), 500):  # SQLite limits host parameters
            chunk = ids[i:i + 500]
            frames.append(self.frame(
                f"SELECT {cols} FROM items WHERE script_hash=? AND rubric_hash=? "
                f"AND call_id IN ({','.join('?' * len(chunk))})",
                [script_hash, rubric_hash, *chunk],
            ))
        if not frames:
            return self.frame(f"SELECT {cols} FROM items WHERE 0")
        return pd.concat(frames, ignore_index=True)

    # -- plans ----------------------------------------------------------------
    def save_plan(
        self,
        manager: str,
        plan: Mapping[str, Any],
        *,
        period_from: str | None,
        period_to: str | None,
        script_hash: str | None = None,
        rubric_hash: str | None = None,
    ) -> int:
        with self.transaction() as c:
            cur = c.execute(
                """INSERT INTO plans(manager, created_at, period_from, period_to, script_hash,
                rubric_hash, plan_json) VALUES (?,?,?,?,?,?,?)""",
                (manager, time.time(), period_from, period_to, script_hash, rubric_hash,
                 json.dumps(plan, ensure_ascii=False, default=str)),
            )
            return int(cur.lastrowid or 0)

    def plans(self, manager: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, created_at, period_from, period_to, script_hash, rubric_hash, plan_json "
            "FROM plans WHERE manager=? ORDER BY id",
            (manager,),
        ).fetchall()
        return [
            {
                "id": r[0], "created_at": r[1], "period_from": r[2], "period_to": r[3],
                "script_hash": r[4], "rubric_hash": r[5], "plan": json.loads(r[6]),
            }
            for r in rows
        ]

    # -- tables for pandas -------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def frame(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a SELECT and return a pandas DataFrame (pandas imported lazily)."""
        return _read_frame(self.conn, sql, params)

    def change_marker(self) -> Any:
        """A value that changes whenever anyone commits a write to the workspace (for
        caches of derived data): SQLite's ``data_version`` and this connection's changes;
        PostgreSQL's snapshot (transactions running and committed, the whole server:
        it may change without a write here, never stays the same after one)."""
        if self.dialect == "postgresql":
            return self.conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
        return (self.conn.total_changes, self.conn.execute("PRAGMA data_version").fetchone()[0])

    def frames(
        self, queries: Sequence[tuple[str, Sequence[Any]]], *, workers: int = 2, raw: bool = False
    ) -> list[Any]:
        """Run several SELECTs at once and return their DataFrames, in order.

        Each query runs on its own read-only connection in a thread: SQLite releases the GIL
        while it works, so independent aggregates over a large workspace take about as long
        as the slowest one (the supervisor views use this). ``workers=1`` runs them in turn
        on this connection. ``raw``: ``(column names, rows)`` instead of DataFrames, for a
        caller that reduces some columns before pandas sees them.
        """
        def read(conn: Any, sql: str, params: Sequence[Any]) -> Any:
            if not raw:
                return _read_frame(conn, sql, params)
            cur = conn.execute(sql, params)
            return [d[0] for d in cur.description], cur.fetchall()

        if workers <= 1 or len(queries) <= 1:
            return [read(self.conn, sql, params) for sql, params in queries]
        from concurrent.futures import ThreadPoolExecutor

        def run(query: tuple[str, Sequence[Any]]) -> Any:
            conn = self._reader()
            try:
                return read(conn, query[0], query[1])
            finally:
                if self.dialect == "postgresql":
                    self._idle_readers.append(conn)  # a server connection is worth keeping
                else:
                    conn.close()

        with ThreadPoolExecutor(max_workers=min(workers, len(queries))) as pool:
            return list(pool.map(run, queries))

    def _reader(self) -> Any:
        """A read-only connection of its own, for a thread (SQLite and psycopg both release
        the GIL while the database works)."""
        if self.dialect == "postgresql":
            try:
                return self._idle_readers.pop()  # list.pop is atomic: threads never share one
            except IndexError:
                return self.conn.reader()
        uri = self.db_path.resolve().as_uri() + "?mode=ro"
        try:
            return sqlite3.connect(uri, uri=True, timeout=30)
        except sqlite3.Error as e:
            raise WorkspaceError(f"{self.db_path}: cannot open a reader: {e}") from e

    # ---- PBX call log (qa.calllog) ------------------------------------------------------
    # Tables calllog, calllog_imports, calllog_extensions, calllog_goals; the rules that
    # fill them live in qa/calllog.py.
    _CALLLOG_COLUMNS = (
        "row_key", "source", "line", "started_at", "day", "direction", "extension", "client",
        "client_key", "src", "dst", "channel", "dstchannel", "disposition", "answered",
        "duration", "billsec", "uniqueid", "linkedid",
    )

    def save_calllog(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        source: str,
        issues: Sequence[str] = (),
        sha256: str | None = None,
        format: str | None = None,
    ) -> int:
        """Store call-log rows (dicts with :attr:`_CALLLOG_COLUMNS`) in one transaction;
        rows already stored (same ``row_key``) are left as they are. Returns how many were new."""
        cols = self._CALLLOG_COLUMNS
        now = time.time()
        with self.transaction() as c:
            # rows already stored change nothing: the rows changed are the new ones
            new = max(c.executemany(
                f"INSERT OR IGNORE INTO calllog({', '.join(cols)}, imported_at) "
                f"VALUES ({','.join('?' * len(cols))},?)",
                [(*(int(r[k]) if k == "answered" else r.get(k) for k in cols), now) for r in rows],
            ).rowcount, 0)
            c.execute(
                "INSERT INTO calllog_imports(source, sha256, format, internal, rows, new_rows, issues_json, "
                "imported_at) VALUES (?,?,?,?,?,?,?,?)",
                (source, sha256, format, sum(1 for r in rows if r.get("direction") == "internal"),
                 len(rows), new, json.dumps(list(issues), ensure_ascii=False), now),
            )
        return int(new)

    def has_calllog(self) -> bool:
        return self.conn.execute("SELECT 1 FROM calllog LIMIT 1").fetchone() is not None

    def calllog_rows(
        self,
        *,
        day_from: str | None = None,
        day_to: str | None = None,
        directions: Sequence[str] = ("in", "out", "internal"),
    ) -> list[Any]:
        """Stored log rows, oldest first (``day_from`` / ``day_to`` inclusive), as
        :class:`sqlite3.Row` (``row["client"]``, ``dict(row)``)."""
        cols = self._CALLLOG_COLUMNS
        days, day_params = day_range("day", day_from, day_to)
        where = [f"direction IN ({','.join('?' * len(directions))})", *days]
        params: list[Any] = [*directions, *day_params]
        sql = f"SELECT {', '.join(cols)} FROM calllog WHERE {' AND '.join(where)} ORDER BY started_at, line"
        if self.dialect == "postgresql":
            index = {c: i for i, c in enumerate(cols)}
            return [NamedRow(r, index) for r in self.conn.execute(sql, params)]
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row  # read by name, built in C: a month's log is 200,000 rows
        cur.execute(sql, params)
        return cur.fetchall()

    def calllog_row(self, row_key: str) -> dict[str, Any] | None:
        cols = self._CALLLOG_COLUMNS
        r = self.conn.execute(
            f"SELECT {', '.join(cols)} FROM calllog WHERE row_key=?", (row_key,)
        ).fetchone()
        return dict(zip(cols, r)) if r else None

    def calllog_imports(self, sha256: str | None = None) -> list[dict[str, Any]]:
        """Imports of log files, oldest first (only those of a file's content with ``sha256``)."""
        rows = self.conn.execute(
            "SELECT id, source, sha256, format, internal, rows, new_rows, issues_json, imported_at "
            "FROM calllog_imports" + (" WHERE sha256=?" if sha256 else "") + " ORDER BY id",
            (sha256,) if sha256 else (),
        ).fetchall()
        keys = ("id", "source", "sha256", "format", "internal", "rows", "new_rows", "issues", "imported_at")
        return [{**dict(zip(keys, r)), "issues": json.loads(r[7])} for r in rows]

    def save_extension_names(self, names: Mapping[str, str]) -> None:
        """Remember extension -> manager name (from managers.csv) for the call-log views."""
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO calllog_extensions(extension, manager) VALUES (?,?)",
                list(names.items()),
            )

    def extension_names(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT extension, manager FROM calllog_extensions").fetchall())

    def save_callback_goal(
        self, manager: str, goal: Mapping[str, Any], *, period_from: str | None, period_to: str | None
    ) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO calllog_goals(manager, created_at, period_from, period_to, goal_json) "
                "VALUES (?,?,?,?,?)",
                (manager, time.time(), period_from, period_to, json.dumps(goal, ensure_ascii=False)),
            )
            return int(cur.lastrowid or 0)

    def callback_goals(self, manager: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, period_from, period_to, goal_json FROM calllog_goals "
            "WHERE manager=? COLLATE NOCASE ORDER BY id",
            (manager,),
        ).fetchall()
        return [
            {"id": r[0], "period_from": r[1], "period_to": r[2], "goal": json.loads(r[3])}
            for r in rows
        ]
    # ---- end of PBX call log ------------------------------------------------------------

    # ---- meaning layer and disputes (qa.meaning, qa.disputes) -----------------------------
    # Table vectors (the meaning layer's cache; :meth:`vector_cache`) and disputes (a
    # supervisor's override of one item of one call; the rules live in qa/disputes.py).
    def vector_cache(self) -> WorkspaceVectorCache:
        """The workspace's sentence-vector cache (a :class:`qa.meaning.VectorCache`)."""
        return WorkspaceVectorCache(self)

    _DISPUTE_COLUMNS = ("call_id", "kind", "item_id", "status", "tool_status", "note", "by", "at", "source")

    def save_dispute(
        self, call_id: str, kind: str, item_id: str, status: str, *, by: str, note: str | None = None,
        tool_status: str | None = None, source: str | None = None, at: float | None = None,
    ) -> None:
        """Store (or replace) the override of one item of one call."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO disputes(call_id, kind, item_id, status, tool_status, note, by, at, source) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (call_id, kind, item_id, status, tool_status, note, by, time.time() if at is None else at, source),
            )

    def delete_dispute(self, call_id: str, kind: str, item_id: str) -> bool:
        with self.transaction() as c:
            cur = c.execute(
                "DELETE FROM disputes WHERE call_id=? AND kind=? AND item_id=?", (call_id, kind, item_id)
            )
            return cur.rowcount > 0

    def disputes(self, call_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Overrides (all, or of these calls), oldest first."""
        sql = f"SELECT {', '.join(self._DISPUTE_COLUMNS)} FROM disputes"
        params: list[Any] = []
        if call_ids is not None:
            ids = list(call_ids)
            if not ids:
                return []
            sql += f" WHERE call_id IN ({','.join('?' * len(ids))})"
            params = ids
        rows = self.conn.execute(sql + " ORDER BY at, call_id, kind, item_id", params).fetchall()
        return [dict(zip(self._DISPUTE_COLUMNS, r)) for r in rows]


    # ---- search over utterances (qa.search) ----------------------------------------------
    # Tables search_utterances and search_fts. What is indexed (stems of qa.normalize) and
    # how a query is written is decided in qa/search.py; the SQL stays here, so another
    # database (PostgreSQL full-text search) can implement the same two methods.
    def _index_call(self, c: Any, transcript: Transcript) -> None:
        """Replace the indexed utterances of ``transcript``'s call (inside the caller's
        transaction). PostgreSQL indexes them itself (a generated ``tsvector`` column)."""
        from .search import index_rows

        call_id = transcript.call_id
        if self.dialect == "postgresql":
            c.execute("DELETE FROM search_utterances WHERE call_id=?", (call_id,))
            c.executemany(
                "INSERT INTO search_utterances(call_id, utterance, role, start, end, text, stems) "
                "VALUES (?,?,?,?,?,?,?)",
                [(call_id, *row) for row in index_rows(transcript)],
            )
            return
        c.execute(
            "INSERT INTO search_fts(search_fts, rowid, stems) "
            "SELECT 'delete', id, stems FROM search_utterances WHERE call_id=?",
            (call_id,),
        )
        c.execute("DELETE FROM search_utterances WHERE call_id=?", (call_id,))
        rows = index_rows(transcript)
        for utterance, role, start, end, text, stems in rows:
            cur = c.execute(
                "INSERT INTO search_utterances(call_id, utterance, role, start, end, text, stems) "
                "VALUES (?,?,?,?,?,?,?)",
                (call_id, utterance, role, start, end, text, stems),
            )
            c.execute("INSERT INTO search_fts(rowid, stems) VALUES (?,?)", (cur.lastrowid, stems))

    def _backfill_search(self, c: Any) -> None:
        """Index every stored call (a workspace made before the search index existed)."""
        for row in c.execute(_CALL_TRANSCRIPT + " ORDER BY call_id").fetchall():
            self._index_call(c, _call_transcript(row))

    def reindex_search(self) -> int:
        """Rebuild the search index of every call in one transaction; returns the calls."""
        with self.transaction() as c:
            c.execute("DELETE FROM search_utterances")
            if self.dialect == "sqlite":
                c.execute("INSERT INTO search_fts(search_fts) VALUES ('delete-all')")
            self._backfill_search(c)
            return int(c.execute("SELECT COUNT(DISTINCT call_id) FROM search_utterances").fetchone()[0])

    def search_utterances(
        self,
        match: str,
        *,
        manager: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        role: str | None = None,
        versions: Sequence[tuple[str, str]] | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Utterances whose stems match the FTS5 expression ``match`` (written by
        :func:`qa.search.match_expression`, never by a user), newest indexed first.

        ``versions`` (with ``min_score`` / ``max_score``) keeps calls whose latest score
        among those (script_hash, rubric_hash) versions is in the range; ``versions`` alone
        keeps calls scored under them.
        """
        if self.dialect == "postgresql":
            from .db.postgres import tsquery

            # the tsvector column of search_utterances; ids grow as FTS5's rowids do
            where = ["u.tsv @@ to_tsquery('simple', ?)"]
            params: list[Any] = [tsquery(match)]
            source, newest = "search_utterances u", "u.id"
        else:
            where = ["search_fts MATCH ?"]
            params = [match]
            source, newest = "search_fts f JOIN search_utterances u ON u.id = f.rowid", "f.rowid"
        if manager is not None:
            where.append("c.manager = ? COLLATE NOCASE")
            params.append(manager)
        days, day_params = day_range("c.day", date_from, date_to)
        where += days
        params += day_params
        if role is not None:
            where.append("u.role = ?")
            params.append(role)
        score_col = "NULL"
        if versions is not None:
            values = ",".join("(?,?)" for _ in versions) or "(NULL,NULL)"
            vparams = [h for v in versions for h in v]
            latest = (
                f"SELECT s.score FROM scores s WHERE s.call_id = u.call_id AND (s.script_hash, s.rubric_hash) "
                f"IN (VALUES {values}) ORDER BY s.scored_at DESC LIMIT 1"
            )
            score_col = f"({latest})"
            where.append(f"{score_col} IS NOT NULL")
            params += vparams
            if min_score is not None:
                where.append(f"{score_col} >= ?")
                params += [*vparams, float(min_score)]
            if max_score is not None:
                where.append(f"{score_col} <= ?")
                params += [*vparams, float(max_score)]
        sql = (
            "SELECT u.call_id, c.manager, c.started_at, c.day, c.language, u.utterance, u.role, u.start, "
            f"u.end, u.text, {score_col} FROM {source} "
            f"JOIN calls c ON c.call_id = u.call_id WHERE {' AND '.join(where)} "
            f"ORDER BY {newest} DESC LIMIT ?"
        )
        sel_params = [*(vparams if versions is not None else []), *params, int(limit)]
        try:
            rows = self.conn.execute(sql, sel_params).fetchall()
        except (sqlite3.OperationalError, WorkspaceError) as e:  # a malformed expression is a bug of qa.search
            raise WorkspaceError(f"{self.db_path}: search failed: {e}") from e
        keys = ("call_id", "manager", "started_at", "day", "language", "utterance", "role", "start",
                "end", "text", "score")
        return [dict(zip(keys, r)) for r in rows]

    def search_stats(self) -> tuple[int, int]:
        """(calls, utterances) in the search index."""
        row = self.conn.execute(
            "SELECT COUNT(DISTINCT call_id), COUNT(*) FROM search_utterances"
        ).fetchone()
        return int(row[0]), int(row[1])

    def indexed_utterances(self, call_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """``(call_id, utterance, role, start, text, stems, language)`` of those calls, in
        call and time order (the report's static search index)."""
        out: list[tuple[Any, ...]] = []
        ids = list(call_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            out += self.conn.execute(
                "SELECT u.call_id, u.utterance, u.role, u.start, u.text, u.stems, c.language "
                "FROM search_utterances u JOIN calls c USING(call_id) "
                f"WHERE u.call_id IN ({','.join('?' * len(chunk))}) ORDER BY u.call_id, u.utterance",
                chunk,
            ).fetchall()
        return out

    def secure_delete(self) -> None:
        """From now on, overwrite deleted and replaced content with zeros (used by
        ``--redact``: a transcript stored earlier without redaction leaves no bytes behind).
        PostgreSQL has no such switch: :meth:`checkpoint` vacuums the tables instead."""
        if self.dialect == "sqlite":
            self.conn.execute("PRAGMA secure_delete=ON")

    def redact_items(self, call_ids: Sequence[str], redact: Any) -> int:
        """Apply ``redact`` (text -> text) to the evidence quotes (``items.text``,
        ``items.matched``) of these calls under every version (and the copies of the
        unhandled objections' quotes in ``scores.unhandled_objections``), and purge what the
        search index and the write-ahead log still hold of the old text. Used by ``--redact`` on
        calls stored before without it. Returns the rows changed."""
        changed = 0
        ids = list(call_ids)
        with self.transaction() as c:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows = c.execute(
                    f"SELECT rowid, text, matched FROM items WHERE call_id IN ({','.join('?' * len(chunk))}) "
                    "AND (text IS NOT NULL OR matched IS NOT NULL)",
                    chunk,
                ).fetchall()
                for rowid, text, matched in rows:
                    new = (redact(text) if text else text, redact(matched) if matched else matched)
                    if new != (text, matched):
                        c.execute("UPDATE items SET text=?, matched=? WHERE rowid=?", (*new, rowid))
                        changed += 1
                self._fill_unhandled(c, chunk)  # the scores keep their objections' quotes too
            if self.dialect == "sqlite":
                # deleted index entries stay in FTS5 segments until they are merged
                c.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        self.checkpoint()
        return changed

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database and empty it (PostgreSQL: vacuum the
        tables that hold text, so replaced rows are marked free; VACUUM FULL, run by the
        database's administrator, rewrites the files)."""
        if self.dialect == "postgresql":
            for table in ("transcripts", "items", "scores", "search_utterances"):
                self.conn.execute(f"VACUUM {table}")
            return
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # ---- end of search -------------------------------------------------------------------

    # ---- calibration profiles (qa.calibrate) ---------------------------------------------
    _CALIBRATION_COLUMNS = ("script_hash", "rubric_hash", "encoder", "profile_json", "grades", "created_at")

    def save_calibration(
        self, script_hash: str, rubric_hash: str, encoder: str, profile: Mapping[str, Any], grades: int
    ) -> None:
        """Store (or replace) the calibration profile of one script/rubric version."""
        with self.transaction() as c:
            c.execute(
                "INSERT INTO calibrations(script_hash, rubric_hash, encoder, profile_json, grades, created_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (script_hash, rubric_hash, encoder) DO UPDATE SET "
                "profile_json = excluded.profile_json, grades = excluded.grades, created_at = excluded.created_at",
                (script_hash, rubric_hash, encoder, json.dumps(dict(profile), ensure_ascii=False), int(grades),
                 time.time()),
            )

    def calibrations(self) -> list[dict[str, Any]]:
        """Every stored calibration profile (``profile`` parsed), newest first."""
        rows = self.conn.execute(
            f"SELECT {', '.join(self._CALIBRATION_COLUMNS)} FROM calibrations ORDER BY created_at DESC"
        ).fetchall()
        out = []
        for r in rows:
            d = dict(zip(self._CALIBRATION_COLUMNS, r))
            d["profile"] = json.loads(d.pop("profile_json"))
            out.append(d)
        return out
    # ---- end of calibration profiles -----------------------------------------------------

    # ---- score totals (schema 5): what the supervisor views count a team from -------------
    # One row per version, manager and day. Each score adds its "view row" (the score, next
    # step, critical flag, the KEY_METRICS and the item tokens, as in ``scores``) to the row
    # of its call's manager and day; a rescore takes the old one out first, and a call whose
    # manager or day changes moves its scores. Sums are exact (:func:`exact`), so a mean
    # read from the totals is the correctly rounded mean of the per-call values, the same
    # whatever the order the scores were added in (qa.scorecards counts the per-call rows
    # the same way; tests/test_supervisor_fast.py checks they agree).
    _TOTALS_SELECT = (
        "SELECT score, next_step, critical, "
        + ", ".join(f"metric_{m}" for m in KEY_METRICS) + ", "
        + ", ".join(f"tokens_{k}" for k in TOKEN_KINDS) + " FROM scores"
    )

    def _totals_row(self, c: sqlite3.Connection, call_id: str, script_hash: str, rubric_hash: str) -> tuple[Any, ...] | None:
        return c.execute(
            self._TOTALS_SELECT + " WHERE call_id=? AND script_hash=? AND rubric_hash=?",
            (call_id, script_hash, rubric_hash),
        ).fetchone()

    @staticmethod
    def _totals_bucket(c: sqlite3.Connection, call_id: str) -> tuple[str, str]:
        row = c.execute("SELECT manager, day FROM calls WHERE call_id=?", (call_id,)).fetchone()
        return (row[0] or "", row[1] or "") if row else ("", "")

    def _totals_rebucket(self, c: sqlite3.Connection, call_id: str, before: tuple[str, str]) -> None:
        """Move a call's scores to the totals of its new manager or day."""
        after = self._totals_bucket(c, call_id)
        if after == before:
            return
        for script_hash, rubric_hash in c.execute(
            "SELECT script_hash, rubric_hash FROM scores WHERE call_id=?", (call_id,)
        ).fetchall():
            row = self._totals_row(c, call_id, script_hash, rubric_hash)
            self._totals_add(c, script_hash, rubric_hash, before, row, -1)
            self._totals_add(c, script_hash, rubric_hash, after, row, 1)

    @staticmethod
    def _totals_merge(t: dict[str, Any], row: Sequence[Any], sign: int) -> None:
        """Add (sign 1) or take out (-1) one view row. ``t``: ``n`` calls, ``score`` {value
        (repr): calls}, ``sum`` of the scores, ``next`` [agreed, known], ``critical``,
        ``metrics`` {key: [sum, calls with it]}, ``tokens`` {kind: {item token
        (``item_id<US>status``): times}}; sums are exact (:func:`exact`, :func:`pack_exact`)."""
        score, next_step, critical = row[0], row[1], row[2]
        metrics, tokens = row[3:3 + len(KEY_METRICS)], row[3 + len(KEY_METRICS):]
        t["n"] = t.get("n", 0) + sign

        def bump(d: dict[str, int], key: str) -> None:
            d[key] = d.get(key, 0) + sign
            if not d[key]:
                del d[key]

        bump(t.setdefault("score", {}), repr(float(score)))
        t["sum"] = pack_exact(unpack_exact(t.get("sum", "0")) + sign * exact(score))
        nxt = t.setdefault("next", [0, 0])
        if next_step is not None:
            nxt[0] += sign * int(next_step)
            nxt[1] += sign
        t["critical"] = t.get("critical", 0) + sign * int(critical or 0)
        ms = t.setdefault("metrics", {})
        for key, value in zip(KEY_METRICS, metrics):
            if value is None:
                continue
            total, count = ms.get(key, ["0", 0])
            ms[key] = [pack_exact(unpack_exact(total) + sign * exact(value)), count + sign]
            if not ms[key][1]:
                del ms[key]
        ts = t.setdefault("tokens", {})
        for kind, text in zip(TOKEN_KINDS, tokens):
            if text is not None:
                counts = ts.setdefault(kind, {})
                for token in text.split(TOKEN_SEP):
                    bump(counts, token)
                if not counts:
                    del ts[kind]

    def _lock_totals(self, c: sqlite3.Connection) -> None:
        """On PostgreSQL, writers on several machines take turns with the totals: each
        transaction that changes them (a score, a call's manager or day) reads a totals row,
        adds to it and writes it back, so two at once would lose one's addition. One lock,
        taken first and held to the commit, also leaves no order to deadlock on. SQLite has
        one writer at a time anyway."""
        if self.dialect == "postgresql":
            c.execute("SELECT pg_advisory_xact_lock(?)", (_TOTALS_LOCK,))

    def _totals_add(
        self, c: sqlite3.Connection, script_hash: str, rubric_hash: str, bucket: tuple[str, str],
        row: Sequence[Any] | None, sign: int,
    ) -> None:
        if row is None:
            return
        key = (script_hash, rubric_hash, *bucket)
        found = c.execute(
            "SELECT totals FROM score_totals WHERE script_hash=? AND rubric_hash=? AND manager=? AND day=?", key
        ).fetchone()
        t = json.loads(found[0]) if found else {}
        self._totals_merge(t, row, sign)
        if t["n"] <= 0:
            c.execute("DELETE FROM score_totals WHERE script_hash=? AND rubric_hash=? AND manager=? AND day=?", key)
            return
        c.execute(
            "INSERT INTO score_totals(script_hash, rubric_hash, manager, day, calls, totals) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT (script_hash, rubric_hash, manager, day) DO UPDATE SET calls = excluded.calls, "
            "totals = excluded.totals",
            (*key, t["n"], json.dumps(t, ensure_ascii=False, sort_keys=True)),
        )

    def _rebuild_totals(self, c: sqlite3.Connection) -> None:
        """``score_totals`` from every score (migration, :meth:`refresh_derived`)."""
        c.execute("DELETE FROM score_totals")
        acc: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        cols = self._TOTALS_SELECT.replace("SELECT ", "").replace(" FROM scores", "")
        sql = ("SELECT s.script_hash, s.rubric_hash, c.manager, c.day, "
               + ", ".join(f"s.{col.strip()}" for col in cols.split(","))
               + " FROM scores s LEFT JOIN calls c ON c.call_id = s.call_id")
        for r in c.execute(sql):
            self._totals_merge(acc.setdefault((r[0], r[1], r[2] or "", r[3] or ""), {}), r[4:], 1)
        c.executemany(
            "INSERT INTO score_totals(script_hash, rubric_hash, manager, day, calls, totals) VALUES (?,?,?,?,?,?)",
            [(*k, t["n"], json.dumps(t, ensure_ascii=False, sort_keys=True)) for k, t in acc.items() if t["n"] > 0],
        )

    def score_totals(
        self, versions: Sequence[tuple[str, str]], date_from: str | None = None, date_to: str | None = None,
    ) -> list[tuple[str, str, str | None, str | None, dict[str, Any]]]:
        """The totals of these versions in a period (inclusive days; None = open; a bound
        leaves out calls without a day): ``(script_hash, rubric_hash, manager, day, totals)``
        with None for no manager or day (see :meth:`_totals_merge` for ``totals``)."""
        conds, params = day_range("day", date_from, date_to)
        if date_from or date_to:
            conds.append("day <> ''")
        out = []
        for sh, rh in versions:
            where = " AND ".join(["script_hash = ?", "rubric_hash = ?", *conds])
            for m, d, text in self.conn.execute(
                f"SELECT manager, day, totals FROM score_totals WHERE {where}", [sh, rh, *params]
            ):
                out.append((sh, rh, m or None, d or None, json.loads(text)))
        return out

    def score_totals_calls(self, versions: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Calls in the totals of each version: the scores stored under it (``version_stats``
        counts them) unless some tool wrote ``scores`` with its own SQL and did not call
        :meth:`refresh_derived`."""
        out = {}
        for script_hash, rubric_hash in versions:
            out[(script_hash, rubric_hash)] = int(self.conn.execute(
                "SELECT COALESCE(SUM(calls), 0) FROM score_totals WHERE script_hash=? AND rubric_hash=?",
                (script_hash, rubric_hash),
            ).fetchone()[0])
        return out


class WorkspaceVectorCache:
    """The ``vectors`` table of a workspace as a :class:`qa.meaning.VectorCache`, with an
    in-process layer in front of it (a text seen lately in this process is not read again).

    The layer holds at most ``limit`` vectors (the oldest go first): a call has about 45 word
    windows of 2 KB each (USE), so rescoring 100,000 calls in one process would otherwise keep
    about 9 GB; 50,000 vectors are about 100 MB, and the texts a script repeats (its examples,
    common short turns) stay because they are read again and again."""

    #: vectors kept in the in-process layer (about 2 KB each for USE, 1.5 KB for e5)
    LIMIT = 50_000

    def __init__(self, ws: Workspace, limit: int | None = None):
        self.ws = ws
        self.limit = self.LIMIT if limit is None else max(1, int(limit))
        self._mem: dict[tuple[str, str], Any] = {}

    def _remember(self, key: tuple[str, str], vector: Any) -> None:
        mem = self._mem
        mem.pop(key, None)  # a text read again moves to the young end
        mem[key] = vector
        if len(mem) > self.limit:  # drop the oldest quarter at once: amortised O(1) per read
            for old in list(itertools.islice(mem, len(mem) - self.limit * 3 // 4)):
                del mem[old]

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, Any]:
        import numpy as np

        out = {k: self._mem[(model, k)] for k in keys if (model, k) in self._mem}
        for k in out:
            self._remember((model, k), out[k])
        todo = [k for k in dict.fromkeys(keys) if k not in out]
        for i in range(0, len(todo), 500):  # stay under SQLite's variable limit
            chunk = todo[i:i + 500]
            rows = self.ws.conn.execute(
                f"SELECT key, vector FROM vectors WHERE model=? AND key IN ({','.join('?' * len(chunk))})",
                [model, *chunk],
            ).fetchall()
            for k, blob in rows:
                v = np.frombuffer(blob, dtype=np.float32)
                out[k] = v
                self._remember((model, k), v)
        return out

    def put_many(self, model: str, vectors: Mapping[str, Any]) -> None:
        import numpy as np

        rows = []
        for k, v in vectors.items():
            a = np.asarray(v, dtype=np.float32)
            self._remember((model, k), a)
            rows.append((model, k, int(a.size), a.tobytes()))
        with self.ws.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO vectors(model, key, dim, vector) VALUES (?,?,?,?)", rows)

    def __len__(self) -> int:
        return int(self.ws.conn.execute("SELECT count(*) FROM vectors").fetchone()[0])
    # ---- end of meaning layer and disputes ------------------------------------------------
