"""The extension -> manager file."""

from __future__ import annotations

import pytest

from qa.errors import MetadataError
from qa.managers import load_managers


def test_header_russian_semicolon_cp1251(tmp_path):
    p = tmp_path / "managers.csv"
    p.write_bytes("Добавочный;ФИО\n101;Анна Смирнова\n102;Иван Петров\n".encode("cp1251"))
    m = load_managers(p)
    assert dict(m) == {"101": "Анна Смирнова", "102": "Иван Петров"}
    assert m.name("101") == "Анна Смирнова"
    assert m.name(" 102 ") == "Иван Петров"
    assert m.name("SIP/101") == "Анна Смирнова"
    assert m.name("101.0") == "Анна Смирнова"
    assert m.name("999") is None
    assert m.resolve("999") == "999"
    assert m.resolve("102") == "Иван Петров"


def test_no_header_comma(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("101,Ann Smith\n\n102,Ivan Petrov\n", encoding="utf-8")
    assert dict(load_managers(p)) == {"101": "Ann Smith", "102": "Ivan Petrov"}


def test_columns_in_any_order(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("manager,team,extension\nAnn Smith,A,101\n", encoding="utf-8")
    assert dict(load_managers(p)) == {"101": "Ann Smith"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("extension;manager\n101\n", "line 2"),
        ("extension;manager\n101;Ann\n101;Bob\n", "given twice"),
        ("extension;notes\n101;x\n", "line 1"),
        ("extension;manager\n;Ann\n", "line 2: empty"),
    ],
)
def test_bad_files_name_the_line(tmp_path, text, message):
    p = tmp_path / "managers.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(MetadataError, match=message) as e:
        load_managers(p)
    assert str(p) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(MetadataError, match="check the path"):
        load_managers(tmp_path / "nope.csv")
