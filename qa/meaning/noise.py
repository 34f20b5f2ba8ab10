"""A seeded speech-recognition noise simulator, to test matching on imperfect transcripts.

Real ASR output loses case and punctuation, drops short words, mishears words into
near-spellings and splits or merges words. :func:`asr_noise` does all of that at a rate of
roughly ``rate`` errors per word; the same ``(text, rate, seed)`` always gives the same
result, so evaluations are repeatable.
"""

from __future__ import annotations

import random
import re
import string

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_VOWELS = "aeiouyаеёиоуыэюя"


def _misspell(w: str, rng: random.Random) -> str:
    if len(w) < 2:
        return w
    i = rng.randrange(len(w))
    op = rng.random()
    letters = _VOWELS if w[i] in _VOWELS else (
        "бвгджзклмнпрстфхцчшщ" if "а" <= w[i] <= "я" else string.ascii_lowercase)
    if op < 0.45:  # substitute a letter (a mishearing)
        return w[:i] + rng.choice(letters) + w[i + 1:]
    if op < 0.8:  # drop a letter
        return w[:i] + w[i + 1:]
    return w[:i] + rng.choice(letters) + w[i:]  # insert one


def asr_noise(text: str, rate: float = 0.15, seed: int = 0) -> str:
    """``text`` as a noisy recogniser might have written it (lower case, no punctuation).

    Per word, with probability ``rate``: 35% dropped, 45% misspelled (letter substituted,
    dropped or inserted), 10% merged with the next word, 10% replaced by a short filler
    word ("a", "the", "uh"). The word error rate measured by jiwer comes out near ``rate``.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    rng = random.Random(f"{seed}\x00{text}")
    words = [w.lower() for w in _WORD.findall(text)]
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if rng.random() < rate:
            op = rng.random()
            if op < 0.35:
                i += 1
                continue
            if op < 0.80:
                w = _misspell(w, rng)
            elif op < 0.90 and i + 1 < len(words):
                w = w + words[i + 1]
                i += 1
            else:
                w = rng.choice(("a", "the", "uh", "and"))
        out.append(w)
        i += 1
    return " ".join(out)
