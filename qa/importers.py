"""Import transcripts made elsewhere, so calls can be scored without their audio.

Reads a transcript file into a :class:`~qa.transcripts.Transcript`, the same record the
transcriber produces, which the pipeline stores and scores like any other call.
Supported (detected by extension, then by content):

* the project's JSON (what ``qa transcribe --output`` writes: a top-level ``utterances``
  list of ``{role, start, end, text, words?}``);
* faster-whisper / openai-whisper JSON: a list of segments or ``{"segments": [...]}`` with
  ``start``, ``end``, ``text`` and optional ``words`` (``{start, end, word, probability}``);
  roles come from a ``role``, ``speaker`` or ``channel`` key, else ``unknown``;
* whisperX JSON: segments with ``speaker`` and ``words`` (``{word, start, end, score}``);
  diarisation labels such as ``SPEAKER_00`` stay ``unknown`` unless the caller maps them
  (``speaker_roles={"SPEAKER_00": "manager"}``);
* SRT and WebVTT subtitles: one utterance per cue (split where one cue holds several
  speakers); the speaker from a ``Manager:`` prefix or a VTT ``<v Manager>`` voice tag,
  carried over to following cues without one;
* plain text, one turn per line: ``Manager: text``, ``M: text``, ``Менеджер: text``,
  ``Клиент: ...``, optionally after a time (``[mm:ss]``, ``[hh:mm:ss]``, ``(mm:ss)``,
  ``mm:ss`` or a range ``[00:12 - 00:15]``); lines without a label continue the previous
  turn; blank lines and lines starting with ``#`` are skipped. Missing times are estimated
  from word counts (:attr:`ImportOptions.words_per_second`) so time windows in scripts
  still work; a turn with a time but no end lasts until the next turn starts, at most twice
  its estimated length.

Speaker labels and their roles (Russian and English) are in ``qa/data/roles.yaml``.
One utterance is made per segment, cue or labelled line, as the source has them.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import TranscriptFormatError
from .paths import displayable
from .transcripts import CLIENT, MANAGER, ROLES, UNKNOWN, CallMeta, Transcript, Utterance, Word

__all__ = [
    "TRANSCRIPT_EXTENSIONS",
    "ImportOptions",
    "is_transcript_file",
    "load_transcript",
    "speaker_role",
]

#: File extensions read as transcripts (``.txt`` holding SRT/VTT/JSON is detected too).
TRANSCRIPT_EXTENSIONS = (".json", ".srt", ".vtt", ".txt")

_SUPPORTED = (
    ".json (call-qa, faster-whisper, whisperX), .srt, .vtt, "
    ".txt (one turn per line: 'Manager: text')"
)
_LABEL_HINT = "start lines with 'Manager:' or 'Client:' (or M:/C:)"
_DATA_FILE = Path(__file__).parent / "data" / "roles.yaml"
_ENCODINGS = ("utf-8-sig", "cp1251")


@dataclass(frozen=True)
class ImportOptions:
    """How to read transcripts made elsewhere. Every field has a documented default.

    ``speaker_roles``: extra speaker labels and their roles for this import, e.g.
    ``{"SPEAKER_00": "manager", "Anna": "client"}``; values are roles or role aliases.
    ``manager_channel``: in segment JSON with a ``channel`` key, the manager's channel:
    ``0``/``"left"`` (default) or ``1``/``"right"``; the other channel is the client.
    ``words_per_second``: speaking rate used to estimate missing times, 2.5 words per
    second (about 150 words a minute, an ordinary conversational pace).
    ``min_turn_seconds``: shortest estimated turn, 0.5 s.
    ``turn_gap``: pause put between turns whose times are estimated, 0.3 s.
    """

    speaker_roles: Mapping[str, str] = field(default_factory=dict)
    manager_channel: int | str = 0
    words_per_second: float = 2.5
    min_turn_seconds: float = 0.5
    turn_gap: float = 0.3

    def __post_init__(self) -> None:
        channel = self.manager_channel
        if isinstance(channel, str):
            named = {"left": 0, "right": 1, "0": 0, "1": 1}
            if channel.strip().lower() not in named:
                raise ValueError(f"manager_channel must be left, right, 0 or 1, got {channel!r}")
            object.__setattr__(self, "manager_channel", named[channel.strip().lower()])
        elif channel not in (0, 1):
            raise ValueError(f"manager_channel must be left, right, 0 or 1, got {channel!r}")
        if not self.words_per_second > 0:
            raise ValueError(f"words_per_second must be > 0, got {self.words_per_second}")
        if self.min_turn_seconds < 0 or self.turn_gap < 0:
            raise ValueError("min_turn_seconds and turn_gap must be >= 0")


# ---- finding files ----------------------------------------------------------------------------
def is_transcript_file(path: str | os.PathLike[str]) -> bool:
    """True when the file's extension is one we import (see :data:`TRANSCRIPT_EXTENSIONS`).

    Only the name is checked; the content is read by :func:`load_transcript`.
    """
    return Path(path).suffix.lower() in TRANSCRIPT_EXTENSIONS


# ---- speaker labels ------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[str, str], tuple[re.Pattern[str], ...]]:
    # yaml is imported here so that importing qa.importers stays cheap.
    import yaml

    try:
        data = yaml.safe_load(_DATA_FILE.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for role, words in data["roles"].items():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}")
            for word in [role, *words]:
                aliases[_label_key(str(word))] = role
        patterns = tuple(
            re.compile(str(p), re.IGNORECASE) for p in data.get("diarisation_labels") or ()
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError, re.error) as e:
        raise TranscriptFormatError(
            f"{_DATA_FILE}: cannot read the speaker labels ({e}); reinstall call-qa"
        ) from e
    return aliases, patterns


def _label_key(label: str) -> str:
    return " ".join(label.split()).strip(" .").casefold()


def speaker_role(label: str, speaker_roles: Mapping[str, str] | None = None) -> str | None:
    """The role a speaker label stands for, or None when it is not a known label.

    ``"Менеджер"``, ``"M"``, ``"agent"`` -> ``manager``; ``"Клиент"``, ``"C"`` -> ``client``;
    a diarisation label such as ``"SPEAKER_01"`` -> ``unknown`` unless ``speaker_roles``
    maps it.
    """
    return _Speakers.build(speaker_roles or {}, "speaker_roles").role_of(label)


@dataclass(frozen=True)
class _Speakers:
    aliases: Mapping[str, str]
    diarisation: tuple[re.Pattern[str], ...]

    @classmethod
    def build(cls, speaker_roles: Mapping[str, str], where: str) -> _Speakers:
        base, patterns = _vocabulary()
        aliases = dict(base)
        for label, role in speaker_roles.items():
            resolved = base.get(_label_key(str(role)))
            if resolved is None:
                raise TranscriptFormatError(
                    f"{where}: {role!r} (for speaker {label!r}) is not a role; "
                    f"use {MANAGER}, {CLIENT} or {UNKNOWN}"
                )
            aliases[_label_key(str(label))] = resolved
        return cls(aliases, patterns)

    def role_of(self, label: str) -> str | None:
        key = _label_key(label)
        if not key:
            return None
        role = self.aliases.get(key)
        if role is not None:
            return role
        if any(p.fullmatch(key) for p in self.diarisation):
            return UNKNOWN
        return None


# ---- reading the file ------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise TranscriptFormatError(f"{where}: cannot read the file ({e.strerror or e})") from e
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Windows Notepad's "Unicode" is UTF-16 with a byte-order mark.
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as e:
            raise TranscriptFormatError(f"{where}: broken UTF-16 text; save it as UTF-8") from e
    else:
        for encoding in _ENCODINGS:
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise TranscriptFormatError(
                f"{where}: cannot decode the text as UTF-8 or Windows-1251; save it as UTF-8"
            )
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise TranscriptFormatError(f"{where}: the file is empty; nothing to import")
    return text


_TS = r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_TS_RE = re.compile(_TS)
_CUE_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s+.*)?$")


def _detect_format(path: Path, text: str) -> str:
    ext = path.suffix.lower()
    head = text.lstrip()
    if ext == ".json":
        return "json"
    if ext == ".vtt" or head.startswith("WEBVTT"):
        return "vtt"
    if ext == ".srt":
        return "srt"
    if ext == ".txt":
        if any(_CUE_TIMING.match(line) for line in head.splitlines()[:5]):
            return "srt"
        if head[:1] in "{[":
            try:
                json.loads(text)
            except ValueError:
                return "text"  # "[00:12] Manager: ..." also starts with a bracket
            except RecursionError:
                return "json"  # nested too deeply: the JSON reader says so, per file
            return "json"
        return "text"
    raise TranscriptFormatError(
        f"{path}: unsupported transcript format '{ext or path.name}'; supported: {_SUPPORTED}"
    )


def load_transcript(
    path: str | os.PathLike[str],
    meta: CallMeta | None = None,
    *,
    speaker_roles: Mapping[str, str] | None = None,
    options: ImportOptions | None = None,
) -> Transcript:
    """Read one transcript file made elsewhere.

    ``meta`` overrides what the file says about the call (its non-empty fields win); the
    call id defaults to the file name without extension. ``speaker_roles`` maps extra
    speaker labels to roles (it adds to ``options.speaker_roles``). Raises
    :class:`TranscriptFormatError` with the file, the line or JSON key, and how to fix it.
    """
    path = Path(path)
    options = options or ImportOptions()
    roles = {**options.speaker_roles, **(speaker_roles or {})}
    speakers = _Speakers.build(roles, "speaker_roles")
    text = _read_text(path)
    fmt = _detect_format(path, text)
    where = displayable(str(path))
    # A blank stem (" .txt") is no id: the whole name is.
    base = CallMeta(call_id=displayable(path.stem if path.stem.strip() else path.name.strip()), source=where)
    try:
        if fmt == "json":
            transcript = _from_json(text, where, base, speakers, options)
        else:
            if fmt == "text":
                utterances = _parse_text(text, where, speakers, options)
            else:
                utterances = _parse_subtitles(text, where, speakers, fmt)
            transcript = Transcript(meta=base, utterances=utterances, options={"import_format": fmt})
    except RecursionError as e:
        raise TranscriptFormatError(
            f"{where}: the data is nested too deeply to be a transcript; export it again"
        ) from e
    if transcript.meta.source is None:
        transcript.meta.source = str(path)
    if meta is not None:
        transcript.meta = transcript.meta.merged(meta)
    return transcript


# ---- JSON --------------------------------------------------------------------------------------
def _from_json(
    text: str, where: str, base: CallMeta, speakers: _Speakers, options: ImportOptions
) -> Transcript:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TranscriptFormatError(
            f"{where}:{e.lineno}: not valid JSON ({e.msg}); export the transcript again"
        ) from e
    except RecursionError as e:
        raise TranscriptFormatError(
            f"{where}: the JSON is nested too deeply to be a transcript; export it again"
        ) from e
    except ValueError as e:  # a number past Python's digit limit
        raise TranscriptFormatError(f"{where}: not valid JSON ({e}); export the transcript again") from e
    if _SURROGATE_ESCAPE.search(text):
        data = _valid_unicode(data)
    if isinstance(data, dict) and "utterances" in data:
        return _from_project_json({**data, "call_id": data.get("call_id") or base.call_id}, where, speakers)
    if isinstance(data, dict) and isinstance(data.get("segments"), list):
        segments, language = data["segments"], data.get("language")
    elif isinstance(data, list):
        segments, language = data, None
    else:
        raise TranscriptFormatError(
            f"{where}: unknown JSON layout; expected the call-qa layout "
            "{\"utterances\": [...]}, or segments as [...] or {\"segments\": [...]} "
            "(faster-whisper, whisperX)"
        )
    utterances, fmt, labels = _from_segments(segments, where, speakers, options)
    extra: dict[str, Any] = {"import_format": fmt}
    if labels:
        # Which speaker label became which role, so a user can map unknown ones.
        extra["speakers"] = labels
    return Transcript(
        meta=base,
        utterances=utterances,
        language=language if isinstance(language, str) else None,
        options=extra,
    )


# "\ud800"-style escapes: JSON allows half of a surrogate pair, which no UTF-8 writer
# (the workspace, reports) accepts. Only files that have one are walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _valid_unicode(value: Any) -> Any:
    """``value`` with lone surrogates in its strings replaced (see :func:`displayable`)."""
    if isinstance(value, str):
        return displayable(value)
    if isinstance(value, list):
        return [_valid_unicode(v) for v in value]
    if isinstance(value, dict):
        return {displayable(str(k)): _valid_unicode(v) for k, v in value.items()}
    return value


def _from_project_json(data: dict[str, Any], where: str, speakers: _Speakers) -> Transcript:
    utterances = data["utterances"]
    if not isinstance(utterances, list):
        raise TranscriptFormatError(f"{where}: 'utterances' must be a list of turns")
    fixed = []
    for i, u in enumerate(utterances):
        key = f"utterances[{i}]"
        if not isinstance(u, dict):
            raise TranscriptFormatError(f"{where}: {key} must be an object with role, start, end, text")
        u = dict(u)
        label = str(u.get("role") or UNKNOWN)
        role = speakers.role_of(label)
        if role is None:
            raise TranscriptFormatError(
                f"{where}: {key}.role {label!r} is not a role; use {MANAGER}, {CLIENT} or {UNKNOWN}"
            )
        u["role"] = role
        for name in ("start", "end"):
            if u.get(name) is not None:
                u[name] = _seconds(u[name], where, f"{key}.{name}")
        _check_text(u.get("text"), where, f"{key}.text")
        if u.get("words") is not None:
            start = u.get("start") or 0.0
            words, _ = _segment_words(u["words"], start, max(start, u.get("end") or start), where, key)
            u["words"] = [[w.start, w.end, w.text, w.probability] for w in words]
        fixed.append(u)
    _check_project_fields(data, where)
    return Transcript.from_dict({**data, "utterances": fixed}, source=where)


def _check_project_fields(data: dict[str, Any], where: str) -> None:
    """The call-qa layout's other keys have the types :meth:`Transcript.from_dict` expects."""
    meta = data.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise TranscriptFormatError(f"{where}: 'meta' must be an object (call_id, manager, ...), got {_kind(meta)}")
    for key, value in [*(((f"meta.{k}", v) for k, v in (meta or {}).items())),
                       ("call_id", data.get("call_id")), ("language", data.get("language"))]:
        if key == "meta.extra":
            if value is not None and not isinstance(value, dict):
                raise TranscriptFormatError(f"{where}: 'meta.extra' must be an object, got {_kind(value)}")
        elif key == "meta.duration" or value is None or isinstance(value, (str, int, float)):
            continue
        else:
            raise TranscriptFormatError(f"{where}: '{key}' must be text, got {_kind(value)}")
    for key in ("duration", "meta.duration"):
        value = data.get("duration") if key == "duration" else (meta or {}).get("duration")
        if value is not None:
            _seconds(value, where, key)
    for key in ("options", "quality"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise TranscriptFormatError(f"{where}: '{key}' must be an object, got {_kind(data[key])}")


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "true/false"}.get(type(value), type(value).__name__)


def _check_text(value: object, where: str, key: str) -> None:
    if value is not None and not isinstance(value, str):
        raise TranscriptFormatError(f"{where}: {key} must be text, got {_kind(value)}")


def _short(value: object) -> str:
    """``repr`` for a message: cut short (a 400-digit number is not worth quoting whole)."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _seconds(value: object, where: str, key: str) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if isinstance(value, bool) or math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise TranscriptFormatError(
            f"{where}: {key} is {_short(value)}; times must be seconds from the start (a number >= 0)"
        )
    return seconds


def _from_segments(
    segments: list[Any], where: str, speakers: _Speakers, options: ImportOptions
) -> tuple[list[Utterance], str, dict[str, str]]:
    utterances: list[Utterance] = []
    labels: dict[str, str] = {}
    whisperx = False
    for i, seg in enumerate(segments):
        key = f"segments[{i}]"
        if not isinstance(seg, dict):
            raise TranscriptFormatError(f"{where}: {key} must be an object with start, end and text")
        if "start" not in seg:
            raise TranscriptFormatError(f"{where}: {key} has no 'start'; each segment needs start and end in seconds")
        start = _seconds(seg["start"], where, f"{key}.start")
        end = _seconds(seg["end"], where, f"{key}.end") if seg.get("end") is not None else start
        words, mean_probability = _segment_words(seg.get("words"), start, end, where, key)
        whisperx = whisperx or "speaker" in seg or any(
            isinstance(w, dict) and "score" in w for w in seg.get("words") or ()
        )
        _check_text(seg.get("text"), where, f"{key}.text")
        text = " ".join(str(seg.get("text") or "").split())
        if not text and words:
            text = " ".join(w.text for w in words)
        if not text:
            continue

        channel = seg.get("channel")
        if channel is not None:
            try:
                channel = int(channel)
            except (TypeError, ValueError) as e:
                raise TranscriptFormatError(f"{where}: {key}.channel is {channel!r}; use 0 (left) or 1 (right)") from e
        role = None
        if seg.get("role") is not None:
            role = speakers.role_of(str(seg["role"]))
            if role is None:
                raise TranscriptFormatError(
                    f"{where}: {key}.role {seg['role']!r} is not a role; use {MANAGER}, {CLIENT} or {UNKNOWN}"
                )
        if role in (None, UNKNOWN) and seg.get("speaker") is not None:
            label = str(seg["speaker"])
            role = speakers.role_of(label) or UNKNOWN
            labels[label] = role
        if role in (None, UNKNOWN) and channel is not None:
            role = MANAGER if channel == options.manager_channel else CLIENT

        confidence = None
        if isinstance(seg.get("avg_logprob"), (int, float)):
            confidence = round(math.exp(min(0.0, float(seg["avg_logprob"]))), 4)
        elif mean_probability is not None:
            confidence = round(mean_probability, 4)
        utterances.append(
            Utterance(
                role=role or UNKNOWN,
                start=start,
                end=end,
                text=text,
                words=tuple(words),
                channel=channel,
                confidence=confidence,
            )
        )
    return utterances, "whisperx" if whisperx else "faster-whisper", labels


def _segment_words(
    raw: object, seg_start: float, seg_end: float, where: str, key: str
) -> tuple[list[Word], float | None]:
    """Words of one segment and their mean probability (None when none was given)."""
    if raw is None:
        return [], None
    if not isinstance(raw, list):
        raise TranscriptFormatError(f"{where}: {key}.words must be a list of words")
    # whisperX leaves out the times of words it could not align (numbers, symbols):
    # they get the gap between their neighbours.
    items: list[tuple[float | None, float | None, str, float | None]] = []
    for j, w in enumerate(raw):
        wkey = f"{key}.words[{j}]"
        if isinstance(w, dict):
            _check_text(w.get("word", w.get("text")), where, f"{wkey}.word")
            text = str(w.get("word", w.get("text", ""))).strip()
            start = _seconds(w["start"], where, f"{wkey}.start") if w.get("start") is not None else None
            end = _seconds(w["end"], where, f"{wkey}.end") if w.get("end") is not None else None
            prob = w.get("probability", w.get("score"))
        elif isinstance(w, (list, tuple)) and len(w) >= 3:
            start = _seconds(w[0], where, f"{wkey}[0]")
            end = _seconds(w[1], where, f"{wkey}[1]")
            _check_text(w[2], where, f"{wkey}[2]")
            text = str(w[2]).strip()
            prob = w[3] if len(w) > 3 else None
        else:
            raise TranscriptFormatError(f"{where}: {wkey} must be {{start, end, word}} or [start, end, word]")
        if not text:
            continue
        if prob is not None and not isinstance(prob, (int, float)):
            raise TranscriptFormatError(f"{where}: {wkey} probability is {prob!r}; expected a number 0-1")
        items.append((start, end, text, None if prob is None else float(prob)))

    starts: list[float] = []
    previous = seg_start
    for start, end, _, _ in items:
        starts.append(previous if start is None else start)
        previous = starts[-1] if end is None else end
    ends: list[float] = [0.0] * len(items)
    following = seg_end
    for j in reversed(range(len(items))):
        end = items[j][1]
        ends[j] = max(starts[j], following) if end is None else end
        following = starts[j]
    words = [
        Word(s, e, text, 1.0 if p is None else p)
        for s, e, (_, _, text, p) in zip(starts, ends, items, strict=True)
    ]
    known = [p for *_, p in items if p is not None]
    return words, (sum(known) / len(known) if known else None)


# ---- labels at the start of a line -----------------------------------------------------------
_BRACKET_TIME = re.compile(
    rf"^\s*[\[(]\s*{_TS}(?:\s*(?:-|–|—|-->)\s*{_TS})?\s*[\])]\s*"
)
_BARE_TIME = re.compile(rf"^\s*{_TS}\s+")
# A label: a short name (optionally in brackets, optionally followed by a time) and a colon.
_LABEL = re.compile(
    r"^\s*[-–—]?\s*\[?(?P<label>[^\W\d_][\w .'’-]{0,39}?)\]?\s*"
    r"(?:\((?!\s*\d)[^()]{0,40}\)\s*)?"  # a stage direction: "Клиент (перебивает):"
    rf"(?:[\[(]\s*(?P<time>{_TS})\s*[\])]\s*)?[:：](?!//)\s*(?P<text>.*)$"
)


def _ts_seconds(groups: tuple[str | None, ...]) -> float | None:
    hours, minutes, seconds, fraction = groups
    if minutes is None or seconds is None:
        return None
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        return None
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if fraction:
        value += int(fraction) / (10 ** len(fraction))
    return float(value)


@dataclass
class _Line:
    role: str | None  # None: no label, the line continues the previous turn
    text: str
    start: float | None = None
    end: float | None = None


def _split_label(line: str, speakers: _Speakers, strict: bool) -> tuple[str | None, str | None, str, float | None]:
    """(role, label, text, time after the label) of one line; role None when unlabelled.

    In plain text (``strict``) a single word and a colon is taken as a speaker label, so a
    misspelt one ("Manger:") is reported instead of silently joining the previous turn;
    longer prefixes ("And then he said:") are text. In subtitles only known labels count.
    """
    m = _LABEL.match(line)
    if m is None:
        return None, None, line.strip(), None
    label = m.group("label").strip()
    role = speakers.role_of(label)
    if role is None:
        if strict and len(label.split()) == 1:
            return "?", label, m.group("text").strip(), None
        return None, None, line.strip(), None
    time_match = _TS_RE.fullmatch(m.group("time")) if m.group("time") else None
    at = _ts_seconds(time_match.groups()) if time_match else None
    return role, label, m.group("text").strip(), at


def _parse_text(text: str, where: str, speakers: _Speakers, options: ImportOptions) -> list[Utterance]:
    turns: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        start = end = None
        rest = line
        m = _BRACKET_TIME.match(line)
        bare = False
        if m is None:
            m = _BARE_TIME.match(line)
            bare = m is not None
        if m is not None and bare and _ts_seconds(m.group(1, 2, 3, 4)) is None:
            m, bare = None, False  # "10:75 ..." is text; only bracketed times must be valid
        if m is not None:
            start = _ts_seconds(m.group(1, 2, 3, 4))
            end = _ts_seconds(m.group(5, 6, 7, 8)) if len(m.groups()) > 4 else None
            if start is None:
                raise TranscriptFormatError(
                    f"{where}:{number}: cannot read the time {m.group(0).strip()!r}; "
                    "write [mm:ss] or [hh:mm:ss]"
                )
            rest = line[m.end():]
        role, label, body, label_time = _split_label(rest, speakers, strict=True)
        if role is None and bare:
            # "10:30 works for me" is a continuation, not a time stamp.
            role, label, body, label_time = None, None, line, None
            start = end = None
        if role == "?":
            raise TranscriptFormatError(
                f"{where}:{number}: unknown speaker label {label!r}; {_LABEL_HINT}, "
                "add the label to qa/data/roles.yaml or pass speaker_roles"
            )
        if role is None:
            if not turns:
                raise TranscriptFormatError(f"{where}:{number}: no speaker label; {_LABEL_HINT}")
            if body:
                turns[-1].text = f"{turns[-1].text} {body}".strip()
            continue
        if start is None and label_time is not None:
            start = label_time
        if start is None:
            m = _BRACKET_TIME.match(body)
            if m is not None and _ts_seconds(m.group(1, 2, 3, 4)) is not None:
                start = _ts_seconds(m.group(1, 2, 3, 4))
                end = _ts_seconds(m.group(5, 6, 7, 8))
                body = body[m.end():]
        if start is not None and end is not None and end < start:
            raise TranscriptFormatError(
                f"{where}:{number}: the turn ends before it starts; write [start - end]"
            )
        if start is not None:
            previous = next((t.start for t in reversed(turns) if t.start is not None), None)
            if previous is not None and start < previous:
                raise TranscriptFormatError(
                    f"{where}:{number}: time {_clock(start)} is earlier than the previous "
                    f"turn's {_clock(previous)}; times must not go backwards"
                )
        turns.append(_Line(role, " ".join(body.split()), start, end))
    if not turns:
        raise TranscriptFormatError(
            f"{where}: no turns found (only blank or '#' comment lines); {_LABEL_HINT}"
        )
    return _timed(turns, options)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    h, m, s = whole // 3600, whole % 3600 // 60, whole % 60
    return f"{h:02d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _timed(turns: list[_Line], options: ImportOptions) -> list[Utterance]:
    """Give every turn a start and an end, estimating what the file does not say."""
    n = len(turns)
    estimate = [
        max(options.min_turn_seconds, len(t.text.split()) / options.words_per_second) for t in turns
    ]
    starts = [0.0] * n
    ends = [0.0] * n
    for i, t in enumerate(turns):
        if t.start is not None:
            starts[i] = t.start
        else:
            starts[i] = ends[i - 1] + options.turn_gap if i else 0.0
        if t.end is not None:
            ends[i] = t.end
        else:
            ends[i] = starts[i] + estimate[i]
            following = turns[i + 1].start if i + 1 < n else None
            # Time stamps mark where turns begin: a turn lasts until the next one starts,
            # unless that is far longer than its words need (a pause, not speech).
            if following is not None and t.start is not None and following >= starts[i]:
                if following - starts[i] <= 2 * estimate[i]:
                    ends[i] = following
                else:
                    ends[i] = min(ends[i], following)
    # Estimated turns that run past the next known time are squeezed into the gap.
    anchor = 0
    for b in range(1, n):
        if turns[b].start is None:
            continue
        last = b - 1
        if ends[last] > starts[b] and any(turns[i].start is None for i in range(anchor + 1, b)):
            base = starts[anchor]
            span = ends[last] - base
            factor = (starts[b] - base) / span if span > 0 else 0.0
            for i in range(anchor, b):
                if i > anchor:
                    starts[i] = base + (starts[i] - base) * factor
                ends[i] = base + (ends[i] - base) * factor
        anchor = b
    return [
        Utterance(role=t.role or UNKNOWN, start=round(starts[i], 3), end=round(ends[i], 3), text=t.text)
        for i, t in enumerate(turns)
        if t.text
    ]


# ---- subtitles ---------------------------------------------------------------------------------
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def _parse_subtitles(text: str, where: str, speakers: _Speakers, fmt: str) -> list[Utterance]:
    lines = text.splitlines()
    blocks: list[tuple[int, list[str]]] = []  # (first line number, lines)
    current: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                first = number
            current.append(line.rstrip())
        elif current:
            blocks.append((first, current))
            current = []
    if current:
        blocks.append((first, current))

    if fmt == "vtt" and blocks and blocks[0][1][0].lstrip().startswith("WEBVTT"):
        blocks = blocks[1:]  # the header block (WEBVTT and its metadata lines)
    utterances: list[Utterance] = []
    last_role = UNKNOWN
    for first, block in blocks:
        head = block[0].lstrip()
        if fmt == "vtt" and head.split(" ", 1)[0] in ("NOTE", "STYLE", "REGION"):
            continue
        timing_at = next((k for k, line in enumerate(block[:3]) if "-->" in line), None)
        timing = _CUE_TIMING.match(block[timing_at]) if timing_at is not None else None
        if timing is None:
            number = first + (timing_at or 0)
            example = "00:00:01,000 --> 00:00:03,500" if fmt == "srt" else "00:01.000 --> 00:03.500"
            raise TranscriptFormatError(
                f"{where}:{number}: expected a cue timing such as '{example}'; "
                "each cue is a timing line, its text and a blank line"
            )
        assert timing_at is not None
        start = _ts_seconds(timing.group(1, 2, 3, 4))
        end = _ts_seconds(timing.group(5, 6, 7, 8))
        if start is None or end is None:
            raise TranscriptFormatError(
                f"{where}:{first + timing_at}: cannot read the cue timing {block[timing_at].strip()!r}"
            )
        pieces: list[tuple[str, str]] = []  # (role, text) runs inside the cue
        for line in block[timing_at + 1 :]:
            role: str | None = None
            voice = _VOICE.search(line)
            if voice is not None:
                role = speakers.role_of(voice.group(1)) or UNKNOWN
            plain = html.unescape(_TAG.sub("", line)).strip()
            labelled, _, body, _ = _split_label(plain, speakers, strict=False)
            if labelled is not None:
                role, plain = labelled, body
            if not plain:
                continue
            if role is None:
                role = pieces[-1][0] if pieces else last_role
            if pieces and pieces[-1][0] == role:
                pieces[-1] = (role, f"{pieces[-1][1]} {plain}")
            else:
                pieces.append((role, plain))
        if not pieces:
            continue
        last_role = pieces[-1][0]
        # Several speakers in one cue: share its time by word count.
        total = sum(len(t.split()) for _, t in pieces)
        at = start
        for role, piece in pieces:
            length = (end - start) * len(piece.split()) / total if total else 0.0
            utterances.append(
                Utterance(role=role, start=round(at, 3), end=round(at + length, 3), text=" ".join(piece.split()))
            )
            at += length
    if not utterances:
        raise TranscriptFormatError(f"{where}: no cues with text found; is this a subtitle file?")
    return utterances
