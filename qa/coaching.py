"""Coaching: a short plan for one manager with measurable goals, and the revive list.

Reads what :mod:`qa.scorecards` loads from the workspace and hands on a
:class:`CoachingPlan` (saved in table ``plans``) and a revive-list DataFrame:

- :func:`coach` finds the manager's largest gaps to the team's best quartile. A gap's size
  is ``weight x distance``: the item's share of the score (stage weight / all stage weights;
  an objection type takes the weight of the script stage that applies to it, else the mean
  stage weight) times the distance in percentage points between the manager's rate and the
  team's best quartile; it reads as "score points per call left on the table". Gaps are
  measured within a section (one script in one language, :class:`qa.scorecards.Section`).
  For each of the largest gaps the plan gives the target, two or three examples of how
  colleagues said it in their best calls of the same section (the same script, the same
  language), the manager's own calls to re-listen (each at a distinct moment: where the
  objection was raised, or where the missed stage belonged), and a goal for the next
  period (the best-quartile rate, rounded). Before the new plan, the previous plan (the
  latest one saved for a period that ended before this one starts) is checked goal by goal
  against this period's actual rates.
- :func:`revive_list`: calls where the client raised an objection the manager did not
  handle and no next step was agreed (``scores.next_step`` false; unknown counts as
  agreed): clients worth calling back, with the objection and the moment.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .scorecards import (
    OBJECTION,
    STAGE,
    STEP,
    TEAM,
    Moment,
    TeamData,
    call_items,
    evidence,
    item_rates,
    load_team,
    missed_stage_moments,
    resolve_manager,
    team_benchmarks,
    turns_of,
)
from .store import Workspace
from .transcripts import clock
from .versions import Scope, Version, period_bounds, resolve_versions

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CoachOptions",
    "CoachingPlan",
    "Example",
    "Gap",
    "Goal",
    "GoalCheck",
    "PreviousCheck",
    "Relisten",
    "coach",
    "revive_list",
]

#: The script's "any objection" marker in ``applies_if`` (see ARCHITECTURE.md).
_ANY_OBJECTION = "objection"
#: How many of the best / worst calls to look through for examples and re-listens, and how
#: many are read at a time (most plans are complete after the first few dozen).
_CALL_POOL = 400
_CHUNK = 40


@dataclass(frozen=True)
class CoachOptions:
    """What a coaching plan contains.

    ``gaps``: how many of the largest gaps it keeps (3). ``examples``: colleague examples per
    gap (3; fewer when the team has fewer). ``relisten``: the manager's own calls to re-listen
    per gap (3). ``min_calls``: calls where an item applied that the manager needs before it
    can be a gap, so one odd call does not make a plan (1). ``quote_width``: characters of a
    quote kept (90).
    """

    gaps: int = 3
    examples: int = 3
    relisten: int = 3
    min_calls: int = 1
    quote_width: int = 90

    def __post_init__(self) -> None:
        for name in ("gaps", "examples", "relisten", "min_calls"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.quote_width < 10:
            raise ValueError("quote_width must be >= 10")


@dataclass(frozen=True)
class Example:
    """How a colleague said it in one of their best calls."""

    call_id: str
    manager: str
    seconds: float | None
    quote: str
    score: float
    source: str | None = None

    @property
    def evidence(self) -> str:
        return evidence(self.seconds, self.quote, self.call_id, 200)


@dataclass(frozen=True)
class Relisten:
    """One of the manager's own calls to listen to again, and where."""

    call_id: str
    seconds: float | None
    what: str
    score: float
    quote: str | None = None
    source: str | None = None
    started_at: str | None = None


@dataclass(frozen=True)
class Goal:
    """A measurable goal: ``rate`` (percent) of ``item`` at least ``target`` next period."""

    kind: str
    item_id: str
    title: str
    target: float
    baseline: float | None
    conditional: bool = False
    #: the section (script and language, :class:`qa.scorecards.Section`) the goal is
    #: measured in; None in plans saved before sections, which are measured over all
    section: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in (STAGE, OBJECTION):
            raise ValueError(f"goal kind must be {STAGE} or {OBJECTION}, got {self.kind!r}")
        if not 0 <= self.target <= 100:
            raise ValueError(f"goal target must be a percentage 0-100, got {self.target}")

    @property
    def text(self) -> str:
        if self.kind == OBJECTION:
            return f"handle '{self.title}' in at least {self.target:.0f}% of the times it is raised"
        where = "of the calls where it applies" if self.conditional else "of calls"
        return f"{self.title} in at least {self.target:.0f}% {where}"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Goal:
        return cls(
            kind=str(d["kind"]), item_id=str(d["item_id"]), title=str(d.get("title") or d["item_id"]),
            target=float(d["target"]), baseline=None if d.get("baseline") is None else float(d["baseline"]),
            conditional=bool(d.get("conditional", False)),
            section=None if d.get("section") is None else str(d["section"]),
        )


@dataclass(frozen=True)
class Gap:
    """One gap to the team's best quartile, with what to do about it."""

    kind: str
    item_id: str
    title: str
    weight: float  # share of the score, points of 100
    rate: float
    done: int
    applicable: int
    team_median: float
    team_best_quartile: float
    goal: Goal
    examples: tuple[Example, ...] = ()
    relisten: tuple[Relisten, ...] = ()
    #: the section key and label (script and language) the gap is measured in
    section: str = ""
    section_label: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.section, self.kind, self.item_id)

    @property
    def distance(self) -> float:
        """Percentage points to the team's best quartile."""
        return max(0.0, self.team_best_quartile - self.rate)

    @property
    def impact(self) -> float:
        """Score points per call the gap costs: weight x distance."""
        return self.weight * self.distance / 100.0


@dataclass(frozen=True)
class GoalCheck:
    """A previous goal against this period: ``met`` is None when nothing applied."""

    goal: Goal
    actual: float | None
    done: int
    applicable: int

    @property
    def met(self) -> bool | None:
        if self.actual is None:
            return None
        return self.actual >= self.goal.target - 1e-9

    @property
    def verdict(self) -> str:
        return {True: "met", False: "not met", None: "no data"}[self.met]


@dataclass(frozen=True)
class PreviousCheck:
    """The previous plan, checked goal by goal."""

    plan_id: int
    period_from: str | None
    period_to: str | None
    checks: tuple[GoalCheck, ...]
    note: str | None = None

    @property
    def met(self) -> int:
        return sum(1 for c in self.checks if c.met)


@dataclass
class CoachingPlan:
    """A coaching plan for one manager and period (see :func:`coach`)."""

    manager: str
    period_from: str | None
    period_to: str | None
    versions: list[str]
    calls: int
    mean_score: float | None
    team_mean_score: float | None
    gaps: list[Gap]
    previous: PreviousCheck | None = None
    plan_id: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def goals(self) -> list[Goal]:
        return [g.goal for g in self.gaps]

    # -- outputs --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        def gap(g: Gap) -> dict[str, Any]:
            return {
                "kind": g.kind, "item_id": g.item_id, "title": g.title, "weight": g.weight,
                "section": g.section, "section_label": g.section_label,
                "rate": g.rate, "done": g.done, "applicable": g.applicable,
                "team_median": g.team_median, "team_best_quartile": g.team_best_quartile,
                "distance": g.distance, "impact": g.impact,
                "goal": {**asdict(g.goal), "text": g.goal.text},
                "examples": [{**asdict(e), "time": clock(e.seconds)} for e in g.examples],
                "relisten": [{**asdict(r), "time": clock(r.seconds)} for r in g.relisten],
            }

        prev = None
        if self.previous is not None:
            prev = {
                "plan_id": self.previous.plan_id, "period_from": self.previous.period_from,
                "period_to": self.previous.period_to, "note": self.previous.note,
                "checks": [
                    {"goal": {**asdict(c.goal), "text": c.goal.text}, "actual": c.actual,
                     "done": c.done, "applicable": c.applicable, "met": c.met}
                    for c in self.previous.checks
                ],
            }
        return {
            "manager": self.manager, "period_from": self.period_from, "period_to": self.period_to,
            "versions": self.versions, "calls": self.calls, "mean_score": _num(self.mean_score),
            "team_mean_score": _num(self.team_mean_score), "plan_id": self.plan_id,
            "gaps": [gap(g) for g in self.gaps], "previous": prev, "notes": self.notes,
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """The plan as tables (for csv/xlsx): previous check, gaps, examples, re-listens."""
        import pandas as pd

        checks = [] if self.previous is None else [
            {"goal": c.goal.text, "target": c.goal.target, "baseline": c.goal.baseline,
             "actual": c.actual, "done": c.done, "applicable": c.applicable, "result": c.verdict}
            for c in self.previous.checks
        ]
        gaps = [
            {"#": n, "kind": g.kind, "item": g.title, "rate": g.rate, "team_median": g.team_median,
             "team_best_quartile": g.team_best_quartile, "weight": g.weight,
             "points_per_call": g.impact, "goal": g.goal.text}
            for n, g in enumerate(self.gaps, start=1)
        ]
        examples = [
            {"#": n, "item": g.title, "manager": e.manager, "call_id": e.call_id,
             "time": clock(e.seconds), "quote": e.quote, "score": e.score, "source": e.source}
            for n, g in enumerate(self.gaps, start=1) for e in g.examples
        ]
        relisten = [
            {"#": n, "item": g.title, "call_id": r.call_id, "time": clock(r.seconds), "what": r.what,
             "quote": r.quote, "score": r.score, "started_at": r.started_at, "source": r.source}
            for n, g in enumerate(self.gaps, start=1) for r in g.relisten
        ]
        return {
            "previous_plan": pd.DataFrame(checks, columns=["goal", "target", "baseline", "actual", "done", "applicable", "result"]),
            "gaps": pd.DataFrame(gaps, columns=["#", "kind", "item", "rate", "team_median", "team_best_quartile", "weight", "points_per_call", "goal"]),
            "examples": pd.DataFrame(examples, columns=["#", "item", "manager", "call_id", "time", "quote", "score", "source"]),
            "relisten": pd.DataFrame(relisten, columns=["#", "item", "call_id", "time", "what", "quote", "score", "started_at", "source"]),
        }

    def to_markdown(self) -> str:
        """The plan as a short Markdown document a head of sales can send."""
        period = _period_text(self.period_from, self.period_to)
        lines = [f"# Coaching plan: {self.manager}", ""]
        score = "" if self.mean_score is None else f", mean score {self.mean_score:.1f}"
        team = "" if self.team_mean_score is None else f" (team {self.team_mean_score:.1f})"
        lines += [f"Period {period}: {self.calls} call(s){score}{team}.", ""]
        if self.previous is not None:
            p = self.previous
            lines += [
                f"## Previous plan ({_period_text(p.period_from, p.period_to)}): "
                f"{p.met} of {len(p.checks)} goal(s) met",
                "",
            ]
            for c in p.checks:
                actual = "no calls" if c.actual is None else f"{c.actual:.0f}% ({c.done}/{c.applicable})"
                lines.append(f"- **{c.verdict}**: {c.goal.text}; actual {actual}")
            if p.note:
                lines.append(f"- note: {p.note}")
            lines.append("")
        if not self.gaps:
            lines += ["No gap to the team's best quartile in this period.", ""]
        several = len({g.section for g in self.gaps}) > 1  # a manager on two scripts
        for n, g in enumerate(self.gaps, start=1):
            lines += [
                f"## {n}. {g.title}" + (f" ({g.section_label})" if several and g.section_label else ""),
                "",
                f"- Now: {g.rate:.0f}% ({g.done}/{g.applicable}); team median {g.team_median:.0f}%, "
                f"best quartile {g.team_best_quartile:.0f}% (about {g.impact:.1f} score points per call)",
                f"- Goal for the next period: {g.goal.text}",
            ]
            if g.examples:
                lines.append("- How colleagues say it:")
                lines += [f"  - {e.evidence}, {e.manager}" for e in g.examples]
            if g.relisten:
                lines.append("- Re-listen:")
                lines += [f"  - {_relisten_text(r)}" for r in g.relisten]
            lines.append("")
        for note in self.notes:
            lines.append(f"> {note}")
        return "\n".join(lines).rstrip() + "\n"


def _relisten_text(r: Relisten) -> str:
    where = clock(r.seconds) or "whole call"
    quote = f' "{r.quote}"' if r.quote else ""
    return f"{where} ({r.call_id}): {r.what}{quote}"


def _period_text(lo: str | None, hi: str | None) -> str:
    if lo and hi:
        return lo if lo == hi else f"{lo} … {hi}"
    return lo or hi or "all days"


def _num(v: Any) -> Any:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


# ---- gaps --------------------------------------------------------------------------------------
def _weights(data: TeamData, section: str) -> tuple[dict[str, float], dict[str, float]]:
    """Points of 100 per stage, and per objection type, in one section (see the module docstring)."""
    cat = data.catalog[data.catalog["section"] == section]
    stages = cat[cat["kind"] == STAGE]
    total = float(stages["weight"].sum())
    if total <= 0:
        return {}, {}
    stage_w = {i: float(w) * 100.0 / total for i, w in zip(stages["item_id"], stages["weight"])}
    mean_w = sum(stage_w.values()) / len(stage_w)
    any_w = [stage_w[i] for i, a in zip(stages["item_id"], stages["applies_if"]) if _ANY_OBJECTION in str(a or "").split(",")]
    objection_w: dict[str, float] = {}
    for oid in cat.loc[cat["kind"] == OBJECTION, "item_id"]:
        own = [stage_w[i] for i, a in zip(stages["item_id"], stages["applies_if"]) if oid in str(a or "").split(",")]
        objection_w[oid] = (own or any_w or [mean_w])[0]
    return stage_w, objection_w


def _conditional(data: TeamData, section: str) -> set[str]:
    """Stages of a section that can be not applicable (applies_if, or seen as na)."""
    cat = data.catalog[(data.catalog["kind"] == STAGE) & (data.catalog["section"] == section)]
    out = {i for i, a in zip(cat["item_id"], cat["applies_if"]) if a}
    c = data.counts
    out |= set(c.loc[(c["kind"] == STAGE) & (c["status"] == "na") & (c["section"] == section), "item_id"])
    return out


def _gap_candidates(data: TeamData, manager: str, opts: CoachOptions) -> list[Gap]:
    """Every item where the manager is behind the team's best quartile, in each section of
    the manager's calls, largest first."""
    titles = {(sk, k, i): str(t) for sk, k, i, t in
              zip(data.catalog["section"], data.catalog["kind"], data.catalog["item_id"], data.catalog["title"])}
    labels = data.section_labels()
    rates = {kind: item_rates(data, kind) for kind in (STAGE, OBJECTION)}
    bench = {kind: team_benchmarks(r).set_index(["section", "item_id"]) for kind, r in rates.items()}
    out: list[Gap] = []
    for section in data.sections_of(manager):
        stage_w, objection_w = _weights(data, section)
        conditional = _conditional(data, section)
        for kind, weights in ((STAGE, stage_w), (OBJECTION, objection_w)):
            r = rates[kind]
            mine = r[(r["manager"] == manager) & (r["section"] == section)
                     & (r["applicable"] >= max(1, opts.min_calls))]
            for row in mine.itertuples():
                if (section, row.item_id) not in bench[kind].index or row.item_id not in weights:
                    continue
                b = bench[kind].loc[(section, row.item_id)]
                best = float(b["team_best_quartile"])
                if not best > float(row.rate) + 1e-9:
                    continue
                title = titles.get((section, kind, row.item_id), row.item_id)
                out.append(Gap(
                    kind=kind, item_id=row.item_id, title=title, weight=weights[row.item_id],
                    rate=float(row.rate), done=int(row.done), applicable=int(row.applicable),
                    team_median=float(b["team_median"]), team_best_quartile=best,
                    goal=Goal(kind, row.item_id, title, target=float(round(best)), baseline=float(row.rate),
                              conditional=row.item_id in conditional, section=section),
                    section=section, section_label=labels.get(section, section),
                ))
    out.sort(key=lambda g: (-round(g.impact, 9), g.kind != STAGE, g.title, g.section))
    return out


def _by_call(items: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Item rows as plain dicts grouped by call, in stored (script) order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in items.to_dict("records"):
        out.setdefault(rec["call_id"], []).append(rec)
    return out


def _walk(ws: Workspace, pool: pd.DataFrame, kinds: list[str]) -> Iterator[tuple[str, float, list[dict[str, Any]]]]:
    """(call_id, score, items) in pool order, read a chunk of calls at a time, so a caller
    that has found what it needs after the first calls stops reading."""
    rows = list(zip(pool["call_id"], pool["script_hash"], pool["rubric_hash"], pool["score"]))
    for start in range(0, len(rows), _CHUNK):
        part = rows[start:start + _CHUNK]
        calls = _by_call(call_items(ws, [(c, s, r) for c, s, r, _ in part], kinds=kinds))
        for cid, _, _, score in part:
            yield cid, float(score), calls.get(cid, [])


def _top(frame: pd.DataFrame, n: int, *, best: bool) -> pd.DataFrame:
    """The n best (or worst) calls by score, ties latest first, without sorting every call."""
    if len(frame) > n:
        cut = frame["score"].nlargest(n).min() if best else frame["score"].nsmallest(n).max()
        frame = frame[frame["score"] >= cut] if best else frame[frame["score"] <= cut]
    ordered = frame.sort_values(["score", "started_at"], ascending=[not best, False], kind="stable")
    return ordered.head(n)


def _example(cid: str, score: float, items: list[dict[str, Any]], g: Gap, opts: CoachOptions) -> Example | None:
    """How this call did the gap's item: the stage quote, or the handling steps' quotes."""
    if g.kind == STAGE:
        it = next((it for it in items if it["kind"] == STAGE and it["item_id"] == g.item_id
                   and it["status"] == "found" and _text(it)), None)
        if it is None:
            return None
        return Example(cid, it["manager"], _f(it["start"]), _cut(it["text"], opts), score, it["source"])
    if not any(it["kind"] == OBJECTION and it["item_id"] == g.item_id and it["status"] == "handled" for it in items):
        return None
    steps = sorted(
        (it for it in items if it["kind"] == STEP and str(it["item_id"]).startswith(f"{g.item_id}.")
         and it["status"] == "found" and _text(it)),
        key=lambda it: _f(it["start"]) or 0.0,
    )
    if not steps:
        return None
    quote = " … ".join(dict.fromkeys(" ".join(str(it["text"]).split()) for it in steps))
    return Example(cid, steps[0]["manager"], _f(steps[0]["start"]), _cut(quote, opts), score, steps[0]["source"])


def _examples(ws: Workspace, data: TeamData, manager: str, gaps: list[Gap], opts: CoachOptions) -> dict[tuple[str, str, str], tuple[Example, ...]]:
    """Colleagues' quotes for each gap from their best calls: distinct managers first.

    Only calls of the gap's section (the same script in the same language) are examples:
    an English manager is not taught from Russian calls, nor an inbound call's needs
    discovery from a cold call. With no such colleague the gap has no examples.
    """
    if not gaps or opts.examples == 0:
        return {}
    found: dict[tuple[str, str, str], list[Example]] = {g.key: [] for g in gaps}
    for section in dict.fromkeys(g.section for g in gaps):
        wanted = [g for g in gaps if g.section == section]
        pool = _colleagues_best(ws, data, manager, section, _CALL_POOL)
        for cid, score, items in _walk(ws, pool, [STAGE, OBJECTION, STEP]):  # best call first
            for g in wanted:
                ex = _example(cid, score, items, g, opts)
                if ex is not None:
                    found[g.key].append(ex)
            # enough when every gap has its examples from different managers (what _diverse keeps)
            if all(len(_diverse(found[g.key], opts.examples)) >= opts.examples
                   and len({e.manager for e in _diverse(found[g.key], opts.examples)}) >= opts.examples
                   for g in wanted):
                break
    return {key: tuple(_diverse(f, opts.examples)) for key, f in found.items()}


def _colleagues_best(ws: Workspace, data: TeamData, manager: str, section: str, n: int) -> pd.DataFrame:
    """The n best-scored calls of the other managers in one section (ties: latest first)."""
    import pandas as pd

    v = next(sec.version for sec in data.sections if sec.key == section)
    # The score of the n-th best call, from the colleagues' score histograms: SQLite then
    # hands over only the calls at or above it instead of sorting the whole team.
    hist: dict[float, int] = {}
    for (m, sk), t in data.per_manager_section.items():
        if m is not None and m != manager and sk == section:
            for text, count in t.scores.items():
                hist[float(text)] = hist.get(float(text), 0) + count
    cut, seen = float("-inf"), 0
    for value in sorted(hist, reverse=True):
        seen += hist[value]
        if seen >= n:
            cut = value
            break
    frm, params = data.scope.where()
    rows = ws.query(
        f"""SELECT c.call_id, s.script_hash, s.rubric_hash, s.score {frm}
            AND c.manager IS NOT NULL AND c.manager <> ? AND s.script_hash = ? AND s.rubric_hash = ?
            AND s.score >= ? ORDER BY s.score DESC, c.started_at DESC LIMIT ?""",
        [*params, manager, v.script_hash, v.rubric_hash, cut if cut != float("-inf") else -1e308, n],
    )
    return pd.DataFrame.from_records(rows, columns=["call_id", "script_hash", "rubric_hash", "score"])


def _text(it: Mapping[str, Any]) -> bool:
    t = it.get("text")
    return isinstance(t, str) and bool(t.strip())


def _diverse(examples: list[Example], n: int) -> list[Example]:
    """Up to n examples: one per manager first (best call first), no repeated quote."""
    picked: list[Example] = []
    quotes: set[str] = set()
    for pass_ in (0, 1):
        seen_managers = {e.manager for e in picked}
        for e in examples:
            if len(picked) >= n:
                return picked
            key = " ".join(e.quote.casefold().split())
            if e in picked or key in quotes or (pass_ == 0 and e.manager in seen_managers):
                continue
            picked.append(e)
            quotes.add(key)
            seen_managers.add(e.manager)
    return picked


def _relistens(ws: Workspace, data: TeamData, manager: str, gaps: list[Gap], opts: CoachOptions) -> dict[tuple[str, str, str], tuple[Relisten, ...]]:
    """The manager's own calls where each gap shows, lowest score first, with the moment.

    An unhandled objection points at the client's words. A missed stage has no evidence of
    its own: it points at where it belonged (:func:`qa.scorecards.missed_stage_moments`:
    the manager's words said instead, or the stage it should have come before). No two
    re-listens of a plan point at the same second of the same call: a second gap in a call
    takes its next moment there, or another call.
    """
    if not gaps or opts.relisten == 0:
        return {}
    mine = data.calls_of(ws, manager)
    out: dict[tuple[str, str, str], list[Relisten]] = {g.key: [] for g in gaps}
    used: dict[str, set[float | None]] = {}  # call -> seconds already pointed at
    for section in dict.fromkeys(g.section for g in gaps):
        # an objection gap first: the client's words are its own moment, while a missed stage
        # that answers objections can point at another objection or where it belonged
        wanted = sorted((g for g in gaps if g.section == section), key=lambda g: g.kind != OBJECTION)
        cat = data.catalog[(data.catalog["section"] == section) & (data.catalog["kind"] == STAGE)]
        applies = {i: str(a or "") for i, a in zip(cat["item_id"], cat["applies_if"])}
        pool = _top(mine[mine["section"] == section], _CALL_POOL, best=False)
        for cid, score, items in _walk(ws, pool, [STAGE, OBJECTION]):  # lowest score first
            turns: list[Any] | None = None
            for g in wanted:
                picks = out[g.key]
                if len(picks) >= opts.relisten:
                    continue
                if g.kind == STAGE:
                    miss = next((it for it in items if it["kind"] == STAGE and it["item_id"] == g.item_id
                                 and it["status"] == "missed"), None)
                    if miss is None:
                        continue
                    if turns is None:
                        turns = turns_of(ws, [cid]).get(cid, [])
                    # nothing said in the call to point at: the whole call, for one gap only
                    moments = missed_stage_moments(items, turns, applies).get(g.item_id) or [Moment(None, None, "")]
                    m = _unused(moments, used.setdefault(cid, set()))
                    if m is None:
                        continue  # every moment of this call is taken by another gap
                    what = f"{g.title} missed" + (f"; {m.where}" if m.where else "")
                    quote = _cut(m.quote, opts) if m.quote else None
                    picks.append(Relisten(cid, m.seconds, what, score, quote, miss["source"], miss["started_at"]))
                else:
                    misses = [it for it in items if it["kind"] == OBJECTION and it["item_id"] == g.item_id
                              and it["status"] == "unhandled"]
                    m = _unused([Moment(_f(it["start"]), it["text"] if _text(it) else None, "") for it in misses],
                                used.setdefault(cid, set()))
                    if m is None:
                        continue
                    picks.append(Relisten(
                        cid, m.seconds, f"'{g.title}' raised by the client, not handled",
                        score, _cut(m.quote, opts) if m.quote else None,
                        misses[0]["source"], misses[0]["started_at"],
                    ))
            if all(len(out[g.key]) >= opts.relisten for g in wanted):
                break
    return {key: tuple(p) for key, p in out.items()}


def _unused(moments: list[Moment], used: set[float | None]) -> Moment | None:
    """The first moment at a second not pointed at yet (marked used), else None."""
    for m in moments:
        key = None if m.seconds is None else round(m.seconds, 2)
        if key not in used:
            used.add(key)
            return m
    return None


def _f(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def _cut(text: Any, opts: CoachOptions) -> str:
    t = " ".join(str(text or "").split())
    return t if len(t) <= opts.quote_width else t[: opts.quote_width - 1].rstrip() + "…"


# ---- previous plan -------------------------------------------------------------------------
def _check_previous(ws: Workspace, data: TeamData, manager: str, start: str | None) -> PreviousCheck | None:
    """The latest plan saved for a period that ended before ``start``, checked goal by goal."""
    plans = ws.plans(manager)
    if start is not None:
        plans = [p for p in plans if p["period_to"] and p["period_to"] < start]
    if not plans:
        return None
    prev = plans[-1]
    goals = [Goal.from_dict(g["goal"]) for g in prev["plan"].get("gaps", []) if g.get("goal")]
    rates = {kind: item_rates(data, kind) for kind in (STAGE, OBJECTION)}
    checks = []
    for goal in goals:
        r = rates[goal.kind]
        row = r[(r["manager"] == manager) & (r["item_id"] == goal.item_id)]
        if goal.section is not None:  # measured in the goal's script and language
            row = row[row["section"] == goal.section]
        done = int(row["done"].sum())
        applicable = int(row["applicable"].sum())
        actual = done * 100.0 / applicable if applicable else None
        checks.append(GoalCheck(goal, actual, done, applicable))
    note = None
    current = {v.script_hash for v in data.scope.versions}
    if prev.get("script_hash") and prev["script_hash"] not in current:
        note = (
            f"the previous plan was made under script version {str(prev['script_hash'])[:8]}; "
            "this period is scored under another, so rates may shift with the script"
        )
    return PreviousCheck(int(prev["id"]), prev["period_from"], prev["period_to"], tuple(checks), note)


# ---- entry points ------------------------------------------------------------------------------
def coach(
    ws: Workspace,
    manager: str,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    version: str | Version | tuple[str, str] | None = None,
    options: CoachOptions | None = None,
    save: bool = True,
    data: TeamData | None = None,
) -> CoachingPlan:
    """Build (and by default save) a coaching plan for one manager and period.

    The previous plan, if any, is checked first (``plan.previous``). Raises
    :class:`~qa.errors.NotFoundError` for an unknown manager. A period without the
    manager's calls gives a plan without gaps (not saved) whose ``notes`` say so.
    """
    opts = options or CoachOptions()
    data = data or load_team(ws, date_from, date_to, version=version)
    manager = resolve_manager(ws, manager, data.known_managers)
    mine = data.calls_of(ws, manager)
    days = mine["day"].dropna()
    period_from = data.scope.date_from or (str(days.min()) if len(days) else None)
    period_to = data.scope.date_to or (str(days.max()) if len(days) else None)
    notes = data.notes(manager)
    from .disputes import notes_for  # supervisor overrides (qa dispute)

    notes.extend(notes_for(ws, mine["call_id"]))
    previous = _check_previous(ws, data, manager, period_from)
    gaps: list[Gap] = []
    if mine.empty:
        notes.insert(0, f"no scored calls for {manager} in {data.scope.label}; no plan made")
    else:
        candidates = _gap_candidates(data, manager, opts)[: opts.gaps]
        examples = _examples(ws, data, manager, candidates, opts)
        relisten = _relistens(ws, data, manager, candidates, opts)
        gaps = [
            Gap(**{**_gap_fields(g), "examples": examples.get(g.key, ()), "relisten": relisten.get(g.key, ())})
            for g in candidates
        ]
        if len(data.managers) < 2:
            notes.append("the team has one manager in this period: there is nobody to compare with")
    plan = CoachingPlan(
        manager=manager, period_from=period_from, period_to=period_to,
        versions=[v.label for v in data.scope.versions], calls=len(mine),
        mean_score=data.totals(manager=manager).mean() if len(mine) else None,
        team_mean_score=data.totals(manager=TEAM).mean(),
        gaps=gaps, previous=previous, notes=notes,
    )
    if save and not mine.empty:
        v = data.scope.versions[0]
        plan.plan_id = ws.save_plan(
            manager, plan.to_dict(), period_from=period_from, period_to=period_to,
            script_hash=v.script_hash, rubric_hash=v.rubric_hash,
        )
    return plan


def _gap_fields(g: Gap) -> dict[str, Any]:
    return {f: getattr(g, f) for f in Gap.__dataclass_fields__}


def revive_list(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    manager: str | None = None,
    *,
    version: str | Version | tuple[str, str] | None = None,
    quote_width: int = 90,
) -> pd.DataFrame:
    """Calls with an unhandled objection and no next step agreed, newest first.

    One row per call: ``started_at, client_phone, manager, call_id, objections`` (titles,
    ``; ``-joined), ``time`` (``seconds`` as a clock) and ``quote`` of the first unhandled objection, ``moments``
    (all of them as ``mm:ss "quote"``), ``score``, ``source``, ``seconds``.

    Runs in phases: :func:`_revive_calls` reads one row per call from the scores in scope
    (each score keeps its unhandled objections, ``scores.unhandled_objections``, so the
    items of 100,000 calls are never looked up), :func:`_newest_first` orders them, and
    :func:`_revive_frame` formats the moments into the frame.
    """
    import pandas as pd

    if manager is not None:
        manager = resolve_manager(ws, manager)
    scope = Scope(resolve_versions(ws, version), *period_bounds(date_from, date_to))
    rows = _newest_first(_revive_calls(ws, scope, manager))
    if not rows:
        return pd.DataFrame(columns=_REVIVE_COLUMNS)
    return _revive_frame(rows, quote_width)


#: The revive list's columns, in order.
_REVIVE_COLUMNS = ["started_at", "client_phone", "manager", "call_id", "objections", "time", "quote",
                   "moments", "score", "source", "seconds"]


def _revive_calls(ws: Workspace, scope: Scope, manager: str | None) -> list[tuple[Any, ...]]:
    """``(started_at, call_id, client_phone, manager, source, score, unhandled_objections)``
    of each call in scope with an unhandled objection and no next step (``next_step`` 0;
    unknown counts as agreed), in no particular order."""
    frm, params = scope.where(manager=manager)
    return ws.query(
        f"""SELECT c.started_at, c.call_id, c.client_phone, c.manager, c.source, s.score, s.unhandled_objections
            {frm} AND s.next_step = 0 AND s.unhandled_objections IS NOT NULL""",
        params,
    )


def _newest_first(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``ORDER BY started_at DESC, call_id`` (calls without a start last), in Python: SQLite's
    sorter would carry every row's objections along (a quarter of the query's time)."""
    timed = [r for r in rows if r[0] is not None]
    untimed = [r for r in rows if r[0] is None]
    for part in (timed, untimed):
        part.sort(key=itemgetter(1))  # call id, then (stable) newest first
    timed.sort(key=itemgetter(0), reverse=True)
    return timed + untimed


def _revive_frame(rows: list[tuple[Any, ...]], quote_width: int) -> pd.DataFrame:
    """One frame row per call: the objection titles, the first one's time and quote, and
    every moment as ``mm:ss "quote"`` (``evidence(seconds, text, None, quote_width)``)."""
    import pandas as pd

    # one JSON document for all calls: decoding it is a third of decoding each call's own
    objections_of = json.loads("[" + ",".join(r[6] for r in rows) + "]")
    quoted: dict[Any, str] = {}  # text -> its '"quote"' as evidence() writes it ("" when none)
    clocks: dict[Any, str] = {}  # whole seconds -> clock(seconds): calls are minutes long

    def moment(start: float | None, text: str | None) -> tuple[str, str]:
        """``(clock, '"quote"')`` of one objection, each made once per value."""
        second = None if start is None else int(start)  # clock() shows whole seconds
        at = clocks.get(second)
        if at is None:
            at = clocks[second] = clock(start)
        q = quoted.get(text)
        if q is None:
            q = quoted[text] = evidence(None, text, None, quote_width)
        return at, q

    # column lists, not a list of dicts: pandas builds a frame from columns several times faster
    cols: dict[str, list[Any]] = {c: [] for c in _REVIVE_COLUMNS}
    appends = [cols[c].append for c in _REVIVE_COLUMNS]
    (started_at_, client_phone_, manager_, call_id_, objections_, time_, quote_, moments_,
     score_, source_, seconds_) = appends
    for (started_at, call_id, phone, mgr, source, score, _), objections in zip(rows, objections_of):
        item_id, title, start, text = objections[0]
        at, q = moment(start, text)
        first = f"{at} {q}" if at and q else at or q  # = evidence(start, text, None, quote_width)
        if len(objections) == 1:  # most calls
            objections_(str(title or item_id))
            moments_(first)
        else:
            titles, said = {str(title or item_id): None}, [first]
            for item_id, title, other, text in objections[1:]:
                titles[str(title or item_id)] = None
                o_at, o_q = moment(other, text)
                said.append(f"{o_at} {o_q}" if o_at and o_q else o_at or o_q)
            objections_("; ".join(titles))
            moments_("; ".join(said))
        started_at_(started_at)
        client_phone_(phone)
        manager_(mgr)
        call_id_(call_id)
        time_(at)
        quote_(q[1:-1])  # without its quotation marks; "" when there is no quote
        score_(float(score))
        source_(source)
        seconds_(start)
    return pd.DataFrame(cols, columns=_REVIVE_COLUMNS)
