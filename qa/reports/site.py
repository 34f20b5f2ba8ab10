"""The HTML report: a static site a supervisor opens from the file system, no network.

``build_site(ws, out_dir, ...)`` reads a period of the workspace (:mod:`qa.reports.data`)
and writes::

    index.html                the day or period: distribution, managers, missed stages,
                              calls to review, all calls
    managers/<name>.html      one manager: score trend, stages against the team,
                              objection handling, coaching plan, calls
    calls/<call>.html         one call: the conversation with matched phrases highlighted,
                              the score breakdown with evidence, the recording
    audio/<call>.<ext>        recordings, copied (or linked) so the site is self-contained
    assets/report.css, .js    style and the small script behind the player and sorting
    report.xlsx               the same tables, one sheet each

Charts are inline SVG (:mod:`qa.reports.charts`). Per-manager numbers come from
``qa.scorecards`` and plans from ``qa.coaching``; everything else is read from the store.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import QAError
from ..store import Workspace
from ..transcripts import CLIENT, MANAGER, Transcript, Utterance
from . import charts
from .data import Period, PeriodData, load_period, quality_flags, review_reasons
from .html import (
    Labels,
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
    slug,
    table,
    td,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qa")

__all__ = ["AUDIO_MODES", "PLAYABLE_EXTENSIONS", "ReportOptions", "SiteResult", "build_site"]

AUDIO_MODES = ("copy", "link", "none")

#: Recording formats a browser's <audio> element plays (Chromium and Firefox).
PLAYABLE_EXTENSIONS = frozenset(
    {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm", ".weba", ".mp4"}
)

ASSETS = ("report.css", "report.js")


@dataclass(frozen=True)
class ReportOptions:
    """How the report is built; every field has the default the CLI uses.

    ``low_score``: calls scoring below it are listed for review (0-100).
    ``lang``: interface language (``auto`` = the most common call language that has
    labels, else English). ``excel``: also write ``report.xlsx``.
    ``title``: heading of the overview page (default: "Calls" and the period).
    """

    low_score: float = 50.0
    lang: str = "auto"
    excel: bool = True
    title: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.low_score <= 100:
            raise QAError(f"low score threshold {self.low_score} is outside 0-100")
        if self.lang != "auto":
            Labels(self.lang)  # raises ConfigError naming the known languages


@dataclass(frozen=True)
class SiteResult:
    """What :func:`build_site` wrote."""

    out_dir: Path
    index: Path
    pages: tuple[Path, ...]
    calls: int
    managers: tuple[str, ...]
    audio_files: int
    missing_audio: tuple[str, ...]  # call ids whose recording could not be put in the site
    excel: Path | None
    tables: Mapping[str, Any] = field(repr=False, default_factory=dict)


Progress = Callable[[int, int, str], None]


def build_site(
    ws: Workspace,
    out_dir: str | os.PathLike[str],
    day: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    manager: str | None = None,
    audio: str = "copy",
    *,
    options: ReportOptions | None = None,
    progress: Progress | None = None,
) -> SiteResult:
    """Write the report site for a day (``day``) or period (``date_from``/``date_to``,
    either open), optionally for one manager, into ``out_dir``.

    ``audio``: ``copy`` puts each recording into ``audio/`` (the folder can be zipped and
    mailed), ``link`` makes symbolic links there instead (no extra disk; the site then
    works only on this machine), ``none`` leaves the player out.
    ``progress(done, total, page)`` is called after each page when given.
    Raises :class:`~qa.errors.NotFoundError` when the period or manager has no calls.
    """
    if audio not in AUDIO_MODES:
        raise QAError(f"--audio {audio!r}: choose one of {', '.join(AUDIO_MODES)}")
    opts = options or ReportOptions()
    period = Period.of(day, date_from, date_to)
    data = load_period(ws, period, manager)
    labels = Labels(_pick_lang(opts.lang, data))
    site = _Site(ws, Path(out_dir), data, labels, opts, audio, progress)
    return site.build()


def _pick_lang(lang: str, data: PeriodData) -> str:
    if lang != "auto":
        return lang
    known = set(Labels.languages())
    counts = Counter(str(x) for x in data.calls["language"].dropna() if str(x) in known)
    return counts.most_common(1)[0][0] if counts else "en"


def _value(row: Mapping[str, Any], key: str) -> Any:
    v = row.get(key)
    return None if is_missing(v) else v


class _Site:
    def __init__(
        self,
        ws: Workspace,
        out: Path,
        data: PeriodData,
        labels: Labels,
        opts: ReportOptions,
        audio: str,
        progress: Progress | None,
    ) -> None:
        self.ws = ws
        self.out = out
        self.data = data
        self.t = labels
        self.opts = opts
        self.audio_mode = audio
        self.progress = progress
        self.pages: list[Path] = []
        self.audio_files = 0
        self.missing_audio: list[str] = []
        # NaN (pandas' missing) -> None, so "no manager" and "not scored" test false.
        self.calls: list[dict[str, Any]] = [
            {str(k): (None if is_missing(v) else v) for k, v in r.items()}
            for r in data.calls.to_dict(orient="records")
        ]
        self.managers: list[str] = sorted({str(c["manager"]) for c in self.calls if c.get("manager")})
        self.total_pages = 1 + len(self.managers) + len(self.calls)
        self.generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")

    # -- paths ---------------------------------------------------------------------------
    @staticmethod
    def call_path(call_id: str) -> str:
        return f"calls/{slug(call_id)}.html"

    @staticmethod
    def manager_path(name: str) -> str:
        return f"managers/{slug(name)}.html"

    def call_link(self, call: Mapping[str, Any], depth: int, text: str | None = None, t: float | None = None) -> str:
        target = ("../" * depth) + self.call_path(call["call_id"])
        if t is not None:
            target += f"#t={t:.2f}"
        return f'<a href="{href(target)}">{esc(text if text is not None else call["call_id"])}</a>'

    def manager_link(self, name: Any, depth: int) -> str:
        if not name:
            return f'<span class="muted">{esc(self.t("no_manager"))}</span>'
        return f'<a href="{href(("../" * depth) + self.manager_path(str(name)))}">{esc(name)}</a>'

    def write(self, rel: str, html: str) -> Path:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        self.pages.append(path)
        if self.progress is not None:
            self.progress(len(self.pages), self.total_pages, rel)
        return path

    # -- the whole site ----------------------------------------------------------------
    def build(self) -> SiteResult:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise QAError(f"{self.out}: cannot create the report folder: {e}") from e
        self.copy_assets()
        for call in self.calls:
            self.write(self.call_path(call["call_id"]), self.call_page(call))
        for name in self.managers:
            self.write(self.manager_path(name), self.manager_page(name))
        index = self.write("index.html", self.index_page())
        tables = self.tables()
        excel = None
        if self.opts.excel:
            from ..writers import write_xlsx

            excel = self.out / "report.xlsx"
            try:
                write_xlsx(tables, excel)
            except OSError as e:
                raise QAError(f"{excel}: cannot write the workbook: {e}") from e
        return SiteResult(
            out_dir=self.out,
            index=index,
            pages=tuple(self.pages),
            calls=len(self.calls),
            managers=tuple(self.managers),
            audio_files=self.audio_files,
            missing_audio=tuple(self.missing_audio),
            excel=excel,
            tables=tables,
        )

    def copy_assets(self) -> None:
        folder = self.out / "assets"
        folder.mkdir(parents=True, exist_ok=True)
        base = resources.files("qa.reports").joinpath("assets")
        for name in ASSETS:
            (folder / name).write_bytes(base.joinpath(name).read_bytes())

    def footer(self) -> str:
        scripts = sorted({str(c["script_name"]) for c in self.data.calls.to_dict("records")
                          if not is_missing(c.get("script_name"))})
        parts = [self.t("generated", when=self.generated, version=__version__)]
        if scripts:
            parts.append(self.t("scripts_used") + ": " + ", ".join(scripts))
        return " · ".join(esc(p) for p in parts)

    def period_title(self) -> str:
        label = self.data.period.label()
        if self.opts.title:
            return self.opts.title
        if self.data.period.is_day:
            return self.t("day_title", day=label)
        if label:
            return self.t("period_title", period=label)
        return self.t("all_calls_title")

    # -- audio ---------------------------------------------------------------------------
    def audio_for(self, call: Mapping[str, Any]) -> tuple[str | None, str]:
        """(relative path inside the site, or None) and why not, for the call's recording."""
        if self.audio_mode == "none":
            return None, ""
        source = _value(call, "source")
        if not source:
            self.missing_audio.append(call["call_id"])
            return None, self.t("audio_no_source")
        src = Path(str(source))
        if src.suffix.lower() not in PLAYABLE_EXTENSIONS:
            # Imported transcripts (JSON, SRT, ...) have no recording of their own.
            return None, self.t("audio_transcript_only", source=src.name)
        if not src.is_file():
            self.missing_audio.append(call["call_id"])
            return None, self.t("audio_missing", source=str(src))
        rel = f"audio/{slug(call['call_id'])}{src.suffix.lower()}"
        dest = self.out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.audio_mode == "link":
                if dest.is_symlink() or dest.exists():
                    dest.unlink()
                try:
                    dest.symlink_to(src.resolve())
                except OSError:  # no symlinks here (Windows without rights): copy instead
                    shutil.copy2(src, dest)
            else:
                st = src.stat()
                if dest.is_symlink():
                    dest.unlink()
                if not (dest.exists() and dest.stat().st_size == st.st_size
                        and int(dest.stat().st_mtime) == int(st.st_mtime)):
                    shutil.copy2(src, dest)
        except OSError as e:
            raise QAError(f"{dest}: cannot put the recording {src} into the report: {e}") from e
        self.audio_files += 1
        return rel, ""

    # -- call page -------------------------------------------------------------------------
    def call_page(self, call: dict[str, Any]) -> str:
        t = self.t
        cid = call["call_id"]
        transcript = self.ws.transcript(cid)
        items = [dict(r) for r in self.data.call_items(cid).to_dict(orient="records")]
        utts = transcript.utterances if transcript is not None else []
        where = _locate_all(utts, items)
        audio_rel, audio_note = self.audio_for(call)

        score = _value(call, "score")
        sc = score_class(score, self.opts.low_score)
        sub = [self.manager_link(call.get("manager"), 1)]
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
            alerts.append(f'<div class="alert quality"><b>{esc(t("quality"))}:</b> {esc(t(flag))}</div>')
        if score is None:
            alerts.append(f'<div class="alert info">{esc(t("not_scored"))}</div>')

        conversation = self.conversation(utts, items, where, transcript)
        breakdown = self.breakdown(call, items, where)
        body = (
            head + player + "".join(alerts)
            + '<div class="call-grid">'
            + f'<section class="card conversation"><h2>{esc(t("conversation"))}</h2>{conversation}</section>'
            + f'<aside class="card breakdown">{breakdown}</aside>'
            + "</div>"
        )
        crumbs: list[tuple[str, str | None]] = [(self.period_title(), "index.html")]
        if call.get("manager"):
            crumbs.append((str(call["manager"]), self.manager_path(str(call["manager"]))))
        crumbs.append((cid, None))
        return page(title=f"{cid} · {fmt_num(score, 0)}", body=body, depth=1, labels=t,
                    crumbs=crumbs, footer=self.footer(), body_class="call")

    def conversation(
        self,
        utts: Sequence[Utterance],
        items: Sequence[dict[str, Any]],
        where: Mapping[int, tuple[int, tuple[int, int] | None]],
        transcript: Transcript | None,
    ) -> str:
        t = self.t
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

    def evidence(self, item: Mapping[str, Any], where: tuple[int, tuple[int, int] | None] | None) -> str:
        start = _value(item, "start")
        if start is None:
            detail = _value(item, "detail")
            return f'<span class="muted">{esc(detail)}</span>' if detail else ""
        target = f' data-u="u{where[0]}"' if where else ""
        button = (
            f'<button type="button" class="ts evidence" data-t="{float(start):.2f}"{target} '
            f'title="{esc(self.t("play_from"))}">{esc(fmt_seconds(start))}</button>'
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
            extra.append(f"{self.t('phrase')}: «{phrase}»")
        extra_html = f' <span class="muted">{esc(" · ".join(extra))}</span>' if extra else ""
        return f'{button} <q>{quote}</q>{extra_html}'

    def breakdown(
        self,
        call: Mapping[str, Any],
        items: Sequence[dict[str, Any]],
        where: Mapping[int, tuple[int, tuple[int, int] | None]],
    ) -> str:
        t = self.t
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
                    + td(self.evidence(it, where.get(n)), css="ev")
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
                    + td(esc(s.get("title") or str(s["item_id"]).split(".", 1)[-1]))
                    + td(esc(_points(s)), num=True)
                    + td(self.evidence(s, where.get(sn)), css="ev")
                    + "</tr>"
                    for sn, s in steps
                )
                blocks.append(
                    f'<div class="objection"><div class="obj-head">{_status_chip(obj["status"], t)} '
                    f'<b>{esc(obj.get("title") or obj["item_id"])}</b> '
                    f'<span class="muted">{esc(_points(obj))}</span></div>'
                    f'<div class="ev">{self.evidence(obj, where.get(n))}</div>'
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
                + td(self.evidence(it, where.get(n)), css="ev")
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

    # -- manager page ------------------------------------------------------------------------
    def manager_page(self, name: str) -> str:
        t = self.t
        calls = [c for c in self.calls if c.get("manager") == name]
        body = [f'<h1>{esc(name)}</h1>']
        body.append(self.calls_card(calls, depth=1, title=t("calls"), show_manager=False))
        crumbs: list[tuple[str, str | None]] = [(self.period_title(), "index.html"), (name, None)]
        return page(title=f"{name} · {self.period_title()}", body="".join(body), depth=1, labels=t,
                    crumbs=crumbs, footer=self.footer(), body_class="manager")

    # -- overview page -----------------------------------------------------------------------
    def index_page(self) -> str:
        t = self.t
        calls = self.calls
        scored = [c for c in calls if _value(c, "score") is not None]
        scores = [float(c["score"]) for c in scored]
        review = [(c, review_reasons(c, self.opts.low_score)) for c in calls]
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
        body = [f'<h1>{esc(self.period_title())}</h1>']
        if self.data.manager:
            body.append(f'<p class="sub">{esc(t("one_manager"))}: {self.manager_link(self.data.manager, 0)}</p>')
        body.append('<div class="cards">' + "".join(
            f'<div class="stat"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
            for k, v in cards.items()
        ) + "</div>")
        hist = charts.histogram(
            scores, title=t("score_distribution"), x_label=t("score"), y_label=t("calls"),
            empty=t("no_scores"), marks=[(self.opts.low_score, t("low_score_mark"))],
        )
        missed = self.missed_stages()
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
        body.append(self.review_card(review))
        body.append(self.managers_card())
        body.append(self.calls_card(calls, depth=0, title=t("all_calls"), show_manager=True))
        if self.opts.excel:
            body.append(f'<p class="download"><a href="report.xlsx">{esc(t("download_excel"))}</a></p>')
        return page(title=self.period_title(), body="".join(body), depth=0, labels=t,
                    crumbs=[(self.period_title(), None)], footer=self.footer(), body_class="index")

    def review_card(self, review: Sequence[tuple[dict[str, Any], list[tuple[str, str]]]]) -> str:
        t = self.t
        rows = []
        for c, reasons in review:
            chips = "".join(
                f'<span class="chip r-{esc(kind)}">{esc(t("reason_" + kind))}'
                + (f": {esc(t(text) if kind == 'quality' else text)}" if text else "")
                + "</span>"
                for kind, text in reasons
            )
            first = self.first_critical_time(c)
            rows.append(
                "<tr>"
                + td(esc(_time_of(c)), value=_value(c, "started_at") or "")
                + td(self.manager_link(c.get("manager"), 0))
                + td(self.call_link(c, 0, t=first))
                + td(_badge(c, self.opts.low_score), num=True, value=_value(c, "score"))
                + td(chips)
                + "</tr>"
            )
        tbl = table(
            [(t("time"), "text"), (t("manager"), "text"), (t("call"), "text"), (t("score"), "num"),
             (t("reasons"), "text")],
            rows, empty=t("nothing_to_review"),
        )
        return f'<section class="card review"><h2>{esc(t("for_review"))}</h2>{tbl}</section>'

    def first_critical_time(self, call: Mapping[str, Any]) -> float | None:
        """Where to open a critical call: the first critical forbidden phrase said."""
        if not call.get("critical"):
            return None
        items = self.data.call_items(call["call_id"])
        hits = items[(items["kind"] == "forbidden") & items["start"].notna()]
        return float(hits["start"].min()) if not hits.empty else None

    def managers_card(self) -> str:
        t = self.t
        rows = []
        for name in self.managers:
            calls = [c for c in self.calls if c.get("manager") == name]
            scores = [float(c["score"]) for c in calls if _value(c, "score") is not None]
            ns = [bool(c["next_step"]) for c in calls if _value(c, "next_step") is not None]
            avg = sum(scores) / len(scores) if scores else None
            rows.append(
                "<tr>"
                + td(self.manager_link(name, 0), value=name)
                + td(str(len(calls)), num=True, value=len(calls))
                + td(_badge({"score": avg}, self.opts.low_score), num=True, value=avg)
                + td(esc(fmt_num(min(scores), 0) if scores else "—"), num=True, value=min(scores) if scores else None)
                + td(str(sum(1 for c in calls if c.get("critical"))), num=True)
                + td(esc(fmt_num(100 * sum(ns) / len(ns), 0, "%") if ns else "—"), num=True,
                     value=100 * sum(ns) / len(ns) if ns else None)
                + td(esc(fmt_seconds(sum(float(c["duration"] or 0) for c in calls if _value(c, "duration") is not None))), num=True)
                + "</tr>"
            )
        tbl = table(
            [(t("manager"), "text"), (t("calls"), "num"), (t("avg_score"), "num"), (t("min_score"), "num"),
             (t("critical"), "num"), (t("next_step_rate"), "num"), (t("talk_time"), "num")],
            rows, empty=t("no_managers"),
        )
        return f'<section class="card"><h2>{esc(t("managers"))}</h2>{tbl}</section>'

    def calls_card(self, calls: Sequence[dict[str, Any]], *, depth: int, title: str, show_manager: bool) -> str:
        t = self.t
        rows = []
        for c in calls:
            flags = [t(f) for f in quality_flags(c.get("quality") or {})]
            rows.append(
                "<tr>"
                + td(esc(_time_of(c)), value=_value(c, "started_at") or "")
                + (td(self.manager_link(c.get("manager"), depth)) if show_manager else "")
                + td(self.call_link(c, depth))
                + td(esc(fmt_seconds(_value(c, "duration"))), num=True, value=_value(c, "duration"))
                + td(_badge(c, self.opts.low_score), num=True, value=_value(c, "score"))
                + td(_yes_no(_value(c, "next_step"), t))
                + td(esc(_value(c, "critical_reason") or "") if c.get("critical") else "", css="crit")
                + td(esc(", ".join(flags)))
                + "</tr>"
            )
        headers = [(t("time"), "text")]
        if show_manager:
            headers.append((t("manager"), "text"))
        headers += [(t("call"), "text"), (t("duration"), "num"), (t("score"), "num"),
                    (t("next_step"), "text"), (t("critical"), "text"), (t("quality"), "text")]
        return f'<section class="card"><h2>{esc(title)}</h2>{table(headers, rows, empty=t("no_calls"))}</section>'

    # -- aggregates read from the store tables ----------------------------------------------
    def missed_stages(self) -> list[dict[str, Any]]:
        """Stages by share of calls where they applied and were missed (most missed first)."""
        items = self.data.items
        stages = items[(items["kind"] == "stage") & items["status"].isin(["found", "missed"])]
        if stages.empty:
            return []
        rows = []
        for (item_id, title), g in stages.groupby(["item_id", stages["title"].fillna("")], sort=False):
            missed = int((g["status"] == "missed").sum())
            rows.append({
                "stage": item_id, "title": title or item_id, "applicable": len(g), "missed": missed,
                "missed_pct": round(100.0 * missed / len(g), 1),
            })
        rows = [r for r in rows if r["missed"]]
        rows.sort(key=lambda r: (-r["missed_pct"], -r["missed"], r["title"]))
        return rows

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables for Excel: one sheet each, plain column names."""
        import pandas as pd

        calls = []
        for c in self.calls:
            reasons = review_reasons(c, self.opts.low_score)
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
                "page": self.call_path(c["call_id"]),
                "source": _value(c, "source"),
            })
        items = self.data.items
        evidence = items[items["kind"].isin(["stage", "objection", "step", "forbidden", "order"])]
        evidence = evidence.drop(columns=["seq"]).rename(columns={"start": "start_s", "end": "end_s"})
        mgr_rows = []
        for name in self.managers:
            cs = [c for c in self.calls if c.get("manager") == name]
            scores = [float(c["score"]) for c in cs if _value(c, "score") is not None]
            ns = [bool(c["next_step"]) for c in cs if _value(c, "next_step") is not None]
            mgr_rows.append({
                "manager": name,
                "calls": len(cs),
                "scored": len(scores),
                "avg_score": round(sum(scores) / len(scores), 1) if scores else None,
                "min_score": min(scores) if scores else None,
                "critical": sum(1 for c in cs if c.get("critical")),
                "next_step_pct": round(100 * sum(ns) / len(ns), 1) if ns else None,
                "talk_time_s": sum(float(c["duration"]) for c in cs if _value(c, "duration") is not None),
            })
        return {
            "calls": pd.DataFrame(calls),
            "managers": pd.DataFrame(mgr_rows),
            "missed_stages": pd.DataFrame(
                self.missed_stages(), columns=["stage", "title", "applicable", "missed", "missed_pct"]
            ),
            "review": pd.DataFrame([r for r in calls if r["review"]], columns=list(calls[0]) if calls else None),
            "evidence": evidence.reset_index(drop=True),
        }


# ---- helpers -------------------------------------------------------------------------------
def _locate(utts: Sequence[Utterance], item: Mapping[str, Any]) -> tuple[int, tuple[int, int] | None] | None:
    """The utterance an evidence item points at, and the matched span inside it.

    The scorer records the evidence start time, the role, the utterance quote and the
    matched span; the utterance is the one of that role whose time covers the start
    (a little slack for rounding), preferring the one whose text is the quote.
    """
    start = _value(item, "start")
    if start is None or not utts:
        return None
    start = float(start)
    role = _value(item, "role")
    quote = str(_value(item, "text") or "").strip()
    matched = _value(item, "matched")
    best: tuple[float, int] | None = None
    for i, u in enumerate(utts):
        if u.start - 0.5 > start or start > u.end + 0.5:
            continue
        cost = abs(u.start - start) if start < u.start else 0.0
        if role and u.role != role:
            cost += 10
        if quote and u.text.strip() != quote:
            cost += 2 if find_span(u.text, matched) is None else 1
        if best is None or cost < best[0]:
            best = (cost, i)
    if best is None:
        # Evidence outside every turn (times from another transcript version): nearest start.
        i = min(range(len(utts)), key=lambda k: abs(utts[k].start - start))
        if abs(utts[i].start - start) > 2.0:
            return None
        best = (0.0, i)
    ui = best[1]
    return ui, find_span(utts[ui].text, matched)


def _locate_all(
    utts: Sequence[Utterance], items: Sequence[Mapping[str, Any]]
) -> dict[int, tuple[int, tuple[int, int] | None]]:
    out = {}
    for n, item in enumerate(items):
        if item["kind"] in ("stage", "objection", "step", "forbidden") and item["status"] in (
            "found", "handled", "unhandled"
        ):
            hit = _locate(utts, item)
            if hit is not None:
                out[n] = hit
    return out


def _item_label(item: Mapping[str, Any], t: Labels, objections: Mapping[str, str]) -> str:
    """The chip text of an evidence item: stage or objection title; a step is prefixed
    with its objection's title."""
    title = _value(item, "title")
    if item["kind"] == "step":
        obj, _, step = str(item["item_id"]).partition(".")
        return f"{objections.get(obj, obj)} · {title or step}"
    if item["kind"] == "forbidden":
        return f'{t("kind_forbidden")}: {title or _value(item, "phrase") or item["item_id"]}'
    return str(title or item["item_id"])


def _points(item: Mapping[str, Any]) -> str:
    s, m = _value(item, "score"), _value(item, "max_score")
    if s is None and m is None:
        return ""
    return f"{fmt_num(s)} / {fmt_num(m)}"


def _status_chip(status: str, t: Labels) -> str:
    return f'<span class="st st-{esc(status)}" title="{esc(t("status_" + status))}">{esc(t("status_" + status))}</span>'


def _yes_no(value: Any, t: Labels) -> str:
    if value is None or is_missing(value):
        return '<span class="muted">—</span>'
    return f'<span class="yn {"yes" if value else "no"}">{esc(t("answer_yes") if value else t("answer_no"))}</span>'


def _badge(call: Mapping[str, Any], low: float) -> str:
    score = _value(call, "score")
    return f'<span class="pill {score_class(score, low)}">{esc(fmt_num(score, 0))}</span>'


def _time_of(call: Mapping[str, Any]) -> str:
    started = _value(call, "started_at")
    if not started:
        return "—"
    return str(started).replace("T", " ")[:16]


def _metric(key: str, value: Any) -> str:
    if isinstance(value, float):
        if key.endswith(("_share", "_ratio")) and 0 <= value <= 1:
            return fmt_num(100 * value, 0, "%")
        return fmt_num(value, 1)
    return str(value)
