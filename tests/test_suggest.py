"""Suggest: script / rubric updates as a reviewable diff that applies and keeps comments.

The corpus tests mine tests/trainer_corpus.py for real and check the proposal, the diff
(applied with the system's ``patch``), --apply and the before/after effect.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import trainer_corpus as tc
import yaml

from qa.errors import ConfigError, QAError
from qa.mining import mine
from qa.scripts import load_rubric, load_script, parse_rubric, parse_script
from qa.suggest import SuggestOptions, suggest
from qa.yaml_edit import append_to_sequence, scalar, unified_diff

#: The corpus is small: a wording said in two source calls counts (tc.OPTIONS).
OPTS = SuggestOptions(min_calls=2)


@pytest.fixture(scope="module", params=["en", "ru"])
def mined(request, tmp_path_factory):
    corpus = tc.build(tmp_path_factory.mktemp(f"suggest_{request.param}"), request.param)
    with corpus.open() as ws:
        result = mine(ws, top=0.4, options=tc.OPTIONS)
    return corpus, result


@pytest.fixture
def files(mined, tmp_path):
    """Fresh copies of the corpus script and rubric (tests may write them)."""
    corpus, result = mined
    script = tmp_path / corpus.script.name
    rubric = tmp_path / corpus.rubric.name
    shutil.copy(corpus.script, script)
    shutil.copy(corpus.rubric, rubric)
    return corpus, result, script, rubric


# ---- text insertion ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, flow, expected",
    [
        ("book a viewing", False, "book a viewing"),
        ("what's your budget", False, "what's your budget"),
        ("yes", False, '"yes"'),  # would read back as a boolean
        ("no: way", False, '"no: way"'),
        ("- dash", False, '"- dash"'),
        ("a, b", True, '"a, b"'),  # a comma ends an item in a flow list
        ("a, b", False, "a, b"),
        ("добрый день", False, "добрый день"),
    ],
)
def test_scalar(text, flow, expected):
    assert scalar(text, flow=flow, quoted=False) == expected
    assert yaml.safe_load(f"[{expected}]" if flow else expected) == ([text] if flow else text)


def _seq(text, key):
    root = yaml.compose(text)
    return next(v for k, v in root.value if k.value == key)


@pytest.mark.parametrize(
    "before, after",
    [
        # block list: same indent, after the last item's line (its comment stays on it),
        # not after the comments that belong to what follows
        ("p:\n  - a   # first\n  - b  # last\n# about q\nq: 1\n",
         "p:\n  - a   # first\n  - b  # last\n  - new one  # why\n# about q\nq: 1\n"),
        # flow list
        ('p: ["a", "b"]  # keep\nq: 1\n', 'p: ["a", "b", "new one"]  # keep\nq: 1\n'),
        ("p: []\n", "p: [new one]\n"),
        # quoted items stay quoted
        ('p:\n    - "a"\n', 'p:\n    - "a"\n    - "new one"  # why\n'),
        # no newline at the end of the file
        ("p:\n- a", "p:\n- a\n- new one  # why\n"),
    ],
)
def test_append_to_sequence(before, after):
    assert append_to_sequence(before, _seq(before, "p"), ["new one"], ["why"]) == after


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("a\nb\n", "a\nb\nc\n", "--- f\n+++ f\n@@ -1,2 +1,3 @@\n a\n b\n+c\n"),
        ("a\nb", "a\nb\nc\n",
         "--- f\n+++ f\n@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n"),
        ("a\n", "a\n", ""),
    ],
)
def test_unified_diff(old, new, expected):
    assert unified_diff(old, new, "f") == expected


# ---- the corpus, for real ------------------------------------------------------------------
def test_proposal(files):
    corpus, result, script, rubric = files
    planted = tc.PLANTED[corpus.language]
    s = suggest(script, rubric, result, OPTS)
    added = {(a.file, a.kind, a.item_id): a.texts for a in s.additions}
    needs = added[("script", "phrase", "needs")]
    assert any(p in " ".join(needs) for p in planted["needs"])
    assert any(planted["presentation"] in t for t in added[("script", "phrase", "presentation")])
    new_obj = added[("rubric", "objection", "new_objection_1")]
    assert new_obj[0] in planted["uncovered"]
    # what the scripts already say is never proposed again
    assert not any(t in ("good afternoon", "i can offer", "добрый день", "могу предложить")
                   for ts in added.values() for t in ts)
    new_script = parse_script(s.new_script)
    assert [p.text for p in new_script.stage("needs").phrases][-len(needs):] == list(needs)
    new_rubric = parse_rubric(s.new_rubric)
    obj = new_rubric.objection("new_objection_1")
    assert obj.steps[0].phrases and obj.respond_within_turns == 2
    first_answer = tc._TEXTS[corpus.language]["agency_answer"].lower()
    assert all(p.text in first_answer for p in obj.steps[0].phrases)
    assert any("'qa mine --objection ID'" in n for n in s.notes)


def test_diff_applies_cleanly_and_keeps_comments(files, tmp_path, monkeypatch):
    corpus, result, script, rubric = files
    # paths relative to the working directory, as a reviewer runs it
    monkeypatch.chdir(script.parent)
    s = suggest(script.name, rubric.name, result, OPTS)
    diff = s.diff
    assert diff.startswith(f"--- {script.name}\n+++ {script.name}\n")
    assert f"--- {rubric.name}\n+++ {rubric.name}\n" in diff
    # only additions, apart from a flow list line that grows
    removed = [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    assert all("phrases: [" in ln for ln in removed)
    target = tmp_path / "apply"
    target.mkdir()
    shutil.copy(script, target)
    shutil.copy(rubric, target)
    check = subprocess.run(["patch", "-p0", "--dry-run"], input=diff, text=True, cwd=target,
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run(["patch", "-p0", "--quiet"], input=diff, text=True, cwd=target, check=True)
    assert (target / script.name).read_text(encoding="utf-8") == s.new_script
    assert (target / rubric.name).read_text(encoding="utf-8") == s.new_rubric
    for old, new in ((s.old_script, s.new_script), (s.old_rubric, s.new_rubric)):
        comments = [ln[ln.index("#"):] for ln in old.splitlines() if "#" in ln]
        assert comments and all(c in new for c in comments)
        # every original line is still there, in order
        it = iter(new.splitlines())
        assert all(any(line == n or ("phrases: [" in line and n.startswith(line[:-1])) for n in it)
                   for line in old.splitlines())
    # the patched files load
    load_script(target / script.name)
    load_rubric(target / rubric.name)


def test_apply_and_effect(files):
    corpus, result, script, rubric = files
    s = suggest(script, rubric, result, OPTS)
    with corpus.open() as ws:
        effect = s.effect(ws)
    rows = {(r.kind, r.item): r for r in effect.itertuples(index=False)}
    # c03 and c04 ask only the planted question: found after, not before
    assert (rows[("stage", "needs")].before, rows[("stage", "needs")].after) == (8, 10)
    assert rows[("stage", "greeting")].change == 0
    new = rows[("objection", "new_objection_1")]
    # raised in the four lost calls and the won c02, c04; handled where the won calls answered
    assert (new.before, new.after, new.handled_after) == (0, 6, 2)
    assert list(effect.columns) == ["kind", "item", "title", "before", "after", "change",
                                    "handled_before", "handled_after"]
    written = s.apply()
    assert written == [script, rubric]
    assert script.read_text(encoding="utf-8") == s.new_script
    assert rubric.read_text(encoding="utf-8") == s.new_rubric
    # the same mining result against the updated files proposes nothing new
    again = suggest(script, rubric, result, OPTS)
    assert not again.changed and again.additions == []
    assert any(n.startswith("nothing to propose") for n in again.notes)


def test_apply_refuses_a_file_changed_meanwhile(files):
    _, result, script, rubric = files
    s = suggest(script, rubric, result, OPTS)
    script.write_text(script.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    with pytest.raises(QAError) as e:
        s.apply()
    assert str(e.value) == f"{script}: changed since the suggestion was made; run 'qa suggest' again"


def test_without_rubric_and_thresholds(files):
    _, result, script, _ = files
    s = suggest(script, None, result, OPTS)
    assert s.new_rubric is None and "candidate objection(s) found; pass --rubric FILE" in " ".join(s.notes)
    strict = suggest(script, None, result, SuggestOptions(min_lift=50, min_calls=2))
    assert not strict.changed and strict.diff == ""
    one = suggest(script, None, result, SuggestOptions(max_per_stage=1, min_calls=2))
    assert all(len(a.texts) == 1 for a in one.additions)


def test_other_indent_style(mined, tmp_path):
    """A rubric that writes nested lists at the key's column gets the same style."""
    corpus, result = mined
    rubric = tmp_path / "r.yaml"
    rubric.write_text(
        f"name: R\nlanguage: {corpus.language}\nobjections:\n- id: price\n  title: Price\n"
        "  triggers:\n  - too expensive\n"
        "  steps:\n  - id: acknowledge\n    weight: 1\n    phrases:\n    - i understand\n",
        encoding="utf-8",
    )
    s = suggest(corpus.script, rubric, result, OPTS)
    assert "\n- id: new_objection_1\n  title:" in s.new_rubric
    assert re.search(r"\n  triggers:\n  - \w", s.new_rubric)
    assert re.search(r"\n    phrases:\n    - \w", s.new_rubric.split("new_objection_1")[1])
    assert parse_rubric(s.new_rubric).objection("new_objection_1").steps[0].id == "answer"


@pytest.mark.parametrize(
    "content, message",
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("name: X\nlanguage: en\nstages: []\n", "stages"),
    ],
)
def test_bad_script(mined, tmp_path, content, message):
    _, result = mined
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        suggest(bad, None, result, OPTS)
    assert str(bad) in str(e.value) and message in str(e.value)


def test_missing_file(mined, tmp_path):
    _, result = mined
    with pytest.raises(ConfigError) as e:
        suggest(tmp_path / "none.yaml", None, result, OPTS)
    assert str(e.value).startswith(f"{tmp_path / 'none.yaml'}: cannot read")


def test_options_validated():
    with pytest.raises(ValueError):
        SuggestOptions(min_calls=0)
    with pytest.raises(ValueError):
        SuggestOptions(max_per_stage=-1)
