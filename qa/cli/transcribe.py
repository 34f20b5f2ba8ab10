"""``qa transcribe``: recordings and transcripts into the workspace."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape

from ..ui import AUTO, Catalog
from .common import (
    EXIT_SOME_FAILED,
    ComputeType,
    DeviceOpt,
    ManagerChannel,
    ManagersOpt,
    ManifestOpt,
    ModelOpt,
    OutputDirOpt,
    UiOpt,
    VerboseOpt,
    WorkspaceOpt,
    app,
    err_console,
    handle_errors,
    interface,
    open_workspace,
    progress_bar,
    setup_logging,
)

if TYPE_CHECKING:
    from ..pipeline import BatchResult, ProgressEvent
    from ..store import Workspace
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
    str,
    typer.Option(
        "--language", "-l",
        help="Spoken language code (ru, en, ...), several to detect among them (ru,en), or 'auto'. "
        "A call detected with low probability or outside the list is flagged 'needs review'.",
    ),
]
ManagerChannelOpt = Annotated[
    ManagerChannel,
    typer.Option(
        "--manager-channel", case_sensitive=False,
        help="Stereo recordings: which channel is the manager's, 'left' or 'right' (a PBX "
        "setting). A manifest column manager_channel overrides it per file.",
    ),
]
TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="File names of your PBX: a preset (default, asterisk) or a template with fields "
        "{date} {time} {manager} {extension} {phone} {direction} {call_id} {*}. Default: every "
        "preset is tried, e.g. `2026-11-21_10-32-15_ivanov_79161234567_out.mp3` or Asterisk/FreePBX "
        "`in-79161234567-101-20261124-093015-1700000001.101.wav`.",
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
    ComputeType,
    typer.Option(
        "--compute-type", case_sensitive=False,
        help="CTranslate2 compute type: auto (int8 on CPU, float16 on GPU), int8, float16, float32, ...",
    ),
]
VadThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--vad-threshold", min=0.01, max=0.99,
        help="Voice activity threshold (Silero speech probability). Default: 0.5, or 0.35 for "
        "8 kHz telephone recordings. Lower finds quieter speech.",
        show_default=False,
    ),
]
VadOpt = Annotated[
    bool,
    typer.Option("--vad/--no-vad", help="Recognise only detected speech (faster); --no-vad: every channel whole."),
]
BatchedOpt = Annotated[
    bool, typer.Option("--batched/--no-batched", help="Batched inference (faster on CPU and GPU).")
]

EngineOpt = Annotated[
    Literal["local", "ray"],
    typer.Option(
        "--engine", case_sensitive=False,
        help="Where the batch runs: 'local' (this machine, --workers processes) or 'ray' (a Ray "
        "cluster: --ray-address, else a Ray runtime started on this machine for the run; needs "
        "pip install 'call-qa[cluster]'). This machine saves every result either way. "
        "E.g. --engine ray --ray-address auto. See docs/scaling.md.",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="With --engine ray: the cluster to join, 'auto' (the one started on this machine "
        "with `ray start`) or the head node's HOST:PORT. Default: a Ray runtime for this run "
        "alone, shut down at its end.",
        show_default=False,
    ),
]

RedactOpt = Annotated[
    bool,
    typer.Option("--redact", help="Replace personal data said in calls (phones, cards, e-mails, passport, "
                 "INN, SNILS, accounts) with [PHONE], [CARD], ... before anything is stored."),
]


def build_options(
    model: str, device: str, compute_type: str, language: str, manager_channel: str, batched: bool,
    vad: bool = True, vad_threshold: float | None = None,
) -> TranscribeOptions:
    from ..errors import QAError
    from ..transcribe import TranscribeOptions

    if manager_channel not in ("left", "right"):
        raise QAError(f"--manager-channel must be 'left' or 'right', got {manager_channel!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise QAError(f"--device must be auto, cpu or cuda, got {device!r}")
    codes = tuple(c.strip().lower() for c in language.split(",") if c.strip() and c.strip() != "auto")
    try:
        return TranscribeOptions(
            model=model,
            device=device,
            compute_type=compute_type,
            # one code: that language; several (ru,en): detected among them
            language=codes[0] if len(codes) == 1 else None,
            languages=codes if len(codes) > 1 else (),
            manager_channel=manager_channel,
            batched=batched,
            vad=vad,
            vad_threshold=vad_threshold,
        )
    except ValueError as e:
        raise QAError(f"{e}; see qa transcribe --help") from e


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


def print_batch_summary(result: BatchResult, t: Catalog | None = None) -> None:
    """What a transcription run did, on stderr, in the interface language ``t`` (English
    when not given): counts, speed, calls to review, failures and warnings. Reasons of
    failures and warnings are the library's messages and stay as they are."""
    t = t or Catalog()
    speed = (
        t("cli_speed", speed=f"{result.audio_seconds / result.wall_seconds:.1f}")
        if result.audio_seconds and result.wall_seconds
        else ""
    )
    review = {path: [_review_label(label, t) for label in labels]
              for path, labels in getattr(result, "review", {}).items()}
    clean = [p for p in result.transcribed if p not in review]
    cached = [p for p in result.cached if p not in review]
    reasons: dict[str, int] = {}
    for labels in review.values():
        for label in labels:
            reasons[label] = reasons.get(label, 0) + 1
    need_review = (
        t("cli_need_review", count=len(review), reasons=", ".join(f"{k}: {n}" for k, n in sorted(reasons.items())))
        if review else ""
    )
    err_console.print(escape(t(
        "cli_done", seconds=f"{result.wall_seconds:.1f}", transcribed=len(clean),
        minutes=f"{result.audio_seconds / 60:.1f}", speed=speed, review=need_review, cached=len(cached),
        imported=len(result.imported), failed=len(result.failed),
    )), soft_wrap=True)
    for path, labels in sorted(review.items()):
        err_console.print(f"  [yellow]{escape(t('cli_review'))}[/yellow] {escape(path)}: {escape(', '.join(labels))}",
                          soft_wrap=True)
    for _, reason in result.failed:  # each reason names its file
        err_console.print(f"  [red]{escape(t('cli_failed'))}[/red] {escape(reason)}", soft_wrap=True)
    no_manager = [w for w in result.warnings if "manager" in w]
    for w in result.warnings[:20]:
        err_console.print(f"  [yellow]{escape(t('cli_warning'))}[/yellow] {escape(w)}", soft_wrap=True)
    if len(result.warnings) > 20:
        err_console.print(escape("  " + t("cli_more_warnings", count=len(result.warnings) - 20)))
    if no_manager:
        err_console.print(escape("  " + t("cli_calls_without_manager", count=len(no_manager))), soft_wrap=True)


def _review_label(label: str, t: Catalog) -> str:
    """A review reason of :func:`qa.transcribe.review_labels` ("speech lost") in words."""
    return t.word("review", label.replace(" ", "_"))


def batch_languages(ws: Workspace, call_ids: Sequence[str]) -> list[str]:
    """The recognised (or imported) language of each call of a batch, for ``--ui auto``."""
    out: list[str] = []
    for i in range(0, len(call_ids), 500):
        chunk = list(call_ids[i:i + 500])
        rows = ws.query(f"SELECT language FROM calls WHERE call_id IN ({','.join('?' * len(chunk))})", chunk)
        out.extend(str(r[0]) for r in rows if r[0])
    return out


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
    vad: VadOpt = True,
    vad_threshold: VadThresholdOpt = None,
    managers: ManagersOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Transcribe again even if cached.")] = False,
    verbose: VerboseOpt = False,
    redact: RedactOpt = False,
    ui: UiOpt = "en",
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Transcribe call recordings (and import transcripts) into the workspace.

    Stereo recordings are split into manager and client by channel; mono ones by voice
    (role 'unknown' when that is not clear). Call metadata comes from the file name (PBX
    names such as Asterisk's are recognised; --template for others), --managers to name
    extensions, and/or a PBX/CRM manifest CSV. Calls that lost speech, were cut short or
    need review (language unclear, hallucinations) are counted apart. Finished calls are cached: a second run over the same folder, or a run
    restarted after being killed, only does what is left. With --output DIR, one
    <call_id>.json per call is written too.

    Exit status: 0 every file done; 1 some files failed (the rest are saved; run again to
    retry them); 2 usage or configuration error (nothing was done).

    Example: qa transcribe samples/ --manifest samples/manifest.csv -o transcripts/
    """
    from ..engines import check_engine
    from ..metadata import name_parser
    from ..pipeline import transcribe_paths

    setup_logging(verbose)
    interface(ui)  # an unknown --ui fails here, before any work
    options = build_options(model, device, compute_type, language, manager_channel, batched, vad, vad_threshold)
    name_parser(template)  # an unknown preset fails here, once, not per file
    check_engine(engine, ray_address)  # Ray missing: one line, before anything is done
    with open_workspace(workspace) as ws, intake_progress() as progress:
        result = transcribe_paths(
            paths, ws, options, template=template, manifest=manifest, workers=workers,
            progress=progress, output_dir=output, force=force, managers=managers, redact=redact,
            engine=engine, ray_address=ray_address,
        )
        t = interface(ui, batch_languages(ws, result.call_ids) if ui.strip().lower() == AUTO else ())
    print_batch_summary(result, t)
    if result.failed:
        raise typer.Exit(EXIT_SOME_FAILED)
