"""Personal data out of transcripts: find it, replace it with a typed token.

What is found, in Russian and English, written in digits or dictated as words:

``[PHONE]``     phone numbers: Russian (+7 / 8 / none, spaces, brackets, dashes) and
                international, checked with ``phonenumbers`` (a well-kept port of Google's
                libphonenumber); «восемь девятьсот шестнадцать сто двадцать три сорок пять
                шестьдесят семь», "four one five, five five five, oh one two three";
``[CARD]``      payment card numbers: 13-19 digits passing the Luhn check;
``[EMAIL]``     e-mail addresses, written or dictated («иван точка петров собака мэйл точка ру»);
``[PASSPORT]``  Russian passport series and number (10 digits, near «паспорт» / «серия»);
``[INN]``       INN (10 digits near «ИНН», or 12 digits with valid check digits);
``[SNILS]``     SNILS (11 digits, near «СНИЛС» or with valid check digits);
``[ACCOUNT]``   Russian bank accounts (20 digits); ``[IBAN]`` IBANs (mod-97 check).

How: an utterance is split into words; runs of words that are digits or number words
(from the language files' ``numbers:``, the same words :mod:`qa.normalize` reads) become a
digit string the way people dictate (``девятьсот шестнадцать`` = ``916``, then ``сто двадцать
три`` = ``123``); multipliers («тысяч», "million") end a run, because a number with them is a
quantity, not a dictated identifier. Every group-aligned part of a run is tried, longest
first, against the checks above, with context words near the run deciding between look-alikes
(a 10-digit run near «паспорт» is a passport, near «заказ» an order number). All
language-specific words live in ``qa/data/pii/<lang>.yaml``; no library covers dictated
Russian numbers, so that part is written here.

:func:`redact_transcript` is what ``--redact`` runs before a call is stored: utterance text
and word timings both; the words of one finding merge into one timed word whose text is the
token, so the call page still shows when it was said and :func:`redacted_spans` tells the
audio writers which seconds to silence.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .errors import ConfigError
from .transcripts import Transcript, Utterance, Word

#: The tokens, by kind.
TOKENS = {
    "phone": "[PHONE]", "card": "[CARD]", "email": "[EMAIL]", "passport": "[PASSPORT]",
    "inn": "[INN]", "snils": "[SNILS]", "account": "[ACCOUNT]", "iban": "[IBAN]",
}
TOKEN_TEXTS = frozenset(TOKENS.values())
LANGUAGES = ("ru", "en")

_STRIP = ".,;:!?()[]{}«»\"'“”„…"
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_DIGITISH_RE = re.compile(r"^[+(]*\d[\d()\-–./]*$")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


class RedactionError(ConfigError):
    """A PII word file (qa/data/pii/*.yaml) that cannot be read."""


# ---- word data ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Words:
    """The words of every language, merged: a Russian call may dictate in English and back."""

    numbers: dict[str, tuple[str, int]]
    stops: frozenset[str]
    plus: frozenset[str]
    repeat: dict[str, int]
    bridges: frozenset[str]
    at: frozenset[str]
    dot: frozenset[str]
    joiners: dict[str, str]
    email_words: dict[str, str]
    tlds: frozenset[str]
    context: dict[str, tuple[str, ...]]


def _fold(word: str) -> str:
    return word.lower().replace("ё", "е").strip(_STRIP)


def _read_pii(path: Any, name: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        why = " ".join(str(e).split())  # one line: YAML errors span several
        raise RedactionError(f"{name}: cannot read the PII word file ({why}); fix its YAML") from e
    if not isinstance(data, dict):
        raise RedactionError(f"{name}: expected a mapping of word lists; see qa/data/pii/ru.yaml")
    return data


@lru_cache(maxsize=4)
def load_words(languages: tuple[str, ...] = LANGUAGES, folder: str | None = None) -> Words:
    """Number words of the language files plus ``qa/data/pii/<lang>.yaml`` (or ``folder``)."""
    from pathlib import Path

    from .normalize import load_language

    numbers: dict[str, tuple[str, int]] = {}
    stops: set[str] = set()
    plus: set[str] = set()
    repeat: dict[str, int] = {}
    bridges: set[str] = set()
    at: set[str] = set()
    dot: set[str] = set()
    joiners: dict[str, str] = {}
    email_words: dict[str, str] = {}
    tlds: set[str] = set()
    context: dict[str, list[str]] = {}
    for code in languages:
        nums = load_language(code).numbers
        for cls in ("units", "teens", "tens", "hundreds"):
            for w, v in getattr(nums, cls).items():
                numbers[_fold(w)] = (cls, int(v))
        stops.update(_fold(str(w)) for w in (*nums.multipliers, *nums.hundreds_multiplier))
        if folder is not None:
            path: Any = Path(folder) / f"{code}.yaml"
            name = str(path)
        else:
            path = resources.files("qa.data").joinpath("pii").joinpath(f"{code}.yaml")
            name = f"qa/data/pii/{code}.yaml"
        data = _read_pii(path, name)
        try:
            for w, v in (data.get("digits") or {}).items():
                numbers[_fold(str(w))] = ("units", int(v))
            plus.update(_fold(str(w)) for w in data.get("plus") or [])
            repeat.update({_fold(str(k)): int(v) for k, v in (data.get("repeat") or {}).items()})
            bridges.update(_fold(str(w)) for w in data.get("bridges") or [])
            email = data.get("email") or {}
            at.update(_fold(str(w)) for w in email.get("at") or [])
            dot.update(_fold(str(w)) for w in email.get("dot") or [])
            joiners.update({_fold(str(k)): str(v) for k, v in (email.get("joiners") or {}).items()})
            email_words.update({_fold(str(k)): str(v) for k, v in (email.get("words") or {}).items()})
            tlds.update(_fold(str(w)) for w in email.get("tlds") or [])
            for kind, words in (data.get("context") or {}).items():
                context.setdefault(str(kind), []).extend(_fold(str(w)) for w in words or [])
        except (AttributeError, TypeError, ValueError) as e:
            raise RedactionError(
                f"{name}: unexpected shape ({e}); lists of words and word: value mappings as in "
                "qa/data/pii/ru.yaml"
            ) from e
    return Words(
        numbers, frozenset(stops), frozenset(plus), repeat, frozenset(bridges), frozenset(at),
        frozenset(dot), joiners, email_words, frozenset(tlds),
        {k: tuple(v) for k, v in context.items()},
    )


# ---- checks -------------------------------------------------------------------------------
def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def inn_ok(digits: str) -> bool:
    def check(ds: str, weights: Sequence[int]) -> int:
        return sum(int(a) * b for a, b in zip(ds, weights)) % 11 % 10

    if len(digits) == 10:
        return check(digits, (2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[9])
    if len(digits) == 12:
        return (
            check(digits, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[10])
            and check(digits, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[11])
        )
    return False


def snils_ok(digits: str) -> bool:
    if len(digits) != 11:
        return False
    s = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    s = s % 101
    return (0 if s == 100 else s) == int(digits[9:])


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    s = s[4:] + s[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in s)) % 97 == 1
    except ValueError:
        return False


def _phone_ok(digits: str, plus: bool, russian: bool = False) -> bool:
    """A valid number as said: with its country code, or Russian (+7) / North American
    (+1) without one. ``russian``: dictated in Russian words, so only +7 is assumed (a count
    «два три четыре ... десять» is no American number)."""
    import phonenumbers

    candidates: list[str] = []
    if plus:
        candidates.append("+" + digits)
    if len(digits) == 11 and digits[0] in "78":
        candidates.append("+7" + digits[1:])
    if len(digits) == 10:
        candidates += ["+7" + digits] if russian else ["+7" + digits, "+1" + digits]
    if len(digits) == 11 and digits[0] == "1" and not russian:
        candidates.append("+" + digits)
    if len(digits) >= 11 and not plus and not russian:
        candidates.append("+" + digits)
    for c in candidates:
        try:
            num = phonenumbers.parse(c, None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return True
    return False


# ---- finding ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """Personal data at ``words[first..last]`` (indexes of whitespace-separated words)."""

    kind: str
    first: int
    last: int

    @property
    def token(self) -> str:
        return TOKENS[self.kind]


@dataclass
class _Group:
    digits: str
    words: list[int]
    open_tens: bool = False
    open_units: bool = False


def _runs(words: Sequence[str], w: Words) -> list[tuple[list[_Group], bool]]:
    """Runs of number words / digits, as dictated groups; with whether a plus came first."""
    runs: list[tuple[list[_Group], bool]] = []
    groups: list[_Group] = []
    plus = False
    repeat = 0

    def close() -> None:
        nonlocal groups, plus, repeat
        if groups:
            runs.append((groups, plus))
        groups, plus, repeat = [], False, 0

    for i, raw in enumerate(words):
        f = _fold(raw)
        if not f:
            if raw.strip() in ("-", "–", "—"):
                continue
            close()
            continue
        if f in w.plus or raw.startswith("+") and not groups:
            if f in w.plus:
                close()
                plus = True
                continue
        if _DIGITISH_RE.match(raw.strip(_STRIP.replace("(", "").replace(")", "")) or raw):
            if raw.lstrip("(").startswith("+") and not groups:
                plus = True
            digits = re.sub(r"\D", "", raw)
            groups.append(_Group(digits, [i]))
            repeat = 0
            continue
        if f in w.repeat:
            repeat = w.repeat[f]
            continue
        if f in w.bridges and groups:
            continue
        entry = w.numbers.get(f)
        if entry is None:
            close()
            continue
        cls, value = entry
        last = groups[-1] if groups else None
        if repeat and cls == "units":
            groups.append(_Group(str(value) * repeat, [i]))
            repeat = 0
        elif cls == "hundreds":
            groups.append(_Group(str(value), [i], open_tens=True, open_units=True))
        elif cls == "tens":
            if last is not None and last.open_tens:
                last.digits = str(int(last.digits) + value)
                last.words.append(i)
                last.open_tens = False
            else:
                groups.append(_Group(str(value), [i], open_units=True))
        elif cls == "teens":
            if last is not None and last.open_tens:
                last.digits = str(int(last.digits) + value)
                last.words.append(i)
                last.open_tens = last.open_units = False
            else:
                groups.append(_Group(str(value), [i]))
        else:  # units
            if last is not None and last.open_units and value != 0:
                last.digits = str(int(last.digits) + value)
                last.words.append(i)
                last.open_tens = last.open_units = False
            else:
                groups.append(_Group(str(value), [i]))
    close()
    return runs


def _near(words: Sequence[str], first: int, last: int, kinds: Iterable[str], w: Words,
          before: int = 8, after: int = 0) -> bool:
    prefixes = tuple(p for k in kinds for p in w.context.get(k, ()))
    if not prefixes:
        return False
    lo, hi = max(0, first - before), min(len(words), last + 1 + after)
    return any(_fold(x).startswith(prefixes) for x in (*words[lo:first], *words[last + 1 : hi]))


def _quantity_after(words: Sequence[str], last: int, w: Words) -> bool:
    if last + 1 >= len(words):
        return False
    nxt = _fold(words[last + 1])
    return bool(nxt) and (nxt in w.stops or nxt.startswith(w.context.get("not_after", ())) or nxt in ("$", "₽", "€", "%"))


def _classify(digits: str, plus: bool, words: Sequence[str], first: int, last: int, w: Words) -> str | None:
    n = len(digits)
    near = lambda *kinds, before=8: _near(words, first, last, kinds, w, before=before)  # noqa: E731
    if _quantity_after(words, last, w):
        return None
    if near("snils") and n == 11:
        return "snils"
    if near("inn") and n in (10, 12):
        return "inn"
    if near("passport") and n == 10:
        return "passport"
    if near("account") and n == 20:
        return "account"
    if 13 <= n <= 19 and luhn_ok(digits):
        return "card"
    if n == 20:
        return "account"
    blocked = near("not_before", before=4)
    russian = any(_CYRILLIC.search(x) for x in words[first : last + 1])
    if not blocked and n >= 10 and _phone_ok(digits, plus, russian):
        return "phone"
    if not blocked and plus and 8 <= n <= 15:
        return "phone"
    if n == 7 and near("phone") and not blocked:
        return "phone"
    if n == 11 and snils_ok(digits) and not blocked:
        return "snils"
    if n == 12 and inn_ok(digits) and not blocked:
        return "inn"
    return None


def _numbers(words: Sequence[str], w: Words) -> list[Finding]:
    out: list[Finding] = []
    for groups, plus in _runs(words, w):
        taken: set[int] = set()
        # every group-aligned part, longest first
        parts = sorted(
            ((a, b) for a in range(len(groups)) for b in range(a, len(groups))),
            key=lambda ab: (-(sum(len(g.digits) for g in groups[ab[0] : ab[1] + 1])), ab[0]),
        )
        for a, b in parts:
            if any(k in taken for k in range(a, b + 1)):
                continue
            digits = "".join(g.digits for g in groups[a : b + 1])
            if len(digits) < 7:
                continue
            first, last = groups[a].words[0], groups[b].words[-1]
            kind = _classify(digits, plus and a == 0, words, first, last, w)
            if kind is None:
                continue
            if plus and a == 0 and first > 0 and _fold(words[first - 1]) in w.plus:
                first -= 1
            taken.update(range(a, b + 1))
            out.append(Finding(kind, first, last))
    return out


def _emails(words: Sequence[str], w: Words) -> list[Finding]:
    out: list[Finding] = []
    folded = [_fold(x) for x in words]
    for i, raw in enumerate(words):
        if "@" in raw and _EMAIL_RE.search(raw):
            out.append(Finding("email", i, i))
            continue
        if folded[i] not in w.at or i == 0 or i + 1 >= len(words):
            continue
        # right side: domain (dot part)+, ending in a top-level domain
        j = i + 1
        dom = folded[j]
        ok = False
        end = j
        if "." in dom and dom.rsplit(".", 1)[-1] in w.tlds:
            ok = True
        elif dom in w.email_words and j + 1 < len(words) and folded[j + 1] in w.tlds:
            ok, end = True, j + 1  # «мэйл ру»: a known mail domain, the dot not said
        k = j + 1
        while k + 1 < len(words) and folded[k] in w.dot:
            end = k + 1
            if folded[k + 1] in w.tlds or w.email_words.get(folded[k + 1]) in w.tlds:
                ok = True
            k += 2
        if not ok:
            continue
        # left side: name parts joined by dot / joiner words
        start = i - 1
        while start - 2 >= 0 and (folded[start - 1] in w.dot or folded[start - 1] in w.joiners):
            start -= 2
            while start - 1 >= 0 and folded[start - 1] in w.joiners:  # "нижнее подчеркивание"
                start -= 1
        out.append(Finding("email", start, end))
    return out


def find_pii(text: str, words: Words | None = None) -> list[Finding]:
    """Personal data in ``text``, by whitespace-separated word indexes, in text order."""
    w = words or load_words()
    parts = text.split()
    found = _emails(parts, w) + _numbers(parts, w)
    joined = " ".join(parts)
    for m in _IBAN_RE.finditer(joined):
        if iban_ok(m.group()):
            first = joined[: m.start()].count(" ")
            last = first + m.group().count(" ")
            found.append(Finding("iban", first, last))
    found.sort(key=lambda f: (f.first, -f.last))
    merged: list[Finding] = []
    for f in found:
        if merged and f.first <= merged[-1].last:
            if f.last > merged[-1].last:
                merged[-1] = Finding(merged[-1].kind, merged[-1].first, f.last)
            continue
        merged.append(f)
    return merged


def _replace(parts: Sequence[str], findings: Sequence[Finding]) -> list[str]:
    out: list[str] = []
    i = 0
    for f in findings:
        out.extend(parts[i : f.first])
        tail = parts[f.last]
        trail = tail[len(tail.rstrip(",.;:!?»)")):]  # keep the sentence's punctuation
        out.append(f.token + trail)
        i = f.last + 1
    out.extend(parts[i:])
    return out


def redact_text(text: str, words: Words | None = None) -> str:
    """``text`` with each piece of personal data replaced by its token (``[PHONE]``, ...)."""
    findings = find_pii(text, words)
    if not findings:
        return text
    return " ".join(_replace(text.split(), findings))


def redact_utterance(u: Utterance, words: Words | None = None) -> Utterance:
    """The utterance with personal data replaced in its text and its timed words (the words
    of one finding become one :class:`Word` spanning them, whose text is the token)."""
    w = words or load_words()
    text = redact_text(u.text, w)
    new_words = u.words
    if u.words:
        # a timed word may hold several whitespace words; index the split words back to it
        parts: list[str] = []
        owner: list[int] = []
        for k, wd in enumerate(u.words):
            for p in wd.text.split():
                parts.append(p)
                owner.append(k)
        findings = find_pii(" ".join(parts), w)
        if findings:
            out: list[Word] = []
            k = 0
            for f in findings:
                a, b = owner[f.first], owner[f.last]
                out.extend(u.words[k:a])
                if a < k:  # two findings in one timed word: already replaced
                    continue
                out.append(Word(u.words[a].start, u.words[b].end, f.token, 1.0))
                k = b + 1
            out.extend(u.words[k:])
            new_words = tuple(out)
    if text == u.text and new_words is u.words:
        return u
    return dataclasses.replace(u, text=text, words=new_words)


def redact_transcript(t: Transcript, words: Words | None = None) -> Transcript:
    """A copy of ``t`` with personal data replaced in every utterance; ``quality`` notes
    ``redacted: N`` (pieces of personal data replaced)."""
    w = words or load_words()
    utts = [redact_utterance(u, w) for u in t.utterances]
    n = sum(
        sum(p in TOKEN_TEXTS or p.rstrip(",.;:!?»)") in TOKEN_TEXTS for p in new.text.split())
        - sum(p in TOKEN_TEXTS or p.rstrip(",.;:!?»)") in TOKEN_TEXTS for p in old.text.split())
        for old, new in zip(t.utterances, utts)
    )
    quality = {**t.quality, "redacted": int(t.quality.get("redacted", 0)) + n}
    return dataclasses.replace(t, utterances=utts, quality=quality)


def redacted_spans(t: Transcript, pad: float = 0.1) -> list[tuple[float, float]]:
    """Seconds to silence in ``t``'s recording: the timed words that are tokens (padded by
    ``pad``), merged; an utterance with a token in its text but no word timings is
    silenced whole."""
    spans: list[tuple[float, float]] = []
    for u in t.utterances:
        hit = [wd for wd in u.words if wd.text in TOKEN_TEXTS]
        if hit:
            spans += [(max(0.0, wd.start - pad), wd.end + pad) for wd in hit]
        elif any(tok in u.text for tok in TOKEN_TEXTS):
            spans.append((max(0.0, u.start - pad), u.end + pad))
    spans.sort()
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


# ---- audio --------------------------------------------------------------------------------
def mute(channels: Sequence[Any], sample_rate: int, spans: Sequence[tuple[float, float]]) -> list[Any]:
    """Copies of ``channels`` (numpy arrays) with ``spans`` (seconds) silenced on every
    channel: what a clip or the report's recording carries over redacted words."""
    import numpy as np

    out = [np.array(c, copy=True) for c in channels]
    for a, b in spans:
        i, j = max(0, int(a * sample_rate)), int(np.ceil(b * sample_rate))
        for c in out:
            c[i:j] = 0
    return out


def write_redacted_recording(src: str | Any, dest: Any, spans: Sequence[tuple[float, float]]) -> Any:
    """The recording at ``src`` with ``spans`` silenced, as a 16-bit WAV at ``dest`` (its own
    sample rate and channels). Raises :class:`~qa.errors.AudioError` when it cannot be read."""
    from .clips import _channels, decode_native, write_wav

    decoded = decode_native(src)
    sr = int(decoded.sample_rate)
    write_wav(dest, mute(_channels(decoded), sr, spans), sr)
    return dest


def call_spans(ws: Any, call_id: str) -> list[tuple[float, float]]:
    """:func:`redacted_spans` of a stored call (none when it was not redacted)."""
    t = ws.transcript(call_id)
    if t is None or not t.quality.get("redacted"):
        return []
    return redacted_spans(t)
