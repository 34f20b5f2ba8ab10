"""Shared CLI pieces: the app, options defined once, error handling, progress."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..config import ProjectConfig
from ..errors import ConfigError, QAError
from ..store import Workspace
from ..store import open_workspace as _open_workspace
from ..ui import ENV as UI_ENV
from ..ui import Catalog, choose

#: ctx.meta key of the invoked command's own arguments (see QAGroup)
_ARGS = "qa.args"


class QAGroup(TyperGroup):
    """The ``qa`` group; keeps the invoked command's own arguments in ``ctx.meta`` so the app
    callback can tell which options the command line gives (qa.toml must not be checked
    for values the command line replaces)."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        ctx.meta[_ARGS] = list(args[1:])
        return super().resolve_command(ctx, args)

app = typer.Typer(
    name="qa",
    cls=QAGroup,
    help=(
        "Offline call quality assurance for sales teams: transcribe recordings, score them "
        "against sales scripts and objection rubrics, coach managers, mine the best calls.\n\n"
        "Example: qa score samples/ --script scripts_library/real_estate_inbound.en.yaml "
        "--rubric rubrics/objections.en.yaml\n\n"
        "Settings every command shares (workspace, language, scripts, rubrics, template, "
        "manifest, managers, company) can live in qa.toml: `qa init` writes one, `qa config` "
        "shows what applies.\n\n"
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

#: ``--ui``: the interface language (qa.ui). The parameter is named ``ui`` everywhere, so the
#: project config's ``ui`` key reaches it; $QA_UI sets it for a shell or a cron job.
UiOpt = Annotated[
    str,
    typer.Option(
        "--ui",
        envvar=UI_ENV,
        help="Interface language of the summaries and report pages: en, ru (one per file in "
        "qa/data/ui/) or auto (the language most of the calls are in). Also $QA_UI or 'ui' in "
        "qa.toml.",
    ),
]


def interface(ui: str, call_languages: Iterable[Any] = ()) -> Catalog:
    """The interface words for ``--ui`` (``auto``: the language most of ``call_languages``
    are in, else English); an unknown language is a ConfigError (exit 2)."""
    return Catalog(choose(ui, call_languages))


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


# ---- the project config (qa.toml) ------------------------------------------------------------
# Precedence, per option: the command line > the environment > qa.toml > the default. The app
# callback loads qa.toml and sets ``ctx.default_map`` per command, so click itself puts an
# option given on the command line (or from its envvar) before the config's value, and the
# config's value before the option's default. Any option whose parameter name is listed in a
# key's ``Key.options`` (qa.config.KEYS) takes the key's value, whichever module defines it.
NO_CONFIG_COMMANDS = frozenset({"init"})
_META = "qa.config"


@dataclass(frozen=True)
class LoadedConfig:
    """The config file a run uses (or None), why (``--config``, ``$QA_CONFIG``, ``found``,
    ``--no-config``, ``none``), and for each command which option got which key."""

    config: ProjectConfig | None
    source: str
    #: command -> option parameter name -> the key that set it ("key 'scripts'", "[score] output")
    origins: dict[str, dict[str, str]] = field(default_factory=dict)


@app.callback()
def _project_config(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE", show_default=False,
        help="Project config to use (default: $QA_CONFIG, else qa.toml in the current folder or "
        "a parent). Its values are the defaults of every command's options.")] = None,
    no_config: Annotated[bool, typer.Option(
        "--no-config", help="Use no qa.toml, only options and defaults.")] = False,
) -> None:
    """Load qa.toml and make its values the defaults of the invoked command's options."""
    try:
        loaded = load_project(ctx, config, use=not no_config)
    except QAError as e:
        fail(str(e), e.exit_code)
    ctx.meta[_META] = loaded


def load_project(ctx: typer.Context, option: Path | None, *, use: bool = True) -> LoadedConfig:
    """Find and check the config, set ``ctx.default_map`` (see :func:`option_defaults`) and
    check the values the invoked command will take from it."""
    from ..config import load_config, locate_config

    if ctx.invoked_subcommand in NO_CONFIG_COMMANDS:
        return LoadedConfig(None, "not used")
    path, source = locate_config(option, use=use)
    if path is None:
        return LoadedConfig(None, source)
    project = load_config(path)
    commands = getattr(ctx.command, "commands", {})
    defaults, origins = option_defaults(commands, project)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    name = ctx.invoked_subcommand
    if name in commands and name in defaults:
        used = from_config(ctx, commands[name], name)
        check_defaults(ctx, project, commands[name], {k: v for k, v in defaults[name].items() if k in used},
                       origins[name])
    return LoadedConfig(project, source, origins)


def from_config(ctx: typer.Context, command: Any, name: str) -> set[str]:
    """The options of the invoked command that will take their value from qa.toml: those the
    command line (and the environment) leave unset."""
    try:
        sub = command.make_context(name, list(ctx.meta.get(_ARGS, [])), parent=ctx, resilient_parsing=True)
    except Exception:  # the command reports its own usage errors when it runs
        return set((ctx.default_map or {}).get(name, {}))
    return {p for p in (ctx.default_map or {}).get(name, {})
            if getattr(sub.get_parameter_source(p), "name", "") == "DEFAULT_MAP"}


def current_config(ctx: typer.Context | None) -> LoadedConfig:
    """The config of the running command (``LoadedConfig(None, "none")`` outside the CLI)."""
    got = ctx.find_root().meta.get(_META) if ctx is not None else None
    return got if isinstance(got, LoadedConfig) else LoadedConfig(None, "none")


def _options(command: Any) -> dict[str, Any]:
    return {p.name: p for p in command.params if getattr(p, "param_type_name", "") == "option" and p.name}


def _is_path(param: Any) -> bool:
    desc = getattr(param, "type_descriptor", None)  # typer >= 0.29 (its own click)
    if desc is not None:
        ann = desc.annotation
        return ann is Path or Path in getattr(ann, "__args__", ())
    return type(getattr(param, "type", None)).__name__ == "Path"  # click.Path (older typer)


def _key_fits(kind: str, param: Any) -> bool:
    """Whether a top-level key's value suits an option: a list only for a repeatable option,
    true/false only for a flag (``qa search --script NAME`` is not ``scripts``)."""
    flag = bool(getattr(param, "is_flag", False))
    if kind == "paths":
        return bool(param.multiple)
    if kind == "bool":
        return flag
    return not flag and not param.multiple


def option_defaults(
    commands: Mapping[str, Any], project: ProjectConfig, environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """``default_map`` for every command from a config, and where each value came from.

    A top-level key sets the options named in its ``Key.options`` on every command that has
    them (and whose shape fits); a key with an ``env`` variable that is set is left out, so
    the environment wins over the file. A ``[command]`` table sets that command's options by
    their long name (``output``, ``compute-type`` or ``compute_type``); paths in it are relative
    to the config file too. A table or option no command has is a
    :class:`~qa.errors.ConfigError` naming the file and the key.
    """
    from ..config import KEYS

    env = os.environ if environ is None else environ
    for table in project.commands:
        if table not in commands:
            raise ConfigError(f"{project.path}: [{table}] is not a qa command{_close(table, commands)}; "
                              f"tables are named after commands ({', '.join(sorted(commands))}), "
                              "top-level keys go above the first table")
    defaults: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, str]] = {}
    for name, command in commands.items():
        options = _options(command)
        values: dict[str, Any] = {}
        where: dict[str, str] = {}
        for key in KEYS:
            if key.name not in project.values or (key.env and env.get(key.env)):
                continue
            for param_name in key.options:
                param = options.get(param_name)
                if param is not None and _key_fits(key.kind, param):
                    values[param_name] = project.values[key.name]
                    where[param_name] = f"key '{key.name}'"
        for raw, value in project.commands.get(name, {}).items():
            param = _option_named(options, raw)
            if param is None:
                longs = sorted(o[2:] for p in options.values() for o in p.opts if o.startswith("--"))
                raise ConfigError(f"{project.path}: [{name}] {raw}: qa {name} has no option --{raw}"
                                  f"{_close(raw, longs)}; its options are {', '.join(longs)}")
            values[param.name] = _table_value(project, param, value)
            where[param.name] = f"[{name}] {raw}"
        if values:
            defaults[name], origins[name] = values, where
    return defaults, origins


def _close(name: str, choices: Any) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _option_named(options: Mapping[str, Any], raw: str) -> Any:
    key = str(raw).strip().lstrip("-")
    for param in options.values():
        if param.name == key.replace("-", "_") or f"--{key}" in param.opts or f"--{key.replace('_', '-')}" in param.opts:
            return param
    return None


def _table_value(project: ProjectConfig, param: Any, value: Any) -> Any:
    """A ``[command]`` value; strings of path options are relative to the config's folder."""
    if not _is_path(param):
        return value

    def resolve(v: Any) -> Any:
        return str(project.folder / Path(v).expanduser()) if isinstance(v, str) and v else v

    return [resolve(v) for v in value] if isinstance(value, list) else resolve(value)


def check_defaults(
    ctx: typer.Context, project: ProjectConfig, command: Any, values: Mapping[str, Any], where: Mapping[str, str],
) -> None:
    """The config's values for the command about to run, converted as the options convert
    them, and the files it names present: a bad one is an error naming qa.toml and the key
    (rather than an option the user never typed)."""
    options = _options(command)
    for name, value in values.items():
        param = options[name]
        origin = where[name]
        try:
            param.process_value(ctx, value)
        except Exception as e:  # click's BadParameter (its own click in typer >= 0.29)
            message = str(getattr(e, "message", "") or e).removeprefix("Value error, ").rstrip(".")
            raise ConfigError(f"{project.path}: {origin}: {message}; fix the value in the file") from e
        if name in ("script", "rubric", "manifest", "managers") and _is_path(param):
            for item in value if isinstance(value, list) else [value]:
                if not Path(item).exists():
                    raise ConfigError(f"{project.path}: {origin}: '{item}' not found; fix the path in the "
                                      "file (relative paths are relative to its folder), or run `qa init`")


def main() -> None:
    app()
