"""The supervisor views' fast paths give the same tables as a straightforward computation.

The views read one row per call (item statuses kept per score, counted in plain Python)
and the revive list formats plain SQLite rows; here each is checked against the obvious
computation over every stored item, on the small hand-made workspace (both weeks, plus a
call whose unhandled objection has no quote and one more version kept apart).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import supervisor_workspace as sw

from qa import coaching, scorecards
from qa.scorecards import evidence
from qa.store import Workspace
from qa.transcripts import clock


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return sw.build(tmp_path_factory.mktemp("fast") / "ws", week2=True)


def _all_items(ws: Workspace) -> pd.DataFrame:
    """Every item of the calls in scope, with its call's manager, the slow way."""
    data = scorecards.load_team(ws)
    frm, params = data.scope.where(items=True)
    return ws.frame(
        f"SELECT c.call_id, c.manager, i.kind, i.item_id, i.status {frm} ORDER BY c.call_id, i.rowid",
        params,
    )


def test_counts_match_the_items(ws: Workspace) -> None:
    data = scorecards.load_team(ws)
    items = _all_items(ws)
    items = items[items["kind"].isin(("stage", "objection", "forbidden"))]
    slow = (
        items.assign(manager=items["manager"].astype(object).where(items["manager"].notna(), None))
        .groupby(["manager", "kind", "item_id", "status"], dropna=False).size().rename("n").reset_index()
    )
    fast = data.counts.groupby(["manager", "kind", "item_id", "status"], dropna=False)["n"].sum().reset_index()
    key = ["manager", "kind", "item_id", "status"]
    slow = slow.sort_values(key, na_position="first").reset_index(drop=True)
    fast = fast.sort_values(key, na_position="first").reset_index(drop=True)
    assert fast[key].astype(str).values.tolist() == slow[key].astype(str).values.tolist()
    assert fast["n"].astype(int).tolist() == slow["n"].astype(int).tolist()


def test_leaderboard_matches_the_calls(ws: Workspace) -> None:
    """Calls, mean and median score per manager from the per-call rows, the slow way."""
    lb = scorecards.team(ws).set_index("manager")
    data = scorecards.load_team(ws)
    frm, params = data.scope.where()
    rows = ws.query(f"SELECT c.manager, s.score, s.next_step, s.critical {frm} AND c.manager IS NOT NULL", params)
    per: dict[str, list[tuple[Any, ...]]] = {}
    for manager, *rest in rows:
        per.setdefault(manager, []).append(tuple(rest))
    assert sorted(per) == sorted(lb.index)
    for manager, calls in per.items():
        scores = sorted(float(s) for s, _, _ in calls)
        mid = len(scores) // 2
        median = scores[mid] if len(scores) % 2 else (scores[mid - 1] + scores[mid]) / 2
        assert lb.loc[manager, "calls"] == len(calls)
        assert lb.loc[manager, "mean_score"] == pytest.approx(sum(scores) / len(scores))
        assert lb.loc[manager, "median_score"] == pytest.approx(median)
        assert lb.loc[manager, "next_step_rate"] == pytest.approx(100.0 * sum(n for _, n, _ in calls) / len(calls))
        assert lb.loc[manager, "critical_calls"] == sum(c for _, _, c in calls)


def _slow_revive(ws: Workspace, quote_width: int = 90) -> pd.DataFrame:
    """The revive list straight from a DataFrame of every stored item."""
    data = scorecards.load_team(ws)
    frm, params = data.scope.where(items=True)
    df = ws.frame(
        f"""SELECT c.call_id, c.started_at, c.client_phone, c.manager, c.source, s.score, s.next_step,
                   i.kind, i.status, i.item_id, i.title, i.start, i.text {frm}""",
        params,
    )
    df = df[(df["kind"] == "objection") & (df["status"] == "unhandled") & (df["next_step"] == 0)]
    df = df.sort_values(["started_at", "call_id", "start"], ascending=[False, True, True], kind="stable")
    out = []
    for call_id, g in df.groupby("call_id", sort=False):
        first = g.iloc[0]
        start = None if pd.isna(first["start"]) else float(first["start"])
        text = first["text"] if isinstance(first["text"], str) else None
        out.append({
            "started_at": first["started_at"], "client_phone": first["client_phone"],
            "manager": first["manager"], "call_id": call_id,
            "objections": "; ".join(dict.fromkeys(str(t if isinstance(t, str) and t else i)
                                                  for t, i in zip(g["title"], g["item_id"]))),
            "time": clock(start),
            "quote": evidence(None, text, None, quote_width)[1:-1] if text and text.strip() else "",
            "moments": "; ".join(
                evidence(None if pd.isna(s) else float(s), t if isinstance(t, str) else None, None, quote_width)
                for s, t in zip(g["start"], g["text"])
            ),
            "score": float(first["score"]), "source": first["source"], "seconds": start,
        })
    return pd.DataFrame(out, columns=list(coaching.revive_list(ws).columns))


def test_revive_list_matches_the_items(ws: Workspace) -> None:
    fast = coaching.revive_list(ws)
    assert len(fast) > 0
    pd.testing.assert_frame_equal(fast, _slow_revive(ws), check_dtype=False)


def test_revive_list_with_a_quoteless_objection(tmp_path: Path) -> None:
    """An unhandled objection stored without a quote or title reads as its id and time only."""
    ws = sw.build(tmp_path / "ws")
    ws.conn.execute("UPDATE items SET text = NULL, title = NULL WHERE kind = 'objection' AND status = 'unhandled'")
    ws.conn.commit()
    fast = coaching.revive_list(ws)
    assert len(fast) > 0
    assert all(q == "" for q in fast["quote"])
    assert all('"' not in m and "nan" not in m for m in fast["moments"])
    pd.testing.assert_frame_equal(fast, _slow_revive(ws), check_dtype=False)
