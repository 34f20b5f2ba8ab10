"""qa.disputes: overrides of one item of one call, re-import from the workbook, the views."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import disputes as dp
from qa.importers import load_transcript
from qa.pipeline import score_calls
from qa.scripts import load_rubric, load_script
from qa.store import Workspace

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "labelled"
SCRIPT = ROOT / "scripts_library" / "b2b_cold_call.en.yaml"
RUBRIC = ROOT / "rubrics" / "objections.en.yaml"
CALLS = ("en_b2b_01", "en_b2b_02", "en_b2b_03")


def make_dispute_workspace(path: Path) -> Path:
    """A real workspace: three labelled calls imported and scored (words only)."""
    with Workspace(path) as ws:
        for n, cid in enumerate(CALLS):
            t = load_transcript(LABELLED / f"{cid}.txt")
            assert t.call_id == cid
            ws.save_call(t, cache_key=f"k{n}")
        score_calls(ws, list(CALLS), load_script(SCRIPT), load_rubric(RUBRIC))
    return path


@pytest.fixture()
def ws(tmp_path: Path):
    with Workspace(make_dispute_workspace(tmp_path / "ws")) as w:
        yield w


def _tool_status(ws: Workspace, call_id: str, item_id: str) -> str:
    return str(ws.query("SELECT status FROM items WHERE call_id=? AND item_id=? LIMIT 1", (call_id, item_id))[0][0])


def test_an_override_keeps_who_when_why_and_survives_rescoring(ws: Workspace) -> None:
    before = _tool_status(ws, "en_b2b_01", "introduction")
    flipped = "missed" if before == "found" else "found"
    d = dp.dispute(ws, "en_b2b_01", "introduction", flipped, note="asked in other words", by="anna")
    assert (d.kind, d.status, d.tool_status, d.by, d.note, d.source) == (
        "stage", flipped, before, "anna", "asked in other words", "cli")
    assert not d.agrees and d.at > 0
    # a second override of the same item replaces the first
    dp.dispute(ws, "en_b2b_01", "introduction", flipped, note="checked twice", by="boris")
    (only,) = ws.disputes(["en_b2b_01"])
    assert only["by"] == "boris" and only["note"] == "checked twice"
    # rescoring (a new score row, same or other version) keeps it
    score_calls(ws, list(CALLS), load_script(SCRIPT), load_rubric(RUBRIC))
    got = dp.overrides(ws)
    assert got[("en_b2b_01", "stage", "introduction")].status == flipped
    # the default "by" is the OS user
    d2 = dp.dispute(ws, "en_b2b_02", "greeting", "found")
    assert d2.by == dp.default_user() and d2.by


def test_bad_input_is_one_clear_line(ws: Workspace) -> None:
    with pytest.raises(dp.DisputeError, match=r"^no call 'nope' in workspace .*; the ids are in the report"):
        dp.dispute(ws, "nope", "introduction", "found")
    with pytest.raises(dp.DisputeError, match=r"^call 'en_b2b_01' has no item 'introdution'; its items: .*introduction"):
        dp.dispute(ws, "en_b2b_01", "introdution", "found")
    with pytest.raises(dp.DisputeError, match=r"^status 'maybe' is not one of found, missed, handled, unhandled$"):
        dp.dispute(ws, "en_b2b_01", "introduction", "maybe")
    with pytest.raises(dp.DisputeError, match=r"'introduction' is a stage; its status is found or missed, not 'handled'"):
        dp.dispute(ws, "en_b2b_01", "introduction", "handled")
    for e in ("nope", "introdution"):
        with pytest.raises(dp.DisputeError) as info:
            dp.dispute(ws, "en_b2b_01" if e == "introdution" else e, e, "found")
        assert "\n" not in str(info.value)
    assert ws.disputes() == []


def test_objections_take_handled_or_unhandled(ws: Workspace) -> None:
    rows = ws.query("SELECT call_id, item_id, status FROM items WHERE kind='objection' LIMIT 1")
    assert rows, "the labelled b2b calls raise objections"
    cid, ob, status = rows[0]
    other = "unhandled" if status == "handled" else "handled"
    d = dp.dispute(ws, cid, ob, other, note="the answer was enough", by="anna")
    assert d.kind == "objection" and d.tool_status in ("handled", "unhandled")
    with pytest.raises(dp.DisputeError, match="is a objection; its status is handled or unhandled"):
        dp.dispute(ws, cid, ob, "found")


def test_import_from_the_exported_workbook(ws: Workspace, tmp_path: Path) -> None:
    import openpyxl
    import pandas as pd

    items = pd.DataFrame(ws.query(
        "SELECT call_id, kind, item_id, title, status FROM items ORDER BY rowid"),
        columns=["call_id", "kind", "item_id", "title", "status"])
    path = tmp_path / "scores.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"call_id": list(CALLS)}).to_excel(xw, sheet_name="calls", index=False)
        items.to_excel(xw, sheet_name="items", index=False)
    wb = openpyxl.load_workbook(path)
    sheet = wb["items"]
    header = [c.value for c in sheet[1]]
    col = {h: i for i, h in enumerate(header)}
    changed = 0
    for row in sheet.iter_rows(min_row=2):
        if row[col["call_id"]].value == "en_b2b_03" and row[col["item_id"]].value in ("greeting", "farewell"):
            row[col["status"]].value = "missed" if row[col["status"]].value == "found" else "found"
            changed += 1
        if row[col["call_id"]].value == "en_b2b_02" and row[col["item_id"]].value == "introduction":
            row[col["status"]].value = "perhaps"
    wb.save(path)
    assert changed == 2
    res = dp.import_workbook(ws, path, by="anna")
    assert len(res.stored) == 2 and {d.item_id for d in res.stored} == {"greeting", "farewell"}
    assert all(d.source == "scores.xlsx" and d.note == "changed in scores.xlsx" and d.by == "anna" for d in res.stored)
    assert res.unchanged == int(items["kind"].isin(list(dp.STATUSES_BY_KIND)).sum()) - 3
    ((line, why),) = res.skipped
    assert line >= 2 and why == "status 'perhaps' is not one of found, missed, handled, unhandled"
    # importing the same file again changes nothing more
    again = dp.import_workbook(ws, path, by="anna")
    assert len(again.stored) == 2 and len(ws.disputes()) == 2
    with pytest.raises(dp.DisputeError, match="no such file"):
        dp.import_workbook(ws, tmp_path / "none.xlsx")
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(dp.DisputeError, match="cannot read it as an xlsx workbook"):
        dp.import_workbook(ws, bad)


def test_views_show_overrides(ws: Workspace) -> None:
    import pandas as pd

    before = _tool_status(ws, "en_b2b_01", "greeting")
    flipped = "missed" if before == "found" else "found"
    dp.dispute(ws, "en_b2b_01", "greeting", flipped, note="not a greeting", by="anna")
    found = dp.overrides(ws)
    frame = pd.DataFrame(ws.query("SELECT call_id, kind, item_id, status FROM items"),
                         columns=["call_id", "kind", "item_id", "status"])
    applied = dp.apply(frame, found)
    row = applied[(applied["call_id"] == "en_b2b_01") & (applied["item_id"] == "greeting")].iloc[0]
    assert row["status"] == flipped and row["tool_status"] == before and row["disputed_by"] == "anna"
    assert applied["disputed_by"].notna().sum() == 1
    marked = dp.mark([{"call_id": "en_b2b_01", "kind": "stage", "item_id": "greeting", "status": before,
                       "detail": None}], found)
    assert marked[0]["status"] == flipped
    assert marked[0]["detail"] == f"overridden by anna: not a greeting (tool: {before})"
    assert dp.notes_for(ws, ["en_b2b_01", "en_b2b_02"]) == [
        f"supervisor override: en_b2b_01 greeting {flipped} (tool: {before}) by anna: not a greeting"]
    assert dp.as_grades(ws) == [{"call_id": "en_b2b_01", "item_id": "greeting", "value": flipped,
                                 "grader": "anna"}]


def test_the_call_page_scorecard_and_coaching_show_an_override(tmp_path: Path) -> None:
    from test_reports import make_report_workspace

    from qa.coaching import coach
    from qa.reports import ReportOptions, build_site
    from qa.scorecards import scorecard

    path = make_report_workspace(tmp_path)
    with Workspace(path) as w:
        (item, status), *_ = w.query(
            "SELECT item_id, status FROM items WHERE call_id='ru-1' AND kind='stage' ORDER BY rowid")
        flipped = "missed" if status == "found" else "found"
        dp.dispute(w, "ru-1", item, flipped, note="heard it on the recording", by="anna")
        site = build_site(w, tmp_path / "site", options=ReportOptions(lang="en"))
        html = (site.out_dir / "calls/ru-1.html").read_text(encoding="utf-8")
        assert f"overridden by anna: heard it on the recording (tool: {status})" in html
        note = f"supervisor override: ru-1 {item} {flipped} (tool: {status}) by anna: heard it on the recording"
        card = scorecard(w, "Иванов", "2026-11-20", "2026-11-21")
        assert note in card.notes
        plan = coach(w, "Иванов", "2026-11-20", "2026-11-21", save=False)
        assert note in plan.notes
