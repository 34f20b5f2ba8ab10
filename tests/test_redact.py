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


# ---- end to end: nothing personal lands on disk ---------------------------------------------
CALL_RU = """[00:00] Менеджер: Добрый день, компания «Новый дом», меня зовут Анна. Вам удобно говорить?
[00:06] Клиент: Да, удобно. Квартира за восемь миллионов семьсот тысяч ещё продаётся?
[00:12] Менеджер: Да. Подскажите, пожалуйста, ваш номер телефона, я отправлю планировки.
[00:18] Клиент: Записывайте: восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь.
[00:30] Менеджер: И электронную почту, пожалуйста.
[00:34] Клиент: иван точка петров собака мэйл точка ру, и ещё рабочий +7 (903) 765-43-21.
[00:44] Менеджер: Для брони нужен паспорт.
[00:48] Клиент: Паспорт серия 4508 номер 731946, задаток картой 4111 1111 1111 1111.
[01:00] Менеджер: Спасибо, давайте встретимся в субботу в офисе. До свидания.
"""
CALL_EN = """[00:00] Manager: Good afternoon, Sunrise Homes, this is Tom. Is now a good time to talk?
[00:05] Client: Yes. Apartment 12B, is it still $450,000?
[00:10] Manager: It is. May I have your phone number and email?
[00:14] Client: Sure, four one five five five five oh one two three, and john dot smith at example dot com.
[00:25] Client: My card is 5500 0000 0000 0004 for the deposit.
[00:31] Manager: Thank you. Shall we meet on Saturday? Goodbye.
"""
#: How the personal data above could show up in a file: as said, as digits, as words.
NEEDLES = [
    "девятьсот шестнадцать сто двадцать три", "9161234567", "916 123", "123-45-67",
    "иван точка петров", "ivan.petrov", "петров собака", "мэйл точка ру",
    "765-43-21", "9037654321", "(903)", "4508 ", "серия 4508", "731946", "4111 1111", "4111111111111111",
    "four one five five", "4155550123", "john dot smith", "john.smith", "smith at example",
    "5500 0000", "5500000000000004",
]


def _files_text(folder: Path) -> list[tuple[Path, bytes]]:
    import zipfile

    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        elif p.suffix == ".parquet":
            import pandas as pd

            data = pd.read_parquet(p).to_csv().encode("utf-8")
        out.append((p, data))
    return out


def _leaks(*folders: Path) -> list[str]:
    found = []
    for folder in folders:
        for path, data in _files_text(folder):
            low = data.lower()
            for n in NEEDLES:
                if n.lower().encode("utf-8") in low:
                    found.append(f"{path.relative_to(folder.parent)}: {n}")
    return found


def _score(tmp_path: Path, redact: bool, fmt: str) -> tuple[Path, Path]:
    from typer.testing import CliRunner

    from qa.cli import app

    root = Path(__file__).resolve().parent.parent
    src = tmp_path / "calls"
    src.mkdir(exist_ok=True)
    (src / "2026-11-20_10-00-00_ivanov_70000000001_in.txt").write_text(CALL_RU, encoding="utf-8")
    (src / "2026-11-20_11-00-00_smith_10000000002_in.txt").write_text(CALL_EN, encoding="utf-8")
    ws, out = tmp_path / f"ws_{redact}", tmp_path / f"out_{redact}_{fmt}"
    args = ["score", str(src), "--workspace", str(ws), "-o", str(out), "--format", fmt]
    for lang in ("ru", "en"):
        args += ["-s", str(root / f"scripts_library/real_estate_inbound.{lang}.yaml"),
                 "-r", str(root / f"rubrics/objections.{lang}.yaml")]
    r = CliRunner().invoke(app, [*args, *(["--redact"] if redact else [])])
    assert r.exit_code == 0, r.output
    return ws, out


def test_nothing_personal_lands_on_disk(tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from qa.cli import app
    from qa.store import Workspace

    plain_ws, plain_out = _score(tmp_path, False, "csv")
    assert _leaks(plain_ws, plain_out)  # the needles do find the data when it is there
    outs = [_score(tmp_path, True, fmt)[1] for fmt in ("csv", "xlsx", "json", "parquet")]
    ws = tmp_path / "ws_True"
    site = tmp_path / "site"
    r = CliRunner().invoke(app, ["report", "--workspace", str(ws), "-o", str(site), "--audio", "none"])
    assert r.exit_code == 0, r.output
    found = CliRunner().invoke(app, ["search", "телефона", "--workspace", str(ws), "--format", "json"])
    assert found.exit_code == 0 and "[PHONE]" not in found.stdout  # the question, not the answer
    assert _leaks(ws, site, *outs) == []
    # the tokens are there instead, and the call page still shows when it was said
    with Workspace(ws) as w:
        t = w.transcript("2026-11-20_10-00-00_ivanov_70000000001_in")
        assert t is not None
        texts = [u.text for u in t.utterances]
        assert "Записывайте: [PHONE]." in texts
        assert "[EMAIL], и ещё рабочий [PHONE]." in texts
        assert "Паспорт серия [PASSPORT], задаток картой [CARD]." in texts
        assert "Квартира за восемь миллионов семьсот тысяч ещё продаётся?" in texts[1]
        assert t.quality["redacted"] == 5
    assert any("[PHONE]" in p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    # scores are the same as without redaction
    plain = pd.read_csv(plain_out / "calls.csv").set_index("call_id")["score"]
    red = pd.read_csv(outs[0] / "calls.csv").set_index("call_id")["score"]
    assert red.to_dict() == plain.to_dict()


def test_tokens_are_not_words_for_matching():
    from qa.normalize import tokens

    assert tokens("Sure, [PHONE], and [EMAIL]. My card is [CARD].", "en") == ["sure", "and", "my", "card", "is"]


# ---- audio: silence over redacted words --------------------------------------------------------
def test_mute_silences_only_the_spans():
    import numpy as np

    from qa.redact import mute

    ch = [np.ones(1000, dtype=np.float32), np.full(1000, 0.5, dtype=np.float32)]
    out = mute(ch, 100, [(2.0, 3.0)])
    assert all((c[200:300] == 0).all() for c in out)
    assert (out[0][:200] == 1).all() and (out[1][300:] == 0.5).all()
    assert (ch[0] == 1).all()  # the input is not changed


def test_report_audio_is_silent_over_personal_data(tmp_path):
    import wave

    import numpy as np

    from qa.pipeline import score_calls
    from qa.reports import build_site
    from qa.scripts import load_script

    root = Path(__file__).resolve().parent.parent
    sr = 8000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(12 * sr) / sr)).astype(np.float32)
    wav = tmp_path / "call.wav"
    from qa.clips import write_wav

    write_wav(wav, [tone], sr)
    said = "да записывайте восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь спасибо".split()
    words = tuple(Word(1.0 + 0.5 * i, 1.4 + 0.5 * i, w) for i, w in enumerate(said))
    t = Transcript(
        CallMeta("c1", source=str(wav), manager="ivanov", started_at="2026-11-20T10:00:00"),
        [Utterance("manager", 0.0, 0.9, "Добрый день, ваш номер телефона?"),
         Utterance("client", 1.0, words[-1].end, " ".join(said), words)],
        language="ru", duration=12.0,
    )
    red = redact_transcript(t)
    phone = next(w for w in red.utterances[1].words if w.text == "[PHONE]")
    assert (phone.start, phone.end) == (2.0, 6.9)
    from qa.store import Workspace

    with Workspace(tmp_path / "ws") as ws:
        ws.save_call(red, cache_key="k1")
        score_calls(ws, ["c1"], [load_script(root / "scripts_library/real_estate_inbound.ru.yaml")])
        result = build_site(ws, tmp_path / "site", audio="copy")
        from qa.clips import build_clips

        library = build_clips(ws, tmp_path / "clips", context=(0.0, 3.0), stage="greeting")
    clip = library.clips[0]
    assert (clip.start, clip.end) == (0.0, 3.9)
    with wave.open(str(tmp_path / "clips" / clip.path)) as w:
        cut = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert np.abs(cut[: int(1.8 * sr)]).max() > 5000 and (cut[int(1.95 * sr) :] == 0).all()
    assert result.audio_files == 1
    out = tmp_path / "site" / "audio" / "c1.wav"
    assert not (tmp_path / "site" / "audio" / "call.wav").exists()
    with wave.open(str(out)) as w:
        assert w.getframerate() == sr
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert (pcm[int(1.95 * sr) : int(6.95 * sr)] == 0).all()  # the dictated number, padded
    assert np.abs(pcm[: int(1.8 * sr)]).max() > 5000 and np.abs(pcm[int(7.1 * sr) :]).max() > 5000
    page = next((tmp_path / "site" / "calls").glob("*.html")).read_text(encoding="utf-8")
    assert "[PHONE]" in page and "девятьсот" not in page


def test_redacting_a_workspace_scored_before_leaves_nothing(tmp_path):
    """Scored without --redact, then again with it (same workspace): the old text is gone
    from every byte of the folder (transcripts, evidence of the earlier version, the
    search index, the write-ahead log)."""
    plain_ws, _ = _score(tmp_path, False, "csv")
    assert _leaks(plain_ws)
    from typer.testing import CliRunner

    from qa.cli import app

    root = Path(__file__).resolve().parent.parent
    args = ["score", str(tmp_path / "calls"), "--workspace", str(plain_ws), "--redact",
            "-s", str(root / "scripts_library/b2b_cold_call.ru.yaml"),
            "-s", str(root / "scripts_library/b2b_cold_call.en.yaml")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert _leaks(plain_ws) == []


def test_transcribe_output_json_is_redacted(tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app

    src = tmp_path / "calls"
    src.mkdir()
    (src / "2026-11-20_10-00-00_ivanov_70000000001_in.txt").write_text(CALL_RU, encoding="utf-8")
    (src / "2026-11-20_11-00-00_smith_10000000002_in.txt").write_text(CALL_EN, encoding="utf-8")
    out, ws = tmp_path / "json", tmp_path / "ws"
    r = CliRunner().invoke(app, ["transcribe", str(src), "--redact", "-o", str(out), "--workspace", str(ws)])
    assert r.exit_code == 0, r.output
    assert len(list(out.glob("*.json"))) == 2
    assert _leaks(out, ws) == []
    assert "[EMAIL]" in (out / "2026-11-20_11-00-00_smith_10000000002_in.json").read_text(encoding="utf-8")
