"""Which scores a view reads: one rule (qa.versions), so every view counts the same calls.

The trainer corpus (ten calls with recordings, scored for real) is rescored in part with an
edited script file. The day page, a manager page, the scorecard, the leaderboard, the
miner and the clip library must then all count the same calls: the rescored ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trainer_corpus as tc

from qa import coaching, scorecards
from qa.clips import build_clips
from qa.errors import NotFoundError
from qa.mining import mine
from qa.pipeline import score_calls
from qa.reports import build_site
from qa.reports.site import ReportOptions
from qa.scripts import load_rubric, load_script
from qa.store import Workspace
from qa.versions import Scope, Version, resolve_versions, scope, script_family

RESCORED = ["c01", "c02", "c03", "c07", "c08"]


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> tc.Corpus:
    corpus = tc.build(tmp_path_factory.mktemp("versions"), "en", audio=True)
    # The QA specialist edits the script file (one more greeting phrase) and rescores some calls.
    text = corpus.script.read_text(encoding="utf-8")
    corpus.script.write_text(text.replace("      - good afternoon\n", "      - good afternoon\n      - good morning\n", 1),
                             encoding="utf-8")
    assert corpus.script.read_text(encoding="utf-8") != text
    with corpus.open() as ws:
        score_calls(ws, RESCORED, load_script(corpus.script), load_rubric(corpus.rubric))
    return corpus


def _stat(html: str, label: str) -> int:
    m = re.search(rf'<div class="v">(\d+)</div><div class="k">{label}</div>', html)
    assert m, f"no {label!r} stat on the page"
    return int(m.group(1))


def test_the_edit_supersedes_the_old_version(edited: tc.Corpus) -> None:
    with edited.open() as ws:
        versions = resolve_versions(ws)
        assert len(versions) == 1  # one file, one language: the edit replaces the old one
        assert versions[0].script_hash == load_script(edited.script).hash
        assert script_family(ws, versions[0].script_hash) == "script"
        all_versions = scorecards.versions(ws)
        assert len(all_versions) == 2 and sorted(all_versions["calls"]) == [5, 10]


def test_every_view_counts_the_same_calls(edited: tc.Corpus, tmp_path: Path) -> None:
    with edited.open() as ws:
        team = scorecards.load_team(ws)
        counted = set(team.calls["call_id"])
        assert counted == set(RESCORED)
        # the scorecards: team and one manager
        lb = scorecards.team(ws)
        assert int(lb["calls"].sum()) == len(RESCORED)
        manager = team.calls["manager"].iloc[0]
        mine_ids = set(team.calls.loc[team.calls["manager"] == manager, "call_id"])
        card = scorecards.scorecard(ws, manager)
        assert card.calls == len(mine_ids)
        assert any("scored only under other versions" in n for n in card.notes + lb.attrs["notes"])
        # coaching reads the same team
        plan = coaching.coach(ws, manager, save=False)
        assert plan.calls == card.calls
        # the miner and the clip library
        result = mine(ws, top=0.4)
        assert result.cohorts.total == len(RESCORED)
        assert set(result.cohorts.best) | set(result.cohorts.worst) <= counted
        library = build_clips(ws, tmp_path / "clips", per_item=5)
        assert {c.call_id for c in library.clips} <= counted
        # the report: the day page and the manager page
        site = build_site(ws, tmp_path / "site", audio="none", options=ReportOptions(lang="en", excel=False))
        calls = site.tables["calls"]
        assert set(calls.loc[calls["score"].notna(), "call_id"]) == counted
        index = site.index.read_text(encoding="utf-8")
        assert _stat(index, "Scored") == len(RESCORED)
        page = next(p for p in site.pages if p.parent.name == "managers" and p.stem.startswith(str(manager)))
        assert _stat(page.read_text(encoding="utf-8"), "Scored") == len(mine_ids)


def test_an_explicit_version_reads_its_calls(edited: tc.Corpus) -> None:
    with edited.open() as ws:
        old = load_script(edited.script).hash
        older = [v for v in scorecards.versions(ws)["script_hash"] if v != old][0]
        team = scorecards.load_team(ws, version=older[:8])
        assert len(team.calls) == 10
        assert team.scope.versions[0].script_hash == older
        assert mine(ws, top=0.4, version=(older, team.scope.versions[0].rubric_hash)).cohorts.total == 10


def test_scope_sql_counts_each_call_once(tmp_path: Path) -> None:
    """Two versions of different scripts, a call scored under both: it counts once, under
    its latest score."""
    with Workspace(tmp_path / "ws") as ws:
        ws.conn.execute("INSERT INTO calls(call_id, manager, day, updated_at) VALUES ('c1', 'a', '2026-11-20', 0)")
        ws.conn.execute("INSERT INTO calls(call_id, manager, day, updated_at) VALUES ('c2', 'a', '2026-11-21', 0)")
        for cid, s, at in (("c1", "sa", 1.0), ("c1", "sb", 2.0), ("c2", "sa", 1.0)):
            ws.conn.execute(
                "INSERT INTO scores(call_id, script_hash, rubric_hash, score, scored_at) VALUES (?,?,?,?,?)",
                (cid, s, "none", 50.0, at),
            )
        both = Scope((Version("sa", "none"), Version("sb", "none")))
        frm, params = both.where()
        assert ws.query(f"SELECT c.call_id, s.script_hash {frm} ORDER BY 1", params) == [
            ("c1", "sb"), ("c2", "sa")
        ]
        frm, params = Scope(both.versions, "2026-11-21", None).where(manager="a")
        assert ws.query(f"SELECT c.call_id {frm}", params) == [("c2",)]
        # the default rule: no configs stored, so each hash is its own script family
        assert {v.script_hash for v in scope(ws).versions} == {"sa", "sb"}


def test_no_scores(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws, pytest.raises(NotFoundError) as e:
        resolve_versions(ws)
    assert "no scored calls in this workspace" in str(e.value)
