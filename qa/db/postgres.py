"""A PostgreSQL workspace through psycopg 3, looking like :mod:`sqlite3` to the store.

:func:`connect` returns a :class:`Connection` whose ``execute`` / ``executemany`` /
``cursor`` take the workspace's SQL as SQLite would (translated by :mod:`qa.db.dialect`),
return tuples, and give ``rowcount``, ``lastrowid`` and ``description``; so the store and the
views run one code path on both databases. What cannot be written portably is here too:

* the schema: :func:`schema_statements` derives PostgreSQL DDL from the SQLite schema text
  (one definition, :data:`qa.store._SCHEMA`): the same tables, columns and indexes; text
  columns compare byte for byte (``COLLATE "C"``, as SQLite); tables that have SQLite's
  implicit ``rowid`` get a ``rowid`` identity column (insertion order, as the views use it);
* full-text search: SQLite's FTS5 table becomes a ``tsvector`` column of
  ``search_utterances`` (``'simple'`` configuration: the stems are already normalised per
  language by :mod:`qa.normalize`, Russian and English alike) with a GIN index;
  :func:`tsquery` turns the FTS5 expression of :mod:`qa.search` into a ``tsquery``;
* numbers come back as SQLite gives them: ``numeric`` results (``SUM``, ``AVG``) as ``int``
  when whole, else ``float``; comparisons (``status = 'found' AS done``) as 1 / 0, and
  ``SUM`` / ``MIN`` / ``MAX`` take them (aggregates over ``boolean`` defined in the schema);
  Python ``bool`` parameters are stored as 0/1.

Server: PostgreSQL 13 or newer built with ICU (the Debian, Ubuntu and Red Hat packages and
the official Docker image are); the URL's user owns the database, or the schema named by
``?schema=NAME`` (it creates the tables, a collation and a few functions there once).

Writers on several machines: every statement that writes a keyed row is an upsert
(``ON CONFLICT``), the keyed row is written first in each transaction (so a second writer
of the same call waits for the first one's commit, then replaces it whole), and schema
creation holds an advisory lock (two first openings at once do not race).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import UsageError, WorkspaceError
from .dialect import Table, to_postgres
from .spec import location_of

INSTALL_HINT = "pip install 'call-qa[cluster]'"
#: advisory lock key held while the schema is created or migrated ("qa" + "schema")
SCHEMA_LOCK = 0x71615F736368656D

_PG_FUNCTIONS = [
    # SQLite's case-insensitive comparison (manager names typed in any case)
    "CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
    # json_extract(doc, '$.a.b') as the views use it: numbers (booleans as 1/0), else NULL
    """CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS double precision
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
         SELECT CASE jsonb_typeof(j) WHEN 'number' THEN (j #>> '{}')::double precision
                                     WHEN 'boolean' THEN CASE WHEN j = 'true'::jsonb THEN 1 ELSE 0 END
                END
         FROM (SELECT CASE WHEN doc IS NULL OR doc = '' THEN NULL
                      ELSE doc::jsonb #> string_to_array(replace(substr(path, 3), '"', ''), '.') END AS j) s
       $$""",
    # SQLite's comparisons are numbers: SUM / MIN / MAX over them (booleans here) count
    """CREATE OR REPLACE FUNCTION qa_sum_bool(s bigint, b boolean) RETURNS bigint
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN b IS NULL THEN s ELSE coalesce(s, 0) + b::int END $$""",
    "CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = qa_sum_bool, STYPE = bigint)",
    "CREATE OR REPLACE AGGREGATE min(boolean) (SFUNC = booland_statefunc, STYPE = boolean)",
    "CREATE OR REPLACE AGGREGATE max(boolean) (SFUNC = boolor_statefunc, STYPE = boolean)",
]


# ---- schema ----------------------------------------------------------------------------------
def _statements(schema: str) -> list[str]:
    text = re.sub(r"--[^\n]*", "", schema)
    return [s.strip() for s in text.split(";") if s.strip()]


def catalog(schema: str) -> dict[str, Table]:
    """Table -> key, identity and columns, read from the SQLite schema text."""
    out: dict[str, Table] = {}
    for stmt in _statements(schema):
        m = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*(WITHOUT ROWID)?$", stmt, re.S)
        if not m:
            continue
        name, body, without_rowid = m.group(1), m.group(2), m.group(3)
        cols: list[str] = []
        key: tuple[str, ...] = ()
        identity = None
        for part in _split_columns(body):
            pk = re.match(r"PRIMARY KEY\s*\((.*)\)", part)
            if pk:
                key = tuple(c.strip() for c in pk.group(1).split(","))
                continue
            col = part.split()[0]
            cols.append(col)
            if "PRIMARY KEY" in part:
                key = (col,)
                if re.search(r"\bINTEGER PRIMARY KEY\b", part):
                    identity = col
        out[name] = Table(key=key, identity=identity, rowid=not without_rowid and identity is None,
                          columns=tuple(cols))
    return out


def _split_columns(body: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def schema_statements(schema: str, tables: Mapping[str, Table]) -> list[str]:
    """PostgreSQL DDL for the SQLite schema text (same tables, columns and indexes)."""
    out = list(_PG_FUNCTIONS)
    for stmt in _statements(schema):
        if stmt.startswith("CREATE VIRTUAL TABLE"):
            if "search_fts" in stmt:  # FTS5 -> a tsvector column and a GIN index
                out += [
                    "ALTER TABLE search_utterances ADD COLUMN IF NOT EXISTS tsv tsvector "
                    "GENERATED ALWAYS AS (to_tsvector('simple', stems)) STORED",
                    "CREATE INDEX IF NOT EXISTS search_utterances_tsv ON search_utterances USING GIN (tsv)",
                ]
            continue
        m = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*(WITHOUT ROWID)?$", stmt, re.S)
        if m:
            name, body = m.group(1), m.group(2)
            parts = []
            for part in _split_columns(body):
                part = re.sub(r"\bINTEGER PRIMARY KEY( AUTOINCREMENT)?\b",
                              "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", part)
                part = re.sub(r"\s+REFERENCES \w+\(\w+\)", "", part)  # SQLite runs with foreign_keys=OFF
                part = re.sub(r"^(\w+) TEXT\b", r'\1 TEXT COLLATE "C"', part)
                parts.append(part)
            if tables[name].rowid:
                parts.append("rowid BIGINT GENERATED BY DEFAULT AS IDENTITY")
            stmt = f"CREATE TABLE IF NOT EXISTS {name} (\n    " + ",\n    ".join(parts) + "\n)"
        out.append(to_postgres(stmt, tables).replace("%%", "%"))
    return out


# ---- full-text search --------------------------------------------------------------------------
_FTS_TOKEN = re.compile(r'"((?:[^"]|"")*)"(\*?)|(\()|(\))|\b(AND|OR)\b')


def tsquery(expression: str) -> str:
    """The FTS5 expression of :func:`qa.search.Query.expression` (quoted terms, ``*``
    prefixes, AND / OR, parentheses) as ``to_tsquery('simple', ...)`` text."""
    out: list[str] = []
    for m in _FTS_TOKEN.finditer(expression):
        term, star, open_, close, op = m.groups()
        if term is not None:
            word = term.replace('""', '"').replace("\\", "\\\\").replace("'", "''")
            out.append(f"'{word}'" + (":*" if star else ""))
        elif open_:
            out.append("(")
        elif close:
            out.append(")")
        elif op:
            out.append("&" if op == "AND" else "|")
    return " ".join(out)


# ---- connection --------------------------------------------------------------------------------
def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise UsageError(
            f"a postgresql:// workspace needs psycopg; install it with: {INSTALL_HINT}"
        ) from None
    return psycopg


def _split_url(url: str) -> tuple[str, str | None]:
    """(libpq URL, schema): ``?schema=NAME`` is ours (a workspace per schema), not libpq's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise UsageError(f"{location_of(url)}: schema {schema!r} is not a plain name; use letters, digits and _")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


def _adapt(raw: Any) -> None:
    """Numbers as SQLite returns them; bool parameters stored as 0/1."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format

    class WholeOrFloat(Loader):
        format = Format.TEXT

        def load(self, data: Any) -> Any:
            s = bytes(data)
            if b"." in s or b"e" in s or b"N" in s:
                return float(s)
            return int(s)

    class BoolAsInt(Dumper):
        oid = raw.adapters.types["int8"].oid

        def dump(self, obj: Any) -> bytes:
            return b"1" if obj else b"0"

    class BoolAsInt01(Loader):
        format = Format.TEXT

        def load(self, data: Any) -> Any:
            return 1 if bytes(data) == b"t" else 0

    raw.adapters.register_loader("numeric", WholeOrFloat)
    raw.adapters.register_loader("bool", BoolAsInt01)
    raw.adapters.register_dumper(bool, BoolAsInt)


def connect_raw(url: str) -> Any:
    """A psycopg connection (autocommit; the store opens its own transactions)."""
    psycopg = _psycopg()
    dsn, schema = _split_url(url)
    try:
        raw = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WorkspaceError(
            f"{location_of(url)}: cannot connect to the PostgreSQL workspace: {first}; "
            "is the server running and the URL (user, password, host, port, database) right?"
        ) from e
    _adapt(raw)
    if schema:
        raw.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        raw.execute(f'SET search_path TO "{schema}"')
    return raw


class Cursor:
    """The part of :class:`sqlite3.Cursor` the workspace uses, over a psycopg cursor."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._cur = conn.raw.cursor()
        self.lastrowid: int | None = None

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        self.lastrowid = None
        pg = self._conn.translate(sql)
        try:
            self._cur.execute(pg, params if isinstance(params, Mapping) else list(params))
        except self._conn.errors as e:
            raise self._conn.error(e, sql) from e
        if " RETURNING " in pg and self._cur.description is not None and not sql.upper().count("RETURNING"):
            row = self._cur.fetchone()
            self.lastrowid = int(row[0]) if row else None
        return self

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        self.lastrowid = None
        pg = self._conn.translate(sql)
        if " RETURNING " in pg and not sql.upper().count("RETURNING"):
            pg = pg[: pg.rindex(" RETURNING ")]
        rows = [list(p) for p in seq]
        if not rows:
            return self
        try:
            self._cur.executemany(pg, rows)
        except self._conn.errors as e:
            raise self._conn.error(e, sql) from e
        return self

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall() if self._cur.description is not None else []

    def fetchmany(self, size: int = 1000) -> list[Any]:
        return self._cur.fetchmany(size)

    def __iter__(self) -> Iterator[Any]:
        if self._cur.description is None:
            return iter(())
        return iter(self._cur)

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    @property
    def description(self) -> Any:
        return self._cur.description

    def close(self) -> None:
        self._cur.close()


class Connection:
    """The part of :class:`sqlite3.Connection` the workspace uses: ``execute``,
    ``executemany``, ``cursor``, ``close``; SQL in SQLite's dialect, translated."""

    dialect = "postgresql"

    def __init__(self, url: str, tables: Mapping[str, Table]):
        self.url = url
        self.location = location_of(url)
        self.tables = tables
        psycopg = _psycopg()
        self.errors = psycopg.Error
        self.raw = connect_raw(url)

    def translate(self, sql: str) -> str:
        return to_postgres(sql, self.tables)

    def error(self, e: Exception, sql: str) -> Exception:
        """A database error as :class:`WorkspaceError` (first line of the server's message)."""
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        what = " ".join(sql.split())[:80]
        return WorkspaceError(f"{self.location}: {first} (in: {what})")

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        return Cursor(self).execute(sql, params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        return Cursor(self).executemany(sql, seq)

    def close(self) -> None:
        self.raw.close()

    def reader(self) -> Connection:
        """Another connection to the same workspace (for reads in a thread)."""
        return Connection(self.url, self.tables)
