"""The revive list read from each score's stored unhandled objections is the list counted
from the items, row for row, on SQLite and on PostgreSQL.

``qa revive`` (:func:`qa.coaching.revive_list`) reads one column per call,
``scores.unhandled_objections``, written by :meth:`Workspace.save_scores` with the items.
Here it is compared with the straightforward computation (every unhandled objection item of
the calls in scope, joined and ordered in SQL, formatted one by one) on generated calls with
ties (two objections at one moment, calls started at the same second), calls without a start,
objections without a quote or title and unknown next steps; then again after a rescore, a
manifest that moves calls to another manager and day, a translation of the script (two
versions in scope: each call once, under its latest score), an edited script (a new version),
``--redact`` over stored calls, and a migration of a schema-5 workspace.
"""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import supervisor_workspace as sw

from qa import coaching
from qa.scorecards import evidence
from qa.scripts import file_hash
from qa.store import SCHEMA_VERSION, Workspace, unhandled_objections
from qa.transcripts import CallMeta, clock
from qa.versions import scope as view_scope

COLUMNS = ["started_at", "client_phone", "manager", "call_id", "objections", "time", "quote",
           "moments", "score", "source", "seconds"]


def reference(ws: Workspace, date_from: str | None = None, date_to: str | None = None,
              manager: str | None = None, quote_width: int = 90, version: str | None = None) -> pd.DataFrame:
    """The revive list the straightforward way: the items, joined and ordered by SQL."""
    frm, params = view_scope(ws, date_from, date_to, version=version).where(manager=manager, items=True)
    rows = ws.query(
        f"""SELECT c.call_id, c.started_at, c.client_phone, c.manager, c.source, s.score,
                   i.item_id, i.title, i.start, i.text
            {frm} AND i.kind = 'objection' AND i.status = 'unhandled' AND s.next_step = 0
            ORDER BY c.started_at DESC, c.call_id, i.start, i.item_id, i.rowid""",
        params,
    )
    calls: dict[str, dict[str, Any]] = {}
    for call_id, started_at, phone, mgr, source, score, item_id, title, start, text in rows:
        moment = evidence(start, text, None, quote_width)
        if call_id not in calls:
            quote = evidence(None, text, None, quote_width)
            calls[call_id] = {
                "started_at": started_at, "client_phone": phone, "manager": mgr, "call_id": call_id,
                "objections": [str(title or item_id)], "time": clock(start), "quote": quote[1:-1],
                "moments": [moment], "score": float(score), "source": source, "seconds": start,
            }
        else:
            row = calls[call_id]
            if str(title or item_id) not in row["objections"]:
                row["objections"].append(str(title or item_id))
            row["moments"].append(moment)
    if not calls:
        return pd.DataFrame(columns=COLUMNS)
    for row in calls.values():
        row["objections"] = "; ".join(row["objections"])
        row["moments"] = "; ".join(row["moments"])
    return pd.DataFrame({c: [row[c] for row in calls.values()] for c in COLUMNS}, columns=COLUMNS)


def same_list(ws: Workspace, *period: str | None, manager: str | None = None, quote_width: int = 90,
              version: str | None = None) -> int:
    fast = coaching.revive_list(ws, *period, manager=manager, quote_width=quote_width, version=version)
    slow = reference(ws, *period, manager=manager, quote_width=quote_width, version=version)
    pd.testing.assert_frame_equal(fast, slow)
    return len(fast)


def generate(ws: Workspace, n: int, seed: int, *, script_hash: str = sw.SCRIPT_HASH, prefix: str = "g") -> None:
    """n calls: managers (or none), starts (some shared, some missing), objections raised
    once or twice, handled or not, some at the same moment or without quote and title,
    next step agreed, missed or unknown."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        call_id = f"{prefix}{k:03d}"
        manager = rng.choice(["anna", "boris", "vera", None])
        started = None if rng.random() < 0.06 else f"2024-05-{rng.randint(6, 19):02d}T{rng.choice([9, 10, 11]):02d}:00:00"
        objections = [(o, rng.random() < 0.4) for o in ("price", "think", "price") if rng.random() < 0.45]
        spec = (manager, started, rng.choice([0, 10, 45.5, 50, 90]), rng.choice(["FFMM", "FFMF", "FF-M"]),
                objections, 0, None, 0.5, 3)
        transcript, summary, items = sw._call(call_id, spec)
        if started is None:
            transcript.meta.started_at = None
        raised = [it for it in items if it["kind"] == "objection"]
        if len(raised) > 1 and rng.random() < 0.5:
            raised[1]["start"] = raised[0]["start"]  # both said in one breath
        if raised and rng.random() < 0.15:
            rng.choice(raised).update(text=None, title=None)  # no quote, no title: the id and time only
        if raised and rng.random() < 0.1:
            raised[0]["text"] = "  it is   too expensive, " + "really " * 20  # spaces and a long quote
        summary["next_step"] = rng.choice([False, False, True, None])
        ws.save_call(transcript, cache_key=f"key-{call_id}")
        rows.append((call_id, script_hash, sw.RUBRIC_HASH, summary, items))
    ws.save_scores(rows)


def configs(ws: Workspace) -> None:
    ws.save_config(hash=sw.SCRIPT_HASH, kind="script", name="Test inbound script", path="/s/inbound.en.yaml",
                   text=sw.SCRIPT_YAML)
    ws.save_config(hash=sw.RUBRIC_HASH, kind="rubric", name="Test objections", path=None, text=sw.RUBRIC_YAML)


def test_the_stored_objections_give_the_list_of_the_items(workspace_spec) -> None:
    with Workspace(workspace_spec) as ws:
        configs(ws)
        generate(ws, 150, seed=1)
        assert same_list(ws) > 30
        same_list(ws, "2024-05-08", "2024-05-14")
        same_list(ws, manager="boris")
        same_list(ws, "2024-05-10", None, manager="anna", quote_width=20)
        assert same_list(ws, "2030-01-01", None) == 0
        # the list has the cases the reference orders: ties, no start, no quote
        listed = coaching.revive_list(ws)
        assert listed["started_at"].isna().any() and listed["started_at"].duplicated().any()
        assert listed["moments"].str.contains("; ").any() and (listed["quote"] == "").any()

        # a rescore of the same version replaces the calls' objections
        generate(ws, 50, seed=2)
        same_list(ws)
        # a later manifest moves calls to another manager and day
        moved = coaching.revive_list(ws)["call_id"].tolist()[:3]
        for call_id, manager in zip(moved, ("vera", None, "anna")):
            ws.update_meta(CallMeta(call_id, manager=manager, started_at="2024-05-20T10:00:00"))
        assert set(moved) <= set(coaching.revive_list(ws, "2024-05-20", "2024-05-20")["call_id"])
        same_list(ws)
        same_list(ws, "2024-05-15", "2024-05-20", manager="vera")

        # the script in Russian: two versions in scope, each call once under its latest score
        russian = sw.SCRIPT_YAML.replace("language: en", "language: ru")
        ru = file_hash(russian.encode("utf-8"))
        ws.save_config(hash=ru, kind="script", name="Тестовый", path="/s/inbound.ru.yaml", text=russian)
        generate(ws, 40, seed=3, script_hash=ru)
        same_list(ws)
        same_list(ws, "2024-05-06", "2024-05-12", manager="anna")
        # an edited English script: its new version supersedes the old one
        edited = sw.SCRIPT_YAML.replace('["what budget do you have in mind"]', '["what budget", "how big a budget"]')
        new = file_hash(edited.encode("utf-8"))
        ws.save_config(hash=new, kind="script", name="Test inbound script", path="/s/inbound.en.yaml", text=edited)
        generate(ws, 60, seed=4, script_hash=new)
        same_list(ws)
        same_list(ws, "2024-05-08", "2024-05-14", manager="boris")
        # and the superseded version, asked for by its hash
        assert same_list(ws, version=sw.SCRIPT_HASH[:8]) > 0
        same_list(ws, version=f"{sw.SCRIPT_HASH[:8]},{ru[:8]}")


def test_redacting_stored_calls_redacts_the_stored_objections(workspace_spec) -> None:
    """--redact over calls stored before rewrites the scores' copies of the quotes too."""
    with Workspace(workspace_spec) as ws:
        configs(ws)
        generate(ws, 60, seed=5)
        before = coaching.revive_list(ws)
        assert before["quote"].str.contains("for us").any()  # the client's words, not a title
        ws.redact_items(ws.call_ids(), lambda text: text.replace("for us", "[PRIVATE]"))
        after = coaching.revive_list(ws)
        assert not after["moments"].str.contains("for us").any()
        assert after["moments"].str.contains(r"\[PRIVATE\]").any()
        assert not ws.query("SELECT COUNT(*) FROM scores WHERE unhandled_objections LIKE '%for us%'")[0][0]
        same_list(ws)


def test_refresh_derived_and_the_migration_write_what_save_scores_writes(workspace_spec) -> None:
    """Items written with plain SQL are picked up by refresh_derived; a schema-5 workspace
    gets the column filled from its items when it is opened."""
    with Workspace(workspace_spec) as ws:
        configs(ws)
        generate(ws, 80, seed=6)
        saved = ws.query("SELECT call_id, script_hash, unhandled_objections FROM scores ORDER BY 1, 2")
        assert any(r[2] for r in saved) and any(r[2] is None for r in saved)
        ws.refresh_derived()
        assert ws.query("SELECT call_id, script_hash, unhandled_objections FROM scores ORDER BY 1, 2") == saved
        # plain SQL changes an item: refresh_derived follows it
        ws.conn.execute("UPDATE items SET status = 'handled' WHERE kind = 'objection'")
        ws.refresh_derived()
        assert ws.query("SELECT COUNT(*) FROM scores WHERE unhandled_objections IS NOT NULL") == [(0,)]
        assert coaching.revive_list(ws).empty and reference(ws).empty
        generate(ws, 80, seed=6)  # as saved before
        expected = coaching.revive_list(ws)
        # back to schema 5: no column, no index on it
        ws.conn.execute("DROP INDEX IF EXISTS scores_revive")
        ws.conn.execute("ALTER TABLE scores DROP COLUMN unhandled_objections")
        ws.conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
        if ws.dialect == "sqlite":
            ws.conn.commit()
    with Workspace(workspace_spec, create=False) as ws:
        assert ws.query("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
        assert ws.query("SELECT call_id, script_hash, unhandled_objections FROM scores ORDER BY 1, 2") == saved
        if ws.dialect == "sqlite":  # the list reads the scores through its index
            frm, params = view_scope(ws).where()
            plan = ws.query(f"EXPLAIN QUERY PLAN SELECT s.score, s.unhandled_objections {frm} "
                            "AND s.next_step = 0 AND s.unhandled_objections IS NOT NULL", params)
            assert "COVERING INDEX scores_revive" in str(plan)
        pd.testing.assert_frame_equal(coaching.revive_list(ws), expected)
        same_list(ws)


def test_unhandled_objections_order_and_fields() -> None:
    items = [
        {"kind": "objection", "item_id": "think", "title": "Think", "status": "unhandled", "start": 60, "text": "b"},
        {"kind": "objection", "item_id": "price", "title": "Price", "status": "handled", "start": 10.0, "text": "x"},
        {"kind": "objection", "item_id": "price", "title": None, "status": "unhandled", "start": 60.0, "text": "a"},
        {"kind": "objection", "item_id": "think", "title": "Think", "status": "unhandled", "start": None},
        {"kind": "step", "item_id": "price.argue", "status": "missed"},
        {"kind": "objection", "item_id": "price", "title": "Price", "status": "unhandled", "start": 12.5, "text": "c"},
    ]
    assert unhandled_objections(items) == (
        '[["think", "Think", null, null], ["price", "Price", 12.5, "c"], ["price", null, 60.0, "a"], '
        '["think", "Think", 60.0, "b"]]'
    )
    assert unhandled_objections(items[1:2]) is None
    assert unhandled_objections([]) is None
