"""The fuzzy scorer (word matching) decides exactly as it did before it was made cheaper.

``tests/data/fuzzy_golden.json.gz`` was written by the code *before* the speed-up of
:mod:`qa.matching` and :mod:`qa.normalize` (main at 23d9c3e). It holds, for every labelled
call of ``tests/data/labelled`` (all ``labels*.yaml`` files; scored as
``tests/test_labelled.py`` scores them, words only, ``meaning=None``):

- ``items``: every item row :func:`qa.scoring.score_call` stores, reduced to the fields the
  words decide (kind, item, status, score, and the evidence: start, quote, phrase,
  similarity, matched words, detail);
- ``matches``: what :meth:`qa.matching.PhraseSet.scan` finds for every phrase of the call's
  script and rubric with no role limit and key words on (so more of the matcher runs than
  the scorer asks for: phrases in both speakers' turns, the key-word search on every
  phrase): per phrase, each match's utterances, token span, similarity, time and quote.

Three runs of the calls: clean; with simulated recognition errors
(:func:`qa.meaning.noise.asr_noise`, rate 0.15, utterance ``i`` seeded ``i``); and at rate
0.3, where split, merged and misheard words make the second looks (skipped function words,
free word order, key words, runs across two utterances) decide many more finds.

A difference is listed by run, call and field, so a change that moves a decision names it.
Regenerate only from code whose decisions are known right (it is the reference)::

    PYTHONPATH=<that checkout> python tests/test_fuzzy_golden.py --write
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from test_meaning_golden import differences, write_golden

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "labelled"
GOLDEN = ROOT / "tests" / "data" / "fuzzy_golden.json.gz"
#: The runs: name -> recognition-noise rate.
RUNS: dict[str, float] = {"clean": 0.0, "noisy": 0.15, "noisier": 0.3}
#: The fields of an item row the words decide.
FIELDS = ("kind", "item_id", "status", "score", "start", "text", "phrase", "similarity", "matched", "detail")


def _labels() -> dict[str, dict[str, Any]]:
    """Every label file of the folder, merged (as tests/test_labelled.py reads them)."""
    import yaml

    calls: dict[str, dict[str, Any]] = {}
    for path in sorted(LABELLED.glob("labels*.yaml")):
        calls.update(yaml.safe_load(path.read_text(encoding="utf-8"))["calls"])
    return calls


def _queries(script: Any, rubric: Any) -> list[Any]:
    """Every phrase of the script and rubric without placeholders, any speaker, key words on."""
    from qa.matching import PhraseQuery

    out = []
    for st in script.stages:
        out += [PhraseQuery(ph.text, float(script.threshold_for(st, ph)), None, True) for ph in st.phrases]
    for fb in script.forbidden:
        thr = fb.phrase.threshold if fb.phrase.threshold is not None else script.threshold
        out.append(PhraseQuery(fb.phrase.text, float(thr), None, True))
    for ob in rubric.objections:
        out += [PhraseQuery(ph.text, float(ob.threshold_for(rubric, ph)), None, True) for ph in ob.triggers]
        for step in ob.steps:
            out += [PhraseQuery(ph.text, float(ob.threshold_for(rubric, ph, step)), None, True) for ph in step.phrases]
    return [q for q in out if "{" not in q.text]


def _match(m: Any) -> list[Any]:
    return [list(m.utterance_indices), list(m.span), round(m.similarity, 4), round(m.start, 3),
            round(m.end, 3), m.matched]


def decisions(calls: list[str] | None = None) -> dict[str, Any]:
    """``{run: {call_id: {"items": [...], "matches": {phrase index: [...]}}}}`` with the code
    on the path (``calls``: only these call ids)."""
    from qa.importers import load_transcript
    from qa.matching import PhraseSet, prepare
    from qa.meaning.noise import asr_noise
    from qa.scoring import score_call
    from qa.scripts import load_rubric, load_script

    labels = _labels()
    sets: dict[tuple[str, str, str | None], tuple[Any, Any, Any]] = {}
    out: dict[str, Any] = {}
    for run, rate in RUNS.items():
        per_call: dict[str, Any] = {}
        for call_id in sorted(calls if calls is not None else labels):
            label = labels[call_id]
            t = load_transcript(LABELLED / f"{call_id}.txt")
            t.meta.manager = label.get("manager")
            if rate:
                t.utterances = [replace(u, text=asr_noise(u.text, rate, seed=i)) for i, u in enumerate(t.utterances)]
            key = (label["script"], label["rubric"], label.get("company"))
            if key not in sets:
                script = load_script(ROOT / key[0]).with_values(company=key[2])
                rubric = load_rubric(ROOT / key[1])
                sets[key] = (script, rubric, PhraseSet(_queries(script, rubric), script.language))
            script, rubric, phrases = sets[key]
            _, rows = score_call(t, script, rubric, meaning=None).to_store()
            found = phrases.scan(prepare(t, script.language))
            per_call[call_id] = {
                "items": [{k: r.get(k) for k in FIELDS} for r in rows],
                "matches": {str(qi): [_match(m) for m in ms] for qi, ms in enumerate(found) if ms},
            }
        out[run] = per_call
    # through JSON both ways, so tuples and lists compare alike
    result: dict[str, Any] = json.loads(json.dumps(out, ensure_ascii=False))
    return result


def _golden() -> dict[str, Any]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def test_the_golden_file_covers_the_labelled_calls() -> None:
    """Every run holds the labelled calls of the time it was written, with enough finds to
    exercise the matcher (calls labelled later are not in it, and need not be)."""
    want = _golden()
    assert set(want) == set(RUNS)
    for run, per_call in want.items():
        assert len(per_call) >= 130, run
        assert {c.split("_", 1)[0] for c in per_call} == {"en", "ru"}
        found = sum(r["status"] in ("found", "handled") for c in per_call.values() for r in c["items"])
        matches = sum(len(ms) for c in per_call.values() for ms in c["matches"].values())
        assert found >= 500 and matches >= 2000, (run, found, matches)


def test_fuzzy_scorer_decides_as_the_golden_file_says() -> None:
    """Same rows (status, points, evidence) and the same matches of every phrase as the code
    before the speed-up, on every labelled call, clean and with two levels of noise."""
    want = _golden()
    calls = sorted(next(iter(want.values())))
    got = decisions(calls)
    diff = differences(want, got)
    assert not diff, f"{len(diff)} difference(s) from the golden decisions:\n" + "\n".join(diff[:40])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: PYTHONPATH=<reference checkout> python tests/test_fuzzy_golden.py --write")
    data = decisions()
    n = write_golden(GOLDEN, data)
    m = sum(len(ms) for run in data.values() for c in run.values() for ms in c["matches"].values())
    print(f"wrote {GOLDEN}: {len(data)} runs, {n} item rows, {m} matches")
