"""``qa validate``: check script and rubric YAML files before scoring with them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..scripts import Issue, Rubric, Script, check, read_config
from .common import app, current_config, err_console, handle_errors, out_console

_YAML_SUFFIXES = (".yaml", ".yml")


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; folders -> their YAML files (sorted), each path once."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in _YAML_SUFFIXES and q.is_file()))
        else:
            out.append(p)
    seen: set[str] = set()
    unique = []
    for p in out:
        key = str(p.resolve()) if p.exists() else str(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


@app.command("validate")
@handle_errors
def validate(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Script and/or rubric YAML files, or folders of them (default: the "
                       "scripts and rubrics of qa.toml).", show_default=False),
    ] = None,
    rubric: Annotated[
        list[Path] | None,
        typer.Option(
            "--rubric",
            "-r",
            help="Rubric whose objection ids the scripts' applies_if must name (rubrics among "
            "FILES are used too). Repeatable.",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (exit 1) on warnings too.")] = False,
    company: Annotated[str | None, typer.Option(
        "--company",
        help="The company name qa score will fill in for {company}; without it, scripts that "
        "name {company} get a note.", show_default=False)] = None,
) -> None:
    """Check sales scripts and objection rubrics: errors with file, line and the fix; warnings for phrases too short to match reliably, near-duplicates across stages, low thresholds.

    Without FILES it checks the project's own: the `scripts` and `rubrics` of qa.toml (see `qa init`).

    Prints one line per finding (`file:line: level: message`) and `file: ok (...)` for each file without errors. A script whose phrases name {company} gets a `note` unless --company is given (qa score needs the name: --company or `company` in qa.toml). Exit code 1 when any file has an error (or a warning, with --strict), else 0.

    Example: qa validate scripts_library/ rubrics/objections.ru.yaml --strict
    """
    paths = _expand(list(files or _configured_scripts(ctx)) + list(rubric or []))
    configs = [read_config(p) for p in paths]  # each file is read and parsed once
    # rubrics first, so scripts' applies_if can be checked against their objection ids
    rubrics: list[Rubric] = []
    for cf in configs:
        if cf.kind == "rubric":
            value = check(cf, warnings=False).value
            if isinstance(value, Rubric):  # else its errors are reported below with the rest
                rubrics.append(value)
    errors = warnings = 0
    for p, cf in zip(paths, configs):
        checked = check(cf, rubrics if rubrics else None)
        for issue in checked.issues:
            out_console.print(str(issue), markup=False, highlight=False, soft_wrap=True)
        n_err = sum(1 for i in checked.issues if i.level == "error")
        errors += n_err
        warnings += len(checked.issues) - n_err
        if isinstance(checked.value, Script):
            note = checked.value.with_values(company=company).unfilled_note()
            if note:  # not a problem of the file: counted neither as error nor as warning
                out_console.print(str(Issue(str(p), None, "note", note)), markup=False, highlight=False, soft_wrap=True)
        if not n_err:
            note = f", {len(checked.issues)} warning(s)" if checked.issues else ""
            out_console.print(f"{p}: ok ({_describe(checked.value)}{note})", markup=False, highlight=False, soft_wrap=True)
    err_console.print(
        f"{len(paths)} file(s) checked: {errors} error(s), {warnings} warning(s)", highlight=False
    )
    if errors or (strict and warnings):
        raise typer.Exit(1)


def _configured_scripts(ctx: typer.Context) -> list[Path]:
    """The scripts of qa.toml, for ``qa validate`` without FILES (its rubrics come as the
    ``--rubric`` default already); a usage error naming both ways when there are none."""
    project = current_config(ctx).config
    scripts = project.get("scripts") if project is not None else None
    if not scripts:
        where = f"{project.path} has no 'scripts'" if project is not None else "no qa.toml found"
        raise UsageError(f"qa validate: no files given and {where}; name the files "
                         "(qa validate scripts_library/ rubrics/) or run it in a project made by `qa init`")
    return [Path(p) for p in scripts]  # qa.config made it a list of absolute paths


def _describe(value: Script | Rubric | None) -> str:
    if isinstance(value, Script):
        return f"script {value.name!r}, {len(value.stages)} stages, {len(value.forbidden)} forbidden, hash {value.hash}"
    if isinstance(value, Rubric):
        return f"rubric {value.name!r}, {len(value.objections)} objections, hash {value.hash}"
    return "nothing to check"
