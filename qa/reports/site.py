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
from ..errors import AudioError, QAError
from ..store import Workspace
from ..transcripts import CLIENT, MANAGER, Transcript, Utterance
from . import charts
from .data import Period, PeriodData, flag_detail, load_period, quality_flags, review_reasons
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

#: Extensions of recordings a browser's <audio> element may play (the codec inside decides;
#: see qa.reports.media).
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
    converted: int  # recordings converted to MP3 because browsers cannot play their codec
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
        self.converted = 0
        # NaN (pandas' missing) -> None, so "no manager" and "not scored" test false.
        self.calls: list[dict[str, Any]] = [
            {str(k): (None if is_missing(v) else v) for k, v in r.items()}
            for r in data.calls.to_dict(orient="records")
        ]
        self.managers: list[str] = sorted({str(c["manager"]) for c in self.calls if c.get("manager")})
        self.total_pages = 1 + len(self.managers) + len(self.calls)
        self.generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        self._teams: dict[tuple[str | None, str | None], Any] = {}
        self._cards: dict[tuple[str, tuple[str | None, str | None]], Any] = {}
        self._leaderboard: pd.DataFrame | None = None
        self._footer: str | None = None

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
            converted=self.converted,
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
        if self._footer is not None:
            return self._footer
        scripts = sorted({str(c["script_name"]) for c in self.calls if c.get("script_name")})
        parts = [self.t("generated", when=self.generated, version=__version__)]
        if scripts:
            parts.append(self.t("scripts_used") + ": " + ", ".join(scripts))
        self._footer = " · ".join(esc(p) for p in parts)
        return self._footer

    def period_title(self) -> str:
        label = self.data.period.label()
        if self.opts.title:
            return self.opts.title
        if self.data.period.is_day:
            return self.t("day_title", day=label)
        if label:
            return self.t("period_title", period=label)
        return self.t("all_calls_title")

    def flag_text(self, call: Mapping[str, Any], flag: str) -> str:
        """A quality flag in words, with its detail: "one side is silent (left)"."""
        detail = flag_detail(call.get("quality") or {}, flag)
        text = self.t("flag_" + flag)
        if detail:
            text += f" ({self.t('value_' + detail) if self.t.has('value_' + detail) else detail})"
        return text

    # -- audio ---------------------------------------------------------------------------
    def audio_for(self, call: Mapping[str, Any]) -> tuple[str | None, str]:
        """(relative path inside the site, or None) and why not, for the call's recording.

        A recording in a codec browsers cannot play (IMA ADPCM or GSM WAV from a PBX) is
        converted to MP3 in either mode; the others are copied or linked as they are.
        """
        from ..importers import TRANSCRIPT_EXTENSIONS
        from .media import browser_playable, to_mp3

        if self.audio_mode == "none":
            return None, ""
        source = _value(call, "source")
        if not source:
            self.missing_audio.append(call["call_id"])
            return None, self.t("audio_no_source")
        src = Path(str(source))
        if src.suffix.lower() in TRANSCRIPT_EXTENSIONS:
            # Imported transcripts (JSON, SRT, ...) have no recording of their own.
            return None, self.t("audio_transcript_only", source=src.name)
        if not src.is_file():
            self.missing_audio.append(call["call_id"])
            return None, self.t("audio_missing", source=str(src))
        playable = browser_playable(src)
        if playable is None and src.suffix.lower() not in PLAYABLE_EXTENSIONS:
            playable = False  # cannot probe, and the extension says no browser plays it
        suffix = ".mp3" if playable is False else src.suffix.lower()
        rel = f"audio/{slug(call['call_id'])}{suffix}"
        dest = self.out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if dest.is_symlink():
                dest.unlink()
            if playable is False:
                if not (dest.exists() and dest.stat().st_mtime >= src.stat().st_mtime):
                    try:
                        to_mp3(src, dest)
                    except AudioError as e:
                        log.warning("%s", e)
                        self.missing_audio.append(call["call_id"])
                        return None, self.t("audio_unplayable", source=str(src))
                self.converted += 1
            elif self.audio_mode == "link":
                dest.unlink(missing_ok=True)
                try:
                    dest.symlink_to(src.resolve())
                except OSError:  # no symlinks here (Windows without rights): copy instead
                    shutil.copy2(src, dest)
            else:
                st = src.stat()
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
            alerts.append(f'<div class="alert quality"><b>{esc(t("quality"))}:</b> '
                          f'{esc(self.flag_text(call, flag))}</div>')
        if score is None:
            alerts.append(f'<div class="alert info">{esc(t("not_scored"))}</div>')
        # PBX call log (qa missed): this call's log row
        from ..calllog import call_log_html
        alerts.append(call_log_html(self.ws, cid, lang=self.t.lang))

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
            extra.append(self.t("phrase_is", phrase=phrase))
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
                    + td(esc(_step_title(s, obj)))
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
        card = self.scorecard(name)
        body = [f"<h1>{esc(name)}</h1>"]
        if card is not None and card.rank is not None:
            body.append(f'<p class="sub">{esc(t("rank_of", rank=card.rank, size=card.team_size))}</p>')
        if card is None or card.empty:
            body.append(f'<div class="alert info">{esc(t("no_scorecard"))}</div>')
            for note in (card.notes if card is not None else []):
                body.append(f'<p class="note">{esc(note)}</p>')
        else:
            body.append(self.manager_stats(card))
            body.append(
                '<div class="grid2">'
                + self.trend_card(name)
                + self.stages_card(card)
                + "</div>"
            )
            body.append(self.plan_card(name, skip_notes=set(card.notes)))
            body.append(self.moments_card(card))
            body.append('<div class="grid2"><div class="stack">' + self.objections_card(card)
                        + self.forbidden_card(card) + "</div>" + self.talk_card(card) + "</div>")
            for note in card.notes:
                body.append(f'<p class="note">{esc(note)}</p>')
        body.append(self.calls_card(calls, depth=1, title=t("calls"), show_manager=False))
        crumbs: list[tuple[str, str | None]] = [(self.period_title(), "index.html"), (name, None)]
        return page(title=f"{name} · {self.period_title()}", body="".join(body), depth=1, labels=t,
                    crumbs=crumbs, footer=self.footer(), body_class="manager")

    # Scorecards (qa.scorecards) give the per-manager numbers; the team is loaded once per
    # window and shared by every manager's page.
    def has_scores(self) -> bool:
        return any(c.get("score") is not None for c in self.calls)

    def team_data(self, window: tuple[str | None, str | None]) -> Any:
        from .. import scorecards

        if window not in self._teams:
            self._teams[window] = scorecards.load_team(self.ws, window[0], window[1])
        return self._teams[window]

    def trend_window(self) -> tuple[str | None, str | None]:
        """The report period, widened to the 30 days before its end when it is shorter than
        two weeks: a trend needs more than a day or two of points."""
        p = self.data.period
        if p.date_from and p.date_to:
            start, end = dt.date.fromisoformat(p.date_from), dt.date.fromisoformat(p.date_to)
            if (end - start).days < 13:
                return (end - dt.timedelta(days=29)).isoformat(), p.date_to
        return p.date_from, p.date_to

    def scorecard(self, name: str, window: tuple[str | None, str | None] | None = None) -> Any:
        from .. import scorecards

        if not self.has_scores():
            return None
        period = (self.data.period.date_from, self.data.period.date_to)
        window = window or period
        key = (name, window)
        if key not in self._cards:
            # Only the trend is read from a wider window: no call lists needed there.
            options = None if window == period else scorecards.ScorecardOptions(worst=0, best=0)
            self._cards[key] = scorecards.scorecard(
                self.ws, name, window[0], window[1], data=self.team_data(window), options=options
            )
        return self._cards[key]

    def manager_stats(self, card: Any) -> str:
        t = self.t
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

    def trend_card(self, name: str) -> str:
        t = self.t
        window = self.trend_window()
        card = self.scorecard(name, window)
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

    def stages_card(self, card: Any) -> str:
        t = self.t
        bars = []
        for r in card.stages.to_dict(orient="records"):
            rate, team = r.get("rate"), r.get("team_median")
            rate_v = None if is_missing(rate) else float(rate)
            team_v = None if is_missing(team) else float(team)
            weak = rate_v is not None and team_v is not None and rate_v < team_v
            bars.append(charts.Bar(
                str(r.get("title") or r.get("stage")), rate_v, team_v, css="weak" if weak else "",
                tip=f'{r.get("title")}: {r.get("done")}/{r.get("applicable")} '
                    f'({fmt_num(rate_v, 0, "%")}); {t("team_median")}: {fmt_num(team_v, 0, "%")}',
            ))
        svg = charts.hbars(bars, title=t("stages_vs_team"), series=t("this_manager"),
                           other_series=t("team_median"), empty=t("no_scores"))
        return (f'<section class="card"><h2>{esc(t("stages_vs_team"))}</h2>'
                f'<p class="note">{esc(t("stages_vs_team_note"))}</p>{svg}</section>')

    def objections_card(self, card: Any) -> str:
        t = self.t
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

    def moments_card(self, card: Any) -> str:
        """The worst calls' evidence moments, each a link that opens the call there."""
        t = self.t
        rows = []
        by_id = {c["call_id"]: c for c in self.calls}
        for r in card.moments.to_dict(orient="records"):
            call = by_id.get(r.get("call_id"))
            seconds = r.get("seconds")
            when = None if is_missing(seconds) else float(seconds)
            link = (self.call_link(call, 1, text=f'{r["call_id"]} · {fmt_seconds(when)}' if when is not None
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

    def forbidden_card(self, card: Any) -> str:
        t = self.t
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

    def talk_card(self, card: Any) -> str:
        t = self.t
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

    def plan(self, name: str) -> tuple[dict[str, Any] | None, str]:
        """The coaching plan to show and how it was obtained: the latest plan saved for a
        period overlapping the report's (``qa coach`` saves them), else one
        computed now by ``qa.coaching.coach`` without saving (it checks the previous
        saved plan's goals against this period)."""
        from .. import coaching

        p = self.data.period
        for saved in reversed(self.ws.plans(name)):
            lo, hi = saved.get("period_from"), saved.get("period_to")
            if (p.date_to is None or lo is None or lo <= p.date_to) and (
                p.date_from is None or hi is None or hi >= p.date_from
            ):
                when = dt.datetime.fromtimestamp(float(saved["created_at"])).strftime("%Y-%m-%d")
                return dict(saved["plan"]), self.t("plan_saved", when=when)
        if not self.has_scores():
            return None, ""
        window = (p.date_from, p.date_to)
        plan = coaching.coach(self.ws, name, p.date_from, p.date_to, save=False, data=self.team_data(window))
        return plan.to_dict(), self.t("plan_computed")

    def plan_card(self, name: str, skip_notes: set[str] | frozenset[str] = frozenset()) -> str:
        t = self.t
        plan, how = self.plan(name)
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
                        out.append(f'<li>{self.moment_link(e.get("call_id"), e.get("seconds"))} '
                                   f'<q>{esc(e.get("quote"))}</q> <span class="muted">— {esc(e.get("manager"))}</span></li>')
                    out.append("</ul>")
                relisten = g.get("relisten") or []
                if relisten:
                    out.append(f'<div class="sub">{esc(t("relisten"))}</div><ul>')
                    for r in relisten:
                        quote = f' <q>{esc(r.get("quote"))}</q>' if r.get("quote") else ""
                        out.append(f'<li>{self.moment_link(r.get("call_id"), r.get("seconds"))} '
                                   f'{esc(r.get("what") or "")}{quote}</li>')
                    out.append("</ul>")
                out.append("</div>")
            out.append("</div>")
        for note in plan.get("notes") or []:
            if note not in skip_notes:  # the page already shows the scorecard's notes
                out.append(f'<p class="note">{esc(note)}</p>')
        return "".join(out) + "</section>"

    def moment_link(self, call_id: Any, seconds: Any) -> str:
        """A call and time: a link into the site when the call has a page here."""
        when = None if is_missing(seconds) else float(seconds)
        text = f"{call_id} · {fmt_seconds(when)}" if when is not None else str(call_id)
        call = next((c for c in self.calls if c["call_id"] == call_id), None)
        if call is None:
            return f'<span class="muted">{esc(text)}</span>'
        return self.call_link(call, 1, text=text, t=when)

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
        # PBX call log (qa missed): missed calls, never called back
        from ..calllog import day_card_html
        body.append(day_card_html(self.ws, self.data.period.date_from, self.data.period.date_to, lang=self.t.lang))
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
                + (f": {esc(self.flag_text(c, text) if kind == 'quality' else text)}" if text else "")
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

    def leaderboard(self) -> pd.DataFrame | None:
        """The team leaderboard of the period (``qa.scorecards.team``), limited to the
        report's managers; None when nothing in the period is scored."""
        from .. import scorecards

        if not self.has_scores():
            return None
        if self._leaderboard is None:
            window = (self.data.period.date_from, self.data.period.date_to)
            lb = scorecards.team(self.ws, window[0], window[1], data=self.team_data(window))
            self._leaderboard = lb[lb["manager"].isin(self.managers)].reset_index(drop=True)
        return self._leaderboard

    def managers_card(self) -> str:
        t = self.t
        lb = self.leaderboard()
        ranked = {} if lb is None else {r["manager"]: r for r in lb.to_dict(orient="records")}
        rows = []
        for name in sorted(self.managers, key=lambda m: (ranked.get(m, {}).get("rank") or 10**9, m)):
            r = ranked.get(name, {})
            calls = [c for c in self.calls if c.get("manager") == name]
            mean = None if is_missing(r.get("mean_score")) else r.get("mean_score")
            rows.append(
                "<tr>"
                + td(esc(fmt_num(r.get("rank"), 0)), num=True, value=r.get("rank"))
                + td(self.manager_link(name, 0), value=name)
                + td(str(len(calls)), num=True, value=len(calls))
                + td(fmt_num(r.get("calls"), 0), num=True, value=r.get("calls"))
                + td(_badge({"score": mean}, self.opts.low_score), num=True, value=mean)
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

    def calls_card(self, calls: Sequence[dict[str, Any]], *, depth: int, title: str, show_manager: bool) -> str:
        t = self.t
        rows = []
        for c in calls:
            flags = [self.flag_text(c, f) for f in quality_flags(c.get("quality") or {})]
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
        """Stages by share of calls where they applied and were missed (most missed first).

        A stage is its id: the Russian and English versions of one script share stage ids,
        so they count together, titled in the interface language when a call of that
        language names it, else by the most common title.
        """
        items = self.data.items
        stages = items[(items["kind"] == "stage") & items["status"].isin(["found", "missed"])]
        if stages.empty:
            return []
        language = {c["call_id"]: c.get("language") for c in self.calls}
        rows = []
        for item_id, g in stages.groupby("item_id", sort=False):
            titles = [(str(t), language.get(cid)) for t, cid in zip(g["title"].fillna(item_id), g["call_id"])]
            own = [t for t, lang in titles if lang == self.t.lang]
            title = Counter(own or [t for t, _ in titles]).most_common(1)[0][0]
            missed = int((g["status"] == "missed").sum())
            rows.append({
                "stage": item_id, "title": title, "applicable": len(g), "missed": missed,
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
        lb = self.leaderboard()
        managers = pd.DataFrame() if lb is None else lb.rename(columns=lb.attrs.get("titles", {}))
        stages: list[pd.DataFrame] = []
        objections: list[pd.DataFrame] = []
        moments: list[pd.DataFrame] = []
        for name in self.managers:
            card = self.scorecard(name)
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
    with its objection's title (the scorer's step titles usually carry it already)."""
    title = _value(item, "title")
    if item["kind"] == "step":
        obj, _, step = str(item["item_id"]).partition(".")
        obj_title = objections.get(obj, obj)
        if title and str(title).startswith(obj_title):
            return str(title)
        return f"{obj_title} · {title or step}"
    if item["kind"] == "forbidden":
        return f'{t("kind_forbidden")}: {title or _value(item, "phrase") or item["item_id"]}'
    return str(title or item["item_id"])


def _step_title(step: Mapping[str, Any], objection: Mapping[str, Any]) -> str:
    """A step's title under its objection, without the objection's title repeated."""
    title = str(_value(step, "title") or str(step["item_id"]).split(".", 1)[-1])
    prefix = str(_value(objection, "title") or "")
    for sep in (": ", " · ", " - "):
        if prefix and title.startswith(prefix + sep):
            return title[len(prefix) + len(sep):]
    return title


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


def _period_label(lo: Any, hi: Any, t: Labels) -> str:
    if lo and hi:
        return str(lo) if lo == hi else f"{lo} – {hi}"
    return str(lo or hi or t("all_days"))


def _goal_text(goal: Mapping[str, Any], t: Labels) -> str:
    """A coaching goal in the interface language, from its fields."""
    if not goal:
        return ""
    key = "goal_objection" if goal.get("kind") == "objection" else (
        "goal_stage_conditional" if goal.get("conditional") else "goal_stage")
    return t(key, title=goal.get("title") or goal.get("item_id"), target=fmt_num(goal.get("target"), 0))


def _rate_pill(rate: Any, team: Any) -> str:
    """A rate in %, red when below the team's."""
    if is_missing(rate):
        return '<span class="muted">—</span>'
    below = not is_missing(team) and float(rate) < float(team)
    return f'<span class="{"below" if below else ""}">{esc(fmt_num(rate, 0, "%"))}</span>'


def _metric_value(key: str, value: Any) -> str:
    if is_missing(value):
        return "—"
    return _metric(key, float(value) if isinstance(value, int | float) else value)


def _metric(key: str, value: Any) -> str:
    if isinstance(value, float):
        if key.endswith(("_share", "_ratio")) and 0 <= value <= 1:
            return fmt_num(100 * value, 0, "%")
        return fmt_num(value, 1)
    return str(value)
