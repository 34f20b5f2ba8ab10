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
    """A decoded recording: one float32 array per channel, all at ``sample_rate``.

    ``channels[0]`` is the left channel of a stereo file, ``channels[1]`` the right.
    The arrays are read-only so the value really is frozen. ``source_sample_rate`` is the
    file's own rate (8000 for telephony), kept for the quality report.
    """

    channels: tuple[np.ndarray, ...]
    sample_rate: int
    source_sample_rate: int
    source: str = ""

    def __post_init__(self) -> None:
        if not self.channels:
            raise ValueError("DecodedAudio needs at least one channel")
        if self.sample_rate <= 0 or self.source_sample_rate <= 0:
            raise ValueError("sample rates must be positive")
        arrays = []
        for ch in self.channels:
            arr = np.ascontiguousarray(ch, dtype=np.float32)
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
        """The channels averaged: one stream for mono transcription."""
        if self.n_channels == 1:
            return self.channels[0]
        return np.mean(np.stack(self.channels), axis=0).astype(np.float32)


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


def decode(path: str | Path, sample_rate: int = TARGET_SAMPLE_RATE) -> DecodedAudio:
    """Decode the first audio stream of ``path`` to float32 at ``sample_rate``, channels kept.

    Raises :class:`AudioError` (one line: file, reason, fix) for a missing, empty,
    unreadable, non-audio or corrupt file, or one without an audio stream. A file whose
    tail is damaged (a recording cut off mid-write) decodes up to the damage.
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
        planes, bad_packets, first_error = _decode_stream(container, stream, sample_rate)
    finally:
        container.close()

    if not planes:
        reason = _reason(first_error) if first_error is not None else "no audio frames"
        raise AudioError(f"{path}: not an audio file or corrupt ({reason}); check that it is {_SUPPORTED_HINT}")
    if bad_packets:
        log.warning("%s: %d damaged packet(s) skipped (%s)", path, bad_packets, _reason(first_error or Exception()))
    data = np.concatenate(planes, axis=1)
    if data.shape[1] == 0:
        raise AudioError(f"{path}: contains no audio samples; check that it is {_SUPPORTED_HINT}")
    # Resampling can overshoot +-1 slightly on clipped input; keep values in range.
    np.clip(data, -1.0, 1.0, out=data)
    return DecodedAudio(
        channels=tuple(data[i] for i in range(data.shape[0])),
        sample_rate=sample_rate,
        source_sample_rate=source_rate or sample_rate,
        source=str(path),
    )


def _decode_stream(container: Any, stream: Any, sample_rate: int) -> tuple[list[np.ndarray], int, Exception | None]:
    """Demux and decode packet by packet, so one damaged packet does not lose the call."""
    import av

    resampler = None
    planes: list[np.ndarray] = []
    bad = 0
    first_error: Exception | None = None

    def take(frames: Iterable[Any]) -> None:
        for frame in frames:
            arr = frame.to_ndarray()
            if arr.ndim == 1:  # a packed layout: keep it 2-D (channels, samples)
                arr = arr.reshape(1, -1)
            planes.append(arr.astype(np.float32, copy=False))

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
    return planes, bad, first_error


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
)

_CHANNEL_NAMES = ("left", "right")


def _frame_active(samples: np.ndarray, frame: int, silence_db: float) -> np.ndarray:
    """Boolean per window: RMS at or above ``silence_db``. A trailing partial window counts."""
    n = samples.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    n_frames = math.ceil(n / frame)
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[:n] = samples
    squares = padded.reshape(n_frames, frame) ** 2
    # a partial last window is measured over its real samples only
    lengths = np.full(n_frames, frame, dtype=np.float64)
    lengths[-1] = n - (n_frames - 1) * frame
    rms = np.sqrt(squares.sum(axis=1) / lengths)
    threshold = 10.0 ** (silence_db / 20.0)
    return np.asarray(rms >= threshold)


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
    and ``flags`` (the codes of :data:`FLAG_CODES` that apply). With ``utterances`` (the
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
    clipped = sum(int(np.count_nonzero(np.abs(ch) >= opts.clip_level)) for ch in decoded.channels)
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
    }
    flags: list[str] = []
    if result["too_short"]:
        flags.append("too_short")
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
    level = max(float(np.mean(a.astype(np.float64) ** 2)), float(np.mean(b.astype(np.float64) ** 2)))
    diff = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
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
