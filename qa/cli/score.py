"""``qa score``: transcribe what is not cached, score against a script and rubric, write tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .common import (
    EXIT_SOME_FAILED,
    DeviceOpt,
    Format,
    ManagersOpt,
    ManifestOpt,
    ModelOpt,
    OutputDirOpt,
    VerboseOpt,
    WorkspaceOpt,
    app,
    err_console,
    handle_errors,
    open_workspace,
    out_console,
    setup_logging,
)
from .transcribe import (
    BatchedOpt,
    ComputeTypeOpt,
    EngineOpt,
    LanguageOpt,
    ManagerChannelOpt,
    PathsArg,
    RayAddressOpt,
    RedactOpt,
    TemplateOpt,
    WorkersOpt,
    build_options,
    intake_progress,
    print_batch_summary,
)

ScriptOpt = Annotated[
    list[Path],
    typer.Option(
        "--script", "-s",
        help="Sales script YAML (see scripts_library/). Repeat for several languages: each "
        "call is scored with the script in its language.",
        show_default=False,
    ),
]
RubricOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--rubric", "-r",
        help="Objection-handling rubric YAML (see rubrics/); repeatable like --script.",
        show_default=False,
    ),
]
ScoreFormatOpt = Annotated[
    Format,
    typer.Option(
        "--format", "-f", case_sensitive=False,
        help="Format of the tables written to --output: csv or parquet (calls.csv, items.csv), "
        "xlsx or json (scores.xlsx / scores.json with both tables).",
    ),
]


@app.command()
@handle_errors
def score(
    paths: PathsArg,
    script: ScriptOpt,
    rubric: RubricOpt = None,
    workspace: WorkspaceOpt = None,
    output: OutputDirOpt = None,
    fmt: ScoreFormatOpt = "csv",
    manifest: ManifestOpt = None,
    template: TemplateOpt = None,
    managers: ManagersOpt = None,
    model: ModelOpt = "embedded",
    device: DeviceOpt = "auto",
    compute_type: ComputeTypeOpt = "auto",
    language: LanguageOpt = "auto",
    manager_channel: ManagerChannelOpt = "left",
    workers: WorkersOpt = 0,
    batched: BatchedOpt = True,
    meaning: Annotated[bool | None, typer.Option(
        "--meaning/--no-meaning",
        help="Also find items said in other words (the meaning layer; default: on when "
        "call-qa[meaning] is installed).", show_default=False)] = None,
    verbose: VerboseOpt = False,
    redact: RedactOpt = False,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Score calls against a sales script and an objection rubric, with evidence.

    PATH holds recordings and/or transcripts; recordings not yet in the cache are
    transcribed first. Every stage is found, missed or not applicable, with the quote,
    timestamp and similarity that prove it. Results are stored in the workspace under the
    script's and rubric's content hash (rescoring with an edited script never
    re-transcribes) and, with --output, written as two tables: calls (one row per call)
    and items (one row per call and checked item).

    Exit status: 0 every file scored; 1 some files failed (the rest are scored and saved;
    run again to retry them) or no call was scored; 2 usage or configuration error (an
    invalid script or rubric, a bad option: nothing was done).

    Example: qa score samples/ -s scripts_library/real_estate_inbound.en.yaml -r rubrics/objections.en.yaml -o out/
    """
    from ..engines import check_engine
    from ..pipeline import score_paths
    from ..scripts import load_rubric, load_script
    from ..writers import get_writer

    setup_logging(verbose)
    check_engine(engine, ray_address)  # Ray missing: one line, before anything is done
    script_objs = [load_script(p) for p in script]
    rubric_objs = [load_rubric(p) for p in rubric or []]
    writer = get_writer(fmt) if output is not None else None
    options = build_options(model, device, compute_type, language, manager_channel, batched)
    from ..meaning import MeaningOptions, available

    layer = MeaningOptions() if (available() if meaning is None else meaning) else None
    with open_workspace(workspace) as ws, intake_progress() as progress:
        result = score_paths(
            paths, ws, script_objs, rubric_objs or None, options, template=template, manifest=manifest,
            managers=managers, workers=workers, progress=progress, meaning=layer, redact=redact,
            engine=engine, ray_address=ray_address,
        )
    err_console.print(f"meaning layer: {layer.encoder if layer else 'off'}")
    print_batch_summary(result.batch)
    if writer is not None and output is not None:
        # one file per table: calls.csv + items.csv; else one scores.<ext> holding both tables
        stem = "" if writer.per_table else "scores"
        files = writer.write({"calls": result.calls, "items": result.items}, output, stem=stem)
        for f in files:
            err_console.print(f"Wrote {f}")
    print_score_summary(result.calls, result.items)
    if result.batch.failed or not len(result.calls):
        raise typer.Exit(EXIT_SOME_FAILED)


def print_score_summary(calls, items) -> None:  # type: ignore[no-untyped-def]
    """Calls, mean score, worst calls, most-missed stages — on stdout."""
    from ..scoring import batch_summary

    summary = batch_summary(calls, items)
    if summary is None:
        err_console.print("No calls were scored.")
        return
    out_console.print(
        f"Scored {summary.calls} calls: mean score {summary.mean:.1f}, "
        f"median {summary.median:.1f}, critical failures {summary.critical}."
    )
    if summary.worst:
        out_console.print("Worst calls:")
    for score, call_id, manager, critical_reason in summary.worst:
        reason = f" — {critical_reason}" if critical_reason else ""
        out_console.print(escape(f"  {score:5.1f}  {call_id} ({manager or 'no manager'}){reason}"))
    if summary.most_missed:
        out_console.print("Most-missed stages:")
    for item_id, title, missed, applicable in summary.most_missed:
        out_console.print(
            escape(f"  {item_id:<16} missed in {missed} of {applicable} calls"
                   + (f" ({title})" if title and title != item_id else ""))
        )
