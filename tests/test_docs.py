"""Every command teaches: it has help with an Example, and the README mentions it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from qa.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_core_commands_exist() -> None:
    assert {"transcribe", "score", "validate"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_with_example(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output, f"'qa {name} --help' needs an 'Example:' line"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_readme(name: str) -> None:
    assert re.search(rf"\bqa {name}\b", README), f"README does not show 'qa {name}'"


def test_readme_setup_commands_are_the_ci_commands() -> None:
    assert "bash run.sh demo" in README
    assert "bash run.sh test" in README
    assert "bash run.sh test" in (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_version_single_source() -> None:
    import qa

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {qa.__version__}" in changelog


def test_module_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "qa", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "transcribe" in out.stdout
