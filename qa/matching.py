"""Finding script phrases in what was said, with the evidence that proves each find.

This is the only module that uses ``rapidfuzz``. It hands :mod:`qa.scoring` a list of
:class:`Match` es per phrase: which utterance, when, who spoke, the quote, the matched span and
the similarity (0-100).

How a phrase is found in an utterance:

1. Both are normalised and stemmed by :mod:`qa.normalize` (case, ё/е, punctuation, numbers,
   fillers, inflection) -- once per phrase (:class:`PhraseIndex` compiles) and once per utterance
   (:func:`prepare`).
2. Prefilter (:class:`PhraseIndex`): an utterance is only scored against phrases that share a similar word with it
   (word similarity >= ``token_cutoff``; common words from the language's ``stop_words`` do not
   count unless a phrase has nothing else). Word lookups are cached, so a call costs a few
   dictionary lookups per word.
3. Score: the phrase's stems are compared with every run of ``n - window_slack`` ..
   ``n + window_slack`` consecutive stems of the utterance (``n`` = words in the phrase) with
   ``rapidfuzz.fuzz.ratio``; the best run is the similarity. The run must reach the phrase's
   threshold. Runs of one or two extra/missing words absorb merged or split recognised words.
   When no run reaches it, runs with extra function words (the language's ``stop_words``, not
   in the phrase) are tried with those words skipped: "какой у вас бюджет" says
   "какой бюджет". The phrase's own words and negations are never skipped.
   Cost: every run is a part of the utterance's stems joined by spaces (its words in order,
   some left out), so no run can be more alike than the longest common subsequence of the
   phrase and the whole utterance allows (:func:`_may_reach`, one C call); when that bound is
   under the threshold, which it is for most prefilter candidates, no run is built. The
   bound only skips work: the same runs are found.
   Words (:class:`WordMatcher`): a run that reaches the threshold is only the phrase when every content word of the
   phrase (not a function word) has a word in the run at least ``word_floor`` alike, so one
   long shared word cannot carry a phrase ("перезвоните через полгода" is not "перезвоните
   вечером"). Words are compared by stem, but as written when the phrase stands on one short
   stem ("дорого" is not "добрый", though "дор"/"добр" are 86 alike; "не знаю" is not "не
   знаете") and when two
   words share a stem whose endings differ by ``ending_gap`` letters or more (the stemmer
   cut "договорились" to "договор"). A phrase word the recogniser split ("клин про") or two
   it merged ("бизнесцентре") count when the written forms are ``joined_floor`` alike.
   Negation: a phrase that negates is only found where the run (or the word before it)
   has a negation ("ready to decide" is not "not ready to decide"). When the phrase has no
   negation of its own, a run right after or containing a
   negation word of the language (``negations``) is not the phrase ("не дорого" is not
   "дорого", "not interested" is not "interested"); and a word that differs from a phrase
   word only by a negation prefix (``negation_prefixes``) never stands for it ("неудобно
   говорить" is not "удобно говорить", and the other way round).
   Word order: in a language whose file says ``word_order: free`` (Russian), a phrase whose
   words were all said nearby but in another order ("с директором обсудить" for "обсудить с
   директором") is compared with both sides' words in alphabetical order, at the phrase's
   threshold plus ``reorder_penalty``; a negation moves with the word after it. This look is
   only taken when every word of the phrase has a near word in the utterance (prefilter).
   Key words: a phrase marked ``keywords`` (objection triggers, in :mod:`qa.scoring`) is
   also found when its content words are said in order in one sentence with a few other
   words between them ("у конкурентов в соседнем районе дешевле" for "у конкурентов
   дешевле"), each as alike as the phrase's threshold (``keyword_gap``).
4. A phrase may also span two adjacent utterances of the same speaker (the recogniser cut a
   sentence): the second must follow the first within ``join_gap_s``; only runs crossing the
   boundary are tried.
5. Alphabets: when phrase and utterance use different alphabets ("гуд афтернун" vs
   "good afternoon"), both sides are compared through :func:`qa.normalize.sound_key`.
6. Roles: a phrase may be limited to roles (manager phrases in manager speech, objection
   triggers in client speech). Utterances whose role is ``unknown`` (mono recordings) are
   searched for every phrase: the role-agnostic fallback.

Time windows and turn windows are filters on the returned matches (:func:`find_phrase` takes
them; :mod:`qa.scoring` applies the script's).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import itemgetter
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from .errors import OptionError
from .normalize import (
    Analysis,
    Normalizer,
    alphabet,
    language_code,
    load_language,
    plain_analysis,
    sound_key,
)
from .transcripts import UNKNOWN, Transcript, Utterance


@dataclass(frozen=True)
class MatchOptions:
    """How tolerant phrase search is (the per-phrase threshold is set by the script)."""

    #: Prefilter: an utterance word must be at least this similar (0-100) to a phrase word for
    #: the phrase to be scored on that utterance. Lower finds more garbled words, costs time.
    token_cutoff: float = 70.0
    #: Words this short must match a phrase word exactly in the prefilter.
    short_token_len: int = 3
    #: Compare a phrase of n words with runs of n-slack .. n+slack utterance words.
    window_slack: int = 1
    #: Largest gap (seconds) between two utterances of one speaker that a phrase may span.
    join_gap_s: float = 2.0
    #: Every content word of a phrase (not a function word) must be this similar (0-100) to a
    #: word of the matched run, so one long shared word cannot carry a phrase ("перезвоните
    #: через полгода" is not "перезвоните вечером").
    word_floor: float = 70.0
    #: A phrase that stands on one stem this short (its only content word) is compared as
    #: written when the stems differ: one letter is a large share of a short stem
    #: ("дор"/"добр" are 86 alike, "дорого"/"добрый" 50).
    short_stem_len: int = 4
    #: Two words with one stem whose endings differ by this many letters or more are told
    #: apart by their written forms (which must be ``joined_floor`` alike): the stemmer cut a
    #: derivational suffix ("договорились"/"договор"), not an inflection ("бюджетами"/"бюджет").
    ending_gap: int = 4
    #: A phrase word the recogniser split in two ("клин про"), or two phrase words it merged
    #: into one ("бизнесцентре"), must be at least this similar as written (0-100).
    joined_floor: float = 85.0
    #: Languages with free word order (``word_order: free`` in the language file): a phrase
    #: whose words were said in another order needs this many points more than its threshold.
    reorder_penalty: float = 5.0
    #: Key-word phrases (``PhraseQuery.keywords``): at most this many other content words
    #: (not function words) between their key words.
    keyword_gap: int = 3

    def __post_init__(self) -> None:
        for name in ("token_cutoff", "word_floor", "joined_floor", "reorder_penalty"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise OptionError(f"{name} must be in 0..100, got {value}")
        if self.keyword_gap < 0:
            raise OptionError(f"keyword_gap must be >= 0, got {self.keyword_gap}")
        if self.short_stem_len < 0 or self.ending_gap < 1:
            raise OptionError(
                f"short_stem_len must be >= 0 and ending_gap >= 1, got {self.short_stem_len}, {self.ending_gap}"
            )
        if self.window_slack < 0:
            raise OptionError(f"window_slack must be >= 0, got {self.window_slack}")
        if self.join_gap_s < 0:
            raise OptionError(f"join_gap_s must be >= 0, got {self.join_gap_s}")


@dataclass(frozen=True)
class PhraseQuery:
    """One phrase to look for: its text, the similarity it needs and who may say it."""

    text: str
    threshold: float = 85.0
    roles: frozenset[str] | None = None  # None: said by anyone
    #: Also found when its content words (two or more) are said in order with other words
    #: between them ("у конкурентов в соседнем районе дешевле" for "у конкурентов дешевле"):
    #: for long, specific phrases such as objection triggers (``MatchOptions.keyword_gap``).
    keywords: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 100:
            raise OptionError(f"threshold must be in 0..100, got {self.threshold}")


@dataclass(frozen=True)
class Match:
    """One place where a phrase was said, with its evidence."""

    phrase: str
    similarity: float  # 0-100
    utterance_index: int  # the (first) utterance
    start: float  # seconds; word-level when word timings line up, else the utterance's
    end: float
    role: str
    text: str  # the utterance quote (both utterances when the phrase spans two)
    matched: str  # the matched words as recognised
    utterance_indices: tuple[int, ...] = ()
    query: int = -1  # index of the phrase in its PhraseSet
    #: first and last token of the matched words, counted over the whole call (tokens of
    #: utterance 0, then 1, ...): two matches with overlapping spans quote the same words.
    #: ``(-1, -1)`` when unknown.
    span: tuple[int, int] = (-1, -1)

    def overlaps(self, other: Match) -> bool:
        """Whether both matches quote some of the same words (unknown spans never overlap)."""
        a, b = self.span, other.span
        if a[0] < 0 or b[0] < 0:
            return False
        return a[0] <= b[1] and b[0] <= a[1]

    def evidence(self) -> dict[str, Any]:
        """The evidence columns of an ``items`` row."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "role": self.role,
            "text": self.text,
            "matched": self.matched,
            "phrase": self.phrase,
            "similarity": round(self.similarity, 1),
        }


# ---- prepared transcript ----------------------------------------------------------------------
@dataclass(slots=True)
class PreparedUtterance:
    """An utterance normalised once per call; what only some phrases need (the analysis,
    alphabets, function words, runs, sound keys) is made when first asked for."""

    index: int
    utterance: Utterance
    #: None until asked for (:attr:`analysis`) when the tokens came from the words one to one
    _analysis: Analysis | None
    toks: list[str]
    surfs: list[str]  # the tokens before stemming
    #: the language's function words (:attr:`stops` says which tokens are one)
    _stop_words: frozenset[str] = field(default=frozenset(), repr=False)
    _stemmed: bool = field(default=True, repr=False)  # the analysis keeps the surfaces
    _alphas: frozenset[str] | None = field(default=None, repr=False)
    _stops: list[bool] | None = field(default=None, repr=False)
    _ends: list[bool] | None = field(default=None, repr=False)
    #: runs of one size ``(size, sound)``, of several ``(first size, last size + 1, sound)``,
    #: the whole line ``(-1, sound)``
    _windows: dict[tuple[int, ...], list[str]] | None = field(default=None, repr=False)
    _sounds: list[str] | None = field(default=None, repr=False)
    _gaps: dict[tuple[Any, ...], tuple[list[str], list[tuple[int, int]]]] | None = field(default=None, repr=False)

    @property
    def role(self) -> str:
        return self.utterance.role

    @property
    def analysis(self) -> Analysis:
        """The utterance's words and tokens (:meth:`qa.normalize.Normalizer.analyze`)."""
        if self._analysis is None:
            self._analysis = plain_analysis(self.utterance.text, self.toks, self.surfs, self._stemmed)
        return self._analysis

    @property
    def alphas(self) -> frozenset[str]:
        """The alphabets of the tokens (digits have none)."""
        if self._alphas is None:
            self._alphas = frozenset(map(alphabet, self.toks)) - _NO_ALPHABET
        return self._alphas

    @property
    def stops(self) -> list[bool]:
        """Which tokens are function words (may be skipped inside a phrase)."""
        if self._stops is None:
            self._stops = list(map(self._stop_words.__contains__, self.toks))
        return self._stops

    @property
    def ends(self) -> list[bool]:
        """Which tokens end a sentence (their word ends with . ! ? ; or …)."""
        if self._ends is None:
            words = self.analysis.words
            self._ends = [_SENTENCE_END_RE.search(words[t[2]]) is not None for t in self.analysis.tokens]
        return self._ends

    @property
    def gapped_cache(self) -> dict[tuple[Any, ...], tuple[list[str], list[tuple[int, int]]]]:
        """The runs with skipped words :meth:`PhraseSet._gapped` and the order-free runs of
        :meth:`PhraseSet._reordered` made here, by phrase length, window slack, alphabet and
        the words kept."""
        if self._gaps is None:
            self._gaps = {}
        return self._gaps

    @property
    def _cache(self) -> dict[tuple[int, ...], list[str]]:
        if self._windows is None:
            self._windows = {}
        return self._windows

    def sounds(self) -> list[str]:
        if self._sounds is None:
            self._sounds = [sound_key(t) for t in self.toks]
        return self._sounds

    def windows(self, size: int, sound: bool) -> list[str]:
        """Every run of ``size`` consecutive tokens (or their sound keys), joined by spaces."""
        key = (size, sound)
        w = self._cache.get(key)
        if w is None:
            src = self.sounds() if sound else self.toks
            w = [" ".join(src[i : i + size]) for i in range(len(src) - size + 1)]
            self._cache[key] = w
        return w

    def runs(self, sizes: range, sound: bool) -> list[str]:
        """The runs of every size in ``sizes``, smallest size first, in one list (one fuzzy
        search covers them all); :meth:`run_at` says where each one is."""
        key = (sizes.start, sizes.stop, sound)
        got = self._cache.get(key)
        if got is None:
            src = self.sounds() if sound else self.toks
            got = []
            for size in sizes:
                if size < 1:
                    got += [" ".join(src[i : i + size]) for i in range(len(src) - size + 1)]
                else:  # the runs as tuples of tokens, joined in C
                    got += map(" ".join, zip(*(src[k:] for k in range(size))))
            self._cache[key] = got
        return got

    def run_at(self, sizes: range, k: int) -> tuple[int, int]:
        """``(size, first token)`` of run ``k`` of :meth:`runs` (``sizes``)."""
        n = len(self.toks)
        for size in sizes:
            count = n - size + 1
            if k < count:
                return size, k
            k -= count
        raise IndexError(k)

    def line(self, sound: bool) -> str:
        """All tokens (or their sound keys) joined by spaces: every run is a part of it."""
        key = (-1, sound)  # (no run has -1 tokens)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = [" ".join(self.sounds() if sound else self.toks)]
        return got[0]

    def span(self, first: int, last: int) -> tuple[float, float, str]:
        """Start, end and original words of tokens ``first..last``."""
        u = self.utterance
        a, b = self.analysis.tokens[first][1], self.analysis.tokens[last][2]
        words = self.analysis.words
        text = " ".join(words[a : b + 1])
        if u.words and len(u.words) == len(words):
            return u.words[a].start, u.words[b].end, text
        return u.start, u.end, text


@dataclass
class PreparedTranscript:
    """A transcript normalised for matching (one per call and language)."""

    utterances: list[PreparedUtterance]
    language: str
    end_time: float
    mono: bool
    #: index of the next utterance of the same speaker a phrase may continue into, or -1
    continues: list[int]
    #: position of each utterance's first token among all tokens of the call (for spans)
    offsets: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.utterances)


def prepare(
    transcript: Transcript | Sequence[Utterance],
    language: str | None,
    options: MatchOptions | None = None,
) -> PreparedTranscript:
    """Normalise every utterance once (reuse the result for all phrases of a call)."""
    opts = options or MatchOptions()
    if isinstance(transcript, Transcript):
        utts = transcript.utterances
        end_time = transcript.end_time
        mono = transcript.is_mono
    else:
        utts = sorted(transcript, key=lambda u: (u.start, u.end))
        end_time = max((u.end for u in utts), default=0.0)
        mono = bool(utts) and all(u.role == UNKNOWN for u in utts)
    norm = _normalizer(language)
    stop = _stop_stems(language)
    prepared = []
    stemmed = norm.stems
    for i, u in enumerate(utts):
        plain = norm.plain_tokens(u.text)
        an: Analysis | None = None
        if plain is not None:  # most utterances: one token per word, built only when quoted
            toks, surfs = plain
        else:
            an = norm.analyze(u.text)
            toks = list(map(_FIRST, an.tokens))
            surfs = list(an.surfaces) if an.surfaces else toks[:]
        prepared.append(PreparedUtterance(i, u, an, toks, surfs, stop, stemmed))
    continues = [-1] * len(utts)
    for i in range(len(utts) - 1):
        a, b = utts[i], utts[i + 1]
        if a.role == b.role and b.start - a.end <= opts.join_gap_s:
            continues[i] = i + 1
    offsets = []
    total = 0
    for pu in prepared:
        offsets.append(total)
        total += len(pu.toks)
    return PreparedTranscript(prepared, language_code(language), end_time, mono, continues, offsets)


_FIRST = itemgetter(0)


def _may_reach(target: str, text: str, cutoff: float) -> bool:
    """Whether some run of ``text`` could be at least ``cutoff`` alike to ``target`` (a cheap
    bound that spares building and scoring the runs of most candidate phrases).

    A run (consecutive tokens, or tokens with some skipped, joined by spaces) is a subsequence
    of ``text``, so it has at most ``s`` = LCS(target, text) characters in common with the
    target, and ``fuzz.ratio`` = 200 x common / (len(target) + len(run)) is at most
    200 s / (len(target) + s). Below the cutoff, no run reaches it: exactly the runs that
    would have been found are still found."""
    s = LCSseq.similarity(target, text)
    return 200.0 * s / (len(target) + s) >= cutoff - 1e-9 if s else cutoff <= 1e-9


def _may_reorder(chars: dict[str, int], length: int, text: str, cutoff: float) -> bool:
    """:func:`_may_reach` for the order-free runs of :meth:`PhraseSet._reordered` (``chars``:
    how often each character is in the target, ``length`` long; ``text``: the utterance's
    tokens joined by spaces).

    An order-free run is some of the utterance's tokens in another order, joined by spaces
    (and by "_" after a negation), so it has at most ``common`` characters in common with the
    target: each character as often as both have it ("_" as often as the target has it)."""
    common = sum(min(n, text.count(ch)) if ch != "_" else n for ch, n in chars.items())
    return 200.0 * common / (length + common) >= cutoff - 1e-9 if common else cutoff <= 1e-9
#: What :func:`qa.normalize.alphabet` says of a token without letters (digits).
_NO_ALPHABET = frozenset({""})

_SENTENCE_END_RE = re.compile(r"[.!?;…][\"')»”\]]*$")

#: A similarity equal to the threshold passes (rapidfuzz's cutoff check is not exact near equality).
_EPS = 1e-3

_NORMALIZERS: dict[str, Normalizer] = {}
_STOPS: dict[str, frozenset[str]] = {}


def _stop_stems(language: str | None) -> frozenset[str]:
    """The language's stop words, as written and as stems (tokens are stems)."""
    code = language_code(language)
    got = _STOPS.get(code)
    if got is None:
        lang = load_language(code)
        norm = _normalizer(code)
        words = frozenset(lang.stop_words) | frozenset(norm.stem(w) for w in lang.stop_words)
        got = _STOPS[code] = words - _negation_stems(code)  # a negation changes the meaning
    return got


_NEGATIONS: dict[str, frozenset[str]] = {}


def _negation_stems(language: str | None) -> frozenset[str]:
    """The language's negation words, as written and as stems."""
    code = language_code(language)
    got = _NEGATIONS.get(code)
    if got is None:
        words = load_language(code).negations
        norm = _normalizer(code)
        got = _NEGATIONS[code] = frozenset(words) | frozenset(norm.stem(w) for w in words)
    return got


def _normalizer(language: str | None) -> Normalizer:
    code = language_code(language)
    n = _NORMALIZERS.get(code)
    if n is None:
        n = _NORMALIZERS[code] = Normalizer(code, "stems")
    return n


# ---- compiled phrases ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Compiled:
    query: PhraseQuery
    toks: tuple[str, ...]
    native: str
    sound: str
    alphas: frozenset[str]
    tokset: frozenset[str]
    has_content: bool  # has a word that is not a function word
    has_negation: bool  # the phrase itself negates: negation words around it are its own
    surfs: tuple[str, ...] = ()  # the words before stemming
    check: tuple[int, ...] = ()  # the words each run must contain (content words)
    vocab: frozenset[int] = frozenset()  # prefilter words: all near an utterance's words
    sorted_native: str = ""  # the stems in alphabetical order (order-free comparison)
    sorted_sound: str = ""
    #: how often each character is in ``sorted_native`` / ``sorted_sound`` (:func:`_may_reorder`)
    sorted_chars: tuple[dict[str, int], dict[str, int]] = ({}, {})


class WordMatcher:
    """Word by word: does a run of the utterance say the phrase's words, not their negation?

    Runs that reach a phrase's threshold as a whole are checked here: every content word of
    the phrase needs a close word in the run (:meth:`words_agree`, by stem, as written where
    stems mislead, split and merged words), and negations must agree (:meth:`negated`).
    """

    def __init__(self, language: str | None, options: MatchOptions):
        self.options = options
        self.negations = _negation_stems(language)
        self.neg_prefixes = load_language(language).negation_prefixes

    def negated(self, c: _Compiled, toks: Sequence[str], first: int, last: int, reach: int = 1) -> bool:
        """Whether the run ``first..last`` negates what the phrase says (or the other way);
        a phrase's own negation may stand up to ``reach`` words before the run."""
        if c.has_negation:
            # the phrase negates: so must the run ("we are ready to decide" is not "not
            # ready to decide", though 87.5 alike)
            if not any(toks[k] in self.negations for k in range(max(0, first - reach), last + 1)):
                return True
        else:
            if first > 0 and toks[first - 1] in self.negations:
                return True
            for k in range(first, last + 1):
                if toks[k] in self.negations:
                    return True
        if self.neg_prefixes:
            run = toks[first : last + 1]
            for pre in self.neg_prefixes:
                cut = len(pre)
                for a, b in ((run, c.tokset), (c.toks, frozenset(run))):
                    for w in a:
                        if len(w) > cut + 2 and w.startswith(pre) and w[cut:] in b and w not in b:
                            return True
        return False

    def word_sim(self, pt: str, ps: str, ut: str, us: str, alone: bool = False) -> float:
        """How alike a phrase word and an utterance word are (0-100): stems ``pt``/``ut``,
        written forms ``ps``/``us``; ``alone``: the phrase's only content word."""
        opts = self.options
        if pt == ut:
            # one stem; endings far apart in length: the stemmer joined two words, which
            # are only alike when written nearly alike
            if abs((len(ps) - len(pt)) - (len(us) - len(ut))) >= opts.ending_gap:
                sim = float(fuzz.ratio(ps, us))
                return sim if sim >= opts.joined_floor - _EPS else 0.0
            return 100.0
        ap, au = alphabet(pt), alphabet(ut)
        if ap and au and ap != au:
            return float(max(fuzz.ratio(sound_key(pt), sound_key(ut)), fuzz.ratio(sound_key(ps), sound_key(us))))
        if alone and len(pt) <= opts.short_stem_len:
            # a phrase standing on one short stem: one letter is a large share of it, so the
            # written words decide ("дор"/"добр" are 86 alike, "дорого"/"добрый" 50)
            return float(fuzz.ratio(ps, us))
        return float(max(fuzz.ratio(pt, ut), fuzz.ratio(ps, us)))

    def word_score(
        self, c: _Compiled, k: int, toks: Sequence[str], surfs: Sequence[str], first: int, last: int
    ) -> float:
        """The best similarity of phrase word ``k`` to a word of the run ``first..last``: one
        word, two words the recogniser split ("клин про"), or a word that merges it with its
        neighbour in the phrase ("бизнесцентре")."""
        pt, ps = c.toks[k], c.surfs[k]
        alone = len(c.check) == 1
        best = 0.0
        for u in range(first, last + 1):
            best = max(best, self.word_sim(pt, ps, toks[u], surfs[u], alone))
            if best >= 100.0:
                return best
        # split or merged words are compared as written (their stems are cut where the
        # word was cut), only from pieces of two letters or more, and must be close
        joined = self.options.joined_floor - _EPS
        for u in range(first, last):
            if len(surfs[u]) > 1 and len(surfs[u + 1]) > 1:
                sim = self.joined_sim(ps, surfs[u] + surfs[u + 1])
                if sim >= joined:
                    best = max(best, sim)
        for a in (k - 1, k):
            if 0 <= a and a + 1 < len(c.toks):
                js = c.surfs[a] + c.surfs[a + 1]
                for u in range(first, last + 1):
                    sim = self.joined_sim(js, surfs[u])
                    if sim >= joined:
                        best = max(best, sim)
        # the phrase word glued to the end of the word before it ("главноерассрочка"): only
        # after five letters or more, longer than the prefixes that make another word
        n = len(ps)
        if n >= 5:
            for u in range(first, last + 1):
                if len(surfs[u]) >= n + 5 and alphabet(surfs[u]) == alphabet(ps):
                    sim = float(fuzz.ratio(ps, surfs[u][-n:]))
                    if sim >= joined:
                        best = max(best, sim)
        return best

    @staticmethod
    def joined_sim(a: str, b: str) -> float:
        if alphabet(a) != alphabet(b):
            return float(fuzz.ratio(sound_key(a), sound_key(b)))
        return float(fuzz.ratio(a, b))

    def words_agree(self, c: _Compiled, toks: Sequence[str], surfs: Sequence[str], first: int, last: int) -> bool:
        """Whether every content word of the phrase has a close word in the run."""
        floor = self.options.word_floor - _EPS
        return all(self.word_score(c, k, toks, surfs, first, last) >= floor for k in c.check)

    def accept(self, c: _Compiled, toks: Sequence[str], surfs: Sequence[str], first: int, last: int) -> bool:
        return not self.negated(c, toks, first, last) and self.words_agree(c, toks, surfs, first, last)

    def order_free(self, toks: Sequence[str], sound: bool = False) -> str:
        """Words in alphabetical order; a negation stays with the word after it ("не
        интересно" moves as one piece: "интересно ... не решили" is not "не интересно")."""
        units: list[str] = []
        k = 0
        while k < len(toks):
            t = sound_key(toks[k]) if sound else toks[k]
            if toks[k] in self.negations and k + 1 < len(toks):
                nxt = sound_key(toks[k + 1]) if sound else toks[k + 1]
                units.append(f"{t}_{nxt}")
                k += 2
                continue
            units.append(t)
            k += 1
        return " ".join(sorted(units))


class PhraseIndex:
    """Phrases compiled once (normalised, stemmed, sound keys) and the word index that
    picks, per utterance, the phrases worth scoring (the prefilter).

    Building it has three phases: compile each phrase (:meth:`_compile`), index the
    phrases' content words (:meth:`_index_words`), and the role masks (:meth:`_roles`).
    """

    def __init__(self, queries: Sequence[PhraseQuery], language: str | None, options: MatchOptions, words: WordMatcher):
        self.options = options
        self.queries = tuple(queries)
        self.words = words
        stop_stems = _stop_stems(language)
        # vocabulary: phrase word -> phrases it activates
        activates: dict[str, set[int]] = {}
        self.compiled: list[_Compiled] = []
        for qi, q in enumerate(self.queries):
            c, content = self._compile(q, _normalizer(language), stop_stems)
            self.compiled.append(c)
            for t in content:
                activates.setdefault(t, set()).add(qi)
        self._index_words(activates)
        self.allowed = self._roles()
        self._by_alpha: dict[tuple[str, bool], tuple[list[str], list[frozenset[int]], list[int]]] = {}
        self._token_cache: dict[str, tuple[frozenset[int], frozenset[int]]] = {}

    def __len__(self) -> int:
        return len(self.queries)

    def _compile(self, q: PhraseQuery, norm: Normalizer, stop_stems: frozenset[str]) -> tuple[_Compiled, list[str]]:
        """One phrase's tokens, keys and content words (the words that activate it)."""
        negations = self.words.negations
        an = norm.analyze(q.text)
        toks = tuple(t[0] for t in an.tokens)
        alphas = frozenset(a for a in map(alphabet, toks) if a)
        # function words and negations alone do not make an utterance worth scoring
        content = [t for t in toks if t not in stop_stems and t not in negations]
        check = tuple(k for k, t in enumerate(toks) if t not in stop_stems and t not in negations)
        if not check:  # a phrase of function words only: each of them counts
            check = tuple(k for k, t in enumerate(toks) if t not in negations)
        c = _Compiled(
            q, toks, " ".join(toks), " ".join(sound_key(t) for t in toks), alphas,
            frozenset(toks), bool(content), any(t in negations for t in toks),
            tuple(an.surface(k) for k in range(len(toks))), check,
        )
        return c, content or list(toks)

    def _index_words(self, activates: dict[str, set[int]]) -> None:
        """The vocabulary (content words of all phrases) and, per phrase, its words' ids."""
        self._vocab = list(activates)
        vocab_id = {t: i for i, t in enumerate(self._vocab)}
        for qi, c in enumerate(self.compiled):
            ids = frozenset(vocab_id[t] for t in c.toks if t in vocab_id and qi in activates[t])
            native, sound = self.words.order_free(c.toks), self.words.order_free(c.toks, sound=True)
            self.compiled[qi] = replace(
                c, vocab=ids, sorted_native=native, sorted_sound=sound,
                sorted_chars=(dict(Counter(native)), dict(Counter(sound))),
            )
        self._vocab_sets = [frozenset(activates[t]) for t in self._vocab]
        self._vocab_alpha = [alphabet(t) for t in self._vocab]
        self._vocab_sound = [sound_key(t) for t in self._vocab]

    def _roles(self) -> dict[str, frozenset[int]]:
        """Phrases allowed in each role's speech; ``unknown`` (mono) allows every phrase."""
        allowed: dict[str, frozenset[int]] = {
            r: frozenset(i for i, q in enumerate(self.queries) if q.roles is None or r in q.roles)
            for r in ("manager", "client")
        }
        allowed[UNKNOWN] = frozenset(range(len(self.queries)))
        return allowed

    def _vocab_for(self, alpha: str, same: bool) -> tuple[list[str], list[frozenset[int]], list[int]]:
        key = (alpha, same)
        got = self._by_alpha.get(key)
        if got is None:
            if same:
                idx = [i for i, a in enumerate(self._vocab_alpha) if a == alpha]
                got = ([self._vocab[i] for i in idx], [self._vocab_sets[i] for i in idx], idx)
            else:
                idx = [i for i, a in enumerate(self._vocab_alpha) if a and a != alpha]
                got = ([self._vocab_sound[i] for i in idx], [self._vocab_sets[i] for i in idx], idx)
            self._by_alpha[key] = got
        return got

    def _activated(self, tok: str) -> tuple[frozenset[int], frozenset[int]]:
        """Phrases a word makes worth scoring, and the phrase words (vocabulary ids) near it."""
        cached = self._token_cache.get(tok)
        if cached is not None:
            return cached
        opts = self.options
        alpha = alphabet(tok)
        found: set[int] = set()
        near: set[int] = set()
        if not alpha:  # digits: exact only
            for i, t in enumerate(self._vocab):
                if t == tok:
                    found |= self._vocab_sets[i]
                    near.add(i)
        else:
            cutoff = 100.0 if len(tok) <= opts.short_token_len else opts.token_cutoff
            words, sets, ids = self._vocab_for(alpha, True)
            if words:
                for _, _, i in process.extract(tok, words, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None):
                    found |= sets[i]
                    near.add(ids[i])
            words, sets, ids = self._vocab_for(alpha, False)
            if words:
                key = sound_key(tok)
                cutoff = 100.0 if len(key) <= opts.short_token_len else opts.token_cutoff
                for _, _, i in process.extract(key, words, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None):
                    found |= sets[i]
                    near.add(ids[i])
        result = (frozenset(found), frozenset(near))
        if len(self._token_cache) > 500_000:  # unbounded vocabularies: start over, stay small
            self._token_cache.clear()
        self._token_cache[tok] = result
        return result

    def prefilter(self, pu: PreparedUtterance) -> tuple[set[int], set[int]]:
        """Candidate phrases (prefilter and role) and the phrase words near the utterance's."""
        cand: set[int] = set()
        near: set[int] = set()
        cache = self._token_cache
        for t in pu.toks:
            got, ids = cache.get(t) or self._activated(t)
            if got:
                cand |= got
                near |= ids
        if cand:
            cand &= self.allowed.get(pu.role, self.allowed[UNKNOWN])
        return cand, near

    def candidates(self, pu: PreparedUtterance) -> set[int]:
        """Phrases worth scoring on this utterance (prefilter and role)."""
        return self.prefilter(pu)[0]


class PhraseSet:
    """Phrases compiled once (per script and rubric); :meth:`scan` finds them all in a call.

    Three parts: :class:`PhraseIndex` (compiled phrases, prefilter), :class:`WordMatcher`
    (the word-level checks of a run) and, here, the search for runs (:meth:`scan`: plain
    runs, runs with skipped function words, free word order, key words, runs across two
    utterances).
    """

    def __init__(
        self,
        queries: Sequence[PhraseQuery],
        language: str | None,
        options: MatchOptions | None = None,
    ):
        self.options = options or MatchOptions()
        self.language = language_code(language)
        self.words = WordMatcher(language, self.options)
        self.index = PhraseIndex(queries, language, self.options, self.words)
        self.queries = self.index.queries
        self._free_order = load_language(language).free_word_order

    def __len__(self) -> int:
        return len(self.queries)

    def candidates(self, pu: PreparedUtterance) -> set[int]:
        """Phrases worth scoring on this utterance (prefilter and role)."""
        return self.index.candidates(pu)

    # -- runs --------------------------------------------------------------------------------
    def _sizes(self, n: int, length: int) -> range:
        s = self.options.window_slack
        lo, hi = max(1, n - s), min(length, n + s)
        if lo > hi:  # utterance shorter than the phrase allows: compare with all of it
            return range(length, length + 1)
        return range(lo, hi + 1)

    def _best(self, c: _Compiled, pu: PreparedUtterance) -> tuple[float, int, int] | None:
        sound = len(c.alphas | pu.alphas) > 1
        target = c.sound if sound else c.native
        cutoff = c.query.threshold - _EPS
        if not _may_reach(target, pu.line(sound), cutoff):
            return None  # no run, plain or with words skipped, can (most candidates)
        # every run that reaches the threshold, best first (ties: shorter, then earlier); the
        # first whose words agree with the phrase and that is not negated is the match
        sizes = self._sizes(len(c.toks), len(pu.toks))
        hits = [
            (-score, *pu.run_at(sizes, k))
            for _, score, k in process.extract(
                target, pu.runs(sizes, sound), scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
            )
        ]
        hits.sort()
        for neg, size, i in hits:
            if self.words.accept(c, pu.toks, pu.surfs, i, i + size - 1):
                return -neg, i, i + size - 1
        if c.has_content:
            return self._gapped(
                c, pu.toks, pu.sounds() if sound else pu.toks, pu.surfs, pu.stops, target, None, pu.gapped_cache
            )
        return None

    def _gapped(
        self,
        c: _Compiled,
        toks: Sequence[str],
        src: Sequence[str],
        surfs: Sequence[str],
        stops: Sequence[bool],
        target: str,
        split: int | None,
        cache: dict[tuple[Any, ...], tuple[list[str], list[tuple[int, int]]]] | None = None,
    ) -> tuple[float, int, int] | None:
        """Second chance: runs with extra function words the phrase does not have.

        "какой у вас бюджет" is "какой бюджет" with "у вас" in between: function words of the
        language (``stop_words``) that are not in the phrase are skipped inside a run, never at
        its ends, and never the phrase's own words. Only runs crossing ``split`` when given.
        ``cache``: the runs of one utterance (and ``src``), kept for the other phrases of its
        length that skip the same words (most of them: few phrases have function words).
        """
        n, length = len(c.toks), len(toks)
        kept = [k for k in range(length) if not (stops[k] and toks[k] not in c.tokset)]
        if len(kept) == length:
            return None
        key = (n, self.options.window_slack, src is toks, tuple(kept))
        got = cache.get(key) if cache is not None else None
        if got is None:
            got = self._gapped_runs(n, kept, src, split)
            if cache is not None:
                cache[key] = got
        windows, spans = got
        if not windows:
            return None
        cutoff = c.query.threshold - _EPS
        hits = sorted(
            (-score, k)
            for _, score, k in process.extract(target, windows, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None)
        )
        for neg, k in hits:
            if self.words.accept(c, toks, surfs, *spans[k]):
                return -neg, spans[k][0], spans[k][1]
        return None

    def _gapped_runs(
        self, n: int, kept: list[int], src: Sequence[str], split: int | None
    ) -> tuple[list[str], list[tuple[int, int]]]:
        """The runs :meth:`_gapped` compares for a phrase of ``n`` words: n-slack .. n+slack
        ``kept`` words that skipped something, spanning at most n + slack + 2 words of the
        utterance; their texts and ``(first, last)`` token spans."""
        slack = self.options.window_slack
        max_span = n + slack + 2
        windows: list[str] = []
        spans: list[tuple[int, int]] = []
        for size in range(max(1, n - slack), n + slack + 1):
            for a in range(0, len(kept) - size + 1):
                i, j = kept[a], kept[a + size - 1]
                if j - i + 1 == size or j - i + 1 > max_span:
                    continue  # nothing skipped (the plain runs covered it), or too far apart
                if split is not None and not i < split <= j:
                    continue
                windows.append(" ".join([src[k] for k in kept[a : a + size]]))
                spans.append((i, j))
        return windows, spans

    def _reordered(self, c: _Compiled, pu: PreparedUtterance) -> tuple[float, int, int] | None:
        """Free word order: the phrase's words in another order ("с директором обсудить" for
        "обсудить с директором"), compared with both sides' words in alphabetical order, at
        the phrase's threshold plus ``reorder_penalty``. Function words the phrase does not
        have are left out, as in :meth:`_gapped`."""
        sound = len(c.alphas | pu.alphas) > 1
        target = c.sorted_sound if sound else c.sorted_native
        cutoff = min(100.0, c.query.threshold + self.options.reorder_penalty) - _EPS
        if not _may_reorder(c.sorted_chars[sound], len(target), pu.line(sound), cutoff):
            return None  # no reordered run can reach the threshold (most of them)
        toks, n = pu.toks, len(c.toks)
        tokset = c.tokset
        skipped = {k for k in compress(range(len(toks)), pu.stops) if toks[k] not in tokset}
        kept = [k for k in range(len(toks)) if k not in skipped]
        slack = self.options.window_slack
        # the same runs for every phrase of this length that keeps the same words
        key = ("reordered", self.language, n, slack, sound, tuple(kept))
        got = pu.gapped_cache.get(key)
        if got is None:
            words = [toks[k] for k in kept]
            max_span = n + slack + 2
            windows: list[str] = []
            spans: list[tuple[int, int]] = []
            order_free = self.words.order_free
            for size in range(max(2, n - slack), n + slack + 1):
                for a, (i, j) in enumerate(zip(kept, kept[size - 1 :])):
                    if j - i + 1 > max_span:
                        continue
                    windows.append(order_free(words[a : a + size], sound))
                    spans.append((i, j))
            got = pu.gapped_cache[key] = (windows, spans)
        windows, spans = got
        if not windows:
            return None
        hits = sorted(
            (-score, spans[k][1] - spans[k][0], k)
            for _, score, k in process.extract(target, windows, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None)
        )
        for neg, _, k in hits:
            if self.words.accept(c, toks, pu.surfs, *spans[k]):
                return -neg, spans[k][0], spans[k][1]
        return None

    def _keywords(self, c: _Compiled, pu: PreparedUtterance) -> tuple[float, int, int] | None:
        """Key words: the phrase's content words in order, in one sentence, each at least as
        alike as the phrase's threshold, with at most ``keyword_gap`` other content words
        between them (function words are free, up to ``len(phrase) + 2 x keyword_gap`` words
        from the first key word to the last). A phrase with a negation needs one just before
        or among its key words; one without is not found next to one. The similarity is the
        key words' average."""
        toks, surfs = pu.toks, pu.surfs
        keys = c.check
        need = c.query.threshold - _EPS
        max_span = len(c.toks) + 2 * self.options.keyword_gap
        # where each key word could be: (position, similarity) pairs
        places: list[list[tuple[int, float]]] = []
        for k in keys:
            got = []
            for u in range(len(toks)):
                sim = self.words.word_sim(c.toks[k], c.surfs[k], toks[u], surfs[u])
                if sim >= need:
                    got.append((u, sim))
            if not got:
                return None
            places.append(got)
        best: tuple[float, int, int] | None = None

        def extend(level: int, first: int, prev: int, total: float) -> None:
            nonlocal best
            if level == len(places):
                score = total / len(places)
                if (best is None or score > best[0]) and self._keyword_run_ok(c, pu, first, prev):
                    best = (score, first, prev)
                return
            for u, sim in places[level]:
                if u > prev and (level == 0 or u - first + 1 <= max_span):
                    extend(level + 1, u if level == 0 else first, u, total + sim)

        extend(0, -1, -1, 0.0)
        return best

    def _keyword_run_ok(self, c: _Compiled, pu: PreparedUtterance, first: int, last: int) -> bool:
        toks = pu.toks
        if any(pu.ends[k] for k in range(first, last)):
            return False  # key words of one phrase are said in one sentence
        others = sum(1 for k in range(first, last + 1) if not pu.stops[k]) - len(c.check)
        if others > self.options.keyword_gap:
            return False
        # a phrase's negation may stand two words before its first key word ("not really
        # ready")
        return not self.words.negated(c, toks, first, last, reach=2)

    def _best_across(
        self, c: _Compiled, a: PreparedUtterance, b: PreparedUtterance
    ) -> tuple[float, int, int] | None:
        sound = len(c.alphas | a.alphas | b.alphas) > 1
        target = c.sound if sound else c.native
        toks = a.toks + b.toks
        surfs = a.surfs + b.surfs
        src = (a.sounds() + b.sounds()) if sound else toks
        split = len(a.toks)
        hits: list[tuple[float, int, int]] = []
        cutoff = c.query.threshold - _EPS
        if not _may_reach(target, " ".join(src), cutoff):
            return None
        for size in self._sizes(len(c.toks), len(src)):
            starts = range(max(0, split - size + 1), min(split, len(src) - size + 1))
            windows = [" ".join(src[i : i + size]) for i in starts]
            if not windows:
                continue
            for _, score, k in process.extract(target, windows, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None):
                hits.append((-score, size, starts[k]))
        hits.sort()
        for neg, size, first in hits:
            if self.words.accept(c, toks, surfs, first, first + size - 1):
                return -neg, first, first + size - 1
        if c.has_content:
            return self._gapped(c, toks, src, surfs, a.stops + b.stops, target, split)
        return None

    def scan(self, prepared: PreparedTranscript, only: Iterable[int] | None = None) -> list[list[Match]]:
        """Every place each phrase was said: ``result[i]`` lists matches of ``queries[i]``.

        One match per utterance (its best run), or per pair of utterances when the phrase
        spans them; in time order. ``only`` limits the search to some phrase indexes.
        """
        # Long on purpose: the hot loop of scoring (every utterance x candidate phrase);
        # its two passes (single utterances, then pairs cut by the recogniser) share
        # ``found`` and the prefilter's candidates, and a call per phrase would cost time.
        found: list[list[Match]] = [[] for _ in self.queries]
        wanted = None if only is None else frozenset(only)
        utts = prepared.utterances
        cands: list[set[int]] = []
        for pu in utts:
            cand, near = self.index.prefilter(pu)
            if wanted is not None:
                cand &= wanted
            cands.append(cand)
            for qi in cand:
                c = self.index.compiled[qi]
                if not c.toks:
                    continue
                best = self._best(c, pu)
                # second looks, only when every word of the phrase has a near word here
                if best is None and self._free_order and len(c.toks) > 1 and c.vocab <= near:
                    best = self._reordered(c, pu)
                if best is None and c.query.keywords and c.has_content and len(c.check) > 1 and c.vocab <= near:
                    best = self._keywords(c, pu)
                if best is not None:
                    sim, i, j = best
                    start, end, matched = pu.span(i, j)
                    u = pu.utterance
                    off = prepared.offsets[pu.index]
                    found[qi].append(
                        Match(
                            c.query.text, float(sim), pu.index, start, end, u.role, u.text, matched,
                            (pu.index,), qi, (off + i, off + j),
                        )
                    )
        # phrases cut in two by the recogniser (only runs that cross the cut are tried)
        for ai, bi in enumerate(prepared.continues):
            if bi < 0:
                continue
            # the prefilter may see the phrase's distinctive word on one side only
            shared = cands[ai] | cands[bi]
            if not shared:
                continue
            a, b = utts[ai], utts[bi]
            for qi in shared:
                c = self.index.compiled[qi]
                if len(c.toks) < 2:
                    continue
                prior = [m.similarity for m in found[qi][-2:] if m.utterance_index in (ai, bi)]
                best = self._best_across(c, a, b)
                if best is None or (prior and max(prior) >= best[0]):
                    continue
                sim, i, j = best
                split = len(a.toks)
                start, _, left = a.span(i, split - 1)
                _, end, right = b.span(0, j - split)
                found[qi].append(
                    Match(
                        c.query.text, float(sim), ai, start, end, a.role,
                        f"{a.utterance.text} {b.utterance.text}", f"{left} {right}", (ai, bi), qi,
                        (prepared.offsets[ai] + i, prepared.offsets[ai] + j),
                    )
                )
        for lst in found:
            if len(lst) > 1:
                lst.sort(key=lambda m: (m.start, m.utterance_index))
        return found


# ---- convenience ---------------------------------------------------------------------------------
def filter_matches(
    matches: Iterable[Match],
    *,
    start_before: float | None = None,
    end_after: float | None = None,
    utterances: Iterable[int] | None = None,
) -> list[Match]:
    """Matches that start by ``start_before``, end after ``end_after``, in some utterances."""
    allowed = None if utterances is None else set(utterances)
    out = []
    for m in matches:
        if start_before is not None and m.start > start_before:
            continue
        if end_after is not None and m.end < end_after:
            continue
        if allowed is not None and not allowed.intersection(m.utterance_indices or (m.utterance_index,)):
            continue
        out.append(m)
    return out


def find_phrase(
    transcript: Transcript | Sequence[Utterance] | PreparedTranscript,
    phrase: str,
    language: str | None,
    *,
    threshold: float = 85.0,
    roles: Iterable[str] | None = None,
    within_first_seconds: float | None = None,
    within_last_seconds: float | None = None,
    options: MatchOptions | None = None,
) -> list[Match]:
    """Every place ``phrase`` was said (by ``roles``, within the time windows), in time order.

    >>> from qa.transcripts import Utterance
    >>> [m.matched for m in find_phrase([Utterance("manager", 0, 2, "Ну, добрый дэнь!")], "добрый день", "ru")]
    ['добрый дэнь!']
    """
    prepared = transcript if isinstance(transcript, PreparedTranscript) else prepare(transcript, language, options)
    q = PhraseQuery(phrase, threshold, frozenset(roles) if roles is not None else None)
    matches = PhraseSet([q], language, options).scan(prepared)[0]
    end_after = None
    if within_last_seconds is not None:
        end_after = prepared.end_time - within_last_seconds
    return filter_matches(matches, start_before=within_first_seconds, end_after=end_after)


def similarity(a: str, b: str, language: str | None = None) -> float:
    """How alike two texts are (0-100) after normalisation and stemming.

    Same-alphabet texts compare their stems; mixed alphabets compare sound keys.

    >>> similarity("Какой у вас бюджет?", "какой бюджет у вас", "ru") > 60
    True
    """
    norm = _normalizer(language)
    ta, tb = norm.tokens(a), norm.tokens(b)
    if not ta or not tb:
        return 100.0 if not ta and not tb else 0.0
    alphas = {x for x in map(alphabet, ta + tb) if x}
    if len(alphas) > 1:
        return float(fuzz.ratio(" ".join(map(sound_key, ta)), " ".join(map(sound_key, tb))))
    return float(fuzz.ratio(" ".join(ta), " ".join(tb)))


def group_similar(
    texts: Sequence[str], threshold: float = 85.0, language: str | None = None, *, chunk: int = 2000
) -> list[list[int]]:
    """Group near-duplicate texts: indexes of texts whose similarity reaches ``threshold``.

    Groups are connected components (a ~ b and b ~ c puts a, b, c together), each sorted,
    ordered by their first index; every text is in exactly one group.

    >>> group_similar(["Добрый день!", "добрый дэнь", "До свидания"], 85, "ru")
    [[0, 1], [2]]
    """
    norm = _normalizer(language)
    keys = [" ".join(norm.tokens(t)) for t in texts]
    n = len(keys)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # rows per block: bounded so the similarity block stays under ~80 MB
    rows = max(1, min(chunk, 20_000_000 // max(n, 1)))
    for lo in range(0, n, rows):
        block = process.cdist(
            keys[lo : lo + rows], keys, scorer=fuzz.ratio, score_cutoff=threshold, dtype="float32"
        )
        for r, row in enumerate(block):
            i = lo + r
            if not keys[i]:
                continue
            for j in row.nonzero()[0]:
                j = int(j)
                if j > i and keys[j] and row[j] >= threshold:
                    ri, rj = find(i), find(j)
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def near_duplicates(
    texts: Sequence[str],
    thresholds: Sequence[float],
    language: str | None = None,
    *,
    block: int = 4_000_000,
) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, similarity)``, ``i < j``, whose :func:`similarity` reaches
    ``min(thresholds[i], thresholds[j])``, ordered by ``i`` then ``j``.

    The same pairs as calling :func:`similarity` on every pair, without doing that: every text
    is normalised once, and the pairs are compared in blocks by ``rapidfuzz.process.cdist``
    (C, all cores). Texts are grouped by their alphabets, because a pair that mixes alphabets
    is compared by sound keys, like :func:`similarity` does. ``block`` bounds the cells of one
    similarity block (memory).
    """
    import numpy as np

    norm = _normalizer(language)
    toks = [norm.tokens(t) for t in texts]
    stems = [" ".join(t) for t in toks]
    sounds = [" ".join(map(sound_key, t)) for t in toks]
    alphas = [frozenset(a for a in map(alphabet, t) if a) for t in toks]
    n = len(texts)
    if len(thresholds) != n:
        raise ValueError("near_duplicates: one threshold per text")
    by_alphas: dict[frozenset[str], list[int]] = {}
    for i in range(n):
        if toks[i]:
            by_alphas.setdefault(alphas[i], []).append(i)
    found: list[tuple[int, int, float]] = []
    empty = [i for i in range(n) if not toks[i]]
    # two texts with no words are the same to similarity() (100)
    found.extend((a, b, 100.0) for k, a in enumerate(empty) for b in empty[k + 1 :] if 100.0 >= min(thresholds[a], thresholds[b]))
    groups = sorted(by_alphas.items(), key=lambda kv: sorted(kv[0]))
    for gi, (ga, g_rows) in enumerate(groups):
        for ha, g_cols in groups[gi:]:
            keys = sounds if len(ga | ha) > 1 else stems
            same = ga == ha
            # sorted by length: a pair whose lengths differ too much cannot reach the
            # threshold (ratio <= 200 * short / (short + long)), so each block of rows is
            # compared with one slice of columns only
            rows = sorted(g_rows, key=lambda i: len(keys[i]))
            cols = rows if same else sorted(g_cols, key=lambda j: len(keys[j]))
            col_lens = [len(keys[j]) for j in cols]
            col_keys = [keys[j] for j in cols]
            # a filter only (each candidate is compared again below): whole numbers, one lower
            cutoff = max(1.0, min(thresholds[i] for i in rows + cols) - 1)
            spread = (200 - cutoff) / cutoff
            step = max(1, block // max(len(cols), 1))
            for lo in range(0, len(rows), step):
                chunk = rows[lo : lo + step]
                shortest, longest = len(keys[chunk[0]]), len(keys[chunk[-1]])
                # same group: only the columns from this block's first row on (upper triangle)
                c0 = lo if same else bisect.bisect_left(col_lens, shortest / spread - 1)
                c1 = bisect.bisect_right(col_lens, longest * spread + 1)
                if c1 <= c0:
                    continue
                sims = process.cdist(
                    [keys[i] for i in chunk], col_keys[c0:c1], scorer=fuzz.ratio,
                    score_cutoff=cutoff, dtype=np.uint8, workers=-1,
                )
                for r, c in zip(*np.nonzero(sims)):
                    i, j = chunk[int(r)], cols[c0 + int(c)]
                    if same and c0 + int(c) <= lo + int(r):
                        continue
                    a, b = (i, j) if i < j else (j, i)
                    sim = float(fuzz.ratio(keys[a], keys[b]))  # exact, not the rounded block
                    if sim >= min(thresholds[a], thresholds[b]):
                        found.append((a, b, sim))
    found.sort()
    return found
