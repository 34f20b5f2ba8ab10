"""The SQLite dialect translated to PostgreSQL (qa/db/dialect.py), statement by statement.

Unit tests of the text: no server needed. That the translations run and give SQLite's
answers is tested against a real server in test_store.py and test_postgres_views.py.
"""

from __future__ import annotations

import pytest

from qa.db import is_server_url, location_of, workspace_spec
from qa.db.dialect import to_postgres
from qa.db.postgres import catalog, schema_statements, tsquery
from qa.store import _SCHEMA

TABLES = catalog(_SCHEMA)


def pg(sql: str) -> str:
    return " ".join(to_postgres(sql, TABLES).split())


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("SELECT a FROM t WHERE x = ? AND y = ?", "SELECT a FROM t WHERE x = %s AND y = %s"),
    # a ? or % inside a literal is text; % is doubled for psycopg
    ("SELECT '?', 'a%b' FROM t WHERE x LIKE ?", "SELECT '?', 'a%%b' FROM t WHERE x ILIKE %s"),
    ("SELECT 1 FROM t WHERE 1", "SELECT 1 FROM t WHERE TRUE"),
    ("SELECT * FROM items WHERE 0", "SELECT * FROM items WHERE FALSE"),
    ("SELECT x FROM t WHERE a = 1 AND 1 ORDER BY x LIMIT 1",
     "SELECT x FROM t WHERE a = 1 AND TRUE ORDER BY x NULLS FIRST LIMIT 1"),
    ("SELECT x FROM t ORDER BY a DESC, b, MAX(c, d) DESC",
     "SELECT x FROM t ORDER BY a DESC NULLS LAST , b NULLS FIRST , MAX(c, d) DESC NULLS LAST"),
    ("SELECT x FROM calls c CROSS JOIN scores s ON s.call_id = c.call_id",
     "SELECT x FROM calls c JOIN scores s ON s.call_id = c.call_id"),
    ("SELECT x FROM a CROSS JOIN b", "SELECT x FROM a CROSS JOIN b"),  # a real cross join stays
    ("SELECT i.start, i.end, CASE WHEN end > 1 THEN 2 END FROM items i",
     'SELECT i.start, i."end", CASE WHEN "end" > 1 THEN 2 END FROM items i'),
    ("SELECT group_concat(a || char(31) || b, char(30)), ifnull(x, 0) FROM t",
     "SELECT group_concat(a || chr(31) || b, chr(30)), coalesce(x, 0) FROM t"),
    ("SELECT CAST(x AS REAL), CAST(y AS INTEGER) FROM t",
     "SELECT CAST(x AS DOUBLE PRECISION), CAST(y AS BIGINT) FROM t"),
    ("SELECT n FROM (SELECT 1 AS n) GROUP BY n", "SELECT n FROM (SELECT 1 AS n) AS qa_sub1 GROUP BY n"),
    ("SELECT n FROM (SELECT 1 AS n) s", "SELECT n FROM (SELECT 1 AS n) s"),
    ("SELECT x FROM t WHERE m = ? COLLATE NOCASE", "SELECT x FROM t WHERE m = %s COLLATE NOCASE"),
    ("BEGIN IMMEDIATE", "BEGIN"),
    ("-- a ? in a comment\nSELECT 1", "-- a ? in a comment SELECT 1"),
])
def test_statements(sqlite: str, postgres: str) -> None:
    assert pg(sqlite) == postgres


def test_upserts_use_the_table_key() -> None:
    assert pg("INSERT OR REPLACE INTO failures(source, reason, at) VALUES (?,?,?)") == (
        "INSERT INTO failures(source, reason, at) VALUES (%s,%s,%s) ON CONFLICT (source) "
        "DO UPDATE SET reason = EXCLUDED.reason, at = EXCLUDED.at, rowid = DEFAULT")
    assert pg("INSERT OR REPLACE INTO vectors(model, key, dim, vector) VALUES (?,?,?,?)").endswith(
        "ON CONFLICT (model, key) DO UPDATE SET dim = EXCLUDED.dim, vector = EXCLUDED.vector")  # WITHOUT ROWID
    assert pg("INSERT OR IGNORE INTO configs(hash, kind) VALUES (?,?)") == (
        "INSERT INTO configs(hash, kind) VALUES (%s,%s) ON CONFLICT DO NOTHING")
    assert pg("INSERT INTO plans(manager, plan_json) VALUES (?,?)").endswith(" RETURNING id")
    assert pg("INSERT INTO items(call_id) VALUES (?)") == "INSERT INTO items(call_id) VALUES (%s)"
    with pytest.raises(ValueError, match="no primary key"):
        pg("INSERT OR REPLACE INTO items(call_id) VALUES (?)")


def test_the_schema_is_the_same_tables_and_columns() -> None:
    ddl = "\n".join(schema_statements(_SCHEMA, TABLES))
    for table, info in TABLES.items():
        assert f"CREATE TABLE IF NOT EXISTS {table} (" in ddl
        assert info.columns
    assert TABLES["scores"].key == ("call_id", "script_hash", "rubric_hash")
    assert TABLES["plans"].identity == "id" and not TABLES["plans"].rowid
    assert TABLES["items"].rowid and not TABLES["vectors"].rowid
    assert '"end" DOUBLE PRECISION' in ddl and "USING GIN (tsv)" in ddl and "fts5" not in ddl
    assert "REFERENCES" not in ddl  # SQLite runs without foreign keys


def test_fts_expressions_become_tsqueries() -> None:
    assert tsquery('"цен"* AND ("дорог" OR "дорогов"*) AND "2024"') == (
        "'цен':* & ( 'дорог' | 'дорогов':* ) & '2024'")
    assert tsquery('"it\'s" AND "a""b"') == "'it''s' & 'a\"b'"


def test_workspace_values() -> None:
    assert is_server_url("postgresql://u@h/db") and is_server_url("postgres://h/db")
    assert not is_server_url("qa_workspace") and not is_server_url(None)
    assert workspace_spec("postgresql://u:p@h:5/db") == "postgresql://u:p@h:5/db"  # not folded by Path
    assert str(workspace_spec("some/folder")) == "some/folder"
    assert location_of("postgresql://qa:s3cret@db:5432/qa") == "postgresql://qa:***@db:5432/qa"
    assert location_of("postgresql://qa@db/qa") == "postgresql://qa@db/qa"


def test_comparisons_in_aggregates_are_numbers() -> None:
    assert pg("SELECT SUM(c.outcome IN (?)) AS won, MIN(i.status = 'handled'), MAX(a), "
              "SUM(CASE WHEN a = 1 THEN 0.5 END) FROM t") == (
        "SELECT SUM((c.outcome IN (%s))::int) AS won, MIN((i.status = 'handled')::int), MAX(a), "
        "SUM(CASE WHEN a = 1 THEN 0.5 END) FROM t")
