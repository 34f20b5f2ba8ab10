"""File names from call ids: inside the folder, distinct, writable; names that are not UTF-8."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.paths import MAX_NAME_BYTES, call_path, displayable, safe_filename, slug


@pytest.mark.parametrize("call_id", ["2026-11-21_10-32-15_ivanov", "C-1001", "звонок 5", "a.b"])
def test_ordinary_ids_keep_their_name(call_id: str) -> None:
    assert safe_filename(call_id, ".json") == f"{call_id}.json"


@pytest.mark.parametrize(
    "call_id, start",
    [
        ("../../x", "_.._x-"),
        ("/tmp/x", "_tmp_x-"),
        ("..", "call-"),
        (".", "call-"),
        ("", "call-"),
        ("a\\b", "a_b-"),
        ("nul\x00byte", "nul_byte-"),
        ("CON", "_CON-"),
        ("lpt1.txt", "_lpt1.txt-"),
        ('what?*"<>|:', "what_______-"),
    ],
)
def test_unsafe_ids_are_cleaned_and_marked_with_a_hash(call_id: str, start: str) -> None:
    name = safe_filename(call_id)
    assert name.startswith(start) and len(name) == len(start) + 10, name


def test_long_ids_are_cut_to_a_name_the_file_system_takes(tmp_path: Path) -> None:
    for call_id in ("x" * 1000, "я" * 400):
        path = call_path(tmp_path, call_id, ".json")
        assert len(path.name.encode("utf-8")) <= MAX_NAME_BYTES + 11 + len(".json")
        path.write_text("{}")  # the file system accepts it
    assert safe_filename("x" * 1000) != safe_filename("x" * 1001)


def test_displayable_replaces_bytes_that_are_not_utf8() -> None:
    assert displayable("plain, простой") == "plain, простой"
    assert displayable(b"call_\xff.wav".decode("utf-8", "surrogateescape")) == "call_\ufffd.wav"
    assert displayable("lone \ud800 half") == "lone \ufffd half"


_IDS = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)


@settings(max_examples=300, deadline=None, database=None)
@given(_IDS)
def test_any_call_id_gives_a_writable_name_inside_the_folder(call_id: str) -> None:
    folder = Path("/srv/out")
    path = call_path(folder, call_id, ".json")
    assert path.parent == folder
    name = path.name
    assert not name.startswith(".") and name != ".json"
    assert not {"/", "\\", "\x00"} & set(name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES + 16  # UTF-8, and short enough


@settings(max_examples=300, deadline=None, database=None)
@given(_IDS, _IDS)
def test_different_call_ids_never_share_a_file(a: str, b: str) -> None:
    if a != b:
        assert safe_filename(a) != safe_filename(b)


@pytest.mark.parametrize("pair", [("a/b", "a_b"), ("a b", "a_b"), ("../x", "x"), ("звонок 1", "звонок_1")])
def test_slug_never_gives_two_ids_one_name(pair: tuple[str, str]) -> None:
    # Clips and report pages name files with slug: two calls must never share a file.
    a, b = (slug(x) for x in pair)
    assert a != b
    for name in (a, b):
        assert "/" not in name and not name.startswith(".")


def test_slug_keeps_ordinary_ids() -> None:
    assert slug("1700000001.101") == "1700000001.101"
    assert slug("звонок-42") == "звонок-42"
