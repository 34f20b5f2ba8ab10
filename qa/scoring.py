"""Scoring: one transcript + a sales script (+ an objection rubric) -> an explainable score.

Pure functions over values: :func:`score_call` reads a :class:`~qa.transcripts.Transcript`, a
:class:`~qa.scripts.Script` and optionally a :class:`~qa.scripts.Rubric`, and returns a
:class:`CallScore` whose items carry the evidence (quote, time, similarity) for every verdict.
:meth:`CallScore.to_store` hands ``(summary, items)`` to :meth:`qa.store.Workspace.save_score`
exactly as ARCHITECTURE.md ("Score items") describes.

What is checked
---------------
- Stage: ``found`` when at least ``min_matches`` distinct phrases of the stage were said by the
  stage's role (any role on mono recordings) inside its time window (``within_first_seconds``:
  the match starts that early; ``within_last_seconds``: it ends that close to the end of the
  call), each on words of its own: two phrases that match the same words (their
  :attr:`~qa.matching.Match.span` s overlap) count once, so "what's your budget?" is one
  question even when "what budget" and "what's your budget" both match it; else ``missed``.
- Conditional stage: a stage with ``applies_if`` is ``na`` (not applicable) when the
  objection(s) it names -- or, for ``applies_if: objection``, any objection -- were not raised
  (or no rubric was given). When they were raised, the rubric judges it, not the stage's own
  phrases: ``found`` when at least one of those raised objections was handled (below), with
  the first handling step said as evidence; else ``missed`` ("i understand" alone does not
  make an objection handled).
- Order: a found stage with ``after: [x]`` must first be said after stage ``x`` was first said;
  each violation is an ``order`` item (``missed``; 0 points). Order is only judged when both
  stages were found: a missing stage is already counted as missed.
- Objections: each client turn containing a trigger of an objection raises it once. Its
  handling steps are searched in the manager's next ``respond_within_turns`` turns (on mono
  recordings, where turns are unknown: the next ``respond_within_turns x mono_turn_segments``
  utterances). The objection is ``handled`` when the found steps weigh at least
  ``handled_share`` (half) of its step weight, else ``unhandled``.
- Forbidden phrases: every time the role (manager by default) says one, a ``forbidden`` item
  with ``-penalty`` points; a ``critical`` one forces the score to 0 and says why.
- Placeholders (``{company}``, ``{manager}``; rules in :mod:`qa.scripts`): phrases naming
  them are filled per call -- the company from the call's manifest column ``company``, else
  :attr:`~qa.scripts.Script.values`; the manager from ``meta.manager``, the full name or
  any one part of it (:func:`qa.scripts.name_variants`). The filled forms of one phrase
  count as that one phrase. They are compiled once per distinct (company, manager) and
  cached in the :class:`Scorer`, so a batch compiles them once per manager, not per call.
  A phrase whose placeholder has no value cannot match on that call; the missed stage says
  so, the score names the placeholders (``CallScore.unfilled``, summary key ``unfilled``),
  and :func:`count_unfilled` + :func:`placeholder_warnings` list them once per script.

The formula
-----------
::

    points     = sum(weight of found stages) + sum(weight of found steps, over every raise)
    max_points = sum(weight of applicable required stages)
               + sum(weight of found optional stages)
               + sum(total step weight of each raised objection)
    penalty    = sum(penalty of every forbidden phrase said)
    score      = 0                                            if a critical phrase was said
               = clip(100 * points / max_points - penalty, 0, 100)   otherwise
                 (100 * points / max_points is taken as 100 when max_points is 0)

So not-applicable stages leave the maximum (they are neither earned nor owed), objections that
were not raised contribute nothing, an optional stage (``required: false``) only adds when
found, and penalties are points off the 0-100 score.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .matching import Match, MatchOptions, PhraseQuery, PhraseSet, PreparedTranscript, prepare
from .metrics import MetricsOptions, call_metrics
from .normalize import language_code
from .scripts import (
    ANY_OBJECTION,
    Objection,
    Phrase,
    Rubric,
    Script,
    Stage,
    Step,
    fill,
    name_variants,
    placeholders_in,
)
from .scripts import POSITIONS as _SCRIPT_POSITIONS
from .store import ITEM_COLUMNS as _STORE_ITEM_COLUMNS
from .transcripts import CLIENT, MANAGER, UNKNOWN, Transcript, clock

if TYPE_CHECKING:  # pragma: no cover
    from .meaning import MeaningHit
    from .meaning.items import ScriptMatchers

#: Columns of an ``items`` row: defined once, in the store.
ITEM_COLUMNS = _STORE_ITEM_COLUMNS
KINDS = ("stage", "objection", "step", "forbidden", "order")
STATUSES = ("found", "missed", "na", "handled", "unhandled")
#: Where in the call a stage is looked for (see :attr:`ScoringOptions.position_turns`).
POSITIONS = _SCRIPT_POSITIONS
#: Which layer found an item (the ``layer`` column): the words, or the meaning.
LAYERS = ("fuzzy", "meaning")
#: :attr:`qa.matching.Match.query` of evidence the meaning layer made (a whole utterance).
MEANING_QUERY = -2


@dataclass(frozen=True)
class ScoringOptions:
    """How a call is judged beyond what the script says (documented defaults)."""

    #: An objection is ``handled`` when its found steps weigh at least this share of its total.
    handled_share: float = 0.5
    #: Mono recordings have no turns: one response turn counts as this many utterances.
    mono_turn_segments: int = 2
    #: True: each time a forbidden phrase is said costs its penalty; False: once per phrase.
    penalty_per_occurrence: bool = True
    #: Objection triggers are also found by their key words in order with a few other words
    #: between them ("у конкурентов в соседнем районе дешевле" for "у конкурентов дешевле");
    #: see :attr:`qa.matching.PhraseQuery.keywords`.
    trigger_keywords: bool = True
    #: Phrase search tolerance (prefilter, window slack, joining split utterances).
    match: MatchOptions = field(default_factory=MatchOptions)
    #: Conversation metric thresholds.
    metrics: MetricsOptions = field(default_factory=MetricsOptions)
    #: Position-aware stages: an ``opening`` stage is looked for in the first
    #: ``position_turns`` turns of its role (manager), a ``closing`` one in its last ones (on
    #: mono recordings: that many x ``mono_turn_segments`` utterances); ``any``: everywhere.
    position_turns: int = 3
    #: the meaning layer finds nothing in a word window of fewer words: "угу", "yep", "ага
    #: давайте" sit close to every short example ("конечно", "of course", "давайте назначим")
    #: and carry no item by themselves (the fuzzy layer still finds a short phrase said there)
    meaning_min_words: int = 3
    #: A *tentative* objection raise (a client window closest in meaning to the objection's
    #: examples, ahead of its rivals, above the meaning layer's lower bar
    #: :attr:`qa.meaning.items.ScriptMatchers.tentative` but under the trigger threshold)
    #: counts only when the manager's answer bears it out: its handling steps weigh at least
    #: this share of the objection's total.
    tentative_share: float = 0.5
    #: ``(stage id, position)`` pairs for stages whose script says no ``position``.
    positions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.position_turns < 1:
            raise ValueError(f"position_turns must be >= 1, got {self.position_turns}")
        for sid, pos in self.positions:
            if pos not in POSITIONS:
                raise ValueError(f"position of {sid!r} must be one of {POSITIONS}, got {pos!r}")
        if not 0 < self.handled_share <= 1:
            raise ValueError(f"handled_share must be in (0, 1], got {self.handled_share}")
        if self.meaning_min_words < 1:
            raise ValueError(f"meaning_min_words must be >= 1, got {self.meaning_min_words}")
        if not 0 < self.tentative_share <= 1:
            raise ValueError(f"tentative_share must be in (0, 1], got {self.tentative_share}")
        if self.mono_turn_segments < 1:
            raise ValueError(f"mono_turn_segments must be >= 1, got {self.mono_turn_segments}")


@dataclass(frozen=True)
class Item:
    """One checked item of a call: a row of table ``items``."""

    kind: str
    item_id: str
    title: str
    status: str
    score: float
    max_score: float
    match: Match | None = None
    detail: str | None = None
    #: ``fuzzy`` or ``meaning`` when found by a layer (None: the evidence's own layer).
    layer: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(ITEM_COLUMNS)
        row.update({
            "kind": self.kind,
            "item_id": self.item_id,
            "title": self.title,
            "status": self.status,
            "score": round(self.score, 3),
            "max_score": round(self.max_score, 3),
            "detail": self.detail,
        })
        if self.match is not None:
            row.update(self.match.evidence())
            # which utterance the evidence is in (the first one of a match joined across
            # split utterances), so readers never search for it again by time and quote
            row["utterance"] = self.match.utterance_index
            row["layer"] = self.layer or _layer(self.match)
        return row


@dataclass(frozen=True)
class CallScore:
    """The score of one call with every item that explains it."""

    call_id: str
    score: float
    points: float
    max_points: float
    penalty: float
    critical: bool
    critical_reason: str | None
    next_step: bool | None
    items: tuple[Item, ...]
    metrics: dict[str, Any]
    script_name: str
    script_hash: str
    rubric_name: str | None = None
    rubric_hash: str = "none"
    #: The meaning layer's signals per item, found or not (:func:`meaning_signals`); kept in
    #: the score's summary so ``qa calibrate --fit`` can learn from missed items too.
    signals: Mapping[str, Any] = field(default_factory=dict, compare=False)
    #: The placeholders some phrase of the script had no value for on this call (sorted)
    unfilled: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.score <= 100:
            raise ValueError(f"score must be in 0..100, got {self.score}")

    def items_of(self, kind: str) -> list[Item]:
        return [i for i in self.items if i.kind == kind]

    def item(self, kind: str, item_id: str) -> Item:
        """The first item of a kind and id (``KeyError`` when absent)."""
        for i in self.items:
            if i.kind == kind and i.item_id == item_id:
                return i
        raise KeyError(f"{kind} {item_id}")

    def stage_flags(self) -> dict[str, bool | None]:
        """Per stage: True found, False missed, None not applicable (for the calls table)."""
        return {
            i.item_id: (True if i.status == "found" else None if i.status == "na" else False)
            for i in self.items
            if i.kind == "stage"
        }

    def to_store(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``(summary, items)`` for :meth:`qa.store.Workspace.save_score` (ARCHITECTURE.md)."""
        summary: dict[str, Any] = {
            "score": self.score,
            "points": round(self.points, 3),
            "max_points": round(self.max_points, 3),
            "penalty": round(self.penalty, 3),
            "critical": self.critical,
            "critical_reason": self.critical_reason,
            "next_step": self.next_step,
            "metrics": dict(self.metrics),
            "script_name": self.script_name,
            "rubric_name": self.rubric_name,
        }
        if self.signals:
            summary["meaning"] = dict(self.signals)
        if self.unfilled:
            summary["unfilled"] = list(self.unfilled)
        return summary, [i.to_row() for i in self.items]


def _roles(role: str) -> frozenset[str] | None:
    return None if role == "any" else frozenset({role})


@dataclass
class _Group:
    """Phrases of one language compiled together."""

    language: str
    queries: list[PhraseQuery] = field(default_factory=list)
    phrases: PhraseSet | None = None


log = logging.getLogger("qa")

#: The group key of phrases with placeholders (never a language code).
_TEMPLATED = ""
#: How many distinct (company, manager) fillings a :class:`Scorer` keeps compiled.
FILLED_CACHE_SIZE = 512


@dataclass(frozen=True)
class _Template:
    """A phrase with placeholders, compiled once per distinct filling (:class:`_Filled`)."""

    language: str
    text: str
    threshold: float
    roles: frozenset[str] | None
    keywords: bool


class _Filled:
    """The templated phrases of a scorer filled for one (company, manager): the filled forms
    compiled per language; :meth:`scan` gives one match list per template (its forms merged)."""

    def __init__(self, templates: Sequence[_Template], values: Mapping[str, Sequence[str]], options: MatchOptions):
        queries: dict[str, list[PhraseQuery]] = {}
        self.refs: list[list[tuple[str, int]]] = []
        #: per template: the placeholders it names that have no value here (empty: filled)
        self.missing: list[frozenset[str]] = []
        for t in templates:
            forms = fill(t.text, values)
            refs = []
            for form in forms:
                qs = queries.setdefault(t.language, [])
                qs.append(PhraseQuery(form, t.threshold, t.roles, t.keywords))
                refs.append((t.language, len(qs) - 1))
            self.refs.append(refs)
            self.missing.append(frozenset() if forms else frozenset(n for n in placeholders_in(t.text) if not values.get(n)))
        self.sets = {code: PhraseSet(qs, code, options) for code, qs in queries.items()}

    def scan(self, prepared: Mapping[str, PreparedTranscript]) -> list[list[Match]]:
        found = {code: ps.scan(prepared[code]) for code, ps in self.sets.items()}
        return [_merge_forms([m for code, qi in refs for m in found[code][qi]]) for refs in self.refs]


def _merge_forms(matches: list[Match]) -> list[Match]:
    """Matches of the forms of one phrase ("меня зовут Анна Смирнова", "меня зовут Анна") as
    the matches of one phrase: where forms match the same words, the best (then longest)."""
    if len(matches) < 2:
        return matches
    kept: list[Match] = []
    for m in sorted(matches, key=lambda m: (-m.similarity, -len(m.phrase), m.start)):
        if not any(m.overlaps(k) or m.utterance_indices == k.utterance_indices for k in kept):
            kept.append(m)
    kept.sort(key=lambda m: (m.start, m.utterance_index))
    return kept


#: Separates the names one company goes by (``"Новый дом|Северный парк"``): any of them counts.
COMPANY_SEPARATOR = "|"


def call_values(transcript: Transcript, defaults: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The placeholder values of one call: ``company`` from its manifest column (any case),
    else ``defaults`` (several names separated by ``|``, any of them counts); ``manager`` as
    :func:`qa.scripts.name_variants` of ``meta.manager``."""
    meta = transcript.meta
    company = next((str(v) for k, v in meta.extra.items() if k.strip().lower() == "company" and str(v).strip()), None)
    company = company or defaults.get("company")
    values: dict[str, tuple[str, ...]] = {}
    companies = [" ".join(part.split()) for part in (company or "").split(COMPANY_SEPARATOR)]
    if any(companies):
        values["company"] = tuple(dict.fromkeys(n for n in companies if n))
    names = name_variants(meta.manager)
    if names:
        values["manager"] = names
    return values


def script_label(script: Script) -> str:
    """How messages name a script: ``'Name' (path)``."""
    return f"{script.name!r}" + (f" ({script.path})" if script.path else "")


def count_unfilled(
    counts: dict[tuple[str, str], list[Any]], script: Script, call_id: str, summary: Mapping[str, Any]
) -> None:
    """Add one scored call's unfilled placeholders (its summary's ``unfilled``) to ``counts``:
    (script label, placeholder) -> [calls, first call]; the first is also logged."""
    for name in summary.get("unfilled") or ():
        entry = counts.setdefault((script_label(script), name), [0, call_id])
        entry[0] += 1
        if entry[0] == 1:
            log.warning("script %s: no %s known for call %s; phrases with {%s} cannot match there",
                        script_label(script), name, call_id, name)


def placeholder_warnings(counts: Mapping[tuple[str, str], Sequence[Any]]) -> list[str]:
    """One line per script and placeholder that had no value on some scored calls
    (:func:`count_unfilled`; ``qa score`` prints them once, after the batch)."""
    out = []
    for (label, name), (count, first) in counts.items():
        if name == "company":
            fix = "set company in qa.toml or pass --company (or add a company column to the manifest)"
        else:
            fix = "name the manager in the file-name template, the manifest or the managers file"
        out.append(
            f"script {label}: phrases with {{{name}}} could not match on {count} call(s) "
            f"(first: {first}): no {name} was known for them; {fix}"
        )
    return out


def _layer(m: Match) -> str:
    return "meaning" if m.query == MEANING_QUERY else "fuzzy"


def stage_position(st: Stage, options: ScoringOptions) -> str:
    """Where a stage is looked for: the script's ``position``, else ``options.positions``,
    else ``any``."""
    pos = st.position if st.position != "any" else dict(options.positions).get(st.id, "any")
    if pos not in POSITIONS:
        raise ValueError(f"stage {st.id!r}: position must be one of {POSITIONS}, got {pos!r}")
    return str(pos)


class Scorer:
    """A script and rubric compiled once; :meth:`score` scores one call (reuse it for batches).

    ``meaning``: the meaning layer for this script and rubric
    (:func:`qa.meaning.items.script_matchers`); None scores with the fuzzy layer alone.
    """

    def __init__(
        self,
        script: Script,
        rubric: Rubric | None = None,
        options: ScoringOptions | None = None,
        meaning: ScriptMatchers | None = None,
    ):
        self.script = script
        self.rubric = rubric
        self.options = options or ScoringOptions()
        self.meaning = meaning
        self._positions = {st.id: stage_position(st, self.options) for st in script.stages}
        self._groups: dict[str, _Group] = {}
        # (group language, query index) per phrase of each checked thing
        self._stage_q: dict[str, list[tuple[str, int]]] = {}
        self._forbidden_q: list[tuple[str, int]] = []
        self._trigger_q: dict[str, list[tuple[str, int]]] = {}
        self._step_q: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self._templates: list[_Template] = []
        self._filled: dict[tuple[tuple[str, tuple[str, ...]], ...], _Filled] = {}
        for st in script.stages:
            self._stage_q[st.id] = [
                self._add(script.language, ph, script.threshold_for(st, ph), _roles(st.role)) for ph in st.phrases
            ]
        for fb in script.forbidden:
            thr = fb.phrase.threshold if fb.phrase.threshold is not None else script.threshold
            self._forbidden_q.append(self._add(script.language, fb.phrase, thr, _roles(fb.role)))
        if rubric is not None:
            for ob in rubric.objections:
                self._trigger_q[ob.id] = [
                    self._add(
                        rubric.language, ph, ob.threshold_for(rubric, ph), frozenset({CLIENT}),
                        keywords=self.options.trigger_keywords,
                    )
                    for ph in ob.triggers
                ]
                for step in ob.steps:
                    self._step_q[(ob.id, step.id)] = [
                        self._add(rubric.language, ph, ob.threshold_for(rubric, ph, step), frozenset({MANAGER}))
                        for ph in step.phrases
                    ]
        for g in self._groups.values():
            g.phrases = PhraseSet(g.queries, g.language, self.options.match)

    def _add(
        self, language: str, phrase: Phrase, threshold: float, roles: frozenset[str] | None, keywords: bool = False
    ) -> tuple[str, int]:
        code = language_code(language)
        if phrase.placeholders:  # filled per call (_Filled)
            self._templates.append(_Template(code, phrase.text, float(threshold), roles, keywords))
            return _TEMPLATED, len(self._templates) - 1
        g = self._groups.setdefault(code, _Group(code))
        g.queries.append(PhraseQuery(phrase.text, float(threshold), roles, keywords))
        return code, len(g.queries) - 1

    def filled(self, values: Mapping[str, Sequence[str]]) -> _Filled:
        """The templated phrases filled with ``values``, compiled once per distinct values."""
        key = tuple(sorted((k, tuple(v)) for k, v in values.items()))
        got = self._filled.get(key)
        if got is None:
            if len(self._filled) >= FILLED_CACHE_SIZE:
                self._filled.pop(next(iter(self._filled)))
            got = self._filled[key] = _Filled(self._templates, values, self.options.match)
        return got

    def _scan(self, transcript: Transcript) -> tuple[dict[str, list[list[Match]]], PreparedTranscript, list[frozenset[str]]]:
        """Every phrase searched in the call: matches per (group, query), the prepared
        transcript, and per templated phrase the placeholders it had no value for."""
        found: dict[str, list[list[Match]]] = {}
        prepared: dict[str, PreparedTranscript] = {}
        for code, g in self._groups.items():
            prepared[code] = prepare(transcript, code, self.options.match)
            assert g.phrases is not None
            found[code] = g.phrases.scan(prepared[code])
        missing: list[frozenset[str]] = []
        if self._templates:
            filled = self.filled(call_values(transcript, self.script.values))
            for code in filled.sets:
                if code not in prepared:
                    prepared[code] = prepare(transcript, code, self.options.match)
            found[_TEMPLATED] = filled.scan(prepared)
            missing = filled.missing
        first = next(iter(prepared.values()), None)
        if first is None:  # a script always has phrases; kept for type checkers
            first = prepare(transcript, self.script.language, self.options.match)
        return found, first, missing

    # -- one call ---------------------------------------------------------------------------
    def score(self, transcript: Transcript) -> CallScore:
        """Score one call. Pure: the same inputs always give the same result."""
        if self.meaning is None:
            return self._score(transcript)
        from .meaning import one_thread

        with one_thread():
            return self._score(transcript)

    def _score(self, transcript: Transcript) -> CallScore:
        found, prepared, missing = self._scan(transcript)
        end_time = prepared.end_time
        turns = transcript.turn_ids()
        ctx = _Call(transcript, turns, end_time)
        if self.meaning is not None and transcript.utterances:
            import numpy as np

            from .meaning import windows

            ctx.texts, ctx.owner = windows([u.text for u in transcript.utterances])
            ctx.long_enough = np.array([len(t.split()) >= self.options.meaning_min_words for t in ctx.texts], dtype=bool)
            ctx.vectors = self.meaning.embed(ctx.texts)

        def matches(refs: Sequence[tuple[str, int]]) -> list[list[Match]]:
            return [found[code][qi] for code, qi in refs]

        items: list[Item] = []
        # objections first: stages with applies_if depend on them
        objection_items, raises, obj_points, obj_max = self._objections(transcript, turns, matches, ctx)
        stage_hits = self._stage_hits(ctx)
        ctx.hits["stage"] = stage_hits
        raised = None if raises is None else {r.objection.id for r in raises}
        stage_items: list[Item] = []
        first_found: dict[str, Match] = {}
        points = obj_points
        max_points = obj_max
        for st in self.script.stages:
            if st.applies_if and raises is not None and _not_applicable(st, raised) is None:
                # the rubric judges how objections were handled, not the stage's own phrases
                item, first = self._handling_stage(st, raises)
            else:
                item, first = self._stage(
                    st, matches(self._stage_q[st.id]), end_time, raised,
                    ctx.allowed(st, self._positions[st.id], self.options), stage_hits.get(st.id), ctx,
                    _unfilled(self._stage_q[st.id], missing),
                )
            stage_items.append(item)
            points += item.score
            max_points += item.max_score
            if first is not None:
                first_found[st.id] = first
        items.extend(stage_items)
        items.extend(self._order(first_found))
        items.extend(objection_items)
        forbidden_items, penalty, critical_reason = self._forbidden(matches)
        items.extend(forbidden_items)

        critical = critical_reason is not None
        raw = 100.0 * points / max_points if max_points > 0 else 100.0
        score = 0.0 if critical else min(100.0, max(0.0, raw - penalty))
        next_step: bool | None = None
        if self.script.next_step_stage:
            flag = next(i for i in stage_items if i.item_id == self.script.next_step_stage)
            next_step = None if flag.status == "na" else flag.status == "found"
        return CallScore(
            call_id=transcript.call_id,
            score=round(score, 2),
            points=points,
            max_points=max_points,
            penalty=penalty,
            critical=critical,
            critical_reason=critical_reason,
            next_step=next_step,
            items=tuple(items),
            metrics=call_metrics(transcript, self.script.language, self.options.metrics),
            script_name=self.script.name,
            script_hash=self.script.hash,
            rubric_name=self.rubric.name if self.rubric else None,
            rubric_hash=self.rubric.hash if self.rubric and self.rubric.hash else "none",
            signals=meaning_signals(ctx.hits, self.meaning),
            unfilled=tuple(sorted(set().union(*missing))),
        )

    # -- stages -------------------------------------------------------------------------------
    def _stage_hits(self, ctx: _Call) -> dict[str, MeaningHit]:
        """The meaning layer's verdict per stage judged by phrases (role, window, position)."""
        mm = None if self.meaning is None else self.meaning.stages
        if mm is None or ctx.vectors is None:
            return {}
        eligible = {}
        for st in self.script.stages:
            if st.id in mm.vectors:
                eligible[st.id] = ctx.expand(ctx.mask(st, self._positions[st.id], self.options))
        return mm.match(ctx.vectors, eligible)

    def _meaning_finds(
        self, st: Stage, hit: MeaningHit | None, best: list[Match], ctx: _Call | None
    ) -> list[Match]:
        """The meaning layer's share of a stage the words alone did not find: the
        ``min_matches - len(best)`` phrases still needed, each in an utterance no phrase was
        found in and closest to an example no other one is (a question asked twice is one
        question); empty when the layer cannot make up the difference."""
        need = st.min_matches - len(best)
        if hit is None or not hit.found or ctx is None or self.meaning is None or need < 1:
            return []
        taken = {i for m in best for i in (m.utterance_indices or (m.utterance_index,))}
        phrases = {m.phrase for m in best}
        out: list[Match] = []
        for w in dict.fromkeys(x for x in (hit.utterance, *hit.all_found) if x is not None):
            if ctx.owner[w] in taken:
                continue
            m = ctx.meaning_match(self.meaning.stages, hit, w)
            if m.phrase in phrases:
                continue
            out.append(m)
            taken.add(ctx.owner[w])
            phrases.add(m.phrase)
            if len(out) == need:
                return out
        return []

    def _stage(
        self, st: Stage, per_phrase: list[list[Match]], end_time: float, raised: set[str] | None,
        allowed: set[int] | None = None, hit: MeaningHit | None = None, ctx: _Call | None = None,
        unfilled: frozenset[str] = frozenset(),
    ) -> tuple[Item, Match | None]:
        weight = float(st.weight)
        if st.applies_if:
            reason = _not_applicable(st, raised)
            if reason:
                return Item("stage", st.id, st.title, "na", 0.0, 0.0, None, reason), None
        start_before = st.within_first_seconds
        end_after = end_time - st.within_last_seconds if st.within_last_seconds is not None else None
        inside: list[list[Match]] = []  # per phrase said in the window: its in-window matches
        outside: list[Match] = []
        for ms in per_phrase:
            ok = [
                m for m in ms
                if (start_before is None or m.start <= start_before)
                and (end_after is None or m.end >= end_after)
                and (allowed is None or m.utterance_index in allowed)
            ]
            if ok:
                inside.append(ok)
            elif ms:
                outside.append(ms[0])
        # distinct phrases said on different words: "what's your budget?" is one question
        # even when "what budget" and "what's your budget" both match it
        best = _distinct_spans(inside, st.min_matches)
        best.sort(key=lambda m: (m.start, -m.similarity))
        if len(best) >= st.min_matches:
            first = min((ms[0] for ms in inside), key=lambda m: (m.start, -m.similarity))
            detail = None
            if len(best) > 1:
                detail = "; ".join(f"{m.phrase!r} {m.similarity:.0f} at {clock(m.start)}" for m in best)
            return Item("stage", st.id, st.title, "found", weight, weight, first, detail), first
        extra = self._meaning_finds(st, hit, best, ctx)
        if extra:
            # the meaning layer: the phrases still needed, said in other words on words of
            # their own (each in another utterance, each closest to another example)
            m = extra[0]
            detail = _meaning_detail(m, hit) if hit is not None else ""
            more = [*extra[1:], *best]
            if more:
                detail += "; with " + ", ".join(f"{b.phrase!r} at {clock(b.start)}" for b in more)
            first = min([*extra, *best], key=lambda x: x.start)
            return Item("stage", st.id, st.title, "found", weight, weight, m, detail, "meaning"), first
        parts = []
        if best:
            parts.append(
                f"{len(best)} of {st.min_matches} phrases needed: "
                + ", ".join(f"{m.phrase!r} at {clock(m.start)}" for m in best)
            )
            chosen = {m.phrase for m in best}
            same = [ms[0] for ms in inside if ms[0].phrase not in chosen]
            if same:
                parts.append(
                    "on the same words: "
                    + ", ".join(f"{m.phrase!r} at {clock(m.start)}" for m in same)
                )
        if outside:
            window = []
            if st.within_first_seconds is not None:
                window.append(f"the first {st.within_first_seconds:g} s")
            if st.within_last_seconds is not None:
                window.append(f"the last {st.within_last_seconds:g} s")
            if allowed is not None:
                pos = self._positions[st.id]
                window.append(f"the {pos} {self.options.position_turns} turn(s)")
            parts.append(
                "said outside " + " and ".join(window) + ": "
                + ", ".join(f"{m.phrase!r} at {clock(m.start)}" for m in outside)
            )
        if hit is not None and hit.utterance is not None and not hit.found:
            parts.append(f"closest in meaning {hit.similarity:.2f}")
        for name in sorted(unfilled):
            parts.append(f"no {name} known for this call: phrases with {{{name}}} could not match")
        detail = "; ".join(parts) if parts else "not found"
        if not st.required:
            detail = f"optional; {detail}"
        return Item("stage", st.id, st.title, "missed", 0.0, weight if st.required else 0.0, None, detail), None

    def _handling_stage(self, st: Stage, raises: Sequence[_Raise]) -> tuple[Item, Match | None]:
        """A conditional stage judged by the rubric: ``found`` when at least one raised
        objection it applies to was handled; the evidence is that answer's first step."""
        weight = float(st.weight)
        mine = [r for r in raises if ANY_OBJECTION in st.applies_if or r.objection.id in st.applies_if]
        handled = [r for r in mine if r.handled and r.evidence is not None]
        summary = "; ".join(
            f"{r.objection.id} raised at {clock(r.trigger.start)}: {'handled' if r.handled else 'unhandled'}, "
            f"{r.got:g} of {r.total:g} step points"
            for r in mine
        )
        if handled:
            first = min(handled, key=lambda r: r.evidence.start if r.evidence else 0.0).evidence
            return Item("stage", st.id, st.title, "found", weight, weight, first, summary), first
        detail = f"no raised objection was handled: {summary}"
        if not st.required:
            detail = f"optional; {detail}"
        return Item("stage", st.id, st.title, "missed", 0.0, weight if st.required else 0.0, None, detail), None

    def _order(self, first_found: dict[str, Match]) -> list[Item]:
        out = []
        for st in self.script.stages:
            mine = first_found.get(st.id)
            if mine is None:
                continue
            for before in st.after:
                theirs = first_found.get(before)
                if theirs is not None and mine.start < theirs.start:
                    out.append(
                        Item(
                            "order", f"{st.id}.after.{before}", f"{st.title} after {self.script.stage(before).title}",
                            "missed", 0.0, 0.0, None,
                            f"{st.id} at {clock(mine.start)} came before {before} at {clock(theirs.start)}",
                        )
                    )
        return out

    # -- objections ---------------------------------------------------------------------------
    def _objections(
        self, transcript: Transcript, turns: list[int], matches: Any, ctx: _Call | None = None
    ) -> tuple[list[Item], list[_Raise] | None, float, float]:
        if self.rubric is None:
            return [], None, 0.0, 0.0
        items: list[Item] = []
        raises: list[_Raise] = []
        points = max_points = 0.0
        trigger_hits: dict[str, MeaningHit] = {}
        tentative: dict[str, MeaningHit] = {}
        tm = None if self.meaning is None else self.meaning.triggers
        if tm is not None and ctx is not None and ctx.vectors is not None:
            client = ctx.expand(ctx.role_mask(CLIENT))
            bar = self.meaning.tentative if self.meaning is not None else None
            caps = () if bar is None else (bar,)
            trigger_hits, *rest = tm.match_at(ctx.vectors, dict.fromkeys(tm.vectors, client), *caps)
            tentative = rest[0] if rest else {}
            ctx.hits["trigger"] = trigger_hits
        for ob in self.rubric.objections:
            # (trigger, tentative): a tentative raise counts only when the answer bears it out
            found = [(m, False) for ms in matches(self._trigger_q[ob.id]) for m in ms]
            if ctx is not None and tm is not None:
                # the meaning layer: client turns that say a trigger in other words (a turn
                # the fuzzy layer found already keeps the fuzzy evidence)
                seen = {turns[i] for m, _ in found for i in (m.utterance_indices or (m.utterance_index,))}
                for hits, maybe in ((trigger_hits, False), (tentative, True)):
                    hit = hits.get(ob.id)
                    if hit is None or not hit.found:
                        continue
                    for w in hit.all_found:
                        if turns[ctx.owner[w]] not in seen:
                            seen.add(turns[ctx.owner[w]])
                            found.append((ctx.meaning_match(tm, hit, w), maybe))
            triggers = sorted(found, key=lambda f: (f[0].start, -f[0].similarity))
            seen_turns: set[int] = set()
            for trig, maybe in triggers:
                last = max(trig.utterance_indices or (trig.utterance_index,))
                turn = turns[trig.utterance_index]
                if turn in seen_turns:
                    continue
                window = set(transcript.answer_window(
                    last, ob.respond_within_turns, self.options.mono_turn_segments, turn_ids=turns
                ))
                got, total, step_items = self._steps(ob, window, matches, ctx)
                if maybe and not (total > 0 and got >= self.options.tentative_share * total):
                    continue  # said too vaguely, and the answer does not bear it out
                seen_turns.update(turns[i] for i in (trig.utterance_indices or (trig.utterance_index,)))
                handled = total > 0 and got >= self.options.handled_share * total
                detail = (
                    f"raised at {clock(trig.start)}; {got:g} of {total:g} step points in the next "
                    f"{ob.respond_within_turns} manager turn(s)"
                )
                if _layer(trig) == "meaning":
                    detail += f"; raised in other words: {trig.similarity / 100:.2f} to {trig.phrase!r}"
                if maybe:
                    detail += ", borne out by the manager's answer"
                items.append(
                    Item("objection", ob.id, ob.title, "handled" if handled else "unhandled", got, total, trig, detail)
                )
                items.extend(step_items)
                evidence = min(
                    (i.match for i in step_items if i.match is not None), key=lambda m: m.start, default=None
                )
                raises.append(_Raise(ob, trig, handled, got, total, evidence))
                points += got
                max_points += total
        return items, raises, points, max_points

    def _steps(
        self, ob: Objection, window: set[int], matches: Any, ctx: _Call | None = None
    ) -> tuple[float, float, list[Item]]:
        got = 0.0
        items = []
        step_hits: dict[str, MeaningHit] = {}
        sm = None if self.meaning is None else self.meaning.steps.get(ob.id)
        if sm is not None and ctx is not None and ctx.vectors is not None and window:
            mask = ctx.expand([i in window for i in range(len(ctx.transcript.utterances))])
            step_hits = sm.match(ctx.vectors, dict.fromkeys(sm.vectors, mask))
        for step in ob.steps:
            hits = [
                m for ms in matches(self._step_q[(ob.id, step.id)]) for m in ms
                if window.intersection(m.utterance_indices or (m.utterance_index,))
            ]
            hits.sort(key=lambda m: (m.start, -m.similarity))
            w = float(step.weight)
            title = _step_title(ob, step)
            hit = step_hits.get(step.id)
            if hits:
                got += w
                items.append(Item("step", f"{ob.id}.{step.id}", title, "found", w, w, hits[0]))
            elif hit is not None and hit.found and ctx is not None and sm is not None:
                got += w
                m = ctx.meaning_match(sm, hit, hit.utterance if hit.utterance is not None else hit.all_found[0])
                items.append(Item(
                    "step", f"{ob.id}.{step.id}", title, "found", w, w, m, _meaning_detail(m, hit), "meaning"
                ))
            else:
                detail = "not said in the response window"
                if hit is not None and hit.utterance is not None and ctx is not None:
                    # what the meaning layer came closest to, as a missed stage says it, and when
                    at = ctx.transcript.utterances[ctx.owner[hit.utterance]].start
                    detail += f"; closest in meaning {hit.similarity:.2f} at {clock(at)}"
                items.append(Item("step", f"{ob.id}.{step.id}", title, "missed", 0.0, w, None, detail))
        return got, ob.max_points, items

    # -- forbidden ----------------------------------------------------------------------------
    def _forbidden(self, matches: Any) -> tuple[list[Item], float, str | None]:
        items: list[Item] = []
        penalty = 0.0
        reason: str | None = None
        for fb, ref in zip(self.script.forbidden, self._forbidden_q):
            for n, m in enumerate(matches([ref])[0]):
                p = float(fb.penalty) if (self.options.penalty_per_occurrence or n == 0) else 0.0
                penalty += p
                if fb.critical:
                    detail = f"critical: {fb.phrase.text!r} at {clock(m.start)}"
                    if reason is None:
                        reason = f"forbidden phrase {fb.phrase.text!r} said at {clock(m.start)} ({m.role}): \"{m.text}\""
                else:
                    detail = f"penalty {p:g}"
                items.append(Item("forbidden", fb.id, fb.phrase.text, "found", -p, 0.0, m, detail))
        return items, penalty, reason


def _unfilled(refs: Sequence[tuple[str, int]], missing: Sequence[frozenset[str]]) -> frozenset[str]:
    """The placeholders without a value among these phrases on this call."""
    out: set[str] = set()
    for code, qi in refs:
        if code == _TEMPLATED and qi < len(missing):
            out |= missing[qi]
    return frozenset(out)


def _distinct_spans(per_phrase: Sequence[Sequence[Match]], need: int) -> list[Match]:
    """Matches of distinct phrases on pairwise different words (at most one per phrase):
    ``need`` of them when they exist (the earliest such set), else as many as exist; then
    extended by every other phrase said on words of its own.

    A depth-first search over the phrases (each: one of its first matches, or none). A stage
    has few phrases said per call, and the search stops as soon as ``need`` is reached.
    """
    # the first few matches of each phrase are enough: later ones only repeat the phrase
    options = [sorted(ms, key=lambda m: (m.start, -m.similarity))[:4] for ms in per_phrase if ms]
    options.sort(key=lambda ms: (ms[0].start, -ms[0].similarity))
    best: list[Match] = []
    chosen: list[Match] = []

    def search(k: int) -> bool:
        nonlocal best
        if len(chosen) > len(best):
            best = list(chosen)
            if len(best) >= need:
                return True
        if k == len(options) or len(chosen) + len(options) - k <= len(best):
            return False
        for m in options[k]:
            if not any(m.overlaps(o) for o in chosen):
                chosen.append(m)
                if search(k + 1):
                    return True
                chosen.pop()
        return search(k + 1)

    search(0)
    # then every other phrase said on words of its own, for the evidence
    used = {m.phrase for m in best}
    for ms in options:
        if ms[0].phrase in used:
            continue
        for m in ms:
            if not any(m.overlaps(o) for o in best):
                best.append(m)
                used.add(m.phrase)
                break
    return best


def _meaning_detail(m: Match, hit: MeaningHit) -> str:
    lead = "" if hit.margin == float("inf") else f", lead {hit.margin:.2f}"
    return f"meaning: {m.similarity / 100:.2f} to {m.phrase!r}{lead}"


# -- calibration hook (qa.calibrate): the meaning layer's signals per item, found or not ----
def _rounded(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def meaning_signals(hits: Mapping[str, Mapping[str, MeaningHit]], meaning: ScriptMatchers | None) -> dict[str, Any]:
    """What the meaning layer saw per stage and objection trigger, found or missed:
    ``{"encoder": name, "stage": {id: [similarity, margin, clear]}, "trigger": {...}}``.
    ``similarity``/``margin``: of the best utterance (the qualifying one when found);
    ``clear``: the best similarity that beat its rivals by the margin (the item is found at a
    threshold ``t`` exactly when ``clear >= t``). None where nothing was eligible. Empty
    without the meaning layer."""
    if meaning is None or not hits:
        return {}
    out: dict[str, Any] = {"encoder": meaning.encoder_name}
    for kind, per_item in hits.items():
        out[kind] = {
            item: [None if h.utterance is None else _rounded(h.similarity), _rounded(h.margin), _rounded(h.clear)]
            for item, h in per_item.items() if not item.startswith("~")  # rivals: never reported
        }
    return out


class _Call:
    """What one call's scoring shares: turns, utterance vectors, position windows."""

    def __init__(self, transcript: Transcript, turns: list[int], end_time: float):
        self.transcript = transcript
        self.turns = turns
        self.end_time = end_time
        #: the meaning layer's word windows (:func:`qa.meaning.windows`), their utterance, vectors
        self.texts: list[str] = []
        self.owner: list[int] = []
        #: per window: enough words for the meaning layer to find an item in it (a bool array)
        self.long_enough: Any = None
        self.vectors: Any = None
        self.mono = all(u.role == UNKNOWN for u in transcript.utterances)
        #: the meaning layer's hits per kind (``stage``, ``trigger``) and item, for the signals
        self.hits: dict[str, Mapping[str, MeaningHit]] = {}
        self._allowed: dict[tuple[str, str], set[int] | None] = {}
        self._roles: dict[str, list[bool]] = {}
        self._owner: Any = None
        self._times: Any = None

    def expand(self, mask: Sequence[bool]) -> Any:
        """A per-utterance mask as a per-window one (a numpy array, in one indexing step);
        windows too short to judge (``long_enough``) left out."""
        import numpy as np

        if self._owner is None:
            self._owner = np.asarray(self.owner, dtype=np.intp)
        return np.asarray(mask, dtype=bool)[self._owner] & self.long_enough

    def role_mask(self, role: str) -> list[bool]:
        """Per utterance: may ``role`` have said it (read only: it is made once per role)."""
        if role not in self._roles:
            self._roles[role] = [self.mono or role == "any" or u.role == role for u in self.transcript.utterances]
        return self._roles[role]

    def allowed(self, st: Stage, position: str, options: ScoringOptions) -> set[int] | None:
        """Utterances a stage's position lets it be found in (None: anywhere): the first
        (``opening``) or last (``closing``) ``position_turns`` turns of the stage's role."""
        if position == "any":
            return None
        key = (st.role, position)
        if key not in self._allowed:
            mine = [i for i, ok in enumerate(self.role_mask(st.role)) if ok]
            order = list(dict.fromkeys(self.turns[i] for i in mine))
            n = options.position_turns * (options.mono_turn_segments if self.mono else 1)
            keep = set(order[:n] if position == "opening" else order[-n:])
            self._allowed[key] = {i for i in mine if self.turns[i] in keep}
        return self._allowed[key]

    def mask(self, st: Stage, position: str, options: ScoringOptions) -> Any:
        """Where the meaning layer may find a stage: its role, time window and position (per
        utterance, as a numpy array: whole-array comparisons, not a loop per utterance)."""
        import numpy as np

        allowed = self.allowed(st, position, options)
        if self._times is None:
            utts = self.transcript.utterances
            self._times = (np.asarray([u.start for u in utts], dtype=float),
                           np.asarray([u.end for u in utts], dtype=float))
        ok = np.array(self.role_mask(st.role), dtype=bool)
        if st.within_first_seconds is not None:
            ok &= self._times[0] <= st.within_first_seconds
        if st.within_last_seconds is not None:
            ok &= self._times[1] >= self.end_time - st.within_last_seconds
        if allowed is not None:
            keep = np.zeros(len(ok), dtype=bool)
            keep[list(allowed)] = True
            ok &= keep
        return ok

    def meaning_match(self, mm: Any, hit: MeaningHit, window: int) -> Match:
        """Evidence for a meaning hit in word window ``window``: its utterance as the quote,
        the window as the matched words, the closest example as the phrase, the cosine
        similarity x 100 (the ``layer`` column says which layer, so which scale)."""
        utterance = self.owner[window]
        u = self.transcript.utterances[utterance]
        sim = float(hit.similarity)
        example = hit.example
        if mm is not None and self.vectors is not None:
            from .meaning import cosine

            ex = mm.vectors[hit.item_id]
            sims = cosine(self.vectors[window], ex)[0]
            example, sim = int(sims.argmax()), float(sims.max())
        phrase = mm.examples[hit.item_id][example] if mm is not None and example is not None else ""
        return Match(
            phrase=phrase, similarity=round(100 * sim, 1), utterance_index=utterance, start=u.start,
            end=u.end, role=u.role, text=u.text, matched=self.texts[window], utterance_indices=(utterance,),
            query=MEANING_QUERY,
        )


@dataclass(frozen=True)
class _Raise:
    """One time an objection was raised, and how the manager answered it."""

    objection: Objection
    trigger: Match
    handled: bool
    got: float  # step points found
    total: float  # step points possible
    evidence: Match | None  # the first handling step said, if any


def _step_title(ob: Objection, step: Step) -> str:
    return f"{ob.title}: {step.title or step.id}"


def _not_applicable(st: Stage, raised: set[str] | None) -> str | None:
    if raised is None:
        return "not applicable: no objection rubric given"
    if ANY_OBJECTION in st.applies_if:
        return None if raised else "not applicable: no objection was raised"
    if raised.intersection(st.applies_if):
        return None
    names = ", ".join(st.applies_if)
    return f"not applicable: objection {names} not raised"


# ---- a batch in numbers --------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchSummary:
    """What ``qa score`` says about a scored batch (see :func:`batch_summary`)."""

    calls: int
    mean: float
    median: float
    critical: int
    #: The weakest calls, below the batch mean, lowest first: ``(score, call_id, manager,
    #: critical_reason)``; the ones to open first.
    worst: tuple[tuple[float, str, str | None, str | None], ...]
    #: Stages missed most often: ``(item_id, title, missed, applicable calls)``.
    most_missed: tuple[tuple[str, str | None, int, int], ...]


def _text(value: Any) -> str | None:
    """A text cell of a frame, None when missing (pandas gives NaN for a missing string)."""
    return value if isinstance(value, str) and value else None


def batch_summary(calls: Any, items: Any, *, worst: int = 5, stages: int = 5) -> BatchSummary | None:
    """Numbers of a scored batch from its ``calls`` and ``items`` frames
    (:func:`qa.pipeline.score_paths`); None when no call was scored."""
    if not len(calls):
        return None
    scores = calls["score"]
    low = calls[scores < scores.mean()].sort_values("score").head(worst)
    applicable = items[(items["kind"] == "stage") & (items["status"] != "na")]
    missed_rows: list[tuple[str, str | None, int, int]] = []
    if len(applicable):
        missed = (
            applicable.assign(missed=applicable["status"].eq("missed"))
            .groupby(["item_id", "title"], dropna=False)["missed"]
            .agg(["sum", "count"])
            .sort_values("sum", ascending=False)
        )
        missed = missed[missed["sum"] > 0].head(stages)
        missed_rows = [
            (str(item_id), title if isinstance(title, str) else None, int(row["sum"]), int(row["count"]))
            for (item_id, title), row in missed.iterrows()
        ]
    return BatchSummary(
        calls=len(calls), mean=float(scores.mean()), median=float(scores.median()),
        critical=int(calls["critical"].sum()),
        worst=tuple(
            (float(r.score), str(r.call_id), _text(r.manager), _text(r.critical_reason))
            for r in low.itertuples()
        ),
        most_missed=tuple(missed_rows),
    )


# ---- one call, cached compile -------------------------------------------------------------------
_SCORERS: dict[tuple[int, int, ScoringOptions, int], tuple[Script, Rubric | None, Scorer]] = {}


def scorer_for(
    script: Script,
    rubric: Rubric | None = None,
    options: ScoringOptions | None = None,
    meaning: ScriptMatchers | None = None,
) -> Scorer:
    """A :class:`Scorer` for these script, rubric and meaning-layer objects and equal
    options, compiled once and reused (the last few are kept)."""
    opts = options or ScoringOptions()
    key = (id(script), id(rubric), opts, id(meaning))
    got = _SCORERS.get(key)
    if got is not None and got[0] is script and got[1] is rubric and got[2].meaning is meaning:
        return got[2]
    scorer = Scorer(script, rubric, opts, meaning)
    if len(_SCORERS) >= 8:
        _SCORERS.pop(next(iter(_SCORERS)))
    _SCORERS[key] = (script, rubric, scorer)
    return scorer


def score_call(
    transcript: Transcript,
    script: Script,
    rubric: Rubric | None = None,
    options: ScoringOptions | None = None,
    *,
    meaning: ScriptMatchers | None = None,
) -> CallScore:
    """Score one call against a script (and rubric). See the module docstring for the formula.

    ``meaning``: the meaning layer (:func:`qa.meaning.items.script_matchers` for this script
    and rubric); without it, only the fuzzy layer judges (the same result as always)."""
    return scorer_for(script, rubric, options, meaning).score(transcript)
