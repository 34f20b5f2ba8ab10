"""qa search: imported calls end to end, every output format, errors as one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qa.cli import app

CALL_A = """[00:00] Менеджер: Добрый день, компания «Новый дом», меня зовут Анна.
[00:06] Клиент: Здравствуйте. Сколько стоит двушка?
[00:15] Менеджер: Восемь миллионов семьсот тысяч.
[01:15] Клиент: Ого, это дорого.
[01:20] Менеджер: Понимаю. Могу дать скидку.
"""
CALL_B = """[00:00] Менеджер: Добрый день.
[00:04] Клиент: Дороговато у вас, честно говоря.
[00:09] Менеджер: Зато дом сдан.
"""
CALL_C = """[00:00] Manager: Hello, this is Tom.
[00:03] Client: That's too expensive for us.
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    src = tmp_path_factory.mktemp("calls")
    (src / "2026-11-20_10-00-00_ivanov_79160000001_in.txt").write_text(CALL_A, encoding="utf-8")
    (src / "2026-11-21_11-00-00_petrov_79160000002_in.txt").write_text(CALL_B, encoding="utf-8")
    (src / "2026-11-22_12-00-00_smith_14150000003_in.txt").write_text(CALL_C, encoding="utf-8")
    ws = tmp_path_factory.mktemp("ws")
    r = CliRunner().invoke(app, ["transcribe", str(src), "--workspace", str(ws)])
    assert r.exit_code == 0, r.output
    return ws


def run(ws, *args: str):
    return CliRunner().invoke(app, ["search", *args, "--workspace", str(ws)])


def test_table(ws):
    r = run(ws, "дорого")
    assert r.exit_code == 0, r.output
    assert "**дорого.**" in r.stdout and "**Дороговато**" in r.stdout
    assert "01:15" in r.stdout and "client" in r.stdout
    assert "2 hits in 2 calls for 'дорого'" in r.stderr


def test_json(ws):
    r = run(ws, "дорого", "--format", "json", "--role", "client")
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)["hits"]
    assert [(h["at"], h["role"], h["quote"]) for h in hits] == [
        ("00:04", "client", "**Дороговато** у вас, честно говоря."),
        ("01:15", "client", "Ого, это **дорого.**"),
    ]
    assert hits[1]["manager"] == "ivanov" and hits[1]["start"] == 75.0


def test_filters_and_files(ws, tmp_path):
    r = run(ws, "дорого", "--manager", "petrov", "--format", "csv")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("call_id,manager,day,at") and len(lines) == 2
    assert run(ws, "дорого", "--role", "manager", "--format", "json").stdout.strip() == '{\n  "hits": []\n}' or \
        json.loads(run(ws, "дорого", "--role", "manager", "--format", "json").stdout)["hits"] == []
    r = run(ws, "expensive", "--format", "xlsx", "--output", str(tmp_path))
    assert r.exit_code == 0, r.output
    import pandas as pd

    df = pd.read_excel(tmp_path / "search.xlsx")
    assert df["quote"].tolist() == ["That's too **expensive** for us."]
    r = run(ws, "дорого", "--from", "2026-11-21", "--to", "2026-11-21", "--format", "json")
    assert [h["call_id"] for h in json.loads(r.stdout)["hits"]] == ["2026-11-21_11-00-00_petrov_79160000002_in"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["?!"], "Error: search query '?!' has no words to search for"),
        (["дорого", "--role", "boss"], "Error: --role 'boss': use one of manager, client, unknown"),
        (["дорого", "--format", "nope"], "Error: unknown"),
        (["дорого", "--from", "yesterday"], "Error:"),
        (["дорого", "--min-score", "50"], "Error:"),  # nothing scored in this workspace
    ],
)
def test_errors_are_one_line(ws, args, message):
    r = run(ws, *args)
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith(message) and "Traceback" not in r.stderr


def test_fts_syntax_is_not_an_error(ws):
    r = run(ws, 'дорого" OR NEAR(*')
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output


def test_no_workspace(tmp_path):
    r = CliRunner().invoke(app, ["search", "дорого", "--workspace", str(tmp_path / "none")])
    assert r.exit_code == 1 and "no workspace here" in r.stderr
