"""``qa init`` (a starter project: qa.toml, scripts and rubrics to edit) and ``qa config``
(the settings that apply, and where each comes from)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..config import BUNDLED, CONFIG_NAME, KEYS, bundled_files, file_language, starter_text
from ..errors import UsageError
from .common import LoadedConfig, app, current_config, err_console, handle_errors, out_console


# ---- qa init ---------------------------------------------------------------------------------
@app.command("init")
@handle_errors
def init(
    folder: Annotated[Path, typer.Argument(help="The project folder (created when missing).")] = Path("."),
    company: Annotated[str | None, typer.Option(
        "--company", help="Your company's name, as managers say it on calls.", show_default=False)] = None,
    language: Annotated[str, typer.Option(
        "--language", "-l", help="Languages of your calls (ru, en, ru,en): only their scripts and "
        "rubrics are copied; 'auto' copies every one.")] = "auto",
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite qa.toml and the copied files when they exist.")] = False,
) -> None:
    """Start a project: write a commented qa.toml and copy the bundled scripts and rubrics.

    The scripts go to FOLDER/scripts_library/ and the rubrics to FOLDER/rubrics/, ready to
    edit; qa.toml lists them, so afterwards every command takes them as its defaults and
    `qa score calls/` needs no other option. Existing files are kept unless --force.

    Example: qa init . --company "Новый дом" --language ru
    """
    folder.mkdir(parents=True, exist_ok=True)
    codes = [c.strip().lower() for c in language.split(",") if c.strip()]
    listed: dict[str, list[str]] = {}
    spoken: set[str] = set()
    for kind, name in BUNDLED.items():
        files = bundled_files(kind, codes)
        spoken |= {file_language(f) for f in files} - {""}
        if not files:
            raise UsageError(f"no bundled {name}/ file is in language {language}; give --language "
                             "ru, en or auto, and write your own file for another language")
        target = folder / name
        target.mkdir(exist_ok=True)
        for src in files:
            _copy(src, target / src.name, force)
        listed[kind] = [f"{name}/{src.name}" for src in files]
    config = folder / CONFIG_NAME
    text = starter_text(company=company, languages=sorted(spoken), scripts=listed["scripts"], rubrics=listed["rubrics"])
    _write(config, text, force)
    first = "" if company else f"set company in {escape(str(config))}, "
    err_console.print(
        f"Next: {first}adapt the phrases in {escape(str(folder / 'scripts_library'))}/ to your "
        "company (qa validate checks them), then run: qa score calls/", soft_wrap=True)


def _copy(src: Path, dst: Path, force: bool) -> None:
    if dst.exists() and not force:
        err_console.print(f"Kept {escape(str(dst))} (exists; --force to overwrite)", soft_wrap=True)
        return
    shutil.copyfile(src, dst)
    err_console.print(f"Copied {escape(str(dst))}", soft_wrap=True)


def _write(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        err_console.print(f"Kept {escape(str(path))} (exists; --force to overwrite)", soft_wrap=True)
        return
    path.write_text(text, encoding="utf-8")
    err_console.print(f"Wrote {escape(str(path))}", soft_wrap=True)


# ---- qa config -------------------------------------------------------------------------------
@app.command("config", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@handle_errors
def config_cmd(
    ctx: typer.Context,
    command: Annotated[str | None, typer.Argument(
        help="A command: show every option of it as it would run with ARGS.", show_default=False)] = None,
    args: Annotated[list[str] | None, typer.Argument(
        help="That command's arguments and options.", show_default=False)] = None,
) -> None:
    """Show the settings that apply here and where each comes from.

    Without COMMAND: which qa.toml applies (--config, $QA_CONFIG, or the nearest one in this
    folder or a parent), then each key with its value and source: qa.toml, an environment
    variable ($QA_WORKSPACE), or the default; then the script rules and [command] tables.
    With COMMAND [ARGS]: every option of that command, as it would run with those ARGS, and
    where its value comes from: option, env, qa.toml (which key) or default.

    Precedence: command-line option > environment > qa.toml > default.

    Example: qa config score calls/ --language en
    """
    loaded = current_config(ctx)
    if command is None:
        _show_project(ctx, loaded)
    else:
        _show_command(ctx, loaded, command, [*(args or []), *ctx.args])


def _config_line(loaded: LoadedConfig) -> str:
    config = loaded.config
    if config is None:
        if loaded.source == "none":
            return f"config: none (no {CONFIG_NAME} in {Path.cwd()} or its parents; `qa init` writes one)"
        return f"config: none ({loaded.source})"
    how = {"found": "the nearest in this folder or a parent"}.get(loaded.source, loaded.source)
    return f"config: {config.path} ({how})"


def _rows(rows: list[tuple[str, Any, str]]) -> None:
    """Aligned ``key  value  source`` lines; a list value takes one line per item."""
    cells = [(key, _cells(value), source) for key, value, source in rows]
    wide = max((len(k) for k, _, _ in cells), default=0)
    value_w = min(max((len(v) for _, vs, _ in cells for v in vs), default=0), 60)
    for key, values, source in cells:
        for n, value in enumerate(values):
            line = f"  {key if n == 0 else '':<{wide}}  {value:<{value_w}}  {source if n == 0 else ''}"
            out_console.print(escape(line.rstrip()), soft_wrap=True)


def _cells(value: Any) -> list[str]:
    if value is None or value == [] or value == ():
        return ["-"]
    if isinstance(value, (list, tuple)):
        return [_short(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [_short(value)]


def _short(value: Any) -> str:
    """A path under the current folder is shown relative to it."""
    text = str(value)
    if os.path.isabs(text):
        try:
            return str(Path(text).relative_to(Path.cwd()))
        except ValueError:
            return text
    return text


def _show_project(ctx: typer.Context, loaded: LoadedConfig) -> None:
    """Each top-level key: its value and where it comes from."""
    out_console.print(escape(_config_line(loaded)), soft_wrap=True)
    config = loaded.config
    commands = getattr(ctx.find_root().command, "commands", {})
    rows: list[tuple[str, Any, str]] = []
    for key in KEYS:
        if key.env and os.environ.get(key.env):
            rows.append((key.name, os.environ[key.env], f"${key.env}"))
        elif config is not None and key.name in config.values:
            rows.append((key.name, config.values[key.name], CONFIG_NAME))
        else:
            rows.append((key.name, _default_of(commands, key.options), "default"))
    _rows(rows)
    if config is not None and config.rules:
        out_console.print("script rules (first match wins; a manifest 'script' column wins over them):")
        _rows([(f"{n}.", rule.describe(), "-> " + ", ".join([*rule.script, *(f"rubric {r}" for r in rule.rubric)]))
               for n, rule in enumerate(config.rules, start=1)])
    if config is not None:
        for name, table in config.commands.items():
            out_console.print(escape(f"[{name}]"))
            _rows([(str(k), v, CONFIG_NAME) for k, v in table.items()])


def _default_of(commands: Any, names: tuple[str, ...]) -> Any:
    from ..store import DEFAULT_WORKSPACE

    if "workspace" in names:
        return DEFAULT_WORKSPACE
    for command in commands.values():
        for param in command.params:
            if param.name in names:
                return param.default
    return None


def _show_command(ctx: typer.Context, loaded: LoadedConfig, name: str, args: list[str]) -> None:
    """Every option of one command as it would run with ``args``: value and source."""
    root = ctx.find_root()
    commands = getattr(root.command, "commands", {})
    if name not in commands:
        raise UsageError(f"'{name}' is not a qa command; choose one of {', '.join(sorted(commands))}")
    sub = commands[name].make_context(name, list(args), parent=root, resilient_parsing=True)
    origins = loaded.origins.get(name, {})
    out_console.print(escape(_config_line(loaded)), soft_wrap=True)
    rows: list[tuple[str, Any, str]] = []
    for param in commands[name].params:
        if param.name in (None, "help") or getattr(param, "param_type_name", "") != "option":
            continue
        value = sub.params.get(param.name)
        source = getattr(sub.get_parameter_source(param.name), "name", "DEFAULT")
        label = max(param.opts, key=len)
        if source == "COMMANDLINE":
            where = "option"
        elif source == "ENVIRONMENT":
            where = f"${param.envvar}"
        elif source == "DEFAULT_MAP" and loaded.config is not None:
            where = f"{CONFIG_NAME} {origins.get(param.name, '')}".strip()
        elif param.name == "workspace" and value is None and os.environ.get("QA_WORKSPACE"):
            value, where = os.environ["QA_WORKSPACE"], "$QA_WORKSPACE"
        else:
            where = "default"
        rows.append((label, value, where))
    _rows(rows)
