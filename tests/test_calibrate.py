"""qa.calibrate: metrics, grades parsing, the agreement report (hand-computed), fitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qa import calibrate as cal
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript

SCRIPT = """name: Test
language: en
stages:
  - {id: greeting, phrases: ["hello"]}
  - {id: needs, phrases: ["what do you need"]}
"""
RUBRIC = """name: Objections
language: en
objections:
  - id: price
    triggers: ["too expensive"]
    steps: [{id: ack, phrases: ["i understand"]}]
"""
# call -> (tool score, [(kind, item, status, similarity, text)])
TOOL = {
    "c1": (100.0, [("stage", "greeting", "found", 95.0, "Hello there"),
                   ("stage", "needs", "found", 88.0, "What do you need?"),
                   ("objection", "price", "handled", 91.0, "Too expensive")]),
    "c2": (50.0, [("stage", "greeting", "found", 82.0, "Hell, no"),
                  ("stage", "needs", "missed", None, None)]),
    "c3": (40.0, [("stage", "greeting", "missed", None, None),
                  ("stage", "needs", "found", 90.0, "So what do you need"),
                  ("objection", "price", "unhandled", 93.0, "Way too expensive")]),
    "c4": (90.0, [("stage", "greeting", "found", 99.0, "Hello!"),
                  ("stage", "needs", "found", 85.0, "Need anything else?")]),
}
GRADES = """call_id,item_id,value,grader,score
c1,greeting,yes,A,95
c1,needs,yes,A,
c1,price,yes,A,
c1,price,handled,A,
c2,greeting,no,A,70
c2,needs,no,A,
c2,price,no,A,
c3,greeting,no,A,45
c3,needs,1,A,
c3,price,yes,A,
c3,price,unhandled,A,
c4,greeting,found,A,88
c4,needs,missed,A,
c4,price,0,A,
c1,greeting,yes,B,
c2,greeting,yes,B,
c9,greeting,yes,A,
c1,closing,yes,A,
c1,needs,maybe,A,
c1,greeting,handled,A,
"""


def _add_call(ws: Workspace, cid: str) -> None:
    # every scored call has its calls row (qa.versions reads calls joined with scores)
    ws.save_call(Transcript(CallMeta(call_id=cid, manager="m", started_at="2026-11-21T10:00:00"), []),
                 cache_key="k" + cid)


def make_calibrate_workspace(root: Path) -> Path:
    ws = Workspace(root)
    for cid in TOOL:
        _add_call(ws, cid)
    ws.save_config(hash="s1", kind="script", name="Test", path=None, text=SCRIPT)
    ws.save_config(hash="r1", kind="rubric", name="Objections", path=None, text=RUBRIC)
    for cid, (score, items) in TOOL.items():
        rows = [{"kind": k, "item_id": i, "status": st, "similarity": sim, "text": txt,
                 "start": 1.5 if txt else None} for k, i, st, sim, txt in items]
        ws.save_score(cid, script_hash="s1", rubric_hash="r1", summary={"score": score}, items=rows)
    ws.conn.close()
    return root


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[cal.Grades, cal.ToolDecisions]:
    root = make_calibrate_workspace(tmp_path / "ws")
    (tmp_path / "grades.csv").write_text(GRADES, encoding="utf-8")
    return cal.read_grades(tmp_path / "grades.csv"), cal.tool_decisions(Workspace(root, create=False))


# -- metrics -----------------------------------------------------------------------------
@pytest.mark.parametrize("a,b,kappa", [
    ([1, 1, 0, 0], [1, 1, 0, 0], 1.0),
    ([1, 1, 0, 0], [0, 0, 1, 1], -1.0),
    ([1, 0, 1, 1], [1, 1, 1, 0], -1 / 3),  # po .5, pe .625
    ([1, 1, 1], [1, 1, 1], 1.0),
    ([1, 1, 1], [1, 1, 0], 0.0),
])
def test_cohen_kappa_hand_values(a: list[int], b: list[int], kappa: float) -> None:
    assert cal.cohen_kappa([bool(x) for x in a], [bool(x) for x in b]) == pytest.approx(kappa)


def test_prf() -> None:
    assert cal.prf([1, 1, 0, 0], [1, 0, 1, 0]) == (0.5, 0.5, 0.5)
    assert cal.prf([0, 0], [0, 0]) == (0.0, 0.0, 0.0)


def test_fit_threshold_separates_and_handles_no_positive() -> None:
    assert cal.fit_threshold([0.1, 0.2, 0.7, 0.9], [False, False, True, True]) == pytest.approx(0.45)
    assert cal.fit_threshold([0.1, 0.2], [False, False]) > 0.2
    with pytest.raises(ValueError):
        cal.fit_threshold([0.1], [True], objective="auc")


def test_fit_logistic_learns_two_features() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] + 0.5 * X[:, 1] > 0
    m = cal.fit_logistic(X, y)
    assert (m.predict(X) == y).mean() > 0.95
    assert m.w[0] > m.w[1] > 0


# -- grades ------------------------------------------------------------------------------
def test_read_grades_skips_bad_values_with_line(setup) -> None:
    grades, _ = setup
    assert len(grades.rows) == 19  # 20 rows, one unreadable value
    assert grades.skipped == [(20, "c1/needs: value 'maybe' is not yes/no, 1/0, found/missed "
                                   "or handled/unhandled")]
    assert set(grades.rows[grades.rows["question"] == "price:handled"]["call_id"]) == {"c1", "c3"}
    assert list(grades.scores["human_score"]) == [95.0, 70.0, 45.0, 88.0]


def test_read_grades_xlsx_and_missing_columns(tmp_path: Path) -> None:
    pd.DataFrame({"call_id": ["c1"], "item_id": ["greeting"], "value": [1]}).to_excel(
        tmp_path / "g.xlsx", index=False)
    g = cal.read_grades(tmp_path / "g.xlsx")
    assert g.rows[["call_id", "question", "human"]].values.tolist() == [["c1", "greeting", True]]
    (tmp_path / "bad.csv").write_text("call,item\nc1,x\n", encoding="utf-8")
    with pytest.raises(cal.GradesError, match=r"bad.csv: missing column\(s\) call_id, item_id, value"):
        cal.read_grades(tmp_path / "bad.csv")
    with pytest.raises(cal.GradesError, match="no such grades file"):
        cal.read_grades(tmp_path / "nope.csv")


# -- report ------------------------------------------------------------------------------
def test_report_per_item_hand_computed(setup) -> None:
    rep = cal.report(*setup)
    t = rep.per_item.set_index("question")
    assert list(t.index) == ["greeting", "needs", "price", "price:handled"]
    g = t.loc["greeting"]  # A: c1 y/y c2 n/y c3 n/n c4 y/y; B: c1 y/y c2 y/y
    assert (g["n"], g["agreement"], g["precision"], g["recall"]) == (6, pytest.approx(5 / 6), 0.8, 1.0)
    assert g["kappa"] == pytest.approx(8 / 14)
    n = t.loc["needs"]
    assert (n["agreement"], n["kappa"], n["precision"]) == (0.75, 0.5, pytest.approx(2 / 3))
    assert t.loc["price", "kappa"] == 1.0 and t.loc["price:handled", "agreement"] == 1.0


def test_report_calls_worst_graders_skipped(setup) -> None:
    rep = cal.report(*setup)
    assert rep.per_call == {"calls": 4, "within_10": 0.75, "mean_abs_diff": 8.0}
    assert rep.worst[["call_id", "question", "similarity"]].values.tolist() == [
        ["c4", "needs", 85.0], ["c2", "greeting", 82.0]]
    assert rep.worst.loc[0, "text"] == "Need anything else?"
    assert rep.graders.values.tolist() == [["greeting", "A vs B", 2, 0.5, 0.0]]
    reasons = dict(rep.skipped)
    assert reasons[18] == "call 'c9' is not scored in the workspace"
    assert reasons[19] == "item 'closing' is not in the script or rubric"
    assert reasons[21] == "'greeting' is a stage: use found/missed or yes/no"
    assert len(rep.joined) == 16  # 19 usable rows - 3 skipped; nothing else lost


def test_tool_decisions_reads_items_from_configs(setup) -> None:
    _, tool = setup
    assert tool.items == {"greeting": "stage", "needs": "stage", "price": "objection"}
    d = tool.decisions.set_index(["call_id", "question"])["tool"]
    assert bool(d[("c2", "price")]) is False and bool(d[("c3", "price")]) is True
    assert bool(d[("c3", "price:handled")]) is False and bool(d[("c1", "price:handled")]) is True


def test_tool_decisions_empty_workspace(tmp_path: Path) -> None:
    with pytest.raises(cal.QAError, match="no scored calls in this workspace; run .qa score"):
        cal.tool_decisions(Workspace(tmp_path))


# -- fit ---------------------------------------------------------------------------------
def test_fit_items_cross_validates_not_in_sample() -> None:
    rng = np.random.default_rng(1)
    n = 120
    sim = rng.uniform(0, 1, n)
    human = sim > 0.6  # the truth: a higher cut than the tool's
    frame = pd.DataFrame({"call_id": [f"c{i}" for i in range(n)], "question": "q",
                          "human": human, "tool": sim > 0.3, "s": sim})
    res = cal.fit_items(frame, ["s"], folds=5)
    row = res.table.iloc[0]
    assert row["before_agreement"] == pytest.approx(float(((sim > 0.3) == human).mean()))
    assert row["after_agreement"] > 0.95 and row["after_kappa"] > 0.9
    assert 0.55 < row["threshold"] < 0.65
    res2 = cal.fit_items(frame.assign(noise=rng.normal(size=n)), ["s", "noise"], folds=4)
    assert res2.table.iloc[0]["after_agreement"] > 0.9 and res2.table.iloc[0]["threshold"] is None


def test_fit_on_workspace(setup) -> None:
    res = cal.fit(*setup, folds=2)
    assert list(res.table["question"]) == ["greeting", "needs", "price", "price:handled"]
    assert res.table["n"].tolist() == [6, 4, 4, 2]


def test_tool_decisions_read_every_current_script(tmp_path: Path) -> None:
    """Calls scored with two scripts (inbound and cold, say) are all compared, each on its own
    script's items: the tool reads what every view reads (qa.versions), not one version."""
    root = make_calibrate_workspace(tmp_path / "ws")
    cold = "name: Cold\nlanguage: ru\nstages:\n  - {id: decision_maker, phrases: [\"кто принимает решение\"]}\n"
    with Workspace(root) as ws:
        ws.save_config(hash="s2", kind="script", name="Cold", path=None, text=cold)
        _add_call(ws, "c5")
        ws.save_score("c5", script_hash="s2", rubric_hash="r1", summary={"score": 60.0},
                      items=[{"kind": "stage", "item_id": "decision_maker", "status": "found",
                              "similarity": 90.0, "text": "Кто у вас принимает решение?", "start": 3.0}])
    tool = cal.tool_decisions(Workspace(root, create=False))
    questions = tool.decisions.groupby("call_id")["question"].apply(set).to_dict()
    assert set(questions) == {"c1", "c2", "c3", "c4", "c5"}
    assert questions["c5"] == {"decision_maker", "price", "price:handled"}
    assert "decision_maker" not in questions["c1"] and "greeting" in questions["c1"]


# -- calibration profiles ------------------------------------------------------------------
def test_fit_cut_is_the_rule_scoring_applies() -> None:
    # words found -> yes whatever the cut; else clear >= cut. Hand case: the humans say yes
    # for clear 0.7 and 0.8, no for 0.3 and 0.5 and for "nothing ahead" (NaN)
    words = [True, False, False, False, False, False]
    clear = [float("nan"), 0.8, 0.7, 0.5, 0.3, float("nan")]
    human = [True, True, True, False, False, False]
    assert cal.fit_cut(words, clear, human, default=0.6) == 0.6  # 0.5 < cut <= 0.7: nearest the default
    assert cal.fit_cut(words, clear, human, default=0.9) == pytest.approx(0.7, abs=2e-5)  # just below 0.7
    # the humans say no to everything the meaning layer finds: words only (1.0)
    assert cal.fit_cut(words, clear, [True, False, False, False, False, False], default=0.6) == 1.0
    # and yes to everything: below the lowest clear similarity (NaN rows still no)
    cut = cal.fit_cut(words, clear, [True, True, True, True, True, False], default=0.6)
    assert cut == pytest.approx(0.3, abs=2e-5) and cut < 0.3


class _Cfg:
    def __init__(self, name: str, hash_: str, path: Path | None = None) -> None:
        self.name, self.hash, self.path = name, hash_, path


def test_calibrated_options_apply_only_to_the_same_version(tmp_path: Path) -> None:
    from qa.meaning import MeaningOptions

    ws = Workspace(tmp_path / "ws")
    path = tmp_path / "sales.yaml"
    ws.save_config(hash="s_old", kind="script", name="Sales", path=str(path), text="...")
    ws.save_config(hash="r1", kind="rubric", name="Obj", path=None, text="...")
    script, rubric = _Cfg("Sales", "s_old", path), _Cfg("Obj", "r1")
    opts = MeaningOptions()
    assert cal.calibrated_options(ws, script, rubric, opts) == (opts, None)  # no profile: silent
    prof = {"encoder": "use", "thresholds": {"stage:needs": 0.42}, "items": {}, "grades": 120}
    ws.save_calibration("s_old", "r1", "use", prof, 120)
    got, note = cal.calibrated_options(ws, script, rubric, opts)
    assert got.item_thresholds == {"stage:needs": 0.42}
    assert note == "calibration profile applied: Sales vs_old, 1 of 1 item threshold(s) changed, fitted on 120 grade(s)"
    # saving again replaces (one row per version and encoder)
    ws.save_calibration("s_old", "r1", "use", {**prof, "thresholds": {}}, 130)
    assert [c["grades"] for c in ws.calibrations()] == [130]
    assert cal.calibrated_options(ws, script, rubric, None)[1].endswith("the meaning layer is off (--no-meaning)")
    # the same file, edited: a new hash, the profile does not apply and the note says so
    edited = _Cfg("Sales", "s_new", path)
    got, note = cal.calibrated_options(ws, edited, rubric, opts)
    assert got is opts
    assert note == ("calibration profile for Sales vs_old does not apply to the edited script "
                    "(vs_new); re-run qa calibrate --fit")
    # another script altogether: nothing to say
    assert cal.calibrated_options(ws, _Cfg("Cold", "c1", tmp_path / "cold.yaml"), rubric, opts) == (opts, None)
    ws.close()
