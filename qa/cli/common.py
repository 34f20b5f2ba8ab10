"""Shared CLI pieces: the app, options defined once, error handling, progress."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import QAError
from ..store import Workspace
from ..store import open_workspace as _open_workspace

app = typer.Typer(
    name="qa",
    help=(
        "Offline call quality assurance for sales teams: transcribe recordings, score them "
        "against sales scripts and objection rubrics, coach managers, mine the best calls.\n\n"
        "Example: qa score samples/ --script scripts_library/real_estate_inbound.en.yaml "
        "--rubric rubrics/objections.en.yaml\n\n"
        "Exit status: 0 everything done; 1 some files failed (the rest are saved) or the "
        "command failed; 2 usage or configuration error (nothing was done)."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Progress, logs and summaries go to stderr; data goes to stdout or --output.
err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


# Enumerated options are Literal types: typer rejects a value not listed with a usage error
# (exit 2) naming the choices.
#: The output formats of qa.writers.WRITERS (tests/test_cli_common.py checks they agree).
Format = Literal["table", "md", "csv", "json", "xlsx", "parquet"]
Device = Literal["auto", "cpu", "cuda"]
#: CTranslate2's compute types, and auto.
ComputeType = Literal[
    "auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
    "float16", "bfloat16", "float32",
]
ManagerChannel = Literal["left", "right"]

#: Exit status when some files failed and the rest were saved.
EXIT_SOME_FAILED = 1
#: Exit status of a usage or configuration error.
EXIT_USAGE = 2

# ---- options defined once --------------------------------------------------------------
# Text, not a Path: a postgresql:// URL must reach the store as typed (Path folds its //).
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace: a folder (embedded SQLite database of calls, transcripts, scores) or "
        "a shared PostgreSQL database, postgresql://user:pass@host:5432/db (needs "
        "pip install 'call-qa[cluster]'). Default: $QA_WORKSPACE, else ./qa_workspace.",
        show_default=False,
    ),
]
OutputDirOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Folder to write result files into.", show_default=False),
]
FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format", "-f", case_sensitive=False,
        help="Output format: table, csv, json, md, xlsx, parquet (per command).",
    ),
]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Speech model: 'embedded' (bundled multilingual Whisper base), a faster-whisper "
        "size name (tiny, base, small, medium, large-v3; needs internet once) or a local "
        "CTranslate2 model folder.",
    ),
]
DeviceOpt = Annotated[
    Device,
    typer.Option(
        "--device", case_sensitive=False,
        help="Where to run the speech model: auto, cpu or cuda.",
    ),
]
ManifestOpt = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        help="CSV exported from the PBX/CRM with one row per call "
        "(file, call_id, manager, started_at, direction, outcome, ...).",
        show_default=False,
    ),
]
ManagersOpt = Annotated[
    Path | None,
    typer.Option(
        "--managers",
        help="CSV mapping PBX extensions to manager names (extension;manager per line), so "
        "'101' in a file name or manifest becomes 'Анна Смирнова'.",
        show_default=False,
    ),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs on stderr.")]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="First day of the period, YYYY-MM-DD (inclusive). Default: the first scored call.",
        show_default=False,
    ),
]
ToOpt = Annotated[
    str | None,
    typer.Option(
        "--to",
        help="Last day of the period, YYYY-MM-DD (inclusive). Default: the last scored call.",
        show_default=False,
    ),
]


def open_workspace(spec: str | Path | None, *, create: bool = True) -> Workspace:
    """The workspace of ``--workspace`` (a folder or a ``postgresql://`` URL), else of
    ``$QA_WORKSPACE``, else ``./qa_workspace``."""
    return _open_workspace(spec, create=create)


def setup_logging(verbose: bool = False) -> None:
    # Without --verbose, library warnings are not repeated: the command's summary lists them.
    level = logging.DEBUG if verbose else logging.ERROR
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def fail(message: str, code: int = 1) -> None:
    """Print ``Error: message`` on stderr and exit."""
    err_console.print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn library errors into one line on stderr and the error's exit status (1, or 2 for
    usage and configuration errors)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QAError as e:
            fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            err_console.print("Interrupted; finished calls are saved. Run the same command to resume.")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def progress_enabled() -> bool:
    """Progress bars on an interactive stderr, unless QA_NO_PROGRESS is set."""
    return not os.environ.get("QA_NO_PROGRESS")


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``advance(n=1, description=None)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if not progress_enabled():
        yield lambda *a, **k: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: float = 1, description: str | None = None) -> None:
            if description is not None:
                progress.update(task, advance=n, description=description)
            else:
                progress.advance(task, n)

        yield advance


def main() -> None:
    app()
