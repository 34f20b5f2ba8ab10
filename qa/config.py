"""The project config: one ``qa.toml`` instead of the same options on every command.

A department keeps its settings in ``qa.toml`` next to its calls: the company name, the
workspace, the spoken languages, how the PBX names its files, the manifest and the managers
file, the scripts and rubrics, which script each call gets, the interface language. Every
``qa`` command then takes those as its defaults, so ``qa score calls/`` needs no other option.

Where the file comes from (the first that applies):

1. ``qa --config FILE ...`` (``--no-config``: use none),
2. ``$QA_CONFIG`` (a file; empty or ``none``: use none),
3. ``qa.toml`` in the current folder or the nearest parent folder that has one.

Precedence, per option: the command line wins over the environment (``$QA_WORKSPACE``),
which wins over ``qa.toml``, which wins over the built-in default. Relative paths in the
file are relative to the folder of the file, wherever the command runs.

This module reads and checks the file (:func:`load_config`); it knows nothing about the
commands. ``qa.cli.common`` turns a :class:`ProjectConfig` into the defaults of each
command's options: a top-level key sets every option listed in its :class:`Key` (by the
option's parameter name), and a ``[score]``-style table sets options of one command.

A starter file (``qa init`` writes it)::

    company = "Новый дом"
    language = ["ru", "en"]
    scripts = ["scripts_library/real_estate_inbound.ru.yaml", "scripts_library/b2b_cold_call.ru.yaml"]
    rubrics = ["rubrics/objections.ru.yaml"]

    [[script_rule]]                  # outbound calls are cold calls
    match = {direction = "out"}
    script = "b2b_cold_call"

    [score]                          # options of one command, by their long name
    output = "out"
"""

from __future__ import annotations

import difflib
import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .db import is_server_url
from .errors import ConfigError
from .safe_yaml import read_text
from .scripts import ScriptRule

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 with or without tomli
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]

__all__ = [
    "CONFIG_ENV",
    "CONFIG_NAME",
    "KEYS",
    "Key",
    "ProjectConfig",
    "find_config",
    "load_config",
    "locate_config",
]

#: The file looked for in the current folder and its parents.
CONFIG_NAME = "qa.toml"
#: Environment variable naming the config file (empty or ``none``: use none).
CONFIG_ENV = "QA_CONFIG"
#: Values of ``$QA_CONFIG`` that mean "no config file".
_NO_CONFIG = ("", "none", "off")
_GLOB = frozenset("*?[")
_YAML = (".yaml", ".yml")


@dataclass(frozen=True)
class Key:
    """One top-level key of ``qa.toml``.

    ``kind`` says what the value may be: ``text`` (a string), ``path`` (a string, relative to
    the config file's folder), ``paths`` (a string or a list of them; a folder means its YAML
    files, ``*`` patterns are expanded), ``languages`` (a code or a list of codes), ``bool``.
    ``options`` are the parameter names of the command options the key sets (``scripts``
    sets ``--script``, whose parameter is ``script``); ``env`` is the environment variable
    that wins over the key.
    """

    name: str
    kind: str
    options: tuple[str, ...]
    help: str
    env: str | None = None
    example: str = ""


#: Every top-level key, in the order ``qa config`` and ``qa init`` show them.
KEYS: tuple[Key, ...] = (
    Key("company", "text", ("company",), "your company's name as managers say it; fills {company} in script phrases",
        example='"Новый дом"'),
    Key("workspace", "path", ("workspace",), "workspace folder (SQLite database of calls and scores), "
        "or a shared PostgreSQL database: postgresql://user:pass@host:5432/db",
        env="QA_WORKSPACE", example='"qa_workspace"'),
    Key("language", "languages", ("language",), "spoken language(s) of the calls, or \"auto\"",
        example='["ru", "en"]'),
    Key("template", "text", ("template",), "file names of your PBX: a preset (asterisk, default) or a "
        "template such as \"{date}_{time}_{manager}_{phone}_{direction}\"", example='"asterisk"'),
    Key("manifest", "path", ("manifest",), "CSV from the PBX/CRM with one row per call", example='"manifest.csv"'),
    Key("managers", "path", ("managers",), "extension -> manager name file (extension;manager per line)",
        example='"managers.csv"'),
    Key("scripts", "paths", ("script",), "sales script files (a folder or a *.yaml pattern works too)",
        example='["scripts_library/real_estate_inbound.ru.yaml"]'),
    Key("rubrics", "paths", ("rubric",), "objection rubric files", example='["rubrics/objections.ru.yaml"]'),
    Key("ui", "text", ("ui", "lang"), "interface language of summaries and reports (qa report --lang too)",
        example='"ru"'),
    Key("manager_channel", "text", ("manager_channel",), "stereo recordings: the manager's channel, left or right",
        example='"left"'),
    Key("model", "text", ("model",), "speech model: embedded, a faster-whisper size name or a model folder",
        example='"embedded"'),
    Key("redact", "bool", ("redact",), "replace personal data said in calls before anything is stored",
        example="true"),
)
_BY_NAME = {k.name: k for k in KEYS}
#: The array of tables that picks the script per call (see :class:`qa.scripts.ScriptRule`).
RULE_KEY = "script_rule"
_RULE_FIELDS = ("match", "script", "rubric")


@dataclass(frozen=True)
class ProjectConfig:
    """A checked ``qa.toml``: top-level values (paths made absolute), script rules, and the
    per-command option tables (``[score]`` -> ``{"output": "out"}``), checked by the CLI."""

    path: Path
    values: Mapping[str, Any] = field(default_factory=dict)
    rules: tuple[ScriptRule, ...] = ()
    commands: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def get(self, key: str, default: Any = None) -> Any:
        """A top-level value as the options take it (``language`` joined: ``"ru,en"``)."""
        return self.values.get(key, default)


# ---- finding the file ---------------------------------------------------------------------
def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """``qa.toml`` in ``start`` (default: the current folder) or its nearest parent, or None."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def locate_config(
    option: str | os.PathLike[str] | None = None, *, use: bool = True, start: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path | None, str]:
    """Which config file applies, and why: ``(path or None, source)``.

    ``source`` is ``--config``, ``$QA_CONFIG``, ``found`` (current folder or a parent),
    ``--no-config`` or ``none``. A file named by ``--config`` or ``$QA_CONFIG`` must exist.
    """
    env = os.environ if environ is None else environ
    if not use:
        return None, "--no-config"
    if option is not None:
        return _existing(Path(option), "--config"), "--config"
    named = env.get(CONFIG_ENV)
    if named is not None:
        if named.strip().lower() in _NO_CONFIG:
            return None, f"${CONFIG_ENV}"
        return _existing(Path(named), f"${CONFIG_ENV}"), f"${CONFIG_ENV}"
    found = find_config(start)
    return (found, "found") if found else (None, "none")


def _existing(path: Path, source: str) -> Path:
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (given by {source}); check the path, or run `qa init` to write one")
    return path.resolve()


# ---- reading and checking --------------------------------------------------------------------
def load_config(path: str | os.PathLike[str]) -> ProjectConfig:
    """Read and check ``qa.toml``; :class:`~qa.errors.ConfigError` (exit 2) names the file, the
    key and the fix for a syntax error, an unknown key or a value of the wrong type."""
    p = Path(path).expanduser().resolve()
    data = _read(p)
    values: dict[str, Any] = {}
    rules: tuple[ScriptRule, ...] = ()
    commands: dict[str, dict[str, Any]] = {}
    for name, value in data.items():
        if name in _BY_NAME:
            values[name] = _value(p, _BY_NAME[name], value)
        elif name == RULE_KEY:
            rules = _rules(p, value)
        elif isinstance(value, dict):  # [score]: options of one command, checked by the CLI
            commands[name] = dict(value)
        else:
            raise ConfigError(f"{p}: unknown key '{name}'{_did_you_mean(name)}; the keys are "
                              f"{', '.join([*_BY_NAME, RULE_KEY])} and [command] tables")
    return ProjectConfig(p, values, rules, commands)


def _read(path: Path) -> dict[str, Any]:
    if _toml is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError(f"{path}: reading qa.toml needs Python 3.11+ or the tomli package; "
                          "run `pip install tomli`, or use --no-config")
    text = read_text(path)  # the project's one reader of config files: size, UTF-8, one-line errors
    try:
        return dict(_toml.loads(text))
    except _toml.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}; fix the syntax (strings need quotes: "
                          "company = \"Acme\")") from e


def _did_you_mean(name: str, choices: Sequence[str] | None = None) -> str:
    close = difflib.get_close_matches(name, list(choices or [*_BY_NAME, RULE_KEY]), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _strings(value: Any) -> list[str] | None:
    """A string or a list of strings as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _value(path: Path, key: Key, value: Any) -> Any:
    """One top-level value checked and normalised for the options it sets."""
    where = f"{path}: key '{key.name}'"
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}; e.g. {key.name} = {key.example}")
        return value
    if key.kind in ("text", "path"):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where} must be a non-empty string in quotes, got {value!r}; "
                              f"e.g. {key.name} = {key.example}")
        if key.kind == "path" and not is_server_url(value):  # a postgresql:// workspace stays a URL
            return str(_resolve(path, value))
        return value.strip()
    if key.kind == "languages":
        codes = _strings(value)
        if not codes or not all(c.strip() for c in codes):
            raise ConfigError(f"{where} must be a language code or a list of them, got {value!r}; "
                              f"e.g. {key.name} = {key.example}")
        return ",".join(c.strip().lower() for c in codes)
    if key.kind == "paths":
        items = _strings(value)
        if items is None or not all(i.strip() for i in items):
            raise ConfigError(f"{where} must be a list of file names in quotes, got {value!r}; "
                              f"e.g. {key.name} = {key.example}")
        return [str(p) for item in items for p in _expand(path, key.name, item)]
    raise AssertionError(key.kind)  # pragma: no cover


def _resolve(config: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else config.parent / p


def _expand(config: Path, key: str, item: str) -> list[Path]:
    """A file as given; a folder -> its YAML files; a ``*`` pattern -> what it matches."""
    p = _resolve(config, item)
    if p.is_dir():
        found = sorted(q for q in p.iterdir() if q.suffix.lower() in _YAML and q.is_file())
        if not found:
            raise ConfigError(f"{config}: key '{key}': folder '{item}' has no .yaml files; "
                              "name the files, or run `qa init` to copy the bundled ones")
        return found
    if _GLOB & set(item):
        found = sorted(Path(m) for m in glob.glob(str(p)) if Path(m).is_file())
        if not found:
            raise ConfigError(f"{config}: key '{key}': pattern '{item}' matches no file; fix the pattern")
        return found
    return [p]  # a missing file is reported by the command that reads it, naming this key


def _rules(path: Path, value: Any) -> tuple[ScriptRule, ...]:
    """``[[script_rule]]`` tables -> :class:`ScriptRule` values, in the file's order."""
    example = '[[script_rule]] match = {direction = "out"} script = "b2b_cold_call"'
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{path}: key '{RULE_KEY}' must be tables written [[{RULE_KEY}]], got {value!r}; "
                          f"e.g. {example}")
    rules = []
    for n, table in enumerate(value, start=1):
        where = f"{path}: {RULE_KEY} {n}"
        unknown = sorted(set(table) - set(_RULE_FIELDS))
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'{_did_you_mean(unknown[0], _RULE_FIELDS)}; "
                              f"a rule has {', '.join(_RULE_FIELDS)}")
        match = table.get("match", {})
        if not isinstance(match, dict):
            raise ConfigError(f"{where}: 'match' must be a table of fields, got {match!r}; "
                              'e.g. match = {direction = "out"}')
        fields: dict[str, tuple[str, ...]] = {}
        for name, pattern in match.items():
            patterns = _strings(pattern)
            if not patterns:
                raise ConfigError(f"{where}: match.{name} must be a string or a list of strings, got "
                                  f"{pattern!r}; e.g. match = {{{name} = \"out\"}}")
            fields[str(name).lower()] = tuple(patterns)
        names: dict[str, tuple[str, ...]] = {}
        for kind in ("script", "rubric"):
            if kind in table:
                given = _strings(table[kind])
                if not given:
                    raise ConfigError(f"{where}: '{kind}' must be a file name, a stem or a list of them, "
                                      f"got {table[kind]!r}; e.g. {kind} = \"b2b_cold_call\"")
                names[kind] = tuple(given)
        if not names:
            raise ConfigError(f"{where}: says neither 'script' nor 'rubric'; add e.g. script = \"b2b_cold_call\"")
        rules.append(ScriptRule(match=fields, script=names.get("script", ()), rubric=names.get("rubric", ()),
                                source=where, base=str(path.parent)))
    return tuple(rules)


# ---- the starter project (qa init) -----------------------------------------------------------
#: The bundled folders ``qa init`` copies, by the key that lists their files.
BUNDLED = {"scripts": "scripts_library", "rubrics": "rubrics"}


def bundled_folder(kind: str) -> Path:
    """Where the bundled ``scripts_library/`` (``kind="scripts"``) or ``rubrics/`` are.

    They live at the root of the call-qa source tree, next to the ``qa`` package (a source
    checkout or ``pip install -e``), or in ``<prefix>/share/call-qa/`` when an installer put
    them there. A :class:`~qa.errors.UsageError` lists where it looked otherwise.
    """
    import sys

    from .errors import UsageError

    name = BUNDLED[kind]
    package = Path(__file__).resolve().parent
    places = [package / "bundled" / name, package.parent / name, Path(sys.prefix) / "share" / "call-qa" / name]
    for place in places:
        if place.is_dir() and any(q.suffix.lower() in _YAML for q in place.iterdir()):
            return place
    raise UsageError(f"the bundled {name}/ is not installed (looked in {', '.join(map(str, places))}); "
                     f"copy {name}/ from the call-qa source, or install call-qa from its source folder")


def bundled_files(kind: str, languages: Sequence[str] = ()) -> list[Path]:
    """The bundled YAML files of ``kind``, only those in ``languages`` when given (the file's
    own ``language`` key decides, not its name)."""
    wanted = {code.strip().lower() for code in languages if code.strip() and code.strip().lower() != "auto"}
    files = sorted(q for q in bundled_folder(kind).iterdir() if q.suffix.lower() in _YAML and q.is_file())
    return [f for f in files if not wanted or file_language(f) in wanted]


def file_language(path: Path) -> str:
    """The ``language`` key of a script or rubric file (``""`` when it has none)."""
    from . import safe_yaml

    data = safe_yaml.load_file(path)
    return str(data.get("language", "")).strip().lower() if isinstance(data, dict) else ""


def starter_text(
    *, company: str | None, languages: Sequence[str], scripts: Sequence[str], rubrics: Sequence[str],
) -> str:
    """A commented ``qa.toml`` for a new project: every key, what it does, the common values."""

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def listing(items: Sequence[str]) -> str:
        return "[\n" + "".join(f"  {q(i)},\n" for i in items) + "]"

    langs = [c for c in languages if c and c != "auto"]
    lang_value = q(langs[0]) if len(langs) == 1 else "[" + ", ".join(q(c) for c in langs) + "]" if langs else '"auto"'
    stems = sorted({Path(s).name.split(".", 1)[0] for s in scripts})
    # the example rules send outbound calls to a cold-call script when one is listed
    other = next((s for s in stems if "cold" in s or "out" in s), stems[-1] if len(stems) > 1 else "")
    first = next((s for s in stems if s != other), "")
    company_line = f"company = {q(company)}" if company else '# company = "Your company"'
    rules = (
        f'# [[script_rule]]\n# match = {{direction = "out"}}\n# script = "{other}"\n#\n'
        f'# [[script_rule]]\n# match = {{file = "in-*"}}          # a file-name pattern\n# script = "{first}"\n#\n'
        f'# [[script_rule]]                       # a catch-all, last: every call no rule above matched\n'
        f'# script = "{first}"\n'
    ) if other else (
        '# [[script_rule]]\n# match = {direction = "out"}\n# script = "cold_call"\n'
    )
    return f"""\
# qa.toml: the project config. Every qa command takes these values as the defaults of its
# options (written by `qa init`; `qa config` shows what applies and where it comes from).
# An option on the command line wins over this file, $QA_WORKSPACE wins over `workspace`.
# Relative paths are relative to this file's folder, wherever you run qa.

# Your company's name as managers say it on calls; fills {{company}} in script phrases.
{company_line}

# Spoken language(s) of the calls: "ru", ["ru", "en"] or "auto". A call detected outside
# the list is flagged for review.
language = {lang_value}

# The workspace: the database of calls, transcripts and scores.
workspace = "qa_workspace"

# File names of your PBX: a preset (asterisk, default) or a template with the fields
# {{date}} {{time}} {{manager}} {{extension}} {{phone}} {{direction}} {{call_id}} {{*}}.
# Without it, every preset is tried.
# template = "asterisk"

# The CSV your PBX or CRM exports, one row per call (file, call_id, manager, started_at,
# direction, outcome, client_phone, script, ...).
# manifest = "manifest.csv"

# Extension -> manager name, one "extension;manager" line each.
# managers = "managers.csv"

# Sales scripts and objection rubrics: edit the phrases to your company's, then check them
# with `qa validate scripts_library/ rubrics/`. A folder or a "*.yaml" pattern works too.
scripts = {listing(scripts)}
rubrics = {listing(rubrics)}

# Which script a call gets when several fit. A manifest `script` column wins; else the
# first rule whose `match` fits the call names the script (a file name, a stem for every
# language of it, or a path), and the call's language picks among those. Fields to match:
# direction, manager, outcome, language, call_id, client_phone, file (a file-name pattern),
# and any manifest column; `*` and `?` work in every value. With rules, a call no rule
# matches is not scored and is listed with the reason. Without rules, a call that fits
# several scripts gets the one it says most of, with a warning naming them.
{rules}
# Interface language of summaries and reports (qa report --lang): "en" or "ru".
# ui = "ru"

# Stereo recordings: which channel is the manager's, "left" or "right" (a PBX setting).
# manager_channel = "left"

# Options of one command, by their long name (put these tables last):
# [score]
# output = "out"
# format = "xlsx"
"""
