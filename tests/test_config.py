"""qa.toml: the project config, `qa init`, `qa config`, and the precedence option > env >
qa.toml > default (issue 13, section 1).

The newcomer complaint "every command repeats the same options" is
`test_a_four_line_config_is_all_qa_score_needs`: with the config, `qa score calls/` runs with
no other option (before: "Missing option '--script'", exit 2). Scoring is real, on the
hand-labelled text transcripts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from qa import config as qa_config
from qa.cli import app
from qa.cli.common import option_defaults
from qa.config import KEYS, find_config, load_config, locate_config
from qa.errors import ConfigError
from qa.store import Workspace

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests/data/labelled"
COMMANDS = get_command(app).commands  # type: ignore[attr-defined]


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A department folder with its calls (two Russian, two English) and no other settings."""
    monkeypatch.delenv("QA_CONFIG", raising=False)
    monkeypatch.delenv("QA_WORKSPACE", raising=False)
    calls = tmp_path / "calls"
    calls.mkdir()
    for name in ("ru_re_01", "ru_re_02", "en_re_01", "en_re_02"):
        shutil.copyfile(LABELLED / f"{name}.txt", calls / f"{name}.txt")
    shutil.copytree(ROOT / "scripts_library", tmp_path / "scripts_library")
    shutil.copytree(ROOT / "rubrics", tmp_path / "rubrics")
    monkeypatch.chdir(tmp_path)
    return tmp_path


FOUR_LINES = """\
company = "Новый дом"
language = ["ru", "en"]
scripts = ["scripts_library/real_estate_inbound.ru.yaml", "scripts_library/real_estate_inbound.en.yaml"]
rubrics = ["rubrics/objections.ru.yaml", "rubrics/objections.en.yaml"]
"""


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


# ---- the complaint: every command repeats the same options ------------------------------------------
def test_a_four_line_config_is_all_qa_score_needs(project: Path) -> None:
    (project / "qa.toml").write_text(FOUR_LINES, encoding="utf-8")
    result = CliRunner().invoke(app, ["score", "calls/", "--no-meaning", "-o", "out"])
    assert result.exit_code == 0, result.output
    assert "Scored 4 calls" in result.stdout
    table = pd.read_csv(project / "out/calls.csv").set_index("call_id")
    assert table["script"].to_dict() == {
        "ru_re_01": "Входящий звонок, новостройки", "ru_re_02": "Входящий звонок, новостройки",
        "en_re_01": "Inbound call, new-build real estate", "en_re_02": "Inbound call, new-build real estate",
    }
    assert "fit (" not in result.stderr  # one script per language: no warning
    with Workspace(project / "qa_workspace") as ws:  # the default workspace
        assert len(ws.query("SELECT call_id FROM scores")) == 4
        names = {r[0] for r in ws.query("SELECT name FROM configs WHERE kind = 'rubric'")}
    assert len(names) == 2  # both rubrics from the config were used


def test_every_command_takes_the_config(project: Path) -> None:
    # qa transcribe names managers from the config's managers file; qa team reads the config's
    # workspace: no -w, no --managers, no --template on any of them
    for n, name in enumerate(("ru_re_01", "ru_re_02")):
        (project / "calls" / f"{name}.txt").rename(project / "calls" / f"in-7916000000{n}-10{n + 1}-20261124-09301{n}-170000000{n}.10{n + 1}.txt")
    (project / "managers.csv").write_text("extension;manager\n101;Анна Смирнова\n102;Иван Петров\n", encoding="utf-8")
    (project / "qa.toml").write_text(FOUR_LINES + 'managers = "managers.csv"\ntemplate = "asterisk"\nworkspace = "ws"\n',
                                     encoding="utf-8")
    assert invoke("transcribe", "calls/").exit_code == 0
    assert invoke("score", "calls/", "--no-meaning").exit_code == 0
    team = invoke("team", "--format", "csv")
    assert team.exit_code == 0, team.output
    assert "Анна Смирнова" in team.stdout and "Иван Петров" in team.stdout


def test_the_config_is_found_from_a_subfolder_and_paths_are_relative_to_it(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "qa.toml").write_text(FOUR_LINES + 'workspace = "data/ws"\n', encoding="utf-8")
    monkeypatch.chdir(project / "calls")
    result = invoke("score", ".", "--no-meaning")
    assert result.exit_code == 0, result.output
    with Workspace(project / "data/ws", create=False) as ws:  # relative to qa.toml, not to the current folder
        assert len(ws.query("SELECT call_id FROM scores")) == 4
    assert not (project / "calls/data").exists()
    assert find_config() == project / "qa.toml"


# ---- precedence: option > environment > qa.toml > default ----------------------------------------------
def test_precedence_option_then_env_then_config_then_default(project: Path) -> None:
    (project / "qa.toml").write_text(FOUR_LINES + 'workspace = "ws_config"\n', encoding="utf-8")
    runs = [
        ([], {}, "ws_config"),  # qa.toml
        ([], {"QA_WORKSPACE": str(project / "ws_env")}, "ws_env"),  # env wins over qa.toml
        (["-w", str(project / "ws_option")], {"QA_WORKSPACE": str(project / "ws_env")}, "ws_option"),  # option wins
    ]
    for extra, env, folder in runs:
        result = invoke("score", "calls/", "--no-meaning", *extra, env=env)
        assert result.exit_code == 0, result.output
        assert (project / folder).is_dir(), folder
    # the default, without a config
    assert invoke("--no-config", "score", "calls/", "--no-meaning", "-s", "scripts_library/real_estate_inbound.en.yaml").exit_code == 0
    assert (project / "qa_workspace").is_dir()


def test_an_option_given_replaces_the_config_list(project: Path) -> None:
    (project / "qa.toml").write_text(FOUR_LINES, encoding="utf-8")
    result = invoke("score", "calls/", "--no-meaning", "-o", "out", "-s", "scripts_library/real_estate_inbound.en.yaml")
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(project / "out/calls.csv")["script"]) == {"Inbound call, new-build real estate"}


def test_only_the_values_the_command_takes_from_the_config_are_checked(project: Path) -> None:
    (project / "qa.toml").write_text('scripts = ["gone.yaml"]\nmanager_channel = "middle"\n', encoding="utf-8")
    result = invoke("score", "calls/", "--no-meaning", "-s", "scripts_library/real_estate_inbound.en.yaml",
                    "--manager-channel", "right")
    assert result.exit_code == 0, result.output  # both bad values were replaced on the command line
    result = invoke("score", "calls/", "--no-meaning", "--manager-channel", "right")
    assert result.exit_code == 2 and "key 'scripts': '" in result.stderr


def test_qa_config_says_where_each_setting_comes_from(project: Path) -> None:
    (project / "qa.toml").write_text(FOUR_LINES + 'workspace = "ws_config"\n\n[score]\noutput = "out"\nformat = "xlsx"\n',
                                     encoding="utf-8")
    result = invoke("config", env={"QA_WORKSPACE": "/srv/ws"})
    assert result.exit_code == 0, result.output
    lines = [one_line(line) for line in result.stdout.splitlines()]
    assert lines[0] == f"config: {project / 'qa.toml'} (the nearest in this folder or a parent)"
    assert "company Новый дом qa.toml" in lines
    assert "workspace /srv/ws $QA_WORKSPACE" in lines
    assert "language ru,en qa.toml" in lines
    assert "scripts scripts_library/real_estate_inbound.ru.yaml qa.toml" in lines
    assert "template - default" in lines and "model embedded default" in lines
    assert "[score]" in lines and "format xlsx qa.toml" in lines

    result = invoke("config", "score", "calls/", "--model", "small", env={"QA_WORKSPACE": "/srv/ws"})
    assert result.exit_code == 0, result.output
    lines = [one_line(line) for line in result.stdout.splitlines()]
    assert "--model small option" in lines
    assert "--workspace /srv/ws $QA_WORKSPACE" in lines
    assert "--language ru,en qa.toml key 'language'" in lines
    assert "--format xlsx qa.toml [score] format" in lines
    assert "--output out qa.toml [score] output" in lines
    assert "--device auto default" in lines
    assert "--script scripts_library/real_estate_inbound.ru.yaml qa.toml key 'scripts'" in lines


def test_qa_config_without_a_file(project: Path) -> None:
    result = invoke("config")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"config: none (no qa.toml in {project} or its parents; `qa init` writes one)"
    assert invoke("--no-config", "config").stdout.splitlines()[0] == "config: none (--no-config)"


def test_config_option_and_env_name_the_file(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("conf") / "dept.toml"
    elsewhere.write_text('company = "Acme"\n', encoding="utf-8")
    (project / "qa.toml").write_text('company = "Found"\n', encoding="utf-8")
    assert "company Acme qa.toml" in one_line(invoke("--config", str(elsewhere), "config").stdout)
    assert "company Acme qa.toml" in one_line(invoke("config", env={"QA_CONFIG": str(elsewhere)}).stdout)
    assert "company Found qa.toml" in one_line(invoke("config").stdout)
    assert "company - default" in one_line(invoke("config", env={"QA_CONFIG": "none"}).stdout)
    assert locate_config(environ={"QA_CONFIG": str(elsewhere)})[1] == "$QA_CONFIG"
    missing = invoke("--config", "nope.toml", "config")
    assert missing.exit_code == 2
    assert one_line(missing.stderr) == ("Error: nope.toml: config file not found (given by --config); check the "
                                        "path, or run `qa init` to write one")


# ---- mistakes in the file: one line naming the file, the key and the fix, exit 2 --------------------------
@pytest.mark.parametrize(("text", "message"), [
    ('scirpts = ["a.yaml"]\n', "unknown key 'scirpts' (did you mean 'scripts'?); the keys are company, workspace, "
     "language, template, manifest, managers, scripts, rubrics, ui, manager_channel, model, redact, script_rule "
     "and [command] tables"),
    ("language = 3\n", "key 'language' must be a language code or a list of them, got 3; e.g. language = [\"ru\", \"en\"]"),
    ("company = \n", "not valid TOML: Invalid value (at line 1, column 11); fix the syntax"),
    ("redact = \"yes\"\n", "key 'redact' must be true or false, got 'yes'; e.g. redact = true"),
    ('scripts = "nowhere/*.yaml"\n', "key 'scripts': pattern 'nowhere/*.yaml' matches no file; fix the pattern"),
    ('[[script_rule]]\nmatch = {direction = "out"}\n', "script_rule 1: says neither 'script' nor 'rubric'; add e.g. "
     "script = \"b2b_cold_call\""),
    ('[[script_rule]]\nwhen = {direction = "out"}\nscript = "x"\n', "script_rule 1: unknown key 'when'; a rule has "
     "match, script, rubric"),
    ('[[script_rule]]\nmatch = {direction = 1}\nscript = "x"\n', "script_rule 1: match.direction must be a string or "
     "a list of strings, got 1"),
    ('[scroe]\noutput = "out"\n', "[scroe] is not a qa command (did you mean 'score'?)"),
    ('[score]\nouptut = "out"\n', "[score] ouptut: qa score has no option --ouptut (did you mean 'output'?)"),
    ('manager_channel = "middle"\n', "key 'manager_channel': 'middle' is not one of 'left', 'right'; fix the value "
     "in the file"),
    ('[score]\nworkers = "many"\n', "[score] workers: Input should be a valid integer, unable to parse string as an "
     "integer; fix the value in the file"),
    ('scripts = ["missing.yaml"]\n', "key 'scripts': '{folder}/missing.yaml' not found; fix the path in the file "
     "(relative paths are relative to its folder), or run `qa init`"),
])
def test_mistakes_in_the_config_are_one_line_and_exit_2(project: Path, text: str, message: str) -> None:
    (project / "qa.toml").write_text(text, encoding="utf-8")
    result = invoke("score", "calls/", "--no-meaning")
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert "\n" not in err.replace("\n", " ").strip() and err.startswith(f"Error: {project / 'qa.toml'}: ")
    assert message.format(folder=project) in one_line(err)
    assert not (project / "qa_workspace").exists()  # nothing was done


def test_without_tomllib_or_tomli_the_error_says_what_to_install(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "qa.toml").write_text(FOUR_LINES, encoding="utf-8")
    monkeypatch.setattr(qa_config, "_toml", None)  # Python 3.10 without tomli
    result = invoke("config")
    assert result.exit_code == 2
    assert one_line(result.stderr) == (f"Error: {project / 'qa.toml'}: reading qa.toml needs Python 3.11+ or the tomli "
                                       "package; run `pip install tomli`, or use --no-config")


def test_load_config_normalises_values(project: Path) -> None:
    (project / "sub").mkdir()
    path = project / "sub" / "qa.toml"
    path.write_text('language = ["RU", "en"]\nscripts = ["../scripts_library"]\nrubrics = "../rubrics/*.ru.yaml"\n'
                    'manifest = "m.csv"\nredact = true\n[[script_rule]]\nmatch = {Direction = ["out", "OUT*"]}\n'
                    'script = ["b2b_cold_call"]\nrubric = "objections.ru"\n', encoding="utf-8")
    cfg = load_config(path)
    assert cfg.get("language") == "ru,en" and cfg.get("redact") is True
    assert cfg.get("manifest") == str(project / "sub" / "m.csv")
    assert [Path(p).name for p in cfg.get("scripts")] == sorted(p.name for p in (project / "scripts_library").glob("*.yaml"))
    assert cfg.get("rubrics") == [str(project / "sub" / "../rubrics/objections.ru.yaml")]
    (rule,) = cfg.rules
    assert (dict(rule.match), rule.script, rule.rubric) == ({"direction": ("out", "OUT*")}, ("b2b_cold_call",), ("objections.ru",))
    assert rule.source == f"{path}: script_rule 1" and rule.base == str(project / "sub")


# ---- the mechanism: any option whose name matches a key takes the key's value --------------------------
def test_options_added_later_take_their_keys_by_name(project: Path) -> None:
    # e.g. --company and --ui added to a command by another module: nothing else to wire
    extra = typer.Typer()

    @extra.command("brief")
    def brief(company: str = typer.Option("", "--company"), ui: str = typer.Option("en", "--ui"),
              script: str = typer.Option("", "--script"), engine: str = typer.Option("local", "--engine"),
              redact: bool = typer.Option(False, "--redact")) -> None:
        """A command with options the config knows by name."""

    @extra.command("other")
    def other(workspace: str = typer.Option("", "--workspace")) -> None:
        """Another."""

    path = project / "qa.toml"
    path.write_text('company = "Acme"\nui = "ru"\nredact = true\nscripts = ["scripts_library"]\n'
                    '[brief]\nengine = "ray"\n', encoding="utf-8")
    commands = get_command(extra).commands  # type: ignore[attr-defined]
    defaults, origins = option_defaults(commands, load_config(path))
    # `scripts` is a list: it sets repeatable --script options only, not a single --script NAME
    assert defaults == {"brief": {"company": "Acme", "ui": "ru", "redact": True, "engine": "ray"}}
    assert origins["brief"] == {"company": "key 'company'", "ui": "key 'ui'", "redact": "key 'redact'",
                                "engine": "[brief] engine"}


def test_every_key_sets_an_option_of_some_command() -> None:
    names = {p.name for cmd in COMMANDS.values() for p in cmd.params}
    # company (h14's --company) and ui (h18's --ui) arrive with other branches; the rest exist now
    unset = [k.name for k in KEYS if not set(k.options) & names]
    assert set(unset) <= {"company"}, unset


def test_qa_report_lang_takes_the_ui_key(project: Path) -> None:
    (project / "qa.toml").write_text('ui = "ru"\n', encoding="utf-8")
    result = invoke("config", "report")
    assert "--lang ru qa.toml key 'ui'" in [one_line(line) for line in result.stdout.splitlines()]


# ---- qa init ---------------------------------------------------------------------------------------------
def test_qa_init_writes_a_starter_that_scores_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_WORKSPACE", raising=False)
    monkeypatch.delenv("QA_CONFIG", raising=False)
    dept = tmp_path / "dept"
    result = invoke("init", str(dept), "--company", "Acme Realty", "--language", "ru")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (dept / "scripts_library").iterdir()) == ["b2b_cold_call.ru.yaml", "real_estate_inbound.ru.yaml"]
    assert [p.name for p in (dept / "rubrics").iterdir()] == ["objections.ru.yaml"]
    assert (dept / "scripts_library/b2b_cold_call.ru.yaml").read_bytes() == (ROOT / "scripts_library/b2b_cold_call.ru.yaml").read_bytes()
    cfg = load_config(dept / "qa.toml")
    assert cfg.get("company") == "Acme Realty" and cfg.get("language") == "ru"
    assert cfg.get("scripts") == [str(dept / "scripts_library/b2b_cold_call.ru.yaml"),
                                  str(dept / "scripts_library/real_estate_inbound.ru.yaml")]
    # the starter scores a folder with no other option, the example rules uncommented too
    (dept / "calls").mkdir()
    for name in ("ru_re_01", "ru_b2b_01"):
        shutil.copyfile(LABELLED / f"{name}.txt", dept / "calls" / f"{name}.txt")
    monkeypatch.chdir(dept)
    result = invoke("score", "calls", "--no-meaning", "-o", "out")
    assert result.exit_code == 0, result.output
    assert "2 scripts fit" in result.stderr  # no rule yet: the choice is said, not hidden
    text = (dept / "qa.toml").read_text(encoding="utf-8")
    rules = text[text.index("# [[script_rule]]"):text.index("\n\n", text.index("# [[script_rule]]"))]
    (dept / "qa.toml").write_text(text.replace(rules, "\n".join(line[2:] for line in rules.splitlines())), encoding="utf-8")
    assert [r.describe() for r in load_config(dept / "qa.toml").rules] == ["direction=out", "file=in-*", "every call"]
    result = invoke("score", "calls", "--no-meaning", "-o", "out2")
    assert result.exit_code == 0, result.output
    assert "scripts fit" not in result.stderr  # the catch-all rule decides
    assert set(pd.read_csv(dept / "out2/calls.csv")["script"]) == {"Входящий звонок, новостройки"}


def test_qa_init_keeps_existing_files_unless_force(tmp_path: Path) -> None:
    dept = tmp_path / "dept"
    assert invoke("init", str(dept), "-l", "en").exit_code == 0
    edited = dept / "scripts_library/b2b_cold_call.en.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "# ours\n", encoding="utf-8")
    (dept / "qa.toml").write_text('company = "Ours"\n', encoding="utf-8")
    again = invoke("init", str(dept), "-l", "en")
    assert again.exit_code == 0
    assert f"Kept {dept / 'qa.toml'} (exists; --force to overwrite)" in one_line(again.stderr)
    assert edited.read_text(encoding="utf-8").endswith("# ours\n")
    assert (dept / "qa.toml").read_text(encoding="utf-8") == 'company = "Ours"\n'
    forced = invoke("init", str(dept), "-l", "en", "--force")
    assert forced.exit_code == 0 and not edited.read_text(encoding="utf-8").endswith("# ours\n")
    assert "scripts = [" in (dept / "qa.toml").read_text(encoding="utf-8")


def test_qa_init_runs_next_to_a_broken_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "qa.toml").write_text("this is not toml\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert invoke("config").exit_code == 2
    result = invoke("init", ".", "-l", "en", "--force")
    assert result.exit_code == 0, result.output
    assert invoke("config").exit_code == 0


def test_qa_init_unknown_language(tmp_path: Path) -> None:
    result = invoke("init", str(tmp_path / "d"), "-l", "de")
    assert result.exit_code == 2
    assert one_line(result.stderr) == ("Error: no bundled scripts_library/ file is in language de; give --language "
                                       "ru, en or auto, and write your own file for another language")


def test_bundled_files_are_found_from_the_source_tree() -> None:
    assert qa_config.bundled_folder("scripts") == ROOT / "scripts_library"
    assert [p.name for p in qa_config.bundled_files("rubrics", ["en"])] == ["objections.en.yaml"]


def test_config_errors_raise_config_error(tmp_path: Path) -> None:
    path = tmp_path / "qa.toml"
    path.write_text("ui = []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'ui' must be a non-empty string in quotes, got \[\]; e.g. ui = \"ru\""):
        load_config(path)
