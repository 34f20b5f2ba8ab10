"""qa.audio: finding, hashing, decoding (real files made by tools/make_fixtures.py) and
quality flags on generated signals with hand-computed expectations."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from qa.audio import (
    ACTIVITY_FRAME_SECONDS,
    AUDIO_EXTENSIONS,
    DecodedAudio,
    QualityOptions,
    as_float32,
    decode,
    quality_flags,
    sha256_file,
    speech_activity,
)
from qa.errors import AudioError
from qa.transcripts import Utterance

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "audio"
SAMPLES = ROOT / "samples"
SINE_RMS = 0.5 / np.sqrt(2)  # a sine of amplitude 0.5


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(x.shape[0], 1 / rate)[int(np.argmax(spectrum))])


# -- decode: one row per container/codec/rate ---------------------------------------------
# file, channels, source rate, duration, duration tolerance, left RMS, right RMS, RMS tol,
# left tone (Hz)
DECODE_CASES = [
    ("stereo_16k.wav", 2, 16000, 2.0, 0.001, SINE_RMS, 0.0, 0.002, 440),
    ("mono_8k.wav", 1, 8000, 1.5, 0.005, SINE_RMS, None, 0.005, 300),
    ("stereo_44k.flac", 2, 44100, 1.0, 0.005, SINE_RMS, SINE_RMS, 0.005, 440),
    # lossy codecs add encoder delay/padding (up to ~70 ms) and change the level slightly
    ("stereo_22k.mp3", 2, 22050, 2.0, 0.1, SINE_RMS, 0.0, 0.03, 440),
    ("stereo.ogg", 2, 16000, 2.0, 0.05, SINE_RMS, 0.0, 0.03, 440),
    ("stereo.opus", 2, 48000, 2.0, 0.05, SINE_RMS, 0.0, 0.03, 440),
    ("stereo.m4a", 2, 16000, 2.0, 0.1, SINE_RMS, 0.0, 0.03, 440),
    # header says 2 s, data stops at 0.5 s: decoded up to the damage
    ("truncated.wav", 2, 16000, 0.5, 0.001, SINE_RMS, 0.0, 0.002, 440),
]


@pytest.mark.parametrize(
    "name, n_channels, source_rate, duration, dur_tol, left_rms, right_rms, rms_tol, tone",
    DECODE_CASES,
)
@pytest.mark.audio
def test_decode(name, n_channels, source_rate, duration, dur_tol, left_rms, right_rms, rms_tol, tone):
    d = decode(FIXTURES / name)
    assert d.n_channels == n_channels
    assert d.sample_rate == 16000
    assert d.source_sample_rate == source_rate
    assert d.duration == pytest.approx(duration, abs=dur_tol)
    assert all(ch.dtype == np.float32 and ch.shape == (d.n_samples,) for ch in d.channels)
    assert rms(d.channels[0]) == pytest.approx(left_rms, abs=rms_tol)
    if right_rms is not None:
        assert rms(d.channels[1]) == pytest.approx(right_rms, abs=rms_tol)
    # resampling kept the pitch: the left tone is where it was (FFT bin 0.5-1 Hz wide)
    assert dominant_hz(d.channels[0], d.sample_rate) == pytest.approx(tone, abs=2)
    assert d.source == str(FIXTURES / name)


@pytest.mark.audio
def test_decode_other_rate_keeps_length():
    d = decode(FIXTURES / "mono_8k.wav", sample_rate=8000)
    assert d.sample_rate == 8000 and d.n_samples == 12000  # 1.5 s * 8000, no resampling


@pytest.mark.parametrize(
    "name, reason",
    [
        ("empty.wav", "empty file (0 bytes); the recording was not saved"),
        ("not_audio.wav", "not an audio file or corrupt"),
        ("corrupt.mp3", "not an audio file or corrupt"),
        ("video_only.mp4", "no audio stream (streams: video); export the call's audio track"),
        ("missing.wav", "file not found; check the path"),
    ],
)
@pytest.mark.audio
def test_decode_errors_name_file_reason_and_fix(name, reason):
    path = FIXTURES / name
    with pytest.raises(AudioError) as e:
        decode(path)
    message = str(e.value)
    assert message.startswith(f"{path}: ")
    assert reason in message
    assert "\n" not in message


def test_decode_folder_is_an_error():
    with pytest.raises(AudioError, match="is a folder, not an audio file"):
        decode(FIXTURES)


@pytest.mark.audio
def test_samples_decode_as_stereo_calls():
    """Every committed sample is a stereo call of 15-75 s with both sides speaking (one
    telephone sample is mono, as PBXs that mix both sides record it)."""
    with open(SAMPLES / "manifest.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9
    mono = [r["file"] for r in rows if decode(SAMPLES / r["file"]).n_channels == 1]
    assert mono == ["out-79035550101-102-20261124-101500-1700000002.102.wav"]
    for row in rows:
        if row["file"] in mono:
            continue
        d = decode(SAMPLES / row["file"])
        q = quality_flags(d)
        assert d.n_channels == 2, row["file"]
        assert 15 <= d.duration <= 75, row["file"]
        assert q["silent_channel"] is None and not q["channels_identical"], row["file"]
        # turns alternate: each side is quiet for a good part of the call
        assert all(0.2 < s < 0.9 for s in q["silence_share_channels"]), (row["file"], q)
        assert q["flags"] == [], (row["file"], q)


# -- DecodedAudio ---------------------------------------------------------------------------
def test_decoded_audio_is_read_only_and_validated():
    d = DecodedAudio((np.zeros(4), np.ones(4)), sample_rate=16000, source_sample_rate=8000)
    assert d.n_channels == 2 and d.duration == 4 / 16000
    assert d.channels[0].dtype == np.float32
    with pytest.raises(ValueError):
        d.channels[0][0] = 1.0
    np.testing.assert_array_equal(d.mono(), np.full(4, 0.5, dtype=np.float32))
    with pytest.raises(ValueError, match="same length"):
        DecodedAudio((np.zeros(4), np.zeros(5)), 16000, 16000)
    with pytest.raises(ValueError, match="at least one channel"):
        DecodedAudio((), 16000, 16000)
    with pytest.raises(ValueError, match="1-D"):
        DecodedAudio((np.zeros((2, 2)),), 16000, 16000)


# -- extensions / sha256_file ----------------------------------------------------------------
def test_audio_extensions():
    assert {".wav", ".mp3", ".ogg", ".opus", ".m4a", ".flac"} <= AUDIO_EXTENSIONS


def test_sha256_file(tmp_path):
    small = tmp_path / "abc"
    small.write_bytes(b"abc")
    assert sha256_file(small) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big"
    payload = bytes(range(256)) * 9000  # 2.2 MiB: crosses the 1 MiB read chunks
    big.write_bytes(payload)
    assert sha256_file(big) == hashlib.sha256(payload).hexdigest()
    with pytest.raises(AudioError, match="cannot be read"):
        sha256_file(tmp_path / "missing")


# -- quality flags ----------------------------------------------------------------------------
SR = 16000


def sine(seconds: float, amplitude: float = 0.5, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def zeros(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SR), dtype=np.float32)


def audio(*channels: np.ndarray) -> DecodedAudio:
    return DecodedAudio(tuple(channels), SR, SR)


def test_quality_turns_hand_computed():
    # 10 s = 500 windows of 20 ms. Left speaks 0-4 s (200 windows), right 4-6 s (100).
    left = np.concatenate([sine(4), zeros(6)])
    right = np.concatenate([zeros(4), sine(2), zeros(4)])
    q = quality_flags(audio(left, right))
    assert q["duration"] == 10.0
    assert q["n_channels"] == 2 and q["source_sample_rate"] == SR
    assert q["silence_share_channels"] == [0.6, 0.8]  # 300/500 and 400/500 windows quiet
    assert q["silence_share"] == 0.4  # nobody speaks in 6-10 s: 200/500
    assert q["clipping_share"] == 0.0
    assert q["silent_channel"] is None
    assert q["channels_identical"] is False
    assert q["too_short"] is False  # 10.0 s is not below 10 s
    assert q["flags"] == []


@pytest.mark.parametrize(
    "left, right, silent, identical, flags",
    [
        (sine(12), zeros(12), "right", False, ["silent_channel"]),
        (zeros(12), sine(12), "left", False, ["silent_channel"]),
        (sine(12), sine(12), None, True, ["channels_identical"]),
        # difference 0.01 sine vs level 0.5 sine: power ratio 4e-4 = -34 dB, above -40 dB
        (sine(12), sine(12) + sine(12, 0.01, 1000), None, False, []),
        # difference 0.001 sine: 4e-6 = -54 dB, below -40 dB: the same signal
        (sine(12), sine(12) + sine(12, 0.001, 1000), None, True, ["channels_identical"]),
        # both silent: "silent", not "silent_channel" and not "channels_identical"
        (zeros(12), zeros(12), None, True, ["silent"]),
    ],
)
def test_quality_channels(left, right, silent, identical, flags):
    q = quality_flags(audio(left, right))
    assert q["silent_channel"] == silent
    assert q["channels_identical"] is identical
    assert q["flags"] == flags


def test_quality_clipping_hand_computed():
    x = np.full(SR * 12, 0.5, dtype=np.float32)
    x[::100] = 1.0  # exactly 1 % of the samples at full scale
    q = quality_flags(audio(x))
    assert q["clipping_share"] == 0.01
    assert q["flags"] == ["clipping"]
    below = quality_flags(audio(x), options=QualityOptions(clipping_share=0.02))
    assert below["flags"] == []


@pytest.mark.parametrize(
    "signal, too_short, flags",
    [
        (sine(5), True, ["too_short"]),
        (zeros(12), False, ["silent"]),
        # 1 s of sound in 20 s: 95 % silence > 90 %
        (np.concatenate([sine(1), zeros(19)]), False, ["mostly_silent"]),
        (np.concatenate([sine(3), zeros(17)]), False, []),  # 85 % silence
    ],
)
def test_quality_duration_and_silence(signal, too_short, flags):
    q = quality_flags(audio(signal))
    assert q["too_short"] is too_short
    assert q["flags"] == flags


def test_quality_partial_last_window_measured_on_its_own_samples():
    # 330 samples: a silent 320-sample window, then 10 samples at 0.5 (RMS 0.5: sound)
    x = np.concatenate([np.zeros(320), np.full(10, 0.5)]).astype(np.float32)
    assert quality_flags(audio(x))["silence_share"] == 0.5


def test_quality_with_utterances():
    signal = np.concatenate([sine(6), zeros(6)])
    spans = [(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]  # overlap counted once: 3 + 1 = 4 s
    utterances = [Utterance("unknown", s, e, "hello") for s, e in spans]
    q = quality_flags(audio(signal), utterances)
    assert q["speech_seconds"] == 4.0
    assert q["flags"] == []
    assert quality_flags(audio(signal), [])["flags"] == ["no_speech"]
    assert quality_flags(audio(zeros(12)), [])["flags"] == ["silent"]  # nothing to hear


def test_quality_options_validated():
    with pytest.raises(ValueError, match="frame_seconds"):
        QualityOptions(frame_seconds=0)
    with pytest.raises(ValueError, match="clipping_share"):
        QualityOptions(clipping_share=2)


# -- truncated files, compact decoding, energy activity -------------------------------------------
def test_a_wav_cut_to_a_third_is_flagged_truncated(tmp_path):
    """The issue's case: a 38 s PBX recording cut to a third decodes to ~12.7 s."""
    src = SAMPLES / "2026-11-21_11-05-40_jones_14155550188_in.wav"
    data = src.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 3])
    d = decode(cut)
    assert d.declared_duration == pytest.approx(38.0, abs=0.1)
    assert d.duration == pytest.approx(38.0 / 3, abs=0.5)
    q = quality_flags(d)
    assert q["truncated"] and "truncated" in q["flags"] and q["declared_duration"] == pytest.approx(38.0, abs=0.1)
    whole = quality_flags(decode(src))
    assert not whole["truncated"] and "truncated" not in whole["flags"]
    # the header-only fixture too (0.5 s of 2 s)
    small = decode(FIXTURES / "truncated.wav")
    assert (small.duration, small.declared_duration) == (0.5, 2.0) and quality_flags(small)["truncated"]


@pytest.mark.parametrize("name", ["stereo_16k.wav", "stereo_22k.mp3", "stereo.ogg", "mono_8k.wav"])
def test_compact_decoding_is_int16_with_the_same_signal(name):
    full, compact = decode(FIXTURES / name), decode(FIXTURES / name, compact=True)
    assert all(ch.dtype == np.int16 for ch in compact.channels)
    assert compact.n_samples == full.n_samples and compact.declared_duration == full.declared_duration
    for a, b in zip(full.channels, compact.channels):
        np.testing.assert_allclose(as_float32(b), a, atol=1 / 32767 + 1e-6)
    assert quality_flags(compact)["flags"] == quality_flags(full)["flags"]
    assert compact.mono().dtype == np.int16


def test_speech_activity_finds_sound_above_the_channel_noise_floor():
    rng = np.random.default_rng(1)
    x = 0.001 * rng.standard_normal(SR * 10)
    x[SR * 2 : SR * 5] += 0.1 * rng.standard_normal(SR * 3)
    active = speech_activity(x.astype(np.float32), SR)
    assert active.sum() * ACTIVITY_FRAME_SECONDS == pytest.approx(3.0, abs=0.06)
    assert not speech_activity((0.001 * rng.standard_normal(SR * 10)).astype(np.float32), SR).any()
    as_int16 = np.round(x * 32767).astype(np.int16)
    np.testing.assert_array_equal(speech_activity(as_int16, SR, block_seconds=1.0), active)
