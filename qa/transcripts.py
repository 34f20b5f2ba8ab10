"""Transcript records: what every later step (matching, scoring, mining, reports) reads.

A :class:`Transcript` is one call: its :class:`CallMeta` and a time-ordered list of
:class:`Utterance` s, each with a speaker role and optional word timings. It round-trips
through the project's JSON format (``to_dict`` / ``from_dict``), which is also what
``qa transcribe --output DIR`` writes as ``<call_id>.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import TranscriptFormatError

MANAGER = "manager"
CLIENT = "client"
UNKNOWN = "unknown"
ROLES = (MANAGER, CLIENT, UNKNOWN)

#: Version of the JSON layout written by :meth:`Transcript.to_dict`.
FORMAT_VERSION = 1


def clock(seconds: float | None) -> str:
    """Seconds as a clock for people: ``75.4`` -> ``"01:15"``, an hour or more ->
    ``"1:02:05"``, ``None`` / NaN -> ``""``.

    The one clock format: the library hands seconds around and only output edges (CLI
    tables, pages, playlists, score details) format them with this.
    """
    if seconds is None or seconds != seconds:  # NaN
        return ""
    s = int(max(0.0, float(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span (seconds) and recogniser probability."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Utterance:
    """One turn of speech by one side of the call.

    ``role`` is ``manager``, ``client`` or ``unknown`` (mono recordings without
    attribution). Times are seconds from the start of the recording.
    """

    role: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    channel: int | None = None
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class CallMeta:
    """What we know about a call besides its speech.

    Comes from the file name (template), a manifest CSV, or both (manifest wins).
    ``extra`` keeps manifest columns we have no field for.
    """

    call_id: str
    source: str | None = None
    manager: str | None = None
    started_at: str | None = None  # ISO 8601, local time of the PBX
    direction: str | None = None  # "in" | "out"
    client_phone: str | None = None
    duration: float | None = None
    outcome: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.call_id or not str(self.call_id).strip():
            raise ValueError("call_id must not be empty")
        self.call_id = str(self.call_id)

    def merged(self, other: CallMeta | None) -> CallMeta:
        """Return a copy where non-empty fields of ``other`` override ours."""
        if other is None:
            return replace(self, extra=dict(self.extra))
        values = asdict(self)
        for key, value in asdict(other).items():
            if key == "extra":
                values["extra"] = {**self.extra, **other.extra}
            elif value not in (None, ""):
                values[key] = value
        return CallMeta(**values)


@dataclass
class Transcript:
    """One call, transcribed or imported."""

    meta: CallMeta
    utterances: list[Utterance]
    language: str | None = None
    duration: float | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.utterances = sorted(self.utterances, key=lambda u: (u.start, u.end))

    @property
    def call_id(self) -> str:
        return self.meta.call_id

    @property
    def roles(self) -> set[str]:
        return {u.role for u in self.utterances}

    @property
    def is_mono(self) -> bool:
        """True when no turn is attributed to a side (role ``unknown`` only)."""
        return bool(self.utterances) and self.roles == {UNKNOWN}

    @property
    def end_time(self) -> float:
        if self.duration:
            return self.duration
        return max((u.end for u in self.utterances), default=0.0)

    def by_role(self, role: str) -> list[Utterance]:
        return [u for u in self.utterances if u.role == role]

    # -- turns ----------------------------------------------------------------
    def turn_ids(self) -> list[int]:
        """Turn number of each utterance: a turn is a run of one side's utterances; on
        mono (role ``unknown``) every utterance is a turn of its own."""
        ids: list[int] = []
        turn = -1
        prev: str | None = None
        for u in self.utterances:
            if u.role != prev or u.role == UNKNOWN:
                turn += 1
                prev = u.role
            ids.append(turn)
        return ids

    def answer_window(
        self, after: int, turns: int, mono_segments: int = 2, *, turn_ids: list[int] | None = None
    ) -> list[int]:
        """Indexes of the manager's utterances in the next ``turns`` manager turns after
        utterance ``after``: where an objection raised there may be answered.

        On mono, where there are no sides, the next ``turns x mono_segments`` utterances
        stand for the turns. Scoring searches the handling steps here and mining reads the
        answers here, so both mean the same window. ``turn_ids``: :meth:`turn_ids`, when
        the caller has it already.
        """
        ids = turn_ids if turn_ids is not None else self.turn_ids()
        utts = self.utterances
        out: list[int] = []
        seen: set[int] = set()
        for i in range(after + 1, len(utts)):
            role = utts[i].role
            if role == UNKNOWN:
                if len(out) >= turns * mono_segments:
                    break
                out.append(i)
                continue
            if role == MANAGER:
                if ids[i] not in seen and len(seen) >= turns:
                    break
                seen.add(ids[i])
                out.append(i)
        return out

    def text(self, roles: Iterable[str] | None = None) -> str:
        wanted = set(roles) if roles is not None else None
        return " ".join(u.text for u in self.utterances if wanted is None or u.role in wanted)

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "call-qa",
            "version": FORMAT_VERSION,
            "call_id": self.meta.call_id,
            "meta": asdict(self.meta),
            "language": self.language,
            "duration": self.duration,
            "model": self.model,
            "options": self.options,
            "quality": self.quality,
            "utterances": [
                {
                    "role": u.role,
                    "start": round(u.start, 3),
                    "end": round(u.end, 3),
                    "text": u.text,
                    "channel": u.channel,
                    "confidence": u.confidence,
                    "words": [
                        [round(w.start, 3), round(w.end, 3), w.text, round(w.probability, 4)]
                        for w in u.words
                    ],
                }
                for u in self.utterances
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> Transcript:
        """Build from the project's JSON layout. Raises :class:`TranscriptFormatError`."""
        where = source or "<transcript>"
        if not isinstance(data, dict) or not isinstance(data.get("utterances"), list):
            raise TranscriptFormatError(
                f"{where}: expected a JSON object with an 'utterances' list"
            )
        meta_data = dict(data.get("meta") or {})
        meta_data.setdefault("call_id", data.get("call_id") or (Path(where).stem if source else None))
        known = set(CallMeta.__dataclass_fields__)
        extra = {k: str(v) for k, v in meta_data.items() if k not in known}
        meta_data = {k: v for k, v in meta_data.items() if k in known}
        meta_data["extra"] = {**extra, **(meta_data.get("extra") or {})}
        try:
            meta = CallMeta(**meta_data)
            utterances = [_utterance_from_dict(u) for u in data["utterances"]]
        except (TypeError, ValueError, KeyError) as e:
            raise TranscriptFormatError(f"{where}: invalid transcript: {e}") from e
        return cls(
            meta=meta,
            utterances=utterances,
            language=data.get("language"),
            duration=data.get("duration"),
            model=data.get("model"),
            options=dict(data.get("options") or {}),
            quality=dict(data.get("quality") or {}),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None) -> Transcript:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise TranscriptFormatError(f"{source or '<transcript>'}: not valid JSON: {e}") from e
        return cls.from_dict(data, source=source)


def _utterance_from_dict(u: dict[str, Any]) -> Utterance:
    words: list[Word] = []
    for w in u.get("words") or ():
        if isinstance(w, dict):
            prob = w.get("probability", w.get("score"))
            words.append(
                Word(
                    float(w["start"]),
                    float(w["end"]),
                    str(w.get("word", w.get("text", ""))),
                    float(prob) if prob is not None else 1.0,
                )
            )
        else:
            words.append(Word(float(w[0]), float(w[1]), str(w[2]), float(w[3]) if len(w) > 3 else 1.0))
    start = float(u.get("start") or 0.0)
    end_raw = u.get("end")
    return Utterance(
        role=str(u.get("role") or UNKNOWN).lower(),
        start=start,
        end=float(end_raw) if end_raw is not None else start,
        text=str(u.get("text") or "").strip(),
        words=tuple(words),
        channel=u.get("channel"),
        confidence=u.get("confidence"),
    )
