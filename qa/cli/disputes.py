"""``qa dispute``: a supervisor overturns one item of one call (or imports a workbook's)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import WorkspaceOpt, app, err_console, fail, handle_errors, open_workspace


@app.command("dispute")
@handle_errors
def dispute_cmd(
    call_id: Annotated[str | None, typer.Argument(help="The call, as in the report.", show_default=False)] = None,
    item_id: Annotated[str | None, typer.Argument(help="The item: a stage id, an objection id, "
                                                  "or objection.step.", show_default=False)] = None,
    status: Annotated[str | None, typer.Option("--status", help="found|missed (stages, steps, "
                                               "forbidden) or handled|unhandled (objections).",
                                               show_default=False)] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why.", show_default=False)] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the OS user).",
                                           show_default=False)] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="stage, objection, step or forbidden, "
                                             "when the item id is ambiguous.", show_default=False)] = None,
    import_file: Annotated[Path | None, typer.Option("--import", help="Re-import a workbook from "
                                                     "'qa score -f xlsx' whose items sheet has changed "
                                                     "statuses.", show_default=False)] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Overturn the tool's verdict on one item of one call; the override keeps who, when and why, survives rescoring, shows in the call page, scorecard and coaching, and counts as a human grade for qa calibrate.

    Example: qa dispute CALL_ID greeting --status found --note "said in other words"
    """
    from .. import disputes as dp

    if import_file is not None:
        if call_id or item_id or status:
            fail("--import takes no CALL_ID, ITEM_ID or --status", code=2)
        with open_workspace(workspace, create=False) as ws:
            res = dp.import_workbook(ws, import_file, by=by)
        for line, why in res.skipped:
            err_console.print(f"skipped {import_file}:{line}: {why}", markup=False, soft_wrap=True)
        typer.echo(f"{len(res.stored)} override(s) stored, {res.unchanged} row(s) as the tool had them, "
                   f"{len(res.skipped)} skipped")
        return
    if not call_id or not item_id or not status:
        fail("give CALL_ID ITEM_ID --status STATUS, or --import FILE.xlsx", code=2)
    assert call_id and item_id and status
    if status.strip().lower() not in dp.STATUSES:
        fail(f"--status {status!r}: choose one of {', '.join(dp.STATUSES)}", code=2)
    if kind is not None and kind not in dp.STATUSES_BY_KIND:
        fail(f"--kind {kind!r}: choose one of {', '.join(dp.STATUSES_BY_KIND)}", code=2)
    with open_workspace(workspace, create=False) as ws:
        d = dp.dispute(ws, call_id, item_id, status, note=note, by=by, kind=kind)
    was = "agrees with the tool" if d.agrees else f"overturns the tool's {d.tool_status!r}"
    typer.echo(f"{d.call_id} {d.kind} {d.item_id}: {d.status} by {d.by} ({was}; kept across rescoring)")
