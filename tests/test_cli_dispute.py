"""``qa dispute``: exit codes, one-line errors, the workbook import, and qa calibrate using it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_disputes import make_dispute_workspace
from typer.testing import CliRunner

from qa.cli import app
from qa.store import Workspace


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    return make_dispute_workspace(tmp_path / "ws")


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def _status(ws: Path, call_id: str, item_id: str) -> str:
    with Workspace(ws) as w:
        return str(w.query("SELECT status FROM items WHERE call_id=? AND item_id=? LIMIT 1",
                           (call_id, item_id))[0][0])


def test_dispute_one_item(ws: Path) -> None:
    before = _status(ws, "en_b2b_01", "greeting")
    flipped = "missed" if before == "found" else "found"
    r = run("dispute", "en_b2b_01", "greeting", "--status", flipped, "--note", "not a greeting",
            "--by", "anna", "-w", str(ws))
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == (f"en_b2b_01 stage greeting: {flipped} by anna (overturns the tool's "
                                f"'{before}'; kept across rescoring)")
    with Workspace(ws) as w:
        (d,) = w.disputes()
    assert (d["status"], d["tool_status"], d["note"], d["by"]) == (flipped, before, "not a greeting", "anna")


@pytest.mark.parametrize("args,code,message", [
    (["en_b2b_01", "greeting", "--status", "maybe"], 2,
     "Error: --status 'maybe': choose one of found, missed, handled, unhandled"),
    (["en_b2b_01", "greeting"], 2, "Error: give CALL_ID ITEM_ID --status STATUS, or --import FILE.xlsx"),
    (["nope", "greeting", "--status", "found"], 1, "Error: no call 'nope' in workspace"),
    (["en_b2b_01", "greting", "--status", "found"], 1, "Error: call 'en_b2b_01' has no item 'greting'; its items:"),
    (["en_b2b_01", "greeting", "--status", "handled"], 1,
     "Error: call 'en_b2b_01': 'greeting' is a stage; its status is found or missed, not 'handled'"),
    (["en_b2b_01", "greeting", "--status", "found", "--kind", "phase"], 2,
     "Error: --kind 'phase': choose one of stage, step, forbidden, objection"),
])
def test_bad_input_is_one_line(ws: Path, args: list[str], code: int, message: str) -> None:
    r = run("dispute", *args, "-w", str(ws))
    assert r.exit_code == code, r.output
    assert r.stderr.startswith(message) and len(r.stderr.strip().splitlines()) == 1


def test_import_the_scored_workbook_and_calibrate_with_it(ws: Path, tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "out"
    r = run("score", str(Path(__file__).parent / "data" / "labelled" / "en_b2b_01.txt"),
            "-s", "scripts_library/b2b_cold_call.en.yaml", "-r", "rubrics/objections.en.yaml",
            "-w", str(ws), "-f", "xlsx", "-o", str(out), "--no-meaning")
    assert r.exit_code == 0, r.output
    assert "meaning layer: off" in r.stderr
    book = out / "scores.xlsx"
    wb = openpyxl.load_workbook(book)
    sheet = wb["items"]
    col = {c.value: i for i, c in enumerate(sheet[1])}
    before = None
    for row in sheet.iter_rows(min_row=2):
        if row[col["item_id"]].value == "farewell":
            before = row[col["status"]].value
            row[col["status"]].value = "missed" if before == "found" else "found"
    wb.save(book)
    r = run("dispute", "--import", str(book), "--by", "boris", "-w", str(ws))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("1 override(s) stored, ") and r.stdout.strip().endswith("0 skipped")
    # the override counts as a human grade: qa calibrate without a grades file
    r = run("calibrate", "-w", str(ws), "-f", "csv")
    assert r.exit_code == 0, r.output
    assert "1 grade(s) compared, 0 skipped" in r.stderr
    farewell = next(x for x in r.stdout.splitlines() if x.startswith("farewell,"))
    assert farewell.startswith("farewell,1,0.0,")  # the human overturned the tool: no agreement
    r = run("calibrate", "-w", str(ws), "--no-disputes")
    assert r.exit_code == 2 and "give a GRADES file" in r.stderr
    r = run("dispute", "--import", str(tmp_path / "none.xlsx"), "-w", str(ws))
    assert r.exit_code == 1 and "no such file" in r.stderr
