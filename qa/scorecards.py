"""Scorecards: one manager's numbers against the team, the team leaderboard, the outcome link.

This step reads the workspace (tables ``calls``, ``scores``, ``items``, ``configs``; never the
transcripts) and hands pandas DataFrames on to :mod:`qa.coaching`, the reports and the CLI:

- :func:`scorecard` -> :class:`Scorecard`: calls scored, mean and median score, trend by day
  or week, per-stage completion against the team median and the team's best quartile,
  objection handling per objection type, forbidden phrases with examples, talk metrics
  against the team, rank in the team, the worst calls with their evidence moments and the
  best calls;
- :func:`team`: the leaderboard, one row per manager with the same columns;
- :func:`outcome_link`: where calls carry a deal outcome, the won rate when each stage (or
  objection handling) was done vs not done, with counts.

Conventions. Rates are percentages (0-100). A stage's rate counts only the calls where it
applied (``na`` is left out); an objection's rate is handled / raised. Team benchmarks are
taken over managers, not pooled calls: the team median is the median of the managers'
rates and the best quartile their 75th percentile (linear interpolation), so one busy
manager does not set the bar alone. Calls without a manager are counted in notes, never
ranked and never part of the team benchmarks.

Versions. A score belongs to one (script_hash, rubric_hash) version. By default the views
use, for each script file (``real_estate_inbound`` in ``real_estate_inbound.ru.yaml``) and
language, the version most recently scored with: translations of a script and different
scripts (inbound and cold calls) count together, while an edit of a file supersedes its
older versions. Calls in the period scored only under superseded versions are kept apart
and reported in ``notes``; ``version=`` picks another version by hash prefix. Within the
chosen versions each call counts once (its latest score).

Speed. A view reads one row per call in scope: each score keeps its item statuses per kind
(``scores.tokens_*``) and the key talk metrics as columns (``scores.metric_*``), so a team
is counted without reading ``items`` or parsing JSON. On 100,000 stored calls a 90-day view
still takes 1.6-2 CPU seconds on a loaded 2-core machine, most of it turning 100,000 rows
into Python objects (BENCHMARKS.md, "Supervisor views", says where the time goes).
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, QAError
from .store import FIELD_SEP, KEY_METRICS, TOKEN_KINDS, TOKEN_SEP, Workspace
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
    "scorecard",
    "script_family",
    "team",
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
@dataclass
class TeamData:
    """Everything the views compute from, loaded once for a scope.

    ``calls``: one row per scored call in scope (all managers, and calls without one):
    ``call_id, manager, day, started_at, score, critical, next_step, script_hash,
    rubric_hash`` and one column per talk metric. ``counts``: item rows per ``manager, kind,
    item_id, status`` (``n``). ``catalog``: ``kind, item_id, title, weight, order`` of every
    stage, objection and forbidden phrase (from the script text in ``configs``, else from the
    items). ``other_versions``: calls in the period scored only under other versions.
    """

    scope: Scope
    calls: pd.DataFrame
    counts: pd.DataFrame
    catalog: pd.DataFrame
    metrics: list[str]
    other_versions: pd.DataFrame
    known_managers: list[str] = field(default_factory=list)

    @cached_property
    def team_calls(self) -> pd.DataFrame:
        return self.calls[self.calls["manager"].notna()]

    @property
    def managers(self) -> list[str]:
        return sorted(self.team_calls["manager"].unique().tolist())

    @property
    def unassigned(self) -> int:
        return int(self.calls["manager"].isna().sum())

    def for_manager(self, ws: Workspace, manager: str) -> TeamData:
        """The same data with titles from the version most of the manager's calls use.

        With one version per language, a manager who speaks English reads the English
        stage titles; the numbers do not change.
        """
        if len(self.scope.versions) < 2:
            return self
        mine = self.calls[self.calls["manager"] == manager]
        if mine.empty:
            return self
        top = mine.groupby(["script_hash", "rubric_hash"]).size().idxmax()
        first = [v for v in self.scope.versions if v.key == tuple(top)]
        if not first or first[0] == self.scope.versions[0]:
            return self
        ordered = Scope((first[0], *(v for v in self.scope.versions if v != first[0])),
                        self.scope.date_from, self.scope.date_to)
        return replace(self, catalog=_catalog(ws, ordered, self.counts))

    def language_of(self, script_hash: str) -> str | None:
        return next((v.language for v in self.scope.versions if v.script_hash == script_hash), None)

    def notes(self, manager: str | None = None) -> list[str]:
        """Plain-language warnings: other versions kept apart, calls without a manager."""
        out: list[str] = []
        if len(self.scope.versions) > 1:
            out.append(
                "scores from the latest version of each script and language: "
                + "; ".join(f"{v.language or '?'} {v.label}" for v in self.scope.versions)
            )
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
) -> TeamData:
    """Load a scope's per-call frame and item counts.

    ``metrics``: the talk metrics to read (default: those of :data:`KEY_TALK_METRICS` the
    scores carry, else every numeric metric). A few aggregate queries, run ``workers`` at a
    time on separate read-only connections (1 = one after the other on this connection).
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
    token_sql = "".join(f", s.tokens_{k}" for k in TOKEN_KINDS)
    vsql, vparams = scope._version_sql("s2")
    psql, pparams = scope.period_sql("c")
    # One pass over the calls in scope (per-call columns and item tokens), and the calls
    # kept apart, run side by side (SQLite releases the GIL). When every score is under a
    # chosen version no call is kept apart, and that query (100,000 lookups) is skipped.
    chosen = {v.key for v in scope.versions}
    kept_apart = any((v["script_hash"], v["rubric_hash"]) not in chosen for v in stats)
    # One version: its hashes are the same on every row and are filled in afterwards.
    single = scope.versions[0] if len(scope.versions) == 1 else None
    hash_sql = "" if single else ", s.script_hash, s.rubric_hash"
    queries = [(
        f"""SELECT c.call_id, c.manager, c.day, c.started_at, s.score, s.critical, s.next_step
                   {hash_sql}{metric_sql}{token_sql} {frm}""",
        [*json_params, *params],
    )]
    if kept_apart:
        # calls of the period with scores, none of them under the chosen versions
        queries.append((
            f"""SELECT c.manager, s.script_hash, s.rubric_hash, COUNT(DISTINCT c.call_id) AS calls
                FROM calls c CROSS JOIN scores s ON s.call_id = c.call_id
                WHERE {psql} AND NOT EXISTS (SELECT 1 FROM scores s2 WHERE s2.call_id = c.call_id AND {vsql})
                GROUP BY c.manager, s.script_hash, s.rubric_hash""",
            [*pparams, *vparams],
        ))
    results = ws.frames(queries, workers=workers, raw=True)
    main = results[0]
    other = results[1] if kept_apart else (["manager", "script_hash", "rubric_hash", "calls"], [])
    # The token columns are counted here, in plain Python, and never become pandas strings:
    # on 100,000 calls that conversion alone would cost more than the counting.
    names, rows = main
    token_cols = [f"tokens_{k}" for k in TOKEN_KINDS]
    patterns = _patterns(rows, names.index("manager"), {k: names.index(c) for k, c in zip(TOKEN_KINDS, token_cols)})
    calls = pd.DataFrame.from_records(rows, columns=names, exclude=token_cols)
    if single is not None:
        calls.insert(7, "script_hash", pd.Series(single.script_hash, index=calls.index, dtype="str"))
        calls.insert(8, "rubric_hash", pd.Series(single.rubric_hash, index=calls.index, dtype="str"))
    other = pd.DataFrame.from_records(other[1], columns=other[0])
    calls = calls.rename(columns={f"m{n}": f"{TALK_COL}{m}" for n, m in enumerate(metrics)})
    calls["critical"] = calls["critical"].astype(bool)
    calls["score"] = calls["score"].astype(float)
    calls["next_step"] = pd.to_numeric(calls["next_step"], errors="coerce").astype(float)
    for m in metrics:
        calls[f"{TALK_COL}{m}"] = pd.to_numeric(calls[f"{TALK_COL}{m}"], errors="coerce")
    counts = _expand_patterns(patterns)
    catalog = _catalog(ws, scope, counts)
    if len(other):
        other = other.sort_values("calls", ascending=False, kind="stable")
    return TeamData(
        scope=scope, calls=calls, counts=counts, catalog=catalog, metrics=metrics,
        other_versions=other if len(other) else pd.DataFrame(columns=["manager", "script_hash", "rubric_hash", "calls"]),
        known_managers=ws.managers(),
    )


def _patterns(
    rows: Sequence[Sequence[Any]], manager: int, tokens: Mapping[str, int]
) -> list[tuple[Any, str, str, int]]:
    """Item counts per manager, as (manager, kind, token string, calls) rows, from the
    per-call rows (``manager``, ``tokens``: column positions).

    Each score keeps its call's ``item_id<US>status`` tokens per kind (``scores.tokens_*``,
    written with the items by :meth:`qa.store.Workspace.save_scores`), so the team is
    counted by grouping 100,000 short strings (a few thousand distinct ones) instead of
    reading ~2M item rows.
    """
    out: list[tuple[Any, str, str, int]] = []
    for kind, col in tokens.items():
        counted = Counter(map(itemgetter(manager, col), rows))
        out += [(m, kind, t, n) for (m, t), n in counted.items() if t is not None]
    return out


def _expand_patterns(patterns: Iterable[tuple[Any, str, str, int]]) -> pd.DataFrame:
    """(manager, kind, token string, calls) -> (manager, kind, item_id, status, n)."""
    import pandas as pd

    acc: defaultdict[tuple[Any, str, str, str], int] = defaultdict(int)
    split: dict[str, list[tuple[str, str]]] = {}  # managers share patterns: split each once
    for manager, kind, text, n in patterns:
        manager = None if manager is None or manager != manager else manager  # NaN -> None
        pairs = split.get(text)
        if pairs is None:
            pairs = split[text] = [
                (item_id, status) for item_id, _, status in
                (token.partition(FIELD_SEP) for token in str(text).split(TOKEN_SEP))
            ]
        n = int(n)
        for item_id, status in pairs:
            acc[(manager, kind, item_id, status)] += n
    return pd.DataFrame(
        [(*k, v) for k, v in acc.items()], columns=["manager", "kind", "item_id", "status", "n"]
    )


def _catalog(ws: Workspace, scope: Scope, counts: pd.DataFrame) -> pd.DataFrame:
    """Titles, weights and script order of every item in the counts."""
    import pandas as pd

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for v in scope.versions:
        script = _parsed_script(ws, v.script_hash)
        if script is not None:
            for n, st in enumerate(script.stages):
                rows.setdefault((STAGE, st.id), {
                    "title": st.title, "weight": float(st.weight), "order": n,
                    "applies_if": ",".join(st.applies_if),
                })
            for n, fb in enumerate(script.forbidden):
                rows.setdefault((FORBIDDEN, fb.id), {
                    "title": fb.phrase.text, "weight": float(fb.penalty), "order": n, "applies_if": "",
                    "critical": bool(fb.critical),
                })
        rubric = _parsed_rubric(ws, v.rubric_hash)
        if rubric is not None:
            for n, ob in enumerate(rubric.objections):
                rows.setdefault((OBJECTION, ob.id), {
                    "title": ob.title, "weight": ob.max_points, "order": n, "applies_if": "",
                })
    missing = {
        (k, i) for k, i in zip(counts["kind"], counts["item_id"]) if (k, i) not in rows
    }
    if missing:
        vsql, vparams = scope._version_sql("items")
        for kind, item_id in sorted(missing):
            # The first stored row of an item is from the earliest call scored with the
            # version: its rowid gives the script order, its max_score the weight.
            first = ws.query(
                f"SELECT rowid, title FROM items WHERE {vsql} AND kind = ? AND item_id = ? "
                "ORDER BY rowid LIMIT 1",
                [*vparams, kind, item_id],
            )
            weight = ws.query(
                f"SELECT max_score FROM items WHERE {vsql} AND kind = ? AND item_id = ? "
                "AND status NOT IN ('na') LIMIT 1",
                [*vparams, kind, item_id],
            )
            penalty = None
            if kind == FORBIDDEN:
                penalty = ws.query(
                    f"SELECT -score FROM items WHERE {vsql} AND kind = ? AND item_id = ? LIMIT 1",
                    [*vparams, kind, item_id],
                )
            rows[(kind, item_id)] = {
                "title": (first[0][1] if first and first[0][1] else item_id),
                "weight": float(((penalty or weight) or [(0.0,)])[0][0] or 0.0),
                "order": 10_000 + int(first[0][0]) if first else 1_000_000,
                "applies_if": "",
            }
    cat = pd.DataFrame(
        [{"kind": k, "item_id": i, "critical": False, **v} for (k, i), v in rows.items()],
        columns=["kind", "item_id", "title", "weight", "order", "applies_if", "critical"],
    )
    return cat.sort_values(["kind", "order", "item_id"], kind="stable").reset_index(drop=True)


# ---- rates ---------------------------------------------------------------------------------
_DONE = {STAGE: ("found",), OBJECTION: ("handled",)}
_NOT_DONE = {STAGE: ("missed",), OBJECTION: ("unhandled",)}


def item_rates(data: TeamData, kind: str) -> pd.DataFrame:
    """Per manager and item: ``done``, ``applicable`` and ``rate`` (percent)."""
    import pandas as pd

    c = data.counts[data.counts["kind"] == kind]
    done = c["status"].isin(_DONE[kind])
    applicable = done | c["status"].isin(_NOT_DONE[kind])
    frame = pd.DataFrame({
        "manager": c["manager"], "item_id": c["item_id"],
        "done": c["n"].where(done, 0), "applicable": c["n"].where(applicable, 0),
    })
    out = frame.groupby(["manager", "item_id"], dropna=False, as_index=False)[["done", "applicable"]].sum()
    out["rate"] = _pct(out["done"], out["applicable"])
    return out


def team_benchmarks(rates: pd.DataFrame) -> pd.DataFrame:
    """Per item: ``team_median`` and ``team_best_quartile`` of the managers' rates."""
    import pandas as pd

    r = rates[rates["manager"].notna() & (rates["applicable"] > 0)]
    if r.empty:
        return pd.DataFrame(columns=["item_id", "team_median", "team_best_quartile", "team_done", "team_applicable"])
    g = r.groupby("item_id")
    return pd.DataFrame({
        "team_median": g["rate"].median(),
        "team_best_quartile": g["rate"].quantile(0.75),
        "team_done": g["done"].sum(),
        "team_applicable": g["applicable"].sum(),
    }).reset_index()


# ---- the leaderboard -----------------------------------------------------------------------
def _leaderboard(data: TeamData) -> pd.DataFrame:
    import pandas as pd

    calls = data.team_calls
    base_cols = [
        "rank", "manager", "calls", "mean_score", "median_score", "next_step_rate",
        "critical_calls", "forbidden_said", "objections_raised", "objection_rate",
    ]
    if calls.empty:
        return pd.DataFrame(columns=base_cols)
    g = calls.groupby("manager")
    lb = pd.DataFrame({
        "calls": g.size(),
        "mean_score": g["score"].mean(),
        "median_score": g["score"].median(),
        "next_step_rate": g["next_step"].mean() * 100.0,
        "critical_calls": g["critical"].sum().astype(int),
    })
    counts = data.counts[data.counts["manager"].notna()]
    forb = counts[(counts["kind"] == FORBIDDEN) & (counts["status"] == "found")].groupby("manager")["n"].sum()
    lb["forbidden_said"] = forb.reindex(lb.index).fillna(0).astype(int)
    obj = counts[counts["kind"] == OBJECTION]
    raised = obj[obj["status"].isin(("handled", "unhandled"))].groupby("manager")["n"].sum().reindex(lb.index).fillna(0)
    handled = obj[obj["status"] == "handled"].groupby("manager")["n"].sum().reindex(lb.index).fillna(0)
    lb["objections_raised"] = raised.astype(int)
    lb["objection_rate"] = _pct(handled, raised)
    for kind, prefix in ((STAGE, STAGE_COL), (OBJECTION, OBJECTION_COL)):
        rates = item_rates(data, kind)
        rates = rates[rates["manager"].notna()]
        wide = rates.pivot(index="manager", columns="item_id", values="rate") if len(rates) else pd.DataFrame()
        for item_id in data.catalog.loc[data.catalog["kind"] == kind, "item_id"]:
            if item_id in wide.columns:
                lb[f"{prefix}{item_id}"] = wide[item_id].reindex(lb.index)
    talk_cols = [f"{TALK_COL}{m}" for m in data.metrics]
    if talk_cols:
        means = g[talk_cols].mean()
        for col in talk_cols:
            lb[col] = means[col]
    lb["rank"] = lb["mean_score"].rank(ascending=False, method="min").astype(int)
    lb = lb.reset_index().rename(columns={"index": "manager"})
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
    lb.attrs["titles"] = _titles(data)
    for kind, prefix in ((STAGE, STAGE_COL), (OBJECTION, OBJECTION_COL)):
        bench = team_benchmarks(item_rates(data, kind))
        for key in ("team_median", "team_best_quartile"):
            lb.attrs.setdefault(key, {}).update(
                {f"{prefix}{i}": float(v) for i, v in zip(bench["item_id"], bench[key]) if f"{prefix}{i}" in lb.columns}
            )
    lb.attrs["notes"] = data.notes()
    lb.attrs["scope"] = data.scope.label
    lb.attrs["versions"] = [v.label for v in data.scope.versions]
    return lb


def _titles(data: TeamData) -> dict[str, str]:
    out = {}
    for kind, prefix in ((STAGE, STAGE_COL), (OBJECTION, OBJECTION_COL)):
        cat = data.catalog[data.catalog["kind"] == kind]
        out.update({f"{prefix}{i}": str(t) for i, t in zip(cat["item_id"], cat["title"])})
    out.update({f"{TALK_COL}{m}": m.replace("_", " ") for m in data.metrics})
    return out


# ---- the scorecard ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ScorecardOptions:
    """What a scorecard shows besides the aggregates.

    ``worst``: how many of the manager's lowest-scoring calls to list with their evidence
    moments (5). ``best``: how many of the highest-scoring calls (3); a manager with fewer
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
    data = data.for_manager(ws, manager)
    scope = data.scope
    lb = _leaderboard(data)
    mine_calls = data.calls[data.calls["manager"] == manager]
    notes = data.notes(manager)
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
        "mean_score": float(mine_calls["score"].mean()) if n else None,
        "median_score": float(mine_calls["score"].median()) if n else None,
        "rank": int(row["rank"].iloc[0]) if len(row) else None,
        "team_size": len(lb),
        "team_mean_score": float(data.team_calls["score"].mean()) if len(data.team_calls) else None,
        "next_step_rate": float(row["next_step_rate"].iloc[0]) if len(row) else None,
        "critical_calls": int(row["critical_calls"].iloc[0]) if len(row) else 0,
        "forbidden_said": int(row["forbidden_said"].iloc[0]) if len(row) else 0,
        "objection_rate": float(row["objection_rate"].iloc[0]) if len(row) else None,
        "versions": "; ".join(v.label for v in scope.versions),
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
        notes=notes,
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
    import pandas as pd

    cols = [period, "calls", "mean_score", "median_score", "team_mean_score", "team_calls"]
    team_calls = data.team_calls[data.team_calls["day"].notna()]
    if team_calls.empty:
        return pd.DataFrame(columns=cols)
    bucket = _buckets(team_calls["day"], period)
    team_g = team_calls.groupby(bucket)["score"]
    team_df = pd.DataFrame({"team_mean_score": team_g.mean(), "team_calls": team_g.size()})
    mine = team_calls[team_calls["manager"] == manager]
    mine_g = mine.groupby(bucket[mine.index])["score"]
    mine_df = pd.DataFrame({"calls": mine_g.size(), "mean_score": mine_g.mean(), "median_score": mine_g.median()})
    out = mine_df.join(team_df, how="left").reset_index()
    out = out.rename(columns={out.columns[0]: period})
    out["calls"] = out["calls"].astype(int)
    return out[cols].sort_values(period).reset_index(drop=True)


def _item_table(data: TeamData, manager: str, kind: str) -> pd.DataFrame:
    import pandas as pd

    rates = item_rates(data, kind)
    bench = team_benchmarks(rates)
    mine = rates[rates["manager"] == manager][["item_id", "done", "applicable", "rate"]]
    cat = data.catalog[data.catalog["kind"] == kind][["item_id", "title", "weight", "order"]]
    name = STAGE if kind == STAGE else OBJECTION
    cols = [name, "title", "weight", "done", "applicable", "rate", "team_median",
            "team_best_quartile", "gap_to_best"]
    if kind == OBJECTION:
        cols = [name, "title", "raised", "handled", "rate", "team_median", "team_best_quartile",
                "gap_to_best"]
    if cat.empty:
        return pd.DataFrame(columns=cols)
    # only items this team met in the period (a stage nobody could do says nothing)
    df = cat.merge(mine, on="item_id", how="left").merge(
        bench[["item_id", "team_median", "team_best_quartile"]], on="item_id", how="left"
    )
    df = df[df["item_id"].isin(rates["item_id"])]
    # Only items of the scripts this manager's calls were scored with: a manager on inbound
    # calls is not shown the cold-call script's stages.
    if len(mine):
        df = df[df["item_id"].isin(mine["item_id"])]
    df["done"] = df["done"].fillna(0).astype(int)
    df["applicable"] = df["applicable"].fillna(0).astype(int)
    df["gap_to_best"] = (df["team_best_quartile"] - df["rate"]).clip(lower=0)
    df = df.sort_values("order", kind="stable").rename(columns={"item_id": name})
    if kind == OBJECTION:
        df = df.rename(columns={"applicable": "raised", "done": "handled"})
        df = df[df["raised"] > 0]
    return df[cols].reset_index(drop=True)


def _forbidden_table(ws: Workspace, data: TeamData, manager: str, opts: ScorecardOptions) -> pd.DataFrame:
    import pandas as pd

    cols = ["phrase", "said", "per_100_calls", "team_per_100_calls", "example", "time", "call_id", "source",
            "seconds"]
    c = data.counts[(data.counts["kind"] == FORBIDDEN) & (data.counts["status"] == "found")]
    team_n = max(1, len(data.team_calls))
    mine_n = max(1, int((data.calls["manager"] == manager).sum()))
    said = c[c["manager"] == manager].groupby("item_id")["n"].sum()
    if said.empty:
        return pd.DataFrame(columns=cols)
    team_said = c[c["manager"].notna()].groupby("item_id")["n"].sum()
    frm, params = data.scope.where(manager=manager, items=True, scores=False)
    ex = ws.frame(
        f"""SELECT i.item_id, i.text, i.start, c.call_id, c.source {frm}
            AND i.kind = '{FORBIDDEN}' AND i.status = 'found'
            ORDER BY c.started_at DESC, i.start""",
        params,
    ).drop_duplicates("item_id").set_index("item_id")
    cat = data.catalog[data.catalog["kind"] == FORBIDDEN].set_index("item_id")
    rows = []
    for item_id, n in said.sort_values(ascending=False, kind="stable").items():
        e = ex.loc[item_id] if item_id in ex.index else None
        rows.append({
            "phrase": cat["title"].get(item_id, item_id),
            "said": int(n),
            "per_100_calls": n * 100.0 / mine_n,
            "team_per_100_calls": team_said.get(item_id, 0) * 100.0 / team_n,
            "example": None if e is None else evidence(None, e["text"], None, opts.quote_width)[1:-1],
            "time": None if e is None else clock(e["start"]),
            "call_id": None if e is None else e["call_id"],
            "source": None if e is None else e["source"],
            "seconds": None if e is None else e["start"],
        })
    return pd.DataFrame(rows, columns=cols)


def _talk_table(data: TeamData, manager: str) -> pd.DataFrame:
    import pandas as pd

    cols = ["metric", "value", "team_median", "team_p25", "team_p75"]
    talk_cols = [f"{TALK_COL}{m}" for m in data.metrics]
    if not talk_cols or data.team_calls.empty:
        return pd.DataFrame(columns=cols)
    means = data.team_calls.groupby("manager")[talk_cols].mean()
    rows = []
    for m, col in zip(data.metrics, talk_cols):
        per = means[col].dropna()
        rows.append({
            "metric": m,
            "value": means[col].get(manager),
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
            "role", "text", "matched", "phrase", "similarity", "detail", "source", "started_at",
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
                       c.source, c.started_at, c.client_phone, c.manager, s.critical_reason
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


def _call_lists(
    ws: Workspace, data: TeamData, mine: pd.DataFrame, opts: ScorecardOptions
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    import pandas as pd

    worst_cols = ["call_id", "started_at", "score", "critical_reason", "missed", "unhandled",
                  "forbidden", "source"]
    moment_cols = ["call_id", "time", "kind", "what", "status", "quote", "evidence", "source", "seconds"]
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
    by_call = {cid: g for cid, g in items.groupby("call_id", sort=False)}
    empty = items.iloc[0:0]

    def titles(g: pd.DataFrame, kind: str, status: str) -> str:
        sel = g[(g["kind"] == kind) & (g["status"] == status)]
        return ", ".join(dict.fromkeys(str(t or i) for t, i in zip(sel["title"], sel["item_id"])))

    worst_rows, moment_rows, best_rows = [], [], []
    for r in worst.itertuples():
        g = by_call.get(r.call_id, empty)
        meta = g.iloc[0] if len(g) else None
        worst_rows.append({
            "call_id": r.call_id, "started_at": r.started_at, "score": r.score,
            "critical_reason": None if meta is None else meta["critical_reason"],
            "missed": titles(g, STAGE, "missed"), "unhandled": titles(g, OBJECTION, "unhandled"),
            "forbidden": titles(g, FORBIDDEN, "found"),
            "source": None if meta is None else meta["source"],
        })
        bad = g[((g["kind"] == OBJECTION) & (g["status"] == "unhandled"))
                | ((g["kind"] == FORBIDDEN) & (g["status"] == "found"))
                | ((g["kind"] == ORDER) & (g["status"] == "missed"))]
        for it in bad.sort_values("start", na_position="last", kind="stable").itertuples():
            what = it.title or it.item_id
            moment_rows.append({
                "call_id": r.call_id, "time": clock(it.start), "kind": it.kind, "what": what,
                "status": it.status, "quote": it.text,
                "evidence": evidence(it.start, it.text, r.call_id, opts.quote_width) if it.text else f"({r.call_id})",
                "source": it.source, "seconds": it.start,
            })
    for r in best.itertuples():
        g = by_call.get(r.call_id, empty)
        st = g[(g["kind"] == STAGE) & (g["status"] != "na")]
        ob = g[g["kind"] == OBJECTION]
        best_rows.append({
            "call_id": r.call_id, "started_at": r.started_at, "score": r.score,
            "stages_done": f"{int((st['status'] == 'found').sum())}/{len(st)}",
            "objections_handled": f"{int((ob['status'] == 'handled').sum())}/{len(ob)}",
            "source": g["source"].iloc[0] if len(g) else None,
        })
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
    (percentage points). Empty (with the columns) when no call carries a known outcome.
    """
    import pandas as pd

    from .metadata import outcome_won

    cols = ["kind", "item_id", "title", "calls_done", "won_done", "won_rate_done",
            "calls_not_done", "won_not_done", "won_rate_not_done", "difference"]
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
    stage = ws.frame(
        f"""SELECT i.item_id, i.status = 'found' AS done, COUNT(*) AS calls,
                   SUM(c.outcome IN ({won_marks})) AS won
            {frm}{outcome_sql} AND i.kind = '{STAGE}' AND i.status IN ('found', 'missed')
            GROUP BY i.item_id, done""",
        [*won, *params, *known],
    )
    stage.insert(0, "kind", STAGE)
    objection = ws.frame(
        f"""SELECT item_id, done, COUNT(*) AS calls, SUM(won) AS won FROM (
                SELECT i.call_id, i.item_id, MIN(i.status = 'handled') AS done,
                       MAX(c.outcome IN ({won_marks})) AS won
                {frm}{outcome_sql} AND i.kind = '{OBJECTION}'
                GROUP BY i.call_id, i.item_id)
            GROUP BY item_id, done""",
        [*won, *params, *known],
    )
    objection.insert(0, "kind", OBJECTION)
    raw = pd.concat([stage, objection], ignore_index=True)
    if raw.empty:
        return pd.DataFrame(columns=cols)
    raw["done"] = raw["done"].astype(bool)
    wide = raw.pivot_table(index=["kind", "item_id"], columns="done", values=["calls", "won"],
                           aggfunc="sum", fill_value=0)
    out = pd.DataFrame(index=wide.index)
    for flag, suffix in ((True, "done"), (False, "not_done")):
        out[f"calls_{suffix}"] = wide["calls"][flag] if flag in wide["calls"].columns else 0
        out[f"won_{suffix}"] = wide["won"][flag] if flag in wide["won"].columns else 0
        out[f"won_rate_{suffix}"] = _pct(out[f"won_{suffix}"], out[f"calls_{suffix}"])
    out["difference"] = out["won_rate_done"] - out["won_rate_not_done"]
    out = out.reset_index()
    cat = _catalog(ws, scope, raw.rename(columns={"done": "status"}))
    out = out.merge(cat[["kind", "item_id", "title", "order"]], on=["kind", "item_id"], how="left")
    out["kind_order"] = (out["kind"] != STAGE).astype(int)
    out = out.sort_values(["kind_order", "order", "item_id"], kind="stable")
    for col in ("calls_done", "won_done", "calls_not_done", "won_not_done"):
        out[col] = out[col].astype(int)
    return out[cols].reset_index(drop=True)
