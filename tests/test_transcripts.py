"""Transcript records: turns, the objection answer window, the one clock format."""

from __future__ import annotations

import pytest

from qa.transcripts import CallMeta, Transcript, Utterance, clock

M, C, U = "manager", "client", "unknown"


def _t(*turns: tuple[str, float, str]) -> Transcript:
    return Transcript(CallMeta("x"), [Utterance(r, s, s + 2.0, text) for r, s, text in turns])


STEREO = _t(
    (M, 0, "Good afternoon."), (C, 3, "It is too expensive."),      # 0, 1
    (M, 6, "I understand."), (M, 8.5, "What are you comparing with?"),  # 2, 3: one turn
    (C, 11, "Another agency."), (M, 14, "The price includes parking."),  # 4, 5
    (C, 17, "Ok."), (M, 20, "Shall we book a viewing?"),            # 6, 7
)
MONO = _t(*((U, 3.0 * k, f"part {k}") for k in range(8)))


def test_turn_ids() -> None:
    assert STEREO.turn_ids() == [0, 1, 2, 2, 3, 4, 5, 6]
    assert MONO.turn_ids() == list(range(8))  # no sides: every utterance is a turn


@pytest.mark.parametrize(
    "after, turns, expected",
    [
        (1, 1, [2, 3]),  # the manager's next turn: both of its utterances
        (1, 2, [2, 3, 5]),
        (1, 3, [2, 3, 5, 7]),
        (4, 1, [5]),
        (7, 2, []),  # nothing after the last utterance
    ],
)
def test_answer_window_stereo(after: int, turns: int, expected: list[int]) -> None:
    assert STEREO.answer_window(after, turns) == expected
    assert STEREO.answer_window(after, turns, turn_ids=STEREO.turn_ids()) == expected


def test_answer_window_mono_counts_utterances() -> None:
    assert MONO.answer_window(1, 1) == [2, 3]  # 1 turn x 2 utterances
    assert MONO.answer_window(1, 2, mono_segments=1) == [2, 3]
    assert MONO.answer_window(5, 2) == [6, 7]


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "00:00"), (7.9, "00:07"), (75.4, "01:15"), (3599.9, "59:59"), (3600, "1:00:00"),
     (3725.9, "1:02:05"), (-3, "00:00"), (None, ""), (float("nan"), "")],
)
def test_clock(seconds: float | None, text: str) -> None:
    assert clock(seconds) == text
