"""qa.writers: table output formats looked up by name, and the cell escaper they share."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from qa.errors import QAError
from qa.writers import WRITERS, get_writer, render, safe_cell, write_xlsx

TABLES = {
    "calls": pd.DataFrame(
        {"call_id": ["c1", "c2"], "manager": ["ivanov", "petrov"], "score": [85.0, 42.5], "critical": [False, True]}
    ),
    "items": pd.DataFrame({"call_id": ["c1"], "item_id": ["greeting"], "status": ["found"]}),
}
EVIL = pd.DataFrame(
    {
        "manager": ['=HYPERLINK("http://evil.example","click")', "=cmd|' /C calc'!A0", "@SUM(A1)",
                    "+cmd", "-2+3+cmd|' /C calc'!A0", "\tTAB", "ivanov", "+7 900 123-45-67", "-5", None],
        "score": [1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 9.0, -10.5, 11.0],
    }
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+cmd", "'+cmd"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ivanov", "ivanov"),
        ("-5", "-5"),  # a negative number as text stays a number
        ("+7 900 123-45-67", "+7 900 123-45-67"),  # a phone number
        (-5, -5),
        (3.5, 3.5),
        (None, None),
        ("", ""),
    ],
)
def test_safe_cell(value: object, expected: object) -> None:
    assert safe_cell(value) == expected


def test_csv_escapes_formulas_but_not_numbers(tmp_path: Path) -> None:
    out = render({"t": EVIL}, "csv")
    rows = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert rows["manager"].tolist()[:6] == [
        '\'=HYPERLINK("http://evil.example","click")', "'=cmd|' /C calc'!A0", "'@SUM(A1)", "'+cmd",
        "'-2+3+cmd|' /C calc'!A0", "'\tTAB",
    ]
    assert rows["manager"].tolist()[6:] == ["ivanov", "+7 900 123-45-67", "-5", ""]
    assert rows["score"].tolist() == EVIL["score"].tolist()
    (path,) = get_writer("csv").write({"t": EVIL}, tmp_path, stem="x")
    assert path.name == "x_t.csv"
    assert path.read_text(encoding="utf-8").splitlines()[1] == '"\'=HYPERLINK(""http://evil.example"",""click"")",1.0'
    assert EVIL["manager"][0].startswith("=")  # the caller's frame is not changed


def test_xlsx_writes_formula_like_text_as_text(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "t.xlsx"
    # a repeated index label: cells are found by position
    write_xlsx({"t": EVIL.set_index(pd.Index([5, 5, 1, 2, 3, 4, 6, 7, 8, 9])), "other": TABLES["calls"]}, path)
    ws = openpyxl.load_workbook(path)["t"]
    cells = list(ws["A"][1:])
    assert [c.value for c in cells[:9]] == EVIL["manager"].tolist()[:9]
    assert all(c.data_type == "s" for c in cells[:9])  # never "f" (formula)
    assert [c.value for c in ws["B"][1:]] == EVIL["score"].tolist()
    assert all(c.data_type == "n" for c in ws["B"][1:])
    assert ws.freeze_panes == "A2"


def test_every_format_by_name(tmp_path: Path) -> None:
    assert sorted(WRITERS) == ["csv", "json", "md", "parquet", "table", "xlsx"]
    doc = json.loads(render(TABLES, "json"))
    assert doc["calls"][1] == {"call_id": "c2", "manager": "petrov", "score": 42.5, "critical": True}
    md = render(TABLES, "md")
    assert "### calls" in md and "| c1 | ivanov | 85.0 | False |" in md
    table = render(TABLES, "table")
    assert "ivanov" in table and "greeting" in table
    csv_text = render(TABLES, "csv")
    assert csv_text.startswith("# calls\ncall_id,manager,score,critical\nc1,ivanov,85.0,False\n")
    assert "\n# items\n" in csv_text
    written = {f.name for name in ("csv", "json", "md", "xlsx") for f in get_writer(name).write(TABLES, tmp_path, stem="r")}
    assert written == {"r_calls.csv", "r_items.csv", "r.json", "r.md", "r.xlsx"}


@pytest.mark.parametrize("name", ["xlsx", "parquet"])
def test_file_formats_need_an_output_folder(name: str) -> None:
    with pytest.raises(QAError, match=f"--format {name} writes files; add --output DIR"):
        get_writer(name).write(TABLES, None)


def test_unknown_format() -> None:
    with pytest.raises(QAError, match="unknown format 'docx'; choose one of: table, md, csv, json, xlsx, parquet"):
        get_writer("docx")


@pytest.mark.parametrize("name", ["json", "md", "xlsx", "table"])
def test_one_file_per_table_option(tmp_path: Path, name: str) -> None:
    writer = get_writer(name, per_table=True)
    ext = writer.extension
    assert [f.name for f in writer.write(TABLES, tmp_path, stem="r")] == [f"r_calls{ext}", f"r_items{ext}"]
    assert [f.name for f in writer.write(TABLES, tmp_path / "bare", stem="")] == [f"calls{ext}", f"items{ext}"]
    if name == "json":
        assert list(json.loads((tmp_path / "r_items.json").read_text(encoding="utf-8"))) == ["items"]
    assert [f.name for f in get_writer(name).write(TABLES, tmp_path / "one", stem="r")] == [f"r{ext}"]


def test_csv_and_parquet_are_always_one_file_per_table(tmp_path: Path) -> None:
    assert get_writer("csv").per_table and get_writer("parquet").per_table
    assert not get_writer("json").per_table
    pytest.importorskip("pyarrow")
    files = get_writer("parquet").write(TABLES, tmp_path, stem="")
    assert [f.name for f in files] == ["calls.parquet", "items.parquet"]
    assert pd.read_parquet(files[0])["manager"].tolist() == ["ivanov", "petrov"]


def test_header_lines_for_people_only(tmp_path: Path) -> None:
    header = ["Scorecard: ivanov [all]", "2 call(s)"]
    md = render(TABLES, "md", header)
    assert md.startswith("Scorecard: ivanov [all]  \n2 call(s)  \n\n### calls\n")
    table = render(TABLES, "table", header)
    assert table.splitlines()[:2] == header  # printed as they are, not as rich markup
    assert render(TABLES, "json", header) == render(TABLES, "json")
    assert render(TABLES, "csv", header) == render(TABLES, "csv")
    assert get_writer("table").for_people and get_writer("md").for_people and not get_writer("csv").for_people
