"""``qa transcribe``: recordings and transcripts into the workspace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from .common import (
    DeviceOpt,
    ManifestOpt,
    ModelOpt,
    OutputDirOpt,
    VerboseOpt,
    WorkspaceOpt,
    app,
    err_console,
    handle_errors,
    open_workspace,
    progress_bar,
    setup_logging,
)

if TYPE_CHECKING:
    from ..pipeline import BatchResult, ProgressEvent
    from ..transcribe import TranscribeOptions

PathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Recordings (wav, mp3, ogg, opus, m4a, flac) and/or transcripts (json, srt, vtt, txt); "
        "folders are searched recursively.",
        show_default=False,
    ),
]
LanguageOpt = Annotated[
    str, typer.Option("--language", "-l", help="Spoken language code (ru, en, ...) or 'auto' to detect.")
]
ManagerChannelOpt = Annotated[
    str,
    typer.Option(
        "--manager-channel",
        help="Stereo recordings: which channel is the manager's, 'left' or 'right' (a PBX "
        "setting). A manifest column manager_channel overrides it per file.",
    ),
]
TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="File-name template for call metadata, fields {date} {time} {manager} {phone} "
        "{direction} {call_id} {*}. Default: `{date}_{time}_{manager}_{phone}_{direction}`.",
        show_default=False,
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers", "-j", min=0,
        help="Parallel transcription processes; 0 = one per CPU core (fastest on CPU).",
    ),
]
ComputeTypeOpt = Annotated[
    str, typer.Option("--compute-type", help="CTranslate2 compute type: auto (int8 on CPU), int8, float16, float32.")
]
BatchedOpt = Annotated[
    bool, typer.Option("--batched/--no-batched", help="Batched inference (faster on CPU and GPU).")
]

RedactOpt = Annotated[
    bool,
    typer.Option("--redact", help="Replace personal data said in calls (phones, cards, e-mails, passport, "
                 "INN, SNILS, accounts) with [PHONE], [CARD], ... before anything is stored."),
]


def build_options(
    model: str, device: str, compute_type: str, language: str, manager_channel: str, batched: bool
) -> TranscribeOptions:
    from ..errors import QAError
    from ..transcribe import TranscribeOptions

    if manager_channel not in ("left", "right"):
        raise QAError(f"--manager-channel must be 'left' or 'right', got {manager_channel!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise QAError(f"--device must be auto, cpu or cuda, got {device!r}")
    return TranscribeOptions(
        model=model,
        device=device,
        compute_type=compute_type,
        language=None if language in ("", "auto") else language,
        manager_channel=manager_channel,
        batched=batched,
    )


@contextmanager
def intake_progress() -> Iterator[Callable[[ProgressEvent], None]]:
    """Progress on stderr: files done/total, audio hours processed, ETA.

    The bar starts with the first event, when the total number of files is known.
    """
    with ExitStack() as stack:
        advance: Callable[..., None] | None = None

        def on_event(ev: ProgressEvent) -> None:
            nonlocal advance
            if advance is None:
                advance = stack.enter_context(progress_bar("Processing", ev.total))
            advance(1, description=f"{ev.status:<11} {ev.audio_seconds / 3600:5.2f} h audio")

        yield on_event


def print_batch_summary(result: BatchResult) -> None:
    speed = (
        f", {result.audio_seconds / result.wall_seconds:.1f}x real time"
        if result.audio_seconds and result.wall_seconds
        else ""
    )
    err_console.print(
        f"Done in {result.wall_seconds:.1f} s: {len(result.transcribed)} transcribed "
        f"({result.audio_seconds / 60:.1f} min audio{speed}), {len(result.cached)} cached, "
        f"{len(result.imported)} imported, {len(result.failed)} failed."
    )
    for _, reason in result.failed:  # each reason names its file
        err_console.print(f"  [red]failed[/red] {escape(reason)}", soft_wrap=True)
    no_manager = [w for w in result.warnings if "manager" in w]
    for w in result.warnings[:20]:
        err_console.print(f"  [yellow]warning[/yellow] {escape(w)}", soft_wrap=True)
    if len(result.warnings) > 20:
        err_console.print(f"  ... and {len(result.warnings) - 20} more warnings")
    if no_manager:
        err_console.print(
            f"  {len(no_manager)} call(s) have no manager: use --template or --manifest to name them."
        )


@app.command()
@handle_errors
def transcribe(
    paths: PathsArg,
    workspace: WorkspaceOpt = None,
    output: OutputDirOpt = None,
    model: ModelOpt = "embedded",
    device: DeviceOpt = "auto",
    compute_type: ComputeTypeOpt = "auto",
    language: LanguageOpt = "auto",
    manager_channel: ManagerChannelOpt = "left",
    template: TemplateOpt = None,
    manifest: ManifestOpt = None,
    workers: WorkersOpt = 0,
    batched: BatchedOpt = True,
    force: Annotated[bool, typer.Option("--force", help="Transcribe again even if cached.")] = False,
    verbose: VerboseOpt = False,
    redact: RedactOpt = False,
) -> None:
    """Transcribe call recordings (and import transcripts) into the workspace.

    Stereo recordings are split into manager and client by channel; mono ones get role
    'unknown'. Call metadata comes from the file name (--template) and/or a PBX/CRM
    manifest CSV. Finished calls are cached: a second run over the same folder, or a run
    restarted after being killed, only does what is left. With --output DIR, one
    <call_id>.json per call is written too.

    Example: qa transcribe samples/ --manifest samples/manifest.csv -o transcripts/
    """
    from ..pipeline import transcribe_paths

    setup_logging(verbose)
    options = build_options(model, device, compute_type, language, manager_channel, batched)
    with open_workspace(workspace) as ws, intake_progress() as progress:
        result = transcribe_paths(
            paths, ws, options, template=template, manifest=manifest, workers=workers,
            progress=progress, output_dir=output, force=force, redact=redact,
        )
    print_batch_summary(result)
    if result.total and len(result.failed) == result.total:
        raise typer.Exit(1)
