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
    ("args", "code", "message"),
    [
        # usage errors (a bad query or option value) exit 2, like every command
        (["?!"], 2, "Error: search query '?!' has no words to search for"),
        (["дорого", "--role", "boss"], 2, "Error: --role 'boss': use one of manager, client, unknown"),
        (["дорого", "--format", "nope"], 2, "Usage:"),
        (["дорого", "--from", "yesterday"], None, "Error:"),
        (["дорого", "--min-score", "50"], 1, "Error:"),  # nothing scored in this workspace
    ],
)
def test_errors_are_one_line(ws, args, code, message):
    r = run(ws, *args)
    assert r.exit_code == (code if code is not None else r.exit_code) and r.exit_code in (1, 2), r.output
    assert r.stderr.startswith(message) and "Traceback" not in r.stderr


def test_fts_syntax_is_not_an_error(ws):
    r = run(ws, 'дорого" OR NEAR(*')
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output


def test_no_workspace(tmp_path):
    r = CliRunner().invoke(app, ["search", "дорого", "--workspace", str(tmp_path / "none")])
    assert r.exit_code == 1 and "no workspace here" in r.stderr


# ---- the report's search box: static index (offline) and qa serve's endpoint -------------------
_NODE_HARNESS = r"""
const fs = require("fs");
const site = process.argv[1], query = process.argv[2];
global.window = {};
eval(fs.readFileSync(site + "/search_index.js", "utf8"));
const html = fs.readFileSync(site + "/search.html", "utf8");
const script = html.split("<script>")[1].split("</script>")[0];
const el = {q: {value: ""}, hits: {innerHTML: "", getAttribute: function () { return null; }}, info: {textContent: ""},
            search: {addEventListener: function () {}}};
global.document = {getElementById: function (id) { return el[id]; }};
global.location = {protocol: "file:", search: "?q=" + encodeURIComponent(query)};
eval(script);
const rows = el.hits.innerHTML.split("<tr>").slice(1).map(function (r) {
  return r.replace(/<\/td>/g, "\t").replace(/<[^>]+>/g, "").trim().split("\t");
});
process.stdout.write(JSON.stringify(rows));
"""


@pytest.fixture(scope="module")
def site(ws, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    r = CliRunner().invoke(app, ["report", "--workspace", str(ws), "-o", str(out), "--audio", "none"])
    assert r.exit_code == 0, r.output
    return out


def _static_search(site, query: str) -> list[list[str]]:
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page's script is not run")
    out = subprocess.run([node, "-e", _NODE_HARNESS, str(site), query], capture_output=True, text=True,
                         check=True, timeout=60)
    return json.loads(out.stdout)


def test_report_has_a_search_box(site):
    assert 'action="search.html"' in (site / "index.html").read_text(encoding="utf-8")
    assert (site / "search.html").is_file() and (site / "search_index.js").is_file()


@pytest.mark.parametrize("query", ["дорого", "expensive", "скидку", "добрый день"])
def test_static_search_finds_what_qa_search_finds(ws, site, query):
    cli = json.loads(run(ws, query, "--format", "json").stdout)["hits"]
    page = _static_search(site, query)
    assert sorted((h["call_id"], h["at"]) for h in cli) == sorted((r[0], r[3]) for r in page)
    assert cli, query


def test_static_search_marks_the_word(site):
    rows = _static_search(site, "дорого")
    assert {r[5] for r in rows} == {"Ого, это дорого.", "Дороговато у вас, честно говоря."}  # tags stripped
    html = (site / "search_index.js").read_text(encoding="utf-8")
    assert html.startswith("window.QA_SEARCH={")


def test_serve_answers_search(ws, site):
    import threading
    import urllib.error
    import urllib.parse
    import urllib.request

    from qa.reports import make_server

    server = make_server(site, "127.0.0.1", 0, workspace=ws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(base + "/api/search?q=" + urllib.parse.quote("дорого"), timeout=10) as resp:
            hits = json.loads(resp.read())["hits"]
        assert sorted(h["at"] for h in hits) == ["00:04", "01:15"]
        assert all(h["href"].startswith("calls/") and "#t=" in h["href"] for h in hits)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/api/search?q=" + urllib.parse.quote("?!"), timeout=10)
        assert e.value.code == 400 and "no words to search for" in json.loads(e.value.read())["error"]
        with urllib.request.urlopen(base + "/search.html", timeout=10) as resp:
            assert resp.status == 200
    finally:
        server.shutdown()
        server.server_close()
