"""Scorecards, leaderboard and outcome link on a workspace whose numbers are done by hand.

The workspace is described in ``tests/supervisor_workspace.py`` (3 managers, 10 calls over
3 days, plus a call without a manager). Team benchmarks are over managers: with three
managers' rates sorted ``x <= y <= z`` the median is ``y`` and the best quartile (75th
percentile, linear) is ``y + (z - y) / 2``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import supervisor_workspace as sw

from qa import scorecards as sc
from qa.errors import NotFoundError, QAError
from qa.store import Workspace

WEEK1 = ("2024-05-06", "2024-05-08")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return sw.build(tmp_path_factory.mktemp("supervisor"))


# ---- helpers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(None, ""), (0, "00:00"), (5.9, "00:05"), (725.3, "12:05"), (3725, "1:02:05"), (float("nan"), "")],
)
def test_clock(seconds: float | None, expected: str) -> None:
    assert sc.clock(seconds) == expected


def test_evidence_reads_like_a_moment() -> None:
    assert sc.evidence(725, "it is   too expensive", "c1") == '12:05 "it is too expensive" (c1)'
    long = sc.evidence(1, "x" * 100, "c1", width=20)
    assert long == '00:01 "' + "x" * 19 + '…" (c1)'


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-05-06", "2024-05-06"), ("2024-05-06T10:00:00", "2024-05-06"), (None, None), ("", None)],
)
def test_parse_day(value: str | None, expected: str | None) -> None:
    assert sc.parse_day(value) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "message"),
    [
        ("2024-13-01", None, "--from '2024-13-01' is not a date; write it as YYYY-MM-DD"),
        ("2024-05-09", "2024-05-01", "--from 2024-05-09 is after --to 2024-05-01; swap them"),
    ],
)
def test_bad_periods(ws: Workspace, lo: str, hi: str | None, message: str) -> None:
    with pytest.raises(QAError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sc.team(ws, lo, hi)


# ---- leaderboard -----------------------------------------------------------------------------
# manager: rank, calls, mean, median, next step %, forbidden, objections raised, handled %
LEADERBOARD = {
    "anna": (1, 3, 260 / 3, 100.0, 100.0, 0, 2, 100.0),
    "boris": (2, 4, 50.0, 50.0, 75.0, 1, 2, 0.0),
    "vera": (3, 2, 30.0, 30.0, 0.0, 0, 1, 100.0),
}
# stage completion % per manager (found / (found + missed); na left out)
STAGE_RATES = {
    "anna": {"greeting": 100.0, "needs": 200 / 3, "objection_handling": 100.0, "next_step": 100.0},
    "boris": {"greeting": 75.0, "needs": 25.0, "objection_handling": 0.0, "next_step": 75.0},
    "vera": {"greeting": 50.0, "needs": 50.0, "objection_handling": 100.0, "next_step": 0.0},
}


def test_team_leaderboard_by_hand(ws: Workspace) -> None:
    lb = sc.team(ws, *WEEK1)
    assert list(lb["manager"]) == ["anna", "boris", "vera"]
    for row in lb.itertuples(index=False):
        rank, calls, mean, median, nxt, forbidden, raised, handled = LEADERBOARD[row.manager]
        assert (row.rank, row.calls, row.forbidden_said, row.objections_raised) == (rank, calls, forbidden, raised)
        assert row.mean_score == pytest.approx(mean)
        assert row.median_score == pytest.approx(median)
        assert row.next_step_rate == pytest.approx(nxt)
        assert row.objection_rate == pytest.approx(handled)
    for manager, rates in STAGE_RATES.items():
        got = lb.set_index("manager").loc[manager]
        for stage, rate in rates.items():
            assert got[f"stage:{stage}"] == pytest.approx(rate), (manager, stage)
    by = lb.set_index("manager")
    assert by.loc["boris", "objection:think"] == 0.0
    assert by.loc["vera", "objection:think"] != by.loc["vera", "objection:think"]  # NaN: never raised
    assert by.loc["boris", "talk:talk_share"] == pytest.approx(0.7)
    assert by.loc["vera", "talk:questions"] == pytest.approx(6.0)
    assert by.loc["anna", "talk:nested.silences"] == pytest.approx(1.0)  # nested metrics flattened
    assert lb.attrs["titles"]["stage:needs"] == "Needs discovery"
    assert lb.attrs["notes"] == [
        "1 call(s) have no manager and are not ranked; add the manager with a manifest "
        "(--manifest) or a file-name template"
    ]


def test_team_for_a_period_without_calls_is_empty(ws: Workspace) -> None:
    lb = sc.team(ws, "2024-06-01", "2024-06-30")
    assert lb.empty and list(lb.columns)[:3] == ["rank", "manager", "calls"]


# ---- scorecard -------------------------------------------------------------------------------
def test_scorecard_summary_and_rank(ws: Workspace) -> None:
    card = sc.scorecard(ws, "boris", *WEEK1)
    assert (card.calls, card.rank, card.team_size) == (4, 2, 3)
    assert card.mean_score == pytest.approx(50.0)
    assert card.median_score == pytest.approx(50.0)  # (45 + 55) / 2
    s = card.summary.iloc[0]
    assert s["team_mean_score"] == pytest.approx(520 / 9)  # 9 calls with a manager
    assert s["period"] == "2024-05-06 … 2024-05-08"
    assert card.notes == []  # the call without a manager is a team matter


def test_scorecard_stages_against_team(ws: Workspace) -> None:
    stages = sc.scorecard(ws, "boris", *WEEK1).stages.set_index("stage")
    assert list(stages.index) == ["greeting", "needs", "objection_handling", "next_step"]  # script order
    expected = {
        # rate, done, applicable, team median, best quartile
        "greeting": (75.0, 3, 4, 75.0, 87.5),  # anna 100, boris 75, vera 50
        "needs": (25.0, 1, 4, 50.0, 50 + (200 / 3 - 50) / 2),  # 25, 50, 66.7
        "objection_handling": (0.0, 0, 2, 100.0, 100.0),  # 0, 100, 100
        "next_step": (75.0, 3, 4, 75.0, 87.5),  # 0, 75, 100
    }
    for stage, (rate, done, applicable, median, best) in expected.items():
        row = stages.loc[stage]
        assert (row["done"], row["applicable"]) == (done, applicable)
        assert row["rate"] == pytest.approx(rate)
        assert row["team_median"] == pytest.approx(median)
        assert row["team_best_quartile"] == pytest.approx(best)
        assert row["gap_to_best"] == pytest.approx(best - rate)
    assert stages.loc["needs", "weight"] == 40.0
    assert stages.loc["objection_handling", "title"] == "Objection handling"


def test_team_carries_the_benchmarks_of_its_rate_columns(ws: Workspace) -> None:
    """The leaderboard's team median / best quartile rows (qa team) come from the library."""
    lb = sc.team(ws, *WEEK1)
    assert lb.attrs["team_median"]["stage:greeting"] == pytest.approx(75.0)
    assert lb.attrs["team_best_quartile"]["stage:needs"] == pytest.approx(50 + (200 / 3 - 50) / 2)
    for col in [c for c in lb.columns if c.startswith(("stage:", "objection:"))]:
        assert lb.attrs["team_median"][col] == pytest.approx(lb[col].dropna().median())
        assert lb.attrs["team_best_quartile"][col] == pytest.approx(lb[col].dropna().quantile(0.75))


def test_scorecard_objections_against_team(ws: Workspace) -> None:
    obj = sc.scorecard(ws, "boris", *WEEK1).objections.set_index("objection")
    assert obj.loc["price", ["raised", "handled"]].tolist() == [1, 0]
    assert obj.loc["price", "team_median"] == 100.0  # anna 100, boris 0, vera 100
    assert obj.loc["think", "team_median"] == pytest.approx(50.0)  # anna 100, boris 0
    assert obj.loc["think", "team_best_quartile"] == pytest.approx(75.0)
    anna = sc.scorecard(ws, "anna", *WEEK1).objections
    assert anna["rate"].tolist() == [100.0, 100.0]


def test_scorecard_forbidden_and_talk(ws: Workspace) -> None:
    card = sc.scorecard(ws, "boris", *WEEK1)
    f = card.forbidden.iloc[0]
    assert (f["phrase"], f["said"], f["call_id"], f["time"]) == ("i don't know", 1, "b4", "01:40")
    assert f["per_100_calls"] == pytest.approx(25.0)  # 1 in 4 calls
    assert f["team_per_100_calls"] == pytest.approx(100 / 9)
    assert f["example"] == "well, i don't know (b4)"
    assert sc.scorecard(ws, "anna", *WEEK1).forbidden.empty
    talk = card.talk.set_index("metric")
    assert talk.loc["talk_share"].tolist() == pytest.approx([0.7, 0.5, 0.45, 0.6])  # 0.4 0.5 0.7
    assert talk.loc["questions"].tolist() == pytest.approx([2.0, 6.0, 4.0, 6.0])  # 2 6 6


@pytest.mark.parametrize(
    ("period", "rows"),
    [
        # bucket, calls, mean, median, team mean, team calls
        ("day", [("2024-05-06", 2, 32.5, 32.5, 55.0, 3), ("2024-05-07", 1, 90.0, 90.0, 250 / 3, 3),
                 ("2024-05-08", 1, 45.0, 45.0, 35.0, 3)]),
        ("week", [("2024-W19", 4, 50.0, 50.0, 520 / 9, 9)]),
    ],
)
def test_trend_by_day_and_week(ws: Workspace, period: str, rows: list[tuple[object, ...]]) -> None:
    trend = sc.scorecard(ws, "boris", *WEEK1, period=period).trend
    assert list(trend.columns) == [period, "calls", "mean_score", "median_score", "team_mean_score", "team_calls"]
    assert len(trend) == len(rows)
    for got, want in zip(trend.itertuples(index=False), rows):
        assert (got[0], got[1], got[5]) == (want[0], want[1], want[5])
        assert list(got[2:5]) == pytest.approx(list(want[2:5]))


def test_worst_and_best_calls_with_evidence(ws: Workspace) -> None:
    card = sc.scorecard(ws, "boris", *WEEK1)
    # 4 calls, fewer than worst (5) + best (3): the lower half are the worst calls
    assert card.worst_calls["call_id"].tolist() == ["b2", "b4"]
    assert card.best_calls["call_id"].tolist() == ["b3", "b1"]
    b2 = card.worst_calls.iloc[0]
    assert b2["missed"] == "Needs discovery, Objection handling, Next step"
    assert b2["unhandled"] == "Too expensive"
    assert b2["source"] == "recordings/b2.wav"
    worst = card.moments[card.moments["list"] == "worst"]
    # Each missed stage where it belonged, each second of a call once: b2's manager said
    # nothing after the greeting (needs and next step belong there), its objection handling
    # belonged at the price objection; b4's next words after the greeting were "i don't know".
    assert list(zip(worst["evidence"], worst["what"])) == [
        ("00:04 (b2)", "Needs discovery, Next step: it belongs after 'Greeting'"),
        ('01:00 "it is too expensive for us" (b2)', "Too expensive; Objection handling missed"),
        ('01:00 "let me think about it" (b4)', "I'll think about it; Objection handling missed"),
        ('01:40 "well, i don\'t know (b4)" (b4)', "i don't know; Needs discovery missed"),
    ]
    best = card.moments[card.moments["list"] == "best"]
    assert list(zip(best["call_id"], best["what"], best["evidence"])) == [
        ("b3", "Needs discovery", '00:30 "what budget do you have in mind, b3 here" (b3)'),
        ("b3", "Next step", '02:00 "let me book you a viewing, b3 here" (b3)'),
        ("b1", "Greeting", '00:01 "good afternoon thank you for calling, b1 here" (b1)'),
        ("b1", "Next step", '02:00 "let me book you a viewing, b1 here" (b1)'),
    ]
    assert card.best_calls.iloc[0][["stages_done", "objections_handled"]].tolist() == ["2/3", "0/0"]
    more = sc.scorecard(ws, "boris", *WEEK1, options=sc.ScorecardOptions(worst=1, best=1))
    assert (more.worst_calls["call_id"].tolist(), more.best_calls["call_id"].tolist()) == (["b2"], ["b3"])


def test_manager_with_one_call(ws: Workspace) -> None:
    card = sc.scorecard(ws, "anna", "2024-05-06", "2024-05-06")
    assert (card.calls, card.mean_score, card.median_score, card.rank, card.team_size) == (1, 100.0, 100.0, 1, 2)
    assert card.worst_calls["call_id"].tolist() == ["a1"] and card.best_calls.empty
    assert card.trend["calls"].tolist() == [1]


def test_period_without_the_managers_calls(ws: Workspace) -> None:
    card = sc.scorecard(ws, "anna", "2024-06-01", "2024-06-30")
    assert card.empty and card.calls == 0 and card.rank is None
    assert card.notes[0] == (
        "no scored calls for anna in 2024-06-01 … 2024-06-30; their 3 scored call(s) are "
        "from 2024-05-06 to 2024-05-08"
    )
    for name, table in card.tables().items():
        assert table.columns.size, name  # empty, but with its columns for every writer


@pytest.mark.parametrize("name", ["zoe", ""])
def test_unknown_manager(ws: Workspace, name: str) -> None:
    with pytest.raises(NotFoundError) as e:
        sc.scorecard(ws, name)
    assert str(e.value) == f"unknown manager {name!r}; known: anna, boris, vera"


def test_manager_name_is_matched_without_case(ws: Workspace) -> None:
    assert sc.scorecard(ws, "BORIS", *WEEK1).manager == "boris"


# ---- outcome link ------------------------------------------------------------------------------
def test_outcome_link_by_hand(ws: Workspace) -> None:
    link = sc.outcome_link(ws, *WEEK1).set_index(["kind", "item_id"])
    # calls with a known outcome: all but b3 (u1, without a manager, counts too)
    expected = {
        # done calls, won, not-done calls, won
        ("stage", "needs"): (4, 3, 5, 1),  # done a1 a2 v1 u1; missed a3 b1 b2 b4 v2
        ("stage", "next_step"): (6, 4, 3, 0),
        ("stage", "objection_handling"): (3, 1, 2, 0),  # na calls left out
        ("objection", "price"): (2, 1, 1, 0),  # handled a2 (won) v1 (lost); b2 unhandled
        ("objection", "think"): (1, 0, 1, 0),
    }
    for key, (cd, wd, cn, wn) in expected.items():
        row = link.loc[key]
        assert (row["calls_done"], row["won_done"], row["calls_not_done"], row["won_not_done"]) == (cd, wd, cn, wn)
        assert row["won_rate_done"] == pytest.approx(wd * 100 / cd)
        assert row["difference"] == pytest.approx(wd * 100 / cd - wn * 100 / cn)
    assert link.loc[("stage", "needs"), "title"] == "Needs discovery"
    assert list(link.index.get_level_values(0)) == ["stage"] * 4 + ["objection"] * 2


def test_outcome_link_for_one_manager(ws: Workspace) -> None:
    link = sc.outcome_link(ws, *WEEK1, manager="anna").set_index(["kind", "item_id"])
    assert link.loc[("stage", "needs"), ["calls_done", "won_done", "calls_not_done"]].tolist() == [2, 2, 1]


def test_outcome_link_without_outcomes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    sw.add_calls(ws, sw.WEEK2)
    link = sc.outcome_link(ws)
    assert link.empty and "won_rate_done" in link.columns


# ---- versions ----------------------------------------------------------------------------------
EDITED = sw.SCRIPT_YAML.replace('["what budget do you have in mind"]', '["what budget do you have in mind", "how big a budget"]')
RUSSIAN = (
    sw.SCRIPT_YAML.replace("name: Test inbound script", "name: Тестовый входящий")
    .replace("language: en", "language: ru")
    .replace("title: Greeting", "title: Приветствие")
)


def _hash(text: str) -> str:
    from qa.scripts import file_hash

    return file_hash(text.encode("utf-8"))


def test_edited_script_is_kept_apart(tmp_path: Path) -> None:
    ws = sw.build(tmp_path)
    edited = _hash(EDITED)
    ws.save_config(hash=edited, kind="script", name="Test inbound script", path=None, text=EDITED)
    sw.add_calls(ws, {k: sw.CALLS[k] for k in ("a1", "b1")}, script_hash=edited)
    lb = sc.team(ws, *WEEK1)  # default: the latest version only
    assert lb.set_index("manager")["calls"].to_dict() == {"anna": 1, "boris": 1}
    assert lb.attrs["notes"][0] == (
        f"8 call(s) in this period are scored only under other versions (8 under "
        f"{sw.SCRIPT_HASH[:8]}:{sw.RUBRIC_HASH[:8]}); they are kept apart: pass --version "
        f"{sw.SCRIPT_HASH[:8]} to see them"
    )
    old = sc.team(ws, *WEEK1, version=sw.SCRIPT_HASH[:8])
    assert old.set_index("manager")["calls"].to_dict() == {"anna": 3, "boris": 4, "vera": 2}
    card = sc.scorecard(ws, "vera", *WEEK1)
    assert card.empty and "2 call(s) in this period are scored only under other versions" in card.notes[1]
    with pytest.raises(NotFoundError, match="no scores under version 'ffff'; known: "):
        sc.team(ws, version="ffff")
    versions = sc.versions(ws)
    assert versions["script_hash"].tolist() == [edited, sw.SCRIPT_HASH]
    assert versions["calls"].tolist() == [2, 10]


def _two_languages(tmp_path: Path) -> Workspace:
    """vera's calls scored first in English, then rescored in Russian; the rest in English."""
    ws = Workspace(tmp_path)
    ru = _hash(RUSSIAN)
    ws.save_config(hash=sw.SCRIPT_HASH, kind="script", name="Test inbound script", path=None, text=sw.SCRIPT_YAML)
    ws.save_config(hash=ru, kind="script", name="Тестовый входящий", path=None, text=RUSSIAN)
    ws.save_config(hash=sw.RUBRIC_HASH, kind="rubric", name="Test objections", path=None, text=sw.RUBRIC_YAML)
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] == "vera"})  # first in English
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] == "vera"}, script_hash=ru)  # rescored in Russian
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] != "vera"})  # the rest in English, last
    return ws


def test_translation_counts_with_the_latest_and_each_call_once(tmp_path: Path) -> None:
    ws = _two_languages(tmp_path)
    scope = sc.load_team(ws, *WEEK1).scope
    assert [v.language for v in scope.versions] == ["en", "ru"]
    lb = sc.team(ws, *WEEK1)
    assert lb.set_index("manager")["calls"].to_dict() == {"anna": 3, "boris": 4, "vera": 2}  # not 4 for vera
    assert lb.attrs["notes"][0].startswith("scores from the latest version of each script and language: en Test inbound script")


def test_each_language_is_its_own_section(tmp_path: Path) -> None:
    """Issue 13: English stages were counted under the Russian column «Приветствие» and
    compared with one team median across languages. Each script and language is now a
    section: its own columns, titles, rates and team benchmarks."""
    ws = _two_languages(tmp_path)
    lb = sc.team(ws, *WEEK1)
    en, ru = "Test inbound script.en", "Тестовый входящий.ru"
    assert [(s["key"], s["label"], s["managers"]) for s in lb.attrs["sections"]] == [
        (en, "Test inbound script (en)", ["anna", "boris"]),
        (ru, "Тестовый входящий (ru)", ["vera"]),
    ]
    assert f"stage:{en}:greeting" in lb.columns and "stage:greeting" not in lb.columns
    by = lb.set_index("manager")
    # boris's English greeting is in the English column only; vera's only in the Russian one
    assert by.loc["boris", f"stage:{en}:greeting"] == 75.0
    assert by.loc["boris", f"stage:{ru}:greeting"] != by.loc["boris", f"stage:{ru}:greeting"]  # NaN
    assert by.loc["vera", f"stage:{ru}:greeting"] == 50.0
    assert lb.attrs["item_titles"][f"stage:{ru}:greeting"] == "Приветствие"
    assert lb.attrs["item_titles"][f"stage:{en}:greeting"] == "Greeting"
    # titles for people are unique: a title two sections share says which section
    assert lb.attrs["titles"][f"stage:{en}:greeting"] == "Greeting"
    assert lb.attrs["titles"][f"stage:{en}:needs"] == "Needs discovery (Test inbound script (en))"
    assert lb.attrs["titles"][f"stage:{ru}:needs"] == "Needs discovery (Тестовый входящий (ru))"
    # team benchmarks within a section: anna 100 and boris 75 (English), vera 50 alone
    assert lb.attrs["team_median"][f"stage:{en}:greeting"] == 87.5
    assert lb.attrs["team_median"][f"stage:{ru}:greeting"] == 50.0
    vera = sc.scorecard(ws, "vera", *WEEK1)
    boris = sc.scorecard(ws, "boris", *WEEK1)
    assert set(vera.stages["section"]) == {ru} and set(boris.stages["section"]) == {en}
    v, b = vera.stages.set_index("stage"), boris.stages.set_index("stage")
    assert (v.loc["greeting", "title"], b.loc["greeting", "title"]) == ("Приветствие", "Greeting")
    assert (v.loc["greeting", "team_median"], b.loc["greeting", "team_best_quartile"]) == (50.0, 93.75)
    assert vera.summary.iloc[0]["versions"].startswith("Тестовый входящий")
    # the outcome link: one row per section and stage
    link = sc.outcome_link(ws, *WEEK1)
    greeting = link[(link["kind"] == "stage") & (link["item_id"] == "greeting")]
    assert sorted(zip(greeting["section"], greeting["title"])) == [(en, "Greeting"), (ru, "Приветствие")]
    assert greeting.set_index("section").loc[ru, "calls_done"] == 1  # v1 (lost); v2 missed it


def test_a_manager_on_two_scripts_gets_a_table_for_each(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    cold = sw.SCRIPT_YAML.replace("name: Test inbound script", "name: Test cold call").replace(
        "title: Greeting", "title: Cold greeting")
    cold_hash = _hash(cold)
    ws.save_config(hash=sw.SCRIPT_HASH, kind="script", name="Test inbound script",
                   path="/x/scripts_library/inbound.en.yaml", text=sw.SCRIPT_YAML)
    ws.save_config(hash=cold_hash, kind="script", name="Test cold call",
                   path="/x/scripts_library/cold_call.en.yaml", text=cold)
    ws.save_config(hash=sw.RUBRIC_HASH, kind="rubric", name="Test objections", path=None, text=sw.RUBRIC_YAML)
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if k in ("b1", "b2")}, script_hash=cold_hash)
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if k not in ("b1", "b2")})
    card = sc.scorecard(ws, "boris", *WEEK1)
    assert card.sections == {"inbound.en": "Test inbound script (en)", "cold_call.en": "Test cold call (en)"}
    stages = card.stages
    assert stages["section"].tolist() == ["inbound.en"] * 4 + ["cold_call.en"] * 4
    greet = stages[stages["stage"] == "greeting"].set_index("section")
    # b3, b4 inbound: greeting 1 of 2; b1, b2 cold: 2 of 2, boris alone there
    assert greet.loc["inbound.en", ["title", "done", "applicable"]].tolist() == ["Greeting", 1, 2]
    assert greet.loc["cold_call.en", ["title", "done", "applicable", "team_median"]].tolist() == [
        "Cold greeting", 2, 2, 100.0]


def test_without_script_texts_titles_and_weights_come_from_the_items(tmp_path: Path) -> None:
    ws = sw.build(tmp_path, configs=False)
    stages = sc.scorecard(ws, "boris", *WEEK1).stages
    assert stages["stage"].tolist() == ["greeting", "needs", "objection_handling", "next_step"]
    assert stages["weight"].tolist() == [10.0, 40.0, 10.0, 40.0]
    assert stages["title"].tolist() == ["Greeting", "Needs discovery", "Objection handling", "Next step"]


def test_empty_workspace(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(NotFoundError, match="no scored calls in this workspace; run 'qa score PATH --script FILE' first"):
        sc.team(ws)


def test_workers_do_not_change_the_numbers(ws: Workspace) -> None:
    one = sc.team(ws, *WEEK1, data=sc.load_team(ws, *WEEK1, workers=1))
    two = sc.team(ws, *WEEK1)
    assert one.equals(two)


def test_different_script_files_count_together_and_edits_supersede(tmp_path: Path) -> None:
    """Inbound and cold calls scored with their own scripts are all in the team view; an
    edit of one script file replaces its older version (same file name, new hash)."""
    ws = Workspace(tmp_path)
    cold = sw.SCRIPT_YAML.replace("name: Test inbound script", "name: Test cold call")
    cold_hash, edited_hash = _hash(cold), _hash(EDITED)
    ws.save_config(hash=sw.SCRIPT_HASH, kind="script", name="Test inbound script",
                   path="/x/scripts_library/inbound.en.yaml", text=sw.SCRIPT_YAML)
    ws.save_config(hash=cold_hash, kind="script", name="Test cold call",
                   path="/x/scripts_library/cold_call.en.yaml", text=cold)
    ws.save_config(hash=edited_hash, kind="script", name="Test inbound script",
                   path="/x/scripts_library/inbound.en.yaml", text=EDITED)
    ws.save_config(hash=sw.RUBRIC_HASH, kind="rubric", name="Test objections", path=None, text=sw.RUBRIC_YAML)
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] == "anna"})  # inbound, old version
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] == "boris"}, script_hash=cold_hash)
    sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] == "vera"}, script_hash=edited_hash)
    scope = sc.load_team(ws, *WEEK1).scope
    assert {v.script_hash for v in scope.versions} == {cold_hash, edited_hash}
    lb = sc.team(ws, *WEEK1)
    assert lb.set_index("manager")["calls"].to_dict() == {"boris": 4, "vera": 2}
    assert "3 call(s) in this period are scored only under other versions" in lb.attrs["notes"][-1]
