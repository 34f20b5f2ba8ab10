"""The workspace store: schema, the evidence utterance, item tokens, and migrating an older
workspace in place.

Tests taking ``workspace_spec`` run twice: on SQLite and on a real PostgreSQL (a throwaway
cluster, see tests/conftest.py); the SQLite-file tests (migration, WAL) run on SQLite only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qa.errors import UsageError, WorkspaceError
from qa.store import (
    DB_NAME,
    ITEM_COLUMNS,
    KEY_METRICS,
    SCHEMA_VERSION,
    TOKEN_KINDS,
    Workspace,
    item_tokens,
)

# The schema call-qa 0.1 wrote (schema 1): items without ``utterance``, scores without
# the ``tokens_*`` columns.
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE transcripts (cache_key TEXT PRIMARY KEY, json TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE calls (
    call_id TEXT PRIMARY KEY, source TEXT, audio_sha256 TEXT, cache_key TEXT, manager TEXT,
    started_at TEXT, day TEXT, direction TEXT, client_phone TEXT, duration REAL, outcome TEXT,
    language TEXT, model TEXT, quality_json TEXT NOT NULL DEFAULT '{}',
    extra_json TEXT NOT NULL DEFAULT '{}', updated_at REAL NOT NULL
);
CREATE TABLE configs (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, path TEXT,
                      text TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE scores (
    call_id TEXT NOT NULL, script_hash TEXT NOT NULL, rubric_hash TEXT NOT NULL,
    score REAL NOT NULL, points REAL, max_points REAL, critical INTEGER NOT NULL DEFAULT 0,
    critical_reason TEXT, next_step INTEGER, metrics_json TEXT NOT NULL DEFAULT '{}',
    summary_json TEXT NOT NULL DEFAULT '{}', scored_at REAL NOT NULL,
    PRIMARY KEY (call_id, script_hash, rubric_hash)
);
CREATE TABLE items (
    call_id TEXT NOT NULL, script_hash TEXT NOT NULL, rubric_hash TEXT NOT NULL,
    kind TEXT NOT NULL, item_id TEXT NOT NULL, title TEXT, status TEXT NOT NULL,
    score REAL, max_score REAL, start REAL, end REAL, role TEXT, text TEXT, matched TEXT,
    phrase TEXT, similarity REAL, detail TEXT
);
INSERT INTO calls(call_id, manager, day, updated_at) VALUES ('c1', 'anna', '2026-11-20', 0);
INSERT INTO scores(call_id, script_hash, rubric_hash, score, scored_at, metrics_json)
VALUES ('c1', 's1', 'r1', 80, 1, '{"manager_wpm": 140.5, "manager_questions": 3, "duration_s": 60}');
INSERT INTO items(call_id, script_hash, rubric_hash, kind, item_id, status, start, text)
VALUES ('c1', 's1', 'r1', 'stage', 'greeting', 'found', 0.5, 'Good afternoon'),
       ('c1', 's1', 'r1', 'stage', 'needs', 'missed', NULL, NULL),
       ('c1', 's1', 'r1', 'objection', 'price', 'handled', 9.0, 'too expensive'),
       ('c1', 's1', 'r1', 'objection', 'price', 'unhandled', 30.0, 'too expensive'),
       ('c1', 's1', 'r1', 'step', 'price.acknowledge', 'found', 10.0, 'I understand');
"""


def _old_workspace(root: Path) -> Path:
    root.mkdir(parents=True)
    conn = sqlite3.connect(root / DB_NAME)
    conn.executescript(SCHEMA_1)
    conn.close()
    return root


def _columns(ws: Workspace, table: str) -> list[str]:
    if ws.dialect == "postgresql":  # the stand-in for SQLite's rowid is not a column there
        return [r[0] for r in ws.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema() AND column_name NOT IN ('rowid', 'tsv') "
            "ORDER BY ordinal_position", [table])]
    return [r[1] for r in ws.query(f"PRAGMA table_info({table})")]


def test_a_new_workspace_has_the_current_schema(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        assert ws.query("SELECT value FROM meta WHERE key='schema_version'") == [(str(SCHEMA_VERSION),)]
        assert _columns(ws, "items")[3:] == list(ITEM_COLUMNS)
        assert {f"tokens_{k}" for k in TOKEN_KINDS} <= set(_columns(ws, "scores"))
        assert {f"metric_{m}" for m in KEY_METRICS} <= set(_columns(ws, "scores"))


def test_save_scores_keeps_tokens_and_key_metrics(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        ws.save_score("c1", script_hash="s", rubric_hash="none", summary={
            "score": 70.0, "metrics": {"manager_talk_share": 0.6, "manager_questions": 4, "manager_wpm": None,
                                       "long_silences": True, "duration_s": 90.0},
        }, items=[{"kind": "stage", "item_id": "greeting", "status": "found"},
                  {"kind": "forbidden", "item_id": "f1", "status": "found"}])
        cols = ", ".join(f"metric_{m}" for m in KEY_METRICS)
        assert dict(zip(KEY_METRICS, ws.query(f"SELECT {cols} FROM scores")[0])) == {
            "manager_talk_share": 0.6, "longest_monologue_s": None, "manager_questions": 4.0,
            "manager_interruptions": None, "long_silences": 1.0, "manager_wpm": None,
        }
        assert ws.query("SELECT tokens_stage, tokens_objection, tokens_forbidden FROM scores") == [
            ("greeting\x1ffound", None, "f1\x1ffound")
        ]


def test_an_old_workspace_is_migrated_in_place(tmp_path: Path) -> None:
    path = _old_workspace(tmp_path / "ws")
    with Workspace(path, create=False) as ws:
        # 3: items.layer, vectors, disputes; 4: the search index; 5: score totals;
        # 6: each score's unhandled objections
        assert SCHEMA_VERSION == 6
        assert ws.query("SELECT value FROM meta WHERE key='schema_version'") == [("6",)]
        assert ws.query("SELECT SUM(calls) FROM score_totals") == ws.query("SELECT COUNT(*) FROM scores")
        assert ws.query("SELECT unhandled_objections FROM scores") == [('[["price", null, 30.0, "too expensive"]]',)]
        assert {"utterance", "layer"} <= set(_columns(ws, "items"))
        assert {"vectors", "disputes", "search_utterances", "search_fts"} <= {
            r[0] for r in ws.query("SELECT name FROM sqlite_master")}
        # what was there is kept; items scored before have no utterance
        assert ws.query("SELECT item_id, start, utterance FROM items ORDER BY rowid")[:2] == [
            ("greeting", 0.5, None), ("needs", None, None),
        ]
        # the token columns are filled from the items once, sorted, one token per row
        assert ws.query("SELECT tokens_stage, tokens_objection, tokens_forbidden FROM scores") == [(
            "greeting\x1ffound\x1eneeds\x1fmissed",
            "price\x1fhandled\x1eprice\x1funhandled",
            None,
        )]
        # and the key talk metrics from the JSON
        assert ws.query("SELECT metric_manager_wpm, metric_manager_questions, metric_long_silences "
                        "FROM scores") == [(140.5, 3.0, None)]
        # and it takes new scores with their utterances
        ws.save_score("c1", script_hash="s2", rubric_hash="none", summary={"score": 50.0}, items=[
            {"kind": "stage", "item_id": "greeting", "title": "Greeting", "status": "found",
             "score": 5, "max_score": 5, "start": 1.0, "utterance": 3},
        ])
        assert ws.query("SELECT utterance FROM items WHERE script_hash='s2'") == [(3,)]
    # reopening does not migrate again
    with Workspace(path, create=False) as ws:
        assert ws.query("SELECT COUNT(*) FROM items") == [(6,)]


def test_the_tokens_written_match_the_migration(tmp_path: Path) -> None:
    """save_scores and the migration's SQL write the same token strings."""
    path = _old_workspace(tmp_path / "ws")
    with Workspace(path, create=False) as ws:
        migrated = ws.query("SELECT tokens_stage, tokens_objection FROM scores WHERE call_id='c1'")[0]
        cols = ["kind", "item_id", "status"]
        rows = [dict(zip(cols, r)) for r in ws.query("SELECT kind, item_id, status FROM items")]
        ws.save_score("c1", script_hash="s1", rubric_hash="r1", summary={"score": 80.0}, items=rows[::-1])
        assert ws.query("SELECT tokens_stage, tokens_objection FROM scores WHERE call_id='c1'")[0] == migrated


def test_item_tokens() -> None:
    items = [
        {"kind": "stage", "item_id": "needs", "status": "missed"},
        {"kind": "stage", "item_id": "greeting", "status": "found"},
        {"kind": "forbidden", "item_id": "forbidden_1", "status": "found"},
        {"kind": "forbidden", "item_id": "forbidden_1", "status": "found"},
        {"kind": "stage", "item_id": "greeting_2", "status": "na"},
    ]
    assert item_tokens(items, "stage") == "greeting\x1ffound\x1egreeting_2\x1fna\x1eneeds\x1fmissed"
    assert item_tokens(items, "forbidden") == "forbidden_1\x1ffound\x1eforbidden_1\x1ffound"
    assert item_tokens(items, "objection") is None


def test_refresh_derived_fills_rows_written_with_plain_sql(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        with ws.transaction() as c:
            c.execute("INSERT INTO scores(call_id, script_hash, rubric_hash, score, scored_at, metrics_json) "
                      """VALUES ('c1', 's', 'r', 90, 1, '{"manager_wpm": 120.5, "long_silences": true}')""")
            c.executemany("INSERT INTO items(call_id, script_hash, rubric_hash, kind, item_id, status) "
                          "VALUES ('c1', 's', 'r', 'stage', ?, ?)", [("needs", "missed"), ("greeting", "found")])
        ws.refresh_derived()
        assert ws.query("SELECT tokens_stage FROM scores") == [("greeting\x1ffound\x1eneeds\x1fmissed",)]
        assert ws.query("SELECT metric_manager_wpm, metric_long_silences, metric_manager_questions "
                        "FROM scores") == [(120.5, 1.0, None)]


def test_a_newer_workspace_is_refused(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        ws.conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(WorkspaceError) as e:
        Workspace(workspace_spec)
    assert "made by a newer version of call-qa (schema 99)" in str(e.value)


def test_a_failed_migration_leaves_the_workspace_as_it_was(tmp_path: Path, monkeypatch) -> None:
    path = _old_workspace(tmp_path / "ws")

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Workspace, "_fill_derived", staticmethod(disk_full))
    with pytest.raises(WorkspaceError) as e:
        Workspace(path, create=False)
    assert str(e.value) == (
        f"{path / DB_NAME}: cannot upgrade the workspace from schema 1 to {SCHEMA_VERSION}: database or disk is "
        "full; is it read-only or the disk full?"
    )
    conn = sqlite3.connect(path / DB_NAME)
    assert conn.execute("SELECT value FROM meta").fetchall() == [("1",)]
    assert "utterance" not in [r[1] for r in conn.execute("PRAGMA table_info(items)")]
    conn.close()
    monkeypatch.undo()
    with Workspace(path, create=False) as ws:  # and a later open migrates it
        assert "utterance" in _columns(ws, "items")


def test_version_stats_and_items(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        ws.save_config(hash="s1", kind="script", name="Inbound", path="scripts/inbound.en.yaml", text="x")
        stage = {"kind": "stage", "item_id": "greeting", "status": "found"}
        ws.save_scores([("c1", "s1", "none", {"score": 50.0}, [stage]),
                        ("c2", "s1", "none", {"score": 60.0}, [stage, {**stage, "item_id": "needs"}])])
        ws.save_scores([("c1", "s2", "none", {"score": 70.0}, [])])
        stats = ws.version_stats()
        assert [(v["script_hash"], v["calls"], v["name"], v["path"]) for v in stats] == [
            ("s2", 1, None, None), ("s1", 2, "Inbound", "scripts/inbound.en.yaml"),
        ]
        items = ws.version_items("s1", "none", ["c2", "c3"])
        assert list(items["item_id"]) == ["greeting", "needs"] and set(items["call_id"]) == {"c2"}
        assert ws.version_items("s1", "none", []).empty


# ---- both backends: one interface ------------------------------------------------------------------
def _transcript(call_id: str, text: str = "good afternoon, the price includes finishing", manager: str = "anna"):
    from qa.transcripts import CallMeta, Transcript, Utterance

    meta = CallMeta(call_id=call_id, source=f"/calls/{call_id}.wav", manager=manager,
                    started_at="2024-05-06T10:00:00", outcome="won")
    utts = [Utterance(role="manager", start=0.0, end=2.0, text=text),
            Utterance(role="client", start=2.5, end=4.0, text="это слишком дорого для нас")]
    return Transcript(meta=meta, utterances=utts, language="en", duration=4.0)


def test_calls_transcripts_and_the_cache(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        ws.save_call(_transcript("c1"), cache_key="k1", audio_sha256="abc")
        ws.save_call(_transcript("c2", manager="boris"), cache_key="k1")  # the same recording, another call
        assert ws.has_transcript("k1") and not ws.has_transcript("k2")
        assert ws.cached_transcript("k1").utterances[1].text == "это слишком дорого для нас"
        assert (ws.transcript("c2").meta.manager, ws.transcript("c1").meta.manager) == ("boris", "anna")
        assert ws.call_ids() == ["c1", "c2"] and ws.managers() == ["anna", "boris"]
        # saving again replaces the call, never adds a second row
        ws.save_call(_transcript("c1", text="hello again"), cache_key="k1")
        assert ws.query("SELECT COUNT(*) FROM calls") == [(2,)]
        assert ws.query("SELECT day, duration FROM calls WHERE call_id = ?", ["c1"]) == [("2024-05-06", 4.0)]
        ws.record_failure("/calls/bad.wav", "cannot decode")
        ws.record_failure("/calls/bad.wav", "cannot decode, again")
        assert ws.failures() == [("/calls/bad.wav", "cannot decode, again")]


def test_search_on_both(workspace_spec) -> None:
    from qa.search import search

    with Workspace(workspace_spec) as ws:
        ws.save_call(_transcript("c1"), cache_key="k1")
        ws.save_call(_transcript("c2", text="we talk about the garden"), cache_key="k2")
        assert ws.search_stats() == (2, 4)
        assert [(h.call_id, h.utterance) for h in search(ws, "дорого")] == [("c2", 1), ("c1", 1)]
        assert [h.call_id for h in search(ws, "price includ")] == ["c1"]  # prefix of a word
        assert [h.call_id for h in search(ws, "garden", role="manager")] == ["c2"]
        assert search(ws, "garden", role="client") == []
        ws.save_call(_transcript("c2", text="nothing here"), cache_key="k2")  # re-saved: re-indexed
        assert search(ws, "garden") == []
        assert ws.reindex_search() == 2 and ws.search_stats() == (2, 4)


def test_calllog_rows_and_new_row_counts(workspace_spec) -> None:
    row = {"row_key": "r1", "source": "Master.csv", "line": 2, "started_at": "2024-05-06 10:00:00",
           "day": "2024-05-06", "direction": "in", "extension": "101", "client": "+7916", "answered": True}
    with Workspace(workspace_spec) as ws:
        assert ws.save_calllog([row, {**row, "row_key": "r2", "answered": False}], source="Master.csv") == 2
        assert ws.save_calllog([row, {**row, "row_key": "r3"}], source="Master.csv") == 1  # r1 is stored
        rows = ws.calllog_rows()
        assert [(r["row_key"], r["answered"]) for r in rows] == [("r1", 1), ("r2", 0), ("r3", 1)]
        assert dict(rows[0])["extension"] == "101"
        assert [i["new_rows"] for i in ws.calllog_imports()] == [2, 1]
        assert ws.calllog_imports()[1]["id"] > ws.calllog_imports()[0]["id"]


def test_plans_disputes_vectors_and_ids(workspace_spec) -> None:
    import numpy as np

    with Workspace(workspace_spec) as ws:
        first = ws.save_plan("anna", {"goals": ["needs"]}, period_from="2024-05-06", period_to=None)
        second = ws.save_plan("anna", {"goals": []}, period_from=None, period_to=None)
        assert second > first > 0 and [p["id"] for p in ws.plans("anna")] == [first, second]
        ws.save_dispute("c1", "stage", "needs", "found", by="vera", at=1.0)
        ws.save_dispute("c1", "stage", "greeting", "missed", by="vera", at=1.0)
        ws.save_dispute("c1", "stage", "needs", "missed", by="ivan", at=1.0)  # replaced, not added
        assert [(d["item_id"], d["status"], d["by"]) for d in ws.disputes()] == [
            ("greeting", "missed", "vera"), ("needs", "missed", "ivan")]
        assert ws.delete_dispute("c1", "stage", "needs") and not ws.delete_dispute("c1", "stage", "needs")
        cache = ws.vector_cache()
        cache.put_many("m", {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])})
        cache.put_many("m", {"a": np.array([5.0, 6.0])})
        fresh = Workspace(workspace_spec).vector_cache()
        got = fresh.get_many("m", ["a", "b", "c"])
        assert len(fresh) == 2 and sorted(got) == ["a", "b"] and got["a"].tolist() == [5.0, 6.0]
        fresh.ws.close()


def test_parallel_reads_and_the_change_marker(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        ws.save_call(_transcript("c1"), cache_key="k1")
        queries = [("SELECT call_id, manager FROM calls WHERE day >= ?", ["2024-01-01"]),
                   ("SELECT COUNT(*) AS n FROM search_utterances", [])]
        one = ws.frames(queries, workers=1)
        two = ws.frames(queries, workers=2)
        for a, b in zip(one, two):
            assert a.equals(b)
        assert two[0].to_dict("records") == [{"call_id": "c1", "manager": "anna"}]
        names, rows = ws.frames(queries, workers=2, raw=True)[1]
        assert (names, rows) == (["n"], [(2,)])
        before = ws.change_marker()
        assert ws.change_marker() == before
        with Workspace(workspace_spec) as other:  # another writer
            other.save_call(_transcript("c2"), cache_key="k2")
        assert ws.change_marker() != before


def test_opening_an_empty_place_without_create(workspace_spec) -> None:
    with pytest.raises(WorkspaceError) as e:
        Workspace(workspace_spec, create=False)
    assert "no workspace" in str(e.value)


def test_concurrent_first_openings_make_one_schema(workspace_spec) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def open_and_write(n: int) -> int:
        with Workspace(workspace_spec) as ws:
            ws.save_call(_transcript(f"c{n}"), cache_key=f"k{n}")
            return len(ws.call_ids())

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(open_and_write, range(4)))
    with Workspace(workspace_spec) as ws:
        assert ws.call_ids() == ["c0", "c1", "c2", "c3"]
        assert ws.query("SELECT COUNT(*) FROM meta") == [(1,)]


# ---- SQLite: WAL ------------------------------------------------------------------------------------
def test_sqlite_runs_in_wal_mode_and_readers_do_not_block_the_writer(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        assert ws.dialect == "sqlite"
        assert ws.query("PRAGMA journal_mode") == [("wal",)]
        ws.save_call(_transcript("c1"), cache_key="k1")
        reader = sqlite3.connect(tmp_path / "ws" / DB_NAME, timeout=0.1)
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM calls").fetchone() == (1,)  # a read transaction is open
        ws.save_call(_transcript("c2"), cache_key="k2")  # the writer does not wait for it
        assert reader.execute("SELECT COUNT(*) FROM calls").fetchone() == (1,)  # its snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM calls").fetchone() == (2,)
        reader.close()


# ---- PostgreSQL: opening errors ---------------------------------------------------------------------
def test_a_postgres_url_without_psycopg_says_what_to_install(monkeypatch, tmp_path) -> None:
    import builtins

    from typer.testing import CliRunner

    from qa.cli import app
    from qa.errors import UsageError

    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name == "psycopg" or name.startswith("psycopg."):
            raise ImportError("No module named 'psycopg'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(UsageError) as e:
        Workspace("postgresql://qa:secret@db.example:5432/qa")
    assert str(e.value) == "a postgresql:// workspace needs psycopg; install it with: pip install 'call-qa[cluster]'"
    monkeypatch.setenv("QA_WORKSPACE", "postgresql://qa:secret@db.example:5432/qa")
    r = CliRunner().invoke(app, ["team"])
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "Error: a postgresql:// workspace needs psycopg; install it with: pip install 'call-qa[cluster]'")


def test_a_server_that_does_not_answer_is_one_line_without_the_password(pg_server) -> None:
    from qa.db import location_of

    url = f"postgresql://qa:secret@127.0.0.1:{_closed_port()}/qa"
    with pytest.raises(WorkspaceError) as e:
        Workspace(url)
    msg = str(e.value)
    assert msg.startswith(f"postgresql://qa:***@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/qa: cannot connect")
    assert "secret" not in msg and "\n" not in msg and "is the server running" in msg
    assert location_of("postgresql://u:p@h:1/d?schema=x") == "postgresql://u:***@h:1/d?schema=x"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_workspaces_side_by_side_in_schemas(pg_url) -> None:
    """``?schema=NAME``: several workspaces in one database, each with its own tables."""
    with Workspace(pg_url + "?schema=team_a") as a, Workspace(pg_url + "?schema=team_b") as b:
        a.save_call(_transcript("c1"), cache_key="k1")
        assert a.call_ids() == ["c1"] and b.call_ids() == []
        assert a.frames([("SELECT call_id FROM calls", []), ("SELECT COUNT(*) FROM calls", [])],
                        workers=2, raw=True)[1][1] == [(1,)]
    with pytest.raises(UsageError):
        Workspace(pg_url + "?schema=x;drop")


def test_workspace_option_and_env_take_a_url(pg_url, tmp_path, monkeypatch) -> None:
    import supervisor_workspace as sw
    from typer.testing import CliRunner

    from qa.cli import app

    sw.build(pg_url).close()  # type: ignore[arg-type]
    r = CliRunner().invoke(app, ["team", "--workspace", pg_url, "-f", "json"])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("QA_WORKSPACE", pg_url)
    r2 = CliRunner().invoke(app, ["team", "-f", "json"])
    assert r2.exit_code == 0 and r2.stdout == r.stdout
    assert not list(tmp_path.iterdir())  # nothing made on disk by the URL
    # a folder still works as before, relative or absolute
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_WORKSPACE")
    r3 = CliRunner().invoke(app, ["team", "--workspace", "rel_ws"])
    assert (r3.exit_code, r3.stderr.splitlines()[0]) == (
        1, "Error: rel_ws: no workspace here; run 'qa transcribe' or 'qa score' first, or pass --workspace DIR")
    sw.build(tmp_path / "rel_ws").close()
    r4 = CliRunner().invoke(app, ["team", "--workspace", "rel_ws", "-f", "json"])
    assert r4.exit_code == 0 and r4.stdout == r.stdout


def test_copy_a_sqlite_workspace_to_postgres_and_back(tmp_path, pg_url) -> None:
    import supervisor_workspace as sw

    from qa import scorecards
    from qa.search import search

    lite = sw.build(tmp_path / "lite", week2=True)
    lite.save_call(_transcript("x1"), cache_key="kx")
    lite.save_plan("anna", {"goals": []}, period_from=None, period_to=None)
    with Workspace(pg_url) as pg:
        counts = lite.copy_to(pg)
        assert counts["calls"] == 14 and counts["items"] == lite.query("SELECT COUNT(*) FROM items")[0][0]
        assert pg.save_plan("anna", {}, period_from=None, period_to=None) == 2  # ids go on after the copied ones
        assert scorecards.team(pg).equals(scorecards.team(lite))
        assert [h.call_id for h in search(pg, "дорого")] == [h.call_id for h in search(lite, "дорого")] == ["x1"]
        with pytest.raises(WorkspaceError, match="not empty"):
            lite.copy_to(pg)
        with Workspace(tmp_path / "back") as back:
            pg.copy_to(back)
            sql = "SELECT call_id, kind, item_id, status, start, end FROM items ORDER BY rowid"
            assert back.query(sql) == lite.query(sql)
            assert [h.call_id for h in search(back, "дорого")] == ["x1"]
    lite.close()


def test_the_vector_cache_keeps_a_bounded_number_of_vectors_in_memory(tmp_path: Path) -> None:
    """Rescoring a large workspace reads every call's vectors once; the in-process layer keeps
    the latest ``limit`` of them (not all: 100,000 calls would be about 9 GB), and what it
    dropped is read again from the table, equal."""
    import numpy as np

    from qa.store import WorkspaceVectorCache

    with Workspace(tmp_path / "ws") as ws:
        cache = WorkspaceVectorCache(ws, limit=8)
        vectors = {f"k{i}": np.full(4, i, dtype=np.float32) for i in range(20)}
        cache.put_many("use", vectors)
        assert len(cache._mem) <= 8
        got = cache.get_many("use", list(vectors))
        assert set(got) == set(vectors)
        assert all(np.array_equal(got[k], v) for k, v in vectors.items())
        assert len(cache._mem) <= 8
        cache.get_many("use", ["k0"])
        assert ("use", "k0") in cache._mem  # the latest read stays
        assert len(cache) == 20  # the table keeps them all
    assert WorkspaceVectorCache.LIMIT * 2048 <= 200 * 2**20  # the default stays near 100 MB for USE
