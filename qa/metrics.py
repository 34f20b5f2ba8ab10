"""Conversation metrics of one call: who talked how much, questions, interruptions, silences.

:func:`call_metrics` reads a :class:`~qa.transcripts.Transcript` (times in seconds) and hands
a flat dict to :mod:`qa.scoring` (stored as ``metrics`` of each score, read by scorecards).
Side-specific metrics need to know who spoke: on a mono recording (every utterance ``unknown``)
they are ``None``, never 0. A ratio whose denominator is 0 is ``None`` too.

Keys (see :data:`METRIC_KEYS`):

``duration_s``            call length: the transcript's duration, else the end of the last utterance
``speech_s``              time anyone speaks (overlaps counted once)
``manager_talk_s``        time the manager speaks (union of the manager's utterances)
``client_talk_s``         time the client speaks
``manager_talk_share``    manager_talk_s / (manager_talk_s + client_talk_s), 0-1
``client_talk_share``     client_talk_s / (manager_talk_s + client_talk_s), 0-1
``talk_listen_ratio``     manager_talk_s / client_talk_s
``longest_monologue_s``   longest stretch of manager speech: consecutive manager utterances whose
                          gaps are shorter than ``long_silence_s`` and that no client utterance of
                          ``backchannel_s`` or longer cuts ("ага" does not end a monologue)
``manager_questions``     questions the manager asked: sentences ending in "?"; when the transcript
                          has no sentence punctuation at all (the recogniser dropped it), manager
                          utterances containing a question word of the language
                          (``question_words`` in ``qa/data/language/<lang>.yaml``)
``manager_interruptions`` manager turns that start while the client is speaking, with the client
                          still speaking ``interruption_tolerance_s`` later; a turn starts where the
                          utterance before it is the other side's; turns shorter than
                          ``backchannel_s`` do not count
``client_interruptions``  the same, the client interrupting the manager
``long_silences``         gaps of at least ``long_silence_s`` where nobody speaks, between the first
                          and the last speech of the call
``long_silence_s``        their total length
``manager_wpm``           manager's speech rate: words per minute of manager talk time
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .normalize import load_language, normalizer
from .transcripts import CLIENT, MANAGER, Transcript, Utterance

METRIC_KEYS = (
    "duration_s",
    "speech_s",
    "manager_talk_s",
    "client_talk_s",
    "manager_talk_share",
    "client_talk_share",
    "talk_listen_ratio",
    "longest_monologue_s",
    "manager_questions",
    "manager_interruptions",
    "client_interruptions",
    "long_silences",
    "long_silence_s",
    "manager_wpm",
)

_SENTENCE_END = re.compile(r"[.!?…]")
_QUESTION = re.compile(r"\?+")


@dataclass(frozen=True)
class MetricsOptions:
    """Thresholds of the conversation metrics (seconds)."""

    #: A gap where nobody speaks at least this long is a long silence (and ends a monologue).
    long_silence_s: float = 3.0
    #: A turn starting while the other side speaks is an interruption only if the other side
    #: keeps speaking at least this long after it starts (natural turn-taking overlaps a little).
    interruption_tolerance_s: float = 0.5
    #: Turns shorter than this ("ага", "yes") are backchannels: not interruptions, and they do
    #: not cut the other side's monologue.
    backchannel_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("long_silence_s", "interruption_tolerance_s", "backchannel_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _total(intervals: list[tuple[float, float]]) -> float:
    return sum(e - s for s, e in intervals)


def _interruptions(utts: list[Utterance], by: str, of: str, opts: MetricsOptions) -> int:
    """Turns of ``by`` that start while ``of`` is still speaking (beyond the tolerance).

    A turn starts at an utterance whose predecessor (in time) is the other side's; one at
    least ``backchannel_s`` long counts ("ага" under the other side's speech does not).
    """
    sided = [u for u in utts if u.role in (by, of)]
    count = 0
    other_end = float("-inf")  # latest end of the other side's utterances started so far
    for k, u in enumerate(sided):
        if (
            u.role == by
            and k > 0
            and sided[k - 1].role != by
            and u.duration >= opts.backchannel_s
            and other_end > u.start + opts.interruption_tolerance_s
        ):
            count += 1
        if u.role == of:
            other_end = max(other_end, u.end)
    return count


def _longest_monologue(utts: list[Utterance], opts: MetricsOptions) -> float:
    best = 0.0
    run_start: float | None = None
    run_end = 0.0
    for u in utts:
        if u.role == MANAGER:
            if run_start is None or u.start - run_end >= opts.long_silence_s:
                run_start, run_end = u.start, u.end
            else:
                run_end = max(run_end, u.end)
            best = max(best, run_end - run_start)
        elif u.role == CLIENT and u.duration >= opts.backchannel_s:
            run_start = None
    return best


def _questions(utts: list[Utterance], language: str | None) -> int:
    punctuated = any(_SENTENCE_END.search(u.text) for u in utts)
    manager = [u for u in utts if u.role == MANAGER]
    if punctuated:
        return sum(len(_QUESTION.findall(u.text)) for u in manager)
    words = load_language(language).question_words
    if not words:
        return 0
    norm = normalizer(language, "plain")
    return sum(1 for u in manager if any(t in words for t in norm.tokens(u.text)))


def _round(v: float | None, digits: int = 2) -> float | None:
    return None if v is None else round(v, digits)


def call_metrics(
    transcript: Transcript,
    language: str | None = None,
    options: MetricsOptions | None = None,
) -> dict[str, Any]:
    """The conversation metrics of one call (keys: :data:`METRIC_KEYS`).

    ``language`` picks the question words for unpunctuated transcripts; default: the
    transcript's language.
    """
    opts = options or MetricsOptions()
    utts = [u for u in transcript.utterances if u.text.strip() or u.duration > 0]
    lang = language or transcript.language
    speech = _union((u.start, u.end) for u in utts)
    gaps = [b[0] - a[1] for a, b in zip(speech, speech[1:])]
    silences = [g for g in gaps if g >= opts.long_silence_s]
    out: dict[str, Any] = {
        "duration_s": _round(transcript.end_time),
        "speech_s": _round(_total(speech)),
        "long_silences": len(silences),
        "long_silence_s": _round(sum(silences)),
    }
    sided = bool(utts) and any(u.role in (MANAGER, CLIENT) for u in utts)
    if not sided:  # mono, or no speech: nothing is known about the sides
        out.update({k: None for k in METRIC_KEYS if k not in out})
        return {k: out[k] for k in METRIC_KEYS}
    manager_talk = _total(_union((u.start, u.end) for u in utts if u.role == MANAGER))
    client_talk = _total(_union((u.start, u.end) for u in utts if u.role == CLIENT))
    both = manager_talk + client_talk
    manager_words = sum(len(u.text.split()) for u in utts if u.role == MANAGER)
    out.update(
        {
            "manager_talk_s": _round(manager_talk),
            "client_talk_s": _round(client_talk),
            "manager_talk_share": _round(manager_talk / both, 3) if both else None,
            "client_talk_share": _round(client_talk / both, 3) if both else None,
            "talk_listen_ratio": _round(manager_talk / client_talk, 3) if client_talk else None,
            "longest_monologue_s": _round(_longest_monologue(utts, opts)),
            "manager_questions": _questions(utts, lang),
            "manager_interruptions": _interruptions(utts, MANAGER, CLIENT, opts),
            "client_interruptions": _interruptions(utts, CLIENT, MANAGER, opts),
            "manager_wpm": _round(manager_words / (manager_talk / 60.0), 1) if manager_talk else None,
        }
    )
    return {k: out[k] for k in METRIC_KEYS}
