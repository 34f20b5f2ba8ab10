"""``qa missed`` on the hand-counted day (see tests/test_calllog.py for the hand count)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app

FIX = Path(__file__).parent / "fixtures" / "calllog"
DAY = str(FIX / "day_master.csv")
MANAGERS = str(FIX / "managers.csv")


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def run(ws: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["missed", *args, "--workspace", str(ws)])


def test_json_rows_match_the_hand_count(tmp_path: Path) -> None:
    r = run(tmp_path / "ws", DAY, "--managers", MANAGERS, "--callback-within", "30m", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    rows = {row["manager"]: row for row in doc["missed"]}
    keys = ("inbound", "answered", "missed", "called_back_in_time", "called_back_late", "not_called_back",
            "recovered", "median_callback_minutes")
    assert {m: tuple(rows[m][k] for k in keys) for m in ("ivanov", "smith", "jones", "(team)")} == {
        "ivanov": (3, 1, 2, 1, 1, 0, 0, 32.5),
        "smith": (4, 2, 2, 0, 1, 0, 1, 60.0),
        "jones": (3, 0, 3, 1, 0, 2, 0, 20.0),
        "(team)": (11, 3, 8, 2, 2, 3, 1, 35.0),
    }
    assert [c["client"] for c in doc["not_called_back"]] == ["79035550006", "79035550005"]
    assert r.stderr.strip().endswith(
        "day_master.csv: 20 row(s) read (asterisk), 20 new, 0 already in the workspace, 2 internal "
        "(ignored), 0 problem(s)"
    )


def test_table_and_reuse_of_the_stored_log(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run(ws, DAY, "--managers", MANAGERS).exit_code == 0
    r = run(ws, "--from", "2026-11-21", "--to", "2026-11-21", "--manager", "jones", "--callback-within", "1h")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith("Missed calls · from 2026-11-21 · to 2026-11-21: 8 of 11 inbound missed · "
                          "callback within 60 min · rule: attempt\n")
    assert "Missed calls per manager" in out and "Never called back" in out
    assert "jones" in out and "ivanov" not in out
    assert "79035550005" in out and "2026-11-21 12:20" in out
    assert r.stderr == ""


def test_reimport_adds_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run(ws, DAY)
    r = run(ws, DAY, "--format", "csv")
    assert r.exit_code == 0
    assert "20 row(s) read (asterisk), 0 new, 20 already in the workspace" in r.stderr
    assert "# missed\nmanager,extension,inbound" in r.stdout


def test_files_md_and_xlsx(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    r = run(ws, DAY, "--managers", MANAGERS, "--format", "xlsx", "--output", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    import pandas as pd

    sheets = pd.read_excel(tmp_path / "out" / "missed.xlsx", sheet_name=None)
    assert set(sheets) == {"missed", "not_called_back"}
    assert list(sheets["missed"]["missed"]) == [2, 3, 2, 1, 8]
    r = run(ws, "--format", "md")
    assert "| ivanov | 3 | 1 | 2 | 1 | 1 | 0 | 0 | 32.5 | 46.5 | 1 | 3.0 | 90 |" in r.stdout


def test_bad_rows_are_reported_and_good_rows_imported(tmp_path: Path) -> None:
    lines = Path(DAY).read_text().splitlines()
    bad = tmp_path / "Master.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace("2026-11-21 09:10:00", "yesterday"), lines[3], lines[4][:40]]))
    r = run(tmp_path / "ws", str(bad), "--format", "json")
    assert r.exit_code == 0, r.output
    assert f"Warning: {bad}:2: cannot read start 'yesterday' as a date and time" in r.stderr
    assert f"{bad}:4: expected 18 columns" in r.stderr
    assert "2 row(s) read (asterisk), 2 new" in r.stderr
    assert json.loads(r.stdout)["missed"][-1]["inbound"] == 1


def test_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = run(tmp_path / "ws", str(empty))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {empty}: the call log is empty")
    r = run(tmp_path / "none", "--format", "json")
    assert r.exit_code == 1 and "no workspace here" in r.stderr
    # Bad option values are usage errors: exit 2.
    r = run(tmp_path / "ws2", DAY, "--callback-within", "soon")
    assert r.exit_code == 2 and "cannot read callback window 'soon'" in r.stderr
    r = run(tmp_path / "ws2", DAY, "--format", "pdf")
    assert r.exit_code == 2 and "'pdf' is not one of" in r.stderr
    r = run(tmp_path / "ws2", DAY, "--callback-rule", "maybe")
    assert r.exit_code == 2 and "'maybe' is not one of" in r.stderr


def test_the_sample_day(tmp_path: Path, repo_root: Path) -> None:
    """samples/Master.csv: the README's example."""
    r = CliRunner().invoke(app, ["missed", str(repo_root / "samples/Master.csv"), "--managers",
                                 str(repo_root / "samples/managers.csv"), "--format", "json",
                                 "--workspace", str(tmp_path / "ws")])
    assert r.exit_code == 0, r.output
    rows = {row["manager"]: row for row in json.loads(r.stdout)["missed"]}
    team = rows["(team)"]
    # 11 inbound (the 13:05 ring group to brown and petrov is one call), 5 missed: brown's
    # called back in 15 min, jones's in 58, smith's never, ivanov's and petrov's clients called
    # again and got through (recovered)
    assert (team["inbound"], team["missed"], team["called_back_in_time"], team["called_back_late"],
            team["not_called_back"], team["recovered"]) == (11, 5, 1, 1, 1, 2)
    assert (rows["brown"]["called_back_in_time"], rows["brown"]["median_callback_minutes"]) == (1, 15.0)
    assert (rows["jones"]["called_back_late"], rows["jones"]["median_callback_minutes"]) == (1, 58.0)
    assert rows["ivanov"]["recovered"] == 1
    assert rows["petrov"]["recovered"] == 1 and rows["smith"]["not_called_back"] == 1


# ---- where the log shows up: scorecard, team, revive, coach, report ------------------------------------
def _cdr(start: str, src: str, dst: str, disposition: str, billsec: int, uid: str) -> str:
    chan = f"SIP/{src}-1" if len(src) <= 5 else "SIP/trunk-1"
    dchan = f"SIP/{dst}-2" if len(dst) <= 5 else "SIP/trunk-2"
    return (f'"","{src}","{dst}","ctx","","{chan}","{dchan}","Dial","","{start}","","{start}",'
            f'{billsec + 5},{billsec},"{disposition}","3","{uid}",""')


@pytest.fixture()
def scored_with_log(tmp_path: Path) -> Path:
    """The hand-computed supervisor workspace (anna, boris, vera) plus a log of 2024-05-06."""
    import supervisor_workspace as sw

    ws = tmp_path / "ws"
    sw.build(ws).close()
    log = tmp_path / "Master.csv"
    log.write_text("\n".join([
        _cdr("2024-05-06 09:00:00", "79160000001", "202", "NO ANSWER", 0, "1714986000.1"),  # boris, never
        _cdr("2024-05-06 09:30:00", "79160000002", "201", "NO ANSWER", 0, "1714987800.2"),  # anna...
        _cdr("2024-05-06 09:40:00", "201", "89160000002", "ANSWERED", 60, "1714988400.3"),  # ...back in 10 min
        _cdr("2024-05-06 10:00:02", "15550001", "201", "ANSWERED", 120, "1714989602.4"),  # recording a1
        _cdr("2024-05-06 12:00:00", "79160000003", "203", "ANSWERED", 50, "1714996800.5"),  # vera, no recording
    ]) + "\n")
    managers = tmp_path / "managers.csv"
    managers.write_text("extension,manager\n201,anna\n202,boris\n203,vera\n")
    r = run(ws, str(log), "--managers", str(managers))
    assert r.exit_code == 0, r.output
    return ws


def _cli(ws: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, [*args, "--workspace", str(ws)])


def test_missed_lists_answered_calls_without_a_recording(scored_with_log: Path) -> None:
    doc = json.loads(run(scored_with_log, "--format", "json").stdout)
    assert [(r["manager"], r["client"]) for r in doc["answered_without_recording"]] == [
        ("anna", "89160000002"), ("vera", "79160000003")]


def test_scorecard_and_team_show_the_calls_block(scored_with_log: Path) -> None:
    r = _cli(scored_with_log, "scorecard", "boris", "--from", "2024-05-06", "--to", "2024-05-08", "--format", "md")
    assert r.exit_code == 0, r.output
    assert "### Calls (PBX log)" in r.stdout
    assert "| Missed | 1 | 2 |" in r.stdout
    assert "| Called back | 0% | 50% |" in r.stdout
    assert "| Never called back | 1 | 1 |" in r.stdout
    doc = json.loads(_cli(scored_with_log, "team", "--format", "json").stdout)
    calls = {row["Manager"]: row for row in doc["calls"]}
    assert (calls["boris"]["Missed"], calls["anna"]["Called back"], calls["(team)"]["Inbound"]) == (1, "100%", 4)


def test_no_log_no_calls_block(tmp_path: Path) -> None:
    import supervisor_workspace as sw

    sw.build(tmp_path / "ws").close()
    r = _cli(tmp_path / "ws", "scorecard", "boris", "--format", "json")
    assert r.exit_code == 0 and "calls" not in json.loads(r.stdout)
    r = _cli(tmp_path / "ws", "revive", "--format", "json")
    assert "reason" not in json.loads(r.stdout)["revive"][0]


def test_revive_adds_clients_never_called_back(scored_with_log: Path) -> None:
    r = _cli(scored_with_log, "revive", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["revive"]
    log_rows = [row for row in rows if row["source"] == "PBX call log"]
    assert [(row["client_phone"], row["manager"], row["reason"]) for row in log_rows] == [
        ("79160000001", "boris", "missed call, not called back")]
    assert {row["reason"] for row in rows} == {"missed call, not called back", "unhandled objection, no next step"}
    table = _cli(scored_with_log, "revive", "--manager", "boris")
    assert "79160000001" in table.stdout and "missed call, not called back" in table.stdout


def test_coach_sets_a_callback_goal(scored_with_log: Path) -> None:
    r = _cli(scored_with_log, "coach", "boris", "--from", "2024-05-06", "--to", "2024-05-08", "--format", "md")
    assert r.exit_code == 0, r.output
    assert "## Callbacks (PBX call log)" in r.stdout
    assert "- Now: called back within 30 min: 0% of 1 missed call(s); team best quartile 75%" in r.stdout
    assert "- Goal for the next period: call back at least 75% of missed calls within 30 min" in r.stdout
    from qa.store import Workspace

    with Workspace(scored_with_log) as ws:
        assert [g["goal"]["target"] for g in ws.callback_goals("boris")] == [75.0]


def test_report_day_page_and_call_page(scored_with_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    r = CliRunner().invoke(app, ["report", "-w", str(scored_with_log), "-o", str(out), "--day", "2024-05-06",
                                 "--lang", "en", "--no-excel"])
    assert r.exit_code == 0, r.output
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Missed calls (PBX log)" in index and "Clients never called back" in index
    assert "<td class=\"\">79160000001</td><td class=\"\">boris</td>" in index
    assert "2024-05-06 09:00" in index
    call = (out / "calls" / "a1.html").read_text(encoding="utf-8")
    assert "PBX log:" in call and "uniqueid 1714989602.4" in call and "talk 120 s" in call
    assert "PBX log:" not in (out / "calls" / "b1.html").read_text(encoding="utf-8")


@pytest.mark.model
def test_the_sample_recordings_link_to_the_sample_log(scored_samples, tmp_path: Path, repo_root: Path) -> None:
    """The six bundled recordings of 2026-11-21 (real model, real scoring) meet
    samples/Master.csv: each is the log row with its extension, number and start; the log's
    other answered calls have none."""
    import shutil

    from qa import calllog
    from qa.store import Workspace

    ws_path = tmp_path / "ws"
    shutil.copytree(scored_samples[0], ws_path)  # the session's workspace stays without a log
    r = run(ws_path, str(repo_root / "samples/Master.csv"), "--managers", str(repo_root / "samples/managers.csv"),
            "--format", "json")
    assert r.exit_code == 0, r.output
    with Workspace(ws_path) as ws:
        day = [c for c in ws.call_ids() if c.startswith("2026-11-21")]  # the log's day
        assert len(day) == 6
        for call_id in day:
            row = calllog.log_for_call(ws, call_id)
            assert row is not None, call_id
            assert row["started_at"] == call_id[:10] + "T" + call_id[11:19].replace("-", ":")
        # The telephone samples were recorded on 2026-11-24, a day this log does not cover.
        for call_id in set(ws.call_ids()) - set(day):
            assert calllog.log_for_call(ws, call_id) is None, call_id
    missing = json.loads(r.stdout)["answered_without_recording"]
    assert [(m["started_at"][11:16], m["manager"]) for m in missing] == [
        ("11:48", "jones"), ("13:20", "brown"), ("15:24", "petrov"), ("17:10", "smith")]


def test_report_pbx_blocks_in_russian(scored_with_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    r = CliRunner().invoke(app, ["report", "-w", str(scored_with_log), "-o", str(out), "--day", "2024-05-06",
                                 "--lang", "ru", "--no-excel"])
    assert r.exit_code == 0, r.output
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Пропущенные звонки (журнал АТС)" in index and "Клиенты, которым не перезвонили" in index
    assert "Перезвонили в течение 30 мин" in index
    call = (out / "calls" / "a1.html").read_text(encoding="utf-8")
    assert "<b>Журнал АТС:</b> входящий звонок 2024-05-06 10:00:02 · статус ANSWERED · разговор 120 с" in call
