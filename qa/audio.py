"""Audio files in: find them, fingerprint them, decode them, and say how good they are.

This is the first step of the transcription flow. It hands on to :mod:`qa.transcribe`:

- :func:`sha256_file` - the content hash the transcript cache is keyed on, so a renamed or
  copied recording is still a cache hit;
- :func:`decode` - a :class:`DecodedAudio` with every channel kept separate (stereo call
  recordings put the manager and the client on different channels), resampled to 16 kHz
  float32, which is what Whisper expects; any input rate works, 8 kHz telephony included;
- :func:`quality_flags` - silence, clipping, a silent channel, identical channels and very
  short calls, with the thresholds in :class:`QualityOptions`.

Decoding uses PyAV (FFmpeg's libraries), imported lazily so the rest of the package (scoring
of existing transcripts) works without it. Every failure is an :class:`~qa.errors.AudioError`
whose one-line message names the file, the reason and the fix.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import AudioError

if TYPE_CHECKING:
    from .transcripts import Utterance

#: File name endings searched for in folders (lower case). Files named explicitly are
#: decoded whatever their ending.
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".wave", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".flac", ".wma", ".webm", ".amr"}
)

#: What Whisper models are trained on.
TARGET_SAMPLE_RATE = 16000

log = logging.getLogger("qa")

_HASH_CHUNK = 1 << 20  # 1 MiB: streamed, so a two-hour recording is not read into memory
_BLOCK = 16000 * 60  # samples per block when long channels are measured or converted
_SUPPORTED_HINT = "a complete wav/mp3/ogg/opus/m4a/flac recording"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
                digest.update(chunk)
    except OSError as e:
        raise AudioError(f"{path}: cannot be read ({e.strerror or e}); check the file's permissions") from e
    return digest.hexdigest()


# -- decoding ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A decoded recording: one array per channel, all at ``sample_rate``.

    ``channels[0]`` is the left channel of a stereo file, ``channels[1]`` the right.
    Samples are float32 in [-1, 1], or int16 when decoded with ``compact=True`` (half the
    memory of float32 on long recordings; :func:`as_float32` converts a slice). The arrays
    are read-only so the value really is frozen. ``source_sample_rate`` is the file's own
    rate (8000 for telephony), kept for the quality report. ``declared_duration`` is what
    the container says the recording lasts (None when it does not say): more than the
    decoded duration means the file was cut (``truncated`` in :func:`quality_flags`).
    """

    channels: tuple[np.ndarray, ...]
    sample_rate: int
    source_sample_rate: int
    source: str = ""
    declared_duration: float | None = None

    def __post_init__(self) -> None:
        if not self.channels:
            raise ValueError("DecodedAudio needs at least one channel")
        if self.sample_rate <= 0 or self.source_sample_rate <= 0:
            raise ValueError("sample rates must be positive")
        arrays = []
        for ch in self.channels:
            dtype = np.int16 if getattr(ch, "dtype", None) == np.int16 else np.float32
            arr = np.ascontiguousarray(ch, dtype=dtype)
            if arr.ndim != 1:
                raise ValueError(f"each channel must be 1-D, got shape {arr.shape}")
            arr.setflags(write=False)
            arrays.append(arr)
        if len({a.shape[0] for a in arrays}) != 1:
            raise ValueError("all channels must have the same length")
        object.__setattr__(self, "channels", tuple(arrays))

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_samples(self) -> int:
        return int(self.channels[0].shape[0])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.n_samples / self.sample_rate

    def mono(self) -> np.ndarray:
        """The channels averaged: one stream for mono transcription (same dtype as the channels)."""
        if self.n_channels == 1:
            return self.channels[0]
        out = np.empty(self.n_samples, dtype=self.channels[0].dtype)
        for start in range(0, self.n_samples, _BLOCK):  # no float copy of a whole long call
            part = np.mean([ch[start : start + _BLOCK].astype(np.float32) for ch in self.channels], axis=0)
            out[start : start + _BLOCK] = np.round(part) if out.dtype == np.int16 else part
        return out


def check_file(path: str | Path) -> None:
    """Raise :class:`AudioError` unless ``path`` is a readable, non-empty file.

    Cheap (one ``stat``): the pipeline calls it before hashing and queueing a recording, and
    :func:`decode` calls it first, so both say the same thing about the same file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError as e:
        raise AudioError(f"{path}: file not found; check the path") from e
    except OSError as e:
        raise AudioError(f"{path}: cannot be read ({e.strerror or e}); check the file's permissions") from e
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file; name the files or use qa.pipeline.discover()")
    if size == 0:
        raise AudioError(
            f"{path}: empty file (0 bytes); the recording was not saved - export it again from the PBX or remove it"
        )


def decode(path: str | Path, sample_rate: int = TARGET_SAMPLE_RATE, *, compact: bool = False) -> DecodedAudio:
    """Decode the first audio stream of ``path`` at ``sample_rate``, channels kept.

    Samples are float32, or int16 with ``compact=True`` (what :mod:`qa.transcribe` uses:
    a two-hour stereo call then takes 460 MB instead of 920). Frames are written into
    arrays sized from the duration the container declares, so decoding never holds two
    copies of the recording.

    Raises :class:`AudioError` (one line: file, reason, fix) for a missing, empty,
    unreadable, non-audio or corrupt file, or one without an audio stream. A file whose
    tail is damaged (a recording cut off mid-write) decodes up to the damage, and its
    ``declared_duration`` then says how long it should have been.
    """
    path = Path(path)
    check_file(path)
    try:
        import av
    except ImportError as e:  # pragma: no cover - depends on the installed extras
        raise AudioError(
            f"{path}: cannot decode audio because PyAV is not installed; run: pip install 'call-qa[audio]'"
        ) from e

    try:
        container = av.open(str(path))
    except PermissionError as e:
        raise AudioError(f"{path}: cannot be read (permission denied); check the file's permissions") from e
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise AudioError(
            f"{path}: not an audio file or corrupt ({_reason(e)}); check that it is {_SUPPORTED_HINT}"
        ) from e

    try:
        if not container.streams.audio:
            kinds: list[str] = sorted({str(s.type) for s in container.streams}) or ["none"]
            raise AudioError(
                f"{path}: no audio stream (streams: {', '.join(kinds)}); export the call's audio track"
            )
        stream = container.streams.audio[0]
        source_rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        declared = _declared_duration(container, stream)
        from_header = _wav_declared_duration(path)
        if from_header is not None:  # FFmpeg clamps a WAV's length to the bytes present
            declared = max(declared or 0.0, from_header)
        sink = _Sink(np.int16 if compact else np.float32, declared, sample_rate)
        bad_packets, first_error = _decode_stream(container, stream, sample_rate, sink)
    finally:
        container.close()

    if sink.channels is None:
        reason = _reason(first_error) if first_error is not None else "no audio frames"
        raise AudioError(f"{path}: not an audio file or corrupt ({reason}); check that it is {_SUPPORTED_HINT}")
    if bad_packets:
        log.warning("%s: %d damaged packet(s) skipped (%s)", path, bad_packets, _reason(first_error or Exception()))
    channels = sink.result()
    if channels[0].shape[0] == 0:
        raise AudioError(f"{path}: contains no audio samples; check that it is {_SUPPORTED_HINT}")
    return DecodedAudio(
        channels=tuple(channels),
        sample_rate=sample_rate,
        source_sample_rate=source_rate or sample_rate,
        source=str(path),
        declared_duration=declared,
    )


def _declared_duration(container: Any, stream: Any) -> float | None:
    """Seconds the container says the audio lasts (WAV: from the data chunk size)."""
    try:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return float(container.duration) / 1_000_000  # AV_TIME_BASE
    except (TypeError, ValueError, ZeroDivisionError):  # pragma: no cover - odd containers
        pass
    return None


def _wav_declared_duration(path: Path) -> float | None:
    """Seconds a RIFF/WAVE header declares (``fact`` sample count, else data size / byte
    rate); None for other files and for streaming headers (size 0 or 0xFFFFFFFF)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, rate, byte_rate, samples = 12, 0, 0, None
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        body = head[pos + 8 : pos + 8 + min(size, 64)]
        if chunk == b"fmt " and len(body) >= 12:
            rate, byte_rate = struct.unpack("<II", body[4:12])
        elif chunk == b"fact" and len(body) >= 4:
            samples = struct.unpack("<I", body[:4])[0]
        elif chunk == b"data":
            if size in (0, 0xFFFFFFFF) or not rate:
                return None
            if samples:
                return samples / rate
            return size / byte_rate if byte_rate else None
        pos += 8 + size + (size & 1)
    return None


class _Sink:
    """Decoded frames written into preallocated per-channel arrays (grown when needed)."""

    def __init__(self, dtype: Any, declared: float | None, sample_rate: int) -> None:
        self.dtype = dtype
        # room for what the container declares (plus 1 %), capped at 12 hours
        seconds = min(declared, 12 * 3600.0) * 1.01 + 1.0 if declared else 60.0
        self.capacity = int(seconds * sample_rate)
        self.channels: list[np.ndarray] | None = None
        self.length = 0

    def add(self, arr: np.ndarray) -> None:
        """``arr``: float32 (channels, samples) in [-1, 1]."""
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        n = arr.shape[1]
        if self.channels is None:
            self.channels = [np.zeros(self.capacity, dtype=self.dtype) for _ in range(arr.shape[0])]
        if self.length + n > self.channels[0].shape[0]:
            grow = max(self.length + n, int(self.channels[0].shape[0] * 1.5))
            self.channels = [np.resize(ch, grow) for ch in self.channels]
        # Resampling can overshoot +-1 slightly on clipped input; keep values in range.
        part = np.clip(arr[: len(self.channels)], -1.0, 1.0)
        if self.dtype == np.int16:
            part = np.round(part * 32767.0)
        for i, ch in enumerate(self.channels):
            ch[self.length : self.length + n] = part[min(i, part.shape[0] - 1)]
        self.length += n

    def result(self) -> list[np.ndarray]:
        assert self.channels is not None
        # a view when the estimate was right: no copy of a long recording
        return [ch[: self.length] for ch in self.channels]


def _decode_stream(container: Any, stream: Any, sample_rate: int, sink: _Sink) -> tuple[int, Exception | None]:
    """Demux and decode packet by packet, so one damaged packet does not lose the call."""
    import av

    resampler = None
    bad = 0
    first_error: Exception | None = None

    def take(frames: Iterable[Any]) -> None:
        for frame in frames:
            sink.add(frame.to_ndarray().astype(np.float32, copy=False))

    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError as e:
                bad += 1
                first_error = first_error or e
                continue
            for frame in frames:
                if resampler is None:
                    # planar float32 keeps channels apart; layout kept as the file has it
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout, rate=sample_rate)
                take(resampler.resample(frame))
    except av.error.FFmpegError as e:
        # damage in the container itself (truncated download): keep what decoded so far
        bad += 1
        first_error = first_error or e
    if resampler is not None:
        take(resampler.resample(None))
    return bad, first_error


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text).split("\n", 1)[0].rstrip(".:; ")


# -- quality -------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityOptions:
    """Thresholds for :func:`quality_flags`. Defaults suit call-centre recordings."""

    #: Window for loudness measurement, seconds.
    frame_seconds: float = 0.02
    #: A window quieter than this (RMS, dB relative to full scale) counts as silence.
    #: Telephone line noise sits around -60..-50 dBFS, quiet speech above -35 dBFS.
    silence_db: float = -40.0
    #: A sample at or above this absolute value counts as clipped.
    clip_level: float = 0.99
    #: Flag ``clipping`` when more than this share of samples is clipped (0.1 %).
    clipping_share: float = 0.001
    #: A channel with sound in less than this share of windows is "silent" ...
    silent_channel_max_active: float = 0.01
    #: ... when the other channel has sound in at least this share.
    other_channel_min_active: float = 0.05
    #: Channels are "identical" (mono copied to both sides) when their difference is
    #: this many dB below their level.
    identical_db: float = -40.0
    #: Flag ``too_short`` below this many seconds: a call too short to hold a conversation.
    too_short_seconds: float = 10.0
    #: Flag ``mostly_silent`` when nobody is heard in more than this share of the call.
    mostly_silent_share: float = 0.9
    #: Flag ``truncated`` when the decoded audio is shorter than the container declares by
    #: more than this many seconds (or 2 % of the declared length, whichever is more).
    truncated_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.frame_seconds <= 0:
            raise ValueError("frame_seconds must be > 0")
        for name in ("clipping_share", "silent_channel_max_active", "other_channel_min_active", "mostly_silent_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if not 0 < self.clip_level <= 1:
            raise ValueError(f"clip_level must be in (0, 1], got {self.clip_level}")
        if self.too_short_seconds < 0:
            raise ValueError("too_short_seconds must be >= 0")


#: Short codes that can appear in ``quality_flags(...)["flags"]``.
FLAG_CODES = (
    "too_short",  # shorter than QualityOptions.too_short_seconds
    "silent",  # no sound on any channel
    "mostly_silent",  # nobody heard in most of the call
    "clipping",  # too loud: samples at full scale
    "silent_channel",  # one side of a stereo call has no sound: see "silent_channel"
    "channels_identical",  # stereo file carrying one mono signal twice
    "no_speech",  # sound, but nothing was recognised as speech
    "truncated",  # decoded audio is shorter than the container declares: the file was cut
    "speech_lost",  # a channel has speech by its energy, but little of it was recognised
    "needs_review",  # language unexpected or unclear, or the text is mostly known hallucinations
)

#: Window of :func:`speech_activity`, seconds.
ACTIVITY_FRAME_SECONDS = 0.03


def speech_activity(
    samples: np.ndarray, sample_rate: int, *, frame_seconds: float = ACTIVITY_FRAME_SECONDS,
    margin_db: float = 12.0, floor_db: float = -50.0, block_seconds: float = 600.0,
) -> np.ndarray:
    """Boolean per ``frame_seconds`` window: louder than the channel's own noise floor.

    The noise floor is the 10th percentile of the window levels (a call always has pauses);
    a window counts as sound when it is ``margin_db`` above that floor and above
    ``floor_db``. Independent of any model, so it can check what voice activity detection
    and the recogniser found (see :mod:`qa.transcribe`). Computed block by block, so a
    two-hour channel costs no float64 copy of itself.
    """
    frame = max(1, round(frame_seconds * sample_rate))
    n = int(samples.shape[0])
    if n == 0:
        return np.zeros(0, dtype=bool)
    block = max(frame, int(block_seconds * sample_rate) // frame * frame)
    levels: list[np.ndarray] = []
    for start in range(0, n, block):
        part = as_float32(samples[start : start + block]).astype(np.float64)
        n_frames = math.ceil(part.shape[0] / frame)
        padded = np.zeros(n_frames * frame, dtype=np.float64)
        padded[: part.shape[0]] = part
        lengths = np.full(n_frames, frame, dtype=np.float64)
        lengths[-1] = part.shape[0] - (n_frames - 1) * frame
        power = (padded.reshape(n_frames, frame) ** 2).sum(axis=1) / lengths
        levels.append(10.0 * np.log10(power + 1e-12))
    db = np.concatenate(levels)
    noise = float(np.percentile(db, 10))
    return np.asarray(db >= max(noise + margin_db, floor_db))


def as_float32(samples: np.ndarray) -> np.ndarray:
    """float32 view of a channel stored as float32 or int16 (see :func:`decode`)."""
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return np.asarray(samples, dtype=np.float32)

_CHANNEL_NAMES = ("left", "right")


def _frame_active(samples: np.ndarray, frame: int, silence_db: float) -> np.ndarray:
    """Boolean per window: RMS at or above ``silence_db``. A trailing partial window counts.

    Measured block by block (float64 copies of a block, never of a whole long channel)."""
    n = samples.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    threshold = 10.0 ** (silence_db / 20.0)
    block = max(frame, _BLOCK // frame * frame)
    out: list[np.ndarray] = []
    for start in range(0, n, block):
        part = as_float32(samples[start : start + block])
        m = part.shape[0]
        n_frames = math.ceil(m / frame)
        padded = np.zeros(n_frames * frame, dtype=np.float64)
        padded[:m] = part
        squares = padded.reshape(n_frames, frame) ** 2
        # a partial last window is measured over its real samples only
        lengths = np.full(n_frames, frame, dtype=np.float64)
        lengths[-1] = m - (n_frames - 1) * frame
        out.append(np.sqrt(squares.sum(axis=1) / lengths) >= threshold)
    return np.concatenate(out)


def _channel_name(index: int) -> str:
    return _CHANNEL_NAMES[index] if index < len(_CHANNEL_NAMES) else f"channel_{index}"


def quality_flags(
    decoded: DecodedAudio,
    utterances: Sequence[Utterance] | None = None,
    options: QualityOptions | None = None,
) -> dict[str, Any]:
    """Measure what makes a recording hard to score, as a JSON-ready dict.

    Keys: ``duration`` (s), ``source_sample_rate``, ``n_channels``, ``silence_share``
    (share of windows where no channel has sound), ``silence_share_channels`` (per
    channel), ``clipping_share`` (share of samples at full scale, all channels),
    ``silent_channel`` (``"left"``/``"right"`` when that side has no sound while the other
    does - one side not recorded, or the PBX channel setting is wrong - else ``None``),
    ``channels_identical`` (stereo file with the same signal on both sides), ``too_short``,
    ``declared_duration`` (what the container declares, s) and ``truncated`` (decoded
    audio shorter than that: the file was cut), and ``flags`` (the codes of :data:`FLAG_CODES` that apply). With ``utterances`` (the
    recognised speech) also ``speech_seconds`` and the ``no_speech`` flag.
    """
    opts = options or QualityOptions()
    frame = max(1, round(opts.frame_seconds * decoded.sample_rate))
    active = [_frame_active(ch, frame, opts.silence_db) for ch in decoded.channels]
    n_frames = active[0].shape[0]

    def share(mask: np.ndarray) -> float:
        return float(mask.mean()) if mask.size else 1.0

    silence_channels = [round(1.0 - share(a), 4) if a.size else 1.0 for a in active]
    anyone = np.logical_or.reduce(active) if n_frames else np.zeros(0, dtype=bool)
    silence_share = round(1.0 - share(anyone), 4) if n_frames else 1.0

    total_samples = decoded.n_samples * decoded.n_channels
    clipped = 0
    for ch in decoded.channels:  # block by block: np.abs of a two-hour channel is a copy of it
        level = opts.clip_level * 32767 if ch.dtype == np.int16 else opts.clip_level
        for start in range(0, ch.shape[0], _BLOCK):
            clipped += int(np.count_nonzero(np.abs(ch[start : start + _BLOCK]) >= level))
    clipping_share = round(clipped / total_samples, 6) if total_samples else 0.0

    silent_channel: str | None = None
    identical = False
    if decoded.n_channels >= 2:
        active_share = [share(a) for a in active]
        for i, own in enumerate(active_share):
            others = [s for j, s in enumerate(active_share) if j != i]
            if own < opts.silent_channel_max_active and max(others) >= opts.other_channel_min_active:
                silent_channel = _channel_name(i)
                break
        identical = _identical(decoded.channels[0], decoded.channels[1], opts.identical_db)

    duration = decoded.duration
    declared = decoded.declared_duration
    truncated = declared is not None and duration < declared - max(opts.truncated_seconds, 0.02 * declared)
    result: dict[str, Any] = {
        "duration": round(duration, 3),
        "source_sample_rate": decoded.source_sample_rate,
        "n_channels": decoded.n_channels,
        "silence_share": silence_share,
        "silence_share_channels": silence_channels,
        "clipping_share": clipping_share,
        "silent_channel": silent_channel,
        "channels_identical": identical,
        "too_short": duration < opts.too_short_seconds,
        "declared_duration": None if declared is None else round(declared, 3),
        "truncated": truncated,
    }
    flags: list[str] = []
    if result["too_short"]:
        flags.append("too_short")
    if truncated:
        flags.append("truncated")
    if not anyone.any():
        flags.append("silent")
    elif silence_share > opts.mostly_silent_share:
        flags.append("mostly_silent")
    if clipping_share > opts.clipping_share:
        flags.append("clipping")
    if silent_channel is not None:
        flags.append("silent_channel")
    if identical and anyone.any():
        flags.append("channels_identical")
    if utterances is not None:
        result["speech_seconds"] = round(_union_seconds([(u.start, u.end) for u in utterances]), 3)
        if anyone.any() and not any(u.text.strip() for u in utterances):
            flags.append("no_speech")
    result["flags"] = flags
    return result


def _identical(a: np.ndarray, b: np.ndarray, threshold_db: float) -> bool:
    """True when ``a - b`` is ``threshold_db`` below the louder of the two (or both are zero)."""
    power_a = power_b = diff = 0.0
    for start in range(0, a.shape[0], _BLOCK):
        x = as_float32(a[start : start + _BLOCK]).astype(np.float64)
        y = as_float32(b[start : start + _BLOCK]).astype(np.float64)
        power_a += float(np.sum(x**2))
        power_b += float(np.sum(y**2))
        diff += float(np.sum((x - y) ** 2))
    level = max(power_a, power_b)
    if level == 0.0:
        return True
    return diff <= level * 10.0 ** (threshold_db / 10.0)


def _union_seconds(spans: Iterable[tuple[float, float]]) -> float:
    """Total length of the union of time spans (overlapping turns counted once)."""
    total = 0.0
    current_start: float | None = None
    current_end = 0.0
    for start, end in sorted(spans):
        if current_start is None or start > current_end:
            if current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_start is not None:
        total += current_end - current_start
    return total
