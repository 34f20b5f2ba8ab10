"""The head of sales' commands: ``qa scorecard``, ``qa team``, ``qa coach``, ``qa revive``.

Thin: parse, call :mod:`qa.scorecards` / :mod:`qa.coaching`, render. ``--format table`` and
``md`` show tables made for people (titles, whole percentages, evidence as
``12:05 "quote…" (call_id)``); ``csv``, ``json``, ``xlsx`` and ``parquet`` write the library's
tables as they are, for spreadsheets and scripts. Notes (other script versions kept apart,
calls without a manager, an empty period) go to stderr.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from .common import (
    FormatOpt,
    FromOpt,
    OutputDirOpt,
    ToOpt,
    WorkspaceOpt,
    app,
    err_console,
    handle_errors,
    open_workspace,
    out_console,
)

if TYPE_CHECKING:
    import pandas as pd

    from ..coaching import CoachingPlan
    from ..scorecards import Scorecard


class By(str, Enum):
    day = "day"
    week = "week"


ManagerArg = Annotated[str, typer.Argument(help="The manager, as in the calls' metadata (case does not matter).")]
ByOpt = Annotated[By, typer.Option("--by", help="Trend buckets: day or week (ISO weeks).")]
VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version",
        help="Scores of another script/rubric version: SCRIPT[:RUBRIC] hash prefixes, several "
        "separated by commas. Default: the latest version (and its translations).",
        show_default=False,
    ),
]
ManagerOpt = Annotated[
    str | None, typer.Option("--manager", help="Only this manager's calls.", show_default=False)
]
SaveOpt = Annotated[
    bool, typer.Option("--save/--no-save", help="Save the plan in the workspace, so the next run checks it.")
]


# ---- rendering helpers ----------------------------------------------------------------------
def _metric_label(name: str) -> str:
    """The readable name of a qa.metrics key: the report's English label (one place for the
    wording, qa/reports/assets/labels.yaml); unknown keys are shown with "_" as spaces."""
    from ..reports.html import Labels

    labels = Labels("en")
    return labels(f"metric_{name}") if labels.has(f"metric_{name}") else name.replace("_", " ")


def _metric_value(name: str, value: Any) -> str:
    """Shares as percentages, the rest with one or two decimals."""
    if _missing(value):
        return ""
    if name.endswith("_share"):
        return f"{float(value) * 100:.0f}%"
    return _num(value, 1 if abs(float(value)) >= 10 else 2)

def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(math.isnan(float(v)))
    except (TypeError, ValueError):
        return False


def _pct(v: Any) -> str:
    return "" if _missing(v) else f"{float(v):.0f}%"


def _num(v: Any, digits: int = 1) -> str:
    if _missing(v):
        return ""
    f = float(v)
    if digits == 0 or f.is_integer() and abs(f) >= 100:
        return f"{f:.0f}"
    return f"{f:.{digits}f}"


def _when(started_at: Any) -> str:
    """``2024-05-06T12:00:00`` -> ``2024-05-06 12:00``."""
    return "" if _missing(started_at) or not started_at else str(started_at).replace("T", " ")[:16]


def _stem(*parts: str | None) -> str:
    return "_".join(re.sub(r"[^\w.-]+", "_", p) for p in parts if p)


def _notes(notes: Sequence[str]) -> None:
    for note in notes:
        err_console.print(f"[yellow]Note:[/yellow] {escape(note)}", soft_wrap=True)


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=list(columns))


def _emit(
    fmt: str,
    *,
    human: Mapping[str, pd.DataFrame],
    raw: Mapping[str, pd.DataFrame],
    header: Sequence[str],
    output: Path | None,
    stem: str,
) -> None:
    """Tables for people (table, md: readable tables under the header lines) or as they are
    (csv, json, xlsx, parquet), through the writer of the format."""
    from ..writers import get_writer

    writer = get_writer(fmt)
    tables = {k: v for k, v in human.items() if len(v)} if writer.for_people else raw
    for f in writer.write(tables, output, stem=stem, header=header if writer.for_people else ()):
        err_console.print(f"Wrote {f}", soft_wrap=True)


# ---- qa scorecard -----------------------------------------------------------------------------
def _card_header(card: Scorecard) -> list[str]:
    s = card.summary.iloc[0]
    lines = [f"Scorecard: {card.manager} · {card.scope.label} · by {card.period}"]
    if card.empty:
        return lines + ["No scored calls in this period."]
    rank = f" · rank {card.rank} of {card.team_size}" if card.rank is not None else ""
    team = "" if _missing(s["team_mean_score"]) else f" · team mean {float(s['team_mean_score']):.1f}"
    lines.append(
        f"{card.calls} call(s) · mean score {_num(card.mean_score)} · median {_num(card.median_score)}{rank}{team}"
    )
    lines.append(
        f"Next step agreed in {_pct(s['next_step_rate']) or 'n/a'} of calls · objections handled "
        f"{_pct(s['objection_rate']) or 'n/a'} · forbidden phrases {int(s['forbidden_said'])} · "
        f"critical failures {int(s['critical_calls'])}"
    )
    lines.append(f"Scored with: {s['versions']}")
    return lines


def _card_tables(card: Scorecard) -> dict[str, pd.DataFrame]:
    from ..scorecards import evidence

    period = card.period.capitalize()
    trend = _frame([
        {period: r[card.period], "Calls": int(r["calls"]), "Mean": _num(r["mean_score"]),
         "Median": _num(r["median_score"]), "Team mean": _num(r["team_mean_score"])}
        for r in card.trend.to_dict("records")
    ], [period, "Calls", "Mean", "Median", "Team mean"])
    stages = {key: _frame([
        {"Stage": r["title"], "Weight": _num(r["weight"], 0), "Done": f"{r['done']}/{r['applicable']}",
         "Rate": _pct(r["rate"]), "Team median": _pct(r["team_median"]),
         "Best quartile": _pct(r["team_best_quartile"]),
         "Behind best": "" if _missing(r["gap_to_best"]) or r["gap_to_best"] <= 0 else f"-{r['gap_to_best']:.0f} pp"}
        for r in rows
    ], ["Stage", "Weight", "Done", "Rate", "Team median", "Best quartile", "Behind best"])
        for key, rows in _by_section(card.stages).items()}
    objections = {key: _frame([
        {"Objection": r["title"], "Handled": f"{r['handled']}/{r['raised']}", "Rate": _pct(r["rate"]),
         "Team median": _pct(r["team_median"]), "Best quartile": _pct(r["team_best_quartile"])}
        for r in rows
    ], ["Objection", "Handled", "Rate", "Team median", "Best quartile"])
        for key, rows in _by_section(card.objections).items()}
    forbidden = _frame([
        {"Phrase": r["phrase"], "Said": int(r["said"]), "Per 100 calls": _num(r["per_100_calls"]),
         "Team per 100": _num(r["team_per_100_calls"]),
         "Latest": evidence(r["seconds"], r["example"], r["call_id"])}
        for r in card.forbidden.to_dict("records")
    ], ["Phrase", "Said", "Per 100 calls", "Team per 100", "Latest"])
    talk = _frame([
        {"Metric": _metric_label(r["metric"]), "Value": _metric_value(r["metric"], r["value"]),
         "Team median": _metric_value(r["metric"], r["team_median"]),
         "Team middle half": f"{_metric_value(r['metric'], r['team_p25'])} – {_metric_value(r['metric'], r['team_p75'])}"}
        for r in card.talk.to_dict("records")
    ], ["Metric", "Value", "Team median", "Team middle half"])
    worst = _frame([
        {"Call": r["call_id"], "Started": _when(r["started_at"]), "Score": _num(r["score"]),
         "Missed": r["missed"], "Unhandled": r["unhandled"],
         "Forbidden / critical": ", ".join(x for x in (r["forbidden"], r["critical_reason"]) if x)}
        for r in card.worst_calls.to_dict("records")
    ], ["Call", "Started", "Score", "Missed", "Unhandled", "Forbidden / critical"])
    moments = {which: _frame([
        {"Moment": r["evidence"], "What": f"{r['what']} ({r['status']})", "File": r["source"]}
        for r in card.moments.to_dict("records") if r["list"] == which
    ], ["Moment", "What", "File"]) for which in ("worst", "best")}
    best = _frame([
        {"Call": r["call_id"], "Started": _when(r["started_at"]), "Score": _num(r["score"]),
         "Stages done": r["stages_done"], "Objections handled": r["objections_handled"], "File": r["source"]}
        for r in card.best_calls.to_dict("records")
    ], ["Call", "Started", "Score", "Stages done", "Objections handled", "File"])
    def titled(name: str, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        # a manager on two scripts (or languages): one table per section, named after it
        if len(tables) < 2:
            return {name: next(iter(tables.values()), _frame([], []))}
        return {f"{name} · {card.sections.get(k, k)}": t for k, t in tables.items()}

    return {
        f"Score by {card.period}": trend, **titled("Stages vs team", stages),
        **titled("Objection handling", objections),
        "Forbidden phrases": forbidden, "Talk vs team": talk, "Worst calls": worst,
        "Evidence moments (worst calls)": moments["worst"], "Best calls": best,
        "Evidence moments (best calls)": moments["best"],
    }


def _by_section(df: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Table rows grouped by their ``section`` column, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in df.to_dict("records"):
        out.setdefault(str(r.get("section") or ""), []).append(r)
    return out


@app.command()
@handle_errors
def scorecard(
    manager: ManagerArg,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    by: ByOpt = By.day,
    fmt: FormatOpt = "table",
    output: OutputDirOpt = None,
    workspace: WorkspaceOpt = None,
    version: VersionOpt = None,
) -> None:
    """One manager against the team: score trend, stages, objections, forbidden phrases,
    talk metrics, rank, the worst and the best calls with their evidence moments.

    Stage and objection rates are compared with the team median and the team's best
    quartile (the 75th percentile of the managers' rates) among the managers on the same
    script in the same language, with the stage titles of that script; a manager on two
    scripts gets a table for each. A worst call's moments: each missed stage where it
    belonged, unhandled objections, forbidden phrases; a best call's: the stages and
    objection handling found. --format table or md for people; csv, json, xlsx, parquet
    for the raw tables (xlsx and parquet need --output).

    Example: qa scorecard ivanov --from 2026-11-16 --to 2026-11-22 --by day
    """
    from ..scorecards import scorecard as build

    with open_workspace(workspace, create=False) as ws:
        card = build(ws, manager, date_from, date_to, period=by.value, version=version)
        human, raw = _card_tables(card), card.tables()
        # PBX call log (qa missed): the "calls" block
        from ..calllog import calls_block
        if (block := calls_block(ws, card.manager, card.scope.date_from, card.scope.date_to)) is not None:
            human["Calls (PBX log)"], raw["calls"] = block, block
        _emit(fmt, human=human, raw=raw, header=_card_header(card),
              output=output, stem=_stem("scorecard", card.manager, card.scope.date_from, card.scope.date_to))
    _notes(card.notes)


# ---- qa team ---------------------------------------------------------------------------------
def _team_tables(lb: pd.DataFrame, link: pd.DataFrame) -> dict[str, pd.DataFrame]:
    from ..scorecards import KEY_TALK_METRICS, OBJECTION_COL, STAGE_COL, TALK_COL

    titles: dict[str, str] = lb.attrs.get("item_titles") or lb.attrs.get("titles", {})
    board = _frame([
        {"#": int(r["rank"]), "Manager": r["manager"], "Calls": int(r["calls"]), "Mean": _num(r["mean_score"]),
         "Median": _num(r["median_score"]), "Next step": _pct(r["next_step_rate"]),
         "Objections handled": _pct(r["objection_rate"]), "Forbidden": int(r["forbidden_said"]),
         "Critical": int(r["critical_calls"])}
        for r in lb.to_dict("records")
    ], ["#", "Manager", "Calls", "Mean", "Median", "Next step", "Objections handled", "Forbidden", "Critical"])
    out = {"Leaderboard": board}
    # One table per section (script and language): an English greeting is never a row
    # under the Russian script's «Приветствие». Rows: the managers with calls in it.
    sections = lb.attrs.get("sections") or [{"label": "", "managers": list(lb["manager"]),
                                             "stage_columns": [c for c in lb.columns if c.startswith(STAGE_COL)],
                                             "objection_columns": [c for c in lb.columns if c.startswith(OBJECTION_COL)]}]
    several = len(sections) > 1
    for name, cols_key in (("Stage completion", "stage_columns"), ("Objection handling", "objection_columns")):
        for sec in sections:
            cols = sec[cols_key]
            if not cols:
                continue
            heads = [titles.get(c, c) for c in cols]
            rows = [{"Manager": r["manager"], **{h: _pct(r[c]) for h, c in zip(heads, cols)}}
                    for r in lb.to_dict("records") if r["manager"] in sec["managers"]]
            for label, attr in (("team median", "team_median"), ("best quartile", "team_best_quartile")):
                bench = lb.attrs.get(attr, {})
                rows.append({"Manager": f"({label})", **{h: _pct(bench.get(c)) for h, c in zip(heads, cols)}})
            out[f"{name} · {sec['label']}" if several else name] = _frame(rows, ["Manager", *heads])
    talk = [c for c in lb.columns if c.startswith(TALK_COL)]
    key = [c for c in talk if c[len(TALK_COL):] in KEY_TALK_METRICS] or talk[:6]
    if key:
        names = [c[len(TALK_COL):] for c in key]
        out["Talk metrics (mean per call)"] = _frame(
            [{"Manager": r["manager"], **{_metric_label(n): _metric_value(n, r[c]) for n, c in zip(names, key)}}
             for r in lb.to_dict("records")],
            ["Manager", *(_metric_label(n) for n in names)],
        )
    labels = {sec.get("key"): sec["label"] for sec in sections}
    if len(link):
        out["Outcome link (won deals)"] = _frame([
            {"Stage / objection": f"{r['title']} ({r['kind']}"
                                  + (f", {labels.get(r['section'], r['section'])})" if several else ")"),
             "When done": f"{r['won_done']} of {r['calls_done']} won ({_pct(r['won_rate_done']) or 'n/a'})",
             "When not done": f"{r['won_not_done']} of {r['calls_not_done']} won ({_pct(r['won_rate_not_done']) or 'n/a'})",
             "Difference": "" if _missing(r["difference"]) else f"{r['difference']:+.0f} pp"}
            for r in link.to_dict("records")
        ], ["Stage / objection", "When done", "When not done", "Difference"])
    return out


@app.command()
@handle_errors
def team(
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    fmt: FormatOpt = "table",
    output: OutputDirOpt = None,
    workspace: WorkspaceOpt = None,
    version: VersionOpt = None,
) -> None:
    """The team leaderboard for the weekly meeting: one row per manager (calls, mean and
    median score, next step, objection handling, forbidden phrases, stage completion, talk
    metrics; stage and objection rates in one table per script and language, with that
    script's titles), and, where calls carry a deal outcome, which stages and objection handlings
    go with won deals (won rate when done vs not done, with counts).

    Example: qa team --from 2026-11-16 --to 2026-11-22 --format xlsx --output reports/
    """
    from ..scorecards import load_team, outcome_link
    from ..scorecards import team as leaderboard

    with open_workspace(workspace, create=False) as ws:
        data = load_team(ws, date_from, date_to, version=version)
        lb = leaderboard(ws, data=data)
        link = outcome_link(ws, data=data)
        header = [
            f"Team: {data.scope.label} · {len(lb)} manager(s) · {data.team_size_calls} scored call(s)",
            "Scored with: " + "; ".join(lb.attrs.get("versions", [])),
        ]
        # the header lists the versions: the note that lists them again is not printed
        notes = [n for n in lb.attrs.get("notes", []) if n != lb.attrs.get("versions_note")]
        if lb.empty:
            header.append("No scored calls in this period.")
        raw = {"leaderboard": lb, **({"outcome_link": link} if len(link) else {})}
        human = _team_tables(lb, link)
        # PBX call log (qa missed): the "calls" block
        from ..calllog import calls_block
        if (block := calls_block(ws, None, data.scope.date_from, data.scope.date_to)) is not None:
            human["Calls (PBX log)"], raw["calls"] = block, block
        _emit(fmt, human=human, raw=raw, header=header, output=output,
              stem=_stem("team", data.scope.date_from, data.scope.date_to))
    _notes(notes)


# ---- qa coach ----------------------------------------------------------------------------------
def _print_plan(plan: CoachingPlan, fmt: str, output: Path | None) -> bool:
    """Print or write the plan; True when its notes went to stdout with it (the Markdown
    plan ends with them), so they are not printed again on stderr."""
    from ..writers import get_writer

    stem = _stem("coach", plan.manager, plan.period_from, plan.period_to)
    if fmt in ("table", "md", "json"):
        text = json.dumps(plan.to_dict(), ensure_ascii=False, indent=2) + "\n" if fmt == "json" else plan.to_markdown()
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
            path = output / f"{stem}.{'json' if fmt == 'json' else 'md'}"
            path.write_text(text, encoding="utf-8")
            err_console.print(f"Wrote {path}", soft_wrap=True)
            return False
        if fmt == "table":
            from rich.markdown import Markdown

            out_console.print(Markdown(text))
        else:
            out_console.file.write(text)
        return fmt != "json"
    writer = get_writer(fmt)
    if output is None:
        writer.write(plan.tables(), None)
        return False
    for f in writer.write(plan.tables(), output, stem=stem):
        err_console.print(f"Wrote {f}", soft_wrap=True)
    return False


@app.command()
@handle_errors
def coach(
    manager: ManagerArg,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    fmt: FormatOpt = "table",
    output: OutputDirOpt = None,
    workspace: WorkspaceOpt = None,
    version: VersionOpt = None,
    save: SaveOpt = True,
    gaps: Annotated[int, typer.Option("--gaps", min=1, help="How many of the largest gaps the plan keeps.")] = 3,
) -> None:
    """A coaching plan: the largest gaps to the team's best quartile (weight x distance),
    each with the target, how colleagues said it in their best calls, the manager's own
    calls to re-listen and a measurable goal for the next period. The plan is saved; the
    next run for a later period first checks the previous plan goal by goal.

    Example: qa coach ivanov --from 2026-11-16 --to 2026-11-22
    """
    from ..coaching import CoachOptions
    from ..coaching import coach as build

    with open_workspace(workspace, create=False) as ws:
        plan = build(ws, manager, date_from, date_to, version=version, save=save,
                     options=CoachOptions(gaps=gaps))
        shown = _print_plan(plan, fmt, output)
        # PBX call log (qa missed): a goal on callback speed
        from ..calllog import callback_coaching
        cb = callback_coaching(ws, plan.manager, plan.period_from, plan.period_to, save=save)
        if cb is not None and fmt in ("table", "md") and output is None:
            out_console.file.write("\n" + cb.to_markdown())
    if plan.plan_id is not None:
        err_console.print(
            f"Saved plan #{plan.plan_id} for {plan.manager}; run 'qa coach {plan.manager} "
            "--from <next period>' to check it.",
            soft_wrap=True,
        )
    if not shown:
        _notes(plan.notes)


# ---- qa revive ---------------------------------------------------------------------------------
@app.command()
@handle_errors
def revive(
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    manager: ManagerOpt = None,
    fmt: FormatOpt = "table",
    output: OutputDirOpt = None,
    workspace: WorkspaceOpt = None,
    version: VersionOpt = None,
) -> None:
    """Clients worth calling back: calls where the client raised an objection the manager
    did not handle and no next step was agreed, newest first, with the objection and the
    moment to listen to.

    Example: qa revive --from 2026-11-16 --to 2026-11-22 --manager ivanov
    """
    from ..coaching import revive_list
    from ..scorecards import evidence

    with open_workspace(workspace, create=False) as ws:
        rows = revive_list(ws, date_from, date_to, manager, version=version)
        # PBX call log (qa missed): clients never called back
        from ..calllog import revive_rows
        rows = revive_rows(ws, date_from, date_to, manager, base=rows)
        human = _frame([
            {"Started": _when(r["started_at"]), "Client phone": r["client_phone"], "Manager": r["manager"],
             "Objection": r["objections"],
             "Moment": evidence(r["seconds"], r["quote"], r["call_id"]), "Score": _num(r["score"])}
            for r in rows.to_dict("records")
        ], ["Started", "Client phone", "Manager", "Objection", "Moment", "Score"])
        period = " · ".join(p for p in (date_from and f"from {date_from}", date_to and f"to {date_to}") if p)
        header = [f"Revive list{' · ' + period if period else ''}{' · ' + manager if manager else ''}: "
                  f"{len(rows)} call(s) with an unhandled objection and no next step"]
        _emit(fmt, human={"Calls to revive": human}, raw={"revive": rows}, header=header,
              output=output, stem=_stem("revive", manager, date_from, date_to))
