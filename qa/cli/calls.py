"""``qa missed``: missed inbound calls and callbacks from the PBX call log.

Thin: read the log into the workspace (:func:`qa.calllog.import_log`), compute
(:func:`qa.calllog.missed_report`), render with :mod:`qa.writers`. Problems with single
rows go to stderr with their line; the good rows are imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from .common import (
    FormatOpt,
    OutputDirOpt,
    WorkspaceOpt,
    app,
    err_console,
    handle_errors,
    open_workspace,
    out_console,
)

FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="First day of missed calls, YYYY-MM-DD (inclusive). Default: the log's first.",
                 show_default=False),
]
ToOpt = Annotated[
    str | None,
    typer.Option("--to", help="Last day of missed calls, YYYY-MM-DD (inclusive). Default: the log's last. "
                 "Callbacks after it still count.", show_default=False),
]
LogArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="PBX call log files: Asterisk Master.csv, or a CSV/XLSX export (Mango Office, "
        "Zadarma, Bitrix24, UIS, ...). Imported into the workspace once; without a file, the "
        "log already in the workspace is used.",
        show_default=False,
    ),
]


def _cell(value: Any, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _when(text: Any) -> str:
    return "" if not text or text != text else str(text).replace("T", " ")[:16]


@app.command()
@handle_errors
def missed(
    logs: LogArg = None,
    managers: Annotated[
        Path | None,
        typer.Option("--managers", help="Extension -> manager file (managers.csv), the one the recordings use.",
                     show_default=False),
    ] = None,
    callback_within: Annotated[
        str, typer.Option("--callback-within", help="A callback this soon after the miss is in time: 30m, 1h, 90s.")
    ] = "30m",
    callback_rule: Annotated[
        Literal["attempt", "answered"],
        typer.Option("--callback-rule", help="What counts as a callback: 'attempt' (any outbound call to the "
                     "client) or 'answered' (only one the client answered)."),
    ] = "attempt",
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="Column preset of the export (mango, zadarma, bitrix24, uis, generic, "
                     "asterisk); default: detected from the header.", show_default=False),
    ] = None,
    manager: Annotated[str | None, typer.Option("--manager", help="Only this manager (name or extension).",
                                                show_default=False)] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    fmt: FormatOpt = "table",
    output: OutputDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Missed inbound calls per manager from the PBX call log: answered and missed, called
    back within the window, later or never, clients who called again and got through
    (recovered), median and 90th-percentile time to callback, outbound calls and talk time.
    Internal calls between extensions are left out. Also lists the clients never called back
    and, when recordings are in the workspace, answered calls that have no recording.

    Example: qa missed samples/Master.csv --managers samples/managers.csv --callback-within 30m
    """
    from ..calllog import import_log, missed_report, parse_window, unrecorded_calls
    from ..managers import load_managers
    from ..writers import get_writer

    writer = get_writer(fmt)  # a wrong --format fails before anything is imported
    window = parse_window(callback_within)
    names = load_managers(managers) if managers is not None else None
    with open_workspace(workspace, create=bool(logs)) as ws:
        if names is not None and not logs:
            ws.save_extension_names(dict(names.names))
        for path in logs or []:
            result = import_log(ws, path, managers=names, preset=preset)
            for issue in result.issues:
                err_console.print(f"[yellow]Warning:[/yellow] {escape(issue)}", soft_wrap=True)
            err_console.print(escape(result.summary), soft_wrap=True)
        if not ws.has_calllog():
            from ..errors import CallLogError

            raise CallLogError(f"{ws.path}: no call log in the workspace; run 'qa missed Master.csv' with the PBX log")
        report = missed_report(ws, date_from, date_to, manager=manager, window=window, rule=callback_rule)
        unrecorded = unrecorded_calls(ws, date_from, date_to)
    raw: dict[str, Any] = dict(report.tables())
    if len(unrecorded):
        raw["answered_without_recording"] = unrecorded
    stem = "_".join(p for p in ("missed", date_from, date_to) if p)
    if writer.name in ("table", "md"):
        human = _human(report, unrecorded)
        period = " · ".join(p for p in (date_from and f"from {date_from}", date_to and f"to {date_to}") if p)
        team = report.row("(team)") or {}
        header = (
            f"Missed calls{' · ' + period if period else ''}: {team.get('missed', 0)} of "
            f"{team.get('inbound', 0)} inbound missed · callback within {report.window_minutes:g} min "
            f"· rule: {report.rule}"
        )
        if output is None:
            if writer.name == "md":
                out_console.file.write(header + "\n\n")
            else:
                out_console.print(header, soft_wrap=True)
            writer.write(human, None)
            return
        files = writer.write(human, output, stem=stem)
    elif output is None:
        writer.write(raw, None)
        return
    else:
        files = writer.write(raw, output, stem=stem)
    for f in files:
        err_console.print(f"Wrote {f}", soft_wrap=True)


def _human(report: Any, unrecorded: Any) -> dict[str, Any]:
    import pandas as pd

    within = f"Within {report.window_minutes:g} min"
    managers = pd.DataFrame([
        {"Manager": r["manager"], "Inbound": r["inbound"], "Answered": r["answered"], "Missed": r["missed"],
         within: r["called_back_in_time"], "Later": r["called_back_late"], "Never": r["not_called_back"],
         "Recovered": r["recovered"], "Median cb, min": _cell(r["median_callback_minutes"]),
         "P90 cb, min": _cell(r["p90_callback_minutes"]), "Outbound": r["outbound"],
         "Talk, min": _cell(r["talk_minutes"]), "Avg talk, s": _cell(r["avg_talk_seconds"], 0)}
        for r in report.managers.to_dict("records")
    ])
    never = pd.DataFrame([
        {"Client": r["client"], "Manager": r["manager"], "Missed calls": r["missed_calls"],
         "Last missed": _when(r["last_missed_at"]), "First missed": _when(r["first_missed_at"])}
        for r in report.not_called_back.to_dict("records")
    ], columns=["Client", "Manager", "Missed calls", "Last missed", "First missed"])
    out = {"Missed calls per manager": managers, "Never called back": never}
    if len(unrecorded):
        out["Answered calls without a recording"] = pd.DataFrame([
            {"Started": _when(r["started_at"]), "Direction": r["direction"], "Manager": r["manager"],
             "Client": r["client"], "Talk, s": _cell(r["talk_seconds"], 0), "uniqueid": r["uniqueid"] or ""}
            for r in unrecorded.to_dict("records")
        ])
    return {k: v for k, v in out.items() if len(v)}
