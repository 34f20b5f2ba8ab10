"""Who said what on a mono call: two speakers told apart by their voices, then the manager.

A mono recording (or a stereo file carrying one signal twice) has both sides in one stream,
so :mod:`qa.transcribe` cannot take roles from channels. This module gives them back:

1. **Speaker separation, signal-based** (no model to download, numpy only): the recognised
   words are cut into chunks at pauses (:data:`CHUNK_GAP`); each chunk gets a voice print:
   its median pitch (autocorrelation) and its mean MFCCs over the telephone band
   (cepstral-mean normalised over the call). Two-cluster k-means on the standardised
   prints, pitch weighted most, splits the chunks into two speakers. The split is trusted
   only when the two clusters stand well apart (:data:`MIN_SEPARATION`) and each holds a
   real share of the talk; otherwise every word stays ``unknown``.
2. **Which speaker is the manager**, from evidence with weights:
   script phrases of a manager (greeting, introduction, offer of help:
   ``qa/data/speakers.yaml``, per language) in each speaker's words; who speaks first
   (on an inbound call the manager answers, on an outbound call the client picks up and
   speaks first); and talk share (the manager usually talks more). When the evidence does
   not clearly favour one side (:data:`MIN_EVIDENCE`), roles stay ``unknown`` and
   ``quality["roles"]`` says why.

No speaker-embedding model is used: the PyPI candidates found when this was written
(pyannote, speechbrain, resemblyzer and the like) need torch, which the project does not
install, or fetch their weights at run time. The signal features separate two voices on a
clean line and say so when they do not (BENCHMARKS.md has the accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from .audio import as_float32
from .errors import ConfigError
from .transcripts import CLIENT, MANAGER, UNKNOWN, Utterance, Word

#: A pause between words longer than this (s) may be a change of speaker: chunks end there.
CHUNK_GAP = 0.25
#: Words shorter than this (s) get no voice print of their own (they join a neighbour).
MIN_CHUNK_SECONDS = 0.15
#: Separation of the two clusters (distance of the centroids over the pooled spread along
#: that axis) below which the split is not trusted. k-means cuts even one voice in two, at
#: about 2.7 for a single normal cloud; two voices measured 3.4-4.3 on the telephone samples.
MIN_SEPARATION = 3.0
#: Each speaker must hold at least this share of the chunk time.
MIN_SHARE = 0.1
#: Evidence margin needed to name the manager (see :func:`attribute_roles`).
MIN_EVIDENCE = 1.0

_FRAME = 400  # 25 ms at 16 kHz
_HOP = 160  # 10 ms
_N_FFT = 512


@dataclass
class Chunk:
    words: list[Word]
    speaker: int = -1

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)

    def text(self) -> str:
        return " ".join(w.text for w in self.words)


# -- voice prints ---------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _mel_filters(sr: int, n_mels: int = 24, low: float = 150.0, high: float = 3600.0) -> np.ndarray:
    def mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)

    points = np.linspace(mel(low), mel(high), n_mels + 2)
    hz = 700.0 * (10.0 ** (points / 2595.0) - 1.0)
    bins = np.floor((_N_FFT + 1) * hz / sr).astype(int)
    filters = np.zeros((n_mels, _N_FFT // 2 + 1))
    for m in range(1, n_mels + 1):
        a, b, c = bins[m - 1], bins[m], bins[m + 1]
        for k in range(a, b):
            filters[m - 1, k] = (k - a) / max(1, b - a)
        for k in range(b, c):
            filters[m - 1, k] = (c - k) / max(1, c - b)
    return filters


def _frames(x: np.ndarray, size: int = _FRAME) -> np.ndarray:
    if x.shape[0] < size:
        x = np.pad(x, (0, size - x.shape[0]))
    n = 1 + (x.shape[0] - size) // _HOP
    idx = np.arange(size)[None, :] + _HOP * np.arange(n)[:, None]
    return x[idx] * np.hanning(size)[None, :]


def voice_print(samples: np.ndarray, sr: int = 16000) -> np.ndarray:
    """``[log median pitch, MFCC 1..12]`` of a piece of speech (pitch NaN when unvoiced)."""
    x = as_float32(samples).astype(np.float64)
    frames = _frames(x)
    power = np.abs(np.fft.rfft(frames, _N_FFT)) ** 2
    energy = power.sum(axis=1)
    loud = energy >= np.median(energy)  # the voiced half, roughly
    mel = np.log(power[loud] @ _mel_filters(sr).T + 1e-10)
    n_mels = mel.shape[1]
    dct = np.cos(np.pi / n_mels * (np.arange(n_mels)[None, :] + 0.5) * np.arange(1, 13)[:, None])
    mfcc = (mel @ dct.T).mean(axis=0)
    # pitch: autocorrelation of 40 ms frames (a telephone line cuts the fundamental, but the
    # period still shows), corrected for the window's own autocorrelation, 70-400 Hz
    long = _frames(x, 640)
    energy_long = (long**2).sum(axis=1)
    long = long[energy_long >= np.median(energy_long)]
    n = 2048
    window_ac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(640), n)) ** 2)[:640]
    ac = np.fft.irfft(np.abs(np.fft.rfft(long, n)) ** 2)[:, :640] / np.maximum(window_ac, 1e-3 * window_ac[0])
    lo, hi = int(sr / 400), int(sr / 70)
    ac_norm = ac[:, lo:hi] / (ac[:, :1] + 1e-10)
    best = ac_norm.argmax(axis=1)
    voiced = ac_norm[np.arange(best.shape[0]), best] > 0.4
    f0 = sr / (best[voiced] + lo) if voiced.any() else np.zeros(0)
    pitch = float(np.log(np.median(f0))) if f0.size else float("nan")
    return np.concatenate([[pitch], mfcc])


# -- two speakers -----------------------------------------------------------------------------------
def chunk_words(words: Sequence[Word], gap: float = CHUNK_GAP) -> list[Chunk]:
    """Consecutive words with pauses under ``gap`` seconds, as chunks."""
    chunks: list[Chunk] = []
    for w in sorted(words, key=lambda w: (w.start, w.end)):
        if chunks and w.start - chunks[-1].end <= gap:
            chunks[-1].words.append(w)
        else:
            chunks.append(Chunk([w]))
    return chunks


def split_two(prints: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Two-cluster k-means over voice prints (rows). Returns the label per row and the
    separation of the clusters (centroid distance over the pooled spread along the axis
    joining them; 0 when there is nothing to split)."""
    n = prints.shape[0]
    if n < 2:
        return np.zeros(n, dtype=int), 0.0
    prints = prints.copy()
    for col in range(prints.shape[1]):  # an unvoiced word has no pitch: the median stands in
        bad = ~np.isfinite(prints[:, col])
        if bad.any():
            good = prints[~bad, col]
            prints[bad, col] = float(np.median(good)) if good.size else 0.0
    std = prints.std(axis=0)
    z = (prints - prints.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)
    z[:, 0] *= 2.0  # pitch tells two voices apart best
    centres = np.stack([z[int(np.argmin(z[:, 0]))], z[int(np.argmax(z[:, 0]))]])
    labels = np.zeros(n, dtype=int)
    for _ in range(30):
        distance = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = distance.argmin(axis=1)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for k in (0, 1):
            if (labels == k).any():
                centres[k] = np.average(z[labels == k], axis=0, weights=weights[labels == k])
    if len(set(labels.tolist())) < 2:
        return labels, 0.0
    axis = centres[1] - centres[0]
    length = float(np.linalg.norm(axis))
    if length == 0:
        return labels, 0.0
    projected = z @ (axis / length)
    spread = math.sqrt(
        sum(float(np.var(projected[labels == k])) * float((labels == k).sum()) for k in (0, 1)) / n
    )
    return labels, length / max(spread, 1e-6)


# -- who is the manager -------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _manager_phrases() -> dict[str, tuple[str, ...]]:
    ref = resources.files("qa").joinpath("data/speakers.yaml")
    import yaml

    try:
        data = yaml.safe_load(ref.read_text(encoding="utf-8")) or {}
        phrases = data["manager_phrases"]
        return {str(lang): tuple(_words(p) for p in items) for lang, items in phrases.items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:  # pragma: no cover
        raise ConfigError(f"{ref}: cannot read the manager phrases ({e}); reinstall call-qa") from e


def _words(text: str) -> str:
    import re

    return " ".join(re.findall(r"\w+", text.casefold().replace("ё", "е")))


def attribute_roles(
    utterances: Sequence[Utterance], audio: np.ndarray, *, direction: str | None, language: str | None,
    utterance_gap: float = 1.0, sr: int = 16000,
) -> tuple[list[Utterance], dict[str, Any]]:
    """Roles for the utterances of a mono stream (see the module docstring).

    Returns the utterances regrouped by speaker (role ``manager``/``client``, or all
    ``unknown`` when confidence is low) and what was decided, for ``quality["roles"]``.
    """
    words = sorted((w for u in utterances for w in u.words), key=lambda w: (w.start, w.end))
    info: dict[str, Any] = {"method": "voice clustering (pitch + MFCC per word, 2 speakers)"}
    # one chunk per word: word timings at a change of speaker are the least reliable part,
    # so each word gets its own print and the labels are smoothed over neighbours after
    chunks = [Chunk([w]) for w in words]
    printed = [c for c in chunks if c.seconds >= MIN_CHUNK_SECONDS]
    if len(printed) < 4:
        info["roles"] = "unknown: too little speech to tell two speakers apart"
        return list(utterances), info
    prints = np.stack([voice_print(audio[int(c.start * sr) : int(math.ceil(c.end * sr))], sr) for c in printed])
    weights = np.array([c.seconds for c in printed])
    labels, separation = split_two(prints, weights)
    info["separation"] = round(separation, 2)
    share = float(weights[labels == 1].sum() / weights.sum())
    if separation < MIN_SEPARATION or min(share, 1 - share) < MIN_SHARE:
        info["roles"] = (f"unknown: the voices are not clearly two (separation {separation:.1f}, "
                         f"shares {1 - share:.0%}/{share:.0%})")
        return list(utterances), info
    for c, label in zip(printed, labels):
        c.speaker = int(label)
    _fill_short(chunks)
    _smooth(chunks)

    # evidence for "speaker k is the manager"
    evidence = [0.0, 0.0]
    reasons: list[str] = []
    phrases = _manager_phrases()
    lang_phrases = phrases.get(language or "", ()) or tuple(p for ps in phrases.values() for p in ps)
    for k in (0, 1):
        text = " " + _words(" ".join(c.text() for c in chunks if c.speaker == k)) + " "
        hits = sum(1 for p in lang_phrases if f" {p} " in text)
        if hits:
            evidence[k] += min(hits, 3)
            reasons.append(f"speaker {k + 1}: {hits} manager phrase(s)")
    first = chunks[0].speaker
    if direction in ("in", "out"):
        k = first if direction == "in" else 1 - first
        evidence[k] += 1.0
        reasons.append(f"{direction}bound call: speaker {first + 1} spoke first")
    talk = [sum(c.seconds for c in chunks if c.speaker == k) for k in (0, 1)]
    more = int(talk[1] > talk[0])
    if abs(talk[0] - talk[1]) > 0.1 * sum(talk):
        evidence[more] += 0.5
        reasons.append(f"speaker {more + 1} talks more")
    info["evidence"] = reasons
    margin = abs(evidence[0] - evidence[1])
    info["confidence"] = round(margin, 2)
    if margin < MIN_EVIDENCE:
        info["roles"] = "unknown: two voices, but too little evidence which one is the manager"
        return list(utterances), info
    manager = 0 if evidence[0] > evidence[1] else 1
    info["roles"] = "manager/client"
    roles = {manager: MANAGER, 1 - manager: CLIENT}
    out: list[Utterance] = []
    group: list[Word] = []
    speaker = -1
    for c in chunks:
        for w in c.words:
            if group and (c.speaker != speaker or w.start - group[-1].end > utterance_gap):
                out.append(_utterance(group, roles.get(speaker, UNKNOWN)))
                group = []
            group.append(w)
            speaker = c.speaker
    if group:
        out.append(_utterance(group, roles.get(speaker, UNKNOWN)))
    return out, info


def _smooth(chunks: list[Chunk], pause: float = CHUNK_GAP) -> None:
    """A word whose two neighbours, with no pause between, belong to the other speaker
    belongs to them too (a word's print is noisy; a one-word turn without pauses is rare)."""
    labels = [c.speaker for c in chunks]
    for i in range(1, len(chunks) - 1):
        before, after = chunks[i - 1], chunks[i + 1]
        close = chunks[i].start - before.end <= pause and after.start - chunks[i].end <= pause
        if close and labels[i - 1] == labels[i + 1] != labels[i]:
            chunks[i].speaker = labels[i - 1]


def _fill_short(chunks: list[Chunk]) -> None:
    """Chunks too short for a voice print take the speaker of the nearer neighbour."""
    known = [i for i, c in enumerate(chunks) if c.speaker >= 0]
    for c in chunks:
        if c.speaker < 0 and known:
            nearest = min(known, key=lambda j: min(abs(chunks[j].end - c.start), abs(c.end - chunks[j].start)))
            c.speaker = chunks[nearest].speaker


def _utterance(words: Sequence[Word], role: str) -> Utterance:
    text = " ".join(w.text for w in words).strip()
    confidence = round(float(np.mean([w.probability for w in words])), 4)
    return Utterance(role, words[0].start, words[-1].end, text, tuple(words), None, confidence)
