"""The workspace store: schema, the evidence utterance, item tokens, and migrating an older
workspace in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qa.errors import WorkspaceError
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
    return [r[1] for r in ws.query(f"PRAGMA table_info({table})")]


def test_a_new_workspace_has_the_current_schema(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        assert ws.query("SELECT value FROM meta WHERE key='schema_version'") == [(str(SCHEMA_VERSION),)]
        assert _columns(ws, "items")[3:] == list(ITEM_COLUMNS)
        assert {f"tokens_{k}" for k in TOKEN_KINDS} <= set(_columns(ws, "scores"))
        assert {f"metric_{m}" for m in KEY_METRICS} <= set(_columns(ws, "scores"))


def test_save_scores_keeps_tokens_and_key_metrics(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
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
        # 3: items.layer, vectors, disputes; 4: the search index; 5: score totals
        assert SCHEMA_VERSION == 5
        assert ws.query("SELECT value FROM meta WHERE key='schema_version'") == [("5",)]
        assert ws.query("SELECT SUM(calls) FROM score_totals") == ws.query("SELECT COUNT(*) FROM scores")
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


def test_refresh_derived_fills_rows_written_with_plain_sql(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        with ws.transaction() as c:
            c.execute("INSERT INTO scores(call_id, script_hash, rubric_hash, score, scored_at) "
                      "VALUES ('c1', 's', 'r', 90, 1)")
            c.execute("INSERT INTO items(call_id, script_hash, rubric_hash, kind, item_id, status) "
                      "VALUES ('c1', 's', 'r', 'stage', 'greeting', 'found')")
        ws.refresh_derived()
        assert ws.query("SELECT tokens_stage FROM scores") == [("greeting\x1ffound",)]


def test_a_newer_workspace_is_refused(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        ws.conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(WorkspaceError) as e:
        Workspace(tmp_path / "ws")
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


def test_version_stats_and_items(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
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
