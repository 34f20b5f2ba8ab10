"""The trainer's commands: ``qa mine``, ``qa suggest`` and ``qa clips``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from .common import (
    FormatOpt,
    FromOpt,
    OutputDirOpt,
    ToOpt,
    VerboseOpt,
    WorkspaceOpt,
    app,
    err_console,
    handle_errors,
    open_workspace,
    progress_bar,
    setup_logging,
)

StageOpt = Annotated[
    str | None,
    typer.Option("--stage", help="Only this stage of the script (its id).", show_default=False),
]
ObjectionOpt = Annotated[
    str | None,
    typer.Option("--objection", help="Only this objection of the rubric (its id).", show_default=False),
]
TopOpt = Annotated[
    str,
    typer.Option(
        "--top",
        help="Share of calls in the best (and in the worst) cohort with --by score: 25%, 0.25. "
        "Only the best are sources.",
    ),
]
MinCallsOpt = Annotated[
    int,
    typer.Option(
        "--min-calls", min=1,
        help="A phrase must be said in at least this many source calls (fewer source calls: "
        "too few to mine).",
    ),
]
MinLiftOpt = Annotated[
    float,
    typer.Option(
        "--min-lift", min=0.0,
        help="...and be at least this many times as common in the source calls as in the worst.",
    ),
]
MinClientsOpt = Annotated[
    int,
    typer.Option("--min-clients", min=1, help="A new objection must be raised by this many distinct clients."),
]
MinManagersOpt = Annotated[
    int,
    typer.Option(
        "--min-managers", min=1,
        help="A manager's phrase must be said by this many distinct managers (one manager's name "
        "or habit is not a lesson).",
    ),
]
ByOpt = Annotated[
    Literal["score", "outcome"],
    typer.Option(
        "--by", case_sensitive=False,
        help="How the best calls are chosen: score (top share by score) or outcome (won deals "
        "vs lost deals, from the manifest). Calls with a critical failure or a forbidden "
        "phrase are never sources.",
    ),
]
ScriptOpt = Annotated[
    Path | None,
    typer.Option(
        "--script", "-s",
        help="Read the calls scored with this script file (default: the latest scored; with "
        "a script per language, the one with most calls).",
        show_default=False,
    ),
]


def _notes(notes: list[str]) -> None:
    for note in notes:
        err_console.print(f"Note: {note}", markup=False, highlight=False, soft_wrap=True)


def _options(min_calls: int, min_lift: float, min_clients: int, min_managers: int) -> Any:
    from ..mining import MiningOptions

    return MiningOptions(min_calls=min_calls, min_lift=min_lift, min_clients=min_clients,
                         min_managers=min_managers)


def _too_few(result: Any) -> bool:
    """Say so when there were too few calls to mine (not an error: exit 0)."""
    if result.too_few is None:
        return False
    message = result.too_few.message
    err_console.print(message[0].upper() + message[1:] + ".", markup=False, highlight=False, soft_wrap=True)
    _notes(result.notes)
    return True


@app.command("mine")
@handle_errors
def mine_command(
    stage: StageOpt = None,
    objection: ObjectionOpt = None,
    top: TopOpt = "25%",
    by: ByOpt = "score",
    min_calls: MinCallsOpt = 3,
    min_lift: MinLiftOpt = 2.0,
    min_clients: MinClientsOpt = 3,
    min_managers: MinManagersOpt = 2,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    script: ScriptOpt = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = "table",
    output: OutputDirOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """What the best calls say at each stage and in answer to each objection.

    Takes the calls scored last (the latest script and rubric version) and compares the
    best calls, the sources (the top quartile by score, --top; or won deals with --by
    outcome; never a call with a critical failure or a forbidden phrase), with the worst.
    From the manager's speech at each stage and right after each objection it lists the
    phrases the source calls use (said in at least --min-calls of them by --min-managers
    managers, --min-lift times as often as in the worst calls), near-duplicate wordings
    grouped under one
    representative, with an example (call, timestamp, quote). Without --stage/--objection
    it also shows the gaps in the script: recurring client wording no rubric trigger
    covers, raised by --min-clients distinct clients (candidate objections, with the
    source calls' answers), and frequent wording of the source calls that matches no
    stage. Tables: phrases, examples, uncovered_objections, unmatched_wording. With too
    few calls it says how many it needs (exit 0).

    Example: qa mine --stage needs --min-calls 2
    """
    from ..mining import mine
    from ..writers import get_writer

    setup_logging(verbose)
    writer = get_writer(fmt)
    with open_workspace(workspace, create=False) as ws, progress_bar("Reading calls", None) as advance:
        result = mine(
            ws, stage=stage, objection=objection, top=top, by=by, date_from=date_from,
            date_to=date_to, script=script, progress=lambda done, total: advance(1),
            options=_options(min_calls, min_lift, min_clients, min_managers),
        )
    if _too_few(result):
        return
    err_console.print(f"Mined {result.cohorts.description}.", markup=False, highlight=False, soft_wrap=True)
    # The terminal gets a compact ranking; files and other formats get every column and
    # every example.
    tables = _terminal_view(result) if fmt == "table" and output is None else result.tables()
    files = writer.write(tables, output, stem="mine")
    for f in files:
        err_console.print(f"Wrote {f}", markup=False, highlight=False, soft_wrap=True)
    if not result.phrases and not result.uncovered and not result.unmatched:
        err_console.print(
            f"No phrase stands out in the best calls (said in >= {min_calls} of them with lift >= "
            f"{min_lift:g}; try --by outcome or a lower --min-calls).", soft_wrap=True,
        )
    _notes(result.notes)


def _also(variants: tuple[str, ...], shown: int = 2) -> str:
    more = len(variants) - shown
    return "; ".join(variants[:shown]) + (f" (+{more})" if more > 0 else "")


def _short(text: str | None, width: int = 70) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _terminal_view(result: Any) -> dict[str, Any]:
    import pandas as pd

    def example(ex: Any) -> str:
        return f"{ex[0].call_id} {ex[0].at}" if ex else ""

    tables: dict[str, Any] = {}
    if result.phrases:
        tables["phrases"] = pd.DataFrame(
            [{"item": g.item_id if g.kind == "stage" else f"{g.kind} {g.item_id}", "phrase": g.phrase,
              "also": _also(g.variants), "best": f"{g.best_calls}/{g.best_total}",
              "worst": f"{g.worst_calls}/{g.worst_total}", "lift": round(g.lift, 1),
              "example": example(g.examples), "quote": _short(g.examples[0].quote if g.examples else "")}
             for g in result.phrases],
        )
    if result.uncovered:
        tables["uncovered_objections"] = pd.DataFrame(
            [{"candidate": c.id, "trigger": c.trigger, "also": _also(c.variants),
              "bad": f"{c.bad_calls}/{c.bad_total}", "good": f"{c.good_calls}/{c.good_total}",
              "lift": round(c.lift, 1), "example": example(c.examples),
              "best answer": _short(c.answers[0].quote if c.answers else "")}
             for c in result.uncovered]
        )
    if result.unmatched:
        tables["unmatched_wording"] = pd.DataFrame(
            [{"phrase": g.phrase, "also": _also(g.variants), "best": f"{g.best_calls}/{g.best_total}",
              "worst": f"{g.worst_calls}/{g.worst_total}", "lift": round(g.lift, 1),
              "example": example(g.examples)}
             for g in result.unmatched]
        )
    return tables


@app.command("suggest")
@handle_errors
def suggest_command(
    script: Annotated[Path, typer.Option("--script", "-s", help="Sales script YAML to update; the calls scored with it are mined.",
                                           show_default=False)],
    rubric: Annotated[
        Path | None,
        typer.Option("--rubric", "-r", help="Objection rubric YAML to update with candidate objections.",
                     show_default=False),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Write the proposed files and show the effect.")] = False,
    effect: Annotated[
        bool, typer.Option("--effect", help="Show the effect (items found before/after) without writing.")
    ] = False,
    top: TopOpt = "25%",
    by: ByOpt = "score",
    min_calls: MinCallsOpt = 3,
    min_lift: MinLiftOpt = 2.0,
    min_clients: MinClientsOpt = 3,
    min_managers: MinManagersOpt = 2,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    workspace: WorkspaceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Propose script updates from the best calls, as a reviewable unified diff.

    Mines the workspace like 'qa mine' (the same sources and thresholds: the top quartile
    or won deals, never a call with a critical failure or a forbidden phrase) and proposes
    new phrase variants per stage and candidate new objections (raised by --min-clients
    distinct clients; triggers, and the wording the source calls' answers share) for the
    YAML files, each with a comment saying why. With too few calls it says how many it
    needs and proposes nothing (exit 0). Only lines are added: the files' comments and layout
    stay as they are. The diff goes to stdout ('patch -p0' applies it). With --apply the
    files are written; --apply and --effect rescore the stored transcripts with the old
    and the new files in memory (nothing is re-transcribed or saved) and show the items
    found before and after per stage and objection.

    Example: qa suggest --script scripts_library/real_estate_inbound.en.yaml --rubric rubrics/objections.en.yaml --apply
    """
    from ..mining import mine
    from ..suggest import SuggestOptions, suggest
    from ..writers import get_writer

    setup_logging(verbose)
    with open_workspace(workspace, create=False) as ws:
        with progress_bar("Reading calls", None) as advance:
            mined = mine(ws, top=top, by=by, date_from=date_from, date_to=date_to, script=script,
                         progress=lambda done, total: advance(1),
                         options=_options(min_calls, min_lift, min_clients, min_managers))
        if _too_few(mined):
            return
        proposal = suggest(script, rubric, mined, SuggestOptions(min_lift=min_lift, min_calls=min_calls))
        _notes(proposal.notes)
        if not proposal.changed:
            err_console.print("No change proposed.")
            return
        sys.stdout.write(proposal.diff)
        sys.stdout.flush()
        if apply:
            for f in proposal.apply():
                err_console.print(f"Wrote {f}", markup=False, highlight=False, soft_wrap=True)
        if not (apply or effect):
            err_console.print("Review the diff; --apply writes it.")
            return
        ids = sorted(ws.scored_call_ids(mined.script_hash, mined.rubric_hash))
        with progress_bar("Rescoring", len(ids)) as advance:
            table = proposal.effect(ws, ids, progress=lambda done, total: advance(1))
    err_console.print(f"Effect on the {len(ids)} calls scored with the mined version "
                      "(found before -> after):", soft_wrap=True)
    get_writer("table").write({"effect": _effect_view(table)}, None, stream=sys.stdout)


def _effect_view(table: Any) -> Any:
    changed = table[(table["change"] != 0) | (table["kind"] == "stage")]
    return changed.drop(columns=["handled_before", "handled_after"]).assign(
        handled=[
            f"{int(b)} -> {int(a)}" if k == "objection" else ""
            for k, b, a in zip(changed["kind"], changed["handled_before"], changed["handled_after"])
        ]
    )


@app.command("clips")
@handle_errors
def clips_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the clips, playlist.m3u and index.html.",
                           show_default=False)
    ],
    stage: StageOpt = None,
    objection: ObjectionOpt = None,
    per_item: Annotated[int, typer.Option("--per-item", "-n", min=1, help="Clips per stage / objection.")] = 3,
    before: Annotated[float, typer.Option("--before", min=0.0, help="Seconds of context before each moment.")] = 2.0,
    after: Annotated[float, typer.Option("--after", min=0.0, help="Seconds of context after each moment.")] = 1.5,
    top: Annotated[
        str, typer.Option("--top", help="Only calls in this top share by score are exemplary: 25%, 0.25.")
    ] = "25%",
    by: ByOpt = "score",
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    script: ScriptOpt = None,
    workspace: WorkspaceOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """A library of exemplary moments for training: audio clips and a playlist.

    For every stage and objection, cuts the best examples (the stage found / the objection
    handled, only in calls of the top quartile by score (--top) and never in a call with a
    critical failure or a forbidden phrase; highest score first, or won deals first with
    --by outcome; one clip per call) from the original recordings, both sides of the call, with a little context
    before and after. Writes WAV clips, playlist.m3u and index.html (a player per clip with
    the quote, manager, call and time). Calls without a recording are skipped with a note.

    Example: qa clips -o training/ --per-item 3
    """
    from ..clips import build_clips

    setup_logging(verbose)
    with open_workspace(workspace, create=False) as ws, progress_bar("Cutting clips", None) as advance:
        library = build_clips(
            ws, output, per_item=per_item, context=(before, after), stage=stage, objection=objection,
            by=by, date_from=date_from, date_to=date_to, script=script,
            progress=lambda done, total: advance(1), top=top,
        )
    items = {(c.kind, c.item_id) for c in library.clips}
    err_console.print(
        f"Wrote {len(library.clips)} clips for {len(items)} stages/objections to {library.out_dir}",
        markup=False, highlight=False, soft_wrap=True,
    )
    _notes(library.notes)
    for cid, why in library.skipped:
        err_console.print(f"Skipped {cid}: {why}", markup=False, highlight=False, soft_wrap=True)
    for item in library.empty:
        err_console.print(f"No example for {item}", markup=False, highlight=False, soft_wrap=True)
    sys.stdout.write(f"{library.index}\n{library.playlist}\n")
