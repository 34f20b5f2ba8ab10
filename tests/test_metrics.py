"""qa.metrics: conversation metrics, hand-computed."""

from __future__ import annotations

import pytest

from qa.metrics import METRIC_KEYS, MetricsOptions, call_metrics
from qa.transcripts import CallMeta, Transcript, Utterance


def call(utts: list[tuple[str, float, float, str]], duration: float | None = None, language: str | None = "ru") -> Transcript:
    return Transcript(CallMeta("c"), [Utterance(*u) for u in utts], language=language, duration=duration)


STEREO = [
    ("manager", 0, 10, "Добрый день! Как вас зовут? Какой у вас бюджет?"),  # 9 words, 2 questions
    ("client", 10.5, 12, "Иван."),
    ("manager", 12, 20, "Отлично. Когда планируете переезд?"),  # 4 words, 1 question
    ("client", 19, 25, "Летом, наверное, но это дорого."),  # starts 1 s before the manager ends
    ("manager", 22, 22.5, "Ага."),  # a backchannel under the client's speech
    ("manager", 30, 40, "Понимаю. Предлагаю посмотреть квартиру в субботу."),  # 6 words, after 5 s of silence
    ("client", 40.2, 41, "Хорошо"),  # short: does not end the monologue
    ("manager", 41.5, 50, "Тогда записываю вас"),  # 3 words
]


def test_stereo_call_hand_computed() -> None:
    m = call_metrics(call(STEREO))
    # manager: 10 + 8 + 0.5 + 10 + 8.5 = 37 s; client: 1.5 + 6 + 0.8 = 8.3 s
    # speech (union): [0,10] [10.5,25] [30,40] [40.2,41] [41.5,50] = 10 + 14.5 + 10 + 0.8 + 8.5 = 43.8 s
    assert m == {
        "duration_s": 50,
        "speech_s": 43.8,
        "manager_talk_s": 37.0,
        "client_talk_s": 8.3,
        "manager_talk_share": 0.817,  # 37 / 45.3
        "client_talk_share": 0.183,  # 8.3 / 45.3
        "talk_listen_ratio": 4.458,  # 37 / 8.3
        "longest_monologue_s": 20.0,  # 30 -> 50: the 0.8 s "Хорошо" and a 1.5 s gap do not cut it
        "manager_questions": 3,
        "manager_interruptions": 0,  # "Ага." is a backchannel
        "client_interruptions": 1,  # at 19 s the manager talks until 20 s (> 19 + 0.5)
        "long_silences": 1,  # 25 -> 30
        "long_silence_s": 5.0,
        "manager_wpm": 37.3,  # 23 words / (37 s / 60)
    }
    assert list(m) == list(METRIC_KEYS)


def test_mono_side_metrics_are_none_not_zero() -> None:
    mono = [("unknown", s, e, t) for _, s, e, t in STEREO]
    m = call_metrics(call(mono))
    assert m["duration_s"] == 50 and m["speech_s"] == 43.8
    assert m["long_silences"] == 1 and m["long_silence_s"] == 5.0
    for key in (
        "manager_talk_s", "client_talk_s", "manager_talk_share", "client_talk_share", "talk_listen_ratio",
        "longest_monologue_s", "manager_questions", "manager_interruptions", "client_interruptions", "manager_wpm",
    ):
        assert m[key] is None, key


def test_empty_call() -> None:
    m = call_metrics(call([], duration=None))
    assert m["duration_s"] == 0 and m["speech_s"] == 0 and m["long_silences"] == 0
    assert m["manager_talk_share"] is None and m["manager_wpm"] is None


def test_duration_from_the_transcript() -> None:
    assert call_metrics(call(STEREO, duration=62.5))["duration_s"] == 62.5


def test_client_only_call() -> None:
    m = call_metrics(call([("client", 0, 4, "Алло? Алло?")]))
    assert m["manager_talk_s"] == 0 and m["client_talk_s"] == 4.0
    assert m["manager_talk_share"] == 0 and m["client_talk_share"] == 1
    assert m["talk_listen_ratio"] == 0 and m["manager_wpm"] is None and m["manager_questions"] == 0


@pytest.mark.parametrize(
    ("utts", "language", "expected"),
    [
        # no sentence punctuation anywhere: utterances with a question word count
        (
            [("manager", 0, 3, "добрый день как вас зовут"), ("manager", 3, 5, "какой бюджет"), ("manager", 5, 6, "отлично"), ("client", 6, 7, "иван")],
            "ru",
            2,
        ),
        ([("manager", 0, 3, "what is your budget"), ("manager", 3, 4, "great")], "en", 1),
        ([("manager", 0, 3, "what is your budget")], None, 0),  # unknown language: no question words
        # punctuation present: only "?" counts, question words do not
        ([("manager", 0, 3, "Как дела. Какой бюджет?? Отлично!")], "ru", 1),
    ],
)
def test_questions(utts: list[tuple[str, float, float, str]], language: str | None, expected: int) -> None:
    assert call_metrics(call(utts, language=language))["manager_questions"] == expected


@pytest.mark.parametrize(
    ("client_start", "expected"),
    [(19.0, 1), (19.6, 0), (21.0, 0)],  # overlap 1 s: counted; 0.4 s: tolerance; none: not
)
def test_interruption_tolerance(client_start: float, expected: int) -> None:
    utts = [("manager", 0, 20, "Расскажу подробнее про условия."), ("client", client_start, 25, "Подождите, это дорого.")]
    assert call_metrics(call(utts))["client_interruptions"] == expected


def test_options() -> None:
    # with a 6 s silence threshold the 5 s gap is not long, and the monologue runs on
    m = call_metrics(call(STEREO), options=MetricsOptions(long_silence_s=6.0))
    assert m["long_silences"] == 0
    assert m["longest_monologue_s"] == 20.0  # the 6 s client turn still cuts it at 19-25
    with pytest.raises(ValueError, match="long_silence_s"):
        MetricsOptions(long_silence_s=-1)
