"""The workspace's SQL (SQLite's dialect) translated to PostgreSQL.

Every module writes its SQL once, in the dialect SQLite understands; on a PostgreSQL
workspace each statement passes through :func:`to_postgres` (cached: the same text is
translated once per process). The translation works on tokens, so string literals, quoted
names and comments are never changed, and covers what the workspace's SQL uses:

=============================================  ===============================================
SQLite                                          PostgreSQL
=============================================  ===============================================
``?``                                           ``%s`` (and a literal ``%`` doubled)
``INSERT OR REPLACE INTO t(a, b) VALUES ...``   ``... ON CONFLICT (key) DO UPDATE SET a = EXCLUDED.a, ...``
``INSERT OR IGNORE INTO ...``                   ``... ON CONFLICT DO NOTHING``
``INSERT INTO plans ...`` (cursor.lastrowid)    ``... RETURNING id``
``a CROSS JOIN b ON ...`` (SQLite's join order) ``a JOIN b ON ...`` (PostgreSQL plans joins itself)
``SUM(a IN (...))``, ``MIN(a = 'x')``           ``SUM((a IN (...))::int)``: comparisons are numbers
``WHERE 1`` / ``AND 0``                         ``WHERE TRUE`` / ``AND FALSE``
``FROM (SELECT ...)`` (no alias)                ``FROM (SELECT ...) AS qa_sub1``
``ORDER BY x [DESC]`` (NULLs first ascending)   ``ORDER BY x NULLS FIRST`` / ``x DESC NULLS LAST``
``end`` as a column name                        ``"end"``
``char(31)``, ``ifnull(a, b)``, ``LIKE``        ``chr(31)``, ``coalesce(a, b)``, ``ILIKE``
``INTEGER``, ``REAL``, ``BLOB``                 ``BIGINT``, ``DOUBLE PRECISION``, ``BYTEA``
``BEGIN IMMEDIATE``                             ``BEGIN``
=============================================  ===============================================

``COLLATE NOCASE`` and ``json_extract(doc, '$.key')`` are left as written: the PostgreSQL
schema defines a case-insensitive collation ``nocase`` and a ``json_extract`` function
(numbers and booleans, as the views read metrics). Text columns use the ``"C"`` collation,
so text sorts and compares byte for byte, as in SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

_TOKEN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<space>\s+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  | (?P<param>\?)
  | (?P<op>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}
_FUNCTIONS = {"CHAR": "chr", "IFNULL": "coalesce"}
# a bare 1 / 0 is a condition between these
_COND_BEFORE = {"WHERE", "AND", "OR", "NOT", "ON", "HAVING", "WHEN", "("}
_COND_AFTER = {"AND", "OR", ")", "GROUP", "ORDER", "LIMIT", "HAVING", "UNION", "THEN", ";", ""}
_ORDER_END = {"LIMIT", "OFFSET", ")", ";", "UNION", "EXCEPT", "INTERSECT", ""}
# after these, END is a value (the column "end"), not the end of a CASE
_BEFORE_VALUE = {
    ".", "WHEN", "THEN", "ELSE", "AND", "OR", "NOT", "(", ",", "SELECT", "BY", "WHERE", "ON",
    "=", "<", ">", "+", "-", "*", "/", "|", "IS", "IN", "BETWEEN",
}
# after a subquery in FROM, these words are not its alias
_NOT_ALIAS = {
    "WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "JOIN", "INNER", "LEFT", "RIGHT", "CROSS", "FULL",
    "NATURAL", "ON", "USING", "UNION", "EXCEPT", "INTERSECT", "HAVING", "WINDOW", ")", ";", ",", "",
}


@dataclass(frozen=True)
class Table:
    """What an upsert needs to know of a table: its key, its generated id, its columns."""

    key: tuple[str, ...] = ()
    #: the id PostgreSQL generates (``INTEGER PRIMARY KEY`` in SQLite): INSERT returns it
    identity: str | None = None
    #: a ``rowid`` column stands in for SQLite's (a replaced row gets a new one)
    rowid: bool = False
    columns: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class _Tok:
    kind: str
    text: str

    @property
    def up(self) -> str:
        return self.text.upper() if self.kind in ("word", "op") else self.text


def tokens(sql: str) -> list[_Tok]:
    return [_Tok(m.lastgroup or "op", m.group()) for m in _TOKEN.finditer(sql)]


def _significant(toks: list[_Tok], i: int, step: int) -> int:
    """Index of the next (step=1) / previous (step=-1) token that is not space or comment."""
    i += step
    while 0 <= i < len(toks) and toks[i].kind in ("space", "comment"):
        i += step
    return i


def _up(toks: list[_Tok], i: int) -> str:
    return toks[i].up if 0 <= i < len(toks) else ""


def to_postgres(sql: str, tables: Mapping[str, Table]) -> str:
    """``sql`` (SQLite's dialect) as PostgreSQL runs it, with ``%s`` placeholders."""
    return _translate(sql, _frozen(tables))


class _Frozen(dict[str, Table]):
    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)


_FROZEN: dict[int, _Frozen] = {}


def _frozen(tables: Mapping[str, Table]) -> _Frozen:
    if isinstance(tables, _Frozen):
        return tables
    key = id(tables)
    if key not in _FROZEN:
        _FROZEN[key] = _Frozen(tables)
    return _FROZEN[key]


@lru_cache(maxsize=2048)
def _translate(sql: str, tables: _Frozen) -> str:
    toks = _numbered_comparisons(tokens(sql))
    suffix = _insert_suffix(toks, tables)
    out: list[str] = []
    case_depth = 0
    order_depth: list[int] = []  # paren depths at which an ORDER BY list is open
    depth = 0
    derived: list[bool] = []  # per open paren: a subquery in FROM / JOIN
    subqueries = 0
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        up = t.up
        text = t.text
        if t.kind == "param":
            text = "%s"
        elif t.kind in ("string", "quoted", "comment"):
            text = text.replace("%", "%%")
        elif t.kind == "op":
            if text == "%":
                text = "%%"
            elif text == "(":
                depth += 1
                derived.append(_up(toks, _significant(toks, i, -1)) in ("FROM", "JOIN"))
            elif text == ")":
                if order_depth and order_depth[-1] == depth:
                    out.append(_nulls(out))
                    order_depth.pop()
                depth -= 1
                if derived and derived.pop() and _up(toks, _significant(toks, i, 1)) in _NOT_ALIAS:
                    subqueries += 1
                    text = f") AS qa_sub{subqueries}"
            elif text == "," and order_depth and order_depth[-1] == depth:
                out.append(_nulls(out))
        elif t.kind == "number" and text in ("0", "1"):
            if _up(toks, _significant(toks, i, -1)) in _COND_BEFORE and _up(toks, _significant(toks, i, 1)) in _COND_AFTER:
                text = "TRUE" if text == "1" else "FALSE"
        elif t.kind == "word":
            prev = _up(toks, _significant(toks, i, -1))
            nxt = _up(toks, _significant(toks, i, 1))
            if up == "CASE":
                case_depth += 1
            elif up == "END":
                if prev not in _BEFORE_VALUE and case_depth > 0:
                    case_depth -= 1
                else:
                    text = '"end"'
            elif up == "OR" and prev == "INSERT":
                # INSERT OR REPLACE / OR IGNORE: the conflict clause goes at the end
                i = _significant(toks, i, 1) + 1
                continue
            elif up == "IMMEDIATE" and prev == "BEGIN":
                i += 1
                continue
            elif up == "CROSS" and nxt == "JOIN" and _cross_join_on(toks, i):
                i = _significant(toks, i, 1)
                continue
            elif up in _TYPES and prev != ".":
                text = _TYPES[up]
            elif up in _FUNCTIONS and nxt == "(":
                text = _FUNCTIONS[up]
            elif up == "LIKE" and prev != "I":
                text = "ILIKE"
            elif up == "BY" and prev == "ORDER":
                order_depth.append(depth)
            elif order_depth and order_depth[-1] == depth and up in _ORDER_END:
                out.append(_nulls(out))
                order_depth.pop()
        elif text == ";" and order_depth:
            out.append(_nulls(out))
            order_depth.pop()
        out.append(text)
        i += 1
    if order_depth:
        out.append(_nulls(out))
    text = "".join(out)
    if suffix:
        stripped = text.rstrip().rstrip(";")
        text = stripped + suffix
    return text


_AGGREGATES = {"SUM", "MIN", "MAX", "AVG", "TOTAL"}
_COMPARISON = {"=", "<", ">", "!", "IN", "IS", "LIKE", "BETWEEN", "AND", "OR", "NOT", "EXISTS"}


def _numbered_comparisons(toks: list[_Tok]) -> list[_Tok]:
    """``SUM(x IN (...))`` -> ``SUM((x IN (...))::int)``: SQLite's comparisons are numbers.
    (The schema's ``sum(boolean)`` does the same for a boolean column, but row by row in
    SQL, several times slower on 100,000 calls.) A CASE argument is left as it is."""
    out: list[_Tok] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        out.append(t)
        if t.kind == "word" and t.up in _AGGREGATES and _up(toks, _significant(toks, i, 1)) == "(":
            start = _significant(toks, i, 1)
            depth, j, top = 0, start, []
            while j < len(toks):
                if toks[j].text == "(":
                    depth += 1
                elif toks[j].text == ")":
                    depth -= 1
                    if depth == 0:
                        break
                elif depth == 1 and toks[j].kind in ("word", "op"):
                    top.append(toks[j].up)
                j += 1
            if j < len(toks) and "CASE" not in top and "DISTINCT" not in top and _COMPARISON & set(top):
                out += toks[i + 1:start + 1]
                out.append(_Tok("op", "("))
                out += _numbered_comparisons(toks[start + 1:j])
                out += [_Tok("op", ")"), _Tok("op", "::int"), toks[j]]
                i = j + 1
                continue
        i += 1
    return out


def _nulls(out: list[str]) -> str:
    """``NULLS FIRST`` / ``LAST`` for the ORDER BY term just written (SQLite's order)."""
    words = [w.upper() for w in "".join(out[-12:]).split()]
    last = words[-1] if words else ""
    if "NULLS" in words[-3:]:
        return ""
    pad = "" if (out and out[-1].endswith(" ")) else " "
    return f"{pad}NULLS LAST " if last == "DESC" else f"{pad}NULLS FIRST "


def _cross_join_on(toks: list[_Tok], i: int) -> bool:
    """``CROSS JOIN name [alias] ON``: SQLite's way of fixing the join order."""
    j = _significant(toks, _significant(toks, i, 1), 1)  # the table
    k = _significant(toks, j, 1)
    if _up(toks, k) == "ON":
        return True
    if 0 <= k < len(toks) and toks[k].kind == "word" and _up(toks, _significant(toks, k, 1)) == "ON":
        return True
    return False


def _insert_suffix(toks: list[_Tok], tables: Mapping[str, Table]) -> str:
    """The ``ON CONFLICT`` / ``RETURNING`` clause an INSERT needs on PostgreSQL."""
    i = _significant(toks, -1, 1)
    if _up(toks, i) != "INSERT":
        return ""
    j = _significant(toks, i, 1)
    mode = ""
    if _up(toks, j) == "OR":
        mode = _up(toks, _significant(toks, j, 1))
        j = _significant(toks, _significant(toks, j, 1), 1)
    if _up(toks, j) != "INTO":
        return ""
    j = _significant(toks, j, 1)
    name = toks[j].text.strip('"').lower() if 0 <= j < len(toks) else ""
    table = tables.get(name)
    cols: list[str] = []
    k = _significant(toks, j, 1)
    if _up(toks, k) == "(":
        k += 1
        while k < len(toks) and toks[k].text != ")":
            if toks[k].kind in ("word", "quoted"):
                cols.append(toks[k].text.strip('"').lower())
            k += 1
    elif table is not None:
        cols = list(table.columns)
    suffix = ""
    if mode == "IGNORE":
        suffix = " ON CONFLICT DO NOTHING"
    elif mode == "REPLACE":
        if table is None or not table.key:
            raise ValueError(f"INSERT OR REPLACE into {name!r}: no primary key known for PostgreSQL")
        sets = [f"{_ident(c)} = EXCLUDED.{_ident(c)}" for c in cols if c not in table.key]
        if table.rowid:
            sets.append("rowid = DEFAULT")  # SQLite's REPLACE deletes and inserts: a new rowid
        keys = ", ".join(_ident(c) for c in table.key)
        suffix = f" ON CONFLICT ({keys}) " + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING")
    if table is not None and table.identity and not any(t.up == "RETURNING" for t in toks):
        suffix += f" RETURNING {table.identity}"
    return suffix


def _ident(name: str) -> str:
    return '"end"' if name == "end" else name
