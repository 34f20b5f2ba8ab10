"""Search across every call: which utterances say a word, in any inflection.

Each utterance is indexed in the stemmed form of :mod:`qa.normalize` (preset ``stems``, in
the call's language): ``дорогая`` is kept as ``дорог``, ``дороговато`` as ``дороговат``.
A query goes through the same normaliser, and each of its words becomes an FTS5 term that
accepts the word's stem exactly or, for words the stemmer cut short, any stem that starts
with the word less its last two letters: so ``дорого`` (stem ``дор``) finds ``дорого``,
``дорогая`` and ``дороговато``. Words of a query must all be in the utterance (AND).

The query is never handed to FTS5 as typed: it is split into normalised words, each quoted,
so FTS syntax characters (``"``, ``*``, ``(``, ``NEAR``, ``-``) are just punctuation.

:func:`index_rows` is what :meth:`qa.store.Workspace.save_call` indexes (in the same
transaction as the call); :func:`search` answers a query with :class:`Hit` s, the quote's
matching words marked (``**дорого**``). The SQL lives in :mod:`qa.store`
(``search_utterances``), so another database can answer the same calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import OptionError, QAError
from .normalize import available_languages, normalizer
from .transcripts import ROLES, clock

if TYPE_CHECKING:
    import pandas as pd

    from .store import Workspace
    from .transcripts import Transcript

__all__ = ["Hit", "Query", "SearchError", "index_rows", "parse_query", "search", "hits_frame"]

#: Marks around the matching words of a quote.
MARK_OPEN, MARK_CLOSE = "**", "**"
#: How many letters a query word may lose before its prefix is searched (see module doc).
_SUFFIX = 2
#: Stems shorter than this match exactly only: "да" must not find "давайте".
_MIN_PREFIX = 4


class SearchError(QAError):
    """A search that cannot be run on this workspace (e.g. a script it never scored).

    A query with no words or a bad filter value is an :class:`~qa.errors.OptionError`
    (a usage error: the CLI exits 2)."""


def text_language(text: str, language: str | None = None) -> str | None:
    """The language to normalise ``text`` in: ``language`` if it has a language file, else
    Cyrillic text is ``ru`` and other letters ``en`` (the two languages shipped)."""
    known = available_languages()
    if language and language.split("-")[0].lower() in known:
        return language.split("-")[0].lower()
    cyr = sum(1 for ch in text if "\u0400" <= ch <= "\u04ff")
    lat = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if not cyr and not lat:
        return language
    return "ru" if cyr >= lat else "en"


def index_rows(transcript: Transcript) -> list[tuple[int, str, float, float, str, str]]:
    """``(utterance, role, start, end, text, stems)`` for every utterance with words."""
    lang = text_language(transcript.text()[:2000], transcript.language)
    norm = normalizer(lang, "stems")
    rows = []
    for i, u in enumerate(transcript.utterances):
        stems = " ".join(norm.tokens(u.text))
        if stems:
            rows.append((i, u.role, float(u.start), float(u.end), u.text, stems))
    return rows


@dataclass(frozen=True)
class Term:
    """One query word: its stem (matched exactly) and the prefix searched besides."""

    stem: str
    prefix: str

    def fts(self) -> str:
        q = '"' + self.stem.replace('"', '""') + '"'
        if self.exact:
            return q
        if self.prefix == self.stem:
            return q + "*"
        p = '"' + self.prefix.replace('"', '""') + '"'
        return f"({q} OR {p}*)"

    @property
    def exact(self) -> bool:
        """Numbers and short stems match only themselves."""
        return self.stem[:1].isdigit() or (self.prefix == self.stem and len(self.stem) < _MIN_PREFIX)

    def matches(self, token: str) -> bool:
        if self.exact:
            return token == self.stem
        return token == self.stem or token.startswith(self.prefix)


@dataclass(frozen=True)
class Query:
    """A parsed query: the text as typed, its language and its terms (all must match)."""

    text: str
    language: str | None
    terms: tuple[Term, ...] = field(default_factory=tuple)

    def expression(self) -> str:
        """The FTS5 MATCH expression (every word quoted: nothing the user typed is syntax)."""
        return " AND ".join(t.fts() for t in self.terms)


def parse_query(text: str, language: str | None = None) -> Query:
    """Normalise ``text`` into :class:`Term` s; raises :class:`SearchError` when no word is left."""
    lang = text_language(text, language)
    analysis = normalizer(lang, "stems").analyze(text)
    terms: list[Term] = []
    for i, (stem, _, _) in enumerate(analysis.tokens):
        surface = analysis.surface(i)
        prefix = stem
        if not stem[:1].isdigit() and len(surface) - len(stem) > _SUFFIX and surface.startswith(stem):
            prefix = surface[: len(surface) - _SUFFIX]
        term = Term(stem, prefix)
        if term not in terms:
            terms.append(term)
    if not terms:
        raise OptionError(
            f"search query {text!r} has no words to search for (only punctuation or fillers); "
            "give a word, e.g. qa search дорого"
        )
    return Query(text, lang, tuple(terms))


def highlight(text: str, language: str | None, terms: Sequence[Term]) -> str:
    """``text`` with the words that match ``terms`` wrapped in :data:`MARK_OPEN` / ``CLOSE``."""
    analysis = normalizer(text_language(text, language), "stems").analyze(text)
    marked: set[int] = set()
    for tok, a, b in analysis.tokens:
        if any(t.matches(tok) for t in terms):
            marked.update(range(a, b + 1))
    return " ".join(
        f"{MARK_OPEN}{w}{MARK_CLOSE}" if i in marked else w for i, w in enumerate(analysis.words)
    )


@dataclass(frozen=True)
class Hit:
    """One utterance that matches: where (call, moment) and who said it."""

    call_id: str
    manager: str | None
    started_at: str | None
    day: str | None
    utterance: int
    role: str
    start: float
    end: float
    text: str
    quote: str
    score: float | None = None

    @property
    def at(self) -> str:
        return clock(self.start)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id, "manager": self.manager, "day": self.day, "at": self.at,
            "start": round(self.start, 2), "role": self.role, "quote": self.quote,
            "text": self.text, "utterance": self.utterance, "score": self.score,
        }


def _versions(ws: Workspace, script: str | None) -> list[tuple[str, str]]:
    from pathlib import Path

    from .versions import resolve_versions, script_family

    chosen = resolve_versions(ws)
    if not script:
        return [v.key for v in chosen]
    wanted = script.strip().lower()
    wanted_names = {wanted, Path(wanted).name, Path(wanted).name.split(".", 1)[0]}
    out = []
    for v in chosen:
        cfg = ws.config(v.script_hash) or {}
        names = {script_family(ws, v.script_hash).lower(), str(cfg.get("name") or "").lower()}
        if cfg.get("path"):
            names.add(Path(str(cfg["path"])).name.lower())
        if names & wanted_names:
            out.append(v.key)
    if not out:
        known = sorted({script_family(ws, v.script_hash) for v in chosen})
        raise SearchError(f"no scores under script {script!r}; scored scripts: {', '.join(known)}")
    return out


def search(
    ws: Workspace,
    query: str,
    *,
    manager: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    role: str | None = None,
    script: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    limit: int = 100,
    language: str | None = None,
) -> list[Hit]:
    """Utterances of ``ws`` matching ``query``, newest call first, in call order within one.

    ``script`` / ``min_score`` / ``max_score`` read each call's score under the versions of
    :func:`qa.versions.resolve_versions` (the rule every view uses).
    """
    from .versions import period_bounds

    if role is not None and role not in ROLES:
        raise OptionError(f"--role {role!r}: use one of {', '.join(ROLES)}")
    if limit <= 0:
        raise OptionError(f"--limit {limit}: give a positive number of hits")
    if min_score is not None and max_score is not None and min_score > max_score:
        raise OptionError(f"--min-score {min_score:g} is above --max-score {max_score:g}; swap them")
    lo, hi = period_bounds(date_from, date_to)
    q = parse_query(query, language)
    versions = (
        _versions(ws, script) if (script or min_score is not None or max_score is not None) else None
    )
    rows = ws.search_utterances(
        q.expression(), manager=manager, date_from=lo, date_to=hi, role=role, versions=versions,
        min_score=min_score, max_score=max_score, limit=limit,
    )
    # within one call, in the order it was said
    rows.sort(key=lambda r: (r["started_at"] or "", r["call_id"], -(r["start"] or 0.0)), reverse=True)
    return [
        Hit(
            call_id=r["call_id"], manager=r["manager"], started_at=r["started_at"], day=r["day"],
            utterance=int(r["utterance"]), role=r["role"] or "unknown", start=float(r["start"] or 0.0),
            end=float(r["end"] or 0.0), text=r["text"], quote=highlight(r["text"], r["language"], q.terms),
            score=r["score"],
        )
        for r in rows
    ]


def hits_frame(hits: Sequence[Hit]) -> pd.DataFrame:
    """The hits as one table (for :mod:`qa.writers`)."""
    import pandas as pd

    cols = ["call_id", "manager", "day", "at", "start", "role", "quote", "text", "utterance", "score"]
    return pd.DataFrame([h.to_dict() for h in hits], columns=cols)
