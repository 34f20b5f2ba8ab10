"""Rude, dismissive and pressuring speech: the bundled scripts' ``rude_*`` forbidden phrases
against hand-labelled manager lines (``tests/data/rudeness_{ru,en}.csv``).

Each line is scored as a one-line call said by the manager, against every bundled script of
its language (both must catch it: the rudeness lists are the same in both). A line counts as
flagged when any forbidden phrase whose id starts with ``rude_`` is found. The lists were
written from the ``dev`` half; the ``heldout`` half measures what to expect on wording nobody
put into them. Floors are the figures measured when the lists were written (see the report
printed with ``-s``); a drop below them is a regression of the lists or of the matcher.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa.scoring import score_call
from qa.scripts import Script, load_script
from qa.transcripts import CallMeta, Transcript, Utterance

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SCRIPTS = {
    "ru": ["real_estate_inbound.ru.yaml", "b2b_cold_call.ru.yaml"],
    "en": ["real_estate_inbound.en.yaml", "b2b_cold_call.en.yaml"],
}
#: (language, part) -> (precision, recall) floors: the figures measured when the lists were
#: written (dev: the lines they were written from; heldout: lines not looked at).
FLOORS = {
    ("ru", "dev"): (1.0, 1.0),
    ("en", "dev"): (1.0, 1.0),
    ("ru", "heldout"): (0.92, 0.57),  # 12 of 13 flagged lines rude, 12 of 21 rude lines caught
    ("en", "heldout"): (1.0, 0.50),  # 10 of 10, 10 of 20
}
#: The lines the issue reported as passing unnoticed; each must fail its call (critical).
REPORTED = ["покупайте у других", "вы мешаете работать", "вы покупать будете или нет?"]


@dataclass(frozen=True)
class Line:
    text: str
    rude: bool
    part: str


def _lines(language: str) -> list[Line]:
    with open(DATA / f"rudeness_{language}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return [Line(r["text"], r["label"] == "rude", r["part"]) for r in rows]


def _call(text: str, language: str, role: str = "manager") -> Transcript:
    meta = CallMeta(call_id="line", manager="Анна Смирнова")
    return Transcript(meta=meta, utterances=[Utterance(role=role, start=0.0, end=4.0, text=text)], language=language)


def _rude_items(text: str, script: Script) -> list[str]:
    cs = score_call(_call(text, script.language), script)
    return [i.item_id for i in cs.items if i.kind == "forbidden" and i.item_id.startswith("rude_")]


def _measure(language: str, script: Script, part: str) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    wrong = []
    for line in _lines(language):
        if line.part != part:
            continue
        flagged = bool(_rude_items(line.text, script))
        if flagged and line.rude:
            tp += 1
        elif flagged:
            fp += 1
            wrong.append(f"false alarm: {line.text!r} {_rude_items(line.text, script)}")
        elif line.rude:
            fn += 1
            wrong.append(f"missed: {line.text!r}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, wrong


def test_the_labelled_sets_are_big_enough_and_balanced() -> None:
    for language in SCRIPTS:
        lines = _lines(language)
        assert len(lines) >= 60
        for part in ("dev", "heldout"):
            rude = [ln for ln in lines if ln.part == part and ln.rude]
            polite = [ln for ln in lines if ln.part == part and not ln.rude]
            assert len(rude) >= 15 and len(polite) >= 12, (language, part)


@pytest.mark.parametrize(("language", "name"), [(lang, n) for lang, names in SCRIPTS.items() for n in names])
@pytest.mark.parametrize("part", ["dev", "heldout"])
def test_rudeness_precision_and_recall_hold_their_floor(language: str, name: str, part: str) -> None:
    script = load_script(ROOT / "scripts_library" / name)
    precision, recall, wrong = _measure(language, script, part)
    print(f"\n{name} {part}: precision {precision:.2f}, recall {recall:.2f}")
    for w in wrong:
        print("  " + w)
    p_floor, r_floor = FLOORS[(language, part)]
    assert precision >= p_floor and recall >= r_floor, "\n".join(wrong)


@pytest.mark.parametrize("text", REPORTED)
def test_the_reported_rude_lines_fail_the_call(text: str) -> None:
    script = load_script(ROOT / "scripts_library" / "real_estate_inbound.ru.yaml")
    cs = score_call(_call(text, "ru"), script)
    assert cs.critical and cs.score == 0.0
    assert cs.critical_reason is not None and text in cs.critical_reason  # the quote says why
    assert any(i.item_id.startswith("rude_") for i in cs.items if i.kind == "forbidden")


def test_a_rude_client_does_not_cost_the_manager() -> None:
    script = load_script(ROOT / "scripts_library" / "real_estate_inbound.ru.yaml")
    t = _call("Вы мешаете мне работать, покупайте у других.", "ru", role="client")
    assert not score_call(t, script).critical
