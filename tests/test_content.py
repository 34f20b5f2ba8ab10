"""The shipped content: every script in ``scripts_library/`` and rubric in ``rubrics/``.

Each file loads and passes ``qa validate`` without errors (warnings are allowed: the few
that remain are explained by comments in the files); every rubric covers the seven
objections the issue names; and the Russian and English versions of a script or rubric
have the same structure, so scores in either language mean the same thing and a team can
compare them. How well the phrases work on real wording is measured by
``tests/test_labelled.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.scripts import Rubric, Script, load_rubric, load_script, validate_file

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts_library").glob("*.yaml"))
RUBRICS = sorted((ROOT / "rubrics").glob("*.yaml"))
LANGUAGES = ("ru", "en")

#: The objections the issue asks every rubric to cover.
OBJECTIONS = {
    "price",
    "think",
    "no_time",
    "send_offer",
    "have_supplier",
    "not_interested",
    "consult",
}
#: The handling technique every objection is judged by (DOMAIN.md).
STEPS = ["acknowledge", "clarify", "argue", "check", "next_step"]


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _stem_and_language(path: Path) -> tuple[str, str]:
    stem, _, language = path.stem.rpartition(".")
    return stem, language


def test_the_library_ships_both_scripts_and_a_rubric_in_both_languages() -> None:
    assert {p.name for p in SCRIPTS} >= {
        "real_estate_inbound.ru.yaml",
        "real_estate_inbound.en.yaml",
        "b2b_cold_call.ru.yaml",
        "b2b_cold_call.en.yaml",
    }
    assert {p.name for p in RUBRICS} >= {"objections.ru.yaml", "objections.en.yaml"}


@pytest.mark.parametrize("path", SCRIPTS + RUBRICS, ids=_name)
def test_validates_without_errors(path: Path) -> None:
    issues = validate_file(path)
    errors = [str(i) for i in issues if i.level == "error"]
    assert errors == []
    # warnings are fine, but they must point into this file (line numbers a user can follow)
    for issue in issues:
        assert issue.line is not None and issue.line > 0, str(issue)


@pytest.mark.parametrize("path", SCRIPTS, ids=_name)
def test_script_loads(path: Path) -> None:
    script = load_script(path)
    _, language = _stem_and_language(path)
    assert script.language == language, "the file suffix names the script's language"
    assert sum(s.weight for s in script.stages) == 100, "stage weights are points out of 100"
    ids = [s.id for s in script.stages]
    # closing stage for the next-step flag, a conditional objection stage, time windows
    assert script.next_step_stage == "next_step"
    assert [s.id for s in script.stages if s.applies_if] == ["objection_handling"]
    assert ids[0] == "greeting" and script.stages[0].within_first_seconds
    assert ids[-1] == "farewell" and script.stages[-1].within_last_seconds
    assert any(s.min_matches >= 2 for s in script.stages), "discovery needs two questions"
    assert script.forbidden and any(f.critical for f in script.forbidden)
    assert any(not f.critical and f.penalty > 0 for f in script.forbidden)


@pytest.mark.parametrize("path", RUBRICS, ids=_name)
def test_rubric_covers_the_seven_objections(path: Path) -> None:
    rubric = load_rubric(path)
    _, language = _stem_and_language(path)
    assert rubric.language == language
    assert {o.id for o in rubric.objections} == OBJECTIONS
    for ob in rubric.objections:
        assert [s.id for s in ob.steps] == STEPS, ob.id
        assert ob.respond_within_turns >= 1
        # many natural variants, not a token list
        assert len(ob.triggers) >= 7, f"{ob.id}: {len(ob.triggers)} triggers"
        for step in ob.steps:
            assert len(step.phrases) >= 3, f"{ob.id}.{step.id}: {len(step.phrases)} phrases"


def _script_shape(s: Script) -> list[tuple[object, ...]]:
    return [
        (
            st.id,
            st.weight,
            st.required,
            st.role,
            st.min_matches,
            st.within_first_seconds,
            st.within_last_seconds,
            st.after,
            st.applies_if,
        )
        for st in s.stages
    ]


def _rubric_shape(r: Rubric) -> list[tuple[object, ...]]:
    return [
        (ob.id, ob.respond_within_turns, tuple((st.id, st.weight) for st in ob.steps))
        for ob in r.objections
    ]


def _pairs(paths: list[Path]) -> list[tuple[Path, Path]]:
    by_stem: dict[str, dict[str, Path]] = {}
    for p in paths:
        stem, language = _stem_and_language(p)
        by_stem.setdefault(stem, {})[language] = p
    pairs = []
    for stem, files in sorted(by_stem.items()):
        assert set(files) >= set(LANGUAGES), f"{stem}: needs a .ru and an .en version"
        pairs.append((files["ru"], files["en"]))
    return pairs


@pytest.mark.parametrize("ru,en", _pairs(SCRIPTS), ids=lambda p: _name(p))
def test_ru_and_en_scripts_have_the_same_stages(ru: Path, en: Path) -> None:
    a, b = load_script(ru), load_script(en)
    assert [s.id for s in a.stages] == [s.id for s in b.stages]
    assert _script_shape(a) == _script_shape(b)


@pytest.mark.parametrize("ru,en", _pairs(RUBRICS), ids=lambda p: _name(p))
def test_ru_and_en_rubrics_have_the_same_objections_and_steps(ru: Path, en: Path) -> None:
    assert _rubric_shape(load_rubric(ru)) == _rubric_shape(load_rubric(en))
