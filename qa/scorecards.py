"""Scorecards: one manager's numbers against the team, the team leaderboard, the outcome link.

This step reads the workspace (tables ``calls``, ``scores``, ``items``, ``configs``; the
transcripts only of the few calls whose moments it lists) and hands pandas DataFrames on to :mod:`qa.coaching`, the reports and the CLI:

- :func:`scorecard` -> :class:`Scorecard`: calls scored, mean and median score, trend by day
  or week, per-stage completion against the team median and the team's best quartile,
  objection handling per objection type, forbidden phrases with examples, talk metrics
  against the team, rank in the team, the worst and the best calls with their evidence
  moments (a missed stage points at where it belonged: :func:`missed_stage_moments`);
- :func:`team`: the leaderboard, one row per manager with the same columns;
- :func:`outcome_link`: where calls carry a deal outcome, the won rate when each stage (or
  objection handling) was done vs not done, with counts.

Conventions. Rates are percentages (0-100). A stage's rate counts only the calls where it
applied (``na`` is left out); an objection's rate is handled / raised. Team benchmarks are
taken over managers, not pooled calls: the team median is the median of the managers'
rates and the best quartile their 75th percentile (linear interpolation), so one busy
manager does not set the bar alone. Calls without a manager are counted in notes, never
ranked and never part of the team benchmarks.

Sections. Stages, objections and forbidden phrases are compared within a :class:`Section`:
one script file in one language (``real_estate_inbound.en``). Stage ids repeat across
scripts and translations, but an English greeting is not counted under the Russian
script's «Приветствие», and a cold call's greeting not under the inbound script's: each
section has its own titles (from its script), rates and team benchmarks, and a team with
two languages or scripts gets a table per section. Scores, talk metrics and ranks are
language-neutral and count every call.

Versions. A score belongs to one (script_hash, rubric_hash) version. By default the views
use, for each script file (``real_estate_inbound`` in ``real_estate_inbound.ru.yaml``) and
language, the version most recently scored with: translations of a script and different
scripts (inbound and cold calls) count together, while an edit of a file supersedes its
older versions. Calls in the period scored only under superseded versions are kept apart
and reported in ``notes``; ``version=`` picks another version by hash prefix. Within the
chosen versions each call counts once (its latest score).

Speed. A view does not read one row per call. The store keeps, per version, manager and
day, the totals of the scores (table ``score_totals``, kept by every save of a score and
every change of a call's manager or day): calls, a histogram of the scores, exact sums of
the scores and key talk metrics, next step and critical counts, item statuses. The views
merge those (:class:`Totals`; about 2,000 rows for 100,000 calls over 90 days) and read
per-call rows only for the manager shown and the colleagues' best calls. Exact sums make
the numbers the same as a count over the per-call rows (``load_team(from_totals=False)``,
used when a view asks for metrics the totals do not keep), which
tests/test_supervisor_fast.py checks after rescoring, an edit, a translation and a moved
call. BENCHMARKS.md, "Supervisor views", has the timings.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, QAError
from .store import (
    EXACT_BITS,
    FIELD_SEP,
    KEY_METRICS,
    TOKEN_KINDS,
    TOKEN_SEP,
    Workspace,
    exact,
    unpack_exact,
)
from .transcripts import clock
from .versions import (
    Scope,
    Version,
    _period_bounds,
    parse_day,
    resolve_versions,
    script_family,
    versions,
)
from .versions import parsed_rubric as _parsed_rubric
from .versions import parsed_script as _parsed_script

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qa")

STAGE, OBJECTION, STEP, FORBIDDEN, ORDER = "stage", "objection", "step", "forbidden", "order"
#: Trend buckets.
PERIODS = ("day", "week")
#: Prefixes of the wide leaderboard columns (``stage:needs``, ``objection:price``, ``talk:questions``).
STAGE_COL, OBJECTION_COL, TALK_COL = "stage:", "objection:", "talk:"
#: Rows of metrics JSON sampled to discover the talk-metric names of a version.
_METRIC_SAMPLE = 200
#: Talk metrics (``qa.metrics`` keys) the views compare by default, when the scores carry
#: them: talk share, longest monologue, questions, interruptions, long silences, speech rate
#: (``load_team(metrics=...)`` reads others).
KEY_TALK_METRICS = KEY_METRICS

__all__ = [
    "KEY_TALK_METRICS",
    "PERIODS",
    "Moment",
    "Scope",
    "Scorecard",
    "ScorecardOptions",
    "TeamData",
    "Version",
    "clock",
    "evidence",
    "load_team",
    "outcome_link",
    "parse_day",
    "resolve_manager",
    "resolve_versions",
    "missed_stage_moments",
    "rate_column",
    "scorecard",
    "script_family",
    "Section",
    "team",
    "turns_of",
    "versions",
]


# ---- small helpers ------------------------------------------------------------------------
def evidence(seconds: float | None, quote: str | None, call_id: str | None = None, width: int = 70) -> str:
    """One evidence moment as a supervisor reads it: ``12:05 "quote…" (call_id)``."""
    text = " ".join(str(quote or "").split())
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    parts = [p for p in (clock(seconds), f'"{text}"' if text else "") if p]
    if call_id:
        parts.append(f"({call_id})")
    return " ".join(parts)



def _pct(num: Any, den: Any) -> Any:
    """num / den * 100 with NaN where den is 0 (works on scalars and Series)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(den) > 0, np.asarray(num, dtype=float) * 100.0 / np.asarray(den, dtype=float), np.nan)


def _json_path(key: str) -> str:
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in key.split("."))


# ---- loading the team ----------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """One script in one language: the unit whose stages and objections are compared.

    Stage ids repeat across scripts and their translations (``greeting`` of the inbound
    script in Russian and in English, of the cold-call script): rates, team benchmarks,
    titles and coaching examples are taken within a section, never across them. ``key``
    is ``<script file>.<language>`` (``real_estate_inbound.en``); ``label`` is for people.
    """

    key: str
    label: str
    version: Version


def _sections(ws: Workspace, scope: Scope) -> tuple[Section, ...]:
    """One section per version in scope (the rule of :mod:`qa.versions` keeps one version
    per script file and language; an explicit ``--version`` list may name two edits of one
    file, which then get the hash in their key)."""
    out: list[Section] = []
    seen: set[str] = set()
    for v in scope.versions:
        key = f"{script_family(ws, v.script_hash)}.{v.language or '?'}"
        if key in seen:
            key = f"{key}:{v.script_hash[:8]}"
        seen.add(key)
        name = v.script_name or v.script_hash[:8]
        out.append(Section(key, f"{name} ({v.language})" if v.language else name, v))
    return tuple(out)


#: ``TeamData.totals(manager=TEAM)``: every call that has a manager.
TEAM = object()


@dataclass
class Totals:
    """What the views count of a group of calls (one manager, section and day, or merged).

    ``scores``: score (its ``repr``) -> calls, a histogram, so medians are exact;
    ``score_sum``: the exact sum of the scores; ``metrics``: talk metric -> [exact sum,
    calls with it]; ``tokens``: kind -> item token (``item_id<US>status``, as in
    ``scores.tokens_*``) -> times.
    Exact sums are integers in units of 2**-1074 (every double is a whole number of them:
    :func:`qa.store.exact`): a mean is the correctly rounded mean of the per-call values
    whatever order they were added in, so the totals :mod:`qa.store` keeps and a count over
    the per-call rows agree exactly, and merging is integer addition.
    """

    n: int = 0
    scores: dict[str, int] = field(default_factory=dict)
    score_sum: int = 0
    next_done: int = 0
    next_known: int = 0
    critical: int = 0
    metrics: dict[str, list[int]] = field(default_factory=dict)
    tokens: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, score: float, next_step: Any, critical: Any, metrics: Mapping[str, Any],
            tokens: Mapping[str, str | None], sign: int = 1) -> None:
        """Add (or with ``sign=-1`` take out) one call."""
        self.n += sign
        key = repr(float(score))
        self.scores[key] = self.scores.get(key, 0) + sign
        self.score_sum += sign * exact(score)
        if next_step is not None and next_step == next_step:
            self.next_done += sign * int(next_step)
            self.next_known += sign
        self.critical += sign * int(bool(critical))
        for name, value in metrics.items():
            if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                continue
            acc = self.metrics.setdefault(name, [0, 0])
            acc[0] += sign * exact(value)
            acc[1] += sign
        for kind, text in tokens.items():
            if text is not None:
                counter = self.tokens.setdefault(kind, {})
                for token in text.split(TOKEN_SEP):
                    counter[token] = counter.get(token, 0) + sign

    def merge(self, other: Totals) -> None:
        self.n += other.n
        _add_counts(self.scores, other.scores)
        self.score_sum += other.score_sum
        self.next_done += other.next_done
        self.next_known += other.next_known
        self.critical += other.critical
        for name, (total, count) in other.metrics.items():
            acc = self.metrics.setdefault(name, [0, 0])
            acc[0] += total
            acc[1] += count
        for kind, counter in other.tokens.items():
            _add_counts(self.tokens.setdefault(kind, {}), counter)

    @classmethod
    def from_store(cls, t: Mapping[str, Any]) -> Totals:
        """A row of ``score_totals`` (see ``Workspace._totals_merge``)."""
        done, known = t.get("next", [0, 0])
        return cls(
            n=int(t.get("n", 0)), scores=dict(t.get("score", {})), score_sum=unpack_exact(t.get("sum", "0")),
            next_done=int(done), next_known=int(known), critical=int(t.get("critical", 0)),
            metrics={k: [unpack_exact(total), int(count)] for k, (total, count) in t.get("metrics", {}).items()},
            tokens={k: dict(v) for k, v in t.get("tokens", {}).items()},
        )

    def clean(self) -> Totals:
        """Without the zero entries a take-out leaves (for comparing two totals)."""
        return Totals(
            self.n, {k: v for k, v in self.scores.items() if v}, self.score_sum, self.next_done,
            self.next_known, self.critical, {k: v for k, v in self.metrics.items() if v[1]},
            {k: c for k, c in ((k, {t: n for t, n in v.items() if n}) for k, v in self.tokens.items()) if c},
        )

    def mean(self) -> float | None:
        return exact_mean(self.score_sum, self.n) if self.n > 0 else None

    def median(self) -> float | None:
        """The middle score (the mean of the two middle ones for an even count)."""
        if self.n <= 0:
            return None
        lo, hi = (self.n - 1) // 2, self.n // 2
        seen, a, b = 0, None, None
        for value, count in sorted((float(v), c) for v, c in self.scores.items() if c > 0):
            seen += count
            if a is None and seen > lo:
                a = value
            if seen > hi:
                b = value
                break
        assert a is not None and b is not None
        return a if a == b else (a + b) / 2.0

    def next_step_rate(self) -> float:
        return self.next_done * 100.0 / self.next_known if self.next_known else float("nan")

    def metric_mean(self, key: str) -> float:
        total, count = self.metrics.get(key, [0, 0])
        return exact_mean(total, count) if count else float("nan")


def _add_counts(into: dict[str, int], other: Mapping[str, int]) -> None:
    get = into.get
    for k, v in other.items():
        into[k] = get(k, 0) + v


def exact_mean(total: int, n: int) -> float:
    """The correctly rounded mean of values whose exact sum is ``total`` (units of 2**-1074)."""
    from fractions import Fraction

    return float(Fraction(total, n << EXACT_BITS))


@dataclass
class TeamData:
    """Everything the views compute from, loaded once for a scope.

    ``calls``: one row per scored call in scope (all managers, and calls without one):
    ``call_id, manager, day, started_at, score, critical, next_step, script_hash,
    rubric_hash`` and one column per talk metric. ``counts``: item rows per ``manager, kind,
    item_id, status`` (``n``). ``catalog``: ``kind, item_id, title, weight, order`` of every
    stage, objection and forbidden phrase per ``section`` (from the script text in
    ``configs``, else from the items). ``counts`` and ``calls`` carry the ``section`` too:
    see :class:`Section`. ``other_versions``: calls in the period scored only under other
    versions.
    """

    scope: Scope
    groups: dict[tuple[str | None, str, str | None], Totals]
    counts: pd.DataFrame
    catalog: pd.DataFrame
    metrics: list[str]
    other_versions: pd.DataFrame
    known_managers: list[str] = field(default_factory=list)
    sections: tuple[Section, ...] = ()
    #: reads the per-call frame when someone asks for ``calls`` (the views do not)
    call_loader: Callable[[], pd.DataFrame] | None = None
    #: where the numbers came from: ``totals`` (table ``score_totals``) or ``calls``
    source: str = "calls"

    @cached_property
    def calls(self) -> pd.DataFrame:
        """One row per scored call in scope (read on first use: the views count from
        ``groups``; the report's pages and tests list the calls)."""
        assert self.call_loader is not None
        return self.call_loader()

    @cached_property
    def team_calls(self) -> pd.DataFrame:
        return self.calls[self.calls["manager"].notna()]

    def totals(self, manager: Any = ..., section: Any = ..., day: Any = ...) -> Totals:
        """The groups merged, optionally only one manager / section / day (``...`` = all;
        ``manager=TEAM``: every call with a manager)."""
        out = Totals()
        if section is ... and day is ...:  # the usual questions, from the merged totals
            if manager is TEAM:
                for t in self.per_manager.values():
                    out.merge(t)
                return out
            if manager is not ... and manager is not None:
                out.merge(self.per_manager.get(manager, Totals()))
                return out
        for (m, sk, d), t in self.groups.items():
            if manager is TEAM:
                if m is None:
                    continue
            elif manager is not ... and m != manager:
                continue
            if (section is not ... and sk != section) or (day is not ... and d != day):
                continue
            out.merge(t)
        return out

    @cached_property
    def per_manager_section(self) -> dict[tuple[str | None, str], Totals]:
        """Totals per manager (None: calls without one) and section, over the days."""
        return _by_manager_section(self.groups)

    @cached_property
    def per_manager(self) -> dict[str, Totals]:
        """Every manager's totals over sections and days."""
        out: dict[str, Totals] = {}
        for (m, _), t in self.per_manager_section.items():
            if m is not None:
                out.setdefault(m, Totals()).merge(t)
        return out

    @property
    def team_size_calls(self) -> int:
        """Scored calls with a manager."""
        return sum(t.n for t in self.per_manager.values())

    @property
    def managers(self) -> list[str]:
        return sorted(m for m, t in self.per_manager.items() if t.n)

    @property
    def unassigned(self) -> int:
        return sum(t.n for (m, _, _), t in self.groups.items() if m is None)

    def calls_of(self, ws: Workspace, manager: str) -> pd.DataFrame:
        """The manager's scored calls in scope, one row each: ``call_id, manager, day,
        started_at, score, critical, script_hash, rubric_hash, section`` (read once)."""
        cache = self.__dict__.setdefault("_calls_of", {})
        if manager not in cache:
            cache[manager] = self._read_calls_of(ws, manager)
        return cache[manager].copy()

    def _read_calls_of(self, ws: Workspace, manager: str) -> pd.DataFrame:
        import pandas as pd

        frm, params = self.scope.where(manager=manager)
        names = ["call_id", "manager", "day", "started_at", "score", "critical", "script_hash", "rubric_hash"]
        rows = ws.query(
            f"SELECT c.call_id, c.manager, c.day, c.started_at, s.score, s.critical, s.script_hash, "
            f"s.rubric_hash {frm}",
            params,
        )
        df = pd.DataFrame.from_records(rows, columns=names)
        by_version = {sec.version.key: sec.key for sec in self.sections}
        df["section"] = [by_version.get((a, b), a) for a, b in zip(df["script_hash"], df["rubric_hash"])]
        df["score"] = df["score"].astype(float)
        df["critical"] = df["critical"].astype(bool)
        return df

    def section_labels(self) -> dict[str, str]:
        """Section key -> label (``Inbound call (en)``)."""
        return {sec.key: sec.label for sec in self.sections}

    def sections_of(self, manager: str) -> list[str]:
        """The sections (script and language) of the manager's calls, in scope order."""
        mine = {sk for (m, sk, _), t in self.groups.items() if m == manager and t.n}
        return [sec.key for sec in self.sections if sec.key in mine]

    @property
    def versions_note(self) -> str | None:
        """Which versions are read, when there are several (the CLI's header says it too)."""
        if len(self.scope.versions) < 2:
            return None
        return "scores from the latest version of each script and language: " + "; ".join(
            f"{v.language or '?'} {v.label}" for v in self.scope.versions
        )

    def notes(self, manager: str | None = None, *, versions: bool = True) -> list[str]:
        """Plain-language warnings: the versions read (``versions=False`` leaves that out,
        for a view whose header lists them), other versions kept apart, calls without a
        manager."""
        out: list[str] = []
        if versions and self.versions_note:
            out.append(self.versions_note)
        other = self.other_versions
        if manager is not None and len(other):
            other = other[other["manager"] == manager]
        if len(other):
            per = other.groupby(["script_hash", "rubric_hash"], sort=False)["calls"].sum()
            parts = [f"{n} under {s[:8]}:{r[:8]}" for (s, r), n in per.items()]
            out.append(
                f"{int(per.sum())} call(s) in this period are scored only under other versions "
                f"({', '.join(parts)}); they are kept apart: pass --version {per.index[0][0][:8]} to see them"
            )
        if manager is None and self.unassigned:
            out.append(
                f"{self.unassigned} call(s) have no manager and are not ranked; add the manager "
                "with a manifest (--manifest) or a file-name template"
            )
        return out


def _metric_names(ws: Workspace, scope: Scope) -> list[str]:
    """Numeric keys of the metrics JSON (nested dicts flattened as ``a.b``), in first-seen order."""
    vsql, vparams = scope._version_sql("s")
    rows = ws.query(f"SELECT s.metrics_json FROM scores s WHERE {vsql} LIMIT {_METRIC_SAMPLE}", vparams)
    names: dict[str, None] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            names.setdefault(prefix, None)

    for (text,) in rows:
        try:
            walk("", json.loads(text or "{}"))
        except json.JSONDecodeError:
            continue
    key = [m for m in KEY_TALK_METRICS if m in names]
    return key + [m for m in names if m not in key]


def load_team(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    version: str | Version | tuple[str, str] | None = None,
    metrics: Sequence[str] | None = None,
    workers: int = 2,
    from_totals: bool = True,
) -> TeamData:
    """Load what the views count for a scope: :class:`Totals` per manager, section and day,
    and the item counts.

    They come from the totals the store keeps (table ``score_totals``: a few thousand rows
    for 100,000 calls), or, with ``from_totals=False``, when the metrics asked for are not
    all key metrics, or when the totals miss scores some tool wrote with its own SQL, from
    the per-call rows: the same numbers, exactly, about twice as slow.
    ``metrics``: the talk metrics to read (default: those of :data:`KEY_TALK_METRICS` the
    scores carry, else every numeric metric). ``workers``: connections the per-call read
    may use (kept for callers; one is used).
    """
    import pandas as pd

    lo, hi = _period_bounds(date_from, date_to)
    stats = ws.version_stats()  # read once: it groups every score
    scope = Scope(resolve_versions(ws, version, stats=stats), lo, hi)
    frm, params = scope.where()
    found = _metric_names(ws, scope)
    if metrics is None:
        # the metrics a supervisor compares; every metric only when none of them is stored
        metrics = [m for m in KEY_TALK_METRICS if m in found] or found
    else:
        metrics = [m for m in metrics if m in found]
    # The key talk metrics have columns of their own (qa.store.KEY_METRICS); others are
    # read from the JSON, which is much slower on 100,000 calls.
    metric_sql = "".join(
        f", s.metric_{m} AS \"m{n}\"" if m in KEY_METRICS else f", json_extract(s.metrics_json, ?) AS \"m{n}\""
        for n, m in enumerate(metrics)
    )
    json_params = [_json_path(m) for m in metrics if m not in KEY_METRICS]
    vsql, vparams = scope._version_sql("s2")
    psql, pparams = scope.period_sql("c")
    sections = _sections(ws, scope)
    # The stored totals (qa.store, table score_totals) cover the key talk metrics; other
    # metrics, or totals that miss scores some tool wrote with its own SQL, are counted
    # from the per-call rows (the same Totals, the same numbers, about 1.5 s on 100,000 calls).
    use_totals = from_totals and all(m in KEY_METRICS for m in metrics) and _totals_complete(ws, scope, stats)

    def per_call() -> tuple[list[str], list[tuple[Any, ...]]]:
        return _per_call_rows(ws, scope, metrics, metric_sql, json_params, workers=1)

    # The calls kept apart: those of the period with scores, none under the chosen versions.
    # When every score is under a chosen version no call is kept apart, and that query
    # (100,000 lookups) is skipped.
    chosen = {v.key for v in scope.versions}
    kept_apart = any((v["script_hash"], v["rubric_hash"]) not in chosen for v in stats)
    other: tuple[list[str], list[Any]] = (["manager", "script_hash", "rubric_hash", "calls"], [])
    if kept_apart:
        other = ws.frames([(
            f"""SELECT c.manager, s.script_hash, s.rubric_hash, COUNT(DISTINCT c.call_id) AS calls
                FROM calls c CROSS JOIN scores s ON s.call_id = c.call_id
                WHERE {psql} AND NOT EXISTS (SELECT 1 FROM scores s2 WHERE s2.call_id = c.call_id AND {vsql})
                GROUP BY c.manager, s.script_hash, s.rubric_hash""",
            [*pparams, *vparams],
        )], workers=1, raw=True)[0]
    rows_cache: list[tuple[list[str], list[tuple[Any, ...]]]] = []
    if use_totals:
        groups = _groups_from_totals(ws, scope, sections)
    else:
        rows_cache.append(per_call())
        groups = _groups_from_rows(*rows_cache[0], sections, metrics)

    def load_calls() -> pd.DataFrame:
        names, rows = rows_cache[0] if rows_cache else per_call()
        return _call_frame(names, rows, sections, metrics)

    per_section = _by_manager_section(groups)
    counts = _item_counts(per_section)
    catalog = _catalog(ws, sections, counts)
    other_df = pd.DataFrame.from_records(other[1], columns=other[0])
    if len(other_df):
        other_df = other_df.sort_values("calls", ascending=False, kind="stable")
    data = TeamData(
        scope=scope, groups=groups, counts=counts, catalog=catalog, metrics=metrics,
        other_versions=other_df if len(other_df) else pd.DataFrame(columns=["manager", "script_hash", "rubric_hash", "calls"]),
        known_managers=ws.managers(), sections=sections, call_loader=load_calls,
        source="totals" if use_totals else "calls",
    )
    data.__dict__["per_manager_section"] = per_section  # merged once (cached_property)
    return data


def _totals_complete(ws: Workspace, scope: Scope, stats: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ``score_totals`` holds every score of the scope's versions (``stats``:
    :meth:`Workspace.version_stats`, which counts the scores)."""
    stored = {(r["script_hash"], r["rubric_hash"]): int(r["calls"]) for r in stats}
    kept = ws.score_totals_calls([v.key for v in scope.versions])
    for v in scope.versions:
        if kept.get(v.key, 0) != stored.get(v.key, 0):
            log.debug("score totals of %s hold %d of %d scores; counting the calls", v.label,
                      kept.get(v.key, 0), stored.get(v.key, 0))
            return False
    return True


def _per_call_rows(
    ws: Workspace, scope: Scope, metrics: Sequence[str], metric_sql: str, json_params: Sequence[Any], *, workers: int,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One row per call in scope (each call once, its latest score among the versions)."""
    frm, params = scope.where()
    token_sql = "".join(f", s.tokens_{k}" for k in TOKEN_KINDS)
    return ws.frames([(
        f"""SELECT c.call_id, c.manager, c.day, c.started_at, s.score, s.critical, s.next_step,
                   s.script_hash, s.rubric_hash{metric_sql}{token_sql} {frm}""",
        [*json_params, *params],
    )], workers=workers, raw=True)[0]


def _groups_from_rows(
    names: list[str], rows: Sequence[Sequence[Any]], sections: Sequence[Section], metrics: Sequence[str],
) -> dict[tuple[str | None, str, str | None], Totals]:
    """:class:`Totals` per manager, section and day, counted from the per-call rows."""
    by_version = {sec.version.key: sec.key for sec in sections}
    at = {n: i for i, n in enumerate(names)}
    metric_at = [(m, at[f"m{n}"]) for n, m in enumerate(metrics)]
    token_at = [(k, at[f"tokens_{k}"]) for k in TOKEN_KINDS]
    groups: dict[tuple[str | None, str, str | None], Totals] = {}
    for r in rows:
        key = (r[at["manager"]], by_version[(r[at["script_hash"]], r[at["rubric_hash"]])], r[at["day"]])
        t = groups.get(key)
        if t is None:
            t = groups[key] = Totals()
        t.add(r[at["score"]], r[at["next_step"]], r[at["critical"]],
              {m: _metric_number(r[i]) for m, i in metric_at}, {k: r[i] for k, i in token_at})
    return groups


def _metric_number(value: Any) -> Any:
    """A metric as the store keeps it (``qa.store._number``): numbers, bools as 0/1."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


def _groups_from_totals(
    ws: Workspace, scope: Scope, sections: Sequence[Section]
) -> dict[tuple[str | None, str, str | None], Totals]:
    """:class:`Totals` per manager, section and day, from the stored totals.

    With several versions a call scored under two of them counts once, under its latest
    score (the rule of :mod:`qa.versions`): its older scores are taken out again.
    """
    by_version = {sec.version.key: sec.key for sec in sections}
    groups: dict[tuple[str | None, str, str | None], Totals] = {}
    for sh, rh, manager, day, t in ws.score_totals([v.key for v in scope.versions], scope.date_from, scope.date_to):
        key = (manager, by_version[(sh, rh)], day)
        found = Totals.from_store(t)
        if key in groups:
            groups[key].merge(found)
        else:
            groups[key] = found
    if len(scope.versions) > 1:
        for manager, section, day, row in _superseded(ws, scope, by_version):
            score, next_step, critical, metrics, tokens = row
            groups.setdefault((manager, section, day), Totals()).add(score, next_step, critical, metrics, tokens, sign=-1)
    return groups


def _superseded(
    ws: Workspace, scope: Scope, by_version: Mapping[tuple[str, str], str]
) -> Iterator[tuple[str | None, str, str | None, tuple[Any, ...]]]:
    """The scores in scope a later score of the same call (under another chosen version)
    replaces: ``(manager, section, day, (score, next_step, critical, metrics, tokens))``."""
    vsql, vparams = scope._version_sql("s")
    psql, pparams = scope.period_sql("c")
    twice = [r[0] for r in ws.query(
        f"SELECT s.call_id FROM scores s WHERE {vsql} GROUP BY s.call_id HAVING COUNT(*) > 1", vparams
    )]
    metric_cols = ", ".join(f"s.metric_{m}" for m in KEY_METRICS)
    token_cols = ", ".join(f"s.tokens_{k}" for k in TOKEN_KINDS)
    for start in range(0, len(twice), 300):
        chunk = twice[start:start + 300]
        rows = ws.query(
            f"""SELECT s.call_id, s.script_hash, s.rubric_hash, s.scored_at, c.manager, c.day, s.score,
                       s.next_step, s.critical, {metric_cols}, {token_cols}
                FROM scores s JOIN calls c ON c.call_id = s.call_id
                WHERE {vsql} AND {psql} AND s.call_id IN ({','.join('?' * len(chunk))})""",
            [*vparams, *pparams, *chunk],
        )
        latest: dict[str, float] = {}
        for r in rows:
            latest[r[0]] = max(latest.get(r[0], r[3]), r[3])
        k = len(KEY_METRICS)
        for r in rows:
            if r[3] < latest[r[0]]:
                yield (r[4], by_version[(r[1], r[2])], r[5],
                       (r[6], r[7], r[8], dict(zip(KEY_METRICS, r[9:9 + k])), dict(zip(TOKEN_KINDS, r[9 + k:]))))


def _by_manager_section(
    groups: Mapping[tuple[str | None, str, str | None], Totals]
) -> dict[tuple[str | None, str], Totals]:
    out: dict[tuple[str | None, str], Totals] = {}
    for (m, sk, _), t in groups.items():
        out.setdefault((m, sk), Totals()).merge(t)
    return out


def _call_frame(
    names: list[str], rows: Sequence[Sequence[Any]], sections: Sequence[Section], metrics: Sequence[str]
) -> pd.DataFrame:
    """The per-call rows as a DataFrame (``calls`` of :class:`TeamData`), without tokens."""
    import pandas as pd

    token_cols = [f"tokens_{k}" for k in TOKEN_KINDS]
    calls = pd.DataFrame.from_records(rows, columns=names, exclude=token_cols)
    by_version = {sec.version.key: sec.key for sec in sections}
    calls.insert(9, "section", pd.Series(
        [by_version[(a, b)] for a, b in zip(calls["script_hash"], calls["rubric_hash"])],
        index=calls.index, dtype="str"))
    calls = calls.rename(columns={f"m{n}": f"{TALK_COL}{m}" for n, m in enumerate(metrics)})
    calls["critical"] = calls["critical"].astype(bool)
    calls["score"] = calls["score"].astype(float)
    calls["next_step"] = pd.to_numeric(calls["next_step"], errors="coerce").astype(float)
    for m in metrics:
        calls[f"{TALK_COL}{m}"] = pd.to_numeric(calls[f"{TALK_COL}{m}"], errors="coerce")
    return calls


def _item_counts(per_section: Mapping[tuple[str | None, str], Totals]) -> pd.DataFrame:
    """Item rows per ``manager, section, kind, item_id, status`` (``n``), from the totals.

    Each score keeps its call's ``item_id<US>status`` tokens per kind (``scores.tokens_*``,
    written with the items by :meth:`qa.store.Workspace.save_scores`), and the totals count
    them: a team is counted without reading its ~2M item rows.
    """
    import pandas as pd

    rows = []
    for (manager, section), t in per_section.items():
        for kind, counter in t.tokens.items():
            for token, n in counter.items():
                if n:
                    item_id, _, status = token.partition(FIELD_SEP)
                    rows.append((manager, section, kind, item_id, status, n))
    return pd.DataFrame(rows, columns=["manager", "section", "kind", "item_id", "status", "n"])


def _catalog(ws: Workspace, sections: Sequence[Section], counts: pd.DataFrame) -> pd.DataFrame:
    """Titles, weights and script order of every item in the counts, per section: each
    section's titles come from its own script (an English stage is never shown under the
    Russian script's title)."""
    import pandas as pd

    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for sec in sections:
        v = sec.version
        script = _parsed_script(ws, v.script_hash)
        if script is not None:
            for n, st in enumerate(script.stages):
                rows.setdefault((sec.key, STAGE, st.id), {
                    "title": st.title, "weight": float(st.weight), "order": n,
                    "applies_if": ",".join(st.applies_if),
                })
            for n, fb in enumerate(script.forbidden):
                rows.setdefault((sec.key, FORBIDDEN, fb.id), {
                    "title": fb.phrase.text, "weight": float(fb.penalty), "order": n, "applies_if": "",
                    "critical": bool(fb.critical),
                })
        rubric = _parsed_rubric(ws, v.rubric_hash)
        if rubric is not None:
            for n, ob in enumerate(rubric.objections):
                rows.setdefault((sec.key, OBJECTION, ob.id), {
                    "title": ob.title, "weight": ob.max_points, "order": n, "applies_if": "",
                })
    versions = {sec.key: sec.version for sec in sections}
    missing = {
        (sk, k, i) for sk, k, i in zip(counts["section"], counts["kind"], counts["item_id"])
        if (sk, k, i) not in rows
    }
    for section, kind, item_id in sorted(missing):
        rows[(section, kind, item_id)] = _item_from_rows(ws, versions[section], kind, item_id)
    cat = pd.DataFrame(
        [{"section": sk, "kind": k, "item_id": i, "critical": False, **v} for (sk, k, i), v in rows.items()],
        columns=["section", "kind", "item_id", "title", "weight", "order", "applies_if", "critical"],
    )
    order = {sec.key: n for n, sec in enumerate(sections)}
    cat["section_order"] = cat["section"].map(order)
    cat = cat.sort_values(["section_order", "kind", "order", "item_id"], kind="stable")
    return cat.drop(columns=["section_order"]).reset_index(drop=True)


def _item_from_rows(ws: Workspace, v: Version, kind: str, item_id: str) -> dict[str, Any]:
    """Title, weight and order of an item whose script text is not stored, from its rows:
    the first stored row of an item is from the earliest call scored with the version (its
    rowid gives the script order), a row that applied gives the weight."""
    vsql, vparams = Scope((v,))._version_sql("items")
    first = ws.query(
        f"SELECT rowid, title FROM items WHERE {vsql} AND kind = ? AND item_id = ? ORDER BY rowid LIMIT 1",
        [*vparams, kind, item_id],
    )
    weight = ws.query(
        f"SELECT max_score FROM items WHERE {vsql} AND kind = ? AND item_id = ? AND status NOT IN ('na') LIMIT 1",
        [*vparams, kind, item_id],
    )
    penalty = None
    if kind == FORBIDDEN:
        penalty = ws.query(
            f"SELECT -score FROM items WHERE {vsql} AND kind = ? AND item_id = ? LIMIT 1",
            [*vparams, kind, item_id],
        )
    return {
        "title": (first[0][1] if first and first[0][1] else item_id),
        "weight": float(((penalty or weight) or [(0.0,)])[0][0] or 0.0),
        "order": 10_000 + int(first[0][0]) if first else 1_000_000,
        "applies_if": "",
    }


# ---- rates ---------------------------------------------------------------------------------
_DONE = {STAGE: ("found",), OBJECTION: ("handled",)}
_NOT_DONE = {STAGE: ("missed",), OBJECTION: ("unhandled",)}


def item_rates(data: TeamData, kind: str) -> pd.DataFrame:
    """Per manager, section and item: ``done``, ``applicable`` and ``rate`` (percent)."""
    cache = data.__dict__.setdefault("_rates", {})
    if kind not in cache:
        cache[kind] = _item_rates(data, kind)
    return cache[kind].copy()


def _item_rates(data: TeamData, kind: str) -> pd.DataFrame:
    import pandas as pd

    c = data.counts[data.counts["kind"] == kind]
    done = c["status"].isin(_DONE[kind])
    applicable = done | c["status"].isin(_NOT_DONE[kind])
    frame = pd.DataFrame({
        "manager": c["manager"], "section": c["section"], "item_id": c["item_id"],
        "done": c["n"].where(done, 0), "applicable": c["n"].where(applicable, 0),
    })
    out = frame.groupby(["manager", "section", "item_id"], dropna=False, as_index=False)[["done", "applicable"]].sum()
    out["rate"] = _pct(out["done"], out["applicable"])
    return out


def team_benchmarks(rates: pd.DataFrame) -> pd.DataFrame:
    """Per section and item: ``team_median`` and ``team_best_quartile`` of the managers' rates
    (the managers whose calls in that section met the item)."""
    import pandas as pd

    r = rates[rates["manager"].notna() & (rates["applicable"] > 0)]
    if r.empty:
        return pd.DataFrame(columns=["section", "item_id", "team_median", "team_best_quartile", "team_done",
                                     "team_applicable"])
    g = r.groupby(["section", "item_id"])
    return pd.DataFrame({
        "team_median": g["rate"].median(),
        "team_best_quartile": g["rate"].quantile(0.75),
        "team_done": g["done"].sum(),
        "team_applicable": g["applicable"].sum(),
    }).reset_index()


# ---- the leaderboard -----------------------------------------------------------------------
def _leaderboard(data: TeamData, *, rates: bool = True) -> pd.DataFrame:
    """One row per manager (see :func:`team`); ``rates=False`` leaves out the stage and
    objection rate columns (a scorecard needs only the manager's rank and totals)."""
    import pandas as pd

    base_cols = [
        "rank", "manager", "calls", "mean_score", "median_score", "next_step_rate",
        "critical_calls", "forbidden_said", "objections_raised", "objection_rate",
    ]
    per = {m: t for m, t in sorted(data.per_manager.items()) if t.n}
    if not per:
        return pd.DataFrame(columns=base_cols)
    lb = pd.DataFrame({
        "calls": [t.n for t in per.values()],
        "mean_score": [t.mean() for t in per.values()],
        "median_score": [t.median() for t in per.values()],
        "next_step_rate": [t.next_step_rate() for t in per.values()],
        "critical_calls": [t.critical for t in per.values()],
    }, index=pd.Index(list(per), name="manager"))
    counts = data.counts[data.counts["manager"].notna()]
    forb = counts[(counts["kind"] == FORBIDDEN) & (counts["status"] == "found")].groupby("manager")["n"].sum()
    lb["forbidden_said"] = forb.reindex(lb.index).fillna(0).astype(int)
    obj = counts[counts["kind"] == OBJECTION]
    raised = obj[obj["status"].isin(("handled", "unhandled"))].groupby("manager")["n"].sum().reindex(lb.index).fillna(0)
    handled = obj[obj["status"] == "handled"].groupby("manager")["n"].sum().reindex(lb.index).fillna(0)
    lb["objections_raised"] = raised.astype(int)
    lb["objection_rate"] = _pct(handled, raised)
    for kind, prefix in ((STAGE, STAGE_COL), (OBJECTION, OBJECTION_COL)) if rates else ():
        rates_df = item_rates(data, kind)
        rates_df = rates_df[rates_df["manager"].notna()]
        wide = (rates_df.pivot(index="manager", columns=["section", "item_id"], values="rate")
                if len(rates_df) else pd.DataFrame())
        cat = data.catalog[data.catalog["kind"] == kind]
        for section, item_id in zip(cat["section"], cat["item_id"]):
            if (section, item_id) in wide.columns:
                lb[rate_column(data, prefix, section, item_id)] = wide[(section, item_id)].reindex(lb.index)
    for m in data.metrics:
        lb[f"{TALK_COL}{m}"] = [t.metric_mean(m) for t in per.values()]
    lb["rank"] = lb["mean_score"].rank(ascending=False, method="min").astype(int)
    lb = lb.reset_index()
    lb = lb.sort_values(["rank", "manager"], kind="stable").reset_index(drop=True)
    rest = [c for c in lb.columns if c not in base_cols]
    return lb[base_cols + rest]


def team(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    version: str | Version | tuple[str, str] | None = None,
    data: TeamData | None = None,
) -> pd.DataFrame:
    """The leaderboard: one row per manager, best mean score first.

    Columns: ``rank, manager, calls, mean_score, median_score, next_step_rate, critical_calls,
    forbidden_said, objections_raised, objection_rate``, then ``stage:<id>`` (completion %),
    ``objection:<id>`` (handled %) and ``talk:<metric>`` (mean). ``df.attrs`` carries
    ``titles`` (column -> stage/objection title), ``notes``, ``scope`` and the team benchmarks
    of the rate columns, ``team_median`` and ``team_best_quartile`` (column -> percent, see
    :func:`team_benchmarks`).
    """
    data = data or load_team(ws, date_from, date_to, version=version)
    lb = _leaderboard(data)
    lb.attrs["titles"], lb.attrs["item_titles"] = _titles(data)
    for kind, prefix in ((STAGE, STAGE_COL), (OBJECTION, OBJECTION_COL)):
        bench = team_benchmarks(item_rates(data, kind))
        for key in ("team_median", "team_best_quartile"):
            cols = {rate_column(data, prefix, sk, i): float(v)
                    for sk, i, v in zip(bench["section"], bench["item_id"], bench[key])}
            lb.attrs.setdefault(key, {}).update({c: v for c, v in cols.items() if c in lb.columns})
    lb.attrs["sections"] = _section_columns(data, lb)
    lb.attrs["notes"] = data.notes()
    lb.attrs["versions_note"] = data.versions_note
    lb.attrs["scope"] = data.scope.label
    lb.attrs["versions"] = [v.label for v in data.scope.versions]
    return lb


def rate_column(data: TeamData, prefix: str, section: str, item_id: str) -> str:
    """The leaderboard column of an item: ``stage:needs`` when the scope has one section,
    ``stage:<section>:needs`` when it has several (``greeting`` of two scripts are two
    columns, never one)."""
    return f"{prefix}{item_id}" if len(data.sections) < 2 else f"{prefix}{section}:{item_id}"


def _section_columns(data: TeamData, lb: pd.DataFrame) -> list[dict[str, Any]]:
    """Per section: its key, label, language, the managers with calls in it and its rate
    columns (``qa team`` prints one table per section)."""
    out = []
    for sec in data.sections:
        managers = {m for (m, sk, _), t in data.groups.items() if sk == sec.key and m is not None and t.n}
        cat = data.catalog[data.catalog["section"] == sec.key]
        cols = {
            kind: [c for c in (rate_column(data, prefix, sec.key, i) for i in cat.loc[cat["kind"] == kind, "item_id"])
                   if c in lb.columns]
            for kind, prefix in ((STAGE, STAGE_COL), (OBJECTION, OBJECTION_COL))
        }
        out.append({"key": sec.key, "label": sec.label, "language": sec.version.language,
                    "managers": [m for m in lb["manager"] if m in managers],
                    "stage_columns": cols[STAGE], "objection_columns": cols[OBJECTION]})
    return out


def _titles(data: TeamData) -> tuple[dict[str, str], dict[str, str]]:
    """Column -> title for people, unique across sections (a title two sections share gets
    the section: ``Greeting (B2B cold call (en))``), and column -> the item's own title."""
    labels = data.section_labels()
    plain: dict[str, str] = {}
    section_of: dict[str, str] = {}
    for kind, prefix in ((STAGE, STAGE_COL), (OBJECTION, OBJECTION_COL)):
        cat = data.catalog[data.catalog["kind"] == kind]
        for sk, i, t in zip(cat["section"], cat["item_id"], cat["title"]):
            col = rate_column(data, prefix, sk, i)
            plain[col], section_of[col] = str(t), sk
    shared = {t for t, n in Counter(plain.values()).items() if n > 1}
    full = {c: f"{t} ({labels[section_of[c]]})" if t in shared else t for c, t in plain.items()}
    talk = {f"{TALK_COL}{m}": m.replace("_", " ") for m in data.metrics}
    return {**full, **talk}, {**plain, **talk}


# ---- the scorecard ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ScorecardOptions:
    """What a scorecard shows besides the aggregates.

    ``worst``: how many of the manager's lowest-scoring calls to list with their evidence
    moments (5): each missed stage where it belonged, unhandled objections, forbidden
    phrases. ``best``: how many of the highest-scoring calls (3), with the moments of the
    stages and objection handling found; a manager with fewer
    calls than both gets the lower half as worst, the rest as best (one call: worst).
    ``quote_width``: characters of a quote kept in evidence strings (70).
    """

    worst: int = 5
    best: int = 3
    quote_width: int = 70

    def __post_init__(self) -> None:
        for name in ("worst", "best"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.quote_width < 10:
            raise ValueError("quote_width must be >= 10")


@dataclass
class Scorecard:
    """One manager over one period (see :func:`scorecard`). Rates are percentages."""

    manager: str
    scope: Scope
    period: str
    calls: int
    mean_score: float | None
    median_score: float | None
    rank: int | None
    team_size: int
    summary: pd.DataFrame
    trend: pd.DataFrame
    stages: pd.DataFrame
    objections: pd.DataFrame
    forbidden: pd.DataFrame
    talk: pd.DataFrame
    worst_calls: pd.DataFrame
    moments: pd.DataFrame
    best_calls: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    #: section key -> label of the manager's calls (the ``section`` column of the item tables)
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.calls == 0

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables in reading order, for :mod:`qa.writers`."""
        return {
            "summary": self.summary, "trend": self.trend, "stages": self.stages,
            "objections": self.objections, "forbidden": self.forbidden, "talk": self.talk,
            "worst_calls": self.worst_calls, "moments": self.moments, "best_calls": self.best_calls,
        }


def resolve_manager(ws: Workspace, manager: str, known: Sequence[str] | None = None) -> str:
    """The manager's name as stored (exact, else the one case-insensitive match).

    Raises :class:`NotFoundError` ``unknown manager 'x'; known: a, b`` otherwise.
    """
    names = list(known) if known is not None else ws.managers()
    if manager in names:
        return manager
    folded = [n for n in names if n.casefold() == str(manager).casefold()]
    if len(folded) == 1:
        return folded[0]
    listing = ", ".join(names) if names else "none (no call in this workspace has a manager)"
    raise NotFoundError(f"unknown manager {manager!r}; known: {listing}")


def _buckets(days: pd.Series, period: str) -> pd.Series:
    """Day strings -> bucket labels (``2024-05-06`` or ISO week ``2024-W19``)."""
    import pandas as pd

    if period == "day":
        return days
    uniq = pd.Series(days.dropna().unique())
    if uniq.empty:
        return days
    iso = pd.to_datetime(uniq).dt.isocalendar()
    labels = dict(zip(uniq, [f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"])]))
    return days.map(labels)


def scorecard(
    ws: Workspace,
    manager: str,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    period: str = "day",
    *,
    version: str | Version | tuple[str, str] | None = None,
    options: ScorecardOptions | None = None,
    data: TeamData | None = None,
) -> Scorecard:
    """One manager's scorecard against the team for a period (inclusive days).

    Raises :class:`NotFoundError` for a manager the workspace does not know. A period
    without the manager's calls gives an empty scorecard (``calls == 0``) whose ``notes``
    say why and where their calls are.
    """
    import pandas as pd

    if period not in PERIODS:
        raise QAError(f"--by {period!r} is not a period; choose one of: {', '.join(PERIODS)}")
    opts = options or ScorecardOptions()
    data = data or load_team(ws, date_from, date_to, version=version)
    manager = resolve_manager(ws, manager, data.known_managers)
    scope = data.scope
    lb = _leaderboard(data, rates=False)
    mine_calls = data.calls_of(ws, manager)
    mine_totals = data.totals(manager=manager)
    own = data.sections_of(manager)
    labels = data.section_labels()
    # the header lists the versions read ("versions" below): no note repeats them
    notes = data.notes(manager, versions=False)
    from .disputes import notes_for  # supervisor overrides (qa dispute)

    notes.extend(notes_for(ws, mine_calls["call_id"]))
    row = lb[lb["manager"] == manager]
    n = len(mine_calls)
    if n == 0:
        notes.insert(0, _no_calls_note(ws, manager, scope))
    summary = pd.DataFrame([{
        "manager": manager,
        "period": scope.label,
        "calls": n,
        "mean_score": mine_totals.mean() if n else None,
        "median_score": mine_totals.median() if n else None,
        "rank": int(row["rank"].iloc[0]) if len(row) else None,
        "team_size": len(lb),
        "team_mean_score": data.totals(manager=TEAM).mean(),
        "next_step_rate": float(row["next_step_rate"].iloc[0]) if len(row) else None,
        "critical_calls": int(row["critical_calls"].iloc[0]) if len(row) else 0,
        "forbidden_said": int(row["forbidden_said"].iloc[0]) if len(row) else 0,
        "objection_rate": float(row["objection_rate"].iloc[0]) if len(row) else None,
        "versions": "; ".join(
            sec.version.label for sec in data.sections if sec.key in own or not own
        ),
        "notes": " | ".join(notes),
    }])
    card = Scorecard(
        manager=manager, scope=scope, period=period, calls=n,
        mean_score=summary["mean_score"].iloc[0] if n else None,
        median_score=summary["median_score"].iloc[0] if n else None,
        rank=int(row["rank"].iloc[0]) if len(row) else None,
        team_size=len(lb),
        summary=summary,
        trend=_trend(data, manager, period),
        stages=_item_table(data, manager, STAGE),
        objections=_item_table(data, manager, OBJECTION),
        forbidden=_forbidden_table(ws, data, manager, opts),
        talk=_talk_table(data, manager),
        worst_calls=pd.DataFrame(), moments=pd.DataFrame(), best_calls=pd.DataFrame(),
        notes=notes, sections={k: labels[k] for k in own},
    )
    card.worst_calls, card.moments, card.best_calls = _call_lists(ws, data, mine_calls, opts)
    return card


def _no_calls_note(ws: Workspace, manager: str, scope: Scope) -> str:
    nosc = Scope(scope.versions)
    frm, params = nosc.where(manager=manager)
    first, last, n = ws.query(f"SELECT MIN(c.day), MAX(c.day), COUNT(*) {frm}", params)[0]
    base = f"no scored calls for {manager} in {scope.label}"
    if n:
        return f"{base}; their {n} scored call(s) are from {first} to {last}"
    return f"{base}; none of their calls is scored under this version (see --version)"


def _trend(data: TeamData, manager: str, period: str) -> pd.DataFrame:
    """Calls, mean and median score of the manager per day or week, with the team's mean."""
    import pandas as pd

    cols = [period, "calls", "mean_score", "median_score", "team_mean_score", "team_calls"]
    days = sorted({d for (m, _, d), t in data.groups.items() if m is not None and d is not None and t.n})
    if not days:
        return pd.DataFrame(columns=cols)
    label = dict(zip(days, _buckets(pd.Series(days, dtype="str"), period)))
    team: dict[str, list[int]] = {}  # bucket -> [calls, exact sum]: the team needs no median
    mine: dict[str, Totals] = {}
    for (m, _, d), t in data.groups.items():
        if m is None or d is None:
            continue
        acc = team.setdefault(label[d], [0, 0])
        acc[0] += t.n
        acc[1] += t.score_sum
        if m == manager:
            mine.setdefault(label[d], Totals()).merge(t)
    rows = [{period: b, "calls": t.n, "mean_score": t.mean(), "median_score": t.median(),
             "team_mean_score": exact_mean(team[b][1], team[b][0]), "team_calls": team[b][0]}
            for b, t in sorted(mine.items()) if t.n]
    return pd.DataFrame(rows, columns=cols)


def _item_table(data: TeamData, manager: str, kind: str) -> pd.DataFrame:
    """The manager's rate per item against the team, in the sections of the manager's calls
    (script order within each); column ``section`` says which script and language."""
    import pandas as pd

    rates = item_rates(data, kind)
    bench = team_benchmarks(rates)
    mine = rates[rates["manager"] == manager][["section", "item_id", "done", "applicable", "rate"]]
    own = data.sections_of(manager)
    cat = data.catalog[(data.catalog["kind"] == kind) & data.catalog["section"].isin(own)]
    cat = cat[["section", "item_id", "title", "weight", "order"]]
    name = STAGE if kind == STAGE else OBJECTION
    cols = [name, "title", "weight", "done", "applicable", "rate", "team_median",
            "team_best_quartile", "gap_to_best", "section"]
    if kind == OBJECTION:
        cols = [name, "title", "raised", "handled", "rate", "team_median", "team_best_quartile",
                "gap_to_best", "section"]
    if cat.empty:
        return pd.DataFrame(columns=cols)
    key = ["section", "item_id"]
    df = cat.merge(mine, on=key, how="left").merge(
        bench[[*key, "team_median", "team_best_quartile"]], on=key, how="left"
    )
    # only items this team met in the period (a stage nobody could do says nothing), and of
    # those, the items the manager's own calls met
    met = set(zip(rates["section"], rates["item_id"]))
    if len(mine):
        met &= set(zip(mine["section"], mine["item_id"]))
    df = df[[k in met for k in zip(df["section"], df["item_id"])]].copy()
    df["done"] = df["done"].fillna(0).astype(int)
    df["applicable"] = df["applicable"].fillna(0).astype(int)
    df["gap_to_best"] = (df["team_best_quartile"] - df["rate"]).clip(lower=0)
    df["section_order"] = df["section"].map({k: n for n, k in enumerate(own)})
    df = df.sort_values(["section_order", "order"], kind="stable").rename(columns={"item_id": name})
    if kind == OBJECTION:
        df = df.rename(columns={"applicable": "raised", "done": "handled"})
        df = df[df["raised"] > 0]
    return df[cols].reset_index(drop=True)


def _forbidden_table(ws: Workspace, data: TeamData, manager: str, opts: ScorecardOptions) -> pd.DataFrame:
    """Forbidden phrases the manager said, per 100 of their calls in the phrase's section
    against the team's rate in that section, with the latest example."""
    import pandas as pd

    cols = ["phrase", "said", "per_100_calls", "team_per_100_calls", "example", "time", "call_id", "source",
            "seconds", "section"]
    c = data.counts[(data.counts["kind"] == FORBIDDEN) & (data.counts["status"] == "found")]
    said = c[c["manager"] == manager].groupby(["section", "item_id"])["n"].sum()
    if said.empty:
        return pd.DataFrame(columns=cols)
    team_said = c[c["manager"].notna()].groupby(["section", "item_id"])["n"].sum()
    team_n: dict[str, int] = {}
    for (m, sk), t in data.per_manager_section.items():
        if m is not None:
            team_n[sk] = team_n.get(sk, 0) + t.n
    mine_n = {sk: t.n for (m, sk), t in data.per_manager_section.items() if m == manager}
    by_version = {sec.version.key: sec.key for sec in data.sections}
    # The latest example of each phrase is on the latest day the totals say it was said:
    # only those days' calls are read (a day without a date: every call).
    last: dict[tuple[str, str], str | None] = {}
    for (m, sk, d), t in data.groups.items():
        if m != manager:
            continue
        for token, count in t.tokens.get(FORBIDDEN, {}).items():
            item_id, _, status = token.partition(FIELD_SEP)
            if count > 0 and status == "found":
                key = (sk, item_id)
                last[key] = None if d is None or (key in last and last[key] is None) else max(d, last.get(key) or d)
    days = sorted({d for d in last.values() if d is not None})
    frm, params = data.scope.where(manager=manager, items=True, scores=False)
    day_sql = "" if not days or None in last.values() else f" AND c.day IN ({','.join('?' * len(days))})"
    ex = ws.frame(
        f"""SELECT i.item_id, i.script_hash, i.rubric_hash, i.text, i.start, c.call_id, c.source {frm}
            AND i.kind = '{FORBIDDEN}' AND i.status = 'found'{day_sql}
            ORDER BY c.started_at DESC, i.start""",
        [*params, *(days if day_sql else [])],
    )
    ex["section"] = [by_version.get((sh, rh)) for sh, rh in zip(ex["script_hash"], ex["rubric_hash"])]
    ex = ex.drop_duplicates(["section", "item_id"]).set_index(["section", "item_id"])
    cat = data.catalog[data.catalog["kind"] == FORBIDDEN].set_index(["section", "item_id"])
    rows = []
    for (section, item_id), n in said.sort_values(ascending=False, kind="stable").items():
        e = ex.loc[(section, item_id)] if (section, item_id) in ex.index else None
        rows.append({
            "phrase": cat["title"].get((section, item_id), item_id),
            "said": int(n),
            "per_100_calls": n * 100.0 / max(1, int(mine_n.get(section, 0))),
            "team_per_100_calls": team_said.get((section, item_id), 0) * 100.0 / max(1, int(team_n.get(section, 0))),
            "example": None if e is None else evidence(None, e["text"], None, opts.quote_width)[1:-1],
            "time": None if e is None else clock(e["start"]),
            "call_id": None if e is None else e["call_id"],
            "source": None if e is None else e["source"],
            "seconds": None if e is None else e["start"],
            "section": section,
        })
    return pd.DataFrame(rows, columns=cols)


def _talk_table(data: TeamData, manager: str) -> pd.DataFrame:
    import pandas as pd

    cols = ["metric", "value", "team_median", "team_p25", "team_p75"]
    managers = {m: t for m, t in sorted(data.per_manager.items()) if t.n}
    if not data.metrics or not managers:
        return pd.DataFrame(columns=cols)
    rows = []
    for m in data.metrics:
        means = pd.Series({name: t.metric_mean(m) for name, t in managers.items()}, dtype=float)
        per = means.dropna()
        rows.append({
            "metric": m,
            "value": means.get(manager),
            "team_median": per.median() if len(per) else None,
            "team_p25": per.quantile(0.25) if len(per) else None,
            "team_p75": per.quantile(0.75) if len(per) else None,
        })
    return pd.DataFrame(rows, columns=cols)


def call_items(ws: Workspace, keys: Sequence[tuple[str, str, str]], kinds: Sequence[str] | None = None) -> pd.DataFrame:
    """Items (with evidence and call metadata) of a few calls, each under its own version.

    ``keys``: ``(call_id, script_hash, rubric_hash)``; rows come in stored (script) order.
    """
    import pandas as pd

    cols = ["call_id", "kind", "item_id", "title", "status", "score", "max_score", "start", "end",
            "role", "text", "matched", "phrase", "similarity", "detail", "utterance", "source", "started_at",
            "client_phone", "manager", "critical_reason"]
    if not keys:
        return pd.DataFrame(columns=cols)
    frames = []
    kind_sql = f" AND i.kind IN ({','.join('?' * len(kinds))})" if kinds else ""
    for start in range(0, len(keys), 300):  # stay under SQLite's parameter limit
        chunk = keys[start:start + 300]
        marks = ",".join("?" * len(chunk))
        frames.append(ws.frame(
            f"""SELECT i.call_id, i.script_hash, i.rubric_hash, i.kind, i.item_id, i.title, i.status, i.score, i.max_score,
                       i.start, i.end, i.role, i.text, i.matched, i.phrase, i.similarity, i.detail,
                       i.utterance, c.source, c.started_at, c.client_phone, c.manager, s.critical_reason
                FROM items i JOIN calls c ON c.call_id = i.call_id
                JOIN scores s ON s.call_id = i.call_id AND s.script_hash = i.script_hash
                     AND s.rubric_hash = i.rubric_hash
                WHERE i.call_id IN ({marks}){kind_sql}
                ORDER BY i.rowid""",
            [*(k[0] for k in chunk), *(kinds or ())],
        ))
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    # a call may also be scored under other versions: keep the asked-for one
    wanted = {tuple(k) for k in keys}
    keep = [(c, s, r) in wanted for c, s, r in zip(df["call_id"], df["script_hash"], df["rubric_hash"])]
    return df[keep].drop(columns=["script_hash", "rubric_hash"]).reset_index(drop=True)


# ---- evidence moments of missed stages -----------------------------------------------------------
@dataclass(frozen=True)
class Moment:
    """Where to listen in one call: ``seconds`` (None: the whole call), the ``quote`` said
    there, and ``where`` in words (``it belongs after 'Greeting'``)."""

    seconds: float | None
    quote: str | None
    where: str


def turns_of(ws: Workspace, call_ids: Iterable[str]) -> dict[str, list[Any]]:
    """The utterances of a few calls (``qa.transcripts.Utterance``), by call id."""
    return {t.meta.call_id: list(t.utterances) for t in ws.transcripts(list(dict.fromkeys(call_ids)))}


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if f != f else f


def _index(v: Any) -> int | None:
    f = _num(v)
    return None if f is None else int(f)


def missed_stage_moments(
    items: Sequence[Mapping[str, Any]], turns: Sequence[Any] | None, applies: Mapping[str, str]
) -> dict[str, list[Moment]]:
    """For each missed stage of one call, the moments to listen to, best first.

    A missed stage has no evidence of its own; its evidence is where it should have been
    said. A stage that applies to objections (``applies_if``) points at the objections the
    client raised. Any other stage lies between the stages found before and after it in
    the script: a stage nearer the one before points at the manager's turns after it (what
    was said instead: "Yes, we have those, they have a balcony" where needs discovery
    belonged), one nearer the stage after points at that stage (the farewell said without
    a next step) and then back through the manager's turns before it. ``items``: the call's
    item rows in stored (script) order; ``turns``: its utterances (None when the transcript
    is not stored: the neighbouring stages' times are used); ``applies``: stage id ->
    ``applies_if`` of the section's script. Callers pick the first moment not used yet, so
    the moments they list are distinct.
    """
    stages = [it for it in items if it["kind"] == STAGE]
    objections = [it for it in items if it["kind"] == OBJECTION and _num(it.get("start")) is not None]
    found = [(pos, it) for pos, it in enumerate(stages) if it["status"] == "found" and _num(it.get("start")) is not None]
    speaking = [(n, u) for n, u in enumerate(turns or ()) if u.role in ("manager", "unknown") and str(u.text).strip()]
    out: dict[str, list[Moment]] = {}
    for pos, st in enumerate(stages):
        if st["status"] != "missed":
            continue
        moments: list[Moment] = []
        cond = [c for c in str(applies.get(st["item_id"]) or "").split(",") if c]
        if cond:
            raised = [ob for ob in objections if "objection" in cond or ob["item_id"] in cond]
            raised.sort(key=lambda ob: (ob["status"] != "unhandled", _num(ob["start"]) or 0.0))
            moments += [Moment(_num(ob["start"]), ob.get("text"),
                               f"the client objected here ('{ob.get('title') or ob['item_id']}')") for ob in raised]
        prev = next(((p, it) for p, it in reversed(found) if p < pos), None)
        nxt = next(((p, it) for p, it in found if p > pos), None)
        window = [u for n, u in speaking if _after(n, u, prev) and _before(n, u, nxt)]
        after = before = None
        if prev is not None:
            it = prev[1]
            at = _num(it.get("end")) if _num(it.get("end")) is not None else _num(it["start"])
            after = (at, f"it belongs after '{it.get('title') or it['item_id']}'")
        if nxt is not None:
            it = nxt[1]
            before = (_num(it["start"]), f"it belongs before '{it.get('title') or it['item_id']}'", it.get("text"))
        if prev is not None and (nxt is None or pos - prev[0] <= nxt[0] - pos):
            assert after is not None
            moments += [Moment(float(u.start), u.text, after[1]) for u in window]
            moments.append(Moment(after[0], None, after[1]))
            if before is not None:
                moments.append(Moment(before[0], before[2], before[1]))
        elif before is not None:
            moments.append(Moment(before[0], before[2], before[1]))
            moments += [Moment(float(u.start), u.text, before[1]) for u in reversed(window)]
            if after is not None:
                moments.append(Moment(after[0], None, after[1]))
        else:  # no stage of the script was said: the manager's first words
            moments += [Moment(float(u.start), u.text, "no stage of the script was said") for u in window[:1]]
        out[st["item_id"]] = moments
    return out


def _after(n: int, u: Any, prev: tuple[int, Mapping[str, Any]] | None) -> bool:
    if prev is None:
        return True
    idx = _index(prev[1].get("utterance"))
    if idx is not None:
        return n > idx
    end = _num(prev[1].get("end"))
    return float(u.start) >= (end if end is not None else _num(prev[1]["start"]) or 0.0)


def _before(n: int, u: Any, nxt: tuple[int, Mapping[str, Any]] | None) -> bool:
    if nxt is None:
        return True
    idx = _index(nxt[1].get("utterance"))
    if idx is not None:
        return n < idx
    return float(u.start) < (_num(nxt[1]["start"]) or 0.0)


def _call_lists(
    ws: Workspace, data: TeamData, mine: pd.DataFrame, opts: ScorecardOptions
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The worst and best calls, and their evidence moments (column ``list``: worst or best).

    A worst call's moments: each missed stage where it belonged (:func:`missed_stage_moments`),
    unhandled objections, forbidden phrases, order violations; no two at the same second of a
    call. A best call's: the stages and the objection handling found, with the quote.
    """
    import pandas as pd

    worst_cols = ["call_id", "started_at", "score", "critical_reason", "missed", "unhandled",
                  "forbidden", "source"]
    moment_cols = ["call_id", "time", "kind", "what", "status", "quote", "evidence", "source", "seconds", "list"]
    best_cols = ["call_id", "started_at", "score", "stages_done", "objections_handled", "source"]
    if mine.empty:
        return (pd.DataFrame(columns=worst_cols), pd.DataFrame(columns=moment_cols),
                pd.DataFrame(columns=best_cols))
    ordered = mine.sort_values(["score", "critical", "started_at"], ascending=[True, False, True], kind="stable")
    n_worst, n_best = opts.worst, opts.best
    if len(ordered) < n_worst + n_best:
        # few calls: split them, the lower half are the worst (a single call is a worst call)
        n_worst = min(n_worst, (len(ordered) + 1) // 2) if n_best else min(n_worst, len(ordered))
        n_best = min(n_best, len(ordered) - n_worst)
    worst = ordered.head(n_worst)
    best = ordered.tail(n_best).iloc[::-1] if n_best else ordered.iloc[0:0]
    keys = [(r.call_id, r.script_hash, r.rubric_hash) for r in pd.concat([worst, best]).itertuples()]
    items = call_items(ws, keys)
    by_call = {cid: g.to_dict("records") for cid, g in items.groupby("call_id", sort=False)}
    turns = turns_of(ws, worst["call_id"])
    cat = data.catalog[data.catalog["kind"] == STAGE]
    applies = {(sk, i): str(a or "") for sk, i, a in zip(cat["section"], cat["item_id"], cat["applies_if"])}

    def titles(g: list[dict[str, Any]], kind: str, status: str) -> str:
        return ", ".join(dict.fromkeys(str(it["title"] or it["item_id"]) for it in g
                                       if it["kind"] == kind and it["status"] == status))

    def moment(r: Any, kind: str, what: str, status: str, seconds: Any, quote: Any, which: str) -> dict[str, Any]:
        seconds = _num(seconds)
        text = quote if isinstance(quote, str) and quote.strip() else None
        return {
            "call_id": r.call_id, "time": clock(seconds), "kind": kind, "what": what, "status": status,
            "quote": text,
            "evidence": evidence(seconds, text, r.call_id, opts.quote_width) if (text or seconds is not None)
            else f"({r.call_id})",
            "source": by_call.get(r.call_id, [{}])[0].get("source"), "seconds": seconds, "list": which,
        }

    worst_rows, moment_rows, best_rows = [], [], []
    for r in worst.itertuples():
        g = by_call.get(r.call_id, [])
        meta = g[0] if g else None
        worst_rows.append({
            "call_id": r.call_id, "started_at": r.started_at, "score": r.score,
            "critical_reason": None if meta is None else meta["critical_reason"],
            "missed": titles(g, STAGE, "missed"), "unhandled": titles(g, OBJECTION, "unhandled"),
            "forbidden": titles(g, FORBIDDEN, "found"),
            "source": None if meta is None else meta["source"],
        })
        rows = [
            moment(r, it["kind"], str(it["title"] or it["item_id"]), it["status"], it["start"], it["text"], "worst")
            for it in g
            if (it["kind"], it["status"]) in ((OBJECTION, "unhandled"), (FORBIDDEN, "found"), (ORDER, "missed"))
        ]
        # A missed stage at its best moment; one already listed at that second (the
        # objection it should have answered, another stage missed at the same place) says
        # so instead of a second row: each second of a call is listed once.
        at = {round(m["seconds"], 2): m for m in rows if m["seconds"] is not None}
        section_applies = {i: a for (sk, i), a in applies.items() if sk == r.section}
        missed = missed_stage_moments(g, turns.get(r.call_id), section_applies)
        for it in g:
            if it["kind"] != STAGE or it["item_id"] not in missed:
                continue
            title = str(it["title"] or it["item_id"])
            m = missed[it["item_id"]][0] if missed[it["item_id"]] else None
            key = None if m is None or m.seconds is None else round(m.seconds, 2)
            same = at.get(key) if key is not None else None
            if same is None:
                row = moment(r, STAGE, f"{title}: {m.where}" if m and m.where else title, "missed",
                             None if m is None else m.seconds, None if m is None else m.quote, "worst")
                row["_titles"], row["_where"] = [title], (m.where if m else "")
                rows.append(row)
                if key is not None:
                    at[key] = row
            elif same.get("_where") == (m.where if m else None):
                same["_titles"].append(title)
                same["what"] = f"{', '.join(same['_titles'])}: {same['_where']}"
            else:
                same["what"] += f"; {title} missed"
        moment_rows += sorted(rows, key=lambda m: (m["seconds"] is None, m["seconds"] or 0.0))
    for r in best.itertuples():
        g = by_call.get(r.call_id, [])
        st = [it for it in g if it["kind"] == STAGE and it["status"] != "na"]
        ob = [it for it in g if it["kind"] == OBJECTION]
        best_rows.append({
            "call_id": r.call_id, "started_at": r.started_at, "score": r.score,
            "stages_done": f"{sum(it['status'] == 'found' for it in st)}/{len(st)}",
            "objections_handled": f"{sum(it['status'] == 'handled' for it in ob)}/{len(ob)}",
            "source": g[0]["source"] if g else None,
        })
        rows = [
            moment(r, it["kind"], str(it["title"] or it["item_id"]), it["status"], it["start"], it["text"], "best")
            for it in g if (it["kind"], it["status"]) in ((STAGE, "found"), (OBJECTION, "handled"))
        ]
        moment_rows += sorted(rows, key=lambda m: (m["seconds"] is None, m["seconds"] or 0.0))
    return (pd.DataFrame(worst_rows, columns=worst_cols), pd.DataFrame(moment_rows, columns=moment_cols),
            pd.DataFrame(best_rows, columns=best_cols))


# ---- outcome link ------------------------------------------------------------------------------
def outcome_link(
    ws: Workspace,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    *,
    version: str | Version | tuple[str, str] | None = None,
    manager: str | None = None,
    data: TeamData | None = None,
) -> pd.DataFrame:
    """Won rate when each stage / objection handling was done vs not done, with counts.

    Only calls whose outcome :func:`qa.metadata.outcome_won` recognises count. A stage is
    "done" when found (na calls are left out); an objection is "done" in a call when every
    time it was raised it was handled. Columns: ``kind, item_id, title, calls_done,
    won_done, won_rate_done, calls_not_done, won_not_done, won_rate_not_done, difference``
    (percentage points), ``section`` (one row per script and language, see
    :class:`Section`). Empty (with the columns) when no call carries a known outcome.
    """
    import pandas as pd

    from .metadata import outcome_won

    cols = ["kind", "item_id", "title", "calls_done", "won_done", "won_rate_done",
            "calls_not_done", "won_not_done", "won_rate_not_done", "difference", "section"]
    scope = data.scope if data is not None else Scope(resolve_versions(ws, version), *_period_bounds(date_from, date_to))
    if manager is not None:
        manager = resolve_manager(ws, manager)
    outcomes = [r[0] for r in ws.query("SELECT DISTINCT outcome FROM calls WHERE outcome IS NOT NULL")]
    verdict = {o: outcome_won(o) for o in outcomes}
    won = [o for o, v in verdict.items() if v is True]
    lost = [o for o, v in verdict.items() if v is False]
    if not won and not lost:
        return pd.DataFrame(columns=cols)
    frm, params = scope.where(manager=manager, items=True, scores=False)
    known = won + lost
    marks = ",".join("?" * len(known))
    won_marks = ",".join("?" * len(won)) or "NULL"
    outcome_sql = f" AND c.outcome IN ({marks})"
    # per version (a section each); with one version its hashes are not grouped by
    one = scope.versions[0] if len(scope.versions) == 1 else None
    ver = "" if one else "i.script_hash, i.rubric_hash, "
    ver_out = "" if one else "script_hash, rubric_hash, "
    stage = ws.frame(
        f"""SELECT {ver}i.item_id, i.status = 'found' AS done, COUNT(*) AS calls,
                   SUM(c.outcome IN ({won_marks})) AS won
            {frm}{outcome_sql} AND i.kind = '{STAGE}' AND i.status IN ('found', 'missed')
            GROUP BY {ver}i.item_id, done""",
        [*won, *params, *known],
    )
    stage.insert(0, "kind", STAGE)
    objection = ws.frame(
        f"""SELECT {ver_out}item_id, done, COUNT(*) AS calls, SUM(won) AS won FROM (
                SELECT i.call_id, {ver}i.item_id, MIN(i.status = 'handled') AS done,
                       MAX(c.outcome IN ({won_marks})) AS won
                {frm}{outcome_sql} AND i.kind = '{OBJECTION}'
                GROUP BY i.call_id, {ver}i.item_id)
            GROUP BY {ver_out}item_id, done""",
        [*won, *params, *known],
    )
    objection.insert(0, "kind", OBJECTION)
    raw = pd.concat([stage, objection], ignore_index=True)
    if raw.empty:
        return pd.DataFrame(columns=cols)
    if one is not None:
        raw["script_hash"], raw["rubric_hash"] = one.script_hash, one.rubric_hash
    # per section (script and language): a stage id of two scripts is two rows
    sections = data.sections if data is not None else _sections(ws, scope)
    by_version = {sec.version.key: sec.key for sec in sections}
    raw["section"] = [by_version.get((sh, rh), sh) for sh, rh in zip(raw["script_hash"], raw["rubric_hash"])]
    raw["done"] = raw["done"].astype(bool)
    wide = raw.pivot_table(index=["kind", "section", "item_id"], columns="done", values=["calls", "won"],
                           aggfunc="sum", fill_value=0)
    out = pd.DataFrame(index=wide.index)
    for flag, suffix in ((True, "done"), (False, "not_done")):
        out[f"calls_{suffix}"] = wide["calls"][flag] if flag in wide["calls"].columns else 0
        out[f"won_{suffix}"] = wide["won"][flag] if flag in wide["won"].columns else 0
        out[f"won_rate_{suffix}"] = _pct(out[f"won_{suffix}"], out[f"calls_{suffix}"])
    out["difference"] = out["won_rate_done"] - out["won_rate_not_done"]
    out = out.reset_index()
    cat = _catalog(ws, [sec for sec in sections if sec.key in set(raw["section"])],
                   raw.rename(columns={"done": "status"}))
    out = out.merge(cat[["section", "kind", "item_id", "title", "order"]], on=["section", "kind", "item_id"],
                    how="left")
    out["kind_order"] = (out["kind"] != STAGE).astype(int)
    out["section_order"] = out["section"].map({sec.key: n for n, sec in enumerate(sections)})
    out = out.sort_values(["section_order", "kind_order", "order", "item_id"], kind="stable")
    for col in ("calls_done", "won_done", "calls_not_done", "won_not_done"):
        out[col] = out[col].astype(int)
    return out[cols].reset_index(drop=True)
