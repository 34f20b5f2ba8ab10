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

This module holds what the pages share (:class:`_Site`: paths, links, the team and
scorecards loaded once, the calls table); each page type has its own module:
:mod:`~qa.reports.day_page` (``index.html``), :mod:`~qa.reports.manager_page`,
:mod:`~qa.reports.call_page`, :mod:`~qa.reports.workbook` (``report.xlsx``) and
:mod:`~qa.reports.media` (recordings).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import QAError
from ..store import Workspace
from ..ui import choose
from .data import Period, PeriodData, flag_detail, load_period, quality_flags
from .html import (
    Labels,
    esc,
    fmt_num,
    fmt_seconds,
    href,
    is_missing,
    score_class,
    slug,
    table,
    td,
)
from .media import PLAYABLE_EXTENSIONS

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("qa")

__all__ = ["AUDIO_MODES", "PLAYABLE_EXTENSIONS", "ReportOptions", "SiteResult", "build_site"]

AUDIO_MODES = ("copy", "link", "none")


ASSETS = ("report.css", "report.js")


@dataclass(frozen=True)
class ReportOptions:
    """How the report is built; every field has the default the CLI uses.

    ``low_score``: calls scoring below it are listed for review (0-100).
    ``lang``: interface language, a catalog of :mod:`qa.ui` (``en``, ``ru``) or ``auto``
    (the most common call language that has a catalog, else English). ``excel``: also write ``report.xlsx``.
    ``title``: heading of the overview page (default: "Calls" and the period).
    """

    low_score: float = 50.0
    lang: str = "auto"
    excel: bool = True
    title: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.low_score <= 100:
            raise QAError(f"low score threshold {self.low_score} is outside 0-100")
        choose(self.lang)  # an unknown language raises ConfigError naming the known ones


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
    lang: str = "en"  # the interface language the pages were written in


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
    """The pages' language: ``lang``, or for ``auto`` the language of most calls of the
    period that has a catalog (:func:`qa.ui.choose`, the one rule for every command)."""
    return choose(lang, data.calls["language"].dropna())


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
        from . import call_page, day_page, manager_page, workbook

        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise QAError(f"{self.out}: cannot create the report folder: {e}") from e
        self.copy_assets()
        for call in self.calls:
            self.write(self.call_path(call["call_id"]), call_page.call_page(self, call))
        for name in self.managers:
            self.write(self.manager_path(name), manager_page.manager_page(self, name))
        index = self.write("index.html", day_page.index_page(self))
        from . import search_page

        search_page.write(self)  # search.html + the static index (qa search, offline)
        tables = workbook.tables(self)
        excel = None
        if self.opts.excel:
            from ..writers import write_xlsx

            excel = self.out / "report.xlsx"
            try:
                write_xlsx(workbook.localized(tables, self.t), excel)
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
            lang=self.t.lang,
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

    # -- per-manager numbers, shared by the pages ----------------------------------------------
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

    # -- shared cards and aggregates -----------------------------------------------------------
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


# ---- helpers -------------------------------------------------------------------------------
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
