"""qa.redact: the detector on the labelled set (recall / precision by kind), the checks,
word timings, the word files."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from qa.redact import (
    RedactionError,
    find_pii,
    iban_ok,
    inn_ok,
    load_words,
    luhn_ok,
    redact_text,
    redact_transcript,
    redacted_spans,
    snils_ok,
)
from qa.transcripts import CallMeta, Transcript, Utterance, Word

SET = Path(__file__).parent / "data" / "pii" / "utterances.tsv"
_MARK = re.compile(r"\{\{([A-Z]+)\|(.+?)\}\}")


def labelled() -> list[tuple[str, str, list[tuple[str, int, int]]]]:
    """(lang, text, [(kind, first word, last word)]) per line of the set."""
    out = []
    for line in SET.read_text(encoding="utf-8").splitlines():
        lang, marked = line.split("\t", 1)
        gold: list[tuple[str, int, int]] = []
        text = ""
        pos = 0
        for mt in _MARK.finditer(marked):
            text += marked[pos : mt.start()]
            first = len(text.split()) if text.strip() and not text.endswith(" ") else len(text.split())
            if text and not text[-1].isspace():
                first -= 1  # glued to the previous word ("(" or a quote)
            text += mt.group(2)
            gold.append((mt.group(1).lower(), first, len(text.split()) - 1))
            pos = mt.end()
        text += marked[pos:]
        out.append((lang, text, gold))
    return out


def evaluate() -> dict[str, Counter[str]]:
    """Per kind: tp (gold pieces fully covered by a finding), fn, fp (findings touching no
    gold piece), typed (covered with the right token)."""
    stats: dict[str, Counter[str]] = {}
    for _lang, text, gold in labelled():
        found = find_pii(text)
        for kind, a, b in gold:
            c = stats.setdefault(kind, Counter())
            cover = [f for f in found if f.first <= a and f.last >= b]
            c["tp" if cover else "fn"] += 1
            c["typed"] += bool(cover and cover[0].kind == kind)
        for f in found:
            if not any(f.first <= b and f.last >= a for _, a, b in gold):
                stats.setdefault(f.kind, Counter())["fp"] += 1
    return stats


def table(stats: dict[str, Counter[str]]) -> str:
    lines = ["| kind | pieces | found | missed | false alarms | recall | precision |", "|---|---:|---:|---:|---:|---:|---:|"]
    tot: Counter[str] = Counter()
    for kind in sorted(stats):
        c = stats[kind]
        tot.update(c)
        n = c["tp"] + c["fn"]
        lines.append(f"| {kind} | {n} | {c['tp']} | {c['fn']} | {c['fp']} | "
                     f"{c['tp'] / n if n else 1:.3f} | {c['tp'] / (c['tp'] + c['fp']) if c['tp'] + c['fp'] else 1:.3f} |")
    n = tot["tp"] + tot["fn"]
    lines.append(f"| **all** | {n} | {tot['tp']} | {tot['fn']} | {tot['fp']} | {tot['tp'] / n:.3f} | "
                 f"{tot['tp'] / (tot['tp'] + tot['fp']):.3f} |")
    return "\n".join(lines)


def test_labelled_set_is_big_enough():
    rows = labelled()
    assert len(rows) >= 200
    assert {lang for lang, _, _ in rows} == {"ru", "en"}
    assert sum(1 for *_, g in rows if not g) >= 60  # negatives: prices, dates, flats, ids
    for _lang, text, gold in rows:
        for _kind, a, b in gold:
            assert 0 <= a <= b < len(text.split()), text


def test_recall_and_precision_on_the_labelled_set():
    stats = evaluate()
    tp = sum(c["tp"] for c in stats.values())
    fn = sum(c["fn"] for c in stats.values())
    fp = sum(c["fp"] for c in stats.values())
    print("\n" + table(stats))
    assert tp / (tp + fn) >= 0.99, table(stats)
    assert tp / (tp + fp) >= 0.95, table(stats)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("мой номер +7 (916) 123-45-67, записывайте", "мой номер [PHONE], записывайте"),
        ("восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь", "[PHONE]"),
        ("my number is four one five five five five oh one two three", "my number is [PHONE]"),
        ("пишите иван точка петров собака мэйл точка ру", "пишите [EMAIL]"),
        ("паспорт серия 4508 номер 123456", "паспорт серия [PASSPORT]"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN [IBAN]"),
        ("карта 4111 1111 1111 1111.", "карта [CARD]."),
        # look-alikes stay
        ("квартира стоит восемь миллионов семьсот тысяч", "квартира стоит восемь миллионов семьсот тысяч"),
        ("цена 8 700 000 рублей", "цена 8 700 000 рублей"),
        ("заказ номер 4815162342", "заказ номер 4815162342"),
        ("карта 4111 1111 1111 1112", "карта 4111 1111 1111 1112"),  # fails Luhn
        ("этаж 8, квартира 125, площадь 54 метра", "этаж 8, квартира 125, площадь 54 метра"),
    ],
)
def test_redact_text(text, expected):
    assert redact_text(text) == expected


def test_checks():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert inn_ok("7707083893") and not inn_ok("7707083894")
    assert inn_ok("500100732259")
    assert snils_ok("11223344595") and not snils_ok("11223344596")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE88 3704 0044 0532 0130 00")


def test_transcript_keeps_timings():
    words = tuple(
        Word(float(i), i + 0.8, w)
        for i, w in enumerate("записывайте восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь спасибо".split())
    )
    u = Utterance("client", 0.0, 11.0, " ".join(w.text for w in words), words)
    t = Transcript(CallMeta("c1"), [u, Utterance("manager", 12.0, 14.0, "Отлично, записал.")])
    r = redact_transcript(t)
    assert r.utterances[0].text == "записывайте [PHONE] спасибо"
    assert [(w.start, w.end, w.text) for w in r.utterances[0].words] == [
        (0.0, 0.8, "записывайте"), (1.0, 10.8, "[PHONE]"), (11.0, 11.8, "спасибо")]
    assert r.utterances[1] is t.utterances[1]
    assert r.quality["redacted"] == 1
    assert [(round(a, 2), round(b, 2)) for a, b in redacted_spans(r)] == [(0.9, 10.9)]
    assert t.utterances[0].text.startswith("записывайте восемь")  # the original is not changed


def test_spans_without_word_timings_cover_the_utterance():
    t = Transcript(CallMeta("c1"), [Utterance("client", 5.0, 9.0, "мой номер 89161234567")])
    assert redacted_spans(redact_transcript(t), pad=0) == [(5.0, 9.0)]


def test_unreadable_word_file(tmp_path):
    (tmp_path / "ru.yaml").write_text("context: [unclosed", encoding="utf-8")
    (tmp_path / "en.yaml").write_text("{}", encoding="utf-8")
    with pytest.raises(RedactionError, match=r"ru.yaml: cannot read the PII word file .*; fix its YAML"):
        load_words(("ru", "en"), str(tmp_path))
    (tmp_path / "ru.yaml").write_text("- a list\n", encoding="utf-8")
    with pytest.raises(RedactionError, match="expected a mapping of word lists"):
        load_words(("ru", "en"), str(tmp_path))


if __name__ == "__main__":  # the README's table
    print(table(evaluate()))
