"""qa.search and the search index of qa.store: stems, filters, escaping, the index kept in
the transaction that saves a call, the schema 2 -> 3 backfill."""

from __future__ import annotations

import sqlite3

import pytest

from qa.errors import OptionError
from qa.search import SearchError, parse_query, search
from qa.store import SCHEMA_VERSION, Workspace
from qa.transcripts import CallMeta, Transcript, Utterance


def call(call_id: str, manager: str, day: str, lines: list[tuple[str, str]], language: str | None = "ru") -> Transcript:
    utts = [Utterance(role, 10.0 * i, 10.0 * i + 5, text) for i, (role, text) in enumerate(lines)]
    meta = CallMeta(call_id, manager=manager, started_at=f"{day}T10:00:00")
    return Transcript(meta, utts, language=language)


CALLS = [
    call("c1", "Иванов", "2026-11-20", [("manager", "Добрый день"), ("client", "Это дорого для нас")]),
    call("c2", "Иванов", "2026-11-21", [("manager", "Квартира готова"), ("client", "Дороговато, честно говоря")]),
    call("c3", "Петров", "2026-11-22", [("client", "Какая дорогая квартира!"), ("manager", "Я дам скидку")]),
    call("c4", "Петров", "2026-11-22", [("manager", "Это недорого, поверьте"), ("client", "Хорошо")]),
    call("c5", "Smith", "2026-11-22", [("client", "That is too expensive"), ("manager", "Expensively built")],
         language="en"),
    call("c6", "Smith", "2026-11-23", [("client", "Спасибо, до свидания")]),
]


@pytest.fixture()
def ws(tmp_path):
    with Workspace(tmp_path / "ws") as w:
        for t in CALLS:
            w.save_call(t, cache_key="k" + t.call_id)
        yield w


def ids(hits) -> list[str]:
    return sorted({h.call_id for h in hits})


def test_any_inflection_finds_the_word(ws):
    hits = search(ws, "дорого")
    assert ids(hits) == ["c1", "c2", "c3"]  # дорого, дороговато, дорогая; not недорого
    quotes = {h.call_id: h.quote for h in hits}
    assert quotes["c1"] == "Это **дорого** для нас"
    assert quotes["c2"] == "**Дороговато,** честно говоря"
    assert quotes["c3"] == "Какая **дорогая** квартира!"
    hit = next(h for h in hits if h.call_id == "c1")
    assert (hit.manager, hit.role, hit.at, hit.start, hit.day) == ("Иванов", "client", "00:10", 10.0, "2026-11-20")


def test_english_stemming(ws):
    assert ids(search(ws, "expensive")) == ["c5"]
    assert len(search(ws, "expensive")) == 2  # expensive and expensively


def test_filters(ws):
    assert ids(search(ws, "дорого", manager="Иванов")) == ["c1", "c2"]
    assert ids(search(ws, "expensive", manager="smith")) == ["c5"]
    assert ids(search(ws, "дорого", date_from="2026-11-21")) == ["c2", "c3"]
    assert ids(search(ws, "дорого", date_to="2026-11-20")) == ["c1"]
    assert ids(search(ws, "квартира", role="manager")) == ["c2"]
    assert ids(search(ws, "квартира", role="client")) == ["c3"]
    assert ids(search(ws, "дорого скидка")) == []  # every word in one utterance
    assert ids(search(ws, "дам скидку")) == ["c3"]
    assert len(search(ws, "дорого", limit=1)) == 1


def test_newest_call_first(ws):
    assert [h.call_id for h in search(ws, "дорого")] == ["c3", "c2", "c1"]


def test_score_and_script_filters(ws, tmp_path):
    script = tmp_path / "sales_a.ru.yaml"
    script.write_text("name: A\n", encoding="utf-8")
    ws.save_config(hash="s1", kind="script", name="Sales A", path=str(script), text="name: A\n")
    for cid, score in (("c1", 40.0), ("c2", 90.0), ("c3", 70.0)):
        ws.save_score(cid, script_hash="s1", rubric_hash="none", summary={"score": score}, items=[])
    assert ids(search(ws, "дорого", min_score=60)) == ["c2", "c3"]
    assert ids(search(ws, "дорого", max_score=60)) == ["c1"]
    assert ids(search(ws, "дорого", min_score=60, max_score=80)) == ["c3"]
    assert {h.score for h in search(ws, "дорого", min_score=0)} == {40.0, 90.0, 70.0}
    assert ids(search(ws, "дорого", script="sales_a")) == ["c1", "c2", "c3"]
    assert ids(search(ws, "дорого", script=str(script))) == ["c1", "c2", "c3"]
    with pytest.raises(SearchError, match="no scores under script 'other'; scored scripts: sales_a"):
        search(ws, "дорого", script="other")


@pytest.mark.parametrize("query", ['"', "дорого*", "(дорого", "дорого NEAR(", "- дорого", "дорого OR", "'; DROP TABLE calls; --"])
def test_fts_syntax_is_escaped(ws, query):
    hits = search(ws, query) if any(ch.isalpha() for ch in query.replace("NEAR", "")) else None
    if hits is None:
        with pytest.raises(OptionError, match="has no words to search for"):
            search(ws, query)
    else:
        assert isinstance(hits, list)


def test_bad_queries_and_filters(ws):
    with pytest.raises(OptionError, match=r"search query '\?!' has no words"):
        search(ws, "?!")
    with pytest.raises(OptionError, match="--role 'boss': use one of manager, client, unknown"):
        search(ws, "дорого", role="boss")
    with pytest.raises(OptionError, match="--min-score 80 is above --max-score 20"):
        search(ws, "дорого", min_score=80, max_score=20)


def test_query_terms():
    q = parse_query("дорого")
    assert q.language == "ru" and q.expression() == '("дор" OR "доро"*)'
    assert parse_query('a"b').expression() == '"a" AND "b"'
    assert parse_query("восемь").expression() == '"8"'
    assert parse_query("да").expression() == '"да"'  # short: not a prefix of "давайте"


def test_index_follows_the_call(ws):
    assert ws.search_stats() == (6, 11)
    # saving the call again replaces its utterances, never duplicates them
    ws.save_call(call("c1", "Иванов", "2026-11-20", [("client", "Всё отлично")]), cache_key="kc1")
    assert ws.search_stats() == (6, 10)
    assert ids(search(ws, "дорого")) == ["c2", "c3"]
    assert ids(search(ws, "отлично")) == ["c1"]
    assert ws.reindex_search() == 6
    assert ids(search(ws, "дорого")) == ["c2", "c3"]


def test_a_failed_save_leaves_the_index_as_it_was(ws, monkeypatch):
    import qa.search

    def boom(t):
        raise RuntimeError("disk full")

    monkeypatch.setattr(qa.search, "index_rows", boom)
    with pytest.raises(RuntimeError):
        ws.save_call(call("c9", "X", "2026-11-25", [("client", "дорого")]), cache_key="k9")
    assert ws.transcript("c9") is None
    assert ids(search(ws, "дорого")) == ["c1", "c2", "c3"]


def test_schema_2_workspace_is_backfilled(tmp_path):
    path = tmp_path / "old"
    with Workspace(path) as w:
        for t in CALLS[:3]:
            w.save_call(t, cache_key="k" + t.call_id)
    conn = sqlite3.connect(path / "qa.sqlite")
    conn.execute("DROP TABLE search_fts")
    conn.execute("DROP TABLE search_utterances")
    conn.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with Workspace(path) as w:
        assert w.query("SELECT value FROM meta WHERE key='schema_version'") == [(str(SCHEMA_VERSION),)]
        assert ids(search(w, "дорого")) == ["c1", "c2", "c3"]
