"""What a report shows, read from the workspace: the calls of a period and their scores.

:func:`load_period` reads table ``calls`` for a period (and optionally one manager), joins
each call's most recent score (a workspace may hold the same call scored with several
script versions, or Russian and English calls scored with scripts in their language) and
that score's ``items``. It hands a :class:`PeriodData` to the page writers and the Excel
export, which both draw on the same frames, so the site and the workbook never disagree.

Which score a call shows follows the views' one rule (:mod:`qa.versions`), so the day
page, the manager pages and the scorecards count the same calls. Per-manager scorecards
and coaching plans come from ``qa.scorecards`` and ``qa.coaching``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, QAError
from ..store import ITEM_COLUMNS, Workspace
from ..versions import Scope, resolve_versions

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Period", "PeriodData", "load_period", "quality_flags", "review_reasons"]


def _parse_day(value: str, what: str) -> str:
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError as e:
        raise QAError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-21") from e


@dataclass(frozen=True)
class Period:
    """Inclusive range of call days (``YYYY-MM-DD``); ``None`` ends are open."""

    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        if self.date_from is not None:
            object.__setattr__(self, "date_from", _parse_day(self.date_from, "--from"))
        if self.date_to is not None:
            object.__setattr__(self, "date_to", _parse_day(self.date_to, "--to"))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise QAError(
                f"--from {self.date_from} is after --to {self.date_to}; swap them"
            )

    @classmethod
    def of(cls, day: str | None = None, date_from: str | None = None, date_to: str | None = None) -> Period:
        """``day`` alone, or ``date_from``/``date_to``; both forms at once is a usage error."""
        if day is not None:
            if date_from is not None or date_to is not None:
                raise QAError("give either --day or --from/--to, not both")
            d = _parse_day(day, "--day")
            return cls(d, d)
        return cls(date_from, date_to)

    @property
    def is_day(self) -> bool:
        return self.date_from is not None and self.date_from == self.date_to

    @property
    def is_open(self) -> bool:
        return self.date_from is None and self.date_to is None

    def label(self) -> str:
        if self.is_day:
            return str(self.date_from)
        if self.is_open:
            return ""
        return f"{self.date_from or '…'} – {self.date_to or '…'}"


@dataclass
class PeriodData:
    """Calls of a period with their latest score, and those scores' items.

    ``calls`` columns: ``call_id, source, manager, started_at, day, direction, duration,
    outcome, language, quality`` (dict), ``score, points, max_points, critical,
    critical_reason, next_step, metrics`` (dict), ``script_name, rubric_name, script_hash,
    rubric_hash`` (score columns are NaN/None for calls not scored yet).
    ``items`` has the columns of table ``items`` in stored order (``seq``).
    ``team_calls`` / ``team_items`` are the same for every manager of the period (the
    comparison base when the report is limited to one manager).
    """

    period: Period
    manager: str | None
    calls: pd.DataFrame
    items: pd.DataFrame
    team_calls: pd.DataFrame
    team_items: pd.DataFrame
    managers: list[str] = field(default_factory=list)
    _by_call: dict[str, pd.DataFrame] | None = field(default=None, repr=False)

    def call_items(self, call_id: str) -> pd.DataFrame:
        """The items of one call, in stored (script) order."""
        if self._by_call is None:
            # Grouped once: a day report looks up every call's items.
            self._by_call = {str(k): g for k, g in self.items.groupby("call_id", sort=False)}
        return self._by_call.get(call_id, self.items.iloc[0:0])


def _loads(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def load_period(ws: Workspace, period: Period, manager: str | None = None) -> PeriodData:
    """Read the calls of ``period`` (all managers) and keep ``manager``'s as the scope.

    Raises :class:`NotFoundError` when the workspace has no calls, none in the period,
    or the manager has none there.
    """

    where, params = [], []
    if period.date_from:
        where.append("c.day >= ?")
        params.append(period.date_from)
    if period.date_to:
        where.append("c.day <= ?")
        params.append(period.date_to)
    sql = (
        "SELECT c.call_id, c.source, c.manager, c.started_at, c.day, c.direction, c.duration, "
        "c.outcome, c.language, c.quality_json FROM calls c"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY c.started_at, c.call_id"
    )
    calls = ws.frame(sql, params)
    if calls.empty:
        total = ws.query("SELECT COUNT(*), MIN(day), MAX(day) FROM calls")[0]
        if not total[0]:
            raise NotFoundError(
                f"{ws.path}: the workspace has no calls; run 'qa score RECORDINGS --script ...' first"
            )
        raise NotFoundError(
            f"no calls in {period.label() or 'the workspace'}; the workspace has "
            f"{total[0]} calls from {total[1]} to {total[2]}; pick --day or --from/--to in that range"
        )
    calls["quality"] = [_loads(q) for q in calls.pop("quality_json")]

    scores, items = _scores_and_items(ws, period)
    calls = calls.merge(scores, on="call_id", how="left")
    # NaN (not scored) is not critical; NaN != NaN.
    calls["critical"] = [bool(v) if v is not None and v == v else False for v in calls["critical"]]
    calls["metrics"] = [m if isinstance(m, dict) else {} for m in calls["metrics"]]

    managers = sorted({m for m in calls["manager"].dropna().tolist() if m})
    team_calls, team_items = calls, items
    if manager is not None:
        folded = [m for m in managers if m.casefold() == manager.casefold()]
        if manager not in managers and len(folded) == 1:
            manager = folded[0]  # "ivanov" finds "Ivanov", as in the scorecards
        if manager not in managers:
            known = ", ".join(managers) or "none"
            raise NotFoundError(
                f"manager {manager!r} has no calls in {period.label() or 'the workspace'}; "
                f"managers there: {known}"
            )
        calls = calls[calls["manager"] == manager].reset_index(drop=True)
        items = items[items["call_id"].isin(set(calls["call_id"]))].reset_index(drop=True)
    return PeriodData(period, manager, calls, items, team_calls, team_items, managers)


#: Columns of :attr:`PeriodData.items`: the stored order and the columns of table ``items``.
ITEM_FRAME_COLUMNS = ["seq", "call_id", *ITEM_COLUMNS]


def _scores_and_items(ws: Workspace, period: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The score each call counts with and its items, by the views' one rule
    (:mod:`qa.versions`): the latest version of each script file and language, each call
    once. A call scored only under a superseded version shows as not scored here, as it is
    left out of the scorecards, so every page counts the same calls."""
    import pandas as pd

    score_cols = ["call_id", "script_hash", "rubric_hash", "score", "points", "max_points", "critical",
                  "critical_reason", "next_step", "metrics", "script_name", "rubric_name"]
    try:
        scope = Scope(resolve_versions(ws), period.date_from, period.date_to)
    except NotFoundError:  # nothing scored yet: the calls are listed as not scored
        return pd.DataFrame(columns=score_cols), pd.DataFrame(columns=ITEM_FRAME_COLUMNS)
    frm, params = scope.where()
    scores = ws.frame(
        "SELECT s.call_id, s.script_hash, s.rubric_hash, s.score, s.points, s.max_points, s.critical, "
        f"s.critical_reason, s.next_step, s.metrics_json, s.summary_json {frm}",
        params,
    )
    scores["metrics"] = [_loads(m) for m in scores.pop("metrics_json")]
    summaries = [_loads(s) for s in scores.pop("summary_json")]
    scores["script_name"] = [s.get("script_name") for s in summaries]
    scores["rubric_name"] = [s.get("rubric_name") for s in summaries]
    scores["critical"] = scores["critical"].astype(bool)
    frm_i, params_i = scope.where(items=True)
    items = ws.frame(
        f"SELECT i.rowid AS seq, i.call_id, {', '.join('i.' + c for c in ITEM_COLUMNS)} {frm_i} "
        "ORDER BY i.rowid",
        params_i,
    )
    return scores[score_cols], items[ITEM_FRAME_COLUMNS]


def quality_flags(quality: Mapping[str, Any]) -> list[str]:
    """Codes of the quality problems recorded for a call (``qa.audio.FLAG_CODES``).

    ``quality_json`` keeps measurements (``clipping_share: 0.01``) next to a ``flags``
    list, which is authoritative when present; transcripts stored by other tools may only
    carry flags as keys set to ``true``, which count then.
    """
    listed = quality.get("flags")
    if isinstance(listed, list | tuple):
        return list(dict.fromkeys(str(f) for f in listed))
    return [str(k) for k, v in quality.items() if v is True]


def flag_detail(quality: Mapping[str, Any], flag: str) -> str | None:
    """The value behind a flag when it says more than the flag (``silent_channel: left``)."""
    value = quality.get(flag)
    return value if isinstance(value, str) and value else None


def review_reasons(call: Mapping[str, Any], low_score: float) -> list[tuple[str, str]]:
    """Why a call should be listed for review: ``(kind, text)`` with kind ``critical``,
    ``quality`` or ``low_score``; empty when nothing is wrong."""
    reasons: list[tuple[str, str]] = []
    if call.get("critical"):
        reasons.append(("critical", str(call.get("critical_reason") or "")))
    for flag in quality_flags(call.get("quality") or {}):
        reasons.append(("quality", flag))
    score = call.get("score")
    if score is not None and score == score and float(score) < low_score:
        reasons.append(("low_score", f"{float(score):.0f}"))
    return reasons
