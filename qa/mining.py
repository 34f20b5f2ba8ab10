"""Mining: what the best calls say, stage by stage and objection by objection.

Reads one scored version of the workspace (calls, transcripts, score items of one script
and rubric), splits the calls into a best and a worst cohort (the top and bottom quartile
by score, or won and lost deals where the manifest has outcomes) and, from the manager's
speech at each stage and right after each objection, extracts candidate phrases:
normalised word n-grams inside clauses (punctuation never joins two clauses).

Trust: whatever is proposed for managers to say comes only from the best cohort, the
*source* calls, and never from a call with a critical failure or a forbidden phrase,
however high it scored (:func:`select_cohorts`). A phrase must be said in
``min_calls`` source calls by ``min_managers`` managers with ``min_lift`` over the worst
calls; a new objection must be raised by ``min_clients`` distinct clients. With fewer
source calls than ``min_calls`` nothing is mined and the result says how many calls are
needed (:func:`too_few`): too little data is an answer, not an error.

A phrase is counted once per call. It is ranked by how many best calls use it and by its
lift over the worst calls::

    share = calls with the phrase / calls where the stage (objection) was located
    lift  = (best share + s) / (worst share + s)            s = options.smoothing
    weight = best share * log2(lift)

so a phrase every best call says and no worst call says comes first, and wording both
cohorts use (lift about 1) drops out. Near-duplicate wordings are grouped with
:func:`qa.matching.group_similar`; one representative per group is shown, with the other
wordings as variants and examples (call, timestamp, quote).

Where the manager says it: a stage *found* in a call is located by its evidence (the
matched turn) and covers that turn and ``stage_turns`` more manager turns, up to the next
found stage. A stage *missed* in a call is located by position when it is the only missed
stage between two found ones in script order (the manager did the stage in words the
script does not know yet: exactly where new phrase variants come from). An objection's
answer is the manager's next ``respond_within_turns`` turns after the client's trigger.

Gaps in the script: recurring client wording that no rubric trigger covers, in lost deals
(or in the worst calls when no outcomes are known) more than in won ones, raised by
several distinct clients, becomes a candidate objection with the source calls' answers;
frequent manager wording of the source calls that no stage phrase matches is listed too.

Hands on a :class:`MiningResult`: tables for :mod:`qa.writers` and the groups that
:mod:`qa.suggest` turns into script updates.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, QAError, WorkspaceError
from .store import Workspace
from .transcripts import CLIENT, MANAGER, UNKNOWN, Transcript, Utterance, clock
from .versions import Scope, Version, period_bounds, resolve_versions

if TYPE_CHECKING:
    import pandas as pd

    from .scripts import Rubric, Script

log = logging.getLogger("qa")

BY_CHOICES = ("score", "outcome")
#: The best cohort by score: the top quartile.
DEFAULT_TOP = 0.25

# Clause boundaries: sentence and clause punctuation of any script, dashes between words,
# brackets and quotes. A phrase never spans one of these.
_CLAUSE_SPLIT = re.compile(r"[.,!?;:…()\[\]{}\"«»“”„¿¡。，、！？；：]+|\s[-–—]+\s|[–—]+|\n")


# ---- options and results -------------------------------------------------------------
@dataclass(frozen=True)
class MiningOptions:
    """How phrases are cut, counted and grouped. Every field is a documented default."""

    #: Shortest and longest phrase, in words (after normalisation).
    min_words: int = 2
    max_words: int = 7
    #: A phrase must be said in at least this many source calls (the best cohort) to be
    #: listed; also the fewest source calls worth mining at all (fewer: "too few calls").
    min_calls: int = 3
    #: ...and be at least this many times as common there as in the worst calls (lift).
    min_lift: float = 2.0
    #: A candidate new objection must be raised by at least this many distinct clients
    #: (``calls.client_phone``; a call without a number counts as its own client).
    min_clients: int = 3
    #: A manager's phrase must be said by at least this many distinct managers: one
    #: manager's own name or habit is not a lesson for the team (a call without a manager
    #: counts as a manager of its own).
    min_managers: int = 2
    #: Added to both shares in the lift so one call more or less does not swing it wildly.
    smoothing: float = 0.1
    #: Similarity (0-100, :func:`qa.matching.group_similar`) at which wordings are grouped.
    group_threshold: float = 80.0
    #: Groups shown per stage / objection / gap table.
    max_phrases: int = 10
    #: Candidates grouped per item (grouping is quadratic); the strongest are kept.
    max_candidates: int = 300
    #: Examples (distinct calls) kept per group.
    examples: int = 3
    #: Manager turns after a stage's matched turn that still belong to the stage.
    stage_turns: int = 1
    #: Locate a missed stage by position when it is alone between two found stages.
    infer_missed: bool = True
    #: A located gap with more manager turns than this is too vague to attribute.
    max_inferred_turns: int = 6
    #: Manager turns after a trigger read as the answer when the rubric does not say.
    respond_turns: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.min_words <= self.max_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}")
        if self.min_calls < 1:
            raise ValueError(f"min_calls must be >= 1, got {self.min_calls}")
        if self.min_clients < 1 or self.min_managers < 1:
            raise ValueError(f"min_clients and min_managers must be >= 1, got {self.min_clients}, "
                             f"{self.min_managers}")
        if self.min_lift < 0:
            raise ValueError(f"min_lift must be >= 0, got {self.min_lift}")
        if self.smoothing <= 0:
            raise ValueError(f"smoothing must be > 0, got {self.smoothing}")
        if not 0 <= self.group_threshold <= 100:
            raise ValueError(f"group_threshold must be 0-100, got {self.group_threshold}")
        for name in ("max_phrases", "max_candidates", "examples", "respond_turns"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stage_turns < 0 or self.max_inferred_turns < 0:
            raise ValueError("stage_turns and max_inferred_turns must be >= 0")


@dataclass(frozen=True)
class Example:
    """One place a phrase was said: the call, the turn's time span and its words."""

    call_id: str
    manager: str | None
    start: float
    end: float
    quote: str
    cohort: str  # best | worst | other
    score: float | None = None

    @property
    def at(self) -> str:
        return clock(self.start)


@dataclass(frozen=True)
class PhraseGroup:
    """One wording family: the representative, its variants and how the cohorts use it.

    ``kind`` is ``stage`` or ``objection`` (mined at that item), or ``unmatched``
    (manager wording of the best calls that matches no stage phrase).
    """

    kind: str
    item_id: str | None
    title: str | None
    phrase: str
    variants: tuple[str, ...]
    best_calls: int
    best_total: int
    worst_calls: int
    worst_total: int
    lift: float
    weight: float
    examples: tuple[Example, ...] = ()
    #: Every best call's turn with one of the wordings (one per call, best-ranked first).
    said: tuple[Example, ...] = ()

    def __post_init__(self) -> None:
        if not self.phrase:
            raise ValueError("phrase must not be empty")
        if self.best_calls > self.best_total or self.worst_calls > self.worst_total:
            raise ValueError("calls with the phrase cannot exceed the calls counted")

    @property
    def best_share(self) -> float:
        return self.best_calls / self.best_total if self.best_total else 0.0

    @property
    def worst_share(self) -> float:
        return self.worst_calls / self.worst_total if self.worst_total else 0.0

    @property
    def wordings(self) -> tuple[str, ...]:
        return (self.phrase, *self.variants)


@dataclass(frozen=True)
class ObjectionCandidate:
    """Recurring client wording no rubric trigger covers: a candidate new objection.

    ``bad`` calls are lost deals (or the worst calls when no outcomes are known), ``good``
    calls won deals (or the best calls). ``answers`` are the manager's turns right after
    the wording in the source calls where it was said (best-ranked first; never a weak or
    flagged call); ``answer_phrases`` the wording those answers share, as step phrases for
    the rubric (empty when too few source calls answered it).
    """

    id: str
    trigger: str
    variants: tuple[str, ...]
    bad_calls: int
    bad_total: int
    good_calls: int
    good_total: int
    lift: float
    weight: float
    examples: tuple[Example, ...] = ()
    answers: tuple[Example, ...] = ()
    answer_phrases: tuple[str, ...] = ()
    #: Every bad call's client turn with one of the wordings (best-ranked call first).
    said: tuple[Example, ...] = ()
    #: Distinct clients who said it (in any call).
    clients: int = 0

    @property
    def triggers(self) -> tuple[str, ...]:
        return (self.trigger, *self.variants)


@dataclass(frozen=True)
class Cohorts:
    """Which calls are the best and the worst, and how they were chosen.

    ``best`` are the *source* calls: everything mining proposes for managers to say comes
    from them. They are the top ``top`` share by score (or the won deals), less the calls
    with a critical failure or a forbidden phrase (``flagged``), which are never sources
    however high they scored.
    """

    by: str
    best: tuple[str, ...]
    worst: tuple[str, ...]
    total: int
    description: str
    #: call id -> position when all calls are ordered best first (examples follow it).
    order: Mapping[str, int] = field(default_factory=dict)
    #: Calls of the top share (or won deals) left out of ``best`` for a critical failure or
    #: a forbidden phrase.
    flagged: tuple[str, ...] = ()
    #: The share of calls the best cohort was cut from (``by="score"``).
    top: float = DEFAULT_TOP


@dataclass(frozen=True)
class TooFew:
    """Too few calls to say anything: how many there are and how many mining needs.

    Not an error: :func:`mine` returns a result with ``too_few`` set and nothing mined, and
    the commands print :attr:`message` and exit 0.
    """

    have: int
    need: int
    message: str


@dataclass
class MiningResult:
    """Everything :func:`mine` found; :meth:`tables` gives it to a writer."""

    cohorts: Cohorts
    script_hash: str
    rubric_hash: str
    script_name: str | None
    language: str | None
    phrases: list[PhraseGroup] = field(default_factory=list)
    uncovered: list[ObjectionCandidate] = field(default_factory=list)
    unmatched: list[PhraseGroup] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Set when there were too few calls to mine (then nothing else is).
    too_few: TooFew | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """The calls everything proposed here comes from (``cohorts.best``)."""
        return self.cohorts.best

    def for_item(self, kind: str, item_id: str) -> list[PhraseGroup]:
        return [g for g in self.phrases if g.kind == kind and g.item_id == item_id]

    def tables(self) -> dict[str, pd.DataFrame]:
        """``phrases``, ``examples``, ``uncovered_objections``, ``unmatched_wording``
        (the last two only when there is something in them), one row per group."""
        import pandas as pd

        def first(ex: Sequence[Example]) -> dict[str, Any]:
            if not ex:
                return {"call": None, "at": None, "quote": None}
            return {"call": ex[0].call_id, "at": ex[0].at, "quote": ex[0].quote}

        rank: dict[tuple[str, str | None], int] = {}
        rows = []
        for g in self.phrases:
            key = (g.kind, g.item_id)
            rank[key] = rank.get(key, 0) + 1
            rows.append({
                "kind": g.kind, "item": g.item_id, "rank": rank[key], "phrase": g.phrase,
                "variants": "; ".join(g.variants),
                "best": g.best_calls, "best_pct": _pct(g.best_share),
                "worst": g.worst_calls, "worst_pct": _pct(g.worst_share),
                "lift": round(g.lift, 2), **first(g.examples),
            })
        columns = ["kind", "item", "rank", "phrase", "variants", "best", "best_pct", "worst",
                   "worst_pct", "lift", "call", "at", "quote"]
        tables: dict[str, pd.DataFrame] = {"phrases": pd.DataFrame(rows, columns=columns)}
        ex_rows = [
            {"kind": g.kind, "item": g.item_id, "phrase": g.phrase, "call": e.call_id,
             "manager": e.manager, "cohort": e.cohort, "start": round(e.start, 2), "at": e.at,
             "quote": e.quote}
            for g in [*self.phrases, *self.unmatched] for e in g.examples
        ]
        tables["examples"] = pd.DataFrame(
            ex_rows, columns=["kind", "item", "phrase", "call", "manager", "cohort", "start", "at", "quote"]
        )
        if self.uncovered:
            tables["uncovered_objections"] = pd.DataFrame([
                {"candidate": c.id, "trigger": c.trigger, "variants": "; ".join(c.variants),
                 "bad": c.bad_calls, "bad_pct": _pct(c.bad_calls / c.bad_total if c.bad_total else 0),
                 "good": c.good_calls, "good_pct": _pct(c.good_calls / c.good_total if c.good_total else 0),
                 "lift": round(c.lift, 2), **first(c.examples),
                 "best_answer": c.answers[0].quote if c.answers else None}
                for c in self.uncovered
            ])
        if self.unmatched:
            tables["unmatched_wording"] = pd.DataFrame([
                {"phrase": g.phrase, "variants": "; ".join(g.variants), "best": g.best_calls,
                 "best_pct": _pct(g.best_share), "worst": g.worst_calls,
                 "worst_pct": _pct(g.worst_share), "lift": round(g.lift, 2), **first(g.examples)}
                for g in self.unmatched
            ])
        return tables


def _pct(share: float) -> float:
    return round(100.0 * share, 1)


#: Seconds as a clock (``qa.transcripts.clock``), kept under its old name for callers.
format_time = clock


# ---- loading one scored version ------------------------------------------------------
def scored_versions(ws: Workspace) -> list[dict[str, Any]]:
    """Every (script, rubric) version with scores (:meth:`qa.store.Workspace.version_stats`)."""
    return ws.version_stats()


def resolve_version(
    ws: Workspace,
    version: tuple[str, str] | None = None,
    script: str | os.PathLike[str] | None = None,
) -> tuple[tuple[str, str], list[str]]:
    """Which scored version to read, and notes on the choice.

    ``version`` wins. With ``script`` (a script file): the calls scored with exactly that
    file; if it changed since (a suggestion applied), the latest version scored from the
    same file, else one with the same ``name:``. Otherwise, of the versions the views read
    (:func:`qa.versions.resolve_versions`), the one scored most recently; when one run
    scored several (a script per language), the one counting most calls, and a note names
    the others.
    """
    key, notes, _ = _resolve(ws, version, script)
    return key, notes


def _resolve(
    ws: Workspace,
    version: tuple[str, str] | None,
    script: str | os.PathLike[str] | None,
) -> tuple[tuple[str, str], list[str], tuple[Version, ...]]:
    """:func:`resolve_version` and the versions of the scope its calls are counted in: the
    views' default versions (each call counts once, under its latest score, as in the
    scorecards), or the one version asked for."""
    from .scripts import file_hash, parse_script

    if version is not None:
        return version, [], (Version(*version),)
    found = scored_versions(ws)
    if not found:
        raise NotFoundError(
            f"{ws.path}: no scored calls in this workspace; run 'qa score PATH --script FILE' first"
        )
    by_key = {(v["script_hash"], v["rubric_hash"]): v for v in found}
    if script is None:
        chosen = resolve_versions(ws)
        frm, params = Scope(chosen).where()
        counted = {
            (r[0], r[1]): int(r[2])
            for r in ws.query(f"SELECT s.script_hash, s.rubric_hash, COUNT(*) {frm} GROUP BY 1, 2", params)
        }
        latest_at = max(by_key[v.key]["scored_at"] for v in chosen)
        same_run = [v for v in chosen if by_key[v.key]["scored_at"] == latest_at]
        pick = max(same_run, key=lambda v: counted.get(v.key, 0))
        where = lambda v: by_key[v.key]["path"] or by_key[v.key]["name"]  # noqa: E731
        notes = [
            f"mining the {counted.get(pick.key, 0)} calls scored with {where(pick)}; "
            f"{counted.get(v.key, 0)} call(s) were scored with {where(v)} in the same run "
            f"(pass --script {by_key[v.key]['path'] or 'FILE'} to mine them)"
            for v in same_run if v != pick
        ]
        return pick.key, notes, chosen
    path = Path(script)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise QAError(f"{path}: cannot read the script: {e.strerror or e}") from e
    pick_key = lambda v: (v["script_hash"], v["rubric_hash"])  # noqa: E731
    exact = [v for v in found if v["script_hash"] == file_hash(data)]
    if exact:
        return pick_key(exact[0]), [], (Version(*pick_key(exact[0])),)
    same_file = [v for v in found if v["path"] and _same_file(v["path"], path)]
    name = parse_script(data.decode("utf-8", errors="replace"), str(path)).name
    same_name = [v for v in found if v["name"] == name]
    for hits in (same_file, same_name):
        if hits:
            return pick_key(hits[0]), [
                f"{path} changed since its calls were scored; mining the calls scored with its "
                f"earlier version {hits[0]['script_hash']} (rescore with 'qa score' to mine the new one)"
            ], (Version(*pick_key(hits[0])),)
    raise NotFoundError(
        f"{path}: no calls in {ws.path} were scored with this script; run "
        f"'qa score PATH --script {path}' first"
    )


def _same_file(stored: str, path: Path) -> bool:
    try:
        return Path(stored).resolve() == path.resolve()
    except OSError:
        return False


@dataclass(frozen=True)
class LoadedVersion:
    """The version mining (and the clip library) reads, parsed, and the scope its calls are
    counted in (:func:`qa.versions.resolve_versions`: each call once, its latest score)."""

    key: tuple[str, str]
    script: Script
    rubric: Rubric | None
    notes: list[str]
    versions: tuple[Version, ...]


def load_version(
    ws: Workspace,
    version: tuple[str, str] | None = None,
    script: str | os.PathLike[str] | None = None,
) -> LoadedVersion:
    """The (script_hash, rubric_hash) to read (see :func:`resolve_version`), its configs,
    notes on the choice and the versions of its scope.

    Script and rubric are parsed from the texts the workspace kept (table ``configs``), so
    mining reads exactly the version that produced the scores, even if the file changed.
    """
    key, notes, chosen = _resolve(ws, version, script)
    script_hash, rubric_hash = key
    script_cfg = _config(ws, script_hash, "script")
    rubric = None if rubric_hash == "none" else _config(ws, rubric_hash, "rubric")
    return LoadedVersion(key, script_cfg, rubric, notes, chosen)


def _config(ws: Workspace, hash_: str, kind: str) -> Any:
    from . import scripts

    row = ws.config(hash_)
    if row is None:
        raise WorkspaceError(
            f"{ws.path}: the {kind} version {hash_} used for the scores is not stored; "
            "rescore with 'qa score PATH --script FILE'"
        )
    where = row.get("path") or f"<{kind} {hash_}>"
    loader = scripts.parse_script if kind == "script" else scripts.parse_rubric
    return loader(row["text"], where)


def scored_calls(
    ws: Workspace,
    version: tuple[str, str],
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    versions: Sequence[Version] | None = None,
) -> pd.DataFrame:
    """One row per call counted under ``version``: score, ``critical`` and ``forbidden``
    (a forbidden phrase found: both flags keep a call from being a source), manager, day,
    outcome, source, client phone.

    ``versions``: the scope the calls are counted in (default: ``version`` alone); a call
    also scored later under another version of the scope counts there, as in the
    scorecards. Raises :class:`QAError` for a day that is not ``YYYY-MM-DD`` or a reversed
    period.
    """
    scope = Scope(tuple(versions) if versions else (Version(*version),), *period_bounds(date_from, date_to))
    frm, params = scope.where()
    sql = (
        "SELECT s.call_id, s.score, s.critical, s.tokens_forbidden IS NOT NULL AS forbidden, "
        "c.manager, c.day, c.outcome, c.source, c.duration, c.language, c.client_phone "
        f"{frm} AND s.script_hash = ? AND s.rubric_hash = ? ORDER BY s.call_id"
    )
    return ws.frame(sql, [*params, *version])


def version_items(ws: Workspace, version: tuple[str, str], call_ids: Iterable[str]) -> pd.DataFrame:
    """The score items of ``call_ids`` under ``version`` (table ``items``)."""
    return ws.version_items(version[0], version[1], call_ids)


def parse_top(value: str | float) -> float:
    """``"20%"``, ``"20"`` or ``0.2`` -> 0.2. Raises :class:`QAError` outside (0, 50%]."""
    text = str(value).strip()
    try:
        number = float(text.rstrip("%").strip())
    except ValueError:
        raise QAError(f"--top {text!r} is not a share; write it like 20% or 0.2") from None
    share = number / 100.0 if text.endswith("%") or number > 1 else number
    if not 0 < share <= 0.5:
        raise QAError(f"--top {text!r}: the best and worst shares must be above 0 and at most 50%")
    return share


def order_calls(calls: pd.DataFrame, by: str = "score") -> dict[str, int]:
    """call id -> position when ``calls`` are ordered best first.

    ``by="score"``: highest score first. ``by="outcome"``: won deals, then calls without an
    outcome, then lost deals, each by score. Ties are broken by call id (reproducible).
    """
    from .metadata import outcome_won

    outcome_key = {True: 0, None: 1, False: 2}
    rows = sorted(
        zip(calls["call_id"], calls["score"], calls["outcome"]),
        key=lambda r: (outcome_key[outcome_won(r[2])] if by == "outcome" else 0, -float(r[1]), str(r[0])),
    )
    return {str(cid): i for i, (cid, _, _) in enumerate(rows)}


def flagged_calls(calls: pd.DataFrame) -> set[str]:
    """Calls with a critical failure or a forbidden phrase (columns ``critical`` and
    ``forbidden`` of :func:`scored_calls`): never a source, however high they scored."""
    flagged: set[str] = set()
    for column in ("critical", "forbidden"):
        if column in calls:
            flagged |= {str(c) for c, v in zip(calls["call_id"], calls[column]) if v == v and v}
    return flagged


def best_count(n: int, top: float) -> int:
    """How many of ``n`` calls the best (and the worst) cohort holds by score: the top
    ``top`` share, at least one, never overlapping (at most ``n // 2``)."""
    return min(max(1, math.ceil(n * top)), n // 2)


def select_cohorts(calls: pd.DataFrame, by: str = "score", top: float = DEFAULT_TOP) -> Cohorts:
    """Best and worst calls of ``calls`` (columns ``call_id``, ``score``, ``outcome``, and
    ``critical`` / ``forbidden`` when known).

    ``by="score"``: the top and bottom ``top`` share by score (:func:`best_count`; ties
    broken by call id so the split is reproducible). ``by="outcome"``: won deals vs lost
    deals (:func:`qa.metadata.outcome_won`). Flagged calls (:func:`flagged_calls`) are left
    out of the best cohort (``Cohorts.flagged``) and stay in the worst. Fewer calls than a
    comparison needs give empty cohorts (:func:`too_few` says how many are needed); only
    ``--by outcome`` without a single known outcome is an error.
    """
    from .metadata import outcome_won

    if by not in BY_CHOICES:
        raise QAError(f"--by {by!r}: choose one of {', '.join(BY_CHOICES)}")
    n = len(calls)
    won = {cid: outcome_won(o) for cid, o in zip(calls["call_id"], calls["outcome"])}
    order = order_calls(calls, by)
    scores = dict(zip(calls["call_id"], calls["score"]))
    ordered = [(cid, scores[cid]) for cid in sorted(order, key=order.__getitem__)]
    bad = flagged_calls(calls)
    if by == "score":
        k = best_count(n, top)
        top_ids = [cid for cid, _ in ordered[:k]]
        worst = tuple(cid for cid, _ in ordered[n - k:]) if k else ()
        desc = f"best {k} of {n} calls by score" + (
            f" (score >= {float(ordered[k - 1][1]):.1f}), worst {k} (score <= {float(ordered[n - k][1]):.1f})"
            if k else ""
        )
    else:
        top_ids = [cid for cid, _ in ordered if won[cid] is True]
        worst = tuple(cid for cid, _ in ordered if won[cid] is False)
        if not top_ids and not worst:
            raise QAError(
                f"--by outcome needs won and lost deals; none of the {n} calls has an outcome; "
                "import a manifest with an outcome column (qa score PATH --manifest FILE) or use --by score"
            )
        unknown = n - len(top_ids) - len(worst)
        desc = f"{len(top_ids)} won vs {len(worst)} lost deals of {n} calls" + (
            f" ({unknown} without an outcome left out)" if unknown else ""
        )
    best = tuple(cid for cid in top_ids if cid not in bad)
    flagged = tuple(cid for cid in top_ids if cid in bad)
    if flagged:
        desc += (f"; {len(flagged)} of the best left out as sources for a critical failure "
                 "or a forbidden phrase")
    return Cohorts(by=by, best=best, worst=worst, total=n, description=desc, order=order,
                   flagged=flagged, top=top)


def too_few(cohorts: Cohorts, min_calls: int) -> TooFew | None:
    """None when ``cohorts`` hold enough source calls to mine (``min_calls``, since a phrase
    must be said in that many) and a worst call to compare with; else how many calls are
    needed, assuming the calls to come are as clean as these."""
    sources, n = len(cohorts.best), cohorts.total
    if sources >= min_calls and cohorts.worst:
        return None
    flagged = len(cohorts.flagged)
    if cohorts.by == "score":
        need = max(n, 2)
        while best_count(need, cohorts.top) - flagged < min_calls:
            need += 1
        why = f", {flagged} of them with a critical failure or a forbidden phrase," if flagged else ""
        message = (
            f"too few calls to mine: {n} scored call(s); the best {cohorts.top:.0%} by score are "
            f"{sources + flagged} call(s){why} and a phrase must be said in at least {min_calls} "
            f"of them. Score at least {need} calls ({need - n} more), or lower --min-calls"
        )
        return TooFew(n, need, message)
    won_needed = max(0, min_calls - sources)
    lost_needed = 0 if cohorts.worst else 1
    wanted = " and ".join(p for p in (f"{won_needed} more won deal(s)" if won_needed else "",
                                       "a lost deal" if lost_needed else "") if p)
    why = f" ({flagged} with a critical failure or a forbidden phrase)" if flagged else ""
    message = (
        f"too few deals to mine: {sources + flagged} won{why} and {len(cohorts.worst)} lost of {n} "
        f"calls; a phrase must be said in at least {min_calls} won deals. Score calls with "
        f"{wanted}, or use --by score"
    )
    return TooFew(n, n + won_needed + lost_needed, message)


# ---- text -> candidate phrases ---------------------------------------------------------
@lru_cache(maxsize=16)
def _stop_words(language: str | None) -> frozenset[str]:
    from .normalize import load_language

    return load_language(language).stop_words


Clause = tuple[tuple[str, str], ...]  # (word as said, normalised; its stem) per word


@lru_cache(maxsize=65536)
def _clause_words(text: str, language: str | None) -> tuple[Clause, ...]:
    """Clauses of ``text`` as (normalised word, stem) pairs.

    Words are normalised with the ``match`` preset (case, punctuation, numbers, fillers)
    and keyed by their stems, so inflected forms of one phrase are counted together while
    the phrase is still shown in words people say.
    """
    from .normalize import normalizer

    match = normalizer(language, "match")
    stems = normalizer(language, "stems")
    out = []
    for clause in _CLAUSE_SPLIT.split(text):
        words = match.tokens(clause) if clause.strip() else []
        if words:
            out.append(tuple((w, stems.stem(w)) for w in words))
    return tuple(out)


def candidate_phrases(text: str, language: str | None, options: MiningOptions) -> dict[str, str]:
    """Every n-gram of ``text`` within one clause, ``min_words``-``max_words`` words, not
    made of stop words only: stem key -> normalised wording."""
    stop = _stop_words(language)
    found: dict[str, str] = {}
    for words in _clause_words(text, language):
        for n in range(options.min_words, min(options.max_words, len(words)) + 1):
            for i in range(len(words) - n + 1):
                gram = words[i:i + n]
                if all(w in stop for w, _ in gram):
                    continue
                found.setdefault(" ".join(s for _, s in gram), " ".join(w for w, _ in gram))
    return found


def clauses(text: str, language: str | None) -> list[str]:
    """The normalised clauses of ``text`` (what a script phrase can be cut from)."""
    return [" ".join(w for w, _ in c) for c in _clause_words(text, language)]


def stem_key(text: str, language: str | None) -> str:
    """The stems of ``text`` joined by spaces (how phrases are compared here)."""
    from .normalize import tokens

    return " ".join(tokens(text, language))


# ---- counting and ranking ----------------------------------------------------------
Docs = Mapping[str, Sequence[Utterance]]  # call id -> the turns where the item was said


@dataclass
class _Candidate:
    key: str
    pos: set[str]
    neg: set[str]
    weight: float = 0.0
    lift: float = 0.0


def _lift(pos: int, n_pos: int, neg: int, n_neg: int, smoothing: float) -> tuple[float, float]:
    bs = pos / n_pos if n_pos else 0.0
    ws_ = neg / n_neg if n_neg else 0.0
    lift = (bs + smoothing) / (ws_ + smoothing)
    return lift, bs * math.log2(lift)


class _Occurrences:
    """stem key -> call id -> first turn saying it, and the wordings seen per key."""

    def __init__(self, docs: Docs, language: str | None, options: MiningOptions):
        self.calls: dict[str, dict[str, Utterance]] = {}
        self.wordings: dict[str, Counter[str]] = {}
        for cid, turns in docs.items():
            for u in turns:
                for key, wording in candidate_phrases(u.text, language, options).items():
                    self.calls.setdefault(key, {}).setdefault(cid, u)
                    self.wordings.setdefault(key, Counter())[wording] += 1

    def wording(self, key: str) -> str:
        """The most frequent wording of a key (ties: alphabetical, so runs agree)."""
        return min(self.wordings[key].items(), key=lambda kv: (-kv[1], kv[0]))[0]


def rank_phrases(
    pos_docs: Docs,
    neg_docs: Docs,
    language: str | None,
    options: MiningOptions,
    *,
    exclude: Callable[[str], bool] | None = None,
    speakers: Mapping[str, str | None] | None = None,
) -> list[tuple[_Candidate, list[str], dict[str, Utterance]]]:
    """Grouped phrases of ``pos_docs`` ranked by weight against ``neg_docs``.

    Returns ``(group, wordings, occurrences)`` best first: ``group`` has the union of the
    members' calls, ``wordings`` the members (representative first), ``occurrences`` call
    id -> turn for the positive calls. ``exclude(wording)`` drops candidates.
    ``speakers`` (call id -> manager): a candidate must be said by ``min_managers`` of them.
    """

    n_pos = sum(1 for t in pos_docs.values() if t)
    n_neg = sum(1 for t in neg_docs.values() if t)
    pos_occ = _Occurrences(pos_docs, language, options)
    neg_occ = _Occurrences(neg_docs, language, options)
    cands: dict[str, _Candidate] = {}
    for key, calls in pos_occ.calls.items():
        if len(calls) < options.min_calls:
            continue
        if speakers is not None and options.min_managers > 1 and len(
            {speakers.get(c) or f"call:{c}" for c in calls}
        ) < options.min_managers:
            continue
        in_neg = set(neg_occ.calls.get(key, ()))
        lift, weight = _lift(len(calls), n_pos, len(in_neg), n_neg, options.smoothing)
        # lift 1 (or less) is wording the worst calls use as much: never a lesson
        if lift < options.min_lift or lift <= 1.0:
            continue
        cands[key] = _Candidate(key, set(calls), in_neg, weight, lift)
    # Keep closed phrases only: a shorter phrase said in exactly the calls where a longer
    # one containing it is said adds nothing ("matters most to you" inside "what matters
    # most to you").
    drop: set[str] = set()
    for key, c in cands.items():
        words = key.split()
        for n in range(options.min_words, len(words)):
            for i in range(len(words) - n + 1):
                sub = " ".join(words[i:i + n])
                s = cands.get(sub)
                if s is not None and s.pos == c.pos and s.neg == c.neg:
                    drop.add(sub)
    ranked = sorted(
        (c for k, c in cands.items()
         if k not in drop and not (exclude and exclude(pos_occ.wording(k)))),
        key=lambda c: (-c.weight, -len(c.pos), -len(c.key.split()), pos_occ.wording(c.key)),
    )[: options.max_candidates]
    if not ranked:
        return []
    texts = [pos_occ.wording(c.key) for c in ranked]
    out = []
    for members in _families(ranked, texts, language, options):
        idx = _by_typical(members, ranked)
        pos: set[str] = set().union(*(ranked[i].pos for i in idx))
        neg: set[str] = set().union(*(ranked[i].neg for i in idx))
        lift, weight = _lift(len(pos), n_pos, len(neg), n_neg, options.smoothing)
        occ: dict[str, Utterance] = {}
        for i in idx:
            for cid, u in pos_occ.calls[ranked[i].key].items():
                occ.setdefault(cid, u)
        group = _Candidate(ranked[idx[0]].key, pos, neg, weight, lift)
        out.append((group, [texts[i] for i in idx], occ))
    out.sort(key=lambda g: (-g[0].weight, -len(g[0].pos), g[1][0]))
    return out


def _families(
    ranked: Sequence[_Candidate], texts: Sequence[str], language: str | None, options: MiningOptions
) -> list[list[int]]:
    """Groups of candidate indexes (each sorted): near-duplicates, fragments, overlaps.

    Near-duplicate wordings are grouped by :func:`qa.matching.group_similar`. A fragment
    (a phrase inside longer candidates) joins them when it is said in no call where one of
    them is not: "what matters" said only as part of "what matters most to you" and "what
    matters the most to you" ties the two into one family instead of outranking both.
    """
    from .matching import group_similar

    parent = list(range(len(ranked)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for members in group_similar(texts, options.group_threshold, language):
        for m in members[1:]:
            union(members[0], m)
    index = {c.key: i for i, c in enumerate(ranked)}
    supers: dict[int, list[int]] = {}
    for i, c in enumerate(ranked):
        words = c.key.split()
        for n in range(options.min_words, len(words)):
            for j in range(len(words) - n + 1):
                sub = index.get(" ".join(words[j:j + n]))
                if sub is not None:
                    supers.setdefault(sub, []).append(i)
    for sub, sups in supers.items():
        pos = set().union(*(ranked[i].pos for i in sups))
        neg = set().union(*(ranked[i].neg for i in sups))
        if ranked[sub].pos <= pos and ranked[sub].neg <= neg:
            for i in sups:
                union(sub, i)
    # A wording longer than max_words is cut into overlapping windows said in the same
    # calls ("price includes the finishing and a fitted" / "includes the finishing and a
    # fitted kitchen"): one family.
    buckets: dict[tuple[frozenset[str], frozenset[str]], list[int]] = {}
    for i, c in enumerate(ranked):
        buckets.setdefault((frozenset(c.pos), frozenset(c.neg)), []).append(i)
    for same in buckets.values():
        for a in same:
            wa = ranked[a].key.split()
            for b in same:
                wb = ranked[b].key.split()
                if a < b and any(
                    wa[-j:] == wb[:j] or wb[-j:] == wa[:j]
                    for j in range(options.min_words, min(len(wa), len(wb)))
                ):
                    union(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(ranked)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _by_typical(idx: list[int], ranked: Sequence[_Candidate]) -> list[int]:
    """Members of a group, the most typical full wording first.

    In each call the longest member said stands for what was said in full; the member that
    does so in the most calls represents the group (ties: the stronger one). Fragments
    ("what matters") are in more calls than the whole question, but say less.
    """
    longest: dict[str, int] = {}
    for i in idx:  # idx is in ranked order, so ties go to the stronger member
        n = len(ranked[i].key.split())
        for cid in ranked[i].pos:
            j = longest.get(cid)
            if j is None or n > len(ranked[j].key.split()):
                longest[cid] = i
    votes = Counter(longest.values())
    return sorted(idx, key=lambda i: (-votes.get(i, 0), idx.index(i)))


# ---- where each item was said ------------------------------------------------------------
def speaker_roles(t: Transcript) -> frozenset[str]:
    """The manager's turns; in a mono call without roles, every turn (marked unknown)."""
    return frozenset({UNKNOWN}) if t.is_mono else frozenset({MANAGER})


def stage_regions(
    t: Transcript,
    stage_items: pd.DataFrame,
    stage_order: Sequence[str],
    options: MiningOptions,
    *,
    stops: Iterable[float] = (),
    busy: Collection[int] = (),
) -> dict[str, tuple[list[Utterance], bool]]:
    """stage id -> (manager turns at that stage, located by position?) for one call.

    ``stage_items`` are the call's ``kind == "stage"`` rows. A found stage is its matched
    turn (the manager turn holding the evidence, or the first one after a client's) plus up
    to ``stage_turns`` following manager turns before the next found stage or ``stops``
    (times the client objected). A missed stage alone between two found ones in script
    order (or before the first / after the last) takes the manager turns between their
    matched turns; those turns are its, not the preceding stage's. Turns in ``busy``
    (``id()`` of utterances answering an objection) are never located by position.
    """
    # Three phases: anchor each found stage on the speaker's turn of its evidence, give a
    # missed stage the unclaimed gap between its found neighbours, then extend each found
    # stage over the following turns (splitting turns that several stages share).
    speaker = speaker_roles(t)
    positions = [i for i, u in enumerate(t.utterances) if u.role in speaker]
    mgr = [t.utterances[i] for i in positions]
    anchors, spans, matched, missed = _stage_anchors(stage_items, positions)
    regions: dict[str, tuple[list[Utterance], bool]] = {}
    claimed: set[int] = set(matched.values())
    if options.infer_missed:
        for sid, gap in _missed_gaps(mgr, matched, missed, stage_order, claimed, busy, options):
            regions[sid] = ([mgr[i] for i in gap], True)
            claimed.update(gap)
    shared = _split_shared_turns(mgr, matched, spans)
    for sid, i0 in matched.items():
        nxt_start = min(
            (b for b in [*anchors.values(), *stops] if b > anchors[sid] + 1e-6), default=math.inf
        )
        picked = [i0]
        for i in range(i0 + 1, min(len(mgr), i0 + 1 + options.stage_turns)):
            if i in claimed or mgr[i].start >= nxt_start:
                break
            picked.append(i)
        said = [mgr[i] for i in picked]
        if sid in shared:
            piece, last_in_turn = shared[sid]
            # the turns after a shared one belong to the stage said last in it
            said = [piece, *said[1:]] if last_in_turn else [piece]
        regions[sid] = (said, False)
    return regions


def _stage_anchors(
    stage_items: pd.DataFrame, positions: Sequence[int]
) -> tuple[dict[str, float], dict[str, str], dict[str, int], set[str]]:
    """Per found stage: its first evidence time, matched words and the speaker's turn
    holding it (or the first after it, when a client's turn holds it: ``positions`` are the
    speaker's utterance indexes); and the missed stages."""
    anchors: dict[str, float] = {}
    spans: dict[str, str] = {}
    turn_of: dict[str, int] = {}
    missed: set[str] = set()
    for row in stage_items.itertuples(index=False):
        start = row.start
        if row.status == "found" and start is not None and not math.isnan(start):
            if float(start) < anchors.get(row.item_id, math.inf):
                anchors[row.item_id] = float(start)
                spans[row.item_id] = str(getattr(row, "matched", None) or "")
                utt = getattr(row, "utterance", None)
                if utt is None or utt != utt:  # scored before evidence kept its utterance
                    turn_of.pop(row.item_id, None)
                else:
                    turn_of[row.item_id] = int(utt)
        elif row.status == "missed":
            missed.add(row.item_id)
    matched: dict[str, int] = {}
    for sid, utt in turn_of.items():
        k = bisect.bisect_left(positions, utt)
        if k < len(positions):
            matched[sid] = k
    return anchors, spans, matched, missed


def _missed_gaps(
    mgr: Sequence[Utterance],
    matched: Mapping[str, int],
    missed: set[str],
    stage_order: Sequence[str],
    claimed: set[int],
    busy: Collection[int],
    options: MiningOptions,
) -> Iterable[tuple[str, list[int]]]:
    """(stage, turn positions) of each missed stage that is the only one missing between
    its found neighbours in script order, in script order; ``claimed`` is read as it grows."""
    index = {sid: k for k, sid in enumerate(stage_order)}
    for sid in sorted(missed, key=lambda s: index.get(s, len(index))):
        k = index.get(sid)
        if k is None:
            continue
        prev = [s for s in stage_order[:k] if s in matched]
        nxt = [s for s in stage_order[k + 1:] if s in matched]
        lo_k = index[prev[-1]] if prev else -1
        hi_k = index[nxt[0]] if nxt else len(stage_order)
        # Only when this stage is the one missing between its neighbours: otherwise the
        # words in the gap could belong to any of the missed stages.
        if any(s in missed for s in stage_order[lo_k + 1:hi_k] if s != sid):
            continue
        first = matched[prev[-1]] + 1 if prev else 0
        last = matched[nxt[0]] if nxt else len(mgr)  # exclusive
        gap = [i for i in range(first, last) if i not in claimed and id(mgr[i]) not in busy]
        if gap and len(gap) <= options.max_inferred_turns:
            yield sid, gap


def _split_shared_turns(
    mgr: Sequence[Utterance], matched: Mapping[str, int], spans: Mapping[str, str]
) -> dict[str, tuple[Utterance, bool]]:
    """Stages found in one turn ("Good afternoon, Riverside Homes, my name is Kate") share
    it clause by clause: each gets the text from the clause holding its matched words to
    the clause where the next stage's match starts (and whether it is the last one said in
    the turn). Stages whose match cannot be placed in the turn's text keep the whole turn."""
    by_turn: dict[int, list[str]] = {}
    for sid, i in matched.items():
        by_turn.setdefault(i, []).append(sid)
    out: dict[str, tuple[Utterance, bool]] = {}
    for i, sids in by_turn.items():
        if len(sids) < 2:
            continue
        text = mgr[i].text
        at = {sid: text.find(spans.get(sid) or "\0") for sid in sids}
        placed = sorted((pos, sid) for sid, pos in at.items() if pos >= 0 and spans.get(sid))
        if len(placed) < 2:
            continue
        # cut points: the start of the clause holding each later match
        cuts = [0]
        for pos, _ in placed[1:]:
            head = text[:pos]
            last = max((m.end() for m in _CLAUSE_SPLIT.finditer(head)), default=0)
            cuts.append(max(last, cuts[-1]))
        cuts.append(len(text))
        for k, (_, sid) in enumerate(placed):
            piece = text[cuts[k]:cuts[k + 1]].strip()
            if piece:
                out[sid] = (replace(mgr[i], text=piece, words=()), k == len(placed) - 1)
    return out


def answer_turns(t: Transcript, index: int, turns: int, mono_segments: int = 2) -> list[Utterance]:
    """The manager's utterances in the next ``turns`` turns after utterance ``index`` (the
    client's objection): :meth:`qa.transcripts.Transcript.answer_window`, the window
    :mod:`qa.scoring` searches for the handling steps."""
    return [t.utterances[i] for i in t.answer_window(index, turns, mono_segments)]


def client_key(phone: Any) -> str | None:
    """Who the client is, from a phone number: its last 10 digits, so ``+7 916 …`` and
    ``8916…`` are one client; an id without digits is kept as it is; None when empty."""
    if phone is None or phone != phone:  # None or NaN
        return None
    text = str(phone).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits[-10:] if digits else (text or None)


# ---- the public entry point --------------------------------------------------------------
def mine(
    ws: Workspace,
    stage: str | None = None,
    objection: str | None = None,
    top: float | str = DEFAULT_TOP,
    by: str = "score",
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    options: MiningOptions | None = None,
    version: tuple[str, str] | None = None,
    script: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MiningResult:
    """Mine the phrases of the best calls of one scored version (default: the latest).

    Everything proposed comes from the source calls only (``result.sources``): the top
    quartile by score (``top``) or the won deals (``by="outcome"``), never a call with a
    critical failure or a forbidden phrase. A phrase must be said in ``options.min_calls``
    of them with ``options.min_lift`` over the worst calls; a candidate new objection must
    be raised by ``options.min_clients`` distinct clients. With too few calls nothing is
    mined and ``result.too_few`` says how many are needed.

    ``stage`` / ``objection`` limit the mining to one item (and skip the gap search);
    ``top`` is the share of calls in each cohort when ``by="score"``; ``date_from`` /
    ``date_to`` bound the call day (inclusive, ``YYYY-MM-DD``). ``progress(done, total)``
    is called after each transcript read. Raises :class:`NotFoundError` for an unknown
    stage / objection id and :class:`QAError` for a bad ``top`` or ``by``.
    """
    opts = options or MiningOptions()
    if stage is not None and objection is not None:
        raise QAError("give --stage or --objection, not both")
    run = _load(ws, stage, objection, top, by, date_from, date_to, opts, version, script, progress)
    if run.result.too_few is not None:
        return run.result
    answers, raised_at = _locate_answers(run, opts)
    located, inferred = _locate_stages(run, answers, raised_at, opts)
    result = run.result
    if inferred:
        result.notes.append(
            f"{inferred} time(s) a stage the script missed was located by its position in the call"
        )
    _rank(run, located, answers, stage, objection, opts)
    if stage is None and objection is None:
        result.uncovered = _uncovered(
            run.transcripts, run.by_call, run.cohorts, run.won if run.has_outcomes else None,
            run.rubric, run.language, opts, run.example, run.clients, run.managers,
        )
        result.unmatched = _unmatched(
            run.transcripts, run.cohorts, run.script, run.rubric, run.language, opts, run.examples,
            run.managers,
        )
    return result


@dataclass
class _Run:
    """What :func:`mine` read (phase 1) and hands to locating and ranking."""

    script: Script
    rubric: Rubric | None
    cohorts: Cohorts
    calls: pd.DataFrame
    by_call: dict[str, pd.DataFrame]
    transcripts: dict[str, Transcript]
    won: dict[str, bool | None]
    has_outcomes: bool
    result: MiningResult

    @property
    def language(self) -> str | None:
        return self.script.language

    @property
    def objections(self) -> list[Any]:
        return list(self.rubric.objections) if self.rubric is not None else []

    @cached_property
    def _info(self) -> dict[str, Any]:
        return {r.call_id: r for r in self.calls.itertuples(index=False)}

    @cached_property
    def managers(self) -> dict[str, str | None]:
        """call id -> manager (None where the call has none)."""
        return {str(c): (m if isinstance(m, str) and m else None)
                for c, m in zip(self.calls["call_id"], self.calls["manager"])}

    @cached_property
    def clients(self) -> dict[str, str]:
        """call id -> the client (:func:`client_key` of ``calls.client_phone``), where known."""
        if "client_phone" not in self.calls:
            return {}
        keys = {str(c): client_key(p) for c, p in zip(self.calls["call_id"], self.calls["client_phone"])}
        return {c: k for c, k in keys.items() if k}

    @cached_property
    def _best(self) -> frozenset[str]:
        return frozenset(self.cohorts.best)

    @cached_property
    def _worst(self) -> frozenset[str]:
        return frozenset(self.cohorts.worst)

    def example(self, cid: str, u: Utterance) -> Example:
        row = self._info.get(cid)
        cohort = "best" if cid in self._best else "worst" if cid in self._worst else "other"
        return Example(cid, getattr(row, "manager", None), u.start, u.end, u.text, cohort,
                       float(row.score) if row is not None else None)

    def examples(self, occ: Mapping[str, Utterance]) -> tuple[Example, ...]:
        """Every call's turn, best-ranked call first (``examples`` keeps the first few)."""
        order = self.cohorts.order
        return tuple(self.example(c, occ[c]) for c in sorted(occ, key=lambda c: order.get(c, 0)))


def _load(
    ws: Workspace,
    stage: str | None,
    objection: str | None,
    top: float | str,
    by: str,
    date_from: str | date | None,
    date_to: str | date | None,
    opts: MiningOptions,
    version: tuple[str, str] | None,
    script: str | os.PathLike[str] | None,
    progress: Callable[[int, int], None] | None,
) -> _Run:
    """Phase 1: the version, its calls and cohorts, their items and transcripts."""
    loaded = load_version(ws, version, script)
    cfg, rubric = loaded.script, loaded.rubric
    stage_ids = [s.id for s in cfg.stages]
    objections = list(rubric.objections) if rubric is not None else []
    if stage is not None and stage not in stage_ids:
        raise NotFoundError(
            f"stage {stage!r} is not in script {cfg.name!r}; stages: {', '.join(stage_ids)}"
        )
    if objection is not None and objection not in [o.id for o in objections]:
        known = ", ".join(o.id for o in objections) or "none (scored without a rubric)"
        raise NotFoundError(f"objection {objection!r} is not in the rubric; objections: {known}")

    calls = scored_calls(ws, loaded.key, date_from, date_to, versions=loaded.versions)
    if not len(calls):
        period = f" between {date_from or 'the start'} and {date_to or 'now'}" if (date_from or date_to) else ""
        raise NotFoundError(f"{ws.path}: no calls scored with this script version{period}")
    cohorts = select_cohorts(calls, by, parse_top(top))
    result = MiningResult(
        cohorts=cohorts, script_hash=loaded.key[0], rubric_hash=loaded.key[1],
        script_name=cfg.name, language=cfg.language, notes=list(loaded.notes),
        too_few=too_few(cohorts, opts.min_calls),
    )
    won = _won_map(calls)
    has_outcomes = any(v is True for v in won.values()) and any(v is False for v in won.values())
    if result.too_few is not None:  # nothing to read: the commands say how many calls are needed
        return _Run(cfg, rubric, cohorts, calls, {}, {}, won, has_outcomes, result)
    needed = set(cohorts.best) | set(cohorts.worst)
    if stage is None and objection is None and has_outcomes:
        needed |= {cid for cid, v in won.items() if v is not None}
    items = version_items(ws, loaded.key, needed)
    by_call = {cid: g for cid, g in items.groupby("call_id")}
    transcripts: dict[str, Transcript] = {}
    ordered = sorted(needed, key=lambda c: cohorts.order.get(c, 0))
    for n, cid in enumerate(ordered, 1):
        t = ws.transcript(cid)
        if t is None:
            result.notes.append(f"{cid}: scored but its transcript is missing; skipped")
        else:
            transcripts[cid] = t
        if progress is not None:
            progress(n, len(ordered))
    unplaced = int((items["start"].notna() & items["utterance"].isna()).sum()) if len(items) else 0
    if unplaced:
        result.notes.append(
            f"{unplaced} evidence moment(s) were scored before call-qa kept their utterance and are "
            "left out; rescore with 'qa score' to mine them"
        )
    return _Run(cfg, rubric, cohorts, calls, by_call, transcripts, won, has_outcomes, result)


def _locate_answers(
    run: _Run, opts: MiningOptions
) -> tuple[dict[str, dict[str, list[Utterance]]], dict[str, list[float]]]:
    """Phase 2a: the manager's answer after each objection raised in a cohort call
    (objection id -> call -> turns), and when each call's objections were raised.

    Objections come first: the manager's answer right after a trigger belongs to the
    objection, and a stage's turns stop where the client objects."""
    windows = {o.id: int(o.respond_within_turns or opts.respond_turns) for o in run.objections}
    answers: dict[str, dict[str, list[Utterance]]] = {}
    raised_at: dict[str, list[float]] = {}
    for cid in [*run.cohorts.best, *run.cohorts.worst]:
        t = run.transcripts.get(cid)
        rows = run.by_call.get(cid)
        if t is None or rows is None:
            continue
        raised = rows[(rows["kind"] == "objection") & rows["start"].notna()]
        for oid, start, utt in zip(raised["item_id"], raised["start"], raised["utterance"]):
            raised_at.setdefault(cid, []).append(float(start))
            if utt is None or utt != utt:  # scored before evidence kept its utterance
                continue
            turns = answer_turns(t, int(utt), windows.get(oid, opts.respond_turns))
            if turns:
                answers.setdefault(oid, {}).setdefault(cid, []).extend(turns)
    return answers, raised_at


def _locate_stages(
    run: _Run,
    answers: Mapping[str, Mapping[str, list[Utterance]]],
    raised_at: Mapping[str, list[float]],
    opts: MiningOptions,
) -> tuple[dict[str, dict[str, list[Utterance]]], int]:
    """Phase 2b: stage id -> call -> the manager's turns at that stage, and how many
    stages were located by position."""
    import pandas as pd

    stage_ids = [s.id for s in run.script.stages]
    located: dict[str, dict[str, list[Utterance]]] = {}
    inferred = 0
    for cid in [*run.cohorts.best, *run.cohorts.worst]:
        t = run.transcripts.get(cid)
        if t is None:
            continue
        rows = run.by_call.get(cid)
        if rows is None:
            rows = pd.DataFrame(columns=["kind", "item_id", "status", "start", "matched", "utterance"])
        busy = {id(u) for per_call in answers.values() for u in per_call.get(cid, ())}
        regs = stage_regions(
            t, rows[rows["kind"] == "stage"], stage_ids, opts,
            stops=raised_at.get(cid, ()), busy=busy,
        )
        for sid, (turns, guessed) in regs.items():
            located.setdefault(sid, {})[cid] = turns
            inferred += guessed
    return located, inferred


def _rank(
    run: _Run,
    located: Mapping[str, Mapping[str, list[Utterance]]],
    answers: Mapping[str, Mapping[str, list[Utterance]]],
    stage: str | None,
    objection: str | None,
    opts: MiningOptions,
) -> None:
    """Phase 3: rank each stage's and objection's phrases, best calls against worst."""
    result, cohorts = run.result, run.cohorts
    titles = {s.id: s.title for s in run.script.stages}
    stage_ids = [s.id for s in run.script.stages]
    wanted: list[tuple[str, str, str | None, Mapping[str, list[Utterance]]]] = [
        ("stage", sid, titles.get(sid), located.get(sid, {}))
        for sid in ([stage] if stage else [] if objection else stage_ids)
    ]
    wanted += [
        ("objection", o.id, o.title, answers.get(o.id, {}))
        for o in run.objections
        if stage is None and objection in (None, o.id)
    ]
    absent: dict[str, list[str]] = {"stage": [], "objection": []}
    for kind, item_id, title, docs in wanted:
        pos = {c: docs[c] for c in cohorts.best if c in docs}
        neg = {c: docs[c] for c in cohorts.worst if c in docs}
        if not pos:
            absent[kind].append(item_id)
            continue
        for g, members, occ in rank_phrases(pos, neg, run.language, opts, speakers=run.managers)[: opts.max_phrases]:
            result.phrases.append(
                _group(kind, item_id, title, g, members, len(pos), len(neg), run.examples(occ), opts.examples)
            )
    if absent["stage"]:
        result.notes.append(f"not found in any best call: stage {', '.join(absent['stage'])}")
    if absent["objection"]:
        result.notes.append(
            f"not raised (or not answered) in any best call: objection {', '.join(absent['objection'])}"
        )


def _won_map(calls: pd.DataFrame) -> dict[str, bool | None]:
    from .metadata import outcome_won

    return {cid: outcome_won(o) for cid, o in zip(calls["call_id"], calls["outcome"])}


def _group(
    kind: str, item_id: str | None, title: str | None, g: _Candidate, members: list[str],
    n_pos: int, n_neg: int, said: tuple[Example, ...], n_examples: int,
) -> PhraseGroup:
    return PhraseGroup(
        kind=kind, item_id=item_id, title=title, phrase=members[0], variants=tuple(members[1:]),
        best_calls=len(g.pos), best_total=n_pos, worst_calls=len(g.neg), worst_total=n_neg,
        lift=g.lift, weight=g.weight, examples=said[:n_examples], said=said,
    )


class PhraseCover:
    """Does the script already have a wording? (a test over mined phrases)

    A wording is covered when :mod:`qa.matching` would find one of ``phrases`` in it (each
    at its own threshold), exactly as scoring would if a client or manager said it, or
    when it is only a fragment of one of them ("what budget" of "what budget do you
    have"). ``phrases`` are ``(text, threshold)`` pairs.
    """

    def __init__(self, language: str | None, phrases: Iterable[tuple[str, float]]):
        from .matching import PhraseQuery, PhraseSet

        self.language = language
        known = [(str(p), float(t)) for p, t in phrases if str(p).strip()]
        self.keys = [k for k in (stem_key(p, language) for p, _ in known) if k]
        self._set = PhraseSet([PhraseQuery(p, t) for p, t in known], language) if known else None

    def __call__(self, wording: str) -> bool:
        padded = f" {stem_key(wording, self.language)} "
        return any(padded in f" {k} " for k in self.keys) or self.finds(wording)

    def finds(self, text: str) -> bool:
        """Would scoring find one of the phrases in ``text`` said as one turn?"""
        from .matching import prepare

        if self._set is None:
            return False
        return any(self._set.scan(prepare([Utterance(UNKNOWN, 0.0, 1.0, text)], self.language)))


def phrase_thresholds(phrases: Iterable[Any], default: float) -> list[tuple[str, float]]:
    """``(text, threshold)`` of script phrases (:class:`qa.scripts.Phrase` or text)."""
    out = []
    for p in phrases:
        if isinstance(p, str):
            out.append((p, default))
        else:
            out.append((p.text, float(p.threshold if p.threshold is not None else default)))
    return out


def _uncovered(
    transcripts: Mapping[str, Transcript],
    by_call: Mapping[str, pd.DataFrame],
    cohorts: Cohorts,
    won: Mapping[str, bool | None] | None,
    rubric: Rubric | None,
    language: str | None,
    opts: MiningOptions,
    example: Callable[[str, Utterance], Example],
    clients: Mapping[str, str] | None = None,
    managers: Mapping[str, str | None] | None = None,
) -> list[ObjectionCandidate]:
    """Recurring client wording that no trigger covers, in bad calls more than good ones.

    A candidate must be said in ``min_calls`` bad calls with ``min_lift`` over the good
    ones, by ``min_clients`` distinct clients (``clients``: call id -> client; a call
    without one is its own client). Its answers are the manager's turns after it in the
    source calls only (``cohorts.best``), and its answer phrases are wording those answers
    share, ranked like stage phrases (``min_calls`` source answers, ``min_lift`` over the
    answers in the other calls): a weak or rude call never supplies an answer.
    """
    if won is not None:
        bad_ids = [c for c, v in won.items() if v is False and c in transcripts]
        good_ids = [c for c, v in won.items() if v is True and c in transcripts]
    else:
        bad_ids = [c for c in cohorts.worst if c in transcripts]
        good_ids = [c for c in cohorts.best if c in transcripts]
    triggers: list[tuple[str, float]] = []
    windows: list[int] = []
    if rubric is not None:
        for o in rubric.objections:
            default = float(o.threshold if o.threshold is not None else rubric.threshold)
            triggers += phrase_thresholds(o.triggers, default)
            windows.append(int(o.respond_within_turns or opts.respond_turns))
    window = max(windows, default=opts.respond_turns)
    covered = PhraseCover(language, triggers)

    def client_turns(cid: str) -> list[Utterance]:
        t = transcripts[cid]
        rows = by_call.get(cid)
        # Turns where the scorer already saw an objection are covered by definition.
        raised: set[int] = set()
        if rows is not None:
            raised = {int(i) for i in rows[rows["kind"] == "objection"]["utterance"].dropna()}
        if t.is_mono:
            return []
        return [u for i, u in enumerate(t.utterances) if u.role == CLIENT and i not in raised]

    bad = {c: client_turns(c) for c in bad_ids}
    good = {c: client_turns(c) for c in good_ids}
    sources = [c for c in cohorts.best if c in transcripts]
    ranked = rank_phrases(bad, good, language, opts, exclude=covered)
    n_bad = sum(1 for v in bad.values() if v)
    n_good = sum(1 for v in good.values() if v)
    out: list[ObjectionCandidate] = []
    for g, members, occ in ranked:
        # Where else was it said (good calls too)? Distinct clients over every call.
        keys = {stem_key(m, language) for m in members}
        said: dict[str, Utterance] = dict(occ)
        for cid, turns in good.items():
            for u in turns:
                if cid not in said and keys & candidate_phrases(u.text, language, opts).keys():
                    said[cid] = u
        n_clients = len({(clients or {}).get(c) or f"call:{c}" for c in said})
        if n_clients < opts.min_clients:
            continue
        answered = {c: answer_turns(transcripts[c], _index(transcripts[c], said[c]), window) for c in said}
        answers = tuple(
            Example(c, ex.manager, turns[0].start, turns[-1].end, " ".join(u.text for u in turns),
                    ex.cohort, ex.score)
            for c in sorted((c for c in sources if answered.get(c)), key=lambda c: cohorts.order.get(c, 0))
            for turns in [answered[c]] for ex in [example(c, turns[0])]
        )
        # Step phrases from the direct answer (the manager's first utterance after it); what
        # follows in the same run is often the next stage already.
        source_set = set(sources)
        phrases = rank_phrases(
            {c: t[:1] for c, t in answered.items() if c in source_set and t},
            {c: t[:1] for c, t in answered.items() if c not in source_set and t},
            language, opts, speakers=managers,
        )
        client_said = tuple(
            example(c, occ[c]) for c in sorted(occ, key=lambda c: cohorts.order.get(c, 0))
        )
        out.append(ObjectionCandidate(
            id=f"new_objection_{len(out) + 1}", trigger=members[0], variants=tuple(members[1:]),
            bad_calls=len(g.pos), bad_total=n_bad, good_calls=len(g.neg), good_total=n_good,
            lift=g.lift, weight=g.weight, examples=client_said[: opts.examples], said=client_said,
            answers=answers[: opts.examples],
            answer_phrases=_distinct_phrases([m for _, m, _ in phrases], language, 5),
            clients=n_clients,
        ))
        if len(out) >= opts.max_phrases:
            break
    return out


def _distinct_phrases(families: Sequence[Sequence[str]], language: str | None, limit: int) -> tuple[str, ...]:
    """The representative of each family, strongest first, leaving out one that is a
    fragment of a wording kept before ("there's a" of "there's a free shuttle bus")."""
    kept: list[str] = []
    said: list[str] = []  # stem keys of every wording of the families kept
    for members in families:
        key = f" {stem_key(members[0], language)} "
        if any(key in f" {k} " for k in said):
            continue
        kept.append(members[0])
        said += [stem_key(m, language) for m in members]
        if len(kept) >= limit:
            break
    return tuple(kept)


def _index(t: Transcript, u: Utterance) -> int:
    return next(i for i, x in enumerate(t.utterances) if x is u)


def _unmatched(
    transcripts: Mapping[str, Transcript],
    cohorts: Cohorts,
    script: Script,
    rubric: Rubric | None,
    language: str | None,
    opts: MiningOptions,
    examples: Callable[[Mapping[str, Utterance]], tuple[Example, ...]],
    managers: Mapping[str, str | None] | None = None,
) -> list[PhraseGroup]:
    """Manager wording frequent in the best calls that matches no stage (or step) phrase."""
    known: list[tuple[str, float]] = []
    for s in script.stages:
        default = float(s.threshold if s.threshold is not None else script.threshold)
        known += phrase_thresholds(s.phrases, default)
    if rubric is not None:
        for o in rubric.objections:
            for st in o.steps:
                default = float(next((t for t in (st.threshold, o.threshold) if t is not None), rubric.threshold))
                known += phrase_thresholds(st.phrases, default)
    covered = PhraseCover(language, known)

    def speech(cid: str) -> list[Utterance]:
        t = transcripts[cid]
        roles = speaker_roles(t)
        return [u for u in t.utterances if u.role in roles]

    pos = {c: speech(c) for c in cohorts.best if c in transcripts}
    neg = {c: speech(c) for c in cohorts.worst if c in transcripts}
    n_pos = sum(1 for v in pos.values() if v)
    n_neg = sum(1 for v in neg.values() if v)
    return [
        _group("unmatched", None, None, g, members, n_pos, n_neg, examples(occ), opts.examples)
        for g, members, occ in rank_phrases(pos, neg, language, opts, exclude=covered, speakers=managers)[
            : opts.max_phrases
        ]
    ]
