"""Speech to text: one recording in, one :class:`~qa.transcripts.Transcript` out.

The only module that imports ``faster_whisper`` (lazily, inside functions), so scoring of
existing transcripts works without it installed.

How a call is transcribed:

1. :func:`qa.audio.decode` gives the channels at 16 kHz.
2. Roles come from channels. Stereo: each channel is its own stream; the manager's channel
   is ``manager_channel`` (``left`` by default; a PBX setting, and a manifest column
   ``manager_channel`` overrides it per call, see :func:`effective_options`); the other
   channel is the client. Mono, or a stereo file whose two channels carry the same signal,
   is one stream; after recognition :mod:`qa.speakers` splits its words between two voices
   and names the manager, or leaves role ``unknown`` when unsure (:mod:`qa.scoring` has a
   role-agnostic fallback for such calls).
3. Voice activity detection (Silero, shipped with faster-whisper, at 16 kHz as decoded)
   finds the speech in each stream, at a lower threshold for 8 kHz telephone audio
   (:func:`vad_threshold_for`). Each stream is checked against its own signal energy
   (:func:`qa.audio.speech_activity`): VAD regions that cover too little of the sound are
   retried at half the threshold, then replaced by the sound itself; after recognition, a
   stream whose words cover too little of its sound is recognised again without VAD, and
   flagged ``speech_lost`` if that does not help. Only speech is recognised: a stream's
   speech pieces are laid end to end in clips
   of at most 30 s (one side per clip by default, see ``shared_clips``), and the clips of a
   call are decoded in batches. Each clip is encoded with only as much audio context as it
   holds (``fit_context``) instead of Whisper's fixed 30 s window: the encoder is most of
   the work on CPU, and a 6 s clip then costs about a fifth of a window.
4. The language is detected once per call, from the encoder output of the first batch (the
   longest clips, both sides, weighted by length), so it costs no extra pass and the two
   sides of one call are never recognised in different languages.
5. The hallucination guard (:func:`guard_segments`) drops what Whisper invents on silence,
   noise and hold music: segments with a high compression ratio (repetition), segments that
   are probably not speech (high no-speech probability with a low log-probability), words
   outside the detected speech, repeated n-gram loops, letter runs ("нееееее") and known
   subtitle phrases from ``qa/data/hallucinations.yaml`` ("Продолжение следует",
   "Thank you for watching", "Субтитры сделал …"). ``condition_on_previous_text`` is off
   by default: with it, base int8 falls into repetition loops on hard audio and slows to
   about real time.
6. Words are mapped back to the time of the original recording, each stream's words are
   grouped into utterances (a pause longer than ``utterance_gap`` starts a new one), and
   the utterances of both sides are interleaved by time. Stereo: a word heard on both
   channels at once (echo, crosstalk) stays only on the louder one (:func:`drop_bleed`).
7. A call whose language was detected with low probability or outside the expected ones
   (``languages``), or whose text was mostly hallucinations, is flagged ``needs_review``
   (:func:`review_reasons`).

The transcript records the model label, the options that shape the output, the detected
language and its probability, :func:`qa.audio.quality_flags` plus what the guard dropped,
the per-channel speech check (``quality["channels"]``) and, for mono calls, how roles were
decided (``quality["roles"]``). :func:`cache_key`
is what :mod:`qa.pipeline` caches transcripts under.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .audio import (
    ACTIVITY_FRAME_SECONDS,
    TARGET_SAMPLE_RATE,
    DecodedAudio,
    as_float32,
    decode,
    quality_flags,
    speech_activity,
)
from .errors import ConfigError, ModelError, QAError
from .transcripts import CLIENT, MANAGER, UNKNOWN, CallMeta, Transcript, Utterance, Word

log = logging.getLogger("qa")

#: Bump when the transcription or guard logic changes what comes out: old cache entries
#: are then transcribed again.
ALGORITHM_VERSION = 2

#: Punctuation glued to the next / previous word in word timings (faster-whisper's defaults).
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"

#: Silero VAD threshold for wideband recordings (its own default) ...
VAD_THRESHOLD = 0.5
#: ... and for telephone audio (source rate 8 kHz or less): band-limited speech gets lower
#: speech probabilities, and a missed word costs more than a recognised pause.
TELEPHONE_VAD_THRESHOLD = 0.35
#: A channel with less sound than this (s) is not checked for lost speech.
MIN_CHECKED_SPEECH = 2.0
#: Recognised words count as covering the sound within this many seconds of them.
COVER_TOLERANCE = 0.3

#: VAD runs over blocks of this many seconds (bounded memory on long recordings).
VAD_BLOCK_SECONDS = 300.0

#: Whisper sees at most 30 s at a time.
CLIP_SECONDS = 30.0
#: Silence after the speech of a clip when the encoder context is fitted (seconds).
CONTEXT_MARGIN = 1.0
SR = TARGET_SAMPLE_RATE


@dataclass(frozen=True)
class TranscribeOptions:
    """How recordings are transcribed. The defaults are tuned for call recordings on CPU.

    Fields that change the text are in :meth:`cache_dict` (and the cache key); ``device``,
    ``cpu_threads`` and ``batch_size`` only change the speed.
    """

    #: ``embedded`` (bundled Whisper base), a faster-whisper size name or a model folder.
    model: str = "embedded"
    #: ``auto`` (CUDA when CTranslate2 sees a GPU, else CPU), ``cpu`` or ``cuda``.
    device: str = "auto"
    #: ``auto`` (int8 on CPU, float16 on CUDA) or a CTranslate2 compute type.
    compute_type: str = "auto"
    #: Spoken language code (``ru``, ``en``, ...); ``None`` detects it once per call.
    language: str | None = None
    #: Expected languages when detecting (``--language ru,en``): detection picks among them,
    #: and a call in none of them comes out with a low probability (``needs_review``).
    languages: tuple[str, ...] = ()
    #: A detected language below this probability makes the call ``needs_review``.
    min_language_probability: float = 0.5
    #: A call whose words are more than this share known hallucinations and loops (what the
    #: guard removed) is ``needs_review``.
    max_garbage_share: float = 0.5
    #: Which stereo channel is the manager: ``left`` or ``right``.
    manager_channel: str = "left"
    #: Beam width of the decoder (1 = greedy).
    beam_size: int = 5
    #: Recognise only what voice activity detection marks as speech.
    vad: bool = True
    #: VAD speech probability threshold (Silero); ``None``: by the recording's own rate,
    #: :data:`VAD_THRESHOLD` for wideband audio, :data:`TELEPHONE_VAD_THRESHOLD` for 8 kHz.
    vad_threshold: float | None = None
    #: A pause shorter than this does not end a speech piece (ms).
    vad_min_silence_ms: int = 300
    #: Speech pieces are padded by this on each side (ms).
    vad_speech_pad_ms: int = 200
    #: Put both sides' speech, in time order, into shared 30 s clips (fewer encoder passes,
    #: conversational context); ``False``: a clip holds one side only.
    shared_clips: bool = False
    #: Decode the clips of a call in batches (faster); ``False``: one by one, with
    #: temperature fallback.
    batched: bool = True
    #: Clips per batch.
    batch_size: int = 8
    #: Encode only as much audio context as a clip holds (plus 1 s) instead of padding every
    #: clip to Whisper's 30 s window; the encoder is most of the cost on CPU.
    fit_context: bool = True
    #: Word timings and probabilities (needed for evidence timing and utterance splitting).
    word_timestamps: bool = True
    #: Feed the previous text as a prompt (only without batching). Off: it causes loops.
    condition_on_previous_text: bool = False
    #: CTranslate2 threads; 0 = its default (all cores). The pipeline splits cores between workers.
    cpu_threads: int = 0
    # -- hallucination guard --------------------------------------------------------------
    #: Drop a segment whose text compresses better than this (gzip ratio): repetition.
    compression_ratio_threshold: float = 2.4
    #: Drop a segment whose no-speech probability is above this ...
    no_speech_threshold: float = 0.6
    #: ... while its average log-probability is below this.
    log_prob_threshold: float = -1.0
    #: Drop a word that lies less than this share inside detected speech.
    min_speech_overlap: float = 0.5
    #: An n-gram (1-4 words) repeated more than this many times in a row is a loop: cut to one.
    max_repeats: int = 3
    #: A word with the same letter more than this many times in a row is dropped.
    max_letter_run: int = 5
    #: Remove the phrases of ``qa/data/hallucinations.yaml``.
    drop_known_phrases: bool = True
    #: A pause of one side longer than this (s) starts a new utterance.
    utterance_gap: float = 1.0
    #: Mono calls: tell the two voices apart and name the manager (:mod:`qa.speakers`);
    #: ``False``: every word of a mono call has role ``unknown``.
    mono_roles: bool = True
    # -- lost-speech check ------------------------------------------------------------------
    #: Check each channel against its signal energy: when VAD or the recogniser covers less
    #: than ``min_coverage`` of the sound, retry (lower threshold, then no VAD) and flag
    #: ``speech_lost`` if it still falls short.
    speech_check: bool = True
    #: Share of a channel's sound that VAD regions / recognised words must cover.
    min_coverage: float = 0.5

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.manager_channel not in ("left", "right"):
            raise ValueError(f"manager_channel must be left or right, got {self.manager_channel!r}")
        for code in (self.language, *self.languages):
            if code is not None and not re.fullmatch(r"[a-z]{2,3}", code):
                raise ValueError(f"language must be a code such as ru or en (or None to detect), got {code!r}")
        for name in ("beam_size", "batch_size", "max_repeats", "max_letter_run"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.cpu_threads < 0:
            raise ValueError("cpu_threads must be >= 0")
        threshold = 0.5 if self.vad_threshold is None else self.vad_threshold
        if not 0 <= self.min_speech_overlap <= 1 or not 0 < threshold < 1 or not 0 <= self.min_coverage <= 1:
            raise ValueError("min_speech_overlap and min_coverage must be between 0 and 1, vad_threshold above 0 "
                             "and below 1")
        if self.utterance_gap <= 0:
            raise ValueError("utterance_gap must be > 0")

    def cache_dict(self) -> dict[str, Any]:
        """The options that change the transcript (JSON-ready): what the cache key includes."""
        # the model is keyed by its label (see cache_key), not by how it was named
        speed_only = {"device", "cpu_threads", "batch_size", "model"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in speed_only}


def effective_options(options: TranscribeOptions, meta: CallMeta | None) -> TranscribeOptions:
    """Options for one call: a manifest column ``manager_channel`` (left/right) overrides.

    Use these for :func:`cache_key` too, so a call re-labelled in the manifest is
    transcribed again with the right roles.
    """
    if meta is None:
        return options
    value = str(meta.extra.get("manager_channel") or "").strip().lower()
    if value in ("left", "right") and value != options.manager_channel:
        return replace(options, manager_channel=value)
    return options


def cache_key(audio_sha256: str, options: TranscribeOptions, model_label: str) -> str:
    """sha256 hex of the audio content, the model and the output-shaping options."""
    payload = {
        "audio": audio_sha256,
        "model": model_label,
        "options": options.cache_dict(),
        "algorithm": ALGORITHM_VERSION,
        "phrases": _phrases_hash() if options.drop_known_phrases else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


# -- what a recogniser returns ----------------------------------------------------------------
@dataclass(frozen=True)
class RawWord:
    start: float
    end: float
    text: str  # as the model writes it, with its leading space
    probability: float = 1.0


@dataclass(frozen=True)
class RawSegment:
    """A recogniser segment on the combined-speech timeline (seconds)."""

    start: float
    end: float
    text: str
    words: tuple[RawWord, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


class Recognizer(Protocol):
    """What :class:`Transcriber` needs from a speech model (faster-whisper, or a test fake)."""

    label: str

    def speech_regions(self, audio: np.ndarray, options: TranscribeOptions) -> list[tuple[int, int]]:
        """Speech as (start, end) sample ranges."""
        ...

    def recognize(
        self, audio: np.ndarray, clips: Sequence[tuple[float, float]], language: str | None, options: TranscribeOptions
    ) -> tuple[list[RawSegment], str, float]:
        """Recognise each clip (seconds in ``audio``; segment times in ``audio``'s time).

        ``language=None`` detects it (once for all clips). Returns the segments, the
        language used and its probability (1.0 when it was given)."""
        ...


# -- the hallucination guard -----------------------------------------------------------------
@dataclass
class GuardReport:
    """What the guard removed in one call (recorded under ``quality["guard"]``)."""

    segments_compression: int = 0
    segments_no_speech: int = 0
    words_outside_speech: int = 0
    words_loop: int = 0
    words_letter_run: int = 0
    words_known_phrase: int = 0
    #: stereo: words heard on both channels at once (echo, crosstalk), kept on the louder one
    words_bleed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _norm(text: str) -> str:
    """Casefolded words only: how guard rules compare text (ё/е folded)."""
    return " ".join(re.findall(r"\w+", text.casefold().replace("ё", "е")))


@lru_cache(maxsize=1)
def _load_phrases() -> tuple[tuple[str, ...], str]:
    ref = resources.files("qa").joinpath("data/hallucinations.yaml")
    try:
        raw = ref.read_bytes()
    except OSError as e:  # pragma: no cover - a broken install
        raise ConfigError(f"{ref}: cannot read the hallucination phrase list ({e}); reinstall call-qa") from e
    import yaml

    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{ref}: invalid YAML ({e}); fix the file") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{ref}: expected a mapping of language -> list of phrases")
    phrases: list[str] = []
    for lang, items in data.items():
        if not isinstance(items, list) or not all(isinstance(p, str) and p.strip() for p in items):
            raise ConfigError(f"{ref}: key '{lang}' must be a list of non-empty phrases")
        # a trailing "…" is a name of one or two words: kept as the wildcard token "…"
        phrases.extend(_norm(p) + (" …" if p.rstrip().endswith(("…", "...")) else "") for p in items)
    # longest first, so "субтитры сделал dimatorzok" goes before a shorter phrase inside it
    ordered = tuple(sorted({p for p in phrases if p}, key=lambda p: (-len(p), p)))
    return ordered, hashlib.sha256(raw).hexdigest()[:16]


def known_phrases() -> tuple[str, ...]:
    """The normalised phrases of ``qa/data/hallucinations.yaml``."""
    return _load_phrases()[0]


def _phrases_hash() -> str:
    return _load_phrases()[1]


def compression_ratio(text: str) -> float:
    """gzip-style ratio as Whisper computes it: repetitive text compresses well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _loop_mask(tokens: Sequence[str], max_repeats: int, max_n: int = 4) -> list[bool]:
    """True for tokens that repeat an n-gram more than ``max_repeats`` times in a row
    (every occurrence after the first is marked)."""
    drop = [False] * len(tokens)
    for n in range(1, max_n + 1):
        i = 0
        while i + n <= len(tokens):
            if any(drop[i : i + n]) or not all(tokens[i : i + n]):
                i += 1
                continue
            gram = tokens[i : i + n]
            count = 1
            j = i + n
            while j + n <= len(tokens) and tokens[j : j + n] == gram and not any(drop[j : j + n]):
                count += 1
                j += n
            if count > max_repeats:
                for k in range(i + n, j):
                    drop[k] = True
                i = j
            else:
                i += 1
    return drop


def _phrase_mask(tokens: Sequence[str], phrases: Sequence[str]) -> list[bool]:
    """True for tokens that form one of ``phrases`` (word sequences, normalised); a phrase
    ending in the token ``…`` also takes the one or two words after it (a name)."""
    drop = [False] * len(tokens)
    for phrase in phrases:
        words = phrase.split()
        wildcard = bool(words) and words[-1] == "…"
        if wildcard:
            words = words[:-1]
        n = len(words)
        for i in range(len(tokens) - n + 1):
            if tokens[i : i + n] == words:
                end = i + n
                if wildcard:
                    if end >= len(tokens):
                        continue  # the name is missing: not the credit line
                    end = min(len(tokens), end + 2)
                for k in range(i, end):
                    drop[k] = True
    return drop


def guard_segments(
    segments: Sequence[RawSegment],
    options: TranscribeOptions,
    speech: Sequence[tuple[float, float]] | None = None,
    report: GuardReport | None = None,
) -> list[RawSegment]:
    """Drop hallucinated segments and words; return the segments that remain.

    ``speech`` is the detected speech as (start, end) seconds on the segments' timeline;
    without it the outside-speech rule is skipped (VAD off). Segments without word timings
    are filtered as whole texts (loops and phrases removed from the text).
    """
    report = report if report is not None else GuardReport()
    phrases = known_phrases() if options.drop_known_phrases else ()
    letter_run = re.compile(r"([^\W\d_])\1{" + str(options.max_letter_run) + ",}")
    kept: list[RawSegment] = []
    for seg in segments:
        if compression_ratio(seg.text.strip()) > options.compression_ratio_threshold:
            report.segments_compression += 1
            continue
        if seg.no_speech_prob > options.no_speech_threshold and seg.avg_logprob < options.log_prob_threshold:
            report.segments_no_speech += 1
            continue
        if seg.words:
            words = list(seg.words)
            if speech:
                inside = [w for w in words if _overlap_share(w.start, w.end, speech) >= options.min_speech_overlap]
                report.words_outside_speech += len(words) - len(inside)
                words = inside
            words, dropped = _filter_tokens(words, lambda w: w.text, options, phrases, letter_run)
            for reason, n in dropped.items():
                setattr(report, reason, getattr(report, reason) + n)
            if not words:
                continue
            text = "".join(w.text for w in words).strip()
            kept.append(replace(seg, text=text, words=tuple(words), start=words[0].start, end=words[-1].end))
        else:
            pieces = seg.text.split()
            pieces, dropped = _filter_tokens(pieces, lambda p: p, options, phrases, letter_run)
            for reason, n in dropped.items():
                setattr(report, reason, getattr(report, reason) + n)
            if pieces:
                kept.append(replace(seg, text=" ".join(pieces)))
    return kept


def _filter_tokens(items: list[Any], text_of: Any, options: TranscribeOptions, phrases: Sequence[str],
                   letter_run: re.Pattern[str]) -> tuple[list[Any], dict[str, int]]:
    """Apply the word-level rules to words (or whitespace pieces) of one segment."""
    dropped = {"words_letter_run": 0, "words_loop": 0, "words_known_phrase": 0}
    runs = [bool(letter_run.search(text_of(x))) for x in items]
    dropped["words_letter_run"] = sum(runs)
    items = [x for x, bad in zip(items, runs) if not bad]
    # a word may hold several tokens ("Амара.орг"): rules work on its joined normal form
    tokens = [_norm(text_of(x)) for x in items]
    loop = _loop_mask(tokens, options.max_repeats)
    dropped["words_loop"] = sum(loop)
    items = [x for x, bad in zip(items, loop) if not bad]
    tokens = [t for t, bad in zip(tokens, loop) if not bad]
    if phrases:
        # phrases are matched on single-word tokens: split multi-token words into parts
        flat: list[str] = []
        owner: list[int] = []
        for idx, t in enumerate(tokens):
            for part in t.split() or [""]:
                flat.append(part)
                owner.append(idx)
        mask = _phrase_mask(flat, phrases)
        bad_items = {owner[k] for k, m in enumerate(mask) if m}
        dropped["words_known_phrase"] = len(bad_items)
        items = [x for i, x in enumerate(items) if i not in bad_items]
    return items, dropped


def _overlap_share(start: float, end: float, spans: Sequence[tuple[float, float]]) -> float:
    """Share of [start, end] inside ``spans`` (sorted); a zero-length word counts by its point."""
    if end <= start:
        return 1.0 if any(s <= start <= e for s, e in spans) else 0.0
    covered = sum(max(0.0, min(end, e) - max(start, s)) for s, e in spans if e > start and s < end)
    return covered / (end - start)


# -- laying the speech of the streams end to end ------------------------------------------------
@dataclass(frozen=True)
class Piece:
    """A speech range of one stream, placed on the combined timeline."""

    stream: int
    src_start: int  # samples in the stream
    src_end: int
    dst_start: int  # samples in the combined audio

    @property
    def length(self) -> int:
        return self.src_end - self.src_start


@dataclass
class Layout:
    """The combined speech audio, its pieces and its clips (seconds, <= 30 s each)."""

    audio: np.ndarray
    pieces: list[Piece] = field(default_factory=list)
    clips: list[tuple[float, float]] = field(default_factory=list)

    def locate(self, t: float) -> Piece | None:
        """The piece holding combined time ``t`` (nearest one at a boundary)."""
        if not self.pieces:
            return None
        sample = t * SR
        best = self.pieces[0]
        best_distance = float("inf")
        for p in self.pieces:
            if p.dst_start <= sample < p.dst_start + p.length:
                return p
            distance = min(abs(sample - p.dst_start), abs(sample - (p.dst_start + p.length)))
            if distance < best_distance:
                best, best_distance = p, distance
        return best

    def to_source(self, piece: Piece, t: float) -> float:
        """Combined time -> seconds in the piece's stream (clamped to the piece)."""
        offset = min(max(t * SR - piece.dst_start, 0), piece.length)
        return (piece.src_start + offset) / SR


def layout_speech(
    streams: Sequence[np.ndarray],
    regions: Sequence[Sequence[tuple[int, int]]],
    *,
    shared: bool = True,
    gap_seconds: float = 0.3,
    clip_seconds: float = CLIP_SECONDS,
) -> Layout:
    """Lay the speech regions of all streams end to end and cut them into clips.

    ``shared=True``: the regions of both sides in time order, so a clip holds the
    conversation as it went; ``shared=False``: one stream after the other, and a clip never
    holds two streams. Within a clip, ``gap_seconds`` of silence separates the pieces: word
    timings near a junction then fall clearly on one piece (without it, the first word of
    a piece was often timed into the one before, and so into the wrong turn). Clips are cut
    at region boundaries and hold at most ``clip_seconds``; a longer region is split (VAD
    caps regions at 30 s already).
    """
    max_len = int(clip_seconds * SR)
    gap = int(gap_seconds * SR)
    items: list[tuple[int, int, int]] = []
    for stream_index, (audio, spans) in enumerate(zip(streams, regions)):
        for start, end in spans:
            start, end = max(0, int(start)), min(len(audio), int(end))
            while end > start:
                items.append((stream_index, start, min(end, start + max_len)))
                start = min(end, start + max_len)
    if shared:
        items.sort(key=lambda item: (item[1], item[0]))
    layout = Layout(audio=np.zeros(0, dtype=np.float32))
    chunks: list[np.ndarray] = []
    cursor = 0
    clip_start: int | None = None
    previous: int | None = None
    for stream_index, start, end in items:
        length = end - start
        separator = gap if clip_start is not None else 0
        if clip_start is not None and (
            cursor + separator + length - clip_start > max_len or (not shared and previous != stream_index)
        ):
            layout.clips.append((clip_start / SR, cursor / SR))
            clip_start, separator = None, 0
        if clip_start is None:
            clip_start = cursor
        if separator:
            chunks.append(np.zeros(separator, dtype=np.float32))
            cursor += separator
        layout.pieces.append(Piece(stream_index, start, end, cursor))
        chunks.append(as_float32(streams[stream_index][start:end]))
        cursor += length
        previous = stream_index
    if clip_start is not None and cursor > clip_start:
        layout.clips.append((clip_start / SR, cursor / SR))
    if chunks:
        layout.audio = np.concatenate(chunks)
    return layout


# -- the faster-whisper recogniser --------------------------------------------------------------
class WhisperRecognizer:
    """faster-whisper behind the :class:`Recognizer` protocol; loads the model on creation."""

    def __init__(self, options: TranscribeOptions) -> None:
        from .speech_model import resolve_model

        ref = resolve_model(options.model)
        self.label = ref.label
        try:
            import ctranslate2
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ModelError(
                "faster-whisper is not installed, so recordings cannot be transcribed; "
                "run: pip install 'call-qa[audio]' (or import transcripts made elsewhere)"
            ) from e
        device = options.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = options.compute_type
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        self.device, self.compute_type = device, compute_type
        try:
            self.model = WhisperModel(
                ref.name_or_path, device=device, compute_type=compute_type, cpu_threads=options.cpu_threads
            )
        except Exception as e:  # huggingface_hub, ctranslate2 and OS errors all end here
            hint = (
                "size names are downloaded from the Hugging Face Hub on first use: run once with "
                "internet access, or pass a model folder or 'embedded'"
                if ref.kind == "name"
                else "check the model folder, or pass --model embedded"
            )
            reason = str(e).split("\n", 1)[0] or type(e).__name__
            raise ModelError(f"--model {options.model}: cannot load ({reason}); {hint}") from e

    def speech_regions(self, audio: np.ndarray, options: TranscribeOptions) -> list[tuple[int, int]]:
        """Silero VAD (16 kHz, as decoded) in blocks of :data:`VAD_BLOCK_SECONDS`, so a
        two-hour channel is never copied whole; regions that meet at a block edge are joined."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        vad = VadOptions(
            threshold=options.vad_threshold if options.vad_threshold is not None else VAD_THRESHOLD,
            min_silence_duration_ms=options.vad_min_silence_ms,
            speech_pad_ms=options.vad_speech_pad_ms,
            max_speech_duration_s=CLIP_SECONDS,
        )
        block = int(VAD_BLOCK_SECONDS * SR)
        regions: list[tuple[int, int]] = []
        for offset in range(0, len(audio), block):
            part = as_float32(audio[offset : offset + block])
            for s in get_speech_timestamps(part, vad):
                start, end = offset + int(s["start"]), offset + int(s["end"])
                if regions and start <= regions[-1][1] and end - regions[-1][0] <= CLIP_SECONDS * SR:
                    regions[-1] = (regions[-1][0], end)
                else:
                    regions.append((start, end))
        return regions

    def detect_language(self, audio: np.ndarray, allowed: Sequence[str] = ()) -> tuple[str, float]:
        language, probability, ranked = self.model.detect_language(audio=audio[: int(CLIP_SECONDS * SR)])
        if allowed:
            return _vote_language([ranked], [1.0], allowed)
        return language, float(probability)

    def recognize(
        self, audio: np.ndarray, clips: Sequence[tuple[float, float]], language: str | None, options: TranscribeOptions
    ) -> tuple[list[RawSegment], str, float]:
        if options.batched:
            return self._recognize_batched(audio, clips, language, options)
        probability = 1.0
        if language is None:
            language, probability = self.detect_language(audio, options.languages)
        segments, _ = self.model.transcribe(
            audio,
            language=language,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            compression_ratio_threshold=options.compression_ratio_threshold,
            log_prob_threshold=options.log_prob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            clip_timestamps=[t for clip in clips for t in clip],
            vad_filter=False,  # done already: the clips are speech
        )
        raw = [
            RawSegment(
                start=float(s.start),
                end=float(s.end),
                text=s.text,
                words=tuple(RawWord(float(w.start), float(w.end), w.word, float(w.probability)) for w in s.words or ()),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
            )
            for s in segments
        ]
        return raw, language, probability

    def _recognize_batched(
        self, audio: np.ndarray, clips: Sequence[tuple[float, float]], language: str | None, options: TranscribeOptions
    ) -> tuple[list[RawSegment], str, float]:
        """Decode the clips in batches, as faster-whisper's BatchedInferencePipeline does
        without timestamps, but with the language detected from the first batch's encoder
        output (all its clips, weighted by length) instead of one more encoder pass."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        m = self.model
        probability = 1.0
        tokenizer: Any = None
        prompt: list[int] = []
        suppress: list[int] = []
        raw: list[RawSegment] = []
        # Longest clips first: the first batch, which decides the language, has the most
        # speech; and clips of similar length share a batch, so little is padded.
        order = sorted(range(len(clips)), key=lambda i: clips[i][0] - clips[i][1])
        for b in range(0, len(order), options.batch_size):
            batch = [clips[i] for i in order[b : b + options.batch_size]]
            chunks = [audio[int(round(s * SR)) : int(round(e * SR))] for s, e in batch]
            frames = _context_frames(max(e - s for s, e in batch), options.fit_context)
            features = np.stack([pad_or_trim(m.feature_extractor(c)[..., :-1], frames) for c in chunks])
            encoded = m.encode(features)
            if language is None:
                language, probability = _vote_language(
                    m.model.detect_language(encoded), [e - s for s, e in batch], options.languages
                )
            if tokenizer is None:
                tokenizer = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=language)
                prompt = m.get_prompt(tokenizer, [], without_timestamps=True)
                suppress = list(get_suppressed_tokens(tokenizer, [-1]) or ())
            results = m.model.generate(
                encoded,
                [list(prompt) for _ in batch],
                beam_size=options.beam_size,
                patience=1,
                length_penalty=1,
                max_length=m.max_length,
                suppress_blank=True,
                suppress_tokens=suppress,
                return_scores=True,
                return_no_speech_prob=True,
            )
            segmented: list[list[dict[str, Any]]] = []
            stats: list[tuple[float, float]] = []
            sizes: list[int] = []
            for (start, end), result in zip(batch, results):
                tokens = list(result.sequences_ids[0])
                n = len(tokens)
                # faster-whisper's definition, so the log-prob threshold means the same
                stats.append((result.scores[0] * n / (n + 1), float(result.no_speech_prob)))
                sizes.append(min(frames, int(math.ceil(end - start) * m.frames_per_second)))
                segmented.append(
                    [{"tokens": tokens, "start": start, "end": end, "seek": int(start * m.frames_per_second)}]
                )
            if options.word_timestamps:
                # last speech time 0.0: clips are not in time order here
                m.add_word_timestamps(
                    segmented, tokenizer, encoded, sizes, PREPEND_PUNCTUATION, APPEND_PUNCTUATION, 0.0
                )
            for chunk, (avg_logprob, no_speech) in zip(segmented, stats):
                seg = chunk[0]
                raw.append(
                    RawSegment(
                        start=float(seg["start"]),
                        end=float(seg["end"]),
                        text=tokenizer.decode(seg["tokens"]),
                        words=tuple(
                            RawWord(float(w["start"]), float(w["end"]), w["word"], float(w["probability"]))
                            for w in seg.get("words") or ()
                        ),
                        avg_logprob=float(avg_logprob),
                        no_speech_prob=no_speech,
                    )
                )
        return raw, language or "en", probability


def _context_frames(seconds: float, fit: bool) -> int:
    """Mel frames to encode for a clip of ``seconds``: Whisper's full 30 s (3000 frames), or
    with ``fit`` the clip rounded up to whole seconds plus one second of padding, so a 6 s
    clip costs the encoder about a fifth of a full window."""
    full = int(CLIP_SECONDS * 100)
    if not fit:
        return full
    return min(full, int(math.ceil(seconds + CONTEXT_MARGIN)) * 100)


def _vote_language(
    results: Sequence[Sequence[tuple[str, float]]], weights: Sequence[float], allowed: Sequence[str] = ()
) -> tuple[str, float]:
    """The language with the highest length-weighted probability over several clips; with
    ``allowed``, the best of those (its probability is not renormalised, so a call in none of
    them comes out with a low probability)."""
    totals: dict[str, float] = {}
    for ranked, weight in zip(results, weights):
        for token, prob in ranked:
            code = token[2:-2] if token.startswith("<|") else token  # "<|ru|>" -> "ru"
            totals[code] = totals.get(code, 0.0) + prob * weight
    if allowed and any(code in totals for code in allowed):
        totals = {code: totals.get(code, 0.0) for code in allowed}
    best = max(totals, key=lambda k: totals[k])
    return best, totals[best] / (sum(weights) or 1.0)


# -- the transcriber ------------------------------------------------------------------------------
class Transcriber:
    """Transcribes recordings with one model, loaded on first use and kept.

    ``recognizer`` replaces faster-whisper (tests pass a fake); by default a
    :class:`WhisperRecognizer` is made from ``options`` when the first call comes.
    """

    def __init__(self, options: TranscribeOptions | None = None, *, recognizer: Recognizer | None = None) -> None:
        self.options = options or TranscribeOptions()
        self._recognizer = recognizer

    @property
    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            self._recognizer = WhisperRecognizer(self.options)
        return self._recognizer

    def transcribe(
        self, path: str | Path, meta: CallMeta | None = None, decoded: DecodedAudio | None = None
    ) -> Transcript:
        """Transcribe one recording. Raises :class:`~qa.errors.AudioError` for a bad file and
        :class:`~qa.errors.ModelError` when the model cannot be loaded."""
        path = Path(path)
        # int16 samples: a two-hour stereo call stays well under 1 GB (see BENCHMARKS.md)
        decoded = decoded if decoded is not None else decode(path, compact=True)
        opts = effective_options(self.options, meta)
        meta = meta if meta is not None else CallMeta(call_id=path.stem, source=str(path))
        meta = meta.merged(None)
        if meta.source is None:
            meta.source = str(path)
        if meta.duration is None:
            meta.duration = round(decoded.duration, 3)

        quality_before = quality_flags(decoded)
        streams, roles, channels = self._streams(decoded, quality_before, opts)
        recognizer = self.recognizer
        report = GuardReport()
        language = opts.language
        language_probability = 1.0 if language else None
        utterances: list[Utterance] = []
        roles_info: dict[str, Any] | None = None
        threshold = vad_threshold_for(opts, decoded.source_sample_rate)
        checks = [
            _ChannelCheck(roles[i], channels[i], speech_activity(s, SR) if opts.speech_check else None)
            for i, s in enumerate(streams)
        ]
        try:
            regions = [self._regions(recognizer, s, check, opts, threshold) for s, check in zip(streams, checks)]
            layout = layout_speech(streams, regions, shared=opts.shared_clips)
            raw: list[RawSegment] = []
            if layout.clips:
                raw, language, language_probability = recognizer.recognize(layout.audio, layout.clips, language, opts)
            if layout.clips:
                speech = [(p.dst_start / SR, (p.dst_start + p.length) / SR) for p in layout.pieces] if opts.vad else None
                kept = guard_segments(raw, opts, speech, report)
                utterances = self._utterances(kept, layout, roles, channels, opts)
            if opts.speech_check:
                utterances = self._recover(recognizer, streams, checks, utterances, language, opts, report)
            if len(streams) == 2:
                utterances = drop_bleed(utterances, streams, report)
            if len(streams) == 1 and opts.mono_roles and utterances:
                from .speakers import attribute_roles

                utterances, roles_info = attribute_roles(
                    utterances, streams[0], direction=meta.direction, language=language,
                    utterance_gap=opts.utterance_gap,
                )
        except QAError:
            raise
        except Exception as e:  # a runtime failure inside the model must fail this call only
            reason = str(e).split("\n", 1)[0] or type(e).__name__
            raise ModelError(
                f"{path}: speech recognition failed ({type(e).__name__}: {reason}); "
                "try --no-batched, --device cpu or another --model"
            ) from e

        quality = quality_flags(decoded, utterances)
        quality["guard"] = report.as_dict()
        if language_probability is not None:
            quality["language_probability"] = round(float(language_probability), 3)
        if opts.vad:
            quality["vad_threshold"] = threshold
        if roles_info is not None:
            quality["roles"] = roles_info
        if opts.speech_check:
            quality["channels"] = [c.as_dict() for c in checks]
            if any(c.lost for c in checks):
                quality["flags"].append("speech_lost")
        review = review_reasons(opts, language, language_probability, report, utterances)
        if review:
            quality["review"] = review
            quality["flags"].append("needs_review")
        recorded = opts.cache_dict()
        recorded["model"] = opts.model
        recorded["streams"] = "stereo" if len(streams) == 2 else "mono"
        return Transcript(
            meta=meta,
            utterances=utterances,
            language=language,
            duration=round(decoded.duration, 3),
            model=recognizer.label,
            options=recorded,
            quality=quality,
        )

    @staticmethod
    def _regions(
        recognizer: Recognizer, stream: np.ndarray, check: _ChannelCheck, opts: TranscribeOptions, threshold: float
    ) -> list[tuple[int, int]]:
        """Speech regions of one stream: VAD at ``threshold``; when they cover too little of
        the stream's sound, VAD again at a lower threshold, then the sound itself."""
        if not len(stream):
            return []
        if not opts.vad:
            check.vad = "off"
            return [(0, len(stream))]
        regions = recognizer.speech_regions(stream, replace(opts, vad_threshold=threshold))
        check.vad = f"threshold {threshold:g}"
        if check.activity is None or check.sound_seconds < MIN_CHECKED_SPEECH:
            return regions
        check.vad_coverage = _coverage(check.activity, [(s / SR, e / SR) for s, e in regions], 0.0)
        if check.vad_coverage >= opts.min_coverage:
            return regions
        lower = round(max(0.1, threshold / 2), 3)
        retry = recognizer.speech_regions(stream, replace(opts, vad_threshold=lower))
        covered = _coverage(check.activity, [(s / SR, e / SR) for s, e in retry], 0.0)
        log.info("channel %s: VAD at %g covered %.0f%% of the sound; at %g %.0f%%",
                 check.role, threshold, 100 * check.vad_coverage, lower, 100 * covered)
        if covered > check.vad_coverage:
            regions, check.vad_coverage, check.vad = retry, covered, f"threshold {lower:g} (retry)"
        if check.vad_coverage < opts.min_coverage:
            regions = _activity_regions(check.activity, len(stream))
            check.vad, check.vad_coverage = "signal energy (VAD missed speech)", 1.0
        return regions

    def _recover(
        self, recognizer: Recognizer, streams: Sequence[np.ndarray], checks: Sequence[_ChannelCheck],
        utterances: list[Utterance], language: str | None, opts: TranscribeOptions, report: GuardReport,
    ) -> list[Utterance]:
        """Compare each stream's recognised words with its sound; transcribe a stream that
        lost speech again without VAD, and mark it ``lost`` if that does not help."""
        for index, check in enumerate(checks):
            if check.activity is None or check.sound_seconds < MIN_CHECKED_SPEECH:
                continue
            own = [u for u in utterances if _stream_of(u, check)]
            check.text_coverage = _coverage(check.activity, _word_spans(own), COVER_TOLERANCE)
            if check.text_coverage >= opts.min_coverage:
                continue
            stream = streams[index]
            layout = layout_speech([stream], [[(0, len(stream))]], shared=False)
            if not layout.clips:
                continue
            raw, _, _ = recognizer.recognize(layout.audio, layout.clips, language, opts)
            kept = guard_segments(raw, opts, None, report)
            again = self._utterances(kept, layout, [check.role], [check.channel], opts)
            covered = _coverage(check.activity, _word_spans(again), COVER_TOLERANCE)
            log.info("channel %s: words covered %.0f%% of the sound; without VAD %.0f%%",
                     check.role, 100 * check.text_coverage, 100 * covered)
            check.retried = True
            if covered > check.text_coverage:
                utterances = sorted([u for u in utterances if not _stream_of(u, check)] + again,
                                    key=lambda u: (u.start, u.end))
                check.text_coverage = covered
            check.lost = check.text_coverage < opts.min_coverage
        return utterances

    @staticmethod
    def _streams(
        decoded: DecodedAudio, quality: dict[str, Any], opts: TranscribeOptions
    ) -> tuple[list[np.ndarray], list[str], list[int | None]]:
        """(streams, role per stream, channel per stream)."""
        if decoded.n_channels == 1 or quality["channels_identical"]:
            # mono, or stereo carrying one signal twice: one stream, no roles
            return [decoded.mono()], [UNKNOWN], [None]
        if decoded.n_channels > 2:
            log.warning("%s: %d channels; using the first two as left and right", decoded.source, decoded.n_channels)
        left_role, right_role = (MANAGER, CLIENT) if opts.manager_channel == "left" else (CLIENT, MANAGER)
        return [decoded.channels[0], decoded.channels[1]], [left_role, right_role], [0, 1]

    @staticmethod
    def _utterances(
        segments: Sequence[RawSegment], layout: Layout, roles: Sequence[str], channels: Sequence[int | None],
        opts: TranscribeOptions,
    ) -> list[Utterance]:
        """Map words back to recording time; group each stream's words into utterances."""
        per_stream: dict[int, list[Word]] = {}
        loose: list[Utterance] = []  # segments without word timings
        for seg in segments:
            if seg.words:
                for w in seg.words:
                    piece = layout.locate((w.start + w.end) / 2)
                    if piece is None:
                        continue
                    start, end = layout.to_source(piece, w.start), layout.to_source(piece, w.end)
                    per_stream.setdefault(piece.stream, []).append(Word(start, max(start, end), w.text, w.probability))
            else:
                piece = layout.locate((seg.start + seg.end) / 2)
                if piece is None or not seg.text.strip():
                    continue
                first = layout.locate(seg.start) or piece
                last = layout.locate(seg.end) or piece
                start = layout.to_source(first if first.stream == piece.stream else piece, seg.start)
                end = layout.to_source(last if last.stream == piece.stream else piece, seg.end)
                loose.append(Utterance(roles[piece.stream], start, max(start, end), seg.text.strip(),
                                       channel=channels[piece.stream],
                                       confidence=round(float(np.exp(seg.avg_logprob)), 4)))
        utterances = loose
        for stream, stream_words in per_stream.items():
            stream_words.sort(key=lambda x: (x.start, x.end))
            group: list[Word] = []
            for word in stream_words:
                if group and word.start - group[-1].end > opts.utterance_gap:
                    utterances.append(_utterance(group, roles[stream], channels[stream]))
                    group = []
                group.append(word)
            if group:
                utterances.append(_utterance(group, roles[stream], channels[stream]))
        return sorted(utterances, key=lambda u: (u.start, u.end))


def review_reasons(
    options: TranscribeOptions, language: str | None, probability: float | None, report: GuardReport,
    utterances: Sequence[Utterance],
) -> list[str]:
    """Why a transcribed call needs a person to look at it before its score is trusted:
    its language is not among the expected ones or was detected with low probability, or
    most of what the model wrote were known hallucinations and loops."""
    reasons: list[str] = []
    if options.language is None and language is not None and probability is not None:
        if options.languages and language not in options.languages:
            reasons.append(f"unexpected language {language} (expected {','.join(options.languages)})")
        elif probability < options.min_language_probability:
            reasons.append(f"language unclear ({language}, probability {probability:.2f})")
    garbage = report.words_known_phrase + report.words_loop + report.words_letter_run
    kept = sum(len(u.words) if u.words else len(u.text.split()) for u in utterances)
    if garbage >= 3 and garbage > options.max_garbage_share * (garbage + kept):
        reasons.append(f"mostly hallucinations ({garbage} of {garbage + kept} words were known subtitle "
                       "phrases or loops)")
    return reasons


#: Words on the two channels count as the same sound when they start this close (s).
BLEED_SECONDS = 0.6


def drop_bleed(utterances: Sequence[Utterance], streams: Sequence[np.ndarray], report: GuardReport) -> list[Utterance]:
    """Stereo echo and crosstalk: a word recognised on both channels at the same time (same
    normalised text, starts within :data:`BLEED_SECONDS`) is kept only on the channel where
    it is louder; an utterance left without words is dropped."""
    words = [(i, k, w) for i, u in enumerate(utterances) if u.channel is not None for k, w in enumerate(u.words)]
    by_channel: dict[int, list[tuple[int, int, Word]]] = {}
    for i, k, w in words:
        by_channel.setdefault(int(utterances[i].channel or 0), []).append((i, k, w))
    if len(by_channel) != 2:
        return list(utterances)
    (ca, a_words), (cb, b_words) = sorted(by_channel.items())
    drop: set[tuple[int, int]] = set()
    for ia, ka, wa in a_words:
        key = _norm(wa.text)
        if not key:
            continue
        for ib, kb, wb in b_words:
            if abs(wa.start - wb.start) <= BLEED_SECONDS and _norm(wb.text) == key:
                start, end = min(wa.start, wb.start), max(wa.end, wb.end)
                louder_a = _level(streams[ca], start, end) >= _level(streams[cb], start, end)
                drop.add((ib, kb) if louder_a else (ia, ka))
                break
    if not drop:
        return list(utterances)
    report.words_bleed += len(drop)
    out: list[Utterance] = []
    for i, u in enumerate(utterances):
        if not any((i, k) in drop for k in range(len(u.words))):
            out.append(u)
            continue
        kept = [Word(w.start, w.end, " " + w.text, w.probability) for k, w in enumerate(u.words) if (i, k) not in drop]
        if kept:
            out.append(_utterance(kept, u.role, u.channel))
    return out


def _level(stream: np.ndarray, start: float, end: float) -> float:
    part = as_float32(stream[max(0, int(start * SR)) : max(int(start * SR) + 1, int(end * SR))])
    return float(np.sqrt(np.mean(part.astype(np.float64) ** 2))) if part.size else 0.0


def review_labels(quality: dict[str, Any] | None) -> list[str]:
    """Short labels of why a transcribed call is not a clean success (for batch summaries):
    ``speech lost``, ``truncated``, ``language unclear``, ``unexpected language``,
    ``hallucinations``. Empty for a clean call or an imported transcript."""
    if not quality:
        return []
    flags = set(quality.get("flags") or ())
    labels = [label for flag, label in (("speech_lost", "speech lost"), ("truncated", "truncated")) if flag in flags]
    if "needs_review" in flags:
        for reason in quality.get("review") or ():
            for start, label in (("language unclear", "language unclear"), ("unexpected language",
                                 "unexpected language"), ("mostly hallucinations", "hallucinations")):
                if str(reason).startswith(start):
                    labels.append(label)
    return labels


def vad_threshold_for(options: TranscribeOptions, source_sample_rate: int) -> float:
    """The VAD threshold for a recording: the option, or by the recording's own rate."""
    if options.vad_threshold is not None:
        return options.vad_threshold
    return TELEPHONE_VAD_THRESHOLD if source_sample_rate <= 8000 else VAD_THRESHOLD


@dataclass
class _ChannelCheck:
    """The lost-speech check of one stream (recorded under ``quality["channels"]``)."""

    role: str
    channel: int | None
    activity: np.ndarray | None  # speech_activity() windows
    vad: str = ""
    vad_coverage: float | None = None
    text_coverage: float | None = None
    retried: bool = False
    lost: bool = False

    @property
    def sound_seconds(self) -> float:
        return float(self.activity.sum()) * ACTIVITY_FRAME_SECONDS if self.activity is not None else 0.0

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {"role": self.role, "channel": self.channel, "sound_seconds": round(self.sound_seconds, 2),
                "vad": self.vad, "vad_coverage": r(self.vad_coverage), "text_coverage": r(self.text_coverage),
                "retried_without_vad": self.retried, "speech_lost": self.lost}


def _stream_of(utterance: Utterance, check: _ChannelCheck) -> bool:
    return utterance.channel == check.channel and utterance.role == check.role


def _word_spans(utterances: Sequence[Utterance]) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    for u in utterances:
        spans.extend((w.start, w.end) for w in u.words) if u.words else spans.append((u.start, u.end))
    return spans


def _coverage(activity: np.ndarray, spans: Sequence[tuple[float, float]], tolerance: float) -> float:
    """Share of the sound windows of ``activity`` that lie within ``tolerance`` s of ``spans``."""
    total = int(activity.sum())
    if total == 0:
        return 1.0
    covered = np.zeros(activity.shape[0], dtype=bool)
    for start, end in spans:
        a = max(0, int((start - tolerance) / ACTIVITY_FRAME_SECONDS))
        b = min(activity.shape[0], int(math.ceil((end + tolerance) / ACTIVITY_FRAME_SECONDS)))
        covered[a:b] = True
    return float(np.count_nonzero(covered & activity)) / total


def _activity_regions(activity: np.ndarray, n_samples: int, pad: float = 0.2, gap: float = 0.5) -> list[tuple[int, int]]:
    """Sound windows as (start, end) sample ranges: padded, pauses under ``gap`` s closed,
    pieces cut at 30 s (what VAD would have given)."""
    frame = ACTIVITY_FRAME_SECONDS
    spans: list[list[float]] = []
    for i in np.flatnonzero(activity):
        start, end = float(i) * frame - pad, float(i + 1) * frame + pad
        if spans and start - spans[-1][1] <= gap:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    regions: list[tuple[int, int]] = []
    for lo, hi in spans:
        a, b = max(0, int(lo * SR)), min(n_samples, int(hi * SR))
        while b > a:
            regions.append((a, min(b, a + int(CLIP_SECONDS * SR))))
            a += int(CLIP_SECONDS * SR)
    return regions


def _utterance(words: Sequence[Word], role: str, channel: int | None) -> Utterance:
    text = "".join(w.text for w in words).strip()
    cleaned = tuple(Word(round(w.start, 3), round(w.end, 3), w.text.strip(), round(w.probability, 4)) for w in words)
    confidence = round(float(np.mean([w.probability for w in words])), 4)
    return Utterance(role, cleaned[0].start, cleaned[-1].end, text, cleaned, channel, confidence)
