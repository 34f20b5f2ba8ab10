"""``qa calibrate``: human QA grades against the tool's decisions (and ``--fit``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import calibrate as cal
from .common import WorkspaceOpt, app, err_console, fail, handle_errors, open_workspace, out_console

_FORMATS = ("table", "json", "csv")


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


_LABELS = {"agreement": "agree", "precision": "prec", "human_yes": "human yes",
           "tool_yes": "tool yes", "similarity": "sim", "before_agreement": "agree before",
           "after_agreement": "agree after", "before_kappa": "kappa before",
           "after_kappa": "kappa after", "threshold": "cut"}


def _table(title: str, frame: Any, columns: list[str]) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(_LABELS.get(c, c), overflow="fold")
    for r in frame[columns].itertuples(index=False):
        t.add_row(*[_fmt(v) for v in r])
    return t


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


@app.command("calibrate")
@handle_errors
def calibrate(
    grades: Annotated[
        Path | None,
        typer.Argument(help="Human grades, CSV or XLSX: call_id, item_id, value "
                       "(yes/no, 1/0, found/missed, handled/unhandled); optional grader, score. "
                       "Optional: supervisors' overrides (qa dispute) count as grades too.",
                       show_default=False),
    ] = None,
    workspace: WorkspaceOpt = None,
    use_disputes: Annotated[bool, typer.Option("--disputes/--no-disputes", help="Count the "
                            "overrides stored with 'qa dispute' as human grades.")] = True,
    do_fit: Annotated[bool, typer.Option("--fit", help="Also learn per-item meaning thresholds from "
                                         "the grades, report cross-validated agreement before and "
                                         "after, and store them as the calibration profile of the "
                                         "scored script/rubric version: the next 'qa score' with the "
                                         "same scripts applies it.")] = False,
    objection_settings: Annotated[bool, typer.Option(
        "--objection-settings", help="With --fit: also rescore the graded calls to learn how objections "
        "are judged (the handling steps' meaning threshold; tentative raises, which count a vaguely "
        "said objection when the answer bears it out), kept only when cross-validation says they "
        "agree better. Off by default: on the project's 32 held-out calls it did not generalise "
        "from about 100 graded calls (docs/meaning.md).")] = False,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds for --fit.", min=2)] = 5,
    worst: Annotated[int, typer.Option("--worst", help="How many disagreements to list.", min=0)] = 10,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv (csv: the per-item table).")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write per_item.csv, "
                      "worst.csv, graders.csv, skipped.csv (and fit.csv, fit_settings.csv) into this folder.",
                      show_default=False)] = None,
) -> None:
    """Compare human QA grades with the tool: per item agreement, Cohen's kappa, precision and recall of the tool; the share of calls whose scores differ by at most 10 points; the worst disagreements with the tool's evidence; agreement between graders who graded the same calls.

    Rows naming unknown calls or items, or with values that are not yes/no, are skipped and listed on stderr; the rest is used.

    With --fit the learnt thresholds (and, with --objection-settings, how objections are judged) are stored in the workspace, bound to the script and rubric versions (content hashes) the calls were scored with; 'qa score' applies them to those versions and says so, and warns when the script was edited since (calibrate again).

    Example: qa calibrate grades.xlsx --workspace qa_workspace --fit
    """
    if fmt not in _FORMATS:
        fail(f"--format {fmt!r}: choose one of {', '.join(_FORMATS)}", code=2)
    ws = open_workspace(workspace, create=False)
    g = cal.read_grades(grades) if grades is not None else cal.dispute_grades(ws)
    if use_disputes and grades is not None:
        g = cal.merge_grades(g, cal.dispute_grades(ws))
    if not use_disputes and grades is None:
        fail("give a GRADES file, or leave out --no-disputes to use the overrides of 'qa dispute'", code=2)
    if grades is None and not len(g.rows):
        fail("no GRADES file given and no overrides stored with 'qa dispute'; pass grades.xlsx", code=2)
    tool = cal.tool_decisions(ws)
    rep = cal.report(g, tool, worst=worst)
    if objection_settings and not do_fit:
        fail("--objection-settings is part of --fit: add --fit", code=2)
    fitted = (cal.fit(g, tool, folds=folds, ws=ws if objection_settings else None)
              if do_fit and len(rep.joined) else None)

    for line, why in rep.skipped:
        where = "qa dispute" if line < 0 else f"{grades}:{line}" if line else str(grades)
        err_console.print(f"skipped {where}: {why}", markup=False, soft_wrap=True)
    err_console.print(f"{len(rep.joined)} grade(s) compared, {len(rep.skipped)} skipped", markup=False)
    if fitted is not None:
        for stored in cal.save_profiles(ws, fitted):
            err_console.print(stored, markup=False, soft_wrap=True)
        if not fitted.profiles:
            err_console.print("no calibration profile stored: the calls were scored without the meaning "
                              "layer; run qa score with it (the default when installed), then --fit",
                              markup=False, soft_wrap=True)

    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        rep.per_item.to_csv(output / "per_item.csv", index=False)
        rep.worst.to_csv(output / "worst.csv", index=False)
        rep.graders.to_csv(output / "graders.csv", index=False)
        import pandas as pd

        pd.DataFrame(rep.skipped, columns=["line", "reason"]).to_csv(output / "skipped.csv", index=False)
        if fitted is not None:
            fitted.table.to_csv(output / "fit.csv", index=False)
            if fitted.settings is not None:
                fitted.settings.to_csv(output / "fit_settings.csv", index=False)

    if fmt == "csv":
        typer.echo(rep.per_item.to_csv(index=False), nl=False)  # raw: rich would wrap lines
        return
    if fmt == "json":
        doc = {"per_item": _records(rep.per_item), "per_call": rep.per_call,
               "worst": _records(rep.worst), "graders": _records(rep.graders),
               "skipped": [{"line": ln, "reason": r} for ln, r in rep.skipped],
               "fit": None if fitted is None else {"folds": fitted.folds,
                                                   "items": _records(fitted.table),
                                                   "settings": None if fitted.settings is None
                                                   else _records(fitted.settings),
                                                   "profiles": [{"script_hash": k[0], "rubric_hash": k[1], **v}
                                                                for k, v in sorted(fitted.profiles.items())]}}
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    out_console.print(_table("Per item (tool vs human)", rep.per_item,
                             ["question", "n", "agreement", "kappa", "precision", "recall",
                              "human_yes", "tool_yes"]))
    pc = rep.per_call
    if pc["calls"]:
        out_console.print(f"Per call: {pc['within_10']:.0%} of {pc['calls']} call(s) within "
                          f"±{cal.SCORE_TOLERANCE:g} points; mean |difference| {pc['mean_abs_diff']:.1f}",
                          markup=False)
    if len(rep.worst):
        out_console.print(_table("Worst disagreements", rep.worst,
                                 ["call_id", "question", "grader", "human", "tool", "start",
                                  "text", "similarity"]))
    if len(rep.graders):
        out_console.print(_table("Graders on the same calls", rep.graders,
                                 ["question", "graders", "calls", "agreement", "kappa"]))
    if fitted is not None:
        several = fitted.table["version"].nunique() > 1  # name the version only when it tells apart
        out_console.print(_table(f"--fit: {fitted.folds}-fold cross-validated, before -> after",
                                 fitted.table, ["question", *(["version"] if several else []), "n",
                                                "before_agreement",
                                                "after_agreement", "before_kappa", "after_kappa",
                                                "threshold", "kept"]))
        if fitted.settings is not None and len(fitted.settings):
            out_console.print(_table("--fit, objection settings learnt by rescoring the graded calls "
                                     f"({fitted.folds}-fold cross-validated, before -> after)",
                                     fitted.settings, ["question", *(["version"] if several else []), "n",
                                                       "before_agreement", "after_agreement",
                                                       "before_kappa", "after_kappa", "setting"]))
