"""The manager page (``managers/<name>.html``): the manager's scorecard against the team
(:mod:`qa.scorecards`), score trend, stages, objections, forbidden phrases, talk metrics,
the evidence moments of the worst calls, the coaching plan (:mod:`qa.coaching`) and the
calls."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from . import charts
from .html import (
    esc,
    fmt_num,
    fmt_seconds,
    is_missing,
    page,
    table,
    td,
)
from .site import (
    _goal_text,
    _metric_value,
    _period_label,
    _rate_pill,
    _Site,
    _status_chip,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger("qa")


def manager_page(site: _Site, name: str) -> str:
    t = site.t
    calls = [c for c in site.calls if c.get("manager") == name]
    card = site.scorecard(name)
    body = [f"<h1>{esc(name)}</h1>"]
    if card is not None and card.rank is not None:
        body.append(f'<p class="sub">{esc(t("rank_of", rank=card.rank, size=card.team_size))}</p>')
    if card is None or card.empty:
        body.append(f'<div class="alert info">{esc(t("no_scorecard"))}</div>')
        for note in (card.notes if card is not None else []):
            body.append(f'<p class="note">{esc(note)}</p>')
    else:
        body.append(manager_stats(site, card))
        body.append(
            '<div class="grid2">'
            + trend_card(site, name)
            + stages_card(site, card)
            + "</div>"
        )
        body.append(plan_card(site, name, skip_notes=set(card.notes)))
        body.append(moments_card(site, card))
        body.append('<div class="grid2"><div class="stack">' + objections_card(site, card)
                    + forbidden_card(site, card) + "</div>" + talk_card(site, card) + "</div>")
        for note in card.notes:
            body.append(f'<p class="note">{esc(note)}</p>')
    body.append(site.calls_card(calls, depth=1, title=t("calls"), show_manager=False))
    crumbs: list[tuple[str, str | None]] = [(site.period_title(), "index.html"), (name, None)]
    return page(title=f"{name} · {site.period_title()}", body="".join(body), depth=1, labels=t,
                crumbs=crumbs, footer=site.footer(), body_class="manager")



def manager_stats(site: _Site, card: Any) -> str:
    t = site.t
    s = card.summary.iloc[0].to_dict()
    cards = {
        t("scored"): str(card.calls),
        t("avg_score"): fmt_num(s.get("mean_score"), 1),
        t("team_avg_score"): fmt_num(s.get("team_mean_score"), 1),
        t("next_step_rate"): fmt_num(s.get("next_step_rate"), 0, "%"),
        t("critical"): fmt_num(s.get("critical_calls"), 0),
        t("objection_rate"): fmt_num(s.get("objection_rate"), 0, "%"),
    }
    return '<div class="cards">' + "".join(
        f'<div class="stat"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
        for k, v in cards.items()
    ) + "</div>"


def trend_card(site: _Site, name: str) -> str:
    t = site.t
    window = site.trend_window()
    card = site.scorecard(name, window)
    points = []
    if card is not None:
        for r in card.trend.to_dict(orient="records"):
            label = str(r[card.period])
            mean, team_mean = r.get("mean_score"), r.get("team_mean_score")
            points.append(charts.Point(
                label, None if is_missing(mean) else float(mean),
                None if is_missing(team_mean) else float(team_mean),
                tip=f'{label}: {fmt_num(mean, 1)} ({r.get("calls")} {t("calls").lower()}); '
                    f'{t("team_average")}: {fmt_num(team_mean, 1)}',
            ))
    svg = charts.line_chart(points, title=t("score_trend"), series=t("this_manager"),
                            other_series=t("team_average"), empty=t("no_scores"))
    span = t("all_days") if window == (None, None) else f"{window[0] or '…'} – {window[1] or '…'}"
    return (f'<section class="card"><h2>{esc(t("score_trend"))}</h2>'
            f'<p class="note">{esc(span)}</p>{svg}</section>')


def stages_card(site: _Site, card: Any) -> str:
    t = site.t
    bars = []
    # a manager on two scripts (or languages): each bar says which one
    several = len(getattr(card, "sections", {}) or {}) > 1
    for r in card.stages.to_dict(orient="records"):
        rate, team = r.get("rate"), r.get("team_median")
        rate_v = None if is_missing(rate) else float(rate)
        team_v = None if is_missing(team) else float(team)
        weak = rate_v is not None and team_v is not None and rate_v < team_v
        label = str(r.get("title") or r.get("stage"))
        if several:
            label += f' ({card.sections.get(r.get("section"), r.get("section"))})'
        bars.append(charts.Bar(
            label, rate_v, team_v, css="weak" if weak else "",
            tip=f'{r.get("title")}: {r.get("done")}/{r.get("applicable")} '
                f'({fmt_num(rate_v, 0, "%")}); {t("team_median")}: {fmt_num(team_v, 0, "%")}',
        ))
    svg = charts.hbars(bars, title=t("stages_vs_team"), series=t("this_manager"),
                       other_series=t("team_median"), empty=t("no_scores"))
    return (f'<section class="card"><h2>{esc(t("stages_vs_team"))}</h2>'
            f'<p class="note">{esc(t("stages_vs_team_note"))}</p>{svg}</section>')


def objections_card(site: _Site, card: Any) -> str:
    t = site.t
    rows = [
        "<tr>"
        + td(esc(r.get("title") or r.get("objection")))
        + td(fmt_num(r.get("raised"), 0), num=True, value=r.get("raised"))
        + td(fmt_num(r.get("handled"), 0), num=True, value=r.get("handled"))
        + td(_rate_pill(r.get("rate"), r.get("team_median")), num=True, value=r.get("rate"))
        + td(esc(fmt_num(r.get("team_median"), 0, "%")), num=True, value=r.get("team_median"))
        + "</tr>"
        for r in card.objections.to_dict(orient="records")
    ]
    tbl = table([(t("objection"), "text"), (t("raised"), "num"), (t("handled"), "num"),
                 (t("handled_rate"), "num"), (t("team_median"), "num")],
                rows, empty=t("no_objections_period"))
    return f'<section class="card"><h2>{esc(t("objection_handling"))}</h2>{tbl}</section>'


def moments_card(site: _Site, card: Any) -> str:
    """The worst calls' evidence moments, each a link that opens the call there."""
    t = site.t
    rows = []
    by_id = {c["call_id"]: c for c in site.calls}
    for r in card.moments.to_dict(orient="records"):
        if r.get("list", "worst") != "worst":  # the best calls' moments are the scorecard's
            continue
        call = by_id.get(r.get("call_id"))
        seconds = r.get("seconds")
        when = None if is_missing(seconds) else float(seconds)
        link = (site.call_link(call, 1, text=f'{r["call_id"]} · {fmt_seconds(when)}' if when is not None
                               else str(r["call_id"]), t=when)
                if call is not None else esc(r.get("call_id")))
        kind = str(r.get("kind") or "")
        rows.append(
            "<tr>"
            + td(link)
            + td(f'<span class="chip k-{esc(kind)}">{esc(t("kind_" + kind))}</span> {esc(r.get("what") or "")}')
            # A forbidden phrase is "found" by definition: no status chip for it.
            + td(_status_chip(str(r["status"]), t) if r.get("status") and kind != "forbidden" else "")
            + td(f'<q>{esc(r.get("quote"))}</q>' if r.get("quote") else "", css="ev")
            + "</tr>"
        )
    tbl = table([(t("call"), "text"), (t("what"), "text"), (t("status"), "text"), (t("quote"), "text")],
                rows, empty=t("no_moments"))
    return (f'<section class="card"><h2>{esc(t("moments"))}</h2>'
            f'<p class="note">{esc(t("moments_note"))}</p>{tbl}</section>')


def forbidden_card(site: _Site, card: Any) -> str:
    t = site.t
    rows = [
        "<tr>"
        + td(esc(r.get("phrase")))
        + td(fmt_num(r.get("said"), 0), num=True, value=r.get("said"))
        + td(esc(fmt_num(r.get("per_100_calls"), 1)), num=True, value=r.get("per_100_calls"))
        + td(esc(fmt_num(r.get("team_per_100_calls"), 1)), num=True, value=r.get("team_per_100_calls"))
        + "</tr>"
        for r in card.forbidden.to_dict(orient="records")
    ]
    tbl = table([(t("phrase_said"), "text"), (t("said"), "num"), (t("per_100_calls"), "num"),
                 (t("team_per_100_calls"), "num")], rows, empty=t("no_forbidden"))
    return f'<section class="card"><h2>{esc(t("forbidden"))}</h2>{tbl}</section>'


def talk_card(site: _Site, card: Any) -> str:
    t = site.t
    rows = []
    for r in card.talk.to_dict(orient="records"):
        metric = str(r.get("metric"))
        label = t("metric_" + metric) if t.has("metric_" + metric) else metric.replace("_", " ")
        rows.append(
            "<tr>" + td(esc(label))
            + td(esc(_metric_value(metric, r.get("value"))), num=True, value=r.get("value"))
            + td(esc(_metric_value(metric, r.get("team_median"))), num=True, value=r.get("team_median"))
            + "</tr>"
        )
    tbl = table([(t("metric"), "text"), (t("this_manager"), "num"), (t("team_median"), "num")],
                rows, empty=t("no_metrics"))
    return f'<section class="card"><h2>{esc(t("metrics"))}</h2>{tbl}</section>'


def saved_plan(site: _Site, name: str) -> tuple[dict[str, Any] | None, str]:
    """The coaching plan to show and how it was obtained: the latest plan saved for a
    period overlapping the report's (``qa coach`` saves them), else one
    computed now by ``qa.coaching.coach`` without saving (it checks the previous
    saved plan's goals against this period)."""
    from .. import coaching

    p = site.data.period
    for saved in reversed(site.ws.plans(name)):
        lo, hi = saved.get("period_from"), saved.get("period_to")
        if (p.date_to is None or lo is None or lo <= p.date_to) and (
            p.date_from is None or hi is None or hi >= p.date_from
        ):
            when = dt.datetime.fromtimestamp(float(saved["created_at"])).strftime("%Y-%m-%d")
            return dict(saved["plan"]), site.t("plan_saved", when=when)
    if not site.has_scores():
        return None, ""
    window = (p.date_from, p.date_to)
    plan = coaching.coach(site.ws, name, p.date_from, p.date_to, save=False, data=site.team_data(window))
    return plan.to_dict(), site.t("plan_computed")


def plan_card(site: _Site, name: str, skip_notes: set[str] | frozenset[str] = frozenset()) -> str:
    t = site.t
    plan, how = saved_plan(site, name)
    out = [f'<section class="card plan"><h2>{esc(t("coaching_plan"))}</h2>']
    if plan is None:
        return "".join(out) + f'<p class="empty">{esc(t("no_plan"))}</p></section>'
    period = _period_label(plan.get("period_from"), plan.get("period_to"), t)
    out.append(f'<p class="note">{esc(how)} · {esc(period)}</p>')
    prev = plan.get("previous")
    if prev and prev.get("checks"):
        checks = prev["checks"]
        met = sum(1 for c in checks if c.get("met"))
        out.append(f'<h3>{esc(t("previous_plan", period=_period_label(prev.get("period_from"), prev.get("period_to"), t), met=met, total=len(checks)))}</h3><ul class="checks">')
        for c in checks:
            verdict = {True: "met", False: "not_met", None: "no_data"}[c.get("met")]
            actual = "—" if c.get("actual") is None else f'{fmt_num(c["actual"], 0, "%")} ({c.get("done")}/{c.get("applicable")})'
            out.append(
                f'<li><span class="st st-{verdict}">{esc(t("goal_" + verdict))}</span> '
                f'{esc(_goal_text(c.get("goal") or {}, t))}; {esc(t("actual"))}: {esc(actual)}</li>'
            )
        out.append("</ul>")
        if prev.get("note"):
            out.append(f'<p class="note">{esc(prev["note"])}</p>')
    gaps = plan.get("gaps") or []
    if not gaps:
        out.append(f'<p class="empty">{esc(t("no_gaps"))}</p>')
    else:
        out.append('<div class="gaps">')
        for n, g in enumerate(gaps, start=1):
            out.append(
                f'<div class="gap"><div class="gap-title"><span class="n">{n}</span>'
                f'<b>{esc(g.get("title") or g.get("item_id"))}</b></div> '
                f'<span class="muted">{esc(t("gap_now", rate=fmt_num(g.get("rate"), 0), done=g.get("done"), applicable=g.get("applicable"), median=fmt_num(g.get("team_median"), 0), best=fmt_num(g.get("team_best_quartile"), 0), points=fmt_num(g.get("impact"), 1)))}</span>'
                f'<div class="goal">{esc(t("goal"))}: {esc(_goal_text(g.get("goal") or {}, t))}</div>'
            )
            examples = g.get("examples") or []
            if examples:
                out.append(f'<div class="sub">{esc(t("how_colleagues_say"))}</div><ul>')
                for e in examples:
                    out.append(f'<li>{moment_link(site, e.get("call_id"), e.get("seconds"))} '
                               f'<q>{esc(e.get("quote"))}</q> <span class="muted">— {esc(e.get("manager"))}</span></li>')
                out.append("</ul>")
            relisten = g.get("relisten") or []
            if relisten:
                out.append(f'<div class="sub">{esc(t("relisten"))}</div><ul>')
                for r in relisten:
                    quote = f' <q>{esc(r.get("quote"))}</q>' if r.get("quote") else ""
                    out.append(f'<li>{moment_link(site, r.get("call_id"), r.get("seconds"))} '
                               f'{esc(r.get("what") or "")}{quote}</li>')
                out.append("</ul>")
            out.append("</div>")
        out.append("</div>")
    for note in plan.get("notes") or []:
        if note not in skip_notes:  # the page already shows the scorecard's notes
            out.append(f'<p class="note">{esc(note)}</p>')
    return "".join(out) + "</section>"


def moment_link(site: _Site, call_id: Any, seconds: Any) -> str:
    """A call and time: a link into the site when the call has a page here."""
    when = None if is_missing(seconds) else float(seconds)
    text = f"{call_id} · {fmt_seconds(when)}" if when is not None else str(call_id)
    call = next((c for c in site.calls if c["call_id"] == call_id), None)
    if call is None:
        return f'<span class="muted">{esc(text)}</span>'
    return site.call_link(call, 1, text=text, t=when)
