"""The overview page (``index.html``) of a day or period: score distribution, the managers
(leaderboard), the most-missed stages, the calls to review and all calls."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import charts
from .data import review_reasons
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
    _badge,
    _Site,
    _time_of,
    _value,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger("qa")


def index_page(site: _Site) -> str:
    t = site.t
    calls = site.calls
    scored = [c for c in calls if _value(c, "score") is not None]
    scores = [float(c["score"]) for c in scored]
    review = [(c, review_reasons(c, site.opts.low_score)) for c in calls]
    review = [(c, r) for c, r in review if r]
    next_steps = [c for c in scored if _value(c, "next_step") is not None]
    cards = {
        t("calls"): str(len(calls)),
        t("scored"): str(len(scored)),
        t("avg_score"): fmt_num(sum(scores) / len(scores), 1) if scores else "—",
        t("critical"): str(sum(1 for c in calls if c.get("critical"))),
        t("next_step_rate"): (
            fmt_num(100 * sum(1 for c in next_steps if c["next_step"]) / len(next_steps), 0, "%")
            if next_steps else "—"
        ),
        t("for_review"): str(len(review)),
    }
    body = [f'<h1>{esc(site.period_title())}</h1>']
    from .search_page import search_box

    body.append(search_box(0, t("search_placeholder")))  # qa search, offline
    if site.data.manager:
        body.append(f'<p class="sub">{esc(t("one_manager"))}: {site.manager_link(site.data.manager, 0)}</p>')
    body.append('<div class="cards">' + "".join(
        f'<div class="stat"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
        for k, v in cards.items()
    ) + "</div>")
    hist = charts.histogram(
        scores, title=t("score_distribution"), x_label=t("score"), y_label=t("calls"),
        empty=t("no_scores"), marks=[(site.opts.low_score, t("low_score_mark"))],
    )
    missed = site.missed_stages()
    bars = [
        charts.Bar(label=str(r["title"]), value=float(r["missed_pct"]),
                   tip=f'{r["title"]}: {r["missed"]}/{r["applicable"]}')
        for r in missed[:10]
    ]
    missed_svg = charts.hbars(bars, title=t("most_missed"), empty=t("nothing_missed"))
    body.append(
        '<div class="grid2">'
        f'<section class="card"><h2>{esc(t("score_distribution"))}</h2>{hist}</section>'
        f'<section class="card"><h2>{esc(t("most_missed"))}</h2>'
        f'<p class="note">{esc(t("most_missed_note"))}</p>{missed_svg}</section>'
        "</div>"
    )
    body.append(review_card(site, review))
    # PBX call log (qa missed): missed calls per manager, clients never called back
    from ..calllog import day_card_html

    body.append(day_card_html(site.ws, site.data.period.date_from, site.data.period.date_to,
                              lang=site.t.lang))
    body.append(managers_card(site))
    body.append(site.calls_card(calls, depth=0, title=t("all_calls"), show_manager=True))
    if site.opts.excel:
        body.append(f'<p class="download"><a href="report.xlsx">{esc(t("download_excel"))}</a></p>')
    return page(title=site.period_title(), body="".join(body), depth=0, labels=t,
                crumbs=[(site.period_title(), None)], footer=site.footer(), body_class="index")


def review_card(site: _Site, review: Sequence[tuple[dict[str, Any], list[tuple[str, str]]]]) -> str:
    t = site.t
    rows = []
    for c, reasons in review:
        chips = "".join(
            f'<span class="chip r-{esc(kind)}">{esc(t("reason_" + kind))}'
            + (f": {esc(site.flag_text(c, text) if kind == 'quality' else text)}" if text else "")
            + "</span>"
            for kind, text in reasons
        )
        first = first_critical_time(site, c)
        rows.append(
            "<tr>"
            + td(esc(_time_of(c)), value=_value(c, "started_at") or "")
            + td(site.manager_link(c.get("manager"), 0))
            + td(site.call_link(c, 0, t=first))
            + td(_badge(c, site.opts.low_score), num=True, value=_value(c, "score"))
            + td(chips)
            + "</tr>"
        )
    tbl = table(
        [(t("time"), "text"), (t("manager"), "text"), (t("call"), "text"), (t("score"), "num"),
         (t("reasons"), "text")],
        rows, empty=t("nothing_to_review"),
    )
    return f'<section class="card review"><h2>{esc(t("for_review"))}</h2>{tbl}</section>'


def first_critical_time(site: _Site, call: Mapping[str, Any]) -> float | None:
    """Where to open a critical call: the first critical forbidden phrase said."""
    if not call.get("critical"):
        return None
    items = site.data.call_items(call["call_id"])
    hits = items[(items["kind"] == "forbidden") & items["start"].notna()]
    return float(hits["start"].min()) if not hits.empty else None


def managers_card(site: _Site) -> str:
    t = site.t
    lb = site.leaderboard()
    ranked = {} if lb is None else {r["manager"]: r for r in lb.to_dict(orient="records")}
    rows = []
    for name in sorted(site.managers, key=lambda m: (ranked.get(m, {}).get("rank") or 10**9, m)):
        r = ranked.get(name, {})
        calls = [c for c in site.calls if c.get("manager") == name]
        mean = None if is_missing(r.get("mean_score")) else r.get("mean_score")
        rows.append(
            "<tr>"
            + td(esc(fmt_num(r.get("rank"), 0)), num=True, value=r.get("rank"))
            + td(site.manager_link(name, 0), value=name)
            + td(str(len(calls)), num=True, value=len(calls))
            + td(fmt_num(r.get("calls"), 0), num=True, value=r.get("calls"))
            + td(_badge({"score": mean}, site.opts.low_score), num=True, value=mean)
            + td(esc(fmt_num(r.get("next_step_rate"), 0, "%")), num=True, value=r.get("next_step_rate"))
            + td(esc(fmt_num(r.get("critical_calls"), 0)), num=True, value=r.get("critical_calls"))
            + td(esc(fmt_num(r.get("forbidden_said"), 0)), num=True, value=r.get("forbidden_said"))
            + td(esc(fmt_num(r.get("objection_rate"), 0, "%")), num=True, value=r.get("objection_rate"))
            + td(esc(fmt_seconds(sum(float(c["duration"]) for c in calls if c.get("duration") is not None))),
                 num=True)
            + "</tr>"
        )
    tbl = table(
        [(t("rank"), "num"), (t("manager"), "text"), (t("calls"), "num"), (t("scored"), "num"),
         (t("avg_score"), "num"), (t("next_step_rate"), "num"), (t("critical"), "num"),
         (t("forbidden_said"), "num"), (t("objection_rate"), "num"), (t("talk_time"), "num")],
        rows, empty=t("no_managers"),
    )
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in (lb.attrs.get("notes", []) if lb is not None else []))
    return f'<section class="card"><h2>{esc(t("managers"))}</h2>{tbl}{notes}</section>'
