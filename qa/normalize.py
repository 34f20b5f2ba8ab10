"""What counts as "the same phrase": text normalisation before matching.

This module is the one place that decides when two pieces of text say the same thing. A
script phrase and a recognised utterance go through the same steps, in this order:

1. ``lowercase``    -- case never matters ("Добрый день" == "добрый день").
2. ``chars``        -- per-language character folding from the language file (ru: ё -> е).
3. ``punctuation``  -- punctuation and symbols separate words and are dropped; apostrophes
                       inside words are removed ("don't" == "dont"); hyphens split words
                       ("как-то" == "как то"); decimal commas become points ("1,5" == "1.5").
4. ``numbers``      -- number words become digits using the language file, including inflected
                       forms ("десяти лет" == "10 лет", "twenty five" == "25",
                       "два миллиона" == "2000000"); digit groups are joined ("1 500" == "1500").
5. ``fillers``      -- hesitations and discourse fillers from the language file are dropped
                       ("добрый, э-э, день" == "добрый день", "um, good morning" == "good morning").
6. ``stem``         -- each word is reduced to its Snowball stem for the language, so Russian
                       cases and English tenses match ("бюджета" == "бюджетом" == "бюджет",
                       "called" == "calling" == "call"). Irregular forms ("spoke"/"speak") do not.
                       Unknown language: no stemming.
7. ``synonyms``     -- words and word sequences of one synonym group in the language file become
                       the group's first entry ("щас" == "сейчас", "неинтересно" == "не интересно",
                       "pricey" == "expensive", "wanna" == "want to"); entries are normalised by
                       the steps above, so their inflected forms follow.

Presets name useful prefixes of that chain (:data:`PRESETS`): ``plain`` (1-3, for display and
grouping), ``match`` (1-5, what :func:`normalize` returns) and ``stems`` (1-7, what
:func:`tokens` returns and what :mod:`qa.matching` compares with fuzzy similarity on top).

Recognition errors ("здраствуйте", "good afternon") are not normalised away here: they are
tolerated by the fuzzy similarity threshold in :mod:`qa.matching`. Text written in another
alphabet ("гуд афтернун" for "good afternoon") is compared through :func:`sound_key`.

Negation is a matching rule, not a normalisation step: :mod:`qa.matching` does not accept a
phrase right after or around a negation of the language ("не дорого" is not "дорого",
"неудобно" is not "удобно").

Word lists (fillers, question words, stop words, negations, number words, synonyms, stemmer
name, word order) live in ``qa/data/language/<lang>.yaml``; nothing language-specific is
written in Python. Every token remembers which original whitespace-separated word(s) it came
from, and its form before stemming, so a match can quote the original text (:func:`analyze`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from operator import itemgetter
from typing import Any, NamedTuple, cast

import yaml

from . import safe_yaml
from .errors import ConfigError

#: The normalisation steps in the order they are applied.
STEPS: tuple[str, ...] = ("lowercase", "chars", "punctuation", "numbers", "fillers", "stem", "synonyms")

#: Named presets: each is a subset of :data:`STEPS` (always applied in :data:`STEPS` order).
PRESETS: dict[str, tuple[str, ...]] = {
    "plain": ("lowercase", "chars", "punctuation"),
    "match": ("lowercase", "chars", "punctuation", "numbers", "fillers"),
    "stems": ("lowercase", "chars", "punctuation", "numbers", "fillers", "stem", "synonyms"),
}

# Words: a number with a decimal separator, or letters/digits with inner apostrophes.
_WORD_RE = re.compile(r"\d+(?:[.,]\d+)+|\w+(?:['’`ʼ]\w+)*")
_APOSTROPHES = str.maketrans("", "", "'’`ʼ")
_DIGITS_RE = re.compile(r"\d+(?:\.\d+)?")
_PAUSES = frozenset(",.;:!?…")
# A redaction token ([PHONE], [EMAIL], ...: qa.redact) stands for personal data that was
# said; it is not a word, so no phrase ("email me") can match it.
_REDACTION_TOKEN_RE = re.compile(r"\W*\[[A-Z]+\]\W*")


# ---- language data ------------------------------------------------------------------------
@dataclass(frozen=True)
class NumberWords:
    """Number words of one language, by class (see ``numbers:`` in a language file)."""

    units: dict[str, int] = field(default_factory=dict)
    teens: dict[str, int] = field(default_factory=dict)
    tens: dict[str, int] = field(default_factory=dict)
    hundreds: dict[str, int] = field(default_factory=dict)
    hundreds_multiplier: dict[str, int] = field(default_factory=dict)
    multipliers: dict[str, int] = field(default_factory=dict)
    joiners: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # one lookup table: word -> (class, value); class order is used by the parser
        table: dict[str, tuple[str, int]] = {}
        for cls in ("units", "teens", "tens", "hundreds", "hundreds_multiplier", "multipliers"):
            for word, value in getattr(self, cls).items():
                table[word] = (cls, int(value))
        object.__setattr__(self, "_table", table)

    def lookup(self, word: str) -> tuple[str, int] | None:
        return self._table.get(word)  # type: ignore[attr-defined, no-any-return]

    def __bool__(self) -> bool:
        return bool(self._table)  # type: ignore[attr-defined]

    @property
    def words(self) -> frozenset[str]:
        return frozenset(self._table)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Language:
    """The word lists of one language (``qa/data/language/<code>.yaml``).

    ``code`` is ``""`` for an unknown language: then nothing is stemmed or dropped as a filler.
    """

    code: str
    stemmer: str | None = None
    chars: dict[str, str] = field(default_factory=dict)
    fillers: frozenset[str] = frozenset()
    filler_phrases: tuple[tuple[str, ...], ...] = ()
    question_words: frozenset[str] = frozenset()
    stop_words: frozenset[str] = frozenset()
    negations: frozenset[str] = frozenset()
    negation_prefixes: tuple[str, ...] = ()
    numbers: NumberWords = field(default_factory=NumberWords)
    #: Word order is free (Russian: "обсудить с директором" == "с директором обсудить"): the
    #: matcher also accepts a phrase's words in another order, at a stricter threshold.
    free_word_order: bool = False
    #: Groups of words or word sequences that say the same; the first of each is the one the
    #: others become ("щас" -> "сейчас", "pricey" -> "expensive").
    synonyms: tuple[tuple[str, ...], ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.code)


def language_code(language: str | None) -> str:
    """``"ru-RU"`` -> ``"ru"``; ``None`` -> ``""``."""
    if not language:
        return ""
    return re.split(r"[-_]", str(language).strip().lower(), maxsplit=1)[0]


def available_languages() -> list[str]:
    """Language codes that have a data file."""
    folder = resources.files("qa") / "data" / "language"
    return sorted(
        p.name[: -len(".yaml")]
        for p in folder.iterdir()
        if p.name.endswith(".yaml") and p.name != "transliteration.yaml"
    )


def _read_data(name: str) -> dict[str, Any]:
    path = resources.files("qa") / "data" / "language" / name
    try:
        data = safe_yaml.load(path.read_text(encoding="utf-8"), f"qa/data/language/{name}")
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"qa/data/language/{name}: cannot read language data: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"qa/data/language/{name}: expected a mapping of word lists")
    return data


@lru_cache(maxsize=32)
def load_language(language: str | None) -> Language:
    """The :class:`Language` for a code (``ru``, ``en-US``...); unknown codes give an empty one."""
    code = language_code(language)
    if not code or code not in available_languages():
        return Language(code="")
    data = _read_data(f"{code}.yaml")
    fillers = [str(f).lower() for f in data.get("fillers") or ()]
    nums = data.get("numbers") or {}
    return Language(
        code=code,
        stemmer=data.get("stemmer"),
        chars={str(k): str(v) for k, v in (data.get("chars") or {}).items()},
        fillers=frozenset(f for f in fillers if " " not in f),
        filler_phrases=tuple(
            sorted((tuple(f.split()) for f in fillers if " " in f), key=len, reverse=True)
        ),
        question_words=frozenset(str(w).lower() for w in data.get("question_words") or ()),
        stop_words=frozenset(str(w).lower() for w in data.get("stop_words") or ()),
        negations=frozenset(str(w).lower() for w in data.get("negations") or ()),
        negation_prefixes=tuple(str(w).lower() for w in data.get("negation_prefixes") or ()),
        free_word_order=_word_order(data.get("word_order"), code),
        synonyms=_synonym_groups(data.get("synonyms"), code),
        numbers=NumberWords(
            units=dict(nums.get("units") or {}),
            teens=dict(nums.get("teens") or {}),
            tens=dict(nums.get("tens") or {}),
            hundreds=dict(nums.get("hundreds") or {}),
            hundreds_multiplier=dict(nums.get("hundreds_multiplier") or {}),
            multipliers=dict(nums.get("multipliers") or {}),
            joiners=frozenset(str(w) for w in nums.get("joiners") or ()),
        ),
    )


def _synonym_groups(value: Any, code: str) -> tuple[tuple[str, ...], ...]:
    if value is None:
        return ()
    groups = []
    for n, group in enumerate(value if isinstance(value, list) else [value]):
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(w, str) and w.strip() for w in group):
            raise ConfigError(
                f"qa/data/language/{code}.yaml: synonyms[{n}] must be a list of two or more words "
                f"(the first is what the others become), got {group!r}"
            )
        groups.append(tuple(str(w).strip().lower() for w in group))
    return tuple(groups)


def _word_order(value: Any, code: str) -> bool:
    if value in (None, "fixed"):
        return False
    if value == "free":
        return True
    raise ConfigError(f"qa/data/language/{code}.yaml: word_order must be 'free' or 'fixed', got {value!r}")


# ---- tokens with provenance -----------------------------------------------------------------
#: A token: (text, first source word index, last source word index).
Token = tuple[str, int, int]


@dataclass(frozen=True)
class Analysis:
    """A text split into original words and normalised tokens that point back at them."""

    words: tuple[str, ...]
    tokens: tuple[Token, ...]
    #: each token before stemming (the ``match`` form: "договорились", not "договор"), so a
    #: matcher can tell apart words the stemmer made equal; empty when nothing was stemmed
    surfaces: tuple[str, ...] = ()

    def surface(self, i: int) -> str:
        """Token ``i`` before stemming (the token itself when nothing was stemmed)."""
        return self.surfaces[i] if self.surfaces else self.tokens[i][0]

    @property
    def texts(self) -> list[str]:
        return [t[0] for t in self.tokens]

    def source(self, first_token: int, last_token: int) -> str:
        """The original words behind tokens ``first_token..last_token`` (inclusive)."""
        a = self.tokens[first_token][1]
        b = self.tokens[last_token][2]
        return " ".join(self.words[a : b + 1])


class _WordForms(NamedTuple):
    """What the per-word steps make of one written word (:meth:`Normalizer._forms`)."""

    pieces: tuple[str, ...]  # the tokens it becomes before stemming (none: a redaction token)
    stems: tuple[str, ...]  # the same, stemmed when the preset stems (else ``pieces``)
    numbers: bool  # the numbers step could concern it (a digit or a number word)
    fillers: bool  # the fillers step could concern it (it starts a filler)
    synonym: bool  # one of its stems starts a synonym entry
    one: bool  # exactly one piece (most words): then ``piece`` and ``stem`` are it
    piece: str
    stem: str
    plain: bool  # one piece, and no sequence step (numbers, fillers, synonyms) concerns it


#: a token's text (C loops over tokens)
_TEXT = itemgetter(0)
# fields of _WordForms, read by C loops (map) over a text's words
_NUMBERS, _FILLERS, _SYNONYM, _ONE, _PIECE, _STEM, _PLAIN = (itemgetter(k) for k in range(2, 9))


class Normalizer:
    """A compiled preset for one language, with per-word caches (reuse it for many texts)."""

    def __init__(self, language: str | Language | None = None, preset: str | Sequence[str] = "stems"):
        steps = PRESETS.get(preset) if isinstance(preset, str) else tuple(preset)
        if steps is None:
            raise ValueError(f"unknown normalisation preset {preset!r}; use one of {sorted(PRESETS)}")
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise ValueError(f"unknown normalisation step {unknown[0]!r}; steps are {STEPS}")
        self.steps = frozenset(steps)
        self.language = language if isinstance(language, Language) else load_language(language)
        self._stem_cache: dict[str, str] = {}
        #: word as written -> its :class:`_WordForms` (the whole per-word work, done once)
        self._forms_cache: dict[str, _WordForms] = {}
        self._stem: Callable[[str], str] | None = None
        lang = self.language
        self._number_words = lang.numbers.words
        self._filler_starts = lang.fillers | frozenset(ph[0] for ph in lang.filler_phrases)
        #: token sequence -> the (token, surface) pairs it becomes; filled below
        self._synonyms: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
        self._synonym_starts: frozenset[str] = frozenset()
        self._synonym_len = 0
        if "stem" in self.steps and self.language.stemmer:
            import snowballstemmer

            try:
                self._stem = snowballstemmer.stemmer(self.language.stemmer).stemWord
            except KeyError as e:
                raise ConfigError(
                    f"qa/data/language/{self.language.code}.yaml: unknown stemmer "
                    f"{self.language.stemmer!r}; use one of snowballstemmer.algorithms()"
                ) from e

        if "synonyms" in self.steps and lang.synonyms:
            self._compile_synonyms()
        # forms made while the synonyms were compiled do not know their synonym starts
        self._forms_cache.clear()

    def _compile_synonyms(self) -> None:
        """Each entry of a synonym group, normalised by this preset's other steps, maps to the
        group's first entry normalised the same way."""
        table: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
        owner: dict[tuple[str, ...], str] = {}
        for group in self.language.synonyms:
            head = self._analyze(group[0], synonyms=False)
            target = tuple((t[0], head.surface(k)) for k, t in enumerate(head.tokens))
            for entry in group:
                key = tuple(self._analyze(entry, synonyms=False).texts)
                if not key or not target or key == tuple(t for t, _ in target):
                    continue
                if key in table and table[key] != target:
                    raise ConfigError(
                        f"qa/data/language/{self.language.code}.yaml: synonyms: {entry!r} is in the "
                        f"groups of {owner[key]!r} and {group[0]!r}; keep it in one group"
                    )
                table[key] = target
                owner[key] = group[0]
        self._synonyms = table
        self._synonym_starts = frozenset(k[0] for k in table)
        self._synonym_len = max((len(k) for k in table), default=0)

    # -- per-word steps (cached) -----------------------------------------------------------
    def _word(self, word: str) -> tuple[str, ...]:
        """The pieces one written word becomes (case, characters, punctuation); uncached,
        :meth:`_forms` caches them with their stems."""
        w = word
        if _REDACTION_TOKEN_RE.fullmatch(w):
            return ()
        if "lowercase" in self.steps:
            w = w.lower()
        if "chars" in self.steps and self.language.chars:
            for a, b in self.language.chars.items():
                w = w.replace(a, b)
        if "punctuation" in self.steps:
            pieces = tuple(
                p.replace(",", ".") if p[0].isdigit() else p.translate(_APOSTROPHES)
                for p in _WORD_RE.findall(w)
            )
            # "_" is a word character for regexes but never part of a spoken word
            pieces = tuple(q for p in pieces for q in p.split("_") if q)
        else:
            pieces = (w,) if w else ()
        return pieces

    def stem(self, token: str) -> str:
        if self._stem is None or token[:1].isdigit():
            return token
        s = self._stem_cache.get(token)
        if s is None:
            s = self._stem(token)
            if len(self._stem_cache) > 200_000:
                self._stem_cache.clear()
            self._stem_cache[token] = s
        return s

    def _forms(self, word: str) -> _WordForms:
        """Everything the per-word steps make of one written word, cached: its pieces, their
        stems, and whether a sequence step (numbers, fillers, synonyms) could concern it."""
        got = self._forms_cache.get(word)
        if got is not None:
            return got
        pieces = self._word(word)
        steps = self.steps
        numbers = "numbers" in steps and any(p[0].isdigit() or p in self._number_words for p in pieces)
        fillers = "fillers" in steps and any(p in self._filler_starts for p in pieces)
        stems = tuple(self.stem(p) for p in pieces) if self._stem is not None else pieces
        synonym = any(t in self._synonym_starts for t in stems)
        one = len(pieces) == 1
        got = _WordForms(
            pieces, stems, numbers, fillers, synonym, one, pieces[0] if one else "", stems[0] if one else "",
            one and not (numbers or fillers or synonym),
        )
        if len(self._forms_cache) > 200_000:  # unbounded vocabularies: start over, stay small
            self._forms_cache.clear()
        self._forms_cache[word] = got
        return got

    # -- whole text ----------------------------------------------------------------------------
    def analyze(self, text: str) -> Analysis:
        return self._analyze(text, synonyms=True)

    def _word_forms(self, words: Sequence[str]) -> list[_WordForms]:
        cached = list(map(self._forms_cache.get, words))
        if None in cached:
            return [f or self._forms(w) for f, w in zip(cached, words)]
        return cast(list[_WordForms], cached)

    def plain_tokens(self, text: str) -> tuple[list[str], list[str]] | None:
        """The tokens of a text and their forms before stemming, when every word of it is one
        token that no sequence step (numbers, fillers, synonyms) concerns -- most texts; None
        for the others (ask :meth:`analyze`). Token ``i`` is then word ``i``: the
        :class:`Analysis` is ``Analysis(words, ((tok, i, i), ...), surfaces)`` (surfaces when
        the preset stems), built only by whoever needs it (:func:`plain_analysis`)."""
        forms = self._word_forms(text.split())
        if all(map(_PLAIN, forms)):
            return list(map(_STEM, forms)), list(map(_PIECE, forms))
        return None

    @property
    def stems(self) -> bool:
        """Whether this preset stems (and an :class:`Analysis` keeps the surfaces)."""
        return self._stem is not None

    def _analyze(self, text: str, synonyms: bool) -> Analysis:
        words = tuple(text.split())
        forms = self._word_forms(words)
        if all(map(_PLAIN, forms)):  # most texts: one token per word, nothing to join or drop
            at = range(len(forms))
            pieces = tuple(map(_PIECE, forms)) if self._stem is not None else ()
            return Analysis(words, tuple(zip(map(_STEM, forms), at, at)), pieces)
        numbers = any(map(_NUMBERS, forms))
        if not numbers and not any(map(_FILLERS, forms)):
            return self._analyze_words(words, forms, synonyms)
        toks: list[Token] = [(p, i, i) for i, f in enumerate(forms) for p in f.pieces]
        # the sequence steps only run when a token could concern them (most utterances: none)
        fillers = True  # some word starts a filler, unless the numbers step changed the tokens
        if numbers:
            # a number never continues past punctuation: "2 миллиона, 300 ..." is two numbers
            stops = {i for i, w in enumerate(words) if w[-1] in _PAUSES}
            toks = _join_digit_groups(toks, stops)
            if self.language.numbers:
                toks = _merge_numbers(toks, self.language.numbers, stops)
            fillers = "fillers" in self.steps and not self._filler_starts.isdisjoint(map(_TEXT, toks))
        if fillers:
            toks = _drop_fillers(toks, self.language, self._filler_starts)
        surfaces: tuple[str, ...] = ()
        if self._stem is not None:
            surfaces = tuple(map(_TEXT, toks))
            stem, known = self.stem, self._stem_cache
            toks = [(known.get(t) or stem(t), a, b) for t, a, b in toks]
        if synonyms and self._synonyms and not self._synonym_starts.isdisjoint(map(_TEXT, toks)):
            toks, surfaces = self._replace_synonyms(toks, surfaces)
        return Analysis(words, tuple(toks), surfaces)

    def _analyze_words(self, words: tuple[str, ...], forms: list[_WordForms], synonyms: bool) -> Analysis:
        """:meth:`_analyze` of a text no number or filler step concerns (most utterances):
        each word's cached pieces and stems, in order (the same tokens, made cheaper)."""
        if all(map(_ONE, forms)):  # one token per word: C loops
            at = range(len(forms))
            toks: list[Token] = list(zip(map(_STEM, forms), at, at))
            surfaces = tuple(map(_PIECE, forms)) if self._stem is not None else ()
        else:
            toks = [(t, i, i) for i, f in enumerate(forms) for t in f.stems]
            surfaces = tuple(p for f in forms for p in f.pieces) if self._stem is not None else ()
        if synonyms and self._synonyms and any(map(_SYNONYM, forms)):
            toks, surfaces = self._replace_synonyms(toks, surfaces)
        return Analysis(words, tuple(toks), surfaces)

    def _replace_synonyms(
        self, toks: list[Token], surfaces: tuple[str, ...]
    ) -> tuple[list[Token], tuple[str, ...]]:
        """Longest synonym entries first; the tokens they become keep the source words."""
        out: list[Token] = []
        outs: list[str] = []
        i, n = 0, len(toks)
        while i < n:
            if toks[i][0] in self._synonym_starts:
                for size in range(min(self._synonym_len, n - i), 0, -1):
                    target = self._synonyms.get(tuple(t[0] for t in toks[i : i + size]))
                    if target is not None:
                        a, b = toks[i][1], toks[i + size - 1][2]
                        out.extend((t, a, b) for t, _ in target)
                        outs.extend(sf for _, sf in target)
                        i += size
                        break
                else:
                    out.append(toks[i])
                    outs.append(surfaces[i] if surfaces else toks[i][0])
                    i += 1
                continue
            out.append(toks[i])
            outs.append(surfaces[i] if surfaces else toks[i][0])
            i += 1
        return out, tuple(outs) if surfaces else ()

    def tokens(self, text: str) -> list[str]:
        plain = self.plain_tokens(text)
        return plain[0] if plain is not None else [t[0] for t in self.analyze(text).tokens]

    def normalize(self, text: str) -> str:
        return " ".join(self.tokens(text))


def plain_analysis(text: str, toks: Sequence[str], surfaces: Sequence[str], stems: bool) -> Analysis:
    """The :class:`Analysis` of a text whose tokens :meth:`Normalizer.plain_tokens` gave
    (``stems``: the normalizer's :attr:`Normalizer.stems`): what :meth:`Normalizer.analyze`
    returns for it."""
    at = range(len(toks))
    return Analysis(tuple(text.split()), tuple(zip(toks, at, at)), tuple(surfaces) if stems else ())


@lru_cache(maxsize=64)
def normalizer(language: str | None, preset: str | tuple[str, ...] = "stems") -> Normalizer:
    """A shared :class:`Normalizer` for a language code and preset name (or tuple of steps)."""
    return Normalizer(language_code(language), preset)


def normalize(text: str, language: str | None, preset: str = "match") -> str:
    """Normalised text (preset ``match``: no stemming), words separated by single spaces.

    >>> normalize("Добрый, э-э, ДЕНЬ! Ещё десять минут?", "ru")
    'добрый день еще 10 минут'
    """
    return normalizer(language, preset).normalize(text)


def tokens(text: str, language: str | None, preset: str | tuple[str, ...] = "stems") -> list[str]:
    """Normalised, stemmed tokens: what matching compares.

    >>> tokens("Какой у вас бюджет? А бюджетом кто распоряжается?", "ru")
    ['как', 'у', 'вас', 'бюджет', 'а', 'бюджет', 'кто', 'распоряжа']
    """
    return normalizer(language, preset).tokens(text)


def analyze(text: str, language: str | None, preset: str = "stems") -> Analysis:
    """Tokens with the original words they came from (for quoting matched spans)."""
    return normalizer(language, preset).analyze(text)


# ---- numbers ------------------------------------------------------------------------------
def _join_digit_groups(toks: list[Token], stops: set[int]) -> list[Token]:
    """"1 500 000" -> "1500000": a group of 1-3 digits followed by exact 3-digit groups."""
    if len(toks) < 2:
        return toks
    out: list[Token] = []
    joinable = False  # whether out[-1] may take another 3-digit group
    i = 0
    # only tokens that start with a digit can join or be joined; any other resets
    for at in [k for k, tok in enumerate(toks) if tok[0][0].isdigit()]:
        if at > i:
            out += toks[i:at]
            joinable = False
        tok = toks[at]
        t = tok[0]
        i = at + 1
        if joinable and len(t) == 3 and t.isdigit() and out[-1][2] == tok[1] - 1:
            prev = out[-1]
            out[-1] = (prev[0] + t, prev[1], tok[2])
            joinable = tok[2] not in stops
            continue
        out.append(tok)
        joinable = t.isdigit() and len(t) <= 3 and tok[2] not in stops
    out += toks[i:]
    return out


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# class -> "rank": a number group is built from larger to smaller parts
_RANK = {"hundreds": 3, "tens": 2, "teens": 1, "units": 0}


def _merge_numbers(toks: list[Token], nums: NumberWords, stops: set[int]) -> list[Token]:
    """Number words (and digits before multipliers) -> one digit token."""
    out: list[Token] = []
    i, n = 0, len(toks)
    lookup = nums.lookup
    # where a number may start: a number word or digits; the tokens between are kept as they are
    begins = [
        k for k, (t, _, _) in enumerate(toks)
        if lookup(t) is not None or (t[0].isdigit() and _DIGITS_RE.fullmatch(t) is not None)
    ]
    for at in begins:
        if at < i:
            continue  # in the number before
        out += toks[i:at]
        i = at
        t = toks[i][0]
        total = 0.0  # finished parts (thousands, millions...)
        group = 0.0  # the part below the last multiplier
        slot = 4  # the smallest rank used in the group; a new part must be smaller
        last_mult = float("inf")
        j = i
        used = 0
        while j < n:
            w = toks[j][0]
            info = nums.lookup(w)
            if info is None and _DIGITS_RE.fullmatch(w):
                if slot != 4:
                    break
                group, slot = float(w), -1
            elif info is None:
                if w in nums.joiners and used and j + 1 < n and nums.lookup(toks[j + 1][0]):
                    j += 1
                    continue
                break
            else:
                cls, value = info
                if cls in _RANK:
                    rank = _RANK[cls]
                    if rank >= slot or (cls == "teens" and slot <= 2):
                        break
                    group += value
                    slot = 0 if cls == "teens" else rank  # teens fill tens and units
                elif cls == "hundreds_multiplier":
                    if group >= 100:
                        break
                    group = (group or 1) * value
                    slot = 3
                else:  # multipliers
                    if value >= last_mult or (group == 0 and total > 0):
                        break
                    total += (group or 1) * value
                    group, slot, last_mult = 0.0, 4, value
            used += 1
            j += 1
            if toks[j - 1][2] in stops:
                break
        if used == 1 and nums.lookup(t) is None:
            out.append(toks[i])  # a lone digit token stays as written
            i += 1
            continue
        if used == 0:
            out.append(toks[i])
            i += 1
            continue
        last = j - 1
        while toks[last][0] in nums.joiners:  # a trailing "and" belongs to the next words
            last -= 1
        out.append((_fmt_number(total + group), toks[i][1], toks[last][2]))
        i = last + 1
    out += toks[i:]
    return out


# ---- fillers ------------------------------------------------------------------------------
def _drop_fillers(toks: list[Token], lang: Language, starts: frozenset[str] | None = None) -> list[Token]:
    """Tokens less the fillers and filler phrases, left to right. ``starts``: the words that
    begin a filler or a filler phrase (computed when not given); the tokens between them are
    kept as they are, so only those words are looked at one by one."""
    phrases = lang.filler_phrases
    if starts is None:
        starts = lang.fillers | frozenset(ph[0] for ph in phrases)
    out: list[Token] = []
    i, n = 0, len(toks)
    for at in [k for k, tok in enumerate(toks) if tok[0] in starts]:
        if at < i:
            continue  # inside a filler phrase dropped already
        out += toks[i:at]
        t = toks[at][0]
        if t in lang.fillers:
            i = at + 1
            continue
        skip = 0
        for ph in phrases:
            k = len(ph)
            if t == ph[0] and at + k <= n and all(toks[at + m][0] == ph[m] for m in range(1, k)):
                skip = k
                break
        if skip:
            i = at + skip
            continue
        out.append(toks[at])
        i = at + 1
    out += toks[i:]
    return out


# ---- alphabets and cross-alphabet sound keys ------------------------------------------------
@lru_cache(maxsize=1)
def _transliteration() -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    data = _read_data("transliteration.yaml")
    to_latin = {str(k): str(v or "") for k, v in (data.get("to_latin") or {}).items()}
    rules = tuple((str(a), str(b)) for a, b in data.get("sound_key") or ())
    return to_latin, rules


@lru_cache(maxsize=100_000)
def alphabet(token: str) -> str:
    """The alphabet of a token's letters: ``LATIN``, ``CYRILLIC``, ... ``""`` for digits only.

    Mixed tokens report the alphabet of their first letter.
    """
    for ch in token:
        if ch.isalpha():
            if ch < "\u0080":
                return "LATIN"
            name = unicodedata.name(ch, "")
            return name.split(" ", 1)[0] if name else ""
    return ""


_DOUBLE_RE = re.compile(r"(\w)\1+")


@lru_cache(maxsize=100_000)
def sound_key(token: str) -> str:
    """A rough Latin spelling of how a token sounds, for comparing across alphabets.

    Letters of other alphabets are transliterated (``qa/data/language/transliteration.yaml``),
    then spelling rewrites are applied and doubled letters collapsed, so
    ``sound_key("афтернун") == sound_key("afternoon") == "afternun"``.
    """
    to_latin, rules = _transliteration()
    s = "".join(to_latin.get(ch, ch) for ch in token)
    for a, b in rules:
        if a in s:
            s = s.replace(a, b)
    return _DOUBLE_RE.sub(r"\1", s)
