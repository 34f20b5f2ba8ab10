"""A constructed corpus for the trainer's tests (mining, suggest, clips, CLI).

Ten calls, scored for real (``qa.pipeline.score_calls`` -> ``qa.scoring.score_call``) with a
small script and rubric, in English or Russian. What is planted:

- ``needs``: the best calls ask "what matters most to you" or its near-duplicate "what
  matters the most to you"; two of them ask nothing else, so the script misses the stage
  there and mining has to locate it by position;
- ``presentation``: the best calls add "it comes with a private garden";
- ``price`` answer: the best calls say "let me show you the monthly payment";
- an objection no trigger covers: "we already work with another agency" (and "... another
  agent") in every lost call, and in two won calls (c02, c04) where the manager answers it
  well (the same answer: answer phrases need as many source calls as any phrase).

The corpus is small, so the tests that look for planted wordings pass ``min_calls=2``
(:data:`OPTIONS`): each planted wording is said in two to four best calls, always by both
of their managers (ann: c01, c04; bob: c02, c03), as ``min_managers`` wants.

Script weights make the ranking unambiguous: greeting 10, needs 10, presentation 30,
next_step 50 (+ 3 objection step points): c01, c02 (all stages) > c03, c04 (needs missed)
> c05, c06 (no presentation, no objection) > c07-c10 (no next step). Every call that meets
the price objection acknowledges it and says "the price includes": only the best calls add
the planted answer. Outcomes: c01-c05 won, c06 unknown, c07-c10 lost.

With ``audio=True`` every call also gets a stereo 16-bit WAV (manager left, client right):
turn k sounds a sine tone of ``tone(k)`` Hz on its speaker's channel from ``start`` to
``end`` and is silent elsewhere, so a clip's time span can be checked from its content.
c06 has no recording (an imported transcript), to be skipped by the clips.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.mining import MiningOptions
from qa.pipeline import score_calls
from qa.scripts import load_rubric, load_script
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript, Utterance

TURN = 3.0  # seconds each turn lasts
GAP = 0.5  # silence between turns
LEAD = 0.5  # silence before the first turn
TAIL = 1.0  # silence after the last turn
RATE = 8000

SCRIPTS = {
    "en": """\
# Trainer test script.
# Comments like this one must survive 'qa suggest'.
name: Trainer test script
language: en
threshold: 85
stages:
  - id: greeting            # the first words
    title: Greeting
    weight: 10
    phrases:
      - good afternoon
  # Needs discovery: one question is enough here.
  - id: needs
    title: Needs discovery
    weight: 10
    phrases: ["what budget do you have", "how many bedrooms"]
  - id: presentation
    title: Presentation
    weight: 30
    phrases:
      - i can offer   # the offer itself
  - id: next_step
    title: Next step
    weight: 50
    phrases:
      - book a viewing
forbidden:
  - {phrase: "not my problem", critical: true}
  - {phrase: "calm down", penalty: 5}
""",
    "ru": """\
# Тестовый скрипт тренера.
# Комментарии должны пережить 'qa suggest'.
name: Тестовый скрипт
language: ru
threshold: 85
stages:
  - id: greeting            # первые слова
    title: Приветствие
    weight: 10
    phrases:
      - добрый день
  # Выявление потребностей: одного вопроса хватает.
  - id: needs
    title: Потребности
    weight: 10
    phrases: ["какой у вас бюджет", "сколько комнат"]
  - id: presentation
    title: Презентация
    weight: 30
    phrases:
      - могу предложить   # само предложение
  - id: next_step
    title: Следующий шаг
    weight: 50
    phrases:
      - записать вас на просмотр
forbidden:
  - {phrase: "не моя проблема", critical: true}
  - {phrase: "успокойтесь", penalty: 5}
""",
}

RUBRICS = {
    "en": """\
# Trainer test rubric: one objection.
name: Trainer test objections
language: en
objections:
  - id: price   # too expensive
    title: Too expensive
    triggers: ["too expensive"]
    respond_within_turns: 1
    steps:
      - {id: acknowledge, weight: 1, phrases: ["i understand"]}
      - {id: argue, weight: 2, phrases: ["the price includes"]}
""",
    "ru": """\
# Тестовая рубрика: одно возражение.
name: Тестовые возражения
language: ru
objections:
  - id: price   # дорого
    title: Дорого
    triggers: ["это дорого"]
    respond_within_turns: 1
    steps:
      - {id: acknowledge, weight: 1, phrases: ["понимаю вас"]}
      - {id: argue, weight: 2, phrases: ["в цену входит"]}
""",
}

# What was planted, per language: the wordings tests look for.
PLANTED = {
    "en": {
        "needs": ("what matters most to you", "what matters the most to you"),
        "presentation": "it comes with a private garden",
        "price": "let me show you the monthly payment",
        "uncovered": ("we already work with another agency", "we already work with another agent"),
    },
    "ru": {
        "needs": ("что для вас самое важное", "что для вас самое главное"),
        "presentation": "к ней прилагается собственный сад",
        "price": "давайте посчитаем ежемесячный платёж",
        "uncovered": ("мы уже работаем с другим агентством", "мы уже работаем с другим агентом"),
    },
}

M, C = "manager", "client"

#: The mining options the corpus tests use: a phrase in two of the four best calls counts.
OPTIONS = MiningOptions(min_calls=2)

_TEXTS = {
    "en": {
        "hello": "Good afternoon, thanks for calling Riverside Homes.",
        "open": "Hello, I am looking for a flat near the river.",
        "budget_q": "What budget do you have?",
        "answer_needs": "About three hundred thousand, and a quiet street.",
        "offer": "I can offer {what}, and it comes with a private garden.",
        "offer_plain": "I can offer a flat in the centre.",
        "objection": "Sounds good, but it is too expensive for us.",
        "objection_poor": "It is too expensive anyway.",
        "handle": "I understand. Let me show you the monthly payment, the price includes {extra}.",
        "extra": ["a parking space", "the finishing and a fitted kitchen", "a parking space",
                  "the finishing and a fitted kitchen"],
        "handle_poor": "I understand, but the price includes what it includes.",
        "ok": "That helps.",
        "close": "Shall we book a viewing on Saturday morning?",
        "yes": "Yes, Saturday works.",
        "bye": "Great, see you on Saturday. Goodbye.",
        "bye_client": "Bye.",
        "thanks_bye": "Thank you, goodbye.",
        "bye_poor": "Okay, call us if anything changes.",
        "agency_good": "We already work with another agency, to be honest.",
        "agency_answer": "What do you like about working with them? We can give you a second opinion on prices.",
        "agency_poor": ["We already work with another agency.", "Actually we already work with another agent.",
                        "We already work with another agency, sorry.", "But we already work with another agent."],
        "agency_poor_answer": "Fine, no problem.",
        "what": ["a corner flat by the park", "a two bedroom flat on the fifth floor",
                 "a flat with a river view", "a new flat in tower two"],
        "needs_q": ["And what matters most to you in a new home?", "And what matters the most to you, apart from the price?",
                    "So what matters most to you when you choose?", "And what matters the most to you here?"],
        "middle_q": "How many bedrooms do you need?",
        "middle_a": "Two bedrooms.",
        "rude_answer": "Calm down, if you like them so much, go and buy from them.",
        "rude_offer": "I can offer a flat by the park, trust me this is the one.",
    },
    "ru": {
        "hello": "Добрый день, агентство Речной квартал.",
        "open": "Здравствуйте, ищу квартиру у реки.",
        "budget_q": "Какой у вас бюджет?",
        "answer_needs": "Около десяти миллионов, и тихая улица.",
        "offer": "Могу предложить {what}, к ней прилагается собственный сад.",
        "offer_plain": "Могу предложить квартиру в центре.",
        "objection": "Звучит хорошо, но это дорого для нас.",
        "objection_poor": "Это дорого всё равно.",
        "handle": "Понимаю вас. Давайте посчитаем ежемесячный платёж, в цену входит {extra}.",
        "extra": ["место на подземной парковке", "отделка под ключ", "место на подземной парковке",
                  "отделка под ключ"],
        "handle_poor": "Понимаю вас, но в цену входит то, что входит.",
        "ok": "Это помогает.",
        "close": "Давайте я запишу вас на просмотр в субботу утром?",
        "yes": "Да, суббота подходит.",
        "bye": "Отлично, до встречи в субботу. До свидания.",
        "bye_client": "До свидания.",
        "thanks_bye": "Спасибо, до свидания.",
        "bye_poor": "Хорошо, звоните, если что-то изменится.",
        "agency_good": "Мы уже работаем с другим агентством, если честно.",
        "agency_answer": "Что вам нравится в работе с ними? Мы можем дать второе мнение по ценам.",
        "agency_poor": ["Мы уже работаем с другим агентством.", "Вообще-то мы уже работаем с другим агентом.",
                        "Мы уже работаем с другим агентством, извините.", "Но мы уже работаем с другим агентом."],
        "agency_poor_answer": "Ладно, без проблем.",
        "what": ["угловую квартиру у парка", "двухкомнатную квартиру на пятом этаже",
                 "квартиру с видом на реку", "новую квартиру во второй башне"],
        "needs_q": ["А что для вас самое важное в новой квартире?", "А что для вас самое главное, кроме цены?",
                    "Так что для вас самое важное при выборе?", "А что для вас самое главное здесь?"],
        "middle_q": "Сколько комнат вам нужно?",
        "middle_a": "Две комнаты.",
        "rude_answer": "Успокойтесь, раз они вам так нравятся, у них и покупайте.",
        "rude_offer": "Могу предложить квартиру у парка, поверьте мне это то что надо.",
    },
}


def call_turns(language: str, rude: bool = False) -> dict[str, list[tuple[str, str]]]:
    """call id -> [(role, text)], the dialogue of each call (``rude``: with c11)."""
    t = _TEXTS[language]
    calls: dict[str, list[tuple[str, str]]] = {}
    for k, cid in enumerate(("c01", "c02", "c03", "c04")):
        turns = [(M, t["hello"]), (C, t["open"])]
        if cid in ("c01", "c02"):  # needs found by the script phrase, planted question after it
            turns.append((M, f"{t['budget_q']} {t['needs_q'][k]}"))
        else:  # only the planted question: the script misses the stage
            turns.append((M, t["needs_q"][k]))
        turns.append((C, t["answer_needs"]))
        # the uncovered objection in won calls, answered well (c04: after the price, so the
        # answer is in no stage's turns)
        agency = [(C, t["agency_good"]), (M, t["agency_answer"])]
        if cid == "c02":
            turns += agency
        turns += [
            (M, t["offer"].format(what=t["what"][k])), (C, t["objection"]),
            (M, t["handle"].format(extra=t["extra"][k])), (C, t["ok"]),
            *(agency if cid == "c04" else []),
            (M, t["close"]), (C, t["yes"]), (M, t["bye"]), (C, t["thanks_bye"]),
        ]
        calls[cid] = turns
    for cid in ("c05", "c06"):
        calls[cid] = [
            (M, t["hello"]), (C, t["open"]), (M, t["budget_q"]), (C, t["answer_needs"]),
            (M, t["middle_q"]), (C, t["middle_a"]), (M, t["close"]), (C, t["yes"]), (M, t["bye"]),
            (C, t["thanks_bye"]),
        ]
    for k, cid in enumerate(("c07", "c08", "c09", "c10")):
        calls[cid] = [
            (M, t["hello"]), (C, t["open"]), (M, t["budget_q"]), (C, t["agency_poor"][k]),
            (M, t["agency_poor_answer"]), (C, t["objection_poor"]), (M, t["handle_poor"]),
            (M, t["offer_plain"]), (C, t["bye_client"]), (M, t["bye_poor"]),
        ]
    if rude:  # a call that does every stage but is rude: high score, a forbidden phrase
        calls["c11"] = [
            (M, t["hello"]), (C, t["open"]), (M, f"{t['budget_q']} {t['needs_q'][0]}"),
            (C, t["answer_needs"]), (C, t["agency_good"]), (M, t["rude_answer"]),
            (M, t["rude_offer"]), (C, t["objection"]), (M, t["handle"].format(extra=t["extra"][0])),
            (C, t["ok"]), (M, t["close"]), (C, t["yes"]), (M, t["bye"]), (C, t["thanks_bye"]),
        ]
    return calls


MANAGERS = {"c01": "ann", "c02": "bob", "c03": "bob", "c04": "ann", "c05": "eve", "c06": "eve",
            "c07": "carl", "c08": "dan", "c09": "carl", "c10": "dan", "c11": "rex"}
OUTCOMES = {"c01": "won", "c02": "won", "c03": "won", "c04": "won", "c05": "won", "c06": None,
            "c07": "lost", "c08": "lost", "c09": "lost", "c10": "lost", "c11": "won"}
DAYS = {"c01": "2026-03-02", "c02": "2026-03-02", "c03": "2026-03-03", "c04": "2026-03-03",
        "c05": "2026-03-04", "c06": "2026-03-04", "c07": "2026-03-02", "c08": "2026-03-03",
        "c09": "2026-03-04", "c10": "2026-03-05", "c11": "2026-03-05"}


def timed(turns: list[tuple[str, str]]) -> list[Utterance]:
    return [
        Utterance(role, LEAD + i * (TURN + GAP), LEAD + i * (TURN + GAP) + TURN, text,
                  channel=0 if role == M else 1)
        for i, (role, text) in enumerate(turns)
    ]


def tone(k: int) -> float:
    """Frequency (Hz) of turn ``k``: distinct per turn, below Nyquist at 8 kHz."""
    return 300.0 + 150.0 * k


def write_recording(path: Path, utterances: list[Utterance], duration: float, rate: int = RATE) -> None:
    """Stereo 16-bit WAV: manager left, client right, a tone per turn (see module doc)."""
    n = int(round(duration * rate))
    data = np.zeros((n, 2), dtype=np.float64)
    for k, u in enumerate(utterances):
        a, b = int(round(u.start * rate)), int(round(u.end * rate))
        ts = np.arange(b - a) / rate
        data[a:b, 0 if u.role == M else 1] = 0.5 * np.sin(2 * math.pi * tone(k) * ts)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(data * 32767).astype("<i2").tobytes())


@dataclass
class Corpus:
    root: Path
    workspace: Path
    script: Path
    rubric: Path
    language: str
    utterances: dict[str, list[Utterance]]

    def open(self) -> Workspace:
        return Workspace(self.workspace, create=False)


def build(root: Path, language: str = "en", *, audio: bool = False, rude: bool = False) -> Corpus:
    """Write the script, rubric (and recordings), store the calls and score them for real.

    ``rude`` adds c11: every stage done and the price objection handled (a high score), but
    the manager answers the uncovered objection rudely ("calm down", a forbidden phrase with
    a penalty) and offers with wording no other call uses ("trust me this is the one"):
    a call in the top scores that must never be a source."""
    root.mkdir(parents=True, exist_ok=True)
    script_path = root / f"script.{language}.yaml"
    rubric_path = root / f"rubric.{language}.yaml"
    script_path.write_text(SCRIPTS[language], encoding="utf-8")
    rubric_path.write_text(RUBRICS[language], encoding="utf-8")
    utterances = {cid: timed(turns) for cid, turns in call_turns(language, rude).items()}
    ws_path = root / "ws"
    with Workspace(ws_path) as ws:
        for cid, utts in utterances.items():
            duration = utts[-1].end + TAIL
            if audio and cid != "c06":
                source = root / "audio" / f"{cid}.wav"
                source.parent.mkdir(exist_ok=True)
                write_recording(source, utts, duration)
            else:
                source = root / "imported" / f"{cid}.json"
            meta = CallMeta(
                call_id=cid, source=str(source), manager=MANAGERS[cid],
                started_at=f"{DAYS[cid]}T10:00:00", direction="in", outcome=OUTCOMES[cid],
            )
            t = Transcript(meta=meta, utterances=utts, language=language, duration=duration)
            if source.suffix == ".json":
                source.parent.mkdir(exist_ok=True)
                source.write_text(t.to_json(), encoding="utf-8")
            ws.save_call(t, cache_key=f"test-{language}-{cid}")
        score_calls(ws, sorted(utterances), load_script(script_path), load_rubric(rubric_path))
    return Corpus(root, ws_path, script_path, rubric_path, language, utterances)
