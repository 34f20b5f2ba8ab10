"""Mining: phrases of the best calls, ranked against the worst, grouped, with gaps.

Unit parts use hand-built inputs with hand-computed numbers; the corpus tests run the real
path (transcripts scored by qa.scoring, stored, mined) on tests/trainer_corpus.py, where
phrases are planted in the best calls only.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest
import trainer_corpus as tc

from qa.errors import NotFoundError, QAError
from qa.mining import (
    MiningOptions,
    answer_turns,
    candidate_phrases,
    format_time,
    mine,
    parse_top,
    rank_phrases,
    select_cohorts,
    stage_regions,
)
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript, Utterance, clock


@pytest.fixture(scope="module", params=["en", "ru"])
def corpus(request, tmp_path_factory):
    return tc.build(tmp_path_factory.mktemp(f"mining_{request.param}"), request.param)


# ---- small pieces ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, share",
    [("20%", 0.2), ("20", 0.2), ("0.2", 0.2), (0.5, 0.5), ("50%", 0.5), (" 10 % ", 0.1)],
)
def test_parse_top(value, share):
    assert parse_top(value) == pytest.approx(share)


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "--top 'abc' is not a share; write it like 20% or 0.2"),
        ("0", "--top '0': the best and worst shares must be above 0 and at most 50%"),
        ("60%", "--top '60%': the best and worst shares must be above 0 and at most 50%"),
    ],
)
def test_parse_top_rejects(value, message):
    with pytest.raises(QAError) as e:
        parse_top(value)
    assert str(e.value) == message


def _calls(scores, outcomes=None):
    ids = [f"c{i:02d}" for i in range(1, len(scores) + 1)]
    return pd.DataFrame({"call_id": ids, "score": scores, "outcome": outcomes or [None] * len(scores)})


@pytest.mark.parametrize(
    "scores, top, best, worst",
    [
        # 10 calls, 20%: 2 best, 2 worst
        ([50, 90, 10, 70, 30, 80, 20, 60, 40, 100], 0.2, ("c10", "c02"), ("c07", "c03")),
        # ceil(5 * 0.2) = 1
        ([1, 5, 3, 4, 2], 0.2, ("c02",), ("c01",)),
        # 3 calls at 50%: ceil(1.5) = 2 would overlap, so at most n // 2 = 1
        ([10, 30, 20], 0.5, ("c02",), ("c01",)),
        # ties broken by call id, so the split is reproducible
        ([50, 50, 50, 50], 0.5, ("c01", "c02"), ("c03", "c04")),
    ],
)
def test_select_cohorts_by_score(scores, top, best, worst):
    c = select_cohorts(_calls(scores), "score", top)
    assert (c.best, c.worst) == (best, worst)
    assert set(c.best).isdisjoint(c.worst)


def test_select_cohorts_by_outcome():
    calls = _calls([10, 90, 50, 70, 30], ["won", "lost", None, "сделка", "отказ"])
    c = select_cohorts(calls, "outcome")
    assert c.best == ("c04", "c01")  # won deals, higher score first
    assert c.worst == ("c02", "c05")
    assert c.description == "2 won vs 2 lost deals of 5 calls (1 without an outcome left out)"
    assert c.order == {"c04": 0, "c01": 1, "c03": 2, "c02": 3, "c05": 4}


@pytest.mark.parametrize(
    "calls, by, message",
    [
        (_calls([50, 60]), "outcome", "--by outcome needs won and lost deals; none of the 2 calls has an "
         "outcome; import a manifest with an outcome column (qa score PATH --manifest FILE) or use --by score"),
        (_calls([50, 60]), "deal", "--by 'deal': choose one of score, outcome"),
    ],
)
def test_select_cohorts_errors(calls, by, message):
    with pytest.raises(QAError) as e:
        select_cohorts(calls, by)
    assert str(e.value) == message


def test_flagged_calls_are_never_sources():
    calls = _calls([100, 95, 90, 80, 70, 60, 50, 40]).assign(
        critical=[0, 0, 0, 0, 0, 0, 0, 1], forbidden=[0, 1, 0, 0, 0, 0, 1, 1])
    c = select_cohorts(calls, "score", 0.25)
    # the top quartile is c01, c02; c02 said a forbidden phrase: it is left out, not replaced
    assert (c.best, c.flagged, c.worst) == (("c01",), ("c02",), ("c07", "c08"))
    assert c.description == ("best 2 of 8 calls by score (score >= 95.0), worst 2 (score <= 50.0); "
                             "1 of the best left out as sources for a critical failure or a forbidden phrase")
    won = select_cohorts(calls.assign(outcome=["won"] * 3 + ["lost"] * 5), "outcome")
    assert (won.best, won.flagged) == (("c01", "c03"), ("c02",))


@pytest.mark.parametrize(
    "scores, flags, top, min_calls, need",
    [
        # 12 calls: ceil(12 * 25%) = 3 best; 11 give 3 too, 8 give 2
        ([50] * 8, [0] * 8, 0.25, 3, 9),
        ([50] * 12, [0] * 12, 0.25, 3, None),
        ([50], [0], 0.25, 3, 9),  # one call: no worst call either
        # one of the two best is flagged: 3 clean best calls need a best cohort of 4
        ([90, 80] + [50] * 6, [0, 1] + [0] * 6, 0.25, 3, 13),
        ([50] * 4, [0] * 4, 0.5, 2, None),
    ],
)
def test_too_few_says_how_many_calls_are_needed(scores, flags, top, min_calls, need):
    from qa.mining import too_few

    got = too_few(select_cohorts(_calls(scores).assign(forbidden=flags), "score", top), min_calls)
    assert (got.need if got else None) == need
    if got:
        assert got.have == len(scores)
        assert f"Score at least {need} calls ({need - len(scores)} more), or lower --min-calls" in got.message


def test_too_few_by_outcome():
    from qa.mining import too_few

    c = select_cohorts(_calls([90, 80, 10], ["won", "won", None]), "outcome")
    assert too_few(c, 3).message == (
        "too few deals to mine: 2 won and 0 lost of 3 calls; a phrase must be said in at least 3 won "
        "deals. Score calls with 1 more won deal(s) and a lost deal, or use --by score"
    )


@pytest.mark.parametrize(
    "text, language, expected",
    [
        # clauses never join: "afternoon thanks" is not a phrase
        ("Good afternoon, thanks for calling.", "en",
         {"good afternoon", "thanks for", "for calling", "thanks for calling"}),
        # stop words only: nothing
        ("And it is.", "en", set()),
        ("Добрый день! Чем могу помочь?", "ru", {"добрый день", "чем могу", "могу помочь", "чем могу помочь"}),
    ],
)
def test_candidate_phrases(text, language, expected):
    assert set(candidate_phrases(text, language, MiningOptions(min_words=2, max_words=3)).values()) == expected


def test_candidate_phrases_key_inflections_together():
    opts = MiningOptions()
    assert candidate_phrases("Какой бюджет?", "ru", opts).keys() == candidate_phrases("Какого бюджета?", "ru", opts).keys()


def test_format_time_is_the_one_clock():
    assert format_time is clock
    assert [format_time(x) for x in (0, 7.9, 83.4, 3725)] == ["00:00", "00:07", "01:23", "1:02:05"]


def _u(role, start, text):
    return Utterance(role, start, start + 2.0, text)


def test_rank_phrases_lift_and_weight():
    # "monthly payment" in 3 of 4 best calls and 1 of 4 worst; "thank you" everywhere.
    best = {f"b{i}": [_u("manager", 0, "Thank you. " + ("Here is the monthly payment." if i < 3 else "Here it is."))]
            for i in range(4)}
    worst = {f"w{i}": [_u("manager", 0, "Thank you. " + ("The monthly payment." if i == 0 else "Nothing."))]
             for i in range(4)}
    ranked = rank_phrases(best, worst, "en", MiningOptions())
    # "monthly payment" is said exactly where "the monthly payment" is: only the longer is
    # kept; the best calls' "here is the monthly payment" is a near-duplicate of it and
    # represents the family (the longest wording said in full in most calls); "here is",
    # "thank you" are in all calls or below the lift.
    assert [members for _, members, _ in ranked] == [["here is the monthly payment", "the monthly payment"]]
    g, _, occ = ranked[0]
    assert (len(g.pos), len(g.neg)) == (3, 1)
    # lift = (0.75 + 0.1) / (0.25 + 0.1); weight = 0.75 * log2(lift)
    assert g.lift == pytest.approx(0.85 / 0.35)
    assert g.weight == pytest.approx(0.75 * math.log2(0.85 / 0.35))
    assert sorted(occ) == ["b0", "b1", "b2"]


def test_rank_phrases_min_calls_and_lift_filter():
    best = {"b0": [_u("manager", 0, "A rare phrase here.")], "b1": [_u("manager", 0, "Nothing.")]}
    worst = {"w0": [_u("manager", 0, "Nothing.")]}
    assert rank_phrases(best, worst, "en", MiningOptions()) == []  # said in 1 best call only
    assert len(rank_phrases(best, worst, "en", MiningOptions(min_calls=1))) == 1


def test_rank_phrases_one_managers_habit_is_not_a_lesson():
    # her own name in three best calls: said by one manager only
    best = {f"b{i}": [_u("manager", 0, "Olga Orlova speaking.")] for i in range(3)}
    worst = {"w0": [_u("manager", 0, "Hello.")]}
    one = {"b0": "orlova", "b1": "orlova", "b2": "orlova"}
    assert rank_phrases(best, worst, "en", MiningOptions(), speakers=one) == []
    assert len(rank_phrases(best, worst, "en", MiningOptions(min_managers=1), speakers=one)) == 1
    assert len(rank_phrases(best, worst, "en", MiningOptions(), speakers={**one, "b2": "ivanov"})) == 1
    # calls without a manager count as one each
    assert len(rank_phrases(best, worst, "en", MiningOptions(), speakers={})) == 1


def _t(*turns):
    return Transcript(CallMeta("x"), [Utterance(r, s, s + 2.0, text) for r, s, text in turns])


def _items(*rows):
    """Stage rows; the evidence's utterance is the one of ``T`` holding its time."""
    def utterance(s):
        return None if s is None else next(n for n, u in enumerate(T.utterances) if u.start <= s <= u.end)

    return pd.DataFrame(
        [{"item_id": i, "status": st, "start": s, "utterance": utterance(s)} for i, st, s in rows],
        columns=["item_id", "status", "start", "utterance"],
    )


T = _t(
    ("manager", 0, "Good afternoon."), ("client", 3, "Hi."),
    ("manager", 6, "What matters most to you?"), ("client", 9, "A garden."),
    ("manager", 12, "Tell me more."), ("client", 15, "Quiet."),
    ("manager", 18, "I can offer a flat."), ("client", 21, "Too expensive."),
    ("manager", 24, "I understand."), ("manager", 26.5, "It includes parking."),
    ("client", 29, "Ok."), ("manager", 32, "Book a viewing?"),
)
ORDER = ["greeting", "needs", "presentation", "next_step"]


def _texts(regions):
    return {sid: ([u.text for u in turns], guessed) for sid, (turns, guessed) in regions.items()}


def test_stage_regions_found_and_located():
    items = _items(("greeting", "found", 0.5), ("needs", "missed", None),
                   ("presentation", "found", 18.2), ("next_step", "found", 32.0))
    got = _texts(stage_regions(T, items, ORDER, MiningOptions(stage_turns=1), stops=[21.0]))
    assert got == {
        # the missed stage alone between two found ones takes the turns between them
        "needs": (["What matters most to you?", "Tell me more."], True),
        "greeting": (["Good afternoon."], False),
        # stops at the client's objection: the answer is the objection's
        "presentation": (["I can offer a flat."], False),
        "next_step": (["Book a viewing?"], False),
    }


def test_stage_regions_found_extends_and_ambiguous_gap_is_left():
    items = _items(("greeting", "found", 0.0), ("needs", "missed", None),
                   ("presentation", "missed", None), ("next_step", "found", 32.0))
    got = _texts(stage_regions(T, items, ORDER, MiningOptions(stage_turns=1)))
    # two stages missed in a row: the gap could be either, so neither is located
    assert got == {"greeting": (["Good afternoon.", "What matters most to you?"], False),
                   "next_step": (["Book a viewing?"], False)}
    got = _texts(stage_regions(T, items, ORDER, MiningOptions(stage_turns=0)))
    assert got["greeting"] == (["Good afternoon."], False)


def test_stage_regions_busy_turns_and_limits():
    items = _items(("greeting", "found", 0.0), ("needs", "found", 6.0),
                   ("presentation", "found", 18.0), ("next_step", "missed", None))
    busy = {id(u) for u in T.utterances if u.start in (24, 26.5)}
    got = _texts(stage_regions(T, items, ORDER, MiningOptions(stage_turns=0), busy=busy))
    assert got["next_step"] == (["Book a viewing?"], True)
    got = _texts(stage_regions(T, items, ORDER, MiningOptions(stage_turns=0, max_inferred_turns=2)))
    assert "next_step" not in got  # 3 turns after the offer: too vague to attribute
    got = _texts(stage_regions(T, items, ORDER, MiningOptions(infer_missed=False)))
    assert "next_step" not in got


def test_stage_regions_share_one_turn_clause_by_clause():
    t = _t(("manager", 0, "Good afternoon, Riverside Homes, my name is Kate. How can I help?"),
           ("client", 3, "Hi."), ("manager", 6, "Who is it for?"))
    items = pd.DataFrame(
        [{"item_id": "greeting", "status": "found", "start": 0.0, "matched": "Good afternoon,", "utterance": 0},
         {"item_id": "introduction", "status": "found", "start": 1.0, "matched": "my name is", "utterance": 0}],
    )
    got = _texts(stage_regions(t, items, ["greeting", "introduction", "needs"], MiningOptions(stage_turns=1)))
    assert got == {
        "greeting": (["Good afternoon, Riverside Homes,"], False),
        # the stage said last in the shared turn keeps the turns after it
        "introduction": (["my name is Kate. How can I help?", "Who is it for?"], False),
    }
    # a match that cannot be placed in the text: both keep the whole turn
    items.loc[1, "matched"] = "something else"
    got = _texts(stage_regions(t, items, ["greeting", "introduction"], MiningOptions(stage_turns=0)))
    assert got["greeting"] == got["introduction"] == ([t.utterances[0].text], False)


@pytest.mark.parametrize(
    "index, turns, expected",
    [
        (7, 1, ["I understand.", "It includes parking."]),  # one turn = one run of the manager
        (7, 2, ["I understand.", "It includes parking.", "Book a viewing?"]),
        (1, 1, ["What matters most to you?"]),
        (11, 1, []),
    ],
)
def test_answer_turns(index, turns, expected):
    assert [u.text for u in answer_turns(T, index, turns)] == expected


def test_stage_regions_without_utterance_is_not_located():
    # items scored before evidence kept its utterance: nothing is guessed from the time
    items = _items(("greeting", "found", 0.5), ("needs", "found", 6.0)).assign(utterance=None)
    assert stage_regions(T, items, ORDER, MiningOptions(stage_turns=1)) == {}


# ---- the constructed corpus, for real ------------------------------------------------------
def _contains(wordings, planted):
    return any(planted in w for w in wordings)


def test_planted_phrases_found_and_ranked_first(corpus):
    planted = tc.PLANTED[corpus.language]
    with corpus.open() as ws:
        r = mine(ws, top=0.4, options=tc.OPTIONS)
    assert r.cohorts.best == ("c01", "c02", "c03", "c04")
    assert r.cohorts.worst == ("c07", "c08", "c09", "c10")
    needs = r.for_item("stage", "needs")
    # near-duplicate wordings are one group, ranked first, said in all 4 best calls, no worst
    assert all(_contains(needs[0].wordings, p) for p in planted["needs"])
    assert (needs[0].best_calls, needs[0].best_total, needs[0].worst_calls) == (4, 4, 0)
    assert needs[0].lift == pytest.approx(11.0)  # (1 + 0.1) / (0 + 0.1)
    # ...and no other group of the stage carries either wording
    assert not any(_contains(g.wordings, p) for g in needs[1:] for p in planted["needs"])
    assert planted["presentation"] in r.for_item("stage", "presentation")[0].phrase
    price = r.for_item("objection", "price")
    assert price[0].phrase == planted["price"].replace("ё", "е")
    assert (price[0].best_calls, price[0].worst_calls, price[0].worst_total) == (4, 0, 4)
    # wording both cohorts use ("I understand", the script phrase) has no lift: not listed
    assert all(g.lift > 1 for g in r.phrases)


def test_examples_point_at_the_calls_and_times(corpus):
    with corpus.open() as ws:
        r = mine(ws, top=0.4, options=tc.OPTIONS)
    ex = r.for_item("stage", "needs")[0].examples
    assert [(e.call_id, e.start, e.cohort) for e in ex] == [
        ("c01", 7.5, "best"), ("c02", 7.5, "best"), ("c03", 7.5, "best")
    ]
    assert ex[0].quote == corpus.utterances["c01"][2].text
    assert ex[0].manager == "ann" and ex[0].at == "00:07"
    assert any("located by its position" in n for n in r.notes)


def test_uncovered_objection_proposed(corpus):
    planted = tc.PLANTED[corpus.language]["uncovered"]
    with corpus.open() as ws:
        r = mine(ws, top=0.4, options=tc.OPTIONS)
    assert len(r.uncovered) == 1
    c = r.uncovered[0]
    assert c.id == "new_objection_1"
    # "...another agency" is said in two won calls too, so only the shared part and
    # "...another agent" (lost calls only) carry lift
    common = planted[0].rsplit(" ", 1)[0]
    assert all(t.startswith(common) for t in c.triggers) and planted[1] in c.triggers
    # every lost call says it; two of the five won calls too (outcomes are known)
    assert (c.bad_calls, c.bad_total, c.good_calls, c.good_total) == (4, 4, 2, 5)
    assert c.lift == pytest.approx(1.1 / 0.5)
    assert c.clients == 6  # no phone numbers: each call is its own client
    assert [e.call_id for e in c.examples] == ["c07", "c08", "c09"]
    # the answers are the source calls' only, never the lost calls' "Fine, no problem."
    assert [(a.call_id, a.cohort) for a in c.answers] == [("c02", "best"), ("c04", "best")]
    first_answer = tc._TEXTS[corpus.language]["agency_answer"]
    assert c.answers[0].quote.startswith(first_answer)
    assert len(c.answer_phrases) == 2 and all(p in first_answer.lower().replace("ё", "е") for p in c.answer_phrases)


def test_uncovered_objection_needs_distinct_clients(corpus):
    with corpus.open() as ws:
        assert mine(ws, top=0.4, options=replace(tc.OPTIONS, min_clients=6)).uncovered
        assert mine(ws, top=0.4, options=replace(tc.OPTIONS, min_clients=7)).uncovered == []
        # the six calls are two clients: one phone for the won calls, one for the lost
        ws.conn.execute("UPDATE calls SET client_phone = CASE WHEN outcome = 'won' "
                        "THEN '+7 916 000-00-01' ELSE '89160000002' END")
        try:
            assert mine(ws, top=0.4, options=replace(tc.OPTIONS, min_clients=3)).uncovered == []
            assert mine(ws, top=0.4, options=replace(tc.OPTIONS, min_clients=2)).uncovered[0].clients == 2
        finally:
            ws.conn.execute("UPDATE calls SET client_phone = NULL")


def _source_calls(r):
    """Every call something mined comes from: the turns of each phrase, the answers to each
    candidate objection."""
    return ({e.call_id for g in [*r.phrases, *r.unmatched] for e in [*g.said, *g.examples]}
            | {a.call_id for c in r.uncovered for a in c.answers})


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_rude_call_is_never_a_source(tmp_path, language):
    """The issue: answers taken from the weak and the rude call. c11 scores in the top
    cohort but says a forbidden phrase; the lost calls answer the new objection badly."""
    rude = tc.build(tmp_path / "rude", language, rude=True)
    texts = tc._TEXTS[language]
    with rude.open() as ws:
        r = mine(ws, top=0.4, options=replace(tc.OPTIONS, min_calls=1))
    assert r.cohorts.flagged == ("c11",)
    assert r.sources == ("c01", "c02", "c03", "c04")
    assert _source_calls(r) <= set(r.sources)
    # c11's own wording is mined nowhere, even when one call is enough
    rude_words = texts["rude_offer"].lower().split(",")[-1].split()[:3]
    assert not any(" ".join(rude_words) in w for g in [*r.phrases, *r.unmatched] for w in g.wordings)
    for c in r.uncovered:
        assert not any(p in texts["rude_answer"].lower() or p in texts["agency_poor_answer"].lower()
                       for p in c.answer_phrases)


def test_too_few_calls_mines_nothing(corpus):
    from qa.mining import too_few

    with corpus.open() as ws:
        r = mine(ws)  # defaults: top quartile (3 of 10 calls), a phrase in >= 3 of them
        assert r.too_few is None and r.sources == ("c01", "c02", "c03")
        r = mine(ws, date_from="2026-03-02", date_to="2026-03-03")  # 6 calls: 2 best
    assert r.too_few == too_few(r.cohorts, 3)
    assert r.too_few.need == 9 and r.too_few.have == 6
    assert (r.phrases, r.uncovered, r.unmatched) == ([], [], [])


def test_unmatched_wording_lists_planted_not_script(corpus):
    planted = tc.PLANTED[corpus.language]
    with corpus.open() as ws:
        r = mine(ws, top=0.4, options=tc.OPTIONS)
    wordings = [w for g in r.unmatched for w in g.wordings]
    assert _contains(wordings, planted["presentation"])
    assert _contains(wordings, planted["needs"][0])
    # nothing the script already has
    script_phrases = ["good afternoon", "what budget do you have", "i can offer", "book a viewing",
                      "добрый день", "какой у вас бюджет", "могу предложить"]
    assert not any(p in w for w in wordings for p in script_phrases)


def test_by_outcome_and_filters(corpus):
    with corpus.open() as ws:
        r = mine(ws, by="outcome", options=tc.OPTIONS)
        assert r.cohorts.best == ("c01", "c02", "c03", "c04", "c05")
        assert r.cohorts.description == "5 won vs 4 lost deals of 10 calls (1 without an outcome left out)"
        needs = r.for_item("stage", "needs")[0]
        assert (needs.best_calls, needs.best_total) == (4, 5)  # c05 never asks it
        only = mine(ws, stage="presentation", top=0.4, options=tc.OPTIONS)
        assert {g.item_id for g in only.phrases} == {"presentation"}
        assert only.uncovered == [] and only.unmatched == []
        only = mine(ws, objection="price", top=0.4, options=tc.OPTIONS)
        assert {(g.kind, g.item_id) for g in only.phrases} == {("objection", "price")}
        # the period: c01, c02 and c07 were on 2026-03-02
        day = mine(ws, top=0.5, date_from="2026-03-02", date_to="2026-03-02")
        assert (day.cohorts.best, day.cohorts.worst, day.cohorts.total) == (("c01",), ("c07",), 3)


def test_tables_for_writers(corpus):
    with corpus.open() as ws:
        tables = mine(ws, top=0.4, options=tc.OPTIONS).tables()
    assert list(tables) == ["phrases", "examples", "uncovered_objections", "unmatched_wording"]
    assert list(tables["phrases"].columns) == [
        "kind", "item", "rank", "phrase", "variants", "best", "best_pct", "worst", "worst_pct",
        "lift", "call", "at", "quote",
    ]
    first = tables["phrases"].iloc[0]
    assert (first["kind"], first["item"], first["rank"], first["best_pct"], first["call"]) == (
        "stage", "needs", 1, 100.0, "c01"
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"stage": "closing"}, NotFoundError, "stage 'closing' is not in script"),
        ({"objection": "time"}, NotFoundError, "objection 'time' is not in the rubric; objections: price"),
        ({"stage": "needs", "objection": "price"}, QAError, "give --stage or --objection, not both"),
        ({"date_from": "2027-01-01"}, NotFoundError, "no calls scored with this script version between 2027-01-01 and now"),
    ],
)
def test_mine_errors(corpus, kwargs, error, message):
    with corpus.open() as ws, pytest.raises(error) as e:
        mine(ws, **kwargs)
    assert message in str(e.value)


def test_mine_empty_workspace(tmp_path):
    with Workspace(tmp_path / "ws") as ws, pytest.raises(NotFoundError) as e:
        mine(ws)
    assert str(e.value) == (
        f"{tmp_path / 'ws'}: no scored calls in this workspace; run 'qa score PATH --script FILE' first"
    )


def test_progress_callback(corpus):
    seen = []
    with corpus.open() as ws:
        mine(ws, top=0.4, options=tc.OPTIONS, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (9, 9)  # best, worst and every call with an outcome: all but c06


# ---- which scored version is mined ---------------------------------------------------------
def _rescore(ws, ids, script_path, rubric_path):
    """Score ``ids`` with a script/rubric in one batch (one scored_at)."""
    from qa.pipeline import register_configs
    from qa.scoring import score_call
    from qa.scripts import load_rubric, load_script

    script, rubric = load_script(script_path), load_rubric(rubric_path)
    register_configs(ws, script, rubric)
    rows = []
    for cid in ids:
        summary, items = score_call(ws.transcript(cid), script, rubric).to_store()
        rows.append((cid, script.hash, rubric.hash, summary, items))
    ws.save_scores(rows)
    return script.hash


def test_version_by_script_file_and_its_edits(tmp_path):
    from qa.mining import resolve_version

    corpus = tc.build(tmp_path / "c", "en")
    edited = tmp_path / "edited.yaml"
    edited.write_text(corpus.script.read_text(encoding="utf-8").replace("Trainer test script", "Edited"),
                      encoding="utf-8")
    with corpus.open() as ws:
        original = ws.latest_version()
        new_hash = _rescore(ws, ["c01", "c02", "c03", "c04"], edited, corpus.rubric)
        # default: the latest scored
        assert resolve_version(ws) == ((new_hash, original[1]), [])
        assert mine(ws, top=0.5).cohorts.total == 4
        # --script: the calls scored with exactly that file
        assert resolve_version(ws, script=corpus.script) == (original, [])
        assert mine(ws, top=0.4, script=corpus.script).cohorts.total == 10
        # the file changed since (a suggestion applied): its earlier version, with a note
        corpus.script.write_text(corpus.script.read_text(encoding="utf-8") + "# applied\n", encoding="utf-8")
        version, notes = resolve_version(ws, script=corpus.script)
        assert version == original
        assert notes == [
            f"{corpus.script} changed since its calls were scored; mining the calls scored with its "
            f"earlier version {original[0]} (rescore with 'qa score' to mine the new one)"
        ]
        other = tmp_path / "other.yaml"
        other.write_text(tc.SCRIPTS["ru"], encoding="utf-8")
        with pytest.raises(NotFoundError) as e:
            resolve_version(ws, script=other)
        assert str(e.value) == (
            f"{other}: no calls in {corpus.workspace} were scored with this script; run "
            f"'qa score PATH --script {other}' first"
        )


def test_version_of_a_run_with_several_scripts(tmp_path):
    from qa.mining import resolve_version

    corpus = tc.build(tmp_path / "c", "en")
    second = tmp_path / "second.yaml"
    second.write_text(corpus.script.read_text(encoding="utf-8").replace("Trainer test script", "Second"),
                      encoding="utf-8")
    with corpus.open() as ws:
        from qa.pipeline import register_configs
        from qa.scoring import score_call
        from qa.scripts import load_rubric, load_script

        a, b, rubric = load_script(corpus.script), load_script(second), load_rubric(corpus.rubric)
        register_configs(ws, b, None)
        rows = [(cid, (a if i < 6 else b).hash, rubric.hash,
                 *score_call(ws.transcript(cid), a if i < 6 else b, rubric).to_store())
                for i, cid in enumerate(ws.call_ids())]
        ws.save_scores(rows)  # one run: one scored_at for both versions
        version, notes = resolve_version(ws)
        assert version == (a.hash, rubric.hash)  # of the latest run, the one with most calls
        assert notes == [
            # the 4 calls scored with b were scored with a too, by tc.build: like every view,
            # mining counts each call once, under its latest score (b)
            f"mining the 6 calls scored with {corpus.script}; 4 call(s) were scored with {second} in "
            f"the same run (pass --script {second} to mine them)"
        ]
        assert mine(ws, top=0.5).notes[0] == notes[0]
