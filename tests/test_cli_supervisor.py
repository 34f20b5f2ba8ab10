"""``qa scorecard``, ``qa team``, ``qa coach``, ``qa revive`` on the hand-computed workspace.

Exit codes: 0 on success and for a period without calls (a note on stderr), 1 for a library
error (``Error: ...`` on stderr), 2 for a usage error. Numbers are those of
``tests/supervisor_workspace.py`` (see also test_scorecards.py and test_coaching.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import supervisor_workspace as sw
from typer.testing import CliRunner

from qa.cli import app
from qa.store import Workspace

WEEK1 = ["--from", "2024-05-06", "--to", "2024-05-08"]
WEEK2 = ["--from", "2024-05-13", "--to", "2024-05-19"]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables fold long cells to the terminal width; a wide one keeps each cell on one line."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture()
def wsdir(tmp_path: Path) -> Path:
    sw.build(tmp_path / "ws", week2=True).close()
    return tmp_path / "ws"


def run(wsdir: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, [*args, "--workspace", str(wsdir)])


# ---- qa scorecard -----------------------------------------------------------------------------
def test_scorecard_table(wsdir: Path) -> None:
    r = run(wsdir, "scorecard", "boris", *WEEK1)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith("Scorecard: boris · 2024-05-06 … 2024-05-08 · by day\n")
    assert "4 call(s) · mean score 50.0 · median 50.0 · rank 2 of 3 · team mean 57.8" in out
    assert "Next step agreed in 75% of calls · objections handled 0% · forbidden phrases 1" in out
    for text in ("Stages vs team", "Needs discovery", "-33 pp", "Evidence moments",
                 '01:00 "it is too expensive for us" (b2)', "recordings/b2.wav", "2024-05-07 11:00"):
        assert text in out, text
    assert r.stderr == ""


def test_scorecard_by_week_as_markdown(wsdir: Path) -> None:
    r = run(wsdir, "scorecard", "boris", "--by", "week", "--format", "md")
    assert r.exit_code == 0, r.output
    assert "### Score by week" in r.stdout
    assert "| 2024-W19 | 4 | 50.0 | 50.0 | 57.8 |" in r.stdout
    assert "| 2024-W20 | 2 | 75.0 | 75.0 | 83.3 |" in r.stdout


def test_scorecard_json_is_the_library_tables(wsdir: Path) -> None:
    r = run(wsdir, "scorecard", "boris", *WEEK1, "-f", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc) == ["summary", "trend", "stages", "objections", "forbidden", "talk",
                         "worst_calls", "moments", "best_calls"]
    assert doc["summary"][0]["calls"] == 4 and doc["summary"][0]["rank"] == 2
    needs = next(s for s in doc["stages"] if s["stage"] == "needs")
    assert needs["rate"] == 25.0 and needs["team_median"] == 50.0


def test_scorecard_excel_file(wsdir: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    r = run(wsdir, "scorecard", "boris", *WEEK1, "-f", "xlsx", "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    path = tmp_path / "out" / "scorecard_boris_2024-05-06_2024-05-08.xlsx"
    assert f"Wrote {path}" in r.stderr
    assert load_workbook(path).sheetnames[:3] == ["summary", "trend", "stages"]


def test_scorecard_markdown_file(wsdir: Path, tmp_path: Path) -> None:
    r = run(wsdir, "scorecard", "anna", "-f", "md", "-o", str(tmp_path))
    assert r.exit_code == 0, r.output
    text = (tmp_path / "scorecard_anna.md").read_text(encoding="utf-8")
    assert text.startswith("Scorecard: anna · all days · by day  \n")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["scorecard", "x"], 1, "Error: unknown manager 'x'; known: anna, boris, vera"),
        (["coach", "zoe"], 1, "Error: unknown manager 'zoe'; known: anna, boris, vera"),
        (["revive", "--manager", "zoe"], 1, "Error: unknown manager 'zoe'; known: anna, boris, vera"),
        (["scorecard", "anna", "--from", "2024-13-01"], 1,
         "Error: --from '2024-13-01' is not a date; write it as YYYY-MM-DD, e.g. 2024-05-01"),
        (["team", "--from", "2024-05-09", "--to", "2024-05-01"], 1,
         "Error: --from 2024-05-09 is after --to 2024-05-01; swap them"),
        (["team", "--version", "ffff"], 1, "Error: no scores under version 'ffff'; known: "),
        (["team", "--format", "docx"], 2, "Invalid value for '--format' / '-f': Value error, 'docx' is not one of"),
        (["revive", "--format", "xlsx"], 2, "Error: --format xlsx writes files; add --output DIR"),
        (["scorecard", "anna", "--by", "month"], 2, "month"),
    ],
)
def test_errors(wsdir: Path, args: list[str], code: int, message: str) -> None:
    r = run(wsdir, *args)
    assert r.exit_code == code, r.output
    assert message in " ".join(re.sub("[│╭╮╰╯─]", " ", r.stderr).split())


def test_period_without_calls_is_a_note_not_an_error(wsdir: Path) -> None:
    r = run(wsdir, "scorecard", "anna", "--from", "2024-06-01", "--to", "2024-06-30")
    assert r.exit_code == 0, r.output
    assert "No scored calls in this period." in r.stdout
    assert ("Note: no scored calls for anna in 2024-06-01 … 2024-06-30; their 4 scored call(s) "
            "are from 2024-05-06 to 2024-05-13") in " ".join(r.stderr.split())
    r = run(wsdir, "team", "--from", "2024-06-01")
    assert r.exit_code == 0 and "No scored calls in this period." in r.stdout


def test_missing_workspace(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["team", "--workspace", str(tmp_path / "none")])
    assert r.exit_code == 1
    assert "no workspace here" in r.stderr
    assert not (tmp_path / "none").exists()


# ---- qa team -----------------------------------------------------------------------------------
def test_team_table_with_outcome_link(wsdir: Path) -> None:
    r = run(wsdir, "team", *WEEK1)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith("Team: 2024-05-06 … 2024-05-08 · 3 manager(s) · 9 scored call(s)\n")
    for text in ("Leaderboard", "86.7", "(best quartile)", "Outcome link (won deals)",
                 "3 of 4 won (75%)", "1 of 5 won (20%)", "+55 pp"):
        assert text in out, text
    assert "Note: 1 call(s) have no manager and are not ranked" in r.stderr


def test_team_csv_files(wsdir: Path, tmp_path: Path) -> None:
    r = run(wsdir, "team", *WEEK1, "-f", "csv", "-o", str(tmp_path))
    assert r.exit_code == 0, r.output
    import pandas as pd

    lb = pd.read_csv(tmp_path / "team_2024-05-06_2024-05-08_leaderboard.csv")
    assert lb["manager"].tolist() == ["anna", "boris", "vera"]
    assert lb.loc[1, "stage:needs"] == 25.0
    link = pd.read_csv(tmp_path / "team_2024-05-06_2024-05-08_outcome_link.csv")
    assert link.set_index("item_id").loc["needs", "won_done"] == 3


def test_team_json_without_outcomes_has_no_link(wsdir: Path) -> None:
    r = run(wsdir, "team", *WEEK2, "-f", "json")
    assert r.exit_code == 0, r.output
    assert list(json.loads(r.stdout)) == ["leaderboard"]


# ---- qa coach ----------------------------------------------------------------------------------
def test_coach_saves_and_checks_the_previous_plan(wsdir: Path) -> None:
    r = run(wsdir, "coach", "boris", *WEEK1)
    assert r.exit_code == 0, r.output
    assert "Coaching plan: boris" in r.stdout and "Needs discovery" in r.stdout
    assert "Saved plan #1 for boris" in r.stderr
    r = run(wsdir, "coach", "boris", *WEEK2, "--format", "md")
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert "## Previous plan (2024-05-06 … 2024-05-08): 1 of 3 goal(s) met" in md
    assert "- **met**: Needs discovery in at least 58% of calls; actual 100% (2/2)" in md
    assert "- **not met**: Objection handling in at least 100% of the calls where it applies; actual 50% (1/2)" in md
    assert md.index("Previous plan") < md.index("## 1. Next step")
    assert "Saved plan #2 for boris" in r.stderr
    with Workspace(wsdir) as ws:
        assert len(ws.plans("boris")) == 2


def test_coach_json_and_no_save(wsdir: Path) -> None:
    r = run(wsdir, "coach", "boris", *WEEK1, "-f", "json", "--no-save", "--gaps", "2")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [g["item_id"] for g in doc["gaps"]] == ["needs", "objection_handling"]
    assert doc["gaps"][0]["examples"][0]["time"] == "00:30"
    assert doc["plan_id"] is None and "Saved plan" not in r.stderr
    with Workspace(wsdir) as ws:
        assert ws.plans("boris") == []


def test_coach_tables_as_csv(wsdir: Path) -> None:
    r = run(wsdir, "coach", "boris", *WEEK1, "-f", "csv", "--no-save")
    assert r.exit_code == 0, r.output
    assert "# relisten" in r.stdout and "b2,00:04,Needs discovery missed; it belongs after 'Greeting'" in r.stdout


# ---- qa revive ---------------------------------------------------------------------------------
def test_revive(wsdir: Path) -> None:
    r = run(wsdir, "revive", *WEEK1)
    assert r.exit_code == 0, r.output
    assert "1 call(s) with an unhandled objection and no next step" in r.stdout
    assert '01:00 "it is too expensive for us" (b2)' in r.stdout and "+1555000b2" in r.stdout
    r = run(wsdir, "revive", "--manager", "anna")
    assert r.exit_code == 0 and "0 call(s)" in r.stdout
    r = run(wsdir, "revive", "-f", "csv")
    assert r.stdout.splitlines()[0] == "started_at,client_phone,manager,call_id,objections,time,quote,moments,score,source,seconds"
    assert [line.split(",")[3] for line in r.stdout.splitlines()[1:]] == ["b6", "b2"]


@pytest.mark.parametrize("name", ["scorecard", "team", "coach", "revive"])
def test_help_has_an_example(name: str) -> None:
    r = CliRunner().invoke(app, [name, "--help"])
    assert r.exit_code == 0 and "Example: qa " + name in r.output


def test_metric_labels_are_the_reports_labels() -> None:
    # one wording for both: qa/reports/assets/labels.yaml
    from qa.cli.supervisor import _metric_label
    from qa.metrics import METRIC_KEYS
    from qa.reports.html import Labels

    en = Labels("en")
    for key in METRIC_KEYS:
        assert en.has(f"metric_{key}"), key
        assert _metric_label(key) == en(f"metric_{key}")
    assert _metric_label("talk_listen_ratio") == "Talk / listen"
    assert _metric_label("some_new_metric") == "some new metric"


# ---- issue 13: supervisor views in one language --------------------------------------------------
RUSSIAN = (
    sw.SCRIPT_YAML.replace("name: Test inbound script", "name: Тестовый входящий")
    .replace("language: en", "language: ru")
    .replace("title: Greeting", "title: Приветствие")
)


@pytest.fixture()
def two_languages(tmp_path: Path) -> Path:
    """anna's calls scored with the Russian script, everyone else's with the English one."""
    from qa.scripts import file_hash

    ru = file_hash(RUSSIAN.encode("utf-8"))
    with Workspace(tmp_path / "ws") as ws:
        ws.save_config(hash=sw.SCRIPT_HASH, kind="script", name="Test inbound script",
                       path="/s/inbound.en.yaml", text=sw.SCRIPT_YAML)
        ws.save_config(hash=ru, kind="script", name="Тестовый входящий", path="/s/inbound.ru.yaml", text=RUSSIAN)
        ws.save_config(hash=sw.RUBRIC_HASH, kind="rubric", name="Test objections", path=None, text=sw.RUBRIC_YAML)
        sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] == "anna"}, script_hash=ru)
        sw.add_calls(ws, {k: v for k, v in sw.CALLS.items() if v[0] != "anna"})
    return tmp_path / "ws"


def _table(md: str, title: str) -> list[str]:
    """The lines of one Markdown table of the output, by its heading."""
    part = md.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]
    return [line for line in part.splitlines() if line.startswith("|")]


def test_team_has_a_section_per_language(two_languages: Path) -> None:
    r = run(two_languages, "team", *WEEK1, "-f", "md")
    assert r.exit_code == 0, r.output
    en = _table(r.stdout, "Stage completion · Test inbound script (en)")
    ru = _table(r.stdout, "Stage completion · Тестовый входящий (ru)")
    assert en[0] == "| Manager | Greeting | Needs discovery | Objection handling | Next step |"
    assert ru[0] == "| Manager | Приветствие | Needs discovery | Objection handling | Next step |"
    # English managers are never rows under «Приветствие», the Russian one never under Greeting
    assert [row.split(" | ")[0] for row in en[2:]] == ["| boris", "| vera", "| (team median)", "| (best quartile)"]
    assert [row.split(" | ")[0] for row in ru[2:]] == ["| anna", "| (team median)", "| (best quartile)"]
    assert en[2] == "| boris | 75% | 25% | 0% | 75% |"
    assert "Приветствие (stage, Тестовый входящий (ru))" in r.stdout  # the outcome link too


def test_notes_print_once(two_languages: Path) -> None:
    """Issue 13: a note printed twice (in the plan and again on stderr; the versions in the
    header and again as a note)."""
    r = run(two_languages, "coach", "vera", *WEEK1, "--no-save", "-f", "md")
    assert r.exit_code == 0, r.output
    assert "> scores from the latest version of each script and language" in r.stdout
    assert "scores from the latest version" not in r.stderr
    for args in (["scorecard", "vera", *WEEK1], ["team", *WEEK1]):
        r = run(two_languages, *args)
        assert r.exit_code == 0, r.output
        assert "Scored with: " in r.stdout and "scores from the latest version" not in r.stderr, args
    # written to a file, the plan's notes are still said on the terminal
    r = run(two_languages, "coach", "vera", *WEEK1, "--no-save", "-f", "md", "-o", str(two_languages / "out"))
    assert "Note: scores from the latest version" in " ".join(r.stderr.split())


def test_coach_examples_in_the_managers_language(two_languages: Path) -> None:
    r = run(two_languages, "coach", "vera", *WEEK1, "--no-save", "-f", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    examples = [e["call_id"] for g in doc["gaps"] for e in g["examples"]]
    assert examples and not any(c.startswith("a") for c in examples), examples  # anna's calls are Russian
    assert {g["section"] for g in doc["gaps"]} == {"inbound.en"}


def test_scorecard_shows_worst_and_best_calls_with_their_moments(wsdir: Path) -> None:
    """Issue 13: the help promises the worst calls with evidence moments; a worst call whose
    only fault was a missed stage had none."""
    r = run(wsdir, "scorecard", "boris", *WEEK1, "-f", "md")
    assert r.exit_code == 0, r.output
    worst = _table(r.stdout, "Evidence moments (worst calls)")
    assert "| 00:04 (b2) | Needs discovery, Next step: it belongs after 'Greeting' (missed) | recordings/b2.wav |" in worst
    best = _table(r.stdout, "Evidence moments (best calls)")
    assert ('| 00:30 "what budget do you have in mind, b3 here" (b3) | Needs discovery (found) | recordings/b3.wav |'
            in best)
    help_text = CliRunner().invoke(app, ["scorecard", "--help"]).output
    assert "the worst and the best calls with their evidence moments" in " ".join(help_text.split())
