"""``qa report`` (static HTML site + Excel) and ``qa serve`` (the same pages on localhost)."""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from ..ui import ENV as UI_ENV
from .common import (
    FromOpt,
    OutputDirOpt,
    ToOpt,
    VerboseOpt,
    WorkspaceOpt,
    app,
    err_console,
    fail,
    handle_errors,
    interface,
    open_workspace,
    out_console,
    progress_bar,
    setup_logging,
)

DayOpt = Annotated[
    str | None,
    typer.Option("--day", "-d", help="One day of calls, YYYY-MM-DD.", show_default=False),
]
ManagerOpt = Annotated[
    str | None,
    typer.Option(
        "--manager",
        help="Only this manager's calls and page (compared with the whole team of the period).",
        show_default=False,
    ),
]
AudioOpt = Annotated[
    Literal["copy", "link", "none"],
    typer.Option(
        "--audio", case_sensitive=False,
        help="Recordings in the site: copy (self-contained folder), link (symbolic links, "
        "no extra disk, this machine only) or none.",
    ),
]
LowScoreOpt = Annotated[
    float,
    typer.Option("--low-score", help="Calls scoring below this (0-100) are listed for review."),
]
#: ``--ui`` of the report (see common.UiOpt); ``--lang`` is its older name. Default ``auto``:
#: the pages are in the language most of the period's calls are in; the summary line on
#: stderr follows an explicit language only (a log reads the same whatever the calls).
ReportUiOpt = Annotated[
    str,
    typer.Option(
        "--ui", "--lang",
        envvar=UI_ENV,
        help="Interface language of the pages, the workbook's headers and this command's "
        "summary: en, ru (one per file in qa/data/ui/) or auto (pages in the language most of "
        "the calls are in, the summary in English). Also $QA_UI or 'ui' in qa.toml.",
    ),
]
ExcelOpt = Annotated[
    bool,
    typer.Option("--excel/--no-excel", help="Also write report.xlsx (one sheet per table)."),
]


def _build(
    workspace: str | None,
    output: Path,
    day: str | None,
    date_from: str | None,
    date_to: str | None,
    manager: str | None,
    audio: str,
    low_score: float,
    ui: str,
    excel: bool,
):  # type: ignore[no-untyped-def]
    from ..reports import ReportOptions, build_site

    options = ReportOptions(low_score=low_score, lang=ui, excel=excel)
    with open_workspace(workspace, create=False) as ws, ExitStack() as stack:
        bar: list[Callable[..., None]] = []

        def on_page(done: int, total: int, page: str) -> None:
            # The bar starts with the first page, once the period is known to have calls.
            if not bar:
                bar.append(stack.enter_context(progress_bar("Writing pages", total)))
            bar[0](1)

        result = build_site(
            ws, output, day=day, date_from=date_from, date_to=date_to, manager=manager,
            audio=audio, options=options, progress=on_page,
        )
    if result.missing_audio:
        shown = ", ".join(result.missing_audio[:5]) + (" ..." if len(result.missing_audio) > 5 else "")
        t = interface(ui)
        err_console.print(escape(t("cli_report_missing_audio", count=len(result.missing_audio), calls=shown)),
                          soft_wrap=True)
    return result


@app.command()
@handle_errors
def report(
    output: OutputDirOpt = None,
    day: DayOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    manager: ManagerOpt = None,
    workspace: WorkspaceOpt = None,
    audio: AudioOpt = "copy",
    low_score: LowScoreOpt = 50.0,
    ui: ReportUiOpt = "auto",
    excel: ExcelOpt = True,
    verbose: VerboseOpt = False,
) -> None:
    """Write the HTML report of a day or period: a folder that opens from the file system.

    index.html shows the period: score distribution, managers, most-missed stages and the
    calls to review (critical failures, audio problems, low scores). Each manager has a
    page (score trend, stages against the team, objection handling, coaching plan), and
    each call a page with the conversation, the evidence of every stage and the
    recording: clicking a time stamp plays it from there. report.xlsx holds the same
    tables, one sheet each. Without --day/--from/--to every call in the workspace is in.

    Example: qa report --day 2026-11-21 -o report/
    """
    setup_logging(verbose)
    if output is None:
        fail("add --output DIR: the folder to write the report into", code=2)
        return
    result = _build(workspace, output, day, date_from, date_to, manager, audio, low_score, ui, excel)
    t = interface(ui)
    err_console.print(escape(t(
        "cli_report_wrote", pages=len(result.pages), calls=result.calls, managers=len(result.managers),
        recordings=result.audio_files,
        converted=t("cli_report_converted", count=result.converted) if result.converted else "",
        folder=result.out_dir, excel=t("cli_report_excel", name=result.excel.name) if result.excel else "",
    )), soft_wrap=True)
    out_console.print(str(result.index), soft_wrap=True)


@app.command()
@handle_errors
def serve(
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on (0 picks a free one).")] = 8000,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on; 0.0.0.0 lets others on the network in."),
    ] = "127.0.0.1",
    output: OutputDirOpt = None,
    day: DayOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    manager: ManagerOpt = None,
    workspace: WorkspaceOpt = None,
    audio: AudioOpt = "link",
    low_score: LowScoreOpt = 50.0,
    ui: ReportUiOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Build the report and serve it on this machine until Ctrl+C.

    The same pages as 'qa report', for a team sharing one machine: open the printed
    address in a browser. Seeking in recordings works (the server answers HTTP Range
    requests). Without --output the pages go to a temporary folder removed at exit.

    Example: qa serve --day 2026-11-21 --port 8000
    """
    from ..reports import make_server

    setup_logging(verbose)
    temp = None
    if output is None:
        temp = Path(tempfile.mkdtemp(prefix="qa-report-"))
        output = temp
    try:
        _build(workspace, output, day, date_from, date_to, manager, audio, low_score, ui, True)
        t = interface(ui)
        from ..store import default_workspace

        server = make_server(output, host, port, workspace=workspace or default_workspace())  # + /api/search
        url = f"http://{host}:{server.server_address[1]}/"
        err_console.print(escape(t("cli_serving", folder=output, url=url)), soft_wrap=True)
        out_console.print(url)
        # A service manager stops us with SIGTERM: treat it as Ctrl+C, so the temporary
        # folder is removed either way.
        previous = _on_sigterm(_interrupt)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            err_console.print(escape(t("cli_stopped")))
        finally:
            server.server_close()
            _on_sigterm(previous)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _on_sigterm(handler: Any) -> Any:
    """Install ``handler`` for SIGTERM (main thread only); returns the previous one."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if handler is None:
        return None
    return signal.signal(signal.SIGTERM, handler)
