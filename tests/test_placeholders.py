"""Scripts that fit any company: ``{company}`` and ``{manager}`` in phrases.

The end-to-end tests run ``qa score`` for real on text transcripts of a team that is not a
bundled sample's (``tests/data/placeholders/``, Russian and English): the introduction is found
where the manager names that company and herself, and not where she names no company or
another one. The unit tests pin the rules (``qa.scripts`` module docstring).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.errors import ConfigError, UsageError
from qa.scoring import Scorer, call_values, score_call
from qa.scripts import (
    fill,
    load_script,
    name_variants,
    parse_script,
    placeholders_in,
    validate_file,
)
from qa.transcripts import CallMeta, Transcript, Utterance

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "placeholders"
SCRIPTS = [ROOT / "scripts_library" / f"real_estate_inbound.{lang}.yaml" for lang in ("ru", "en")]
TEMPLATE = "{date}_{time}_{extension}_{phone}_{direction}_{*}"
COMPANY = "Солнечный квартал|Harbour View Homes"  # one team, two languages: either name counts


def _score(tmp_path: Path, *extra: str, paths: list[Path] | None = None) -> tuple[pd.DataFrame, str]:
    out = tmp_path / "out"
    args = ["score", *map(str, paths or sorted(DATA.glob("*.txt"))), "-w", str(tmp_path / "ws"),
            "--template", TEMPLATE, "--managers", str(DATA / "managers.csv"), "--no-meaning", "-o", str(out)]
    for s in SCRIPTS:
        args += ["-s", str(s)]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    items = pd.read_csv(out / "items.csv")
    return items[(items.kind == "stage") & (items.item_id == "introduction")], result.output


def _expected(call_id: str) -> str:
    return "found" if ("_named_" in call_id or "_frame_" in call_id) else "missed"


def test_introduction_is_found_where_the_manager_names_the_company_and_herself(tmp_path: Path) -> None:
    intro, output = _score(tmp_path, "--company", COMPANY)
    assert len(intro) == 8
    for row in intro.itertuples():
        assert row.status == _expected(row.call_id), (row.call_id, row.detail)
    assert "Warning" not in output
    # the filled phrases are the evidence: the managers file's "Ольга Петрова" said as "Ольга"
    frame = intro[intro.call_id.str.contains("_frame_ru")].iloc[0]
    assert "'Солнечный квартал'" in frame.detail and "'Ольга слушаю'" in frame.detail


def test_without_a_company_the_introduction_cannot_be_found_and_the_run_says_why_once(tmp_path: Path) -> None:
    intro, output = _score(tmp_path)
    assert set(intro.status) == {"missed"}
    assert all("no company known for this call" in d for d in intro.detail)
    warnings = [line for line in output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 2  # one per script, not one per call
    assert all("{company}" in w and "--company" in w and "qa.toml" in w for w in warnings)
    assert any("real_estate_inbound.ru.yaml" in w and "4 call(s)" in w for w in warnings)


def test_a_manifest_company_column_names_the_company_per_call(tmp_path: Path) -> None:
    paths = sorted(DATA.glob("*_ru.txt"))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,company\n" + "".join(f"{p.name},Солнечный квартал\n" for p in paths), encoding="utf-8")
    intro, output = _score(tmp_path, "--manifest", str(manifest), "--company", "Другая компания", paths=paths)
    for row in intro.itertuples():
        assert row.status == _expected(row.call_id), (row.call_id, row.detail)


# ---- rules ---------------------------------------------------------------------------------------
def test_placeholder_names_and_filling() -> None:
    assert placeholders_in("this is {manager} from {company}") == {"manager", "company"}
    assert placeholders_in("good morning") == frozenset()
    assert fill("меня зовут {manager}", {"manager": ("Анна Смирнова", "Анна")}) == (
        "меня зовут Анна Смирнова", "меня зовут Анна")
    assert fill("компания {company}", {}) == ()  # no value: the phrase cannot be said
    assert fill("{manager} from {company}", {"manager": ("Kate",), "company": ("A", "B")}) == ("Kate from A", "Kate from B")


@pytest.mark.parametrize(("name", "variants"), [
    ("Анна Смирнова", ("Анна Смирнова", "Анна", "Смирнова")),
    ("ivan_petrov", ("ivan petrov", "ivan", "petrov")),
    ("smith", ("smith",)),
    ("101", ()),  # an extension no managers file names is no name
    (None, ()),
])
def test_a_managers_name_counts_in_full_or_by_one_part(name: str | None, variants: tuple[str, ...]) -> None:
    assert name_variants(name) == variants


def test_call_values_prefer_the_calls_own_company() -> None:
    t = Transcript(meta=CallMeta(call_id="c", manager="Kate Moss", extra={"Company": "Acme"}), utterances=[])
    assert call_values(t, {"company": "Default"}) == {"company": ("Acme",), "manager": ("Kate Moss", "Kate", "Moss")}
    t.meta.extra.clear()
    assert call_values(t, {"company": "Новый дом|Северный парк"})["company"] == ("Новый дом", "Северный парк")


SCRIPT = """\
name: Test
language: ru
stages:
  - id: introduction
    title: Представление
    weight: 10
    min_matches: 2
    phrases:
      - меня зовут
      - меня зовут {manager}
      - "{company}"
      - компания {company}
  - id: next_step
    title: Следующий шаг
    weight: 5
    phrases: [приглашаю на просмотр]
"""


def test_unknown_or_broken_placeholders_are_errors_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"names \{firm\}; the placeholders are \{company\} and \{manager\}"):
        parse_script(SCRIPT.replace("компания {company}", "компания {firm}"))
    with pytest.raises(ConfigError, match=r"brace without its pair"):
        parse_script(SCRIPT.replace("компания {company}", "компания {company"))
    bad = tmp_path / "s.yaml"
    bad.write_text(SCRIPT.replace('"{company}"', "{company}"), encoding="utf-8")
    issues = validate_file(bad)
    assert any(i.level == "error" and i.line == 11 and 'quote the phrase: "{company}"' in i.message for i in issues)
    with pytest.raises(UsageError, match="unknown placeholder"):
        parse_script(SCRIPT).with_values(firm="X")


def test_validate_notes_a_script_that_needs_a_company(tmp_path: Path) -> None:
    s = tmp_path / "s.yaml"
    s.write_text(SCRIPT, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(s)])
    assert result.exit_code == 0
    assert f"{s}: note: script 'Test' ({s}) names {{company}}, and no company is set" in result.stdout
    assert "set company in qa.toml or pass --company" in result.stdout
    assert "0 warning(s)" in result.output  # a note is not a warning: --strict still passes
    assert CliRunner().invoke(app, ["validate", str(s), "--strict"]).exit_code == 0
    result = CliRunner().invoke(app, ["validate", str(s), "--company", "Новый дом"])
    assert "note:" not in result.stdout


def _call(text: str, manager: str | None, call_id: str = "c") -> Transcript:
    return Transcript(meta=CallMeta(call_id=call_id, manager=manager),
                      utterances=[Utterance(role="manager", start=0.0, end=3.0, text=text)], language="ru")


def test_forms_of_one_phrase_count_once_and_unfilled_ones_say_so() -> None:
    script = parse_script(SCRIPT).with_values(company="Новый дом")
    # "меня зовут" and "меня зовут {manager}" say the same words: one phrase, the company is missing
    got = score_call(_call("Добрый день, меня зовут Анна Смирнова", "Анна Смирнова"), script).item("stage", "introduction")
    assert got.status == "missed"
    got = score_call(_call("Добрый день, меня зовут Анна, компания Новый дом", "Анна Смирнова"), script).item(
        "stage", "introduction")
    assert got.status == "found"
    got = score_call(_call("Новый дом, слушаю", None), parse_script(SCRIPT)).item("stage", "introduction")
    assert got.status == "missed" and "no company known for this call" in (got.detail or "")


def test_fillings_are_compiled_once_per_company_and_manager() -> None:
    scorer = Scorer(parse_script(SCRIPT).with_values(company="Новый дом"))
    calls = [_call("Меня зовут Анна, компания Новый дом", m, f"c{i}") for i, m in enumerate(["Анна", "Анна", "Олег"] * 20)]
    for t in calls:
        scorer.score(t)
    assert len(scorer._filled) == 2  # two managers, one company: two compiled fillings for 60 calls
    assert scorer.filled(call_values(calls[0], scorer.script.values)) is scorer.filled(call_values(calls[1], scorer.script.values))


def test_bundled_scripts_name_no_sample_company() -> None:
    for path in (ROOT / "scripts_library").glob("*.yaml"):
        text = path.read_text(encoding="utf-8").lower()
        for name in ("новый дом", "северный парк", "клинпро", "cleanpro", "riverside"):
            phrases = [ph.text.lower() for st in load_script(path).stages for ph in st.phrases]
            assert not any(name in p for p in phrases), (path.name, name)
        assert "{company}" in text and "{manager}" in text, path.name


def test_a_four_line_qa_toml_with_the_company_finds_the_introduction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 13's done-when: a team writes company, language, scripts and rubrics in qa.toml and
    # runs `qa score calls/` with no other option; the introduction is found where the manager
    # names that company and herself, and not where she names no company (or another one)
    import shutil

    calls = tmp_path / "calls"
    calls.mkdir()
    for f in DATA.glob("*.txt"):
        shutil.copyfile(f, calls / f.name)
    lib = ROOT / "scripts_library"
    (tmp_path / "qa.toml").write_text(
        'company = "Солнечный квартал|Harbour View Homes"\n'
        'language = ["ru", "en"]\n'
        f'scripts = ["{lib}/real_estate_inbound.ru.yaml", "{lib}/real_estate_inbound.en.yaml"]\n'
        f'rubrics = ["{ROOT}/rubrics/objections.ru.yaml", "{ROOT}/rubrics/objections.en.yaml"]\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_CONFIG", raising=False)
    monkeypatch.delenv("QA_WORKSPACE", raising=False)
    result = CliRunner().invoke(app, ["score", "calls/", "--no-meaning", "-o", "out"])
    assert result.exit_code == 0, result.output
    found = pd.read_csv(tmp_path / "out" / "calls.csv").set_index("call_id")["stage_introduction"]
    kinds = {call_id.rsplit("_", 2)[-2] + "_" + call_id.rsplit("_", 1)[-1]: bool(v) for call_id, v in found.items()}
    assert kinds["named_ru"] and kinds["named_en"]
    assert not any(kinds[k] for k in ("nocompany_ru", "nocompany_en", "othercompany_ru", "othercompany_en"))
