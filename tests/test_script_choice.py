"""The right script per call, never silently (issue 13, section 3).

Real scoring of the hand-labelled text transcripts (tests/data/labelled/) through `qa score`;
the chooser itself (`qa.scripts.ConfigChooser`) table-driven. Each newcomer complaint has a
test that failed before the fix:

- a manifest `script` value that is a path of a given script was rejected, so every call
  failed (`test_manifest_script_may_be_a_path_of_a_given_script`);
- an empty `calls.csv` (1 byte) was written when every call failed
  (`test_no_table_is_written_when_every_call_fails`);
- two `-s` files in one language silently scored every call with the first
  (`test_two_scripts_in_one_language_warn_and_pick_by_content`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.errors import ConfigError, QAError
from qa.scripts import ConfigChooser, ScriptRule, load_script
from qa.transcripts import CallMeta, Transcript, Utterance

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests/data/labelled"
LIB = ROOT / "scripts_library"
RE_RU, COLD_RU = LIB / "real_estate_inbound.ru.yaml", LIB / "b2b_cold_call.ru.yaml"
RE_EN, COLD_EN = LIB / "real_estate_inbound.en.yaml", LIB / "b2b_cold_call.en.yaml"
#: file names the default template reads (…_<direction>): two inbound real-estate calls and
#: two outbound cold calls, Russian and English
CALLS = {
    "ru_re_01.txt": "2026-11-20_10-00-00_anna_79990000001_in.txt",
    "ru_b2b_01.txt": "2026-11-20_11-00-00_pavel_79990000002_out.txt",
    "en_re_01.txt": "2026-11-20_12-00-00_kate_15550000003_in.txt",
    "en_b2b_01.txt": "2026-11-20_13-00-00_chris_15550000004_out.txt",
}


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    folder = tmp_path / "calls"
    folder.mkdir()
    for src, name in CALLS.items():
        shutil.copyfile(LABELLED / src, folder / name)
    return folder


def run(*args: str):
    return CliRunner().invoke(app, ["--no-config", *args])


def scripts_of(out: Path) -> dict[str, str]:
    table = pd.read_csv(out / "calls.csv")
    return dict(zip(table["call_id"].str.split("_").str[2], table["script"]))


# ---- the complaints ----------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["absolute", "dotted", "file name", "stem and language", "stem"])
def test_manifest_script_may_be_a_path_of_a_given_script(calls: Path, tmp_path: Path, spelling: str) -> None:
    # the manifest names the cold-call script for every call, spelled five ways; the call in
    # Russian must get b2b_cold_call.ru.yaml each time (was: "is not among the given --script
    # files" for the two paths, every call failed)
    value = {
        "absolute": str(COLD_RU),
        "dotted": str(LIB / ".." / "scripts_library" / "b2b_cold_call.ru.yaml"),
        "file name": "b2b_cold_call.ru.yaml",
        "stem and language": "b2b_cold_call.ru",
        "stem": "b2b_cold_call",
    }[spelling]
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,script\n" + f"{CALLS['ru_b2b_01.txt']},{value}\n", encoding="utf-8")
    one = tmp_path / "one"
    one.mkdir()
    shutil.copyfile(calls / CALLS["ru_b2b_01.txt"], one / CALLS["ru_b2b_01.txt"])
    out = tmp_path / "out"
    result = run("score", str(one), "-w", str(tmp_path / "ws"), "--manifest", str(manifest), "--no-meaning",
                 "-s", str(RE_RU), "-s", str(COLD_RU), "-s", str(COLD_EN), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert scripts_of(out) == {"pavel": "Холодный звонок B2B (услуги для компаний)"}
    assert "fit" not in result.output  # named by the manifest: nothing to warn about


def test_manifest_path_of_another_folder_with_the_same_file_name_is_told_apart(tmp_path: Path) -> None:
    # two given scripts share a file name in different folders: the manifest's path picks one
    copy = tmp_path / "edited" / "b2b_cold_call.ru.yaml"
    copy.parent.mkdir()
    copy.write_text(COLD_RU.read_text(encoding="utf-8").replace("name: ", "name: Edited ", 1), encoding="utf-8")
    chooser = ConfigChooser([load_script(COLD_RU), load_script(copy)])
    t = Transcript(CallMeta("c1", extra={"script": str(copy)}), [Utterance("manager", 0, 1, "здравствуйте")])
    assert chooser.decide(t).config.path == str(copy)


def test_no_table_is_written_when_every_call_fails(calls: Path, tmp_path: Path) -> None:
    # every call's manifest row names a script not given: nothing is scored, so no calls.csv
    # (was: a 1-byte calls.csv pandas cannot read, and exit 1 with no reason)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,script\n" + "".join(f"{n},cold_call_v2\n" for n in CALLS.values()), encoding="utf-8")
    out = tmp_path / "out"
    result = run("score", str(calls), "-w", str(tmp_path / "ws"), "--manifest", str(manifest), "--no-meaning",
                 "-s", str(RE_RU), "-s", str(RE_EN), "-o", str(out))
    assert result.exit_code == 1, result.output
    assert not (out / "calls.csv").exists() and not (out / "items.csv").exists()
    assert ("Error: no call was scored: all 4 failed, so no table was written; 4 of them: manifest script "
            "'cold_call_v2' is not among the given --script files (real_estate_inbound.en.yaml, "
            "real_estate_inbound.ru.yaml); add --script for it or fix the manifest") in " ".join(result.stderr.split())
    assert result.stderr.count("failed call ") == 4  # each call listed with its reason


def test_no_table_when_nothing_was_found(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run("score", str(tmp_path / "empty"), "-w", str(tmp_path / "ws"), "-s", str(RE_EN),
                 "--no-meaning", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "no call was scored: no recordings or transcripts found in" in result.stderr
    assert not (tmp_path / "out" / "calls.csv").exists()


@pytest.mark.parametrize("order", ["real estate first", "cold call first"])
def test_two_scripts_in_one_language_warn_and_pick_by_content(calls: Path, tmp_path: Path, order: str) -> None:
    # no manifest, no rule, two Russian scripts: each Russian call gets the script it says most
    # of, whichever -s comes first, and a warning names both (was: silently the first)
    given = [RE_RU, COLD_RU] if order == "real estate first" else [COLD_RU, RE_RU]
    out = tmp_path / "out"
    result = run("score", str(calls), "-w", str(tmp_path / "ws"), "--no-meaning", "-o", str(out),
                 *[a for p in given for a in ("-s", str(p))], "-s", str(RE_EN), "-s", str(COLD_EN))
    assert result.exit_code == 0, result.output
    assert scripts_of(out) == {
        "anna": "Входящий звонок, новостройки", "pavel": "Холодный звонок B2B (услуги для компаний)",
        "kate": "Inbound call, new-build real estate", "chris": load_script(COLD_EN).name,
    }
    text = " ".join(result.stderr.split())
    anna = "2026-11-20_10-00-00_anna_79990000001_in"
    assert (f"warning call {anna}: 2 scripts fit (real_estate_inbound.ru.yaml, b2b_cold_call.ru.yaml; "
            "alphabet of the transcript); scored with real_estate_inbound.ru.yaml (it fits best:") in text
    assert "to decide, add a [[script_rule]] to qa.toml or a manifest 'script' column" in text
    assert text.count("scripts fit") == 4  # every call fit two scripts: each is said, none is quiet


# ---- script rules (qa.toml) ------------------------------------------------------------------
def write_config(folder: Path, rules: str, scripts: list[Path] | None = None) -> Path:
    given = scripts or [RE_RU, COLD_RU, RE_EN, COLD_EN]
    path = folder / "qa.toml"
    path.write_text(
        "scripts = [" + ", ".join(f'"{p}"' for p in given) + "]\n"
        + f'rubrics = ["{ROOT / "rubrics/objections.ru.yaml"}", "{ROOT / "rubrics/objections.en.yaml"}"]\n'
        + f'workspace = "ws"\n{rules}', encoding="utf-8")
    return path


def test_rules_by_direction_pick_the_script_and_the_language_picks_the_file(calls: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[script_rule]]\nmatch = {direction = "out"}\nscript = "b2b_cold_call"\n\n'
                                    '[[script_rule]]\nmatch = {direction = "in"}\nscript = "real_estate_inbound"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--config", str(config), "score", str(calls), "--no-meaning", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert scripts_of(out) == {
        "anna": "Входящий звонок, новостройки", "pavel": "Холодный звонок B2B (услуги для компаний)",
        "kate": "Inbound call, new-build real estate",
        "chris": load_script(COLD_EN).name,
    }
    assert "fit (" not in result.stderr  # every call named by a rule, then its language: no warning
    assert (tmp_path / "ws").is_dir()  # the config's workspace, relative to the config's folder


def test_a_call_no_rule_matches_is_listed_with_the_reason(calls: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[script_rule]]\nmatch = {direction = "out", manager = ["pavel", "chris"]}\n'
                                    'script = "b2b_cold_call"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--config", str(config), "score", str(calls), "--no-meaning", "-o", str(out)])
    assert result.exit_code == 1, result.output  # two calls failed, two are scored and written
    assert sorted(scripts_of(out)) == ["chris", "pavel"]
    text = " ".join(result.stderr.split())
    assert ("call 2026-11-20_10-00-00_anna_79990000001_in: no [[script_rule]] matches it (direction=in, "
            "manager=anna); add a rule for it, a catch-all rule without 'match', or a manifest 'script' column") in text


def test_rules_by_file_pattern_and_manifest_column_and_catch_all(calls: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,campaign\n" + f"{CALLS['en_b2b_01.txt']},Cold-Q4\n", encoding="utf-8")
    config = write_config(tmp_path, f'manifest = "{manifest}"\n\n'
                                    '[[script_rule]]\nmatch = {campaign = "cold-*"}\nscript = "b2b_cold_call.en.yaml"\n\n'
                                    '[[script_rule]]\nmatch = {file = "*_pavel_*"}\nscript = "b2b_cold_call"\n\n'
                                    '[[script_rule]]\nscript = "real_estate_inbound"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--config", str(config), "score", str(calls), "--no-meaning", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert scripts_of(out) == {
        "anna": "Входящий звонок, новостройки", "pavel": "Холодный звонок B2B (услуги для компаний)",
        "kate": "Inbound call, new-build real estate", "chris": load_script(COLD_EN).name,
    }


def test_the_manifest_script_column_wins_over_rules(calls: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,script\n" + f"{CALLS['ru_re_01.txt']},real_estate_inbound\n", encoding="utf-8")
    config = write_config(tmp_path, f'manifest = "{manifest}"\n[[script_rule]]\nscript = "b2b_cold_call"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--config", str(config), "score", str(calls), "--no-meaning", "-o", str(out)])
    assert result.exit_code == 0, result.output
    got = scripts_of(out)
    assert got["anna"] == "Входящий звонок, новостройки" and got["pavel"] == "Холодный звонок B2B (услуги для компаний)"


def test_a_rule_naming_no_given_script_is_a_configuration_error_before_any_work(calls: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[script_rule]]\nmatch = {direction = "out"}\nscript = "cold_call"\n',
                          scripts=[RE_RU, COLD_RU])
    result = CliRunner().invoke(app, ["--config", str(config), "score", str(calls), "--no-meaning"])
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == (
        f"Error: {config}: script_rule 1: script 'cold_call' is not among the scripts given "
        "(b2b_cold_call.ru.yaml, real_estate_inbound.ru.yaml); fix the name, or add the file to scripts / --script")
    assert not (tmp_path / "ws").exists()


# ---- the chooser, table-driven -----------------------------------------------------------------
@pytest.fixture(scope="module")
def lib() -> dict[str, object]:
    return {p.name: load_script(p) for p in (RE_RU, COLD_RU, RE_EN, COLD_EN)}


def call(text: str = "здравствуйте", language: str | None = None, source: str = "x.txt", **meta: str) -> Transcript:
    fields = {k: meta.pop(k) for k in ("direction", "manager", "outcome") if k in meta}
    return Transcript(CallMeta("c1", source=source, extra=dict(meta), **fields),
                      [Utterance("manager", 0, 1, text)], language=language)


@pytest.mark.parametrize(("rules", "transcript", "script", "reason"), [
    ((), call(language="ru", script="b2b_cold_call"), "b2b_cold_call.ru.yaml",
     "manifest script 'b2b_cold_call', language ru"),
    ((ScriptRule({"direction": ("out",)}, ("b2b_cold_call",), source="r1"),),
     call(language="en", direction="out"), "b2b_cold_call.en.yaml", "r1 (direction=out), language en"),
    ((ScriptRule({"direction": ("out",)}, ("b2b_cold_call",), source="r1"), ScriptRule({}, ("real_estate_inbound.ru",), source="r2")),
     call(direction="in"), "real_estate_inbound.ru.yaml", "r2 (every call)"),
    ((ScriptRule({"file": ("in-*",)}, ("real_estate_inbound",), source="r1"),),
     call("hello", source="/pbx/IN-79161234567-101.wav"), "real_estate_inbound.en.yaml",
     "r1 (file=in-*), alphabet of the transcript"),
    ((ScriptRule({"file": ("*/cold/*",)}, ("b2b_cold_call",), source="r1"),),
     call(language="ru", source="/calls/cold/a.wav"), "b2b_cold_call.ru.yaml", "r1 (file=*/cold/*), language ru"),
])
def test_chooser_reasons(lib: dict[str, object], rules: tuple[ScriptRule, ...], transcript: Transcript,
                         script: str, reason: str) -> None:
    choice = ConfigChooser(list(lib.values()), rules=rules).decide(transcript)
    assert (Path(choice.config.path).name, choice.reason, choice.rivals) == (script, reason, ())


def test_chooser_tie_without_fit_is_by_file_name_and_says_so(lib: dict[str, object]) -> None:
    chooser = ConfigChooser([lib["real_estate_inbound.ru.yaml"], lib["b2b_cold_call.ru.yaml"]])
    choice = chooser.decide(call(language="ru"))
    assert Path(choice.config.path).name == "b2b_cold_call.ru.yaml"
    assert [Path(c.path).name for c in choice.rivals] == ["real_estate_inbound.ru.yaml"]
    assert choice.warning("c1") == (
        "call c1: 2 scripts fit (b2b_cold_call.ru.yaml, real_estate_inbound.ru.yaml; language ru); scored with "
        "b2b_cold_call.ru.yaml (first by file name); to decide, add a [[script_rule]] to qa.toml or a manifest "
        "'script' column")
    # an equal fit says so too
    tie = chooser.decide(call(language="ru"), fit=lambda cfg, t: 50.0)
    assert tie.how == "equal fit 50: first by file name"


def test_chooser_refuses_a_call_no_rule_matches(lib: dict[str, object]) -> None:
    chooser = ConfigChooser(list(lib.values()), rules=[ScriptRule({"direction": ("out",)}, ("b2b_cold_call",))])
    with pytest.raises(QAError, match=r"^call c1: no \[\[script_rule\]\] matches it \(direction=\?\)"):
        chooser.decide(call())


def test_rules_naming_only_rubrics_do_not_narrow_scripts(lib: dict[str, object]) -> None:
    rule = ScriptRule({"direction": ("out",)}, rubric=("objections",))
    chooser = ConfigChooser([lib["real_estate_inbound.ru.yaml"]], rules=[rule])
    assert chooser.rules == [] and chooser.decide(call(direction="in")).reason == "the only script"
    with pytest.raises(ConfigError, match="script_rule: rubric 'objections' is not among the rubrics given"):
        ConfigChooser([lib["real_estate_inbound.ru.yaml"]], "rubric", rules=[rule])
