"""``qa validate``: exact output lines and exit codes."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from typer.testing import CliRunner

from qa.cli import app
from qa.scripts import file_hash

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "scripts"

SCRIPT = """
name: Inbound
language: en
stages:
  - id: greeting
    weight: 10
    phrases: ["good afternoon"]
  - id: objection_handling
    weight: 10
    applies_if: price
    phrases: ["i understand your concern"]
  - id: next_step
    weight: 20
    phrases: ["let me book a viewing"]
"""

RUBRIC = """
name: Objections
language: en
objections:
  - id: price
    triggers: ["too expensive"]
    steps:
      - {id: acknowledge, weight: 1, phrases: ["i understand"]}
"""


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return p


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_valid_files(tmp_path: Path) -> None:
    s = write(tmp_path, "s.yaml", SCRIPT)
    r = write(tmp_path, "r.yaml", RUBRIC)
    code, out, err = run(str(s), str(r))
    assert code == 0
    assert out.splitlines() == [
        f"{s}: ok (script 'Inbound', 3 stages, 0 forbidden, hash {file_hash(s.read_bytes())})",
        f"{r}: ok (rubric 'Objections', 1 objections, hash {file_hash(r.read_bytes())})",
    ]
    assert err.strip() == "2 file(s) checked: 0 error(s), 0 warning(s)"


def test_warning_passes_unless_strict(tmp_path: Path) -> None:
    s = write(tmp_path, "s.yaml", SCRIPT)  # applies_if: price, and no rubric to check it
    warning = (
        f"{s}:9: warning: stage 'objection_handling': applies_if names objection 'price'; "
        "no rubric given to check it (qa validate SCRIPT RUBRIC)"
    )
    code, out, err = run(str(s))
    assert code == 0
    assert out.splitlines()[0] == warning
    assert out.splitlines()[1].endswith(", 1 warning(s))")
    assert err.strip() == "1 file(s) checked: 0 error(s), 1 warning(s)"
    code, out, _ = run(str(s), "--strict")
    assert code == 1
    assert out.splitlines()[0] == warning


def test_rubric_option_checks_applies_if(tmp_path: Path) -> None:
    s = write(tmp_path, "s.yaml", SCRIPT.replace("applies_if: price", "applies_if: prise"))
    r = write(tmp_path, "r.yaml", RUBRIC)
    code, out, err = run(str(s), "--rubric", str(r))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{s}:9: error: stage 'objection_handling': applies_if names unknown objection 'prise'; did you mean 'price'?"
    )
    assert err.strip() == "2 file(s) checked: 1 error(s), 0 warning(s)"


def test_errors_exit_1_with_file_and_line(tmp_path: Path) -> None:
    s = write(tmp_path, "s.yaml", SCRIPT.replace("weight: 20", "weight: -5"))
    code, out, err = run(str(s))
    assert code == 1
    assert f"{s}:12: error: stage 'next_step': weight must be a positive number, got -5" in out.splitlines()
    assert "ok (" not in out
    assert err.strip().startswith("1 file(s) checked: 1 error(s)")


def test_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    code, out, _ = run(str(tmp_path / "nope.yaml"))
    assert code == 1
    assert out.strip() == f"{tmp_path / 'nope.yaml'}: error: file not found; check the path"


def test_folder_is_expanded(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", SCRIPT)
    write(tmp_path, "b.yml", RUBRIC)
    (tmp_path / "notes.txt").write_text("not yaml")
    code, out, err = run(str(tmp_path))
    assert code == 0  # the rubric in the folder checks the script's applies_if
    assert [line.split(": ok")[0] for line in out.splitlines()] == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yml")]
    assert err.strip() == "2 file(s) checked: 0 error(s), 0 warning(s)"


def test_fixture_files_are_clean() -> None:
    code, _, err = run(str(FIXTURES), "--strict")
    assert code == 0, err


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["validate", "--help"])
    assert result.exit_code == 0
    assert "Example: qa validate" in result.stdout
    assert "--strict" in result.stdout


def test_no_arguments_and_no_config_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["--no-config", "validate"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: qa validate: no files given and no qa.toml found; name the files (qa validate "
        "scripts_library/ rubrics/) or run it in a project made by `qa init`")


def test_no_arguments_checks_the_scripts_and_rubrics_of_qa_toml(tmp_path: Path) -> None:
    """In a project (`qa init`), `qa validate` alone checks the project's scripts and rubrics,
    with its company, as `qa score` would use them."""
    write(tmp_path, "inbound.yaml", SCRIPT.replace('"good afternoon"', '"good afternoon from {company}"'))
    write(tmp_path, "objections.yaml", RUBRIC)
    config = tmp_path / "qa.toml"
    config.write_text('company = "Acme"\nscripts = ["inbound.yaml"]\nrubrics = ["objections.yaml"]\n',
                      encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "validate"])
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert [line.split(": ok (")[0] for line in out] == [str(tmp_path / "inbound.yaml"),
                                                         str(tmp_path / "objections.yaml")]
    assert "note" not in result.stdout  # qa.toml's company fills {company}
    assert "2 file(s) checked: 0 error(s), 0 warning(s)" in result.stderr
    # a config without scripts: the same one-line usage error, naming the file
    config.write_text('rubrics = ["objections.yaml"]\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "validate"])
    assert result.exit_code == 2
    assert f"{config} has no 'scripts'" in result.stderr


def test_alias_bomb_is_an_error_not_a_hang(tmp_path: Path) -> None:
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 9)]
    s = tmp_path / "bomb.yaml"
    s.write_text("name: Bomb\nlanguage: en\n" + "\n".join(levels) + "\nstages: [*a8]\n", encoding="utf-8")
    code, out, _ = run(str(s))
    assert code == 1
    assert out.startswith(f"{s}:9: error: the document expands to more than 2,000,000 values through aliases")


def test_pattern_phrase_is_an_error(tmp_path: Path) -> None:
    s = write(tmp_path, "s.yaml", SCRIPT.replace('"good afternoon"', '".*"'))
    code, out, _ = run(str(s))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{s}:6: error: stage 'greeting': phrase '.*' has no letters or digits; a phrase is the "
        "words to listen for (not a pattern): write them out"
    )
