"""The supervisor views' fast paths give the same tables as a straightforward computation.

The views count a team from the totals the store keeps per version, manager and day
(``score_totals``) and the revive list reads each score's unhandled objections
(``scores.unhandled_objections``; tests/test_revive_fast.py checks it on both databases);
here each is checked against the obvious computation over every stored item, on the small
hand-made workspace (both weeks, plus a call whose unhandled objection has no quote and one
more version kept apart), and the totals against the per-call rows on generated calls,
exactly, after rescoring, an edited script, a translation and calls moved by a later manifest.
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
    ws.refresh_derived()  # items written with plain SQL: the scores' copies follow them (store contract)
    fast = coaching.revive_list(ws)
    assert len(fast) > 0
    assert all(q == "" for q in fast["quote"])
    assert all('"' not in m and "nan" not in m for m in fast["moments"])
    pd.testing.assert_frame_equal(fast, _slow_revive(ws), check_dtype=False)


# ---- the stored totals (table score_totals) against the per-call rows ------------------------------
def _generated(ws: Workspace, n: int, seed: int, *, script_hash: str = sw.SCRIPT_HASH,
               rubric_hash: str = sw.RUBRIC_HASH, prefix: str = "g") -> None:
    """n calls with the key talk metrics, scores with many ties, some calls without a
    manager or a day, objections and forbidden phrases."""
    import random

    from qa.store import KEY_METRICS

    rng = random.Random(seed)
    rows = []
    for k in range(n):
        call_id = f"{prefix}{k:03d}"
        manager = rng.choice(["anna", "boris", "vera", "gleb", None])
        started = None if rng.random() < 0.05 else f"2024-05-{rng.randint(6, 19):02d}T{rng.randint(9, 18):02d}:00:00"
        stages = "".join(rng.choice("FFM") for _ in sw.STAGE_IDS[:2]) + rng.choice("FM-") + rng.choice("FM")
        objections = [(o, rng.random() < 0.5) for o in ("price", "think") if rng.random() < 0.3]
        spec = (manager, started, rng.choice([0, 10, 33.3, 50, 66.7, 90, 100, 12.345678901234567]) * rng.choice([1, 1, 0.999]),
                stages, objections, rng.choice([0, 0, 0, 1, 2]), None, 0.5, 3)
        transcript, summary, items = sw._call(call_id, spec)
        if started is None:
            transcript.meta.started_at = None
        summary["next_step"] = None if rng.random() < 0.1 else summary["next_step"]
        summary["critical"] = rng.random() < 0.05
        summary["metrics"] = {m: (rng.random() * 100 if rng.random() < 0.9 else None) for m in KEY_METRICS}
        summary["metrics"]["manager_talk_share"] = rng.random()  # long binary fractions
        ws.save_call(transcript, cache_key=f"key-{call_id}")
        rows.append((call_id, script_hash, rubric_hash, summary, items))
    ws.save_scores(rows)


def _same_numbers(ws: Workspace, *period: str, manager: str = "boris") -> None:
    fast = scorecards.load_team(ws, *period)
    slow = scorecards.load_team(ws, *period, from_totals=False)
    assert (fast.source, slow.source) == ("totals", "calls")
    assert {k: t.clean() for k, t in fast.groups.items() if t.n} == {k: t.clean() for k, t in slow.groups.items() if t.n}
    a, b = scorecards.team(ws, data=fast), scorecards.team(ws, data=slow)
    assert a.equals(b) and a.attrs == b.attrs
    ca = scorecards.scorecard(ws, manager, period="week", data=fast)
    cb = scorecards.scorecard(ws, manager, period="week", data=slow)
    for name, table in ca.tables().items():
        assert table.equals(cb.tables()[name]), name
    pa = coaching.coach(ws, manager, save=False, data=fast).to_dict()
    pb = coaching.coach(ws, manager, save=False, data=slow).to_dict()
    assert pa == pb
    # and the means are the exact means of the per-call scores
    frm, params = slow.scope.where(manager=manager)
    scores = [r[0] for r in ws.query(f"SELECT s.score {frm}", params)]
    if scores:
        from fractions import Fraction

        assert ca.mean_score == float(sum(map(Fraction, scores)) / len(scores))


def _rebuilt_equals_kept(ws: Workspace) -> None:
    kept = ws.query("SELECT script_hash, rubric_hash, manager, day, calls, totals FROM score_totals ORDER BY 1, 2, 3, 4")
    with ws.transaction() as c:
        ws._rebuild_totals(c)
    rebuilt = ws.query("SELECT script_hash, rubric_hash, manager, day, calls, totals FROM score_totals ORDER BY 1, 2, 3, 4")
    assert [(*r[:5], scorecards.Totals.from_store(__import__("json").loads(r[5])).clean()) for r in kept] == [
        (*r[:5], scorecards.Totals.from_store(__import__("json").loads(r[5])).clean()) for r in rebuilt]


def test_totals_give_the_numbers_of_the_calls(tmp_path: Path) -> None:
    """Issue 9: the views count a team from the totals the store keeps; they must give
    exactly the numbers counted from the per-call rows, after rescoring, an edited script,
    a translation, and a manager or day changed by a later manifest."""
    from qa.scripts import file_hash
    from qa.transcripts import CallMeta

    ws = Workspace(tmp_path / "ws")
    ws.save_config(hash=sw.SCRIPT_HASH, kind="script", name="Test inbound script", path="/s/inbound.en.yaml",
                   text=sw.SCRIPT_YAML)
    ws.save_config(hash=sw.RUBRIC_HASH, kind="rubric", name="Test objections", path=None, text=sw.RUBRIC_YAML)
    _generated(ws, 160, seed=1)
    _same_numbers(ws)
    _same_numbers(ws, "2024-05-08", "2024-05-14")
    # a rescore of the same version replaces the calls' totals
    _generated(ws, 40, seed=2)
    _same_numbers(ws)
    _rebuilt_equals_kept(ws)
    # a later manifest moves calls to another manager and day
    for call_id, manager in (("g001", "vera"), ("g002", None), ("g003", "boris")):
        ws.update_meta(CallMeta(call_id, manager=manager, started_at="2024-05-20T10:00:00"))
    _same_numbers(ws)
    _rebuilt_equals_kept(ws)
    # the script in Russian: its calls are a section of their own; a call scored in both
    # languages counts once, under its latest score
    russian = sw.SCRIPT_YAML.replace("language: en", "language: ru")
    ru = file_hash(russian.encode("utf-8"))
    ws.save_config(hash=ru, kind="script", name="Тестовый", path="/s/inbound.ru.yaml", text=russian)
    _generated(ws, 30, seed=3, script_hash=ru)
    assert len(scorecards.load_team(ws).scope.versions) == 2
    _same_numbers(ws)
    _same_numbers(ws, "2024-05-06", "2024-05-12", manager="anna")
    # an edited English script: a new version supersedes the old one
    edited = sw.SCRIPT_YAML.replace('["what budget do you have in mind"]', '["what budget", "how big a budget"]')
    new = file_hash(edited.encode("utf-8"))
    ws.save_config(hash=new, kind="script", name="Test inbound script", path="/s/inbound.en.yaml", text=edited)
    _generated(ws, 50, seed=4, script_hash=new, prefix="g")
    assert {v.script_hash for v in scorecards.load_team(ws).scope.versions} == {new, ru}
    _same_numbers(ws)
    _rebuilt_equals_kept(ws)


def test_totals_missing_scores_fall_back_to_the_calls(tmp_path: Path) -> None:
    """Scores written with raw SQL (no totals kept) are still counted, from the calls."""
    ws = sw.build(tmp_path / "ws")
    ws.conn.execute("DELETE FROM score_totals WHERE manager = 'vera'")
    data = scorecards.load_team(ws)
    assert data.source == "calls" and data.per_manager["vera"].n == 2
    ws.refresh_derived()
    assert scorecards.load_team(ws, metrics=()).source == "totals"
