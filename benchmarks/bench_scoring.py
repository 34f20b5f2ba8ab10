"""Benchmark: scoring cached transcripts, ours vs a naive difflib baseline, in one run.

Generates N synthetic calls (default 10,000; ~40 utterances each, deterministic seed) in
Russian: realistic sales small talk with the script's phrases planted in some calls, with
recognition-style errors (dropped, doubled and swapped letters, merged words), inflected
forms, fillers and phrases cut across two segments. Then scores them against the 8-stage test
script and 7-objection rubric (``tests/fixtures/scripts/sales.ru.yaml``,
``objections.ru.yaml``) with :func:`qa.scoring.score_call`, and a subset with the naive
baseline: a per-phrase Python loop over every utterance with ``difflib.SequenceMatcher`` on
word windows (lower-casing only). Transcripts are built before timing starts (they stand for
the workspace's transcript cache); timing covers scoring only, metrics included for ours.

Prints a Markdown table (calls/s of both, the speed ratio) and how often each finds the stages
that were planted (recall) and finds stages that were not (false finds).

    python benchmarks/bench_scoring.py                 # 10,000 calls, baseline on 200
    python benchmarks/bench_scoring.py --workers 2     # ours in a 2-process pool
    python benchmarks/bench_scoring.py --calls 500 --baseline-calls 50   # quick look
"""

from __future__ import annotations

import argparse
import difflib
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

from qa.scoring import score_call  # noqa: E402
from qa.scripts import Rubric, Script, load_rubric, load_script  # noqa: E402
from qa.transcripts import CallMeta, Transcript, Utterance  # noqa: E402

SCRIPT = ROOT / "tests" / "fixtures" / "scripts" / "sales.ru.yaml"
RUBRIC = ROOT / "tests" / "fixtures" / "scripts" / "objections.ru.yaml"

# ---- synthetic speech ------------------------------------------------------------------------------
MANAGER_TALK = [
    "смотрите у нас сейчас несколько вариантов по планировкам",
    "я вам сейчас расскажу подробнее про условия",
    "по ипотеке мы работаем с пятью банками",
    "ставка сейчас от {n} процентов годовых",
    "первоначальный взнос можно сделать от {n} процентов",
    "квартиры сдаются с чистовой отделкой",
    "в доме будет подземный паркинг на {n} мест",
    "до метро пешком около {n} минут",
    "у нас есть однокомнатные и двухкомнатные квартиры",
    "площадь от {n} квадратных метров",
    "сейчас действует скидка для первых покупателей",
    "я уточню у коллег и вернусь к вам",
    "можем подобрать вариант на высоком этаже",
    "окна выходят во двор и на парк",
    "управляющая компания уже выбрана",
    "есть вариант с отделкой под ключ",
    "посмотрите планировку я отправлю её в мессенджер",
    "стоимость квадратного метра сейчас {n} тысяч",
    "по срокам строительство идет по графику",
    "документы все в порядке разрешение на строительство есть",
    "у вас будет персональный менеджер",
    "оставьте пожалуйста номер телефона для связи",
    "секунду я проверю наличие",
    "да конечно это возможно",
    "отличный вопрос сейчас объясню",
]
CLIENT_TALK = [
    "да слушаю вас",
    "угу понятно",
    "а сколько стоит двушка",
    "нам нужно чтобы рядом был садик",
    "мы смотрели еще в соседнем районе",
    "а когда сдача дома",
    "мы хотим переехать к осени",
    "ипотека нужна да",
    "а парковка есть",
    "у нас двое детей",
    "а какой этаж",
    "хорошо спасибо",
    "а можно посмотреть планировку",
    "мне удобно после шести вечера",
    "да я понял",
    "это далеко от метро",
    "сколько квадратных метров кухня",
    "а ремонт там какой",
    "мы пока только выбираем",
    "жена хочет побольше кухню",
]
FILLERS = ["ну", "э", "вот", "как бы", "значит", "типа"]

# forms that a speaker uses instead of the script's wording (inflection, word order)
INFLECT = {
    "какой бюджет": ["какой у вас бюджет", "о каком бюджете говорим", "с бюджетом определились"],
    "к какому сроку": ["к каким срокам", "к какому сроку примерно"],
    "сколько комнат": ["сколько комнат нужно", "сколько комнаток"],
    "в каком районе": ["в каких районах", "в каком районе ищете"],
    "приглашаю вас на просмотр": ["приглашаю вас на просмотры", "приглашаю на просмотр"],
    "давайте запишу вас": ["давайте я запишу вас", "давайте запишу вас на субботу"],
    "понимаю вас": ["я вас понимаю", "понимаю вас прекрасно"],
    "в нашем комплексе": ["в нашем жилом комплексе", "в нашем комплексе есть"],
    "рядом школа": ["рядом со школой", "рядом школа и сад"],
    "сдача дома": ["сдачи дома", "со сдачей дома"],
}


def _typo(word: str, rng: random.Random) -> str:
    """One recognition-style error in a word."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.35:  # dropped letter
        return word[:i] + word[i + 1 :]
    if op < 0.6:  # doubled letter
        return word[:i] + word[i] + word[i:]
    if op < 0.85:  # swapped vowel (е/и, о/а: typical for a recogniser)
        swap = {"е": "и", "и": "е", "о": "а", "а": "о", "я": "е"}
        return word[:i] + swap.get(word[i], word[i]) + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _garble(text: str, rng: random.Random, rate: float = 0.08) -> str:
    words = text.split()
    out = []
    for w in words:
        r = rng.random()
        if r < rate:
            w = _typo(w, rng)
        elif r < rate + 0.01 and out:  # merged with the previous word
            out[-1] = out[-1] + w
            continue
        out.append(w)
        if rng.random() < 0.04:
            out.append(rng.choice(FILLERS))
    return " ".join(out)


def _phrase_variant(phrase: str, rng: random.Random) -> str:
    if phrase in INFLECT and rng.random() < 0.5:
        return rng.choice(INFLECT[phrase])
    return phrase


def _sentence(pool: Sequence[str], rng: random.Random) -> str:
    return rng.choice(pool).replace("{n}", str(rng.choice([3, 5, 7, 12, 15, 20, 35, 40, 120, 250])))


def make_calls(n: int, script: Script, rubric: Rubric, seed: int = 7) -> tuple[list[Transcript], list[set[str]]]:
    """``n`` synthetic calls and, for each, the ids of the stages planted in it."""
    rng = random.Random(seed)
    calls: list[Transcript] = []
    planted: list[set[str]] = []
    stages = [s for s in script.stages if not s.applies_if]
    for k in range(n):
        # which stages this call contains (each with its own probability, like real managers)
        chosen = [s for s in stages if rng.random() < 0.7]
        objection = rng.choice(rubric.objections) if rng.random() < 0.5 else None
        manager_lines: list[tuple[int, str]] = []  # (slot, text)
        n_utts = rng.randint(36, 44)
        slots = n_utts // 2
        truth: set[str] = set()
        for s in chosen:
            need = s.min_matches
            phrases = rng.sample(list(s.phrases), k=min(len(s.phrases), need))
            for ph in phrases:
                if s.within_first_seconds is not None:
                    slot = rng.randint(0, 1)
                elif s.within_last_seconds is not None:
                    slot = slots - 1
                elif s.after:
                    slot = rng.randint(slots // 2, slots - 2)
                else:
                    slot = rng.randint(1, slots // 2)
                manager_lines.append((slot, _phrase_variant(ph.text, rng)))
            truth.add(s.id)
        by_slot: dict[int, list[str]] = {}
        for slot, text in manager_lines:
            by_slot.setdefault(slot, []).append(text)
        utts: list[Utterance] = []
        t = 0.0
        obj_slot = rng.randint(slots // 3, slots - 3) if objection else -1
        for slot in range(slots):
            # manager turn: planted phrases inside ordinary talk
            parts = [_sentence(MANAGER_TALK, rng)] + by_slot.get(slot, [])
            rng.shuffle(parts)
            if slot == obj_slot + 1 and objection is not None:
                for step in objection.steps:
                    if rng.random() < 0.6:
                        parts.append(rng.choice(step.phrases).text)
            text = _garble(" ".join(parts), rng)
            words = text.split()
            if len(words) > 8 and rng.random() < 0.25:  # the recogniser cut the turn in two
                cut = rng.randint(3, len(words) - 3)
                for piece in (" ".join(words[:cut]), " ".join(words[cut:])):
                    d = 0.35 * len(piece.split()) + 0.3
                    utts.append(Utterance("manager", round(t, 2), round(t + d, 2), piece))
                    t += d + 0.3
            else:
                d = 0.35 * len(words) + 0.3
                utts.append(Utterance("manager", round(t, 2), round(t + d, 2), text))
                t += d + rng.uniform(0.2, 1.2)
            # client turn
            ctext = _sentence(CLIENT_TALK, rng)
            if slot == obj_slot and objection is not None:
                ctext = ctext + " " + rng.choice(objection.triggers).text
            ctext = _garble(ctext, rng)
            d = 0.35 * len(ctext.split()) + 0.3
            utts.append(Utterance("client", round(t, 2), round(t + d, 2), ctext))
            t += d + rng.uniform(0.2, 1.5)
        calls.append(Transcript(CallMeta(f"call{k:05d}"), utts, language="ru"))
        planted.append(truth)
    return calls, planted


# ---- the naive baseline ----------------------------------------------------------------------------
def naive_score(transcript: Transcript, script: Script, rubric: Rubric, threshold: float = 0.85) -> dict[str, bool]:
    """What a first attempt looks like: every phrase against every utterance with difflib."""

    def said(phrase: str, utts: Sequence[Utterance]) -> bool:
        p = phrase.lower()
        n = len(p.split())
        for u in utts:
            words = u.text.lower().split()
            for i in range(max(1, len(words) - n + 1)):
                window = " ".join(words[i : i + n])
                if difflib.SequenceMatcher(None, p, window).ratio() >= threshold:
                    return True
        return False

    manager = [u for u in transcript.utterances if u.role == "manager"]
    client = [u for u in transcript.utterances if u.role == "client"]
    flags = {}
    for st in script.stages:
        flags[st.id] = sum(said(ph.text, manager) for ph in st.phrases) >= st.min_matches
    for fb in script.forbidden:
        flags[f"forbidden:{fb.id}"] = said(fb.phrase.text, manager)
    for ob in rubric.objections:
        flags[f"objection:{ob.id}"] = any(said(ph.text, client) for ph in ob.triggers)
        for step in ob.steps:
            flags[f"step:{ob.id}.{step.id}"] = any(said(ph.text, manager) for ph in step.phrases)
    return flags


# ---- running ---------------------------------------------------------------------------------------
_WORKER: tuple[Script, Rubric] | None = None


def _init_worker() -> None:
    global _WORKER
    _WORKER = (load_script(SCRIPT), load_rubric(RUBRIC))


def _score_chunk(chunk: list[Transcript]) -> list[dict[str, bool | None]]:
    assert _WORKER is not None
    script, rubric = _WORKER
    return [score_call(t, script, rubric).stage_flags() for t in chunk]


def run_ours(calls: list[Transcript], script: Script, rubric: Rubric, workers: int) -> tuple[float, list[dict[str, bool | None]]]:
    if workers <= 1:
        t0 = time.perf_counter()
        flags = [score_call(t, script, rubric).stage_flags() for t in calls]
        return time.perf_counter() - t0, flags
    size = max(1, len(calls) // (workers * 8))
    chunks = [calls[i : i + size] for i in range(0, len(calls), size)]
    with ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
        list(pool.map(_score_chunk, chunks[:workers]))  # warm the workers (import, compile)
        t0 = time.perf_counter()
        flags = [f for part in pool.map(_score_chunk, chunks) for f in part]
        return time.perf_counter() - t0, flags


def _quality(flags: Sequence[dict[str, bool | None]], planted: Sequence[set[str]], stages: Sequence[str]) -> tuple[float, float]:
    hit = total = false = negatives = 0
    for f, truth in zip(flags, planted):
        for s in stages:
            if s in truth:
                total += 1
                hit += bool(f.get(s))
            else:
                negatives += 1
                false += bool(f.get(s))
    return hit / max(1, total), false / max(1, negatives)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10_000, help="calls to score with ours (default 10000)")
    ap.add_argument("--baseline-calls", type=int, default=200, help="calls to score with the baseline (default 200)")
    ap.add_argument("--workers", type=int, default=1, help="processes for ours (default 1)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--meaning-calls", type=int, default=300,
                    help="calls to score with and without the meaning layer, vectors cached in a "
                    "workspace beforehand (default 300; 0: skip; needs call-qa[meaning])")
    args = ap.parse_args(argv)

    script, rubric = load_script(SCRIPT), load_rubric(RUBRIC)
    t0 = time.perf_counter()
    calls, planted = make_calls(args.calls, script, rubric, args.seed)
    gen_s = time.perf_counter() - t0
    utts = sum(len(c.utterances) for c in calls) / max(1, len(calls))
    print(f"generated {len(calls)} calls ({utts:.1f} utterances each) in {gen_s:.1f} s", file=sys.stderr)

    ours_s, ours_flags = run_ours(calls, script, rubric, args.workers)
    sub = calls[: args.baseline_calls]
    t0 = time.perf_counter()
    base_flags = [naive_score(t, script, rubric) for t in sub]
    base_s = time.perf_counter() - t0

    stage_ids = [s.id for s in script.stages if not s.applies_if]
    ours_rate = len(calls) / ours_s
    base_rate = len(sub) / base_s
    o_rec, o_false = _quality(ours_flags, planted, stage_ids)
    o_rec_sub, o_false_sub = _quality(ours_flags[: len(sub)], planted[: len(sub)], stage_ids)
    b_rec, b_false = _quality(base_flags, planted[: len(sub)], stage_ids)
    pool = f"{args.workers} processes" if args.workers > 1 else "1 process"
    print(f"\nCPU: {cpu_model()} ({os.cpu_count()} logical CPUs visible); Python {platform.python_version()}")
    print(f"Script: {len(script.stages)} stages, rubric: {len(rubric.objections)} objections; "
          f"{utts:.1f} utterances per call; seed {args.seed}\n")
    print("| scorer | calls | seconds | calls/s | planted stages found | stages found that were not planted |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| qa.scoring ({pool}) | {len(calls)} | {ours_s:.1f} | {ours_rate:.0f} | {o_rec:.1%} | {o_false:.1%} |")
    print(f"| qa.scoring, same {len(sub)} calls as baseline | {len(sub)} | - | - | {o_rec_sub:.1%} | {o_false_sub:.1%} |")
    print(f"| naive difflib loop (1 process) | {len(sub)} | {base_s:.1f} | {base_rate:.1f} | {b_rec:.1%} | {b_false:.1%} |")
    print(f"\nSpeed-up: {ours_rate / base_rate:.0f}x")
    if args.meaning_calls:
        meaning_rows(calls[: args.meaning_calls], planted[: args.meaning_calls], script, rubric, stage_ids)
    return 0


def meaning_rows(calls: list[Transcript], planted: list[set[str]], script: Script, rubric: Rubric,
                 stage_ids: list[str]) -> None:
    """Side by side on the same calls: fuzzy only, and fuzzy + the meaning layer with every
    utterance's vectors already in the workspace cache (a fresh cache object, so they are read
    from SQLite as ``qa score`` reads them)."""
    import tempfile

    from qa.meaning import MeaningOptions, available, windows
    from qa.meaning.items import script_matchers
    from qa.store import Workspace

    if not available():
        print("\nmeaning layer: skipped (pip install 'call-qa[meaning]')")
        return
    with tempfile.TemporaryDirectory() as tmp, Workspace(tmp) as ws:
        layer = script_matchers(script, rubric, MeaningOptions(), cache=ws.vector_cache())
        texts = [w for t in calls for w in windows([u.text for u in t.utterances])[0]]
        t0 = time.perf_counter()
        for i in range(0, len(texts), 512):
            layer.embed(texts[i:i + 512])
        embed_s = time.perf_counter() - t0
        layer = script_matchers(script, rubric, MeaningOptions(), cache=ws.vector_cache())
        t0 = time.perf_counter()
        fuzzy = [score_call(t, script, rubric).stage_flags() for t in calls]
        fuzzy_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        both = [score_call(t, script, rubric, meaning=layer).stage_flags() for t in calls]
        both_s = time.perf_counter() - t0
    f_rec, f_false = _quality(fuzzy, planted, stage_ids)
    m_rec, m_false = _quality(both, planted, stage_ids)
    n = len(calls)
    print(f"\nMeaning layer (USE), same {n} calls, 1 process; embedding their {len(texts)} word windows "
          f"first took {embed_s:.1f} s ({len(texts) / embed_s:.0f}/s, not in the timings below)\n")
    print("| scorer | calls | seconds | calls/s | planted stages found | stages found that were not planted |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| qa.scoring, fuzzy only | {n} | {fuzzy_s:.1f} | {n / fuzzy_s:.0f} | {f_rec:.1%} | {f_false:.1%} |")
    print(f"| qa.scoring + meaning layer (cached vectors) | {n} | {both_s:.1f} | {n / both_s:.0f} | "
          f"{m_rec:.1%} | {m_false:.1%} |")


if __name__ == "__main__":
    raise SystemExit(main())
