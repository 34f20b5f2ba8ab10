"""Importing transcripts made elsewhere: every format, label variants, times, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa.errors import QAError, TranscriptFormatError
from qa.importers import (
    TRANSCRIPT_EXTENSIONS,
    ImportOptions,
    is_transcript_file,
    load_transcript,
    speaker_role,
)
from qa.metadata import NameTemplate
from qa.transcripts import CallMeta, Transcript, Utterance, Word

FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"
M, C, U = "manager", "client", "unknown"

# Hand-computed with the defaults: 2.5 words/s, turns at least 0.5 s, 0.3 s between
# estimated turns; a timed turn lasts until the next one starts when that is within twice
# its estimate, else its estimate.
FILE_CASES = {
    "ru_labels_times.txt": ("text", [
        # 8 words -> 3.2 s; next turn at 6 s is within 6.4 s -> ends at 6.
        (M, 0.0, 6.0, "Добрый день, компания «Новый дом», меня зовут Анна."),
        # continuation line joined; 11 words -> 4.4 s; next at 15 > 6 + 8.8 -> 6 + 4.4.
        (C, 6.0, 10.4, "Здравствуйте. Я по поводу квартиры в новом корпусе. Сколько стоит двушка?"),
        (M, 15.0, 17.4, "Подскажите, для кого вы подбираете квартиру?"),  # 6 words, gap 6 > 4.8
        (C, 21.0, 24.0, "Для себя и жены."),  # 4 words -> 1.6; gap 3 <= 3.2
        (M, 24.0, 25.6, "Понимаю. Давайте подберём вариант."),  # last: 4 words -> 1.6
    ]),
    "en_labels_no_times.txt": ("text", [
        (M, 0.0, 3.2, "Good afternoon, Sunrise Homes, this is Tom speaking."),  # 8 words
        (C, 3.5, 9.1, "Hi, I saw your ad for the new apartments. How much is a two-bedroom?"),  # 14
        (M, 9.4, 12.2, "Great question. Who are you buying for?"),  # Agent:, 7 words
        (C, 12.5, 13.3, "My family."),  # customer:, 2 words
        (M, 13.6, 15.2, "Thank you for calling."),  # M:, 4 words
    ]),
    "en_time_variants.txt": ("text", [
        (M, 1.0, 4.0, "Hello, this is Tom from Sunrise Homes."),  # [hh:mm:ss]; 7 words, gap 3 <= 5.6
        (C, 4.0, 4.8, "Hi Tom."),  # (mm:ss); 2 words -> 0.8, gap 2 > 1.6
        (M, 6.0, 9.0, "Is now a good time to talk?"),  # bare mm:ss; 7 words, gap 3 <= 5.6
        (C, 9.0, 12.0, "Yes, go ahead."),  # [start - end]
        (M, 13.0, 13.5, "Great."),  # time after the label; 1 word -> 0.5 minimum
        # No time: 13.5 + 0.3; "10:30 works..." is text, not a time. 12 words -> 4.8 s.
        (C, 13.8, 18.6, "I only have a minute. 10:30 works for me, by the way."),
        (M, 30.5, 31.0, "Noted."),  # fractional seconds
    ]),
    "en_call.srt": ("srt", [
        (M, 1.0, 3.5, "Good afternoon, thank you for calling Sunrise Homes."),
        # two speakers in one 2 s cue share it by words: 4 and 2 of 6.
        (C, 4.0, 5.333, "Hi. It's too expensive."),
        (M, 5.333, 6.0, "I understand."),
        (M, 6.5, 8.0, "What are you comparing with?"),  # no label: the last speaker goes on
    ]),
    "diarised.srt": ("srt", [
        (U, 0.0, 2.0, "Hello, Sunrise Homes."),
        (U, 2.5, 4.0, "Hi, I'm calling about the flat."),
    ]),
    "ru_call.vtt": ("vtt", [
        (M, 0.5, 4.0, "Добрый день! Агентство «Ключ», Ирина."),
        (C, 4.2, 7.0, "Здравствуйте, это дорого для меня."),
        (M, 67.1, 69.9, "Понимаю вас & слышу. С чем сравниваете?"),
    ]),
    "faster_whisper.json": ("faster-whisper", [
        (U, 0.0, 2.4, "Добрый день, компания Новый дом."),
        (U, 3.0, 4.5, "Здравствуйте, сколько стоит?"),
    ]),
    "faster_whisper_channels.json": ("faster-whisper", [
        (M, 0.0, 2.0, "Good afternoon."),
        (C, 2.5, 3.5, "Hi."),
    ]),
    "whisperx.json": ("whisperx", [
        (U, 0.031, 2.5, "Good afternoon, Sunrise Homes."),
        (U, 3.0, 5.0, "It costs 2000 dollars?"),
        (U, 5.5, 6.0, "Yes."),
    ]),
    "project.json": ("call-qa", [
        (M, 0.0, 2.0, "Добрый день!"),
        (C, 2.5, 4.0, "Здравствуйте."),  # role written "Client"
        (U, 4.0, 5.0, "(музыка)"),
    ]),
}


def rows(t: Transcript) -> list[tuple[str, float, float, str]]:
    return [(u.role, u.start, u.end, u.text) for u in t.utterances]


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_fixture_files(name: str) -> None:
    fmt, expected = FILE_CASES[name]
    t = load_transcript(FIXTURES / name)
    got = rows(t)
    assert [(r, x) for r, _, _, x in got] == [(r, x) for r, _, _, x in expected]
    for (_, start, end, _), (_, want_start, want_end, _) in zip(got, expected, strict=True):
        assert start == pytest.approx(want_start, abs=1e-3)
        assert end == pytest.approx(want_end, abs=1e-3)
    if fmt == "call-qa":
        assert t.call_id == "demo-001"  # the file's own call id
    else:
        assert t.options["import_format"] == fmt
        assert t.call_id == Path(name).stem
    assert t.meta.source == str(FIXTURES / name)


def test_faster_whisper_words_and_confidence() -> None:
    t = load_transcript(FIXTURES / "faster_whisper.json")
    first, second = t.utterances
    assert first.words == (
        Word(0.0, 0.4, "Добрый", 0.9),
        Word(0.4, 0.8, "день,", 0.95),
        Word(0.9, 1.6, "компания", 0.8),
        Word(1.6, 2.0, "Новый", 0.7),
        Word(2.0, 2.4, "дом.", 0.85),
    )
    assert first.confidence == round(math.exp(-0.2), 4) == 0.8187  # from avg_logprob
    assert second.words == () and second.confidence is None
    assert t.language is None and t.is_mono


def test_faster_whisper_channels() -> None:
    t = load_transcript(FIXTURES / "faster_whisper_channels.json")
    assert t.language == "en"
    assert [u.channel for u in t.utterances] == [0, 1]
    assert t.utterances[0].confidence == 0.98  # mean of 0.99 and 0.97
    swapped = load_transcript(
        FIXTURES / "faster_whisper_channels.json", options=ImportOptions(manager_channel="right")
    )
    assert [u.role for u in swapped.utterances] == [C, M]


def test_whisperx_words_and_speaker_mapping() -> None:
    t = load_transcript(FIXTURES / "whisperx.json")
    assert t.options["speakers"] == {"SPEAKER_00": U, "SPEAKER_01": U}
    words = t.utterances[1].words
    # "2000" was not aligned: it gets the gap between its neighbours, probability unknown.
    assert words[2] == Word(3.6, 4.4, "2000", 1.0)
    assert t.utterances[0].confidence == 0.8375  # (0.9 + 0.8 + 0.95 + 0.7) / 4
    assert t.utterances[1].confidence == 0.8  # (0.9 + 0.9 + 0.6) / 3, the unaligned word left out

    mapped = load_transcript(
        FIXTURES / "whisperx.json", speaker_roles={"SPEAKER_00": "manager", "speaker_01": "Клиент"}
    )
    assert [u.role for u in mapped.utterances] == [M, C, U]
    assert mapped.options["speakers"] == {"SPEAKER_00": M, "SPEAKER_01": C}


def test_diarised_srt_with_mapping() -> None:
    t = load_transcript(FIXTURES / "diarised.srt", speaker_roles={"SPEAKER_00": "m", "SPEAKER_01": "c"})
    assert [u.role for u in t.utterances] == [M, C]


def test_project_json_fields() -> None:
    t = load_transcript(FIXTURES / "project.json")
    assert (t.meta.manager, t.meta.started_at, t.meta.direction, t.language) == (
        "ivanov", "2026-11-21T10:32:15", "in", "ru"
    )
    assert t.utterances[0].words == (Word(0.0, 0.8, "Добрый", 0.9), Word(0.8, 2.0, "день!", 0.95))


def test_project_json_round_trip(tmp_path: Path) -> None:
    original = Transcript(
        meta=CallMeta(
            call_id="2026-11-21_10-32-15_ivanov_79161234567_out",
            source="calls/2026-11-21_10-32-15_ivanov_79161234567_out.mp3",
            manager="ivanov",
            started_at="2026-11-21T10:32:15",
            direction="out",
            client_phone="79161234567",
            duration=42.5,
            outcome="won",
            extra={"campaign": "spring"},
        ),
        utterances=[
            Utterance(M, 0.0, 1.5, "Good afternoon", (Word(0.0, 0.6, "Good", 0.98), Word(0.6, 1.5, "afternoon", 0.91)), 0, 0.95),
            Utterance(C, 1.8, 2.4, "Hi", (Word(1.8, 2.4, "Hi", 0.7),), 1, 0.7),
        ],
        language="en",
        duration=42.5,
        model="whisper-base",
        options={"beam_size": 5},
        quality={"silence_share": 0.1},
    )
    path = tmp_path / "out" / f"{original.call_id}.json"
    path.parent.mkdir()
    path.write_text(original.to_json(), encoding="utf-8")
    loaded = load_transcript(path)
    assert loaded.to_dict() == original.to_dict()


def test_meta_overrides_the_file() -> None:
    meta = NameTemplate().parse("2026-11-21_10-32-15_petrov_79161234567_out.mp3")
    t = load_transcript(FIXTURES / "project.json", meta)
    assert t.call_id == "2026-11-21_10-32-15_petrov_79161234567_out"
    assert (t.meta.manager, t.meta.direction, t.meta.client_phone) == ("petrov", "out", "79161234567")
    assert t.meta.source == "2026-11-21_10-32-15_petrov_79161234567_out.mp3"

    t = load_transcript(FIXTURES / "en_call.srt", CallMeta(call_id="call-7", manager="smith"))
    assert (t.call_id, t.meta.manager, t.meta.source) == ("call-7", "smith", str(FIXTURES / "en_call.srt"))


# ---- label variants ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "label,role",
    [
        ("Manager", M), ("manager", M), ("M", M), ("m.", M), ("Agent", M), ("Operator", M),
        ("Sales", M), ("Менеджер", M), ("М", M), ("оператор", M), ("Продавец", M),
        ("Client", C), ("C", C), ("Customer", C), ("caller", C), ("Клиент", C), ("К", C),
        ("покупатель", C), ("Абонент", C),
        ("SPEAKER_00", U), ("Speaker 2", U), ("Спикер 1", U), ("unknown", U),
        ("Boss", None), ("", None),
    ],
)
def test_speaker_role(label: str, role: str | None) -> None:
    assert speaker_role(label) == role


@pytest.mark.parametrize(
    "line,role,text",
    [
        ("Manager: Hello", M, "Hello"),
        ("MANAGER:Hello", M, "Hello"),
        ("  m :  Hello  there ", M, "Hello there"),
        ("Менеджер: Добрый день", M, "Добрый день"),
        ("М: Добрый день", M, "Добрый день"),  # Cyrillic М
        ("Клиент： Здравствуйте", C, "Здравствуйте"),  # full-width colon
        ("К: Да", C, "Да"),
        ("Client: Hi", C, "Hi"),
        ("C: Hi", C, "Hi"),
        ("[Client]: Hi", C, "Hi"),
        ("- Client: Hi", C, "Hi"),
        ("Sales rep: Hi", M, "Hi"),
        ("Speaker 1: Hi", U, "Hi"),
        ("Клиент (перебивает): Подождите", C, "Подождите"),  # a stage direction
        ("[00:07] Покупатель: Дорого", C, "Дорого"),
        ("Manager: [00:07] Hello", M, "Hello"),
    ],
)
def test_text_label_variants(tmp_path: Path, line: str, role: str, text: str) -> None:
    path = tmp_path / "call.txt"
    path.write_text(line + "\n", encoding="utf-8")
    [u] = load_transcript(path).utterances
    assert (u.role, u.text) == (role, text)


def test_number_at_line_start_is_text_in_a_continuation(tmp_path: Path) -> None:
    path = tmp_path / "call.txt"
    path.write_text("Client: Call me at\n10:75 or 11:30 tomorrow.\n", encoding="utf-8")
    [u] = load_transcript(path).utterances
    assert (u.role, u.start, u.text) == (C, 0.0, "Call me at 10:75 or 11:30 tomorrow.")


def test_time_after_label_is_read(tmp_path: Path) -> None:
    path = tmp_path / "call.txt"
    path.write_text("Manager: [00:07] Hello\nClient: (1:02:03) Hi\n", encoding="utf-8")
    assert [u.start for u in load_transcript(path).utterances] == [7.0, 3723.0]


def test_speaker_roles_for_names(tmp_path: Path) -> None:
    path = tmp_path / "call.txt"
    path.write_text("Анна: Добрый день!\nИван: Здравствуйте.\n", encoding="utf-8")
    t = load_transcript(path, speaker_roles={"Анна": "менеджер", "Иван": "client"})
    assert [u.role for u in t.utterances] == [M, C]


def test_estimated_turns_are_squeezed_before_the_next_time(tmp_path: Path) -> None:
    path = tmp_path / "call.txt"
    path.write_text(
        "[00:00] M: one two three four five six seven eight nine ten\nC: a b c d e\n[00:05] M: ok\n",
        encoding="utf-8",
    )
    # Estimated: M 0-4.0, C 4.3-6.3; C must end by 5, so 0..6.3 is scaled by 5/6.3.
    assert rows(load_transcript(path)) == [
        (M, 0.0, 3.175, "one two three four five six seven eight nine ten"),
        (C, 3.413, 5.0, "a b c d e"),
        (M, 5.0, 5.5, "ok"),
    ]


def test_speaking_rate_option(tmp_path: Path) -> None:
    path = tmp_path / "call.txt"
    path.write_text("M: one two three four\nC: one two\n", encoding="utf-8")
    t = load_transcript(path, options=ImportOptions(words_per_second=2.0, turn_gap=0.0))
    assert rows(t) == [(M, 0.0, 2.0, "one two three four"), (C, 2.0, 3.0, "one two")]


# ---- content detection and encodings -----------------------------------------------------------
@pytest.mark.parametrize(
    "source,fmt",
    [("en_call.srt", "srt"), ("ru_call.vtt", "vtt"), ("whisperx.json", "whisperx")],
)
def test_txt_holding_another_format(tmp_path: Path, source: str, fmt: str) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes((FIXTURES / source).read_bytes())
    t = load_transcript(path)
    assert t.options["import_format"] == fmt
    assert rows(t) == rows(load_transcript(FIXTURES / source))


def test_srt_file_holding_webvtt(tmp_path: Path) -> None:
    path = tmp_path / "export.srt"
    path.write_bytes((FIXTURES / "ru_call.vtt").read_bytes())
    assert load_transcript(path).options["import_format"] == "vtt"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251", "utf-16"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    text = (FIXTURES / "ru_labels_times.txt").read_text(encoding="utf-8").replace("«", '"').replace("»", '"')
    path = tmp_path / "ru_labels_times.txt"
    path.write_bytes(text.encode(encoding))
    t = load_transcript(path)
    assert [u.text for u in t.utterances][0] == 'Добрый день, компания "Новый дом", меня зовут Анна.'
    assert [u.role for u in t.utterances] == [M, C, M, C, M]


# ---- errors -------------------------------------------------------------------------------------
HINT = "start lines with 'Manager:' or 'Client:' (or M:/C:)"
TIMES = "times must be seconds from the start (a number >= 0)"
ERRORS = [
    ("a.txt", "# call 7\n\nHello there\nManager: hi\n", f"calls/a.txt:3: no speaker label; {HINT}"),
    ("a.txt", "Manager: hi\nManger: hello\n",
     f"calls/a.txt:2: unknown speaker label 'Manger'; {HINT}, add the label to qa/data/roles.yaml or pass speaker_roles"),
    ("a.txt", "[00:10] M: hi\n[00:05] C: hello\n",
     "calls/a.txt:2: time 00:05 is earlier than the previous turn's 00:10; times must not go backwards"),
    ("a.txt", "[00:10 - 00:05] M: hi\n", "calls/a.txt:1: the turn ends before it starts; write [start - end]"),
    ("a.txt", "[00:75] M: hi\n", "calls/a.txt:1: cannot read the time '[00:75]'; write [mm:ss] or [hh:mm:ss]"),
    ("a.txt", "", "calls/a.txt: the file is empty; nothing to import"),
    ("a.txt", " \n\n", "calls/a.txt: the file is empty; nothing to import"),
    ("a.txt", "# only a comment\n", f"calls/a.txt: no turns found (only blank or '#' comment lines); {HINT}"),
    ("a.doc", "Manager: hi\n",
     "calls/a.doc: unsupported transcript format '.doc'; supported: .json (call-qa, faster-whisper, "
     "whisperX), .srt, .vtt, .txt (one turn per line: 'Manager: text')"),
    ("a.json", '{"utterances": [', "calls/a.json:1: not valid JSON (Expecting value); export the transcript again"),
    ("a.json", '{"text": "hello"}',
     "calls/a.json: unknown JSON layout; expected the call-qa layout {\"utterances\": [...]}, or segments "
     "as [...] or {\"segments\": [...]} (faster-whisper, whisperX)"),
    ("a.json", '{"utterances": [{"role": "boss", "start": 0, "end": 1, "text": "x"}]}',
     "calls/a.json: utterances[0].role 'boss' is not a role; use manager, client or unknown"),
    ("a.json", '{"utterances": [{"role": "manager", "start": 0, "end": 1, "text": "x"}, "y"]}',
     "calls/a.json: utterances[1] must be an object with role, start, end, text"),
    ("a.json", '{"utterances": [{"role": "manager", "start": -1, "end": 1, "text": "x"}]}',
     f"calls/a.json: utterances[0].start is -1; {TIMES}"),
    ("a.json", '[{"start": "soon", "end": 1, "text": "x"}]', f"calls/a.json: segments[0].start is 'soon'; {TIMES}"),
    ("a.json", '[{"end": 1, "text": "x"}]',
     "calls/a.json: segments[0] has no 'start'; each segment needs start and end in seconds"),
    ("a.json", '{"segments": [{"start": 0, "end": 1, "text": "x", "role": "boss"}]}',
     "calls/a.json: segments[0].role 'boss' is not a role; use manager, client or unknown"),
    ("a.json", '[{"start": 0, "end": 1, "text": "x", "channel": "left"}]',
     "calls/a.json: segments[0].channel is 'left'; use 0 (left) or 1 (right)"),
    ("a.json", '[{"start": 0, "end": 1, "text": "x", "words": [{"word": "x", "start": 0, "end": 1, "probability": "high"}]}]',
     "calls/a.json: segments[0].words[0] probability is 'high'; expected a number 0-1"),
    ("a.json", '[{"start": 0, "end": 1, "text": "x", "words": ["x"]}]',
     "calls/a.json: segments[0].words[0] must be {start, end, word} or [start, end, word]"),
    ("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\nno timing here\n",
     "calls/a.srt:5: expected a cue timing such as '00:00:01,000 --> 00:00:03,500'; each cue is a "
     "timing line, its text and a blank line"),
    ("a.vtt", "WEBVTT\n\nhello\n",
     "calls/a.vtt:3: expected a cue timing such as '00:01.000 --> 00:03.500'; each cue is a timing "
     "line, its text and a blank line"),
    ("a.vtt", "WEBVTT\n\n", "calls/a.vtt: no cues with text found; is this a subtitle file?"),
    # Nested too deeply for the JSON reader (RecursionError, not a per-file error, before).
    ("a.json", "[" * 100_000 + "]" * 100_000,
     "calls/a.json: the JSON is nested too deeply to be a transcript; export it again"),
    ("a.txt", '{"a":' * 50_000 + "1" + "}" * 50_000,
     "calls/a.txt: the JSON is nested too deeply to be a transcript; export it again"),
]


@pytest.mark.parametrize("name,content,message", ERRORS)
def test_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / name).write_text(content, encoding="utf-8")
    with pytest.raises(TranscriptFormatError) as e:
        load_transcript(Path("calls") / name)
    assert str(e.value) == message
    assert isinstance(e.value, QAError)


def test_bad_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # 0x98 is undefined in Windows-1251 and 0xff is never valid UTF-8.
    Path("a.txt").write_bytes(b"Manager: \x98\xff\n")
    with pytest.raises(TranscriptFormatError) as e:
        load_transcript("a.txt")
    assert str(e.value) == "a.txt: cannot decode the text as UTF-8 or Windows-1251; save it as UTF-8"


def test_json_escapes_of_half_a_surrogate_pair_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"meta": {"manager": "iv\\udc80"}, "utterances": [{"role": "manager", "start": 0, '
                    '"end": 1, "text": "hi \\ud800 there \\ud83d\\ude00"}]}', encoding="utf-8")
    t = load_transcript(path)
    assert t.utterances[0].text == "hi \ufffd there \U0001f600"  # a whole pair stays an emoji
    assert t.meta.manager == "iv\ufffd"
    t.to_json().encode("utf-8")  # what the workspace stores


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TranscriptFormatError) as e:
        load_transcript("missing.txt")
    assert str(e.value) == "missing.txt: cannot read the file (No such file or directory)"


def test_unknown_label_without_mapping_and_bad_mapping(tmp_path: Path) -> None:
    path = tmp_path / "call.txt"
    path.write_text("Анна: Добрый день!\n", encoding="utf-8")
    with pytest.raises(TranscriptFormatError, match=r"call.txt:1: unknown speaker label 'Анна'"):
        load_transcript(path)
    with pytest.raises(TranscriptFormatError) as e:
        load_transcript(path, speaker_roles={"Анна": "boss"})
    assert str(e.value) == "speaker_roles: 'boss' (for speaker 'Анна') is not a role; use manager, client or unknown"


@pytest.mark.parametrize(
    "kwargs",
    [{"manager_channel": "middle"}, {"manager_channel": 2}, {"words_per_second": 0}, {"turn_gap": -1}],
)
def test_bad_options(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ImportOptions(**kwargs)


# ---- finding files -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,expected",
    [("a.json", True), ("a.SRT", True), ("a.vtt", True), ("a.txt", True), ("a.mp3", False),
     ("a.csv", False), ("json", False)],
)
def test_is_transcript_file(name: str, expected: bool) -> None:
    assert is_transcript_file(name) is expected
    assert set(TRANSCRIPT_EXTENSIONS) == {".json", ".srt", ".vtt", ".txt"}


def test_every_fixture_is_found_and_loads() -> None:
    from qa.pipeline import discover

    audio, found, failed = discover([FIXTURES])
    assert not audio and not failed
    assert sorted(p.name for p in found) == sorted(FILE_CASES)
    for path in found:
        assert load_transcript(path).utterances


def test_segments_dumped_from_faster_whisper_dataclasses(tmp_path: Path) -> None:
    # What a user gets with json.dump([asdict(s) for s in model.transcribe(...)[0]]).
    fw = pytest.importorskip("faster_whisper.transcribe")
    from dataclasses import asdict

    segments = [
        fw.Segment(id=1, seek=0, start=0.0, end=1.2, text=" Добрый день.", tokens=[1, 2],
                   avg_logprob=-0.1, compression_ratio=1.1, no_speech_prob=0.02,
                   words=[fw.Word(0.0, 0.5, " Добрый", 0.9), fw.Word(0.5, 1.2, " день.", 0.8)],
                   temperature=0.0),
        fw.Segment(id=2, seek=0, start=1.5, end=2.0, text=" Да.", tokens=[3], avg_logprob=-0.3,
                   compression_ratio=1.0, no_speech_prob=0.1, words=None, temperature=0.0),
    ]
    path = tmp_path / "fw.json"
    path.write_text(json.dumps([asdict(s) for s in segments], ensure_ascii=False), encoding="utf-8")
    t = load_transcript(path)
    assert rows(t) == [(U, 0.0, 1.2, "Добрый день."), (U, 1.5, 2.0, "Да.")]
    assert t.utterances[0].words == (Word(0.0, 0.5, "Добрый", 0.9), Word(0.5, 1.2, "день.", 0.8))
    assert t.options == {"import_format": "faster-whisper"}
