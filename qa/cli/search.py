"""``qa search``: every utterance of the workspace that says a word, in any inflection.

Thin: :func:`qa.search.search` answers, :mod:`qa.writers` renders.
"""

from __future__ import annotations

from typing import Annotated

import typer

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
)


@app.command()
@handle_errors
def search(
    query: Annotated[str, typer.Argument(help="Words to find (all of them, any inflection): дорого, 'скидку дам'.")],
    manager: Annotated[str | None, typer.Option("--manager", help="Only this manager's calls.",
                                                show_default=False)] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    role: Annotated[str | None, typer.Option("--role", help="Only what this side said: manager or client.",
                                             show_default=False)] = None,
    script: Annotated[str | None, typer.Option("--script", help="Only calls scored with this script "
                                               "(file or name, e.g. real_estate_inbound).",
                                               show_default=False)] = None,
    min_score: Annotated[float | None, typer.Option("--min-score", help="Only calls scored at least this "
                                                    "(0-100).", show_default=False)] = None,
    max_score: Annotated[float | None, typer.Option("--max-score", help="Only calls scored at most this "
                                                    "(0-100).", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most hits to show (newest calls first).")] = 100,
    fmt: FormatOpt = "table",
    output: OutputDirOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Search what was said across every call: call, manager, moment, role and the quote with
    the match marked. Russian and English words match in any inflection (дорого finds
    дорогая and дороговато).

    Example: qa search дорого --role client --from 2024-05-01
    """
    from ..search import hits_frame
    from ..search import search as run_search
    from ..writers import get_writer

    writer = get_writer(fmt)
    with open_workspace(workspace, create=False) as ws:
        hits = run_search(
            ws, query, manager=manager, date_from=date_from, date_to=date_to, role=role, script=script,
            min_score=min_score, max_score=max_score, limit=limit,
        )
    frame = hits_frame(hits)
    if writer.name in ("table", "md"):
        frame = frame[["call_id", "manager", "day", "at", "role", "quote"]]
    tables = {"hits": frame}
    calls = len({h.call_id for h in hits})
    more = f" (first {limit}; raise --limit for more)" if len(hits) >= limit else ""
    err_console.print(f"{len(hits)} hits in {calls} calls for {query!r}{more}", soft_wrap=True, markup=False)
    if output is None:
        writer.write(tables, None)
        return
    for f in writer.write(tables, output, stem="search"):
        err_console.print(f"Wrote {f}", soft_wrap=True, markup=False)
