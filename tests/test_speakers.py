"""qa.speakers: two voices told apart on a mono stream, and which one is the manager."""

from __future__ import annotations

import numpy as np
import pytest

from qa.speakers import attribute_roles, split_two, voice_print
from qa.transcripts import Utterance, Word

SR = 16000


def voice(f0: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A vowel-like harmonic sound at ``f0`` with a little jitter, band-limited by its harmonics."""
    t = np.arange(int(seconds * SR)) / SR
    f = f0 * (1 + 0.01 * rng.standard_normal())
    x = sum((0.3 / k) * np.sin(2 * np.pi * k * f * t) for k in range(2, 12) if k * f < 3400)
    return (x * np.hanning(t.size) + 0.002 * rng.standard_normal(t.size)).astype(np.float32)


def call(turns: list[tuple[str, str]], pitch: dict[str, float]) -> tuple[list[Utterance], np.ndarray, list[str]]:
    """Each turn's words 0.4 s long, 0.05 s apart; 0.5 s between turns. Returns the mono
    utterances (role unknown, one per turn), the audio and the true speaker per word."""
    rng = np.random.default_rng(3)
    audio: list[np.ndarray] = []
    utterances, truth = [], []
    t = 0.5
    audio.append(np.zeros(int(t * SR), dtype=np.float32))
    for who, text in turns:
        words = []
        for w in text.split():
            audio.append(voice(pitch[who], 0.4, rng))
            words.append(Word(round(t, 3), round(t + 0.4, 3), w, 0.9))
            truth.append(who)
            audio.append(np.zeros(int(0.05 * SR), dtype=np.float32))
            t += 0.45
        audio.append(np.zeros(int(0.5 * SR), dtype=np.float32))
        t += 0.5
        utterances.append(Utterance("unknown", words[0].start, words[-1].end, text, tuple(words)))
    return utterances, np.concatenate(audio), truth


TURNS = [
    ("m", "Добрый день компания Новый дом меня зовут Анна"),
    ("c", "Здравствуйте я по поводу квартиры"),
    ("m", "Вам удобно говорить пару минут"),
    ("c", "Да удобно"),
    ("m", "Приглашаю вас на просмотр в субботу"),
    ("c", "Я подумаю и перезвоню"),
]


def test_voice_print_pitch_follows_the_fundamental_even_when_the_line_cuts_it():
    rng = np.random.default_rng(0)
    low, high = voice_print(voice(110, 0.5, rng)), voice_print(voice(180, 0.5, rng))
    assert np.exp(low[0]) == pytest.approx(110, rel=0.08) and np.exp(high[0]) == pytest.approx(180, rel=0.08)
    assert low.shape == (13,)


def test_split_two_separates_two_groups_and_reports_none_for_one():
    rng = np.random.default_rng(1)
    two = np.concatenate([rng.normal(0, 0.1, (10, 3)), rng.normal(3, 0.1, (10, 3))])
    labels, separation = split_two(two, np.ones(20))
    assert len(set(labels[:10])) == 1 and len(set(labels[10:])) == 1 and labels[0] != labels[10]
    assert separation > 5
    _, one = split_two(rng.normal(0, 1, (20, 3)), np.ones(20))
    assert one < 3.0  # MIN_SEPARATION: one cloud cut in two is not two speakers


@pytest.mark.parametrize("direction", ["in", "out", None])
def test_mono_call_gets_manager_and_client(direction):
    utterances, audio, truth = call(TURNS, {"m": 110, "c": 180})
    out, info = attribute_roles(utterances, audio, direction=direction, language="ru")
    assert info["roles"] == "manager/client", info
    role = {w.start: u.role for u in out for w in u.words}
    words = [w for u in utterances for w in u.words]
    right = sum(role[w.start] == ("manager" if who == "m" else "client") for w, who in zip(words, truth))
    assert right / len(words) >= 0.95
    client_text = " ".join(u.text for u in out if u.role == "client").lower()
    assert "я подумаю и перезвоню" in client_text  # the client's words never become the manager's


def test_one_voice_or_no_evidence_keeps_unknown():
    utterances, audio, _ = call(TURNS, {"m": 140, "c": 140})
    out, info = attribute_roles(utterances, audio, direction="in", language="ru")
    assert info["roles"].startswith("unknown: the voices are not clearly two"), info
    assert {u.role for u in out} == {"unknown"}
    # two voices, but nothing says who the manager is: no phrases, no direction, equal talk
    plain = [("m", "раз два три"), ("c", "четыре пять шесть"), ("m", "семь восемь девять"), ("c", "один два три")]
    utterances, audio, _ = call(plain, {"m": 110, "c": 180})
    out, info = attribute_roles(utterances, audio, direction=None, language="ru")
    assert info["roles"].startswith("unknown: two voices, but too little evidence"), info
    assert {u.role for u in out} == {"unknown"}
    # too little speech
    out, info = attribute_roles(utterances[:1], audio, direction="in", language="ru")
    assert info["roles"].startswith("unknown: too little speech")
