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
    r = run(tmp_path / "ws2", DAY, "--callback-within", "soon")
    assert r.exit_code == 1 and "cannot read callback window 'soon'" in r.stderr
    r = run(tmp_path / "ws2", DAY, "--format", "pdf")
    assert r.exit_code == 1 and "unknown format 'pdf'" in r.stderr
    r = run(tmp_path / "ws2", DAY, "--callback-rule", "maybe")
    assert r.exit_code == 1 and "unknown callback rule 'maybe'; use attempt or answered" in r.stderr


def test_the_sample_day(tmp_path: Path, repo_root: Path) -> None:
    """samples/Master.csv: the README's example."""
    r = CliRunner().invoke(app, ["missed", str(repo_root / "samples/Master.csv"), "--managers",
                                 str(repo_root / "samples/managers.csv"), "--format", "json",
                                 "--workspace", str(tmp_path / "ws")])
    assert r.exit_code == 0, r.output
    rows = {row["manager"]: row for row in json.loads(r.stdout)["missed"]}
    team = rows["(team)"]
    # 10 inbound (the 13:05 ring group to brown and petrov is one call), 5 missed: ivanov's
    # called back in 25 min, jones's in 58, brown's in 177, smith's never, petrov's recovered
    assert (team["inbound"], team["missed"], team["called_back_in_time"], team["called_back_late"],
            team["not_called_back"], team["recovered"]) == (10, 5, 1, 2, 1, 1)
    assert (rows["ivanov"]["called_back_in_time"], rows["ivanov"]["median_callback_minutes"]) == (1, 25.0)
    assert (rows["jones"]["called_back_late"], rows["jones"]["median_callback_minutes"]) == (1, 58.0)
    assert (rows["brown"]["missed"], rows["brown"]["median_callback_minutes"]) == (1, 177.0)
    assert rows["petrov"]["recovered"] == 1 and rows["smith"]["not_called_back"] == 1
