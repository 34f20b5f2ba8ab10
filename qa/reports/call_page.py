"""The call page (``calls/<call>.html``): the conversation with the matched phrases
highlighted where the scorer found them (``items.utterance``), the score breakdown with its
evidence, and the recording (:mod:`qa.reports.media`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..transcripts import CLIENT, MANAGER, Transcript, Utterance
from . import media
from .data import quality_flags
from .html import (
    Span,
    esc,
    find_span,
    fmt_num,
    fmt_seconds,
    highlight,
    href,
    is_missing,
    kv,
    page,
    score_class,
    td,
)
from .site import (
    _item_label,
    _metric,
    _points,
    _Site,
    _status_chip,
    _step_title,
    _time_of,
    _value,
    _yes_no,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger("qa")


def call_page(site: _Site, call: dict[str, Any]) -> str:
    t = site.t
    cid = call["call_id"]
    transcript = site.ws.transcript(cid)
    items = [dict(r) for r in site.data.call_items(cid).to_dict(orient="records")]
    from ..disputes import mark, overrides  # supervisor overrides (qa dispute)

    items = mark([{"call_id": cid, **r} for r in items], overrides(site.ws, [cid]))
    utts = transcript.utterances if transcript is not None else []
    where = _placed(utts, items)
    audio_rel, audio_note = media.audio_for(site, call)

    score = _value(call, "score")
    sc = score_class(score, site.opts.low_score)
    sub = [site.manager_link(call.get("manager"), 1)]
    if _value(call, "started_at"):
        sub.append(esc(_time_of(call)))
    for key in ("direction", "outcome"):
        v = _value(call, key)
        if v:
            sub.append(esc(t(f"value_{v}") if t.has(f"value_{v}") else v))
    sub.append(esc(t("duration")) + " " + esc(fmt_seconds(_value(call, "duration"))))
    head = (
        '<section class="call-head">'
        f'<div class="who"><h1>{esc(cid)}</h1><div class="sub">{" · ".join(sub)}</div></div>'
        f'<div class="badge {sc}" title="{esc(t("score"))}">'
        f'<span class="num">{esc(fmt_num(score, 0))}</span><span class="of">/100</span></div>'
        "</section>"
    )
    if audio_rel:
        player = (
            '<div class="player-bar">'
            f'<audio id="player" controls preload="metadata" src="../{href(audio_rel)}"></audio>'
            f'<span class="hint">{esc(t("player_hint"))}</span></div>'
        )
    else:
        player = f'<div class="player-bar none"><span class="hint">{esc(audio_note or t("audio_off"))}</span></div>'

    alerts = []
    if call.get("critical"):
        alerts.append(
            f'<div class="alert critical"><b>{esc(t("critical"))}:</b> '
            f'{esc(_value(call, "critical_reason") or "")}</div>'
        )
    for flag in quality_flags(call.get("quality") or {}):
        alerts.append(f'<div class="alert quality"><b>{esc(t("quality"))}:</b> '
                      f'{esc(site.flag_text(call, flag))}</div>')
    if score is None:
        alerts.append(f'<div class="alert info">{esc(t("not_scored"))}</div>')
    # PBX call log (qa missed): this call's log row
    from ..calllog import call_log_html

    alerts.append(call_log_html(site.ws, cid, lang=site.t.lang))

    conversation_html = conversation(site, utts, items, where, transcript)
    breakdown_html = breakdown(site, call, items, where)
    body = (
        head + player + "".join(alerts)
        + '<div class="call-grid">'
        + f'<section class="card conversation"><h2>{esc(t("conversation"))}</h2>{conversation_html}</section>'
        + f'<aside class="card breakdown">{breakdown_html}</aside>'
        + "</div>"
    )
    crumbs: list[tuple[str, str | None]] = [(site.period_title(), "index.html")]
    if call.get("manager"):
        crumbs.append((str(call["manager"]), site.manager_path(str(call["manager"]))))
    crumbs.append((cid, None))
    return page(title=f"{cid} · {fmt_num(score, 0)}", body=body, depth=1, labels=t,
                crumbs=crumbs, footer=site.footer(), body_class="call")


def conversation(
    site: _Site,
    utts: Sequence[Utterance],
    items: Sequence[dict[str, Any]],
    where: Mapping[int, tuple[int, tuple[int, int] | None]],
    transcript: Transcript | None,
) -> str:
    t = site.t
    if not utts:
        return f'<p class="empty">{esc(t("no_speech"))}</p>'
    spans: dict[int, list[Span]] = {}
    chips: dict[int, list[tuple[str, str]]] = {}
    objections = {
        str(it["item_id"]): str(_value(it, "title") or it["item_id"])
        for it in items if it["kind"] == "objection"
    }
    for n, item in enumerate(items):
        if n not in where:
            continue
        ui, span = where[n]
        label = _item_label(item, t, objections)
        chips.setdefault(ui, [])
        if (item["kind"], label) not in chips[ui]:
            chips[ui].append((item["kind"], label))
        if span is not None:
            spans.setdefault(ui, []).append(Span(span[0], span[1], item["kind"], label))
    mono = transcript is not None and transcript.is_mono
    legend = "".join(
        f'<span class="chip k-{k}">{esc(t("kind_" + k))}</span>'
        for k in ("stage", "objection", "step", "forbidden")
    )
    out = [f'<div class="legend">{legend}</div>']
    if mono:
        out.append(f'<p class="note">{esc(t("mono_note"))}</p>')
    out.append('<div class="turns">')
    for i, u in enumerate(utts):
        side = "left" if u.role == MANAGER else "right" if u.role == CLIENT else "mid"
        who = t(f"role_{u.role}")
        chip_html = "".join(
            f'<span class="chip k-{esc(k)}">{esc(lbl)}</span>' for k, lbl in chips.get(i, [])
        )
        out.append(
            f'<div class="turn {side} role-{esc(u.role)}" id="u{i}" data-start="{u.start:.2f}" '
            f'data-end="{u.end:.2f}">'
            f'<div class="meta"><button type="button" class="ts" data-t="{u.start:.2f}" '
            f'title="{esc(t("play_from"))}">{esc(fmt_seconds(u.start))}</button> '
            f'<span class="role">{esc(who)}</span></div>'
            f'<div class="text">{highlight(u.text, spans.get(i, []))}</div>'
            + (f'<div class="chips">{chip_html}</div>' if chip_html else "")
            + "</div>"
        )
    out.append("</div>")
    return "".join(out)


def evidence(site: _Site, item: Mapping[str, Any], where: tuple[int, tuple[int, int] | None] | None) -> str:
    start = _value(item, "start")
    if start is None:
        detail = _value(item, "detail")
        return f'<span class="muted">{esc(detail)}</span>' if detail else ""
    target = f' data-u="u{where[0]}"' if where else ""
    button = (
        f'<button type="button" class="ts evidence" data-t="{float(start):.2f}"{target} '
        f'title="{esc(site.t("play_from"))}">{esc(fmt_seconds(start))}</button>'
    )
    quote_text = str(_value(item, "text") or "")
    span = find_span(quote_text, _value(item, "matched"))
    quote = highlight(quote_text, [Span(span[0], span[1], str(item["kind"]), "")] if span else [])
    extra = []
    sim = _value(item, "similarity")
    if sim is not None:
        extra.append(f"{fmt_num(sim, 0)}%")
    phrase = _value(item, "phrase")
    if phrase and str(phrase).casefold() != str(_value(item, "matched") or "").casefold():
        extra.append(site.t("phrase_is", phrase=phrase))
    if item.get("disputed_by"):  # a supervisor's override (qa dispute)
        extra.append(str(_value(item, "detail") or ""))
    extra_html = f' <span class="muted">{esc(" · ".join(extra))}</span>' if extra else ""
    return f'{button} <q>{quote}</q>{extra_html}'


def breakdown(
    site: _Site,
    call: Mapping[str, Any],
    items: Sequence[dict[str, Any]],
    where: Mapping[int, tuple[int, tuple[int, int] | None]],
) -> str:
    """The score breakdown beside the conversation: summary, stages, objections with their
    steps, forbidden phrases and order, each with its evidence. It stays one function: the
    sections are one pass over the items in script order, and each is a few lines of HTML."""
    t = site.t
    out = []
    score = _value(call, "score")
    summary = {
        t("score"): f'<b>{esc(fmt_num(score, 1))}</b>',
        t("points"): esc(f"{fmt_num(_value(call, 'points'))} / {fmt_num(_value(call, 'max_points'))}"),
        t("next_step"): _yes_no(_value(call, "next_step"), t),
    }
    if _value(call, "script_name"):
        summary[t("script")] = esc(call["script_name"])
    if _value(call, "rubric_name"):
        summary[t("rubric")] = esc(call["rubric_name"])
    out.append(f'<h2>{esc(t("breakdown"))}</h2>' + kv(summary))

    indexed = list(enumerate(items))
    stages = [(n, it) for n, it in indexed if it["kind"] == "stage"]
    if stages:
        rows = []
        for n, it in stages:
            rows.append(
                "<tr>"
                + td(_status_chip(it["status"], t))
                + td(esc(it.get("title") or it["item_id"]))
                + td(esc(_points(it)), num=True)
                + td(evidence(site, it, where.get(n)), css="ev")
                + "</tr>"
            )
        out.append(f'<h3>{esc(t("stages"))}</h3><table class="data breakdown-table">'
                   f'<tbody>{"".join(rows)}</tbody></table>')

    # Objections in the order raised; each one's steps follow it in the item order.
    groups: list[tuple[int, dict[str, Any], list[tuple[int, dict[str, Any]]]]] = []
    for n, it in indexed:
        if it["kind"] == "objection":
            groups.append((n, it, []))
        elif it["kind"] == "step":
            obj_id = str(it["item_id"]).split(".", 1)[0]
            for g in reversed(groups):
                if g[1]["item_id"] == obj_id:
                    g[2].append((n, it))
                    break
    if groups:
        blocks = []
        for n, obj, steps in groups:
            step_rows = "".join(
                "<tr>"
                + td(_status_chip(s["status"], t))
                + td(esc(_step_title(s, obj)))
                + td(esc(_points(s)), num=True)
                + td(evidence(site, s, where.get(sn)), css="ev")
                + "</tr>"
                for sn, s in steps
            )
            blocks.append(
                f'<div class="objection"><div class="obj-head">{_status_chip(obj["status"], t)} '
                f'<b>{esc(obj.get("title") or obj["item_id"])}</b> '
                f'<span class="muted">{esc(_points(obj))}</span></div>'
                f'<div class="ev">{evidence(site, obj, where.get(n))}</div>'
                + (f'<table class="data breakdown-table"><tbody>{step_rows}</tbody></table>' if step_rows else "")
                + "</div>"
            )
        out.append(f'<h3>{esc(t("objections"))}</h3>' + "".join(blocks))
    elif stages:
        out.append(f'<h3>{esc(t("objections"))}</h3><p class="muted">{esc(t("no_objections"))}</p>')

    forbidden = [(n, it) for n, it in indexed if it["kind"] == "forbidden"]
    if forbidden:
        rows = [
            "<tr>"
            + td(f'<span class="chip k-forbidden">{esc(fmt_num(_value(it, "score"), 1))}</span>')
            + td(esc(it.get("title") or _value(it, "phrase") or it["item_id"]))
            + td(evidence(site, it, where.get(n)), css="ev")
            + "</tr>"
            for n, it in forbidden
        ]
        out.append(f'<h3>{esc(t("forbidden"))}</h3><table class="data breakdown-table">'
                   f'<tbody>{"".join(rows)}</tbody></table>')
    order = [it for it in items if it["kind"] == "order"]
    if order:
        lis = "".join(
            f'<li>{esc(it.get("title") or it["item_id"])}'
            + (f' <span class="muted">{esc(it["detail"])}</span>' if _value(it, "detail") else "")
            + "</li>"
            for it in order
        )
        out.append(f'<h3>{esc(t("order"))}</h3><ul class="order">{lis}</ul>')

    metrics = call.get("metrics") or {}
    shown = {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool) and not is_missing(v)}
    if shown:
        out.append(f'<h3>{esc(t("metrics"))}</h3>'
                   + kv({t("metric_" + k) if t.has("metric_" + k) else k.replace("_", " "):
                         esc(_metric(k, v)) for k, v in shown.items()}))
    return "".join(out)


def _placed(
    utts: Sequence[Utterance], items: Sequence[Mapping[str, Any]]
) -> dict[int, tuple[int, tuple[int, int] | None]]:
    """Item position -> (the utterance its evidence is in, the matched span inside it), for
    the evidence the scorer placed (``items.utterance``; items scored before it was kept
    are listed in the breakdown but not marked in the conversation)."""
    out = {}
    for n, item in enumerate(items):
        if item["kind"] in ("stage", "objection", "step", "forbidden") and item["status"] in (
            "found", "handled", "unhandled"
        ):
            ui = _value(item, "utterance")
            if ui is not None and 0 <= int(ui) < len(utts):
                out[n] = (int(ui), find_span(utts[int(ui)].text, _value(item, "matched")))
    return out
