"""qa.cli.common: options defined once, errors turned into exit statuses."""

from __future__ import annotations

from typing import get_args

import pytest
import typer

from qa.cli.common import EXIT_SOME_FAILED, EXIT_USAGE, Format, handle_errors
from qa.errors import (
    AudioError,
    ConfigError,
    MetadataError,
    ModelError,
    NotFoundError,
    QAError,
    UsageError,
    WorkspaceError,
)
from qa.writers import WRITERS


def test_format_choices_are_the_writers() -> None:
    assert list(get_args(Format)) == list(WRITERS)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError, EXIT_USAGE),
        (MetadataError, EXIT_USAGE),
        (ModelError, EXIT_USAGE),
        (UsageError, EXIT_USAGE),
        (QAError, 1),
        (AudioError, 1),
        (WorkspaceError, 1),
        (NotFoundError, 1),
    ],
)
def test_library_errors_become_exit_statuses(error: type[QAError], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    @handle_errors
    def command() -> None:
        raise error("x.yaml:3: something is wrong; fix it")

    with pytest.raises(typer.Exit) as e:
        command()
    assert e.value.exit_code == code
    assert capsys.readouterr().err.strip() == "Error: x.yaml:3: something is wrong; fix it"
    assert EXIT_SOME_FAILED == 1 and EXIT_USAGE == 2


def test_options_classes_raise_one_error_type_the_cli_translates(capsys: pytest.CaptureFixture[str]) -> None:
    from qa.errors import OptionError
    from qa.matching import MatchOptions, PhraseQuery
    from qa.suggest import SuggestOptions

    for make in (lambda: MatchOptions(token_cutoff=120), lambda: PhraseQuery("x", 150), lambda: SuggestOptions(min_calls=0)):
        with pytest.raises(OptionError) as e:
            make()
        assert isinstance(e.value, ValueError)  # library callers catching ValueError still do

    @handle_errors
    def command() -> None:
        MatchOptions(window_slack=-1)

    with pytest.raises(typer.Exit) as e:
        command()
    assert e.value.exit_code == EXIT_USAGE
    assert capsys.readouterr().err.strip() == "Error: window_slack must be >= 0, got -1"
