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
