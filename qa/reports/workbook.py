"""The report's workbook (``report.xlsx``): the same tables the pages show, one sheet
each.

:func:`tables` gives them with plain column names (``call_id``, ``mean_score``; what
:class:`~qa.reports.SiteResult` hands a notebook); :func:`localized` is what the workbook
shows: sheet names and column headers in the interface language (catalog keys
``sheet_<name>`` and ``col_<column>`` of :mod:`qa.ui`; the English ones are the plain names,
so a script reading an English workbook keeps working). Cell values stay as stored."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .data import quality_flags, review_reasons
from .html import Labels
from .site import (
    _Site,
    _value,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qa")


def tables(site: _Site) -> dict[str, pd.DataFrame]:
    """The report's tables for Excel: one sheet each, plain column names."""
    import pandas as pd

    calls = []
    for c in site.calls:
        reasons = review_reasons(c, site.opts.low_score)
        calls.append({
            "call_id": c["call_id"],
            "started_at": _value(c, "started_at"),
            "manager": _value(c, "manager"),
            "direction": _value(c, "direction"),
            "outcome": _value(c, "outcome"),
            "duration_s": _value(c, "duration"),
            "score": _value(c, "score"),
            "points": _value(c, "points"),
            "max_points": _value(c, "max_points"),
            "critical": bool(c.get("critical")),
            "critical_reason": _value(c, "critical_reason"),
            "next_step": None if _value(c, "next_step") is None else bool(c["next_step"]),
            "quality_flags": ", ".join(quality_flags(c.get("quality") or {})),
            "review": "; ".join(f"{k}: {v}" if v else k for k, v in reasons),
            "script": _value(c, "script_name"),
            "page": site.call_path(c["call_id"]),
            "source": _value(c, "source"),
        })
    items = site.data.items
    evidence = items[items["kind"].isin(["stage", "objection", "step", "forbidden", "order"])]
    evidence = evidence.drop(columns=["seq"]).rename(columns={"start": "start_s", "end": "end_s"})
    lb = site.leaderboard()
    managers = pd.DataFrame() if lb is None else lb.rename(columns=_leaderboard_titles(lb, site.t))
    stages: list[pd.DataFrame] = []
    objections: list[pd.DataFrame] = []
    moments: list[pd.DataFrame] = []
    for name in site.managers:
        card = site.scorecard(name)
        if card is None or card.empty:
            continue
        for frame, out in ((card.stages, stages), (card.objections, objections), (card.moments, moments)):
            if len(frame):
                out.append(frame.assign(manager=name)[["manager", *frame.columns]])
    return {
        "calls": pd.DataFrame(calls),
        "managers": managers,
        "stages_vs_team": pd.concat(stages, ignore_index=True) if stages else pd.DataFrame(),
        "objections_vs_team": pd.concat(objections, ignore_index=True) if objections else pd.DataFrame(),
        "moments": pd.concat(moments, ignore_index=True) if moments else pd.DataFrame(),
        "missed_stages": pd.DataFrame(
            site.missed_stages(), columns=["stage", "title", "applicable", "missed", "missed_pct"]
        ),
        "review": pd.DataFrame([r for r in calls if r["review"]], columns=list(calls[0]) if calls else None),
        "evidence": evidence.reset_index(drop=True),
    }


def _leaderboard_titles(lb: pd.DataFrame, t: Labels) -> dict[str, str]:
    """Leaderboard column -> header: stage and objection titles (the scripts' words), talk
    metrics in the interface language (``talk:manager_wpm`` -> "Speech rate, words/min")."""
    from ..scorecards import TALK_COL

    titles = dict(lb.attrs.get("titles", {}))
    for col in lb.columns:
        if str(col).startswith(TALK_COL):
            titles[col] = t.word("metric", str(col)[len(TALK_COL):])
    return titles


def localized(tables: dict[str, pd.DataFrame], t: Labels) -> dict[str, pd.DataFrame]:
    """The workbook's sheets: ``tables`` with sheet names and plain column headers in the
    interface language; a column the catalog has no word for (a stage title) is kept."""
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        headers = {c: t(f"col_{c}") for c in frame.columns if t.has(f"col_{c}")}
        out[t.word("sheet", name)] = frame.rename(columns=headers)
    return out
